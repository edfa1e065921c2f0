/*
 * tls_conn.c - HTTP inside OpenSSL sessions: SSL_read/SSL_write plaintext through the same
 * connection tracker as plaintext sockets (conn_read/conn_write), with url.scheme https.
 *
 * Sessions: a lock-free table maps each SSL* to a struct tls_sess holding its struct conn
 * (from the tracker's pool, c->tls = 1). It is created when the program ties the SSL* to its
 * socket (SSL_set_fd) or, failing that, at the first read or write (role from SSL_is_server,
 * socket from SSL_get_fd). Either way the socket's own connection object donates its role,
 * peer address and connect-time parent (the request being served when the program connected:
 * nginx opening an upstream) and is given up, so the TLS records on the socket are never
 * parsed as HTTP (the parser would refuse them anyway: 0x16 0x03 is not a method). SSL_free
 * ends the session: requests still in flight end as a closed connection's do. Sessions the
 * tracker gave up on (HTTP/2 inside TLS, anything not HTTP/1.x) stay in the table as
 * "untraced" so every later call costs one look-up.
 *
 * Server role: no injection; the plaintext read feeds the request parser (SERVER span, current
 * request of the thread), the plaintext written feeds the response parser after the real call.
 *
 * Client role, injection: conn_write() plans the header lines and calls our vectored writer
 * with the program's bytes and the lines inserted. OpenSSL cannot take that as several writes:
 * after SSL_ERROR_WANT_WRITE/WANT_READ it requires the retry to pass the very same buffer and
 * length (unless SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER; the record may already be encrypted from
 * it). So the writer copies the vector into ONE malloc'ed buffer and calls the real write once:
 *  - it succeeds: the buffer is freed and the tracker counts every program byte as sent; the
 *    program sees its own count (num);
 *  - it wants a retry: the buffer becomes the session's pending write, and the tracker is told
 *    everything was taken (the bytes are committed: OpenSSL holds them), so its spans and
 *    parser move on; the program sees the real return value and SSL_get_error() gives it
 *    WANT_WRITE/WANT_READ as usual. When it retries with the same length, the real write is
 *    retried with OUR buffer (same pointer, same length, same bytes), and on success the
 *    program gets num. A retry with another length breaks OpenSSL's rule: our bytes are
 *    dropped, the session is given up and the call passes through as it is.
 *  - it fails otherwise: the buffer is freed, the program sees the real return value.
 * A write with nothing to insert goes through untouched (no copy, same pointer). A session in
 * SSL_MODE_ENABLE_PARTIAL_WRITE is not rewritten (a partial count of a rewritten buffer has no
 * meaning for the program): it is given up. A write larger than TLS_CONN_WRITE_MAX that would
 * carry a request head gives the session up instead of being copied (memory bound).
 *
 * Blocking sockets (CPython's ssl): the real write takes everything or fails; nothing pending.
 *
 * Threads: an SSL* is used by one thread at a time (OpenSSL rule); its session likewise. The
 * table is lock-free. Not async-signal-safe (malloc); TLS libraries are not either. Fork: the
 * child keeps the sessions (same SSL objects) with their locks released (pthread_atfork,
 * registered with the first session).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "agent.h"
#include "conn.h"
#include "ptr_table.h"
#include "tls_conn.h"

struct tls_sess {
	struct conn *c; /* NULL: untraced */
	char *pend;     /* our rewritten write awaiting the program's retry */
	size_t pend_len;
	size_t pend_num; /* the program's count it stands for */
};

/* Shared value for sessions that are not traced: a hit in the table, nothing to free. */
static struct tls_sess untraced;

static struct wt_ptab sessions = WT_PTAB_INIT("TLS sessions", 32768);

/* Fork: a session lock held by a thread that does not exist in the child would never be
 * released (conn_atfork_child does this for the connections of fds; sessions have none). */
static void unlock_one(const void *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	struct tls_sess *s = val;
	if (s == &untraced || s->c == NULL)
		return;
	atomic_store(&s->c->lk_in.owner, NULL);
	atomic_store(&s->c->lk_out.owner, NULL);
	atomic_store(&s->c->lk_fifo.owner, NULL);
}

static void atfork_child(void)
{
	ptab_each(&sessions, unlock_one, NULL);
}

static void register_atfork(void)
{
	static _Atomic int done;
	if (!atomic_load_explicit(&done, memory_order_relaxed) && !atomic_exchange(&done, 1))
		pthread_atfork(NULL, NULL, atfork_child);
}

/* ---- sessions ------------------------------------------------------------------------------- */

static void sess_free(struct tls_sess *s)
{
	if (s == NULL || s == &untraced)
		return;
	if (s->c)
		conn_unref(s->c, true);
	free(s->pend);
	free(s);
}

/* Stop tracing: the connection object goes back without ending anything (as a socket's does
 * when the tracker gives it up), later calls pass through. */
static void sess_untrace(struct tls_sess *s)
{
	if (s == &untraced)
		return;
	if (s->c)
		conn_unref(s->c, false);
	s->c = NULL;
	free(s->pend);
	s->pend = NULL;
}

static void peer_of_fd(int fd, struct wt_peer *p)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(p, 0, sizeof(*p));
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	p->family = (uint8_t)ss.ss_family;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, p->addr, sizeof(p->addr));
		p->port = ntohs(in->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, p->addr, sizeof(p->addr));
		p->port = ntohs(in6->sin6_port);
	}
}

/* A connection object for the session: from the socket's (role, peer, connect-time parent,
 * which is then given up), else `role` with the peer asked from the kernel. NULL: untraced. */
static struct conn *conn_for(int fd, int role)
{
	struct ctx_fd_slot *slot = fd >= 0 ? agent_fd_tracked(fd) : NULL;
	struct conn *fc = slot ? atomic_load(&slot->ptr) : NULL;
	if (fc && atomic_load(&fc->dead))
		fc = NULL;
	if (fc && fc->role != WT_ROLE_UNKNOWN)
		role = fc->role;
	struct conn *c = role != WT_ROLE_UNKNOWN ? conn_new(role) : NULL;
	if (c) {
		c->tls = 1;
		if (fc && fc->role == role) {
			c->peer = fc->peer;
			if (role == WT_ROLE_CLIENT) {
				c->bind = fc->bind;
				c->bind_used = fc->bind_used;
			}
		} else {
			peer_of_fd(fd, &c->peer);
		}
	}
	if (fc)
		conn_give_up(fc); /* its bytes are TLS records from now on */
	return c;
}

static struct tls_sess *sess_new(struct ssl_st *ssl, int fd, int role)
{
	struct tls_sess *s = NULL;
	register_atfork();
	struct conn *c = conn_for(fd, role);
	if (c)
		s = calloc(1, sizeof(*s));
	if (s == NULL) {
		if (c)
			conn_unref(c, false);
		s = &untraced;
	} else {
		s->c = c;
	}
	int rc = ptab_put(&sessions, ssl, s);
	if (rc < 0) {
		sess_free(s);
		return rc == -EEXIST ? ptab_get(&sessions, ssl) : NULL;
	}
	return s;
}

/* The session of ssl, created on first use; NULL: pass through. */
static struct tls_sess *sess_get(struct ssl_st *ssl, const struct tls_lib *lib)
{
	struct tls_sess *s = ptab_get(&sessions, ssl);
	if (s)
		return s;
	if (lib->get_fd == NULL || lib->is_server == NULL)
		return NULL;
	return sess_new(ssl, lib->get_fd(ssl),
	                lib->is_server(ssl) ? WT_ROLE_SERVER : WT_ROLE_CLIENT);
}

/* The session's connection, or NULL (untraced, or the tracker gave it up: untraced now). */
static struct conn *sess_conn(struct tls_sess *s)
{
	if (s == NULL || s->c == NULL)
		return NULL;
	if (atomic_load_explicit(&s->c->dead, memory_order_relaxed)) {
		sess_untrace(s);
		return NULL;
	}
	return s->c;
}

void tls_conn_on_set_fd(struct ssl_st *ssl, int fd, const struct tls_lib *lib)
{
	(void)lib;
	sess_free(ptab_take(&sessions, ssl)); /* set_fd again: a new stream */
	struct ctx_fd_slot *slot = agent_fd_tracked(fd);
	struct conn *fc = slot ? atomic_load(&slot->ptr) : NULL;
	if (fc == NULL)
		return; /* not a socket we know: the first read or write decides */
	if (fc->role == WT_ROLE_UNKNOWN) {
		conn_give_up(fc);
		return;
	}
	sess_new(ssl, fd, fc->role);
}

void tls_conn_forget(struct ssl_st *ssl)
{
	sess_free(ptab_take(&sessions, ssl));
}

/* ---- writes ---------------------------------------------------------------------------------- */

struct wctx {
	struct tls_sess *s;
	tls_write_fn fn;
	void *ctx;
	const void *buf; /* the program's */
	size_t num;
	int ret;        /* the real call's value when it failed */
	bool pretended; /* our buffer is pending: the program must see the failure */
};

/* The tracker's vectored writer (agent_writev_fn): see the header comment. */
static ssize_t vec_write(void *p, const struct iovec *iov, int iovcnt)
{
	struct wctx *w = p;
	if (iovcnt == 1 && iov[0].iov_base == w->buf && iov[0].iov_len == w->num)
		return w->fn(w->ctx, w->buf, w->num, &w->ret); /* untouched: the program's own */
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	char *b = malloc(total ? total : 1);
	if (b == NULL) {
		w->ret = -1;
		errno = ENOMEM;
		return -1;
	}
	size_t off = 0;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(b + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	ssize_t r = w->fn(w->ctx, b, total, &w->ret);
	if (r > 0 || errno != EAGAIN) {
		int e = errno;
		free(b);
		errno = e;
		return r;
	}
	w->s->pend = b;
	w->s->pend_len = total;
	w->s->pend_num = w->num;
	w->pretended = true;
	return (ssize_t)total;
}

/* The program retries the write that left our buffer pending. */
static ssize_t retry(struct tls_sess *s, const void *buf, size_t num, tls_write_fn fn, void *ctx,
                     int *ret)
{
	if (num != s->pend_num) {
		/* Not the retry OpenSSL requires: ours are dropped, the call passes as it is. */
		sess_untrace(s);
		ssize_t r = fn(ctx, buf, num, ret);
		return r;
	}
	ssize_t r = fn(ctx, s->pend, s->pend_len, ret);
	if (r < 0 && errno == EAGAIN)
		return -1; /* still pending: the program retries again */
	free(s->pend);
	s->pend = NULL;
	if (r < 0)
		return -1;
	return (ssize_t)num;
}

/* Could a client write of these bytes end a request head (and so need a rewritten copy)?
 * Asked only for writes too large to copy: a throw-away copy of the parser is fed them. */
static bool may_insert(struct conn *c, const void *buf, size_t num)
{
	if (!conn_lock(&c->lk_out))
		return true;
	struct http_parser p = c->pout;
	conn_unlock(&c->lk_out);
	const char *d = buf;
	while (num > 0) {
		struct http_event ev;
		size_t k = http_parser_feed(&p, d, num, &ev);
		if (ev.type == HTTP_EV_HEAD_END)
			return true;
		if (ev.type == HTTP_EV_NOT_HTTP)
			return false;
		if (ev.type == HTTP_EV_NEED_BUFFER)
			http_parser_attach_buffer(&p, NULL, 0);
		d += k;
		num -= k;
	}
	return false;
}

ssize_t tls_conn_write(struct ssl_st *ssl, const void *buf, size_t num, tls_write_fn fn, void *ctx,
                       int *ret, const struct tls_lib *lib)
{
	struct tls_sess *s = sess_get(ssl, lib);
	if (s && s->pend)
		return retry(s, buf, num, fn, ctx, ret);
	struct conn *c = sess_conn(s);
	if (c == NULL)
		return fn(ctx, buf, num, ret);
	if (c->role == WT_ROLE_CLIENT &&
	    (lib->ctrl == NULL ||
	     (lib->ctrl(ssl, WT_SSL_CTRL_MODE, 0, NULL) & WT_SSL_MODE_ENABLE_PARTIAL_WRITE) ||
	     (num > TLS_CONN_WRITE_MAX && may_insert(c, buf, num)))) {
		conn_give_up(c);
		sess_untrace(s);
		return fn(ctx, buf, num, ret);
	}
	struct wctx w = {.s = s, .fn = fn, .ctx = ctx, .buf = buf, .num = num};
	struct iovec iov = {(void *)buf, num};
	int err = 0;
	ssize_t r = conn_write(c, &iov, 1, vec_write, &w, &err);
	if (w.pretended || r < 0) {
		*ret = w.ret;
		return -1;
	}
	return r;
}

/* ---- reads ----------------------------------------------------------------------------------- */

void tls_conn_on_read(struct ssl_st *ssl, const void *buf, ssize_t n, int err,
                      const struct tls_lib *lib)
{
	struct conn *c = sess_conn(sess_get(ssl, lib));
	if (c == NULL)
		return;
	struct iovec iov = {(void *)buf, n > 0 ? (size_t)n : 0};
	conn_read(c, &iov, 1, n, err);
}
