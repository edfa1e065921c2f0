/*
 * encbuf.c - growable output buffer, UTF-8 checking and repair, hex (shared by the encoders).
 *
 * Why repair UTF-8 at all: OTLP string fields are proto3 `string`, which must hold valid UTF-8;
 * the Go protobuf runtime inside the OpenTelemetry Collector rejects a whole request that has
 * one invalid string, and JSON text must be valid Unicode. What the agent records comes from
 * the wire (paths, user agents, header values), so any byte sequence can reach us. The encoders
 * therefore check every string (a word-at-a-time ASCII test first, which is what real traffic
 * almost always is) and replace each byte that does not begin a well-formed sequence with
 * U+FFFD. Well-formed means RFC 3629 (Table 3-7 of the Unicode standard): no overlong forms, no
 * surrogates, nothing above U+10FFFF.
 *
 * Thread safety: pure functions, except that a buffer belongs to one thread.
 */
#include "encbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The start of the buffer's memory (NULL when it has none). */
static uint8_t *base(const struct exp_buf *b)
{
	return b->p ? b->p - b->skipped : NULL;
}

int exp_buf_reserve(struct exp_buf *b, size_t more)
{
	size_t need, cap;
	uint8_t *p;

	if (more > SIZE_MAX / 4 - b->len - b->skipped)
		return -ENOMEM;
	need = b->len + more;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	p = realloc(base(b), b->skipped + cap);
	if (!p)
		return -ENOMEM;
	b->p = p + b->skipped;
	b->cap = cap;
	return 0;
}

void exp_buf_clear(struct exp_buf *b)
{
	b->p = base(b);
	b->cap += b->skipped;
	b->skipped = 0;
	b->len = 0;
}

void exp_buf_skip(struct exp_buf *b, size_t k)
{
	b->p += k;
	b->cap -= k;
	b->skipped += k;
	b->len -= k;
}

void exp_buf_free(struct exp_buf *b)
{
	free(base(b));
	b->p = NULL;
	b->len = b->cap = b->skipped = 0;
}

bool exp_ascii_only(const char *p, size_t n)
{
	uint64_t acc = 0, w[4];
	size_t i = 0;

	for (; i + 32 <= n; i += 32) { /* four independent words per step */
		memcpy(w, p + i, 32);
		acc |= w[0] | w[1] | w[2] | w[3];
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(w, p + i, 8);
		acc |= w[0];
	}
	for (; i < n; i++)
		acc |= (uint8_t)p[i];
	return (acc & 0x8080808080808080ull) == 0;
}

size_t exp_utf8_seq_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (n >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		/* E0 needs A0..BF (no overlong), ED needs 80..9F (no surrogates). */
		uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		if (n < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		/* F0 needs 90..BF (no overlong), F4 needs 80..8F (<= U+10FFFF). */
		uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		if (n < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

bool exp_utf8_valid(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, k;

	if (exp_ascii_only(s, n))
		return true;
	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		k = exp_utf8_seq_len(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

size_t exp_utf8_repaired_len(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, out = 0, k;

	while (i < n) {
		k = exp_utf8_seq_len(p + i, n - i);
		if (k) {
			out += k;
			i += k;
		} else {
			out += 3;
			i++;
		}
	}
	return out;
}

size_t exp_utf8_repair(uint8_t *out, const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, o = 0, k;

	while (i < n) {
		k = exp_utf8_seq_len(p + i, n - i);
		if (k) {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		} else {
			out[o++] = 0xef; /* U+FFFD REPLACEMENT CHARACTER */
			out[o++] = 0xbf;
			out[o++] = 0xbd;
			i++;
		}
	}
	return o;
}

void exp_hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
}
