/*
 * lifecycle.c - the library's entry and exit: constructor, destructor, fork handlers and the
 * flush on SIGTERM/SIGINT. The only file that calls every module's init and shutdown.
 *
 * Start-up is deliberately light: read the configuration, decide whether this executable is
 * traced at all (WIRETRACE_INCLUDE / WIRETRACE_EXCLUDE), hand the exporter its configuration.
 * No thread, no libcurl, no queue memory: those come with the first span (exporter.c), so a
 * process that never speaks HTTP pays almost nothing (DESIGN.md start-up target).
 *
 * Signals: when the first span is produced — not at start-up, because some programs (CPython)
 * only install their own SIGINT handler when they find the default disposition — SIGTERM and
 * SIGINT get a flushing handler, but only if the program left them at SIG_DFL; a program's own
 * handler is never replaced, and a handler it installs later simply replaces ours. Our handler
 * restores SIG_DFL, flushes within a bound, and re-raises, so the exit status is unchanged.
 *
 * Fork: the child reseeds the id generator and forgets the parent's queue and exporter thread
 * (it never exports the parent's spans); the exporter restarts lazily.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "callsite.h"
#include "config.h"
#include "conn.h"
#include "crash.h"
#include "exporter.h"
#include "ids.h"
#include "wt_guard.h"
#include "wt_log.h"

_Atomic int wt_agent_state;

#define WT_SIGNAL_FLUSH_MS 2000 /* bound on the flush in a SIGTERM/SIGINT handler */

static void atfork_child(void)
{
	ctx_ids_atfork_child();
	exp_atfork_child();
	conn_atfork_child();
	crash_atfork_child();
	callsite_atfork_child();
}

/* The configuration asks for ~40 variables; scanning the whole environment for each was ~17k
 * instructions of every process's start-up. One pass keeps the few entries that can matter. */
#define ENV_KEEP 64
static const char *env_kept[ENV_KEEP];
static int env_nkept;

static void env_scan(void)
{
	extern char **environ;
	env_nkept = 0;
	for (char **e = environ; e && *e && env_nkept < ENV_KEEP; e++) {
		const char *v = *e;
		if (strncmp(v, "OTEL_", 5) == 0 || strncmp(v, "WIRETRACE_", 10) == 0 ||
		    strncmp(v, "XDG_RUNTIME_DIR=", 16) == 0)
			env_kept[env_nkept++] = v;
	}
}

static const char *env(const char *name)
{
	size_t n = strlen(name);
	if (env_nkept == ENV_KEEP)
		return getenv(name); /* more than we keep: fall back to the full scan */
	for (int i = 0; i < env_nkept; i++)
		if (strncmp(env_kept[i], name, n) == 0 && env_kept[i][n] == '=')
			return env_kept[i] + n + 1;
	return NULL;
}

void agent_init(void)
{
	static _Atomic int once;
	if (atomic_exchange(&once, 1))
		return;
	int g = wt_guard_enter();
	int saved = errno;
	env_scan();
	config_load(&wt_cfg, env);
	if (!config_process_selected(&wt_cfg, NULL)) {
		wt_debug("%s is excluded by WIRETRACE_INCLUDE/WIRETRACE_EXCLUDE: not traced",
			 wt_cfg.exe_name ? wt_cfg.exe_name : "");
		atomic_store(&wt_agent_state, -1);
		goto out;
	}
	exp_limits_set(&wt_cfg.exp.limits);
	if (exp_init(&wt_cfg.exp) < 0) {
		wt_err("exporter initialisation failed: tracing disabled");
		atomic_store(&wt_agent_state, -1);
		goto out;
	}
	pthread_atfork(NULL, NULL, atfork_child);
	agent_handoff_on = wt_cfg.handoff;
	atomic_store(&wt_agent_state, 1);
	/* Crash forensics and call sites (crash.c, callsite.c): the call-site symboliser, and the
	 * crash files an earlier process left in the spool directory (exported now, so that a
	 * process that never makes a span still delivers them). */
	callsite_init();
	if (!wt_cfg.sdk_disabled)
		exp_spool_startup();
out:
	errno = saved;
	wt_guard_leave(g);
}

/* ---- SIGTERM / SIGINT ------------------------------------------------------------------- */

static void flush_and_reraise(int sig)
{
	int saved = errno;
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	wt_guard = 1;
	exp_flush(WT_SIGNAL_FLUSH_MS);
	errno = saved;
	/* The signal is blocked while we run; it is delivered, with the default action, as soon as
	 * the handler returns. */
	raise(sig);
}

static void install_flush_handler(int sig)
{
	struct sigaction old, sa;
	if (sigaction(sig, NULL, &old) < 0)
		return;
	if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
		return; /* the program's own disposition: never replaced */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = flush_and_reraise;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(sig, &sa, NULL);
}

/* The exit flush runs from an atexit handler registered at the first span, not only from our
 * destructor: atexit handlers run in reverse order of registration, and libraries the program
 * initialised before its first request (OpenSSL registers OPENSSL_cleanup with atexit) must
 * still be alive while the last batch goes out — the exporter's libcurl may need them. */
static void exit_flush(void)
{
	int g = wt_guard_enter();
	int saved = errno;
	exp_shutdown();
	errno = saved;
	wt_guard_leave(g);
}

void agent_on_first_span(void)
{
	static _Atomic int done;
	if (atomic_load_explicit(&done, memory_order_relaxed) || atomic_exchange(&done, 1))
		return;
	install_flush_handler(SIGTERM);
	install_flush_handler(SIGINT);
	atexit(exit_flush);
}

__attribute__((constructor)) static void wt_constructor(void)
{
	agent_init();
}

__attribute__((destructor)) static void wt_destructor(void)
{
	if (atomic_load(&wt_agent_state) != 1)
		return;
	int g = wt_guard_enter();
	int saved = errno;
	exp_shutdown();
	errno = saved;
	wt_guard_leave(g);
}
