/*
 * test_agent_http_fast.c - the parser's whole-line fast path (agent/http_head_fast.c) against
 * its byte machine, and http_head_parse() on realistic heads.
 *
 * The fast path only takes lines that lie whole in a chunk of 13 bytes and more (32 for field
 * lines), so feeding a message one byte at a time never uses it: that run is the oracle. Each
 * input here is also fed as one chunk (the fast path takes every line it can), split in two at
 * every offset, and without a head buffer; all runs must produce the oracle's events at the
 * same offsets, and every captured head must be the input's bytes. The table holds realistic
 * heads (nginx's response, a browser-like request) and the cases where the fast path must
 * step aside: HTAB, obs-text, DEL, NUL and bare CR in values, names with digits or '_' or of 16
 * bytes and more, framing headers in every form, short chunks. Then a deterministic generator
 * builds thousands of heads from such pieces. Explicit expectations pin the oracle itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_head.h"
#include "http_parser.h"

#define L(s) (sizeof(s) - 1)
#define MAXEV 24
#define MAXIN 1024

struct ev {
	int type;
	size_t off;
	unsigned flags;
	int status, body, reason, minor;
	uint64_t cl;
};

struct run {
	struct ev ev[MAXEV];
	int n;
};

static char headbuf[HTTP_HEAD_MAX + 16];

/* Feed in[0..len) in chunks of `chunk` bytes (0: one chunk), or split at `cut` when chunk is
 * SIZE_MAX. The head buffer is lent on NEED_BUFFER unless nobuf; captured heads are checked
 * against the input. Events are recorded at absolute offsets, TOO_LARGE left out and
 * HTTP_EVF_TRUNCATED masked, so that runs with and without a buffer compare equal. */
static void feed(int dir, const char *in, size_t len, size_t chunk, size_t cut, int nobuf,
		 struct run *r)
{
	struct http_parser p;
	struct http_event e;
	size_t base = 0, head_start = 0, clen, n, i, k;
	int dead = 0;

	memset(r, 0, sizeof(*r));
	http_parser_init(&p, dir);
	while (base < len && !dead) {
		clen = chunk == 0 ? len - base : chunk == SIZE_MAX ? (base < cut ? cut : len) - base
								   : chunk;
		if (clen > len - base)
			clen = len - base;
		for (i = 0; i < clen && !dead; i += n) {
			n = http_parser_feed(&p, in + base + i, clen - i, &e);
			assert_true(n <= clen - i);
			if (e.type == HTTP_EV_NEED_BUFFER) {
				head_start = base + i + e.off;
				assert_int_equal(http_parser_attach_buffer(
							 &p, nobuf ? NULL : headbuf,
							 nobuf ? 0 : sizeof(headbuf)),
						 0);
				continue;
			}
			if (e.type == HTTP_EV_HEAD_END && e.head) {
				/* the input's bytes, obs-folds' line breaks turned into spaces */
				assert_int_equal(e.head_len, base + i + e.off - head_start);
				for (k = 0; k < e.head_len; k++) {
					char c = in[head_start + k];

					assert_true(e.head[k] == c ||
						    (e.head[k] == ' ' && (c == '\r' || c == '\n')));
				}
			}
			if (e.type == HTTP_EV_NONE || e.type == HTTP_EV_TOO_LARGE)
				continue;
			assert_true(r->n < MAXEV);
			r->ev[r->n].type = e.type;
			r->ev[r->n].off = base + i + e.off;
			r->ev[r->n].flags = e.flags & ~(unsigned)HTTP_EVF_TRUNCATED;
			r->ev[r->n].status = e.status;
			r->ev[r->n].body = e.body;
			r->ev[r->n].reason = e.reason;
			r->ev[r->n].minor = e.version_minor;
			r->ev[r->n].cl = e.content_length;
			r->n++;
			dead = e.type == HTTP_EV_NOT_HTTP;
		}
		base += clen;
	}
}

static void same(const char *name, const char *how, size_t at, const struct run *want,
		 const struct run *got)
{
	int i;

	for (i = 0; i < want->n || i < got->n; i++) {
		if (i < want->n && i < got->n &&
		    memcmp(&want->ev[i], &got->ev[i], sizeof(struct ev)) == 0)
			continue;
		print_error("%s (%s %zu): event %d: want type %d off %zu reason %d, got type %d "
			    "off %zu reason %d\n",
			    name, how, at, i, i < want->n ? want->ev[i].type : -1,
			    i < want->n ? want->ev[i].off : 0, i < want->n ? want->ev[i].reason : 0,
			    i < got->n ? got->ev[i].type : -1, i < got->n ? got->ev[i].off : 0,
			    i < got->n ? got->ev[i].reason : 0);
		fail();
	}
}

/* Every way of feeding `in` gives the oracle's events; returns the oracle's run. */
static void check_all(const char *name, int dir, const char *in, size_t len, struct run *oracle)
{
	struct run r;
	size_t k;

	assert_true(len <= MAXIN);
	feed(dir, in, len, 1, 0, 0, oracle);
	feed(dir, in, len, 0, 0, 0, &r);
	same(name, "one chunk", 0, oracle, &r);
	feed(dir, in, len, 0, 0, 1, &r);
	same(name, "one chunk, no buffer", 0, oracle, &r);
	feed(dir, in, len, 1, 0, 1, &r);
	same(name, "bytes, no buffer", 0, oracle, &r);
	for (k = 1; k < len; k++) {
		feed(dir, in, len, SIZE_MAX, k, 0, &r);
		same(name, "split at", k, oracle, &r);
	}
	for (k = 7; k < 40; k += 11) {
		feed(dir, in, len, k, 0, k & 1, &r);
		same(name, "chunks of", k, oracle, &r);
	}
}

/* --- realistic heads and the cases the fast path leaves to the byte machine ------------- */

#define RSP_NGINX                                                                            \
	"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 22 Nov 2026 02:00:00 GMT\r\n"     \
	"Content-Type: text/html\r\nContent-Length: 612\r\n"                                    \
	"Last-Modified: Tue, 11 Apr 2023 01:45:34 GMT\r\nConnection: keep-alive\r\n"            \
	"ETag: \"64353c4e-264\"\r\nAccept-Ranges: bytes\r\n\r\n"
#define REQ_BROWSER                                                                          \
	"GET /api/v1/items/12345 HTTP/1.1\r\nHost: service.internal:8080\r\n"                   \
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/2010\r\nAccept: application/json\r\n" \
	"Accept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\n"                 \
	"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"              \
	"Connection: keep-alive\r\nX-Request-Id: 7a3c\r\n\r\n"
#define PAD "X-Padding-Header: 0123456789abcdef0123456789abcdef\r\n"

struct fcase {
	const char *name;
	int dir;
	const char *in;
	size_t len;
};

#define REQ HTTP_DIR_REQUEST
#define RSP HTTP_DIR_RESPONSE
#define IN(s) (s), L(s)

static const struct fcase fcases[] = {
	{ "nginx_response", RSP, IN(RSP_NGINX "body") },
	{ "browser_request", REQ, IN(REQ_BROWSER) },
	{ "pipelined_requests", REQ, IN(REQ_BROWSER REQ_BROWSER "GET / HTTP/1.1\r\n\r\n") },
	{ "response_chunked", RSP,
	  IN("HTTP/1.1 200 OK\r\n" PAD "Transfer-Encoding: chunked\r\n" PAD
	     "\r\n5\r\nhello\r\n0\r\n\r\n") },
	{ "te_forms", RSP,
	  IN("HTTP/1.1 200 OK\r\n" PAD "Transfer-Encoding:  CHUNKED \t\r\n" PAD "\r\n0\r\n\r\n"
	     "HTTP/1.1 200 OK\r\n" PAD "transfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
	     "HTTP/1.1 200 OK\r\n" PAD "Transfer-Encoding: chunked;x=1\r\n\r\nabc") },
	{ "cl_forms", REQ,
	  IN("POST /a HTTP/1.1\r\n" PAD "content-length:\t7 \r\n" PAD "\r\n1234567"
	     "POST /b HTTP/1.1\r\n" PAD "Content-Length: 3, 3\r\nCONTENT-LENGTH: 3\r\n" PAD
	     "\r\nabc"
	     "POST /c HTTP/1.1\r\n" PAD "Content-Length: 0\r\n\r\n") },
	{ "cl_conflict", REQ,
	  IN("POST / HTTP/1.1\r\n" PAD "Content-Length: 5\r\n" PAD "Content-Length: 6\r\n"
	     "\r\nxxxxx") },
	{ "cl_invalid", RSP, IN("HTTP/1.1 200 OK\r\n" PAD "Content-Length: 1x\r\n" PAD "\r\n") },
	{ "cl_19_digits", RSP,
	  IN("HTTP/1.1 200 OK\r\n" PAD "Content-Length: 1234567890123456789\r\n" PAD "\r\n") },
	{ "cl_lookalikes", REQ,
	  IN("POST / HTTP/1.1\r\nAccept-Charset: utf-8, iso-8859-1\r\nContent-Lengthy: 99\r\n"
	     "Content-Lengt: 98\r\n" PAD "CONTENT-length: 2\r\n\r\nok") },
	{ "te_lookalikes", RSP,
	  IN("HTTP/1.1 200 OK\r\nTransfer-Encodings: chunked\r\nTransfer-Encodinx: chunked\r\n"
	     "Content-Length: 2\r\n" PAD "\r\nok") },
	{ "htab_in_values", RSP,
	  IN("HTTP/1.1 200\tOK\r\n" PAD "X-Tabbed: a\tb\t\tc and more text to be long\r\n"
	     "X-Tab-End:\tvalue\t\r\nContent-Length: 1\r\n\r\nz") },
	{ "obs_text", RSP,
	  IN("HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\n" PAD
	     "Content-Disposition: attachment; filename=\xe2\x82\xac-price.txt\r\n"
	     "X-High: \xff\xfe\x80\r\nContent-Length: 0\r\n\r\n") },
	{ "del_in_value", REQ,
	  IN("GET / HTTP/1.1\r\n" PAD "X-Bad: abc\x7f"
	     "def and some more\r\n\r\n") },
	{ "nul_in_long_value", REQ,
	  IN("GET / HTTP/1.1\r\n" PAD "X-Bad: 0123456789abcdefghij\0klmnopqrstuvwxyz\r\n\r\n") },
	{ "bare_cr_in_long_value", RSP,
	  IN("HTTP/1.1 200 OK\r\n" PAD "X-Bad: 0123456789abcdefghij\rContent-Length: 5\r\n\r\n") },
	{ "cr_before_blank", RSP, IN("HTTP/1.1 200 OK\r\n" PAD PAD "\r\r\n") },
	{ "vt_in_value", REQ,
	  IN("GET / HTTP/1.1\r\n" PAD "X-Bad: a\x0b b c d e f g h i j k\r\n\r\n") },
	{ "names_unusual", REQ,
	  IN("GET / HTTP/1.1\r\nX-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
	     "x_underscore_name: value value value value\r\n"
	     "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
	     "A: short\r\n!#$%&'*+.^_`|~: token characters\r\n"
	     "ThisIsAVeryLongHeaderNameOfMoreThanSixteen: x\r\n" PAD "\r\n") },
	{ "name_space_before_colon", REQ,
	  IN("GET / HTTP/1.1\r\n" PAD "Content-Length : 5\r\n\r\n") },
	{ "name_bad_char", REQ,
	  IN("GET / HTTP/1.1\r\n" PAD "Bad(Name): value value value value\r\n\r\n") },
	{ "name_missing_colon", RSP,
	  IN("HTTP/1.1 200 OK\r\n" PAD "NoColonOnThisLineAtAll\r\n\r\n") },
	{ "empty_name", RSP, IN("HTTP/1.1 200 OK\r\n" PAD ": empty name here and more\r\n\r\n") },
	{ "obs_fold", REQ,
	  IN("GET / HTTP/1.1\r\n" PAD "X-Folded: first part of the value\r\n  second part here\r\n"
	     PAD "\r\n") },
	{ "obs_fold_on_cl", REQ,
	  IN("POST / HTTP/1.1\r\n" PAD "Content-Length: 5\r\n 5\r\n\r\nhello") },
	{ "bare_lf", RSP,
	  IN("HTTP/1.1 200 OK\nServer: a-server-name-that-is-long\nContent-Length: 3\n"
	     "X-Another-Long-Header: value value\n\nabc") },
	{ "mixed_terminators", REQ, IN("GET / HTTP/1.1\n" PAD "X-Mixed: yes it is\n" PAD "\n") },
	{ "status_lines", RSP,
	  IN("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 404\r\n" PAD "\r\nbody until eof") },
	{ "status_bad", RSP, IN("HTTP/1.1 099 Not A Status That Is Valid\r\n" PAD "\r\n") },
	{ "status_no_space", RSP, IN("HTTP/1.1 200OK and more bytes on the line\r\n\r\n") },
	{ "http2_version", RSP, IN("HTTP/2.0 200 OK with a long reason phrase\r\n\r\n") },
	{ "methods", REQ,
	  IN("HEAD /h HTTP/1.1\r\n" PAD "\r\nM-SEARCH * HTTP/1.1\r\n\r\n"
	     "X_CUSTOM_METHOD2 /x HTTP/1.1\r\n\r\nVERYLONGMETHODNAMEOFMORETHAN16 / HTTP/1.0\r\n\r\n"
	     "CONNECT h:443 HTTP/1.1\r\n" PAD "\r\n") },
	{ "pri_preface", REQ, IN("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nand more bytes to be long") },
	{ "http09_long", REQ, IN("GET /a/path/that/is/rather/long/for/the/fast/path\r\n\r\n") },
	{ "target_bad", REQ, IN("GET /a\x7f" "b HTTP/1.1\r\n" PAD "\r\n") },
	{ "leading_blank_lines", REQ, IN("\r\n\r\n" REQ_BROWSER) },
	{ "tls", RSP,
	  IN("\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03 and more bytes for a chunk") },
};

#define NF (sizeof(fcases) / sizeof(fcases[0]))

static void test_fast_equals_bytes(void **state)
{
	struct run oracle;
	size_t i;

	(void)state;
	for (i = 0; i < NF; i++)
		check_all(fcases[i].name, fcases[i].dir, fcases[i].in, fcases[i].len, &oracle);
}

/* The oracle itself on a few inputs: hand-checked events. */
static void test_oracle(void **state)
{
	struct run r;

	(void)state;
	check_all("nginx", RSP, IN(RSP_NGINX "body"), &r);
	assert_int_equal(r.n, 1); /* the body is shorter than 612: no MESSAGE_END */
	assert_int_equal(r.ev[0].type, HTTP_EV_HEAD_END);
	assert_int_equal(r.ev[0].off, L(RSP_NGINX) - 2);
	assert_int_equal(r.ev[0].status, 200);
	assert_int_equal(r.ev[0].body, HTTP_BODY_LENGTH);
	assert_int_equal(r.ev[0].cl, 612);

	check_all("browser", REQ, IN(REQ_BROWSER), &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].off, L(REQ_BROWSER) - 2);
	assert_int_equal(r.ev[0].minor, 1);
	assert_int_equal(r.ev[1].type, HTTP_EV_MESSAGE_END);
	assert_int_equal(r.ev[1].off, L(REQ_BROWSER));

	/* a bare CR is refused where the byte machine meets it */
	check_all("bare_cr", RSP,
		  IN("HTTP/1.1 200 OK\r\n" PAD "X-Bad: 0123456789abcdefghij\rC\r\n\r\n"), &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].type, HTTP_EV_NOT_HTTP);
	assert_int_equal(r.ev[0].reason, HTTP_R_HEADER);
	assert_int_equal(r.ev[0].off,
			 L("HTTP/1.1 200 OK\r\n" PAD "X-Bad: 0123456789abcdefghij") + 1);

	/* DEL in a value */
	check_all("del", REQ,
		  IN("GET / HTTP/1.1\r\n" PAD "X: ab\x7f"
		     "cdefghijklmnopqrstuvwxyz\r\n\r\n"),
		  &r);
	assert_int_equal(r.ev[0].type, HTTP_EV_NOT_HTTP);
	assert_int_equal(r.ev[0].off, L("GET / HTTP/1.1\r\n" PAD "X: ab"));

	/* chunked after a long head, then the next response */
	check_all("chunked", RSP,
		  IN("HTTP/1.1 200 OK\r\n" PAD "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
		     "HTTP/1.1 204 No Content\r\n" PAD "\r\n"),
		  &r);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.ev[0].body, HTTP_BODY_CHUNKED);
	assert_int_equal(r.ev[2].status, 204);
	assert_int_equal(r.ev[3].off,
			 L("HTTP/1.1 200 OK\r\n" PAD "Transfer-Encoding: chunked\r\n\r\n"
			   "0\r\n\r\nHTTP/1.1 204 No Content\r\n" PAD "\r\n"));
}

/* --- generated heads --------------------------------------------------------------------- */

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static const char *const names[] = {
	"Host", "Content-Length", "content-length", "Transfer-Encoding", "Connection", "Server",
	"X-Forwarded-For", "Accept-Charset", "X-B3-Sampled", "x_y", "A", "Content-Type",
	"X-A-Rather-Long-Header-Name", "ETag", "Bad Name", "Bad(", "",
};
static const char *const values[] = {
	" 5", " 12", "3, 3", " 0 ", " chunked", "gzip, chunked", " keep-alive", " text/html",
	" a value that is long enough to need a second block of sixteen", "\tx\t", " \xc3\xa9",
	" a\x7f", " b\rc", " d\0e", "", " 1x", " 99999999999999999999",
};
static const char *const terms[] = { "\r\n", "\r\n", "\r\n", "\n", "\r" };

/* One message head (and a little body) from random pieces into buf; returns its length. */
static size_t gen(uint32_t *x, int dir, char *buf, size_t cap)
{
	size_t n = 0, k, nl = rnd(x) % 9, i;
	const char *start = dir == REQ ? "POST /p HTTP/1.1\r\n" : "HTTP/1.1 200 OK\r\n";
	const char *s;

#define PUT(str, len)                                                                        \
	do {                                                                                 \
		if (n + (len) < cap) {                                                       \
			memcpy(buf + n, (str), (len));                                       \
			n += (len);                                                          \
		}                                                                            \
	} while (0)
	PUT(start, strlen(start));
	for (i = 0; i < nl; i++) {
		s = names[rnd(x) % (sizeof(names) / sizeof(names[0]))];
		PUT(s, strlen(s));
		if (rnd(x) % 16)
			PUT(":", 1);
		k = rnd(x) % (sizeof(values) / sizeof(values[0]));
		/* values hold NULs: their lengths are those of the literals */
		PUT(values[k], k == 13 ? 4 : strlen(values[k]));
		s = terms[rnd(x) % (sizeof(terms) / sizeof(terms[0]))];
		PUT(s, strlen(s));
		if (rnd(x) % 8 == 0)
			PUT(PAD, L(PAD));
	}
	PUT("\r\n0123456789abcdef", 2 + rnd(x) % 17);
	return n;
#undef PUT
}

static void test_generated(void **state)
{
	static char buf[MAXIN];
	struct run oracle, r;
	uint32_t x = 0x2545f491;
	size_t len, k;
	int t, dir;

	(void)state;
	for (t = 0; t < 3000; t++) {
		dir = t & 1 ? RSP : REQ;
		len = gen(&x, dir, buf, 600);
		len += gen(&x, dir, buf + len, 600); /* pipelined */
		feed(dir, buf, len, 1, 0, 0, &oracle);
		feed(dir, buf, len, 0, 0, 0, &r);
		same("generated", "one chunk", (size_t)t, &oracle, &r);
		feed(dir, buf, len, 0, 0, 1, &r);
		same("generated", "no buffer", (size_t)t, &oracle, &r);
		k = rnd(&x) % (len + 1);
		feed(dir, buf, len, SIZE_MAX, k, 0, &r);
		same("generated", "split at", k, &oracle, &r);
	}
}

/* --- http_head_parse on the realistic heads ---------------------------------------------- */

static void expect_field(const struct http_head *h, int f, const char *want)
{
	assert_non_null(h->field[f].ptr);
	assert_int_equal(h->field[f].len, strlen(want));
	assert_memory_equal(h->field[f].ptr, want, strlen(want));
}

static void test_head_parse(void **state)
{
	static const char head[] = REQ_BROWSER;
	static const char rsp[] = RSP_NGINX;
	struct http_head h;

	(void)state;
	assert_int_equal(http_head_parse(head, L(head) - 2, REQ, &h), 0);
	assert_int_equal(h.method.len, 3);
	assert_int_equal(h.target.len, L("/api/v1/items/12345"));
	expect_field(&h, HTTP_F_HOST, "service.internal:8080");
	expect_field(&h, HTTP_F_USER_AGENT, "Mozilla/5.0 (X11; Linux x86_64) Gecko/2010");
	expect_field(&h, HTTP_F_TRACEPARENT,
		     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	expect_field(&h, HTTP_F_CONNECTION, "keep-alive");
	assert_int_equal(h.flags, HTTP_HF_CONN_KEEPALIVE);
	assert_int_equal(h.content_length, -1);
	assert_int_equal(h.ntracestate, 0);

	assert_int_equal(http_head_parse(rsp, L(rsp) - 2, RSP, &h), 0);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.content_length, 612);
	expect_field(&h, HTTP_F_CONNECTION, "keep-alive");

	/* the case-folded compares: connection tokens in any case, lookalikes not matched */
	assert_int_equal(http_head_parse(IN("GET / HTTP/1.1\r\nCONNECTION: Close, UPGRADE\r\n"
					    "Expect: 100-CONTINUE\r\nConnectio: keep-alive\r\n"
					    "Connection: keep-alivf, closed\r\n"),
					 REQ, &h),
			 0);
	assert_int_equal(h.flags, HTTP_HF_CONN_CLOSE | HTTP_HF_CONN_UPGRADE |
					  HTTP_HF_EXPECT_CONTINUE);
	assert_int_equal(h.dup, 1u << HTTP_F_CONNECTION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_equals_bytes),
		cmocka_unit_test(test_oracle),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_head_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
