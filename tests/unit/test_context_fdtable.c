/*
 * test_context_fdtable.c - the per-fd slot table: range checks (negative, too large, edge
 * values), lazy chunk creation, zeroed slots, stable slot addresses, chunk boundaries, and
 * several threads racing to create the same chunk (all must end up with the same slots).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fdtable.h"

static void test_out_of_range(void **state)
{
	static const int bad[] = {-1,     -2, -1024, INT_MIN, (int)CTX_FD_MAX, (int)CTX_FD_MAX + 1,
	                          INT_MAX};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(ctx_fd_get(bad[i]));
		errno = 77;
		assert_null(ctx_fd_get_or_create(bad[i]));
		assert_int_equal(errno, 77);
	}
}

static void test_lazy_create(void **state)
{
	const int fd = 5 * (int)CTX_FD_CHUNK + 17;
	struct ctx_fd_slot *s, *t;

	(void)state;
	assert_null(ctx_fd_get(fd)); /* nothing created yet in this chunk */
	errno = 99;
	s = ctx_fd_get_or_create(fd);
	assert_non_null(s);
	assert_int_equal(errno, 99);
	assert_int_equal(atomic_load(&s->kind), 0);
	assert_int_equal(s->gen, 0);
	assert_null(atomic_load(&s->ptr));
	assert_ptr_equal(ctx_fd_get(fd), s);
	assert_ptr_equal(ctx_fd_get_or_create(fd), s);
	/* Neighbours in the same chunk now exist, are adjacent and zero. */
	t = ctx_fd_get(fd + 1);
	assert_ptr_equal(t, s + 1);
	assert_ptr_equal(ctx_fd_get(5 * (int)CTX_FD_CHUNK), s - 17);
	assert_ptr_equal(ctx_fd_get(6 * (int)CTX_FD_CHUNK - 1), s - 17 + (CTX_FD_CHUNK - 1));
	/* The next chunk does not. */
	assert_null(ctx_fd_get(6 * (int)CTX_FD_CHUNK));
	atomic_store(&s->kind, 3);
	s->gen = 9;
	assert_int_equal(atomic_load(&ctx_fd_get(fd)->kind), 3);
	assert_int_equal(atomic_load(&t->kind), 0);
}

static void test_large_fds(void **state)
{
	static const int fds[] = {0,     1,       1023,          1024,
	                          65535, 1 << 20, (1 << 20) + 1, (int)CTX_FD_MAX - 1};

	(void)state;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		struct ctx_fd_slot *s = ctx_fd_get_or_create(fds[i]);

		assert_non_null(s);
		assert_ptr_equal(ctx_fd_get(fds[i]), s);
		s->gen = (uint32_t)fds[i];
	}
	/* Each fd kept its own slot. */
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		assert_int_equal(ctx_fd_get(fds[i])->gen, (uint32_t)fds[i]);
}

#define NRACERS 8
#define NROUNDS 20
#define RACE_CHUNK0 40 /* rounds use chunks 40..59, untouched by the other tests */

static pthread_barrier_t barrier;

struct racer {
	int id;
	int base; /* first fd of the chunk raced for in this round */
	struct ctx_fd_slot *got[CTX_FD_CHUNK];
};

static void *race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(&barrier);
	/* Everyone creates the same chunk at once, each starting at a different offset. */
	for (unsigned i = 0; i < CTX_FD_CHUNK; i++) {
		unsigned off = (i + (unsigned)r->id * 131) % CTX_FD_CHUNK;

		r->got[off] = ctx_fd_get_or_create(r->base + (int)off);
	}
	/* Each thread owns slots id, id + NRACERS, ...: written to detect overlapping chunks. */
	for (unsigned i = (unsigned)r->id; i < CTX_FD_CHUNK; i += NRACERS)
		if (r->got[i])
			atomic_store(&r->got[i]->kind, (uint32_t)r->id + 1);
	return NULL;
}

static void test_concurrent_create(void **state)
{
	static struct racer r[NRACERS];
	pthread_t th[NRACERS];

	(void)state;
	for (int round = 0; round < NROUNDS; round++) {
		const int base = (RACE_CHUNK0 + round) * (int)CTX_FD_CHUNK;

		assert_null(ctx_fd_get(base));
		assert_int_equal(pthread_barrier_init(&barrier, NULL, NRACERS), 0);
		for (int i = 0; i < NRACERS; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].id = i;
			r[i].base = base;
			assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
		}
		for (int i = 0; i < NRACERS; i++)
			assert_int_equal(pthread_join(th[i], NULL), 0);
		pthread_barrier_destroy(&barrier);
		for (unsigned s = 0; s < CTX_FD_CHUNK; s++) {
			struct ctx_fd_slot *want = ctx_fd_get(base + (int)s);

			assert_non_null(want);
			for (int i = 0; i < NRACERS; i++)
				assert_ptr_equal(r[i].got[s], want);
			assert_int_equal(atomic_load(&want->kind), s % NRACERS + 1);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_lazy_create),
	    cmocka_unit_test(test_large_fds),
	    cmocka_unit_test(test_concurrent_create),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
