/*
 * pool.c - lock-free fixed-capacity object pools (see pool.h for the design).
 *
 * Thread and signal safety: pool_get/pool_put are lock-free and async-signal-safe. The one-time
 * mapping is done by whichever caller finds the pool unmapped; concurrent callers spin briefly
 * on `state` (a signal handler interrupting the mapper would spin forever, so a caller that
 * finds the mapping in progress gives up and reports exhaustion instead of waiting).
 */
#include <sys/mman.h>

#include "pool.h"

static int pool_map(struct wt_pool *p)
{
	int expect = 0;
	if (!atomic_compare_exchange_strong(&p->state, &expect, 1))
		return atomic_load(&p->state) == 2 ? 0 : -1;
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
							  memory_order_acquire))
			return p->base + (size_t)(top - 1) * p->objsize;
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

void *pool_at(const struct wt_pool *p, uint32_t idx)
{
	return p->base + (size_t)idx * p->objsize;
}
