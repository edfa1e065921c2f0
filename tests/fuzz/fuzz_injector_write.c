/*
 * fuzz_injector_write.c - inj_write() under a kernel and a program shaped by the fuzzer.
 *
 * The input chooses the program stream's length, the entry points, their lengths and the
 * program bytes each replaces (0 for an insertion, up to 71; ranges are clamped so that no
 * entry starts inside one), how the program cuts its calls into buffers (sizes, empty buffers,
 * up to IOV_MAX of them), and what the kernel does on each call (take a fraction, take all,
 * EAGAIN, EINTR); when the input runs out the kernel takes everything, so every run ends. As
 * the tracker replaces only a range that lies wholly inside the call, a call that would cut
 * one ends before it, or runs on to its end when it starts there. The same invariants as the
 * unit simulation are checked after every call (the peer holds a prefix of the expected stream
 * with exactly as many program bytes consumed as were reported, replaced ranges counting from
 * their replacement's first byte; no count inside a replaced range; no 0 for a non-empty
 * write; errors only with nothing consumed; pending bytes are the unsent tail of one entry),
 * and at the end the peer holds exactly the expected stream. A violation traps.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "inject.h"

#define T_MAX 2048
#define Q_MAX 24
#define OUT_MAX (T_MAX + Q_MAX * INJ_INSERT_MAX)

struct input {
	const uint8_t *d;
	size_t n;
};

static unsigned next(struct input *in, unsigned dflt)
{
	if (in->n == 0)
		return dflt;
	in->n--;
	return *in->d++;
}

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static char prog[T_MAX], ib[Q_MAX][INJ_INSERT_MAX], out[OUT_MAX], peer[OUT_MAX];
static size_t progcnt[OUT_MAX + 1], istart[Q_MAX], iend[Q_MAX];
static size_t T, q[Q_MAX], qs[Q_MAX], il[Q_MAX], olen, plen;
static int nq;

/* The kernel: one input byte a call. */
struct kern {
	struct input *in;
	bool failed;
	int err;
};

static ssize_t kern_writev(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct kern *k = ctx;
	size_t offered = 0, take;
	unsigned b = next(k->in, 2);

	REQUIRE(iovcnt >= 1 && iovcnt <= IOV_MAX);
	for (int i = 0; i < iovcnt; i++)
		offered += iov[i].iov_len;
	k->failed = b < 2;
	if (b < 2) {
		k->err = b == 0 ? EAGAIN : EINTR;
		errno = k->err;
		return -1;
	}
	take = b == 2 ? offered : offered * (b - 2) / 253 + (offered > 0);
	take = take < offered ? take : offered;
	REQUIRE(plen + take <= olen);
	for (size_t need = take, i = 0; need > 0; i++) {
		size_t m = iov[i].iov_len < need ? iov[i].iov_len : need;

		memcpy(peer + plen, iov[i].iov_base, m);
		plen += m;
		need -= m;
	}
	return (ssize_t)take;
}

static void setup_stream(struct input *in)
{
	size_t o = 0, p = 0;

	T = 1 + (next(in, 0) << 8 | next(in, 64)) % T_MAX;
	nq = (int)(next(in, 1) % (Q_MAX + 1));
	for (size_t i = 0; i < T; i++)
		prog[i] = (char)('A' + i % 23);
	for (int i = 0; i < nq; i++) {
		unsigned lb = next(in, 70), sb;

		q[i] = (next(in, 0) << 8 | next(in, 0)) % T;
		sb = next(in, 1);
		qs[i] = sb & 1 ? 0 : (sb >> 1) % 72;
		il[i] = lb == 255 ? INJ_INSERT_MAX : 1 + lb;
		for (size_t k = 0; k < il[i]; k++)
			ib[i][k] = (char)('a' + (i * 5 + k) % 26);
	}
	for (int i = 1; i < nq; i++) /* sort the points; lengths stay by index */
		for (int j = i; j > 0 && q[j - 1] > q[j]; j--) {
			size_t t = q[j];

			q[j] = q[j - 1];
			q[j - 1] = t;
		}
	/* At most two insertions at one offset (traceparent and tracestate given apart), as in
	 * any request head; extra ones are dropped. */
	for (int i = 2, w = 2; i <= nq; i++) {
		if (i == nq) {
			nq = nq < w ? nq : w;
			break;
		}
		if (q[i] != q[w - 2]) {
			q[w] = q[i];
			qs[w] = qs[i];
			il[w] = il[i];
			memcpy(ib[w], ib[i], il[i]);
			w++;
		}
	}
	/* A range ends at the next entry's offset or the end at the latest (so an entry before
	 * another at its offset is an insertion). */
	for (int i = 0; i < nq; i++) {
		size_t lim = (i + 1 < nq ? q[i + 1] : T) - q[i];

		qs[i] = qs[i] < lim ? qs[i] : lim;
	}
	progcnt[0] = 0;
	for (int i = 0; i <= nq; i++) {
		for (size_t upto = i < nq ? q[i] : T; p < upto; p++, o++) {
			out[o] = prog[p];
			progcnt[o + 1] = progcnt[o] + 1;
		}
		if (i == nq)
			break;
		/* A replaced range is consumed from its replacement's first byte on. */
		istart[i] = o;
		for (size_t k = 0; k < il[i]; k++, o++) {
			out[o] = ib[i][k];
			progcnt[o + 1] = q[i] + qs[i];
		}
		iend[i] = o;
		p = q[i] + qs[i];
	}
	olen = o;
}

/* Shorten the vector to `len` bytes. */
static int trim(struct iovec *iov, int cnt, size_t len)
{
	size_t n = 0;

	for (int i = 0; i < cnt; i++) {
		if (n + iov[i].iov_len >= len) {
			iov[i].iov_len = len - n;
			return i + 1;
		}
		n += iov[i].iov_len;
	}
	return cnt;
}

/* Keep every replaced range whole inside the call [p, p + *len) (the buffers are contiguous in
 * prog, so running on to a range's end is a longer last buffer). */
static int fit(struct iovec *iov, int cnt, size_t p, int qc, size_t *len)
{
	for (int i = qc; i < nq && q[i] < p + *len; i++) {
		size_t end = q[i] + qs[i];

		if (end <= p + *len)
			continue;
		if (q[i] > p) {
			*len = q[i] - p;
			return trim(iov, cnt, *len);
		}
		iov[cnt - 1].iov_len += end - p - *len;
		*len = end - p;
		break;
	}
	return cnt;
}

static void check(const struct inj_state *st, size_t p, int qc)
{
	size_t pend = 0;
	int started = 0;

	REQUIRE(memcmp(peer, out, plen) == 0);
	REQUIRE(progcnt[plen] == p);
	for (int i = 0; i < nq; i++) {
		REQUIRE(p <= q[i] || p >= q[i] + qs[i]);
		started += istart[i] < plen;
		if (istart[i] < plen && plen < iend[i])
			pend = iend[i] - plen;
	}
	REQUIRE(started == qc);
	REQUIRE(inj_state_pending_len(st) == pend);
	REQUIRE(memcmp(st->buf + st->off, out + plen, pend) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct iovec iov[IOV_MAX];
	struct input in = {data, size};
	struct inj_insert ins[INJ_MAX_INSERTS];
	struct inj_state st;
	struct kern k = {.in = &in};
	size_t p = 0;
	int qc = 0;
	unsigned shape;

	setup_stream(&in);
	shape = next(&in, 0);
	inj_state_init(&st);
	plen = 0;
	for (int iter = 0; p < T; iter++) {
		size_t len = 0, want = shape & 1 ? T - p : 1 + next(&in, 255) * (shape >> 1) % T;
		int cnt = 0, nins = 0, done = -1;
		ssize_t r;

		REQUIRE(iter < 100000);
		/* buffers of fuzzer-chosen sizes (0 included) until `want` bytes or IOV_MAX */
		while (len < T - p && len < want && cnt < IOV_MAX) {
			size_t sz = shape & 2 ? next(&in, 200) % 9 : T;

			sz = sz < T - p - len ? sz : T - p - len;
			iov[cnt++] = (struct iovec){prog + p + len, sz};
			len += sz;
		}
		if (len == 0) {
			iov[0] = (struct iovec){prog + p, 1};
			cnt = 1;
			len = 1;
		}
		REQUIRE(qc == nq || q[qc] >= p);
		cnt = fit(iov, cnt, p, qc, &len);
		for (int i = qc; i < nq && q[i] < p + len; i++) {
			if (nins == INJ_MAX_INSERTS) {
				/* as the tracker does: offer only the bytes before the 17th point
				 */
				cnt = trim(iov, cnt, q[i] - p);
				len = q[i] - p;
				break;
			}
			REQUIRE(q[i] + qs[i] <= p + len);
			ins[nins++] = (struct inj_insert){
			    .at = q[i] - p, .bytes = ib[i], .len = il[i], .skip = qs[i]};
		}
		r = inj_write(&st, iov, cnt, ins, nins, &done, kern_writev, &k);
		REQUIRE(r != 0 && done >= 0 && done <= nins);
		if (r < 0)
			REQUIRE(k.failed && -r == k.err);
		else
			REQUIRE((size_t)r <= len);
		p += r > 0 ? (size_t)r : 0;
		qc += done;
		check(&st, p, qc);
	}
	/* A replacement that ends the stream may leave its tail pending after the program was told
	 * it wrote everything; the tracker sends it before the connection is shut down. */
	for (int iter = 0; inj_state_pending(&st); iter++) {
		int e = inj_flush_pending(&st, kern_writev, &k);

		REQUIRE(iter < 100000 && (e == 0 || (k.failed && e == -k.err)));
		check(&st, p, qc);
	}
	REQUIRE(plen == olen && qc == nq);
	return 0;
}
