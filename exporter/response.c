/*
 * response.c - reading what the collector answers: partial success, error status, RetryInfo.
 *
 * The bodies and headers parsed here come from the network, so every reader is bounds-checked
 * and total: any input gives a result or -EBADMSG, never a read past `n`. They are small hand
 * decoders rather than protobuf-c because the messages are tiny and fixed
 * ([OTLP] collector/trace/v1/trace_service.proto, google/rpc/status.proto,
 * google/rpc/error_details.proto), and because the transport must not depend on generated code
 * the agent does not otherwise link.
 *
 *   ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
 *   ExportTracePartialSuccess  { int64 rejected_spans = 1; string error_message = 2; }
 *   google.rpc.Status          { int32 code = 1; string message = 2; repeated Any details = 3; }
 *   google.protobuf.Any        { string type_url = 1; bytes value = 2; }
 *   google.rpc.RetryInfo       { google.protobuf.Duration retry_delay = 1; }
 *   google.protobuf.Duration   { int64 seconds = 1; int32 nanos = 2; }
 *
 * Pure functions: no allocation except exp_grpc_retry_info's decode buffer; thread-safe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport.h"
#include "transport_curl.h"

/* --- protobuf wire format (protobuf.dev/programming-guides/encoding) --------------------- */

int exp_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (int shift = 0; shift < 70; shift += 7) {
		if (*p >= end)
			return -EBADMSG;
		uint8_t b = *(*p)++;
		if (shift == 63 && b > 1)
			return -EBADMSG; /* more than 64 bits */
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -EBADMSG;
}

int exp_pb_next(const uint8_t **p, const uint8_t *end, struct exp_pb_field *f)
{
	uint64_t key, len;

	if (exp_pb_varint(p, end, &key) < 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return -EBADMSG;
	f->num = (uint32_t)(key >> 3);
	f->wire = (int)(key & 7);
	f->data = NULL;
	f->len = 0;
	switch (f->wire) {
	case 0:
		return exp_pb_varint(p, end, &f->v);
	case 1:
	case 5:
		len = f->wire == 1 ? 8 : 4;
		if ((uint64_t)(end - *p) < len)
			return -EBADMSG;
		f->v = 0;
		for (uint64_t i = 0; i < len; i++)
			f->v |= (uint64_t)(*p)[i] << (8 * i);
		*p += len;
		return 0;
	case 2:
		if (exp_pb_varint(p, end, &len) < 0 || len > (uint64_t)(end - *p))
			return -EBADMSG;
		f->data = *p;
		f->len = (size_t)len;
		*p += len;
		return 0;
	default: /* groups (3, 4) are not used by any message we read */
		return -EBADMSG;
	}
}

int exp_pb_partial_success(const uint8_t *p, size_t n, int64_t *rejected, const char **msg,
                           size_t *msglen)
{
	const uint8_t *end = p + n;
	struct exp_pb_field f, g;

	*rejected = 0;
	*msg = NULL;
	*msglen = 0;
	while (p < end) {
		if (exp_pb_next(&p, end, &f) < 0)
			return -EBADMSG;
		if (f.num != 1 || f.wire != 2)
			continue;
		const uint8_t *q = f.data, *qend = f.data + f.len;
		while (q < qend) {
			if (exp_pb_next(&q, qend, &g) < 0)
				return -EBADMSG;
			if (g.num == 1 && g.wire == 0)
				*rejected = (int64_t)g.v;
			else if (g.num == 2 && g.wire == 2) {
				*msg = (const char *)g.data;
				*msglen = g.len;
			}
		}
	}
	return 0;
}

int exp_pb_status_message(const uint8_t *p, size_t n, const char **msg, size_t *msglen)
{
	const uint8_t *end = p + n;
	struct exp_pb_field f;

	*msg = NULL;
	*msglen = 0;
	while (p < end) {
		if (exp_pb_next(&p, end, &f) < 0)
			return -EBADMSG;
		if (f.num == 2 && f.wire == 2) {
			*msg = (const char *)f.data;
			*msglen = f.len;
		}
	}
	return 0;
}

/* --- gRPC status details ---------------------------------------------------------------- */

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Base64 with or without padding ([GRPC] PROTOCOL-HTTP2.md: "-bin" values; implementations
 * MUST accept padded and unpadded). Returns the decoded length or -EBADMSG. */
static long b64_decode(const char *in, size_t n, uint8_t *out)
{
	uint32_t acc = 0;
	int bits = 0;
	long o = 0;

	while (n && in[n - 1] == '=')
		n--;
	for (size_t i = 0; i < n; i++) {
		int v = b64val(in[i]);
		if (v < 0)
			return -EBADMSG;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

/* RetryInfo { Duration retry_delay = 1 } in ms, or -1 when the field is absent. */
static int64_t retry_info_ms(const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	struct exp_pb_field f, g;
	int64_t ms = -1;

	while (p < end) {
		if (exp_pb_next(&p, end, &f) < 0)
			return -EBADMSG;
		if (f.num != 1 || f.wire != 2)
			continue;
		int64_t secs = 0, nanos = 0;
		const uint8_t *q = f.data, *qend = f.data + f.len;
		while (q < qend) {
			if (exp_pb_next(&q, qend, &g) < 0)
				return -EBADMSG;
			if (g.num == 1 && g.wire == 0)
				secs = (int64_t)g.v;
			else if (g.num == 2 && g.wire == 0)
				nanos = (int32_t)g.v;
		}
		if (secs < 0 || nanos < 0)
			secs = nanos = 0;
		if (secs > 86400)
			secs = 86400;
		ms = secs * 1000 + nanos / 1000000;
	}
	return ms;
}

static int64_t status_retry_info(const uint8_t *p, size_t n)
{
	static const char suffix[] = "/google.rpc.RetryInfo";
	const size_t sl = sizeof(suffix) - 1;
	const uint8_t *end = p + n;
	struct exp_pb_field f, g;
	int64_t ms = -1;

	while (p < end) {
		if (exp_pb_next(&p, end, &f) < 0)
			return -EBADMSG;
		if (f.num != 3 || f.wire != 2)
			continue;
		const uint8_t *q = f.data, *qend = f.data + f.len, *val = NULL;
		size_t vlen = 0;
		int is_retry = 0;
		while (q < qend) {
			if (exp_pb_next(&q, qend, &g) < 0)
				return -EBADMSG;
			if (g.num == 1 && g.wire == 2)
				is_retry = g.len >= sl && !memcmp(g.data + g.len - sl, suffix, sl);
			else if (g.num == 2 && g.wire == 2)
				val = g.data, vlen = g.len;
		}
		if (is_retry && val) {
			int64_t r = retry_info_ms(val, vlen);
			if (r == -EBADMSG)
				return r;
			if (r >= 0)
				ms = r;
		}
	}
	return ms;
}

int64_t exp_grpc_retry_info(const char *b64, size_t n)
{
	uint8_t *buf;
	long len;
	int64_t ms;

	if (n > EXP_GRPC_DETAILS_MAX)
		return -EBADMSG;
	buf = malloc(n / 4 * 3 + 3);
	if (!buf)
		return -1;
	len = b64_decode(b64, n, buf);
	ms = len < 0 ? -EBADMSG : status_retry_info(buf, (size_t)len);
	free(buf);
	return ms;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t exp_grpc_message_decode(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		int hi, lo;
		if (in[i] == '%' && i + 2 < n && (hi = hexval(in[i + 1])) >= 0 &&
		    (lo = hexval(in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
	return o;
}

/* --- OTLP/JSON partial success ---------------------------------------------------------- */

static const char *ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* p at '"': returns the position after the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Skip one JSON value (lenient about scalars: anything up to a delimiter). NULL if cut short.
 * Nesting is followed by counting brackets, with strings skipped whole. */
static const char *skip_value(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		if (*p == '"') {
			p = skip_string(p, end);
			if (!p)
				return NULL;
			if (depth == 0)
				return p;
			continue;
		}
		if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (depth == 0)
				return p;
			if (--depth == 0)
				return p + 1;
		} else if (depth == 0 &&
		           (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
			return p;
		}
		p++;
	}
	return depth == 0 ? p : NULL;
}

/* p at '{': find member `key` (exact, unescaped spelling); returns its value's start or NULL. */
static const char *member(const char *p, const char *end, const char *key)
{
	size_t kl = strlen(key);

	p = ws(p + 1, end);
	while (p < end && *p == '"') {
		const char *k = p + 1, *kend = skip_string(p, end);
		if (!kend)
			return NULL;
		p = ws(kend, end);
		if (p >= end || *p != ':')
			return NULL;
		p = ws(p + 1, end);
		if ((size_t)(kend - 1 - k) == kl && memcmp(k, key, kl) == 0)
			return p;
		p = skip_value(p, end);
		if (!p)
			return NULL;
		p = ws(p, end);
		if (p < end && *p == ',')
			p = ws(p + 1, end);
	}
	return NULL;
}

static int json_int64(const char *p, const char *end, int64_t *out)
{
	int quoted = p < end && *p == '"';
	int64_t v = 0;
	const char *d;

	if (quoted)
		p++;
	for (d = p; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			return -EBADMSG;
		v = v * 10 + (*p - '0');
	}
	if (p == d || (quoted && (p >= end || *p != '"')))
		return -EBADMSG;
	*out = v;
	return 0;
}

int exp_json_partial_success(const char *p, size_t n, int64_t *rejected, const char **msg,
                             size_t *msglen)
{
	const char *end = p + n, *ps, *v;

	*rejected = 0;
	*msg = NULL;
	*msglen = 0;
	p = ws(p, end);
	if (p >= end)
		return 0; /* an empty body is a full success */
	if (*p != '{')
		return -EBADMSG;
	ps = member(p, end, "partialSuccess");
	if (!ps || *ps != '{')
		return 0;
	v = member(ps, end, "rejectedSpans");
	if (v && json_int64(v, end, rejected) < 0)
		return -EBADMSG;
	v = member(ps, end, "errorMessage");
	if (v && *v == '"') {
		const char *e = skip_string(v, end);
		if (e) {
			*msg = v + 1;
			*msglen = (size_t)(e - 1 - (v + 1));
		}
	}
	return 0;
}
