/*
 * fuzz_exporter_spool.c - libFuzzer target for the crash spool decoder (exp_spool_decode).
 *
 * A traced process decodes the crash files an earlier process left, at its first export: a
 * damaged or hostile file must be refused (-EBADMSG), never read out of bounds or crash the
 * process. The input is taken as a spool file. Checked for every input:
 *  - validating only (fn NULL) gives the same result as decoding with a callback;
 *  - every span decoded, encoded again with the direct encoder (with its Resource), decodes to
 *    a span that encodes to exactly the same bytes: what the decoder makes is a record the
 *    encoder writes faithfully, and what the encoder writes the decoder reads back whole.
 * Any violation aborts (that is how libFuzzer reports it).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encode_pb.h"
#include "exp_span.h"
#include "spool.h"

struct state {
	struct exp_buf first, second;
	long spans;
};

/* Keeps the one span of a re-encoded request. */
static int keep(void *arg, const struct exp_span *s, const struct exp_resource *res)
{
	struct exp_buf *out = arg;

	if (s && exp_pb_encode(out, res, s, 1) != 0)
		abort();
	return 0;
}

static int check(void *arg, const struct exp_span *s, const struct exp_resource *res)
{
	struct state *st = arg;

	if (!s)
		return 0; /* the end of a ResourceSpans */
	st->spans++;
	if (exp_pb_encode(&st->first, res, s, 1) != 0)
		abort();
	st->second.len = 0;
	if (exp_spool_decode(st->first.p, st->first.len, keep, &st->second) != 1)
		abort();
	if (st->second.len != st->first.len || memcmp(st->second.p, st->first.p, st->first.len))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state st;
	long all, only;

	st.spans = 0;
	all = exp_spool_decode(data, size, check, &st);
	only = exp_spool_decode(data, size, NULL, NULL);
	if (all != only || (all >= 0 && all != st.spans))
		abort();
	if (all < 0 && all != -EBADMSG && all != -ENOMEM)
		abort();
	return 0;
}
