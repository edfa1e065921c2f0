/*
 * test_exporter_encode_pb.c - the direct protobuf encoder, checked with a decoder we did not
 * write: the code protoc-c generates from proto/. Every field is compared after decoding:
 * a realistic SERVER span (12 semconv attributes, an event, remote parent flags), arrays,
 * negative integers, doubles, empty strings, a root span, many spans, invalid UTF-8,
 * proto3 defaults, and malformed records. Re-packing the decoded message with protobuf-c must
 * also give back exactly our bytes (same field order, same omissions).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "encode_pb.h"
#include "exporter.h"
#include "resource.h"

#define REQ Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
#define SPAN Opentelemetry__Proto__Trace__V1__Span
#define KV Opentelemetry__Proto__Common__V1__KeyValue
#define ANY Opentelemetry__Proto__Common__V1__AnyValue
#define unpack_req opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack
#define free_req                                                                                   \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked
#define pack_req opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack
#define size_req                                                                                   \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size
#define CASE(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

static const struct exp_limits defaults = {128, -1, 128, 128};

static void server_span(struct exp_span *s, unsigned i)
{
	static const uint8_t tid[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
	                                0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
	static const uint8_t pid[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
	int e;

	exp_span_init(s);
	memcpy(s->trace_id, tid, 16);
	memcpy(s->span_id, &i, sizeof(i));
	s->span_id[7] = 0x5a;
	memcpy(s->parent_span_id, pid, 8);
	s->kind = EXP_KIND_SERVER;
	s->flags = 0x01 | EXP_FLAGS_HAS_IS_REMOTE | EXP_FLAGS_IS_REMOTE;
	s->start_ns = 1700000000123456789ull + i;
	s->end_ns = s->start_ns + 1234567;
	exp_span_set_name(s, "GET", 3);
	exp_span_set_tracestate(s, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", 39);
	exp_span_add_str(s, "http.request.method", "GET", 3);
	exp_span_add_str(s, "url.path", "/api/orders/42", 14);
	exp_span_add_str(s, "url.scheme", "http", 4);
	exp_span_add_str(s, "url.query", "page=2&sort=desc", 16);
	exp_span_add_int(s, "http.response.status_code", 200);
	exp_span_add_str(s, "server.address", "shop.example.com", 16);
	exp_span_add_int(s, "server.port", 8080);
	exp_span_add_str(s, "client.address", "10.1.2.3", 8);
	exp_span_add_str(s, "network.peer.address", "10.1.2.3", 8);
	exp_span_add_int(s, "network.peer.port", 51234);
	exp_span_add_str(s, "network.protocol.version", "1.1", 3);
	exp_span_add_str(s, "user_agent.original", "curl/7.88.1", 11);
	e = exp_span_add_event(s, s->start_ns + 1000, "exception");
	exp_span_add_event_str(s, e, "exception.type", "ECONNRESET", 10);
	exp_span_add_event_int(s, e, "exception.count", 1);
}

static REQ *encode_decode(struct exp_buf *b, const struct exp_resource *res,
                          const struct exp_span *spans, size_t n)
{
	REQ *r;

	assert_int_equal(exp_pb_encode(b, res, spans, n), 0);
	r = unpack_req(NULL, b->len, b->p);
	assert_non_null(r);
	assert_int_equal(r->n_resource_spans, 1);
	assert_int_equal(r->resource_spans[0]->n_scope_spans, 1);
	assert_string_equal(r->resource_spans[0]->scope_spans[0]->scope->name, "wiretrace");
	assert_string_equal(r->resource_spans[0]->scope_spans[0]->scope->version,
	                    WIRETRACE_VERSION);
	assert_int_equal(r->resource_spans[0]->scope_spans[0]->n_spans, n);
	return r;
}

static SPAN *span_at(REQ *r, size_t i)
{
	return r->resource_spans[0]->scope_spans[0]->spans[i];
}

static void check_str(const struct exp_span *s, struct exp_str str, const char *got)
{
	assert_int_equal(strlen(got), str.len);
	assert_memory_equal(got, exp_str_ptr(s, str), str.len);
}

/* Compare one decoded AnyValue with the record's attribute. */
static void check_value(const struct exp_span *s, const struct exp_attr *a, const ANY *v)
{
	const char *p;
	size_t k;

	switch (a->type) {
	case EXP_ATTR_STRING:
		assert_int_equal(v->value_case, CASE(STRING_VALUE));
		check_str(s, a->v.s, v->string_value);
		break;
	case EXP_ATTR_INT:
		assert_int_equal(v->value_case, CASE(INT_VALUE));
		assert_true(v->int_value == a->v.i);
		break;
	case EXP_ATTR_BOOL:
		assert_int_equal(v->value_case, CASE(BOOL_VALUE));
		assert_int_equal(!!v->bool_value, a->v.b);
		break;
	case EXP_ATTR_DOUBLE:
		assert_int_equal(v->value_case, CASE(DOUBLE_VALUE));
		assert_memory_equal(&v->double_value, &a->v.d, 8);
		break;
	case EXP_ATTR_STRING_ARRAY:
		assert_int_equal(v->value_case, CASE(ARRAY_VALUE));
		assert_int_equal(v->array_value->n_values, a->count);
		p = exp_str_ptr(s, a->v.s);
		for (k = 0; k < a->count; k++) {
			assert_int_equal(v->array_value->values[k]->value_case, CASE(STRING_VALUE));
			assert_string_equal(v->array_value->values[k]->string_value, p);
			p += strlen(p) + 1;
		}
		break;
	default:
		fail();
	}
}

/* Compare a decoded span with its record, field by field. */
static void check_span(const struct exp_span *s, const SPAN *d)
{
	size_t i, na = 0, k;

	assert_int_equal(d->trace_id.len, 16);
	assert_memory_equal(d->trace_id.data, s->trace_id, 16);
	assert_int_equal(d->span_id.len, 8);
	assert_memory_equal(d->span_id.data, s->span_id, 8);
	if (memcmp(s->parent_span_id, "\0\0\0\0\0\0\0\0", 8) == 0) {
		assert_int_equal(d->parent_span_id.len, 0);
	} else {
		assert_int_equal(d->parent_span_id.len, 8);
		assert_memory_equal(d->parent_span_id.data, s->parent_span_id, 8);
	}
	check_str(s, s->tracestate, d->trace_state);
	check_str(s, s->name, d->name);
	assert_int_equal(d->kind, s->kind);
	assert_true(d->start_time_unix_nano == s->start_ns);
	assert_true(d->end_time_unix_nano == s->end_ns);
	assert_int_equal(d->flags, s->flags);
	assert_int_equal(d->dropped_attributes_count, s->dropped_attrs);
	assert_int_equal(d->dropped_events_count, s->dropped_events);
	for (i = 0; i < s->nattrs; i++) {
		if (s->attrs[i].event)
			continue;
		check_str(s, s->attrs[i].key, d->attributes[na]->key);
		check_value(s, &s->attrs[i], d->attributes[na]->value);
		na++;
	}
	assert_int_equal(d->n_attributes, na);
	assert_int_equal(d->n_events, s->nevents);
	for (k = 0; k < s->nevents; k++) {
		const Opentelemetry__Proto__Trace__V1__Span__Event *e = d->events[k];

		assert_true(e->time_unix_nano == s->events[k].time_ns);
		check_str(s, s->events[k].name, e->name);
		assert_int_equal(e->dropped_attributes_count, s->events[k].dropped_attrs);
		for (na = 0, i = 0; i < s->nattrs; i++) {
			if (s->attrs[i].event != k + 1)
				continue;
			check_str(s, s->attrs[i].key, e->attributes[na]->key);
			check_value(s, &s->attrs[i], e->attributes[na]->value);
			na++;
		}
		assert_int_equal(e->n_attributes, na);
	}
	if (s->status_code == 0 && s->status_message.len == 0) {
		assert_null(d->status); /* proto3: an all-default message is not written */
	} else {
		assert_non_null(d->status);
		assert_int_equal(d->status->code, s->status_code);
		check_str(s, s->status_message, d->status->message);
	}
}

/* Our bytes are exactly what protobuf-c would write for the same message. */
static void check_repack(const struct exp_buf *b, const REQ *r)
{
	size_t n = size_req(r);
	uint8_t *p = malloc(n);

	assert_non_null(p);
	assert_int_equal(n, b->len);
	assert_int_equal(pack_req(r, p), n);
	assert_memory_equal(p, b->p, n);
	free(p);
}

static void test_realistic_server_span(void **state)
{
	struct exp_resource_attr extra[] = {{"deployment.environment.name", "prod"},
	                                    {"host.name", "override-host"}};
	struct exp_config c;
	struct exp_resource res;
	struct exp_buf b = {0};
	struct exp_span s;
	const Opentelemetry__Proto__Resource__V1__Resource *rr;
	REQ *r;
	size_t i;
	int found = 0;

	(void)state;
	exp_config_defaults(&c);
	c.service_name = "checkout";
	c.resource = extra;
	c.nresource = 2;
	assert_int_equal(exp_resource_build(&res, &c), 0);
	server_span(&s, 1);
	assert_int_equal(s.nattrs, 14);
	r = encode_decode(&b, &res, &s, 1);
	check_span(&s, span_at(r, 0));
	assert_int_equal(span_at(r, 0)->n_attributes, 12);
	assert_null(span_at(r, 0)->status);
	rr = r->resource_spans[0]->resource;
	assert_int_equal(rr->n_attributes, res.n);
	for (i = 0; i < rr->n_attributes; i++) {
		const struct exp_res_kv *kv = &res.kv[i];

		assert_string_equal(rr->attributes[i]->key, kv->key);
		if (kv->str) {
			assert_string_equal(rr->attributes[i]->value->string_value, kv->str);
		} else {
			assert_int_equal(rr->attributes[i]->value->value_case, CASE(INT_VALUE));
			assert_true(rr->attributes[i]->value->int_value == kv->i);
		}
		if (strcmp(kv->key, "service.name") == 0)
			found += strcmp(kv->str, "checkout") == 0;
		if (strcmp(kv->key, "host.name") == 0)
			found += strcmp(kv->str, "override-host") == 0;
	}
	assert_int_equal(found, 2);
	check_repack(&b, r);
	free_req(r, NULL);
	exp_resource_free(&res);
	exp_buf_free(&b);
}

static void test_value_types(void **state)
{
	const char *arr[] = {"a", "", "\xc3\xa9t\xc3\xa9"};
	const size_t lens[] = {1, 0, 5};
	struct exp_buf b = {0};
	struct exp_span s;
	REQ *r;

	(void)state;
	exp_span_init(&s);
	s.trace_id[15] = 1;
	s.span_id[0] = 2;
	s.kind = EXP_KIND_CLIENT;
	s.start_ns = 1;
	s.end_ns = UINT64_MAX;
	exp_span_set_name(&s, "", 0);
	exp_span_add_int(&s, "neg", -1);
	exp_span_add_int(&s, "min", INT64_MIN);
	exp_span_add_int(&s, "max", INT64_MAX);
	exp_span_add_int(&s, "zero", 0);
	exp_span_add_double(&s, "pi", 3.141592653589793);
	exp_span_add_double(&s, "negzero", -0.0);
	exp_span_add_double(&s, "nan", NAN);
	exp_span_add_double(&s, "inf", -INFINITY);
	exp_span_add_bool(&s, "f", false);
	exp_span_add_bool(&s, "t", true);
	exp_span_add_str(&s, "empty", "", 0);
	exp_span_add_str_array(&s, "arr", arr, lens, 3);
	exp_span_add_str_array(&s, "none", arr, lens, 0);
	exp_span_set_status(&s, EXP_STATUS_ERROR, "", 0);
	s.dropped_attrs = 300;
	s.dropped_events = 5;
	r = encode_decode(&b, NULL, &s, 1);
	check_span(&s, span_at(r, 0));
	assert_int_equal(span_at(r, 0)->parent_span_id.len, 0); /* root span */
	assert_int_equal(r->resource_spans[0]->resource->n_attributes, 0);
	check_repack(&b, r);
	free_req(r, NULL);
	exp_buf_free(&b);
}

/* Well-known keys are referenced, values may be referenced in the span's own buffer (the
 * deferred head a finisher works on): the wire is the same as with copied strings. */
static void test_keyed_and_referenced(void **state)
{
	static const char head[] = "GET /caf\xc3\xa9?q=1 HTTP/1.1";
	struct exp_buf b = {0}, b2 = {0};
	struct exp_span s, c;
	uint16_t off;
	REQ *r, *r2;

	(void)state;
	exp_span_init(&s);
	s.trace_id[0] = 1;
	s.span_id[0] = 2;
	s.kind = EXP_KIND_SERVER;
	off = s.buf_used;
	memcpy(s.buf + off, head, sizeof(head) - 1);
	s.buf_used = (uint16_t)(off + sizeof(head) - 1);
	assert_int_equal(exp_span_add_ref_k(&s, EXP_K_HTTP_REQUEST_METHOD, off, 3), 0);
	assert_int_equal(exp_span_add_ref_k(&s, EXP_K_URL_PATH, off + 4, 6), 0);
	assert_int_equal(exp_span_add_str_k(&s, EXP_K_URL_SCHEME, "http", 4), 0);
	assert_int_equal(exp_span_add_int_k(&s, EXP_K_HTTP_RESPONSE_STATUS_CODE, 200), 0);
	assert_int_equal(exp_span_add_str(&s, "custom.key", "v", 1), 0);
	r = encode_decode(&b, NULL, &s, 1);
	check_span(&s, span_at(r, 0));
	assert_string_equal(span_at(r, 0)->attributes[0]->key, "http.request.method");
	assert_string_equal(span_at(r, 0)->attributes[0]->value->string_value, "GET");
	assert_string_equal(span_at(r, 0)->attributes[1]->key, "url.path");
	assert_string_equal(span_at(r, 0)->attributes[1]->value->string_value, "/caf\xc3\xa9");
	assert_string_equal(span_at(r, 0)->attributes[3]->key, "http.response.status_code");
	check_repack(&b, r);

	/* The same span built with copied keys and values encodes to the same bytes. */
	exp_span_init(&c);
	c.trace_id[0] = 1;
	c.span_id[0] = 2;
	c.kind = EXP_KIND_SERVER;
	memcpy(c.buf, head, sizeof(head) - 1);
	c.buf_used = (uint16_t)(sizeof(head) - 1);
	exp_span_add_str(&c, "http.request.method", "GET", 3);
	exp_span_add_str(&c, "url.path", "/caf\xc3\xa9", 6);
	exp_span_add_str(&c, "url.scheme", "http", 4);
	exp_span_add_int(&c, "http.response.status_code", 200);
	exp_span_add_str(&c, "custom.key", "v", 1);
	r2 = encode_decode(&b2, NULL, &c, 1);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.p, b2.p, b.len);
	free_req(r, NULL);
	free_req(r2, NULL);
	exp_buf_free(&b);
	exp_buf_free(&b2);
}

static void test_defaults_omitted(void **state)
{
	struct exp_buf b = {0};
	struct exp_span s;
	REQ *r;

	(void)state;
	exp_span_init(&s); /* all zero: only the two ids are written */
	r = encode_decode(&b, NULL, &s, 1);
	check_span(&s, span_at(r, 0));
	assert_int_equal(opentelemetry__proto__trace__v1__span__get_packed_size(span_at(r, 0)),
	                 18 + 10);
	check_repack(&b, r);
	free_req(r, NULL);
	exp_buf_free(&b);
}

static void test_many_spans(void **state)
{
	enum { N = 700 };
	struct exp_span *spans = malloc(N * sizeof(*spans));
	struct exp_buf b = {0};
	REQ *r;
	size_t i;

	(void)state;
	assert_non_null(spans);
	for (i = 0; i < N; i++) {
		server_span(&spans[i], (unsigned)i);
		if (i % 3 == 0)
			memset(spans[i].parent_span_id, 0, 8);
		if (i % 5 == 0)
			exp_span_set_status(&spans[i], EXP_STATUS_ERROR, "upstream failed", 15);
	}
	r = encode_decode(&b, NULL, spans, N);
	for (i = 0; i < N; i++)
		check_span(&spans[i], span_at(r, i));
	check_repack(&b, r);
	free_req(r, NULL);
	/* The buffer is reused: a smaller batch afterwards is encoded from scratch. */
	r = encode_decode(&b, NULL, spans + 5, 2);
	check_span(&spans[5], span_at(r, 0));
	check_span(&spans[6], span_at(r, 1));
	free_req(r, NULL);
	exp_buf_free(&b);
	free(spans);
}

/* Every span's length is written into room for an upper bound of it (sp_bound) and moved
 * down when it takes fewer bytes: spans and events around the 1-, 2- and 3-byte lengths, ASCII
 * and not, alone and in batches, come out exactly as protobuf-c writes them. */
static void test_length_boundaries(void **state)
{
	static char text[EXP_SPAN_BUF];
	static uint8_t out[8192];
	struct exp_buf b = {0};
	static struct exp_span s[3];
	size_t n, i, k, len;
	REQ *r;

	(void)state;
	for (i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + i % 26);
	for (n = 0; n < 400; n += (n < 150 ? 1 : 7)) {
		for (k = 0; k < 3; k++) {
			exp_span_init(&s[k]);
			s[k].trace_id[0] = s[k].span_id[0] = 1;
			exp_span_set_name(&s[k], text, n);
			if (k == 1) /* not ASCII: the bound counts 3 bytes per byte */
				exp_span_add_str(&s[k], "k", "\xc3\xa9", 2);
			if (k == 2)
				exp_span_add_event_str(&s[k], exp_span_add_event(&s[k], 1, "e"), "k",
				                       text, n);
		}
		for (k = 1; k <= 3; k++) {
			r = encode_decode(&b, NULL, s, k);
			check_span(&s[k - 1], span_at(r, k - 1));
			check_repack(&b, r);
			free_req(r, NULL);
			/* the fixed-buffer mode sizes the gap from the span's bound: same bytes */
			assert_int_equal(exp_pb_encode_fixed(out, sizeof(out), NULL, s, k, &len), 0);
			assert_int_equal(len, b.len);
			assert_memory_equal(out, b.p, len);
		}
	}
	/* 32 attributes referring to one 2,000-byte value: a span over 2^14 bytes. */
	exp_span_init(&s[0]);
	s[0].trace_id[0] = s[0].span_id[0] = 1;
	memcpy(s[0].buf, text, 2000);
	s[0].buf_used = 2000;
	for (i = 0; i < EXP_SPAN_MAX_ATTRS; i++)
		assert_int_equal(exp_span_add_ref_k(&s[0], EXP_K_URL_PATH, 0, 2000), 0);
	r = encode_decode(&b, NULL, s, 1);
	assert_int_equal(span_at(r, 0)->n_attributes, EXP_SPAN_MAX_ATTRS);
	assert_true(b.len > 60000); /* the span's length takes 3 bytes */
	check_repack(&b, r);
	free_req(r, NULL);
	exp_buf_free(&b);
}

/* Invalid UTF-8 would make a Go collector reject the whole request: it is repaired. */
static void test_invalid_utf8_repaired(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
	    {"ok", 2, "ok"},
	    {"a\xff"
	     "b",
	     3,
	     "a\xef\xbf\xbd"
	     "b"},
	    {"\xc3", 1, "\xef\xbf\xbd"},                                 /* truncated sequence */
	    {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
	    {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
	    {"\xf4\x90\x80\x80", 4,
	     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
	    {"\xe2\x82\xac", 3, "\xe2\x82\xac"},                  /* valid euro sign */
	    {"nul\0mid", 7, NULL},                                /* NUL is valid UTF-8 */
	};
	struct exp_buf b = {0};
	struct exp_span s;
	size_t i;
	REQ *r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		exp_span_init(&s);
		s.trace_id[0] = 1;
		s.span_id[0] = 1;
		exp_span_add_str(&s, "k", cases[i].in, cases[i].len);
		exp_span_set_name(&s, cases[i].in, cases[i].len);
		assert_int_equal(exp_pb_encode(&b, NULL, &s, 1), 0);
		r = unpack_req(NULL, b.len, b.p);
		assert_non_null(r);
		if (cases[i].out) {
			assert_string_equal(span_at(r, 0)->name, cases[i].out);
			assert_string_equal(span_at(r, 0)->attributes[0]->value->string_value,
			                    cases[i].out);
		}
		assert_true(exp_utf8_valid(span_at(r, 0)->name, strlen(span_at(r, 0)->name)));
		free_req(r, NULL);
	}
	exp_buf_free(&b);
}

/* Records with out-of-range offsets and counts are encoded without reading outside them. */
static void test_malformed_records(void **state)
{
	struct exp_buf b = {0};
	struct exp_span s;
	unsigned seed = 12345, i, k;
	REQ *r;

	(void)state;
	for (i = 0; i < 2000; i++) {
		uint8_t *raw = (uint8_t *)&s;

		for (k = 0; k < sizeof(s); k++) {
			seed = seed * 1103515245u + 12345u;
			raw[k] = (uint8_t)(seed >> 16);
		}
		if (i % 2)
			s.buf_used = (uint16_t)(s.buf_used % (EXP_SPAN_BUF + 1));
		assert_int_equal(exp_pb_encode(&b, NULL, &s, 1), 0);
		r = unpack_req(NULL, b.len, b.p);
		assert_non_null(r);
		free_req(r, NULL);
	}
	exp_buf_free(&b);
}

static int setup(void **state)
{
	(void)state;
	exp_limits_set(&defaults);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_realistic_server_span), cmocka_unit_test(test_value_types),
	    cmocka_unit_test(test_defaults_omitted),      cmocka_unit_test(test_keyed_and_referenced),
	    cmocka_unit_test(test_many_spans),      cmocka_unit_test(test_length_boundaries),
	    cmocka_unit_test(test_invalid_utf8_repaired), cmocka_unit_test(test_malformed_records),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
