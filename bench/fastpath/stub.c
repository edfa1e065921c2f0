/*
 * stub.c - a preloadable library whose write/read/send/recv can skip the system call, to time
 * the agent's wrapper without the noise of the syscall it wraps.
 *
 * A syscall costs ~100-500 ns here and its time varies by more than the few nanoseconds the
 * agent's fast path adds, so timing agent vs bare around real syscalls can only bound the cost
 * loosely. Preloaded after the agent (LD_PRELOAD="libwiretrace.so stub.so"), this library is
 * what the agent's dlsym(RTLD_NEXT) finds as the "real" functions; preloaded alone it is what
 * the bare program calls. When fastpath.c switches it on (fastpath_stub(1), found with
 * dlsym), the four calls return their byte count at once; otherwise they make the system call
 * as libc would. The difference between the two preload lists is then the wrapper's own cost,
 * measured in a loop that does nothing else.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static int on;

EXPORT void fastpath_stub(int enable)
{
	__atomic_store_n(&on, enable, __ATOMIC_RELAXED);
}

static ssize_t ret(long r)
{
	return (ssize_t)r;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (__atomic_load_n(&on, __ATOMIC_RELAXED))
		return (ssize_t)n;
	return ret(syscall(SYS_write, fd, buf, n));
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (__atomic_load_n(&on, __ATOMIC_RELAXED))
		return (ssize_t)n;
	return ret(syscall(SYS_read, fd, buf, n));
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	if (__atomic_load_n(&on, __ATOMIC_RELAXED))
		return (ssize_t)n;
	return ret(syscall(SYS_sendto, fd, buf, n, flags, NULL, 0));
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	if (__atomic_load_n(&on, __ATOMIC_RELAXED))
		return (ssize_t)n;
	return ret(syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL));
}
