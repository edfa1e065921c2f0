/*
 * fuzz_agent_http_parser.c - libFuzzer target for the incremental HTTP/1.x parser.
 *
 * Input: two configuration bytes, then the stream. Byte 0: bit 0 direction (request or
 * response stream), bits 1-2 what the responses answer (HEAD, CONNECT), bit 3 no head buffer
 * lent, bits 4-7 the buffer's capacity (0: HTTP_HEAD_MAX, else 24 * n bytes, to reach
 * TOO_LARGE). Byte 1: bit 0 call http_parser_eof() at the end, the rest seeds the splits.
 *
 * The stream is parsed as one chunk, in pseudo-random chunks, and (when short) one byte at a
 * time; each run must produce the same events at the same absolute offsets with the same
 * captured heads. Every call is checked against the contract: return value and offsets inside
 * the chunk, HEAD_END and MESSAGE_END at the return value, MESSAGE_END only after its HEAD_END,
 * nothing after NOT_HTTP, no write past the lent capacity, and every captured head equal to the
 * input up to the blank line (folds turned into spaces) and accepted by http_head_parse() with
 * the same framing. A copy of the parser is also poked with http_parser_skip_body(), and the
 * raw input goes through http_head_parse() too (no crash, slices inside the input).
 *
 * Captured and uncaptured: the stream is parsed once more as one chunk with the buffer lending
 * flipped (no buffer where the configuration lends one, and the reverse). Capturing must not
 * change framing: the events must be the same at the same offsets, TOO_LARGE (which only a
 * captured run reports) left out, HTTP_EVF_TRUNCATED and the head itself ignored. This holds
 * whether or not the runs give up, since the parser applies one set of syntax rules in both
 * modes; the one chunk also sends every line it can through the whole-line fast path
 * (http_head_fast.c) while the byte-at-a-time run never takes it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"
#include "http_parser.h"

#define MAXREC 4096
#define GUARD 64

struct rec {
	int type;
	size_t off;
	unsigned flags;
	int status, body, reason, minor;
	uint64_t cl;
	size_t head_len;
	uint32_t head_hash;
};

struct run {
	struct rec r[MAXREC];
	size_t n;
	int truncated_log; /* more events than MAXREC: comparison skipped */
};

static struct run runs[4];
static char headbuf[HTTP_HEAD_MAX + GUARD];

#define CHECK(c)                                                                             \
	do {                                                                                 \
		if (!(c))                                                                    \
			abort();                                                             \
	} while (0)

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

struct cfg {
	int dir;
	unsigned expect;
	int nobuf;
	size_t cap;
	int eof;
	uint32_t seed;
};

static void check_head(const struct cfg *c, const struct http_event *ev, const uint8_t *in,
		       size_t blank)
{
	struct http_head h;
	size_t i, start;

	if (!ev->head)
		return;
	CHECK(ev->head == headbuf);
	CHECK(ev->head_len <= c->cap && ev->head_len <= blank);
	start = blank - ev->head_len;
	for (i = 0; i < ev->head_len; i++) {
		char want = (char)in[start + i];
		CHECK(ev->head[i] == want ||
		      (ev->head[i] == ' ' && (want == '\r' || want == '\n')));
	}
	CHECK(http_head_parse(ev->head, ev->head_len, c->dir, &h) == 0);
	CHECK(h.version_minor == ev->version_minor);
	/* the request thread's cheap look decides whether it parses at all: never wrong */
	CHECK(http_head_has_traceparent(ev->head, ev->head_len) ==
	      (h.field[HTTP_F_TRACEPARENT].ptr != NULL));
	if (c->dir == HTTP_DIR_REQUEST) {
		CHECK(!!(h.flags & HTTP_HF_CHUNKED) == (ev->body == HTTP_BODY_CHUNKED));
		if (ev->body == HTTP_BODY_LENGTH)
			CHECK(h.content_length >= 0 &&
			      (uint64_t)h.content_length == ev->content_length);
	} else {
		CHECK(h.status == ev->status);
	}
}

static uint32_t next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void poke_skip(const struct http_parser *p, uint32_t *x)
{
	struct http_parser q = *p;
	struct http_event ev;
	int t = http_parser_skip_body(&q, next(x) % 300, &ev);

	CHECK(t == HTTP_EV_NONE || t == HTTP_EV_MESSAGE_END || t == HTTP_EV_NOT_HTTP);
	CHECK(ev.type == t && ev.off == 0);
}

static void record(struct run *r, const struct http_event *ev, size_t abs)
{
	struct rec *e = &r->r[r->n];

	if (r->n == MAXREC) {
		r->truncated_log = 1;
		return;
	}
	memset(e, 0, sizeof(*e));
	e->type = ev->type;
	e->off = abs;
	e->flags = ev->flags;
	e->status = ev->status;
	e->body = ev->body;
	e->reason = ev->reason;
	e->minor = ev->version_minor;
	e->cl = ev->content_length;
	e->head_len = ev->head_len;
	e->head_hash = ev->head ? hash(ev->head, ev->head_len) : 0;
	r->n++;
}

struct state {
	struct http_parser p;
	int in_msg; /* 0 between messages, 1 after TOO_LARGE, 2 after HEAD_END */
	int dead;
};

/* The contract of one feed call that consumed n of clen bytes at absolute offset abs. */
static void check_event(const struct cfg *c, struct state *st, const struct http_event *ev,
			size_t n, size_t clen, const uint8_t *in, size_t abs)
{
	size_t k;

	CHECK(n <= clen && ev->off <= clen);
	switch (ev->type) {
	case HTTP_EV_NONE:
		CHECK(n == clen);
		break;
	case HTTP_EV_NEED_BUFFER:
		CHECK(n == ev->off && !st->in_msg);
		if (!c->nobuf)
			CHECK(http_parser_attach_buffer(&st->p, headbuf, c->cap) == 0);
		CHECK(!http_parser_wants_buffer(&st->p));
		break;
	case HTTP_EV_NOT_HTTP:
		CHECK(n == clen && http_parser_dead(&st->p));
		st->dead = 1;
		break;
	case HTTP_EV_HEAD_END:
		CHECK(n == ev->off && (st->in_msg == 0 || st->in_msg == 1));
		st->in_msg = 2;
		check_head(c, ev, in, abs + ev->off);
		break;
	case HTTP_EV_TOO_LARGE:
		CHECK(n == ev->off && st->in_msg == 0 && !c->nobuf);
		st->in_msg = 1;
		break;
	case HTTP_EV_MESSAGE_END:
		CHECK(n == ev->off && st->in_msg == 2);
		st->in_msg = 0;
		if (!(ev->flags & HTTP_EVF_INTERIM))
			http_parser_expect_response(&st->p, c->expect);
		break;
	default:
		CHECK(0);
	}
	for (k = c->cap; k < c->cap + GUARD; k++)
		CHECK((unsigned char)headbuf[k] == 0xa5); /* nothing past the lent capacity */
}

/* After the last chunk: a dead parser stays dead; eof gives a consistent last event. */
static void finish(const struct cfg *c, struct state *st, const uint8_t *in, size_t len,
		   struct run *r)
{
	struct http_event ev;
	size_t n;
	int t;

	if (st->dead) {
		n = http_parser_feed(&st->p, (const char *)in, len, &ev);
		CHECK(n == len && ev.type == HTTP_EV_NOT_HTTP);
		return;
	}
	if (!c->eof)
		return;
	t = http_parser_eof(&st->p, &ev);
	CHECK(t == ev.type && http_parser_dead(&st->p));
	CHECK(t == HTTP_EV_NONE || t == HTTP_EV_INCOMPLETE ||
	      (t == HTTP_EV_MESSAGE_END && st->in_msg == 2 && (ev.flags & HTTP_EVF_EOF)));
	if (t != HTTP_EV_NONE)
		record(r, &ev, len);
}

/* mode 0: one chunk; 1: random chunks; 2: one byte at a time */
static void replay(const struct cfg *c, const uint8_t *in, size_t len, int mode, struct run *r)
{
	static struct state st;
	struct http_event ev;
	size_t base = 0, n;
	uint32_t x = c->seed | 1;

	r->n = 0;
	r->truncated_log = 0;
	memset(&st, 0, sizeof(st));
	http_parser_init(&st.p, c->dir);
	http_parser_expect_response(&st.p, c->expect);
	memset(headbuf, 0xa5, sizeof(headbuf));
	while (base < len && !st.dead) {
		size_t clen = mode == 0 ? len - base : mode == 2 ? 1 : 1 + next(&x) % 97;
		const char *d = (const char *)in + base;

		if (clen > len - base)
			clen = len - base;
		base += clen;
		while (clen > 0 && !st.dead) {
			n = http_parser_feed(&st.p, d, clen, &ev);
			if (mode == 1 && (next(&x) & 15) == 0)
				poke_skip(&st.p, &x);
			check_event(c, &st, &ev, n, clen, in, (size_t)(d - (const char *)in));
			if (ev.type != HTTP_EV_NONE && ev.type != HTTP_EV_NEED_BUFFER)
				record(r, &ev, (size_t)(d - (const char *)in) + ev.off);
			d += n;
			clen -= n;
		}
	}
	finish(c, &st, in, len, r);
}

static void slice_in(const struct http_str *v, const uint8_t *in, size_t len)
{
	if (v->ptr)
		CHECK((const uint8_t *)v->ptr >= in && v->len <= len &&
		      (const uint8_t *)v->ptr + v->len <= in + len);
}

/* http_head_parse() on raw input: never crashes; on success every slice is inside it. */
static void raw_head(const struct cfg *c, const uint8_t *in, size_t len)
{
	struct http_head h;
	unsigned i;

	if (http_head_parse((const char *)in, len, c->dir, &h) != 0)
		return;
	slice_in(&h.method, in, len);
	slice_in(&h.target, in, len);
	slice_in(&h.reason, in, len);
	for (i = 0; i < HTTP_F_COUNT; i++)
		slice_in(&h.field[i], in, len);
	CHECK(h.ntracestate <= HTTP_TRACESTATE_LINES);
	for (i = 0; i < h.ntracestate; i++)
		slice_in(&h.tracestate[i], in, len);
	CHECK(h.content_length >= -1);
}

/* Same framing with and without a buffer: see the top comment. */
static void same_framing(const struct run *a, const struct run *b)
{
	const unsigned mask = ~(unsigned)HTTP_EVF_TRUNCATED;
	const struct rec *x, *y;
	size_t i = 0, j = 0;

	if (a->truncated_log || b->truncated_log)
		return;
	for (;;) {
		while (i < a->n && a->r[i].type == HTTP_EV_TOO_LARGE)
			i++;
		while (j < b->n && b->r[j].type == HTTP_EV_TOO_LARGE)
			j++;
		if (i == a->n || j == b->n)
			break;
		x = &a->r[i++];
		y = &b->r[j++];
		CHECK(x->type == y->type && x->off == y->off);
		CHECK((x->flags & mask) == (y->flags & mask));
		CHECK(x->status == y->status && x->body == y->body && x->reason == y->reason);
		CHECK(x->minor == y->minor && x->cl == y->cl);
	}
	CHECK(i == a->n && j == b->n);
}

static void same(const struct run *a, const struct run *b)
{
	if (a->truncated_log || b->truncated_log)
		return;
	CHECK(a->n == b->n);
	CHECK(memcmp(a->r, b->r, a->n * sizeof(a->r[0])) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c, flipped;

	if (size < 2)
		return 0;
	c.dir = data[0] & 1 ? HTTP_DIR_RESPONSE : HTTP_DIR_REQUEST;
	c.expect = (data[0] & 2 ? HTTP_RESP_TO_HEAD : 0u) | (data[0] & 4 ? HTTP_RESP_TO_CONNECT : 0u);
	c.nobuf = (data[0] >> 3) & 1;
	c.cap = (data[0] >> 4) ? (size_t)(data[0] >> 4) * 24 : HTTP_HEAD_MAX;
	c.eof = data[1] & 1;
	c.seed = 0x9e3779b9u ^ data[1];
	data += 2;
	size -= 2;

	raw_head(&c, data, size);
	replay(&c, data, size, 0, &runs[0]);
	replay(&c, data, size, 1, &runs[1]);
	same(&runs[0], &runs[1]);
	flipped = c;
	flipped.nobuf = !c.nobuf;
	replay(&flipped, data, size, 0, &runs[3]);
	same_framing(&runs[0], &runs[3]);
	if (size <= 4096) {
		replay(&c, data, size, 2, &runs[2]);
		same(&runs[0], &runs[2]);
	}
	return 0;
}
