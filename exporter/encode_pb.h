/*
 * encode_pb.h - OTLP protobuf encoding of a batch, written directly on the wire format
 * (internal to exporter/).
 *
 * The output is an opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest, the body
 * of an OTLP/HTTP protobuf POST and the message of an OTLP/gRPC Export call. The code that
 * protoc-c generates from proto/ decodes it (that is how the tests check it); it is not used
 * here because filling its structs and packing them costs about four times as much.
 */
#ifndef EXP_ENCODE_PB_H
#define EXP_ENCODE_PB_H

#include <stddef.h>
#include <stdint.h>

#include "encbuf.h"
#include "exp_span.h"
#include "resource.h"

#define EXP_SCOPE_NAME "wiretrace"

/* Replace b's contents with the request holding spans[0..n) under one ResourceSpans (resource
 * *res, may be NULL for an empty Resource) and one ScopeSpans (scope "wiretrace",
 * WIRETRACE_VERSION). Returns 0 or -ENOMEM (b is then empty). Spans are read defensively: an offset or count out
 * of range makes that string empty or that list shorter, never a read outside the span. */
int exp_pb_encode(struct exp_buf *b, const struct exp_resource *res, const struct exp_span *spans,
                  size_t n);

/* Fixed-buffer mode, for the crash handler: the same request written into out[0..cap).
 * Returns 0 and *len, or -ENOSPC when out is too small (nothing usable written). Each span
 * needs room for an upper bound of its size while it is written, so a request may be refused
 * when it would fit with a few bytes to spare. Allocates nothing; async-signal-safe. */
int exp_pb_encode_fixed(uint8_t *out, size_t cap, const struct exp_resource *res,
                        const struct exp_span *spans, size_t n, size_t *len);

#endif
