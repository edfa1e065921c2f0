/*
 * encode_json.c - OTLP/JSON encoder for ExportTraceServiceRequest (see encode_json.h).
 *
 * The mapping (OTLP specification, "JSON Protobuf Encoding", which is the proto3 JSON mapping
 * with OTLP's exceptions):
 *  - keys are the lowerCamelCase field names (traceId, startTimeUnixNano, droppedAttributesCount);
 *  - traceId, spanId and parentSpanId are lowercase hex strings, not base64;
 *  - enums (kind, status code) are integers;
 *  - 64-bit integers (intValue, the *TimeUnixNano fixed64 fields) are decimal strings, which
 *    proto3 JSON readers accept and which keeps them exact in JavaScript;
 *  - fields with default values are omitted, like in the protobuf encoding (encode_pb.c), except
 *    the ids; AnyValue members are always written since they carry the type.
 * Strings are escaped per RFC 8259: quote, backslash and the C0 controls; bytes that do not
 * form well-formed UTF-8 become U+FFFD, so the output is valid JSON whatever the span holds.
 *
 * Output goes through a small writer with a sticky error: each piece reserves what it needs
 * (a string at most 6 bytes per input byte: \u00XX), and after an allocation failure every
 * later write is a no-op and the encoder returns -ENOMEM.
 *
 * Thread safety: reentrant; the output buffer belongs to the caller. exp_json_double uses
 * snprintf/strtod in the calling thread's locale and normalises the decimal point.
 */
#include "encode_json.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode_pb.h"

struct jw {
	struct exp_buf *b;
	int err;
};

static bool room(struct jw *j, size_t n)
{
	if (j->err)
		return false;
	if (exp_buf_reserve(j->b, n)) {
		j->err = -ENOMEM;
		return false;
	}
	return true;
}

static void put(struct jw *j, const char *p, size_t n)
{
	if (!room(j, n))
		return;
	memcpy(j->b->p + j->b->len, p, n);
	j->b->len += n;
}

/* Only for string literals (sizeof); use put_cstr for a computed string. */
#define PUTS(j, lit) put((j), "" lit, sizeof(lit) - 1)

static void put_cstr(struct jw *j, const char *s)
{
	put(j, s, strlen(s));
}

static void put_u64(struct jw *j, uint64_t v)
{
	char tmp[20];
	int i = 20;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(j, tmp + i, (size_t)(20 - i));
}

static void put_i64(struct jw *j, int64_t v)
{
	if (v < 0) {
		PUTS(j, "-");
		put_u64(j, 0 - (uint64_t)v);
	} else {
		put_u64(j, (uint64_t)v);
	}
}

/* The escape for an ASCII byte that JSON does not allow raw (RFC 8259 section 7): the short
 * forms where they exist, \u00XX for the other C0 controls. Returns the end of what it wrote. */
static uint8_t *escape(uint8_t *w, uint8_t c)
{
	static const char hex[] = "0123456789abcdef";
	static const char from[] = "\"\\\n\r\t\b\f", to[] = "\"\\nrtbf";
	const char *k = c ? memchr(from, c, sizeof(from) - 1) : NULL;

	*w++ = '\\';
	if (k) {
		*w++ = (uint8_t)to[k - from];
		return w;
	}
	memcpy(w, "u00", 3);
	w[3] = (uint8_t)hex[c >> 4];
	w[4] = (uint8_t)hex[c & 15];
	return w + 5;
}

/* A quoted, escaped JSON string; invalid UTF-8 becomes U+FFFD. */
static void put_str(struct jw *j, const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	uint8_t *w;
	size_t i = 0, k;

	if (!room(j, 6 * n + 2))
		return;
	w = j->b->p + j->b->len;
	*w++ = '"';
	while (i < n) {
		uint8_t c = p[i];

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*w++ = c;
			i++;
		} else if (c < 0x80) {
			w = escape(w, c);
			i++;
		} else if ((k = exp_utf8_seq_len(p + i, n - i))) {
			memcpy(w, p + i, k);
			w += k;
			i += k;
		} else {
			memcpy(w, "\xef\xbf\xbd", 3); /* U+FFFD */
			w += 3;
			i++;
		}
	}
	*w++ = '"';
	j->b->len = (size_t)(w - j->b->p);
}

static void put_hex(struct jw *j, const uint8_t *id, size_t n)
{
	char tmp[34];

	tmp[0] = '"';
	exp_hex(tmp + 1, id, n);
	tmp[2 * n + 1] = '"';
	put(j, tmp, 2 * n + 2);
}

/* Normalise snprintf's output: any byte that is not part of the number syntax is the
 * locale's decimal point (possibly several bytes) and becomes one '.'. */
static size_t normalise(char *out, const char *in)
{
	size_t o = 0;
	bool in_sep = false;

	for (; *in; in++) {
		char c = *in;

		if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E') {
			out[o++] = c;
			in_sep = false;
		} else if (!in_sep) {
			out[o++] = '.';
			in_sep = true;
		}
	}
	out[o] = '\0';
	return o;
}

size_t exp_json_double(char *out, double d)
{
	char tmp[40];
	int prec;

	if (isnan(d)) {
		strcpy(out, "\"NaN\"");
		return 5;
	}
	if (isinf(d)) {
		strcpy(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return d > 0 ? 10 : 11;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(tmp, sizeof(tmp), "%.17g", d);
	return normalise(out, tmp);
}

struct sp {
	const struct exp_span *s;
	size_t used;
};

static inline size_t sv(const struct sp *c, struct exp_str str, const char **p)
{
	return exp_str_get(c->s, str, c->used, p);
}

static void put_sv(struct jw *j, const struct sp *c, struct exp_str str)
{
	const char *p;
	size_t n = sv(c, str, &p);

	put_str(j, p, n);
}

static void put_array(struct jw *j, const struct sp *c, const struct exp_attr *a)
{
	const char *p, *end, *z;
	size_t n = sv(c, a->v.s, &p), k;

	PUTS(j, "{\"arrayValue\":{\"values\":[");
	for (end = p + n, k = 0; k < a->count && p < end; k++) {
		z = memchr(p, 0, (size_t)(end - p));
		if (k)
			PUTS(j, ",");
		PUTS(j, "{\"stringValue\":");
		put_str(j, p, (size_t)((z ? z : end) - p));
		PUTS(j, "}");
		p = z ? z + 1 : end;
	}
	PUTS(j, "]}}");
}

static void put_any(struct jw *j, const struct sp *c, const struct exp_attr *a)
{
	char num[40];
	uint8_t b;

	switch (a->type) {
	case EXP_ATTR_STRING:
		PUTS(j, "{\"stringValue\":");
		put_sv(j, c, a->v.s);
		PUTS(j, "}");
		return;
	case EXP_ATTR_BOOL:
		memcpy(&b, &a->v.b, 1);
		if (b)
			PUTS(j, "{\"boolValue\":true}");
		else
			PUTS(j, "{\"boolValue\":false}");
		return;
	case EXP_ATTR_INT:
		PUTS(j, "{\"intValue\":\"");
		put_i64(j, a->v.i);
		PUTS(j, "\"}");
		return;
	case EXP_ATTR_DOUBLE:
		PUTS(j, "{\"doubleValue\":");
		put(j, num, exp_json_double(num, a->v.d));
		PUTS(j, "}");
		return;
	case EXP_ATTR_STRING_ARRAY:
		put_array(j, c, a);
		return;
	}
	PUTS(j, "{}");
}

/* "attributes":[...] of owner (0 = span, k = event k-1); nothing if there are none. */
static void put_attrs(struct jw *j, const struct sp *c, unsigned owner)
{
	unsigned i, nattrs = c->s->nattrs < EXP_SPAN_MAX_ATTRS ? c->s->nattrs : EXP_SPAN_MAX_ATTRS;
	bool first = true;

	for (i = 0; i < nattrs; i++) {
		const struct exp_attr *a = &c->s->attrs[i];

		if (a->event != owner)
			continue;
		put_cstr(j, first ? ",\"attributes\":[{\"key\":" : ",{\"key\":");
		first = false;
		put_sv(j, c, a->key);
		PUTS(j, ",\"value\":");
		put_any(j, c, a);
		PUTS(j, "}");
	}
	if (!first)
		PUTS(j, "]");
}

static void put_event(struct jw *j, const struct sp *c, unsigned k)
{
	const struct exp_event *e = &c->s->events[k];

	PUTS(j, "{\"timeUnixNano\":\"");
	put_u64(j, e->time_ns);
	PUTS(j, "\",\"name\":");
	put_sv(j, c, e->name);
	put_attrs(j, c, k + 1);
	if (e->dropped_attrs) {
		PUTS(j, ",\"droppedAttributesCount\":");
		put_u64(j, e->dropped_attrs);
	}
	PUTS(j, "}");
}

static bool is_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void put_span_head(struct jw *j, const struct sp *c)
{
	const struct exp_span *s = c->s;

	PUTS(j, "{\"traceId\":");
	put_hex(j, s->trace_id, 16);
	PUTS(j, ",\"spanId\":");
	put_hex(j, s->span_id, 8);
	if (s->tracestate.len) {
		PUTS(j, ",\"traceState\":");
		put_sv(j, c, s->tracestate);
	}
	if (!is_zero(s->parent_span_id, 8)) {
		PUTS(j, ",\"parentSpanId\":");
		put_hex(j, s->parent_span_id, 8);
	}
	PUTS(j, ",\"name\":");
	put_sv(j, c, s->name);
	if (s->kind) {
		PUTS(j, ",\"kind\":");
		put_u64(j, s->kind);
	}
	PUTS(j, ",\"startTimeUnixNano\":\"");
	put_u64(j, s->start_ns);
	PUTS(j, "\",\"endTimeUnixNano\":\"");
	put_u64(j, s->end_ns);
	PUTS(j, "\"");
}

static void put_span(struct jw *j, const struct exp_span *s)
{
	struct sp c = {s, exp_str_used(s)};
	unsigned k, nevents = s->nevents < EXP_SPAN_MAX_EVENTS ? s->nevents : EXP_SPAN_MAX_EVENTS;

	put_span_head(j, &c);
	put_attrs(j, &c, 0);
	if (s->dropped_attrs) {
		PUTS(j, ",\"droppedAttributesCount\":");
		put_u64(j, s->dropped_attrs);
	}
	for (k = 0; k < nevents; k++) {
		put_cstr(j, k ? "," : ",\"events\":[");
		put_event(j, &c, k);
	}
	if (nevents)
		PUTS(j, "]");
	if (s->dropped_events) {
		PUTS(j, ",\"droppedEventsCount\":");
		put_u64(j, s->dropped_events);
	}
	if (s->status_code || s->status_message.len) {
		PUTS(j, ",\"status\":{");
		if (s->status_message.len) {
			PUTS(j, "\"message\":");
			put_sv(j, &c, s->status_message);
			if (s->status_code)
				PUTS(j, ",");
		}
		if (s->status_code) {
			PUTS(j, "\"code\":");
			put_u64(j, s->status_code);
		}
		PUTS(j, "}");
	}
	if (s->flags) {
		PUTS(j, ",\"flags\":");
		put_u64(j, s->flags);
	}
	PUTS(j, "}");
}

static void put_resource(struct jw *j, const struct exp_resource *r)
{
	int i;

	PUTS(j, "{\"attributes\":[");
	for (i = 0; r && i < r->n; i++) {
		const struct exp_res_kv *kv = &r->kv[i];

		put_cstr(j, i ? ",{\"key\":" : "{\"key\":");
		put_str(j, kv->key, strlen(kv->key));
		if (kv->str) {
			PUTS(j, ",\"value\":{\"stringValue\":");
			put_str(j, kv->str, kv->len);
			PUTS(j, "}}");
		} else {
			PUTS(j, ",\"value\":{\"intValue\":\"");
			put_i64(j, kv->i);
			PUTS(j, "\"}}");
		}
	}
	PUTS(j, "]}");
}

int exp_json_encode(struct exp_buf *b, const struct exp_resource *res, const struct exp_span *spans,
                    size_t n)
{
	struct jw j = {b, 0};
	size_t i;

	exp_buf_clear(b);
	PUTS(&j, "{\"resourceSpans\":[{\"resource\":");
	put_resource(&j, res);
	PUTS(&j, ",\"scopeSpans\":[{\"scope\":{\"name\":\"" EXP_SCOPE_NAME "\",\"version\":");
	put_str(&j, WIRETRACE_VERSION, sizeof(WIRETRACE_VERSION) - 1);
	PUTS(&j, "},\"spans\":[");
	for (i = 0; i < n; i++) {
		if (i)
			PUTS(&j, ",");
		put_span(&j, &spans[i]);
	}
	PUTS(&j, "]}]}]}");
	if (room(&j, 1))
		b->p[b->len] = '\0'; /* not counted: lets callers treat the text as a C string */
	return j.err;
}
