/*
 * http_parser.c - incremental HTTP/1.x framing (see http_parser.h for the contract).
 *
 * Design: a state machine whose whole state is struct http_parser, so a message may arrive in
 * any split (one byte at a time included) and the events come out at the same absolute offsets
 * as for one big chunk; the unit tests replay every case at every split point to hold that, the
 * fuzz target compares random splits with the whole.
 *
 * This file drives the messages: between messages, heads (whose syntax lives in
 * http_head_fast.c, whole lines at once, and http_head_stream.c, the byte machine), the blank
 * line, bodies and chunked coding. Head bytes are copied into the caller's buffer in runs, not
 * byte by byte, each run bounded by the buffer's room so that TOO_LARGE falls on an exact
 * byte. Content-Length and Transfer-Encoding are interpreted as they stream by (rules in
 * http_head.c), so framing needs no buffer: a head over the cap, or one the caller chose not
 * to capture, is still delimited exactly, by the same rules. Bodies cost O(1) per chunk
 * (Content-Length, chunk data) or nothing (until EOF).
 *
 * Cost: a tracked message costs three calls at least (NEED_BUFFER, HEAD_END, then the blank
 * line), so http_parser_feed() answers the first and the last of them before entering the
 * general loop, and the per-message state is one contiguous block that msg_reset() zeroes at
 * once. bench/parser counts the instructions per head.
 *
 * Give-up policy: whenever the framing is ambiguous (conflicting Content-Length, a request
 * Transfer-Encoding that does not end in chunked, obs-fold on a framing header, bare CR, chunk
 * size overflow) the parser stops for good (NOT_HTTP) rather than guess: a wrong boundary would
 * make the tracker insert a header line into a body. Bytes that cannot begin a message are
 * rejected at the first byte (TLS records, binary), the HTTP/2 preface at its method.
 *
 * Invariants: the parser writes only inside [buf, buf + cap) of a lent buffer and only while
 * it holds it; every event offset lies in [0, len]; MESSAGE_END of a message always follows its
 * HEAD_END; HEAD_END's offset is the blank line's first byte and equals the return value.
 *
 * Thread/signal safety: no globals (only const tables), no allocation, no locks, no libc calls
 * but memcpy/memset; async-signal-safe; one thread at a time per parser.
 */
#include "http_parser.h"
#include "http_scan.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* Largest chunk size accepted: 2^60 - 1 (15 hex digits); beyond is an overflow attempt. */
#define CHUNK_SHIFT_LIMIT ((uint64_t)1 << 56)

static inline int is_tchar(unsigned char c)
{
	return http_ctab[c] & HTTP_C_TCHAR;
}

static inline unsigned char lc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

static void ev_clear(struct http_event *ev)
{
	memset(ev, 0, sizeof(*ev));
}

/* Per-message state back to "between messages" (HTTP_S_IDLE is 0): one block of stores. */
static void msg_reset(struct http_parser *p)
{
	memset(&p->head_len, 0, sizeof(*p) - offsetof(struct http_parser, head_len));
}

void http_parser_init(struct http_parser *p, int dir)
{
	memset(p, 0, sizeof(*p));
	p->dir = dir == HTTP_DIR_RESPONSE ? HTTP_DIR_RESPONSE : HTTP_DIR_REQUEST;
	msg_reset(p);
}

/* Give up for good. Returns the position for the callers' convenience. */
static size_t die(struct http_parser *p, struct http_event *ev, int reason, size_t off)
{
	p->state = HTTP_S_DEAD;
	p->reason = (uint8_t)reason;
	p->buf = NULL;
	p->cap = 0;
	ev->type = HTTP_EV_NOT_HTTP;
	ev->reason = reason;
	ev->off = off;
	return off;
}

static void message_end(struct http_parser *p, struct http_event *ev, size_t off)
{
	ev->type = HTTP_EV_MESSAGE_END;
	ev->off = off;
	ev->flags |= p->mflags;
	if (!(p->mflags & HTTP_EVF_INTERIM))
		p->expect = 0;
	if (p->mflags & HTTP_EVF_UPGRADE) {
		/* 101 or a CONNECT tunnel: what follows is another protocol. Reported as NOT_HTTP
		 * on the next feed, so that the event stays about this message. */
		p->state = HTTP_S_DEAD;
		p->reason = HTTP_R_UPGRADED;
		return;
	}
	msg_reset(p);
}

/* Copy a run of head bytes into the lent buffer (run_head() keeps it within cap). */
static void capture(struct http_parser *p, const unsigned char *s, size_t n)
{
	if (p->buf && n) {
		memcpy(p->buf + p->head_len, s, n);
		p->head_len += (uint32_t)n;
	}
}

/* --- head ------------------------------------------------------------------------------- */

/* Framing of the message whose head just ended (RFC 9112 6.3); 0 or -reason. */
static int framing(struct http_parser *p)
{
	int s = p->status;

	p->body = HTTP_BODY_NONE;
	if (p->dir == HTTP_DIR_RESPONSE) {
		if (s == 101)
			p->mflags |= HTTP_EVF_UPGRADE;
		else if (s < 200)
			p->mflags |= HTTP_EVF_INTERIM;
		else if ((p->expect & HTTP_RESP_TO_CONNECT) && s < 300)
			p->mflags |= HTTP_EVF_UPGRADE;
		if (s < 200 || s == 204 || s == 304 || (p->expect & HTTP_RESP_TO_HEAD) ||
		    (p->mflags & HTTP_EVF_UPGRADE))
			return 0;
	}
	if (p->te.present) {
		if (p->minor == 0)
			return -HTTP_R_TRANSFER; /* RFC 9112 6.1: faulty framing in HTTP/1.0 */
		if (p->te.chunked)
			p->body = HTTP_BODY_CHUNKED;
		else if (p->dir == HTTP_DIR_RESPONSE)
			p->body = HTTP_BODY_EOF;
		else
			return -HTTP_R_TRANSFER; /* RFC 9112 6.3 item 4: a server answers 400 */
		return 0;
	}
	if (p->cl.seen) {
		p->left = p->cl.val;
		p->body = p->left ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	} else if (p->dir == HTTP_DIR_RESPONSE) {
		p->body = HTTP_BODY_EOF;
	}
	return 0;
}

static size_t head_end(struct http_parser *p, struct http_event *ev, size_t off)
{
	int rc = framing(p);

	if (rc < 0)
		return die(p, ev, -rc, off);
	ev->type = HTTP_EV_HEAD_END;
	ev->off = off;
	if (p->buf && !(p->mflags & HTTP_EVF_TRUNCATED)) {
		ev->head = p->buf;
		ev->head_len = p->head_len;
	} else {
		p->mflags |= HTTP_EVF_TRUNCATED;
	}
	ev->flags = p->mflags;
	ev->status = p->status;
	ev->version_minor = p->minor;
	ev->body = p->body;
	ev->content_length = p->body == HTTP_BODY_LENGTH ? p->left : 0;
	p->buf = NULL; /* the caller's again */
	p->cap = 0;
	p->state = HTTP_S_BLANK;
	return off;
}

/* obs-fold: the previous line's CRLF (or LF) becomes spaces in the captured copy, so the
 * continuation reads as part of the value, same length, same offsets (RFC 9112 5.2). */
static void fold(struct http_parser *p)
{
	if (!p->buf || p->head_len == 0)
		return;
	p->buf[p->head_len - 1] = ' ';
	if (p->head_len >= 2 && p->buf[p->head_len - 2] == '\r')
		p->buf[p->head_len - 2] = ' ';
}

/* Head states over d[pos..len): stops at an event or at the end. Returns the new position. */
static size_t run_head(struct http_parser *p, const unsigned char *d, size_t pos, size_t len,
		       struct http_event *ev)
{
	size_t start = pos, end = len;
	int rc = 0;

	/* The buffer's room bounds how far this run may go; what lies beyond is TOO_LARGE. */
	if (p->buf && p->cap - p->head_len < len - pos)
		end = pos + (p->cap - p->head_len);
	/* Whole lines first (http_head_fast.c); the byte machine takes over where they stop. */
	pos = http_head_fast(p, d, pos, end);
	if (pos < end && p->state == HTTP_S_LINE && (d[pos] == '\r' || d[pos] == '\n')) {
		capture(p, d + start, pos - start);
		return head_end(p, ev, pos);
	}
	while (pos < end) {
		rc = http_head_run(p, d, &pos, end);
		if (rc == HTTP_STEP_FOLD) {
			/* Flush up to the fold, then overwrite the line break before it. */
			capture(p, d + start, pos - start);
			start = pos;
			fold(p);
			rc = 0;
		} else if (rc != 0) {
			break;
		}
	}
	capture(p, d + start, pos - start);
	if (rc < 0)
		return die(p, ev, -rc, pos);
	if (p->state == HTTP_S_LINE && pos < len && (d[pos] == '\r' || d[pos] == '\n'))
		return head_end(p, ev, pos);
	if (pos < len) {
		/* The buffer is full and the head goes on: framing continues uncaptured. */
		p->buf = NULL;
		p->cap = 0;
		p->mflags |= HTTP_EVF_TRUNCATED;
		ev->type = HTTP_EV_TOO_LARGE;
		ev->off = pos;
	}
	return pos;
}

/* --- between messages and bodies -------------------------------------------------------- */

static size_t idle(struct http_parser *p, const unsigned char *d, size_t pos, size_t len,
		   struct http_event *ev)
{
	unsigned char c;

	for (; pos < len; pos++) {
		if (d[pos] != '\r' && d[pos] != '\n')
			break;
		if (++p->blank > HTTP_BLANK_MAX)
			return die(p, ev, p->nmsg ? HTTP_R_START_LINE : HTTP_R_BINARY, pos);
	}
	if (pos == len)
		return pos;
	c = d[pos];
	if (p->dir == HTTP_DIR_REQUEST ? !is_tchar(c) : c != 'H') {
		if (p->nmsg)
			return die(p, ev, HTTP_R_START_LINE, pos);
		return die(p, ev, c == 0x16 ? HTTP_R_TLS : HTTP_R_BINARY, pos);
	}
	if (!p->buf && !p->asked && !p->nocap) {
		p->asked = 1;
		ev->type = HTTP_EV_NEED_BUFFER;
		ev->off = pos;
		return pos;
	}
	if (p->nmsg < 255)
		p->nmsg++;
	p->cnt = 0;
	p->state = p->dir == HTTP_DIR_REQUEST ? HTTP_S_METHOD : HTTP_S_RS_VERSION;
	return pos;
}

static size_t body_start(struct http_parser *p, struct http_event *ev, size_t pos)
{
	static const uint8_t next[] = {
		[HTTP_BODY_NONE] = HTTP_S_IDLE,
		[HTTP_BODY_LENGTH] = HTTP_S_BODY_LEN,
		[HTTP_BODY_CHUNKED] = HTTP_S_CH_SIZE0,
		[HTTP_BODY_EOF] = HTTP_S_BODY_EOF,
	};

	if (p->body == HTTP_BODY_NONE)
		message_end(p, ev, pos);
	else
		p->state = next[p->body];
	return pos;
}

/* Hex digit value, or -1. */
static int hexval(unsigned char c)
{
	if (!(http_ctab[c] & HTTP_C_HEX))
		return -1;
	return c <= '9' ? c - '0' : lc(c) - 'a' + 10;
}

/* End of a chunk-size line: data, or the trailer section after the last chunk. */
static void chunk_line_end(struct http_parser *p)
{
	p->state = p->left ? HTTP_S_CH_DATA : HTTP_S_TR_LINE;
}

/* The chunk-size line (RFC 9112 7.1): size, optional BWS and extensions, CRLF. */
static size_t chunk_size(struct http_parser *p, const unsigned char *d, size_t pos, size_t len,
			 struct http_event *ev)
{
	unsigned char c;
	int h;

	for (; pos < len; pos++) {
		c = d[pos];
		if (p->state == HTTP_S_CH_SIZE0 || p->state == HTTP_S_CH_SIZE) {
			h = hexval(c);
			if (h >= 0) {
				if (p->left >= CHUNK_SHIFT_LIMIT)
					return die(p, ev, HTTP_R_CHUNK, pos);
				p->left = p->left << 4 | (uint64_t)h;
				p->state = HTTP_S_CH_SIZE;
				continue;
			}
			if (p->state == HTTP_S_CH_SIZE0)
				return die(p, ev, HTTP_R_CHUNK, pos);
		} else if (p->state == HTTP_S_CH_EXT) {
			pos = http_scan(d, pos, len, HTTP_C_VALUE);
			if (pos == len)
				break;
			c = d[pos];
		} else if (p->state == HTTP_S_CH_LF) {
			if (c != '\n')
				return die(p, ev, HTTP_R_CHUNK, pos);
			chunk_line_end(p);
			return pos + 1;
		}
		/* Here c is not a size digit, and in HTTP_S_CH_EXT not an extension character. */
		if (c == ';' || c == ' ' || c == '\t') {
			p->state = c == ';' ? HTTP_S_CH_EXT : HTTP_S_CH_WS;
		} else if (c == '\r') {
			p->state = HTTP_S_CH_LF;
		} else if (c == '\n') {
			chunk_line_end(p);
			return pos + 1;
		} else {
			return die(p, ev, HTTP_R_CHUNK, pos);
		}
	}
	return pos;
}

/* Trailer section (RFC 9112 7.1.2): field lines, skipped, up to the empty line. */
static size_t trailers(struct http_parser *p, const unsigned char *d, size_t pos, size_t len,
		       struct http_event *ev)
{
	unsigned char c = d[pos];

	switch (p->state) {
	case HTTP_S_TR_LINE:
		if (c == '\r') {
			p->state = HTTP_S_END_LF;
		} else if (c == '\n') {
			message_end(p, ev, pos + 1);
		} else if (is_tchar(c) || c == ' ' || c == '\t') {
			p->state = HTTP_S_TR;
		} else {
			return die(p, ev, HTTP_R_CHUNK, pos);
		}
		return pos + 1;
	case HTTP_S_TR:
		pos = http_scan(d, pos, len, HTTP_C_VALUE);
		if (pos == len)
			return pos;
		c = d[pos];
		if (c != '\r' && c != '\n')
			return die(p, ev, HTTP_R_CHUNK, pos);
		p->state = c == '\r' ? HTTP_S_TR_LF : HTTP_S_TR_LINE;
		return pos + 1;
	case HTTP_S_TR_LF:
	case HTTP_S_END_LF:
		if (c != '\n')
			return die(p, ev, HTTP_R_CHUNK, pos);
		if (p->state == HTTP_S_END_LF)
			message_end(p, ev, pos + 1);
		else
			p->state = HTTP_S_TR_LINE;
		return pos + 1;
	}
	return pos;
}

/* One step outside the head: returns the new position; ev set on an event. */
static size_t body_step(struct http_parser *p, const unsigned char *d, size_t pos, size_t len,
			struct http_event *ev)
{
	unsigned char c = d[pos];
	uint64_t n;

	switch (p->state) {
	case HTTP_S_BLANK:
	case HTTP_S_BLANK_LF:
		if (c == '\n')
			return body_start(p, ev, pos + 1);
		if (c != '\r' || p->state == HTTP_S_BLANK_LF)
			return die(p, ev, HTTP_R_HEADER, pos);
		p->state = HTTP_S_BLANK_LF;
		return pos + 1;
	case HTTP_S_BODY_LEN:
	case HTTP_S_CH_DATA:
		n = len - pos < p->left ? len - pos : p->left;
		p->left -= n;
		pos += (size_t)n;
		if (p->left == 0) {
			if (p->state == HTTP_S_BODY_LEN)
				message_end(p, ev, pos);
			else
				p->state = HTTP_S_CH_DATA_CR;
		}
		return pos;
	case HTTP_S_BODY_EOF:
		return len;
	case HTTP_S_CH_SIZE0:
	case HTTP_S_CH_SIZE:
	case HTTP_S_CH_WS:
	case HTTP_S_CH_EXT:
	case HTTP_S_CH_LF:
		return chunk_size(p, d, pos, len, ev);
	case HTTP_S_CH_DATA_CR:
	case HTTP_S_CH_DATA_LF:
		if (c == '\n')
			p->state = HTTP_S_CH_SIZE0;
		else if (c == '\r' && p->state == HTTP_S_CH_DATA_CR)
			p->state = HTTP_S_CH_DATA_LF;
		else
			return die(p, ev, HTTP_R_CHUNK, pos);
		return pos + 1;
	default:
		return trailers(p, d, pos, len, ev);
	}
}

/* The general case: steps until an event or the end of the chunk, from pos. */
static size_t feed_from(struct http_parser *p, const unsigned char *d, size_t pos, size_t len,
			struct http_event *ev)
{
	while (pos < len && ev->type == HTTP_EV_NONE) {
		if (p->state == HTTP_S_IDLE)
			pos = idle(p, d, pos, len, ev);
		else if (p->state <= HTTP_S_FVALUE)
			pos = run_head(p, d, pos, len, ev);
		else
			pos = body_step(p, d, pos, len, ev);
	}
	return ev->type == HTTP_EV_NOT_HTTP ? len : pos;
}

size_t http_parser_feed(struct http_parser *p, const char *data, size_t len,
			struct http_event *ev)
{
	const unsigned char *d = (const unsigned char *)data;

	ev_clear(ev);
	if (p->state == HTTP_S_DEAD) {
		ev->type = HTTP_EV_NOT_HTTP;
		ev->reason = p->reason;
		return len;
	}
	if (len == 0)
		return 0;
	switch (p->state) {
	case HTTP_S_IDLE:
		/* The common first call of a head: it starts right here and wants a buffer. */
		if (!p->buf && !p->asked && !p->nocap &&
		    (p->dir == HTTP_DIR_REQUEST ? is_tchar(d[0]) : d[0] == 'H')) {
			p->asked = 1;
			ev->type = HTTP_EV_NEED_BUFFER;
			return 0;
		}
		break;
	case HTTP_S_BLANK:
		/* The common call after HEAD_END: the CRLF ending the head, at once. */
		if (len >= 2 && d[0] == '\r' && d[1] == '\n') {
			body_start(p, ev, 2);
			if (ev->type != HTTP_EV_NONE || len == 2)
				return 2;
			return feed_from(p, d, 2, len, ev);
		}
		break;
	}
	return feed_from(p, d, 0, len, ev);
}

int http_parser_attach_buffer(struct http_parser *p, char *buf, size_t cap)
{
	if (p->state != HTTP_S_IDLE)
		return -EBUSY;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	p->buf = cap ? buf : NULL;
	p->cap = buf ? (uint32_t)cap : 0;
	p->asked = 1;
	return 0;
}

void http_parser_no_capture(struct http_parser *p)
{
	p->nocap = 1;
}

int http_parser_wants_buffer(const struct http_parser *p)
{
	return p->state == HTTP_S_IDLE && !p->buf && !p->asked && !p->nocap;
}

void http_parser_expect_response(struct http_parser *p, unsigned resp_flags)
{
	p->expect = (uint8_t)(resp_flags & (HTTP_RESP_TO_HEAD | HTTP_RESP_TO_CONNECT));
}

int http_parser_eof(struct http_parser *p, struct http_event *ev)
{
	ev_clear(ev);
	if (p->state == HTTP_S_BODY_EOF) {
		ev->flags = HTTP_EVF_EOF;
		message_end(p, ev, 0);
	} else if (p->state != HTTP_S_IDLE && p->state != HTTP_S_DEAD) {
		ev->type = HTTP_EV_INCOMPLETE;
	}
	if (p->state != HTTP_S_DEAD)
		p->reason = HTTP_R_EOF;
	p->state = HTTP_S_DEAD;
	p->buf = NULL;
	p->cap = 0;
	return ev->type;
}

int http_parser_skip_body(struct http_parser *p, uint64_t n, struct http_event *ev)
{
	ev_clear(ev);
	if (n == 0 || p->state == HTTP_S_BODY_EOF)
		return ev->type;
	if (p->state == HTTP_S_DEAD) {
		ev->type = HTTP_EV_NOT_HTTP;
		ev->reason = p->reason;
		return ev->type;
	}
	if ((p->state != HTTP_S_BODY_LEN && p->state != HTTP_S_CH_DATA) || n > p->left) {
		die(p, ev, HTTP_R_SKIP, 0);
		return ev->type;
	}
	p->left -= n;
	if (p->left == 0) {
		if (p->state == HTTP_S_CH_DATA) {
			p->state = HTTP_S_CH_DATA_CR;
		} else {
			ev->flags = HTTP_EVF_SKIPPED;
			message_end(p, ev, 0);
		}
	}
	return ev->type;
}

int http_parser_dead(const struct http_parser *p)
{
	return p->state == HTTP_S_DEAD;
}
