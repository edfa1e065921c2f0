/*
 * fuzz_exporter_encode.c - libFuzzer target for the span builders and both OTLP encoders.
 *
 * The input drives two kinds of span: one built through the builders (names, attribute keys
 * and values of every type, events, status, limits) from slices of the input, so that any byte
 * sequence reaches the strings; and one whose record is the raw input bytes themselves
 * (offsets, counts and types out of range). For each batch:
 *  - the protobuf encoding must decode with protobuf-c, and for built spans without NUL
 *    bytes re-packing the decoded message must give back exactly the same bytes;
 *  - the JSON encoding must be well-formed UTF-8 without raw control characters, and its
 *    brackets and quotes must balance.
 * Any violation aborts (that is how libFuzzer reports it).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "encode_json.h"
#include "encode_pb.h"
#include "exp_span.h"

#define REQ Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
#define unpack_req opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack
#define free_req                                                                                   \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked
#define pack_req opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t byte(struct in *in)
{
	uint8_t b = 0;

	if (in->n) {
		b = *in->p++;
		in->n--;
	}
	return b;
}

static const char *slice(struct in *in, size_t *len)
{
	const char *s = (const char *)in->p;

	*len = byte(in) % 64;
	if (*len > in->n)
		*len = in->n;
	in->p += *len;
	in->n -= *len;
	return s;
}

static void build(struct exp_span *s, struct in *in)
{
	struct exp_limits lim = {byte(in) % 40, (int)(byte(in) % 50) - 1, byte(in) % 6,
	                         byte(in) % 4};
	char key[65];
	const char *v, *vals[4];
	size_t len, lens[4];
	int ev = -1, k;

	exp_limits_set(&lim);
	exp_span_init(s);
	memcpy(s->trace_id, in->p, in->n < 16 ? in->n : 16);
	s->span_id[0] = byte(in) | 1;
	s->kind = byte(in) % 4;
	s->flags = byte(in) | ((uint32_t)byte(in) << 8);
	s->start_ns = (uint64_t)byte(in) << 40;
	s->end_ns = s->start_ns + byte(in);
	v = slice(in, &len);
	exp_span_set_name(s, v, len);
	while (in->n) {
		v = slice(in, &len);
		memcpy(key, v, len);
		key[len] = '\0';
		if (!key[0])
			key[0] = 'k', key[1] = '\0';
		switch (byte(in) % 8) {
		case 0:
			v = slice(in, &len);
			exp_span_add_str(s, key, v, len);
			break;
		case 1:
			exp_span_add_int(s, key, (int64_t)((uint64_t)byte(in) << 56) - byte(in));
			break;
		case 2:
			exp_span_add_double(s, key, (double)byte(in) / 3.0);
			break;
		case 3:
			exp_span_add_bool(s, key, byte(in) & 1);
			break;
		case 4:
			for (k = 0; k < 4; k++)
				vals[k] = slice(in, &lens[k]);
			exp_span_add_str_array(s, key, vals, lens, byte(in) % 5);
			break;
		case 5:
			ev = exp_span_add_event(s, byte(in), key);
			break;
		case 6:
			v = slice(in, &len);
			exp_span_add_event_str(s, ev, key, v, len);
			break;
		case 7:
			v = slice(in, &len);
			exp_span_set_status(s, byte(in) % 3, v, len);
			break;
		}
	}
}

static void check_json(const struct exp_buf *b)
{
	int depth = 0, in_str = 0;
	size_t i;

	if (!exp_utf8_valid((const char *)b->p, b->len))
		abort();
	for (i = 0; i < b->len; i++) {
		uint8_t c = b->p[i];

		if (c < 0x20)
			abort();
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth < 0)
				abort();
		}
	}
	if (depth || in_str)
		abort();
}

static void check_pb(const struct exp_buf *b, int exact)
{
	REQ *r = unpack_req(NULL, b->len, b->p);
	uint8_t *p;

	if (!r)
		abort();
	if (exact) {
		p = malloc(b->len + 1);
		if (!p || pack_req(r, p) != b->len || memcmp(p, b->p, b->len))
			abort();
		free(p);
	}
	free_req(r, NULL);
}

/* The fixed-buffer mode writes the same bytes into a buffer exactly as large as its cap (so
 * that the sanitizer sees a write past it), or refuses with -ENOSPC and no length; a cap cut
 * by the input's size tries the refusals. */
static void check_fixed(const struct exp_buf *pb, const struct exp_span *spans, size_t cut)
{
	size_t short_by = cut % 257 < pb->len ? cut % 257 : pb->len, len = 1;
	size_t cap = cut % 3 ? pb->len + cut % 4096 : pb->len - short_by;
	uint8_t *out = malloc(cap ? cap : 1);
	int rc;

	if (!out)
		abort();
	rc = exp_pb_encode_fixed(out, cap, NULL, spans, 2, &len);
	if (rc == 0 ? len != pb->len || memcmp(out, pb->p, len) : rc != -ENOSPC || len != 0)
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct exp_buf pb, js;
	static struct exp_span spans[2];
	struct in in = {data, size};

	build(&spans[0], &in);
	/* protobuf-c's strings end at a NUL, so re-packing is exact only without NUL bytes (string
	 * arrays keep their elements NUL-separated in buf). */
	if (exp_pb_encode(&pb, NULL, spans, 1) == 0)
		check_pb(&pb, !memchr(spans[0].buf, 0, spans[0].buf_used));
	memset(&spans[1], 0, sizeof(spans[1]));
	memcpy(&spans[1], data, size < sizeof(spans[1]) ? size : sizeof(spans[1]));
	if (exp_pb_encode(&pb, NULL, spans, 2) == 0) {
		check_pb(&pb, 0);
		check_fixed(&pb, spans, size);
	}
	if (exp_json_encode(&js, NULL, spans, 2) == 0)
		check_json(&js);
	return 0;
}
