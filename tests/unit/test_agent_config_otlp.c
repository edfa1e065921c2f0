/*
 * test_agent_config_otlp.c - the exporter's configuration: OTEL_TRACES_EXPORTER, the OTLP
 * options and their _TRACES_ overrides, endpoint resolution, OTEL_EXPORTER_OTLP_HEADERS (values
 * must never reach the log), OTEL_BSP_*, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
 *
 * Same fake environment as test_agent_config.c: every load logs to a fresh temporary file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "wt_log.h"

#include "config_env.h"

GET(g_exporter, c->exp.exporter)
GET(g_protocol, c->exp.protocol)
GET(g_timeout, c->exp.timeout_ms)
GET(g_gzip, c->exp.gzip)
GET(g_insecure, c->exp.insecure)
GET(g_delay, c->exp.bsp_schedule_delay_ms)
GET(g_export_timeout, c->exp.bsp_export_timeout_ms)
GET(g_queue, c->exp.bsp_max_queue_size)
GET(g_batch, c->exp.bsp_max_export_batch_size)

struct icase {
	struct kv env[3];
	getter get;
	long want;
	const char *warn;
};

#define PT "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
#define PG "OTEL_EXPORTER_OTLP_PROTOCOL"
#define TT "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
#define TG "OTEL_EXPORTER_OTLP_TIMEOUT"
#define CT "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
#define CG "OTEL_EXPORTER_OTLP_COMPRESSION"
static const struct icase icases[] = {
	/* OTEL_TRACES_EXPORTER */
	{{{NULL, NULL}}, g_exporter, EXP_EXPORTER_OTLP, NULL},
	{{{"OTEL_TRACES_EXPORTER", "otlp"}}, g_exporter, EXP_EXPORTER_OTLP, NULL},
	{{{"OTEL_TRACES_EXPORTER", "console"}}, g_exporter, EXP_EXPORTER_CONSOLE, NULL},
	{{{"OTEL_TRACES_EXPORTER", "CONSOLE"}}, g_exporter, EXP_EXPORTER_CONSOLE, NULL},
	{{{"OTEL_TRACES_EXPORTER", "otlp/stdout"}}, g_exporter, EXP_EXPORTER_OTLP_FILE, NULL},
	{{{"OTEL_TRACES_EXPORTER", "none"}}, g_exporter, EXP_EXPORTER_NONE, NULL},
	{{{"OTEL_TRACES_EXPORTER", "logging"}}, g_exporter, EXP_EXPORTER_CONSOLE, "deprecated"},
	{{{"OTEL_TRACES_EXPORTER", "zipkin"}}, g_exporter, EXP_EXPORTER_OTLP,
	 "zipkin exporter is not supported"},
	{{{"OTEL_TRACES_EXPORTER", "zipkin,console"}}, g_exporter, EXP_EXPORTER_CONSOLE,
	 "zipkin"},
	{{{"OTEL_TRACES_EXPORTER", "console,otlp"}}, g_exporter, EXP_EXPORTER_CONSOLE,
	 "only one exporter is supported; using console"},
	{{{"OTEL_TRACES_EXPORTER", "console, console"}}, g_exporter, EXP_EXPORTER_CONSOLE, NULL},
	{{{"OTEL_TRACES_EXPORTER", "jaeger"}}, g_exporter, EXP_EXPORTER_OTLP,
	 "unknown exporter \"jaeger\""},
	{{{"OTEL_TRACES_EXPORTER", "foo, none"}}, g_exporter, EXP_EXPORTER_NONE, "\"foo\""},
	/* protocol: _TRACES_ wins; invalid = unset */
	{{{NULL, NULL}}, g_protocol, EXP_PROTO_HTTP_PROTOBUF, NULL},
	{{{PG, "grpc"}}, g_protocol, EXP_PROTO_GRPC, NULL},
	{{{PG, "http/json"}}, g_protocol, EXP_PROTO_HTTP_JSON, NULL},
	{{{PG, "HTTP/Protobuf"}}, g_protocol, EXP_PROTO_HTTP_PROTOBUF, NULL},
	{{{PT, "grpc"}, {PG, "http/json"}}, g_protocol, EXP_PROTO_GRPC, NULL},
	{{{PT, "http"}, {PG, "http/json"}}, g_protocol, EXP_PROTO_HTTP_JSON, PT "=\"http\""},
	{{{PG, "thrift"}}, g_protocol, EXP_PROTO_HTTP_PROTOBUF, PG "=\"thrift\""},
	/* timeout: ms, 0 = no limit */
	{{{NULL, NULL}}, g_timeout, 10000, NULL},
	{{{TG, "5000"}}, g_timeout, 5000, NULL},
	{{{TG, "0"}}, g_timeout, 0, NULL},
	{{{TT, "100"}, {TG, "200"}}, g_timeout, 100, NULL},
	{{{TT, "-5"}, {TG, "200"}}, g_timeout, 200, TT "=\"-5\" is a negative duration"},
	{{{TG, "-1"}}, g_timeout, 10000, "negative"},
	{{{TG, "10s"}}, g_timeout, 10000, TG "=\"10s\""},
	{{{TG, "99999999999"}}, g_timeout, 10000, TG},
	/* compression */
	{{{NULL, NULL}}, g_gzip, 0, NULL},
	{{{CG, "gzip"}}, g_gzip, 1, NULL},
	{{{CG, "GZIP"}}, g_gzip, 1, NULL},
	{{{CG, "none"}}, g_gzip, 0, NULL},
	{{{CT, "none"}, {CG, "gzip"}}, g_gzip, 0, NULL},
	{{{CT, "br"}, {CG, "gzip"}}, g_gzip, 1, CT "=\"br\""},
	{{{CG, "zstd"}}, g_gzip, 0, CG "=\"zstd\""},
	/* insecure (Boolean), with the obsolete SPAN_ alias */
	{{{NULL, NULL}}, g_insecure, 0, NULL},
	{{{"OTEL_EXPORTER_OTLP_INSECURE", "true"}}, g_insecure, 1, NULL},
	{{{"OTEL_EXPORTER_OTLP_TRACES_INSECURE", "TRUE"}}, g_insecure, 1, NULL},
	{{{"OTEL_EXPORTER_OTLP_TRACES_INSECURE", "false"}, {"OTEL_EXPORTER_OTLP_INSECURE", "true"}},
	 g_insecure, 0, NULL},
	{{{"OTEL_EXPORTER_OTLP_SPAN_INSECURE", "true"}}, g_insecure, 1, NULL},
	{{{"OTEL_EXPORTER_OTLP_INSECURE", "yes"}}, g_insecure, 0,
	 "OTEL_EXPORTER_OTLP_INSECURE=\"yes\""},
	/* batch span processor */
	{{{NULL, NULL}}, g_delay, 5000, NULL},
	{{{NULL, NULL}}, g_export_timeout, 30000, NULL},
	{{{NULL, NULL}}, g_queue, 2048, NULL},
	{{{NULL, NULL}}, g_batch, 512, NULL},
	{{{"OTEL_BSP_SCHEDULE_DELAY", "100"}}, g_delay, 100, NULL},
	{{{"OTEL_BSP_SCHEDULE_DELAY", "-1"}}, g_delay, 5000, "OTEL_BSP_SCHEDULE_DELAY=\"-1\""},
	{{{"OTEL_BSP_SCHEDULE_DELAY", "5s"}}, g_delay, 5000, "OTEL_BSP_SCHEDULE_DELAY"},
	{{{"OTEL_BSP_EXPORT_TIMEOUT", "0"}}, g_export_timeout, 0, NULL},
	{{{"OTEL_BSP_EXPORT_TIMEOUT", "-10"}}, g_export_timeout, 30000, "negative duration"},
	{{{"OTEL_BSP_MAX_QUEUE_SIZE", "4096"}}, g_queue, 4096, NULL},
	{{{"OTEL_BSP_MAX_QUEUE_SIZE", "0"}}, g_queue, 2048, "OTEL_BSP_MAX_QUEUE_SIZE=\"0\""},
	{{{"OTEL_BSP_MAX_QUEUE_SIZE", "big"}}, g_queue, 2048, "OTEL_BSP_MAX_QUEUE_SIZE"},
	{{{"OTEL_BSP_MAX_QUEUE_SIZE", "100"}}, g_batch, 100, NULL}, /* default clamped */
	{{{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1000"}}, g_batch, 1000, NULL},
	{{{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"}}, g_batch, 2048,
	 "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096 is larger than the queue size 2048"},
	{{{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "300"}, {"OTEL_BSP_MAX_QUEUE_SIZE", "200"}}, g_batch,
	 200, "larger than the queue size 200"},
	{{{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0"}}, g_batch, 512,
	 "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=\"0\""},
};

static void test_int_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(icases) / sizeof(icases[0]); i++)
		check_int_case(i, icases[i].env, icases[i].get, icases[i].want, icases[i].warn);
}

struct epcase {
	struct kv env[4];
	const char *want;
	const char *warn;
};

#define ET "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
#define EG "OTEL_EXPORTER_OTLP_ENDPOINT"
#define INS "OTEL_EXPORTER_OTLP_INSECURE"

static void test_endpoint_table(void **state)
{
	static const struct epcase cases[] = {
		/* defaults */
		{{{NULL, NULL}}, "http://localhost:4318/v1/traces", NULL},
		{{{PG, "http/json"}}, "http://localhost:4318/v1/traces", NULL},
		{{{PG, "grpc"}}, "http://localhost:4317", NULL},
		/* generic: base + v1/traces, exactly one '/' */
		{{{EG, "http://collector:4318"}}, "http://collector:4318/v1/traces", NULL},
		{{{EG, "http://collector:4318/"}}, "http://collector:4318/v1/traces", NULL},
		{{{EG, "http://collector:4318//"}}, "http://collector:4318/v1/traces", NULL},
		{{{EG, "http://collector:4318/otlp"}}, "http://collector:4318/otlp/v1/traces", NULL},
		{{{EG, "http://collector:4318/otlp/"}}, "http://collector:4318/otlp/v1/traces", NULL},
		{{{EG, "https://otlp.example.com"}}, "https://otlp.example.com/v1/traces", NULL},
		{{{EG, "http://c:4318/base?tenant=a"}}, "http://c:4318/base/v1/traces?tenant=a",
		 NULL},
		{{{EG, "http://[::1]:4318"}}, "http://[::1]:4318/v1/traces", NULL},
		{{{EG, "HTTP://C:4318"}}, "http://C:4318/v1/traces", NULL},
		{{{EG, " http://c:4318 "}}, "http://c:4318/v1/traces", NULL},
		/* signal-specific: as is, empty path -> "/" */
		{{{ET, "http://c:4318/custom/path"}}, "http://c:4318/custom/path", NULL},
		{{{ET, "http://c:4318/v1/traces/"}}, "http://c:4318/v1/traces/", NULL},
		{{{ET, "http://c:4318"}}, "http://c:4318/", NULL},
		{{{ET, "http://c:4318?x=1"}}, "http://c:4318/?x=1", NULL},
		{{{ET, "https://t:1/x"}, {EG, "http://g:2"}}, "https://t:1/x", NULL},
		{{{ET, "ftp://t/x"}, {EG, "http://g:2"}}, "http://g:2/v1/traces",
		 ET "=\"ftp://t/x\" is not a valid endpoint (scheme is not http or https)"},
		/* gRPC: the URL is the base, no path appended; no scheme -> https or insecure http */
		{{{PG, "grpc"}, {EG, "http://c:4317"}}, "http://c:4317", NULL},
		{{{PG, "grpc"}, {EG, "http://c:4317/"}}, "http://c:4317/", NULL},
		{{{PG, "grpc"}, {EG, "c:4317"}}, "https://c:4317", NULL},
		{{{PG, "grpc"}, {EG, "c:4317"}, {INS, "true"}}, "http://c:4317", NULL},
		{{{PG, "grpc"}, {ET, "c:4317"}, {INS, "false"}}, "https://c:4317", NULL},
		{{{PG, "grpc"}, {EG, "https://c:4317"}, {INS, "true"}}, "https://c:4317", NULL},
		{{{PT, "grpc"}, {PG, "http/protobuf"}}, "http://localhost:4317", NULL},
		{{{PG, "grpc"}, {EG, "dns:///c:4317"}}, "http://localhost:4317",
		 "scheme is not http or https"},
		/* invalid -> warning, default */
		{{{EG, "c:4318"}}, "http://localhost:4318/v1/traces", "no http:// or https:// scheme"},
		{{{EG, "ftp://c"}}, "http://localhost:4318/v1/traces", "scheme is not http"},
		{{{EG, "http://"}}, "http://localhost:4318/v1/traces", "(no host)"},
		{{{EG, "http:///v1"}}, "http://localhost:4318/v1/traces", "(no host)"},
		{{{EG, "http://:4318"}}, "http://localhost:4318/v1/traces", "(no host)"},
		{{{EG, "http://c:99999"}}, "http://localhost:4318/v1/traces", "(invalid port)"},
		{{{EG, "http://c:0"}}, "http://localhost:4318/v1/traces", "(invalid port)"},
		{{{EG, "http://c:x"}}, "http://localhost:4318/v1/traces", "(invalid port)"},
		{{{EG, "http://c:"}}, "http://localhost:4318/v1/traces", "(invalid port)"},
		{{{EG, "http://[::1"}}, "http://localhost:4318/v1/traces", "malformed IPv6"},
		{{{EG, "http://[::1]x"}}, "http://localhost:4318/v1/traces", "(invalid port)"},
		{{{EG, "http://c d:4318"}}, "http://localhost:4318/v1/traces", "blank or control"},
		{{{EG, "http://c\n:4318"}}, "http://localhost:4318/v1/traces", "blank or control"},
		/* userinfo is accepted, and redacted in warnings */
		{{{EG, "http://u:pw@c:4318"}}, "http://u:pw@c:4318/v1/traces", NULL},
		{{{EG, "http://user:hunter2@c:bad"}}, "http://localhost:4318/v1/traces",
		 "\"http://***@c:bad\""},
		{{{EG, "http://c:bad/p?key=hunter2"}}, "http://localhost:4318/v1/traces",
		 "\"http://c:bad/p?***\""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wt_config c;
		char what[200];

		snprintf(what, sizeof(what), "endpoint case %zu (%s=%s)", i,
			 cases[i].env[0].k ? cases[i].env[0].k : "-",
			 cases[i].env[0].v ? cases[i].env[0].v : "-");
		load(&c, cases[i].env);
		if (!c.exp.endpoint || strcmp(c.exp.endpoint, cases[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", what,
				 c.exp.endpoint ? c.exp.endpoint : "(null)", cases[i].want);
		check_warning(what, logtext(), cases[i].warn);
		assert_null(strstr(logtext(), "hunter2"));
		done(&c);
	}
}

struct hdr {
	const char *name, *value;
};

struct hcase {
	struct kv env[3];
	struct hdr want[4];
	int n;
	const char *warn;
};

#define HG "OTEL_EXPORTER_OTLP_HEADERS"
#define HT "OTEL_EXPORTER_OTLP_TRACES_HEADERS"

/* Every secret value contains "SECRET"; the log is checked never to contain it. */
static void test_headers_table(void **state)
{
	static const struct hcase cases[] = {
		{{{HG, "api-key=SECRET1"}}, {{"api-key", "SECRET1"}}, 1, NULL},
		{{{HG, " a = SECRETa , b=SECRETb "}}, {{"a", "SECRETa"}, {"b", "SECRETb"}}, 2, NULL},
		{{{HG, "Authorization=Bearer%20SECRETtok"}},
		 {{"Authorization", "Bearer SECRETtok"}}, 1, NULL},
		{{{HG, "Authorization=Basic SECRETx=="}}, {{"Authorization", "Basic SECRETx=="}},
		 1, NULL},
		{{{HG, "x=%2C%3DSECRET%25"}}, {{"x", ",=SECRET%"}}, 1, NULL},
		{{{HG, "k=SECRET%zz,ok=SECRETok"}}, {{"ok", "SECRETok"}}, 1,
		 HG ": the value of header \"k\" is not valid"},
		{{{HG, "k=SECRET%4"}}, {{NULL, NULL}}, 0, "header \"k\""},
		{{{HG, "k=SECRET%"}}, {{NULL, NULL}}, 0, "header \"k\""},
		{{{HG, "a=1,novalueSECRET"}}, {{"a", "1"}}, 1, HG ": entry 2 has no '='"},
		{{{HG, "bad key=SECRET"}}, {{NULL, NULL}}, 0, "invalid header name \"bad key\""},
		{{{HG, "=SECRET"}}, {{NULL, NULL}}, 0, "entry 1 has an invalid header name \"\""},
		{{{HG, "a=SECRET%0d%0aX-Injected: 1"}}, {{NULL, NULL}}, 0, "header \"a\""},
		{{{HG, "a=SECRET%00"}}, {{NULL, NULL}}, 0, "header \"a\""},
		{{{HG, "a=SECRET\x01"}}, {{NULL, NULL}}, 0, "header \"a\""},
		{{{HG, "a=1,A=SECRET2"}}, {{"a", "SECRET2"}}, 1, NULL},
		{{{HG, "a=x,,b=y,"}}, {{"a", "x"}, {"b", "y"}}, 2, NULL},
		{{{HG, "k="}}, {{"k", ""}}, 1, NULL},
		{{{HT, "t=SECRETt"}, {HG, "g=SECRETg"}}, {{"t", "SECRETt"}}, 1, NULL},
		{{{HT, ""}, {HG, "g=SECRETg"}}, {{"g", "SECRETg"}}, 1, NULL},
		{{{HT, "bad"}, {HG, "g=SECRETg"}}, {{NULL, NULL}}, 0, HT ": entry 1 has no '='"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hcase *t = &cases[i];
		struct kv e[4] = {{"OTEL_LOG_LEVEL", "debug"}};
		struct wt_config c;
		char what[64];

		memcpy(e + 1, t->env, sizeof(t->env));
		snprintf(what, sizeof(what), "header case %zu", i);
		load(&c, e);
		if (c.exp.nheaders != t->n)
			fail_msg("%s: %d headers, want %d", what, c.exp.nheaders, t->n);
		for (int j = 0; j < t->n; j++) {
			assert_string_equal(c.exp.headers[j].name, t->want[j].name);
			assert_string_equal(c.exp.headers[j].value, t->want[j].value);
		}
		check_warning(what, logtext(), t->warn);
		if (strstr(logtext(), "SECRET"))
			fail_msg("%s: a header value reached the log:\n%s", what, logtext());
		assert_non_null(strstr(logtext(), "(values not logged)")); /* debug was on */
		done(&c);
	}
}

static void test_headers_overflow(void **state)
{
	static char big[2048];
	struct kv e[] = {{HG, big}, {NULL, NULL}};
	struct wt_config c;
	size_t n = 0;
	(void)state;

	for (int i = 0; i < EXP_MAX_HEADERS + 3; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "h%d=SECRET%d,", i, i);
	load(&c, e);
	assert_int_equal(c.exp.nheaders, EXP_MAX_HEADERS);
	assert_string_equal(c.exp.headers[EXP_MAX_HEADERS - 1].name, "h31");
	assert_true(warned(logtext(), "more than 32 headers; \"h32\" ignored"));
	assert_null(strstr(logtext(), "SECRET"));
	done(&c);
}

struct rattr {
	const char *key, *value;
};

struct rcase {
	struct kv env[3];
	const char *service;
	struct rattr want[3];
	int n;
	const char *warn;
};

#define RA "OTEL_RESOURCE_ATTRIBUTES"
#define SN "OTEL_SERVICE_NAME"

static void test_resource_table(void **state)
{
	static const struct rcase cases[] = {
		{{{NULL, NULL}}, "unknown_service:testprog", {{NULL, NULL}}, 0, NULL},
		{{{SN, "checkout"}}, "checkout", {{NULL, NULL}}, 0, NULL},
		{{{SN, " checkout "}}, "checkout", {{NULL, NULL}}, 0, NULL},
		{{{RA, "a=b,c=d"}}, "unknown_service:testprog", {{"a", "b"}, {"c", "d"}}, 2, NULL},
		{{{RA, " a = b , c=d e "}}, "unknown_service:testprog", {{"a", "b"}, {"c", "d e"}},
		 2, NULL},
		{{{RA, "a=%2C%3D%20x"}}, "unknown_service:testprog", {{"a", ",= x"}}, 1, NULL},
		{{{RA, "k%3Dx=v"}}, "unknown_service:testprog", {{"k=x", "v"}}, 1, NULL},
		{{{RA, "a=b=c"}}, "unknown_service:testprog", {{"a", "b=c"}}, 1, NULL},
		{{{RA, "a=1,a=2"}}, "unknown_service:testprog", {{"a", "2"}}, 1, NULL},
		{{{RA, "a=b,,c=d,"}}, "unknown_service:testprog", {{"a", "b"}, {"c", "d"}}, 2, NULL},
		{{{RA, "a="}}, "unknown_service:testprog", {{"a", ""}}, 1, NULL},
		{{{RA, "service.name=foo,x=y"}}, "foo", {{"x", "y"}}, 1, NULL},
		{{{RA, "service.name=foo"}, {SN, "bar"}}, "bar", {{NULL, NULL}}, 0, NULL},
		{{{RA, "service.name="}}, "unknown_service:testprog", {{NULL, NULL}}, 0, NULL},
		{{{RA, "service.name=my%20svc"}}, "my svc", {{NULL, NULL}}, 0, NULL},
		/* malformed: the whole variable is discarded */
		{{{RA, "a=b,c"}}, "unknown_service:testprog", {{NULL, NULL}}, 0,
		 RA " ignored entirely: entry \"c\": no '='"},
		{{{RA, "service.name=foo,a=%zz"}}, "unknown_service:testprog", {{NULL, NULL}}, 0,
		 "invalid percent-encoding"},
		{{{RA, "a=%4"}}, "unknown_service:testprog", {{NULL, NULL}}, 0, "percent"},
		{{{RA, "=v,a=b"}}, "unknown_service:testprog", {{NULL, NULL}}, 0, "empty key"},
		{{{RA, "%zz=v"}}, "unknown_service:testprog", {{NULL, NULL}}, 0, "percent"},
		{{{RA, "a=%00"}}, "unknown_service:testprog", {{NULL, NULL}}, 0, "percent"},
		{{{RA, "a=b,c"}, {SN, "svc"}}, "svc", {{NULL, NULL}}, 0, "no '='"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcase *t = &cases[i];
		struct wt_config c;
		char what[64];

		snprintf(what, sizeof(what), "resource case %zu", i);
		load(&c, t->env);
		if (!c.exp.service_name || strcmp(c.exp.service_name, t->service) != 0)
			fail_msg("%s: service.name \"%s\", want \"%s\"", what,
				 c.exp.service_name ? c.exp.service_name : "(null)", t->service);
		if (c.exp.nresource != t->n)
			fail_msg("%s: %d attributes, want %d", what, c.exp.nresource, t->n);
		for (int j = 0; j < t->n; j++) {
			bool found = false;

			for (int k = 0; k < c.exp.nresource; k++)
				found |= strcmp(c.exp.resource[k].key, t->want[j].key) == 0 &&
					 strcmp(c.exp.resource[k].value, t->want[j].value) == 0;
			if (!found)
				fail_msg("%s: attribute %s=%s missing", what, t->want[j].key,
					 t->want[j].value);
		}
		check_warning(what, logtext(), t->warn);
		done(&c);
	}
}

/* The fallback service name follows the executable (semconv: unknown_service:<name>). */
static void test_service_name_fallback(void **state)
{
	static const struct {
		const char *exe, *want;
	} cases[] = {
		{"/usr/sbin/nginx", "unknown_service:nginx"},
		{"/opt/app/my prog (deleted)", "unknown_service:my prog"},
		{"relative", "unknown_service:relative"},
		{"", "unknown_service"},
		{"/trailing/", "unknown_service"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wt_config c;

		config_set_exe_path(cases[i].exe);
		load(&c, NULL);
		assert_string_equal(c.exp.service_name, cases[i].want);
		done(&c);
	}
	config_set_exe_path("/usr/bin/testprog");
}

static void test_tls_files(void **state)
{
	static const struct kv e1[] = {
		{"OTEL_EXPORTER_OTLP_CERTIFICATE", "/dev/null"},
		{"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/dev/null"},
		{"OTEL_EXPORTER_OTLP_CLIENT_KEY", "/nonexistent/g.key"},
		{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/nonexistent/c.pem"},
		{NULL, NULL},
	};
	struct wt_config c;
	(void)state;

	load(&c, e1);
	assert_string_equal(c.exp.certificate, "/dev/null");
	assert_string_equal(c.exp.client_key, "/dev/null");
	assert_string_equal(c.exp.client_certificate, "/nonexistent/c.pem");
	assert_true(warned(logtext(), "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: cannot read "
				      "\"/nonexistent/c.pem\""));
	assert_false(warned(logtext(), "g.key"));
	done(&c);
	load(&c, NULL);
	assert_null(c.exp.certificate);
	assert_null(c.exp.client_key);
	assert_null(c.exp.client_certificate);
	done(&c);
}

/* Random garbage in every variable: the load never fails and the result is always usable. */
static void test_garbage_environment(void **state)
{
	static const char *const names[] = {
		"OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", RA, "OTEL_LOG_LEVEL", "OTEL_PROPAGATORS",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_TRACES_EXPORTER", PG, PT,
		EG, ET, HG, TG, CG, INS, "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
		"WIRETRACE_ROUTES", "WIRETRACE_INCLUDE",
	};
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789,=%/:@[]{}. \t\n\x01"
				       "-+ehttpgrpcHTTPS";
	static char vals[sizeof(names) / sizeof(names[0])][48];
	const size_t nv = sizeof(names) / sizeof(names[0]);
	struct kv e[MAXENV] = {{NULL, NULL}};
	uint64_t x = 0x2545f4914f6cdd1dull;
	(void)state;

	assert_true(nv < MAXENV);
	for (int round = 0; round < 3000; round++) {
		struct wt_config c;

		for (size_t i = 0; i < nv; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
			size_t len = x % 40;

			for (size_t j = 0; j < len; j++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				vals[i][j] = alphabet[x % (sizeof(alphabet) - 1)];
			}
			vals[i][len] = '\0';
			e[i] = (struct kv){names[i], vals[i]};
		}
		e[nv] = (struct kv){"OTEL_LOG_LEVEL", "none"}; /* shadowed unless garbage is unset */
		load(&c, e);
		assert_non_null(c.exp.endpoint);
		assert_true(strncmp(c.exp.endpoint, "http://", 7) == 0 ||
			    strncmp(c.exp.endpoint, "https://", 8) == 0);
		assert_non_null(c.exp.service_name);
		assert_true(c.exp.bsp_max_export_batch_size >= 1);
		assert_true(c.exp.bsp_max_export_batch_size <= c.exp.bsp_max_queue_size);
		assert_true(c.exp.nheaders >= 0 && c.exp.nheaders <= EXP_MAX_HEADERS);
		assert_true(c.exp.timeout_ms >= 0);
		assert_true(c.sampler_ratio >= 0.0 && c.sampler_ratio <= 1.0);
		assert_true(c.exp.exporter >= EXP_EXPORTER_OTLP && c.exp.exporter <= EXP_EXPORTER_NONE);
		assert_true(c.exp.protocol >= 0 && c.exp.protocol <= EXP_PROTO_GRPC);
		assert_true(c.log_level >= WT_LOG_NONE && c.log_level <= WT_LOG_DEBUG);
		for (int j = 0; j < c.exp.nheaders; j++)
			for (const char *p = c.exp.headers[j].value; *p; p++)
				assert_true((unsigned char)*p >= 0x20 || *p == '\t');
		done(&c);
	}
}

static int setup(void **state)
{
	(void)state;
	config_set_exe_path("/usr/bin/testprog");
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_table),
		cmocka_unit_test(test_endpoint_table),
		cmocka_unit_test(test_headers_table),
		cmocka_unit_test(test_headers_overflow),
		cmocka_unit_test(test_resource_table),
		cmocka_unit_test(test_service_name_fallback),
		cmocka_unit_test(test_tls_files),
		cmocka_unit_test(test_garbage_environment),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
