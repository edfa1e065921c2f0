/*
 * http_span.c - names and attributes of HTTP SERVER and CLIENT spans, per the stable HTTP
 * semantic conventions (SEMCONV v1.44 docs/http/http-spans.md):
 *
 *  - name: "{method} {http.route}" when a route is known (WIRETRACE_ROUTES), otherwise the
 *    method alone — never the raw path, which would explode cardinality. An unknown method is
 *    reported as http.request.method=_OTHER with http.request.method_original, and names the
 *    span "HTTP".
 *  - SERVER: http.request.method, url.path, url.query, url.scheme, server.address/port (from
 *    X-Forwarded-Host / Forwarded host= / Host), client.address (X-Forwarded-For's first entry
 *    / Forwarded for= / the peer), network.peer.address/port, network.protocol.version,
 *    user_agent.original, http.route.
 *  - CLIENT: http.request.method, server.address/port (absolute-form target or Host),
 *    url.full (credentials replaced by REDACTED:REDACTED, signed query values by REDACTED),
 *    url.scheme, network.peer.address/port, network.protocol.version, user_agent.original.
 *  - status: 5xx is an error for both kinds, 4xx only for CLIENT spans; error.type is the
 *    status code as a string; 1xx-3xx leave the status unset.
 *
 * Pure and async-signal-safe: the configuration is read-only after start-up.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "http_head.h"
#include "http_span.h"

/* A string attribute with a well-known key; a value that lies in the span's own buffer (the
 * deferred head a finisher works on) is referenced in place instead of copied. */
static void add_s(struct exp_span *s, int key, const char *p, size_t n)
{
	uintptr_t b = (uintptr_t)s->buf, v = (uintptr_t)p;

	if (p && v >= b && v + n <= b + s->buf_used)
		exp_span_add_ref_k(s, key, (size_t)(v - b), n);
	else
		exp_span_add_str_k(s, key, p, n);
}

/* A string attribute whose value is a well-known string (EXP_K_VAL_*): referenced. */
static void add_c(struct exp_span *s, int key, int val)
{
	exp_span_add_known_k(s, key, val);
}

/* The peer's numeric address: where the caller keeps it (the finisher: in the span's buffer, so
 * that it is referenced), or the peer's own copy. */
static struct wt_slice peer_addr(const struct wt_req_view *r, const struct wt_peer *peer)
{
	struct wt_slice a = {peer->addr, strlen(peer->addr)};

	return r->peer_addr.p ? r->peer_addr : a;
}

static struct wt_slice sl(struct http_str s)
{
	struct wt_slice out = {s.ptr, s.ptr ? s.len : 0};
	return out;
}

void hspan_req_view(const struct http_head *h, bool tls, struct wt_req_view *v)
{
	v->tls = tls;
	v->method = sl(h->method);
	v->target = sl(h->target);
	v->host = sl(h->field[HTTP_F_HOST]);
	v->user_agent = sl(h->field[HTTP_F_USER_AGENT]);
	v->x_forwarded_for = sl(h->field[HTTP_F_X_FORWARDED_FOR]);
	v->x_forwarded_proto = sl(h->field[HTTP_F_X_FORWARDED_PROTO]);
	v->x_forwarded_host = sl(h->field[HTTP_F_X_FORWARDED_HOST]);
	v->forwarded = sl(h->field[HTTP_F_FORWARDED]);
	v->version_minor = h->version_minor;
	v->peer_addr.p = NULL;
	v->peer_addr.len = 0;
}

/* The default known methods (RFC 9110 and PATCH), by length: one compare decides. */
static bool default_method(const char *m, size_t len)
{
	switch (len) {
	case 3:
		return memcmp(m, "GET", 3) == 0 || memcmp(m, "PUT", 3) == 0;
	case 4:
		return memcmp(m, "POST", 4) == 0 || memcmp(m, "HEAD", 4) == 0;
	case 5:
		return memcmp(m, "PATCH", 5) == 0 || memcmp(m, "TRACE", 5) == 0;
	case 6:
		return memcmp(m, "DELETE", 6) == 0;
	case 7:
		return memcmp(m, "OPTIONS", 7) == 0 || memcmp(m, "CONNECT", 7) == 0;
	}
	return false;
}

static bool slice_eq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	return alen == blen && memcmp(a, b, alen) == 0;
}

bool hspan_method_known(const char *m, size_t len)
{
	if (wt_cfg.nknown_methods > 0) {
		for (int i = 0; i < wt_cfg.nknown_methods; i++)
			if (slice_eq(m, len, wt_cfg.known_methods[i]))
				return true;
		return false;
	}
	return default_method(m, len);
}

static size_t path_len(const char *target, size_t len)
{
	const char *q = memchr(target, '?', len);
	return q ? (size_t)(q - target) : len;
}

/* Segment-wise match: "{name}" matches exactly one non-empty segment. */
static bool route_matches(const char *pat, const char *path, size_t len)
{
	const char *p = path, *end = path + len;
	while (*pat && p <= end) {
		if (*pat == '{') {
			const char *close = strchr(pat, '}');
			if (!close)
				return false;
			const char *seg = p;
			while (p < end && *p != '/')
				p++;
			if (p == seg)
				return false;
			pat = close + 1;
			continue;
		}
		if (p == end || *pat != *p)
			return false;
		pat++;
		p++;
	}
	return *pat == '\0' && p == end;
}

const char *hspan_route_match(const char *target, size_t len)
{
	size_t plen = path_len(target, len);
	for (int i = 0; i < wt_cfg.nroutes; i++)
		if (route_matches(wt_cfg.routes[i], target, plen))
			return wt_cfg.routes[i];
	return NULL;
}

bool hspan_path_excluded(const char *target, size_t len)
{
	size_t plen = path_len(target, len);
	for (int i = 0; i < wt_cfg.nexcluded_urls; i++)
		if (slice_eq(target, plen, wt_cfg.excluded_urls[i]))
			return true;
	return false;
}

/* Split "host[:port]" (with [v6] brackets) into host and port; port 0 if absent/invalid. */
static void split_host_port(struct wt_slice in, struct wt_slice *host, int *port)
{
	const char *p = in.p, *end = in.p + in.len;
	*port = 0;
	if (p < end && *p == '[') {
		const char *rb = memchr(p, ']', in.len);
		if (!rb) {
			*host = in;
			return;
		}
		host->p = p + 1;
		host->len = (size_t)(rb - p - 1);
		p = rb + 1;
	} else {
		const char *colon = memchr(p, ':', in.len);
		host->p = p;
		host->len = colon ? (size_t)(colon - p) : in.len;
		p = colon ? colon : end;
	}
	if (p < end && *p == ':') {
		int v = 0;
		for (p++; p < end && *p >= '0' && *p <= '9' && v < 65536; p++)
			v = v * 10 + (*p - '0');
		if (p == end && v > 0 && v < 65536)
			*port = v;
	}
}

static void add_method(struct exp_span *s, struct wt_slice m, const char *route)
{
	char name[300];
	bool known = hspan_method_known(m.p, m.len);
	if (known) {
		add_s(s, EXP_K_HTTP_REQUEST_METHOD, m.p, m.len);
	} else {
		add_s(s, EXP_K_HTTP_REQUEST_METHOD, "_OTHER", 6);
		add_s(s, EXP_K_HTTP_REQUEST_METHOD_ORIGINAL, m.p, m.len);
	}
	/* "{method} {route}", or the method alone; "HTTP" stands for an unknown method. */
	const char *mp = known ? m.p : "HTTP";
	size_t ml = known ? m.len : 4, n = 0;
	if (ml > sizeof(name) - 1)
		ml = sizeof(name) - 1;
	memcpy(name, mp, ml);
	n = ml;
	if (route) {
		size_t rl = strlen(route);
		if (rl > sizeof(name) - 2 - n)
			rl = sizeof(name) - 2 - n;
		name[n++] = ' ';
		memcpy(name + n, route, rl);
		n += rl;
	}
	exp_span_set_name(s, name, n);
}

static void add_common(struct exp_span *s, const struct wt_req_view *r, const struct wt_peer *peer)
{
	struct wt_slice addr = peer_addr(r, peer);

	if (addr.len) {
		add_s(s, EXP_K_NETWORK_PEER_ADDRESS, addr.p, addr.len);
		if (peer->port)
			exp_span_add_int_k(s, EXP_K_NETWORK_PEER_PORT, peer->port);
	}
	add_c(s, EXP_K_NETWORK_PROTOCOL_VERSION,
	      r->version_minor == 0 ? EXP_K_VAL_1_0 : EXP_K_VAL_1_1);
	if (r->user_agent.len)
		add_s(s, EXP_K_USER_AGENT_ORIGINAL, r->user_agent.p, r->user_agent.len);
}

/* First element of a comma list, OWS trimmed. */
static struct wt_slice first_of_list(struct wt_slice v)
{
	const char *c = memchr(v.p, ',', v.len);
	struct wt_slice out = {v.p, c ? (size_t)(c - v.p) : v.len};
	while (out.len && (out.p[0] == ' ' || out.p[0] == '\t'))
		out.p++, out.len--;
	while (out.len && (out.p[out.len - 1] == ' ' || out.p[out.len - 1] == '\t'))
		out.len--;
	return out;
}

/* Value of `key=` in the first element of a Forwarded header (RFC 7239), quotes removed. */
static struct wt_slice forwarded_param(struct wt_slice fwd, const char *key)
{
	struct wt_slice el = first_of_list(fwd), none = {NULL, 0};
	size_t klen = strlen(key);
	const char *p = el.p, *end = el.p + el.len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == ';'))
			p++;
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *pe = semi ? semi : end;
		if ((size_t)(pe - p) > klen && strncasecmp(p, key, klen) == 0 && p[klen] == '=') {
			struct wt_slice v = {p + klen + 1, (size_t)(pe - p - (ptrdiff_t)klen - 1)};
			if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"')
				v.p++, v.len -= 2;
			return v;
		}
		p = pe;
	}
	return none;
}

void hspan_server_request(struct exp_span *s, const struct wt_req_view *r,
			  const struct wt_peer *peer)
{
	s->kind = EXP_KIND_SERVER;
	const char *route = hspan_route_match(r->target.p, r->target.len);
	add_method(s, r->method, route);
	size_t plen = path_len(r->target.p, r->target.len);
	add_s(s, EXP_K_URL_PATH, r->target.p, plen);
	if (plen < r->target.len) {
		char q[1024];
		const char *qp = r->target.p + plen + 1;
		size_t ql = r->target.len - plen - 1;
		size_t qn = hspan_redact_url(q, sizeof(q), qp, ql);
		/* nothing redacted: the original, referenced in place when it is in the span */
		if (qn == ql && memcmp(q, qp, ql) == 0)
			add_s(s, EXP_K_URL_QUERY, qp, ql);
		else
			add_s(s, EXP_K_URL_QUERY, q, qn);
	}
	struct wt_slice proto = r->x_forwarded_proto;
	if (!proto.len && r->forwarded.len)
		proto = forwarded_param(r->forwarded, "proto");
	if (proto.len)
		add_s(s, EXP_K_URL_SCHEME, proto.p, first_of_list(proto).len);
	else
		add_c(s, EXP_K_URL_SCHEME, r->tls ? EXP_K_VAL_HTTPS : EXP_K_VAL_HTTP);
	if (route)
		add_s(s, EXP_K_HTTP_ROUTE, route, strlen(route));
	struct wt_slice authority = r->x_forwarded_host;
	if (!authority.len && r->forwarded.len)
		authority = forwarded_param(r->forwarded, "host");
	if (!authority.len)
		authority = r->host;
	if (authority.len) {
		struct wt_slice host;
		int port;
		split_host_port(first_of_list(authority), &host, &port);
		if (host.len) {
			add_s(s, EXP_K_SERVER_ADDRESS, host.p, host.len);
			if (port)
				exp_span_add_int_k(s, EXP_K_SERVER_PORT, port);
		}
	}
	struct wt_slice client = {NULL, 0};
	if (r->forwarded.len)
		client = forwarded_param(r->forwarded, "for");
	if (!client.len && r->x_forwarded_for.len)
		client = first_of_list(r->x_forwarded_for);
	if (!client.len)
		client = peer_addr(r, peer);
	if (client.len)
		add_s(s, EXP_K_CLIENT_ADDRESS, client.p, client.len);
	add_common(s, r, peer);
}

void hspan_client_request(struct exp_span *s, const struct wt_req_view *r,
			  const struct wt_peer *peer)
{
	s->kind = EXP_KIND_CLIENT;
	add_method(s, r->method, NULL);
	struct wt_slice host = {NULL, 0};
	int port = 0;
	char url[2048];
	char peerhost[64]; /* host:port made from the peer when there is no Host header */
	size_t ulen = 0;
	const char *t = r->target.p;
	const char *scheme = r->tls ? "https" : "http";
	size_t skip = 0;
	if (r->target.len > 7 && strncasecmp(t, "http://", 7) == 0)
		skip = 7, scheme = "http";
	else if (r->target.len > 8 && strncasecmp(t, "https://", 8) == 0)
		skip = 8, scheme = "https";
	if (skip) {
		/* absolute-form (a proxy request): the URL is the target itself */
		const char *a = t + skip, *end = t + r->target.len;
		const char *slash = memchr(a, '/', (size_t)(end - a));
		struct wt_slice auth = {a, (size_t)((slash ? slash : end) - a)};
		const char *at = memchr(auth.p, '@', auth.len);
		if (at)
			auth.len -= (size_t)(at + 1 - auth.p), auth.p = at + 1;
		split_host_port(auth, &host, &port);
		ulen = hspan_redact_url(url, sizeof(url), t, r->target.len);
	} else {
		struct wt_slice hostport = r->host;
		if (!hostport.len && peer->addr[0]) {
			int n = snprintf(peerhost, sizeof(peerhost),
					 peer->family == AF_INET6 ? "[%s]:%u" : "%s:%u", peer->addr,
					 peer->port);
			hostport.p = peerhost;
			hostport.len = n > 0 ? (size_t)n : 0;
		}
		split_host_port(hostport, &host, &port);
		char raw[2048];
		int n = snprintf(raw, sizeof(raw), "%s://%.*s%.*s", scheme, (int)hostport.len,
				 hostport.p, (int)r->target.len, r->target.p);
		if (n > 0)
			ulen = hspan_redact_url(url, sizeof(url), raw,
						(size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1);
	}
	if (!port)
		port = strcmp(scheme, "https") == 0 ? 443 : 80;
	if (host.len)
		add_s(s, EXP_K_SERVER_ADDRESS, host.p, host.len);
	exp_span_add_int_k(s, EXP_K_SERVER_PORT, port);
	add_s(s, EXP_K_URL_FULL, url, ulen);
	add_c(s, EXP_K_URL_SCHEME, strcmp(scheme, "https") == 0 ? EXP_K_VAL_HTTPS : EXP_K_VAL_HTTP);
	add_common(s, r, peer);
}

void hspan_response(struct exp_span *s, int code)
{
	exp_span_add_int_k(s, EXP_K_HTTP_RESPONSE_STATUS_CODE, code);
	bool error = code >= 500 || code < 100 || code > 599 ||
		     (code >= 400 && s->kind == EXP_KIND_CLIENT);
	if (error) {
		char buf[12];
		int n = snprintf(buf, sizeof(buf), "%d", code);
		/* a failure recorded first (a deferred status applied at the end) keeps its type */
		if (exp_span_find_attr(s, "error.type") == NULL)
			add_s(s, EXP_K_ERROR_TYPE, buf, n > 0 ? (size_t)n : 0);
		exp_span_set_status(s, EXP_STATUS_ERROR, NULL, 0);
	}
}

void hspan_error(struct exp_span *s, const char *type)
{
	if (exp_span_find_attr(s, "error.type") == NULL)
		add_s(s, EXP_K_ERROR_TYPE, type, strlen(type));
	exp_span_set_status(s, EXP_STATUS_ERROR, NULL, 0);
}

/* Query keys whose values are secrets (SEMCONV url.full / url.query, "development" advice). */
static const char *const signed_keys[] = {"X-Amz-Signature", "X-Amz-Credential",
					  "X-Amz-Security-Token", "AWSAccessKeyId",
					  "Signature", "sig", "X-Goog-Signature", NULL};

static bool is_signed_key(const char *k, size_t len)
{
	for (int i = 0; signed_keys[i]; i++)
		if (slice_eq(k, len, signed_keys[i]))
			return true;
	return false;
}

static size_t put(char *out, size_t cap, size_t o, const char *s, size_t n)
{
	if (o >= cap)
		return o;
	if (n > cap - o)
		n = cap - o;
	memcpy(out + o, s, n);
	return o + n;
}

size_t hspan_redact_url(char *out, size_t cap, const char *url, size_t len)
{
	size_t o = 0;
	const char *p = url, *end = url + len;
	/* userinfo: scheme://user:pass@host -> scheme://REDACTED:REDACTED@host */
	const char *sep = len > 3 ? memchr(url, ':', len) : NULL;
	if (sep && end - sep > 3 && sep[1] == '/' && sep[2] == '/') {
		const char *auth = sep + 3;
		const char *auth_end = auth;
		while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
			auth_end++;
		const char *at = memchr(auth, '@', (size_t)(auth_end - auth));
		o = put(out, cap, o, url, (size_t)(auth - url));
		if (at) {
			o = put(out, cap, o, "REDACTED:REDACTED@", 18);
			auth = at + 1;
		}
		o = put(out, cap, o, auth, (size_t)(auth_end - auth));
		p = auth_end;
	}
	const char *q = memchr(p, '?', (size_t)(end - p));
	const char *qs;
	if (q) {
		o = put(out, cap, o, p, (size_t)(q - p + 1));
		qs = q + 1;
	} else if (p == url && memchr(url, '=', len)) {
		qs = url; /* a bare query string (url.query) */
	} else {
		return put(out, cap, o, p, (size_t)(end - p));
	}
	for (p = qs; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		if (eq && is_signed_key(p, (size_t)(eq - p))) {
			o = put(out, cap, o, p, (size_t)(eq - p + 1));
			o = put(out, cap, o, "REDACTED", 8);
		} else {
			o = put(out, cap, o, p, (size_t)(pe - p));
		}
		if (amp)
			o = put(out, cap, o, "&", 1);
		p = pe + (amp ? 1 : 0);
	}
	return o;
}
