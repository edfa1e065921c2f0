/*
 * bench_encode.c - cost per span of encoding OTLP ExportTraceServiceRequest bodies.
 *
 * Measures, on one core (the process pins itself to the CPU it starts on), for batches of
 * realistic SERVER spans with the 12 attributes the HTTP semantic conventions put on them:
 *   pc-fill+pack  protobuf-c: fill the generated structs from our span records (strings copied
 *                 and NUL-terminated, as protobuf-c needs), then get_packed_size + pack;
 *   pc-pack       protobuf-c: get_packed_size + pack only, structs already filled;
 *   direct        the exporter's direct wire encoder (exporter/encode_pb.c), all in;
 *   json          the exporter's OTLP/JSON encoder (exporter/encode_json.c), for reference.
 * Each measurement encodes BATCH spans ITERS times; the run is repeated RUNS times and the
 * median ns per span is printed, with the minimum and maximum. It also checks that protobuf-c
 * and the direct encoder produce the same bytes, so the two are measured doing the same work.
 *
 * Build and run with bench/encode/run.sh (it documents the command line).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "encode_json.h"
#include "encode_pb.h"
#include "exporter.h"
#include "resource.h"

#define BATCH 512
#define ITERS 40
#define RUNS 11

#define REQ Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
#define RSPANS Opentelemetry__Proto__Trace__V1__ResourceSpans
#define SSPANS Opentelemetry__Proto__Trace__V1__ScopeSpans
#define SPAN Opentelemetry__Proto__Trace__V1__Span
#define STATUS Opentelemetry__Proto__Trace__V1__Status
#define RES Opentelemetry__Proto__Resource__V1__Resource
#define SCOPE Opentelemetry__Proto__Common__V1__InstrumentationScope
#define KV Opentelemetry__Proto__Common__V1__KeyValue
#define ANY Opentelemetry__Proto__Common__V1__AnyValue
#define REQ_SIZE                                                                                   \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size
#define REQ_PACK opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack

/* One span's protobuf-c structs and the NUL-terminated copies of its strings. */
struct pc_span {
	SPAN span;
	STATUS status;
	KV kv[EXP_SPAN_MAX_ATTRS];
	KV *kvp[EXP_SPAN_MAX_ATTRS];
	ANY av[EXP_SPAN_MAX_ATTRS];
	char text[EXP_SPAN_BUF + 2 * EXP_SPAN_MAX_ATTRS + 8];
	size_t used;
};

static struct exp_span spans[BATCH];
static struct pc_span pcs[BATCH];
static SPAN *pcsp[BATCH];

static void server_span(struct exp_span *s, unsigned i)
{
	static const char *const paths[] = {"/api/orders/42", "/api/cart/items", "/health",
	                                    "/static/js/app.min.js"};
	const char *path = paths[i % 4];

	exp_span_init(s);
	memset(s->trace_id, 0x4b, 16);
	memcpy(s->trace_id, &i, sizeof(i));
	memset(s->span_id, 0x5a, 8);
	memcpy(s->span_id, &i, sizeof(i));
	memset(s->parent_span_id, 0x0f, 8);
	s->kind = EXP_KIND_SERVER;
	s->flags = 0x301;
	s->start_ns = 1700000000123456789ull + i * 1000ull;
	s->end_ns = s->start_ns + 1234567;
	exp_span_set_name(s, "GET", 3);
	exp_span_add_str(s, "http.request.method", "GET", 3);
	exp_span_add_str(s, "url.path", path, strlen(path));
	exp_span_add_str(s, "url.scheme", "http", 4);
	exp_span_add_str(s, "url.query", "page=2&sort=desc", 16);
	exp_span_add_int(s, "http.response.status_code", 200);
	exp_span_add_str(s, "server.address", "shop.example.com", 16);
	exp_span_add_int(s, "server.port", 8080);
	exp_span_add_str(s, "client.address", "10.1.2.3", 8);
	exp_span_add_str(s, "network.peer.address", "10.1.2.3", 8);
	exp_span_add_int(s, "network.peer.port", 40000 + (int)i);
	exp_span_add_str(s, "network.protocol.version", "1.1", 3);
	exp_span_add_str(s, "user_agent.original",
	                 "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
	                 70);
}

static char *cstr(struct pc_span *p, const struct exp_span *s, struct exp_str str)
{
	char *out = p->text + p->used;

	memcpy(out, exp_str_ptr(s, str), str.len);
	out[str.len] = '\0';
	p->used += str.len + 1u;
	return out;
}

/* What a protobuf-c based exporter would do for each span (string and int attributes). */
static void pc_fill(struct pc_span *p, const struct exp_span *s)
{
	unsigned i;

	p->used = 0;
	opentelemetry__proto__trace__v1__span__init(&p->span);
	p->span.trace_id.data = (uint8_t *)s->trace_id;
	p->span.trace_id.len = 16;
	p->span.span_id.data = (uint8_t *)s->span_id;
	p->span.span_id.len = 8;
	p->span.parent_span_id.data = (uint8_t *)s->parent_span_id;
	p->span.parent_span_id.len = 8;
	p->span.name = cstr(p, s, s->name);
	p->span.kind = s->kind;
	p->span.start_time_unix_nano = s->start_ns;
	p->span.end_time_unix_nano = s->end_ns;
	p->span.flags = s->flags;
	for (i = 0; i < s->nattrs; i++) {
		const struct exp_attr *a = &s->attrs[i];

		opentelemetry__proto__common__v1__key_value__init(&p->kv[i]);
		opentelemetry__proto__common__v1__any_value__init(&p->av[i]);
		p->kv[i].key = cstr(p, s, a->key);
		p->kv[i].value = &p->av[i];
		if (a->type == EXP_ATTR_INT) {
			p->av[i].value_case =
			    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
			p->av[i].int_value = a->v.i;
		} else {
			p->av[i].value_case =
			    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
			p->av[i].string_value = cstr(p, s, a->v.s);
		}
		p->kvp[i] = &p->kv[i];
	}
	p->span.n_attributes = s->nattrs;
	p->span.attributes = p->kvp;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct pc_req {
	REQ req;
	RSPANS rs, *rsp;
	SSPANS ss, *ssp;
	RES res;
	SCOPE scope;
};

static void pc_req_init(struct pc_req *r)
{
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&r->req);
	opentelemetry__proto__trace__v1__resource_spans__init(&r->rs);
	opentelemetry__proto__trace__v1__scope_spans__init(&r->ss);
	opentelemetry__proto__resource__v1__resource__init(&r->res);
	opentelemetry__proto__common__v1__instrumentation_scope__init(&r->scope);
	r->scope.name = EXP_SCOPE_NAME;
	r->scope.version = WIRETRACE_VERSION;
	r->ss.scope = &r->scope;
	r->ss.n_spans = BATCH;
	r->ss.spans = pcsp;
	r->ssp = &r->ss;
	r->rs.resource = &r->res;
	r->rs.n_scope_spans = 1;
	r->rs.scope_spans = &r->ssp;
	r->rsp = &r->rs;
	r->req.n_resource_spans = 1;
	r->req.resource_spans = &r->rsp;
}

static size_t pc_encode(struct pc_req *r, uint8_t *out, int fill)
{
	size_t n;
	unsigned i;

	if (fill)
		for (i = 0; i < BATCH; i++)
			pc_fill(&pcs[i], &spans[i]);
	n = REQ_SIZE(&r->req);
	return REQ_PACK(&r->req, out) == n ? n : 0;
}

enum { PC_FILL_PACK, PC_PACK, DIRECT, JSON, NKINDS };
static const char *const names[NKINDS] = {"pc-fill+pack", "pc-pack", "direct", "json"};

static double run_once(int kind, struct pc_req *r, struct exp_buf *b, uint8_t *pcbuf)
{
	volatile size_t sink = 0;
	double t0 = now_ns();
	int it;

	for (it = 0; it < ITERS; it++) {
		switch (kind) {
		case PC_FILL_PACK:
			sink += pc_encode(r, pcbuf, 1);
			break;
		case PC_PACK:
			sink += pc_encode(r, pcbuf, 0);
			break;
		case DIRECT:
			exp_pb_encode(b, NULL, spans, BATCH);
			sink += b->len;
			break;
		case JSON:
			exp_json_encode(b, NULL, spans, BATCH);
			sink += b->len;
			break;
		}
	}
	(void)sink;
	return (now_ns() - t0) / ((double)ITERS * BATCH);
}

int main(void)
{
	static uint8_t pcbuf[BATCH * 2048];
	struct exp_buf b = {0};
	double t[NKINDS][RUNS];
	struct pc_req r;
	cpu_set_t cpus;
	size_t pcn, one;
	int k, i, cpu = sched_getcpu();

	CPU_ZERO(&cpus);
	CPU_SET(cpu >= 0 ? cpu : 0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	for (i = 0; i < BATCH; i++) {
		server_span(&spans[i], (unsigned)i);
		pcsp[i] = &pcs[i].span;
	}
	pc_req_init(&r);
	pcn = pc_encode(&r, pcbuf, 1);
	exp_pb_encode(&b, NULL, spans, BATCH);
	if (pcn != b.len || memcmp(pcbuf, b.p, pcn) != 0) {
		fprintf(stderr, "bench_encode: protobuf-c and the direct encoder disagree\n");
		return 1;
	}
	one = opentelemetry__proto__trace__v1__span__get_packed_size(&pcs[0].span);
	printf("batch %d spans, %d iterations per run, %d runs, cpu %d\n", BATCH, ITERS, RUNS, cpu);
	printf("span on the wire: %zu bytes (Span message %zu + tag/length); request %zu bytes\n",
	       one + 3, one, b.len);
	for (i = 0; i < RUNS; i++) /* interleaved, so that drift hits every variant alike */
		for (k = 0; k < NKINDS; k++)
			t[k][i] = run_once(k, &r, &b, pcbuf);
	printf("%-14s %10s %10s %10s\n", "variant", "median", "min", "max");
	for (k = 0; k < NKINDS; k++) {
		qsort(t[k], RUNS, sizeof(double), cmp);
		printf("%-14s %7.1f ns %7.1f ns %7.1f ns  per span\n", names[k], t[k][RUNS / 2],
		       t[k][0], t[k][RUNS - 1]);
	}
	exp_buf_free(&b);
	return 0;
}
