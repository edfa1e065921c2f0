/*
 * test_agent_sampler.c - head sampling: the parent-based decision table, the ratio sampler's
 * boundary (R >= T on the right-most 56 bits of the trace id), its determinism and consistency
 * across ratios, and its rate over 100k random trace ids.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <cmocka.h>

#include "config.h"
#include "sampler.h"
#include "span_context.h"

static uint64_t rng_state;

/* splitmix64 (Steele, Lea, Flood 2014): a small, well-mixed generator for test ids. */
static uint64_t next64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void random_id(uint8_t id[16])
{
	uint64_t a = next64(), b = next64();

	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

/* An id whose right-most 7 bytes hold r (big-endian) and whose other bytes are `fill`. */
static void id_with_r(uint8_t id[16], uint64_t r, uint8_t fill)
{
	memset(id, fill, 9);
	for (int i = 15; i >= 9; i--, r >>= 8)
		id[i] = (uint8_t)r;
}

enum parent_kind { P_NONE, P_INVALID, P_REMOTE_ON, P_REMOTE_OFF, P_LOCAL_ON, P_LOCAL_OFF };

static const struct ctx_span_context *make_parent(enum parent_kind k, struct ctx_span_context *p)
{
	memset(p, 0, sizeof(*p));
	if (k == P_NONE)
		return NULL;
	memset(p->trace_id, 0x11, 16);
	memset(p->span_id, 0x22, 8);
	p->valid = k != P_INVALID;
	/* An invalid context with the sampled bit must still count as "no parent". */
	p->flags = (k == P_INVALID || k == P_REMOTE_ON || k == P_LOCAL_ON) ? CTX_FLAG_SAMPLED : 0;
	p->flags |= CTX_FLAG_RANDOM;
	p->remote = k == P_REMOTE_ON || k == P_REMOTE_OFF;
	return p;
}

struct pcase {
	int sampler;
	double ratio;
	enum parent_kind parent;
	uint64_t r; /* randomness of the trace id */
	bool want;
};

#define HALF (1ull << 55) /* R at which ratio 0.5 starts keeping */

static void test_decision_table(void **state)
{
	static const struct pcase cases[] = {
		{WT_SAMPLER_ALWAYS_ON, 1, P_NONE, 0, true},
		{WT_SAMPLER_ALWAYS_ON, 1, P_REMOTE_OFF, 0, true},
		{WT_SAMPLER_ALWAYS_ON, 1, P_LOCAL_OFF, 0, true},
		{WT_SAMPLER_ALWAYS_OFF, 1, P_NONE, 0, false},
		{WT_SAMPLER_ALWAYS_OFF, 1, P_REMOTE_ON, 0, false},
		{WT_SAMPLER_ALWAYS_OFF, 1, P_LOCAL_ON, 0, false},
		/* traceidratio ignores the parent */
		{WT_SAMPLER_TRACEIDRATIO, 0.5, P_REMOTE_OFF, HALF, true},
		{WT_SAMPLER_TRACEIDRATIO, 0.5, P_REMOTE_ON, HALF - 1, false},
		{WT_SAMPLER_TRACEIDRATIO, 0.5, P_NONE, HALF, true},
		{WT_SAMPLER_TRACEIDRATIO, 0.5, P_NONE, HALF - 1, false},
		/* parentbased: sampled parent -> on, unsampled -> off, remote or local alike */
		{WT_SAMPLER_PARENTBASED_ALWAYS_ON, 1, P_NONE, 0, true},
		{WT_SAMPLER_PARENTBASED_ALWAYS_ON, 1, P_INVALID, 0, true},
		{WT_SAMPLER_PARENTBASED_ALWAYS_ON, 1, P_REMOTE_ON, 0, true},
		{WT_SAMPLER_PARENTBASED_ALWAYS_ON, 1, P_REMOTE_OFF, 0, false},
		{WT_SAMPLER_PARENTBASED_ALWAYS_ON, 1, P_LOCAL_ON, 0, true},
		{WT_SAMPLER_PARENTBASED_ALWAYS_ON, 1, P_LOCAL_OFF, 0, false},
		{WT_SAMPLER_PARENTBASED_ALWAYS_OFF, 1, P_NONE, 0, false},
		{WT_SAMPLER_PARENTBASED_ALWAYS_OFF, 1, P_INVALID, 0, false},
		{WT_SAMPLER_PARENTBASED_ALWAYS_OFF, 1, P_REMOTE_ON, 0, true},
		{WT_SAMPLER_PARENTBASED_ALWAYS_OFF, 1, P_REMOTE_OFF, 0, false},
		{WT_SAMPLER_PARENTBASED_ALWAYS_OFF, 1, P_LOCAL_ON, 0, true},
		{WT_SAMPLER_PARENTBASED_ALWAYS_OFF, 1, P_LOCAL_OFF, 0, false},
		{WT_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, P_NONE, HALF, true},
		{WT_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, P_NONE, HALF - 1, false},
		{WT_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, P_INVALID, HALF - 1, false},
		{WT_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, P_REMOTE_ON, HALF - 1, true},
		{WT_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, P_REMOTE_OFF, HALF, false},
		{WT_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, P_LOCAL_ON, 0, true},
		{WT_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, P_LOCAL_OFF, (1ull << 56) - 1, false},
		{WT_SAMPLER_PARENTBASED_TRACEIDRATIO, 0, P_NONE, (1ull << 56) - 1, false},
		{WT_SAMPLER_PARENTBASED_TRACEIDRATIO, 1, P_NONE, 0, true},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wt_config c = {0};
		struct ctx_span_context pc;
		uint8_t id[16];
		bool got;

		c.sampler = cases[i].sampler;
		c.sampler_ratio = cases[i].ratio;
		id_with_r(id, cases[i].r, 0xab);
		got = sampler_should_sample(&c, make_parent(cases[i].parent, &pc), id);
		if (got != cases[i].want)
			fail_msg("case %zu: sampler %d parent %d r=%#llx: got %d", i,
				 cases[i].sampler, cases[i].parent, (unsigned long long)cases[i].r,
				 got);
	}
}

struct bcase {
	double ratio;
	uint64_t r;
	bool want;
};

/* Boundaries of keep iff R >= 2^56 - round(ratio * 2^56). */
static void test_ratio_boundaries(void **state)
{
	static const struct bcase cases[] = {
		{0.5, HALF, true},
		{0.5, HALF - 1, false},
		{0.25, 3ull << 54, true},
		{0.25, (3ull << 54) - 1, false},
		{0.75, 1ull << 54, true},
		{0.75, (1ull << 54) - 1, false},
		{1.0, 0, true},
		{1.0, (1ull << 56) - 1, true},
		{0.0, (1ull << 56) - 1, false},
		{0.0, 0, false},
		{1.0 / 72057594037927936.0, (1ull << 56) - 1, true}, /* 2^-56: only the top R */
		{1.0 / 72057594037927936.0, (1ull << 56) - 2, false},
		{-0.5, (1ull << 56) - 1, false},
		{1.5, 0, true},
		{NAN, (1ull << 56) - 1, false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int fill = 0; fill < 256; fill += 85) {
			uint8_t id[16];

			/* Bytes left of the 7 random ones must not matter. */
			id_with_r(id, cases[i].r, (uint8_t)fill);
			if (sampler_ratio_keep(cases[i].ratio, id) != cases[i].want)
				fail_msg("case %zu ratio %g r=%#llx fill=%d", i, cases[i].ratio,
					 (unsigned long long)cases[i].r, fill);
		}
	}
}

static void seed(void)
{
	if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state))
		rng_state = 0x1234567;
	print_message("seed %#llx\n", (unsigned long long)rng_state);
}

/* 100k random ids at ratio 0.25: binomial sd = sqrt(n p (1-p)) = 136.9; allow 5 sd. */
static void test_ratio_statistics(void **state)
{
	static const double ratios[] = {0.25, 0.01, 0.9};
	const int n = 100000;
	(void)state;

	seed();
	for (size_t k = 0; k < sizeof(ratios) / sizeof(ratios[0]); k++) {
		double p = ratios[k], sd = sqrt(n * p * (1 - p));
		int kept = 0;

		for (int i = 0; i < n; i++) {
			uint8_t id[16];

			random_id(id);
			kept += sampler_ratio_keep(p, id);
		}
		if (fabs(kept - n * p) > 5 * sd)
			fail_msg("ratio %g: kept %d of %d (expected %.0f +- %.0f)", p, kept, n,
				 n * p, 5 * sd);
	}
}

/* Same id, same answer; and consistency (OTSPEC tracestate-probability-sampling.md): kept at
 * p1 implies kept at every p2 >= p1. */
static void test_ratio_deterministic_and_consistent(void **state)
{
	static const double ratios[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.99, 1.0};
	(void)state;

	seed();
	for (int i = 0; i < 20000; i++) {
		uint8_t id[16], copy[16];
		bool prev = false;

		random_id(id);
		memcpy(copy, id, 16);
		for (size_t k = 0; k < sizeof(ratios) / sizeof(ratios[0]); k++) {
			bool keep = sampler_ratio_keep(ratios[k], id);

			assert_int_equal(keep, sampler_ratio_keep(ratios[k], copy));
			if (prev && !keep)
				fail_msg("id kept at a lower ratio but dropped at %g", ratios[k]);
			prev = keep;
		}
		assert_true(prev); /* ratio 1 keeps everything */
	}
}

/* Root decisions of the ratio samplers come from sampler_ratio_keep. */
static void test_root_uses_ratio(void **state)
{
	struct wt_config c = {0};
	int agree = 0;
	(void)state;

	seed();
	c.sampler_ratio = 0.3;
	for (int i = 0; i < 5000; i++) {
		uint8_t id[16];
		bool want;

		random_id(id);
		want = sampler_ratio_keep(0.3, id);
		c.sampler = WT_SAMPLER_TRACEIDRATIO;
		agree += sampler_should_sample(&c, NULL, id) == want;
		c.sampler = WT_SAMPLER_PARENTBASED_TRACEIDRATIO;
		agree += sampler_should_sample(&c, NULL, id) == want;
	}
	assert_int_equal(agree, 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decision_table),
		cmocka_unit_test(test_ratio_boundaries),
		cmocka_unit_test(test_ratio_statistics),
		cmocka_unit_test(test_ratio_deterministic_and_consistent),
		cmocka_unit_test(test_root_uses_ratio),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
