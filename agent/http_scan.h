/*
 * http_scan.h - byte-class scanners for the HTTP/1.x parser (private to agent/http_*.c).
 *
 * The long runs of a head (field values, request-targets, reason phrases, field names) are
 * scanned many bytes at a time. With SSE2 (every x86-64) 16 bytes are classified at once with
 * unsigned byte compares; elsewhere a word-at-a-time bit trick ("has a byte below n", exact for
 * n <= 128, plus "has a byte equal to 0x7f") skips 8 plain bytes at once. Either way the lowest
 * flagged byte is found exactly and the class table (http_ctab) decides about it, so every
 * scanner returns what the plain byte loop at its end would. Static inline: these run for
 * every head line, a call would cost as much as the scan.
 *
 * The second half serves the whole-line paths (http_head_fast.c, http_head_parse()): two byte
 * classes computed 16 bytes at a time from one load each, and http_vk_line(), which checks a
 * common field line with them. Near the end of the data those read the 16 or 32 bytes that
 * end there and shift the flags into place, so they never read past the end nor need a
 * scalar tail.
 *
 * Pure, async-signal-safe. The scanners read only inside [d + pos, d + end); the whole-line
 * helpers inside [d, d + end), the caller's chunk or buffer.
 */
#ifndef WT_HTTP_SCAN_H
#define WT_HTTP_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "http_head.h"

#ifdef __SSE2__
/* Bytes below `below` (> 0) or equal to DEL: min(x, below - 1) == x is the unsigned x < below. */
static inline unsigned http_special16(const unsigned char *s, unsigned char below)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
	__m128i lt = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8((char)(below - 1))), x);
	__m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(lt, del));
}

/* Bytes that are not [A-Za-z0-9-], the characters of nearly every field name. */
static inline unsigned http_unusual16(const unsigned char *s)
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
#define HTTP_ONES 0x0101010101010101ull
#define HTTP_HIGHS 0x8080808080808080ull

static inline uint64_t http_special8(const unsigned char *s, uint64_t below)
{
	uint64_t x, y;

	memcpy(&x, s, 8); /* unaligned load */
	y = x ^ (HTTP_ONES * 0x7f);
	return (((x - HTTP_ONES * below) & ~x) | ((y - HTTP_ONES) & ~y)) & HTTP_HIGHS;
}
#endif

/* The first position in d[pos..end) whose byte is not of class cls (HTTP_C_VALUE or
 * HTTP_C_TARGET). */
static inline size_t http_scan(const unsigned char *d, size_t pos, size_t end, uint8_t cls)
{
	unsigned char below = cls == HTTP_C_TARGET ? 0x21 : 0x20;

#ifdef __SSE2__
	unsigned m;

	while (end - pos >= 16) {
		m = http_special16(d + pos, below);
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
		m = http_special8(d + pos, below);
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
static inline size_t http_token_end(const unsigned char *d, size_t pos, size_t end)
{
#ifdef __SSE2__
	unsigned m;

	while (end - pos >= 16) {
		m = http_unusual16(d + pos);
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

/* --- two byte classes for whole lines (http_head_fast.c, http_head.c) -------------------- */

/*
 * HTTP_K_CTL flags control characters, DEL and every byte >= 0x80: the first two end or spoil
 * a value, obs-text (>= 0x80) is allowed in values and reason phrases and let through by the
 * callers; one signed compare gets all three. HTTP_K_NAME flags every byte but the ASCII
 * letters and '-', which make up nearly every field name and method: the first flag in a name
 * must be its colon, anything else (a digit, '_', an invalid byte) sends the line down the
 * general path.
 */
#define HTTP_K_CTL 0
#define HTTP_K_NAME 1

/* The classes' constants, made once per call and held in registers by the loops. */
struct http_vk {
#ifdef __SSE2__
	__m128i fold, lbias, llim, dash, one, clim;
#else
	char none;
#endif
};

static inline void http_vk_init(struct http_vk *k)
{
#ifdef __SSE2__
	k->fold = _mm_set1_epi8(0x20);
	k->lbias = _mm_set1_epi8((char)(0x80 - 'a')); /* 'a'..'z' become -128..-103 */
	k->llim = _mm_set1_epi8(-102);
	k->dash = _mm_set1_epi8('-');
	k->one = _mm_set1_epi8(1); /* x + 1: 0x00..0x1f -> 1..32, DEL and >= 0x80 -> below 0 */
	k->clim = _mm_set1_epi8(0x21);
#else
	k->none = 0;
#endif
}

static inline int http_flagged(unsigned char c, int cls)
{
	if (cls == HTTP_K_CTL)
		return c < 0x20 || c >= 0x7f;
	return !((unsigned)((c | 0x20) - 'a') < 26u || c == '-');
}

/* Flags of the up to 16 bytes from off, one at a time (no SSE2, or fewer than 16 bytes). */
static inline unsigned http_flags_bytes(const unsigned char *d, size_t off, size_t end, int cls)
{
	unsigned m = 0, i;

	for (i = 0; i < 16; i++)
		if (off + i >= end || http_flagged(d[off + i], cls))
			m |= 1u << i;
	return m;
}

#ifdef __SSE2__
static inline unsigned http_vk_flags(const struct http_vk *k, const unsigned char *s, int cls)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s), ok;

	if (cls == HTTP_K_CTL) /* x + 1 < 0x21, as signed bytes */
		return (unsigned)_mm_movemask_epi8(
			_mm_cmpgt_epi8(k->clim, _mm_add_epi8(x, k->one)));
	ok = _mm_cmpgt_epi8(k->llim, _mm_add_epi8(_mm_or_si128(x, k->fold), k->lbias));
	ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, k->dash));
	return (unsigned)_mm_movemask_epi8(ok) ^ 0xffffu;
}
#endif

/* Flags of d[off..off + 16) (off < end), bit i for d[off + i]; the positions at or past end
 * are flagged, so a run that reaches end looks cut there. Reads only inside d[0..end): near
 * its end, the 16 bytes that end at end, shifted into place. */
static inline unsigned http_flags16(const struct http_vk *k, const unsigned char *d, size_t off,
				    size_t end, int cls)
{
#ifdef __SSE2__
	size_t n = end - off;

	if (n >= 16)
		return http_vk_flags(k, d + off, cls);
	if (end >= 16)
		return http_vk_flags(k, d + end - 16, cls) >> (16 - n) | (0xffffu << n & 0xffffu);
#else
	(void)k;
#endif
	return http_flags_bytes(d, off, end, cls);
}

#ifdef __SSE2__
/*
 * The common field line at d[pos..end) (end - pos >= 16, end >= 32): a name of ASCII letters
 * and '-' under 16 bytes, a colon, a value of field-vchars and SP, then CR or LF. Returns the
 * position of that CR or LF and sets *colon, or 0 for any other line (a rarer name; HTAB,
 * obs-text or another control character in the value) and for a line cut by end; the caller
 * checks the terminator. The 16 bytes at pos give the name's flags and, with the next 16, the
 * first HTTP_K_CTL flags (a name's letters are never flagged so), which hold the end of most
 * lines; each further 16 bytes of a long value cost one more test. Reads only d[0..end).
 */
static inline size_t http_vk_line(const struct http_vk *k, const unsigned char *d, size_t pos,
				  size_t end, size_t *colon)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + pos));
	size_t q, base = pos, nxt;
	unsigned u, c;

	u = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		_mm_cmpgt_epi8(k->llim, _mm_add_epi8(_mm_or_si128(x, k->fold), k->lbias)),
		_mm_cmpeq_epi8(x, k->dash)));
	/* the first byte that is not a letter or '-' (a 15th one when all are) */
	q = (size_t)(unsigned)__builtin_ctz(~u | 0x8000u);
	if (q == 0 || d[pos + q] != ':')
		return 0;
	*colon = pos + q;
	if (end - pos >= 32) {
		c = (unsigned)_mm_movemask_epi8(_mm_cmpgt_epi8(k->clim, _mm_add_epi8(x, k->one))) |
		    http_vk_flags(k, d + pos + 16, HTTP_K_CTL) << 16;
		nxt = pos + 32;
	} else {
		/* the last bytes: the 32 that end at end, shifted into place */
		c = (http_vk_flags(k, d + end - 32, HTTP_K_CTL) |
		     http_vk_flags(k, d + end - 16, HTTP_K_CTL) << 16) >>
		    (32 - (end - pos));
		nxt = end;
	}
	while (!c) {
		if (end - nxt < 16)
			return 0; /* a line this long near the end is the general path's */
		c = http_vk_flags(k, d + nxt, HTTP_K_CTL);
		base = nxt;
		nxt += 16;
	}
	q = base + (size_t)(unsigned)__builtin_ctz(c);
	return d[q] == '\r' || d[q] == '\n' ? q : 0;
}
#endif

#endif
