/*
 * io.c - interposers for socket data transfer: read/write families, send/recv families,
 * sendfile, and the fortify (__*_chk) variants that -D_FORTIFY_SOURCE programs call.
 *
 * Design (STYLE.md "Writing an interposer"): every hook is one fast-path test — is this fd a
 * tracked socket? (one table look-up and a branch, agent_fd_tracked) — and otherwise hands the
 * call to the agent with the re-entry guard set. Reads run the real call first and show the
 * agent the bytes that arrived; writes are performed by the agent (agent_write) through a
 * vectored write bound to the program's own call (flags, destination), because the agent may
 * have to insert a traceparent line and must return the program's own byte count.
 *
 * Invariants: errno and return values are exactly the real call's, except that a write's count
 * never includes injected bytes; MSG_PEEK reads are never shown to the parser (the same bytes
 * will be read again); a call made while the guard is set (the agent's own threads, or a hook
 * inside a hook) goes straight to libc.
 */
#include <stdarg.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent.h"
#include "real.h"

REAL_DECL(ssize_t, read, int, void *, size_t);
REAL_DECL(ssize_t, readv, int, const struct iovec *, int);
REAL_DECL(ssize_t, recv, int, void *, size_t, int);
REAL_DECL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *);
REAL_DECL(ssize_t, recvmsg, int, struct msghdr *, int);
REAL_DECL(ssize_t, write, int, const void *, size_t);
REAL_DECL(ssize_t, writev, int, const struct iovec *, int);
REAL_DECL(ssize_t, send, int, const void *, size_t, int);
REAL_DECL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t);
REAL_DECL(ssize_t, sendmsg, int, const struct msghdr *, int);
REAL_DECL(ssize_t, sendfile, int, int, off_t *, size_t);
REAL_DECL(ssize_t, sendfile64, int, int, off64_t *, size_t);
REAL_DECL(ssize_t, __read_chk, int, void *, size_t, size_t);
REAL_DECL(ssize_t, __recv_chk, int, void *, size_t, size_t, int);
REAL_DECL(ssize_t, __recvfrom_chk, int, void *, size_t, size_t, int, struct sockaddr *,
	  socklen_t *);

/* ---- reads: real call first, then show the agent what arrived ------------------------------ */

static void after_read(struct ctx_fd_slot *s, int fd, const struct iovec *iov, int iovcnt,
		       ssize_t r)
{
	int saved = errno;
	int g = wt_guard_enter();
	agent_on_read(s, fd, iov, iovcnt, r, r < 0 ? saved : 0);
	wt_guard_leave(g);
	errno = saved;
}

#define READ_HOOK_TAIL(s, fd, buf, r)                                                        \
	do {                                                                                 \
		if (WT_LIKELY((s) == NULL) || wt_guard)                                      \
			return (r);                                                          \
		struct iovec one_ = {(buf), (r) > 0 ? (size_t)(r) : 0};                      \
		after_read((s), (fd), &one_, 1, (r));                                        \
		return (r);                                                                  \
	} while (0)

WT_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (!REAL(read))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	ssize_t r = real_read(fd, buf, n);
	READ_HOOK_TAIL(s, fd, buf, r);
}

WT_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (!REAL(__read_chk))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	ssize_t r = real___read_chk(fd, buf, n, buflen);
	READ_HOOK_TAIL(s, fd, buf, r);
}

WT_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	if (!REAL(recv))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	ssize_t r = real_recv(fd, buf, n, flags);
	if (flags & MSG_PEEK)
		return r;
	READ_HOOK_TAIL(s, fd, buf, r);
}

WT_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (!REAL(__recv_chk))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	ssize_t r = real___recv_chk(fd, buf, n, buflen, flags);
	if (flags & MSG_PEEK)
		return r;
	READ_HOOK_TAIL(s, fd, buf, r);
}

WT_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			   socklen_t *alen)
{
	if (!REAL(recvfrom))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	ssize_t r = real_recvfrom(fd, buf, n, flags, addr, alen);
	if (flags & MSG_PEEK)
		return r;
	READ_HOOK_TAIL(s, fd, buf, r);
}

WT_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				 struct sockaddr *addr, socklen_t *alen)
{
	if (!REAL(__recvfrom_chk))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	ssize_t r = real___recvfrom_chk(fd, buf, n, buflen, flags, addr, alen);
	if (flags & MSG_PEEK)
		return r;
	READ_HOOK_TAIL(s, fd, buf, r);
}

WT_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	if (!REAL(readv))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	ssize_t r = real_readv(fd, iov, iovcnt);
	if (WT_LIKELY(s == NULL) || wt_guard)
		return r;
	after_read(s, fd, iov, iovcnt, r);
	return r;
}

WT_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (!REAL(recvmsg))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	ssize_t r = real_recvmsg(fd, msg, flags);
	if (WT_LIKELY(s == NULL) || wt_guard || (flags & MSG_PEEK))
		return r;
	after_read(s, fd, msg->msg_iov, (int)msg->msg_iovlen, r);
	return r;
}

/* ---- writes: the agent performs them through one of these vectored writers ---------------- */

struct out_ctx {
	int fd;
	int flags;
	const struct msghdr *msg; /* sendto/sendmsg: destination and control data, else NULL */
	int use_writev;
	int control_sent; /* ancillary data goes with the first call that takes bytes only */
};

static ssize_t out_writev(void *p, const struct iovec *iov, int iovcnt)
{
	struct out_ctx *c = p;
	if (c->use_writev)
		return real_writev(c->fd, iov, iovcnt);
	struct msghdr m = {0};
	if (c->msg) {
		m.msg_name = c->msg->msg_name;
		m.msg_namelen = c->msg->msg_namelen;
		if (!c->control_sent) {
			m.msg_control = c->msg->msg_control;
			m.msg_controllen = c->msg->msg_controllen;
		}
	}
	m.msg_iov = (struct iovec *)iov;
	m.msg_iovlen = (size_t)iovcnt;
	ssize_t r = real_sendmsg(c->fd, &m, c->flags);
	if (r > 0)
		c->control_sent = 1;
	return r;
}

static ssize_t out_vec(struct ctx_fd_slot *s, int fd, const struct iovec *iov, int iovcnt,
		       struct out_ctx *c)
{
	int saved = errno;
	int err = 0;
	if (!REAL(writev) || !REAL(sendmsg))
		REAL_MISSING(-1);
	int g = wt_guard_enter();
	ssize_t r = agent_write(s, fd, iov, iovcnt, out_writev, c, &err);
	wt_guard_leave(g);
	errno = r < 0 ? err : saved;
	return r;
}

WT_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (!REAL(write))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	if (WT_LIKELY(s == NULL) || wt_guard)
		return real_write(fd, buf, n);
	struct iovec one = {(void *)buf, n};
	struct out_ctx c = {.fd = fd, .use_writev = 1};
	return out_vec(s, fd, &one, 1, &c);
}

WT_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (!REAL(writev))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	if (WT_LIKELY(s == NULL) || wt_guard)
		return real_writev(fd, iov, iovcnt);
	struct out_ctx c = {.fd = fd, .use_writev = 1};
	return out_vec(s, fd, iov, iovcnt, &c);
}

WT_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	if (!REAL(send))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	if (WT_LIKELY(s == NULL) || wt_guard)
		return real_send(fd, buf, n, flags);
	struct iovec one = {(void *)buf, n};
	struct out_ctx c = {.fd = fd, .flags = flags};
	return out_vec(s, fd, &one, 1, &c);
}

WT_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
			 socklen_t tolen)
{
	if (!REAL(sendto))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	if (WT_LIKELY(s == NULL) || wt_guard)
		return real_sendto(fd, buf, n, flags, to, tolen);
	struct iovec one = {(void *)buf, n};
	struct msghdr m = {.msg_name = (void *)to, .msg_namelen = tolen};
	struct out_ctx c = {.fd = fd, .flags = flags, .msg = &m};
	return out_vec(s, fd, &one, 1, &c);
}

WT_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!REAL(sendmsg))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	if (WT_LIKELY(s == NULL) || wt_guard)
		return real_sendmsg(fd, msg, flags);
	struct out_ctx c = {.fd = fd, .flags = flags, .msg = msg};
	return out_vec(s, fd, msg->msg_iov, (int)msg->msg_iovlen, &c);
}

/* ---- sendfile: bodies that never pass through a buffer of the program --------------------- */

static int before_sendfile(struct ctx_fd_slot *s, int fd)
{
	int saved = errno, err = 0;
	struct out_ctx c = {.fd = fd, .use_writev = 1};
	if (!REAL(writev) || !REAL(sendmsg))
		REAL_MISSING(-1);
	int g = wt_guard_enter();
	int rc = agent_before_sendfile(s, fd, out_writev, &c, &err);
	wt_guard_leave(g);
	errno = rc < 0 ? err : saved;
	return rc;
}

static void after_sendfile(struct ctx_fd_slot *s, int fd, ssize_t r)
{
	int saved = errno;
	int g = wt_guard_enter();
	agent_after_sendfile(s, fd, r);
	wt_guard_leave(g);
	errno = saved;
}

WT_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	if (!REAL(sendfile))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(out_fd);
	if (WT_LIKELY(s == NULL) || wt_guard)
		return real_sendfile(out_fd, in_fd, offset, count);
	if (before_sendfile(s, out_fd) < 0)
		return -1;
	ssize_t r = real_sendfile(out_fd, in_fd, offset, count);
	after_sendfile(s, out_fd, r);
	return r;
}

WT_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	if (!REAL(sendfile64))
		REAL_MISSING(-1);
	struct ctx_fd_slot *s = agent_fd_tracked(out_fd);
	if (WT_LIKELY(s == NULL) || wt_guard)
		return real_sendfile64(out_fd, in_fd, offset, count);
	if (before_sendfile(s, out_fd) < 0)
		return -1;
	ssize_t r = real_sendfile64(out_fd, in_fd, offset, count);
	after_sendfile(s, out_fd, r);
	return r;
}
