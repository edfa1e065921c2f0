/*
 * http_parser.h - incremental HTTP/1.x message framing for the connection tracker.
 *
 * One parser per connection and direction: it is fed every byte of that direction, in order, in
 * chunks of any size, and reports where message heads and messages end, with offsets into the
 * chunk it was given. It never buffers bodies; it copies heads into a buffer the caller lends it
 * (so the parser itself is small enough to embed in per-connection state), and the caller
 * extracts fields from that copy with http_head_parse().
 *
 * Pure: no I/O, no allocation, no globals, no locks; async-signal-safe. Not thread-safe: one
 * parser is used by one thread at a time (the tracker serialises per connection). The struct is
 * plain data: it may be copied to snapshot and restore a parser (a copy made while a buffer is
 * lent refers to the same buffer).
 *
 * Calling protocol:
 *
 *	struct http_event ev;
 *	while (len > 0) {
 *		size_t n = http_parser_feed(p, data, len, &ev);
 *		switch (ev.type) { ... }  // ev.off is relative to data
 *		data += n, len -= n;
 *	}
 *
 * Every call reports at most one event and returns how many bytes it consumed; the caller feeds
 * the rest again. HTTP_EV_NONE means all `len` bytes were consumed with nothing to report.
 *
 * Events:
 *   NEED_BUFFER  A head begins at ev.off (== return value; nothing of the head consumed yet) and
 *                no buffer is attached: call http_parser_attach_buffer() (or not: the head is then
 *                framed without being captured) and feed again. Asked once per head.
 *   HEAD_END     A complete head was seen. ev.off is the first byte of the blank line ending it
 *                (its CR, or the LF of a bare-LF blank line), always inside this chunk, and the
 *                return value equals ev.off: the caller may insert header lines exactly there.
 *                The blank line is recognised as soon as a line begins with CR or LF, so a writer
 *                that sends one byte at a time gets the event on the chunk holding that CR.
 *                ev.head/ev.head_len: the start line and header lines (with their terminators),
 *                excluding the blank line, contiguous in the attached buffer; NULL/0 when not
 *                captured (no buffer, or over its capacity: ev.flags has HTTP_EVF_TRUNCATED).
 *                Framing in ev.body / ev.content_length, status (responses), version_minor.
 *                The parser stops referring to the buffer here: it is the caller's again.
 *   MESSAGE_END  The message including its body is complete; ev.off (== return value) is just
 *                past its last byte, so a pipelined next message starts there. ev.flags: the
 *                message's flags as on its HEAD_END, plus HTTP_EVF_EOF / HTTP_EVF_SKIPPED.
 *   TOO_LARGE    The head reached the attached buffer's capacity without ending: ev.off is the
 *                first byte that did not fit. The buffer is released (the caller's again), the
 *                message is still framed: HEAD_END (TRUNCATED, head NULL) and MESSAGE_END follow,
 *                and the tracker passes the message through untraced.
 *   NOT_HTTP     Giving up for good: ev.reason says why; ev.off is where the parser stopped:
 *                the offending byte, or just past the field line whose value was invalid, or
 *                the blank line when the framing of a complete head is refused. The return
 *                value is len, and every later call returns len and NOT_HTTP again at no
 *                cost. Sent for bytes that are not HTTP/1.x (checked from the first byte: TLS,
 *                binary, HTTP/2 preface, HTTP/0.9), for malformed framing (never mis-frame:
 *                conflicting Content-Length, bad chunk sizes, ...), and after a protocol switch
 *                (101, or 2xx to CONNECT) once the next bytes arrive.
 *   INCOMPLETE   From http_parser_eof() only: the stream ended inside a message.
 *
 * Framing (RFC 9112 6.3): responses to HEAD, 1xx, 204 and 304 have no body; Transfer-Encoding
 * with "chunked" last wins over Content-Length; then Content-Length; then a response without
 * either runs until the connection closes (MESSAGE_END from http_parser_eof()) and a request has
 * no body. 1xx other than 101 are interim: HEAD_END and MESSAGE_END carry HTTP_EVF_INTERIM and
 * the final response follows. Requests with a Transfer-Encoding that is not chunked-last, and
 * HTTP/1.0 messages with Transfer-Encoding (RFC 9112 6.1) are given up on. Leading empty lines
 * before a message are skipped (RFC 9112 2.2), at most HTTP_BLANK_MAX bytes of them.
 * A request with Content-Length and "Expect: 100-continue" is framed by its Content-Length: if
 * the server answers with a final status and the client then drops the body, RFC 9110 10.1.1
 * has the client close the connection, which is where this parser's view ends too.
 *
 * Syntax (RFC 9112 3-5): "method SP target SP HTTP/1.x" with a token method, or "HTTP/1.x SP
 * 3DIGIT [SP reason]"; field lines "token ':' value" ended by CRLF or a bare LF, no whitespace
 * before the colon, no control characters but HTAB in values, no bare CR. obs-fold (a line
 * starting with SP/HTAB) is accepted and, in the captured copy, the line break before it is
 * overwritten with spaces (RFC 9112 5.2), except right after the start line or after
 * Content-Length / Transfer-Encoding lines, where it is refused (give up).
 *
 * Head size cap: the capacity of the attached buffer; the tracker's pool uses HTTP_HEAD_MAX.
 * The cap bounds only the capture: framing continues whatever the head's size with constant
 * memory (the parser's state is this struct), so boundaries stay known past the cap.
 */
#ifndef WT_HTTP_PARSER_H
#define WT_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "http_head.h"

/* Recommended head buffer size: twice the 8 KiB a single line may have in nginx
 * (large_client_header_buffers 4 8k) and Apache (LimitRequestFieldSize 8190). Real heads are a
 * few hundred bytes; the rare bigger ones (huge cookies) go untraced but stay framed. */
#define HTTP_HEAD_MAX 16384

/* Longest method token accepted (the longest registered methods are ~17 bytes); a longer run
 * of token characters at the start of a stream is not HTTP. */
#define HTTP_METHOD_MAX 32

/* Bytes of empty lines tolerated before a message (RFC 9112 2.2 asks for at least one CRLF). */
#define HTTP_BLANK_MAX 8

enum http_event_type {
	HTTP_EV_NONE = 0,
	HTTP_EV_NEED_BUFFER,
	HTTP_EV_HEAD_END,
	HTTP_EV_MESSAGE_END,
	HTTP_EV_TOO_LARGE,
	HTTP_EV_NOT_HTTP,
	HTTP_EV_INCOMPLETE,
};

/* http_event.flags */
#define HTTP_EVF_INTERIM 0x01   /* HEAD_END/MESSAGE_END of a 1xx (not 101): the span goes on */
#define HTTP_EVF_UPGRADE 0x02   /* HEAD_END/MESSAGE_END of 101 or 2xx-to-CONNECT: HTTP ends */
#define HTTP_EVF_TRUNCATED 0x04 /* HEAD_END/MESSAGE_END: head not captured */
#define HTTP_EVF_EOF 0x08       /* MESSAGE_END: body delimited by the end of the stream */
#define HTTP_EVF_METHOD_HEAD 0x10    /* request HEAD_END/MESSAGE_END: method HEAD */
#define HTTP_EVF_METHOD_CONNECT 0x20 /* request HEAD_END/MESSAGE_END: method CONNECT */
#define HTTP_EVF_SKIPPED 0x40   /* MESSAGE_END from http_parser_skip_body() */

enum http_body {
	HTTP_BODY_NONE = 0,
	HTTP_BODY_LENGTH, /* content_length bytes (> 0) */
	HTTP_BODY_CHUNKED,
	HTTP_BODY_EOF, /* until the end of the stream */
};

/* Why a parser gave up (NOT_HTTP). */
enum http_reason {
	HTTP_R_NONE = 0,
	HTTP_R_BINARY,      /* the first byte cannot start a message */
	HTTP_R_TLS,         /* TLS record header (0x16 0x03 ...) */
	HTTP_R_HTTP2,       /* HTTP/2 connection preface, or a version other than 1.x */
	HTTP_R_HTTP09,      /* request line without version */
	HTTP_R_START_LINE,  /* malformed request or status line */
	HTTP_R_HEADER,      /* malformed header line, obs-fold we refuse, bare CR */
	HTTP_R_LENGTH,      /* invalid or conflicting Content-Length */
	HTTP_R_TRANSFER,    /* Transfer-Encoding we cannot frame */
	HTTP_R_CHUNK,       /* malformed chunk size line, overflow, missing CRLF after data */
	HTTP_R_UPGRADED,    /* the connection switched protocols */
	HTTP_R_SKIP,        /* bytes skipped with http_parser_skip_body() did not fit the framing */
	HTTP_R_EOF,         /* fed after http_parser_eof() */
};

struct http_event {
	int type;              /* enum http_event_type */
	unsigned flags;        /* HTTP_EVF_* */
	size_t off;            /* offset in the chunk, see the event list above */
	/* HEAD_END only */
	const char *head;      /* captured head, NULL if not captured */
	size_t head_len;
	int status;            /* responses: the status code; requests: 0 */
	int version_minor;     /* x in HTTP/1.x */
	int body;              /* enum http_body */
	uint64_t content_length; /* HTTP_BODY_LENGTH */
	/* NOT_HTTP only */
	int reason;            /* enum http_reason */
};

/* Flags for http_parser_expect_response(): the same bits as the request's HTTP_EVF_METHOD_*,
 * so a request event's flags can be passed as they are. */
#define HTTP_RESP_TO_HEAD HTTP_EVF_METHOD_HEAD       /* no body whatever the headers say
							* (RFC 9110 9.3.2) */
#define HTTP_RESP_TO_CONNECT HTTP_EVF_METHOD_CONNECT /* a 2xx opens a tunnel (RFC 9110 9.3.6) */

/* All fields private; embed it, initialise with http_parser_init(). 88 bytes. */
struct http_parser {
	char *buf;          /* borrowed head buffer, NULL when none */
	uint32_t cap;       /* its capacity */
	uint8_t dir;
	uint8_t expect;     /* HTTP_RESP_* for the next final response */
	uint8_t reason;     /* enum http_reason once dead */
	uint8_t nmsg;       /* messages begun, saturating at 255 */
	uint8_t nocap;      /* http_parser_no_capture(): never NEED_BUFFER */
	/* Per-message state from here to the end: zeroed as one block between messages. */
	uint32_t head_len;  /* bytes of the current head captured so far (<= cap) */
	uint16_t status;
	uint16_t cnt;       /* position inside the current token */
	uint64_t left;      /* body or chunk bytes still to come */
	uint64_t word;      /* the method's first 8 bytes, for HEAD/CONNECT/PRI */
	struct http_cl cl;
	struct http_te te;
	uint8_t state;      /* enum http_pstate */
	uint8_t hdr;        /* framing header on the current line */
	uint8_t last_hdr;   /* framing header on the previous line (obs-fold) */
	uint8_t minor;
	uint8_t body;       /* enum http_body of the current message */
	uint8_t mflags;     /* per-message HTTP_EVF_* collected so far */
	uint8_t asked;      /* NEED_BUFFER already reported for this head */
	uint8_t blank;      /* empty-line bytes skipped before this message */
};

/* dir: enum http_dir. Also the way to reset a parser (fd reuse); any buffer is forgotten. */
void http_parser_init(struct http_parser *p, int dir);

/* Consume up to the next event; see the protocol above. len may be 0 (then NONE, or NOT_HTTP
 * for a dead parser). Returns the bytes consumed, <= len. */
size_t http_parser_feed(struct http_parser *p, const char *data, size_t len,
			struct http_event *ev);

/* Lend a head buffer of cap bytes for the next head. Valid between messages (before the first
 * byte of a head, typically right after NEED_BUFFER): returns 0; -EBUSY inside a message (the
 * buffer is not taken). buf NULL or cap 0: the next head goes uncaptured (no NEED_BUFFER). The
 * parser writes only inside [buf, buf + cap) and only until it reports HEAD_END, TOO_LARGE or
 * NOT_HTTP, or is re-initialised; the caller keeps ownership throughout. */
int http_parser_attach_buffer(struct http_parser *p, char *buf, size_t cap);

/* Never capture heads: no NEED_BUFFER event, every head is framed uncaptured (HEAD_END with
 * head NULL but status, version and framing as always). Until http_parser_init(). */
void http_parser_no_capture(struct http_parser *p);

/* True when the next byte would begin a head and no buffer is attached nor declined: a caller
 * that prefers to attach up front instead of waiting for NEED_BUFFER can test this. */
int http_parser_wants_buffer(const struct http_parser *p);

/* Response parsers only: how to frame the next final response, from the request it answers
 * (the caller keeps the FIFO of pipelined requests and calls this before each response's head
 * ends; the flags of the request's HEAD_END can be passed as they are, other bits are
 * ignored). Survives interim 1xx responses; cleared when the final response ends. */
void http_parser_expect_response(struct http_parser *p, unsigned resp_flags);

static inline void http_parser_expect_head_response(struct http_parser *p)
{
	http_parser_expect_response(p, HTTP_RESP_TO_HEAD);
}

/* The stream ended (EOF or reset on this direction). Reports MESSAGE_END (HTTP_EVF_EOF) for a
 * body delimited by the close, INCOMPLETE inside any other message, NONE between messages or
 * for a dead parser. Afterwards the parser is dead (R_EOF). Returns ev->type. */
int http_parser_eof(struct http_parser *p, struct http_event *ev);

/* n body bytes went out without passing through feed (sendfile, splice). Inside a
 * Content-Length body or a chunk's data they count against it: the event is MESSAGE_END
 * (HTTP_EVF_SKIPPED, off 0) if that completes the message, else NONE; a body until EOF absorbs
 * them. Anywhere else (or more bytes than the body has) the parser cannot follow the framing:
 * NOT_HTTP (R_SKIP). n == 0 does nothing. Returns ev->type. */
int http_parser_skip_body(struct http_parser *p, uint64_t n, struct http_event *ev);

/* The parser gave up (NOT_HTTP was or will next be reported). */
int http_parser_dead(const struct http_parser *p);

/* --- private to http_parser.c and http_head_stream.c ------------------------------------ */

/* http_parser.state. The head states S_METHOD..S_FVALUE are run by http_head_run(). */
enum http_pstate {
	HTTP_S_IDLE = 0, /* between messages */
	HTTP_S_METHOD,
	HTTP_S_TARGET0,
	HTTP_S_TARGET,
	HTTP_S_RQ_VERSION,
	HTTP_S_RS_VERSION,
	HTTP_S_STATUS,
	HTTP_S_STATUS_END,
	HTTP_S_REASON,
	HTTP_S_EOL,    /* after the request-line's version: CR or LF */
	HTTP_S_LF,     /* a CR inside the head: LF must follow */
	HTTP_S_LINE,   /* at the start of a field line (or of the blank line) */
	HTTP_S_NAME,
	HTTP_S_VALUE,
	HTTP_S_FVALUE, /* value of a framing header, interpreted byte by byte */
	HTTP_S_BLANK,  /* HEAD_END reported; at the blank line */
	HTTP_S_BLANK_LF,
	HTTP_S_BODY_LEN,
	HTTP_S_BODY_EOF,
	HTTP_S_CH_SIZE0,
	HTTP_S_CH_SIZE,
	HTTP_S_CH_WS,
	HTTP_S_CH_EXT,
	HTTP_S_CH_LF,
	HTTP_S_CH_DATA,
	HTTP_S_CH_DATA_CR,
	HTTP_S_CH_DATA_LF,
	HTTP_S_TR_LINE,
	HTTP_S_TR,
	HTTP_S_TR_LF,
	HTTP_S_END_LF,
	HTTP_S_DEAD,
};

/* http_parser.hdr / .last_hdr: which framing header a line is. */
enum { HTTP_HDR_NONE = 0, HTTP_HDR_CL, HTTP_HDR_TE, HTTP_HDR_START };

/* http_head_run() results besides 0 (*pos reached end) and -enum http_reason */
#define HTTP_STEP_BLANK 1 /* d[*pos] begins the blank line (not consumed) */
#define HTTP_STEP_FOLD 2  /* d[*pos] begins an accepted obs-fold line (not consumed) */

/* Run the incremental head syntax over d[*pos..end), advancing *pos, until end or a result. */
int http_head_run(struct http_parser *p, const unsigned char *d, size_t *pos, size_t end);

/* http_head_fast.c: at the start of a line (state S_METHOD or S_RS_VERSION with cnt 0, or
 * S_LINE), take as many whole, well-formed lines of d[pos..end) as follow each other, leaving
 * the state the byte machine would have; returns the new position (pos if none). */
size_t http_head_fast(struct http_parser *p, const unsigned char *d, size_t pos, size_t end);

#endif
