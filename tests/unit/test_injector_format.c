/*
 * test_injector_format.c - inj_format_headers(): the traceparent / tracestate lines.
 *
 * Expected lines are written out by hand from the W3C Trace Context examples; the traceparent
 * value is also parsed back with ctx_tp_parse to check ids and flags survive the round trip.
 * Malformed input: invalid or all-zero contexts, tracestate values that would break the request
 * head (CR, LF, NUL, non-ASCII), blank, too long, and capacities at every boundary.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "inject.h"
#include "traceparent.h"

/* W3C Trace Context, section 3.2.2.5 example ids. */
static const uint8_t tid[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
static const uint8_t sid[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
#define TP_LINE "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"

static struct ctx_span_context make_ctx(uint8_t flags)
{
	struct ctx_span_context c = {.flags = flags, .valid = true};

	memcpy(c.trace_id, tid, sizeof(tid));
	memcpy(c.span_id, sid, sizeof(sid));
	return c;
}

static char ts512[CTX_TRACESTATE_MAX + 2];

static void test_format_table(void **state)
{
	static const char ts[] = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
	static const struct {
		const char *name;
		uint8_t flags;
		const char *ts; /* NULL with ts_len > 0 is a caller slip */
		size_t ts_len;
		size_t cap;
		const char *want; /* NULL: result 0 */
	} t[] = {
	    {"sampled, no tracestate", 0x01, NULL, 0, INJ_HEADERS_MAX, TP_LINE "01\r\n"},
	    {"not sampled: flags carried", 0x00, NULL, 0, INJ_HEADERS_MAX, TP_LINE "00\r\n"},
	    {"random + sampled", 0x03, NULL, 0, INJ_HEADERS_MAX, TP_LINE "03\r\n"},
	    {"reserved flag bits cleared", 0xfd, NULL, 0, INJ_HEADERS_MAX, TP_LINE "01\r\n"},
	    {"with tracestate", 0x01, ts, sizeof(ts) - 1, INJ_HEADERS_MAX,
	     TP_LINE "01\r\ntracestate: "
	             "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\r\n"},
	    {"empty tracestate not sent", 0x01, "", 0, INJ_HEADERS_MAX, TP_LINE "01\r\n"},
	    {"tracestate length 0 of a longer string", 0x01, ts, 0, INJ_HEADERS_MAX,
	     TP_LINE "01\r\n"},
	    {"tracestate with CRLF dropped", 0x01, "a=1\r\nX-Evil: 1", 15, INJ_HEADERS_MAX,
	     TP_LINE "01\r\n"},
	    {"tracestate with LF dropped", 0x01, "a=1\nb", 5, INJ_HEADERS_MAX, TP_LINE "01\r\n"},
	    {"tracestate with NUL dropped", 0x01, "a=1\0b=2", 7, INJ_HEADERS_MAX, TP_LINE "01\r\n"},
	    {"tracestate with HTAB dropped", 0x01, "a=1,\tb=2", 8, INJ_HEADERS_MAX,
	     TP_LINE "01\r\n"},
	    {"tracestate with DEL dropped", 0x01, "a=1\x7f", 4, INJ_HEADERS_MAX, TP_LINE "01\r\n"},
	    {"tracestate non-ASCII dropped", 0x01, "a=\xc3\xa9", 4, INJ_HEADERS_MAX,
	     TP_LINE "01\r\n"},
	    {"blank tracestate dropped", 0x01, "   ", 3, INJ_HEADERS_MAX, TP_LINE "01\r\n"},
	    {"NULL tracestate with a length", 0x01, NULL, 5, INJ_HEADERS_MAX, TP_LINE "01\r\n"},
	    {"cap fits traceparent only", 0x01, ts, sizeof(ts) - 1, 70 + 12 + sizeof(ts) - 1 + 1,
	     TP_LINE "01\r\n"},
	    {"cap fits both exactly", 0x01, ts, sizeof(ts) - 1, 70 + 12 + sizeof(ts) - 1 + 2,
	     TP_LINE "01\r\ntracestate: "
	             "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\r\n"},
	    {"cap exactly the traceparent line", 0x01, NULL, 0, 70, TP_LINE "01\r\n"},
	    {"cap one short", 0x01, NULL, 0, 69, NULL},
	    {"cap 0", 0x01, NULL, 0, 0, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ctx_span_context c = make_ctx(t[i].flags);
		char out[INJ_HEADERS_MAX + 8];
		size_t n, want = t[i].want ? strlen(t[i].want) : 0;

		print_message("case: %s\n", t[i].name);
		memset(out, '#', sizeof(out));
		n = inj_format_headers(out, t[i].cap, &c, t[i].ts, t[i].ts_len);
		assert_int_equal(n, want);
		assert_memory_equal(out, t[i].want ? t[i].want : "", n);
		/* NUL-terminated when there is room, and nothing written past cap. */
		if (n < t[i].cap)
			assert_int_equal(out[n], '\0');
		for (size_t k = t[i].cap; k < sizeof(out); k++)
			assert_int_equal(out[k], '#');
	}
}

static void test_bad_contexts(void **state)
{
	struct ctx_span_context c;
	char out[INJ_HEADERS_MAX];

	(void)state;
	assert_int_equal(inj_format_headers(out, sizeof(out), NULL, NULL, 0), 0);
	c = make_ctx(1);
	assert_int_equal(inj_format_headers(NULL, sizeof(out), &c, NULL, 0), 0);
	c.valid = false;
	assert_int_equal(inj_format_headers(out, sizeof(out), &c, NULL, 0), 0);
	c = make_ctx(1);
	memset(c.trace_id, 0, sizeof(c.trace_id));
	assert_int_equal(inj_format_headers(out, sizeof(out), &c, NULL, 0), 0);
	c = make_ctx(1);
	memset(c.span_id, 0, sizeof(c.span_id));
	assert_int_equal(inj_format_headers(out, sizeof(out), &c, NULL, 0), 0);
}

/* The longest tracestate the context module produces fits INJ_HEADERS_MAX exactly. */
static void test_longest_tracestate(void **state)
{
	struct ctx_span_context c = make_ctx(1);
	char out[INJ_HEADERS_MAX + 1];

	(void)state;
	memset(ts512, 'v', sizeof(ts512));
	ts512[0] = 'k';
	ts512[1] = '=';
	assert_int_equal(inj_format_headers(out, INJ_HEADERS_MAX, &c, ts512, CTX_TRACESTATE_MAX),
	                 INJ_HEADERS_MAX);
	assert_memory_equal(out + 70, "tracestate: k=vvv", 17);
	assert_memory_equal(out + INJ_HEADERS_MAX - 2, "\r\n", 2);
	/* One more character is beyond what W3C asks to propagate: dropped, not truncated. */
	assert_int_equal(inj_format_headers(out, sizeof(out), &c, ts512, CTX_TRACESTATE_MAX + 1),
	                 70);
	assert_true(INJ_HEADERS_MAX <= INJ_INSERT_MAX);
}

/* Round trip: what we send parses back to the same ids, flags limited to the known bits. */
static void test_round_trip(void **state)
{
	(void)state;
	for (unsigned f = 0; f < 256; f++) {
		struct ctx_span_context c = make_ctx((uint8_t)f), back;
		char out[INJ_HEADERS_MAX];
		size_t n = inj_format_headers(out, sizeof(out), &c, NULL, 0);

		assert_int_equal(n, 70);
		assert_memory_equal(out, "traceparent: ", 13);
		assert_memory_equal(out + 68, "\r\n", 2);
		assert_int_equal(ctx_tp_parse(out + 13, 55, &back), 0);
		assert_memory_equal(back.trace_id, tid, 16);
		assert_memory_equal(back.span_id, sid, 8);
		assert_int_equal(back.flags, f & CTX_FLAGS_KNOWN);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_table),
	    cmocka_unit_test(test_bad_contexts),
	    cmocka_unit_test(test_longest_tracestate),
	    cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
