/*
 * tracestate.h - validate, combine and normalise W3C `tracestate` header values.
 *
 * Pure, reentrant and async-signal-safe (stack only, no globals, no allocation).
 */
#ifndef CTX_TRACESTATE_H
#define CTX_TRACESTATE_H

#include <stddef.h>

#include "span_context.h"

/* A borrowed byte range: one header field value as received (not NUL-terminated). */
struct ctx_slice {
	const char *p;
	size_t len;
};

/*
 * Combine the `n` tracestate field values of one message, in the order received, as if joined
 * with "," (RFC 9110 section 5.3), validate the result and write it normalised to `out`.
 *
 * Accepted: empty and whitespace-only members, OWS (SP / HTAB) around members. Every non-empty
 * member must be key "=" value with
 *   key   = (lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@")
 *   value = 1..256 characters of 0x20..0x7E except "," and "=", not ending in a space; leading
 *           spaces belong to the value, trailing SP / HTAB are OWS.
 * Rejected with -EINVAL (the whole tracestate is dropped, W3C section "Processing Model"): any
 * invalid member, more than 32 non-empty members, or a key that appears twice.
 *
 * On success returns 0 and writes the members joined by "," with no OWS and no empty members,
 * NUL-terminated, length in *out_len (0 is a valid, empty result). When that would exceed
 * CTX_TRACESTATE_MAX (512) characters, whole members are removed: first members longer than 128
 * characters, right-most first, then members from the right end, until it fits (W3C section
 * "tracestate Limits"). The output is therefore always <= 512 characters and, fed back to this
 * function as one field, comes out unchanged.
 *
 * `cap` must be >= CTX_TRACESTATE_MAX + 1, else -ENOBUFS. On any error *out_len is 0 and, when
 * cap > 0, out is the empty string. `fields` may be NULL when n == 0; a field with len 0 may
 * have p == NULL.
 */
int ctx_ts_combine(const struct ctx_slice *fields, size_t n, char *out, size_t cap,
                   size_t *out_len);

#endif
