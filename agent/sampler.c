/*
 * sampler.c - head sampling: always_on/off, traceidratio and the parent-based variants.
 *
 * Purpose: decide at span start whether the span is sampled (OTSPEC trace/sdk.md "Sampling",
 * sdk-environment-variables.md OTEL_TRACES_SAMPLER). The decision becomes the W3C sampled flag
 * the injector propagates and decides whether the span is exported.
 *
 * Ratio sampling, and why this rule: W3C Trace Context Level 2 ("Randomness of trace-id")
 * guarantees that the right-most 7 bytes (56 bits) of a trace id are uniformly random when the
 * random flag is set, and OTSPEC trace/tracestate-probability-sampling.md defines consistent
 * probability sampling on exactly those bits: the randomness value R is the least-significant
 * 56 bits of the trace id, the rejection threshold is T = (1 - p) * 2^56, and a span is kept
 * iff R >= T. Using the same R and the same comparison as that specification (and the SDKs
 * that implement it, such as the Java ComposableProbabilitySampler) makes our decisions
 * consistent with theirs: a trace kept by a sampler with probability p1 is kept by every
 * sampler with p2 >= p1, whichever process or SDK decides. A sampler that keeps R < p * 2^56
 * would be deterministic too, but would pick the opposite end of the range and disagree with
 * spec-conforming services on which traces to keep. The older SDKs' TraceIdRatioBased rules
 * (e.g. lower 64 bits < p * 2^64) assume 64 random bits, which Level 2 does not promise.
 *
 * ParentBased (OTSPEC "ParentBased"): a parent that is sampled gives always_on, one that is
 * not gives always_off, for remote and local parents alike (the defaults of the four
 * delegates); no parent gives the root sampler.
 *
 * Thread/signal safety: pure functions; async-signal-safe.
 */
#include "sampler.h"

#define TWO_POW_56 72057594037927936.0 /* 2^56, exact in a double */

bool sampler_ratio_keep(double ratio, const uint8_t trace_id[16])
{
	uint64_t r = 0, t;

	if (!(ratio > 0.0)) /* also NaN */
		return false;
	if (ratio >= 1.0)
		return true;
	for (int i = 9; i < 16; i++)
		r = r << 8 | trace_id[i];
	/* ratio * 2^56 is exact (a power-of-two scaling); +0.5 rounds to nearest. */
	t = (1ull << 56) - (uint64_t)(ratio * TWO_POW_56 + 0.5);
	return r >= t;
}

static bool root_decision(const struct wt_config *c, const uint8_t trace_id[16])
{
	switch (c->sampler) {
	case WT_SAMPLER_ALWAYS_OFF:
	case WT_SAMPLER_PARENTBASED_ALWAYS_OFF:
		return false;
	case WT_SAMPLER_TRACEIDRATIO:
	case WT_SAMPLER_PARENTBASED_TRACEIDRATIO:
		return sampler_ratio_keep(c->sampler_ratio, trace_id);
	case WT_SAMPLER_ALWAYS_ON:
	case WT_SAMPLER_PARENTBASED_ALWAYS_ON:
	default:
		return true;
	}
}

bool sampler_should_sample(const struct wt_config *c, const struct ctx_span_context *parent,
			   const uint8_t trace_id[16])
{
	bool parent_based = c->sampler == WT_SAMPLER_PARENTBASED_ALWAYS_ON ||
			    c->sampler == WT_SAMPLER_PARENTBASED_ALWAYS_OFF ||
			    c->sampler == WT_SAMPLER_PARENTBASED_TRACEIDRATIO;

	if (parent_based && parent && parent->valid)
		return (parent->flags & CTX_FLAG_SAMPLED) != 0;
	return root_decision(c, trace_id);
}
