/*
 * parser_cost.c - drives the HTTP/1.x parser (agent/http_parser.c, http_head_stream.c,
 * http_head.c) over fixed message heads exactly as the connection tracker does, so that the
 * instructions per head can be counted under callgrind (bench/parser/run.sh).
 *
 * Usage: parser_cost SCENARIO N
 *   Runs SCENARIO N times. run.sh runs each scenario twice (two values of N) under callgrind
 *   and divides the difference of the instruction counts by the difference of N, so that
 *   process start-up and everything outside the loop cancel out.
 *
 * Scenarios (the heads are below):
 *   req40-feed    wrk's request head (40 bytes), captured: the feed calls of conn_io.c's
 *                 server_in() (NEED_BUFFER, a buffer lent, HEAD_END, the blank line)
 *   req40-parse   http_head_parse() of that captured head (what spans.c does at HEAD_END)
 *   req326-feed   a 326-byte request with 8 header lines, captured
 *   req326-parse  http_head_parse() of that head
 *   rsp238-feed   nginx's 238-byte response head, NOT captured (server_out() lends no buffer),
 *                 written in one piece as nginx's writev does, then its 612-byte body sent
 *                 with sendfile (http_parser_skip_body()), as conn_io.c does
 *   rsp238-cap    the same response head captured (for comparison: what a client's inbound
 *                 response would cost if it were captured)
 *
 * Every scenario checks the events it gets and exits non-zero on a surprise, so a number is
 * never reported for a parser that did something else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"
#include "http_parser.h"

#define L(s) (sizeof(s) - 1)

static const char req40[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

static const char req326[] =
	"GET /api/v1/items/12345 HTTP/1.1\r\n"
	"Host: service.internal:8080\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/2010\r\n"
	"Accept: application/json\r\n"
	"Accept-Encoding: gzip, deflate\r\n"
	"Accept-Language: en-US,en;q=0.9\r\n"
	"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
	"Connection: keep-alive\r\n"
	"X-Request-Id: 7a3c\r\n"
	"\r\n";

static const char rsp238[] = "HTTP/1.1 200 OK\r\n"
			     "Server: nginx/1.22.1\r\n"
			     "Date: Sun, 22 Nov 2026 02:00:00 GMT\r\n"
			     "Content-Type: text/html\r\n"
			     "Content-Length: 612\r\n"
			     "Last-Modified: Tue, 11 Apr 2023 01:45:34 GMT\r\n"
			     "Connection: keep-alive\r\n"
			     "ETag: \"64353c4e-264\"\r\n"
			     "Accept-Ranges: bytes\r\n"
			     "\r\n";

static char headbuf[HTTP_HEAD_MAX];

static void fail(const char *what)
{
	fprintf(stderr, "parser_cost: unexpected %s\n", what);
	exit(1);
}

/* The tracker's loop (conn_io.c server_in/server_out): feed until everything is consumed,
 * lending the buffer (or declining) on NEED_BUFFER. Returns the HEAD_END event's head. */
static unsigned feed_msg(struct http_parser *p, const char *d, size_t n, int capture,
			 struct http_event *head)
{
	struct http_event ev;
	unsigned seen = 0;
	size_t k;

	while (n > 0) {
		k = http_parser_feed(p, d, n, &ev);
		switch (ev.type) {
		case HTTP_EV_NEED_BUFFER:
			if (capture)
				http_parser_attach_buffer(p, headbuf, sizeof(headbuf));
			else
				http_parser_attach_buffer(p, NULL, 0);
			break;
		case HTTP_EV_HEAD_END:
			*head = ev;
			seen |= 1;
			break;
		case HTTP_EV_MESSAGE_END:
			seen |= 2;
			break;
		case HTTP_EV_NONE:
			break;
		default:
			fail("event");
		}
		d += k;
		n -= k;
	}
	return seen;
}

static void run_feed(int dir, const char *msg, size_t len, int capture, long n)
{
	struct http_parser p;
	struct http_event head, ev;
	unsigned seen;
	long i;

	http_parser_init(&p, dir);
	for (i = 0; i < n; i++) {
		seen = feed_msg(&p, msg, len, capture, &head);
		if (!(seen & 1) || (capture && head.head == NULL) || (!capture && head.head))
			fail("head");
		if (dir == HTTP_DIR_RESPONSE) {
			/* nginx sends the body with sendfile */
			if (head.body != HTTP_BODY_LENGTH ||
			    http_parser_skip_body(&p, head.content_length, &ev) !=
				    HTTP_EV_MESSAGE_END)
				fail("body");
		} else if (!(seen & 2)) {
			fail("message end");
		}
	}
}

static void run_parse(const char *msg, size_t len, long n)
{
	struct http_parser p;
	struct http_event head;
	struct http_head h;
	static char copy[HTTP_HEAD_MAX];
	long i;

	http_parser_init(&p, HTTP_DIR_REQUEST);
	if (!(feed_msg(&p, msg, len, 1, &head) & 1))
		fail("head");
	memcpy(copy, head.head, head.head_len);
	for (i = 0; i < n; i++) {
		if (http_head_parse(copy, head.head_len, HTTP_DIR_REQUEST, &h) != 0 ||
		    h.field[HTTP_F_HOST].ptr == NULL)
			fail("parse");
	}
}

int main(int argc, char **argv)
{
	const char *s;
	long n;

	if (argc != 3) {
		fprintf(stderr, "usage: parser_cost SCENARIO N\n");
		return 2;
	}
	s = argv[1];
	n = atol(argv[2]);
	if (strcmp(s, "req40-feed") == 0)
		run_feed(HTTP_DIR_REQUEST, req40, L(req40), 1, n);
	else if (strcmp(s, "req40-parse") == 0)
		run_parse(req40, L(req40), n);
	else if (strcmp(s, "req326-feed") == 0)
		run_feed(HTTP_DIR_REQUEST, req326, L(req326), 1, n);
	else if (strcmp(s, "req326-parse") == 0)
		run_parse(req326, L(req326), n);
	else if (strcmp(s, "rsp238-feed") == 0)
		run_feed(HTTP_DIR_RESPONSE, rsp238, L(rsp238), 0, n);
	else if (strcmp(s, "rsp238-cap") == 0)
		run_feed(HTTP_DIR_RESPONSE, rsp238, L(rsp238), 1, n);
	else
		return 2;
	return 0;
}
