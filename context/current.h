/*
 * current.h - the calling thread's current trace context.
 *
 * In a thread-per-request server the SERVER span of the request being handled is current on
 * its thread until the response is sent; an outbound request made meanwhile on that thread
 * becomes its child. The agent sets and clears it; this module only stores it.
 *
 * One instance per thread, in initial-exec TLS (no allocation, no look-up, no lock). Only the
 * owning thread may use the pointer ctx_current_get() returns. A signal handler that changes
 * the current context of the thread it interrupted may leave a torn copy behind; the agent does
 * not do that.
 */
#ifndef CTX_CURRENT_H
#define CTX_CURRENT_H

#include <stddef.h>
#include <stdint.h>

#include "span_context.h"

struct ctx_current {
	struct ctx_span_context sc;              /* sc.valid == false: no current context */
	char tracestate[CTX_TRACESTATE_MAX + 1]; /* NUL-terminated, normalised (ctx_ts_combine) */
	uint16_t tracestate_len;
};

/* The calling thread's instance; all zero (no context) on a new thread. Never NULL. */
struct ctx_current *ctx_current_get(void);

/*
 * Make *sc (copied) current on the calling thread, with tracestate `ts` of `ts_len` bytes
 * (NULL / 0 for none). A tracestate longer than CTX_TRACESTATE_MAX is not W3C-propagatable as
 * is and is stored empty rather than cut inside a member. sc == NULL or !sc->valid is
 * ctx_current_clear().
 */
void ctx_current_set(const struct ctx_span_context *sc, const char *ts, size_t ts_len);

/* No current context on the calling thread any more. */
void ctx_current_clear(void);

#endif
