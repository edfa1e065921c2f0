/*
 * http_span.h - HTTP semantic conventions for the spans the tracker makes: names, attributes,
 * status mapping (SEMCONV docs/http/http-spans.md, stable HTTP conventions).
 *
 * Pure functions over a view of a parsed message head and the peer's address; no I/O, no
 * allocation; async-signal-safe.
 */
#ifndef WT_HTTP_SPAN_H
#define WT_HTTP_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exp_span.h"

struct wt_slice {
	const char *p;
	size_t len;
};

/* The parts of a request head the conventions need (slices into the head buffer). */
struct wt_req_view {
	struct wt_slice method, target, host, user_agent;
	struct wt_slice x_forwarded_for, x_forwarded_proto, x_forwarded_host, forwarded;
	int version_minor; /* HTTP/1.<minor> */
	bool tls;          /* carried over TLS: scheme https, default port 443 */
	/* The peer's numeric address where the caller keeps it; p NULL (as hspan_req_view()
	 * leaves it): the wt_peer's own. */
	struct wt_slice peer_addr;
};

struct wt_peer {
	uint16_t port;       /* host order; 0 if unknown */
	uint8_t family;      /* AF_INET, AF_INET6, AF_UNIX, 0 = unknown */
	char addr[48];       /* numeric address, "" if unknown */
};

/* The view of a parsed request head (http_head_parse() result h, slices into its buffer). */
struct http_head;
void hspan_req_view(const struct http_head *h, bool tls, struct wt_req_view *v);

/* Is `method` one of the known methods (the default list or
 * OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS)? */
bool hspan_method_known(const char *m, size_t len);

/* Route for a path from WIRETRACE_ROUTES (first match), or NULL. Query ignored. */
const char *hspan_route_match(const char *path, size_t len);

/* Is the path (query ignored) listed in WIRETRACE_EXCLUDED_URLS? */
bool hspan_path_excluded(const char *target, size_t len);

/* Fill name and request attributes of a SERVER / CLIENT span (at the request head). */
void hspan_server_request(struct exp_span *s, const struct wt_req_view *r,
			  const struct wt_peer *peer);
void hspan_client_request(struct exp_span *s, const struct wt_req_view *r,
			  const struct wt_peer *peer);

/* Deferred SERVER attributes (http_span_defer.c): at the request head, copy the head (one that
 * http_head_parse() accepts), the peer and the TLS flag into s->deferred instead of building
 * the attributes; false (nothing written) when it would not leave room for them: then call
 * hspan_server_request(). At the response head, hspan_response_defer() records the status
 * (false if s has nothing deferred: call hspan_response()). hspan_finish() then parses the
 * copy and makes, on the exporter thread (exp_finish_set) or in the crash writer, what
 * hspan_server_request() and hspan_response() would have made, and clears s->deferred. */
bool hspan_server_defer(struct exp_span *s, const char *head, size_t head_len,
			const struct wt_peer *peer, bool tls);
bool hspan_response_defer(struct exp_span *s, int status);
void hspan_finish(struct exp_span *s);

/* Response status: attribute, span status and error.type per the mapping for `kind`. */
void hspan_response(struct exp_span *s, int status_code);

/* The request failed without a (complete) response: status ERROR, error.type = `type`. */
void hspan_error(struct exp_span *s, const char *type);

/* Redact url query values of signed-URL keys (X-Amz-Signature, sig, ...) and userinfo into
 * out; returns the length written (truncated at cap). Exposed for the unit tests. */
size_t hspan_redact_url(char *out, size_t cap, const char *url, size_t len);

#endif
