/*
 * deliver.c - one batch to the collector: compress, post, retry with back-off, give up in time.
 *
 * exp_deliver() is the exporter thread's only way out of the process. It owns the one libcurl
 * easy handle and the multi handle that drives it (both reused: the multi handle's connection
 * cache keeps the connection to the collector alive between batches), the retry loop and what
 * the agent says about failures.
 *
 * The loop ([OTLP] specification.md "Failures"; [OTSPEC] protocol/exporter.md "Retry"):
 * attempt; on success (partial success included) stop; on a non-retryable answer drop the
 * batch; otherwise wait the back-off (retry.c: exponential with full jitter, or the server's
 * Retry-After / RetryInfo) and try again. Everything happens before one deadline: the smaller
 * of OTEL_BSP_EXPORT_TIMEOUT and OTEL_EXPORTER_OTLP_TIMEOUT from the start of the delivery,
 * lowered at exit by exp_transport_set_deadline(). Each attempt's curl timeout is what remains;
 * a wait that would end past the deadline is not started (the batch is given up at once).
 *
 * Logging: a collector that is down would otherwise produce one line per batch forever, so
 * the first "unreachable" and the first "spans lost" are warnings and everything after that
 * is a debug line. URLs are logged without userinfo and query; header values never.
 *
 * Fork: the handle and its connection belong to the process that made them. A forked child
 * abandons the inherited handle (never cleans it up: that could write on the parent's
 * connection, e.g. a TLS close_notify) and makes its own.
 *
 * Thread safety: exporter thread only, except exp_transport_set_deadline() (any thread, one
 * atomic store). Never called with a host lock held; it may block up to the deadline.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "transport_curl.h"
#include "wt_clock.h"
#include "wt_log.h"

#define NS_PER_MS 1000000ull
#define NAP_SLICE_NS (20 * NS_PER_MS)

uint64_t exp_hurry_ns;

static CURL *easy;
static CURLM *multi;
static pid_t easy_pid;
static struct exp_xfer xfer;
static uint64_t rng;
static pid_t rng_pid;
static int warned_unreachable;
static int warned_lost;
static int warned_partial;
static int warned_nohttp2;

void exp_transport_set_deadline(uint64_t mono_ns)
{
	uint64_t margin = EXP_HURRY_MARGIN_MS * NS_PER_MS;

	/* 1, not 0, for a deadline already (almost) here: 0 means "none". */
	if (mono_ns)
		mono_ns = mono_ns > margin + 1 ? mono_ns - margin : 1;
	__atomic_store_n(&exp_hurry_ns, mono_ns, __ATOMIC_RELAXED);
}

/* splitmix64: jitter needs spread, not secrecy; seeded per process so that a fork child's
 * retries do not march in step with its parent's. */
static uint64_t next_random(void)
{
	pid_t pid = getpid();
	uint64_t z;

	if (rng_pid != pid) {
		rng = wt_clock_mono_ns() ^ ((uint64_t)pid << 32) ^ (uint64_t)(uintptr_t)&rng;
		rng_pid = pid;
	}
	z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static CURL *handle(const struct exp_curl *c)
{
	pid_t pid = getpid();

	if (easy && easy_pid != pid)
		easy = NULL, multi = NULL; /* the parent's: abandoned on purpose, see above */
	if (!easy) {
		easy = c->easy_init();
		multi = c->multi_init();
		easy_pid = pid;
		if (!easy || !multi) {
			if (easy)
				c->easy_cleanup(easy);
			if (multi)
				c->multi_cleanup(multi);
			easy = NULL, multi = NULL;
		}
	}
	xfer.multi = multi;
	return easy;
}

/* scheme://host[:port]/path of a URL, without userinfo or query, for the log. */
static void safe_url(const char *u, char *out, size_t cap)
{
	const char *s = u ? u : "", *auth = strstr(s, "://"), *at, *end;
	size_t slen;

	auth = auth ? auth + 3 : s;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	slen = (size_t)(auth - s);
	if (at)
		auth = at + 1;
	end = auth + strcspn(auth, "?#");
	snprintf(out, cap, "%.*s%.*s", (int)slen, s, (int)(end - auth), auth);
}

static uint64_t deadline_for(const struct exp_config *cfg, uint64_t start)
{
	int64_t ms = 0;

	if (cfg->bsp_export_timeout_ms > 0)
		ms = cfg->bsp_export_timeout_ms;
	if (cfg->timeout_ms > 0 && (ms == 0 || cfg->timeout_ms < ms))
		ms = cfg->timeout_ms;
	if (ms == 0)
		ms = EXP_DELIVER_MAX_MS;
	return start + (uint64_t)ms * NS_PER_MS;
}

/* The effective deadline now: ours, or the exit-time one if that is earlier. */
static uint64_t effective(uint64_t deadline)
{
	uint64_t hurry = __atomic_load_n(&exp_hurry_ns, __ATOMIC_RELAXED);

	return hurry && hurry < deadline ? hurry : deadline;
}

/* Sleep `ms`, in slices so that a lowered deadline ends the wait promptly. */
static void nap(int64_t ms, uint64_t deadline)
{
	uint64_t until = wt_clock_mono_ns() + (uint64_t)ms * NS_PER_MS, now;

	while ((now = wt_clock_mono_ns()) < until && now < effective(deadline)) {
		uint64_t d = until - now < NAP_SLICE_NS ? until - now : NAP_SLICE_NS;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)d};
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	}
}

static void describe(const struct exp_attempt *a, char *out, size_t cap)
{
	if (a->transport_error)
		snprintf(out, cap, "no answer");
	else if (a->grpc_status >= 0)
		snprintf(out, cap, "grpc-status %d (HTTP %d)", a->grpc_status, a->http_status);
	else
		snprintf(out, cap, "HTTP %d", a->http_status);
}

static void log_failure(const struct exp_config *cfg, const struct exp_attempt *a, int n,
                        const char *msg, int will_retry)
{
	char url[256], what[64];

	safe_url(cfg->endpoint, url, sizeof(url));
	describe(a, what, sizeof(what));
	if (a->transport_error == EXP_TERR_RETRYABLE)
		wt_log_once(warned_unreachable, WT_LOG_WARN,
		            "cannot reach the collector at %s (%s); retrying with back-off, later "
		            "failures are logged at debug level",
		            url, msg);
	wt_debug("export attempt %d to %s: %s%s%s%s", n, url, what, msg[0] ? ": " : "", msg,
	         will_retry ? " (will retry)" : "");
}

static void log_lost(const struct exp_config *cfg, int nspans, int outcome, const char *msg)
{
	char url[256];

	safe_url(cfg->endpoint, url, sizeof(url));
	if (!__atomic_exchange_n(&warned_lost, 1, __ATOMIC_RELAXED))
		wt_warn("%d spans lost: the collector at %s %s%s%s; further losses are logged at "
		        "debug level and counted",
		        nspans, url,
		        outcome == EXP_OUT_GAVE_UP ? "did not accept them in time"
		                                   : "refused them (not retryable)",
		        msg[0] ? ": " : "", msg);
	else
		wt_debug("%d spans lost (%s)", nspans,
		         outcome == EXP_OUT_GAVE_UP ? "gave up" : "not retryable");
}

static void log_partial(const struct exp_attempt *a, const char *msg)
{
	if (a->rejected_spans == 0 && !msg[0])
		return;
	/* [OTLP]: rejected_spans == 0 with a message is a warning from the server. */
	if (!__atomic_exchange_n(&warned_partial, 1, __ATOMIC_RELAXED))
		wt_warn("collector accepted the batch partially: %lld spans rejected%s%s (not "
		        "retried; later partial successes are logged at debug level)",
		        (long long)a->rejected_spans, msg[0] ? ": " : "", msg);
	else
		wt_debug("partial success: %lld spans rejected%s%s", (long long)a->rejected_spans,
		         msg[0] ? ": " : "", msg);
}

/* One attempt on the current handle, bounded by the remaining time. */
static int attempt(const struct exp_curl *c, CURL *h, struct exp_request *r, uint64_t deadline,
                   struct exp_attempt *a, char *msg, size_t cap)
{
	uint64_t now = wt_clock_mono_ns(), end = effective(deadline);
	uint64_t left = end > now ? (end - now + NS_PER_MS - 1) / NS_PER_MS : 0;

	r->timeout_ms = left > 0 ? (long)left : 1;
	exp_xfer_reset(&xfer, deadline);
	if (r->cfg->protocol == EXP_PROTO_GRPC)
		return exp_grpc_attempt(c, h, &xfer, r, a, msg, cap);
	return exp_http_attempt(c, h, &xfer, r, a, msg, cap);
}

static int deliver_loop(const struct exp_curl *c, CURL *h, struct exp_request *r, int nspans,
                        uint64_t deadline)
{
	struct exp_attempt a;
	char msg[EXP_MSG_MAX];

	for (int n = 1;; n++) {
		if (attempt(c, h, r, deadline, &a, msg, sizeof(msg)) < 0) {
			log_lost(r->cfg, nspans, EXP_OUT_DROPPED,
			         "the request could not be set up");
			return EXP_OUT_DROPPED;
		}
		if (exp_attempt_ok(&a)) {
			log_partial(&a, msg);
			wt_debug("exported %d spans (%zu bytes%s, attempt %d)", nspans, r->len,
			         r->gzipped ? " gzip" : "", n);
			return EXP_OUT_EXPORTED;
		}
		int retry = exp_retry_classify(&a);
		log_failure(r->cfg, &a, n, msg, retry);
		if (!retry) {
			log_lost(r->cfg, nspans, EXP_OUT_DROPPED, msg);
			return EXP_OUT_DROPPED;
		}
		/* A connection that failed is not trusted again: the retry dials anew. */
		r->fresh = a.transport_error != EXP_TERR_NONE;
		int64_t wait = exp_backoff_ms(n, next_random(), a.retry_after_ms);
		uint64_t now = wt_clock_mono_ns(), end = effective(deadline);
		if (now >= end || (uint64_t)wait * NS_PER_MS >= end - now) {
			log_lost(r->cfg, nspans, EXP_OUT_GAVE_UP, msg);
			return EXP_OUT_GAVE_UP;
		}
		nap(wait, deadline);
	}
}

int exp_deliver(const struct exp_config *cfg, const uint8_t *body, size_t len, int nspans)
{
	const struct exp_curl *c = exp_curl_get();
	uint64_t deadline = deadline_for(cfg, wt_clock_mono_ns());
	struct exp_request r = {.cfg = cfg, .body = body, .len = len};
	CURL *h;

	if (!c) /* exp_curl_get logged why, once */
		return EXP_OUT_DROPPED;
	if (cfg->protocol == EXP_PROTO_GRPC && !c->has_http2) {
		wt_log_once(warned_nohttp2, WT_LOG_ERROR,
		            "the loaded libcurl %s has no HTTP/2 support: OTLP/gRPC spans are "
		            "dropped; use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		            c->version);
		return EXP_OUT_DROPPED;
	}
	h = handle(c);
	if (!h) {
		log_lost(cfg, nspans, EXP_OUT_DROPPED, "cannot create a curl handle");
		return EXP_OUT_DROPPED;
	}
	if (cfg->gzip && exp_gzip(body, len, &r.body, &r.len) == 0)
		r.gzipped = true;
	else
		r.body = body, r.len = len;
	return deliver_loop(c, h, &r, nspans, deadline);
}

void exp_transport_shutdown(void)
{
	/* Only with a handle is libcurl loaded; never load it here. */
	if (easy && easy_pid == getpid()) {
		const struct exp_curl *c = exp_curl_get();
		if (c) {
			c->easy_cleanup(easy);
			c->multi_cleanup(multi); /* closes the cached connection */
		}
	}
	easy = NULL;
	multi = NULL;
	exp_xfer_free(&xfer);
	exp_gzip_release();
	exp_grpc_release();
}
