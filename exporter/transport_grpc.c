/*
 * transport_grpc.c - OTLP/gRPC: unary TraceService/Export over HTTP/2 through libcurl.
 *
 * [GRPC] doc/PROTOCOL-HTTP2.md and [OTLP] specification.md, "OTLP/gRPC": the request is an
 * HTTP/2 POST to /opentelemetry.proto.collector.trace.v1.TraceService/Export with
 * content-type: application/grpc and te: trailers; its body is one Length-Prefixed-Message: a
 * compressed-flag byte (1 when grpc-encoding names the compression), a 4-byte big-endian
 * length, then the protobuf ExportTraceServiceRequest. The outcome is grpc-status (decimal)
 * and grpc-message (percent-encoded) in the trailers, or in the headers of a "trailers-only"
 * response; libcurl gives both to the header callback (transport_http.c), which also decodes
 * grpc-status-details-bin for google.rpc.RetryInfo.
 *
 * No gRPC library: a unary call is one HTTP/2 request, which libcurl already does well, and it
 * keeps the exporter to one dependency loaded on demand. Cleartext endpoints (http://, or no
 * scheme with OTEL_EXPORTER_OTLP_INSECURE=true) use HTTP/2 with prior knowledge (h2c, as
 * gRPC servers expect, no Upgrade); https:// negotiates h2 by ALPN and fails (not retried)
 * if the server only speaks HTTP/1.1.
 *
 * RetryInfo: RESOURCE_EXHAUSTED is retried only when the status details carry RetryInfo, and a
 * RetryInfo delay on any retryable code replaces the back-off, as the OTLP specification's
 * throttling section asks. Other detail types are ignored.
 *
 * When the HTTP status is not 200 and no grpc-status came (a proxy answered), the code is
 * inferred from the HTTP status ([GRPC] doc/http-grpc-status-mapping.md).
 *
 * Thread safety: exporter thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport_curl.h"
#include "wt_log.h"

#define EXPORT_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define GRPC_INTERNAL 13

static uint8_t *frame;
static size_t frame_cap;
static char *url;

/* scheme://authority of the endpoint + the method path. gRPC addresses a service by path, so
 * any path in the configured endpoint is replaced, not prefixed (as the Java and Go exporters
 * do). An endpoint without a scheme is cleartext only when configured insecure. */
static const char *grpc_url(const struct exp_config *cfg)
{
	const char *ep = cfg->endpoint ? cfg->endpoint : "";
	const char *scheme = "", *auth = ep, *sep = strstr(ep, "://");
	size_t alen;

	if (sep)
		auth = sep + 3;
	else
		scheme = cfg->insecure ? "http://" : "https://";
	alen = strcspn(auth, "/?#");
	size_t need = strlen(scheme) + (size_t)(auth - ep) + alen + sizeof(EXPORT_PATH);
	free(url);
	url = malloc(need);
	if (!url)
		return NULL;
	snprintf(url, need, "%s%.*s%s", scheme, (int)((auth - ep) + alen), ep, EXPORT_PATH);
	return url;
}

/* libcurl 7.88.x cannot reuse an HTTP/2 prior-knowledge connection: the second request on it
 * fails with CURLE_HTTP2 ("Error in the HTTP2 framing layer"; curl issue 10634, fixed in 8.0.0
 * by pull request 10643). Debian 12 ships 7.88.1, so there every h2c call gets its own
 * connection; TLS (ALPN) connections are not affected. */
static int reuse_broken(const struct exp_curl *c)
{
	return c->version_num >= 0x075800 && c->version_num < 0x080000;
}

static int is_cleartext(const char *u)
{
	return strncmp(u, "http://", 7) == 0;
}

/* The Length-Prefixed-Message in a buffer reused across batches. */
static int framed(const struct exp_request *r, struct exp_request *out)
{
	size_t need = r->len + 5;

	if (r->len > UINT32_MAX)
		return -EFBIG;
	if (need > frame_cap) {
		uint8_t *p = realloc(frame, need);
		if (!p)
			return -ENOMEM;
		frame = p;
		frame_cap = need;
	}
	frame[0] = r->gzipped ? 1 : 0;
	frame[1] = (uint8_t)(r->len >> 24);
	frame[2] = (uint8_t)(r->len >> 16);
	frame[3] = (uint8_t)(r->len >> 8);
	frame[4] = (uint8_t)r->len;
	memcpy(frame + 5, r->body, r->len);
	*out = *r;
	out->body = frame;
	out->len = need;
	return 0;
}

static int grpc_headers(const struct exp_curl *c, const struct exp_request *r,
                        struct curl_slist **l)
{
	char tmo[40];
	int rc;

	rc = exp_headers_add(c, l, "Content-Type: application/grpc");
	if (!rc)
		rc = exp_headers_add(c, l, "TE: trailers");
	if (!rc && r->gzipped)
		rc = exp_headers_add(c, l, "grpc-encoding: gzip");
	/* Tell the server our deadline so it can stop working for a caller that left
	 * ([GRPC] Timeout: at most 8 digits). */
	snprintf(tmo, sizeof(tmo), "grpc-timeout: %ldm",
	         r->timeout_ms > 99999999 ? 99999999L : r->timeout_ms);
	if (!rc)
		rc = exp_headers_add(c, l, tmo);
	if (!rc)
		rc = exp_headers_add(c, l, "Accept:");
	if (!rc)
		rc = exp_headers_add(c, l, "Expect:");
	if (!rc)
		rc = exp_headers_user(c, l, r->cfg);
	return rc;
}

/* Partial success from the response message (a Length-Prefixed-Message too). */
static void grpc_response(const struct exp_xfer *x, struct exp_attempt *a, char *msg, size_t cap)
{
	const char *m = NULL;
	size_t ml = 0;
	uint32_t n;

	if (x->len < 5 || x->body[0] != 0) /* none, or compressed (we never asked for that) */
		return;
	n = (uint32_t)x->body[1] << 24 | (uint32_t)x->body[2] << 16 | (uint32_t)x->body[3] << 8 |
	    x->body[4];
	if (n > x->len - 5 ||
	    exp_pb_partial_success(x->body + 5, n, &a->rejected_spans, &m, &ml) < 0) {
		wt_debug("could not parse the collector's gRPC response (%zu bytes)", x->len);
		return;
	}
	if (m)
		exp_msg_copy(msg, cap, m, ml);
}

/* Reduce a completed exchange (no transport error) to a gRPC status. */
static void grpc_outcome(const struct exp_curl *c, CURL *h, const struct exp_xfer *x,
                         struct exp_attempt *a, char *msg, size_t cap)
{
	long ver = 0;

	if (c->easy_getinfo(h, CURLINFO_HTTP_VERSION, &ver) == CURLE_OK &&
	    ver != CURL_HTTP_VERSION_2_0) {
		a->transport_error = EXP_TERR_PERMANENT;
		exp_msg_copy(msg, cap, "the server did not speak HTTP/2", 31);
		return;
	}
	if (x->grpc_status >= 0)
		a->grpc_status = x->grpc_status;
	else if (a->http_status != 200)
		a->grpc_status = exp_grpc_from_http(a->http_status);
	else
		a->grpc_status = GRPC_INTERNAL; /* 200 without a status: not a gRPC answer */
	a->retry_after_ms = x->grpc_retry_ms;
	if (a->grpc_status == 0)
		grpc_response(x, a, msg, cap);
	else if (x->grpc_message[0])
		exp_msg_copy(msg, cap, x->grpc_message, strlen(x->grpc_message));
}

int exp_grpc_attempt(const struct exp_curl *c, CURL *h, struct exp_xfer *x,
                     const struct exp_request *r, struct exp_attempt *a, char *msg, size_t cap)
{
	struct curl_slist *hdrs = NULL;
	struct exp_request fr;
	const char *u;
	CURLcode cr;
	long ver;
	int rc;

	msg[0] = '\0';
	u = grpc_url(r->cfg);
	if (!u)
		return -ENOMEM;
	rc = framed(r, &fr);
	if (!rc)
		rc = grpc_headers(c, r, &hdrs);
	if (!rc)
		rc = exp_xfer_setup(c, h, x, u, &fr, hdrs);
	ver = is_cleartext(u) ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : CURL_HTTP_VERSION_2TLS;
	if (!rc && c->easy_setopt(h, CURLOPT_HTTP_VERSION, ver) != CURLE_OK)
		rc = -EINVAL;
	if (!rc && ver == CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE && reuse_broken(c))
		rc = c->easy_setopt(h, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK ? -EINVAL : 0;
	if (rc)
		goto out;
	cr = exp_xfer_perform(c, h, x);
	exp_xfer_result(c, h, cr, x, a);
	/* A 2xx HTTP status alone is no gRPC answer: without the trailers the call's outcome
	 * is unknown, which for a unary call is a transport failure (retryable). */
	if (cr != CURLE_OK && !a->transport_error && x->grpc_status < 0)
		a->transport_error = EXP_TERR_RETRYABLE;
	if (a->transport_error)
		exp_curl_errmsg(c, cr, msg, cap);
	else
		grpc_outcome(c, h, x, a, msg, cap);
out:
	c->easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	c->slist_free_all(hdrs);
	return rc;
}

void exp_grpc_release(void)
{
	free(frame);
	frame = NULL;
	frame_cap = 0;
	free(url);
	url = NULL;
}
