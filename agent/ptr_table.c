/*
 * ptr_table.c - lock-free map from object addresses to pointers (see ptr_table.h).
 *
 * Design: open addressing, linear probing within WT_PTAB_PROBE slots of the key's home slot.
 * A slot's key goes EMPTY -> address -> TOMBSTONE -> address ... and never back to EMPTY, so
 * a probe sequence that meets EMPTY can stop: nothing was ever stored beyond it for this home
 * slot. The value is published after the key (release) and cleared before the tombstone, so
 * a reader that finds the key either sees the value or NULL ("absent").
 *
 * Insertion claims the first free slot (EMPTY or TOMBSTONE) with a CAS, then scans the whole
 * window again for another slot holding the same key; if it finds one (two threads inserting
 * the same key at once), it withdraws. Both racers may withdraw, never neither: each
 * verification starts after its own claim (sequentially consistent atomics), so the later of
 * the two claims is seen by at least one scan, and the earlier one by the other.
 *
 * Thread and signal safety: every operation is lock-free, except that a caller finding the
 * one-time mapping in progress on another thread waits for it (unlike pool.c, which is used
 * from signal handlers: these tables never are, as libcurl and OpenSSL are not).
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mman.h>

#include "ptr_table.h"

#define KEY_EMPTY ((uintptr_t)0)
#define KEY_TOMB ((uintptr_t)1)

static int ptab_map(struct wt_ptab *t)
{
	int expect = 0;
	if (!atomic_compare_exchange_strong(&t->state, &expect, 1)) {
		/* Another thread is mapping it: wait (a few microseconds, once per process). */
		while (atomic_load(&t->state) == 1)
			sched_yield();
		return atomic_load(&t->state) == 2 ? 0 : -1;
	}
	if (t->cap == 0 || (t->cap & (t->cap - 1)) != 0) {
		atomic_store(&t->state, -1);
		return -1;
	}
	void *m = mmap(NULL, sizeof(struct wt_ptab_ent) * t->cap, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		atomic_store(&t->state, -1);
		return -1;
	}
	t->ents = m; /* zero pages: every key EMPTY */
	atomic_store_explicit(&t->state, 2, memory_order_release);
	return 0;
}

static inline int ready(struct wt_ptab *t)
{
	return atomic_load_explicit(&t->state, memory_order_acquire) == 2;
}

static inline uint32_t home(const struct wt_ptab *t, uintptr_t k)
{
	/* Fibonacci hashing of the address without its alignment bits. */
	uint64_t h = (uint64_t)(k >> 4) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & (t->cap - 1);
}

static inline struct wt_ptab_ent *slot(struct wt_ptab *t, uint32_t h, uint32_t i)
{
	return &t->ents[(h + i) & (t->cap - 1)];
}

static uint32_t window(const struct wt_ptab *t)
{
	return t->cap < WT_PTAB_PROBE ? t->cap : WT_PTAB_PROBE;
}

/* Another slot of the window holds k? */
static int duplicated(struct wt_ptab *t, uint32_t h, uintptr_t k, struct wt_ptab_ent *mine)
{
	for (uint32_t i = 0; i < window(t); i++) {
		struct wt_ptab_ent *e = slot(t, h, i);
		if (e != mine && atomic_load(&e->key) == k)
			return 1;
	}
	return 0;
}

int ptab_put(struct wt_ptab *t, const void *key, void *val)
{
	uintptr_t k = (uintptr_t)key;
	if (k <= KEY_TOMB || val == NULL)
		return -EINVAL;
	if (!ready(t) && ptab_map(t) < 0)
		return -ENOMEM;
	uint32_t h = home(t, k);
	struct wt_ptab_ent *mine = NULL;
	for (uint32_t i = 0; i < window(t) && mine == NULL; i++) {
		struct wt_ptab_ent *e = slot(t, h, i);
		uintptr_t cur = atomic_load(&e->key);
		if (cur == k)
			return -EEXIST;
		if ((cur == KEY_EMPTY || cur == KEY_TOMB) &&
		    atomic_compare_exchange_strong(&e->key, &cur, k))
			mine = e;
	}
	if (mine == NULL) {
		atomic_fetch_add_explicit(&t->refused, 1, memory_order_relaxed);
		return -ENOSPC;
	}
	if (duplicated(t, h, k, mine)) {
		atomic_store(&mine->key, KEY_TOMB);
		return -EEXIST;
	}
	atomic_store_explicit(&mine->val, val, memory_order_release);
	return 0;
}

void *ptab_get(struct wt_ptab *t, const void *key)
{
	uintptr_t k = (uintptr_t)key;
	if (k <= KEY_TOMB || !ready(t))
		return NULL;
	uint32_t h = home(t, k);
	for (uint32_t i = 0; i < window(t); i++) {
		struct wt_ptab_ent *e = slot(t, h, i);
		uintptr_t cur = atomic_load_explicit(&e->key, memory_order_acquire);
		if (cur == k)
			return atomic_load_explicit(&e->val, memory_order_acquire);
		if (cur == KEY_EMPTY)
			return NULL;
	}
	return NULL;
}

void *ptab_take(struct wt_ptab *t, const void *key)
{
	uintptr_t k = (uintptr_t)key;
	if (k <= KEY_TOMB || !ready(t))
		return NULL;
	uint32_t h = home(t, k);
	for (uint32_t i = 0; i < window(t); i++) {
		struct wt_ptab_ent *e = slot(t, h, i);
		uintptr_t cur = atomic_load(&e->key);
		if (cur == k) {
			void *v = atomic_exchange(&e->val, NULL);
			atomic_store(&e->key, KEY_TOMB);
			return v;
		}
		if (cur == KEY_EMPTY)
			return NULL;
	}
	return NULL;
}

void ptab_each(struct wt_ptab *t, void (*fn)(const void *key, void *val, void *arg), void *arg)
{
	if (!ready(t))
		return;
	for (uint32_t i = 0; i < t->cap; i++) {
		uintptr_t k = atomic_load(&t->ents[i].key);
		void *v = atomic_load(&t->ents[i].val);
		if (k > KEY_TOMB && v)
			fn((const void *)k, v, arg);
	}
}
