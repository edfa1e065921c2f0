/*
 * test_context_current.c - the thread-local current context: empty on a new thread, set and
 * clear, tracestate copied and NUL-terminated, oversize or invalid input refused, and no
 * leaking between threads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "current.h"

static struct ctx_span_context make_sc(uint8_t fill, uint8_t flags)
{
	struct ctx_span_context sc;

	memset(&sc, 0, sizeof(sc));
	memset(sc.trace_id, fill, 16);
	memset(sc.span_id, fill ^ 0xff, 8);
	sc.flags = flags;
	sc.valid = true;
	return sc;
}

static void test_set_get_clear(void **state)
{
	struct ctx_span_context sc = make_sc(0x11, 0x03);
	struct ctx_current *c = ctx_current_get();
	char ts[] = "rojo=1,congo=2";

	(void)state;
	assert_non_null(c);
	assert_ptr_equal(c, ctx_current_get());
	assert_false(c->sc.valid);
	ctx_current_set(&sc, ts, strlen(ts));
	ts[0] = 'X'; /* the tracestate was copied */
	assert_true(c->sc.valid);
	assert_memory_equal(c->sc.trace_id, sc.trace_id, 16);
	assert_memory_equal(c->sc.span_id, sc.span_id, 8);
	assert_int_equal(c->sc.flags, 0x03);
	assert_string_equal(c->tracestate, "rojo=1,congo=2");
	assert_int_equal(c->tracestate_len, 14);
	/* Replacing with a shorter tracestate terminates it at the new length. */
	ctx_current_set(&sc, "a=1xxxx", 3);
	assert_string_equal(c->tracestate, "a=1");
	assert_int_equal(c->tracestate_len, 3);
	ctx_current_set(&sc, NULL, 0);
	assert_string_equal(c->tracestate, "");
	ctx_current_clear();
	assert_false(c->sc.valid);
	assert_int_equal(c->tracestate_len, 0);
	assert_string_equal(c->tracestate, "");
}

static void test_limits(void **state)
{
	struct ctx_span_context sc = make_sc(0x22, 0x01), bad = make_sc(0x33, 0x01);
	struct ctx_current *c = ctx_current_get();
	char big[CTX_TRACESTATE_MAX + 2];

	(void)state;
	memset(big, 'v', sizeof(big));
	big[0] = 'k';
	big[1] = '=';
	ctx_current_set(&sc, big, CTX_TRACESTATE_MAX);
	assert_int_equal(c->tracestate_len, CTX_TRACESTATE_MAX);
	assert_int_equal(c->tracestate[CTX_TRACESTATE_MAX], '\0');
	ctx_current_set(&sc, big, CTX_TRACESTATE_MAX + 1); /* too long: stored empty */
	assert_true(c->sc.valid);
	assert_int_equal(c->tracestate_len, 0);
	assert_string_equal(c->tracestate, "");
	ctx_current_set(&sc, "a=1", 3);
	bad.valid = false; /* an invalid context is no context */
	ctx_current_set(&bad, "a=1", 3);
	assert_false(c->sc.valid);
	assert_int_equal(c->tracestate_len, 0);
	ctx_current_set(&sc, "a=1", 3);
	ctx_current_set(NULL, "a=1", 3);
	assert_false(c->sc.valid);
}

struct peer {
	struct ctx_current *seen;
	bool was_empty;
	uint8_t fill_after;
};

static void *other_thread(void *arg)
{
	struct peer *p = arg;
	struct ctx_span_context sc = make_sc(0x77, 0x00);

	p->seen = ctx_current_get();
	p->was_empty = !p->seen->sc.valid && p->seen->tracestate_len == 0;
	ctx_current_set(&sc, "t=2", 3);
	p->fill_after = ctx_current_get()->sc.trace_id[0];
	return NULL;
}

static void test_per_thread(void **state)
{
	struct ctx_span_context sc = make_sc(0x44, 0x01);
	struct peer p = {0};
	pthread_t th;

	(void)state;
	ctx_current_set(&sc, "m=1", 3);
	assert_int_equal(pthread_create(&th, NULL, other_thread, &p), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(p.was_empty);
	assert_int_equal(p.fill_after, 0x77);
	assert_ptr_not_equal(p.seen, ctx_current_get());
	assert_int_equal(ctx_current_get()->sc.trace_id[0], 0x44);
	assert_string_equal(ctx_current_get()->tracestate, "m=1");
	ctx_current_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_get_clear),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_per_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
