/*
 * traceparent.c - the W3C `traceparent` header value, Trace Context Level 2.
 *
 * Grammar (W3C Trace Context, section 3.2.2):
 *
 *   value   = version "-" version-format
 *   version = 2HEXDIGLC, "ff" forbidden
 *   version-format (00) = trace-id "-" parent-id "-" trace-flags
 *   trace-id = 32HEXDIGLC (not all zero), parent-id = 16HEXDIGLC (not all zero),
 *   trace-flags = 2HEXDIGLC
 *
 * Fixed offsets, since every field has a fixed width:
 *
 *   0  2 3                               35 36             52 53 55
 *   vv - tttttttttttttttttttttttttttttttt - pppppppppppppppp - ff [ "-" future... ]
 *
 * Version handling (section 3.2.2.1 and the processing model, section 4): a value whose
 * version is not two lowercase hex digits followed by "-" is invalid. Version 00 must be
 * exactly 55 characters: anything after the flags makes it invalid. A higher version (not 00,
 * not ff) is parsed with the version-00 layout if it is at least 55 characters long and the
 * character after the flags is the end of the value or "-"; whatever follows is ignored, and
 * it is sent onward as version 00 (the "downgrade the version" mutation).
 *
 * Flags: all 8 bits are kept as received, so that a local decision can test them with masks
 * and the random flag (0x02) travels exactly as received (Level 2, "Random Trace ID Flag");
 * the formatter clears the bits this version does not define ("MUST be set to zero").
 *
 * OWS: HTTP allows optional whitespace (SP / HTAB) around a field value (RFC 9110 section 5.5);
 * it is trimmed here so callers can pass the raw bytes after the colon.
 *
 * Invariant: for every value v accepted by ctx_tp_parse, ctx_tp_format gives a 55-character
 * version-00 value that ctx_tp_parse accepts with the same ids and the flags & CTX_FLAGS_KNOWN.
 * Pure functions: no globals, reentrant, async-signal-safe.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "traceparent.h"

#define TP_TRACE_OFF 3
#define TP_SPAN_OFF 36
#define TP_FLAGS_OFF 53

static inline int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase hex is invalid: HEXDIGLC */
}

/* Decode 2*n lowercase hex characters into n bytes; -EINVAL on any other character. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

static inline bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

int ctx_tp_parse(const char *v, size_t len, struct ctx_span_context *out)
{
	struct ctx_span_context c;
	uint8_t version;

	memset(out, 0, sizeof(*out));
	if (!v)
		return -EINVAL;
	while (len > 0 && is_ows(v[0])) {
		v++;
		len--;
	}
	while (len > 0 && is_ows(v[len - 1]))
		len--;

	/* Every version needs at least the version-00 fields. */
	if (len < CTX_TRACEPARENT_LEN)
		return -EINVAL;
	if (unhex(v, &version, 1) < 0 || v[2] != '-' || version == 0xff)
		return -EINVAL;
	if (version == 0 && len != CTX_TRACEPARENT_LEN)
		return -EINVAL;
	if (version != 0 && len > CTX_TRACEPARENT_LEN && v[CTX_TRACEPARENT_LEN] != '-')
		return -EINVAL;
	if (v[TP_SPAN_OFF - 1] != '-' || v[TP_FLAGS_OFF - 1] != '-')
		return -EINVAL;

	memset(&c, 0, sizeof(c));
	if (unhex(v + TP_TRACE_OFF, c.trace_id, sizeof(c.trace_id)) < 0 ||
	    unhex(v + TP_SPAN_OFF, c.span_id, sizeof(c.span_id)) < 0 ||
	    unhex(v + TP_FLAGS_OFF, &c.flags, 1) < 0)
		return -EINVAL;
	if (all_zero(c.trace_id, sizeof(c.trace_id)) || all_zero(c.span_id, sizeof(c.span_id)))
		return -EINVAL;
	c.remote = true;
	c.valid = true;
	*out = c;
	return 0;
}

static char *tohex(char *p, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		*p++ = digits[b[i] >> 4];
		*p++ = digits[b[i] & 0xf];
	}
	return p;
}

size_t ctx_tp_format(const struct ctx_span_context *c, char out[CTX_TRACEPARENT_LEN + 1])
{
	uint8_t flags = c->flags & CTX_FLAGS_KNOWN;
	char *p = out;

	*p++ = '0';
	*p++ = '0';
	*p++ = '-';
	p = tohex(p, c->trace_id, sizeof(c->trace_id));
	*p++ = '-';
	p = tohex(p, c->span_id, sizeof(c->span_id));
	*p++ = '-';
	p = tohex(p, &flags, 1);
	*p = '\0';
	return (size_t)(p - out);
}
