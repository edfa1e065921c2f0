/*
 * spans.c - span records: creation at a request head, the W3C context their children inherit,
 * the end of a span, and the thread's current request (parentage).
 *
 * Context rules (W3C Trace Context, OTSPEC trace/sdk.md):
 *  - a SERVER span continues the inbound traceparent when it is valid (trace id, flags as
 *    received, the inbound tracestate) and starts a new trace otherwise, with the W3C Level 2
 *    random flag set because our trace ids are fully random;
 *  - the sampler decides; a span that is not sampled still gets ids and propagates its decision
 *    (sampled flag clear) but is never exported;
 *  - OTEL_SDK_DISABLED and WIRETRACE_EXCLUDED_URLS create no span: the inbound context passes
 *    through unchanged (same parent-id), so propagation still works.
 *
 * Parentage: the thread's current request is the request most recently read on this thread
 * that is still in flight (kept as a record pointer plus its generation, so a record that ended
 * and was reused is never mistaken for the old one). A CLIENT span's parent is, in order: the
 * request its connection was bound to at connect() (first request only), the thread's current
 * request, or none (a new root). A wrong parent is worse than none: a record that is no longer
 * live is never used.
 */
#include <string.h>

#include "config.h"
#include "conn.h"
#include "exporter.h"
#include "ids.h"
#include "pool.h"
#include "sampler.h"
#include "traceparent.h"
#include "tracestate.h"
#include "wt_clock.h"
#include "wt_guard.h"

#define WT_SPANS_MAX 8192

static struct wt_pool span_pool = WT_POOL_INIT("spans", sizeof(struct wt_span_rec), WT_SPANS_MAX);

static WT_TLS struct wt_span_rec *cur_rec;
static WT_TLS uint32_t cur_gen;

void spans_set_current(struct wt_span_rec *r)
{
	cur_rec = r;
	cur_gen = r ? atomic_load_explicit(&r->gen, memory_order_relaxed) : 0;
}

/* Copy the context of a live record; false if it ended or was reused meanwhile (the
 * generation is read before and after the copy, seqlock style). */
static bool rec_context(struct wt_span_rec *r, uint32_t gen, struct wt_parent *out)
{
	if (atomic_load_explicit(&r->gen, memory_order_acquire) != gen ||
	    !atomic_load_explicit(&r->live, memory_order_acquire))
		return false;
	out->sc = r->ctx;
	memcpy(out->pparent, r->span.parent_span_id, 8);
	size_t n = r->span.tracestate.len;
	if (n > CTX_TRACESTATE_MAX)
		n = 0;
	memcpy(out->ts, r->span.buf + r->span.tracestate.off, n);
	out->ts[n] = '\0';
	out->ts_len = (uint16_t)n;
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&r->gen, memory_order_relaxed) == gen && out->sc.valid;
}

bool spans_current(struct wt_parent *out)
{
	if (cur_rec == NULL)
		return false;
	if (!rec_context(cur_rec, cur_gen, out)) {
		cur_rec = NULL;
		return false;
	}
	return true;
}

static struct wt_span_rec *rec_get(void)
{
	struct wt_span_rec *r = pool_get(&span_pool);
	if (r == NULL)
		return NULL;
	exp_span_init(&r->span);
	memset(&r->ctx, 0, sizeof(r->ctx));
	r->record = 0;
	r->resp_flags = 0;
	r->resp_started = 0;
	return r;
}

/* Give the record its identity: a new span under `parent` (or a root), or — when no span is to
 * be made — the parent's context passed through. */
static void rec_identity(struct wt_span_rec *r, const struct ctx_span_context *parent,
			 const char *ts, size_t ts_len, bool passthrough, uint64_t start_ns)
{
	bool has_parent = parent && parent->valid;
	if (passthrough) {
		if (has_parent)
			r->ctx = *parent;
		r->record = 0;
		exp_span_set_tracestate(&r->span, ts, ts_len);
		return;
	}
	if (has_parent)
		memcpy(r->ctx.trace_id, parent->trace_id, 16);
	else
		ctx_ids_new_trace(r->ctx.trace_id);
	ctx_ids_new_span(r->ctx.span_id);
	bool sampled = sampler_should_sample(&wt_cfg, has_parent ? parent : NULL, r->ctx.trace_id);
	uint8_t flags = has_parent ? parent->flags : CTX_FLAG_RANDOM;
	r->ctx.flags = (uint8_t)((flags & ~CTX_FLAG_SAMPLED) | (sampled ? CTX_FLAG_SAMPLED : 0));
	r->ctx.valid = true;
	r->ctx.remote = false;
	r->record = sampled;

	struct exp_span *s = &r->span;
	memcpy(s->trace_id, r->ctx.trace_id, 16);
	memcpy(s->span_id, r->ctx.span_id, 8);
	if (has_parent)
		memcpy(s->parent_span_id, parent->span_id, 8);
	s->flags = (r->ctx.flags & EXP_FLAGS_TRACE_MASK) |
		   (has_parent ? EXP_FLAGS_HAS_IS_REMOTE |
				 (parent->remote ? EXP_FLAGS_IS_REMOTE : 0)
			       : 0);
	s->start_ns = start_ns;
	if (has_parent && ts_len)
		exp_span_set_tracestate(s, ts, ts_len);
}

static struct wt_slice sl(struct http_str s)
{
	struct wt_slice out = {s.ptr, s.ptr ? s.len : 0};
	return out;
}

static void req_view(const struct conn *c, const struct http_head *h, struct wt_req_view *v)
{
	v->tls = c->tls;
	v->method = sl(h->method);
	v->target = sl(h->target);
	v->host = sl(h->field[HTTP_F_HOST]);
	v->user_agent = sl(h->field[HTTP_F_USER_AGENT]);
	v->x_forwarded_for = sl(h->field[HTTP_F_X_FORWARDED_FOR]);
	v->x_forwarded_proto = sl(h->field[HTTP_F_X_FORWARDED_PROTO]);
	v->x_forwarded_host = sl(h->field[HTTP_F_X_FORWARDED_HOST]);
	v->forwarded = sl(h->field[HTTP_F_FORWARDED]);
	v->version_minor = h->version_minor;
}

static uint8_t resp_flags_of(const struct http_event *ev)
{
	uint8_t f = 0;
	if (ev->flags & HTTP_EVF_METHOD_HEAD)
		f |= HTTP_RESP_TO_HEAD;
	if (ev->flags & HTTP_EVF_METHOD_CONNECT)
		f |= HTTP_RESP_TO_CONNECT;
	return f;
}

struct wt_span_rec *spans_server_begin(struct conn *c, const struct http_event *ev,
				       uint64_t start_ns)
{
	struct http_head h;
	if (ev->head == NULL || http_head_parse(ev->head, ev->head_len, HTTP_DIR_REQUEST, &h) < 0)
		return NULL;
	struct wt_span_rec *r = rec_get();
	if (r == NULL)
		return NULL;
	r->resp_flags = resp_flags_of(ev);

	/* W3C: tracestate is only looked at when traceparent is valid; an invalid tracestate is
	 * dropped without affecting traceparent. */
	struct ctx_span_context parent = {0};
	char ts[CTX_TRACESTATE_MAX + 1];
	size_t ts_len = 0;
	struct http_str tp = h.field[HTTP_F_TRACEPARENT];
	if (wt_cfg.propagate_tracecontext && tp.ptr && !(h.dup & (1u << HTTP_F_TRACEPARENT)) &&
	    ctx_tp_parse(tp.ptr, tp.len, &parent) == 0 && h.ntracestate &&
	    !(h.flags & HTTP_HF_TRACESTATE_MORE)) {
		struct ctx_slice f[HTTP_TRACESTATE_LINES];
		for (unsigned i = 0; i < h.ntracestate; i++) {
			f[i].p = h.tracestate[i].ptr;
			f[i].len = h.tracestate[i].len;
		}
		if (ctx_ts_combine(f, h.ntracestate, ts, sizeof(ts), &ts_len) < 0)
			ts_len = 0;
	}
	bool passthrough = wt_cfg.sdk_disabled ||
			   (h.target.ptr && hspan_path_excluded(h.target.ptr, h.target.len));
	rec_identity(r, &parent, ts, ts_len, passthrough, start_ns);
	if (r->record) {
		struct wt_req_view v;
		req_view(c, &h, &v);
		hspan_server_request(&r->span, &v, &c->peer);
	}
	atomic_store_explicit(&r->live, 1, memory_order_release);
	return r;
}

/* Is the request's own traceparent the one its parent request received, forwarded unchanged
 * by a proxy? Then it must carry our CLIENT span instead: same trace, and the parent id it
 * names is our parent's own parent. An application's own traceparent (an SDK inside the
 * program) names a different span and is left alone. */
static bool forwarded_traceparent(const struct http_str tp, const struct wt_parent *p)
{
	static const uint8_t zero[8];
	struct ctx_span_context in;
	if (!p->sc.valid || memcmp(p->pparent, zero, 8) == 0 ||
	    ctx_tp_parse(tp.ptr, tp.len, &in) < 0)
		return false;
	return memcmp(in.trace_id, p->sc.trace_id, 16) == 0 &&
	       memcmp(in.span_id, p->pparent, 8) == 0;
}

struct wt_span_rec *spans_client_begin(struct conn *c, const struct http_event *ev,
				       uint64_t start_ns, size_t *hdr_len, long *replace_off)
{
	struct http_head h;
	*hdr_len = 0;
	*replace_off = -1;
	if (ev->head == NULL || http_head_parse(ev->head, ev->head_len, HTTP_DIR_REQUEST, &h) < 0)
		return NULL;
	struct wt_span_rec *r = rec_get();
	if (r == NULL)
		return NULL;
	r->resp_flags = resp_flags_of(ev);

	struct wt_parent parent;
	bool has_parent = false;
	if (!c->bind_used && c->bind.sc.valid) {
		parent = c->bind;
		has_parent = true;
	} else {
		has_parent = spans_current(&parent);
	}
	c->bind_used = 1;
	rec_identity(r, has_parent ? &parent.sc : NULL, parent.ts, has_parent ? parent.ts_len : 0,
		     wt_cfg.sdk_disabled, start_ns);
	if (r->record) {
		struct wt_req_view v;
		req_view(c, &h, &v);
		hspan_client_request(&r->span, &v, &c->peer);
	}
	atomic_store_explicit(&r->live, 1, memory_order_release);
	if (!wt_cfg.propagate_tracecontext || !r->ctx.valid)
		return r;
	struct http_str tp = h.field[HTTP_F_TRACEPARENT];
	if (tp.ptr == NULL) {
		*hdr_len = inj_format_headers(r->hdr, sizeof(r->hdr), &r->ctx,
					      r->span.buf + r->span.tracestate.off,
					      r->span.tracestate.len);
	} else if (!(h.dup & (1u << HTTP_F_TRACEPARENT)) && tp.len == CTX_TRACEPARENT_LEN &&
		   has_parent && forwarded_traceparent(tp, &parent)) {
		*hdr_len = ctx_tp_format(&r->ctx, r->hdr);
		*replace_off = (long)(tp.ptr - ev->head);
	}
	/* Otherwise the program set its own traceparent: nothing is added. */
	return r;
}

void spans_end(struct wt_span_rec *r, uint64_t end_ns)
{
	if (!atomic_exchange(&r->live, 0))
		return;
	if (!r->record)
		return;
	r->span.end_ns = end_ns;
	agent_on_first_span();
	exp_enqueue(&r->span);
}

void spans_release(struct wt_span_rec *r)
{
	atomic_store(&r->live, 0);
	atomic_fetch_add_explicit(&r->gen, 1, memory_order_release);
	if (cur_rec == r)
		cur_rec = NULL;
	pool_put(&span_pool, r);
}
