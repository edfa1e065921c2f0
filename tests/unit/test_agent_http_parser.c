/*
 * test_agent_http_parser.c - the incremental HTTP/1.x parser and head field extraction.
 *
 * The framing table lists message sequences with the events they must produce, offsets being
 * absolute in the whole input (lengths of named pieces, so each number says what it is). Every
 * case is replayed as one chunk, split in two at every offset, one byte at a time, and in
 * pseudo-random three-way splits; each run must give exactly the table's events. The replay
 * also checks the per-call contract (return values, offsets inside the chunk), that a captured
 * head is the input's bytes up to the blank line, and that http_head_parse() agrees with the
 * parser's framing on it. Then: sendfile skips, the buffer API, and a rough cost measurement.
 * Field extraction and the framing-header rules are in test_agent_http_head.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "http_head.h"
#include "http_parser.h"

#define L(s) (sizeof(s) - 1)
#define MAXEV 16

struct xev {
	int type;
	size_t off; /* absolute */
	unsigned flags;
	int status;
	int body;
	uint64_t cl;
	int reason;
};

#define HE(o, f, b, n) { HTTP_EV_HEAD_END, (o), (f), 0, (b), (n), 0 }
#define RHE(o, f, st, b, n) { HTTP_EV_HEAD_END, (o), (f), (st), (b), (n), 0 }
#define ME(o, f) { HTTP_EV_MESSAGE_END, (o), (f), 0, 0, 0, 0 }
#define NH(o, r) { HTTP_EV_NOT_HTTP, (o), 0, 0, 0, 0, (r) }
#define TL(o) { HTTP_EV_TOO_LARGE, (o), 0, 0, 0, 0, 0 }
#define INC(o) { HTTP_EV_INCOMPLETE, (o), 0, 0, 0, 0, 0 }

#define NOBUF ((size_t)-1) /* the harness declines every NEED_BUFFER */

struct pcase {
	const char *name;
	int dir;
	const char *in;
	size_t len;
	unsigned expect[4]; /* http_parser_expect_response() before response k */
	size_t cap;         /* head buffer lent on NEED_BUFFER; 0 = HTTP_HEAD_MAX */
	int eof;            /* call http_parser_eof() at the end */
	struct xev ev[MAXEV];
};

#define REQ HTTP_DIR_REQUEST
#define RSP HTTP_DIR_RESPONSE
#define IN(s) .in = (s), .len = L(s)
#define B_NONE HTTP_BODY_NONE
#define B_LEN HTTP_BODY_LENGTH
#define B_CH HTTP_BODY_CHUNKED
#define B_EOF HTTP_BODY_EOF
#define F_INT HTTP_EVF_INTERIM
#define F_UPG HTTP_EVF_UPGRADE
#define F_TRUNC HTTP_EVF_TRUNCATED

/* --- pieces of the inputs ---------------------------------------------------------------- */

#define GET1 "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n"
#define GET10 "GET /index.html?q=1 HTTP/1.0\r\n"
#define POST5 "POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
#define POST0 "POST /api HTTP/1.1\r\nContent-Length: 0\r\n"
#define CHH "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
#define CHB                                                                                  \
	"\r\n5;name=val;q=\"a b\"\r\nhello\r\nA ; x\r\n0123456789\r\n0;last\r\n"             \
	"X-Trailer: t\r\nX-Other: u\r\n\r\n"
#define CHB2 "\r\n1F\r\n0123456789abcdef0123456789abcde\r\n0000a\r\n0123456789\r\n0\r\n\r\n"
#define PA "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
#define PB "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
#define PC "GET /c HTTP/1.1\r\nHost: h\r\n\r\n"
#define MX1 "POST /m HTTP/1.1\r\nContent-Length: 3\r\n"
#define MX2 "PUT /n HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
#define MX2B "\r\n2\r\nab\r\n0\r\n\r\n"
#define MX3 "DELETE /o HTTP/1.1\r\n"
#define LF1 "GET / HTTP/1.1\nHost: a\n"
#define MIX1 "GET / HTTP/1.1\r\nHost: a\nX: b\r\n"
#define FOLD1 "GET / HTTP/1.1\r\nX-Long: a\r\n  b\r\n\tc\r\nHost: h\r\n"
#define FOLDCL "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
#define FIRST "GET / HTTP/1.1\r\n"
#define CL56 "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
#define CL55 "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\ncontent-length:5 \r\n"
#define CLPLUS "POST / HTTP/1.1\r\nContent-Length: +5\r\n"
#define TECL "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n"
#define TEGZ "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
#define TE10 "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
#define CHUNKED_H "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
#define BIGH "GET /a/rather/long/path HTTP/1.1\r\nHost: example.com\r\nCookie: 0123456789\r\n"
#define EXPC "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n"
#define CONN "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
#define HEADM "HEAD /x HTTP/1.1\r\nHost: h\r\n"
#define LOOK                                                                                 \
	"POST / HTTP/1.1\r\nContent-Type: a\r\nContent-Lengths: 9\r\n"                        \
	"Transfer-Encodings: chunked\r\nTE: chunked\r\ncontent-LENGTH: 2\r\n"
#define R200 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
#define RCH "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
#define RCHB "\r\n3\r\nabc\r\n0\r\nExpires: x\r\n\r\n"
#define RHEAD1 "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
#define RHEAD2 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
#define R204 "HTTP/1.1 204 No Content\r\n"
#define R200Z "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
#define R304 "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n"
#define R100 "HTTP/1.1 100 Continue\r\n"
#define R103 "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n"
#define R200A "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
#define R101 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
#define RCLOSE "HTTP/1.1 200 OK\r\nConnection: close\r\n"
#define R10 "HTTP/1.0 200 OK\r\n"
#define RKA1 "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n"
#define RKA3 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
#define RGZ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
#define RNOR "HTTP/1.1 200\r\nContent-Length: 0\r\n"
#define RCON "HTTP/1.1 200 Connection established\r\n"
#define R407 "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 3\r\n"
#define RCL56 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
#define RLF "HTTP/1.1 200 OK\nContent-Length: 3\n"
#define RBIG "HTTP/1.1 200 OK\r\nServer: a-server-with-a-long-name\r\nContent-Length: 2\r\n"
#define RTECL "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
#define R10TE "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n"
#define RX1 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
#define RX2 "HTTP/1.1 204 No\r\n"

static const struct pcase cases[] = {
	/* requests */
	{ "get", REQ, IN(GET1 "\r\n"), .ev = { HE(L(GET1), 0, B_NONE, 0), ME(L(GET1) + 2, 0) } },
	{ "get_1_0_no_headers", REQ, IN(GET10 "\r\n"),
	  .ev = { HE(L(GET10), 0, B_NONE, 0), ME(L(GET10) + 2, 0) } },
	{ "post_content_length", REQ, IN(POST5 "\r\nhello"),
	  .ev = { HE(L(POST5), 0, B_LEN, 5), ME(L(POST5) + 7, 0) } },
	{ "post_content_length_0", REQ, IN(POST0 "\r\n"),
	  .ev = { HE(L(POST0), 0, B_NONE, 0), ME(L(POST0) + 2, 0) } },
	{ "chunked_ext_trailers", REQ, IN(CHH CHB),
	  .ev = { HE(L(CHH), 0, B_CH, 0), ME(L(CHH) + L(CHB), 0) } },
	{ "chunked_hex_leading_zeros", REQ, IN(CHH CHB2),
	  .ev = { HE(L(CHH), 0, B_CH, 0), ME(L(CHH) + L(CHB2), 0) } },
	{ "pipelined_3_get", REQ, IN(PA PB PC),
	  .ev = { HE(L(PA) - 2, 0, B_NONE, 0), ME(L(PA), 0),
		  HE(L(PA) + L(PB) - 2, 0, B_NONE, 0), ME(L(PA) + L(PB), 0),
		  HE(L(PA PB PC) - 2, 0, B_NONE, 0), ME(L(PA PB PC), 0) } },
	{ "pipelined_length_chunked_none", REQ, IN(MX1 "\r\nabc" MX2 MX2B MX3 "\r\n"),
	  .ev = { HE(L(MX1), 0, B_LEN, 3), ME(L(MX1) + 5, 0),
		  HE(L(MX1) + 5 + L(MX2), 0, B_CH, 0), ME(L(MX1) + 5 + L(MX2 MX2B), 0),
		  HE(L(MX1 "\r\nabc" MX2 MX2B MX3), 0, B_NONE, 0),
		  ME(L(MX1 "\r\nabc" MX2 MX2B MX3) + 2, 0) } },
	{ "bare_lf", REQ, IN(LF1 "\n"), .ev = { HE(L(LF1), 0, B_NONE, 0), ME(L(LF1) + 1, 0) } },
	{ "mixed_crlf_lf", REQ, IN(MIX1 "\n"),
	  .ev = { HE(L(MIX1), 0, B_NONE, 0), ME(L(MIX1) + 1, 0) } },
	{ "obs_fold_accepted", REQ, IN(FOLD1 "\r\n"),
	  .ev = { HE(L(FOLD1), 0, B_NONE, 0), ME(L(FOLD1) + 2, 0) } },
	{ "obs_fold_on_content_length", REQ, IN(FOLDCL " 5\r\n\r\nhello"),
	  .ev = { NH(L(FOLDCL), HTTP_R_HEADER) } },
	{ "obs_fold_after_start_line", REQ, IN(FIRST " X: a\r\n\r\n"),
	  .ev = { NH(L(FIRST), HTTP_R_HEADER) } },
	{ "http_0_9", REQ, IN("GET /\r\n"), .ev = { NH(5, HTTP_R_HTTP09) } },
	{ "double_space", REQ, IN("GET  / HTTP/1.1\r\n\r\n"), .ev = { NH(4, HTTP_R_START_LINE) } },
	{ "missing_version", REQ, IN("GET / \r\n\r\n"), .ev = { NH(6, HTTP_R_START_LINE) } },
	{ "unknown_methods", REQ, IN("PURGE /c HTTP/1.1\r\n\r\nM-SEARCH * HTTP/1.1\r\n\r\n"),
	  .ev = { HE(19, 0, B_NONE, 0), ME(21, 0), HE(42, 0, B_NONE, 0), ME(44, 0) } },
	{ "conflicting_content_length", REQ, IN(CL56 "\r\nhello!"),
	  .ev = { NH(L(CL56), HTTP_R_LENGTH) } },
	{ "identical_content_lengths", REQ, IN(CL55 "\r\nhello"),
	  .ev = { HE(L(CL55), 0, B_LEN, 5), ME(L(CL55) + 7, 0) } },
	{ "content_length_sign", REQ, IN(CLPLUS "\r\nhello"),
	  .ev = { NH(L(CLPLUS), HTTP_R_LENGTH) } },
	{ "chunked_wins_over_length", REQ, IN(TECL "\r\n2\r\nab\r\n0\r\n\r\n"),
	  .ev = { HE(L(TECL), 0, B_CH, 0), ME(L(TECL) + 14, 0) } },
	{ "request_te_not_chunked", REQ, IN(TEGZ "\r\nxx"),
	  .ev = { NH(L(TEGZ), HTTP_R_TRANSFER) } },
	{ "request_te_http_1_0", REQ, IN(TE10 "\r\n0\r\n\r\n"),
	  .ev = { NH(L(TE10), HTTP_R_TRANSFER) } },
	{ "chunk_size_overflow", REQ, IN(CHUNKED_H "FFFFFFFFFFFFFFFFF\r\n"),
	  .ev = { HE(L(CHUNKED_H) - 2, 0, B_CH, 0), NH(L(CHUNKED_H) + 15, HTTP_R_CHUNK) } },
	{ "chunk_size_15_digits_ok", REQ, IN(CHUNKED_H "FFFFFFFFFFFFFFF\r\nab"), .eof = 1,
	  .ev = { HE(L(CHUNKED_H) - 2, 0, B_CH, 0), INC(L(CHUNKED_H) + 19) } },
	{ "chunk_size_not_hex", REQ, IN(CHUNKED_H "zz\r\n"),
	  .ev = { HE(L(CHUNKED_H) - 2, 0, B_CH, 0), NH(L(CHUNKED_H), HTTP_R_CHUNK) } },
	{ "chunk_data_without_crlf", REQ, IN(CHUNKED_H "5\r\nhelloX\r\n"),
	  .ev = { HE(L(CHUNKED_H) - 2, 0, B_CH, 0), NH(L(CHUNKED_H) + 8, HTTP_R_CHUNK) } },
	{ "chunked_bare_lf_and_bws", REQ, IN(CHUNKED_H "5 \nhello\n3 ;a=b\nabc\r\n0\n\n"),
	  .ev = { HE(L(CHUNKED_H) - 2, 0, B_CH, 0), ME(L(CHUNKED_H) + 24, 0) } },
	{ "head_over_cap", REQ, IN(BIGH "\r\nGET / HTTP/1.1\r\n\r\n"), .cap = 40,
	  .ev = { TL(40), HE(L(BIGH), F_TRUNC, B_NONE, 0), ME(L(BIGH) + 2, F_TRUNC),
		  HE(L(BIGH) + 18, 0, B_NONE, 0), ME(L(BIGH) + 20, 0) } },
	{ "head_exactly_cap", REQ, IN(FIRST "\r\n"), .cap = L(FIRST),
	  .ev = { HE(L(FIRST), 0, B_NONE, 0), ME(L(FIRST) + 2, 0) } },
	{ "no_buffer_lent", REQ, IN(POST5 "\r\nhello"), .cap = NOBUF,
	  .ev = { HE(L(POST5), F_TRUNC, B_LEN, 5), ME(L(POST5) + 7, F_TRUNC) } },
	{ "binary", REQ, IN("\x00\x01\x02\xff"), .ev = { NH(0, HTTP_R_BINARY) } },
	{ "tls_client_hello", REQ, IN("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
	  .ev = { NH(0, HTTP_R_TLS) } },
	{ "http2_preface", REQ, IN("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
	  .ev = { NH(4, HTTP_R_HTTP2) } },
	{ "leading_crlf", REQ, IN("\r\n" FIRST "\r\n"),
	  .ev = { HE(2 + L(FIRST), 0, B_NONE, 0), ME(4 + L(FIRST), 0) } },
	{ "too_many_leading_blanks", REQ, IN("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
	  .ev = { NH(8, HTTP_R_BINARY) } },
	{ "space_before_colon", REQ, IN(FIRST "Host : a\r\n\r\n"),
	  .ev = { NH(L(FIRST) + 4, HTTP_R_HEADER) } },
	{ "bare_cr_in_value", REQ, IN(FIRST "X: a\rb\r\n\r\n"),
	  .ev = { NH(L(FIRST) + 5, HTTP_R_HEADER) } },
	{ "nul_in_value", REQ, IN(FIRST "X: a\0b\r\n\r\n"),
	  .ev = { NH(L(FIRST) + 4, HTTP_R_HEADER) } },
	{ "bad_name_char", REQ, IN(FIRST "X(y): 1\r\n\r\n"),
	  .ev = { NH(L(FIRST) + 1, HTTP_R_HEADER) } },
	{ "blank_cr_without_lf", REQ, IN(FIRST "\rX"),
	  .ev = { HE(L(FIRST), 0, B_NONE, 0), NH(L(FIRST) + 1, HTTP_R_HEADER) } },
	{ "http_1_0_keepalive", REQ, IN("GET / HTTP/1.0\r\n\r\nGET /2 HTTP/1.0\r\n\r\n"),
	  .ev = { HE(16, 0, B_NONE, 0), ME(18, 0), HE(35, 0, B_NONE, 0), ME(37, 0) } },
	{ "expect_continue", REQ, IN(EXPC "\r\nabc"),
	  .ev = { HE(L(EXPC), 0, B_LEN, 3), ME(L(EXPC) + 5, 0) } },
	{ "connect_then_tunnel", REQ, IN(CONN "\r\n\x16\x03\x01"),
	  .ev = { HE(L(CONN), HTTP_EVF_METHOD_CONNECT, B_NONE, 0),
		  ME(L(CONN) + 2, HTTP_EVF_METHOD_CONNECT), NH(L(CONN) + 2, HTTP_R_START_LINE) } },
	{ "head_method", REQ, IN(HEADM "\r\n"),
	  .ev = { HE(L(HEADM), HTTP_EVF_METHOD_HEAD, B_NONE, 0),
		  ME(L(HEADM) + 2, HTTP_EVF_METHOD_HEAD) } },
	{ "redis_inline", REQ, IN("*1\r\n$4\r\nPING\r\n"), .ev = { NH(2, HTTP_R_BINARY) } },
	{ "eof_in_head", REQ, IN(FIRST "Host"), .eof = 1, .ev = { INC(L(FIRST) + 4) } },
	{ "eof_between_messages", REQ, IN(FIRST "\r\n"), .eof = 1,
	  .ev = { HE(L(FIRST), 0, B_NONE, 0), ME(L(FIRST) + 2, 0) } },
	{ "garbage_after_message", REQ, IN(FIRST "\r\n\x00\x00"),
	  .ev = { HE(L(FIRST), 0, B_NONE, 0), ME(L(FIRST) + 2, 0),
		  NH(L(FIRST) + 2, HTTP_R_START_LINE) } },
	{ "method_too_long", REQ, IN("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1\r\n"),
	  .ev = { NH(32, HTTP_R_BINARY) } },
	{ "version_lowercase", REQ, IN("GET / http/1.1\r\n\r\n"),
	  .ev = { NH(6, HTTP_R_START_LINE) } },
	{ "version_2", REQ, IN("GET / HTTP/2.0\r\n\r\n"), .ev = { NH(11, HTTP_R_HTTP2) } },
	{ "framing_name_lookalikes", REQ, IN(LOOK "\r\nok"),
	  .ev = { HE(L(LOOK), 0, B_LEN, 2), ME(L(LOOK) + 4, 0) } },
	{ "eof_in_chunked_body", REQ, IN(CHUNKED_H "5\r\nhe"), .eof = 1,
	  .ev = { HE(L(CHUNKED_H) - 2, 0, B_CH, 0), INC(L(CHUNKED_H) + 5) } },
	{ "trailer_bad_start", REQ, IN(CHUNKED_H "0\r\n:x\r\n\r\n"),
	  .ev = { HE(L(CHUNKED_H) - 2, 0, B_CH, 0), NH(L(CHUNKED_H) + 3, HTTP_R_CHUNK) } },

	/* responses */
	{ "resp_200_length", RSP, IN(R200 "\r\nhi"),
	  .ev = { RHE(L(R200), 0, 200, B_LEN, 2), ME(L(R200) + 4, 0) } },
	{ "resp_chunked_trailers", RSP, IN(RCH RCHB),
	  .ev = { RHE(L(RCH), 0, 200, B_CH, 0), ME(L(RCH RCHB), 0) } },
	{ "resp_to_head_then_next", RSP, IN(RHEAD1 "\r\n" RHEAD2 "\r\nx"),
	  .expect = { HTTP_RESP_TO_HEAD, 0 },
	  .ev = { RHE(L(RHEAD1), 0, 200, B_NONE, 0), ME(L(RHEAD1) + 2, 0),
		  RHE(L(RHEAD1) + 2 + L(RHEAD2), 0, 200, B_LEN, 1),
		  ME(L(RHEAD1) + 5 + L(RHEAD2), 0) } },
	{ "resp_204_then_200", RSP, IN(R204 "\r\n" R200Z "\r\n"),
	  .ev = { RHE(L(R204), 0, 204, B_NONE, 0), ME(L(R204) + 2, 0),
		  RHE(L(R204) + 2 + L(R200Z), 0, 200, B_NONE, 0), ME(L(R204 R200Z) + 4, 0) } },
	{ "resp_304_with_length", RSP, IN(R304 "\r\n"), .eof = 1,
	  .ev = { RHE(L(R304), 0, 304, B_NONE, 0), ME(L(R304) + 2, 0) } },
	{ "resp_100_then_200", RSP, IN(R100 "\r\n" R200 "\r\nok"),
	  .ev = { RHE(L(R100), F_INT, 100, B_NONE, 0), ME(L(R100) + 2, F_INT),
		  RHE(L(R100 R200) + 2, 0, 200, B_LEN, 2), ME(L(R100 R200) + 6, 0) } },
	{ "resp_103_then_200_to_head", RSP, IN(R103 "\r\n" R200A "\r\n"),
	  .expect = { HTTP_RESP_TO_HEAD },
	  .ev = { RHE(L(R103), F_INT, 103, B_NONE, 0), ME(L(R103) + 2, F_INT),
		  RHE(L(R103 R200A) + 2, 0, 200, B_NONE, 0), ME(L(R103 R200A) + 4, 0) } },
	{ "resp_101_upgrade", RSP, IN(R101 "\r\n\x81\x05hello"),
	  .ev = { RHE(L(R101), F_UPG, 101, B_NONE, 0), ME(L(R101) + 2, F_UPG),
		  NH(L(R101) + 2, HTTP_R_UPGRADED) } },
	{ "resp_until_eof", RSP, IN(RCLOSE "\r\nbody bytes"), .eof = 1,
	  .ev = { RHE(L(RCLOSE), 0, 200, B_EOF, 0), ME(L(RCLOSE) + 12, HTTP_EVF_EOF) } },
	{ "resp_1_0_until_eof", RSP, IN(R10 "\r\nabc"), .eof = 1,
	  .ev = { RHE(L(R10), 0, 200, B_EOF, 0), ME(L(R10) + 5, HTTP_EVF_EOF) } },
	{ "resp_keepalive_3", RSP, IN(RKA1 "\r\nabcd" RCH RCHB RKA3 "\r\n"),
	  .ev = { RHE(L(RKA1), 0, 200, B_LEN, 4), ME(L(RKA1) + 6, 0),
		  RHE(L(RKA1) + 6 + L(RCH), 0, 200, B_CH, 0), ME(L(RKA1) + 6 + L(RCH RCHB), 0),
		  RHE(L(RKA1 RCH RCHB RKA3) + 6, 0, 404, B_NONE, 0),
		  ME(L(RKA1 RCH RCHB RKA3) + 8, 0) } },
	{ "resp_te_gzip_until_eof", RSP, IN(RGZ "\r\nzzzz"), .eof = 1,
	  .ev = { RHE(L(RGZ), 0, 200, B_EOF, 0), ME(L(RGZ) + 6, HTTP_EVF_EOF) } },
	{ "resp_no_reason", RSP, IN(RNOR "\r\n"),
	  .ev = { RHE(L(RNOR), 0, 200, B_NONE, 0), ME(L(RNOR) + 2, 0) } },
	{ "resp_bad_status", RSP, IN("HTTP/1.1 20 OK\r\n\r\n"),
	  .ev = { NH(11, HTTP_R_START_LINE) } },
	{ "resp_status_leading_zero", RSP, IN("HTTP/1.1 099 X\r\n\r\n"),
	  .ev = { NH(9, HTTP_R_START_LINE) } },
	{ "resp_http2", RSP, IN("HTTP/2 200\r\n\r\n"), .ev = { NH(5, HTTP_R_HTTP2) } },
	{ "resp_connect_200", RSP, IN(RCON "\r\n\x16\x03\x01"), .expect = { HTTP_RESP_TO_CONNECT },
	  .ev = { RHE(L(RCON), F_UPG, 200, B_NONE, 0), ME(L(RCON) + 2, F_UPG),
		  NH(L(RCON) + 2, HTTP_R_UPGRADED) } },
	{ "resp_connect_407", RSP, IN(R407 "\r\nabc"), .expect = { HTTP_RESP_TO_CONNECT },
	  .ev = { RHE(L(R407), 0, 407, B_LEN, 3), ME(L(R407) + 5, 0) } },
	{ "resp_ssh", RSP, IN("SSH-2.0-OpenSSH_9.2\r\n"), .ev = { NH(0, HTTP_R_BINARY) } },
	{ "resp_tls", RSP, IN("\x16\x03\x03\x00\x7a\x02"), .ev = { NH(0, HTTP_R_TLS) } },
	{ "resp_eof_in_chunked", RSP, IN(RCH "\r\n5\r\nab"), .eof = 1,
	  .ev = { RHE(L(RCH), 0, 200, B_CH, 0), INC(L(RCH) + 7) } },
	{ "resp_conflicting_length", RSP, IN(RCL56 "\r\nhello"),
	  .ev = { NH(L(RCL56), HTTP_R_LENGTH) } },
	{ "resp_bare_lf", RSP, IN(RLF "\nabc"),
	  .ev = { RHE(L(RLF), 0, 200, B_LEN, 3), ME(L(RLF) + 4, 0) } },
	{ "resp_head_over_cap", RSP, IN(RBIG "\r\nok"), .cap = 32,
	  .ev = { TL(32), RHE(L(RBIG), F_TRUNC, 200, B_LEN, 2), ME(L(RBIG) + 4, F_TRUNC) } },
	{ "resp_chunked_wins", RSP, IN(RTECL "\r\n0\r\n\r\n"),
	  .ev = { RHE(L(RTECL), 0, 200, B_CH, 0), ME(L(RTECL) + 7, 0) } },
	{ "resp_1_0_te", RSP, IN(R10TE "\r\n0\r\n\r\n"), .ev = { NH(L(R10TE), HTTP_R_TRANSFER) } },
	{ "resp_blank_between", RSP, IN(RX1 "\r\nx\r\n" RX2 "\r\n"),
	  .ev = { RHE(L(RX1), 0, 200, B_LEN, 1), ME(L(RX1) + 3, 0),
		  RHE(L(RX1 RX2) + 5, 0, 204, B_NONE, 0), ME(L(RX1 RX2) + 7, 0) } },
	{ "resp_eof_mid_length", RSP, IN(R200 "\r\nh"), .eof = 1,
	  .ev = { RHE(L(R200), 0, 200, B_LEN, 2), INC(L(R200) + 3) } },
	{ "resp_to_request_parser", REQ, IN(R200 "\r\nhi"), .ev = { NH(4, HTTP_R_BINARY) } },
};

/* --- replay ------------------------------------------------------------------------------ */

struct run {
	struct xev ev[MAXEV];
	int n;
	int need_buffer;
	int heads_checked;
};

static char headbuf[HTTP_HEAD_MAX + 64];

static void record(struct run *r, const struct http_event *ev, size_t abs)
{
	struct xev *x;

	assert_true(r->n < MAXEV);
	x = &r->ev[r->n++];
	memset(x, 0, sizeof(*x));
	x->type = ev->type;
	x->off = abs;
	if (ev->type == HTTP_EV_NOT_HTTP) {
		x->reason = ev->reason;
		return;
	}
	x->flags = ev->flags;
	if (ev->type == HTTP_EV_HEAD_END) {
		x->status = ev->status;
		x->body = ev->body;
		x->cl = ev->content_length;
	}
}

/* A captured head must be the input's bytes from the head start to the blank line (obs-folds
 * turned into spaces), and http_head_parse() must agree with the parser's framing on it. */
static void check_head(const struct pcase *c, const struct http_event *ev, size_t head_start,
		       size_t blank, struct run *r)
{
	struct http_head h;
	size_t i;

	if (!ev->head)
		return;
	assert_int_equal(ev->head_len, blank - head_start);
	for (i = 0; i < ev->head_len; i++) {
		char want = c->in[head_start + i];
		if (ev->head[i] != want)
			assert_true(ev->head[i] == ' ' && (want == '\r' || want == '\n'));
	}
	assert_int_equal(http_head_parse(ev->head, ev->head_len, c->dir, &h), 0);
	if (c->dir == REQ) {
		assert_int_equal(!!(h.flags & HTTP_HF_CHUNKED), ev->body == HTTP_BODY_CHUNKED);
		if (ev->body == HTTP_BODY_LENGTH)
			assert_int_equal(h.content_length, ev->content_length);
	} else {
		assert_int_equal(h.status, ev->status);
	}
	assert_int_equal(h.version_minor, ev->version_minor);
	r->heads_checked++;
}

struct replay {
	struct http_parser p;
	size_t cap;        /* capacity lent */
	size_t head_start; /* absolute offset of the last NEED_BUFFER */
	int nexp;          /* expectations used */
	int dead;
};

/* One feed call's event at absolute offset abs (the chunk starting there had len bytes). */
static void on_event(const struct pcase *c, struct replay *x, const struct http_event *ev,
		     size_t n, size_t len, size_t abs, struct run *r)
{
	assert_true(n <= len);
	assert_true(ev->off <= len);
	switch (ev->type) {
	case HTTP_EV_NONE:
		assert_int_equal(n, len);
		return;
	case HTTP_EV_NEED_BUFFER:
		assert_int_equal(n, ev->off);
		r->need_buffer++;
		x->head_start = abs + ev->off;
		if (c->cap != NOBUF) {
			memset(headbuf, 0x5a, sizeof(headbuf));
			assert_int_equal(http_parser_attach_buffer(&x->p, headbuf, x->cap), 0);
		}
		return;
	case HTTP_EV_NOT_HTTP:
		assert_int_equal(n, len);
		record(r, ev, abs + ev->off);
		x->dead = 1;
		return;
	}
	assert_int_equal(n, ev->off);
	record(r, ev, abs + ev->off);
	if (ev->type == HTTP_EV_HEAD_END)
		check_head(c, ev, x->head_start, abs + ev->off, r);
	if ((ev->type == HTTP_EV_HEAD_END || ev->type == HTTP_EV_TOO_LARGE) && c->cap != NOBUF)
		assert_int_equal(headbuf[x->cap], 0x5a); /* nothing written past the capacity */
	if (ev->type == HTTP_EV_MESSAGE_END && !(ev->flags & HTTP_EVF_INTERIM) && x->nexp < 4)
		http_parser_expect_response(&x->p, c->expect[x->nexp++]);
}

static int replay_no_capture; /* replay(): http_parser_no_capture() on the fresh parser */

/* Feed c->in in the chunks ending at cuts[0..ncuts) (the last one == len). */
static void replay(const struct pcase *c, const size_t *cuts, int ncuts, struct run *r)
{
	static struct replay x;
	struct http_event ev;
	size_t base = 0, n;
	int k;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	x.cap = c->cap ? c->cap : HTTP_HEAD_MAX;
	http_parser_init(&x.p, c->dir);
	if (replay_no_capture)
		http_parser_no_capture(&x.p);
	http_parser_expect_response(&x.p, c->expect[x.nexp++]);
	for (k = 0; k < ncuts && !x.dead; k++) {
		const char *d = c->in + base;
		size_t len = cuts[k] - base;

		while (len > 0 && !x.dead) {
			n = http_parser_feed(&x.p, d, len, &ev);
			on_event(c, &x, &ev, n, len, (size_t)(d - c->in), r);
			d += n;
			len -= n;
		}
		base = cuts[k];
	}
	if (x.dead) {
		/* dead for good: another feed says so again and eats everything */
		n = http_parser_feed(&x.p, "GET / HTTP/1.1\r\n\r\n", 18, &ev);
		assert_int_equal(n, 18);
		assert_int_equal(ev.type, HTTP_EV_NOT_HTTP);
	} else if (c->eof && http_parser_eof(&x.p, &ev) != HTTP_EV_NONE) {
		record(r, &ev, c->len);
	}
}

static void expect_run(const struct pcase *c, const struct run *r, const char *how, size_t at)
{
	int i, n = 0;

	while (n < MAXEV && c->ev[n].type != HTTP_EV_NONE)
		n++;
	for (i = 0; i < n || i < r->n; i++) {
		const struct xev *w = i < n ? &c->ev[i] : NULL, *g = i < r->n ? &r->ev[i] : NULL;
		if (w && g && memcmp(w, g, sizeof(*w)) == 0)
			continue;
		print_error("case %s (%s %zu): event %d: want type %d off %zu flags %#x status %d "
			    "body %d cl %llu reason %d; got type %d off %zu flags %#x status %d "
			    "body %d cl %llu reason %d\n",
			    c->name, how, at, i, w ? w->type : -1, w ? w->off : 0, w ? w->flags : 0,
			    w ? w->status : 0, w ? w->body : 0, w ? (unsigned long long)w->cl : 0,
			    w ? w->reason : 0, g ? g->type : -1, g ? g->off : 0, g ? g->flags : 0,
			    g ? g->status : 0, g ? g->body : 0, g ? (unsigned long long)g->cl : 0,
			    g ? g->reason : 0);
		fail();
	}
}

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void test_table_size(void **state)
{
	(void)state;
	assert_true(NCASES >= 40);
}

static void test_whole(void **state)
{
	struct run r;
	size_t i, checked = 0, captured = 0;
	int k;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		replay(&cases[i], &cases[i].len, 1, &r);
		expect_run(&cases[i], &r, "whole", 0);
		checked += (size_t)r.heads_checked;
		for (k = 0; k < MAXEV && cases[i].cap != NOBUF; k++)
			captured += cases[i].ev[k].type == HTTP_EV_HEAD_END &&
				    !(cases[i].ev[k].flags & F_TRUNC);
	}
	assert_int_equal(checked, captured); /* every captured head was checked */
	assert_true(captured >= 60);
}

static void test_two_chunks(void **state)
{
	struct run r, whole;
	size_t i, k, cuts[2];

	(void)state;
	for (i = 0; i < NCASES; i++) {
		replay(&cases[i], &cases[i].len, 1, &whole);
		for (k = 0; k <= cases[i].len; k++) {
			cuts[0] = k;
			cuts[1] = cases[i].len;
			replay(&cases[i], cuts, 2, &r);
			expect_run(&cases[i], &r, "split at", k);
			assert_int_equal(r.need_buffer, whole.need_buffer);
		}
	}
}

static void test_byte_at_a_time(void **state)
{
	static size_t cuts[512];
	struct run r;
	size_t i, k;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		assert_true(cases[i].len < 512);
		for (k = 0; k < cases[i].len; k++)
			cuts[k] = k + 1;
		replay(&cases[i], cuts, (int)cases[i].len, &r);
		expect_run(&cases[i], &r, "bytes", 1);
	}
}

static void test_random_three_chunks(void **state)
{
	uint32_t x = 12345;
	struct run r;
	size_t i, cuts[3];
	int t;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		for (t = 0; t < 200; t++) {
			x = x * 1103515245u + 12345u;
			cuts[0] = (x >> 8) % (cases[i].len + 1);
			x = x * 1103515245u + 12345u;
			cuts[1] = cuts[0] + (x >> 8) % (cases[i].len - cuts[0] + 1);
			cuts[2] = cases[i].len;
			replay(&cases[i], cuts, 3, &r);
			expect_run(&cases[i], &r, "three-way, first cut", cuts[0]);
		}
	}
}

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/* --- sendfile skips ---------------------------------------------------------------------- */

/* Feed all of s; returns the types of the events seen, as a string of digits. */
static const char *feed_all(struct http_parser *p, const char *s, size_t len)
{
	static char out[32];
	struct http_event ev;
	size_t n, k = 0;

	while (len > 0) {
		n = http_parser_feed(p, s, len, &ev);
		if (ev.type != HTTP_EV_NONE && ev.type != HTTP_EV_NEED_BUFFER &&
		    k < sizeof(out) - 1)
			out[k++] = (char)('0' + ev.type);
		if (ev.type == HTTP_EV_NOT_HTTP)
			break;
		s += n;
		len -= n;
	}
	out[k] = '\0';
	return out;
}

#define S_HM "23" /* HEAD_END then MESSAGE_END */

/* A parser that never captures reports exactly what one whose every NEED_BUFFER is declined
 * reports, minus the NEED_BUFFER round trips, whole and byte at a time. */
static void test_no_capture(void **state)
{
	static struct pcase c;
	static struct run declined, never;
	size_t i, cuts[512];
	int heads = 0, k, n;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		c = cases[i];
		c.cap = NOBUF;
		for (int split = 0; split < 2; split++) {
			n = 1;
			cuts[0] = c.len;
			if (split && c.len <= 512)
				for (n = 0; (size_t)n < c.len; n++)
					cuts[n] = (size_t)n + 1;
			replay_no_capture = 0;
			replay(&c, cuts, n, &declined);
			replay_no_capture = 1;
			replay(&c, cuts, n, &never);
			replay_no_capture = 0;
			assert_int_equal(never.need_buffer, 0);
			assert_int_equal(never.n, declined.n);
			for (k = 0; k < never.n; k++) {
				if (memcmp(&never.ev[k], &declined.ev[k], sizeof(never.ev[k])) != 0) {
					print_error("case %s: event %d differs without capture\n", c.name, k);
					fail();
				}
				heads += never.ev[k].type == HTTP_EV_HEAD_END;
			}
		}
	}
	assert_true(heads >= 100);
}

static void test_skip_body(void **state)
{
	static const char rh[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
	static const char rc[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n";
	static const char re[] = "HTTP/1.1 200 OK\r\n\r\n";
	struct http_parser p;
	struct http_event ev;

	(void)state;
	/* Content-Length body sent in two sendfile calls */
	http_parser_init(&p, RSP);
	assert_string_equal(feed_all(&p, rh, L(rh)), "2");
	assert_int_equal(http_parser_skip_body(&p, 0, &ev), HTTP_EV_NONE);
	assert_int_equal(http_parser_skip_body(&p, 60, &ev), HTTP_EV_NONE);
	assert_int_equal(http_parser_skip_body(&p, 40, &ev), HTTP_EV_MESSAGE_END);
	assert_int_equal(ev.flags, HTTP_EVF_SKIPPED | HTTP_EVF_TRUNCATED); /* no buffer lent */
	assert_int_equal(ev.off, 0);
	assert_string_equal(feed_all(&p, rh, L(rh)), "2"); /* the next response parses */

	/* more than the body holds: the framing is lost */
	http_parser_init(&p, RSP);
	feed_all(&p, rh, L(rh));
	assert_int_equal(http_parser_skip_body(&p, 101, &ev), HTTP_EV_NOT_HTTP);
	assert_int_equal(ev.reason, HTTP_R_SKIP);
	assert_true(http_parser_dead(&p));

	/* a chunk's data */
	http_parser_init(&p, RSP);
	assert_string_equal(feed_all(&p, rc, L(rc)), "2");
	assert_int_equal(http_parser_skip_body(&p, 100, &ev), HTTP_EV_NONE);
	assert_string_equal(feed_all(&p, "\r\n0\r\n\r\n", 7), "3");

	/* a body until EOF absorbs anything */
	http_parser_init(&p, RSP);
	feed_all(&p, re, L(re));
	assert_int_equal(http_parser_skip_body(&p, 1 << 20, &ev), HTTP_EV_NONE);
	assert_int_equal(http_parser_eof(&p, &ev), HTTP_EV_MESSAGE_END);
	assert_int_equal(ev.flags, HTTP_EVF_EOF | HTTP_EVF_TRUNCATED);

	/* between messages, in a head, in a chunk-size line: cannot follow */
	http_parser_init(&p, RSP);
	assert_int_equal(http_parser_skip_body(&p, 5, &ev), HTTP_EV_NOT_HTTP);
	http_parser_init(&p, RSP);
	feed_all(&p, "HTTP/1.1 2", 10);
	assert_int_equal(http_parser_skip_body(&p, 5, &ev), HTTP_EV_NOT_HTTP);
	http_parser_init(&p, RSP);
	feed_all(&p, rc, L(rc) - 4);
	assert_int_equal(http_parser_skip_body(&p, 5, &ev), HTTP_EV_NOT_HTTP);
	assert_int_equal(http_parser_skip_body(&p, 5, &ev), HTTP_EV_NOT_HTTP); /* stays dead */
}

/* --- the buffer and lifecycle API -------------------------------------------------------- */

/* The head buffer protocol. */
static void test_buffer_api(void **state)
{
	static const char req[] = "POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody";
	struct http_parser p;
	struct http_event ev;
	char buf[128], copy[128];
	size_t n;

	(void)state;
	assert_true(sizeof(struct http_parser) <= 96);
	http_parser_init(&p, REQ);
	assert_true(http_parser_wants_buffer(&p));
	assert_int_equal(http_parser_feed(&p, req, 0, &ev), 0);
	assert_int_equal(ev.type, HTTP_EV_NONE);

	/* attached up front: no NEED_BUFFER, head captured */
	assert_int_equal(http_parser_attach_buffer(&p, buf, sizeof(buf)), 0);
	assert_false(http_parser_wants_buffer(&p));
	n = http_parser_feed(&p, req, 5, &ev);
	assert_int_equal(n, 5);
	assert_int_equal(ev.type, HTTP_EV_NONE);
	assert_int_equal(http_parser_attach_buffer(&p, buf, sizeof(buf)), -EBUSY);
	n = http_parser_feed(&p, req + 5, L(req) - 5, &ev);
	assert_int_equal(ev.type, HTTP_EV_HEAD_END);
	assert_ptr_equal(ev.head, buf);
	assert_int_equal(ev.head_len, L(req) - 6);
	assert_memory_equal(buf, req, ev.head_len);
	/* the buffer is the caller's again: the body must not touch it */
	memcpy(copy, buf, sizeof(buf));
	n += 5;
	n += http_parser_feed(&p, req + n, L(req) - n, &ev);
	assert_int_equal(ev.type, HTTP_EV_MESSAGE_END);
	assert_int_equal(n, L(req));
	assert_memory_equal(copy, buf, sizeof(buf));
	assert_true(http_parser_wants_buffer(&p));

	/* declined: no NEED_BUFFER, truncated head */
	assert_int_equal(http_parser_attach_buffer(&p, NULL, 0), 0);
	n = http_parser_feed(&p, req, L(req), &ev);
	assert_int_equal(ev.type, HTTP_EV_HEAD_END);
	assert_null(ev.head);
	assert_int_equal(ev.flags, HTTP_EVF_TRUNCATED);

	/* NEED_BUFFER is asked once; ignoring it frames the head uncaptured */
	http_parser_init(&p, REQ);
	n = http_parser_feed(&p, "\r\nGET", 5, &ev);
	assert_int_equal(ev.type, HTTP_EV_NEED_BUFFER);
	assert_int_equal(n, 2);
	assert_int_equal(ev.off, 2);
	n = http_parser_feed(&p, "GET", 3, &ev);
	assert_int_equal(ev.type, HTTP_EV_NONE);
	assert_int_equal(n, 3);

}

/* Giving up, end of stream, reset. */
static void test_lifecycle(void **state)
{
	static const char req[] = "POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody";
	struct http_parser p;
	struct http_event ev;
	size_t n;

	(void)state;
	/* dead: every feed says NOT_HTTP and takes everything; eof afterwards is quiet */
	http_parser_init(&p, REQ);
	n = http_parser_feed(&p, "\x16\x03\x01", 3, &ev);
	assert_int_equal(ev.type, HTTP_EV_NOT_HTTP);
	assert_int_equal(ev.reason, HTTP_R_TLS);
	assert_int_equal(n, 3);
	assert_true(http_parser_dead(&p));
	n = http_parser_feed(&p, req, L(req), &ev);
	assert_int_equal(n, L(req));
	assert_int_equal(ev.type, HTTP_EV_NOT_HTTP);
	assert_int_equal(http_parser_eof(&p, &ev), HTTP_EV_NONE);

	/* after eof the parser is dead too */
	http_parser_init(&p, RSP);
	assert_int_equal(http_parser_eof(&p, &ev), HTTP_EV_NONE);
	n = http_parser_feed(&p, "HTTP/1.1 200 OK\r\n", 17, &ev);
	assert_int_equal(ev.type, HTTP_EV_NOT_HTTP);
	assert_int_equal(ev.reason, HTTP_R_EOF);

	/* init is also the reset (fd reuse) */
	http_parser_init(&p, RSP);
	assert_string_equal(feed_all(&p, "HTTP/1.1 204 No Content\r\n\r\n", 27), S_HM);
}

/* A request's event flags tell the response parser how to frame the answer (pipelined HEAD,
 * GET, CONNECT), as the tracker's FIFO does. */
static void test_expect_from_requests(void **state)
{
	static const char reqs[] = "HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
				   "CONNECT h:443 HTTP/1.1\r\n\r\n";
	static const char rsps[] = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
				   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
				   "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03";
	struct http_parser rq, rs;
	struct http_event ev;
	unsigned fifo[4];
	int nreq = 0, nrsp = 0, ends = 0;
	size_t n, off = 0;

	(void)state;
	http_parser_init(&rq, REQ);
	http_parser_init(&rs, RSP);
	for (off = 0; off < L(reqs); off += n) {
		n = http_parser_feed(&rq, reqs + off, L(reqs) - off, &ev);
		if (ev.type == HTTP_EV_HEAD_END)
			fifo[nreq++] = ev.flags;
	}
	assert_int_equal(nreq, 3);
	assert_int_equal(fifo[0], HTTP_EVF_METHOD_HEAD | HTTP_EVF_TRUNCATED);
	http_parser_expect_response(&rs, fifo[nrsp++]);
	for (off = 0; off < L(rsps); off += n) {
		n = http_parser_feed(&rs, rsps + off, L(rsps) - off, &ev);
		if (ev.type == HTTP_EV_MESSAGE_END) {
			ends++;
			if (nrsp < nreq)
				http_parser_expect_response(&rs, fifo[nrsp++]);
		}
		if (ev.type == HTTP_EV_NOT_HTTP)
			break;
	}
	assert_int_equal(ends, 3);
	assert_int_equal(ev.type, HTTP_EV_NOT_HTTP);
	assert_int_equal(ev.reason, HTTP_R_UPGRADED);
	assert_int_equal(off, L(rsps) - 2); /* the tunnel starts right after the 200 */
}

/* --- rough cost, printed (never asserted: shared machines vary too much) ------------------ */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void test_cost(void **state)
{
	static const char req[] =
		"GET /api/v1/items/12345?expand=true HTTP/1.1\r\n"
		"Host: service.internal:8080\r\n"
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n"
		"Accept: application/json\r\nAccept-Encoding: gzip, deflate\r\n"
		"Accept-Language: en-US,en;q=0.9\r\n"
		"traceparent: " TP "\r\nConnection: keep-alive\r\n\r\n";
	static const char rsp[] = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
				  "Date: Sat, 22 Nov 2025 01:00:00 GMT\r\n"
				  "Content-Type: text/html\r\nContent-Length: 615\r\n"
				  "Last-Modified: Tue, 11 Apr 2023 01:45:34 GMT\r\n"
				  "Connection: keep-alive\r\nETag: \"64353c4e-267\"\r\n"
				  "Accept-Ranges: bytes\r\n\r\n";
	static char body[615];
	enum { N = 200000 };
	struct http_parser p;
	struct http_event ev;
	struct http_head h;
	char buf[HTTP_HEAD_MAX];
	double t0, t1, t2, t3;
	size_t n;
	long ok = 0;
	int i;

	(void)state;
	http_parser_init(&p, REQ);
	t0 = now_ns();
	for (i = 0; i < N; i++) {
		http_parser_attach_buffer(&p, buf, sizeof(buf));
		n = http_parser_feed(&p, req, L(req), &ev);
		ok += ev.type == HTTP_EV_HEAD_END;
		http_parser_feed(&p, req + n, L(req) - n, &ev);
		ok += ev.type == HTTP_EV_MESSAGE_END;
	}
	t1 = now_ns();
	for (i = 0; i < N; i++) {
		http_parser_attach_buffer(&p, buf, sizeof(buf));
		n = http_parser_feed(&p, req, L(req), &ev);
		ok += http_head_parse(ev.head, ev.head_len, REQ, &h) == 0;
		http_parser_feed(&p, req + n, L(req) - n, &ev);
	}
	t2 = now_ns();
	http_parser_init(&p, RSP);
	for (i = 0; i < N; i++) {
		http_parser_attach_buffer(&p, buf, sizeof(buf));
		n = http_parser_feed(&p, rsp, L(rsp), &ev);
		ok += ev.type == HTTP_EV_HEAD_END;
		http_parser_feed(&p, rsp + n, L(rsp) - n, &ev);
		http_parser_feed(&p, body, sizeof(body), &ev);
		ok += ev.type == HTTP_EV_MESSAGE_END;
	}
	t3 = now_ns();
	assert_int_equal(ok, 5L * N);
	print_message("request head %zu bytes: feed %.1f ns/head (%.2f ns/byte), "
		      "feed + http_head_parse %.1f ns/head\n",
		      L(req), (t1 - t0) / N, (t1 - t0) / N / (double)L(req), (t2 - t1) / N);
	print_message("response head %zu bytes + 615-byte body: %.1f ns/response\n", L(rsp),
		      (t3 - t2) / N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_size),
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_two_chunks),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_random_three_chunks),
		cmocka_unit_test(test_no_capture),
		cmocka_unit_test(test_skip_body),
		cmocka_unit_test(test_buffer_api),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_expect_from_requests),
		cmocka_unit_test(test_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
