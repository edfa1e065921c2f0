/*
 * span_context.h - the W3C span context carried between processes and within one.
 */
#ifndef CTX_SPAN_CONTEXT_H
#define CTX_SPAN_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#define CTX_FLAG_SAMPLED 0x01
#define CTX_FLAG_RANDOM 0x02 /* W3C Level 2 random-trace-id */
#define CTX_FLAGS_KNOWN (CTX_FLAG_SAMPLED | CTX_FLAG_RANDOM)

#define CTX_TRACESTATE_MAX 512 /* W3C: propagate at least 512 characters */
#define CTX_TRACEPARENT_LEN 55

struct ctx_span_context {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t flags; /* W3C trace-flags as received (known bits only on output) */
	bool remote;   /* came from an inbound traceparent */
	bool valid;
};

#endif
