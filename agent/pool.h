/*
 * pool.h - fixed-capacity, lock-free object pools for the hot path.
 *
 * Connections, in-flight spans and head buffers are taken from pools, never from malloc: the
 * hooks must be async-signal-safe and must not take a lock a signal handler could find held.
 * A pool is one anonymous mapping of `cap` objects plus a free list (Treiber stack whose head
 * packs a 32-bit index with a 32-bit tag, so a CAS cannot suffer ABA). The mapping is made on
 * first use; the kernel only backs the pages objects actually touch, so a large capacity costs
 * address space, not RSS. Exhaustion is reported (NULL) and the caller degrades: the
 * connection or message goes untraced, and a counter says so.
 */
#ifndef WT_POOL_H
#define WT_POOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct wt_pool {
	const char *name;
	size_t objsize; /* rounded up to 64 bytes */
	uint32_t cap;
	_Atomic int state; /* 0 unmapped, 1 mapping in progress, 2 ready, -1 failed */
	char *base;
	_Atomic uint32_t *next; /* free-list links */
	_Atomic uint64_t head;  /* (tag << 32) | (index + 1); 0 = empty */
	_Atomic uint64_t exhausted; /* allocations refused */
	_Atomic uint32_t used; /* objects ever handed out: always indices [0, used) (LIFO list) */
};

#define WT_POOL_INIT(n, size, capacity) {.name = (n), .objsize = (size), .cap = (capacity)}

/* NULL when the pool is empty or could not be mapped. Objects are NOT zeroed. */
void *pool_get(struct wt_pool *p);
void pool_put(struct wt_pool *p, void *obj);
/* Index of an object (for generation-checked handles) and back. */
uint32_t pool_index(const struct wt_pool *p, const void *obj);
void *pool_at(const struct wt_pool *p, uint32_t idx);
/* How many objects from index 0 have ever been handed out: a scan of the objects that may be
 * in use (crash writer, fork handlers) stops there instead of touching the whole mapping. */
uint32_t pool_used(const struct wt_pool *p);

#endif
