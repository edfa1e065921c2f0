/*
 * http_head_stream.c - the syntax of HTTP/1.x heads, checked incrementally as they stream by.
 *
 * http_parser.c drives http_head_run() over the head bytes of each chunk; the state lives in
 * struct http_parser, so a head may arrive in any split. The machine checks the request-line
 * (RFC 9112 3: token method, SP, target, SP, HTTP/1.x), the status-line (RFC 9112 4: version,
 * SP, three digits, optional reason) and field lines (RFC 9112 5: token name, colon, field-vchar
 * value; no whitespace before the colon; CR only before LF), remembers what framing needs
 * (method HEAD/CONNECT, status, Content-Length and Transfer-Encoding through the rules of
 * http_head.c) and reports the blank line without consuming it.
 *
 * Cost: the common case is fast and the rare one exact. At the start of each line, whole lines
 * inside the chunk go through http_head_fast() (http_head_fast.c), which checks them with
 * vector scans; anything unusual in a line, or a line cut by the chunk's end, is left to the
 * byte-level states here, which decide exactly as they would have without the fast path (the
 * unit tests replay every case at every split to hold the two paths equal, the fuzz target
 * compares random splits with the whole).
 *
 * Thread/signal safety: pure functions of their arguments (the parser struct) and const
 * tables; async-signal-safe.
 */
#include "http_parser.h"
#include "http_scan.h"

#include <string.h>

static inline unsigned char lc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* --- the head machine -------------------------------------------------------------------- */

static inline int is_tchar(unsigned char c)
{
	return http_ctab[c] & HTTP_C_TCHAR;
}

/* Framing header names, by HTTP_HDR_*, matched as the name streams by. */
static const char *const hdr_name[] = { "", "content-length", "transfer-encoding" };
static const uint8_t hdr_len[] = { 0, 14, 17 };

/* The method's first bytes packed big-endian into http_parser.word. */
#define W(a, b, c, d)                                                                      \
	((uint64_t)(a) << 24 | (uint64_t)(b) << 16 | (uint64_t)(c) << 8 | (uint64_t)(d))
#define WORD_HEAD W('H', 'E', 'A', 'D')
#define WORD_PRI W(0, 'P', 'R', 'I')
#define WORD_CONNECT ((uint64_t)W(0, 'C', 'O', 'N') << 32 | W('N', 'E', 'C', 'T'))

static int line_end(struct http_parser *p)
{
	if (p->hdr == HTTP_HDR_CL) {
		http_cl_line_end(&p->cl);
		if (p->cl.bad)
			return -HTTP_R_LENGTH;
	} else if (p->hdr == HTTP_HDR_TE) {
		http_te_line_end(&p->te);
	}
	p->last_hdr = p->hdr;
	p->hdr = HTTP_HDR_NONE;
	p->cnt = 0;
	p->state = HTTP_S_LINE;
	return 0;
}

/* The method is complete: remember what the response framing depends on. */
static int method_end(struct http_parser *p)
{
	if (p->cnt == 4 && p->word == WORD_HEAD)
		p->mflags |= HTTP_EVF_METHOD_HEAD;
	else if (p->cnt == 7 && p->word == WORD_CONNECT)
		p->mflags |= HTTP_EVF_METHOD_CONNECT;
	else if (p->cnt == 3 && p->word == WORD_PRI)
		return -HTTP_R_HTTP2; /* RFC 9113 3.4: "PRI * HTTP/2.0" preface */
	return 0;
}

/* "HTTP/1.x": one byte of the version at p->cnt. 0, 1 when complete, or -reason. */
static int version_byte(struct http_parser *p, unsigned char c)
{
	static const char v[] = "HTTP/1.";

	if (p->cnt < 7) {
		if (c != (unsigned char)v[p->cnt])
			return p->cnt == 5 && c >= '0' && c <= '9' ? -HTTP_R_HTTP2
								     : -HTTP_R_START_LINE;
		p->cnt++;
		return 0;
	}
	if (c < '0' || c > '9')
		return -HTTP_R_START_LINE;
	p->minor = (uint8_t)(c - '0');
	p->cnt = 0;
	return 1;
}

/* The first byte of a field line: a name, or an obs-fold. */
static int line_start(struct http_parser *p, unsigned char c)
{
	if (c == ' ' || c == '\t') {
		/* obs-fold (RFC 9112 5.2): refused after the start line (2.2) and on framing
		 * headers; elsewhere the caller turns the fold into spaces in its copy, which is
		 * how the RFC asks a recipient to read it, and the line continues the value. */
		if (p->last_hdr != HTTP_HDR_NONE)
			return -HTTP_R_HEADER;
		p->state = HTTP_S_VALUE;
		return HTTP_STEP_FOLD;
	}
	if (!is_tchar(c))
		return -HTTP_R_HEADER;
	c = lc(c);
	p->hdr = c == 'c' ? HTTP_HDR_CL : c == 't' ? HTTP_HDR_TE : HTTP_HDR_NONE;
	p->cnt = 1;
	p->state = HTTP_S_NAME;
	return 0;
}

/* Field name bytes after the first: candidates for the framing headers narrowed as we go. */
static size_t name_bytes(struct http_parser *p, const unsigned char *d, size_t pos, size_t end,
			 int *rc)
{
	unsigned char c;

	*rc = 0;
	while (pos < end) {
		c = d[pos];
		if (!is_tchar(c))
			break;
		if (p->hdr != HTTP_HDR_NONE) {
			const char *name = hdr_name[p->hdr];

			if (p->cnt < hdr_len[p->hdr] && lc(c) == (unsigned char)name[p->cnt])
				p->cnt++;
			else
				p->hdr = HTTP_HDR_NONE;
		} else {
			pos = http_token_end(d, pos, end) - 1;
		}
		pos++;
	}
	if (pos == end)
		return pos;
	if (d[pos] != ':') {
		*rc = -HTTP_R_HEADER; /* includes whitespace before the colon (RFC 9112 5.1) */
		return pos;
	}
	if (p->hdr != HTTP_HDR_NONE && p->cnt != hdr_len[p->hdr])
		p->hdr = HTTP_HDR_NONE;
	p->state = p->hdr != HTTP_HDR_NONE ? HTTP_S_FVALUE : HTTP_S_VALUE;
	return pos + 1;
}

/* CR/LF ending a head line, with anything else being a bad character for that line. */
static int line_term(struct http_parser *p, unsigned char c, size_t *pos, int reason)
{
	if (c == '\r') {
		p->state = HTTP_S_LF;
		(*pos)++;
		return 0;
	}
	if (c == '\n') {
		(*pos)++;
		return line_end(p);
	}
	return -reason;
}

/* S_METHOD: one byte of the method. */
static int method_step(struct http_parser *p, const unsigned char *d, size_t *pos)
{
	unsigned char c = d[*pos];

	if (is_tchar(c)) {
		if (++p->cnt > HTTP_METHOD_MAX)
			return -(p->nmsg > 1 ? HTTP_R_START_LINE : HTTP_R_BINARY);
		if (p->cnt <= 8)
			p->word = p->word << 8 | c;
		(*pos)++;
		return 0;
	}
	if (c != ' ')
		return -(p->nmsg > 1 ? HTTP_R_START_LINE : HTTP_R_BINARY);
	p->state = HTTP_S_TARGET0;
	(*pos)++;
	return method_end(p);
}

/* S_TARGET0 / S_TARGET: at least one target character, then SP. */
static int target_step(struct http_parser *p, const unsigned char *d, size_t *pos, size_t end)
{
	unsigned char c = d[*pos];

	if (http_ctab[c] & HTTP_C_TARGET) {
		p->state = HTTP_S_TARGET;
		*pos = http_scan(d, *pos, end, HTTP_C_TARGET);
		if (*pos == end)
			return 0;
		c = d[*pos];
	}
	if (c == ' ' && p->state == HTTP_S_TARGET) {
		p->state = HTTP_S_RQ_VERSION;
		p->cnt = 0;
		(*pos)++;
		return 0;
	}
	return -(c == '\r' || c == '\n' ? HTTP_R_HTTP09 : HTTP_R_START_LINE);
}

/* S_RQ_VERSION / S_RS_VERSION: the whole version at once, or one byte. */
static int version_step(struct http_parser *p, const unsigned char *d, size_t *pos, size_t end)
{
	int next = p->state == HTTP_S_RQ_VERSION ? HTTP_S_EOL : HTTP_S_STATUS;
	int rc;

	if (p->cnt == 0 && end - *pos >= 8 && memcmp(d + *pos, "HTTP/1.", 7) == 0 &&
	    d[*pos + 7] >= '0' && d[*pos + 7] <= '9') {
		/* the whole version at once: same outcome as eight version_byte() calls */
		p->minor = (uint8_t)(d[*pos + 7] - '0');
		*pos += 8;
		p->state = (uint8_t)next;
		return 0;
	}
	rc = version_byte(p, d[*pos]);
	if (rc < 0)
		return rc;
	(*pos)++;
	if (rc == 1)
		p->state = (uint8_t)next;
	return 0;
}

/* S_STATUS: " NNN", cnt 0 being the space, 1..3 the digits, the first one 1-9. */
static int status_step(struct http_parser *p, unsigned char c, size_t *pos)
{
	if (p->cnt == 0 ? c != ' ' : (c < '0' || c > '9' || (p->cnt == 1 && c == '0')))
		return -HTTP_R_START_LINE;
	if (p->cnt > 0)
		p->status = (uint16_t)(p->status * 10 + (c - '0'));
	if (++p->cnt == 4)
		p->state = HTTP_S_STATUS_END;
	(*pos)++;
	return 0;
}

/* S_LINE: the blank line (reported, not consumed), whole field lines, or a line's first byte. */
static int line_step(struct http_parser *p, const unsigned char *d, size_t *pos, size_t end)
{
	unsigned char c = d[*pos];
	size_t q;
	int rc;

	if (c == '\r' || c == '\n')
		return HTTP_STEP_BLANK;
	if (is_tchar(c) && (q = http_head_fast(p, d, *pos, end)) != *pos) {
		*pos = q;
		return 0;
	}
	rc = line_start(p, c);
	if (rc == 0)
		(*pos)++;
	return rc;
}

/* One step at d[*pos] (*pos < end): 0 to go on, HTTP_STEP_*, or -reason. */
static inline int step(struct http_parser *p, const unsigned char *d, size_t *pos, size_t end)
{
	unsigned char c = d[*pos];
	int rc;

	switch (p->state) {
	case HTTP_S_METHOD:
		return method_step(p, d, pos);
	case HTTP_S_TARGET0:
	case HTTP_S_TARGET:
		return target_step(p, d, pos, end);
	case HTTP_S_RQ_VERSION:
	case HTTP_S_RS_VERSION:
		return version_step(p, d, pos, end);
	case HTTP_S_STATUS:
		return status_step(p, c, pos);
	case HTTP_S_STATUS_END:
		p->hdr = HTTP_HDR_START;
		if (c != ' ')
			return line_term(p, c, pos, HTTP_R_START_LINE);
		p->state = HTTP_S_REASON;
		(*pos)++;
		return 0;
	case HTTP_S_REASON:
		*pos = http_scan(d, *pos, end, HTTP_C_VALUE);
		return *pos == end ? 0 : line_term(p, d[*pos], pos, HTTP_R_START_LINE);
	case HTTP_S_EOL:
		p->hdr = HTTP_HDR_START;
		return line_term(p, c, pos, HTTP_R_START_LINE);
	case HTTP_S_LF:
		if (c != '\n')
			return -HTTP_R_HEADER; /* bare CR (RFC 9112 2.2) */
		(*pos)++;
		return line_end(p);
	case HTTP_S_LINE:
		return line_step(p, d, pos, end);
	case HTTP_S_NAME:
		*pos = name_bytes(p, d, *pos, end, &rc);
		return rc;
	case HTTP_S_VALUE:
		*pos = http_scan(d, *pos, end, HTTP_C_VALUE);
		return *pos == end ? 0 : line_term(p, d[*pos], pos, HTTP_R_HEADER);
	case HTTP_S_FVALUE:
		if (!(http_ctab[c] & HTTP_C_VALUE))
			return line_term(p, c, pos, HTTP_R_HEADER);
		if (p->hdr == HTTP_HDR_CL)
			http_cl_byte(&p->cl, c);
		else
			http_te_byte(&p->te, c);
		(*pos)++;
		return 0;
	}
	return -HTTP_R_START_LINE; /* not reached: called in head states only */
}

int http_head_run(struct http_parser *p, const unsigned char *d, size_t *pos, size_t end)
{
	int rc = 0;

	while (*pos < end && (rc = step(p, d, pos, end)) == 0)
		;
	return rc;
}
