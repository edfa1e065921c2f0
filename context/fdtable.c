/*
 * fdtable.c - chunk creation for the per-fd slot table (see fdtable.h for the layout).
 *
 * Why two levels and not one big array: a flat array for 4M fds would reserve 64 MiB of
 * address space, and a realloc'ed one would need a lock (or RCU) on every read to survive being
 * moved. With a fixed directory of chunk pointers (32 KiB of .bss, whose pages are only made
 * resident when touched) readers never see memory move, and only the first fd of a range pays
 * for an mmap.
 *
 * Why mmap: a chunk may be created inside a hook that runs in a signal handler, or while the
 * host holds malloc's lock in another context; mmap is a plain syscall and async-signal-safe.
 * Anonymous mappings are zero-filled, which is exactly the "no state" slot.
 *
 * Publication: compare-and-swap of NULL -> chunk with release order, so a thread that loads the
 * pointer with acquire (ctx_fd_get) sees the zeroed memory. Two threads racing on the same
 * chunk both mmap; the loser unmaps its own copy and uses the winner's. No chunk is ever freed,
 * so slot pointers handed out stay valid until exit, and a forked child keeps the same table.
 *
 * Invariant: ctx_fd_chunks[i] is NULL or points to CTX_FD_CHUNK slots, and never changes once
 * non-NULL.
 */
#include <errno.h>
#include <sys/mman.h>

#include "fdtable.h"

_Static_assert(sizeof(struct ctx_fd_slot) == 16, "a chunk is 16 KiB: four pages");

_Atomic(struct ctx_fd_slot *) ctx_fd_chunks[CTX_FD_NCHUNKS];

static struct ctx_fd_slot *chunk_create(_Atomic(struct ctx_fd_slot *) *dir)
{
	const size_t size = CTX_FD_CHUNK * sizeof(struct ctx_fd_slot);
	struct ctx_fd_slot *expected = NULL;
	struct ctx_fd_slot *c;
	int saved = errno;

	c = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED) {
		c = NULL;
		goto out;
	}
	if (!atomic_compare_exchange_strong_explicit(dir, &expected, c, memory_order_acq_rel,
	                                             memory_order_acquire)) {
		munmap(c, size);
		c = expected; /* the winner's chunk */
	}
out:
	errno = saved;
	return c;
}

struct ctx_fd_slot *ctx_fd_get_or_create(int fd)
{
	struct ctx_fd_slot *s = ctx_fd_get(fd);
	struct ctx_fd_slot *c;

	if (s || (unsigned)fd >= CTX_FD_MAX)
		return s;
	c = chunk_create(&ctx_fd_chunks[(unsigned)fd >> CTX_FD_CHUNK_SHIFT]);
	if (!c)
		return NULL;
	return &c[(unsigned)fd & (CTX_FD_CHUNK - 1)];
}
