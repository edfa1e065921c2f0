/*
 * test_injector_sim.c - inj_write() against a simulated kernel and a simulated program.
 *
 * The kernel: a write function that takes, call by call, what a script says (everything, k bytes
 * at call j, an EAGAIN or EINTR at call j, a partial count then an error, one byte a call, a
 * fixed room a call, or random), and appends what it took to the "peer" buffer.
 *
 * The program: a byte stream of HTTP requests written in one style (all at once, a byte at a
 * time, fixed chunks, writev of 1-byte or mixed iovecs up to IOV_MAX, the head and the blank
 * line in separate calls), re-offering its unsent bytes after every short write and retrying
 * after EAGAIN / EINTR, as a correct stream-socket program does.
 *
 * The tracker: plans the entries that fall inside each call (the blank line ending a head is
 * inside the call; a replaced range, such as a forwarded traceparent value, lies wholly inside
 * it), at most INJ_MAX_INSERTS (it offers a shorter call beyond that), and takes ins_done into
 * account so an entry that did not happen is planned again. The real tracker does not replace
 * a range the call cuts; so that every run has one expected stream, the simulated program never
 * cuts one: a call that would end inside a replaced range ends before it, or, when it starts
 * at the range, runs on to the range's end (the only departure from its write style).
 *
 * The streams: requests with header lines inserted at the blank line; proxied requests whose
 * forwarded traceparent value (55 bytes) is replaced by 55 other bytes; replacements whose
 * length differs from the range (a longer request line at offset 0, a shorter body tail at the
 * very end), a replacement right before an insertion, an insertion and a replacement at one
 * offset, two replacements back to back; pipelined and many-head variants.
 *
 * Checked after every call: the peer holds a prefix of the expected stream (program bytes with
 * the header lines at their places and the replaced ranges swapped); the program bytes consumed
 * in it (those gone out, plus the range of every replacement started) are exactly the sum of
 * the counts returned, which never lands inside a replaced range; no call returns 0; an error
 * comes back as the kernel's errno and only when nothing was consumed; after a short kernel
 * count that consumed program bytes, or an error, the injector does not call the kernel again;
 * the pending bytes are exactly the unsent tail of the entry the peer stopped in; ins_done adds
 * up to the entries started in the peer. At the end, after the pending tail of a replacement
 * that ends the stream is flushed: the peer holds exactly the expected stream.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "inject.h"

#define MAXQ 64
#define MAXSTREAMS 16
#define STREAM_MAX 4096
#define OUT_MAX (STREAM_MAX + MAXQ * INJ_INSERT_MAX)

/* ---- the program's stream and the expected peer stream ---------------------------------- */

struct stream {
	const char *name;
	char s[STREAM_MAX];
	size_t T;
	int nq;
	bool large;                    /* run with a smaller grid budget */
	size_t q[MAXQ];                /* entry offsets in the program stream, sorted */
	size_t qs[MAXQ];               /* program bytes each entry replaces (0: insertion) */
	size_t il[MAXQ];               /* lengths of the new bytes */
	char ib[MAXQ][INJ_INSERT_MAX]; /* new bytes */
	/* expected peer stream */
	char out[OUT_MAX];
	size_t olen;
	size_t progcnt[OUT_MAX + 1]; /* program bytes consumed once the peer has out[0, x) */
	size_t istart[MAXQ], iend[MAXQ];
};

static struct stream streams[MAXSTREAMS];
static int nstreams;

static void add_text(struct stream *s, const char *t)
{
	size_t n = strlen(t);

	assert_true(s->T + n <= STREAM_MAX);
	memcpy(s->s + s->T, t, n);
	s->T += n;
}

/* A header line of `len` bytes whose content depends on the insertion's number, so that a
 * duplicated, lost or misplaced insertion cannot go unnoticed. */
static void add_insert(struct stream *s, size_t len)
{
	int i = s->nq++;
	char *b = s->ib[i];

	assert_true(i < MAXQ && len >= 8 && len <= INJ_INSERT_MAX);
	snprintf(b, len, "x-%02d: ", i);
	for (size_t k = 7; k < len - 2; k++)
		b[k] = (char)('a' + (i * 7 + k) % 26);
	b[len - 2] = '\r';
	b[len - 1] = '\n';
	s->q[i] = s->T;
	s->qs[i] = 0;
	s->il[i] = len;
}

/* Program bytes `orig` that the peer must receive as `repl` instead. */
static void add_replace(struct stream *s, const char *orig, const char *repl)
{
	int i = s->nq++;
	size_t len = strlen(repl);

	assert_true(i < MAXQ && len >= 1 && len <= INJ_INSERT_MAX);
	memcpy(s->ib[i], repl, len);
	s->q[i] = s->T;
	s->qs[i] = strlen(orig);
	s->il[i] = len;
	add_text(s, orig);
}

/* A traceparent value (55 bytes) whose ids depend on `n` and `salt`, so that the forwarded
 * value and each replacement differ from every other one. */
static void tp_value(char out[56], int n, int salt)
{
	static const char hex[] = "0123456789abcdef";

	memcpy(out, "00-", 3);
	for (int k = 0; k < 32 + 1 + 16; k++)
		out[3 + k] = k == 32 ? '-' : hex[(n * 7 + salt * 5 + k * 3) % 16];
	memcpy(out + 52, "-01", 4);
}

/* One request: `head` (request line and header lines, each ending in CRLF), the insertions
 * planned at the blank line, the blank line, then `body`. */
static void add_request(struct stream *s, const char *head, const size_t *lens, int nlens,
                        const char *body)
{
	add_text(s, head);
	for (int i = 0; i < nlens; i++)
		add_insert(s, lens[i]);
	add_text(s, "\r\n");
	add_text(s, body);
}

/* A proxied request: the forwarded traceparent value is replaced; `lens` lines are inserted
 * at the blank line as for any request. */
static void add_proxied(struct stream *s, const char *head, int n, const size_t *lens, int nlens,
                        const char *body)
{
	char fwd[56], own[56];

	tp_value(fwd, n, 1);
	tp_value(own, n, 2);
	add_text(s, head);
	add_text(s, "traceparent: ");
	add_replace(s, fwd, own);
	add_text(s, "\r\nAccept: */*\r\n");
	add_request(s, "", lens, nlens, body);
}

static void finish_stream(struct stream *s)
{
	size_t o = 0, p = 0;

	s->progcnt[0] = 0;
	for (int i = 0; i <= s->nq; i++) {
		size_t upto = i < s->nq ? s->q[i] : s->T;

		assert_true(p <= upto); /* entries never start inside a replaced range */
		for (; p < upto; p++) {
			s->out[o] = s->s[p];
			s->progcnt[o + 1] = s->progcnt[o] + 1;
			o++;
		}
		if (i == s->nq)
			break;
		/* From its first byte on, a replacement has consumed its whole range. */
		s->istart[i] = o;
		for (size_t k = 0; k < s->il[i]; k++) {
			s->out[o] = s->ib[i][k];
			s->progcnt[o + 1] = s->q[i] + s->qs[i];
			o++;
		}
		s->iend[i] = o;
		p = s->q[i] + s->qs[i];
	}
	s->olen = o;
}

static struct stream *new_stream(const char *name, bool large)
{
	struct stream *s = &streams[nstreams++];

	assert_true(nstreams <= MAXSTREAMS);
	s->name = name;
	s->large = large;
	return s;
}

static void build_streams(void)
{
	static const size_t tp[] = {70}, tp_ts[] = {184}, two[] = {70, 30}, big[] = {600};
	static const size_t ts[] = {40};
	struct stream *s;
	char head[256], own[56];

	nstreams = 0;
	s = new_stream("get", false);
	add_request(s, "GET /a HTTP/1.1\r\nHost: h\r\n", tp, 1, "");
	s = new_stream("post+body", false);
	add_request(s, "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 23\r\n", tp_ts, 1,
	            "{\"hello\": \"world\", \"\"}\n");
	s = new_stream("pipelined", false);
	add_request(s, "GET /1 HTTP/1.1\r\nHost: h\r\n", tp, 1, "");
	add_request(s, "GET /2 HTTP/1.1\r\nHost: h\r\n", tp, 1, "");
	s = new_stream("two-at-one-offset", false);
	add_request(s, "GET /c HTTP/1.1\r\nHost: h\r\n", two, 2, "");
	s = new_stream("long-insert+body", false);
	add_request(s, "PUT /d HTTP/1.1\r\nContent-Length: 4\r\n", big, 1, "abcd");
	add_request(s, "GET /e HTTP/1.1\r\n", tp, 1, "");
	/* A proxy forwarding traceparent: its value is replaced, nothing inserted. */
	s = new_stream("proxied", false);
	add_proxied(s, "GET /p HTTP/1.1\r\nHost: h\r\n", 0, NULL, 0, "");
	/* Replaced value and an inserted tracestate line; two such requests pipelined. */
	s = new_stream("proxied-pipelined", false);
	add_proxied(s, "GET /p1 HTTP/1.1\r\nHost: h\r\n", 1, ts, 1, "");
	add_proxied(s, "POST /p2 HTTP/1.1\r\nContent-Length: 5\r\n", 2, ts, 1, "hello");
	/* Lengths that differ: a longer request line at offset 0, a shorter body tail that ends
	 * the stream. */
	s = new_stream("grow-at-0+shrink-at-end", false);
	add_replace(s, "GET /old HTTP/1.1\r\n", "GET /a/much/longer/path HTTP/1.1\r\n");
	add_request(s, "Host: h\r\nContent-Length: 8\r\n", tp, 1, "0123456");
	add_replace(s, "789", "XY");
	/* A whole traceparent line replaced by traceparent and tracestate lines, right before an
	 * insertion; then an insertion and a replacement at one offset, and two replacements
	 * back to back. */
	s = new_stream("adjacent", false);
	tp_value(own, 3, 2);
	snprintf(head, sizeof(head), "traceparent: %.55s\r\ntracestate: a=b\r\n", own);
	add_text(s, "GET /q HTTP/1.1\r\nHost: h\r\n");
	add_replace(s, "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n",
	            head);
	add_request(s, "", ts, 1, "");
	add_text(s, "GET /r HTTP/1.1\r\n");
	add_insert(s, 12);
	add_replace(s, "Host: old\r\n", "Host: new.example\r\n");
	add_replace(s, "X-B: 1\r\n", "X-B: 22\r\n");
	add_text(s, "\r\n");
	/* Heads of ~100 bytes: 1-byte iovecs up to IOV_MAX cover ~10 insertion points, so the
	 * vector with the splits exceeds IOV_MAX. */
	s = new_stream("many-heads", true);
	for (int i = 0; i < 14; i++) {
		snprintf(head, sizeof(head),
		         "GET /item/%04d HTTP/1.1\r\nHost: backend.example\r\n"
		         "User-Agent: sim/1.0\r\nAccept: */*\r\nX-Req: %d\r\n",
		         i, i * 31);
		add_request(s, head, tp, 1, "");
	}
	/* Tiny pipelined heads: more than INJ_MAX_INSERTS insertion points in one call. */
	s = new_stream("tiny-heads", true);
	for (int i = 0; i < 40; i++) {
		snprintf(head, sizeof(head), "GET /%02d HTTP/1.1\r\n", i);
		add_request(s, head, tp, 1, "");
	}
	/* The same with replacements: 14 proxied heads, and 20 tiny ones (40 entries). */
	s = new_stream("many-proxied", true);
	for (int i = 0; i < 14; i++) {
		snprintf(head, sizeof(head), "GET /item/%04d HTTP/1.1\r\nHost: backend.example\r\n",
		         i);
		add_proxied(s, head, 10 + i, i % 2 ? ts : NULL, i % 2, "");
	}
	s = new_stream("tiny-proxied", true);
	for (int i = 0; i < 20; i++) {
		snprintf(head, sizeof(head), "GET /%02d HTTP/1.1\r\n", i);
		add_proxied(s, head, 30 + i, tp, 1, "");
	}
	for (int i = 0; i < nstreams; i++)
		finish_stream(&streams[i]);
}

/* ---- the simulated kernel ---------------------------------------------------------------- */

enum script_kind { SC_ALL, SC_CUT, SC_CUT_ERR, SC_ERR, SC_ONE, SC_CAP, SC_RAND };

struct script {
	enum script_kind kind;
	int j;    /* call number the script acts on */
	size_t k; /* bytes taken at call j (SC_CUT: 0 = EAGAIN), or room a call (SC_CAP) */
	int err;  /* errno for SC_ERR, SC_CUT_ERR */
	uint64_t seed;
};

struct sim {
	struct script sc;
	const struct stream *st;
	int calls;
	bool acted; /* the script's call j happened and changed something */
	char peer[OUT_MAX];
	size_t plen;
	bool last_failed;
	int last_err;
	/* per inj_write() */
	size_t p_start;
	bool must_stop;
	size_t max_offered;
	char fault[160];
};

static struct sim sim;

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* What call number `c` does with `offered` bytes: >= 0 taken, or -errno. */
static long decide(struct sim *s, int c, size_t offered)
{
	const struct script *sc = &s->sc;

	if (offered == 0)
		return 0;
	switch (sc->kind) {
	case SC_ALL:
		return (long)offered;
	case SC_CUT:
		if (c != sc->j || sc->k >= offered)
			return (long)offered;
		s->acted = true;
		return sc->k == 0 ? -EAGAIN : (long)sc->k;
	case SC_CUT_ERR:
		if (c == sc->j && sc->k < offered) {
			s->acted = true;
			return (long)sc->k;
		}
		return c == sc->j + 1 && s->acted ? -sc->err : (long)offered;
	case SC_ERR:
		if (c != sc->j)
			return (long)offered;
		s->acted = true;
		return -sc->err;
	case SC_ONE:
		return 1;
	case SC_CAP:
		return (long)(offered < sc->k ? offered : sc->k);
	case SC_RAND: {
		uint64_t r = rng_next(&s->sc.seed);

		if (r % 8 == 0)
			return -EAGAIN;
		if (r % 8 == 1)
			return -EINTR;
		return (long)(1 + (r >> 8) % offered);
	}
	}
	return -EIO;
}

static void fault(struct sim *s, const char *msg)
{
	if (!s->fault[0])
		snprintf(s->fault, sizeof(s->fault), "%s (kernel call %d)", msg, s->calls);
}

static ssize_t sim_writev(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct sim *s = ctx;
	size_t offered = 0;
	long d;

	if (iovcnt < 1 || iovcnt > IOV_MAX)
		fault(s, "vector size out of range");
	if (s->must_stop)
		fault(s, "kernel called again after a final short count or an error");
	for (int i = 0; i < iovcnt; i++)
		offered += iov[i].iov_len;
	d = decide(s, s->calls++, offered);
	if (d < 0) {
		s->last_failed = true;
		s->last_err = (int)-d;
		s->must_stop = true;
		errno = (int)-d;
		return -1;
	}
	if (s->plen + (size_t)d > s->st->olen) {
		fault(s, "peer received more than the expected stream");
		d = 0;
	}
	for (size_t need = (size_t)d, i = 0; need > 0; i++) {
		size_t n = iov[i].iov_len < need ? iov[i].iov_len : need;

		memcpy(s->peer + s->plen, iov[i].iov_base, n);
		s->plen += n;
		need -= n;
	}
	if (offered > s->max_offered)
		s->max_offered = offered;
	s->last_failed = false;
	if ((size_t)d < offered && s->st->progcnt[s->plen] > s->p_start)
		s->must_stop = true;
	return d;
}

/* ---- the simulated program and tracker ----------------------------------------------------- */

enum style { ST_WHOLE, ST_BYTE, ST_CHUNK7, ST_IOV1, ST_IOVMIX, ST_HEADSPLIT, ST_COUNT };

static const char *const style_names[] = {"whole", "byte", "chunk7", "iov1", "iovmix", "headsplit"};

static struct iovec piov[IOV_MAX];

/* The program's next call from stream offset p: fills piov, returns iovcnt, sets *len. */
static int make_offer(const struct stream *st, enum style sty, size_t p, size_t *len)
{
	static const size_t mix[] = {3, 0, 1, 5, 0, 2, 11, 0, 64, 1};
	char *base = (char *)st->s + p;
	size_t left = st->T - p, n = 0;
	int cnt = 0;

	switch (sty) {
	case ST_WHOLE:
	case ST_BYTE:
	case ST_CHUNK7:
	case ST_HEADSPLIT:
		n = sty == ST_WHOLE ? left : sty == ST_BYTE ? 1 : sty == ST_CHUNK7 ? 7 : left;
		if (sty == ST_HEADSPLIT) {
			for (int i = 0; i < st->nq; i++) {
				if (st->q[i] > p) {
					n = st->q[i] - p;
					break;
				}
			}
		}
		n = n < left ? n : left;
		piov[cnt++] = (struct iovec){base, n};
		break;
	case ST_IOV1:
	case ST_IOVMIX:
		for (size_t m = 0; n < left && cnt < IOV_MAX; m++) {
			size_t sz = sty == ST_IOV1 ? 1 : mix[m % (sizeof(mix) / sizeof(mix[0]))];

			sz = sz < left - n ? sz : left - n;
			piov[cnt++] = (struct iovec){base + n, sz};
			n += sz;
		}
		break;
	default:
		break;
	}
	*len = n;
	return cnt;
}

/* Shorten the program's vector to `len` bytes (the tracker offers a prefix). */
static int cut_offer(int cnt, size_t len)
{
	size_t n = 0;

	for (int i = 0; i < cnt; i++) {
		if (n + piov[i].iov_len >= len) {
			piov[i].iov_len = len - n;
			return i + 1;
		}
		n += piov[i].iov_len;
	}
	return cnt;
}

static char what[200];

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			print_error("%s: ", what);                                                 \
			fail_msg(__VA_ARGS__);                                                     \
		}                                                                                  \
	} while (0)

/* After a call: the peer, the counts, ins_done and the pending bytes agree with the model. */
static void check_state(const struct stream *st, const struct inj_state *state, size_t p, int qc)
{
	size_t L = sim.plen, pend = 0;
	int started = 0;

	CHECK(!sim.fault[0], "%s", sim.fault);
	for (int i = 0; i < st->nq; i++)
		CHECK(p <= st->q[i] || p >= st->q[i] + st->qs[i],
		      "count %zu inside the range replaced by entry %d", p, i);
	CHECK(memcmp(sim.peer, st->out, L) == 0, "peer bytes differ from the expected stream");
	CHECK(st->progcnt[L] == p, "peer has %zu program bytes, program was told %zu",
	      st->progcnt[L], p);
	for (int i = 0; i < st->nq; i++) {
		if (st->istart[i] < L)
			started++;
		if (st->istart[i] < L && L < st->iend[i])
			pend = st->iend[i] - L;
	}
	CHECK(started == qc, "entries started %d, ins_done added up to %d", started, qc);
	CHECK(inj_state_pending_len(state) == pend, "pending %zu, expected %zu",
	      inj_state_pending_len(state), pend);
	CHECK(memcmp(state->buf + state->off, st->out + L, pend) == 0, "pending bytes differ");
}

/*
 * Keep every replaced range whole inside the call [p, p + *len), as the tracker needs to
 * replace it: a call that would end inside one ends before it, or runs on to its end when it
 * starts there. The program's buffers are contiguous in the stream, so running on is a longer
 * last buffer.
 */
static void fit_ranges(const struct stream *st, size_t p, int qc, int *cnt, size_t *len)
{
	for (int i = qc; i < st->nq && st->q[i] < p + *len; i++) {
		size_t end = st->q[i] + st->qs[i];

		if (end <= p + *len)
			continue;
		if (st->q[i] > p) {
			*len = st->q[i] - p;
			*cnt = cut_offer(*cnt, *len);
		} else {
			piov[*cnt - 1].iov_len += end - p - *len;
			*len = end - p;
		}
		return;
	}
}

/* Plan the entries inside the call [p, p + *len): at most INJ_MAX_INSERTS, else offer less. */
static int plan(const struct stream *st, size_t p, int qc, int *cnt, size_t *len,
                struct inj_insert *ins)
{
	int nins = 0;

	CHECK(qc == st->nq || st->q[qc] >= p, "entry %d at %zu was skipped (p=%zu)", qc,
	      st->q[qc], p);
	for (int i = qc; i < st->nq && st->q[i] < p + *len; i++) {
		if (nins == INJ_MAX_INSERTS) {
			*len = st->q[i] - p;
			*cnt = cut_offer(*cnt, *len);
			break;
		}
		CHECK(st->q[i] + st->qs[i] <= p + *len, "entry %d's range crosses the call", i);
		ins[nins++] = (struct inj_insert){
		    .at = st->q[i] - p, .bytes = st->ib[i], .len = st->il[i], .skip = st->qs[i]};
	}
	return nins;
}

/* Run the whole program under one script; returns whether the script acted. */
static bool run_one(const struct stream *st, enum style sty, const struct script *sc)
{
	struct inj_insert ins[INJ_MAX_INSERTS];
	struct inj_state state;
	size_t p = 0, sum = 0;
	int qc = 0;
	long iters = 0;

	inj_state_init(&state);
	sim.sc = *sc;
	sim.st = st;
	sim.calls = 0;
	sim.acted = false;
	sim.plen = 0;
	sim.last_failed = false;
	sim.max_offered = 0;
	sim.fault[0] = '\0';
	snprintf(what, sizeof(what), "stream %s, style %s, script %d j=%d k=%zu err=%d seed=%llu",
	         st->name, style_names[sty], sc->kind, sc->j, sc->k, sc->err,
	         (unsigned long long)sc->seed);
	while (p < st->T) {
		size_t len;
		int cnt = make_offer(st, sty, p, &len), nins, done = -1;
		ssize_t r;

		CHECK(++iters < 100000, "no progress");
		fit_ranges(st, p, qc, &cnt, &len);
		nins = plan(st, p, qc, &cnt, &len, ins);
		sim.p_start = p;
		sim.must_stop = false;
		r = inj_write(&state, piov, cnt, ins, nins, &done, sim_writev, &sim);
		CHECK(r != 0, "returned 0 for a write of %zu bytes", len);
		CHECK(done >= 0 && done <= nins, "ins_done %d of %d", done, nins);
		if (r < 0) {
			CHECK(sim.last_failed && -r == sim.last_err, "error %zd, kernel said %d",
			      -r, sim.last_failed ? sim.last_err : 0);
		} else {
			CHECK((size_t)r <= len, "returned %zd for %zu bytes", r, len);
			/* A kernel that takes everything: the program gets everything, as it would
			 * from one writev on a blocking stream socket. */
			CHECK(sc->kind != SC_ALL || (size_t)r == len,
			      "short count %zd of %zu bytes", r, len);
			p += (size_t)r;
			sum += (size_t)r;
		}
		qc += done;
		check_state(st, &state, p, qc);
	}
	/* A replacement that ends the stream may leave its tail pending once the program was told
	 * it wrote everything; the tracker sends it before the connection is shut down. */
	while (inj_state_pending(&state)) {
		int e;

		CHECK(++iters < 100000, "no progress flushing");
		sim.p_start = p;
		sim.must_stop = false;
		e = inj_flush_pending(&state, sim_writev, &sim);
		CHECK(e == 0 || (sim.last_failed && -e == sim.last_err), "flush: %d", e);
		check_state(st, &state, p, qc);
	}
	CHECK(sim.plen == st->olen, "peer has %zu bytes, expected %zu", sim.plen, st->olen);
	CHECK(qc == st->nq && sum == st->T, "ins %d/%d, sum %zu/%zu", qc, st->nq, sum, st->T);
	return sim.acted;
}

static long combos;

/* Every (j, k) of a grid J x K1, or an evenly spread sample of `budget` of them. */
static void grid(const struct stream *st, enum style sty, struct script sc, int J, size_t K1,
                 size_t kmin, long budget)
{
	size_t total = (size_t)J * K1, step = 1;

	if ((long)total > budget)
		step = (total / (size_t)budget) | 1;
	for (size_t idx = 0; idx < total; idx += step) {
		sc.j = (int)(idx / K1);
		sc.k = idx % K1;
		if (sc.k < kmin)
			continue;
		combos += run_one(st, sty, &sc);
	}
}

static void run_all_scripts(const struct stream *st, enum style sty, long budget)
{
	struct script sc = {.kind = SC_ALL};
	int J;
	size_t K1;

	run_one(st, sty, &sc);
	combos++;
	J = sim.calls + 2;
	K1 = sim.max_offered + 1;
	grid(st, sty, (struct script){.kind = SC_CUT}, J, K1, 0, budget);
	grid(st, sty, (struct script){.kind = SC_CUT_ERR, .err = EAGAIN}, J, K1, 1, budget);
	grid(st, sty, (struct script){.kind = SC_CUT_ERR, .err = EINTR}, J, K1, 1, budget);
	for (int j = 0; j < J; j++) {
		sc = (struct script){.kind = SC_ERR, .j = j, .err = j % 2 ? EINTR : EAGAIN};
		combos += run_one(st, sty, &sc);
	}
	sc = (struct script){.kind = SC_ONE};
	combos += run_one(st, sty, &sc);
	for (size_t c = 1; c <= 90; c += (c < 20 ? 1 : 7)) {
		sc = (struct script){.kind = SC_CAP, .k = c};
		combos += run_one(st, sty, &sc);
	}
	for (uint64_t seed = 1; seed <= 60; seed++) {
		sc = (struct script){.kind = SC_RAND, .seed = seed * 7919};
		combos += run_one(st, sty, &sc);
	}
}

static int setup(void **state)
{
	(void)state;
	build_streams();
	return 0;
}

static void test_small_streams(void **state)
{
	(void)state;
	combos = 0;
	for (int i = 0; i < nstreams; i++)
		for (int sty = 0; sty < ST_COUNT && !streams[i].large; sty++)
			run_all_scripts(&streams[i], (enum style)sty, 60000);
	print_message("small streams: %ld simulated combinations\n", combos);
	assert_true(combos >= 20000);
}

static void test_large_streams(void **state)
{
	(void)state;
	combos = 0;
	for (int i = 0; i < nstreams; i++)
		for (int sty = 0; sty < ST_COUNT && streams[i].large; sty++)
			run_all_scripts(&streams[i], (enum style)sty, 2500);
	print_message("large streams: %ld simulated combinations\n", combos);
	assert_true(combos >= 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_streams),
	    cmocka_unit_test(test_large_streams),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
