/*
 * traceparent.h - parse and format the W3C `traceparent` header value (Trace Context Level 2).
 *
 * Both functions are pure (no I/O, no globals), reentrant and async-signal-safe.
 */
#ifndef CTX_TRACEPARENT_H
#define CTX_TRACEPARENT_H

#include <stddef.h>

#include "span_context.h"

/*
 * Parse one traceparent field value `v` of `len` bytes (not NUL-terminated; may contain any
 * bytes). Surrounding OWS (SP / HTAB) is ignored.
 *
 * Returns 0 and fills *out (trace_id, span_id = the parent-id, flags = all 8 bits as received,
 * remote = true, valid = true), or -EINVAL when the value is not a valid traceparent; then *out
 * is zeroed (valid = false) and the caller starts a new trace. Rules (W3C Trace Context
 * section 3.2): lowercase hex only; version `ff` invalid; version `00` exactly 55 characters;
 * a higher version at least 55 characters with the character after the flags being the end or
 * `-`; all-zero trace-id or parent-id invalid.
 */
int ctx_tp_parse(const char *v, size_t len, struct ctx_span_context *out);

/*
 * Format *c as a version-00 traceparent into `out`: lowercase hex, flags & CTX_FLAGS_KNOWN (the
 * reserved bits are always sent as zero), NUL-terminated. Returns CTX_TRACEPARENT_LEN (55).
 * The caller ensures *c holds non-zero ids; c->valid and c->remote are not looked at.
 */
size_t ctx_tp_format(const struct ctx_span_context *c, char out[CTX_TRACEPARENT_LEN + 1]);

#endif
