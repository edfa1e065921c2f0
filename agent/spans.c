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
 * Parentage. Every thread keeps the requests whose heads it read that are still in flight
 * (record pointer plus generation, so a record that ended and was reused is never mistaken for
 * the old one), and which of them already made an outbound request. An outbound request made
 * on the thread (at connect(), or at the request head on a reused connection) is attributed:
 *  - to the one request that has not made an outbound request yet, if there is exactly one:
 *    the thread-per-request case, and event loops that connect upstream while handling the
 *    request they just read (nginx);
 *  - to nobody if there are several (an event loop that read several requests before making
 *    their outbound calls: which one is this? a wrong parent is worse than none);
 *  - otherwise to the thread's current request (the one most recently read, still in flight):
 *    a handler's second, third... outbound call.
 * A CLIENT span's parent is the request its connection was bound to at connect() (first request
 * on the connection), else the attribution above, else none (a new root).
 */
#include <string.h>

#include "callsite.h"
#include "config.h"
#include "conn.h"
#include "crash.h"
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

#define WT_THREAD_OPEN 32

struct open_req {
	struct wt_span_rec *rec;
	uint32_t gen;
};

static WT_TLS struct open_req open_reqs[WT_THREAD_OPEN];
static WT_TLS uint8_t open_n;
static WT_TLS uint8_t open_overflow; /* lost track of some: ambiguous until all are gone */

static bool open_live(const struct open_req *o)
{
	return atomic_load_explicit(&o->rec->gen, memory_order_acquire) == o->gen &&
	       atomic_load_explicit(&o->rec->live, memory_order_acquire);
}

static void open_compact(void)
{
	uint8_t k = 0;
	for (uint8_t i = 0; i < open_n; i++)
		if (open_live(&open_reqs[i]))
			open_reqs[k++] = open_reqs[i];
	open_n = k;
	if (open_n == 0)
		open_overflow = 0;
}

void spans_thread_opened(struct wt_span_rec *r)
{
	open_compact();
	if (open_n == WT_THREAD_OPEN) {
		open_overflow = 1;
		return;
	}
	open_reqs[open_n].rec = r;
	open_reqs[open_n].gen = atomic_load_explicit(&r->gen, memory_order_relaxed);
	open_n++;
}

/* A request handed over by another thread (handoff.c): used only when this thread has no
 * request of its own in flight; kept until it ends. */
static WT_TLS struct wt_span_rec *adopt_rec;
static WT_TLS uint32_t adopt_gen;
static WT_TLS const void *adopt_from; /* the object it came on; NULL: thread creation */
static WT_TLS const void *adopt_home; /* the object this thread adopts from (its queue) */

static bool adopted_live(void)
{
	return adopt_rec && atomic_load_explicit(&adopt_rec->gen, memory_order_acquire) == adopt_gen &&
	       atomic_load_explicit(&adopt_rec->live, memory_order_acquire);
}

void spans_adopt(struct wt_span_rec *rec, uint32_t gen, const void *from)
{
	if (adopted_live() && adopt_from != NULL && adopt_from != from)
		return; /* a wake-up inside a handler: the thread keeps its request */
	adopt_rec = rec;
	adopt_gen = gen;
	adopt_from = from;
}

void spans_woken(const void *obj, struct wt_span_rec *rec, uint32_t gen, bool fresh)
{
	bool home = adopt_home == obj;
	if (rec && (fresh || home) && (home || adopt_home == NULL)) {
		spans_adopt(rec, gen, obj);
		adopt_home = obj;
		return;
	}
	/* A stale post, or a post for an unknown request: it can only confirm or cancel a request
	 * the thread was created with. */
	if (adopt_rec && adopt_from == NULL && (rec != adopt_rec || gen != adopt_gen))
		adopt_rec = NULL;
}

void spans_adopt_waiting(const void *obj)
{
	if (adopt_rec && obj == adopt_from)
		adopt_rec = NULL;
}

int spans_handoff_source(struct wt_span_rec **rec, uint32_t *gen)
{
	if (open_n == 0)
		return 0; /* the common case: this thread serves no request it read */
	open_compact();
	if (open_n == 0)
		return 0;
	if (open_n != 1 || open_overflow)
		return -1;
	*rec = open_reqs[0].rec;
	*gen = open_reqs[0].gen;
	return 1;
}

bool spans_pick_parent(struct wt_parent *out)
{
	open_compact();
	int cand = -1, ncand = 0;
	for (int i = 0; i < open_n; i++) {
		if (!atomic_load_explicit(&open_reqs[i].rec->has_outbound, memory_order_relaxed)) {
			cand = i;
			ncand++;
		}
	}
	if (open_overflow || ncand > 1)
		return false;
	if (ncand == 1) {
		struct open_req *o = &open_reqs[cand];
		if (!rec_context(o->rec, o->gen, out))
			return false;
		atomic_store_explicit(&o->rec->has_outbound, 1, memory_order_relaxed);
		return true;
	}
	if (spans_current(out))
		return true;
	if (open_n == 0 && adopted_live() && rec_context(adopt_rec, adopt_gen, out))
		return true;
	return false;
}

static struct wt_span_rec *rec_get(void)
{
	crash_on_span_begin(); /* crash.c: fatal-signal handlers from the first span on */
	struct wt_span_rec *r = pool_get(&span_pool);
	if (r == NULL)
		return NULL;
	exp_span_init(&r->span);
	memset(&r->ctx, 0, sizeof(r->ctx));
	r->record = 0;
	r->resp_flags = 0;
	r->resp_started = 0;
	atomic_store_explicit(&r->has_outbound, 0, memory_order_relaxed);
	atomic_store_explicit(&r->forked_at, 0, memory_order_relaxed);
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
	if (ev->head == NULL)
		return NULL;
	/* The head's fields are picked out here only when this thread needs one: an inbound
	 * traceparent (its context), or the path when WIRETRACE_EXCLUDED_URLS is set; otherwise
	 * the exporter thread does it with the attributes (http_span_defer.c). */
	bool parsed = (wt_cfg.propagate_tracecontext &&
		       http_head_has_traceparent(ev->head, ev->head_len)) ||
		      wt_cfg.nexcluded_urls > 0;
	if (parsed && http_head_parse(ev->head, ev->head_len, HTTP_DIR_REQUEST, &h) < 0)
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
	struct http_str tp = {NULL, 0};
	if (parsed)
		tp = h.field[HTTP_F_TRACEPARENT];
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
			   (parsed && h.target.ptr && hspan_path_excluded(h.target.ptr, h.target.len));
	rec_identity(r, &parent, ts, ts_len, passthrough, start_ns);
	/* The attributes are made on the exporter thread from a copy of the head (the request
	 * thread's cost is the copy); a head too big for that gets them here. */
	if (r->record && !hspan_server_defer(&r->span, ev->head, ev->head_len, &c->peer, c->tls) &&
	    (parsed || http_head_parse(ev->head, ev->head_len, HTTP_DIR_REQUEST, &h) == 0)) {
		struct wt_req_view v;
		hspan_req_view(&h, c->tls, &v);
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
		has_parent = spans_pick_parent(&parent);
	}
	c->bind_used = 1;
	rec_identity(r, has_parent ? &parent.sc : NULL, parent.ts, has_parent ? parent.ts_len : 0,
		     wt_cfg.sdk_disabled, start_ns);
	if (r->record) {
		struct wt_req_view v;
		hspan_req_view(&h, c->tls, &v);
		hspan_client_request(&r->span, &v, &c->peer);
		callsite_on_client_span(&r->span); /* callsite.c: WIRETRACE_CAPTURE_CALLSITE */
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

/* ---- detached CLIENT spans (libcurl transfers, curl_trace.c) --------------------------------- */

struct wt_span_rec *spans_client_begin_detached(const struct wt_parent *parent, uint64_t start_ns)
{
	struct wt_span_rec *r = rec_get();
	if (r == NULL)
		return NULL;
	bool has_parent = parent && parent->sc.valid;
	rec_identity(r, has_parent ? &parent->sc : NULL, has_parent ? parent->ts : "",
		     has_parent ? parent->ts_len : 0, wt_cfg.sdk_disabled, start_ns);
	r->span.kind = EXP_KIND_CLIENT;
	if (r->record)
		callsite_on_client_span(&r->span); /* callsite.c: WIRETRACE_CAPTURE_CALLSITE */
	atomic_store_explicit(&r->live, 1, memory_order_release);
	return r;
}

/* ---- end of detached CLIENT spans ------------------------------------------------------------ */

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

/* ---- crash forensics (crash.c) ---------------------------------------------------------- */

/* Every record of the span pool whose request is in flight (only the records ever used are
 * looked at). Async-signal-safe: no lock, reads the pool's mapping only once it is complete. */
void spans_for_each_live(void (*fn)(struct wt_span_rec *r, void *arg), void *arg)
{
	uint32_t i;

	if (atomic_load_explicit(&span_pool.state, memory_order_acquire) != 2)
		return;
	uint32_t used = pool_used(&span_pool);

	for (i = 0; i < used && i < span_pool.cap; i++) {
		struct wt_span_rec *r = pool_at(&span_pool, i);

		if (atomic_load_explicit(&r->live, memory_order_acquire))
			fn(r, arg);
	}
}

/* ---- end of crash forensics -------------------------------------------------------------- */

/* The mark names the record's generation, so a record that ends and is reused while the
 * parent's handler runs (other threads go on) is never taken for one in flight at the fork. */
static void mark_forked(struct wt_span_rec *r, void *arg)
{
	(void)arg;
	uint32_t g = atomic_load_explicit(&r->gen, memory_order_acquire);
	if (atomic_load_explicit(&r->live, memory_order_acquire))
		atomic_store_explicit(&r->forked_at, g + 1, memory_order_relaxed);
}

void spans_atfork(void)
{
	spans_for_each_live(mark_forked, NULL);
}

bool spans_forked(struct wt_span_rec *r)
{
	return atomic_load_explicit(&r->forked_at, memory_order_relaxed) ==
	       atomic_load_explicit(&r->gen, memory_order_acquire) + 1;
}
