/*
 * conn.h - the connection tracker's state (internal to agent/).
 *
 * A struct conn exists for every stream socket the program created with socket() or accepted,
 * from creation until it is classified as not HTTP or closed. It holds one HTTP parser per
 * direction, the injector's pending bytes, the FIFO of requests in flight (pipelining), the
 * peer's address, and for client connections the context bound at connect() time.
 *
 * A struct wt_span_rec is one request in flight: the span being built (struct exp_span, copied
 * into the exporter's queue when it ends) plus the context its children inherit. Both come from
 * lock-free pools (pool.h), never from malloc.
 *
 * Locking: each direction has its own tiny spin lock (a reader and a writer thread on one
 * socket do not wait for each other) and the FIFO has a third one held for a few instructions.
 * A lock found held by the same thread (a signal handler interrupting us on the same
 * connection) is never waited for: the connection is given up instead.
 */
#ifndef WT_CONN_H
#define WT_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "exp_span.h"
#include "fdtable.h"
#include "http_parser.h"
#include "http_span.h"
#include "agent.h"
#include "inject.h"
#include "span_context.h"

enum wt_role {
	WT_ROLE_UNKNOWN = 0, /* socket() without connect() yet, or a listening socket */
	WT_ROLE_SERVER = 1,  /* accepted: requests in, responses out */
	WT_ROLE_CLIENT = 2,  /* connected: requests out, responses in */
};

struct wt_span_rec {
	struct exp_span span;
	_Atomic uint32_t gen;   /* bumped every time the record is released */
	_Atomic uint32_t live;  /* 1 while the request is in flight */
	struct ctx_span_context ctx; /* what children inherit (invalid: no context) */
	uint8_t record;         /* export when it ends (sampled, SDK enabled, not excluded) */
	uint8_t resp_flags;     /* HTTP_RESP_* for the response parser */
	uint8_t resp_started;   /* a (final) response head was seen */
	_Atomic uint8_t has_outbound; /* server: an outbound request was attributed to it */
	_Atomic uint32_t forked_at; /* gen + 1: in flight when this process forked or was forked */
	char hdr[INJ_HEADERS_MAX]; /* client: the header lines inserted into its request */
};

/* A copy of a request's context as its children need it: ids and flags, the id of ITS parent
 * (to recognise a traceparent a proxy forwards unchanged), and its tracestate. */
struct wt_parent {
	struct ctx_span_context sc;
	uint8_t pparent[8]; /* the parent's own parent span id; zero if none */
	uint16_t ts_len;
	char ts[CTX_TRACESTATE_MAX + 1];
};

#define WT_FIFO_MAX 8

struct wt_lock {
	_Atomic(void *) owner; /* address of the holder's TLS marker, NULL = free */
};

struct conn {
	_Atomic uint32_t refs; /* fds referring to it (dup) */
	_Atomic uint8_t dead;  /* given up: every fd slot goes NOT_HTTP at the next call */
	uint8_t role;
	uint8_t tls; /* the bytes are the plaintext of a TLS session (url.scheme https) */
	struct wt_peer peer;
	struct wt_lock lk_in, lk_out, lk_fifo;
	struct http_parser pin, pout;
	char *hbuf_in, *hbuf_out; /* head buffers lent to the parsers */
	uint64_t in_start_ns, out_start_ns; /* first byte of the message being read / written */
	struct inj_state inj;
	struct wt_span_rec *fifo[WT_FIFO_MAX];
	uint8_t fifo_first, fifo_n;
	/* client: a request whose forwarded traceparent was already replaced on the wire although
	 * the write was cut short before its head end; the next head end is this request's. */
	struct wt_span_rec *early_rec;
	uint8_t bind_used;
	struct wt_parent bind; /* client: the request context current at connect() */
};

/* conn.c: connection objects (also usable without an fd slot, e.g. for a TLS session) */
struct conn *conn_new(int role);             /* refs = 1; NULL when the pool is exhausted */
void conn_unref(struct conn *c, bool closing); /* last ref: in-flight spans end, memory back */
bool conn_lock(struct wt_lock *l);
void conn_unlock(struct wt_lock *l);
void conn_give_up(struct conn *c);
void conn_slot_dead(struct ctx_fd_slot *s);
bool conn_fifo_push(struct conn *c, struct wt_span_rec *r);
struct wt_span_rec *conn_fifo_front(struct conn *c);
void conn_fifo_pop(struct conn *c);
void conn_atfork_child(void);
char *conn_head_buf_get(void);
void conn_head_buf_put(char *b);

/* conn_io.c: the data paths on a connection object (the fd hooks and TLS hooks both use
 * them). conn_write performs the write through fn and returns what the program must see. */
ssize_t conn_write(struct conn *c, const struct iovec *iov, int iovcnt, agent_writev_fn fn,
		   void *ctx, int *err);
void conn_read(struct conn *c, const struct iovec *iov, int iovcnt, ssize_t n, int err);

/* spans.c: records, parentage and the thread's current request */
struct wt_span_rec *spans_server_begin(struct conn *c, const struct http_event *ev,
				       uint64_t start_ns);
/* Client request head: begins the CLIENT span and says what to put on the wire: *hdr_len bytes
 * at r->hdr, inserted before the blank line (*replace_off < 0) or replacing the 55-character
 * traceparent value that starts *replace_off bytes into the head (a forwarded header). */
struct wt_span_rec *spans_client_begin(struct conn *c, const struct http_event *ev,
				       uint64_t start_ns, size_t *hdr_len, long *replace_off);
/* A CLIENT span not made from a parsed head (a libcurl transfer, curl_trace.c): ids under
 * `parent` (NULL or invalid: a new root), the sampler's decision, live. The caller adds name
 * and attributes, formats r->hdr itself, and ends it with spans_end() + spans_release().
 * NULL when the span pool is exhausted. */
struct wt_span_rec *spans_client_begin_detached(const struct wt_parent *parent,
						uint64_t start_ns);
void spans_end(struct wt_span_rec *r, uint64_t end_ns);
void spans_release(struct wt_span_rec *r);
void spans_set_current(struct wt_span_rec *r);
bool spans_current(struct wt_parent *out);
/* The parent for an outbound request made now on this thread, or false for none (see the
 * parentage rules at the top of spans.c). Marks the chosen request as having an outbound. */
bool spans_pick_parent(struct wt_parent *out);
/* A request was read on this thread (its server span began here). */
void spans_thread_opened(struct wt_span_rec *r);
/* Hand-offs (handoff.c): the request this thread can hand to another one (exactly one in
 * flight here, or the one it adopted), and adopting a request handed over. */
int spans_handoff_source(struct wt_span_rec **rec, uint32_t *gen); /* 1 one, 0 none, -1 several */
void spans_woken(const void *obj, struct wt_span_rec *rec, uint32_t gen, bool fresh);
void spans_adopt(struct wt_span_rec *rec, uint32_t gen, const void *from);
void spans_adopt_waiting(const void *obj);

/* fork (lifecycle.c's atfork handlers, in the parent and in the child): the requests in flight
 * now are shared with the other process, which may be the one that completes them (a helper
 * forked mid-request, or a server handing the connection to a child). Whichever process
 * completes one exports it; one that this process only closes is dropped without an error
 * span, instead of being reported by both. spans_forked(): was r in flight at a fork? */
void spans_atfork(void);
bool spans_forked(struct wt_span_rec *r);

/* Crash forensics (crash.c): fn on every span record in flight; async-signal-safe. */
void spans_for_each_live(void (*fn)(struct wt_span_rec *r, void *arg), void *arg);

/* lifecycle.c */
void agent_on_first_span(void);

#endif
