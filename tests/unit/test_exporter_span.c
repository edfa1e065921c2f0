/*
 * test_exporter_span.c - the span record builders: strings, attributes of every type, events,
 * status, the attribute/event limits (count and value length, UTF-8 safe truncation) and the
 * record's own capacity, plus malformed calls.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "exp_span.h"

static const struct exp_limits defaults = {128, -1, 128, 128};

static int setup(void **state)
{
	(void)state;
	exp_limits_set(&defaults);
	return 0;
}

static void str_eq(const struct exp_span *s, struct exp_str str, const char *want, size_t n)
{
	assert_int_equal(str.len, n);
	assert_memory_equal(exp_str_ptr(s, str), want, n);
}

static void test_init_resets(void **state)
{
	struct exp_span s;

	(void)state;
	memset(&s, 0xa5, sizeof(s));
	exp_span_init(&s);
	assert_int_equal(s.nattrs, 0);
	assert_int_equal(s.nevents, 0);
	assert_int_equal(s.buf_used, 0);
	assert_int_equal(s.dropped_attrs, 0);
	assert_int_equal(s.dropped_events, 0);
	assert_int_equal(s.flags, 0);
	assert_int_equal(s.kind, 0);
	assert_int_equal(s.status_code, 0);
	assert_int_equal(s.name.len, 0);
	assert_int_equal(s.start_ns, 0);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(s.parent_span_id[i], 0);
}

static void test_strings_and_status(void **state)
{
	struct exp_span s;

	(void)state;
	exp_span_init(&s);
	assert_int_equal(exp_span_set_name(&s, "GET", 3), 0);
	assert_int_equal(exp_span_set_tracestate(&s, "congo=t61rcWkgMzE", 17), 0);
	str_eq(&s, s.name, "GET", 3);
	str_eq(&s, s.tracestate, "congo=t61rcWkgMzE", 17);

	/* A description is kept only with ERROR (trace/api.md, Set Status). */
	assert_int_equal(exp_span_set_status(&s, EXP_STATUS_OK, "fine", 4), 0);
	assert_int_equal(s.status_code, EXP_STATUS_OK);
	assert_int_equal(s.status_message.len, 0);
	assert_int_equal(exp_span_set_status(&s, EXP_STATUS_ERROR, "boom", 4), 0);
	assert_int_equal(s.status_code, EXP_STATUS_ERROR);
	str_eq(&s, s.status_message, "boom", 4);
	assert_int_equal(exp_span_set_status(&s, 7, "x", 1), -EINVAL);
	assert_int_equal(exp_span_set_status(&s, -1, "x", 1), -EINVAL);
	assert_int_equal(s.status_code, EXP_STATUS_ERROR);

	/* NULL string with a length: an empty string, not a crash. */
	assert_int_equal(exp_span_set_name(&s, NULL, 10), 0);
	assert_int_equal(s.name.len, 0);
}

static void test_attr_types(void **state)
{
	const char *vals[] = {"a", "", "ccc"};
	const size_t lens[] = {1, 0, 3};
	const struct exp_attr *a;
	struct exp_span s;

	(void)state;
	exp_span_init(&s);
	assert_int_equal(exp_span_add_str(&s, "url.path", "/x", 2), 0);
	assert_int_equal(exp_span_add_int(&s, "server.port", -8080), 0);
	assert_int_equal(exp_span_add_double(&s, "ratio", 0.25), 0);
	assert_int_equal(exp_span_add_bool(&s, "ok", true), 0);
	assert_int_equal(exp_span_add_str_array(&s, "arr", vals, lens, 3), 0);
	assert_int_equal(exp_span_add_str(&s, "empty", NULL, 5), 0);
	assert_int_equal(s.nattrs, 6);
	assert_int_equal(s.dropped_attrs, 0);

	a = exp_span_find_attr(&s, "url.path");
	assert_non_null(a);
	assert_int_equal(a->type, EXP_ATTR_STRING);
	assert_int_equal(a->event, 0);
	str_eq(&s, a->v.s, "/x", 2);
	a = exp_span_find_attr(&s, "server.port");
	assert_non_null(a);
	assert_int_equal(a->type, EXP_ATTR_INT);
	assert_true(a->v.i == -8080);
	a = exp_span_find_attr(&s, "ratio");
	assert_true(a && a->type == EXP_ATTR_DOUBLE && a->v.d == 0.25);
	a = exp_span_find_attr(&s, "ok");
	assert_true(a && a->type == EXP_ATTR_BOOL && a->v.b);
	a = exp_span_find_attr(&s, "arr");
	assert_non_null(a);
	assert_int_equal(a->type, EXP_ATTR_STRING_ARRAY);
	assert_int_equal(a->count, 3);
	str_eq(&s, a->v.s, "a\0\0ccc\0", 7);
	a = exp_span_find_attr(&s, "empty");
	assert_true(a && a->v.s.len == 0);
	assert_null(exp_span_find_attr(&s, "url"));
	assert_null(exp_span_find_attr(&s, "url.path.x"));
}

static void test_keyed_attributes(void **state)
{
	struct exp_span s;
	const struct exp_attr *a;

	(void)state;
	exp_span_init(&s);
	assert_int_equal(exp_span_add_str_k(&s, EXP_K_URL_PATH, "/x", 2), 0);
	assert_int_equal(s.buf_used, 2); /* the key is not copied */
	assert_int_equal(exp_span_add_int_k(&s, EXP_K_SERVER_PORT, 8080), 0);
	assert_int_equal(exp_span_add_ref_k(&s, EXP_K_HTTP_ROUTE, 0, 2), 0);
	assert_int_equal(exp_span_add_known_k(&s, EXP_K_URL_SCHEME, EXP_K_VAL_HTTPS), 0);
	assert_int_equal(s.buf_used, 2); /* nor the referenced or well-known value */
	str_eq(&s, exp_span_find_attr(&s, "url.scheme")->v.s, "https", 5);
	a = exp_span_find_attr(&s, "url.path");
	assert_non_null(a);
	str_eq(&s, a->key, "url.path", 8);
	str_eq(&s, a->v.s, "/x", 2);
	a = exp_span_find_attr(&s, "http.route");
	assert_non_null(a);
	assert_int_equal(a->v.s.off, 0);
	assert_int_equal(exp_span_find_attr(&s, "server.port")->v.i, 8080);
	/* bad keys and references outside the used buffer are refused, nothing added */
	assert_int_equal(exp_span_add_str_k(&s, EXP_K_NONE, "a", 1), -EINVAL);
	assert_int_equal(exp_span_add_int_k(&s, EXP_K_COUNT, 1), -EINVAL);
	assert_int_equal(exp_span_add_ref_k(&s, EXP_K_URL_QUERY, 1, 2), -EINVAL);
	assert_int_equal(exp_span_add_known_k(&s, EXP_K_URL_SCHEME, EXP_K_COUNT), -EINVAL);
	assert_int_equal(s.nattrs, 4);
	assert_int_equal(s.dropped_attrs, 0);
}

/* The value-length limit applies to referenced values too, by characters. */
static void test_keyed_limits(void **state)
{
	const struct exp_limits l = {2, 3, 128, 128};
	struct exp_span s;

	(void)state;
	exp_limits_set(&l);
	exp_span_init(&s);
	memcpy(s.buf, "\xc3\xa9t\xc3\xa9!", 6);
	s.buf_used = 6;
	assert_int_equal(exp_span_add_ref_k(&s, EXP_K_URL_PATH, 0, 6), 0);
	str_eq(&s, exp_span_find_attr(&s, "url.path")->v.s, "\xc3\xa9t\xc3\xa9", 5);
	assert_int_equal(exp_span_add_str_k(&s, EXP_K_URL_QUERY, "abcd", 4), 0);
	str_eq(&s, exp_span_find_attr(&s, "url.query")->v.s, "abc", 3);
	assert_int_equal(exp_span_add_int_k(&s, EXP_K_SERVER_PORT, 1), -ENOSPC);
	assert_int_equal(s.dropped_attrs, 1);
	/* a well-known value longer than the limit is copied, cut */
	exp_span_init(&s);
	assert_int_equal(exp_span_add_known_k(&s, EXP_K_URL_SCHEME, EXP_K_VAL_HTTPS), 0);
	str_eq(&s, exp_span_find_attr(&s, "url.scheme")->v.s, "htt", 3);
	assert_int_equal(s.buf_used, 3);
	exp_limits_set(&defaults);
}

static void test_malformed_calls(void **state)
{
	struct exp_span s;

	(void)state;
	exp_span_init(&s);
	assert_int_equal(exp_span_add_str(&s, NULL, "v", 1), -EINVAL);
	assert_int_equal(exp_span_add_str(&s, "", "v", 1), -EINVAL);
	assert_int_equal(exp_span_add_int(&s, NULL, 1), -EINVAL);
	assert_int_equal(exp_span_add_double(&s, "", 1), -EINVAL);
	assert_int_equal(exp_span_add_bool(&s, NULL, 1), -EINVAL);
	assert_int_equal(exp_span_add_str_array(&s, "k", NULL, NULL, 2), -EINVAL);
	assert_int_equal(exp_span_add_event_str(&s, 0, "k", "v", 1), -EINVAL); /* no event 0 */
	assert_int_equal(exp_span_add_event_int(&s, -1, "k", 1), -EINVAL);
	assert_int_equal(exp_span_add_event_int(&s, 99, "k", 1), -EINVAL);
	assert_int_equal(s.nattrs, 0);
	assert_int_equal(s.buf_used, 0);
}

/* Truncation to the value-length limit counts characters and never splits a sequence. */
static const struct {
	int limit;
	const char *in;
	const char *out;
} trunc_cases[] = {
    {-1, "hello", "hello"},
    {0, "hello", ""},
    {3, "hello", "hel"},
    {5, "hello", "hello"},
    {9, "hello", "hello"},
    {2, "h\xc3\xa9llo", "h\xc3\xa9"}, /* é is one character */
    {1, "\xc3\xa9", "\xc3\xa9"},
    {2, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xe6\x97\xa5\xe6\x9c\xac"}, /* 日本語 */
    {1, "\xf0\x9f\x98\x80x", "\xf0\x9f\x98\x80"},                            /* emoji */
    {1,
     "\x80\x80"
     "ab",
     "\x80\x80"
     "a"},                         /* stray continuation bytes stay attached */
    {2, "a\xe6\x97", "a\xe6\x97"}, /* truncated sequence at the end is not cut further */
};

static void test_value_length_limit(void **state)
{
	struct exp_limits l = defaults;
	const struct exp_attr *a;
	struct exp_span s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(trunc_cases) / sizeof(trunc_cases[0]); i++) {
		l.attr_value_len = trunc_cases[i].limit;
		exp_limits_set(&l);
		exp_span_init(&s);
		assert_int_equal(
		    exp_span_add_str(&s, "k", trunc_cases[i].in, strlen(trunc_cases[i].in)), 0);
		a = exp_span_find_attr(&s, "k");
		assert_non_null(a);
		str_eq(&s, a->v.s, trunc_cases[i].out, strlen(trunc_cases[i].out));
	}
	exp_limits_set(&defaults);
}

static void test_array_elements_truncated_separately(void **state)
{
	struct exp_limits l = defaults;
	const char *vals[] = {"abcd", "\xc3\xa9\xe6\x97\xa5z", "", "x"};
	const size_t lens[] = {4, 6, 0, 1};
	const struct exp_attr *a;
	struct exp_span s;

	(void)state;
	l.attr_value_len = 2;
	exp_limits_set(&l);
	exp_span_init(&s);
	assert_int_equal(exp_span_add_str_array(&s, "k", vals, lens, 4), 0);
	a = exp_span_find_attr(&s, "k");
	assert_non_null(a);
	assert_int_equal(a->count, 4);
	str_eq(&s, a->v.s, "ab\0\xc3\xa9\xe6\x97\xa5\0\0x\0", 12);
	exp_limits_set(&defaults);
}

static void test_count_limit(void **state)
{
	struct exp_limits l = defaults;
	struct exp_span s;
	int i;

	(void)state;
	l.attr_count = 3;
	exp_limits_set(&l);
	exp_span_init(&s);
	for (i = 0; i < 5; i++)
		assert_int_equal(exp_span_add_int(&s, "k", i), i < 3 ? 0 : -ENOSPC);
	assert_int_equal(s.nattrs, 3);
	assert_int_equal(s.dropped_attrs, 2);
	assert_int_equal(exp_span_add_str(&s, "s", "v", 1), -ENOSPC);
	assert_int_equal(s.dropped_attrs, 3);

	l.attr_count = 0;
	exp_limits_set(&l);
	exp_span_init(&s);
	assert_int_equal(exp_span_add_bool(&s, "b", false), -ENOSPC);
	assert_int_equal(s.dropped_attrs, 1);
	assert_int_equal(s.buf_used, 0);

	/* No limit: the record's capacity applies. */
	l.attr_count = -1;
	exp_limits_set(&l);
	exp_span_init(&s);
	for (i = 0; i < EXP_SPAN_MAX_ATTRS + 4; i++)
		exp_span_add_int(&s, "k", i);
	assert_int_equal(s.nattrs, EXP_SPAN_MAX_ATTRS);
	assert_int_equal(s.dropped_attrs, 4);
	exp_limits_set(&defaults);
}

static void test_buffer_capacity(void **state)
{
	static char big[EXP_SPAN_BUF], longkey[301];
	struct exp_span s;
	uint16_t used;

	(void)state;
	memset(big, 'x', sizeof(big));
	memset(longkey, 'k', sizeof(longkey) - 1);
	exp_span_init(&s);
	assert_int_equal(exp_span_add_str(&s, "big", big, EXP_SPAN_BUF - 100), 0);
	used = s.buf_used;
	/* The value does not fit: the whole attribute (key included) is rolled back. */
	assert_int_equal(exp_span_add_str(&s, "second", big, 200), -ENOSPC);
	assert_int_equal(s.buf_used, used);
	assert_int_equal(s.nattrs, 1);
	assert_int_equal(s.dropped_attrs, 1);
	/* A small one still fits. */
	assert_int_equal(exp_span_add_str(&s, "k", "v", 1), 0);
	assert_int_equal(s.nattrs, 2);
	/* Numbers need only their key. */
	assert_int_equal(exp_span_add_int(&s, "n", 1), 0);
	/* A key that does not fit. */
	assert_int_equal(exp_span_add_int(&s, longkey, 1), -ENOSPC);
	/* Name too long: left empty. */
	assert_int_equal(exp_span_set_name(&s, big, 500), -ENOSPC);
	assert_int_equal(s.name.len, 0);
	/* An array that does not fit is dropped whole. */
	{
		const char *vals[] = {big, big};
		const size_t lens[] = {60, 60};

		assert_int_equal(exp_span_add_str_array(&s, "arr", vals, lens, 2), -ENOSPC);
	}
	assert_int_equal(s.dropped_attrs, 3);
	assert_true(s.buf_used <= EXP_SPAN_BUF);
}

static void test_events(void **state)
{
	struct exp_limits l = defaults;
	const struct exp_attr *a;
	struct exp_span s;
	int e, i;

	(void)state;
	exp_span_init(&s);
	e = exp_span_add_event(&s, 1234, "exception");
	assert_int_equal(e, 0);
	assert_int_equal(exp_span_add_event_str(&s, e, "exception.type", "ETIMEDOUT", 9), 0);
	assert_int_equal(exp_span_add_event_int(&s, e, "attempt", 2), 0);
	assert_int_equal(s.nattrs, 2);
	a = &s.attrs[0];
	assert_int_equal(a->event, 1);
	str_eq(&s, s.events[0].name, "exception", 9);
	assert_true(s.events[0].time_ns == 1234);
	/* Event attributes are not span attributes. */
	assert_null(exp_span_find_attr(&s, "exception.type"));

	for (i = 1; i < EXP_SPAN_MAX_EVENTS; i++)
		assert_int_equal(exp_span_add_event(&s, 1, "e"), i);
	assert_int_equal(exp_span_add_event(&s, 1, "e"), -ENOSPC);
	assert_int_equal(s.dropped_events, 1);

	/* Event count limit and per-event attribute count limit. */
	l.event_count = 1;
	l.event_attr_count = 1;
	exp_limits_set(&l);
	exp_span_init(&s);
	assert_int_equal(exp_span_add_event(&s, 1, "a"), 0);
	assert_int_equal(exp_span_add_event(&s, 2, "b"), -ENOSPC);
	assert_int_equal(s.dropped_events, 1);
	assert_int_equal(exp_span_add_event_int(&s, 0, "x", 1), 0);
	assert_int_equal(exp_span_add_event_int(&s, 0, "y", 2), -ENOSPC);
	assert_int_equal(s.events[0].dropped_attrs, 1);
	assert_int_equal(s.dropped_attrs, 0);
	/* Span attributes are counted separately from event attributes. */
	assert_int_equal(exp_span_add_int(&s, "z", 3), 0);
	exp_limits_set(&defaults);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_init_resets, setup),
	    cmocka_unit_test_setup(test_strings_and_status, setup),
	    cmocka_unit_test_setup(test_attr_types, setup),
	    cmocka_unit_test_setup(test_keyed_attributes, setup),
	    cmocka_unit_test_setup(test_keyed_limits, setup),
	    cmocka_unit_test_setup(test_malformed_calls, setup),
	    cmocka_unit_test_setup(test_value_length_limit, setup),
	    cmocka_unit_test_setup(test_array_elements_truncated_separately, setup),
	    cmocka_unit_test_setup(test_count_limit, setup),
	    cmocka_unit_test_setup(test_buffer_capacity, setup),
	    cmocka_unit_test_setup(test_events, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
