/*
 * http_span_defer.c - SERVER span attributes built on the exporter thread.
 *
 * The semantic-convention attributes of a SERVER span (http_span.c) come from its request
 * head, but nothing reads them before the span is exported. So at the request head the
 * request thread only copies the head and the peer's address into the span's own buffer
 * (exp_span.deferred), and at the response head only the status code; the exporter thread
 * calls hspan_finish() before encoding (registered with exp_finish_set()), which parses the
 * copy and makes exactly the attributes, name and status that
 * hspan_server_request() and hspan_response() would have made on the request thread, with the
 * values referenced in the copied head instead of copied again.
 *
 * Layout of the deferred bytes: struct dhdr (unaligned, copied in and out with memcpy), then
 * the head, then the peer's numeric address. A head that does not fit with room to spare for
 * the attributes is not deferred: the caller builds the attributes at once, as before.
 *
 * Pure and async-signal-safe (the crash writer finishes the spans it takes): no allocation,
 * no lock, only the span given.
 */
#include <stddef.h>
#include <string.h>

#include "http_head.h"
#include "http_span.h"

struct dhdr {
	uint16_t head_len;
	uint16_t status; /* 0 until the response head */
	uint16_t peer_port;
	uint8_t peer_family;
	uint8_t peer_len;
	uint8_t tls;
};

/* Bytes of buf left for the attributes after a deferred head: values are referenced in the
 * head, so this holds the span name, a redacted query, the peer address and error.type. */
#define DEFER_SPARE 640

bool hspan_server_defer(struct exp_span *s, const char *head, size_t head_len,
			const struct wt_peer *peer, bool tls)
{
	struct dhdr d;
	size_t plen = strnlen(peer->addr, sizeof(peer->addr));
	size_t need = sizeof(d) + head_len + plen;

	if (head_len > UINT16_MAX || s->buf_used + need + DEFER_SPARE > EXP_SPAN_BUF)
		return false;
	memset(&d, 0, sizeof(d));
	d.head_len = (uint16_t)head_len;
	d.peer_port = peer->port;
	d.peer_family = peer->family;
	d.peer_len = (uint8_t)plen;
	d.tls = tls;

	char *b = s->buf + s->buf_used;
	memcpy(b, &d, sizeof(d));
	memcpy(b + sizeof(d), head, head_len);
	memcpy(b + sizeof(d) + head_len, peer->addr, plen);
	s->deferred.off = s->buf_used;
	s->deferred.len = (uint16_t)need;
	s->buf_used = (uint16_t)(s->buf_used + need);
	s->kind = EXP_KIND_SERVER;
	return true;
}

bool hspan_response_defer(struct exp_span *s, int status)
{
	uint16_t st = (uint16_t)status;

	if (s->deferred.len < sizeof(struct dhdr) || status <= 0 || status > 999)
		return false;
	memcpy(s->buf + s->deferred.off + offsetof(struct dhdr, status), &st, sizeof(st));
	return true;
}

void hspan_finish(struct exp_span *s)
{
	struct dhdr d;
	struct http_head h;
	struct wt_req_view v;
	struct wt_peer peer;
	size_t off = s->deferred.off, len = s->deferred.len;

	s->deferred.len = 0;
	if (len < sizeof(d) || off + len > s->buf_used || off + len > EXP_SPAN_BUF)
		return;
	memcpy(&d, s->buf + off, sizeof(d));
	/* Binary fields are never encoded, but the encoder checks the whole used buffer for
	 * non-ASCII bytes to choose its fast path: leave it ASCII. */
	memset(s->buf + off, 0, sizeof(d));
	if (sizeof(d) + (size_t)d.head_len + d.peer_len != len || d.peer_len >= sizeof(peer.addr))
		return;
	const char *head = s->buf + off + sizeof(d);
	if (http_head_parse(head, d.head_len, HTTP_DIR_REQUEST, &h) < 0)
		return;
	hspan_req_view(&h, d.tls, &v);
	v.peer_addr.p = head + d.head_len; /* referenced where it is, in the span's buffer */
	v.peer_addr.len = d.peer_len;
	peer.port = d.peer_port;
	peer.family = d.peer_family;
	memcpy(peer.addr, head + d.head_len, d.peer_len);
	peer.addr[d.peer_len] = '\0';
	hspan_server_request(s, &v, &peer);
	if (d.status)
		hspan_response(s, d.status);
}
