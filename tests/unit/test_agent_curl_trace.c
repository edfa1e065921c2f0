/*
 * test_agent_curl_trace.c - the libcurl tracer without libcurl: a fake setopt records every
 * CURLOPT_HTTPHEADER the tracer sets, so the tests see the merged list (the program's lines,
 * copied, then traceparent) going on at the start of a transfer and the program's own list
 * pointer coming back at its end, for the easy and multi interfaces, failures to add, removal
 * without a DONE message, multi cleanup, duplicated, reset and cleaned-up handles; lists that
 * already carry traceparent and disabled propagation add nothing. Plus the pure helpers: URL
 * splitting (malformed URLs included), the method libcurl will send, CURLcode names, the
 * traceparent check on a list and the list merge. The sanitizer build checks that every list
 * the tracer allocates is freed. Spans are not sampled here (nothing is exported).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "curl_trace.h"

struct call {
	CURL *h;
	CURLoption opt;
	const void *val;
	char text[512]; /* the list's lines at the time of the call, '\n'-separated */
};

static struct call calls[32];
static int ncalls;

static CURLcode fake_setopt(CURL *h, CURLoption opt, ...)
{
	va_list ap;
	va_start(ap, opt);
	const struct curl_slist *l = va_arg(ap, const struct curl_slist *);
	va_end(ap);
	if (ncalls == 32)
		return CURLE_OUT_OF_MEMORY;
	struct call *c = &calls[ncalls++];
	c->h = h;
	c->opt = opt;
	c->val = l;
	c->text[0] = '\0';
	for (size_t n = 0; l; l = l->next)
		n += (size_t)snprintf(c->text + n, sizeof(c->text) - n, "%s%s", n ? "\n" : "",
		                      l->data);
	return CURLE_OK;
}

static CURLcode fake_getinfo(CURL *h, CURLINFO info, ...)
{
	(void)h;
	(void)info;
	return CURLE_UNKNOWN_OPTION;
}

static const struct curl_trace_lib lib = {fake_setopt, fake_getinfo};

static char handles[8][64]; /* never dereferenced: only their addresses are used */
#define H(i) ((CURL *)handles[i])
#define M(i) ((CURLM *)handles[4 + (i)])

static struct curl_slist n2 = {"Accept: text/x", NULL};
static struct curl_slist n1 = {"X-A: 1", &n2};
static struct curl_slist own2 = {
    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", NULL};
static struct curl_slist own1 = {"X-A: own", &own2};

static int setup(void **state)
{
	(void)state;
	wt_cfg.propagate_tracecontext = true;
	wt_cfg.sdk_disabled = false;
	wt_cfg.sampler = WT_SAMPLER_ALWAYS_OFF; /* spans end without export */
	ncalls = 0;
	for (int i = 0; i < 4; i++)
		curl_trace_new_handle(H(i));
	return 0;
}

static void known(CURL *h, const char *url, const struct curl_slist *hdrs)
{
	curl_trace_setopt(h, CURLOPT_URL, 0, url);
	curl_trace_setopt(h, CURLOPT_HTTPHEADER, 0, hdrs);
}

/* The call k set our merged list: the program's lines then one traceparent line. */
static void assert_merged(int k, CURL *h, const char *prog_lines)
{
	char want[256];
	assert_true(k < ncalls);
	assert_ptr_equal(calls[k].h, h);
	assert_int_equal(calls[k].opt, CURLOPT_HTTPHEADER);
	assert_ptr_not_equal(calls[k].val, &n1);
	snprintf(want, sizeof(want), "%s%straceparent: 00-", prog_lines, prog_lines[0] ? "\n" : "");
	assert_memory_equal(calls[k].text, want, strlen(want));
	/* version-00 value, not sampled (always_off), random flag: "...-02" */
	assert_int_equal(strlen(calls[k].text),
	                 strlen(prog_lines) + (prog_lines[0] ? 1 : 0) + 13 + 55);
	assert_string_equal(calls[k].text + strlen(calls[k].text) - 3, "-02");
}

static void assert_restored(int k, CURL *h, const void *prog)
{
	assert_true(k < ncalls);
	assert_ptr_equal(calls[k].h, h);
	assert_int_equal(calls[k].opt, CURLOPT_HTTPHEADER);
	assert_ptr_equal(calls[k].val, prog);
}

static void test_easy_sets_and_restores(void **state)
{
	(void)state;
	known(H(0), "http://example.com/a", &n1);
	assert_true(curl_trace_easy_begin(H(0), &lib));
	assert_int_equal(ncalls, 1);
	assert_merged(0, H(0), "X-A: 1\nAccept: text/x");
	curl_trace_easy_end(H(0), CURLE_OK, &lib);
	assert_int_equal(ncalls, 2);
	assert_restored(1, H(0), &n1);
	/* the program's nodes are untouched */
	assert_ptr_equal(n1.next, &n2);
	assert_string_equal(n1.data, "X-A: 1");
	/* again, then with no program list: restored to NULL */
	assert_true(curl_trace_easy_begin(H(0), &lib));
	curl_trace_easy_end(H(0), CURLE_COULDNT_CONNECT, &lib);
	curl_trace_setopt(H(0), CURLOPT_HTTPHEADER, 0, NULL);
	assert_true(curl_trace_easy_begin(H(0), &lib));
	assert_merged(4, H(0), "");
	curl_trace_easy_end(H(0), CURLE_OK, &lib);
	assert_restored(5, H(0), NULL);
	assert_int_equal(ncalls, 6);
	curl_trace_easy_end(H(0), CURLE_OK, &lib); /* not in a transfer: nothing */
	assert_int_equal(ncalls, 6);
}

static void test_nothing_added(void **state)
{
	(void)state;
	known(H(0), "https://example.com/a", &own1); /* the program's own traceparent */
	assert_true(curl_trace_easy_begin(H(0), &lib));
	curl_trace_easy_end(H(0), CURLE_OK, &lib);
	assert_int_equal(ncalls, 0);
	wt_cfg.propagate_tracecontext = false;
	known(H(1), "http://example.com/b", &n1);
	assert_true(curl_trace_easy_begin(H(1), &lib)); /* a span, no header */
	curl_trace_easy_end(H(1), CURLE_OK, &lib);
	assert_int_equal(ncalls, 0);
}

static void test_not_traced(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		long connect_only;
		bool curlu;
		bool traced;
	} cases[] = {
	    {"http://example.com/", 0, false, true},
	    {"HTTPS://example.com/", 0, false, true},
	    {"example.com/x", 0, false, true}, /* libcurl guesses http */
	    {"ftp://example.com/f", 0, false, false},
	    {"ftp.example.com/f", 0, false, false}, /* guessed ftp */
	    {"file:///etc/hosts", 0, false, false},
	    {"http://", 0, false, false},
	    {"http://example.com/", 1, false, false},
	    {NULL, 0, true, true}, /* CURLU: decided at the end */
	    {NULL, 0, false, false},
	};
	assert_false(curl_trace_easy_begin(H(0), &lib)); /* never configured through us */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		curl_trace_new_handle(H(1));
		curl_trace_setopt(H(1), CURLOPT_CONNECT_ONLY, cases[i].connect_only, NULL);
		if (cases[i].url)
			curl_trace_setopt(H(1), CURLOPT_URL, 0, cases[i].url);
		if (cases[i].curlu)
			curl_trace_setopt(H(1), CURLOPT_CURLU, 0, handles[7]);
		bool t = curl_trace_easy_begin(H(1), &lib);
		if (t != cases[i].traced)
			fail_msg("case %zu (%s): traced %d", i, cases[i].url ? cases[i].url : "-",
			         t);
		curl_trace_easy_end(H(1), CURLE_OK, &lib);
	}
}

static void test_multi(void **state)
{
	(void)state;
	known(H(0), "http://example.com/0", &n1);
	known(H(1), "http://example.com/1", NULL);
	assert_false(curl_trace_multi_traced(M(0)));
	assert_true(curl_trace_multi_add(M(0), H(0), &lib));
	curl_trace_multi_added(M(0), H(0), CURLM_OK, &lib);
	assert_true(curl_trace_multi_add(M(0), H(1), &lib));
	curl_trace_multi_added(M(0), H(1), CURLM_OK, &lib);
	assert_true(curl_trace_multi_traced(M(0)));
	assert_false(curl_trace_multi_traced(M(1)));
	assert_merged(0, H(0), "X-A: 1\nAccept: text/x");
	assert_merged(1, H(1), "");
	assert_false(curl_trace_easy_begin(H(0), &lib)); /* busy in the multi */
	curl_trace_multi_done(H(0), CURLE_OK, &lib);
	assert_restored(2, H(0), &n1);
	assert_true(curl_trace_multi_traced(M(0)));
	curl_trace_multi_removed(M(0), H(0), &lib); /* already ended: nothing */
	assert_int_equal(ncalls, 3);
	curl_trace_multi_removed(M(0), H(1), &lib); /* removed before DONE: ends now */
	assert_restored(3, H(1), NULL);
	assert_false(curl_trace_multi_traced(M(0)));
	/* a failed add undoes everything at once */
	assert_true(curl_trace_multi_add(M(1), H(0), &lib));
	curl_trace_multi_added(M(1), H(0), CURLM_ADDED_ALREADY, &lib);
	assert_restored(5, H(0), &n1);
	assert_false(curl_trace_multi_traced(M(1)));
	assert_int_equal(ncalls, 6);
}

static void test_multi_cleanup_and_handles(void **state)
{
	(void)state;
	known(H(0), "http://example.com/0", &n1);
	known(H(1), "http://example.com/1", &n1);
	for (int i = 0; i < 2; i++) {
		assert_true(curl_trace_multi_add(M(0), H(i), &lib));
		curl_trace_multi_added(M(0), H(i), CURLM_OK, &lib);
	}
	curl_trace_multi_cleanup_begin(M(0), &lib);
	assert_int_equal(ncalls, 4);
	assert_false(curl_trace_multi_traced(M(0)));
	assert_true(calls[2].val == &n1 && calls[3].val == &n1);
	/* a duplicate made while our list is set gets the program's list back */
	assert_true(curl_trace_easy_begin(H(0), &lib));
	curl_trace_dup(H(0), H(2), &lib);
	assert_restored(5, H(2), &n1);
	curl_trace_easy_end(H(0), CURLE_OK, &lib);
	assert_true(curl_trace_easy_begin(H(2), &lib)); /* the duplicate is known */
	assert_merged(7, H(2), "X-A: 1\nAccept: text/x");
	/* cleanup of a handle in a transfer: restored, then forgotten */
	curl_trace_cleanup_begin(H(2), &lib);
	assert_restored(8, H(2), &n1);
	curl_trace_forget(H(2));
	assert_false(curl_trace_easy_begin(H(2), &lib));
	/* reset forgets the options: no URL, no transfer of ours */
	curl_trace_reset(H(1));
	assert_false(curl_trace_easy_begin(H(1), &lib));
	curl_trace_setopt(H(1), CURLOPT_URL, 0, "http://example.com/again");
	assert_true(curl_trace_easy_begin(H(1), &lib));
	assert_merged(9, H(1), "");
	curl_trace_easy_end(H(1), CURLE_OK, &lib);
	assert_restored(10, H(1), NULL);
}

static void test_url_split(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		int rc;
		const char *scheme, *host;
		int port;
		bool guessed;
	} cases[] = {
	    {"http://example.com/a?b=c", 0, "http", "example.com", 80, false},
	    {"https://u:p@w@example.com:8443/x", 0, "https", "example.com", 8443, false},
	    {"HTTPS://Example.COM", 0, "HTTPS", "Example.COM", 443, false},
	    {"http://[::1]:8080/x", 0, "http", "::1", 8080, false},
	    {"https://[2001:db8::1]/", 0, "https", "2001:db8::1", 443, false},
	    {"example.com:81/p", 0, "http", "example.com", 81, true},
	    {"ftp.example.com/p", 0, "ftp", "ftp.example.com", 0, true},
	    {"ws://h/", 0, "ws", "h", 0, false},
	    {"http://h?x", 0, "http", "h", 80, false},
	    {"http://h#frag", 0, "http", "h", 80, false},
	    {"http://", -EINVAL, NULL, NULL, 0, false},
	    {"", -EINVAL, NULL, NULL, 0, false},
	    {"http://[::1/x", -EINVAL, NULL, NULL, 0, false},
	    {"http://[::1]x/", -EINVAL, NULL, NULL, 0, false},
	    {"http://h:99999/", -EINVAL, NULL, NULL, 0, false},
	    {"http://h:8x/", -EINVAL, NULL, NULL, 0, false},
	    {"http://u@/", -EINVAL, NULL, NULL, 0, false},
	    {NULL, -EINVAL, NULL, NULL, 0, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct curl_trace_url u;
		int rc = curl_trace_url_split(cases[i].url, &u);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d", cases[i].url ? cases[i].url : "NULL", rc);
		if (rc < 0)
			continue;
		assert_int_equal(u.scheme_len, strlen(cases[i].scheme));
		assert_memory_equal(u.scheme, cases[i].scheme, u.scheme_len);
		assert_int_equal(u.host_len, strlen(cases[i].host));
		assert_memory_equal(u.host, cases[i].host, u.host_len);
		assert_int_equal(u.port, cases[i].port);
		assert_int_equal(u.scheme_guessed, cases[i].guessed);
	}
}

static void test_method(void **state)
{
	(void)state;
	static const struct {
		const char *custom;
		bool nobody;
		int req;
		const char *want;
	} cases[] = {
	    {NULL, false, CT_REQ_GET, "GET"},   {NULL, false, CT_REQ_POST, "POST"},
	    {NULL, false, CT_REQ_PUT, "PUT"},   {NULL, true, CT_REQ_POST, "HEAD"},
	    {NULL, false, CT_REQ_HEAD, "HEAD"}, {"PATCH", true, CT_REQ_PUT, "PATCH"},
	    {"", false, CT_REQ_POST, "POST"},   {NULL, false, 99, "GET"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(
		    curl_trace_method(cases[i].custom, cases[i].nobody, cases[i].req),
		    cases[i].want);
}

static void test_names_and_lists(void **state)
{
	(void)state;
	assert_string_equal(curl_trace_code_name(CURLE_COULDNT_CONNECT), "CURLE_COULDNT_CONNECT");
	assert_string_equal(curl_trace_code_name(CURLE_OPERATION_TIMEDOUT),
	                    "CURLE_OPERATION_TIMEDOUT");
	assert_string_equal(curl_trace_code_name(CURLE_OK), "_OTHER");
	assert_string_equal(curl_trace_code_name((CURLcode)9999), "_OTHER");
	static const struct {
		const char *line;
		bool has;
	} lines[] = {
	    {"traceparent: 00-x", true}, {"Traceparent;", true},
	    {"TRACEPARENT:", true},      {"traceparent :x", true},
	    {"traceparentx: 1", false},  {"X-traceparent: 1", false},
	    {"tracestate: a=b", false},  {"", false},
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct curl_slist one = {(char *)lines[i].line, NULL};
		assert_int_equal(curl_trace_list_has_traceparent(&one), lines[i].has);
	}
	struct curl_slist nul = {NULL, &n1};
	assert_false(curl_trace_list_has_traceparent(&nul));
	assert_false(curl_trace_list_has_traceparent(NULL));
	const char hdr[] = "traceparent: v\r\ntracestate: a=b\r\n";
	struct curl_slist *m = curl_trace_list_merge(&n1, hdr, sizeof(hdr) - 1);
	assert_non_null(m);
	const char *want[] = {"X-A: 1", "Accept: text/x", "traceparent: v", "tracestate: a=b"};
	int i = 0;
	for (struct curl_slist *p = m; p; p = p->next, i++) {
		assert_true(i < 4);
		assert_string_equal(p->data, want[i]);
		assert_ptr_not_equal(p->data, n1.data);
	}
	assert_int_equal(i, 4);
	free(m);
	m = curl_trace_list_merge(NULL, hdr, 16);
	assert_non_null(m);
	assert_string_equal(m->data, "traceparent: v");
	assert_null(m->next);
	free(m);
	assert_null(curl_trace_list_merge(NULL, "", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_easy_sets_and_restores, setup),
	    cmocka_unit_test_setup(test_nothing_added, setup),
	    cmocka_unit_test_setup(test_not_traced, setup),
	    cmocka_unit_test_setup(test_multi, setup),
	    cmocka_unit_test_setup(test_multi_cleanup_and_handles, setup),
	    cmocka_unit_test_setup(test_url_split, setup),
	    cmocka_unit_test_setup(test_method, setup),
	    cmocka_unit_test_setup(test_names_and_lists, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
