/*
 * fuzz_context_propagation.c - libFuzzer target for the traceparent and tracestate parsers.
 *
 * Input layout: the bytes up to the first '\n' are one traceparent value; the rest is split at
 * '\n' into up to MAXF tracestate field values (any further '\n' stays inside the last field).
 *
 * Invariants checked (a violation traps, which libFuzzer reports as a crash):
 *  traceparent - the result is 0 or -EINVAL; on failure the output is cleared; on success the ids
 *    are non-zero, the same value wrapped in OWS parses identically, the formatted value is 55
 *    characters of version 00 in lowercase hex, and parse(format(x)) gives the same ids with the
 *    flags masked to the known bits, and formats to the same string again.
 *  tracestate - the result is 0 or -EINVAL; combining the fields gives the same result as
 *    combining them pre-joined with ","; a success is <= 512 characters, NUL-terminated at
 *    out_len, has no OWS and at most 32 members, and is a fixed point: fed back as one field or
 *    split into one field per member it comes out unchanged.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "traceparent.h"
#include "tracestate.h"

#define MAXF 8

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void check_traceparent(const char *v, size_t len)
{
	struct ctx_span_context a, b, c;
	char f1[CTX_TRACEPARENT_LEN + 1], f2[CTX_TRACEPARENT_LEN + 1];
	static char padded[4096];
	int rc = ctx_tp_parse(v, len, &a);

	CHECK(rc == 0 || rc == -EINVAL);
	if (rc != 0) {
		CHECK(!a.valid);
		return;
	}
	CHECK(a.valid && a.remote);
	CHECK(len >= CTX_TRACEPARENT_LEN);
	if (len + 4 <= sizeof(padded)) {
		memcpy(padded, " \t", 2);
		memcpy(padded + 2, v, len);
		memcpy(padded + 2 + len, "\t ", 2);
		CHECK(ctx_tp_parse(padded, len + 4, &c) == 0);
		CHECK(memcmp(&a, &c, sizeof(a)) == 0);
	}
	CHECK(ctx_tp_format(&a, f1) == CTX_TRACEPARENT_LEN);
	CHECK(strlen(f1) == CTX_TRACEPARENT_LEN);
	CHECK(f1[0] == '0' && f1[1] == '0' && f1[2] == '-' && f1[35] == '-' && f1[52] == '-');
	for (int i = 0; i < CTX_TRACEPARENT_LEN; i++)
		CHECK(f1[i] == '-' || (f1[i] >= '0' && f1[i] <= '9') ||
		      (f1[i] >= 'a' && f1[i] <= 'f'));
	CHECK(ctx_tp_parse(f1, CTX_TRACEPARENT_LEN, &b) == 0);
	CHECK(memcmp(a.trace_id, b.trace_id, 16) == 0);
	CHECK(memcmp(a.span_id, b.span_id, 8) == 0);
	CHECK(b.flags == (a.flags & CTX_FLAGS_KNOWN));
	CHECK(ctx_tp_format(&b, f2) == CTX_TRACEPARENT_LEN && memcmp(f1, f2, sizeof(f1)) == 0);
}

static void check_normalised(const char *out, size_t len)
{
	char again[CTX_TRACESTATE_MAX + 1];
	struct ctx_slice one = {out, len}, parts[32];
	size_t n = 0, len2, start = 0;

	CHECK(len <= CTX_TRACESTATE_MAX && strlen(out) == len);
	for (size_t i = 0; i < len; i++)
		CHECK(out[i] != '\t' && !(out[i] == ' ' && (i + 1 == len || out[i + 1] == ',')));
	CHECK(len == 0 || (out[0] != ',' && out[0] != ' ' && out[len - 1] != ','));
	CHECK(ctx_ts_combine(&one, 1, again, sizeof(again), &len2) == 0);
	CHECK(len2 == len && memcmp(again, out, len + 1) == 0);
	/* One field per member. */
	for (size_t i = 0; i <= len && len > 0; i++) {
		if (i < len && out[i] != ',')
			continue;
		CHECK(n < 32);
		parts[n++] = (struct ctx_slice){out + start, i - start};
		start = i + 1;
	}
	CHECK(ctx_ts_combine(parts, n, again, sizeof(again), &len2) == 0);
	CHECK(len2 == len && memcmp(again, out, len + 1) == 0);
}

static void check_tracestate(const char *p, size_t len)
{
	struct ctx_slice f[MAXF];
	char out[CTX_TRACESTATE_MAX + 1], out2[CTX_TRACESTATE_MAX + 1];
	static char joined[1 << 17];
	size_t n = 0, jl = 0, olen, olen2;
	int rc, rc2;

	while (n < MAXF - 1) {
		const char *nl = memchr(p, '\n', len);

		if (!nl)
			break;
		f[n++] = (struct ctx_slice){p, (size_t)(nl - p)};
		len -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
	f[n++] = (struct ctx_slice){p, len};

	rc = ctx_ts_combine(f, n, out, sizeof(out), &olen);
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc != 0)
		CHECK(olen == 0 && out[0] == '\0');
	else
		check_normalised(out, olen);

	/* "As if joined with ','" (RFC 9110 section 5.3). */
	for (size_t i = 0; i < n; i++) {
		if (jl + f[i].len + 1 > sizeof(joined))
			return;
		if (i)
			joined[jl++] = ',';
		memcpy(joined + jl, f[i].p, f[i].len);
		jl += f[i].len;
	}
	struct ctx_slice one = {joined, jl};

	rc2 = ctx_ts_combine(&one, 1, out2, sizeof(out2), &olen2);
	CHECK(rc2 == rc);
	CHECK(olen2 == olen && memcmp(out, out2, olen + 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nl = memchr(p, '\n', size);
	size_t tplen = nl ? (size_t)(nl - p) : size;

	check_traceparent(p, tplen);
	if (nl)
		check_tracestate(nl + 1, size - tplen - 1);
	else
		check_tracestate(p, size); /* no newline: the whole input is also one tracestate */
	return 0;
}
