/*
 * wt_guard.h - the per-thread re-entry guard (leaf).
 *
 * Set while the agent itself runs on a thread: inside a hook's bookkeeping, and for the whole
 * life of the exporter thread. Any hooked call made while it is set goes straight to libc, which
 * is how the agent's own traffic (and libcurl's, inside the exporter) is never traced, and how a
 * hook called from inside another hook cannot recurse.
 *
 * Initial-exec TLS: the default dynamic model costs a __tls_get_addr call on every wrapped call.
 * The library is small and loaded at start-up (LD_PRELOAD), so the static TLS block has room.
 */
#ifndef WT_GUARD_H
#define WT_GUARD_H

#define WT_TLS __thread __attribute__((tls_model("initial-exec")))

extern WT_TLS int wt_guard;

/* Enter: returns the previous value, to be given back to wt_guard_leave(). */
static inline int wt_guard_enter(void)
{
	int prev = wt_guard;
	wt_guard = 1;
	return prev;
}

static inline void wt_guard_leave(int prev)
{
	wt_guard = prev;
}

#endif
