/*
 * transport_curl.h - what deliver.c, transport_http.c and transport_grpc.c share (internal).
 *
 * deliver.c owns the one reused curl easy handle (connection reuse, keep-alive) and the retry
 * loop; an attempt function sets the request up on that handle, performs it, and reduces the
 * answer to a struct exp_attempt. The response state that curl's callbacks fill lives in a
 * struct exp_xfer owned by deliver.c and reused across attempts.
 *
 * Thread safety: exporter thread only.
 */
#ifndef EXP_TRANSPORT_CURL_H
#define EXP_TRANSPORT_CURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curl_loader.h"
#include "transport.h"

/* Largest response body we read ([OTLP] specification.md: clients MUST limit it, 4 MiB
 * recommended; an over-limit response is treated as non-retryable). */
#define EXP_RESPONSE_MAX (4u << 20)
/* Largest grpc-status-details-bin value we decode. */
#define EXP_GRPC_DETAILS_MAX 16384
/* Longest server-provided message kept for the log. */
#define EXP_MSG_MAX 256

/* Per-attempt response state, filled by curl's header and write callbacks. */
struct exp_xfer {
	uint8_t *body; /* response body so far (owned, reused; freed by exp_xfer_free) */
	size_t len;
	size_t cap;
	bool over; /* the body went past EXP_RESPONSE_MAX: the transfer was aborted */
	bool alloc_failed;
	int64_t now_s; /* wall clock at the start of the attempt, for HTTP-date Retry-After */
	int64_t retry_after_ms;         /* -1 when absent */
	int grpc_status;                /* -1 when no grpc-status header or trailer came */
	int64_t grpc_retry_ms;          /* RetryInfo from grpc-status-details-bin; -1 when absent */
	bool grpc_gzip;                 /* the response said grpc-encoding: gzip */
	char grpc_message[EXP_MSG_MAX]; /* percent-decoded */
	uint64_t deadline_ns;           /* CLOCK_MONOTONIC; the transfer is cut past it */
	CURLM *multi;                   /* drives the easy handle (owned by deliver.c) */
};

/* One request as the transports see it. */
struct exp_request {
	const struct exp_config *cfg;
	const uint8_t *body; /* final bytes: compressed when gzipped (gRPC: without the prefix) */
	size_t len;
	bool gzipped;
	long timeout_ms; /* this attempt's budget, >= 1 */
	bool fresh;      /* open a new connection (the last attempt failed in transport) */
};

/* Any thread may lower it (exp_transport_set_deadline); read with __atomic loads. Already
 * includes the margin left for cleaning up before the caller's own deadline. 0 = none. */
extern uint64_t exp_hurry_ns;

void exp_xfer_reset(struct exp_xfer *x, uint64_t deadline_ns);
void exp_xfer_free(struct exp_xfer *x);

/* Options every attempt needs (both transports): URL, body, headers, timeouts, NOSIGNAL, TLS
 * files, the callbacks bound to *x. Returns 0, or -EINVAL if libcurl refused an option. */
int exp_xfer_setup(const struct exp_curl *c, CURL *h, struct exp_xfer *x, const char *url,
                   const struct exp_request *r, struct curl_slist *hdrs);

/* Append one "Name: value" line to *l. 0 or -ENOMEM (*l unchanged; the caller frees it). */
int exp_headers_add(const struct exp_curl *c, struct curl_slist **l, const char *line);

/* Append cfg's configured headers (OTEL_EXPORTER_OTLP_HEADERS) to *l, skipping (with one
 * warning naming the header, never its value) the ones the transport sets itself and any
 * with CR or LF. 0 or -ENOMEM. */
int exp_headers_user(const struct exp_curl *c, struct curl_slist **l, const struct exp_config *cfg);

/* Perform the transfer set up on h, in poll slices of at most 25 ms so that the deadline (and
 * a hurry deadline lowered meanwhile by another thread) is noticed promptly. Returns curl's
 * result; CURLE_ABORTED_BY_CALLBACK when cut at the deadline. */
CURLcode exp_xfer_perform(const struct exp_curl *c, CURL *h, struct exp_xfer *x);

/* Fill a->transport_error and a->http_status from curl's result and the handle. */
void exp_xfer_result(const struct exp_curl *c, CURL *h, CURLcode rc, const struct exp_xfer *x,
                     struct exp_attempt *a);

/* The message for a failed transfer (curl's, or ours for a deadline abort). */
void exp_curl_errmsg(const struct exp_curl *c, CURLcode cr, char *msg, size_t cap);

/* Keep a printable copy of a server message for the log (control bytes become '?'). */
void exp_msg_copy(char *dst, size_t cap, const char *src, size_t n);

/* One attempt of each transport. `msg` receives the server's explanation, if any (partial
 * success error_message, google.rpc.Status message, grpc-message). Return 0 (the outcome is in
 * *a) or a negative errno when the request could not even be set up. */
int exp_http_attempt(const struct exp_curl *c, CURL *h, struct exp_xfer *x,
                     const struct exp_request *r, struct exp_attempt *a, char *msg, size_t cap);
int exp_grpc_attempt(const struct exp_curl *c, CURL *h, struct exp_xfer *x,
                     const struct exp_request *r, struct exp_attempt *a, char *msg, size_t cap);

/* Free the gRPC framing buffer (exporter thread, at shutdown). */
void exp_grpc_release(void);

/* Protobuf wire reading (response.c). */
struct exp_pb_field {
	uint32_t num;
	int wire;
	uint64_t v;          /* varint / fixed value */
	const uint8_t *data; /* length-delimited payload */
	size_t len;
};
int exp_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);
int exp_pb_next(const uint8_t **p, const uint8_t *end, struct exp_pb_field *f);
/* google.rpc.Status.message (field 2), for logging a failure body. 0 or -EBADMSG. */
int exp_pb_status_message(const uint8_t *p, size_t n, const char **msg, size_t *msglen);

#endif
