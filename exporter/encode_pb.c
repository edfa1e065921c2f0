/*
 * encode_pb.c - direct protobuf wire encoder for ExportTraceServiceRequest (see encode_pb.h).
 *
 * Wire format (protobuf encoding guide): every field is a tag varint (field number << 3 | wire
 * type) followed by a varint (wire type 0), 8 little-endian bytes (1, fixed64/double), 4 bytes
 * (5, fixed32) or a length varint and that many bytes (2: strings, bytes, sub-messages). A
 * sub-message's length must be written before its contents, so the encoder makes two passes:
 * the first sizes every span (sp_size: each attribute's KeyValue and AnyValue, each event, the
 * status, the span) to get the request's length; the second sizes each span again into the
 * same small cache on the stack and the w*() functions write it front to back, taking every
 * length prefix from that cache, into a buffer reserved once for the whole request. Both passes
 * run the same size functions, so they cannot disagree; the total is still checked at the end.
 * Sizing twice costs less than keeping per-attribute sizes for a whole batch in memory.
 *
 * Layout written (field numbers from opentelemetry-proto v1.x, see proto/):
 *   ExportTraceServiceRequest{1: ResourceSpans{1: Resource{1: KeyValue...},
 *     2: ScopeSpans{1: InstrumentationScope{1: "wiretrace", 2: version}, 2: Span...}}}
 * All spans of a batch share the one ResourceSpans and the one ScopeSpans.
 *
 * Proto3 rules kept: fields holding their default value (0, empty string, empty bytes) are
 * omitted; parent_span_id is omitted for a root span (all-zero parent); Status is omitted when
 * it is Unset without a message. Members of a oneof (AnyValue.value) are always written, even
 * when they hold 0 or "", because their presence is the value's type. Ids are always written.
 * Strings are proto3 `string`, i.e. UTF-8: invalid bytes are replaced (see encbuf.c).
 *
 * The span is read defensively: counts are clamped to the record's capacity, a string whose
 * offset and length leave the used part of buf is treated as empty, an unknown attribute type
 * is written as an empty AnyValue. The fuzz target feeds random records.
 *
 * Fixed-buffer mode (exp_pb_encode_fixed): the same two passes into memory the caller prepared
 * (output and per-span scratch), failing with -ENOSPC instead of growing anything. It allocates
 * nothing, takes no lock and makes no syscall, so the crash handler can encode the spans it
 * writes to the spool from inside a signal handler (spool.c).
 *
 * Thread safety: reentrant; the output buffer belongs to the caller. Async-signal-safe in
 * fixed-buffer mode.
 */
#include "encode_pb.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Sizes of one span's nested messages: computed once by sp_size() in the first pass, kept
 * for the whole batch in the buffer's scratch space, used for every length prefix in the
 * second. */
struct spsz {
	uint32_t kv[EXP_SPAN_MAX_ATTRS];  /* KeyValue message of attribute i */
	uint32_t any[EXP_SPAN_MAX_ATTRS]; /* its AnyValue message */
	uint32_t ev[EXP_SPAN_MAX_EVENTS]; /* Event message k */
	uint32_t status;                  /* Status message (0: not written) */
	uint32_t total;                   /* the Span message */
	bool ascii; /* the whole used buffer is ASCII: every string is valid UTF-8 as is */
};

/* One span being encoded. */
struct sp {
	const struct exp_span *s;
	struct spsz *z;
	size_t used;
	unsigned nattrs, nevents;
};

static void sp_init(struct sp *c, const struct exp_span *s, struct spsz *z)
{
	c->s = s;
	c->z = z;
	c->used = exp_str_used(s);
	c->nattrs = s->nattrs < EXP_SPAN_MAX_ATTRS ? s->nattrs : EXP_SPAN_MAX_ATTRS;
	c->nevents = s->nevents < EXP_SPAN_MAX_EVENTS ? s->nevents : EXP_SPAN_MAX_EVENTS;
}

/* Bounds-checked string of the span. */
static inline size_t sv(const struct sp *c, struct exp_str str, const char **p)
{
	return exp_str_get(c->s, str, c->used, p);
}

static inline size_t vsize(uint64_t v)
{
	if (v < 0x80)
		return 1;
	if (v < 0x4000)
		return 2;
	return 1 + (size_t)(63 - __builtin_clzll(v)) / 7;
}

/* Length-delimited field with a one-byte tag. */
static inline size_t ldsize(size_t n)
{
	return 1 + vsize(n) + n;
}

/* Bytes the string takes on the wire: equal to n exactly when it is valid UTF-8. */
static inline size_t wlen(bool ascii, const char *p, size_t n)
{
	if (ascii || exp_ascii_only(p, n))
		return n;
	return exp_utf8_repaired_len(p, n);
}

/* memcpy for the short strings spans are made of: fixed-size moves the compiler inlines
 * (two overlapping ones cover any length up to 16) instead of a library call each. */
static inline void copy(uint8_t *w, const char *p, size_t n)
{
	uint64_t a, b;
	uint32_t x, y;

	if (n > 16) {
		memcpy(w, p, n);
	} else if (n >= 8) {
		memcpy(&a, p, 8);
		memcpy(&b, p + n - 8, 8);
		memcpy(w, &a, 8);
		memcpy(w + n - 8, &b, 8);
	} else if (n >= 4) {
		memcpy(&x, p, 4);
		memcpy(&y, p + n - 4, 4);
		memcpy(w, &x, 4);
		memcpy(w + n - 4, &y, 4);
	} else {
		while (n--)
			*w++ = (uint8_t)*p++;
	}
}

static inline uint8_t *wvarint(uint8_t *w, uint64_t v)
{
	while (v >= 0x80) {
		*w++ = (uint8_t)v | 0x80;
		v >>= 7;
	}
	*w++ = (uint8_t)v;
	return w;
}

static inline uint8_t *wfixed64(uint8_t *w, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		w[i] = (uint8_t)(v >> (8 * i));
	return w + 8;
}

static inline uint8_t *wtaglen(uint8_t *w, uint8_t tag, size_t len)
{
	*w++ = tag;
	return wvarint(w, len);
}

static uint8_t *wstr(uint8_t *w, uint8_t tag, bool ascii, const char *p, size_t n)
{
	size_t wl = wlen(ascii, p, n);

	w = wtaglen(w, tag, wl);
	if (wl == n) {
		copy(w, p, n);
		return w + n;
	}
	return w + exp_utf8_repair(w, p, n);
}

/* Elements of a string array: NUL-separated inside [p, end), at most `count`. */
static size_t arr_next(const char **pp, const char *end, const char **el)
{
	const char *p = *pp, *z = memchr(p, 0, (size_t)(end - p));

	*el = p;
	*pp = z ? z + 1 : end;
	return (size_t)((z ? z : end) - p);
}

static size_t array_size(const struct sp *c, const struct exp_attr *a)
{
	const char *p, *end, *el;
	size_t n = sv(c, a->v.s, &p), sz = 0, k;

	for (end = p + n, k = 0; k < a->count && p < end; k++) {
		size_t l = arr_next(&p, end, &el); /* sets el: a separate statement */

		sz += ldsize(ldsize(wlen(c->z->ascii, el, l)));
	}
	return sz;
}

static size_t any_size(const struct sp *c, const struct exp_attr *a)
{
	const char *p;
	size_t n;

	switch (a->type) {
	case EXP_ATTR_STRING:
		n = sv(c, a->v.s, &p);
		return ldsize(wlen(c->z->ascii, p, n));
	case EXP_ATTR_BOOL:
		return 2;
	case EXP_ATTR_INT:
		return 1 + vsize((uint64_t)a->v.i);
	case EXP_ATTR_DOUBLE:
		return 9;
	case EXP_ATTR_STRING_ARRAY:
		return ldsize(array_size(c, a));
	}
	return 0;
}

static size_t key_size(const struct sp *c, const struct exp_attr *a)
{
	const char *p;
	size_t n = sv(c, a->key, &p);

	return n ? ldsize(wlen(c->z->ascii, p, n)) : 0;
}

static uint8_t *wany(uint8_t *w, const struct sp *c, const struct exp_attr *a)
{
	const char *p, *end, *el;
	uint64_t bits;
	uint8_t b;
	size_t n, k;

	switch (a->type) {
	case EXP_ATTR_STRING:
		n = sv(c, a->v.s, &p);
		return wstr(w, 0x0a, c->z->ascii, p, n); /* string_value = 1 */
	case EXP_ATTR_BOOL:
		memcpy(&b, &a->v.b, 1); /* never load a bool that may not hold 0 or 1 */
		*w++ = 0x10;            /* bool_value = 2 */
		*w++ = b != 0;
		return w;
	case EXP_ATTR_INT:
		*w++ = 0x18; /* int_value = 3: int64, negative values take 10 bytes */
		return wvarint(w, (uint64_t)a->v.i);
	case EXP_ATTR_DOUBLE:
		memcpy(&bits, &a->v.d, 8);
		*w++ = 0x21; /* double_value = 4 */
		return wfixed64(w, bits);
	case EXP_ATTR_STRING_ARRAY:
		w = wtaglen(w, 0x2a, array_size(c, a)); /* array_value = 5 */
		n = sv(c, a->v.s, &p);
		for (end = p + n, k = 0; k < a->count && p < end; k++) {
			size_t l = arr_next(&p, end, &el);

			w = wtaglen(w, 0x0a, ldsize(wlen(c->z->ascii, el, l))); /* values = 1 */
			w = wstr(w, 0x0a, c->z->ascii, el, l);
		}
		return w;
	}
	return w;
}

static uint8_t *wkv(uint8_t *w, const struct sp *c, unsigned i)
{
	const struct exp_attr *a = &c->s->attrs[i];
	const char *p;
	size_t n = sv(c, a->key, &p);

	if (n)
		w = wstr(w, 0x0a, c->z->ascii, p, n); /* key = 1 */
	w = wtaglen(w, 0x12, c->z->any[i]);           /* value = 2 */
	return wany(w, c, a);
}

/* Attributes of owner (0 = the span, k = event k-1), each as a KeyValue field. */
static size_t attrs_size(const struct sp *c, unsigned owner)
{
	size_t sz = 0;
	unsigned i;

	for (i = 0; i < c->nattrs; i++)
		if (c->s->attrs[i].event == owner)
			sz += ldsize(c->z->kv[i]);
	return sz;
}

static uint8_t *wattrs(uint8_t *w, const struct sp *c, unsigned owner, uint8_t tag)
{
	unsigned i;

	for (i = 0; i < c->nattrs; i++) {
		if (c->s->attrs[i].event == owner) {
			w = wtaglen(w, tag, c->z->kv[i]);
			w = wkv(w, c, i);
		}
	}
	return w;
}

static size_t event_size(const struct sp *c, unsigned k)
{
	const struct exp_event *e = &c->s->events[k];
	const char *p;
	size_t n = sv(c, e->name, &p);

	return (e->time_ns ? 9 : 0) + (n ? ldsize(wlen(c->z->ascii, p, n)) : 0) +
	       attrs_size(c, k + 1) + (e->dropped_attrs ? 1 + vsize(e->dropped_attrs) : 0);
}

static uint8_t *wevent(uint8_t *w, const struct sp *c, unsigned k)
{
	const struct exp_event *e = &c->s->events[k];
	const char *p;
	size_t n = sv(c, e->name, &p);

	if (e->time_ns) {
		*w++ = 0x09; /* time_unix_nano = 1, fixed64 */
		w = wfixed64(w, e->time_ns);
	}
	if (n)
		w = wstr(w, 0x12, c->z->ascii, p, n); /* name = 2 */
	w = wattrs(w, c, k + 1, 0x1a);                /* attributes = 3 */
	if (e->dropped_attrs) {
		*w++ = 0x20; /* dropped_attributes_count = 4 */
		w = wvarint(w, e->dropped_attrs);
	}
	return w;
}

static size_t status_size(const struct sp *c)
{
	const char *p;
	size_t n = sv(c, c->s->status_message, &p);

	return (n ? ldsize(wlen(c->z->ascii, p, n)) : 0) +
	       (c->s->status_code ? 1 + vsize(c->s->status_code) : 0);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Fill every size of c; c->z->total is the Span message's. */
static void sp_size(struct sp *c)
{
	const struct exp_span *s = c->s;
	const char *p;
	size_t sz = 18 + 10, n; /* trace_id, span_id */
	unsigned i, k;

	c->z->ascii = exp_ascii_only(s->buf, c->used);
	for (i = 0; i < c->nattrs; i++) {
		c->z->any[i] = (uint32_t)any_size(c, &s->attrs[i]);
		c->z->kv[i] = (uint32_t)(key_size(c, &s->attrs[i]) + ldsize(c->z->any[i]));
	}
	for (k = 0; k < c->nevents; k++)
		c->z->ev[k] = (uint32_t)event_size(c, k);
	c->z->status = (uint32_t)status_size(c);
	if ((n = sv(c, s->tracestate, &p)))
		sz += ldsize(wlen(c->z->ascii, p, n));
	if (!is_zero(s->parent_span_id, 8))
		sz += 10;
	if ((n = sv(c, s->name, &p)))
		sz += ldsize(wlen(c->z->ascii, p, n));
	sz += s->kind ? 1 + vsize(s->kind) : 0;
	sz += (s->start_ns ? 9 : 0) + (s->end_ns ? 9 : 0);
	sz += attrs_size(c, 0);
	sz += s->dropped_attrs ? 1 + vsize(s->dropped_attrs) : 0;
	for (k = 0; k < c->nevents; k++)
		sz += ldsize(c->z->ev[k]);
	sz += s->dropped_events ? 1 + vsize(s->dropped_events) : 0;
	sz += c->z->status ? ldsize(c->z->status) : 0;
	sz += s->flags ? 2 + 4 : 0; /* field 16 needs a two-byte tag */
	c->z->total = (uint32_t)sz;
}

static uint8_t *wspan_head(uint8_t *w, const struct sp *c)
{
	const struct exp_span *s = c->s;
	const char *p;
	size_t n;

	*w++ = 0x0a; /* trace_id = 1 */
	*w++ = 16;
	memcpy(w, s->trace_id, 16);
	w += 16;
	*w++ = 0x12; /* span_id = 2 */
	*w++ = 8;
	memcpy(w, s->span_id, 8);
	w += 8;
	if ((n = sv(c, s->tracestate, &p)))
		w = wstr(w, 0x1a, c->z->ascii, p, n); /* trace_state = 3 */
	if (!is_zero(s->parent_span_id, 8)) {
		*w++ = 0x22; /* parent_span_id = 4 */
		*w++ = 8;
		memcpy(w, s->parent_span_id, 8);
		w += 8;
	}
	if ((n = sv(c, s->name, &p)))
		w = wstr(w, 0x2a, c->z->ascii, p, n); /* name = 5 */
	if (s->kind) {
		*w++ = 0x30; /* kind = 6 */
		w = wvarint(w, s->kind);
	}
	if (s->start_ns) {
		*w++ = 0x39; /* start_time_unix_nano = 7, fixed64 */
		w = wfixed64(w, s->start_ns);
	}
	if (s->end_ns) {
		*w++ = 0x41; /* end_time_unix_nano = 8, fixed64 */
		w = wfixed64(w, s->end_ns);
	}
	return w;
}

static uint8_t *wspan(uint8_t *w, const struct sp *c)
{
	const struct exp_span *s = c->s;
	const char *p;
	size_t n, st;
	unsigned k;

	w = wspan_head(w, c);
	w = wattrs(w, c, 0, 0x4a); /* attributes = 9 */
	if (s->dropped_attrs) {
		*w++ = 0x50; /* dropped_attributes_count = 10 */
		w = wvarint(w, s->dropped_attrs);
	}
	for (k = 0; k < c->nevents; k++) {
		w = wtaglen(w, 0x5a, c->z->ev[k]); /* events = 11 */
		w = wevent(w, c, k);
	}
	if (s->dropped_events) {
		*w++ = 0x60; /* dropped_events_count = 12 */
		w = wvarint(w, s->dropped_events);
	}
	if ((st = c->z->status)) {
		w = wtaglen(w, 0x7a, st); /* status = 15 */
		if ((n = sv(c, s->status_message, &p)))
			w = wstr(w, 0x12, c->z->ascii, p, n); /* message = 2 */
		if (s->status_code) {
			*w++ = 0x18; /* code = 3 */
			w = wvarint(w, s->status_code);
		}
	}
	if (s->flags) {
		*w++ = 0x85; /* flags = 16, fixed32: tag 133 as a varint */
		*w++ = 0x01;
		for (k = 0; k < 4; k++)
			*w++ = (uint8_t)(s->flags >> (8 * k));
	}
	return w;
}

size_t exp_pb_span_size(const struct exp_span *s)
{
	struct spsz z;
	struct sp c;

	sp_init(&c, s, &z);
	sp_size(&c);
	return z.total;
}

static size_t res_kv_size(const struct exp_res_kv *kv)
{
	size_t any = kv->str ? ldsize(wlen(false, kv->str, kv->len)) : 1 + vsize((uint64_t)kv->i);
	size_t kl = strlen(kv->key);

	return (kl ? ldsize(wlen(false, kv->key, kl)) : 0) + ldsize(any);
}

static size_t resource_size(const struct exp_resource *r)
{
	size_t sz = 0;
	int i;

	for (i = 0; r && i < r->n; i++)
		sz += ldsize(res_kv_size(&r->kv[i]));
	return sz;
}

static uint8_t *wresource(uint8_t *w, const struct exp_resource *r)
{
	int i;

	for (i = 0; r && i < r->n; i++) {
		const struct exp_res_kv *kv = &r->kv[i];
		size_t kl = strlen(kv->key);

		w = wtaglen(w, 0x0a, res_kv_size(kv)); /* Resource.attributes = 1 */
		if (kl)
			w = wstr(w, 0x0a, false, kv->key, kl);
		if (kv->str) {
			w = wtaglen(w, 0x12, ldsize(wlen(false, kv->str, kv->len)));
			w = wstr(w, 0x0a, false, kv->str, kv->len);
		} else {
			w = wtaglen(w, 0x12, 1 + vsize((uint64_t)kv->i));
			*w++ = 0x18;
			w = wvarint(w, (uint64_t)kv->i);
		}
	}
	return w;
}

/* Sizes of the messages around the spans (pass 1 of a whole request). */
struct reqsz {
	size_t scope, ss, rsz, rs, total;
};

static void req_size(struct reqsz *q, struct spsz *z, const struct exp_resource *res,
                     const struct exp_span *spans, size_t n)
{
	const size_t vlen = sizeof(WIRETRACE_VERSION) - 1, nlen = sizeof(EXP_SCOPE_NAME) - 1;
	struct sp c;
	size_t i;

	q->scope = ldsize(nlen) + ldsize(vlen);
	q->ss = ldsize(q->scope);
	for (i = 0; i < n; i++) { /* pass 1: sizes */
		sp_init(&c, &spans[i], &z[i]);
		sp_size(&c);
		q->ss += ldsize(z[i].total);
	}
	q->rsz = resource_size(res);
	q->rs = ldsize(q->rsz) + ldsize(q->ss);
	q->total = ldsize(q->rs);
}

static uint8_t *req_write(uint8_t *w, const struct reqsz *q, struct spsz *z,
                          const struct exp_resource *res, const struct exp_span *spans, size_t n)
{
	const size_t vlen = sizeof(WIRETRACE_VERSION) - 1, nlen = sizeof(EXP_SCOPE_NAME) - 1;
	struct sp c;
	size_t i;

	w = wtaglen(w, 0x0a, q->rs);  /* resource_spans = 1 */
	w = wtaglen(w, 0x0a, q->rsz); /* ResourceSpans.resource = 1 */
	w = wresource(w, res);
	w = wtaglen(w, 0x12, q->ss);    /* ResourceSpans.scope_spans = 2 */
	w = wtaglen(w, 0x0a, q->scope); /* ScopeSpans.scope = 1 */
	w = wstr(w, 0x0a, true, EXP_SCOPE_NAME, nlen);
	w = wstr(w, 0x12, true, WIRETRACE_VERSION, vlen);
	for (i = 0; i < n; i++) { /* pass 2: bytes */
		sp_init(&c, &spans[i], &z[i]);
		w = wtaglen(w, 0x12, z[i].total); /* ScopeSpans.spans = 2 */
		w = wspan(w, &c);
	}
	return w;
}

int exp_pb_encode(struct exp_buf *b, const struct exp_resource *res, const struct exp_span *spans,
                  size_t n)
{
	struct reqsz q;
	struct spsz *z;
	uint8_t *w;

	b->len = 0;
	if (n > SIZE_MAX / sizeof(*z) || exp_buf_scratch(b, n * sizeof(*z), (void **)&z))
		return -ENOMEM;
	req_size(&q, z, res, spans, n);
	if (exp_buf_reserve(b, q.total))
		return -ENOMEM;
	w = req_write(b->p, &q, z, res, spans, n);
	b->len = (size_t)(w - b->p);
	return b->len == q.total ? 0 : -EPROTO;
}

/* ---- fixed-buffer mode (crash spool: no allocation) ------------------------------------- */

size_t exp_pb_scratch_size(size_t n)
{
	return n > SIZE_MAX / sizeof(struct spsz) ? SIZE_MAX : n * sizeof(struct spsz);
}

int exp_pb_encode_fixed(uint8_t *out, size_t cap, void *scratch, size_t scratch_cap,
                        const struct exp_resource *res, const struct exp_span *spans, size_t n,
                        size_t *len)
{
	struct reqsz q;
	uint8_t *w;

	*len = 0;
	if (exp_pb_scratch_size(n) > scratch_cap)
		return -ENOSPC;
	req_size(&q, scratch, res, spans, n);
	if (q.total > cap)
		return -ENOSPC;
	w = req_write(out, &q, scratch, res, spans, n);
	*len = (size_t)(w - out);
	return *len == q.total ? 0 : -EPROTO;
}
