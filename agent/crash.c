/*
 * crash.c - crash forensics: when the program dies of SIGSEGV, SIGBUS, SIGILL, SIGFPE or
 * SIGABRT, the requests it was serving are not lost. Every span in flight is ended with status
 * ERROR, error.type = the signal's name and an `exception` event (exception.type, .message,
 * .stacktrace = the faulting thread's stack), written to the spool directory together with the
 * spans still queued for export, and the signal is re-raised with its default action, so the
 * exit status and the core dump are those the program would have had without us.
 *
 * Installation, at the first span of the process (crash_on_span_begin), not at start-up: some
 * programs install their own handler only when they find the default disposition. For each of
 * the five signals, only if the program left SIG_DFL: a program's handler is never replaced,
 * and one it installs later simply replaces ours. Flags SA_SIGINFO | SA_ONSTACK | SA_RESETHAND,
 * every signal blocked while ours runs. An alternate signal stack is the program's business:
 * we install none, so a crash caused by a stack overflow cannot run our handler (the kernel
 * then kills the process as usual, and nothing is spooled). Nothing is installed when spans are
 * not exported (OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none) or the spool directory is not
 * usable (exp_spool_prepare).
 *
 * In the handler only async-signal-safe work is done: no malloc, no lock, no stdio. Everything
 * it needs was made at installation: the spool directory, the Resource and the encoder's
 * buffers (exp_spool_prepare), libunwind (dlopen'ed and warmed up with one unwind, so that its
 * one-time initialisation never happens in the handler), and a module map (dl_iterate_phdr:
 * each loaded object's address range, load bias and base name). The map is refreshed, off the
 * signal path, at one span start in 1024 per thread when objects were loaded or unloaded since
 * (dlpi_adds/dlpi_subs); the handler reads the published copy of a double buffer.
 *
 * Stack and names, the trade-off: frames come from libunwind, started on the signal's own
 * context (unw_init_local2 with UNW_INIT_SIGNAL_FRAME), which its manual documents as safe in a
 * signal handler for local unwinding. Every frame gets module+offset (offset from the load
 * bias, what addr2line takes), from our map: always safe. Function names come from
 * unw_get_proc_name, also documented signal-safe for local cursors: it maps the object's file
 * and reads .symtab/.dynsym with open/mmap only. One exception: for an object that carries
 * MiniDebugInfo (.gnu_debugdata, shipped by some distributions), libunwind decompresses it with
 * liblzma, which allocates; a crash inside malloc would then deadlock. Objects with that
 * section are found at map time and get module+offset only. Without libunwind, glibc's
 * backtrace() (libgcc's unwinder, loaded beforehand by one call) gives the frames, and every
 * frame is module+offset only. Line format: "function+0xoff (module+0xoff)" or
 * "?? (module+0xoff)".
 *
 * One thread crashes at a time: a second fatal signal on another thread while the first is
 * being recorded restores the default action and re-raises at once. A fault inside our own
 * handler finds SIGSEGV reset by SA_RESETHAND (or blocked, which the kernel turns into the
 * default action): the process dies as it would have, without a spool file.
 *
 * Threads: installation once (atomic state); refresh by whoever wins a try-lock; the handler
 * reads only published data.
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "crash.h"
#include "exporter.h"
#include "wt_clock.h"
#include "wt_log.h"

#define XSTR(x) STR(x)
#define STR(x) #x

#define MODS_MAX 256
#define FRAMES_MAX 48
#define STACK_TEXT 1600

WT_TLS uint32_t crash_tick;

/* ---- libunwind, loaded at run time ----------------------------------------------------- */

static struct {
	int (*getcontext)(unw_context_t *);
	int (*init_local)(unw_cursor_t *, unw_context_t *);
	int (*init_local2)(unw_cursor_t *, unw_context_t *, int); /* libunwind >= 1.3 */
	int (*step)(unw_cursor_t *);
	int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
	int (*get_proc_name)(unw_cursor_t *, char *, size_t, unw_word_t *);
	int (*backtrace)(void **, int);
} unw;
static bool have_unw;
static pthread_once_t unw_once = PTHREAD_ONCE_INIT;

/* One unwind now, so that libunwind's lazy initialisation (which takes a lock), or without
 * libunwind the first use of glibc's backtrace() (which loads libgcc_s), never happens in a
 * signal handler. unw_get_proc_name has no one-time state of its own: it maps the object's
 * file at each call. */
static void warm_up(void)
{
	unw_context_t ctx;
	unw_cursor_t cur;
	void *bt[4];
	int i;

	if (!have_unw) {
		backtrace(bt, 4);
		return;
	}
	if (unw.getcontext(&ctx) == 0 && unw.init_local(&cur, &ctx) == 0)
		for (i = 0; i < 3 && unw.step(&cur) > 0; i++)
			;
}

static void unw_load(void)
{
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		wt_debug("libunwind.so.8 not found: crash stacks without function names");
		goto out;
	}
	/* The unw_* names are macros for the architecture's symbols (_ULx86_64_step...). */
	*(void **)&unw.getcontext = dlsym(h, XSTR(unw_tdep_getcontext)); /* unw_getcontext(uc) */
	*(void **)&unw.init_local = dlsym(h, XSTR(unw_init_local));
	*(void **)&unw.init_local2 = dlsym(h, XSTR(unw_init_local2));
	*(void **)&unw.step = dlsym(h, XSTR(unw_step));
	*(void **)&unw.get_reg = dlsym(h, XSTR(unw_get_reg));
	*(void **)&unw.get_proc_name = dlsym(h, XSTR(unw_get_proc_name));
	*(void **)&unw.backtrace = dlsym(h, "unw_backtrace");
	have_unw = unw.getcontext && unw.init_local && unw.step && unw.get_reg &&
	           unw.get_proc_name && unw.backtrace;
	if (!have_unw)
		wt_debug("libunwind.so.8 lacks the symbols we need: not used");
out:
	warm_up();
}

static int glibc_backtrace(void **buf, int size)
{
	return backtrace(buf, size);
}

/* Unwinding step by step with a cursor: no per-thread state to build (unw_backtrace builds a
 * per-thread cache of frame layouts, ~50 us at a thread's first call), ~1.5 us per call. */
static int unw_steps(void **buf, int size)
{
	unw_context_t ctx;
	unw_cursor_t cur;
	unw_word_t ip;
	int n = 0;

	if (unw.getcontext(&ctx) != 0 || unw.init_local(&cur, &ctx) != 0)
		return 0;
	do {
		if (unw.get_reg(&cur, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		buf[n++] = (void *)ip;
	} while (n < size && unw.step(&cur) > 0);
	return n;
}

wt_backtrace_fn crash_backtrace_fn(void)
{
	pthread_once(&unw_once, unw_load);
	return have_unw ? unw.backtrace : glibc_backtrace;
}

wt_backtrace_fn crash_backtrace_cold_fn(void)
{
	pthread_once(&unw_once, unw_load);
	return have_unw ? unw_steps : NULL;
}

/* ---- module map ------------------------------------------------------------------------- */

struct mod {
	uintptr_t lo, hi, bias;
	uint8_t names_ok; /* unw_get_proc_name may be used (no MiniDebugInfo) */
	char name[47];
};

struct modmap {
	unsigned n;
	unsigned long long adds, subs;
	struct mod m[MODS_MAX];
};

static struct modmap maps[2];
static _Atomic int map_cur = -1; /* the published map, -1 none */
static _Atomic int map_busy;

/* Does the object carry MiniDebugInfo (a .gnu_debugdata section)? Its section names are read
 * from the file; an unreadable file counts as "no" (libunwind cannot read it either). */
static bool has_minidebuginfo(const char *path)
{
	ElfW(Ehdr) eh;
	ElfW(Shdr) sh;
	bool found = false;
	char *names = NULL;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_shentsize != sizeof(sh) || eh.e_shstrndx >= eh.e_shnum ||
	    pread(fd, &sh, sizeof(sh), (off_t)(eh.e_shoff + eh.e_shstrndx * sizeof(sh))) !=
	        sizeof(sh))
		goto out;
	len = sh.sh_size < 65536 ? sh.sh_size : 65536;
	names = malloc(len + 1);
	if (names && pread(fd, names, len, (off_t)sh.sh_offset) == (ssize_t)len)
		found = memmem(names, len, ".gnu_debugdata", sizeof(".gnu_debugdata")) != NULL;
out:
	free(names);
	close(fd);
	return found;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

struct build {
	struct modmap *to;
	const struct modmap *from; /* the previous map: reuse what was learned about a module */
};

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct build *b = arg;
	const char *path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : NULL;
	const char *name = path ? base_name(path) : (wt_cfg.exe_name ? wt_cfg.exe_name : "?");
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	struct mod *m;
	unsigned i;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		b->to->adds = info->dlpi_adds;
		b->to->subs = info->dlpi_subs;
	}
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (lo >= hi || b->to->n == MODS_MAX)
		return 0;
	m = &b->to->m[b->to->n++];
	m->lo = lo, m->hi = hi, m->bias = info->dlpi_addr;
	strncpy(m->name, name, sizeof(m->name) - 1);
	m->name[sizeof(m->name) - 1] = '\0';
	for (i = 0; b->from && i < b->from->n; i++) {
		if (b->from->m[i].bias == m->bias && b->from->m[i].lo == lo &&
		    strcmp(b->from->m[i].name, m->name) == 0) {
			m->names_ok = b->from->m[i].names_ok;
			return 0;
		}
	}
	m->names_ok = !has_minidebuginfo(path ? path : "/proc/self/exe");
	return 0;
}

static int read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *c = arg;

	if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
		return 1;
	c[0] = info->dlpi_adds;
	c[1] = info->dlpi_subs;
	return 1; /* the first object is enough */
}

/* Build the map again if objects came or went (or always, with force). */
static void map_refresh(bool force)
{
	int cur = atomic_load(&map_cur), next = cur == 0 ? 1 : 0, expect = 0;
	unsigned long long c[2] = {0, 0};
	struct build b = {&maps[next], cur >= 0 ? &maps[cur] : NULL};

	if (!atomic_compare_exchange_strong(&map_busy, &expect, 1))
		return;
	if (!force && cur >= 0) {
		dl_iterate_phdr(read_counters, c);
		if (c[0] == maps[cur].adds && c[1] == maps[cur].subs)
			goto out;
	}
	maps[next].n = 0;
	dl_iterate_phdr(add_module, &b);
	atomic_store(&map_cur, next);
out:
	atomic_store(&map_busy, 0);
}

static const struct mod *mod_find(uintptr_t ip)
{
	int cur = atomic_load(&map_cur);
	unsigned i;

	for (i = 0; cur >= 0 && i < maps[cur].n; i++)
		if (ip >= maps[cur].m[i].lo && ip < maps[cur].m[i].hi)
			return &maps[cur].m[i];
	return NULL;
}

/* ---- text without stdio ----------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void s_put(struct sbuf *b, const char *s, size_t n)
{
	if (n > b->cap - b->len)
		n = b->cap - b->len;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void s_str(struct sbuf *b, const char *s)
{
	s_put(b, s, strlen(s));
}

static void s_num(struct sbuf *b, uint64_t v, unsigned base)
{
	char d[24];
	int i = 0;

	do
		d[i++] = "0123456789abcdef"[v % base];
	while ((v /= base) && i < 24);
	if (base == 16)
		s_str(b, "0x");
	while (i)
		s_put(b, &d[--i], 1);
}

/* ---- the handler ------------------------------------------------------------------------ */

static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
static _Atomic int crashing;

static struct {
	uint64_t now;
	const char *signame;
	char msg[160];
	char stack[STACK_TEXT];
	size_t msg_len, stack_len;
	unw_cursor_t cur;
	struct exp_span work;
} cr;

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGILL:
		return "SIGILL";
	case SIGFPE:
		return "SIGFPE";
	case SIGABRT:
		return "SIGABRT";
	}
	return "signal";
}

/* "signal SIGSEGV at address 0x0 (si_code 1)", "signal SIGABRT raised by the process itself
 * (abort, raise)", or "signal SIGBUS sent by pid 123" (kill). */
static void format_message(int sig, const siginfo_t *si)
{
	struct sbuf b = {cr.msg, 0, sizeof(cr.msg)};

	s_str(&b, "signal ");
	s_str(&b, cr.signame);
	if (si && si->si_code > 0 && sig != SIGABRT) {
		s_str(&b, " at address ");
		s_num(&b, (uintptr_t)si->si_addr, 16);
		s_str(&b, " (si_code ");
		s_num(&b, (uint64_t)si->si_code, 10);
		s_str(&b, ")");
	} else if (si && si->si_pid == getpid()) {
		s_str(&b, " raised by the process itself (abort, raise)");
	} else if (si) {
		s_str(&b, " sent by pid ");
		s_num(&b, (uint64_t)si->si_pid, 10);
	}
	cr.msg_len = b.len;
}

static void frame_line(struct sbuf *b, uintptr_t ip, bool named)
{
	const struct mod *m = mod_find(ip);
	unw_word_t off = 0;
	char name[128];

	name[0] = '\0';
	if (named && m && m->names_ok &&
	    (unw.get_proc_name(&cr.cur, name, sizeof(name), &off) == 0 || name[0])) {
		s_str(b, name);
		s_str(b, "+");
		s_num(b, off, 16);
	} else {
		s_str(b, "??");
	}
	s_str(b, " (");
	if (m) {
		s_str(b, m->name);
		s_str(b, "+");
		s_num(b, ip - m->bias, 16);
	} else {
		s_num(b, ip, 16);
	}
	s_str(b, ")\n");
}

static uintptr_t context_ip(const void *ucv)
{
	const ucontext_t *uc = ucv;

#if defined(__x86_64__)
	return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	return (uintptr_t)uc->uc_mcontext.pc;
#else
	(void)uc;
	return 0;
#endif
}

/* The faulting thread's stack, from the signal's context, as text into cr.stack. */
static void take_stack(void *ucv)
{
	struct sbuf b = {cr.stack, 0, sizeof(cr.stack) - 1};
	uintptr_t rip = context_ip(ucv);
	unw_word_t ip;
	void *bt[FRAMES_MAX + 8];
	int n = 0, k, i, rc;

	if (have_unw) {
		rc = unw.init_local2 ? unw.init_local2(&cr.cur, ucv, UNW_INIT_SIGNAL_FRAME)
		                     : unw.init_local(&cr.cur, ucv);
		while (rc == 0 && n++ < FRAMES_MAX && unw.get_reg(&cr.cur, UNW_REG_IP, &ip) == 0 &&
		       ip) {
			frame_line(&b, ip, true);
			rc = unw.step(&cr.cur) > 0 ? 0 : -1;
		}
	} else {
		k = backtrace(bt, FRAMES_MAX + 8); /* our own frames first, then the signal frame */
		for (i = 0; i < k && (uintptr_t)bt[i] != rip; i++)
			;
		if (i == k) /* the fault is not in the list: at least the faulting instruction */
			frame_line(&b, rip, false);
		for (; i < k && n++ < FRAMES_MAX; i++)
			frame_line(&b, (uintptr_t)bt[i], false);
	}
	if (b.len == 0 && rip)
		frame_line(&b, rip, false);
	while (b.len && b.p[b.len - 1] == '\n')
		b.len--;
	cr.stack_len = b.len;
}

/* The longest prefix of the stack text, cut at a line end, that fits in n bytes. */
static size_t stack_cut(size_t n)
{
	if (cr.stack_len <= n)
		return cr.stack_len;
	while (n && cr.stack[n] != '\n')
		n--;
	return n;
}

/* End one span in flight: claimed here, so its owner thread will not enqueue it too. */
static void end_span(struct wt_span_rec *r, void *arg)
{
	struct exp_span *s = &cr.work;
	size_t used, room;
	int ev;

	(void)arg;
	if (!atomic_exchange(&r->live, 0) || !r->record)
		return;
	used = exp_str_used(&r->span);
	memcpy(s, &r->span, offsetof(struct exp_span, buf) + used);
	s->end_ns = cr.now;
	s->frames.len = 0; /* call-site frames are symbolised by an exporter thread: none here */
	if (s->deferred.len)
		hspan_finish(s); /* the request's attributes (http_span_defer.c): pure, safe here */
	exp_span_set_status(s, EXP_STATUS_ERROR, cr.msg, cr.msg_len);
	if (!exp_span_find_attr(s, "error.type"))
		exp_span_add_str(s, "error.type", cr.signame, strlen(cr.signame));
	ev = exp_span_add_event(s, cr.now, "exception");
	if (ev >= 0) {
		exp_span_add_event_str(s, ev, "exception.type", cr.signame, strlen(cr.signame));
		exp_span_add_event_str(s, ev, "exception.message", cr.msg, cr.msg_len);
		room = EXP_SPAN_BUF - s->buf_used;
		room = room > 32 ? room - 32 : 0; /* the key */
		exp_span_add_event_str(s, ev, "exception.stacktrace", cr.stack, stack_cut(room));
	}
	exp_spool_crash_add(s);
}

static void record(int sig, siginfo_t *si, void *ucv)
{
	cr.now = wt_clock_wall_ns();
	cr.signame = sig_name(sig);
	format_message(sig, si);
	take_stack(ucv);
	if (exp_spool_crash_open(cr.now) < 0)
		return;
	spans_for_each_live(end_span, NULL);
	exp_spool_crash_close(true);
}

static void on_fatal(int sig, siginfo_t *si, void *ucv)
{
	int saved = errno, g = wt_guard;

	wt_guard = 1; /* what libunwind calls through our hooks passes straight through */
	if (!atomic_exchange(&crashing, 1))
		record(sig, si, ucv);
	/* SA_RESETHAND restored the default action when we were entered (no sigaction call here:
	 * the program may interpose it). The signal is blocked while we run: it is delivered with
	 * the default action as soon as we return; a fault would also recur on the faulting
	 * instruction. */
	raise(sig);
	wt_guard = g;
	errno = saved;
}

/* ---- installation ----------------------------------------------------------------------- */

static _Atomic int inst; /* 0 not yet, 1 installing, 2 done, -1 not installed */

static void install(void)
{
	struct sigaction old, sa;
	unsigned i;
	int expect = 0;

	if (!atomic_compare_exchange_strong(&inst, &expect, 1))
		return;
	if (wt_cfg.sdk_disabled || wt_cfg.exp.exporter == EXP_EXPORTER_NONE ||
	    exp_spool_prepare(&wt_cfg.exp) < 0) {
		atomic_store(&inst, -1);
		return;
	}
	crash_backtrace_fn(); /* loads and warms up the unwinder */
	map_refresh(true);
	/* unw_get_proc_name opens, reads and closes object files, through our hooks of those
	 * functions: make sure each hook has resolved its libc symbol (with dlsym, which must not
	 * happen in the handler). */
	close(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (read(-1, NULL, 0) < 0)
		errno = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		if (sigaction(fatal[i], NULL, &old) < 0)
			continue;
		if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
			continue; /* the program's own disposition: never replaced */
		sigaction(fatal[i], &sa, NULL);
	}
	atomic_store(&inst, 2);
}

void crash_span_slow(void)
{
	if (atomic_load_explicit(&inst, memory_order_relaxed) == 0)
		install();
	else if (atomic_load_explicit(&inst, memory_order_relaxed) == 2)
		map_refresh(false);
}

void crash_atfork_child(void)
{
	exp_spool_atfork_child();
	atomic_store(&map_busy, 0);
}
