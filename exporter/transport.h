/*
 * transport.h - delivering one encoded batch to the backend (internal to exporter/).
 *
 * The batching thread (exporter.c) encodes a batch with the configured encoder and hands the
 * body to exp_deliver(), which owns the transport (OTLP/HTTP via libcurl, OTLP/gRPC via libcurl
 * over HTTP/2), the retry policy and the back-off. Everything here runs on the exporter thread
 * only; nothing here is called by a host thread, except exp_transport_set_deadline().
 */
#ifndef EXP_TRANSPORT_H
#define EXP_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "exporter.h"

enum exp_outcome {
	EXP_OUT_EXPORTED = 0, /* 2xx / grpc-status 0 (partial success logged, not retried) */
	EXP_OUT_DROPPED = 1,  /* non-retryable answer (e.g. 400): dropped, not retried */
	EXP_OUT_GAVE_UP = 2,  /* retryable failures until the deadline ran out */
};

/* exp_attempt.transport_error values. */
#define EXP_TERR_NONE 0
#define EXP_TERR_RETRYABLE 1 /* refused, reset, timed out, closed without an answer, DNS */
#define EXP_TERR_PERMANENT                                                                         \
	2 /* retrying cannot help: bad URL, TLS verification, response body                        \
	   * over the 4 MiB limit, protocol not supported by libcurl */

/* Result of one attempt, as the retry policy sees it. */
struct exp_attempt {
	int transport_error;    /* EXP_TERR_*: nonzero when no usable HTTP answer came */
	int http_status;        /* 0 if none */
	int grpc_status;        /* -1 if none (HTTP transports) */
	int64_t retry_after_ms; /* from Retry-After or gRPC RetryInfo; -1 if absent */
	int64_t rejected_spans; /* partial_success.rejected_spans, 0 if absent */
};

/* Retry policy (OTLP spec): returns 1 if the attempt should be retried, 0 if not (success
 * included). With a gRPC status, the gRPC table decides; RESOURCE_EXHAUSTED is retryable only
 * when the status carried RetryInfo (retry_after_ms >= 0). */
int exp_retry_classify(const struct exp_attempt *a);

/* 1 if the attempt succeeded (2xx, or grpc-status 0 when a gRPC status is present). */
int exp_attempt_ok(const struct exp_attempt *a);

/* Back-off before retry number `attempt` (1-based): exponential from 100 ms, capped at 5 s,
 * full jitter using `rnd` (uniform 64-bit); Retry-After wins when present. Milliseconds. */
int64_t exp_backoff_ms(int attempt, uint64_t rnd, int64_t retry_after_ms);

/* Parse a Retry-After value (delta-seconds or HTTP-date, RFC 9110 10.2.3) relative to `now`
 * (seconds since the epoch). Returns milliseconds >= 0, or -1 if invalid. */
int64_t exp_parse_retry_after(const char *v, size_t len, int64_t now);

/* Deliver one batch: `body` is the encoded ExportTraceServiceRequest (protobuf or JSON per
 * cfg->protocol), uncompressed. Compresses, posts, retries within the export timeout. Loads
 * libcurl (dlopen) on first use; if that fails, logs once and returns EXP_OUT_DROPPED.
 * The deadline is the smaller of cfg->bsp_export_timeout_ms and cfg->timeout_ms (0 = no
 * limit; if both are 0, EXP_DELIVER_MAX_MS), lowered further by exp_transport_set_deadline().
 * Logs one warning the first time the collector is unreachable and one the first time spans
 * are lost here; later failures are debug lines. Never logs header values. */
int exp_deliver(const struct exp_config *cfg, const uint8_t *body, size_t len, int nspans);

#define EXP_DELIVER_MAX_MS 30000

/* Any thread: make the current and every later delivery end by `mono_ns` (CLOCK_MONOTONIC, as
 * wt_clock_mono_ns()); 0 removes the limit. For the bounded flush at exit. Deliveries stop
 * EXP_HURRY_MARGIN_MS before `mono_ns` (a transfer in progress is cut within one 25 ms poll
 * slice, a back-off sleep within 20 ms), so that the exporter thread can still release the
 * transport (exp_transport_shutdown) and exit by `mono_ns`. */
#define EXP_HURRY_MARGIN_MS 100
void exp_transport_set_deadline(uint64_t mono_ns);

/* Release the connection and curl handles (exporter thread, at shutdown). In a forked child
 * whose handle came from the parent, the handle is abandoned instead: cleaning it up would
 * talk on the parent's connection. */
void exp_transport_shutdown(void);

/* --- response parsing (pure functions, exposed for the unit tests) ---------------------- */

/* ExportTraceServiceResponse (protobuf): partial_success (1) { rejected_spans (1, int64),
 * error_message (2, string) }. Unknown fields are skipped. Returns 0 (fields absent leave
 * *rejected = 0, *msg = NULL) or -EBADMSG. *msg points into `p`. */
int exp_pb_partial_success(const uint8_t *p, size_t n, int64_t *rejected, const char **msg,
                           size_t *msglen);

/* The same in OTLP/JSON: {"partialSuccess":{"rejectedSpans":N|"N","errorMessage":"..."}}.
 * A lenient scan (the body is the collector's, not ours): 0, or -EBADMSG when the value of
 * rejectedSpans is not an integer. The message is returned raw (JSON escapes kept). */
int exp_json_partial_success(const char *p, size_t n, int64_t *rejected, const char **msg,
                             size_t *msglen);

/* grpc-status-details-bin (base64 of google.rpc.Status): the RetryInfo.retry_delay found in
 * `details`, in ms, or -1 when there is none; -EBADMSG when malformed. */
int64_t exp_grpc_retry_info(const char *b64, size_t n);

/* Percent-decode a grpc-message value ([GRPC] PROTOCOL-HTTP2.md) into out (NUL-terminated,
 * truncated to cap - 1); invalid escapes are copied as they are. Returns the length. */
size_t exp_grpc_message_decode(const char *in, size_t n, char *out, size_t cap);

/* The gRPC code a client infers from an HTTP status when the response has no grpc-status
 * ([GRPC] doc/http-grpc-status-mapping.md). */
int exp_grpc_from_http(int http_status);

#endif
