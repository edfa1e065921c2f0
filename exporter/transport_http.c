/*
 * transport_http.c - OTLP/HTTP (http/protobuf and http/json) over libcurl, and the curl
 * plumbing both transports share: options, callbacks, error mapping, configured headers.
 *
 * [OTLP] specification.md, "OTLP/HTTP": POST the ExportTraceServiceRequest to the configured
 * URL with Content-Type application/x-protobuf or application/json, optionally gzip'ed with
 * Content-Encoding: gzip. 2xx is success; its ExportTraceServiceResponse may carry
 * partial_success, which is logged and never retried. Failures carry a google.rpc.Status body,
 * whose message we log. The response body is limited to 4 MiB; over that the transfer is
 * aborted and the batch is not retried.
 *
 * Design: one easy handle (deliver.c) is reused for every request, so libcurl keeps the
 * connection alive between batches. Every option that matters is set on each attempt, so an
 * attempt never inherits a stale setting. The write callback appends into a buffer that lives
 * as long as the handle; the header callback picks out Retry-After and, for gRPC, the status
 * headers and trailers (libcurl hands HTTP/2 trailers to the header callback too).
 * CURLOPT_NOSIGNAL is always set: libcurl must never touch the host's signal dispositions.
 * exp_xfer_perform drives the transfer through a multi handle in short poll slices and cuts it
 * once the delivery deadline (or the exit-time hurry deadline) has passed.
 *
 * Never logs header values (they carry API keys): only names of skipped headers.
 * Thread safety: exporter thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transport_curl.h"
#include "wt_clock.h"
#include "wt_log.h"

/* [OTSPEC] protocol/exporter.md: the User-Agent SHOULD name the exporter, its language and
 * version, e.g. "OTel-OTLP-Exporter-<Lang>/<ver>". We are not an OpenTelemetry project
 * exporter, so the name is ours, with the same three parts. */
#define USER_AGENT "wiretrace-otlp-exporter-c/" WIRETRACE_VERSION

void exp_xfer_reset(struct exp_xfer *x, uint64_t deadline_ns)
{
	x->len = 0;
	x->over = false;
	x->alloc_failed = false;
	x->now_s = (int64_t)(wt_clock_wall_ns() / 1000000000ull);
	x->retry_after_ms = -1;
	x->grpc_status = -1;
	x->grpc_retry_ms = -1;
	x->grpc_gzip = false;
	x->grpc_message[0] = '\0';
	x->deadline_ns = deadline_ns;
}

void exp_xfer_free(struct exp_xfer *x)
{
	free(x->body);
	x->body = NULL;
	x->cap = 0;
	x->len = 0;
}

void exp_msg_copy(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i;

	if (cap == 0)
		return;
	for (i = 0; i < n && i + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[i] = '\0';
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct exp_xfer *x = ud;
	size_t n = size * nmemb;

	if (n > EXP_RESPONSE_MAX - x->len) {
		x->over = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (x->len + n > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		while (cap < x->len + n)
			cap *= 2;
		if (cap > EXP_RESPONSE_MAX)
			cap = EXP_RESPONSE_MAX;
		uint8_t *p = realloc(x->body, cap);
		if (!p) {
			x->alloc_failed = true;
			return 0;
		}
		x->body = p;
		x->cap = cap;
	}
	memcpy(x->body + x->len, data, n);
	x->len += n;
	return n;
}

static int hdr_is(const char *line, size_t n, const char *name, const char **val, size_t *vlen)
{
	size_t l = strlen(name);

	if (n <= l || line[l] != ':' || strncasecmp(line, name, l) != 0)
		return 0;
	line += l + 1;
	n -= l + 1;
	while (n && (*line == ' ' || *line == '\t'))
		line++, n--;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' ' ||
	             line[n - 1] == '\t'))
		n--;
	*val = line;
	*vlen = n;
	return 1;
}

static void grpc_header(struct exp_xfer *x, const char *line, size_t n)
{
	const char *v;
	size_t vl;

	if (hdr_is(line, n, "grpc-status", &v, &vl)) {
		int code = 0;
		size_t i;
		for (i = 0; i < vl && i < 3 && v[i] >= '0' && v[i] <= '9'; i++)
			code = code * 10 + (v[i] - '0');
		/* A malformed status is UNKNOWN (2), as gRPC clients do. */
		x->grpc_status = (i == vl && vl > 0) ? code : 2;
	} else if (hdr_is(line, n, "grpc-message", &v, &vl)) {
		char tmp[EXP_MSG_MAX];
		size_t m = exp_grpc_message_decode(v, vl, tmp, sizeof(tmp));
		exp_msg_copy(x->grpc_message, sizeof(x->grpc_message), tmp, m);
	} else if (hdr_is(line, n, "grpc-status-details-bin", &v, &vl)) {
		int64_t ms = exp_grpc_retry_info(v, vl);
		x->grpc_retry_ms = ms >= 0 ? ms : -1;
	} else if (hdr_is(line, n, "grpc-encoding", &v, &vl)) {
		x->grpc_gzip = vl == 4 && strncasecmp(v, "gzip", 4) == 0;
	}
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
	struct exp_xfer *x = ud;
	size_t n = size * nmemb;
	const char *v;
	size_t vl;

	if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* A new response head (after a 100 Continue, say): forget the previous one. */
		x->retry_after_ms = -1;
		x->grpc_status = -1;
		x->grpc_retry_ms = -1;
		x->grpc_message[0] = '\0';
	} else if (hdr_is(line, n, "retry-after", &v, &vl)) {
		x->retry_after_ms = exp_parse_retry_after(v, vl, x->now_s);
	} else if (n > 5 && strncasecmp(line, "grpc-", 5) == 0) {
		grpc_header(x, line, n);
	}
	return n;
}

#define POLL_SLICE_MS 25

static int past_deadline(const struct exp_xfer *x)
{
	uint64_t hurry = __atomic_load_n(&exp_hurry_ns, __ATOMIC_RELAXED);
	uint64_t now = wt_clock_mono_ns();

	return now >= x->deadline_ns || (hurry && now >= hurry);
}

/* libcurl's easy_perform polls for up to a second between checks of anything of ours, so a
 * deadline lowered at exit would be noticed late; driving the multi handle ourselves bounds
 * that to one poll slice. Removing an unfinished transfer closes its connection. */
CURLcode exp_xfer_perform(const struct exp_curl *c, CURL *h, struct exp_xfer *x)
{
	CURLcode result = CURLE_GOT_NOTHING;
	CURLMsg *m;
	int running = 1, left;

	if (c->multi_add_handle(x->multi, h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	for (;;) {
		if (c->multi_perform(x->multi, &running) != CURLM_OK) {
			result = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		if (past_deadline(x)) {
			result = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		c->multi_poll(x->multi, NULL, 0, POLL_SLICE_MS, NULL);
	}
	while ((m = c->multi_info_read(x->multi, &left)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == h && !running)
			result = m->data.result;
	c->multi_remove_handle(x->multi, h);
	return result;
}

/* Typed wrappers: libcurl's setopt is variadic and reads the argument by the option's type. */
#define SETL(opt, v) (rc |= c->easy_setopt(h, (opt), (long)(v)))
#define SETP(opt, v) (rc |= c->easy_setopt(h, (opt), (v)))

int exp_xfer_setup(const struct exp_curl *c, CURL *h, struct exp_xfer *x, const char *url,
                   const struct exp_request *r, struct curl_slist *hdrs)
{
	const struct exp_config *cfg = r->cfg;
	int rc = 0;

	SETP(CURLOPT_URL, url);
	SETL(CURLOPT_NOSIGNAL, 1);
	SETL(CURLOPT_POST, 1);
	SETP(CURLOPT_POSTFIELDS, (const void *)r->body);
	rc |= c->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
	SETP(CURLOPT_HTTPHEADER, hdrs);
	SETP(CURLOPT_USERAGENT, USER_AGENT);
	SETL(CURLOPT_TIMEOUT_MS, r->timeout_ms);
	SETL(CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
	SETL(CURLOPT_FOLLOWLOCATION, 0);
	SETL(CURLOPT_TCP_KEEPALIVE, 1);
	SETL(CURLOPT_FRESH_CONNECT, r->fresh);
	SETL(CURLOPT_FORBID_REUSE, 0);
	SETP(CURLOPT_HEADERFUNCTION, on_header);
	SETP(CURLOPT_HEADERDATA, (void *)x);
	SETP(CURLOPT_WRITEFUNCTION, on_body);
	SETP(CURLOPT_WRITEDATA, (void *)x);
	SETL(CURLOPT_NOPROGRESS, 1);
	/* NULL resets to libcurl's defaults (the system CA store, no client certificate). */
	SETP(CURLOPT_CAINFO, cfg->certificate);
	SETP(CURLOPT_SSLCERT, cfg->client_certificate);
	SETP(CURLOPT_SSLKEY, cfg->client_key);
	return rc ? -EINVAL : 0;
}

/* curl results after which retrying cannot help: the request or the local setup is wrong. */
static int permanent(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_LOGIN_DENIED:
		return 1;
	default:
		return 0;
	}
}

void exp_xfer_result(const struct exp_curl *c, CURL *h, CURLcode rc, const struct exp_xfer *x,
                     struct exp_attempt *a)
{
	long code = 0;

	a->transport_error = EXP_TERR_NONE;
	a->grpc_status = -1;
	a->retry_after_ms = x->retry_after_ms;
	a->rejected_spans = 0;
	if (c->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
	a->http_status = (int)code;
	if (rc == CURLE_OK)
		return;
	if (x->over)
		a->transport_error = EXP_TERR_PERMANENT;
	else if (code >= 200 && code < 300 && rc == CURLE_WRITE_ERROR)
		a->transport_error = EXP_TERR_NONE; /* answered; only the body could not be kept */
	else
		a->transport_error = permanent(rc) ? EXP_TERR_PERMANENT : EXP_TERR_RETRYABLE;
}

void exp_curl_errmsg(const struct exp_curl *c, CURLcode cr, char *msg, size_t cap)
{
	/* exp_xfer_perform reports a transfer cut at the deadline this way. */
	const char *m =
	    cr == CURLE_ABORTED_BY_CALLBACK ? "export deadline reached" : c->easy_strerror(cr);

	exp_msg_copy(msg, cap, m, strlen(m));
}

/* Headers the transports set themselves; a configured header of that name is ignored. */
static int reserved(const char *name)
{
	static const char *const names[] = {
	    "content-type", "content-encoding", "content-length", "transfer-encoding",
	    "te",           "expect",           "host",           "connection",
	    "user-agent",   "grpc-encoding",    "grpc-timeout",   "grpc-accept-encoding"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i]) == 0)
			return 1;
	return 0;
}

static int valid_field(const char *s, int is_name)
{
	if (is_name && !*s)
		return 0;
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n' || (is_name && (*s == ':' || *s == ' ')))
			return 0;
	}
	return 1;
}

int exp_headers_add(const struct exp_curl *c, struct curl_slist **l, const char *line)
{
	struct curl_slist *n = c->slist_append(*l, line);

	if (!n)
		return -ENOMEM;
	*l = n;
	return 0;
}

int exp_headers_user(const struct exp_curl *c, struct curl_slist **l, const struct exp_config *cfg)
{
	static int warned;
	char line[1024];

	for (int i = 0; i < cfg->nheaders; i++) {
		const struct exp_header *hd = &cfg->headers[i];
		if (!hd->name || !hd->value)
			continue;
		if (reserved(hd->name) || !valid_field(hd->name, 1) || !valid_field(hd->value, 0)) {
			wt_log_once(warned, WT_LOG_WARN,
			            "ignoring exporter header \"%s\": reserved or invalid "
			            "(its value is not shown)",
			            valid_field(hd->name, 1) ? hd->name : "(invalid name)");
			continue;
		}
		/* "Name;" is libcurl's spelling of a header with an empty value ("Name:" would
		 * remove the header instead). */
		int n = *hd->value ? snprintf(line, sizeof(line), "%s: %s", hd->name, hd->value)
		                   : snprintf(line, sizeof(line), "%s;", hd->name);
		if (n < 0 || (size_t)n >= sizeof(line)) {
			wt_log_once(warned, WT_LOG_WARN,
			            "ignoring exporter header \"%s\": too long", hd->name);
			continue;
		}
		if (exp_headers_add(c, l, line) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Reduce a 2xx body to the partial-success count and message. */
static void http_success_body(const struct exp_request *r, const struct exp_xfer *x,
                              struct exp_attempt *a, char *msg, size_t cap)
{
	const char *m = NULL;
	size_t ml = 0;
	int rc;

	if (!x->len || x->over)
		return;
	if (r->cfg->protocol == EXP_PROTO_HTTP_JSON)
		rc = exp_json_partial_success((const char *)x->body, x->len, &a->rejected_spans, &m,
		                              &ml);
	else
		rc = exp_pb_partial_success(x->body, x->len, &a->rejected_spans, &m, &ml);
	if (rc < 0)
		wt_debug("could not parse the collector's %zu-byte success response", x->len);
	if (m)
		exp_msg_copy(msg, cap, m, ml);
}

/* A failure body is a google.rpc.Status in the request's encoding; keep its message. */
static void http_failure_body(const struct exp_request *r, const struct exp_xfer *x, char *msg,
                              size_t cap)
{
	const char *m = NULL;
	size_t ml = 0;

	if (!x->len || x->over)
		return;
	if (r->cfg->protocol != EXP_PROTO_HTTP_JSON &&
	    exp_pb_status_message(x->body, x->len, &m, &ml) == 0 && m) {
		exp_msg_copy(msg, cap, m, ml);
		return;
	}
	/* JSON, or not protobuf after all (a proxy's text/html page): the start of it. */
	exp_msg_copy(msg, cap, (const char *)x->body, x->len < 160 ? x->len : 160);
}

int exp_http_attempt(const struct exp_curl *c, CURL *h, struct exp_xfer *x,
                     const struct exp_request *r, struct exp_attempt *a, char *msg, size_t cap)
{
	struct curl_slist *hdrs = NULL;
	const char *ctype = r->cfg->protocol == EXP_PROTO_HTTP_JSON
	                        ? "Content-Type: application/json"
	                        : "Content-Type: application/x-protobuf";
	CURLcode cr;
	int rc;

	msg[0] = '\0';
	rc = exp_headers_add(c, &hdrs, ctype);
	if (!rc && r->gzipped)
		rc = exp_headers_add(c, &hdrs, "Content-Encoding: gzip");
	/* No "Expect: 100-continue" round trip for large bodies: the collector reads them. */
	if (!rc)
		rc = exp_headers_add(c, &hdrs, "Expect:");
	if (!rc)
		rc = exp_headers_user(c, &hdrs, r->cfg);
	if (!rc)
		rc = exp_xfer_setup(c, h, x, r->cfg->endpoint, r, hdrs);
	/* HTTP/2 when TLS's ALPN agrees, HTTP/1.1 otherwise ([OTLP]: either is fine). */
	if (!rc &&
	    c->easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS) != CURLE_OK)
		rc = c->easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) ? -EINVAL
		                                                                          : 0;
	if (rc)
		goto out;
	cr = exp_xfer_perform(c, h, x);
	exp_xfer_result(c, h, cr, x, a);
	if (a->transport_error)
		exp_curl_errmsg(c, cr, msg, cap);
	else if (a->http_status >= 200 && a->http_status < 300)
		http_success_body(r, x, a, msg, cap);
	else
		http_failure_body(r, x, msg, cap);
out:
	/* The list must outlive the transfer only; detach it so the handle holds no stale
	 * pointer between attempts. */
	c->easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	c->slist_free_all(hdrs);
	return rc;
}
