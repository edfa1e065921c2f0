/*
 * encode_json.h - OTLP JSON encoding of a batch (internal to exporter/).
 *
 * The output is one ExportTraceServiceRequest in the OTLP/JSON mapping (OTLP specification,
 * "JSON Protobuf Encoding"): the body of an OTLP/HTTP JSON POST, and one line of the
 * otlp/stdout exporter. It contains no newline, so it can be written as a JSON line.
 */
#ifndef EXP_ENCODE_JSON_H
#define EXP_ENCODE_JSON_H

#include <stddef.h>

#include "encbuf.h"
#include "exp_span.h"
#include "resource.h"

/* Replace b's contents with the request for spans[0..n) (one ResourceSpans with *res, which
 * may be NULL, and one ScopeSpans "wiretrace"), followed by a NUL that b->len does not count.
 * Returns 0 or -ENOMEM. The text is always valid
 * JSON in UTF-8, whatever bytes the spans hold. Reads spans defensively like exp_pb_encode. */
int exp_json_encode(struct exp_buf *b, const struct exp_resource *res, const struct exp_span *spans,
                    size_t n);

/* Format a double as a JSON value into out (>= 32 bytes): the shortest of %.15g/%.16g/%.17g
 * that reads back to the same value, with '.' as the decimal point whatever the locale;
 * "NaN", "Infinity" and "-Infinity" as quoted strings (proto3 JSON mapping). Returns the
 * length. */
size_t exp_json_double(char *out, double d);

#endif
