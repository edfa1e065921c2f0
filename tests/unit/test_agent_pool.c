/*
 * test_agent_pool.c - the lock-free object pools of the connection tracker: capacity,
 * exhaustion, reuse, index round trip, and many threads taking and returning objects at once
 * (every object handed out to exactly one holder at a time), including the first use racing to
 * map the pool.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pool.h"

static void test_capacity_and_reuse(void **state)
{
	(void)state;
	static struct wt_pool p = WT_POOL_INIT("t", 100, 8);
	void *got[8];
	for (int i = 0; i < 8; i++) {
		got[i] = pool_get(&p);
		assert_non_null(got[i]);
		assert_int_equal(pool_index(&p, got[i]), pool_index(&p, pool_at(&p, pool_index(&p, got[i]))));
		memset(got[i], 0xab, 100);
	}
	assert_null(pool_get(&p)); /* exhausted: reported, never blocks */
	assert_int_equal(atomic_load(&p.exhausted), 1);
	for (int i = 0; i < 8; i++)
		for (int j = i + 1; j < 8; j++)
			assert_true(got[i] != got[j]);
	/* objects are at least objsize apart (rounded to 64) */
	assert_int_equal(p.objsize, 128);
	pool_put(&p, got[3]);
	assert_ptr_equal(pool_get(&p), got[3]);
	assert_null(pool_get(&p));
	pool_put(&p, NULL); /* no-op */
}

#define THREADS 4
#define ROUNDS 20000
#define CAP 64

static struct wt_pool shared = WT_POOL_INIT("shared", sizeof(uint64_t), CAP);
static _Atomic int owners[CAP];
static _Atomic int violations;
static _Atomic int start;

static void *worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&start))
		;
	for (int r = 0; r < ROUNDS; r++) {
		void *o = pool_get(&shared);
		if (o == NULL)
			continue;
		uint32_t i = pool_index(&shared, o);
		if (atomic_fetch_add(&owners[i], 1) != 0)
			atomic_fetch_add(&violations, 1);
		if (i >= pool_used(&shared)) /* every object handed out lies below the mark */
			atomic_fetch_add(&violations, 1);
		atomic_fetch_sub(&owners[i], 1);
		pool_put(&shared, o);
	}
	return NULL;
}

/* The high-water mark: objects are handed out from index 0 up, reused first. */
static void test_used_mark(void **state)
{
	(void)state;
	static struct wt_pool p = WT_POOL_INIT("u", 32, 6);
	void *a, *b, *c;

	assert_int_equal(pool_used(&p), 0);
	a = pool_get(&p);
	b = pool_get(&p);
	c = pool_get(&p);
	assert_int_equal(pool_used(&p), 3);
	assert_int_equal(pool_index(&p, c), 2);
	pool_put(&p, b);
	pool_put(&p, a);
	assert_ptr_equal(pool_get(&p), a); /* reused: the mark stays */
	assert_ptr_equal(pool_get(&p), b);
	assert_int_equal(pool_used(&p), 3);
	assert_int_equal(pool_index(&p, pool_get(&p)), 3); /* a new one: the next index */
	assert_int_equal(pool_used(&p), 4);
}

static void test_concurrent_first_use_and_exclusive(void **state)
{
	(void)state;
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, NULL), 0);
	atomic_store(&start, 1); /* all threads race to map the pool on first use */
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&violations), 0);
	assert_true(pool_used(&shared) <= THREADS); /* never more in use at once than threads */
	/* With 4 threads and 64 objects nobody may have been refused, the first use included. */
	assert_int_equal(atomic_load(&shared.exhausted), 0);
	int n = 0;
	while (pool_get(&shared))
		n++;
	assert_int_equal(n, CAP); /* every object came back */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capacity_and_reuse),
		cmocka_unit_test(test_used_mark),
		cmocka_unit_test(test_concurrent_first_use_and_exclusive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
