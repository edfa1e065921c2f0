/*
 * test_agent_http_span.c - the HTTP semantic conventions of SERVER and CLIENT spans:
 * names, attributes, routes, exclusions, method normalisation, status mapping, redaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sys/socket.h>

#include "config.h"
#include "exp_span.h"
#include "http_head.h"
#include "http_span.h"

static struct wt_slice S(const char *s)
{
	struct wt_slice v = {s, s ? strlen(s) : 0};
	return v;
}

static const char *str_attr(const struct exp_span *s, const char *key, char *buf, size_t cap)
{
	const struct exp_attr *a = exp_span_find_attr(s, key);
	if (a == NULL || a->type != EXP_ATTR_STRING)
		return NULL;
	const char *p;
	size_t n = exp_str_get(s, a->v.s, exp_str_used(s), &p); /* buf or a well-known value */
	n = n < cap - 1 ? n : cap - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

static int64_t int_attr(const struct exp_span *s, const char *key)
{
	const struct exp_attr *a = exp_span_find_attr(s, key);
	return a && a->type == EXP_ATTR_INT ? a->v.i : -1;
}

static void name_of(const struct exp_span *s, char *buf, size_t cap)
{
	size_t n = s->name.len < cap - 1 ? s->name.len : cap - 1;
	memcpy(buf, s->buf + s->name.off, n);
	buf[n] = '\0';
}

static struct exp_span span;
static char routes0[] = "/stock/{item}/reserve", routes1[] = "/items/{id}";
static char excl0[] = "/health";

static int setup(void **state)
{
	(void)state;
	static int loaded;
	if (!loaded++)
		config_free(&wt_cfg); /* what the library constructor loaded: the test sets its own */
	memset(&wt_cfg, 0, sizeof(wt_cfg));
	wt_cfg.routes[0] = routes0;
	wt_cfg.routes[1] = routes1;
	wt_cfg.nroutes = 2;
	wt_cfg.excluded_urls[0] = excl0;
	wt_cfg.nexcluded_urls = 1;
	struct exp_limits l = {128, -1, 128, 128};
	exp_limits_set(&l);
	exp_span_init(&span);
	return 0;
}

static void test_server_basic(void **state)
{
	(void)state;
	struct wt_req_view r = {.method = S("GET"), .target = S("/stock/book/reserve?n=2&sig=abc"),
				.host = S("shop.example:8080"), .user_agent = S("curl/7.88.1"),
				.version_minor = 1};
	struct wt_peer peer = {.port = 5555, .family = AF_INET, .addr = "10.0.0.7"};
	char b[256];
	hspan_server_request(&span, &r, &peer);
	name_of(&span, b, sizeof(b));
	assert_string_equal(b, "GET /stock/{item}/reserve");
	assert_int_equal(span.kind, EXP_KIND_SERVER);
	assert_string_equal(str_attr(&span, "http.request.method", b, sizeof(b)), "GET");
	assert_string_equal(str_attr(&span, "url.path", b, sizeof(b)), "/stock/book/reserve");
	assert_string_equal(str_attr(&span, "url.query", b, sizeof(b)), "n=2&sig=REDACTED");
	assert_string_equal(str_attr(&span, "url.scheme", b, sizeof(b)), "http");
	assert_string_equal(str_attr(&span, "http.route", b, sizeof(b)), "/stock/{item}/reserve");
	assert_string_equal(str_attr(&span, "server.address", b, sizeof(b)), "shop.example");
	assert_int_equal(int_attr(&span, "server.port"), 8080);
	assert_string_equal(str_attr(&span, "client.address", b, sizeof(b)), "10.0.0.7");
	assert_string_equal(str_attr(&span, "network.peer.address", b, sizeof(b)), "10.0.0.7");
	assert_int_equal(int_attr(&span, "network.peer.port"), 5555);
	assert_string_equal(str_attr(&span, "network.protocol.version", b, sizeof(b)), "1.1");
	assert_string_equal(str_attr(&span, "user_agent.original", b, sizeof(b)), "curl/7.88.1");
}

static void test_server_no_route_no_query(void **state)
{
	(void)state;
	struct wt_req_view r = {.method = S("POST"), .target = S("/orders"), .version_minor = 0};
	struct wt_peer peer = {0};
	char b[256];
	hspan_server_request(&span, &r, &peer);
	name_of(&span, b, sizeof(b));
	assert_string_equal(b, "POST"); /* never the raw path */
	assert_null(exp_span_find_attr(&span, "url.query"));
	assert_null(exp_span_find_attr(&span, "http.route"));
	assert_null(exp_span_find_attr(&span, "server.address"));
	assert_string_equal(str_attr(&span, "network.protocol.version", b, sizeof(b)), "1.0");
}

static void test_server_forwarded(void **state)
{
	(void)state;
	struct wt_req_view r = {.method = S("GET"), .target = S("/"), .host = S("internal:81"),
				.x_forwarded_for = S(" 203.0.113.9, 10.0.0.1"),
				.x_forwarded_proto = S("https"),
				.x_forwarded_host = S("www.example.com")};
	struct wt_peer peer = {.port = 1, .family = AF_INET, .addr = "10.0.0.1"};
	char b[256];
	hspan_server_request(&span, &r, &peer);
	assert_string_equal(str_attr(&span, "client.address", b, sizeof(b)), "203.0.113.9");
	assert_string_equal(str_attr(&span, "url.scheme", b, sizeof(b)), "https");
	assert_string_equal(str_attr(&span, "server.address", b, sizeof(b)), "www.example.com");
	assert_int_equal(int_attr(&span, "server.port"), -1);

	exp_span_init(&span);
	struct wt_req_view f = {.method = S("GET"), .target = S("/"),
				.forwarded = S("for=\"[2001:db8::1]:4711\";proto=https;host=a.example:444")};
	hspan_server_request(&span, &f, &peer);
	assert_string_equal(str_attr(&span, "client.address", b, sizeof(b)), "[2001:db8::1]:4711");
	assert_string_equal(str_attr(&span, "url.scheme", b, sizeof(b)), "https");
	assert_string_equal(str_attr(&span, "server.address", b, sizeof(b)), "a.example");
	assert_int_equal(int_attr(&span, "server.port"), 444);
}

static void test_unknown_method(void **state)
{
	(void)state;
	struct wt_req_view r = {.method = S("PURGE"), .target = S("/x")};
	struct wt_peer peer = {0};
	char b[256];
	hspan_server_request(&span, &r, &peer);
	name_of(&span, b, sizeof(b));
	assert_string_equal(b, "HTTP");
	assert_string_equal(str_attr(&span, "http.request.method", b, sizeof(b)), "_OTHER");
	assert_string_equal(str_attr(&span, "http.request.method_original", b, sizeof(b)), "PURGE");
	/* case-sensitive: "get" is not GET */
	assert_false(hspan_method_known("get", 3));
	/* exactly the nine default methods, whole */
	static const char *const known[] = {"CONNECT", "DELETE", "GET",  "HEAD", "OPTIONS",
					    "PATCH",   "POST",   "PUT",  "TRACE"};
	static const char *const unknown[] = {"", "G", "GE", "GETS", "POS", "PUTT", "HEADER",
					      "CONNECTS", "PATCHY", "OPTION", "DELET", "TRAC"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		assert_true(hspan_method_known(known[i], strlen(known[i])));
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_false(hspan_method_known(unknown[i], strlen(unknown[i])));
}

static void test_client_basic(void **state)
{
	(void)state;
	struct wt_req_view r = {.method = S("GET"), .target = S("/a?X-Amz-Signature=s3cr3t&b=1"),
				.host = S("[::1]:9000"), .version_minor = 1};
	struct wt_peer peer = {.port = 9000, .family = AF_INET6, .addr = "::1"};
	char b[512];
	hspan_client_request(&span, &r, &peer);
	name_of(&span, b, sizeof(b));
	assert_string_equal(b, "GET");
	assert_int_equal(span.kind, EXP_KIND_CLIENT);
	assert_string_equal(str_attr(&span, "server.address", b, sizeof(b)), "::1");
	assert_int_equal(int_attr(&span, "server.port"), 9000);
	assert_string_equal(str_attr(&span, "url.full", b, sizeof(b)),
			    "http://[::1]:9000/a?X-Amz-Signature=REDACTED&b=1");
}

static void test_client_absolute_form_and_defaults(void **state)
{
	(void)state;
	struct wt_req_view r = {.method = S("GET"),
				.target = S("http://user:pw@proxy.example/p?q=1"), .version_minor = 1};
	struct wt_peer peer = {.port = 3128, .family = AF_INET, .addr = "192.0.2.1"};
	char b[512];
	hspan_client_request(&span, &r, &peer);
	assert_string_equal(str_attr(&span, "url.full", b, sizeof(b)),
			    "http://REDACTED:REDACTED@proxy.example/p?q=1");
	assert_string_equal(str_attr(&span, "server.address", b, sizeof(b)), "proxy.example");
	assert_int_equal(int_attr(&span, "server.port"), 80);

	exp_span_init(&span); /* no Host header: the peer address */
	struct wt_req_view n = {.method = S("GET"), .target = S("/"), .version_minor = 0};
	hspan_client_request(&span, &n, &peer);
	assert_string_equal(str_attr(&span, "url.full", b, sizeof(b)), "http://192.0.2.1:3128/");
	assert_int_equal(int_attr(&span, "server.port"), 3128);
}

struct status_case {
	int kind, code, error;
	const char *type;
};

static void test_status_mapping(void **state)
{
	(void)state;
	static const struct status_case t[] = {
		{EXP_KIND_SERVER, 200, 0, NULL}, {EXP_KIND_SERVER, 302, 0, NULL},
		{EXP_KIND_SERVER, 404, 0, NULL}, {EXP_KIND_SERVER, 500, 1, "500"},
		{EXP_KIND_SERVER, 503, 1, "503"}, {EXP_KIND_CLIENT, 200, 0, NULL},
		{EXP_KIND_CLIENT, 404, 1, "404"}, {EXP_KIND_CLIENT, 599, 1, "599"},
		{EXP_KIND_CLIENT, 101, 0, NULL}, {EXP_KIND_CLIENT, 999, 1, "999"},
	};
	char b[32];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		exp_span_init(&span);
		span.kind = (uint8_t)t[i].kind;
		hspan_response(&span, t[i].code);
		assert_int_equal(int_attr(&span, "http.response.status_code"), t[i].code);
		assert_int_equal(span.status_code, t[i].error ? EXP_STATUS_ERROR : EXP_STATUS_UNSET);
		if (t[i].type)
			assert_string_equal(str_attr(&span, "error.type", b, sizeof(b)), t[i].type);
		else
			assert_null(exp_span_find_attr(&span, "error.type"));
	}
	exp_span_init(&span);
	span.kind = EXP_KIND_CLIENT;
	hspan_error(&span, "connection_reset");
	assert_int_equal(span.status_code, EXP_STATUS_ERROR);
	assert_string_equal(str_attr(&span, "error.type", b, sizeof(b)), "connection_reset");
}

static void test_routes_and_exclusions(void **state)
{
	(void)state;
	assert_string_equal(hspan_route_match("/items/42", 9), "/items/{id}");
	assert_string_equal(hspan_route_match("/items/42?x=1", 13), "/items/{id}");
	assert_null(hspan_route_match("/items/", 7));       /* empty segment */
	assert_null(hspan_route_match("/items/4/2", 10));   /* one segment only */
	assert_null(hspan_route_match("/stock/a/reserv", 15));
	assert_true(hspan_path_excluded("/health", 7));
	assert_true(hspan_path_excluded("/health?full=1", 14));
	assert_false(hspan_path_excluded("/healthz", 8));
	assert_false(hspan_path_excluded("/", 1));
}

/* The attributes a deferred SERVER span gets on the exporter thread are exactly those built at
 * once on the request thread: same name, kind, status and attributes, in the same order. */
static void same_span(const struct exp_span *a, const struct exp_span *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->status_code, b->status_code);
	assert_int_equal(a->name.len, b->name.len);
	assert_memory_equal(exp_str_ptr(a, a->name), exp_str_ptr(b, b->name), a->name.len);
	assert_int_equal(a->nattrs, b->nattrs);
	assert_int_equal(a->dropped_attrs, b->dropped_attrs);
	for (unsigned i = 0; i < a->nattrs; i++) {
		const struct exp_attr *x = &a->attrs[i], *y = &b->attrs[i];
		assert_int_equal(x->key.len, y->key.len);
		assert_memory_equal(exp_str_ptr(a, x->key), exp_str_ptr(b, y->key), x->key.len);
		assert_int_equal(x->type, y->type);
		if (x->type == EXP_ATTR_INT) {
			assert_true(x->v.i == y->v.i);
		} else {
			assert_int_equal(x->v.s.len, y->v.s.len);
			assert_memory_equal(exp_str_ptr(a, x->v.s), exp_str_ptr(b, y->v.s), x->v.s.len);
		}
	}
}

static struct exp_span direct, deferred;

/* Build the span both ways from one head; error: a failure recorded before the response. */
static void both_ways(const char *head, const struct wt_peer *peer, bool tls, int status,
		      const char *error)
{
	struct http_head h;
	size_t n = strlen(head);
	assert_int_equal(http_head_parse(head, n, HTTP_DIR_REQUEST, &h), 0);
	struct wt_req_view v;
	hspan_req_view(&h, tls, &v);
	exp_span_init(&direct);
	exp_span_set_tracestate(&direct, "a=b", 3);
	hspan_server_request(&direct, &v, peer);
	if (error)
		hspan_error(&direct, error);
	if (status)
		hspan_response(&direct, status);

	exp_span_init(&deferred);
	exp_span_set_tracestate(&deferred, "a=b", 3);
	assert_true(hspan_server_defer(&deferred, head, n, peer, tls));
	assert_int_equal(deferred.kind, EXP_KIND_SERVER);
	assert_int_equal(deferred.nattrs, 0); /* nothing built on the request thread */
	if (error)
		hspan_error(&deferred, error);
	if (status)
		assert_true(hspan_response_defer(&deferred, status));
	hspan_finish(&deferred);
	assert_int_equal(deferred.deferred.len, 0);
	if (!error)
		same_span(&direct, &deferred);
}

static void test_deferred_server_attributes(void **state)
{
	(void)state;
	struct wt_peer v4 = {.port = 5555, .family = AF_INET, .addr = "10.0.0.7"};
	struct wt_peer v6 = {.port = 443, .family = AF_INET6, .addr = "2001:db8::1"};
	struct wt_peer none = {0};
	char b[64];

	both_ways("GET /stock/book/reserve?n=2&sig=abc HTTP/1.1\r\nHost: shop.example:8080\r\n"
		  "User-Agent: curl/7.88.1\r\n",
		  &v4, false, 200, NULL);
	assert_int_equal(int_attr(&deferred, "http.response.status_code"), 200);
	assert_string_equal(str_attr(&deferred, "url.query", b, sizeof(b)), "n=2&sig=REDACTED");
	both_ways("POST /items/7 HTTP/1.0\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8\r\n"
		  "X-Forwarded-Proto: https\r\nX-Forwarded-Host: api.example\r\n",
		  &v6, true, 503, NULL);
	assert_string_equal(str_attr(&deferred, "error.type", b, sizeof(b)), "503");
	both_ways("BREW /pot HTTP/1.1\r\nForwarded: for=\"[::1]\";proto=https;host=h.example:9\r\n",
		  &none, false, 0, NULL);
	both_ways("GET / HTTP/1.1\r\n", &v4, false, 404, NULL);
	/* a long query in a head that is deferred: referenced in place, not dropped for room */
	static char big[1400];
	int bn = snprintf(big, sizeof(big), "GET /search?q=");
	memset(big + bn, 'x', 900);
	bn += 900;
	snprintf(big + bn, sizeof(big) - (size_t)bn, " HTTP/1.1\r\nHost: a\r\nUser-Agent: %0300d\r\n", 7);
	both_ways(big, &v4, false, 200, NULL);
	assert_int_equal(deferred.dropped_attrs, 0);
	assert_int_equal(exp_span_find_attr(&deferred, "url.query")->v.s.len, 902);

	/* A failure recorded first keeps its error.type; the status still lands. */
	both_ways("GET /x HTTP/1.1\r\nHost: a\r\n", &v4, false, 502, "response_incomplete");
	assert_string_equal(str_attr(&deferred, "error.type", b, sizeof(b)), "response_incomplete");
	assert_int_equal(int_attr(&deferred, "http.response.status_code"), 502);
	assert_int_equal(deferred.status_code, EXP_STATUS_ERROR);
	unsigned n = 0;
	for (unsigned i = 0; i < deferred.nattrs; i++)
		n += deferred.attrs[i].key.len == 10 &&
		     memcmp(exp_str_ptr(&deferred, deferred.attrs[i].key), "error.type", 10) == 0;
	assert_int_equal(n, 1);
}

/* A head that would not leave room for its attributes is not deferred; without a deferred
 * head the status is not taken either (the caller builds both at once). */
static void test_deferred_too_big(void **state)
{
	(void)state;
	static char head[EXP_SPAN_BUF];
	struct http_head h;
	struct wt_peer peer = {.port = 1, .family = AF_INET, .addr = "127.0.0.1"};
	size_t n = (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nCookie: ");
	memset(head + n, 'c', 1500);
	n += 1500;
	memcpy(head + n, "\r\n", 3);
	n += 2;
	assert_int_equal(http_head_parse(head, n, HTTP_DIR_REQUEST, &h), 0);
	exp_span_init(&span);
	assert_false(hspan_server_defer(&span, head, n, &peer, false));
	assert_int_equal(span.buf_used, 0);
	assert_false(hspan_response_defer(&span, 200));
	hspan_finish(&span); /* nothing deferred: nothing happens */
	assert_int_equal(span.nattrs, 0);
}

static void test_redact(void **state)
{
	(void)state;
	static const char *const t[][2] = {
		{"http://h/p", "http://h/p"},
		{"http://u@h/p", "http://REDACTED:REDACTED@h/p"},
		{"http://h/p?sig=1&sig2=2&Signature=3", "http://h/p?sig=REDACTED&sig2=2&Signature=REDACTED"},
		{"a=1&AWSAccessKeyId=k", "a=1&AWSAccessKeyId=REDACTED"},
		{"http://h/p?X-Goog-Signature=", "http://h/p?X-Goog-Signature=REDACTED"},
		{"http://h/p?flag&sig", "http://h/p?flag&sig"},
	};
	char out[256];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = hspan_redact_url(out, sizeof(out), t[i][0], strlen(t[i][0]));
		out[n] = '\0';
		assert_string_equal(out, t[i][1]);
	}
	/* truncation never overruns */
	size_t n = hspan_redact_url(out, 8, "http://u@h/p", 12);
	assert_int_equal(n, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_server_basic, setup),
		cmocka_unit_test_setup(test_server_no_route_no_query, setup),
		cmocka_unit_test_setup(test_server_forwarded, setup),
		cmocka_unit_test_setup(test_unknown_method, setup),
		cmocka_unit_test_setup(test_client_basic, setup),
		cmocka_unit_test_setup(test_client_absolute_form_and_defaults, setup),
		cmocka_unit_test_setup(test_status_mapping, setup),
		cmocka_unit_test_setup(test_routes_and_exclusions, setup),
		cmocka_unit_test_setup(test_redact, setup),
		cmocka_unit_test_setup(test_deferred_server_attributes, setup),
		cmocka_unit_test_setup(test_deferred_too_big, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
