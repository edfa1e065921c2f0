/*
 * ptr_table.h - a fixed-capacity, lock-free map from an object's address to a pointer.
 *
 * The libcurl and OpenSSL hooks keep per-object state for objects the agent does not own and
 * cannot extend: a CURL easy handle, a CURLM multi handle, an SSL session. Their address is
 * the key. The table is open addressing with linear probing over a power-of-two array that is
 * mapped on first use (a process that never uses libcurl or OpenSSL pays nothing), so a
 * look-up is a hash and a few loads, without a lock, usable on every SSL_read/SSL_write.
 *
 * Contract: at most one live entry per key. A key is inserted by the thread that uses the
 * object (libcurl and OpenSSL both require that one object is used by one thread at a time);
 * two threads racing to insert the same key both see the other and both back off
 * (-EEXIST): the object goes untraced for that call and the next call tries again. Removal
 * leaves a tombstone that later insertions reuse. Look-ups run concurrently with insertions
 * and removals of other keys. A look-up may miss an entry whose insertion is in progress on
 * another thread (the value is published after the key): callers treat it as absent.
 *
 * Values are never NULL (NULL means "absent"). Lock-free; the first call maps the array (mmap)
 * and concurrent first callers wait for it, so the table is not for signal handlers.
 */
#ifndef WT_PTR_TABLE_H
#define WT_PTR_TABLE_H

#include <stdatomic.h>
#include <stdint.h>

struct wt_ptab_ent {
	_Atomic uintptr_t key; /* 0 empty, 1 tombstone, else the object's address */
	_Atomic(void *) val;
};

struct wt_ptab {
	const char *name;
	uint32_t cap;      /* power of two */
	_Atomic int state; /* 0 unmapped, 1 mapping, 2 ready, -1 failed */
	struct wt_ptab_ent *ents;
	_Atomic uint64_t refused; /* insertions refused: table full around the key's slot */
};

#define WT_PTAB_INIT(n, capacity)                                                                  \
	{                                                                                          \
		.name = (n), .cap = (capacity)                                                     \
	}

/* Most slots examined from a key's home slot. */
#define WT_PTAB_PROBE 64

/* Insert key -> val (val != NULL). 0, -EEXIST (the key is present, or being inserted by
 * another thread), -ENOSPC (no free slot within WT_PTAB_PROBE), -ENOMEM (cannot map). */
int ptab_put(struct wt_ptab *t, const void *key, void *val);

/* The value for key, or NULL. */
void *ptab_get(struct wt_ptab *t, const void *key);

/* Remove key and return its value, or NULL if absent. */
void *ptab_take(struct wt_ptab *t, const void *key);

/* fn(key, value, arg) for every entry, in table order. Only where nothing else runs (a fork
 * child before it returns to the program): entries changing meanwhile may be missed or seen
 * half-removed. */
void ptab_each(struct wt_ptab *t, void (*fn)(const void *key, void *val, void *arg), void *arg);

#endif
