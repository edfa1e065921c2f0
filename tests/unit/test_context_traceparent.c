/*
 * test_context_traceparent.c - W3C traceparent parse/format vectors (Trace Context Level 2).
 *
 * Each vector is an input value and either the expected ids and flags or "invalid". The rules
 * covered: version 00 exactly 55 characters, future versions (>= 55, "-" or end after the
 * flags), version ff, malformed versions, lowercase hex only in every field, field lengths and
 * separators, all-zero ids, OWS trimming, flags kept bit-exact on parse and masked on format.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "traceparent.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

struct tp_vec {
	const char *name;
	const char *in;
	int rc;
	const char *trace; /* expected ids in hex when rc == 0 */
	const char *span;
	int flags;
};

/* clang-format off */
static const struct tp_vec vecs[] = {
	/* valid version 00 */
	{"v00 sampled", "00-" TID "-" SID "-01", 0, TID, SID, 0x01},
	{"v00 not sampled", "00-" TID "-" SID "-00", 0, TID, SID, 0x00},
	{"v00 random+sampled", "00-" TID "-" SID "-03", 0, TID, SID, 0x03},
	{"v00 unknown flag bits kept", "00-" TID "-" SID "-ff", 0, TID, SID, 0xff},
	{"v00 reserved bit only", "00-" TID "-" SID "-08", 0, TID, SID, 0x08},
	{"v00 min ids", "00-00000000000000000000000000000001-0000000000000001-00", 0,
	 "00000000000000000000000000000001", "0000000000000001", 0},
	{"v00 max ids", "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01", 0,
	 "ffffffffffffffffffffffffffffffff", "ffffffffffffffff", 1},
	{"v00 trace id zero but last", "00-00000000000000000000000000000100-" SID "-01", 0,
	 "00000000000000000000000000000100", SID, 1},
	/* OWS */
	{"leading space", " 00-" TID "-" SID "-01", 0, TID, SID, 1},
	{"leading tab", "\t00-" TID "-" SID "-01", 0, TID, SID, 1},
	{"trailing space", "00-" TID "-" SID "-01 ", 0, TID, SID, 1},
	{"trailing tab", "00-" TID "-" SID "-01\t", 0, TID, SID, 1},
	{"mixed OWS both ends", "\t  00-" TID "-" SID "-01 \t ", 0, TID, SID, 1},
	{"inner space", "00-" TID " -" SID "-01", -EINVAL, NULL, NULL, 0},
	{"CR is not OWS", "00-" TID "-" SID "-01\r", -EINVAL, NULL, NULL, 0},
	{"LF is not OWS", "\n00-" TID "-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"only OWS", " \t ", -EINVAL, NULL, NULL, 0},
	{"empty", "", -EINVAL, NULL, NULL, 0},
	/* future versions */
	{"v01 exact", "01-" TID "-" SID "-01", 0, TID, SID, 1},
	{"vcc exact", "cc-" TID "-" SID "-01", 0, TID, SID, 1},
	{"vcc with extension", "cc-" TID "-" SID "-01-what-the-future-will-be-like", 0,
	 TID, SID, 1},
	{"vfe dash then nothing", "fe-" TID "-" SID "-09-", 0, TID, SID, 9},
	{"vcc extension with trailing OWS", "cc-" TID "-" SID "-01-x  ", 0, TID, SID, 1},
	{"vcc non-dash after flags", "cc-" TID "-" SID "-01.what-the-future", -EINVAL, NULL, NULL, 0},
	{"vcc flags too long", "cc-" TID "-" SID "-012", -EINVAL, NULL, NULL, 0},
	{"vcc too short", "cc-" TID "-" SID "-1", -EINVAL, NULL, NULL, 0},
	{"vcc uppercase trace", "cc-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"vcc zero trace", "cc-00000000000000000000000000000000-" SID "-01", -EINVAL, NULL, NULL, 0},
	/* version field */
	{"version ff", "ff-" TID "-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"version FF uppercase", "FF-" TID "-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"version uppercase hex", "0A-" TID "-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"version illegal char first", ".0-" TID "-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"version illegal char second", "0.-" TID "-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"version too long 3", "000-" TID "-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"version too long 4", "0000-" TID "-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"version too short", "0-" TID "-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"version 00 with extension", "00-" TID "-" SID "-01-what-the-future-will-be-like",
	 -EINVAL, NULL, NULL, 0},
	{"version 00 trailing dot", "00-" TID "-" SID "-01.", -EINVAL, NULL, NULL, 0},
	{"version 00 trailing dash", "00-" TID "-" SID "-01-", -EINVAL, NULL, NULL, 0},
	/* trace-id */
	{"trace all zero", "00-00000000000000000000000000000000-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"trace illegal first", "00-.bf92f3577b34da6a3ce929d0e0e4736-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"trace illegal last", "00-4bf92f3577b34da6a3ce929d0e0e473.-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"trace uppercase", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"trace one uppercase", "00-4bf92f3577b34da6a3ce929d0e0e473A-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"trace too long", "00-4bf92f3577b34da6a3ce929d0e0e47361-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"trace too short", "00-4bf92f3577b34da6a3ce929d0e0e473-" SID "-01", -EINVAL, NULL, NULL, 0},
	{"trace non-hex g", "00-4bf92f3577b34da6a3ce929d0e0e473g-" SID "-01", -EINVAL, NULL, NULL, 0},
	/* parent-id */
	{"parent all zero", "00-" TID "-0000000000000000-01", -EINVAL, NULL, NULL, 0},
	{"parent illegal first", "00-" TID "-.0f067aa0ba902b7-01", -EINVAL, NULL, NULL, 0},
	{"parent illegal last", "00-" TID "-00f067aa0ba902b.-01", -EINVAL, NULL, NULL, 0},
	{"parent uppercase", "00-" TID "-00F067AA0BA902B7-01", -EINVAL, NULL, NULL, 0},
	{"parent too long", "00-" TID "-00f067aa0ba902b71-01", -EINVAL, NULL, NULL, 0},
	{"parent too short", "00-" TID "-00f067aa0ba902b-01", -EINVAL, NULL, NULL, 0},
	/* flags and separators */
	{"flags illegal first", "00-" TID "-" SID "-.1", -EINVAL, NULL, NULL, 0},
	{"flags illegal second", "00-" TID "-" SID "-0.", -EINVAL, NULL, NULL, 0},
	{"flags uppercase", "00-" TID "-" SID "-0A", -EINVAL, NULL, NULL, 0},
	{"flags too long", "00-" TID "-" SID "-001", -EINVAL, NULL, NULL, 0},
	{"flags too short", "00-" TID "-" SID "-1", -EINVAL, NULL, NULL, 0},
	{"flags missing", "00-" TID "-" SID "-", -EINVAL, NULL, NULL, 0},
	{"underscore separators", "00_" TID "_" SID "_01", -EINVAL, NULL, NULL, 0},
	{"missing first dash", "00" TID "-" SID "-01x", -EINVAL, NULL, NULL, 0},
	{"dash moved", "00-" TID SID "--01", -EINVAL, NULL, NULL, 0},
	{"garbage 55 chars", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	 -EINVAL, NULL, NULL, 0},
};
/* clang-format on */

static void unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct tp_vec *t = &vecs[i];
		struct ctx_span_context c;
		int rc;

		memset(&c, 0xa5, sizeof(c));
		rc = ctx_tp_parse(t->in, strlen(t->in), &c);
		if (rc != t->rc)
			fail_msg("vector '%s': rc %d, want %d", t->name, rc, t->rc);
		if (rc != 0) {
			/* On failure the output is cleared, never half-filled. */
			assert_false(c.valid);
			assert_int_equal(c.flags, 0);
			continue;
		}
		uint8_t tid[16], sid[8];

		unhex(t->trace, tid, 16);
		unhex(t->span, sid, 8);
		if (memcmp(c.trace_id, tid, 16) || memcmp(c.span_id, sid, 8) || c.flags != t->flags)
			fail_msg("vector '%s': wrong fields (flags %#x)", t->name, c.flags);
		assert_true(c.valid);
		assert_true(c.remote);
	}
}

/* Round trip: format writes version 00, lowercase, known flags only; it re-parses equal. */
static void test_format_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		struct ctx_span_context a, b;
		char buf[CTX_TRACEPARENT_LEN + 1];
		char want[CTX_TRACEPARENT_LEN + 1];

		if (vecs[i].rc != 0)
			continue;
		assert_int_equal(ctx_tp_parse(vecs[i].in, strlen(vecs[i].in), &a), 0);
		assert_int_equal(ctx_tp_format(&a, buf), CTX_TRACEPARENT_LEN);
		assert_int_equal(strlen(buf), CTX_TRACEPARENT_LEN);
		snprintf(want, sizeof(want), "00-%s-%s-%02x", vecs[i].trace, vecs[i].span,
		         vecs[i].flags & CTX_FLAGS_KNOWN);
		if (strcmp(buf, want) != 0)
			fail_msg("vector '%s': formatted %s, want %s", vecs[i].name, buf, want);
		assert_int_equal(ctx_tp_parse(buf, strlen(buf), &b), 0);
		assert_memory_equal(a.trace_id, b.trace_id, 16);
		assert_memory_equal(a.span_id, b.span_id, 8);
		assert_int_equal(b.flags, a.flags & CTX_FLAGS_KNOWN);
	}
}

static void test_format_masks_flags(void **state)
{
	struct ctx_span_context c = {.flags = 0xfe, .valid = true};
	char buf[CTX_TRACEPARENT_LEN + 1];

	(void)state;
	memset(c.trace_id, 0xab, 16);
	memset(c.span_id, 0x01, 8);
	assert_int_equal(ctx_tp_format(&c, buf), 55);
	assert_string_equal(buf, "00-abababababababababababababababab-0101010101010101-02");
	c.flags = 0x01;
	ctx_tp_format(&c, buf);
	assert_string_equal(buf + 53, "01");
}

/* Length is honoured: bytes beyond `len` are never read, and a NUL inside is just a byte. */
static void test_length_bounds(void **state)
{
	const char *v = "00-" TID "-" SID "-01";
	char buf[80];
	struct ctx_span_context c;

	(void)state;
	memcpy(buf, v, 55);
	memcpy(buf + 55, "-trailing", 10);
	assert_int_equal(ctx_tp_parse(buf, 55, &c), 0);
	assert_int_equal(ctx_tp_parse(buf, 54, &c), -EINVAL);
	assert_int_equal(ctx_tp_parse(buf, 56, &c), -EINVAL);
	buf[10] = '\0';
	assert_int_equal(ctx_tp_parse(buf, 55, &c), -EINVAL);
	assert_int_equal(ctx_tp_parse(NULL, 0, &c), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_format_roundtrip),
	    cmocka_unit_test(test_format_masks_flags),
	    cmocka_unit_test(test_length_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
