/*
 * conn_io.c - the data paths of the connection tracker: what happens on every read and write
 * of a tracked socket.
 *
 * Server role: inbound bytes feed the request parser; at a request head a SERVER span begins
 * and becomes the thread's current request; outbound bytes (after the real write, counting only
 * what the kernel took) feed the response parser; the span ends when the response is complete.
 *
 * Client role: outbound bytes are parsed BEFORE the write, because a traceparent line may have
 * to be inserted at the end of a request head in this very call. The parser state is
 * snapshotted first; if the kernel takes only part of the bytes, the snapshot is restored and
 * exactly the bytes that went out are parsed again, so the parser never runs ahead of the
 * stream (the program will offer the rest again). Spans whose insertion did not happen are
 * dropped and planned again on the re-offered bytes. Inbound bytes feed the response parser;
 * the CLIENT span ends when the response head has been read (SEMCONV client span timing).
 *
 * The connection is given up (WT_FD_NOT_HTTP, no further cost) as soon as a parser says the
 * bytes are not HTTP/1.x, or on anything the tracker cannot follow exactly.
 */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "conn.h"
#include "wt_clock.h"

#define WT_MAX_PLANNED INJ_MAX_INSERTS /* request heads per write call (pipelining) */

static struct conn *slot_conn(struct ctx_fd_slot *s)
{
	struct conn *c = atomic_load_explicit(&s->ptr, memory_order_acquire);
	if (c && atomic_load_explicit(&c->dead, memory_order_relaxed)) {
		conn_slot_dead(s);
		return NULL;
	}
	return c;
}

/* Lend the parser a head buffer when it asks (requests only: responses need no capture). */
static void lend_buffer(struct http_parser *p, char **slot, bool capture)
{
	if (capture && *slot == NULL)
		*slot = conn_head_buf_get();
	if (capture && *slot)
		http_parser_attach_buffer(p, *slot, HTTP_HEAD_MAX);
	else
		http_parser_attach_buffer(p, NULL, 0);
}

/* ---- server role ------------------------------------------------------------------------------ */

static void server_in(struct conn *c, const char *d, size_t n)
{
	struct http_event ev;
	while (n > 0) {
		size_t k = http_parser_feed(&c->pin, d, n, &ev);
		switch (ev.type) {
		case HTTP_EV_NEED_BUFFER:
			c->in_start_ns = wt_clock_wall_ns();
			lend_buffer(&c->pin, &c->hbuf_in, true);
			break;
		case HTTP_EV_HEAD_END: {
			if (!c->in_start_ns)
				c->in_start_ns = wt_clock_wall_ns();
			struct wt_span_rec *r = spans_server_begin(c, &ev, c->in_start_ns);
			c->in_start_ns = 0;
			if (r && !conn_fifo_push(c, r)) {
				spans_release(r);
				r = NULL;
			}
			if (r == NULL) {
				conn_give_up(c); /* untraceable request: keep nothing half-known */
				return;
			}
			spans_set_current(r);
			spans_thread_opened(r);
			break;
		}
		case HTTP_EV_NOT_HTTP:
			conn_give_up(c);
			return;
		default:
			break;
		}
		d += k;
		n -= k;
	}
}

static void server_out(struct conn *c, const char *d, size_t n)
{
	struct http_event ev;
	while (n > 0) {
		struct wt_span_rec *r = conn_fifo_front(c);
		if (r && !r->resp_started && r->resp_flags)
			http_parser_expect_response(&c->pout, r->resp_flags);
		size_t k = http_parser_feed(&c->pout, d, n, &ev);
		switch (ev.type) {
		case HTTP_EV_NEED_BUFFER:
			lend_buffer(&c->pout, &c->hbuf_out, false);
			break;
		case HTTP_EV_HEAD_END:
			if (r && !(ev.flags & HTTP_EVF_INTERIM)) {
				r->resp_started = 1;
				if (r->record && !hspan_response_defer(&r->span, ev.status))
					hspan_response(&r->span, ev.status);
			}
			break;
		case HTTP_EV_MESSAGE_END:
			if (r && !(ev.flags & HTTP_EVF_INTERIM)) {
				conn_fifo_pop(c);
				spans_end(r, wt_clock_wall_ns());
				spans_release(r);
			}
			if (ev.flags & HTTP_EVF_UPGRADE)
				conn_give_up(c);
			break;
		case HTTP_EV_NOT_HTTP:
			conn_give_up(c);
			return;
		default:
			break;
		}
		d += k;
		n -= k;
	}
}

/* Feed `n` bytes spread over an iovec array to fn(c, data, len). */
static void feed_iov(struct conn *c, const struct iovec *iov, int iovcnt, size_t n,
		     void (*fn)(struct conn *, const char *, size_t))
{
	for (int i = 0; i < iovcnt && n > 0 && !atomic_load(&c->dead); i++) {
		size_t len = iov[i].iov_len < n ? iov[i].iov_len : n;
		if (len)
			fn(c, iov[i].iov_base, len);
		n -= len;
	}
}

/* ---- client role ------------------------------------------------------------------------------ */

struct plan {
	struct wt_span_rec *rec[WT_MAX_PLANNED];
	size_t at[WT_MAX_PLANNED]; /* offset of each head's end in this call */
	int ins_of[WT_MAX_PLANNED]; /* its insertion's index, -1 if none */
	struct inj_insert ins[WT_MAX_PLANNED];
	int n; /* heads seen */
	int nins;
	bool give_up;
};

static void client_out_event(struct conn *c, const struct http_event *ev, size_t base,
			     struct plan *pl, bool planning)
{
	switch (ev->type) {
	case HTTP_EV_NEED_BUFFER:
		if (planning)
			c->out_start_ns = wt_clock_wall_ns();
		lend_buffer(&c->pout, &c->hbuf_out, true);
		break;
	case HTTP_EV_HEAD_END:
		if (c->early_rec) {
			/* Already begun and pushed when its replaced traceparent went out. */
			c->early_rec = NULL;
			if (planning && pl->n < WT_MAX_PLANNED) {
				pl->rec[pl->n] = NULL;
				pl->at[pl->n] = base + ev->off;
				pl->ins_of[pl->n] = -1;
			}
		} else if (planning && pl->n < WT_MAX_PLANNED) {
			size_t hl = 0;
			long rep = -1;
			uint64_t start = c->out_start_ns ? c->out_start_ns : wt_clock_wall_ns();
			struct wt_span_rec *r = spans_client_begin(c, ev, start, &hl, &rep);
			size_t blank = base + ev->off;
			pl->rec[pl->n] = r;
			pl->at[pl->n] = blank;
			pl->ins_of[pl->n] = -1;
			/* A replaced value must lie wholly inside this call's bytes. */
			size_t head_start = blank - (blank < ev->head_len ? blank : ev->head_len);
			if (r && hl && (rep < 0 || blank >= ev->head_len)) {
				struct inj_insert *in = &pl->ins[pl->nins];
				in->at = rep < 0 ? blank : head_start + (size_t)rep;
				in->skip = rep < 0 ? 0 : hl;
				in->bytes = r->hdr;
				in->len = hl;
				pl->ins_of[pl->n] = pl->nins;
				pl->nins++;
			}
			if (r == NULL)
				pl->give_up = true; /* an untraced request would misalign the FIFO */
		}
		if (planning && ++pl->n > WT_MAX_PLANNED)
			pl->give_up = true;
		c->out_start_ns = 0;
		break;
	case HTTP_EV_NOT_HTTP:
		pl->give_up = true;
		break;
	default:
		break;
	}
}

/* Parse the first `limit` program bytes of this call. */
static void client_out_feed(struct conn *c, const struct iovec *iov, int iovcnt, size_t limit,
			    struct plan *pl, bool planning)
{
	size_t base = 0;
	for (int i = 0; i < iovcnt && base < limit && !pl->give_up; i++) {
		const char *d = iov[i].iov_base;
		size_t len = iov[i].iov_len < limit - base ? iov[i].iov_len : limit - base;
		size_t off = 0;
		while (off < len && !pl->give_up) {
			struct http_event ev;
			size_t k = http_parser_feed(&c->pout, d + off, len - off, &ev);
			client_out_event(c, &ev, base + off, pl, planning);
			off += k;
		}
		base += iov[i].iov_len;
	}
}

/* After a short write whose last insertion (at offset `at`, the start of a blank line) went
 * out at least in part: let the parser report that head end again, consuming nothing, so that
 * the re-offered bytes continue the message instead of starting the head end over. */
static void client_out_head_at(struct conn *c, const struct iovec *iov, int iovcnt, size_t at)
{
	size_t base = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (at < base + iov[i].iov_len) {
			struct http_event ev;
			http_parser_feed(&c->pout, (const char *)iov[i].iov_base + (at - base),
					 base + iov[i].iov_len - at, &ev);
			if (ev.type != HTTP_EV_HEAD_END || ev.off != 0)
				conn_give_up(c); /* cannot happen with a correct parser */
			return;
		}
		base += iov[i].iov_len;
	}
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t t = 0;
	for (int i = 0; i < iovcnt; i++)
		t += iov[i].iov_len;
	return t;
}

static ssize_t client_write(struct conn *c, const struct iovec *iov, int iovcnt,
			    agent_writev_fn fn, void *ctx, int *err)
{
	size_t total = iov_total(iov, iovcnt);
	struct http_parser snap = c->pout;
	struct wt_span_rec *early_snap = c->early_rec;
	struct plan pl;
	pl.n = pl.nins = 0;
	pl.give_up = false;
	client_out_feed(c, iov, iovcnt, total, &pl, true);
	int done = 0;
	ssize_t r = inj_write(&c->inj, iov, iovcnt, pl.ins, pl.nins, &done, fn, ctx);
	size_t consumed = r > 0 ? (size_t)r : 0;
	int heads = pl.n < WT_MAX_PLANNED ? pl.n : WT_MAX_PLANNED;
	if (consumed < total && !pl.give_up) {
		/* Short write or error: parse again exactly what went out. */
		c->pout = snap;
		c->early_rec = early_snap;
		struct plan again;
		again.n = again.nins = 0;
		again.give_up = false;
		client_out_feed(c, iov, iovcnt, consumed, &again, false);
		if (done > 0 && pl.ins[done - 1].skip == 0 && pl.ins[done - 1].at == consumed)
			client_out_head_at(c, iov, iovcnt, consumed);
	}
	for (int k = 0; k < heads; k++) {
		struct wt_span_rec *rec = pl.rec[k];
		if (rec == NULL)
			continue;
		int ins = pl.ins_of[k];
		bool happened = ins >= 0 && ins < done;
		bool replaced = happened && pl.ins[ins].skip > 0;
		bool parsed = pl.at[k] < consumed || (pl.at[k] == consumed && happened && !replaced);
		bool went = parsed || replaced;
		if (went && !pl.give_up && conn_fifo_push(c, rec)) {
			if (!parsed)
				c->early_rec = rec; /* its head end is still to be parsed */
			continue;
		}
		if (went)
			pl.give_up = true;
		spans_release(rec);
	}
	if (pl.give_up)
		conn_give_up(c);
	if (r < 0) {
		*err = (int)-r;
		return -1;
	}
	return r;
}

static const char *errno_type(int e)
{
	switch (e) {
	case ECONNRESET:
		return "connection_reset";
	case ETIMEDOUT:
		return "timeout";
	case EPIPE:
		return "broken_pipe";
	case ECONNREFUSED:
		return "connection_refused";
	default:
		return "_OTHER";
	}
}

/* Every request still waiting for its response fails with `type`. */
static void client_fail_all(struct conn *c, const char *type)
{
	struct wt_span_rec *r;
	uint64_t now = wt_clock_wall_ns();
	while ((r = conn_fifo_front(c)) != NULL) {
		conn_fifo_pop(c);
		if (r->record)
			hspan_error(&r->span, type);
		spans_end(r, now);
		spans_release(r);
	}
}

static void client_in(struct conn *c, const char *d, size_t n)
{
	struct http_event ev;
	while (n > 0) {
		struct wt_span_rec *r = conn_fifo_front(c);
		if (r && r->resp_flags)
			http_parser_expect_response(&c->pin, r->resp_flags);
		size_t k = http_parser_feed(&c->pin, d, n, &ev);
		switch (ev.type) {
		case HTTP_EV_NEED_BUFFER:
			lend_buffer(&c->pin, &c->hbuf_in, false);
			break;
		case HTTP_EV_HEAD_END:
			if (r && !(ev.flags & HTTP_EVF_INTERIM)) {
				conn_fifo_pop(c);
				if (r->record)
					hspan_response(&r->span, ev.status);
				spans_end(r, wt_clock_wall_ns());
				spans_release(r);
			}
			break;
		case HTTP_EV_MESSAGE_END:
			if (ev.flags & HTTP_EVF_UPGRADE)
				conn_give_up(c);
			break;
		case HTTP_EV_NOT_HTTP:
			conn_give_up(c);
			return;
		default:
			break;
		}
		d += k;
		n -= k;
	}
}

/* ---- agent.h entry points ------------------------------------------------------------------- */

ssize_t conn_write(struct conn *c, const struct iovec *iov, int iovcnt, agent_writev_fn fn,
		   void *ctx, int *err)
{
	if (c == NULL || c->role == WT_ROLE_UNKNOWN || !conn_lock(&c->lk_out)) {
		if (c)
			conn_give_up(c);
		ssize_t r = fn(ctx, iov, iovcnt);
		*err = errno;
		return r;
	}
	ssize_t r;
	if (c->role == WT_ROLE_CLIENT) {
		r = client_write(c, iov, iovcnt, fn, ctx, err);
	} else {
		r = fn(ctx, iov, iovcnt);
		*err = errno;
		if (r > 0)
			feed_iov(c, iov, iovcnt, (size_t)r, server_out);
	}
	conn_unlock(&c->lk_out);
	return r;
}

void conn_read(struct conn *c, const struct iovec *iov, int iovcnt, ssize_t n, int err)
{
	if (c->role == WT_ROLE_UNKNOWN || !conn_lock(&c->lk_in)) {
		conn_give_up(c);
		return;
	}
	if (n > 0) {
		if (c->role == WT_ROLE_SERVER) {
			feed_iov(c, iov, iovcnt, (size_t)n, server_in);
			/* The thread now serves the newest request in flight on this connection. */
			if (!atomic_load(&c->dead) && conn_lock(&c->lk_fifo)) {
				struct wt_span_rec *back =
					c->fifo_n ? c->fifo[(c->fifo_first + c->fifo_n - 1) %
							    WT_FIFO_MAX]
						  : NULL;
				conn_unlock(&c->lk_fifo);
				if (back)
					spans_set_current(back);
			}
		} else {
			feed_iov(c, iov, iovcnt, (size_t)n, client_in);
		}
	} else if (c->role == WT_ROLE_CLIENT) {
		struct http_event ev;
		if (n == 0) {
			http_parser_eof(&c->pin, &ev);
			client_fail_all(c, "response_incomplete");
		} else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
			client_fail_all(c, errno_type(err));
		}
	}
	conn_unlock(&c->lk_in);
}

ssize_t agent_write(struct ctx_fd_slot *s, int fd, const struct iovec *iov, int iovcnt,
		    agent_writev_fn fn, void *ctx, int *err)
{
	(void)fd;
	return conn_write(slot_conn(s), iov, iovcnt, fn, ctx, err);
}

void agent_on_read(struct ctx_fd_slot *s, int fd, const struct iovec *iov, int iovcnt, ssize_t n,
		   int err)
{
	(void)fd;
	struct conn *c = slot_conn(s);
	if (c)
		conn_read(c, iov, iovcnt, n, err);
}

int agent_before_sendfile(struct ctx_fd_slot *s, int fd, agent_writev_fn fn, void *ctx,
			  int *err)
{
	(void)fd;
	struct conn *c = slot_conn(s);
	if (c == NULL || !inj_state_pending(&c->inj) || !conn_lock(&c->lk_out))
		return 0;
	int rc = inj_flush_pending(&c->inj, fn, ctx);
	conn_unlock(&c->lk_out);
	if (rc < 0) {
		*err = -rc;
		return -1;
	}
	return 0;
}

void agent_after_sendfile(struct ctx_fd_slot *s, int fd, ssize_t n)
{
	(void)fd;
	struct conn *c = slot_conn(s);
	if (c == NULL || n <= 0 || !conn_lock(&c->lk_out))
		return;
	struct http_parser *p = &c->pout;
	struct http_event ev;
	int t = http_parser_skip_body(p, (uint64_t)n, &ev);
	if (t == HTTP_EV_MESSAGE_END && c->role == WT_ROLE_SERVER) {
		struct wt_span_rec *r = conn_fifo_front(c);
		if (r) {
			conn_fifo_pop(c);
			spans_end(r, wt_clock_wall_ns());
			spans_release(r);
		}
	} else if (t == HTTP_EV_NOT_HTTP) {
		conn_give_up(c);
	}
	conn_unlock(&c->lk_out);
}
