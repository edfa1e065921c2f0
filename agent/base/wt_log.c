/*
 * wt_log.c - the agent's internal logger (see wt_log.h for the contract).
 *
 * Purpose: tell the operator what the agent does with their configuration and what goes wrong
 * (collector unreachable, queue full), without ever disturbing the host program. Output goes to
 * stderr (fd 2) or to the file named by WIRETRACE_LOG, never to stdout, which belongs to the
 * program and may be a data stream (OTSPEC error-handling.md: self-diagnostics must not affect the
 * application).
 *
 * Design:
 * - One line is "wiretrace: <level>: <message>\n", formatted into a stack buffer and written
 *   with a single write(2), so lines of different threads never interleave (O_APPEND for the
 *   file; writes to a pipe of at most PIPE_BUF bytes are atomic). Control characters inside the
 *   message are replaced with '?', so a value quoted from the environment cannot forge lines or
 *   send terminal escapes.
 * - Rate limit: a lock-free GCRA (generic cell rate algorithm), i.e. a token bucket stored as
 *   one atomic "theoretical arrival time": RATE_PER_S lines per second sustained with a burst of
 *   RATE_BURST. A rejected line only increments an atomic counter; the first line admitted after
 *   that carries a "N messages suppressed" line in front of it, in the same write.
 * - The log file is moved above fd 2 (a program that closed its stdio must not find our file
 *   behind its fd 1), and its device/inode are checked with fstat(2) before each write: a
 *   program that closes "all other fds" and reuses the number for a socket must never receive
 *   our text. On a mismatch the logger falls back to stderr.
 * - Only write/open/fstat/fcntl/close, no stdio streams: callers hold the re-entry guard, and
 *   nothing here may call back into a hooked stdio function.
 *
 * Invariants: errno is preserved across every entry point; nothing is allocated.
 *
 * Thread/signal safety: wt_log() is thread-safe (atomics only) but not async-signal-safe
 * (vsnprintf). wt_log_init() is meant for the constructor and the fork child, when no other
 * thread of ours logs; it resets the rate limiter.
 */
#include "wt_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wt_clock.h"

#define RATE_PER_S 20
#define RATE_BURST 50
#define RATE_T_NS (1000000000ull / RATE_PER_S)     /* emission interval */
#define RATE_TAU_NS ((RATE_BURST - 1) * RATE_T_NS) /* burst tolerance */
#define LINE_CAP 1024

int wt_log_threshold = WT_LOG_INFO;

static int log_fd = 2;       /* 2, or our file (> 2) */
static dev_t log_dev;        /* identity of our file, checked before each write */
static ino_t log_ino;
static uint64_t rate_tat;    /* GCRA theoretical arrival time, monotonic ns; 0 = idle */
static uint64_t suppressed;  /* lines rejected since the last admitted one */

static const char *const level_word[] = {"none", "error", "warn", "info", "debug"};

/* GCRA admission: the line is allowed if the bucket's debt, tat - now, stays within the burst
 * tolerance; admitting it adds one emission interval of debt. */
static bool rate_take(void)
{
	uint64_t now = wt_clock_mono_ns();
	uint64_t old = __atomic_load_n(&rate_tat, __ATOMIC_RELAXED);

	for (;;) {
		uint64_t t = old > now ? old : now;

		if (t - now > RATE_TAU_NS)
			return false;
		if (__atomic_compare_exchange_n(&rate_tat, &old, t + RATE_T_NS, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return true;
	}
}

/* Replace control characters (and DEL) in buf[from, len) with '?'. */
static void scrub(char *buf, size_t from, size_t len)
{
	for (size_t i = from; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch < 0x20 || ch == 0x7f)
			buf[i] = '?';
	}
}

/* The current destination; falls back to stderr if our file's fd was closed or reused. */
static int dest_fd(void)
{
	int fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
	struct stat st;

	if (fd == 2)
		return fd;
	if (fstat(fd, &st) == 0 && st.st_dev == log_dev && st.st_ino == log_ino)
		return fd;
	/* Not ours any more: never close it (the program owns that number now). */
	__atomic_store_n(&log_fd, 2, __ATOMIC_RELEASE);
	return 2;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere to report a logging failure */
		buf += n;
		len -= (size_t)n;
	}
}

void wt_log(int level, const char *fmt, ...)
{
	char buf[LINE_CAP];
	size_t n = 0, start;
	uint64_t sup;
	va_list ap;
	int saved = errno;
	int len;

	if (level <= WT_LOG_NONE || level > WT_LOG_DEBUG ||
	    level > __atomic_load_n(&wt_log_threshold, __ATOMIC_RELAXED))
		goto out;
	if (!rate_take()) {
		__atomic_add_fetch(&suppressed, 1, __ATOMIC_RELAXED);
		goto out;
	}
	sup = __atomic_exchange_n(&suppressed, 0, __ATOMIC_RELAXED);
	if (sup)
		n = (size_t)snprintf(buf, sizeof(buf), "wiretrace: warn: %llu messages suppressed\n",
				     (unsigned long long)sup);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "wiretrace: %s: ", level_word[level]);
	start = n;
	va_start(ap, fmt);
	len = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	if ((size_t)len >= sizeof(buf) - n - 1) {
		/* Truncated (or exactly full): end with a visible marker and the newline. */
		n = sizeof(buf) - 5;
		memcpy(buf + n, "...", 3);
		n += 3;
	} else {
		n += (size_t)len;
	}
	scrub(buf, start, n);
	buf[n++] = '\n';
	write_all(dest_fd(), buf, n);
out:
	errno = saved;
}

/* Open the log file above the stdio range, O_CLOEXEC so exec'd children do not inherit it. */
static int open_file(const char *path, struct stat *st)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (fd <= 2) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		int err = errno;

		close(fd);
		if (high < 0)
			return -err;
		fd = high;
	}
	if (fstat(fd, st) != 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

void wt_log_init(int level, const char *path)
{
	int saved = errno;
	int fd = 2, old, open_err = 0;
	struct stat st;

	if (level < WT_LOG_NONE)
		level = WT_LOG_NONE;
	if (level > WT_LOG_DEBUG)
		level = WT_LOG_DEBUG;
	__atomic_store_n(&wt_log_threshold, level, __ATOMIC_RELAXED);

	if (path && *path) {
		fd = open_file(path, &st);
		if (fd < 0) {
			open_err = -fd;
			fd = 2;
		} else {
			log_dev = st.st_dev;
			log_ino = st.st_ino;
		}
	}
	old = __atomic_exchange_n(&log_fd, fd, __ATOMIC_ACQ_REL);
	if (old != 2 && old != fd)
		close(old);

	__atomic_store_n(&rate_tat, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&suppressed, 0, __ATOMIC_RELAXED);

	if (open_err) {
		const char *why = strerrordesc_np(open_err);

		wt_log(WT_LOG_WARN, "cannot open WIRETRACE_LOG file %s (%s); logging to stderr", path,
		       why ? why : "unknown error");
	}
	errno = saved;
}
