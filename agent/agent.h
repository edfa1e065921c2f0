/*
 * agent.h - what hooks/ may call: the agent's per-call entry points.
 *
 * Hooks are thin (STYLE.md "Writing an interposer"): they resolve the real symbol, take the
 * fast path when the fd is not a tracked socket, and otherwise set the re-entry guard and call
 * one of these. Every function here preserves nothing itself: the hook saves and restores
 * errno around it. All of them are async-signal-safe: no malloc, no stdio, no lock that a
 * signal handler could find held (pools and tables are lock-free).
 */
#ifndef WT_AGENT_H
#define WT_AGENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fdtable.h"

/* fd slot kinds (struct ctx_fd_slot.kind). Anything below WT_FD_TRACKED is the fast path. */
enum wt_fd_kind {
	WT_FD_UNTRACKED = 0, /* not a socket we created/accepted, or never seen */
	WT_FD_NOT_HTTP = 1,  /* classified: not HTTP/1.x (or TLS, or given up): pass through */
	WT_FD_TRACKED = 2,   /* a stream socket with a connection object in slot->ptr */
};

/* Agent state: 0 not initialised yet, 1 ready, -1 disabled (internal failure or excluded). */
extern _Atomic int wt_agent_state;

static inline bool agent_ready(void)
{
	return atomic_load_explicit(&wt_agent_state, memory_order_relaxed) == 1;
}

/* For hooks that begin work outside any socket call (libcurl, OpenSSL): initialise the agent
 * if the program has not created a socket yet (lifecycle.c: start-up is lazy). Not for hooks
 * that may run in a signal handler. */
void agent_init(void);
static inline bool agent_ensure_ready(void)
{
	if (__builtin_expect(atomic_load_explicit(&wt_agent_state, memory_order_relaxed) == 0, 0))
		agent_init();
	return agent_ready();
}

/* Is this fd one the agent must look at? The whole fast path of every I/O hook. */
static inline struct ctx_fd_slot *agent_fd_tracked(int fd)
{
	struct ctx_fd_slot *s = ctx_fd_get(fd);
	if (__builtin_expect(s == NULL, 1))
		return NULL;
	if (__builtin_expect(atomic_load_explicit(&s->kind, memory_order_relaxed) < WT_FD_TRACKED, 1))
		return NULL;
	return s;
}

/* The vectored write the injector calls: bound by the hook to writev/sendmsg with the
 * program's own flags and destination. */
typedef ssize_t (*agent_writev_fn)(void *ctx, const struct iovec *iov, int iovcnt);

/* fd lifecycle */
void agent_on_socket(int fd, int domain, int type);
void agent_on_accept(int fd, const struct sockaddr *peer, socklen_t peer_len);
void agent_on_connect(int fd, const struct sockaddr *addr, socklen_t len);
void agent_on_fd_reset(int fd);      /* any call that (re)creates fd number `fd` */
void agent_on_close(int fd);         /* before the real close */
void agent_on_dup(int oldfd, int newfd);
void agent_on_shutdown(int fd, int how);

/* Data. agent_write performs the write itself (through fn) and returns what the program must
 * see; *err is the errno to give back when it returns -1. agent_on_read is called after a read
 * that returned n >= 0 bytes (0 = EOF) or n < 0 with err. */
ssize_t agent_write(struct ctx_fd_slot *s, int fd, const struct iovec *iov, int iovcnt,
		    agent_writev_fn fn, void *ctx, int *err);
void agent_on_read(struct ctx_fd_slot *s, int fd, const struct iovec *iov, int iovcnt, ssize_t n,
		   int err);
/* sendfile/splice: before the call (sends pending injected bytes; returns -1 and *err if that
 * failed), and after it with the count the kernel sent. */
int agent_before_sendfile(struct ctx_fd_slot *s, int fd, agent_writev_fn fn, void *ctx,
			  int *err);
void agent_after_sendfile(struct ctx_fd_slot *s, int fd, ssize_t n);

/* WIRETRACE_HANDOFF (handoff.c): follow requests across threads. */
extern bool agent_handoff_on;
static inline bool agent_handoff_enabled(void)
{
	return agent_handoff_on;
}

/* Library lifecycle (lifecycle.c). */
void agent_init(void);

#endif
