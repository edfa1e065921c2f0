/*
 * wt_log.h - the agent's internal logger (leaf: includes nothing of ours).
 *
 * Messages go to stderr, or to the file named by WIRETRACE_LOG, always prefixed "wiretrace:",
 * filtered by OTEL_LOG_LEVEL and rate-limited so that a misbehaving collector or a flood of
 * malformed input can never turn the agent into a log storm inside the host. Never stdout.
 * Never secrets: callers must not pass header values or credentials.
 *
 * Thread safety: wt_log() may be called from any thread. It formats into a stack buffer and
 * issues one write(2), so lines from different threads do not interleave. It is NOT
 * async-signal-safe (vsnprintf); signal handlers must not log.
 */
#ifndef WT_LOG_H
#define WT_LOG_H

enum wt_log_level {
	WT_LOG_NONE = 0, /* OTEL_LOG_LEVEL=none: nothing at all */
	WT_LOG_ERROR = 1,
	WT_LOG_WARN = 2,
	WT_LOG_INFO = 3,
	WT_LOG_DEBUG = 4,
};

/* Current threshold; messages above it are discarded. Default WT_LOG_INFO. */
extern int wt_log_threshold;

/* Set the threshold and the destination (path NULL or "" = stderr). Called once by the
 * lifecycle code after the configuration is read; safe to call again after fork. */
void wt_log_init(int level, const char *path);

/* printf-style; appends the newline itself. */
void wt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define wt_err(...) wt_log(WT_LOG_ERROR, __VA_ARGS__)
#define wt_warn(...) wt_log(WT_LOG_WARN, __VA_ARGS__)
#define wt_info(...) wt_log(WT_LOG_INFO, __VA_ARGS__)
#define wt_debug(...) wt_log(WT_LOG_DEBUG, __VA_ARGS__)

/* Log once per process (per call site) — for "the collector is unreachable" style warnings.
 * `flag` is a static int owned by the call site. */
#define wt_log_once(flag, level, ...)                                                        \
	do {                                                                                 \
		if (!__atomic_exchange_n(&(flag), 1, __ATOMIC_RELAXED))                       \
			wt_log((level), __VA_ARGS__);                                        \
	} while (0)

#endif
