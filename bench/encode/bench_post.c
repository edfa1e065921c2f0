/*
 * bench_post.c - encode + POST throughput of the exporter's own pipeline on one thread.
 *
 *   bench_post URL [http/protobuf|http/json] [SECONDS] [gzip]
 *
 * Repeatedly encodes a batch of 512 realistic SERVER spans (12 semconv attributes) with the
 * exporter's encoder and delivers it with exp_deliver() (the real transport: libcurl loaded at
 * run time, keep-alive connection, retries) to URL, which should be a local sink that answers
 * 200 and discards. Prints spans per second of wall time and CPU nanoseconds per span of this
 * thread (CLOCK_THREAD_CPUTIME_ID: encoding plus libcurl's work, which runs on the calling
 * thread; the sink's CPU is not counted). That is the figure the design's "<= 2 us per span all
 * in" target is about. Built by bench/encode/run.sh when it is given a URL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encode_json.h"
#include "encode_pb.h"
#include "exporter.h"
#include "resource.h"
#include "transport.h"

#define BATCH 512

static struct exp_span spans[BATCH];

static void add(struct exp_span *s, const char *k, const char *v)
{
	exp_span_add_str(s, k, v, strlen(v));
}

static void server_span(struct exp_span *s, unsigned i)
{
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
	add(s, "http.request.method", "GET");
	add(s, "url.path", "/api/orders/42");
	add(s, "url.scheme", "http");
	add(s, "url.query", "page=2&sort=desc");
	exp_span_add_int(s, "http.response.status_code", 200);
	add(s, "server.address", "shop.example.com");
	exp_span_add_int(s, "server.port", 8080);
	add(s, "client.address", "10.1.2.3");
	add(s, "network.peer.address", "10.1.2.3");
	exp_span_add_int(s, "network.peer.port", 40000 + (int)i);
	add(s, "network.protocol.version", "1.1");
	add(s, "user_agent.original",
	    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0");
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct exp_config cfg;
	struct exp_resource res;
	struct exp_buf b = {0};
	double w0, c0, wall, cpu, secs = argc > 3 ? atof(argv[3]) : 3.0;
	unsigned long long n = 0, failed = 0;
	int i, rc;

	if (argc < 2) {
		fprintf(stderr,
		        "usage: bench_post URL [http/protobuf|http/json] [SECONDS] [gzip]\n");
		return 2;
	}
	exp_config_defaults(&cfg);
	cfg.endpoint = argv[1];
	cfg.protocol = argc > 2 && strcmp(argv[2], "http/json") == 0 ? EXP_PROTO_HTTP_JSON
	                                                             : EXP_PROTO_HTTP_PROTOBUF;
	cfg.service_name = "bench_post";
	cfg.gzip = argc > 4 && strcmp(argv[4], "gzip") == 0;
	exp_limits_set(&cfg.limits);
	for (i = 0; i < BATCH; i++)
		server_span(&spans[i], (unsigned)i);
	if (exp_resource_build(&res, &cfg))
		return 1;
	w0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	do {
		rc = cfg.protocol == EXP_PROTO_HTTP_JSON ? exp_json_encode(&b, &res, spans, BATCH)
		                                         : exp_pb_encode(&b, &res, spans, BATCH);
		if (rc)
			return 1;
		if (exp_deliver(&cfg, b.p, b.len, BATCH) != EXP_OUT_EXPORTED)
			failed += BATCH;
		n += BATCH;
	} while (clock_s(CLOCK_MONOTONIC) - w0 < secs);
	wall = clock_s(CLOCK_MONOTONIC) - w0;
	cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	printf("%s%s: %llu spans (%llu failed) in %.2f s: %.0f spans/s wall, %.0f ns CPU per span "
	       "(%.0f spans per CPU second), %zu bytes per batch\n",
	       argc > 2 ? argv[2] : "http/protobuf", cfg.gzip ? "+gzip" : "", n, failed, wall,
	       n / wall, cpu * 1e9 / n, n / cpu, b.len);
	exp_transport_shutdown();
	exp_resource_free(&res);
	exp_buf_free(&b);
	return failed ? 1 : 0;
}
