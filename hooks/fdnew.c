/*
 * fdnew.c - interposers for the other calls that create fd numbers: open, openat, creat, pipe,
 * pipe2, eventfd, epoll_create(1), timerfd_create, signalfd, memfd_create, inotify_init(1),
 * and the fortify variants of open.
 *
 * None of these fds is ever traced. They exist so that a number the agent still believes to be
 * an HTTP socket (because its close went through a path we cannot see: fclose of an fdopen'ed
 * socket, a raw close syscall) is forgotten the moment the kernel hands it out again — the
 * socket_wrapper rule "reset per-fd state whenever an fd number is created". The cost is one
 * table look-up after the real call.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent.h"
#include "real.h"

static inline int fresh(int fd)
{
	if (fd >= 0 && WT_UNLIKELY(ctx_fd_get(fd) != NULL)) {
		int saved = errno;
		int g = wt_guard_enter();
		agent_on_fd_reset(fd);
		wt_guard_leave(g);
		errno = saved;
	}
	return fd;
}

static inline int needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define OPEN_HOOK(name)                                                                      \
	REAL_DECL(int, name, const char *, int, ...);                                        \
	WT_EXPORT int name(const char *path, int flags, ...)                                 \
	{                                                                                    \
		mode_t mode = 0;                                                             \
		if (needs_mode(flags)) {                                                     \
			va_list ap;                                                          \
			va_start(ap, flags);                                                 \
			mode = va_arg(ap, mode_t);                                           \
			va_end(ap);                                                          \
		}                                                                            \
		if (!REAL(name))                                                             \
			REAL_MISSING(-1);                                                    \
		return fresh(real_##name(path, flags, mode));                                \
	}

#define OPENAT_HOOK(name)                                                                    \
	REAL_DECL(int, name, int, const char *, int, ...);                                   \
	WT_EXPORT int name(int dirfd, const char *path, int flags, ...)                      \
	{                                                                                    \
		mode_t mode = 0;                                                             \
		if (needs_mode(flags)) {                                                     \
			va_list ap;                                                          \
			va_start(ap, flags);                                                 \
			mode = va_arg(ap, mode_t);                                           \
			va_end(ap);                                                          \
		}                                                                            \
		if (!REAL(name))                                                             \
			REAL_MISSING(-1);                                                    \
		return fresh(real_##name(dirfd, path, flags, mode));                         \
	}

OPEN_HOOK(open)
OPEN_HOOK(open64)
OPENAT_HOOK(openat)
OPENAT_HOOK(openat64)


REAL_DECL(int, __open_2, const char *, int);
WT_EXPORT int __open_2(const char *path, int flags)
{
	if (!REAL(__open_2))
		REAL_MISSING(-1);
	return fresh(real___open_2(path, flags));
}
REAL_DECL(int, __open64_2, const char *, int);
WT_EXPORT int __open64_2(const char *path, int flags)
{
	if (!REAL(__open64_2))
		REAL_MISSING(-1);
	return fresh(real___open64_2(path, flags));
}
REAL_DECL(int, __openat_2, int, const char *, int);
WT_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	if (!REAL(__openat_2))
		REAL_MISSING(-1);
	return fresh(real___openat_2(dirfd, path, flags));
}
REAL_DECL(int, creat, const char *, mode_t);
WT_EXPORT int creat(const char *path, mode_t mode)
{
	if (!REAL(creat))
		REAL_MISSING(-1);
	return fresh(real_creat(path, mode));
}
REAL_DECL(int, creat64, const char *, mode_t);
WT_EXPORT int creat64(const char *path, mode_t mode)
{
	if (!REAL(creat64))
		REAL_MISSING(-1);
	return fresh(real_creat64(path, mode));
}
REAL_DECL(int, pipe, int[2]);
WT_EXPORT int pipe(int fds[2])
{
	if (!REAL(pipe))
		REAL_MISSING(-1);
	int rc = real_pipe(fds);
	if (rc == 0) {
		fresh(fds[0]);
		fresh(fds[1]);
	}
	return rc;
}
REAL_DECL(int, pipe2, int[2], int);
WT_EXPORT int pipe2(int fds[2], int flags)
{
	if (!REAL(pipe2))
		REAL_MISSING(-1);
	int rc = real_pipe2(fds, flags);
	if (rc == 0) {
		fresh(fds[0]);
		fresh(fds[1]);
	}
	return rc;
}
REAL_DECL(int, eventfd, unsigned int, int);
WT_EXPORT int eventfd(unsigned int initval, int flags)
{
	if (!REAL(eventfd))
		REAL_MISSING(-1);
	return fresh(real_eventfd(initval, flags));
}
REAL_DECL(int, epoll_create, int);
WT_EXPORT int epoll_create(int size)
{
	if (!REAL(epoll_create))
		REAL_MISSING(-1);
	return fresh(real_epoll_create(size));
}
REAL_DECL(int, epoll_create1, int);
WT_EXPORT int epoll_create1(int flags)
{
	if (!REAL(epoll_create1))
		REAL_MISSING(-1);
	return fresh(real_epoll_create1(flags));
}
REAL_DECL(int, timerfd_create, int, int);
WT_EXPORT int timerfd_create(int clockid, int flags)
{
	if (!REAL(timerfd_create))
		REAL_MISSING(-1);
	return fresh(real_timerfd_create(clockid, flags));
}
REAL_DECL(int, signalfd, int, const sigset_t *, int);
WT_EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
	if (!REAL(signalfd))
		REAL_MISSING(-1);
	return fresh(real_signalfd(fd, mask, flags));
}
REAL_DECL(int, memfd_create, const char *, unsigned int);
WT_EXPORT int memfd_create(const char *name, unsigned int flags)
{
	if (!REAL(memfd_create))
		REAL_MISSING(-1);
	return fresh(real_memfd_create(name, flags));
}
REAL_DECL(int, inotify_init, void);
WT_EXPORT int inotify_init(void)
{
	if (!REAL(inotify_init))
		REAL_MISSING(-1);
	return fresh(real_inotify_init());
}
REAL_DECL(int, inotify_init1, int);
WT_EXPORT int inotify_init1(int flags)
{
	if (!REAL(inotify_init1))
		REAL_MISSING(-1);
	return fresh(real_inotify_init1(flags));
}
