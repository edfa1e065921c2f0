/*
 * encode_pb.c - direct protobuf wire encoder for ExportTraceServiceRequest (see encode_pb.h).
 *
 * Wire format (protobuf encoding guide): every field is a tag varint (field number << 3 | wire
 * type) followed by a varint (wire type 0), 8 little-endian bytes (1, fixed64/double), 4 bytes
 * (5, fixed32) or a length varint and that many bytes (2: strings, bytes, sub-messages). A
 * sub-message's length comes before its contents, and the encoder writes in one pass, front to
 * back:
 *   - an attribute's KeyValue and AnyValue lengths follow from the lengths of its key and value,
 *     which are known before a byte is written, so they are computed on the spot; the usual
 *     attribute (ASCII string or integer, every length one byte) is written straight;
 *   - a Span is written after a gap for its length (2 bytes: spans of 128 B to 16 KiB), then
 *     its real length goes into the gap, and when that takes 1 or 3 bytes the span is moved by
 *     the difference (wclose); an Event likewise, after a 3-byte gap;
 *   - the request's two outer lengths (ResourceSpans, ScopeSpans) are known once every span is
 *     written: the spans are written after a gap as wide as the longest possible prefix, and at
 *     the end the prefix is written right in front of them; the request starts there
 *     (exp_buf_skip), nothing is moved.
 * Before each span the output is given room for the most any span record can take
 * (SPAN_WORST, about 1 MiB: only the pages written are ever touched), so no write can pass its
 * end. In fixed-buffer mode the room is an upper bound of this span's size (sp_bound), the
 * gap is as wide as that bound's length needs, and the request is moved to the start of the
 * buffer at the end. The prefix is checked to end exactly where the spans begin.
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
 * Fixed-buffer mode (exp_pb_encode_fixed): the same pass into memory the caller prepared,
 * failing with -ENOSPC instead of growing it. It allocates nothing, takes no lock and makes no
 * syscall, so the crash handler can encode the spans it writes to the spool from inside a
 * signal handler (spool.c).
 *
 * Thread safety: reentrant; the output buffer belongs to the caller. Async-signal-safe in
 * fixed-buffer mode.
 */
#include "encode_pb.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* One span being encoded. */
struct sp {
	const struct exp_span *s;
	size_t used;
	unsigned nattrs, nevents;
	bool ascii; /* the whole used buffer is ASCII: every string of buf is valid UTF-8 as is */
};

/* The output: a caller's fixed buffer, or an exp_buf that grows. */
struct out {
	uint8_t *p;
	size_t cap;
	struct exp_buf *grow; /* NULL: fixed */
};

static void sp_init(struct sp *c, const struct exp_span *s)
{
	c->s = s;
	c->used = exp_str_used(s);
	c->nattrs = s->nattrs < EXP_SPAN_MAX_ATTRS ? s->nattrs : EXP_SPAN_MAX_ATTRS;
	c->nevents = s->nevents < EXP_SPAN_MAX_EVENTS ? s->nevents : EXP_SPAN_MAX_EVENTS;
	c->ascii = exp_ascii_only(s->buf, c->used);
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

/* Bytes a string takes on the wire: equal to n exactly when it is valid UTF-8. */
static inline size_t wlen(bool ascii, const char *p, size_t n)
{
	if (ascii || exp_ascii_only(p, n))
		return n;
	return exp_utf8_repaired_len(p, n);
}

/* The same for a string of the span (well-known keys are ASCII). */
static inline size_t swlen(const struct sp *c, struct exp_str str, const char *p, size_t n)
{
	return wlen(c->ascii || (str.off & EXP_STR_KEY), p, n);
}

/* memcpy for the short strings spans are made of: fixed-size moves the compiler inlines
 * (two overlapping ones cover any length up to 32) instead of a library call each. */
static inline void copy(uint8_t *w, const char *p, size_t n)
{
	uint64_t a[2], b[2];
	uint32_t x, y;

	if (n > 32) {
		memcpy(w, p, n);
	} else if (n >= 16) {
		memcpy(a, p, 16);
		memcpy(b, p + n - 16, 16);
		memcpy(w, a, 16);
		memcpy(w + n - 16, b, 16);
	} else if (n >= 8) {
		memcpy(a, p, 8);
		memcpy(b, p + n - 8, 8);
		memcpy(w, a, 8);
		memcpy(w + n - 8, b, 8);
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
	v = htole64(v);
	memcpy(w, &v, 8);
	return w + 8;
}

static inline uint8_t *wtaglen(uint8_t *w, uint8_t tag, size_t len)
{
	*w++ = tag;
	return wvarint(w, len);
}

/* A string field whose wire length wl (wlen) is known. */
static inline uint8_t *wstr_l(uint8_t *w, uint8_t tag, const char *p, size_t n, size_t wl)
{
	w = wtaglen(w, tag, wl);
	if (wl == n) {
		copy(w, p, n);
		return w + n;
	}
	return w + exp_utf8_repair(w, p, n);
}

static uint8_t *wstr(uint8_t *w, const struct sp *c, uint8_t tag, struct exp_str str)
{
	const char *p;
	size_t n = sv(c, str, &p);

	return n ? wstr_l(w, tag, p, n, swlen(c, str, p, n)) : w;
}

/* Close a length-delimited field: its contents [m + r, end) were written after r bytes left
 * for their length, and are moved to follow the length's varint when that takes more or fewer
 * bytes (the caller made room for the larger). Returns the end of the field. */
static uint8_t *wclose(uint8_t *m, size_t r, uint8_t *end)
{
	size_t len = (size_t)(end - (m + r)), v = vsize(len);

	if (v != r)
		memmove(m + v, m + r, len);
	wvarint(m, len);
	return m + v + len;
}

/* ---- upper bounds ------------------------------------------------------------------------ */

/* What a string of n bytes can take as a field: tag, length (at most 3 bytes: a string is a
 * slice of the 2 KiB buf or a well-known key), and the text, which repair makes at most 3x as
 * long. */
static inline size_t sbound(const struct sp *c, size_t n)
{
	return 4 + (c->ascii ? n : 3 * n);
}

/* An upper bound of the Span message's size. Every length inside a span takes at most 3
 * bytes (SPAN_WORST < 2^21): a KeyValue holds at most two strings, or an array of at most one
 * string's elements. */
static size_t sp_bound(const struct sp *c)
{
	const struct exp_span *s = c->s;
	const char *p;
	size_t b = 96, n; /* ids, parent, kind, times, dropped counts, flags, status around its message */
	unsigned i;

	b += sbound(c, sv(c, s->name, &p)) + sbound(c, sv(c, s->tracestate, &p)) +
	     sbound(c, sv(c, s->status_message, &p));
	for (i = 0; i < c->nattrs; i++) {
		const struct exp_attr *a = &c->s->attrs[i];

		b += 8 + sbound(c, sv(c, a->key, &p)); /* KeyValue and value tags and lengths, key */
		switch (a->type) {
		case EXP_ATTR_STRING:
			b += sbound(c, sv(c, a->v.s, &p));
			break;
		case EXP_ATTR_STRING_ARRAY: /* each element: two tags and lengths, text */
			n = sv(c, a->v.s, &p);
			b += 4 + (c->ascii ? n : 3 * n) + 8 * (a->count < n + 1 ? a->count : n + 1);
			break;
		default:
			b += 11; /* int64 varint with its tag: the largest scalar */
		}
	}
	for (i = 0; i < c->nevents; i++) /* tag, length, time, name, dropped count */
		b += 4 + 9 + sbound(c, sv(c, s->events[i].name, &p)) + 6;
	return b;
}

/* sp_bound() of the largest record there can be: every string 2 KiB of bytes to repair, every
 * attribute an array of 2,048 empty elements beside such a string. */
#define SBOUND_WORST (4 + 3 * EXP_SPAN_BUF)
#define SPAN_WORST                                                                             \
	(96 + 3 * SBOUND_WORST +                                                               \
	 EXP_SPAN_MAX_ATTRS * (8 + SBOUND_WORST + 4 + 3 * EXP_SPAN_BUF + 8 * (EXP_SPAN_BUF + 1)) + \
	 EXP_SPAN_MAX_EVENTS * (4 + 9 + SBOUND_WORST + 6))
_Static_assert(SPAN_WORST < (1u << 21), "a span's lengths take at most 3 bytes");
#define EVENT_LEN_ROOM 3 /* an event is shorter than its span: 3 bytes hold its length */

/* ---- span ------------------------------------------------------------------------------- */

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

		sz += ldsize(ldsize(wlen(c->ascii, el, l)));
	}
	return sz;
}

static uint8_t *warray(uint8_t *w, const struct sp *c, const struct exp_attr *a)
{
	const char *p, *end, *el;
	size_t n = sv(c, a->v.s, &p), k;

	for (end = p + n, k = 0; k < a->count && p < end; k++) {
		size_t l = arr_next(&p, end, &el), wl = wlen(c->ascii, el, l);

		w = wtaglen(w, 0x0a, ldsize(wl)); /* ArrayValue.values = 1 */
		w = wstr_l(w, 0x0a, el, l, wl);
	}
	return w;
}

/* Attribute a as a KeyValue field with tag `tag`: the lengths of the key and the value give
 * every length in it before anything is written. */
static __attribute__((noinline)) uint8_t *wattr_any(uint8_t *w, const struct sp *c,
                                                    const struct exp_attr *a, uint8_t tag)
{
	const char *kp, *vp = "";
	size_t kn = sv(c, a->key, &kp), kl = kn ? swlen(c, a->key, kp, kn) : 0;
	size_t vn = 0, vl = 0, any;
	uint64_t bits;
	uint8_t b;

	switch (a->type) {
	case EXP_ATTR_STRING:
		vn = sv(c, a->v.s, &vp);
		vl = swlen(c, a->v.s, vp, vn);
		any = ldsize(vl);
		break;
	case EXP_ATTR_BOOL:
		any = 2;
		break;
	case EXP_ATTR_INT:
		any = 1 + vsize((uint64_t)a->v.i);
		break;
	case EXP_ATTR_DOUBLE:
		any = 9;
		break;
	case EXP_ATTR_STRING_ARRAY:
		vl = array_size(c, a);
		any = ldsize(vl);
		break;
	default:
		any = 0;
	}
	w = wtaglen(w, tag, (kn ? ldsize(kl) : 0) + ldsize(any));
	if (kn)
		w = wstr_l(w, 0x0a, kp, kn, kl); /* key = 1 */
	w = wtaglen(w, 0x12, any);               /* value = 2 */
	switch (a->type) {
	case EXP_ATTR_STRING:
		return wstr_l(w, 0x0a, vp, vn, vl); /* string_value = 1, written even when "" */
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
		w = wtaglen(w, 0x2a, vl); /* array_value = 5 */
		return warray(w, c, a);
	}
	return w;
}

/* The same, written straight for what nearly every attribute is: a string or an integer with
 * an ASCII key and value, short enough for every length to take one byte. */
static inline __attribute__((always_inline)) uint8_t *wattr(uint8_t *w, const struct sp *c,
                                                            const struct exp_attr *a, uint8_t tag)
{
	const char *kp, *vp = "";
	size_t kn, vn = 0, any;

	if (!c->ascii || (a->type != EXP_ATTR_STRING && a->type != EXP_ATTR_INT))
		return wattr_any(w, c, a, tag);
	kn = sv(c, a->key, &kp);
	if (a->type == EXP_ATTR_STRING) {
		vn = sv(c, a->v.s, &vp);
		any = 2 + vn;
	} else {
		any = 1 + vsize((uint64_t)a->v.i);
	}
	if (kn == 0 || 4 + kn + any >= 0x80)
		return wattr_any(w, c, a, tag);
	w[0] = tag;
	w[1] = (uint8_t)(4 + kn + any);
	w[2] = 0x0a; /* key = 1 */
	w[3] = (uint8_t)kn;
	copy(w + 4, kp, kn);
	w += 4 + kn;
	w[0] = 0x12; /* value = 2 */
	w[1] = (uint8_t)any;
	if (a->type == EXP_ATTR_INT) {
		w[2] = 0x18; /* int_value = 3 */
		return wvarint(w + 3, (uint64_t)a->v.i);
	}
	w[2] = 0x0a; /* string_value = 1 */
	w[3] = (uint8_t)vn;
	copy(w + 4, vp, vn);
	return w + 4 + vn;
}

/* Attributes of owner (0 = the span, k = event k-1), each as a KeyValue field. */
static uint8_t *wattrs(uint8_t *w, const struct sp *c, unsigned owner, uint8_t tag)
{
	unsigned i;

	for (i = 0; i < c->nattrs; i++)
		if (c->s->attrs[i].event == owner)
			w = wattr(w, c, &c->s->attrs[i], tag);
	return w;
}

/* Event k as a field. */
static uint8_t *wevent(uint8_t *w, const struct sp *c, unsigned k)
{
	const size_t r = EVENT_LEN_ROOM;
	const struct exp_event *e = &c->s->events[k];
	uint8_t *m;

	*w++ = 0x5a; /* Span.events = 11 */
	m = w;
	w += r;
	if (e->time_ns) {
		*w++ = 0x09; /* time_unix_nano = 1, fixed64 */
		w = wfixed64(w, e->time_ns);
	}
	w = wstr(w, c, 0x12, e->name); /* name = 2 */
	w = wattrs(w, c, k + 1, 0x1a); /* attributes = 3 */
	if (e->dropped_attrs) {
		*w++ = 0x20; /* dropped_attributes_count = 4 */
		w = wvarint(w, e->dropped_attrs);
	}
	return wclose(m, r, w);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static uint8_t *wstatus(uint8_t *w, const struct sp *c)
{
	const struct exp_span *s = c->s;
	const char *p;
	size_t n = sv(c, s->status_message, &p), wl = n ? swlen(c, s->status_message, p, n) : 0;

	if (!n && !s->status_code)
		return w; /* Unset without a message: omitted */
	w = wtaglen(w, 0x7a, (n ? ldsize(wl) : 0) + (s->status_code ? 1 + vsize(s->status_code) : 0));
	if (n)
		w = wstr_l(w, 0x12, p, n, wl); /* message = 2 */
	if (s->status_code) {
		*w++ = 0x18; /* code = 3 */
		w = wvarint(w, s->status_code);
	}
	return w;
}

/* The Span message's fields. */
static uint8_t *wspan(uint8_t *w, const struct sp *c)
{
	const struct exp_span *s = c->s;
	unsigned k;

	*w++ = 0x0a; /* trace_id = 1 */
	*w++ = 16;
	memcpy(w, s->trace_id, 16);
	w += 16;
	*w++ = 0x12; /* span_id = 2 */
	*w++ = 8;
	memcpy(w, s->span_id, 8);
	w += 8;
	w = wstr(w, c, 0x1a, s->tracestate); /* trace_state = 3 */
	if (!is_zero(s->parent_span_id, 8)) {
		*w++ = 0x22; /* parent_span_id = 4 */
		*w++ = 8;
		memcpy(w, s->parent_span_id, 8);
		w += 8;
	}
	w = wstr(w, c, 0x2a, s->name); /* name = 5 */
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
	w = wattrs(w, c, 0, 0x4a); /* attributes = 9 */
	if (s->dropped_attrs) {
		*w++ = 0x50; /* dropped_attributes_count = 10 */
		w = wvarint(w, s->dropped_attrs);
	}
	for (k = 0; k < c->nevents; k++)
		w = wevent(w, c, k);
	if (s->dropped_events) {
		*w++ = 0x60; /* dropped_events_count = 12 */
		w = wvarint(w, s->dropped_events);
	}
	w = wstatus(w, c); /* status = 15 */
	if (s->flags) {
		uint32_t le = htole32(s->flags);

		*w++ = 0x85; /* flags = 16, fixed32: tag 133 as a varint */
		*w++ = 0x01;
		memcpy(w, &le, 4);
		w += 4;
	}
	return w;
}

/* ---- request ------------------------------------------------------------------------------ */

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
			w = wstr_l(w, 0x0a, kv->key, kl, wlen(false, kv->key, kl));
		if (kv->str) {
			size_t vl = wlen(false, kv->str, kv->len);

			w = wtaglen(w, 0x12, ldsize(vl));
			w = wstr_l(w, 0x0a, kv->str, kv->len, vl);
		} else {
			w = wtaglen(w, 0x12, 1 + vsize((uint64_t)kv->i));
			*w++ = 0x18;
			w = wvarint(w, (uint64_t)kv->i);
		}
	}
	return w;
}

/* Room for `need` bytes at offset `at` of the output. 0, -ENOSPC (fixed) or -ENOMEM. */
static int room(struct out *o, size_t at, size_t need)
{
	if (need <= o->cap - at)
		return 0;
	if (!o->grow)
		return -ENOSPC;
	o->grow->len = at;
	if (exp_buf_reserve(o->grow, need))
		return -ENOMEM;
	o->p = o->grow->p;
	o->cap = o->grow->cap;
	return 0;
}

#define PREFIX_VARINT 10 /* room left for each of the two outer lengths: any varint fits */

static const char scope_name[] = EXP_SCOPE_NAME, scope_version[] = WIRETRACE_VERSION;

/* Write the request into o: it starts at o->p + *start and is *len bytes long. */
static int encode(struct out *o, const struct exp_resource *res, const struct exp_span *spans,
                  size_t n, size_t *start, size_t *len)
{
	const size_t scope = ldsize(sizeof(scope_name) - 1) + ldsize(sizeof(scope_version) - 1);
	const size_t rsz = resource_size(res);
	const size_t pmax = 1 + PREFIX_VARINT + ldsize(rsz) + 1 + PREFIX_VARINT + ldsize(scope);
	size_t at = pmax, ss, rs, pre, i;
	struct sp c;
	uint8_t *w;
	int rc;

	if ((rc = room(o, 0, pmax)))
		return rc;
	for (i = 0; i < n; i++) { /* the spans, after room for the longest prefix */
		size_t need = 1 + 3 + SPAN_WORST, r = 2; /* 2 bytes: spans of 128 B to 16 KiB */
		uint8_t *m;

		sp_init(&c, &spans[i]);
		if (!o->grow) { /* a fixed buffer: exactly as much room as this span can need */
			need = sp_bound(&c);
			r = vsize(need);
			need += 1 + r;
		}
		if ((rc = room(o, at, need)))
			return rc;
		w = o->p + at;
		*w++ = 0x12; /* ScopeSpans.spans = 2 */
		m = w;
		w = wclose(m, r, wspan(w + r, &c));
		at = (size_t)(w - o->p);
	}
	ss = ldsize(scope) + (at - pmax);
	rs = ldsize(rsz) + ldsize(ss);
	pre = 1 + vsize(rs) + ldsize(rsz) + 1 + vsize(ss) + ldsize(scope);
	*start = pmax - pre; /* the prefix ends where the spans begin */
	w = wtaglen(o->p + *start, 0x0a, rs); /* resource_spans = 1 */
	w = wtaglen(w, 0x0a, rsz);            /* ResourceSpans.resource = 1 */
	w = wresource(w, res);
	w = wtaglen(w, 0x12, ss);    /* ResourceSpans.scope_spans = 2 */
	w = wtaglen(w, 0x0a, scope); /* ScopeSpans.scope = 1 */
	w = wstr_l(w, 0x0a, scope_name, sizeof(scope_name) - 1, sizeof(scope_name) - 1);
	w = wstr_l(w, 0x12, scope_version, sizeof(scope_version) - 1, sizeof(scope_version) - 1);
	*len = at - *start;
	return w == o->p + pmax && *len == ldsize(rs) ? 0 : -EPROTO;
}

int exp_pb_encode(struct exp_buf *b, const struct exp_resource *res, const struct exp_span *spans,
                  size_t n)
{
	struct out o;
	size_t start, len;
	int rc;

	exp_buf_clear(b);
	o = (struct out){b->p, b->cap, b};
	rc = encode(&o, res, spans, n, &start, &len);
	if (rc)
		return rc;
	b->len = start + len;
	exp_buf_skip(b, start);
	return 0;
}

int exp_pb_encode_fixed(uint8_t *out, size_t cap, const struct exp_resource *res,
                        const struct exp_span *spans, size_t n, size_t *len)
{
	struct out o = {out, cap, NULL};
	size_t start;
	int rc;

	*len = 0;
	rc = encode(&o, res, spans, n, &start, len);
	if (rc) {
		*len = 0;
		return rc;
	}
	memmove(out, out + start, *len);
	return 0;
}
