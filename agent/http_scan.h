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
 * Pure, async-signal-safe. Reads only inside [d + pos, d + end).
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
static inline unsigned http_special16(const unsigned char *s, unsigned char below)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
	__m128i ge = _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8((char)below)), x);
	__m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));

	return ((unsigned)~_mm_movemask_epi8(ge) | (unsigned)_mm_movemask_epi8(del)) & 0xffffu;
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

#endif
