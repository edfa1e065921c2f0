/*
 * sampler.h - the head sampling decision for a new span (OTSPEC trace/sdk.md "Sampling").
 *
 * Pure functions of the configuration, the parent context and the trace id: no allocation, no
 * locks, no I/O; async-signal-safe, callable from any hook.
 */
#ifndef WT_SAMPLER_H
#define WT_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "span_context.h"

/* Should a span with this parent (NULL, or !parent->valid: a root span) in trace `trace_id` be
 * recorded and sampled? c->sampler selects the sampler:
 *   always_on / always_off      true / false
 *   traceidratio                sampler_ratio_keep(c->sampler_ratio, trace_id); ignores parent
 *   parentbased_*               parent valid: the parent's sampled flag (remote or local alike);
 *                               root: always_on, always_off or traceidratio respectively */
bool sampler_should_sample(const struct wt_config *c, const struct ctx_span_context *parent,
			   const uint8_t trace_id[16]);

/* The TraceIdRatioBased decision: keep iff R >= T, where R is the trace id's right-most 7
 * bytes (56 bits, big-endian) and T = 2^56 - round(ratio * 2^56) the rejection threshold.
 * ratio <= 0 never keeps, ratio >= 1 always does. Deterministic in the trace id. */
bool sampler_ratio_keep(double ratio, const uint8_t trace_id[16]);

#endif
