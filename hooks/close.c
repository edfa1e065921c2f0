/*
 * close.c - interposers that destroy or duplicate fd numbers: close, close_range, closefrom,
 * dup, dup2, dup3, fcntl (F_DUPFD, F_DUPFD_CLOEXEC).
 *
 * close tells the agent before the real close, so that in-flight spans on the connection end
 * while the number still means this socket; the real close then runs with the program's errno
 * semantics untouched. dup2/dup3 silently close their target first, exactly like close.
 * Duplicates share one connection object (reference counted by the agent).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "agent.h"
#include "real.h"

REAL_DECL(int, close, int);
REAL_DECL(int, close_range, unsigned int, unsigned int, int);
REAL_DECL(void, closefrom, int);
REAL_DECL(int, dup, int);
REAL_DECL(int, dup2, int, int);
REAL_DECL(int, dup3, int, int, int);
REAL_DECL(int, fcntl, int, int, ...);
REAL_DECL(int, fcntl64, int, int, ...);

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static void forget(int fd)
{
	int saved = errno;
	int g = wt_guard_enter();
	agent_on_close(fd);
	wt_guard_leave(g);
	errno = saved;
}

WT_EXPORT int close(int fd)
{
	if (!REAL(close))
		REAL_MISSING(-1);
	if (ctx_fd_get(fd) != NULL)
		forget(fd);
	return real_close(fd);
}

/* Forget every fd in [first, last] that has a slot; the table only holds allocated chunks, so
 * a range like [3, ~0U] costs no more than the fds the process actually has. */
static void forget_range(unsigned int first, unsigned int last)
{
	unsigned int max = CTX_FD_MAX;
	if (last >= max)
		last = max - 1;
	for (unsigned int fd = first; fd <= last && fd < max; fd++) {
		struct ctx_fd_slot *s = ctx_fd_get((int)fd);
		if (s == NULL) {
			fd |= CTX_FD_CHUNK - 1; /* skip the whole unallocated chunk */
			continue;
		}
		if (atomic_load_explicit(&s->kind, memory_order_relaxed) != WT_FD_UNTRACKED)
			forget((int)fd);
	}
}

WT_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (!REAL(close_range))
		REAL_MISSING(-1);
	if (!(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
		forget_range(first, last);
	return real_close_range(first, last, flags);
}

WT_EXPORT void closefrom(int lowfd)
{
	if (!REAL(closefrom))
		return;
	if (lowfd >= 0)
		forget_range((unsigned int)lowfd, ~0U);
	real_closefrom(lowfd);
}

static int after_dup(int oldfd, int newfd)
{
	if (newfd < 0)
		return newfd;
	int saved = errno;
	int g = wt_guard_enter();
	agent_on_dup(oldfd, newfd);
	wt_guard_leave(g);
	errno = saved;
	return newfd;
}

WT_EXPORT int dup(int oldfd)
{
	if (!REAL(dup))
		REAL_MISSING(-1);
	return after_dup(oldfd, real_dup(oldfd));
}

WT_EXPORT int dup2(int oldfd, int newfd)
{
	if (!REAL(dup2))
		REAL_MISSING(-1);
	if (oldfd != newfd && ctx_fd_get(newfd) != NULL)
		forget(newfd);
	int rc = real_dup2(oldfd, newfd);
	return oldfd == newfd ? rc : after_dup(oldfd, rc);
}

WT_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (!REAL(dup3))
		REAL_MISSING(-1);
	if (oldfd != newfd && ctx_fd_get(newfd) != NULL)
		forget(newfd);
	return after_dup(oldfd, real_dup3(oldfd, newfd, flags));
}

/* fcntl is variadic; like glibc itself, take the optional third argument as a pointer-sized
 * value and pass it on unchanged (ints and pointers travel the same way on our ABIs). */
static int do_fcntl(int (*fn)(int, int, ...), int fd, int cmd, void *arg)
{
	int rc = fn(fd, cmd, arg);
	if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && rc >= 0)
		return after_dup(fd, rc);
	return rc;
}

WT_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!REAL(fcntl))
		REAL_MISSING(-1);
	return do_fcntl(real_fcntl, fd, cmd, arg);
}

WT_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!REAL(fcntl64))
		REAL_MISSING(-1);
	return do_fcntl(real_fcntl64, fd, cmd, arg);
}
