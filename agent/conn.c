/*
 * conn.c - fd lifecycle of the connection tracker: which fds are tracked, their connection
 * objects, duplicates, close, and the small locks and FIFO the data paths use.
 *
 * Classification happens at creation: socket() of an AF_INET/AF_INET6/AF_UNIX stream socket,
 * accept() (server role) and connect() (client role) give the fd a struct conn and the slot
 * kind WT_FD_TRACKED; every other fd stays WT_FD_UNTRACKED and costs the I/O hooks one table
 * look-up. When the parser decides a connection is not HTTP the connection is released and the
 * slot becomes WT_FD_NOT_HTTP, the same fast path.
 *
 * Parentage at connect(): a client connection opened while the thread serves a request is
 * bound to that request (its context is copied into the conn), and the first request written on
 * it gets that parent even if, by the time an event loop writes it, the thread has read other
 * requests (nginx connects upstream synchronously while handling the inbound request, then
 * writes the upstream request when the socket becomes writable).
 *
 * Memory: connections come from a lock-free pool (pool.h) of WT_CONN_MAX objects, head buffers
 * from a pool of WT_HEADBUF_MAX buffers of HTTP_HEAD_MAX bytes; exhaustion leaves connections or
 * messages untraced, never blocks, never allocates.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "agent.h"
#include "conn.h"
#include "curl_trace.h"
#include "pool.h"
#include "wt_clock.h"
#include "wt_guard.h"

#define WT_CONN_MAX 16384
#define WT_HEADBUF_MAX 512

static struct wt_pool conn_pool = WT_POOL_INIT("connections", sizeof(struct conn), WT_CONN_MAX);
static struct wt_pool headbuf_pool = WT_POOL_INIT("head buffers", HTTP_HEAD_MAX, WT_HEADBUF_MAX);

/* Per-thread lock marker: its address identifies the thread as a lock owner. */
static WT_TLS char lock_marker;

bool conn_lock(struct wt_lock *l)
{
	void *me = &lock_marker, *expect = NULL;
	if (atomic_load_explicit(&l->owner, memory_order_relaxed) == me)
		return false; /* re-entered from a signal handler on this thread */
	for (int spins = 0;; spins++) {
		expect = NULL;
		if (atomic_compare_exchange_weak_explicit(&l->owner, &expect, me,
							  memory_order_acquire,
							  memory_order_relaxed))
			return true;
		if (spins > 64)
			sched_yield();
	}
}

void conn_unlock(struct wt_lock *l)
{
	atomic_store_explicit(&l->owner, NULL, memory_order_release);
}

char *conn_head_buf_get(void)
{
	return pool_get(&headbuf_pool);
}

void conn_head_buf_put(char *b)
{
	pool_put(&headbuf_pool, b);
}

static void peer_from_sockaddr(struct wt_peer *p, const struct sockaddr *sa, socklen_t len)
{
	memset(p, 0, sizeof(*p));
	if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
		return;
	p->family = (uint8_t)sa->sa_family;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, p->addr, sizeof(p->addr));
		p->port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, p->addr, sizeof(p->addr));
		p->port = ntohs(in6->sin6_port);
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);
		if (n >= sizeof(p->addr))
			n = sizeof(p->addr) - 1;
		memcpy(p->addr, un->sun_path, n);
		p->addr[n] = '\0';
		if (p->addr[0] == '\0' && n > 0)
			p->addr[0] = '@'; /* abstract socket, shown as ss(8) does */
	}
}

/* The parsers of a role: request heads are captured (their fields make the span), response
 * heads never are (the parser reports the status), so a response costs no buffer round trip. */
static void set_role(struct conn *c, int role)
{
	bool client = role == WT_ROLE_CLIENT;

	c->role = (uint8_t)role;
	http_parser_init(&c->pin, client ? HTTP_DIR_RESPONSE : HTTP_DIR_REQUEST);
	http_parser_init(&c->pout, client ? HTTP_DIR_REQUEST : HTTP_DIR_RESPONSE);
	http_parser_no_capture(client ? &c->pin : &c->pout);
}

struct conn *conn_new(int role)
{
	struct conn *c = pool_get(&conn_pool);
	if (c == NULL)
		return NULL;
	memset(c, 0, offsetof(struct conn, bind) + offsetof(struct wt_parent, ts));
	c->bind.ts[0] = '\0';
	atomic_store(&c->refs, 1);
	set_role(c, role);
	inj_state_init(&c->inj);
	return c;
}

/* ---- the FIFO of requests in flight --------------------------------------------------------- */

bool conn_fifo_push(struct conn *c, struct wt_span_rec *r)
{
	bool ok = false;
	if (!conn_lock(&c->lk_fifo))
		return false;
	if (c->fifo_n < WT_FIFO_MAX) {
		c->fifo[(c->fifo_first + c->fifo_n) % WT_FIFO_MAX] = r;
		c->fifo_n++;
		ok = true;
	}
	conn_unlock(&c->lk_fifo);
	return ok;
}

struct wt_span_rec *conn_fifo_front(struct conn *c)
{
	struct wt_span_rec *r = NULL;
	if (!conn_lock(&c->lk_fifo))
		return NULL;
	if (c->fifo_n)
		r = c->fifo[c->fifo_first];
	conn_unlock(&c->lk_fifo);
	return r;
}

void conn_fifo_pop(struct conn *c)
{
	if (!conn_lock(&c->lk_fifo))
		return;
	if (c->fifo_n) {
		c->fifo_first = (uint8_t)((c->fifo_first + 1) % WT_FIFO_MAX);
		c->fifo_n--;
	}
	conn_unlock(&c->lk_fifo);
}

/* ---- end of a connection -------------------------------------------------------------------- */

/* The connection is over (last fd closed, or given up): requests still in flight end. Those
 * whose response never completed are errors, except those in flight at a fork (the other
 * process may complete them: dropped here); a response delimited by the close ends normally. */
static void conn_finish(struct conn *c, bool closing)
{
	struct http_event ev;
	uint64_t now = wt_clock_wall_ns();
	if (closing && c->role == WT_ROLE_SERVER &&
	    http_parser_eof(&c->pout, &ev) == HTTP_EV_MESSAGE_END) {
		struct wt_span_rec *r = conn_fifo_front(c);
		if (r) {
			conn_fifo_pop(c);
			spans_end(r, now);
			spans_release(r);
		}
	}
	struct wt_span_rec *r;
	while ((r = conn_fifo_front(c)) != NULL) {
		conn_fifo_pop(c);
		/* A request shared with a forked process that completes it is not ours to end. */
		if (closing && !spans_forked(r)) {
			if (r->record)
				hspan_error(&r->span, "response_incomplete");
			spans_end(r, now);
		}
		spans_release(r);
	}
	if (c->hbuf_in)
		conn_head_buf_put(c->hbuf_in);
	if (c->hbuf_out)
		conn_head_buf_put(c->hbuf_out);
	c->hbuf_in = c->hbuf_out = NULL;
}

/* Take a lock for the final clean-up, but never wait long: another thread may still be inside
 * a blocking write on this connection (the program closed an fd another thread is using). */
static bool lock_for_free(struct wt_lock *l)
{
	void *me = &lock_marker;
	for (int i = 0; i < 1000; i++) {
		void *expect = NULL;
		if (atomic_compare_exchange_weak(&l->owner, &expect, me))
			return true;
		if (expect == me)
			return false;
		if (i > 64)
			sched_yield();
	}
	return false;
}

static _Atomic uint64_t conns_abandoned;

void conn_unref(struct conn *c, bool closing)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	bool in = lock_for_free(&c->lk_in);
	bool out = in && lock_for_free(&c->lk_out);
	if (!in || !out) {
		/* Still in use by another thread: leave the object to it rather than recycle memory
		 * under its feet. It is lost to the pool (counted), never freed twice. */
		if (in)
			conn_unlock(&c->lk_in);
		atomic_fetch_add(&conns_abandoned, 1);
		return;
	}
	conn_finish(c, closing);
	conn_unlock(&c->lk_out);
	conn_unlock(&c->lk_in);
	pool_put(&conn_pool, c);
}

/* Detach whatever the slot held. */
static void slot_clear(struct ctx_fd_slot *s, bool closing)
{
	uint32_t kind = atomic_exchange(&s->kind, WT_FD_UNTRACKED);
	struct conn *c = atomic_exchange(&s->ptr, NULL);
	if (kind == WT_FD_TRACKED && c)
		conn_unref(c, closing);
}

void conn_give_up(struct conn *c)
{
	atomic_store(&c->dead, 1);
}

/* Called by the data paths when they find c->dead: the slot stops being tracked. */
void conn_slot_dead(struct ctx_fd_slot *s)
{
	uint32_t kind = atomic_exchange(&s->kind, WT_FD_NOT_HTTP);
	struct conn *c = atomic_exchange(&s->ptr, NULL);
	if (kind == WT_FD_TRACKED && c)
		conn_unref(c, false);
}

static void track(int fd, struct conn *c)
{
	struct ctx_fd_slot *s = ctx_fd_get_or_create(fd);
	if (s == NULL) {
		conn_unref(c, false);
		return;
	}
	slot_clear(s, false);
	atomic_store(&s->ptr, c);
	atomic_store_explicit(&s->kind, WT_FD_TRACKED, memory_order_release);
}

/* ---- agent.h entry points -------------------------------------------------------------------- */

void agent_on_fd_reset(int fd)
{
	struct ctx_fd_slot *s = ctx_fd_get(fd);
	if (s && atomic_load_explicit(&s->kind, memory_order_relaxed) != WT_FD_UNTRACKED)
		slot_clear(s, false);
}

void agent_on_socket(int fd, int domain, int type)
{
	agent_on_fd_reset(fd);
	if ((type & 0xf) != SOCK_STREAM ||
	    (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX))
		return;
	struct conn *c = conn_new(WT_ROLE_UNKNOWN);
	if (c)
		track(fd, c);
}

void agent_on_accept(int fd, const struct sockaddr *peer, socklen_t len)
{
	agent_on_fd_reset(fd);
	if (peer && len >= (socklen_t)sizeof(sa_family_t) && peer->sa_family != AF_INET &&
	    peer->sa_family != AF_INET6 && peer->sa_family != AF_UNIX)
		return;
	struct conn *c = conn_new(WT_ROLE_SERVER);
	if (c == NULL)
		return;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (peer == NULL || len == 0) {
		/* The program did not ask for the address: one getpeername per connection. */
		if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
			peer = (struct sockaddr *)&ss;
			len = sl;
		}
	}
	peer_from_sockaddr(&c->peer, peer, len);
	track(fd, c);
}

void agent_on_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	struct conn *c = s ? atomic_load(&s->ptr) : NULL;
	if (c == NULL || c->role != WT_ROLE_UNKNOWN)
		return;
	/* curl_trace.c: libcurl connecting inside a transfer the curl hooks trace (keep-alive
	 * reuse included, the connection is opened inside one): never traced twice. */
	if (curl_trace_busy()) {
		conn_give_up(c);
		return;
	}
	set_role(c, WT_ROLE_CLIENT);
	peer_from_sockaddr(&c->peer, addr, len);
	c->bind_used = 0;
	if (!spans_pick_parent(&c->bind))
		c->bind.sc.valid = false;
}

void agent_on_close(int fd)
{
	struct ctx_fd_slot *s = ctx_fd_get(fd);
	if (s && atomic_load_explicit(&s->kind, memory_order_relaxed) != WT_FD_UNTRACKED)
		slot_clear(s, true);
}

void agent_on_dup(int oldfd, int newfd)
{
	agent_on_fd_reset(newfd);
	struct ctx_fd_slot *s = agent_fd_tracked(oldfd);
	struct conn *c = s ? atomic_load(&s->ptr) : NULL;
	if (c == NULL)
		return;
	atomic_fetch_add(&c->refs, 1);
	track(newfd, c);
}

void agent_on_shutdown(int fd, int how)
{
	struct ctx_fd_slot *s = agent_fd_tracked(fd);
	struct conn *c = s ? atomic_load(&s->ptr) : NULL;
	if (c == NULL || (how != SHUT_WR && how != SHUT_RDWR) || c->role != WT_ROLE_SERVER)
		return;
	/* The server's write side ends: a response delimited by the close is complete. */
	if (!conn_lock(&c->lk_out))
		return;
	struct http_event ev;
	if (http_parser_eof(&c->pout, &ev) == HTTP_EV_MESSAGE_END) {
		struct wt_span_rec *r = conn_fifo_front(c);
		if (r) {
			conn_fifo_pop(c);
			spans_end(r, wt_clock_wall_ns());
			spans_release(r);
		}
	}
	conn_unlock(&c->lk_out);
}

void conn_atfork_child(void)
{
	/* Locks held by threads that do not exist in the child would never be released. The
	 * child is single-threaded here; connections keep their state (same fds). */
	for (unsigned chunk = 0; chunk < CTX_FD_NCHUNKS; chunk++) {
		struct ctx_fd_slot *base = atomic_load(&ctx_fd_chunks[chunk]);
		if (base == NULL)
			continue;
		for (unsigned i = 0; i < CTX_FD_CHUNK; i++) {
			struct conn *c = atomic_load(&base[i].ptr);
			if (c == NULL)
				continue;
			atomic_store(&c->lk_in.owner, NULL);
			atomic_store(&c->lk_out.owner, NULL);
			atomic_store(&c->lk_fifo.owner, NULL);
		}
	}
}
