/*
 * inject.c - write a program's outbound bytes with header bytes inserted or replaced, counting
 * exactly.
 *
 * The model. For one write call the bytes that must reach the peer form a logical stream:
 *
 *     pending | P[0, a1) | B1 | P[a1 + s1, a2) | B2 | ... | P[ak + sk, n)
 *
 * where P is the program's n bytes, a1 <= a2 <= ... the entries' offsets, s1, s2, ... the
 * program bytes each entry replaces (0 for a pure insertion), B1, B2, ... their new bytes, and
 * "pending" the new bytes an earlier call left unsent. A call of the write function takes a
 * prefix of whatever vector it is given, so after each call we walk the stream by the count it
 * returned: pending bytes first, then program ranges and entries in order. That walk is the
 * only accounting there is, which keeps it exact by construction:
 *
 *  - the program's count is the number of P bytes inside the prefix taken, plus the skipped
 *    bytes of every entry that has at least one byte inside it. A replaced range is consumed
 *    the moment its replacement starts going out, because from then on the peer will never see
 *    those program bytes and the program must not offer them again; before that it is not
 *    consumed at all, so the count never lands inside a replaced range;
 *  - an entry cut in the middle leaves its tail in the pending buffer. It can only be cut when
 *    the program range before it went out whole and nothing after it did, so the pending bytes
 *    are always the tail of one entry and fit in INJ_PENDING_MAX;
 *  - an entry of which nothing went out did not happen; the tracker sees that in ins_done and
 *    plans it again on the bytes the program re-offers (a stream-socket program re-offers its
 *    unsent bytes after a short write).
 *
 * When to call the write function again. The program must never see 0 from a non-empty write
 * (it would read "nothing written", or spin), so while nothing was consumed we call again: a
 * blocking socket blocks as the program's own write would have, and an error (EAGAIN on a full
 * non-blocking socket, EINTR, EPIPE) goes back as it is, pending bytes kept. A replacement that
 * started is consumption even if no program byte went out: its skip makes the count positive,
 * so a replacement at offset 0 cut by the kernel returns its skip and leaves its tail pending.
 * Once the count is above 0, a short count is the kernel's and is returned as it stands; the
 * one exception is a vector we cut ourselves at INJ_VEC_MAX iovecs: when the kernel took all of
 * it we go on with the next piece, since the program offered more and a stream socket would
 * have taken it in one call. An error after the count became positive is then left to the
 * program's next call, as the kernel itself does after a partial write.
 *
 * Termination: every repeated call happens only after the previous one took at least one byte
 * of a finite stream, and a call that takes 0 bytes ends the loop.
 *
 * Thread and signal safety: no globals, no allocation, no locks, no I/O but the caller's write
 * function; errno is only read, right after that function fails. Async-signal-safe and
 * reentrant; one struct inj_state must not be used by two calls at once.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "inject.h"
#include "traceparent.h"

/* Every vector must have room for the pending bytes, all entries before the next program byte
 * (several at one offset, or replacements back to back) and one program range, or a call could
 * make no progress. */
_Static_assert(INJ_VEC_MAX >= 1 + INJ_MAX_INSERTS + 1, "INJ_VEC_MAX too small");
_Static_assert(INJ_PENDING_MAX <= UINT16_MAX, "pending counters are 16-bit");
_Static_assert(INJ_HEADERS_MAX <= INJ_INSERT_MAX, "formatted headers must fit one insertion");

/* One inj_write() in progress: the program's buffers, the entries, and how far we got. */
struct job {
	const struct iovec *iov;
	size_t n; /* program bytes offered */
	const struct inj_insert *ins;
	int nins;
	size_t pos; /* program bytes consumed (gone out or replaced) */
	int k;      /* entries that happened: ins[0, k) */
};

static inline size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* A failed write function left its reason in errno; 0 there would make the failure vanish. */
static inline int fail_errno(void)
{
	return errno ? errno : EIO;
}

void inj_state_init(struct inj_state *st)
{
	st->off = 0;
	st->len = 0;
}

/* Sum the program's lengths as writev does: more than SSIZE_MAX in all is EINVAL. */
static int total_len(const struct iovec *iov, int iovcnt, size_t *n)
{
	size_t sum = 0;

	if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt > 0 && !iov))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - sum)
			return -EINVAL;
		sum += iov[i].iov_len;
	}
	*n = sum;
	return 0;
}

static int check_inserts(const struct inj_insert *ins, int nins, size_t n)
{
	size_t prev = 0;

	if (nins < 0 || nins > INJ_MAX_INSERTS || (nins > 0 && !ins))
		return -EINVAL;
	for (int i = 0; i < nins; i++) {
		if (ins[i].at < prev || ins[i].at > n || ins[i].skip > n - ins[i].at ||
		    !ins[i].bytes || ins[i].len == 0 || ins[i].len > INJ_INSERT_MAX)
			return -EINVAL;
		prev = ins[i].at + ins[i].skip; /* the next entry must not start inside the range */
	}
	return 0;
}

/* Where program offset `pos` lies: iov[*i] at *ioff (iov[*i] may be empty or past the end). */
static void seek(const struct job *j, size_t pos, int *i, size_t *ioff)
{
	int k = 0;

	while (pos > 0 && pos >= j->iov[k].iov_len) {
		pos -= j->iov[k].iov_len;
		k++;
	}
	*i = k;
	*ioff = pos;
}

/*
 * Fill `vec` with the stream from where the job stands: pending bytes, then program ranges and
 * the entries that have not happened, at most INJ_VEC_MAX iovecs. Sets *total to the bytes in
 * it and *cut to whether the stream goes on past it. Empty program buffers are skipped, and so
 * are replaced ranges: after an entry the walk resumes at at + skip.
 */
static int build(const struct inj_state *st, const struct job *j, struct iovec *vec, size_t *total,
                 bool *cut)
{
	size_t pos = j->pos, ioff, sum = 0;
	int cnt = 0, k = j->k, i;

	if (st->len) {
		vec[cnt++] = (struct iovec){(void *)(st->buf + st->off), st->len};
		sum += st->len;
	}
	seek(j, pos, &i, &ioff);
	*cut = true;
	for (;;) {
		for (; k < j->nins && j->ins[k].at == pos; k++) {
			if (cnt == INJ_VEC_MAX)
				goto out;
			vec[cnt++] = (struct iovec){(void *)j->ins[k].bytes, j->ins[k].len};
			sum += j->ins[k].len;
			if (j->ins[k].skip) {
				pos += j->ins[k].skip;
				seek(j, pos, &i, &ioff);
			}
		}
		if (pos == j->n) {
			*cut = false;
			break;
		}
		while (ioff == j->iov[i].iov_len) {
			i++;
			ioff = 0;
		}
		if (cnt == INJ_VEC_MAX)
			goto out;
		size_t lim = k < j->nins ? j->ins[k].at : j->n;
		size_t len = min_sz(j->iov[i].iov_len - ioff, lim - pos);

		vec[cnt++] = (struct iovec){(char *)j->iov[i].iov_base + ioff, len};
		sum += len;
		pos += len;
		ioff += len;
	}
out:
	*total = sum;
	return cnt;
}

/* `r` bytes went out: the pending ones go first. Returns how many of `r` were pending. */
static size_t take_pending(struct inj_state *st, size_t r)
{
	size_t take = min_sz(r, st->len);

	st->off = (uint16_t)(st->off + take);
	st->len = (uint16_t)(st->len - take);
	if (st->len == 0)
		st->off = 0;
	return take;
}

/* The write function took `r` bytes of the vector build() made: walk the stream by them.
 * Entries are sorted and never start inside a replaced range, so pos <= lim holds. */
static void account(struct inj_state *st, struct job *j, size_t r)
{
	size_t take;

	r -= take_pending(st, r);
	while (r > 0) {
		size_t lim = j->k < j->nins ? j->ins[j->k].at : j->n;

		if (j->pos < lim) {
			take = min_sz(r, lim - j->pos);
			j->pos += take;
			r -= take;
			continue;
		}
		if (j->k == j->nins)
			break; /* pos == n: r was clamped to the vector, so this cannot happen */
		const struct inj_insert *in = &j->ins[j->k++];

		/* At least one of its bytes is in r, so it happened: its range is consumed. */
		j->pos += in->skip;
		take = min_sz(r, in->len);
		r -= take;
		if (take < in->len) {
			/* r is 0 now, and the pending buffer was emptied before the entry. */
			memcpy(st->buf, in->bytes + take, in->len - take);
			st->off = 0;
			st->len = (uint16_t)(in->len - take);
		}
	}
}

/* The loop described at the top of the file; returns program bytes consumed or -errno. */
static ssize_t run(struct inj_state *st, struct job *j, inj_writev_fn fn, void *ctx)
{
	struct iovec vec[INJ_VEC_MAX];
	size_t total;
	bool cut;

	for (;;) {
		int cnt = build(st, j, vec, &total, &cut);
		ssize_t r = fn(ctx, vec, cnt);

		if (r < 0) {
			int e = fail_errno();

			return j->pos ? (ssize_t)j->pos : -e;
		}
		if ((size_t)r > total)
			r = (ssize_t)total; /* a write function claiming more than offered */
		account(st, j, (size_t)r);
		if (j->pos == j->n || r == 0)
			return (ssize_t)j->pos;
		if (j->pos > 0 && ((size_t)r < total || !cut))
			return (ssize_t)j->pos;
	}
}

static ssize_t call_plain(inj_writev_fn fn, void *ctx, const struct iovec *iov, int iovcnt)
{
	ssize_t r = fn(ctx, iov, iovcnt);

	return r < 0 ? -fail_errno() : r;
}

ssize_t inj_write(struct inj_state *st, const struct iovec *iov, int iovcnt,
                  const struct inj_insert *ins, int nins, int *ins_done, inj_writev_fn fn,
                  void *ctx)
{
	struct job j = {.iov = iov, .ins = ins, .nins = nins};
	ssize_t r;

	if (ins_done)
		*ins_done = 0;
	if (st->len == 0 && nins == 0)
		return call_plain(fn, ctx, iov, iovcnt);
	if (total_len(iov, iovcnt, &j.n) < 0 || check_inserts(ins, nins, j.n) < 0)
		return -EINVAL;
	if (j.n == 0)
		return call_plain(fn, ctx, iov, iovcnt);
	r = run(st, &j, fn, ctx);
	if (ins_done)
		*ins_done = j.k;
	return r;
}

int inj_flush_pending(struct inj_state *st, inj_writev_fn fn, void *ctx)
{
	while (st->len) {
		struct iovec v = {st->buf + st->off, st->len};
		ssize_t r = fn(ctx, &v, 1);

		if (r < 0)
			return -fail_errno();
		if (r == 0)
			return -EIO;
		take_pending(st, (size_t)r);
	}
	return 0;
}

/* ---- header lines ------------------------------------------------------------------------ */

static bool nonzero(const uint8_t *b, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc != 0;
}

/*
 * Whether `ts` may be sent as a tracestate field value: W3C list members are printable ASCII
 * (0x20..0x7E) and OWS, and the normalised form has no HTAB; anything else, CR and LF above
 * all, would corrupt the request head. A blank value is an empty header, which W3C says
 * should not be sent.
 */
static bool ts_sendable(const char *ts, size_t len)
{
	bool blank = true;

	if (!ts || len == 0 || len > CTX_TRACESTATE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)ts[i];

		if (c < 0x20 || c > 0x7e)
			return false;
		if (c != ' ')
			blank = false;
	}
	return !blank;
}

static char *put(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

size_t inj_format_headers(char *out, size_t cap, const struct ctx_span_context *sc,
                          const char *tracestate, size_t ts_len)
{
	static const char tp_name[] = "traceparent: ", ts_name[] = "tracestate: ";
	const size_t tp_line = sizeof(tp_name) - 1 + CTX_TRACEPARENT_LEN + 2;
	char tp[CTX_TRACEPARENT_LEN + 1];
	char *p = out;

	if (!out)
		return 0;
	if (cap > 0)
		*out = '\0';
	if (!sc || !sc->valid || !nonzero(sc->trace_id, sizeof(sc->trace_id)) ||
	    !nonzero(sc->span_id, sizeof(sc->span_id)) || cap < tp_line)
		return 0;
	if (ctx_tp_format(sc, tp) != CTX_TRACEPARENT_LEN)
		return 0;
	p = put(p, tp_name, sizeof(tp_name) - 1);
	p = put(p, tp, CTX_TRACEPARENT_LEN);
	p = put(p, "\r\n", 2);
	if (ts_len > 0 && ts_sendable(tracestate, ts_len) &&
	    cap - tp_line >= sizeof(ts_name) - 1 + ts_len + 2) {
		p = put(p, ts_name, sizeof(ts_name) - 1);
		p = put(p, tracestate, ts_len);
		p = put(p, "\r\n", 2);
	}
	if ((size_t)(p - out) < cap)
		*p = '\0';
	return (size_t)(p - out);
}
