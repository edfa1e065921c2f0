/*
 * test_agent_ptr_table.c - the lock-free address map: put/get/take, duplicates refused,
 * tombstones reused, the probe window's limit, invalid keys and values, a table that cannot be
 * mapped, and concurrent threads working on disjoint keys (a model check against a per-thread
 * shadow array).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ptr_table.h"

static char objs[4096][16]; /* addresses to use as keys (16-byte aligned like real objects) */

static void test_put_get_take(void **state)
{
	(void)state;
	struct wt_ptab t = WT_PTAB_INIT("t", 256);
	assert_null(ptab_get(&t, objs[0])); /* unmapped: nothing */
	assert_null(ptab_take(&t, objs[0]));
	for (int i = 0; i < 100; i++)
		assert_int_equal(ptab_put(&t, objs[i], objs[i + 1000]), 0);
	for (int i = 0; i < 100; i++)
		assert_ptr_equal(ptab_get(&t, objs[i]), objs[i + 1000]);
	assert_null(ptab_get(&t, objs[500]));
	assert_int_equal(ptab_put(&t, objs[7], objs[9]), -EEXIST);
	assert_ptr_equal(ptab_get(&t, objs[7]), objs[1007]); /* unchanged */
	assert_ptr_equal(ptab_take(&t, objs[7]), objs[1007]);
	assert_null(ptab_get(&t, objs[7]));
	assert_null(ptab_take(&t, objs[7]));
	/* the others survive a tombstone in their probe sequences */
	for (int i = 0; i < 100; i++)
		if (i != 7)
			assert_ptr_equal(ptab_get(&t, objs[i]), objs[i + 1000]);
	assert_int_equal(ptab_put(&t, objs[7], objs[2]), 0);
	assert_ptr_equal(ptab_get(&t, objs[7]), objs[2]);
}

static void count_one(const void *key, void *val, void *arg)
{
	int *n = arg;
	if ((const char *)val == (const char *)key + 16 * 1000)
		n[0]++;
	else
		n[1]++;
}

static void test_each(void **state)
{
	(void)state;
	struct wt_ptab t = WT_PTAB_INIT("t", 128);
	int n[2] = {0, 0};
	ptab_each(&t, count_one, n); /* unmapped: nothing */
	assert_int_equal(n[0] + n[1], 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(ptab_put(&t, objs[i], objs[i + 1000]), 0);
	for (int i = 0; i < 50; i += 5)
		assert_non_null(ptab_take(&t, objs[i]));
	ptab_each(&t, count_one, n);
	assert_int_equal(n[0], 40); /* each live entry once, with its value; no tombstone */
	assert_int_equal(n[1], 0);
}

static void test_invalid(void **state)
{
	(void)state;
	struct wt_ptab t = WT_PTAB_INIT("t", 64);
	struct wt_ptab bad = WT_PTAB_INIT("bad", 100); /* not a power of two */
	static const struct {
		const void *key;
		void *val;
		int rc;
	} cases[] = {
	    {NULL, objs[1], -EINVAL},
	    {(const void *)1, objs[1], -EINVAL},
	    {objs[0], NULL, -EINVAL},
	    {objs[0], objs[1], 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ptab_put(&t, cases[i].key, cases[i].val), cases[i].rc);
	assert_null(ptab_get(&t, NULL));
	assert_null(ptab_take(&t, (const void *)1));
	assert_int_equal(ptab_put(&bad, objs[0], objs[1]), -ENOMEM);
	assert_null(ptab_get(&bad, objs[0]));
}

static void test_full_and_reuse(void **state)
{
	(void)state;
	struct wt_ptab t = WT_PTAB_INIT("t", 16); /* window = whole table */
	int ok = 0;
	for (int i = 0; i < 40; i++)
		ok += ptab_put(&t, objs[i], objs[i]) == 0;
	assert_int_equal(ok, 16);
	assert_int_equal(ptab_put(&t, objs[100], objs[1]), -ENOSPC);
	assert_true(atomic_load(&t.refused) >= 1);
	/* churn: every removal makes room for one insertion, forever */
	for (int round = 0; round < 1000; round++) {
		int k = round % 40;
		void *v = ptab_take(&t, objs[k]);
		if (v) {
			assert_ptr_equal(v, objs[k]);
			assert_int_equal(ptab_put(&t, objs[200 + round % 7], objs[3]), 0);
			assert_ptr_equal(ptab_take(&t, objs[200 + round % 7]), objs[3]);
			assert_int_equal(ptab_put(&t, objs[k], objs[k]), 0);
		}
	}
	int found = 0;
	for (int i = 0; i < 40; i++)
		found += ptab_get(&t, objs[i]) != NULL;
	assert_int_equal(found, 16);
}

#define THREADS 4
#define PER 200
static struct wt_ptab shared = WT_PTAB_INIT("shared", 4096);

static void *worker(void *arg)
{
	int base = (int)(intptr_t)arg * PER;
	char *shadow[PER] = {0};
	unsigned seed = (unsigned)base + 1;
	for (int op = 0; op < 20000; op++) {
		int i = rand_r(&seed) % PER;
		void *key = objs[base + i];
		switch (rand_r(&seed) % 3) {
		case 0:
			if (ptab_put(&shared, key, objs[i]) == 0) {
				if (shadow[i])
					return (void *)"put succeeded twice";
				shadow[i] = objs[i];
			} else if (shadow[i] == NULL) {
				return (void *)"put refused for an absent key";
			}
			break;
		case 1:
			if (ptab_get(&shared, key) != shadow[i])
				return (void *)"get disagrees";
			break;
		default:
			if (ptab_take(&shared, key) != shadow[i])
				return (void *)"take disagrees";
			shadow[i] = NULL;
			break;
		}
	}
	return NULL;
}

static void test_threads_disjoint_keys(void **state)
{
	(void)state;
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++) {
		void *err = NULL;
		pthread_join(th[i], &err);
		if (err)
			fail_msg("thread %d: %s", i, (const char *)err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_get_take),
	    cmocka_unit_test(test_each),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_full_and_reuse),
	    cmocka_unit_test(test_threads_disjoint_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
