/*
 * http_head.h - field extraction from a complete HTTP/1.x message head, and the framing-header
 * rules (Content-Length, Transfer-Encoding) shared with the incremental parser (http_parser.h).
 *
 * Pure: no I/O, no allocation, no globals, no locks; async-signal-safe. Every result is a slice
 * into the caller's buffer, valid as long as that buffer is.
 */
#ifndef WT_HTTP_HEAD_H
#define WT_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_dir {
	HTTP_DIR_REQUEST = 0,  /* the bytes carry requests (server: inbound, client: outbound) */
	HTTP_DIR_RESPONSE = 1, /* the bytes carry responses */
};

/* A slice of the head buffer. ptr is NULL when the field is absent. */
struct http_str {
	const char *ptr;
	size_t len;
};

/* The header fields wiretrace looks at, one slot each (first occurrence wins; later ones only
 * set the field's bit in http_head.dup). tracestate is kept apart because every line counts. */
enum http_field {
	HTTP_F_HOST = 0,
	HTTP_F_USER_AGENT,
	HTTP_F_TRACEPARENT,
	HTTP_F_CONTENT_LENGTH,
	HTTP_F_TRANSFER_ENCODING,
	HTTP_F_CONNECTION,
	HTTP_F_EXPECT,
	HTTP_F_UPGRADE,
	HTTP_F_X_FORWARDED_FOR,
	HTTP_F_X_FORWARDED_PROTO,
	HTTP_F_X_FORWARDED_HOST,
	HTTP_F_FORWARDED,
	HTTP_F_COUNT,
};

/* W3C Trace Context 3.3: tracestate may be split over several header lines, to be combined in
 * order. We keep the first HTTP_TRACESTATE_LINES lines; more sets HTTP_HF_TRACESTATE_MORE. */
#define HTTP_TRACESTATE_LINES 8

/* http_head.flags */
#define HTTP_HF_CHUNKED 0x0001         /* Transfer-Encoding present, final coding "chunked" */
#define HTTP_HF_TE 0x0002              /* Transfer-Encoding present */
#define HTTP_HF_BAD_LENGTH 0x0004      /* Content-Length invalid or conflicting duplicates */
#define HTTP_HF_CONN_CLOSE 0x0008      /* Connection: close */
#define HTTP_HF_CONN_KEEPALIVE 0x0010  /* Connection: keep-alive */
#define HTTP_HF_CONN_UPGRADE 0x0020    /* Connection: upgrade */
#define HTTP_HF_EXPECT_CONTINUE 0x0040 /* Expect: 100-continue */
#define HTTP_HF_TRACESTATE_MORE 0x0080 /* more than HTTP_TRACESTATE_LINES tracestate lines */

struct http_head {
	int dir;                /* enum http_dir given to http_head_parse() */
	int version_minor;      /* x in HTTP/1.x */
	struct http_str method; /* requests */
	struct http_str target; /* requests: request-target as sent (origin, absolute, ... form) */
	int status;             /* responses: 100..999 */
	struct http_str reason; /* responses: reason phrase, possibly empty */
	struct http_str field[HTTP_F_COUNT]; /* values, OWS trimmed */
	uint32_t dup;           /* bit (1 << enum http_field): the field occurred more than once */
	struct http_str tracestate[HTTP_TRACESTATE_LINES];
	unsigned ntracestate;
	int64_t content_length; /* -1 if absent or invalid (then HTTP_HF_BAD_LENGTH) */
	unsigned flags;         /* HTTP_HF_* */
};

/*
 * Parse a complete head: the start line and the header lines, each ended by CRLF or LF, up to
 * but excluding the blank line (exactly what the parser's HEAD_END event delivers; a final
 * line without its terminator is accepted too). dir selects request-line or status-line.
 * Header names are matched case-insensitively; values are trimmed of OWS (SP, HTAB). A line
 * beginning with whitespace (obs-fold) is skipped: the incremental parser has already turned
 * each obs-fold of the heads it captures into spaces (RFC 9112 5.2), so the continuation is
 * part of the previous value. Returns 0, or -EINVAL for a malformed start line, a header line
 * without a token name and colon, or a control character (bare CR, NUL, ...) in a value; then
 * *out is partially filled and must not be used.
 */
int http_head_parse(const char *buf, size_t len, int dir, struct http_head *out);

/* Does a head that http_head_parse() accepts have a traceparent field line (any case)? Much
 * cheaper than the parse for heads without one: a LF scan and one compare per line. */
bool http_head_has_traceparent(const char *buf, size_t len);

/* Case-insensitive (ASCII only, locale-independent) comparison of a slice with a lowercase
 * literal: true when equal. */
bool http_str_ieq(const char *s, size_t len, const char *lower);

/*
 * Framing rules shared by http_head_parse() and the incremental parser, fed one byte of the
 * field value at a time (so that a value split across reads needs no buffer), then told where
 * each field line ends. The state persists over all lines of one message.
 *
 * Content-Length (RFC 9110 8.6, RFC 9112 6.3 item 5): a comma list of identical decimal values
 * is accepted as that value, across several lines too; anything else (empty, sign, non-digit,
 * more than 18 digits, differing values) is invalid: the framing is unknown and the caller must
 * give up rather than guess.
 */
struct http_cl {
	uint64_t val;  /* the value agreed so far (valid when seen) */
	uint64_t cur;  /* the element being read */
	uint8_t st;    /* element state */
	uint8_t ndig;  /* digits in the current element */
	uint8_t seen;  /* a complete value has been read */
	uint8_t bad;   /* invalid: sticky */
};

/* Transfer-Encoding (RFC 9112 6.1): only whether the final coding of the combined list is
 * exactly "chunked" (case-insensitive, no parameters) matters for framing. */
struct http_te {
	uint8_t present; /* at least one Transfer-Encoding line */
	uint8_t chunked; /* the last non-empty element seen so far is "chunked" */
	uint8_t pos;     /* characters of "chunked" matched in the current element, 0xff: no */
	uint8_t st;      /* element state */
};

void http_cl_byte(struct http_cl *s, unsigned char c);
void http_cl_line_end(struct http_cl *s);
void http_te_byte(struct http_te *s, unsigned char c);
void http_te_line_end(struct http_te *s);

/* Character classes (RFC 9110 5.6.2 tchar, 5.5 field-vchar with SP/HTAB and obs-text, RFC 9112
 * 3.2 request-target characters, hex and decimal digits). Read-only table. */
#define HTTP_C_TCHAR 0x01
#define HTTP_C_VALUE 0x02
#define HTTP_C_TARGET 0x04
#define HTTP_C_HEX 0x08
#define HTTP_C_DIGIT 0x10
extern const uint8_t http_ctab[256];

#endif
