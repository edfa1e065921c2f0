/*
 * test_agent_http_head.c - field extraction from complete HTTP/1.x heads (http_head_parse)
 * and the Content-Length / Transfer-Encoding rules shared with the incremental parser.
 *
 * Tables of heads with every field they must yield (values as trimmed slices, duplicates,
 * tracestate lines in order, derived flags), malformed heads that must be refused, and framing
 * header values split over lines, valid and invalid. The parser-side consistency (every head
 * the parser captures parses here with the same framing) is checked in
 * test_agent_http_parser.c and by the fuzz target.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http_head.h"
#include "http_parser.h"

#define L(s) (sizeof(s) - 1)
#define IN(s) .in = (s), .len = L(s)
#define REQ HTTP_DIR_REQUEST
#define RSP HTTP_DIR_RESPONSE

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

struct hcase {
	const char *name;
	int dir;
	const char *in;
	size_t len;
	int rc;
	const char *method, *target, *reason;
	int minor, status;
	const char *f[HTTP_F_COUNT]; /* expected values; NULL: absent */
	uint32_t dup;
	unsigned nts;
	const char *ts[HTTP_TRACESTATE_LINES];
	int64_t cl;
	unsigned flags;
};

#define FULLREQ                                                                              \
	"GET /p/q?x=1&y=%20 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent:  curl/8.0 \r\n"  \
	"traceparent: " TP "\r\ntracestate: a=1\r\nTraceState:b=2,c=3\t\r\n"                   \
	"X-Forwarded-For: 1.2.3.4, 5.6.7.8\r\nX-Forwarded-Proto: https\r\n"                    \
	"X-Forwarded-Host: h.example\r\nForwarded: for=1.2.3.4;proto=https\r\n"                \
	"Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nExpect: 100-Continue\r\n"    \
	"Content-Length: 12\r\nAccept: */*\r\n"
#define TS10                                                                                 \
	"GET / HTTP/1.1\r\ntracestate: 1=a\r\ntracestate: 2=a\r\ntracestate: 3=a\r\n"           \
	"tracestate: 4=a\r\ntracestate: 5=a\r\ntracestate: 6=a\r\ntracestate: 7=a\r\n"          \
	"tracestate: 8=a\r\ntracestate: 9=a\r\ntracestate: 10=a\r\n"

static const struct hcase hcases[] = {
	{ "full_request", REQ, IN(FULLREQ), 0, "GET", "/p/q?x=1&y=%20", NULL, 1, 0,
	  .f = { [HTTP_F_HOST] = "example.com:8080", [HTTP_F_USER_AGENT] = "curl/8.0",
		 [HTTP_F_TRACEPARENT] = TP, [HTTP_F_CONTENT_LENGTH] = "12",
		 [HTTP_F_CONNECTION] = "keep-alive, Upgrade", [HTTP_F_EXPECT] = "100-Continue",
		 [HTTP_F_UPGRADE] = "websocket", [HTTP_F_X_FORWARDED_FOR] = "1.2.3.4, 5.6.7.8",
		 [HTTP_F_X_FORWARDED_PROTO] = "https", [HTTP_F_X_FORWARDED_HOST] = "h.example",
		 [HTTP_F_FORWARDED] = "for=1.2.3.4;proto=https" },
	  .nts = 2, .ts = { "a=1", "b=2,c=3" }, .cl = 12,
	  .flags = HTTP_HF_CONN_KEEPALIVE | HTTP_HF_CONN_UPGRADE | HTTP_HF_EXPECT_CONTINUE },
	{ "response_1_0", RSP,
	  IN("HTTP/1.0 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n"),
	  0, NULL, NULL, "Not Found", 0, 404,
	  .f = { [HTTP_F_CONNECTION] = "close", [HTTP_F_CONTENT_LENGTH] = "0" }, .cl = 0,
	  .flags = HTTP_HF_CONN_CLOSE },
	{ "response_no_reason", RSP, IN("HTTP/1.1 200\r\n"), 0, NULL, NULL, "", 1, 200, .cl = -1 },
	{ "response_empty_reason", RSP, IN("HTTP/1.1 599 \n"), 0, NULL, NULL, "", 1, 599,
	  .cl = -1 },
	{ "tracestate_10_lines", REQ, IN(TS10), 0, "GET", "/", NULL, 1, 0, .nts = 8,
	  .ts = { "1=a", "2=a", "3=a", "4=a", "5=a", "6=a", "7=a", "8=a" }, .cl = -1,
	  .flags = HTTP_HF_TRACESTATE_MORE },
	{ "duplicates_first_wins", REQ,
	  IN("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\ntraceparent: x\r\nTRACEPARENT: y\r\n"), 0,
	  "GET", "/", NULL, 1, 0, .f = { [HTTP_F_HOST] = "a", [HTTP_F_TRACEPARENT] = "x" },
	  .dup = 1u << HTTP_F_HOST | 1u << HTTP_F_TRACEPARENT, .cl = -1 },
	{ "te_chunked_last", REQ, IN("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n"), 0,
	  "POST", "/", NULL, 1, 0, .f = { [HTTP_F_TRANSFER_ENCODING] = "gzip, Chunked" }, .cl = -1,
	  .flags = HTTP_HF_TE | HTTP_HF_CHUNKED },
	{ "te_chunked_not_last", RSP, IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n"),
	  0, NULL, NULL, "OK", 1, 200, .f = { [HTTP_F_TRANSFER_ENCODING] = "chunked, gzip" },
	  .cl = -1, .flags = HTTP_HF_TE },
	{ "conflicting_length", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n"), 0, "POST", "/", NULL,
	  1, 0, .f = { [HTTP_F_CONTENT_LENGTH] = "5" }, .dup = 1u << HTTP_F_CONTENT_LENGTH,
	  .cl = -1, .flags = HTTP_HF_BAD_LENGTH },
	{ "raw_fold_line_skipped", REQ, IN("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n"), 0, "GET",
	  "/", NULL, 1, 0, .f = { [HTTP_F_HOST] = "h" }, .cl = -1 },
	{ "normalised_fold", REQ, IN("GET / HTTP/1.1\r\nUser-Agent: a    b\r\n"), 0, "GET", "/",
	  NULL, 1, 0, .f = { [HTTP_F_USER_AGENT] = "a    b" }, .cl = -1 },
	{ "no_final_terminator", REQ, IN("OPTIONS * HTTP/1.1\r\nHost: a"), 0, "OPTIONS", "*",
	  NULL, 1, 0, .f = { [HTTP_F_HOST] = "a" }, .cl = -1 },
	{ "empty_value_and_case", REQ, IN("GET http://a/b HTTP/1.1\nUSER-AGENT:\nhOsT: A \n"), 0,
	  "GET", "http://a/b", NULL, 1, 0, .f = { [HTTP_F_USER_AGENT] = "", [HTTP_F_HOST] = "A" },
	  .cl = -1 },
	{ "expect_other", REQ, IN("PUT / HTTP/1.1\r\nExpect: 100-continue-x\r\n"), 0, "PUT", "/",
	  NULL, 1, 0, .f = { [HTTP_F_EXPECT] = "100-continue-x" }, .cl = -1 },
	{ "bad_no_colon", REQ, IN("GET / HTTP/1.1\r\nHost a\r\n"), -EINVAL },
	{ "bad_space_before_colon", REQ, IN("GET / HTTP/1.1\r\nHost : a\r\n"), -EINVAL },
	{ "bad_empty_line_inside", REQ, IN("GET / HTTP/1.1\r\n\r\nHost: a\r\n"), -EINVAL },
	{ "bad_ctl_in_value", REQ, IN("GET / HTTP/1.1\r\nHost: a\x01\r\n"), -EINVAL },
	{ "bad_request_line", REQ, IN("GET /\r\n"), -EINVAL },
	{ "bad_version", REQ, IN("GET / HTTP/1.x\r\n"), -EINVAL },
	{ "bad_extra_token", REQ, IN("GET / HTTP/1.1 x\r\n"), -EINVAL },
	{ "bad_empty", REQ, IN(""), -EINVAL },
	{ "bad_status_4_digits", RSP, IN("HTTP/1.1 2000 OK\r\n"), -EINVAL },
	{ "bad_status_short", RSP, IN("HTTP/1.1 20\r\n"), -EINVAL },
	{ "bad_response_as_request", REQ, IN("HTTP/1.1 200 OK\r\n"), -EINVAL },
	{ "bad_request_as_response", RSP, IN("GET / HTTP/1.1\r\n"), -EINVAL },
};

static void expect_str(const char *name, const char *what, const char *want,
		       const struct http_str *got)
{
	if (!want) {
		if (got->ptr)
			print_error("%s: %s: want absent, got '%.*s'\n", name, what, (int)got->len,
				    got->ptr);
		assert_null(got->ptr);
		return;
	}
	if (!got->ptr || got->len != strlen(want) || memcmp(got->ptr, want, got->len) != 0) {
		print_error("%s: %s: want '%s', got '%.*s'\n", name, what, want,
			    got->ptr ? (int)got->len : 6, got->ptr ? got->ptr : "(null)");
		fail();
	}
}

static void test_head_parse(void **state)
{
	struct http_head h;
	size_t i;
	unsigned k;
	int f;

	(void)state;
	for (i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
		const struct hcase *c = &hcases[i];
		int rc = http_head_parse(c->in, c->len, c->dir, &h);

		if (rc != c->rc)
			print_error("%s: rc %d\n", c->name, rc);
		assert_int_equal(rc, c->rc);
		if (rc < 0)
			continue;
		if (c->dir == REQ) {
			expect_str(c->name, "method", c->method, &h.method);
			expect_str(c->name, "target", c->target, &h.target);
		} else {
			expect_str(c->name, "reason", c->reason, &h.reason);
			assert_int_equal(h.status, c->status);
		}
		assert_int_equal(h.version_minor, c->minor);
		/* the cheap look for a traceparent agrees with the parse on every head */
		assert_int_equal(http_head_has_traceparent(c->in, c->len),
				 h.field[HTTP_F_TRACEPARENT].ptr != NULL);
		for (f = 0; f < HTTP_F_COUNT; f++)
			expect_str(c->name, "field", c->f[f], &h.field[f]);
		assert_int_equal(h.dup, c->dup);
		assert_int_equal(h.ntracestate, c->nts);
		for (k = 0; k < c->nts; k++)
			expect_str(c->name, "tracestate", c->ts[k], &h.tracestate[k]);
		assert_int_equal(h.content_length, c->cl);
		assert_int_equal(h.flags, c->flags);
	}
}

/* http_head_has_traceparent(): a field line of that name in any case, nothing else. */
static void test_has_traceparent(void **state)
{
	static const struct {
		const char *in;
		bool want;
	} t[] = {
	    {"GET / HTTP/1.1\r\ntraceparent: " TP "\r\n", true},
	    {"GET / HTTP/1.1\r\nHost: a\r\nTRACEPARENT:" TP "\r\n", true},
	    {"GET / HTTP/1.1\nHost: a\nTraceParent: x\n", true},
	    {"GET / HTTP/1.1\r\nHost: a\r\ntraceparent:", true},
	    {"GET /traceparent: HTTP/1.1\r\nHost: a\r\n", false},
	    {"GET / HTTP/1.1\r\nx-traceparent: 1\r\n", false},
	    {"GET / HTTP/1.1\r\ntraceparentx: 1\r\n", false},
	    {"GET / HTTP/1.1\r\ntracestate: a=b\r\n", false},
	    {"GET / HTTP/1.1\r\nHost: traceparent: 1\r\n", false},
	    {"GET / HTTP/1.1\r\ntraceparent", false},
	    {"GET / HTTP/1.1\r\ntrace[arent: 1\r\n", false},
	    {"traceparent: 1\r\n", false},
	    {"", false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (http_head_has_traceparent(t[i].in, strlen(t[i].in)) != t[i].want)
			print_error("case %zu: want %d\n", i, t[i].want);
		assert_int_equal(http_head_has_traceparent(t[i].in, strlen(t[i].in)), t[i].want);
	}
}

/* The fold the parser normalises comes out as one value from the captured head. */
static void test_fold_capture(void **state)
{
	static const char in[] = "GET / HTTP/1.1\r\nUser-Agent: a\r\n b\r\n\tc\r\nHost: h\r\n\r\n";
	struct http_parser p;
	struct http_event ev;
	struct http_head h;
	char buf[256];
	size_t n;

	(void)state;
	http_parser_init(&p, REQ);
	assert_int_equal(http_parser_attach_buffer(&p, buf, sizeof(buf)), 0);
	n = http_parser_feed(&p, in, L(in), &ev);
	assert_int_equal(ev.type, HTTP_EV_HEAD_END);
	assert_int_equal(n, L(in) - 2);
	assert_int_equal(http_head_parse(ev.head, ev.head_len, REQ, &h), 0);
	expect_str("fold", "user-agent", "a   b  \tc", &h.field[HTTP_F_USER_AGENT]);
	expect_str("fold", "host", "h", &h.field[HTTP_F_HOST]);
}

/* --- Content-Length and Transfer-Encoding rules ------------------------------------------ */

struct fcase {
	const char *lines; /* field values, '\n' between lines */
	int bad;           /* CL: invalid; TE: -1 = not present */
	uint64_t val;      /* CL value; TE: chunked */
};

static const struct fcase clcases[] = {
	{ "0", 0, 0 },
	{ " 42 ", 0, 42 },
	{ "\t7\t", 0, 7 },
	{ "5,5", 0, 5 },
	{ "5 , 5,5", 0, 5 },
	{ "5\n5", 0, 5 },
	{ "5\n 5 , 5", 0, 5 },
	{ "123456789012345678", 0, 123456789012345678ull },
	{ "1234567890123456789", 1, 0 },
	{ "00000000000000000001", 1, 0 },
	{ "", 1, 0 },
	{ " ", 1, 0 },
	{ "5,", 1, 0 },
	{ ",5", 1, 0 },
	{ "5,,5", 1, 0 },
	{ "5,6", 1, 0 },
	{ "5\n6", 1, 0 },
	{ "+5", 1, 0 },
	{ "-1", 1, 0 },
	{ "5 5", 1, 0 },
	{ "0x10", 1, 0 },
	{ "5;", 1, 0 },
	{ "5\n", 1, 0 },
};

static const struct fcase tecases[] = {
	{ "chunked", 0, 1 },
	{ "CHUNKED", 0, 1 },
	{ " chunked ", 0, 1 },
	{ "gzip, chunked", 0, 1 },
	{ "gzip,chunked,", 0, 1 },
	{ "gzip\nchunked", 0, 1 },
	{ "chunked\n", 0, 1 },
	{ "chunked, gzip", 0, 0 },
	{ "chunked\ngzip", 0, 0 },
	{ "chunked;q=1", 0, 0 },
	{ "chunkedx", 0, 0 },
	{ "chunke", 0, 0 },
	{ "chun ked", 0, 0 },
	{ "\"chunked\"", 0, 0 },
	{ "identity", 0, 0 },
	{ "", 0, 0 },
	{ "gzip;level=1, chunked", 0, 1 },
};

static void feed_lines(const char *s, void (*byte)(void *, unsigned char), void (*end)(void *),
		       void *st)
{
	for (; *s; s++) {
		if (*s == '\n')
			end(st);
		else
			byte(st, (unsigned char)*s);
	}
	end(st);
}

static void clb(void *s, unsigned char c)
{
	http_cl_byte(s, c);
}
static void cle(void *s)
{
	http_cl_line_end(s);
}
static void teb(void *s, unsigned char c)
{
	http_te_byte(s, c);
}
static void tee(void *s)
{
	http_te_line_end(s);
}

static void test_framing_rules(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(clcases) / sizeof(clcases[0]); i++) {
		struct http_cl cl = { 0 };

		feed_lines(clcases[i].lines, clb, cle, &cl);
		if (cl.bad != clcases[i].bad)
			print_error("content-length '%s': bad %d\n", clcases[i].lines, cl.bad);
		assert_int_equal(cl.bad, clcases[i].bad);
		if (!cl.bad) {
			assert_true(cl.seen);
			assert_int_equal(cl.val, clcases[i].val);
		}
	}
	for (i = 0; i < sizeof(tecases) / sizeof(tecases[0]); i++) {
		struct http_te te = { 0 };

		feed_lines(tecases[i].lines, teb, tee, &te);
		if (te.chunked != tecases[i].val)
			print_error("transfer-encoding '%s': chunked %d\n", tecases[i].lines,
				    te.chunked);
		assert_true(te.present);
		assert_int_equal(te.chunked, tecases[i].val);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_parse),
		cmocka_unit_test(test_fold_capture),
		cmocka_unit_test(test_has_traceparent),
		cmocka_unit_test(test_framing_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
