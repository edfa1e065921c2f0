/*
 * fdtable.h - one slot per file descriptor, found in O(1) without locks.
 *
 * The agent keeps a connection's state on the fd it lives on. Every wrapped I/O call looks its
 * fd up here first, so the look-up is the fast path of the whole agent (DESIGN.md: a call on a
 * non-HTTP fd must cost one array lookup and a branch): ctx_fd_get() is inline, one range check,
 * one acquire load of the chunk pointer (a plain load on x86-64), one NULL test.
 *
 * Layout: a static array of CTX_FD_NCHUNKS chunk pointers; chunk i holds the slots of fds
 * [i * CTX_FD_CHUNK, (i + 1) * CTX_FD_CHUNK). Chunks are created on first use by
 * ctx_fd_get_or_create() with mmap (async-signal-safe, unlike malloc) and published with a CAS;
 * they are never freed or moved, so a slot pointer stays valid for the life of the process (and
 * of a forked child, which inherits the table). New slots are all zero.
 *
 * Range: fds 0 .. CTX_FD_MAX - 1 (4,194,304; Linux's default fs.nr_open is 1,048,576). A larger
 * or negative fd has no slot; the agent then passes the call through untraced.
 *
 * The table does not interpret the slot: `kind`, `gen` and `ptr` belong to the agent, which
 * also owns their memory-ordering protocol (kind and ptr are atomic so that it can publish a
 * state from one thread and read it from another).
 */
#ifndef CTX_FDTABLE_H
#define CTX_FDTABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CTX_FD_CHUNK_SHIFT 10
#define CTX_FD_CHUNK (1u << CTX_FD_CHUNK_SHIFT) /* slots per chunk: 16 KiB */
#define CTX_FD_NCHUNKS 4096u
#define CTX_FD_MAX (CTX_FD_CHUNK * CTX_FD_NCHUNKS) /* 1 << 22 */

struct ctx_fd_slot {
	_Atomic uint32_t kind;
	uint32_t gen;
	_Atomic(void *) ptr;
};

/* The chunk directory; read only through ctx_fd_get(). Zero (no chunk) until created. */
extern _Atomic(struct ctx_fd_slot *) ctx_fd_chunks[CTX_FD_NCHUNKS];

/*
 * The slot of `fd`, or NULL if fd < 0, fd >= CTX_FD_MAX, or its chunk does not exist yet.
 * Any thread, async-signal-safe, never blocks. The acquire load pairs with the release CAS that
 * published the chunk, so the zeroed slots are seen.
 */
static inline struct ctx_fd_slot *ctx_fd_get(int fd)
{
	struct ctx_fd_slot *c;

	if ((unsigned)fd >= CTX_FD_MAX) /* negative fds wrap to huge values */
		return NULL;
	c = atomic_load_explicit(&ctx_fd_chunks[(unsigned)fd >> CTX_FD_CHUNK_SHIFT],
	                         memory_order_acquire);
	if (__builtin_expect(c == NULL, 0))
		return NULL;
	return &c[(unsigned)fd & (CTX_FD_CHUNK - 1)];
}

/*
 * The slot of `fd`, creating its chunk if needed; NULL if fd is out of range or mmap fails.
 * Any thread, async-signal-safe, lock-free; errno is preserved. Concurrent callers for the same
 * chunk all get the same slots: one CAS wins, the losers unmap their copy.
 */
struct ctx_fd_slot *ctx_fd_get_or_create(int fd);

#endif
