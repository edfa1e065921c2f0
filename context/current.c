/*
 * current.c - storage of the per-thread current context (see current.h).
 *
 * Initial-exec TLS: about 540 bytes per thread, in the static TLS block that the dynamic
 * loader sizes at start-up for a preloaded library, so no allocation, no __tls_get_addr and no
 * failure path. A new thread starts zeroed, i.e. without a current context.
 *
 * Invariants: cur.tracestate is always NUL-terminated at cur.tracestate_len <=
 * CTX_TRACESTATE_MAX; when cur.sc.valid is false the tracestate is empty.
 * Thread safety: each thread touches only its own instance. Async-signal-safe (no locks, no
 * allocation), but see current.h about handlers that modify the interrupted thread's context.
 */
#include <string.h>

#include "current.h"
#include "wt_guard.h"

static WT_TLS struct ctx_current cur;

struct ctx_current *ctx_current_get(void)
{
	return &cur;
}

void ctx_current_set(const struct ctx_span_context *sc, const char *ts, size_t ts_len)
{
	if (!sc || !sc->valid) {
		ctx_current_clear();
		return;
	}
	cur.sc = *sc;
	if (!ts || ts_len > CTX_TRACESTATE_MAX)
		ts_len = 0;
	if (ts_len)
		memcpy(cur.tracestate, ts, ts_len);
	cur.tracestate[ts_len] = '\0';
	cur.tracestate_len = (uint16_t)ts_len;
}

void ctx_current_clear(void)
{
	memset(&cur.sc, 0, sizeof(cur.sc));
	cur.tracestate[0] = '\0';
	cur.tracestate_len = 0;
}
