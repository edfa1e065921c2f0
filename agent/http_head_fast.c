/*
 * http_head_fast.c - the fast path of the HTTP/1.x head syntax: whole lines at once.
 *
 * http_head_stream.c checks a head byte by byte in a state machine, so that a head may arrive
 * in any split. Nearly every head arrives whole, in one chunk, and is well formed; for those
 * this file checks entire lines (the start line, then field lines) with vector scans and
 * leaves the parser in exactly the state the byte machine would have reached after the same
 * lines. It stops at the blank line, at the chunk's end, and at anything unusual (a line cut
 * by the chunk's end, obs-fold, a malformed or unusual byte, an invalid framing value, the
 * HTTP/2 preface): the general per-line path, then the byte machine, take over at the start
 * of that line and decide exactly as the byte machine would have without this path. The rules
 * are the same as the byte machine's, in every mode: a head that is not captured is checked as
 * strictly as one that is (see "Why no relaxed mode" below).
 *
 * Cost model (instructions, counted by bench/parser): a common field line (a name of letters
 * and '-' under 16 bytes, a value without HTAB, obs-text or control characters) is checked by
 * http_vk_line() (http_scan.h): one 16-byte class test for the name, whose first flag must be
 * the colon, and 32 bytes of control-character flags from the line's start, which hold the
 * end of most lines, one more test per further 16 bytes; about 50 instructions for a typical
 * 25-byte line, in a loop that makes no call. Content-Length and Transfer-Encoding are
 * recognised by length, then by 8-byte case-folded compares, and their common values ("612",
 * "chunked") are read directly, the byte-at-a-time framing rules of http_head.c serving as
 * the general case. Everything else takes a general per-line path, then the byte machine.
 *
 * Why no relaxed mode for uncaptured heads: the instructions go to finding each name's end
 * and each line's end, which every mode needs, not to the extra class checks. A bare CR must
 * be refused in every mode (a recipient that ends lines at CR sees other header lines than we
 * do), and names must stay checked in every mode: a line such as "Content-Length : 5", or one
 * without a colon, or with a space or a byte outside printable ASCII in its name, is read
 * differently by lenient recipients (Python's http.client takes such a line as the end of
 * the field section and loses the headers after it; others trim the name), so accepting it
 * could frame the message differently from its recipient. With those kept, leaving out the
 * value checks (DEL, control characters other than CR and LF) would save one vector
 * operation per 16 bytes. One set of rules also lets the tests and the fuzz target demand
 * identical events with and without a buffer.
 *
 * Thread/signal safety: pure functions of their arguments (the parser struct) and const
 * tables; async-signal-safe.
 */
#include "http_parser.h"
#include "http_scan.h"

#include <string.h>

static inline int is_tchar(unsigned char c)
{
	return http_ctab[c] & HTTP_C_TCHAR;
}

/*
 * The end of a line whose HTTP_K_CTL flags from off are c (the bytes before off are known to
 * be good): field-vchars, SP, HTAB and obs-text up to CRLF or LF (RFC 9112 4 and 5). Returns the
 * position after the terminator and sets *pe to the terminator's, or returns 0 when the line
 * holds another control character (a bare CR included) or DEL, or is cut by the chunk's end.
 */
static inline size_t line_end_at(const struct http_vk *k, const unsigned char *d, size_t off,
				 size_t end, unsigned c, size_t *pe)
{
	unsigned char ch;
	size_t e;

	for (;;) {
		while (!c) {
			off += 16;
			if (off >= end)
				return 0;
			c = http_flags16(k, d, off, end, HTTP_K_CTL);
		}
		e = off + (size_t)__builtin_ctz(c);
		if (e >= end)
			return 0;
		ch = d[e];
		if (ch != '\t' && ch < 0x80)
			break;
		c &= c - 1;
	}
	*pe = e;
	if (ch == '\n')
		return e + 1;
	if (ch == '\r' && e + 1 < end && d[e + 1] == '\n')
		return e + 2;
	return 0;
}

/* --- framing headers ----------------------------------------------------------------------- */

/* 8 bytes as one word (any alignment); two such words compare like the bytes. */
static inline uint64_t ld8(const void *s)
{
	uint64_t x;

	memcpy(&x, s, 8);
	return x;
}

/* OR-ing 0x20 into each byte lowercases letters; on token characters (the caller checked the
 * name is a token) it maps no other byte onto a lowercase letter or onto '-', whose only other
 * preimage is CR. So a folded compare with a lowercase literal is an exact case-insensitive
 * compare here. */
#define FOLD8 0x2020202020202020ull

/* Which framing header a token name of n bytes is. */
static inline int framing_name(const unsigned char *s, size_t n)
{
	if (n == 14 && (ld8(s) | FOLD8) == ld8("content-") &&
	    (ld8(s + 6) | FOLD8) == ld8("t-length"))
		return HTTP_HDR_CL;
	if (n == 17 && (ld8(s) | FOLD8) == ld8("transfer") &&
	    (ld8(s + 8) | FOLD8) == ld8("-encodin") && (s[16] | 0x20) == 'g')
		return HTTP_HDR_TE;
	return HTTP_HDR_NONE;
}

/*
 * The common framing values, read at once: "OWS 1*18DIGIT OWS" for Content-Length and
 * "OWS chunked OWS" (any case) for Transfer-Encoding. The state they leave is what the byte
 * rules (http_cl_byte / http_te_byte, then *_line_end) leave, given that at a line's start
 * both rules are in their initial element state (every *_line_end returns there) and that
 * Content-Length is not yet invalid (the parser would have given up). Returns 1 when done, 0
 * to leave the value to the byte rules, -1 for a Content-Length that disagrees with an
 * earlier one (invalid: the byte machine gives up at its own offset).
 */
static int framing_value(struct http_parser *p, int hdr, const unsigned char *v, size_t n)
{
	size_t i = 0, k;
	uint64_t x = 0;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (hdr == HTTP_HDR_TE) {
		for (k = 0; k < 7; k++)
			if (i + k >= n || (v[i + k] | 0x20) != (unsigned char)"chunked"[k])
				return 0;
		k += i;
	} else {
		for (k = i; k < n && k - i < 19 && (unsigned)(v[k] - '0') <= 9; k++)
			x = x * 10 + (uint64_t)(v[k] - '0');
		if (k == i || k - i > 18)
			return 0;
	}
	while (k < n && (v[k] == ' ' || v[k] == '\t'))
		k++;
	if (k != n)
		return 0;
	if (hdr == HTTP_HDR_TE) {
		p->te.present = 1;
		p->te.chunked = 1;
		return 1;
	}
	if (p->cl.seen && p->cl.val != x)
		return -1;
	p->cl.val = x;
	p->cl.seen = 1;
	return 1;
}

/* A framing header's value in general: the byte rules on copies of the state, committed only
 * if the value is valid; an invalid one is left to the byte machine, which gives up at the
 * very offset it would have anyway. 0, or -1 to leave it. */
static int framing(struct http_parser *p, int hdr, const unsigned char *v, size_t n)
{
	struct http_cl cl;
	struct http_te te;
	size_t i;
	int rc = framing_value(p, hdr, v, n);

	if (rc != 0)
		return rc > 0 ? 0 : -1;
	if (hdr == HTTP_HDR_CL) {
		cl = p->cl;
		for (i = 0; i < n; i++)
			http_cl_byte(&cl, v[i]);
		http_cl_line_end(&cl);
		if (cl.bad)
			return -1;
		p->cl = cl;
	} else {
		te = p->te;
		for (i = 0; i < n; i++)
			http_te_byte(&te, v[i]);
		http_te_line_end(&te);
		p->te = te;
	}
	return 0;
}

/* --- lines -------------------------------------------------------------------------------- */

/* CRLF or LF at d[q]: the position after it, or 0 if the line does not end there. */
static inline size_t eol_after(const unsigned char *d, size_t q, size_t end)
{
	if (q < end && d[q] == '\n')
		return q + 1;
	if (end - q >= 2 && d[q] == '\r' && d[q + 1] == '\n')
		return q + 2;
	return 0;
}

/* The start line is done: what line_end() in http_head_stream.c leaves after it. */
static void start_line_done(struct http_parser *p)
{
	p->last_hdr = HTTP_HDR_START;
	p->hdr = HTTP_HDR_NONE;
	p->cnt = 0;
	p->state = HTTP_S_LINE;
}

/* A whole request-line: token SP target SP "HTTP/1." DIGIT, CRLF or LF. */
static size_t request_line(struct http_parser *p, const struct http_vk *k,
			   const unsigned char *d, size_t pos, size_t end)
{
	const unsigned char *s = d + pos;
	size_t m, t, q;

	/* the method's end: its first byte that is not a letter or '-' */
	m = pos + (size_t)__builtin_ctz(http_flags16(k, d, pos, end, HTTP_K_NAME) | 0x10000u);

	if (m >= end || d[m] != ' ')
		m = http_token_end(d, pos, end); /* a digit, '_', ... or 16 bytes and more */
	if (m == pos || m - pos > HTTP_METHOD_MAX || m >= end || d[m] != ' ')
		return pos;
	t = http_scan(d, m + 1, end, HTTP_C_TARGET);
	if (t == m + 1 || end - t < 10 || d[t] != ' ' || memcmp(d + t + 1, "HTTP/1.", 7) != 0 ||
	    (unsigned)(d[t + 8] - '0') > 9)
		return pos;
	q = eol_after(d, t + 9, end);
	if (!q)
		return pos;
	/* What method_end() in http_head_stream.c remembers; the PRI preface is left to it. */
	if (m - pos == 4 && memcmp(s, "HEAD", 4) == 0)
		p->mflags |= HTTP_EVF_METHOD_HEAD;
	else if (m - pos == 7 && memcmp(s, "CONNECT", 7) == 0)
		p->mflags |= HTTP_EVF_METHOD_CONNECT;
	else if (m - pos == 3 && memcmp(s, "PRI", 3) == 0)
		return pos;
	p->minor = (uint8_t)(d[t + 8] - '0');
	start_line_done(p);
	return q;
}

/* A whole status-line: "HTTP/1." DIGIT SP 3DIGIT (the first 1-9), then SP reason or the end. */
static size_t status_line(struct http_parser *p, const struct http_vk *k,
			  const unsigned char *d, size_t pos, size_t end)
{
	const unsigned char *s = d + pos;
	size_t q, e;

	if (end - pos < 13 || memcmp(s, "HTTP/1.", 7) != 0 || (unsigned)(s[7] - '0') > 9 ||
	    s[8] != ' ' || (unsigned)(s[9] - '1') > 8 || (unsigned)(s[10] - '0') > 9 ||
	    (unsigned)(s[11] - '0') > 9)
		return pos;
	q = line_end_at(k, d, pos + 12, end, http_flags16(k, d, pos + 12, end, HTTP_K_CTL), &e);
	if (!q || (s[12] != ' ' && e != pos + 12))
		return pos;
	p->minor = (uint8_t)(s[7] - '0');
	p->status = (uint16_t)((s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0'));
	start_line_done(p);
	return q;
}

/* The field line [pos, next) is whole and well formed, its name ending at q and its value at e:
 * remember what framing needs. Returns next, or 0 to leave the line to the byte machine. */
static inline size_t field_done(struct http_parser *p, const unsigned char *d, size_t pos,
				size_t q, size_t e, size_t next)
{
	int hdr = framing_name(d + pos, q - pos);

	if (hdr != HTTP_HDR_NONE && framing(p, hdr, d + q + 1, e - q - 1) < 0)
		return 0;
	p->last_hdr = (uint8_t)hdr;
	return next;
}

/* One field line the general way (a name with a digit or a rarer token character, or of 16
 * bytes and more; HTAB or obs-text in the value; a line near a short chunk's end): the
 * position after it, or 0. */
static size_t field_line_any(struct http_parser *p, const struct http_vk *k,
			     const unsigned char *d, size_t pos, size_t end)
{
	size_t q = http_token_end(d, pos + 1, end), e, next;

	if (q >= end || d[q] != ':')
		return 0;
	next = line_end_at(k, d, q + 1, end, http_flags16(k, d, q + 1, end, HTTP_K_CTL), &e);
	return next ? field_done(p, d, pos, q, e, next) : 0;
}

#ifdef __SSE2__
/*
 * The common field lines (http_vk_line(), http_scan.h), as many as follow each other, in a
 * chunk of 32 bytes or more. One loop without calls, so the class constants stay in registers.
 * Returns the start of the first line it did not take; that line (a Transfer-Encoding, a
 * rarer name, HTAB or obs-text in the value, a line cut by the chunk's end, the blank line, an
 * error) is the general path's, and a 14-byte name (perhaps Content-Length) is handed back in
 * cl[]: its colon, its terminator, the next line's start.
 */
static size_t common_lines(struct http_parser *p, const struct http_vk *k,
			   const unsigned char *d, size_t pos, size_t end, size_t cl[3])
{
	struct http_vk kk = *k;
	size_t start = pos, q, e, next;
	uint16_t crlf, w;

	/* Opaque to the optimiser, so the constants stay in registers instead of being
	 * rematerialised from memory in every iteration (an instruction each). */
	__asm__("" : "+x"(kk.fold), "+x"(kk.lbias), "+x"(kk.llim), "+x"(kk.dash), "+x"(kk.one),
		"+x"(kk.clim));
	memcpy(&crlf, "\r\n", 2);
	if (end < 32)
		return pos;
	while (end - pos >= 16) {
		e = http_vk_line(&kk, d, pos, end, &q);
		if (!e)
			break;
		if (e + 1 < end && (memcpy(&w, d + e, 2), w == crlf))
			next = e + 2;
		else if (d[e] == '\n')
			next = e + 1;
		else
			break;
		if (q - pos == 14) {
			cl[0] = q;
			cl[1] = e;
			cl[2] = next;
			break;
		}
		pos = next;
	}
	if (pos != start)
		p->last_hdr = HTTP_HDR_NONE;
	return pos;
}
#endif

/* Field lines "token ':' value CRLF|LF", as many as follow each other whole: the common ones in
 * common_lines(), any other well-formed one by field_line_any(). */
static size_t field_lines(struct http_parser *p, const struct http_vk *k,
			  const unsigned char *d, size_t pos, size_t end)
{
	size_t next, cl[3] = { 0, 0, 0 };

	for (;;) {
#ifdef __SSE2__
		pos = common_lines(p, k, d, pos, end, cl);
#endif
		if (pos >= end || !is_tchar(d[pos]))
			break; /* the blank line, an obs-fold, or not a field line */
		if (cl[2])
			next = field_done(p, d, pos, cl[0], cl[1], cl[2]);
		else
			next = field_line_any(p, k, d, pos, end);
		cl[2] = 0;
		if (!next)
			break;
		pos = next;
	}
	return pos;
}

size_t http_head_fast(struct http_parser *p, const unsigned char *d, size_t pos, size_t end)
{
	struct http_vk k;

	http_vk_init(&k);
	if (p->cnt == 0 && p->state == HTTP_S_RS_VERSION)
		pos = status_line(p, &k, d, pos, end);
	else if (p->cnt == 0 && p->state == HTTP_S_METHOD)
		pos = request_line(p, &k, d, pos, end);
	if (p->state == HTTP_S_LINE)
		pos = field_lines(p, &k, d, pos, end);
	return pos;
}
