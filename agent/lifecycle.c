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
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <errno.h>
#include <stdio.h>
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

static void atfork_parent(void)
{
	spans_atfork();
}

static void atfork_child(void)
{
	spans_atfork();
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
		if ((v[0] == 'O' && strncmp(v, "OTEL_", 5) == 0) ||
		    (v[0] == 'W' && strncmp(v, "WIRETRACE_", 10) == 0) ||
		    (v[0] == 'X' && strncmp(v, "XDG_RUNTIME_DIR=", 16) == 0))
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

/* Initialisation is lazy: it runs when the program first creates or accepts a socket (the
 * socket hooks call agent_init), not in the constructor, so a process that never opens a socket
 * (`true`, `ls`, `sed` in a traced shell script) never parses the configuration. The one thing
 * start-up checks is whether an earlier process left crash files in the spool directory: if so
 * the agent initialises at once and exports them. */
void agent_init(void)
{
	static _Atomic int once;
	if (atomic_load_explicit(&once, memory_order_relaxed) || atomic_exchange(&once, 1))
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
	exp_finish_set(hspan_finish); /* deferred SERVER attributes (http_span_defer.c) */
	if (exp_init(&wt_cfg.exp) < 0) {
		wt_err("exporter initialisation failed: tracing disabled");
		atomic_store(&wt_agent_state, -1);
		goto out;
	}
	pthread_atfork(NULL, atfork_parent, atfork_child);
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

/* The default spool directory rule of config.c (load_spool), without parsing the rest. */
static size_t cat(char *out, size_t o, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (o + n >= cap)
		n = o < cap ? cap - 1 - o : 0;
	memcpy(out + o, s, n);
	out[o + n] = '\0';
	return o + n;
}

static bool spool_has_files(void)
{
	char path[4096], num[16];
	const char *dir = env("WIRETRACE_SPOOL_DIR");
	const char *xdg = env("XDG_RUNTIME_DIR");
	size_t o = 0;
	if (dir && dir[0] == '/') {
		o = cat(path, 0, sizeof(path), dir);
	} else if (xdg && xdg[0] == '/') {
		o = cat(path, 0, sizeof(path), xdg);
		o = cat(path, o, sizeof(path), "/wiretrace/spool");
	} else {
		unsigned uid = (unsigned)getuid(), k = sizeof(num) - 1;
		num[k] = '\0';
		do
			num[--k] = (char)('0' + uid % 10);
		while ((uid /= 10) && k > 0);
		o = cat(path, 0, sizeof(path), "/tmp/wiretrace-");
		o = cat(path, o, sizeof(path), num + k);
		o = cat(path, o, sizeof(path), "/spool");
	}
	/* Raw system calls, no opendir: a process that never allocates must not start malloc. */
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false; /* the usual case: one system call */
	bool found = false;
	char buf[2048] __attribute__((aligned(8)));
	long n;
	while (!found && (n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n && !found;) {
			struct dirent64 *e = (struct dirent64 *)(buf + off);
			found = strncmp(e->d_name, "crash-", 6) == 0;
			off += e->d_reclen;
		}
	}
	syscall(SYS_close, fd);
	return found;
}

__attribute__((constructor)) static void wt_constructor(void)
{
	int g = wt_guard_enter();
	int saved = errno;
	env_scan();
	bool now = spool_has_files();
	errno = saved;
	wt_guard_leave(g);
	if (now)
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
