/*
 * retry.c - the OTLP retry policy, exponential back-off with jitter, and Retry-After parsing.
 *
 * Policy ([OTLP] docs/specification.md, "Failures", "Throttling"; [OTSPEC] protocol/exporter.md):
 *  - OTLP/HTTP: 429, 502, 503 and 504 SHOULD be retried; every other 4xx/5xx MUST NOT be (400:
 *    bad data, drop it). A server disconnect without a response, and a failure to connect,
 *    SHOULD be retried with exponential back-off with random jitter.
 *  - OTLP/gRPC: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS
 *    are retryable; RESOURCE_EXHAUSTED only when the status carries RetryInfo (the server says
 *    recovery is possible); all other codes are not.
 *  - Throttling: 429/503 may carry Retry-After (delta-seconds or an HTTP-date, RFC 9110
 *    10.2.3); gRPC servers say the same with RetryInfo.retry_delay. Either wins over back-off.
 *  - A partial success is a success: it MUST NOT be retried.
 *
 * Back-off: "full jitter" (a uniform draw in [0, cap]) over a cap that doubles from 100 ms up to
 * 5 s. Full jitter spreads the retries of many exporters restarted together by a collector
 * outage; the cap keeps a retry inside the default 10 s export timeout.
 *
 * Everything here is a pure function of its arguments (the caller supplies the time and the
 * random number), so the unit tests can pin every branch. Thread-safe, no allocation.
 */
#include <string.h>

#include "transport.h"

#define BACKOFF_INITIAL_MS 100
#define BACKOFF_MAX_MS 5000
/* Retry-After values are clamped to a day: a larger one can only mean "give up", which the
 * caller's deadline does anyway, and the clamp keeps the ms arithmetic far from overflow. */
#define RETRY_AFTER_MAX_S 86400

enum grpc_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

int exp_attempt_ok(const struct exp_attempt *a)
{
	if (a->transport_error)
		return 0;
	if (a->grpc_status >= 0)
		return a->grpc_status == GRPC_OK;
	return a->http_status >= 200 && a->http_status < 300;
}

static int grpc_retryable(int code, int64_t retry_after_ms)
{
	switch (code) {
	case GRPC_CANCELLED:
	case GRPC_DEADLINE_EXCEEDED:
	case GRPC_ABORTED:
	case GRPC_OUT_OF_RANGE:
	case GRPC_UNAVAILABLE:
	case GRPC_DATA_LOSS:
		return 1;
	case GRPC_RESOURCE_EXHAUSTED:
		return retry_after_ms >= 0;
	default:
		return 0;
	}
}

int exp_retry_classify(const struct exp_attempt *a)
{
	if (exp_attempt_ok(a))
		return 0;
	if (a->transport_error)
		return a->transport_error == EXP_TERR_RETRYABLE;
	if (a->grpc_status >= 0)
		return grpc_retryable(a->grpc_status, a->retry_after_ms);
	switch (a->http_status) {
	case 429:
	case 502:
	case 503:
	case 504:
		return 1;
	default:
		/* 1xx as a final status, 3xx (we do not follow redirects: the endpoint is
		 * configured exactly), 4xx and 5xx: not retryable. */
		return 0;
	}
}

int exp_grpc_from_http(int http_status)
{
	switch (http_status) {
	case 400:
		return GRPC_INTERNAL;
	case 401:
		return GRPC_UNAUTHENTICATED;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_UNKNOWN;
	}
}

int64_t exp_backoff_ms(int attempt, uint64_t rnd, int64_t retry_after_ms)
{
	int64_t cap = BACKOFF_INITIAL_MS;

	if (retry_after_ms >= 0)
		return retry_after_ms;
	for (int i = 1; i < attempt && cap < BACKOFF_MAX_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_MAX_MS)
		cap = BACKOFF_MAX_MS;
	return (int64_t)(rnd % (uint64_t)(cap + 1));
}

/* --- Retry-After ----------------------------------------------------------------------- */

static int digits(const char *p, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

/* Index 0..6 of a day name (3 letters or full, per `full`), or -1. Case-sensitive: RFC 9110
 * 5.6.7 says the names are case-sensitive. */
static int day_name(const char *p, size_t n)
{
	static const char *const full[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
	                                   "Friday", "Saturday", "Sunday"};

	for (int i = 0; i < 7; i++) {
		size_t l = strlen(full[i]);
		if ((n == 3 && memcmp(p, full[i], 3) == 0) ||
		    (n == l && memcmp(p, full[i], l) == 0))
			return i;
	}
	return -1;
}

static int month_name(const char *p)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (memcmp(p, names + 3 * i, 3) == 0)
			return i + 1;
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
	static const int len[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : len[m - 1];
}

struct hdate {
	int y, mon, d, h, min, s;
};

/* "HH:MM:SS" at p (8 chars). */
static int clock_part(const char *p, struct hdate *t)
{
	if (p[2] != ':' || p[5] != ':')
		return -1;
	if (digits(p, 2, &t->h) || digits(p + 3, 2, &t->min) || digits(p + 6, 2, &t->s))
		return -1;
	return 0;
}

/* IMF-fixdate, after "Sun, ": "06 Nov 1994 08:49:37 GMT" (24 chars). */
static int imf_fixdate(const char *p, size_t n, struct hdate *t)
{
	if (n != 24 || p[2] != ' ' || p[6] != ' ' || p[11] != ' ' || p[20] != ' ')
		return -1;
	if (digits(p, 2, &t->d) || (t->mon = month_name(p + 3)) < 0 || digits(p + 7, 4, &t->y))
		return -1;
	if (clock_part(p + 12, t) || memcmp(p + 21, "GMT", 3) != 0)
		return -1;
	return 0;
}

/* RFC 850, after "Sunday, ": "06-Nov-94 08:49:37 GMT" (22 chars). RFC 9110 5.6.7: a two-digit
 * year more than 50 years in the future is the most recent past year with those digits. */
static int rfc850_date(const char *p, size_t n, int64_t now, struct hdate *t)
{
	int yy, cur;

	if (n != 22 || p[2] != '-' || p[6] != '-' || p[9] != ' ' || p[18] != ' ')
		return -1;
	if (digits(p, 2, &t->d) || (t->mon = month_name(p + 3)) < 0 || digits(p + 7, 2, &yy))
		return -1;
	if (clock_part(p + 10, t) || memcmp(p + 19, "GMT", 3) != 0)
		return -1;
	cur = 1970 + (int)(now / 31556952); /* close enough to pick the century */
	t->y = cur - cur % 100 + yy;
	if (t->y > cur + 50)
		t->y -= 100;
	return 0;
}

/* asctime, after "Sun ": "Nov  6 08:49:37 1994" (20 chars; the day is space-padded). */
static int asctime_date(const char *p, size_t n, struct hdate *t)
{
	if (n != 20 || p[3] != ' ' || p[6] != ' ' || p[15] != ' ')
		return -1;
	if ((t->mon = month_name(p)) < 0)
		return -1;
	if (p[4] == ' ' ? digits(p + 5, 1, &t->d) : digits(p + 4, 2, &t->d))
		return -1;
	if (clock_part(p + 7, t) || digits(p + 16, 4, &t->y))
		return -1;
	return 0;
}

/* Seconds since the epoch of an HTTP-date (RFC 9110 5.6.7) into *when; 0 or -1. */
static int http_date(const char *v, size_t n, int64_t now, int64_t *when)
{
	struct hdate t;
	size_t w = 0;
	int rc;

	while (w < n && ((v[w] >= 'A' && v[w] <= 'Z') || (v[w] >= 'a' && v[w] <= 'z')))
		w++;
	if (day_name(v, w) < 0 || w + 1 >= n)
		return -1;
	if (v[w] == ',' && v[w + 1] == ' ')
		rc = w == 3 ? imf_fixdate(v + 5, n - 5, &t)
		            : rfc850_date(v + w + 2, n - w - 2, now, &t);
	else if (v[w] == ' ' && w == 3)
		rc = asctime_date(v + 4, n - 4, &t);
	else
		rc = -1;
	if (rc < 0 || t.d < 1 || t.d > month_days(t.y, t.mon) || t.h > 23 || t.min > 59 || t.s > 60)
		return -1;
	*when = days_from_civil(t.y, t.mon, t.d) * 86400 + t.h * 3600 + t.min * 60 + t.s;
	return 0;
}

int64_t exp_parse_retry_after(const char *v, size_t len, int64_t now)
{
	int64_t secs = 0;
	size_t i;

	if (!v)
		return -1;
	/* Field values carry no leading/trailing OWS (RFC 9110 5.5), but be forgiving. */
	while (len && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len == 0)
		return -1;
	if (v[0] >= '0' && v[0] <= '9') {
		for (i = 0; i < len; i++) {
			if (v[i] < '0' || v[i] > '9')
				return -1;
			if (secs < RETRY_AFTER_MAX_S)
				secs = secs * 10 + (v[i] - '0');
		}
	} else {
		int64_t when;

		if (http_date(v, len, now, &when) < 0)
			return -1;
		/* A date in the past means "now" (RFC 9110 10.2.3 gives no other meaning). */
		secs = when > now ? when - now : 0;
	}
	if (secs > RETRY_AFTER_MAX_S)
		secs = RETRY_AFTER_MAX_S;
	return secs * 1000;
}
