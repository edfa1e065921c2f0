/*
 * socket.c - interposers that create and connect sockets: socket, socketpair, connect, accept,
 * accept4, shutdown.
 *
 * These are not hot (once per connection). The first socket() or accept() of the process also
 * initialises the agent (lifecycle.c: initialisation is lazy). They tell the agent about every fd number they
 * create, so per-fd state is reset whenever a number is reused (STYLE.md: never rely on seeing
 * close). While the guard is set (the exporter's own sockets, or a hook inside a hook) the fd's
 * slot is only reset, never tracked: our own traffic is never traced.
 */
#include <sys/socket.h>

#include "agent.h"
#include "real.h"

REAL_DECL(int, socket, int, int, int);
REAL_DECL(int, socketpair, int, int, int, int[2]);
REAL_DECL(int, connect, int, const struct sockaddr *, socklen_t);
REAL_DECL(int, accept, int, struct sockaddr *, socklen_t *);
REAL_DECL(int, accept4, int, struct sockaddr *, socklen_t *, int);
REAL_DECL(int, shutdown, int, int);

WT_EXPORT int socket(int domain, int type, int protocol)
{
	if (!REAL(socket))
		REAL_MISSING(-1);
	int fd = real_socket(domain, type, protocol);
	if (fd < 0)
		return fd;
	int saved = errno;
	int g = wt_guard_enter();
	if (!g && atomic_load_explicit(&wt_agent_state, memory_order_relaxed) == 0)
		agent_init(); /* lazy: the first socket of the process */
	if (g || !agent_ready())
		agent_on_fd_reset(fd);
	else
		agent_on_socket(fd, domain, type);
	wt_guard_leave(g);
	errno = saved;
	return fd;
}

WT_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	if (!REAL(socketpair))
		REAL_MISSING(-1);
	int rc = real_socketpair(domain, type, protocol, sv);
	if (rc == 0) {
		int saved = errno;
		int g = wt_guard_enter();
		agent_on_fd_reset(sv[0]);
		agent_on_fd_reset(sv[1]);
		wt_guard_leave(g);
		errno = saved;
	}
	return rc;
}

WT_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (!REAL(connect))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	int rc = real_connect(fd, addr, len);
	/* EINPROGRESS (non-blocking) still means "this is where the connection goes". */
	if (WT_LIKELY(s == NULL) || wt_guard || (rc < 0 && errno != EINPROGRESS))
		return rc;
	int saved = errno;
	int g = wt_guard_enter();
	agent_on_connect(fd, addr, len);
	wt_guard_leave(g);
	errno = saved;
	return rc;
}

static int after_accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	if (fd < 0)
		return fd;
	int saved = errno;
	int g = wt_guard_enter();
	if (!g && atomic_load_explicit(&wt_agent_state, memory_order_relaxed) == 0)
		agent_init(); /* lazy: the first connection of the process */
	if (g || !agent_ready())
		agent_on_fd_reset(fd);
	else
		agent_on_accept(fd, addr, addr && alen ? *alen : 0);
	wt_guard_leave(g);
	errno = saved;
	return fd;
}

WT_EXPORT int accept(int lfd, struct sockaddr *addr, socklen_t *alen)
{
	if (!REAL(accept))
		REAL_MISSING(-1);
	return after_accept(real_accept(lfd, addr, alen), addr, alen);
}

WT_EXPORT int accept4(int lfd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	if (!REAL(accept4))
		REAL_MISSING(-1);
	return after_accept(real_accept4(lfd, addr, alen, flags), addr, alen);
}

WT_EXPORT int shutdown(int fd, int how)
{
	if (!REAL(shutdown))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	if (WT_LIKELY(s == NULL) || wt_guard)
		return real_shutdown(fd, how);
	int rc = real_shutdown(fd, how);
	int saved = errno;
	int g = wt_guard_enter();
	if (rc == 0)
		agent_on_shutdown(fd, how);
	wt_guard_leave(g);
	errno = saved;
	return rc;
}
