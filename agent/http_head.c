/*
 * http_head.c - field extraction from a complete HTTP/1.x head, the framing-header rules, and
 * the character classes, all shared with the incremental parser.
 *
 * The incremental parser (http_parser.c, with the streaming head syntax in http_head_stream.c)
 * checks a head as it streams by and captures it in a caller-provided buffer; when the head is
 * complete the tracker calls http_head_parse() on that buffer to get the fields it turns into
 * span attributes and trace context. Both sides use the same character classes and the same
 * Content-Length and Transfer-Encoding logic, which live here, so every head the parser accepts
 * parses here with the same framing; the fuzz target checks exactly that.
 *
 * Design: one pass over the lines, no copies. A common field line is checked at once by
 * http_vk_line() (http_scan.h), any other by the general scanners. A name is looked up by its
 * first letter and length, then compared case-insensitively 8 bytes at a time (fold_eq(): an
 * ASCII-only compare; strcasecmp depends on the locale and is not async-signal-safe). Values
 * are slices into the buffer with optional whitespace trimmed (RFC 9110 5.5). The framing
 * rules take one byte at a time so that a value split across reads needs no buffer.
 *
 * Invariants: every slice lies inside [buf, buf + len); nothing is read outside it.
 * Thread/signal safety: pure functions of their arguments and const tables; async-signal-safe.
 */
#include "http_head.h"
#include "http_scan.h"

#include <errno.h>
#include <string.h>

#define T HTTP_C_TCHAR
#define V HTTP_C_VALUE
#define G HTTP_C_TARGET
#define H HTTP_C_HEX
#define D HTTP_C_DIGIT

/* Non-overlapping GNU range designators (overlaps would trip -Woverride-init). */
const uint8_t http_ctab[256] = {
	['\t'] = V,
	[' '] = V,
	['!'] = T | V | G,
	['"'] = V | G,
	['#' ... '\''] = T | V | G,
	['(' ... ')'] = V | G,
	['*' ... '+'] = T | V | G,
	[','] = V | G,
	['-' ... '.'] = T | V | G,
	['/'] = V | G,
	['0' ... '9'] = T | V | G | H | D,
	[':' ... '@'] = V | G,
	['A' ... 'F'] = T | V | G | H,
	['G' ... 'Z'] = T | V | G,
	['[' ... ']'] = V | G,
	['^' ... '`'] = T | V | G,
	['a' ... 'f'] = T | V | G | H,
	['g' ... 'z'] = T | V | G,
	['{'] = V | G,
	['|'] = T | V | G,
	['}'] = V | G,
	['~'] = T | V | G,
	[0x80 ... 0xff] = V | G, /* obs-text; raw UTF-8 in targets is common enough to accept */
};

#undef T
#undef V
#undef G
#undef H
#undef D

static inline unsigned char lc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}
bool http_str_ieq(const char *s, size_t len, const char *lower)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (lower[i] == '\0' || lc((unsigned char)s[i]) != (unsigned char)lower[i])
			return false;
	return lower[len] == '\0';
}

/* --- Content-Length ---------------------------------------------------------------------- */

enum { CL_BEFORE = 0, CL_DIGITS, CL_AFTER };

static void cl_agree(struct http_cl *s)
{
	if (s->seen && s->val != s->cur)
		s->bad = 1;
	s->val = s->cur;
	s->seen = 1;
	s->cur = 0;
	s->ndig = 0;
	s->st = CL_BEFORE;
}

void http_cl_byte(struct http_cl *s, unsigned char c)
{
	if (c == ' ' || c == '\t') {
		if (s->st == CL_DIGITS)
			s->st = CL_AFTER;
	} else if (c >= '0' && c <= '9') {
		/* 18 digits stay below 2^63: no overflow, and no real body is that long. */
		if (s->st == CL_AFTER || ++s->ndig > 18)
			s->bad = 1;
		s->cur = s->cur * 10 + (uint64_t)(c - '0');
		s->st = CL_DIGITS;
	} else if (c == ',' && s->st != CL_BEFORE) {
		cl_agree(s);
	} else {
		s->bad = 1; /* sign, letter, empty list element */
	}
}

void http_cl_line_end(struct http_cl *s)
{
	if (s->st == CL_BEFORE)
		s->bad = 1; /* empty value or trailing comma */
	else
		cl_agree(s);
}

/* --- Transfer-Encoding ------------------------------------------------------------------- */

enum { TE_BEFORE = 0, TE_TOKEN, TE_AFTER, TE_PARAMS };

static void te_element_end(struct http_te *s)
{
	if (s->st != TE_BEFORE)
		s->chunked = (s->pos == 7);
	s->st = TE_BEFORE;
	s->pos = 0;
}

void http_te_byte(struct http_te *s, unsigned char c)
{
	static const char chunked[] = "chunked";

	if (c == ',') {
		te_element_end(s);
	} else if (s->st == TE_PARAMS) {
		/* transfer-parameters: skipped; the element is not plain "chunked" */
	} else if (c == ' ' || c == '\t') {
		if (s->st == TE_TOKEN)
			s->st = TE_AFTER;
	} else if (c == ';') {
		s->st = TE_PARAMS;
		s->pos = 0xff;
	} else if ((http_ctab[c] & HTTP_C_TCHAR) && s->st != TE_AFTER) {
		if (s->st == TE_BEFORE)
			s->pos = 0;
		if (s->pos < 7 && lc(c) == (unsigned char)chunked[s->pos])
			s->pos++;
		else
			s->pos = 0xff;
		s->st = TE_TOKEN;
	} else {
		s->pos = 0xff; /* a second word or a stray character: not a coding we know */
		s->st = TE_TOKEN;
	}
}

void http_te_line_end(struct http_te *s)
{
	te_element_end(s);
	s->present = 1;
}

/* --- head parsing ------------------------------------------------------------------------ */

struct line {
	const char *p;
	size_t len; /* without the terminator */
};

/* Next line from *pos; the terminator (CRLF or LF) is consumed, a missing one at the end of the
 * buffer is tolerated. Returns false at the end. */
static bool next_line(const char *buf, size_t len, size_t *pos, struct line *l)
{
	const char *nl;

	if (*pos >= len)
		return false;
	l->p = buf + *pos;
	nl = memchr(l->p, '\n', len - *pos);
	if (nl) {
		l->len = (size_t)(nl - l->p);
		*pos += l->len + 1;
		if (l->len > 0 && l->p[l->len - 1] == '\r')
			l->len--;
	} else {
		l->len = len - *pos;
		*pos = len;
	}
	return true;
}

/* "HTTP/1.x" at s: the minor digit, or -1. */
static int version_minor(const char *s, size_t len)
{
	if (len < 8 || memcmp(s, "HTTP/1.", 7) != 0 ||
	    !(http_ctab[(unsigned char)s[7]] & HTTP_C_DIGIT))
		return -1;
	return s[7] - '0';
}

/* Length of the run of class cls at the start of s. */
static size_t span(const char *s, size_t len, uint8_t cls)
{
	const unsigned char *u = (const unsigned char *)s;

	return cls == HTTP_C_TCHAR ? http_token_end(u, 0, len) : http_scan(u, 0, len, cls);
}

static int request_line(const struct line *l, struct http_head *h)
{
	size_t m, t;

	m = span(l->p, l->len, HTTP_C_TCHAR);
	if (m == 0 || m + 1 >= l->len || l->p[m] != ' ')
		return -EINVAL;
	t = span(l->p + m + 1, l->len - m - 1, HTTP_C_TARGET);
	if (t == 0 || m + 1 + t + 9 != l->len || l->p[m + 1 + t] != ' ')
		return -EINVAL;
	h->version_minor = version_minor(l->p + m + t + 2, 8);
	if (h->version_minor < 0)
		return -EINVAL;
	h->method.ptr = l->p;
	h->method.len = m;
	h->target.ptr = l->p + m + 1;
	h->target.len = t;
	return 0;
}

static int status_line(const struct line *l, struct http_head *h)
{
	const char *s = l->p;
	int i;

	h->version_minor = version_minor(s, l->len);
	if (h->version_minor < 0 || l->len < 12 || s[8] != ' ' || s[9] < '1' || s[9] > '9')
		return -EINVAL;
	for (i = 9; i < 12; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		h->status = h->status * 10 + (s[i] - '0');
	}
	h->reason.ptr = s + l->len; /* empty unless there is " reason" */
	if (l->len > 12) {
		if (s[12] != ' ' || span(s + 13, l->len - 13, HTTP_C_VALUE) != l->len - 13)
			return -EINVAL;
		h->reason.ptr = s + 13;
		h->reason.len = l->len - 13;
	}
	return 0;
}

static inline uint64_t ld8(const char *s)
{
	uint64_t x;

	memcpy(&x, s, 8);
	return x;
}

static inline uint32_t ld4(const char *s)
{
	uint32_t x;

	memcpy(&x, s, 4);
	return x;
}

/*
 * s[0..n) equals the literal lit (n bytes, 4 <= n, of lowercase letters, digits and '-'),
 * ignoring ASCII case, for an s that holds no control character (a name, or a value that has
 * been checked): 8 (or 4) bytes at a time with 0x20 OR-ed into each, the last word overlapping.
 * Exact there: OR-ing 0x20 maps onto a lowercase letter only that letter in either case, and
 * onto '-' or a digit only it or a control character.
 */
static inline bool fold_eq(const char *s, const char *lit, size_t n)
{
	size_t i;

	if (n < 8)
		return (ld4(s) | 0x20202020u) == ld4(lit) &&
		       (ld4(s + n - 4) | 0x20202020u) == ld4(lit + n - 4);
	for (i = 0; i + 8 < n; i += 8)
		if ((ld8(s + i) | 0x2020202020202020ull) != ld8(lit + i))
			return false;
	return (ld8(s + n - 8) | 0x2020202020202020ull) == ld8(lit + n - 8);
}

bool http_head_has_traceparent(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl;

	/* Every field line starts just after a LF (obs-folds are spaces in a captured head). The
	 * literal is letters only, so the folded compare is exact whatever the bytes are. */
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p = nl + 1;
		if (end - p >= 12 && (p[0] | 0x20) == 't' && p[11] == ':' &&
		    fold_eq(p, "traceparent", 11))
			return true;
	}
	return false;
}

/* Which field a name is; HTTP_F_COUNT for tracestate, -1 for one we do not keep. The length
 * and the first letter rule out nearly every name before any string compare. */
#define F_TRACESTATE HTTP_F_COUNT
static int field_of(const char *n, size_t len)
{
#define IS(lit) (len == sizeof(lit) - 1 && fold_eq(n, lit, len))
	switch (lc((unsigned char)n[0])) {
	case 'c':
		return IS("content-length")	 ? HTTP_F_CONTENT_LENGTH
		       : IS("connection") ? HTTP_F_CONNECTION
					  : -1;
	case 'e':
		return IS("expect") ? HTTP_F_EXPECT : -1;
	case 'f':
		return IS("forwarded") ? HTTP_F_FORWARDED : -1;
	case 'h':
		return IS("host") ? HTTP_F_HOST : -1;
	case 't':
		return IS("traceparent")	 ? HTTP_F_TRACEPARENT
		       : IS("tracestate")	 ? F_TRACESTATE
		       : IS("transfer-encoding") ? HTTP_F_TRANSFER_ENCODING
						 : -1;
	case 'u':
		return IS("user-agent") ? HTTP_F_USER_AGENT : IS("upgrade") ? HTTP_F_UPGRADE : -1;
	case 'x':
		return IS("x-forwarded-for")	 ? HTTP_F_X_FORWARDED_FOR
		       : IS("x-forwarded-proto") ? HTTP_F_X_FORWARDED_PROTO
		       : IS("x-forwarded-host")	 ? HTTP_F_X_FORWARDED_HOST
						 : -1;
	}
	return -1;
#undef IS
}

/* Connection is a comma list of options (RFC 9110 7.6.1); several lines combine. */
static void connection_tokens(const struct http_str *v, struct http_head *h)
{
	size_t i = 0, b, e;

	while (i < v->len) {
		while (i < v->len && (v->ptr[i] == ' ' || v->ptr[i] == '\t' || v->ptr[i] == ','))
			i++;
		b = i;
		while (i < v->len && v->ptr[i] != ',')
			i++;
		e = i;
		while (e > b && (v->ptr[e - 1] == ' ' || v->ptr[e - 1] == '\t'))
			e--;
		if (e - b == 5 && fold_eq(v->ptr + b, "close", 5))
			h->flags |= HTTP_HF_CONN_CLOSE;
		else if (e - b == 10 && fold_eq(v->ptr + b, "keep-alive", 10))
			h->flags |= HTTP_HF_CONN_KEEPALIVE;
		else if (e - b == 7 && fold_eq(v->ptr + b, "upgrade", 7))
			h->flags |= HTTP_HF_CONN_UPGRADE;
	}
}

static void store(struct http_head *h, int f, const struct http_str *v)
{
	if (f == F_TRACESTATE) {
		if (h->ntracestate < HTTP_TRACESTATE_LINES)
			h->tracestate[h->ntracestate++] = *v;
		else
			h->flags |= HTTP_HF_TRACESTATE_MORE;
		return;
	}
	if (h->field[f].ptr)
		h->dup |= 1u << f;
	else
		h->field[f] = *v;
	if (f == HTTP_F_CONNECTION)
		connection_tokens(v, h);
	else if (f == HTTP_F_EXPECT && v->len == 12 && fold_eq(v->ptr, "100-continue", 12))
		h->flags |= HTTP_HF_EXPECT_CONTINUE;
}

/* The field line at *pos: name, colon, value, up to and past its CRLF or LF (or the end). */
static int header_line(const char *buf, size_t len, size_t *pos, struct http_head *h,
		       struct http_cl *cl, struct http_te *te, const struct http_vk *k)
{
	const unsigned char *u = (const unsigned char *)buf;
	size_t n = 0, b, e = 0, i;
	struct http_str v;
	int f;

#ifdef __SSE2__
	/* the common line at once (http_scan.h); anything else the general way */
	if (len >= 32 && len - *pos >= 16)
		e = http_vk_line(k, u, *pos, len, &n);
#else
	(void)k;
#endif
	if (!e) {
		n = http_token_end(u, *pos, len);
		if (n == *pos || n >= len || u[n] != ':')
			return -EINVAL;
		e = http_scan(u, n + 1, len, HTTP_C_VALUE);
	}
	b = n + 1;
	if (e < len && u[e] == '\n')
		i = e + 1;
	else if (len - e >= 2 && u[e] == '\r' && u[e + 1] == '\n')
		i = e + 2;
	else if (e == len)
		i = len;
	else
		return -EINVAL; /* a control character (bare CR, NUL, ...) inside the value */
	f = field_of(buf + *pos, n - *pos);
	*pos = i;
	if (f == HTTP_F_CONTENT_LENGTH) {
		for (i = b; i < e; i++)
			http_cl_byte(cl, u[i]);
		http_cl_line_end(cl);
	} else if (f == HTTP_F_TRANSFER_ENCODING) {
		for (i = b; i < e; i++)
			http_te_byte(te, u[i]);
		http_te_line_end(te);
	}
	if (f < 0)
		return 0;
	while (b < e && (u[b] == ' ' || u[b] == '\t'))
		b++;
	while (e > b && (u[e - 1] == ' ' || u[e - 1] == '\t'))
		e--;
	v.ptr = buf + b;
	v.len = e - b;
	store(h, f, &v);
	return 0;
}

int http_head_parse(const char *buf, size_t len, int dir, struct http_head *out)
{
	struct http_cl cl = { 0 };
	struct http_te te = { 0 };
	struct http_vk k;
	struct line l;
	size_t pos = 0;
	int rc;

	http_vk_init(&k);
	memset(out, 0, sizeof(*out));
	out->dir = dir;
	out->content_length = -1;
	if (!next_line(buf, len, &pos, &l))
		return -EINVAL;
	rc = dir == HTTP_DIR_REQUEST ? request_line(&l, out) : status_line(&l, out);
	if (rc < 0)
		return rc;
	while (pos < len) {
		if (buf[pos] == ' ' || buf[pos] == '\t') {
			next_line(buf, len, &pos, &l); /* obs-fold (see http_head.h): skipped */
			continue;
		}
		rc = header_line(buf, len, &pos, out, &cl, &te, &k);
		if (rc < 0)
			return rc;
	}
	if (cl.bad)
		out->flags |= HTTP_HF_BAD_LENGTH;
	else if (cl.seen)
		out->content_length = (int64_t)cl.val;
	if (te.present)
		out->flags |= HTTP_HF_TE | (te.chunked ? HTTP_HF_CHUNKED : 0);
	return 0;
}
