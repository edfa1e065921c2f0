/*
 * pool.c - lock-free fixed-capacity object pools (see pool.h for the design).
 *
 * Thread and signal safety: pool_get/pool_put are lock-free and async-signal-safe. The one-time
 * mapping is done by whichever caller finds the pool unmapped; concurrent callers wait for it
 * (yielding), with a bound: a signal handler interrupting the mapper on the same thread would
 * otherwise wait forever, so after the bound it reports exhaustion instead.
 */
#include <sched.h>
#include <sys/mman.h>

#include "pool.h"

static void atomic_fetch_max_u32(_Atomic uint32_t *a, uint32_t v)
{
	uint32_t cur = atomic_load_explicit(a, memory_order_relaxed);
	while (cur < v && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_release,
								 memory_order_relaxed))
		;
}

/* Another thread is mapping the pool: wait for it, boundedly (the mapper may be this very
 * thread, interrupted by a signal handler that now wants an object: then give up). */
static int pool_wait_mapped(struct wt_pool *p)
{
	for (int i = 0; i < 100000; i++) {
		int st = atomic_load_explicit(&p->state, memory_order_acquire);
		if (st != 1)
			return st == 2 ? 0 : -1;
		if (i > 64)
			sched_yield();
	}
	return -1;
}

static int pool_map(struct wt_pool *p)
{
	int expect = 0;
	if (!atomic_compare_exchange_strong(&p->state, &expect, 1))
		return expect == 2 ? 0 : pool_wait_mapped(p);
	p->objsize = (p->objsize + 63) & ~(size_t)63;
	size_t objs = p->objsize * p->cap;
	size_t links = sizeof(uint32_t) * p->cap;
	char *m = mmap(NULL, objs + links, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (m == MAP_FAILED) {
		atomic_store(&p->state, -1);
		return -1;
	}
	p->base = m;
	p->next = (_Atomic uint32_t *)(m + objs);
	/* Free list 0 -> 1 -> ... -> cap-1; links store index + 1, 0 terminates. */
	for (uint32_t i = 0; i < p->cap; i++)
		atomic_store_explicit(&p->next[i], i + 1 < p->cap ? i + 2 : 0,
				      memory_order_relaxed);
	atomic_store_explicit(&p->head, 1, memory_order_relaxed);
	atomic_store_explicit(&p->state, 2, memory_order_release);
	return 0;
}

void *pool_get(struct wt_pool *p)
{
	if (atomic_load_explicit(&p->state, memory_order_acquire) != 2 && pool_map(p) < 0) {
		atomic_fetch_add_explicit(&p->exhausted, 1, memory_order_relaxed);
		return NULL;
	}
	uint64_t head = atomic_load_explicit(&p->head, memory_order_acquire);
	for (;;) {
		uint32_t top = (uint32_t)head;
		if (top == 0) {
			atomic_fetch_add_explicit(&p->exhausted, 1, memory_order_relaxed);
			return NULL;
		}
		uint32_t nxt = atomic_load_explicit(&p->next[top - 1], memory_order_relaxed);
		uint64_t want = ((head >> 32) + 1) << 32 | nxt;
		if (atomic_compare_exchange_weak_explicit(&p->head, &head, want,
							  memory_order_acq_rel,
							  memory_order_acquire)) {
			/* The free list starts 0, 1, 2, ... and is LIFO: a never-used object is
			 * taken only when all below it were, so `top` is at most used + 1. */
			if (top > atomic_load_explicit(&p->used, memory_order_relaxed))
				atomic_fetch_max_u32(&p->used, top);
			return p->base + (size_t)(top - 1) * p->objsize;
		}
	}
}

void pool_put(struct wt_pool *p, void *obj)
{
	if (obj == NULL)
		return;
	uint32_t idx = pool_index(p, obj);
	uint64_t head = atomic_load_explicit(&p->head, memory_order_relaxed);
	for (;;) {
		atomic_store_explicit(&p->next[idx], (uint32_t)head, memory_order_relaxed);
		uint64_t want = ((head >> 32) + 1) << 32 | (idx + 1);
		if (atomic_compare_exchange_weak_explicit(&p->head, &head, want,
							  memory_order_release,
							  memory_order_relaxed))
			return;
	}
}

uint32_t pool_index(const struct wt_pool *p, const void *obj)
{
	return (uint32_t)(((const char *)obj - p->base) / p->objsize);
}

uint32_t pool_used(const struct wt_pool *p)
{
	return atomic_load_explicit(&p->used, memory_order_acquire);
}

void *pool_at(const struct wt_pool *p, uint32_t idx)
{
	return p->base + (size_t)idx * p->objsize;
}
