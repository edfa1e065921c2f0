/*
 * test_exporter_retry.c - the exporter's retry policy, back-off, Retry-After parsing, response
 * parsers, gzip framing, and the delivery loop's deadlines.
 *
 * The tables restate the specification, not the code: [OTLP] specification.md (retryable HTTP
 * statuses 429/502/503/504, the gRPC code list, RESOURCE_EXHAUSTED only with RetryInfo), RFC 9110
 * 10.2.3 and 5.6.7 (Retry-After, the three HTTP-date formats), [GRPC] PROTOCOL-HTTP2.md
 * (grpc-message percent-encoding, "-bin" base64) and http-grpc-status-mapping.md.
 *
 * The delivery tests talk to 127.0.0.1 only: a bound socket that does not listen refuses every
 * connection, so the loop must retry with back-off and still return by its deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "curl_loader.h"
#include "transport.h"
#include "wt_clock.h"

/* --- retry policy -------------------------------------------------------------------------- */

static struct exp_attempt http_attempt(int status)
{
	struct exp_attempt a = {.http_status = status, .grpc_status = -1, .retry_after_ms = -1};
	return a;
}

static void test_http_policy(void **state)
{
	static const struct {
		int status, ok, retry;
	} t[] = {
	    {200, 1, 0}, {201, 1, 0}, {202, 1, 0}, {204, 1, 0}, {299, 1, 0}, {100, 0, 0},
	    {101, 0, 0}, {199, 0, 0}, {300, 0, 0}, {301, 0, 0}, {302, 0, 0}, {304, 0, 0},
	    {307, 0, 0}, {308, 0, 0}, {400, 0, 0}, {401, 0, 0}, {403, 0, 0}, {404, 0, 0},
	    {405, 0, 0}, {408, 0, 0}, {409, 0, 0}, {413, 0, 0}, {415, 0, 0}, {422, 0, 0},
	    {428, 0, 0}, {429, 0, 1}, {431, 0, 0}, {499, 0, 0}, {500, 0, 0}, {501, 0, 0},
	    {502, 0, 1}, {503, 0, 1}, {504, 0, 1}, {505, 0, 0}, {507, 0, 0}, {511, 0, 0},
	    {599, 0, 0}, {0, 0, 0},   {600, 0, 0}, {-1, 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct exp_attempt a = http_attempt(t[i].status);
		if (exp_attempt_ok(&a) != t[i].ok || exp_retry_classify(&a) != t[i].retry)
			fail_msg("HTTP %d: ok %d retry %d, want %d %d", t[i].status,
			         exp_attempt_ok(&a), exp_retry_classify(&a), t[i].ok, t[i].retry);
		/* A Retry-After does not make a non-retryable status retryable. */
		a.retry_after_ms = 1000;
		assert_int_equal(exp_retry_classify(&a), t[i].retry);
	}
}

static void test_transport_errors(void **state)
{
	struct exp_attempt a = http_attempt(0);

	(void)state;
	a.transport_error = EXP_TERR_RETRYABLE; /* refused, reset, timed out */
	assert_int_equal(exp_attempt_ok(&a), 0);
	assert_int_equal(exp_retry_classify(&a), 1);
	a.transport_error = EXP_TERR_PERMANENT; /* over-limit response, bad URL, TLS verify */
	assert_int_equal(exp_retry_classify(&a), 0);
	/* A transport error wins over whatever status came before it. */
	a = http_attempt(200);
	a.transport_error = EXP_TERR_RETRYABLE;
	assert_int_equal(exp_attempt_ok(&a), 0);
	assert_int_equal(exp_retry_classify(&a), 1);
	a.grpc_status = 0;
	assert_int_equal(exp_attempt_ok(&a), 0);
	assert_int_equal(exp_retry_classify(&a), 1);
}

static void test_grpc_policy(void **state)
{
	/* code, retryable without RetryInfo, retryable with RetryInfo */
	static const int t[][3] = {
	    {0, 0, 0},  /* OK: success, nothing to retry */
	    {1, 1, 1},  /* CANCELLED */
	    {2, 0, 0},  /* UNKNOWN */
	    {3, 0, 0},  /* INVALID_ARGUMENT */
	    {4, 1, 1},  /* DEADLINE_EXCEEDED */
	    {5, 0, 0},  /* NOT_FOUND */
	    {6, 0, 0},  /* ALREADY_EXISTS */
	    {7, 0, 0},  /* PERMISSION_DENIED */
	    {8, 0, 1},  /* RESOURCE_EXHAUSTED: only with RetryInfo */
	    {9, 0, 0},  /* FAILED_PRECONDITION */
	    {10, 1, 1}, /* ABORTED */
	    {11, 1, 1}, /* OUT_OF_RANGE */
	    {12, 0, 0}, /* UNIMPLEMENTED */
	    {13, 0, 0}, /* INTERNAL */
	    {14, 1, 1}, /* UNAVAILABLE */
	    {15, 1, 1}, /* DATA_LOSS */
	    {16, 0, 0}, /* UNAUTHENTICATED */
	    {17, 0, 0}, /* not a code */
	    {999, 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		/* The HTTP status of a gRPC answer is 200; a 503 beside a grpc-status must not
		 * change the verdict either: grpc-status, when present, decides. */
		for (int hs = 0; hs < 2; hs++) {
			struct exp_attempt a = http_attempt(hs ? 503 : 200);
			a.grpc_status = t[i][0];
			if (exp_attempt_ok(&a) != (t[i][0] == 0))
				fail_msg("grpc %d: ok %d", t[i][0], exp_attempt_ok(&a));
			if (exp_retry_classify(&a) != t[i][1])
				fail_msg("grpc %d (HTTP %d) without RetryInfo: %d", t[i][0],
				         a.http_status, exp_retry_classify(&a));
			a.retry_after_ms = 0;
			if (exp_retry_classify(&a) != t[i][2])
				fail_msg("grpc %d with RetryInfo: %d", t[i][0],
				         exp_retry_classify(&a));
		}
	}
}

static void test_grpc_from_http(void **state)
{
	static const int t[][2] = {
	    {400, 13}, {401, 16}, {403, 7}, {404, 12}, {429, 14}, {502, 14}, {503, 14},
	    {504, 14}, {500, 2},  {200, 2}, {301, 2},  {418, 2},  {0, 2},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(exp_grpc_from_http(t[i][0]), t[i][1]);
}

/* --- back-off ------------------------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void test_backoff_bounds(void **state)
{
	/* attempt -> cap: 100 ms doubling, at most 5 s */
	static const int64_t caps[][2] = {
	    {1, 100},     {2, 200},           {3, 400},  {4, 800},   {5, 1600},
	    {6, 3200},    {7, 5000},          {8, 5000}, {20, 5000}, {64, 5000},
	    {1000, 5000}, {2147483647, 5000}, {0, 100},  {-5, 100},
	};
	uint64_t s = 42;
	(void)state;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		int n = (int)caps[i][0];
		int64_t cap = caps[i][1];
		assert_int_equal(exp_backoff_ms(n, 0, -1), 0);
		assert_int_equal(exp_backoff_ms(n, (uint64_t)cap, -1),
		                 cap); /* the top is reached */
		assert_int_equal(exp_backoff_ms(n, (uint64_t)cap + 1, -1), 0);
		for (int k = 0; k < 2000; k++) {
			int64_t b = exp_backoff_ms(n, splitmix(&s), -1);
			if (b < 0 || b > cap)
				fail_msg("attempt %d: %lld outside [0, %lld]", n, (long long)b,
				         (long long)cap);
		}
		assert_in_range(exp_backoff_ms(n, UINT64_MAX, -1), 0, cap);
	}
}

static void test_backoff_jitter(void **state)
{
	/* Full jitter: uniform over [0, cap]. 20000 draws at cap 400: mean 200 +- 10, and both
	 * ends of the range visited. */
	uint64_t s = 7;
	int64_t lo = 1000, hi = -1, sum = 0;
	int buckets[4] = {0};
	(void)state;
	for (int k = 0; k < 20000; k++) {
		int64_t b = exp_backoff_ms(3, splitmix(&s), -1);
		lo = b < lo ? b : lo;
		hi = b > hi ? b : hi;
		sum += b;
		buckets[b * 4 / 401]++;
	}
	assert_true(lo < 10);
	assert_true(hi > 390);
	assert_in_range(sum / 20000, 190, 210);
	for (int i = 0; i < 4; i++)
		assert_in_range(buckets[i], 4500, 5500);
}

static void test_backoff_retry_after_wins(void **state)
{
	(void)state;
	assert_int_equal(exp_backoff_ms(1, 12345, 0), 0);
	assert_int_equal(exp_backoff_ms(1, 12345, 7000), 7000); /* even above the cap */
	assert_int_equal(exp_backoff_ms(9, 12345, 250), 250);
	assert_int_equal(exp_backoff_ms(1, 0, 86400000), 86400000);
}

/* --- Retry-After --------------------------------------------------------------------------- */

#define T_1994 784111777LL /* Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example) */

static void test_retry_after(void **state)
{
	static const struct {
		const char *v;
		int64_t now, want;
	} t[] = {
	    /* delta-seconds */
	    {"0", 0, 0},
	    {"1", 0, 1000},
	    {"120", 0, 120000},
	    {"007", 0, 7000},
	    {" 5", 0, 5000},
	    {"5\t ", 0, 5000},
	    {"86400", 0, 86400000},
	    {"86401", 0, 86400000}, /* clamped to a day */
	    {"99999999999999999999999", 0, 86400000},
	    {"-1", 0, -1},
	    {"+1", 0, -1},
	    {"1.5", 0, -1},
	    {"5s", 0, -1},
	    {"5 5", 0, -1},
	    {"0x10", 0, -1},
	    {"", 0, -1},
	    {"   ", 0, -1},
	    {"abc", 0, -1},
	    /* IMF-fixdate */
	    {"Sun, 06 Nov 1994 08:49:37 GMT", T_1994 - 30, 30000},
	    {"Sun, 06 Nov 1994 08:49:37 GMT", T_1994, 0},
	    {"Sun, 06 Nov 1994 08:49:37 GMT", T_1994 + 3600, 0}, /* in the past */
	    {"Mon, 07 Nov 1994 08:49:37 GMT", T_1994, 86400000},
	    {"Thu, 01 Jan 1970 00:00:00 GMT", T_1994, 0},
	    {"Wed, 31 Dec 1969 23:59:59 GMT", T_1994, 0},         /* before the epoch */
	    {"Thu, 29 Feb 2024 00:00:10 GMT", 1709164800, 10000}, /* leap day */
	    {"Sat, 29 Feb 2025 00:00:10 GMT", 1709164800, -1},    /* not a leap year */
	    {"Sun, 31 Nov 1994 08:49:37 GMT", 0, -1},
	    {"Sun, 00 Nov 1994 08:49:37 GMT", 0, -1},
	    {"Sun, 06 Nov 1994 24:00:00 GMT", 0, -1},
	    {"Sun, 06 Nov 1994 08:60:00 GMT", 0, -1},
	    {"Sun, 06 Nov 1994 08:49:61 GMT", 0, -1},
	    {"Sun, 06 Nov 1994 08:49:37 UTC", 0, -1},
	    {"Sun, 06 nov 1994 08:49:37 GMT", 0, -1}, /* case-sensitive */
	    {"sun, 06 Nov 1994 08:49:37 GMT", 0, -1},
	    {"Sun 06 Nov 1994 08:49:37 GMT", 0, -1},
	    {"Sun, 6 Nov 1994 08:49:37 GMT", 0, -1},
	    {"Sun, 06 Nov 94 08:49:37 GMT", 0, -1},
	    {"Sun, 06 Nov 1994 08:49:37 GMT x", 0, -1},
	    {"Sun, 06 Nov 1994 08:49:37", 0, -1},
	    {"Xyz, 06 Nov 1994 08:49:37 GMT", 0, -1},
	    {"Sun, 06 Foo 1994 08:49:37 GMT", 0, -1},
	    /* obsolete RFC 850 */
	    {"Sunday, 06-Nov-94 08:49:37 GMT", T_1994 - 2, 2000},
	    {"Sunday, 06-Nov-94 08:49:37 GMT", 1735689600, 0},         /* 2025: 1994, past */
	    {"Tuesday, 01-Jan-30 00:00:00 GMT", 1735689600, 86400000}, /* 2030 (clamped) */
	    {"Sunday, 06-Nov-1994 08:49:37 GMT", 0, -1},
	    {"Sun, 06-Nov-94 08:49:37 GMT", 0, -1},
	    /* obsolete asctime */
	    {"Sun Nov  6 08:49:37 1994", T_1994 - 60, 60000},
	    {"Sun Nov 16 08:49:37 1994", T_1994, 86400000}, /* ten days on: clamped */
	    {"Sun Nov  6 08:50:37 1994", T_1994, 60000},
	    {"Sun Nov 6 08:49:37 1994", 0, -1},
	    {"Sun Nov  6 08:49:37 94", 0, -1},
	    {"Sun Nov  6 08:49:37 1994 GMT", 0, -1},
	    /* garbage */
	    {"\x01\x02", 0, -1},
	    {"Sun,", 0, -1},
	    {"Sun, ", 0, -1},
	    {"Sunday", 0, -1},
	    {"GMT", 0, -1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t got = exp_parse_retry_after(t[i].v, strlen(t[i].v), t[i].now);
		if (got != t[i].want)
			fail_msg("Retry-After \"%s\" (now %lld): %lld, want %lld", t[i].v,
			         (long long)t[i].now, (long long)got, (long long)t[i].want);
	}
	/* The length is honoured: no read past it, no reliance on a NUL. */
	assert_int_equal(exp_parse_retry_after("12345", 2, 0), 12000);
	assert_int_equal(exp_parse_retry_after(NULL, 0, 0), -1);
}

/* --- response parsers ---------------------------------------------------------------------- */

static void test_pb_partial_success(void **state)
{
	/* partial_success { rejected_spans: 5, error_message: "too old" } */
	static const uint8_t ok[] = {0x0a, 0x0b, 0x08, 0x05, 0x12, 0x07, 't',
	                             'o',  'o',  ' ',  'o',  'l',  'd'};
	/* an unknown field 7 (varint) and 9 (bytes) around it, then the message */
	static const uint8_t unk[] = {0x38, 0x01, 0x4a, 0x02, 'x', 'y', 0x0a, 0x02, 0x08, 0x2a};
	/* rejected_spans: -1 (ten-byte varint) */
	static const uint8_t neg[] = {0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff,
	                              0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	static const uint8_t truncated[] = {0x0a, 0x05, 0x08, 0x05};
	static const uint8_t inner_trunc[] = {0x0a, 0x02, 0x12, 0x05};
	static const uint8_t overlong[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x80,
	                                   0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	static const uint8_t group[] = {0x0b, 0x0c};
	static const uint8_t field0[] = {0x00, 0x01};
	int64_t rej;
	const char *m;
	size_t ml;
	(void)state;

	assert_int_equal(exp_pb_partial_success(ok, sizeof(ok), &rej, &m, &ml), 0);
	assert_int_equal(rej, 5);
	assert_int_equal(ml, 7);
	assert_memory_equal(m, "too old", 7);
	assert_int_equal(exp_pb_partial_success(unk, sizeof(unk), &rej, &m, &ml), 0);
	assert_int_equal(rej, 42);
	assert_null(m);
	assert_int_equal(exp_pb_partial_success(neg, sizeof(neg), &rej, &m, &ml), 0);
	assert_int_equal(rej, -1);
	assert_int_equal(exp_pb_partial_success(ok, 0, &rej, &m, &ml), 0); /* full success */
	assert_int_equal(rej, 0);
	assert_null(m);
	assert_int_equal(exp_pb_partial_success(truncated, sizeof(truncated), &rej, &m, &ml),
	                 -EBADMSG);
	assert_int_equal(exp_pb_partial_success(inner_trunc, sizeof(inner_trunc), &rej, &m, &ml),
	                 -EBADMSG);
	assert_int_equal(exp_pb_partial_success(overlong, sizeof(overlong), &rej, &m, &ml),
	                 -EBADMSG);
	assert_int_equal(exp_pb_partial_success(group, sizeof(group), &rej, &m, &ml), -EBADMSG);
	assert_int_equal(exp_pb_partial_success(field0, sizeof(field0), &rej, &m, &ml), -EBADMSG);
	/* Every prefix of a valid message parses or fails cleanly (ASan watches the reads). */
	for (size_t n = 0; n <= sizeof(ok); n++)
		(void)exp_pb_partial_success(ok, n, &rej, &m, &ml);
}

static void test_json_partial_success(void **state)
{
	static const struct {
		const char *body;
		int rc;
		int64_t rejected;
		const char *msg;
	} t[] = {
	    {"{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":\"too old\"}}", 0, 3,
	     "too old"},
	    {" { \"partialSuccess\" : { \"errorMessage\" : \"a\\\"b\" , \"rejectedSpans\" : 12 } "
	     "} ",
	     0, 12, "a\\\"b"},
	    {"{\"partialSuccess\":{}}", 0, 0, NULL},
	    {"{}", 0, 0, NULL},
	    {"", 0, 0, NULL},
	    {"  \n", 0, 0, NULL},
	    {"{\"other\":{\"partialSuccess\":{\"rejectedSpans\":9}},\"partialSuccess\":"
	     "{\"errorMessage\":\"w\"}}",
	     0, 0, "w"},
	    {"{\"x\":[1,{\"y\":\"}\"}],\"partialSuccess\":{\"rejectedSpans\":\"7\"}}", 0, 7, NULL},
	    {"{\"partialSuccess\":{\"rejectedSpans\":\"x\"}}", -EBADMSG, 0, NULL},
	    {"{\"partialSuccess\":{\"rejectedSpans\":-1}}", -EBADMSG, 0, NULL},
	    {"{\"partialSuccess\":{\"rejectedSpans\":\"3}}", -EBADMSG, 0, NULL},
	    {"{\"partialSuccess\":{\"rejectedSpans\":", -EBADMSG, 0, NULL},
	    {"{\"partialSuccess\":{\"rejectedSpans\":99999999999999999999}}", -EBADMSG, 0, NULL},
	    {"[1]", -EBADMSG, 0, NULL},
	    {"<html>", -EBADMSG, 0, NULL},
	    {"{\"partialSuccess\":\"no\"}", 0, 0, NULL},
	    {"{\"partialSuccess", 0, 0, NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t rej = -99;
		const char *m = (const char *)1;
		size_t ml = 0;
		int rc = exp_json_partial_success(t[i].body, strlen(t[i].body), &rej, &m, &ml);
		if (rc != t[i].rc)
			fail_msg("%s: rc %d", t[i].body, rc);
		if (rc == 0 && rej != t[i].rejected)
			fail_msg("%s: rejected %lld", t[i].body, (long long)rej);
		if (rc == 0 && (t[i].msg ? !m || ml != strlen(t[i].msg) || memcmp(m, t[i].msg, ml)
		                         : m != NULL))
			fail_msg("%s: message", t[i].body);
		/* every prefix: no crash, no read past the end */
		for (size_t n = 0; n < strlen(t[i].body); n++)
			(void)exp_json_partial_success(t[i].body, n, &rej, &m, &ml);
	}
}

/* google.rpc.Status { code: 8, details: [Any{type_url, value: RetryInfo{retry_delay: d}}] } */
static size_t status_with_retry(uint8_t *out, const char *type_url, int64_t secs, int32_t nanos)
{
	uint8_t dur[24], ri[32], any[128];
	size_t dn = 0, rn = 0, an = 0, on = 0, tl = strlen(type_url);

	dur[dn++] = 0x08;
	dur[dn++] = (uint8_t)secs;
	if (nanos) {
		dur[dn++] = 0x10;
		for (uint32_t v = (uint32_t)nanos;; v >>= 7) {
			dur[dn++] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
			if (v <= 0x7f)
				break;
		}
	}
	ri[rn++] = 0x0a, ri[rn++] = (uint8_t)dn;
	memcpy(ri + rn, dur, dn), rn += dn;
	any[an++] = 0x0a, any[an++] = (uint8_t)tl;
	memcpy(any + an, type_url, tl), an += tl;
	any[an++] = 0x12, any[an++] = (uint8_t)rn;
	memcpy(any + an, ri, rn), an += rn;
	out[on++] = 0x08, out[on++] = 8;
	out[on++] = 0x12, out[on++] = 4;
	memcpy(out + on, "slow", 4), on += 4;
	out[on++] = 0x1a, out[on++] = (uint8_t)an;
	memcpy(out + on, any, an), on += an;
	return on;
}

static size_t b64(const uint8_t *in, size_t n, char *out, int pad)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
		             (i + 2 < n ? in[i + 2] : 0);
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = a[v >> 6 & 63];
		else if (pad)
			out[o++] = '=';
		if (i + 2 < n)
			out[o++] = a[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static void test_grpc_retry_info(void **state)
{
	uint8_t st[256];
	char enc[512];
	size_t n;
	(void)state;

	n = status_with_retry(st, "type.googleapis.com/google.rpc.RetryInfo", 2, 500000000);
	for (int pad = 0; pad < 2; pad++) {
		size_t e = b64(st, n, enc, pad);
		assert_int_equal(exp_grpc_retry_info(enc, e), 2500);
	}
	n = status_with_retry(st, "type.googleapis.com/google.rpc.RetryInfo", 0, 0);
	assert_int_equal(exp_grpc_retry_info(enc, b64(st, n, enc, 1)), 0);
	n = status_with_retry(st, "type.googleapis.com/google.rpc.DebugInfo", 2, 0);
	assert_int_equal(exp_grpc_retry_info(enc, b64(st, n, enc, 1)), -1);
	n = status_with_retry(st, "RetryInfo", 2, 0); /* not the full name */
	assert_int_equal(exp_grpc_retry_info(enc, b64(st, n, enc, 1)), -1);
	assert_int_equal(exp_grpc_retry_info("", 0), -1);
	assert_int_equal(exp_grpc_retry_info("!!!!", 4), -EBADMSG);
	assert_int_equal(exp_grpc_retry_info("CgU", 3), -EBADMSG); /* truncated message */
	/* every truncation of a valid value: a result or -EBADMSG, never a crash */
	n = status_with_retry(st, "type.googleapis.com/google.rpc.RetryInfo", 2, 500000000);
	size_t e = b64(st, n, enc, 0);
	for (size_t k = 0; k < e; k++) {
		int64_t r = exp_grpc_retry_info(enc, k);
		assert_true(r == -EBADMSG || r == -1 || r == 2500);
	}
}

static void test_grpc_message_decode(void **state)
{
	static const struct {
		const char *in, *out;
		size_t cap;
	} t[] = {
	    {"hello%20world", "hello world", 64},
	    {"%E2%9C%93 ok", "\xe2\x9c\x93 ok", 64},
	    {"100%25", "100%", 64},
	    {"%2", "%2", 64},
	    {"bad%zzx", "bad%zzx", 64},
	    {"%4", "%4", 64},
	    {"%4a%4A", "JJ", 64},
	    {"", "", 64},
	    {"abcdef", "abc", 4},
	    {"%41%42%43", "AB", 3},
	};
	char out[64];
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = exp_grpc_message_decode(t[i].in, strlen(t[i].in), out, t[i].cap);
		assert_string_equal(out, t[i].out);
		assert_int_equal(n, strlen(t[i].out));
	}
	assert_int_equal(exp_grpc_message_decode("x", 1, out, 0), 0);
}

/* --- gzip ------------------------------------------------------------------------------------ */

static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_gzip_member(void **state)
{
	static uint8_t in[100000];
	const uint8_t *out;
	size_t outlen;
	(void)state;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)("span-attribute "[i % 15] + (i / 1000) % 3);
	assert_int_equal(exp_gzip(in, sizeof(in), &out, &outlen), 0);
	/* RFC 1952: ID1 ID2 CM=8, and the trailer's CRC32 and ISIZE of the input. */
	assert_true(outlen > 18 && outlen < sizeof(in) / 5);
	assert_int_equal(out[0], 0x1f);
	assert_int_equal(out[1], 0x8b);
	assert_int_equal(out[2], 8);
	assert_int_equal(le32(out + outlen - 4), sizeof(in));
	assert_int_equal(le32(out + outlen - 8), crc32_ref(in, sizeof(in)));
	assert_int_equal(exp_gzip(in, 0, &out, &outlen), 0);
	assert_int_equal(le32(out + outlen - 4), 0);
	exp_gzip_release();
}

/* --- delivery loop --------------------------------------------------------------------------- */

/* A loopback port that refuses connections: bound, never listening. */
static int refusing_port(int *fd)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &sl), 0);
	return ntohs(sa.sin_port);
}

static int64_t elapsed_ms(uint64_t t0)
{
	return (int64_t)((wt_clock_mono_ns() - t0) / 1000000);
}

static void test_deliver_refused_gives_up_by_deadline(void **state)
{
	static const uint8_t body[] = {0x0a, 0x00};
	struct exp_config cfg = {
	    .protocol = EXP_PROTO_HTTP_PROTOBUF, .timeout_ms = 700, .bsp_export_timeout_ms = 30000};
	char url[64];
	int fd, port = refusing_port(&fd);
	(void)state;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", port);
	cfg.endpoint = url;
	for (int proto = 0; proto < 3; proto++) {
		cfg.protocol = proto;
		cfg.gzip = proto == 1;
		uint64_t t0 = wt_clock_mono_ns();
		assert_int_equal(exp_deliver(&cfg, body, sizeof(body), 1), EXP_OUT_GAVE_UP);
		/* Several attempts fit in 700 ms; the loop never sleeps past the deadline. */
		assert_in_range(elapsed_ms(t0), 0, 700 + 150);
	}
	/* The smaller of the two timeouts bounds it. */
	cfg.protocol = EXP_PROTO_HTTP_PROTOBUF;
	cfg.timeout_ms = 0;
	cfg.bsp_export_timeout_ms = 300;
	uint64_t t0 = wt_clock_mono_ns();
	assert_int_equal(exp_deliver(&cfg, body, sizeof(body), 1), EXP_OUT_GAVE_UP);
	assert_in_range(elapsed_ms(t0), 0, 300 + 150);
	exp_transport_shutdown();
	close(fd);
}

static void test_deliver_hurry_deadline(void **state)
{
	static const uint8_t body[] = {0x0a, 0x00};
	struct exp_config cfg = {.protocol = EXP_PROTO_HTTP_PROTOBUF, .timeout_ms = 10000};
	char url[64];
	int fd, port = refusing_port(&fd);
	(void)state;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", port);
	cfg.endpoint = url;
	uint64_t t0 = wt_clock_mono_ns();
	exp_transport_set_deadline(t0 + 250 * 1000000ull);
	assert_int_equal(exp_deliver(&cfg, body, sizeof(body), 1), EXP_OUT_GAVE_UP);
	/* It may end early (a back-off that would end past the deadline is not started), never
	 * late: it stops EXP_HURRY_MARGIN_MS before the given instant, so that even with some
	 * scheduling slack it is done by then. Without the hurry deadline it would run for the
	 * 10 s timeout. */
	assert_in_range(elapsed_ms(t0), 0, 250);
	/* A deadline already past: no attempt waits at all. */
	exp_transport_set_deadline(wt_clock_mono_ns() - 1);
	t0 = wt_clock_mono_ns();
	assert_int_equal(exp_deliver(&cfg, body, sizeof(body), 1), EXP_OUT_GAVE_UP);
	assert_in_range(elapsed_ms(t0), 0, 100);
	exp_transport_set_deadline(0);
	exp_transport_shutdown();
	close(fd);
}

/* A loopback port that accepts connections (the kernel's backlog) and never answers. */
static int silent_port(int *fd)
{
	int port = refusing_port(fd);

	assert_int_equal(listen(*fd, 16), 0);
	return port;
}

static void *lower_deadline_later(void *arg)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 300 * 1000000L};

	(void)arg;
	nanosleep(&ts, NULL);
	exp_transport_set_deadline(wt_clock_mono_ns() + 200 * 1000000ull);
	return NULL;
}

static void test_deliver_hang_cut_by_deadline_from_another_thread(void **state)
{
	static const uint8_t body[] = {0x0a, 0x00};
	struct exp_config cfg = {.timeout_ms = 10000};
	char url[64];
	pthread_t thr;
	int fd, port = silent_port(&fd);
	(void)state;

	for (int proto = 0; proto < 3; proto++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", port);
		cfg.endpoint = url;
		cfg.protocol = proto;
		uint64_t t0 = wt_clock_mono_ns();
		assert_int_equal(pthread_create(&thr, NULL, lower_deadline_later, NULL), 0);
		/* The request is sent and never answered: only the lowered deadline ends it, at
		 * 300 + 200 - EXP_HURRY_MARGIN_MS ms, within one poll slice. */
		assert_int_equal(exp_deliver(&cfg, body, sizeof(body), 1), EXP_OUT_GAVE_UP);
		int64_t ms = elapsed_ms(t0);
		pthread_join(thr, NULL);
		exp_transport_set_deadline(0);
		if (ms < 390 || ms > 520)
			fail_msg("protocol %d: cut after %lld ms, want about 400", proto,
			         (long long)ms);
	}
	exp_transport_shutdown();
	close(fd);
}

static void test_deliver_permanent_errors_drop(void **state)
{
	static const uint8_t body[] = {0x0a, 0x00};
	struct exp_config cfg = {.protocol = EXP_PROTO_HTTP_PROTOBUF, .timeout_ms = 5000};
	(void)state;

	/* A scheme libcurl does not do: not retryable, dropped at once. */
	cfg.endpoint = "nosuchscheme://127.0.0.1:1/v1/traces";
	uint64_t t0 = wt_clock_mono_ns();
	assert_int_equal(exp_deliver(&cfg, body, sizeof(body), 1), EXP_OUT_DROPPED);
	assert_in_range(elapsed_ms(t0), 0, 1000);
	exp_transport_shutdown();
}

static void test_deliver_without_libcurl(void **state)
{
	static const uint8_t body[] = {0x0a, 0x00};
	struct exp_config cfg = {.protocol = EXP_PROTO_HTTP_PROTOBUF,
	                         .timeout_ms = 5000,
	                         .endpoint = "http://127.0.0.1:1/v1/traces",
	                         .gzip = true};
	const uint8_t *out;
	size_t outlen;
	(void)state;

	exp_loader_set_names("libwiretrace-no-such-curl.so.4", "libwiretrace-no-such-z.so.1");
	assert_null(exp_curl_get());
	assert_int_equal(exp_deliver(&cfg, body, sizeof(body), 1), EXP_OUT_DROPPED);
	assert_int_equal(exp_deliver(&cfg, body, sizeof(body), 1), EXP_OUT_DROPPED);
	assert_int_equal(exp_gzip(body, sizeof(body), &out, &outlen), -ENOSYS);
	exp_transport_shutdown();
	exp_loader_set_names(NULL, NULL);
	assert_non_null(exp_curl_get());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_policy),
	    cmocka_unit_test(test_transport_errors),
	    cmocka_unit_test(test_grpc_policy),
	    cmocka_unit_test(test_grpc_from_http),
	    cmocka_unit_test(test_backoff_bounds),
	    cmocka_unit_test(test_backoff_jitter),
	    cmocka_unit_test(test_backoff_retry_after_wins),
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_pb_partial_success),
	    cmocka_unit_test(test_json_partial_success),
	    cmocka_unit_test(test_grpc_retry_info),
	    cmocka_unit_test(test_grpc_message_decode),
	    cmocka_unit_test(test_gzip_member),
	    cmocka_unit_test(test_deliver_without_libcurl),
	    cmocka_unit_test(test_deliver_refused_gives_up_by_deadline),
	    cmocka_unit_test(test_deliver_hurry_deadline),
	    cmocka_unit_test(test_deliver_hang_cut_by_deadline_from_another_thread),
	    cmocka_unit_test(test_deliver_permanent_errors_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
