/*
 * http_head.c - everything about HTTP/1.x message heads: the incremental syntax check the
 * parser runs as a head streams by, field extraction from a complete head, and the rules of the
 * framing headers both share.
 *
 * The incremental parser (http_parser.c) drives http_head_run() over the head bytes of each
 * chunk and captures them in a caller-provided buffer; when the head is complete the tracker
 * calls http_head_parse() on that buffer to get the fields it turns into span attributes and
 * trace context. Keeping both in this file keeps their acceptance rules identical (same
 * character classes, same Content-Length and Transfer-Encoding logic), so that every head the
 * parser accepts parses here with the same framing; the fuzz target checks exactly that.
 *
 * http_head_run() is a byte-level state machine (its state lives in struct http_parser) with
 * tight table-driven loops for the long runs: request-target, field values, reason phrase.
 * Only Content-Length and Transfer-Encoding values are interpreted while streaming; their names
 * are recognised on the fly by narrowing a candidate from the name's first letter.
 *
 * Design: one pass over the lines, no copies. Names are compared case-insensitively with an
 * ASCII-only compare (strcasecmp depends on the locale and is not async-signal-safe). Values are
 * slices into the buffer with optional whitespace trimmed (RFC 9110 5.5).
 *
 * Invariants: every slice lies inside [buf, buf + len); nothing is read outside it.
 * Thread/signal safety: pure functions of their arguments; async-signal-safe.
 */
#include "http_head.h"
#include "http_parser.h"

#include <errno.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/*
 * Scanning the long runs (field values, targets, reason phrases, names) many bytes at a time.
 * With SSE2 (every x86-64) 16 bytes are classified at once with unsigned byte compares;
 * elsewhere a word-at-a-time bit trick ("has a byte below n", exact for n <= 128, plus "has a
 * byte equal to 0x7f") skips 8 plain bytes at once. Either way the lowest flagged byte is found
 * exactly and the class table decides about it, so the result is the same as a byte loop's.
 */
#ifdef __SSE2__
static inline unsigned special16(const unsigned char *s, unsigned char below)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
	__m128i ge = _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8((char)below)), x);
	__m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));

	return ((unsigned)~_mm_movemask_epi8(ge) | (unsigned)_mm_movemask_epi8(del)) & 0xffffu;
}

/* Bytes that are not [A-Za-z0-9-], the characters of nearly every field name. */
static inline unsigned unusual16(const unsigned char *s)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
	__m128i a = _mm_sub_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
	__m128i n = _mm_sub_epi8(x, _mm_set1_epi8('0'));
	__m128i ok = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(a, _mm_set1_epi8(25)), a),
				  _mm_cmpeq_epi8(_mm_min_epu8(n, _mm_set1_epi8(9)), n));

	ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('-')));
	return (unsigned)~_mm_movemask_epi8(ok) & 0xffffu;
}
#else
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t special8(const unsigned char *s, uint64_t below)
{
	uint64_t x, y;

	memcpy(&x, s, 8); /* unaligned load */
	y = x ^ (ONES * 0x7f);
	return (((x - ONES * below) & ~x) | ((y - ONES) & ~y)) & HIGHS;
}
#endif

size_t http_scan(const unsigned char *d, size_t pos, size_t end, uint8_t cls)
{
	unsigned char below = cls == HTTP_C_TARGET ? 0x21 : 0x20;

#ifdef __SSE2__
	unsigned m;

	while (end - pos >= 16) {
		m = special16(d + pos, below);
		if (!m) {
			pos += 16;
			continue;
		}
		pos += (size_t)__builtin_ctz(m);
		if (!(http_ctab[d[pos]] & cls))
			return pos;
		pos++; /* HTAB inside a value */
	}
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t m;

	while (end - pos >= 8) {
		m = special8(d + pos, below);
		if (!m) {
			pos += 8;
			continue;
		}
		pos += (size_t)__builtin_ctzll(m) >> 3; /* borrows only run upwards */
		if (!(http_ctab[d[pos]] & cls))
			return pos;
		pos++;
	}
#endif
	while (pos < end && (http_ctab[d[pos]] & cls))
		pos++;
	return pos;
}

/* The first position in d[pos..end) that is not a token character. */
static size_t token_end(const unsigned char *d, size_t pos, size_t end)
{
#ifdef __SSE2__
	unsigned m;

	while (end - pos >= 16) {
		m = unusual16(d + pos);
		if (!m) {
			pos += 16;
			continue;
		}
		pos += (size_t)__builtin_ctz(m);
		if (!(http_ctab[d[pos]] & HTTP_C_TCHAR))
			return pos;
		pos++; /* a rarer token character such as '_' or '.' */
	}
#endif
	while (pos < end && (http_ctab[d[pos]] & HTTP_C_TCHAR))
		pos++;
	return pos;
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
	if (len < 8 || memcmp(s, "HTTP/1.", 7) != 0 || !(http_ctab[(unsigned char)s[7]] & HTTP_C_DIGIT))
		return -1;
	return s[7] - '0';
}

static size_t span(const char *s, size_t len, uint8_t cls)
{
	size_t i = 0;

	while (i < len && (http_ctab[(unsigned char)s[i]] & cls))
		i++;
	return i;
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

/* Which field a name is; HTTP_F_COUNT for tracestate, -1 for one we do not keep. */
#define F_TRACESTATE HTTP_F_COUNT
static int field_of(const char *n, size_t len)
{
#define N(s, f) { s, sizeof(s) - 1, f }
	static const struct {
		const char *name;
		size_t len;
		int f;
	} names[] = {
		N("host", HTTP_F_HOST),
		N("user-agent", HTTP_F_USER_AGENT),
		N("traceparent", HTTP_F_TRACEPARENT),
		N("tracestate", F_TRACESTATE),
		N("content-length", HTTP_F_CONTENT_LENGTH),
		N("transfer-encoding", HTTP_F_TRANSFER_ENCODING),
		N("connection", HTTP_F_CONNECTION),
		N("expect", HTTP_F_EXPECT),
		N("upgrade", HTTP_F_UPGRADE),
		N("x-forwarded-for", HTTP_F_X_FORWARDED_FOR),
		N("x-forwarded-proto", HTTP_F_X_FORWARDED_PROTO),
		N("x-forwarded-host", HTTP_F_X_FORWARDED_HOST),
		N("forwarded", HTTP_F_FORWARDED),
	};
#undef N
	unsigned char c0 = lc((unsigned char)n[0]);
	size_t i;

	/* Length and first letter rule out nearly every name before any string compare. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].len == len && (unsigned char)names[i].name[0] == c0 &&
		    http_str_ieq(n, len, names[i].name))
			return names[i].f;
	return -1;
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
		if (http_str_ieq(v->ptr + b, e - b, "close"))
			h->flags |= HTTP_HF_CONN_CLOSE;
		else if (http_str_ieq(v->ptr + b, e - b, "keep-alive"))
			h->flags |= HTTP_HF_CONN_KEEPALIVE;
		else if (http_str_ieq(v->ptr + b, e - b, "upgrade"))
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
	else if (f == HTTP_F_EXPECT && http_str_ieq(v->ptr, v->len, "100-continue"))
		h->flags |= HTTP_HF_EXPECT_CONTINUE;
}

static int header_line(const struct line *l, struct http_head *h, struct http_cl *cl,
		       struct http_te *te)
{
	size_t n, b, e, i;
	struct http_str v;
	int f;

	n = span(l->p, l->len, HTTP_C_TCHAR);
	if (n == 0 || n == l->len || l->p[n] != ':')
		return -EINVAL;
	b = n + 1;
	e = l->len;
	f = field_of(l->p, n);
	if (f == HTTP_F_CONTENT_LENGTH) {
		for (i = b; i < e; i++)
			http_cl_byte(cl, (unsigned char)l->p[i]);
		http_cl_line_end(cl);
	} else if (f == HTTP_F_TRANSFER_ENCODING) {
		for (i = b; i < e; i++)
			http_te_byte(te, (unsigned char)l->p[i]);
		http_te_line_end(te);
	}
	if (f < 0)
		return 0; /* values we do not return are not checked (the parser has) */
	if (http_scan((const unsigned char *)l->p, b, e, HTTP_C_VALUE) != e)
		return -EINVAL; /* a control character (bare CR, NUL, ...) inside the value */
	while (b < e && (l->p[b] == ' ' || l->p[b] == '\t'))
		b++;
	while (e > b && (l->p[e - 1] == ' ' || l->p[e - 1] == '\t'))
		e--;
	v.ptr = l->p + b;
	v.len = e - b;
	store(h, f, &v);
	return 0;
}

int http_head_parse(const char *buf, size_t len, int dir, struct http_head *out)
{
	struct http_cl cl = { 0 };
	struct http_te te = { 0 };
	struct line l;
	size_t pos = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->dir = dir;
	out->content_length = -1;
	if (!next_line(buf, len, &pos, &l))
		return -EINVAL;
	rc = dir == HTTP_DIR_REQUEST ? request_line(&l, out) : status_line(&l, out);
	if (rc < 0)
		return rc;
	while (next_line(buf, len, &pos, &l)) {
		if (l.len > 0 && (l.p[0] == ' ' || l.p[0] == '\t'))
			continue; /* obs-fold (see http_head.h) */
		rc = header_line(&l, out, &cl, &te);
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

/* --- the incremental head syntax (driven by http_parser.c) ------------------------------- */

static inline int is_tchar(unsigned char c)
{
	return http_ctab[c] & HTTP_C_TCHAR;
}

/* Framing header names, by HTTP_HDR_*, matched as the name streams by. */
static const char *const hdr_name[] = { "", "content-length", "transfer-encoding" };
static const uint8_t hdr_len[] = { 0, 14, 17 };

/* The method's first bytes packed big-endian into http_parser.word. */
#define W(a, b, c, d) ((uint64_t)(a) << 24 | (uint64_t)(b) << 16 | (uint64_t)(c) << 8 | (uint64_t)(d))
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
			return p->cnt == 5 && c >= '0' && c <= '9' ? -HTTP_R_HTTP2 : -HTTP_R_START_LINE;
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
			if (p->cnt < hdr_len[p->hdr] && lc(c) == (unsigned char)hdr_name[p->hdr][p->cnt])
				p->cnt++;
			else
				p->hdr = HTTP_HDR_NONE;
		} else {
			pos = token_end(d, pos, end) - 1;
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

/* A framing header's value met on the fast path: interpreted on copies of the state, which are
 * committed only if the value is valid; an invalid one is left to the byte machine, which gives
 * up at the very offset it would have anyway. */
static int fast_framing(struct http_parser *p, int hdr, const unsigned char *v, size_t n)
{
	struct http_cl cl = p->cl;
	struct http_te te = p->te;
	size_t i;

	if (hdr == HTTP_HDR_CL) {
		for (i = 0; i < n; i++)
			http_cl_byte(&cl, v[i]);
		http_cl_line_end(&cl);
		if (cl.bad)
			return -1;
		p->cl = cl;
	} else {
		for (i = 0; i < n; i++)
			http_te_byte(&te, v[i]);
		http_te_line_end(&te);
		p->te = te;
	}
	return 0;
}

/*
 * Fast path for the common case, field lines that lie whole in the chunk: a token name, a colon,
 * a value of field-vchars, CRLF or LF. Accepts as many such lines as follow each other and
 * returns the position after the last one; a line with anything else (a fold, a bad byte, an
 * invalid Content-Length, the chunk ending mid-line) is left to the byte machine, which then
 * decides exactly as it would have without this path.
 */
static size_t fast_lines(struct http_parser *p, const unsigned char *d, size_t pos, size_t end)
{
	size_t q, v, ve;
	int hdr;

	while (pos < end && is_tchar(d[pos])) {
		q = token_end(d, pos + 1, end);
		if (q >= end || d[q] != ':')
			break;
		hdr = HTTP_HDR_NONE;
		if (q - pos == 14 && http_str_ieq((const char *)d + pos, 14, "content-length"))
			hdr = HTTP_HDR_CL;
		else if (q - pos == 17 && http_str_ieq((const char *)d + pos, 17, "transfer-encoding"))
			hdr = HTTP_HDR_TE;
		v = q + 1;
		ve = q = http_scan(d, v, end, HTTP_C_VALUE);
		if (q < end && d[q] == '\n')
			q++;
		else if (end - q >= 2 && d[q] == '\r' && d[q + 1] == '\n')
			q += 2;
		else
			break;
		if (hdr != HTTP_HDR_NONE && fast_framing(p, hdr, d + v, ve - v) < 0)
			break;
		p->last_hdr = (uint8_t)hdr;
		pos = q;
	}
	return pos;
}

/* One step at d[*pos] (*pos < end): 0 to go on, HTTP_STEP_*, or -reason. */
static inline int step(struct http_parser *p, const unsigned char *d, size_t *pos, size_t end)
{
	unsigned char c = d[*pos];
	int rc;

	switch (p->state) {
	case HTTP_S_METHOD:
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
	case HTTP_S_TARGET0:
	case HTTP_S_TARGET:
		if (http_ctab[c] & HTTP_C_TARGET) {
			p->state = HTTP_S_TARGET;
			*pos = http_scan(d, *pos, end, HTTP_C_TARGET);
		}
		if (*pos == end)
			return 0;
		c = d[*pos];
		if (c == ' ' && p->state == HTTP_S_TARGET) {
			p->state = HTTP_S_RQ_VERSION;
			p->cnt = 0;
			(*pos)++;
			return 0;
		}
		return -(c == '\r' || c == '\n' ? HTTP_R_HTTP09 : HTTP_R_START_LINE);
	case HTTP_S_RQ_VERSION:
	case HTTP_S_RS_VERSION:
		if (p->cnt == 0 && end - *pos >= 8 && memcmp(d + *pos, "HTTP/1.", 7) == 0 &&
		    d[*pos + 7] >= '0' && d[*pos + 7] <= '9') {
			/* the whole version at once: same outcome as eight version_byte() calls */
			p->minor = (uint8_t)(d[*pos + 7] - '0');
			*pos += 8;
			p->state = p->state == HTTP_S_RQ_VERSION ? HTTP_S_EOL : HTTP_S_STATUS;
			return 0;
		}
		rc = version_byte(p, c);
		if (rc < 0)
			return rc;
		(*pos)++;
		if (rc == 1)
			p->state = p->state == HTTP_S_RQ_VERSION ? HTTP_S_EOL : HTTP_S_STATUS;
		return 0;
	case HTTP_S_STATUS:
		/* " NNN": cnt 0 is the space, 1..3 the digits, the first one 1-9 */
		if (p->cnt == 0 ? c != ' ' : (c < '0' || c > '9' || (p->cnt == 1 && c == '0')))
			return -HTTP_R_START_LINE;
		if (p->cnt > 0)
			p->status = (uint16_t)(p->status * 10 + (c - '0'));
		if (++p->cnt == 4)
			p->state = HTTP_S_STATUS_END;
		(*pos)++;
		return 0;
	case HTTP_S_STATUS_END:
		p->hdr = HTTP_HDR_START;
		if (c == ' ') {
			p->state = HTTP_S_REASON;
			(*pos)++;
			return 0;
		}
		return line_term(p, c, pos, HTTP_R_START_LINE);
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
		if (c == '\r' || c == '\n')
			return HTTP_STEP_BLANK;
		if (is_tchar(c)) {
			size_t q = fast_lines(p, d, *pos, end);

			if (q != *pos) {
				*pos = q;
				return 0;
			}
		}
		rc = line_start(p, c);
		if (rc == 0)
			(*pos)++;
		return rc;
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
