/*
 * test_injector_write.c - inj_write() and inj_flush_pending(), case by case.
 *
 * Each row of the tables is one call worked out by hand: the pending bytes before it, the
 * program's buffers, the insertions, what the kernel does on each call of the write function
 * (take n bytes, take everything, fail with an errno), and what must follow: the result,
 * ins_done, the bytes the peer got, the pending bytes after, and how many kernel calls were
 * made. The rows cover the corners the simulation reaches only by chance (an insertion at the
 * end of the call, two at one offset, a write function that returns 0, more than offered, or
 * -1 with errno 0), invalid arguments, the fast path, and the vector limits.
 *
 * Replacements (skip > 0): the kernel stopping before, inside and right after one; one at
 * offset 0, where a cut inside it returns its skip (never 0); one ending the call; one right
 * before an insertion, after an insertion at its offset, and two back to back; lengths
 * different from the range; ranges across buffers; tables that overlap or run past the end.
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

#define ALL 1000000L      /* the kernel takes everything offered */
#define ERRNO0 (-100000L) /* the kernel returns -1 and leaves errno at 0 */
#define PEER_MAX 8192

/* ---- a scripted write function ------------------------------------------------------------ */

struct kern {
	const long *script; /* one entry a call; past the end: ALL */
	int nscript;
	int calls;
	char peer[PEER_MAX];
	size_t plen;
	int max_cnt;
	bool empty_entry;
	const struct iovec *last_iov;
};

static ssize_t kern_writev(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct kern *k = ctx;
	long d = k->calls < k->nscript ? k->script[k->calls] : ALL;
	size_t offered = 0;

	k->calls++;
	k->last_iov = iov;
	if (iovcnt > k->max_cnt)
		k->max_cnt = iovcnt;
	for (int i = 0; i < iovcnt; i++) {
		offered += iov[i].iov_len;
		if (iov[i].iov_len == 0)
			k->empty_entry = true;
	}
	if (d == ERRNO0) {
		errno = 0;
		return -1;
	}
	if (d < 0) {
		errno = (int)-d;
		return -1;
	}
	if (d == ALL)
		d = (long)offered;
	/* what a kernel may take is at most what was offered; beyond that the write function
	 * misbehaves, and only what was offered can reach the peer */
	for (size_t need = (size_t)d < offered ? (size_t)d : offered, i = 0; need > 0; i++) {
		size_t n = iov[i].iov_len < need ? iov[i].iov_len : need;

		assert_true(k->plen + n <= PEER_MAX);
		memcpy(k->peer + k->plen, iov[i].iov_base, n);
		k->plen += n;
		need -= n;
	}
	return d;
}

static void set_pending(struct inj_state *st, const char *s)
{
	inj_state_init(st);
	if (!s)
		return;
	/* Put the bytes at an offset, as a partly flushed buffer has them. */
	st->off = 3;
	st->len = (uint16_t)strlen(s);
	memcpy(st->buf + st->off, s, st->len);
}

static void assert_pending(const struct inj_state *st, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	assert_int_equal(inj_state_pending_len(st), n);
	assert_int_equal(inj_state_pending(st), n > 0);
	assert_memory_equal(st->buf + st->off, s ? s : "", n);
}

/* ---- inj_write, table ----------------------------------------------------------------------- */

struct ins_spec {
	size_t at;
	const char *b;
	size_t skip; /* program bytes replaced; 0 for an insertion */
};

struct row {
	const char *name;
	const char *pending; /* before the call, NULL = none */
	const char *prog[6]; /* program buffers, NULL-terminated ("" = an empty iovec) */
	struct ins_spec ins[3];
	int nins;
	long script[4];
	int nscript;
	ssize_t ret;
	int done;
	const char *peer;
	const char *pend_after;
	int calls;
};

/* name, pending, program buffers, insertions, nins, script, nscript,
 * result, ins_done, peer bytes, pending after, kernel calls */
// clang-format off
static const struct row rows[] = {
	{"no insertion, nothing pending", NULL, {"GET / HTTP/1.1\r\n\r\n"}, {{0}}, 0, {ALL}, 1,
	 18, 0, "GET / HTTP/1.1\r\n\r\n", NULL, 1},
	{"no insertion, kernel's short count", NULL, {"abcdef"}, {{0}}, 0, {4}, 1, 4, 0, "abcd",
	 NULL, 1},
	{"no insertion, EAGAIN", NULL, {"abc"}, {{0}}, 0, {-EAGAIN}, 1, -EAGAIN, 0, "", NULL, 1},
	{"insertion in the middle", NULL, {"GET\r\n\r\n"}, {{5, "X: 1\r\n", 0}}, 1, {ALL}, 1, 7, 1,
	 "GET\r\nX: 1\r\n\r\n", NULL, 1},
	{"cut inside the insertion", NULL, {"GET\r\n\r\n"}, {{5, "X: 1\r\n", 0}}, 1, {7}, 1, 5, 1,
	 "GET\r\nX:", " 1\r\n", 1},
	{"cut just before the insertion: it did not happen", NULL, {"GET\r\n\r\n"},
	 {{5, "X: 1\r\n", 0}}, 1, {5}, 1, 5, 0, "GET\r\n", NULL, 1},
	{"cut just after the insertion", NULL, {"GET\r\n\r\n"}, {{5, "X: 1\r\n", 0}}, 1, {11}, 1, 5,
	 1, "GET\r\nX: 1\r\n", NULL, 1},
	{"insertion at 0, part of it then the rest", NULL, {"\r\n"}, {{0, "X: 1\r\n", 0}}, 1,
	 {2, ALL}, 2, 2, 1, "X: 1\r\n\r\n", NULL, 2},
	{"insertion at 0, part of it then a short count", NULL, {"\r\nbody"}, {{0, "X: 1\r\n", 0}},
	 1, {2, 5}, 2, 1, 1, "X: 1\r\n\r", NULL, 2},
	{"insertion at 0, part of it then EAGAIN", NULL, {"\r\n"}, {{0, "X: 1\r\n", 0}}, 1,
	 {2, -EAGAIN}, 2, -EAGAIN, 1, "X:", " 1\r\n", 2},
	{"insertion at 0, all of it then EINTR", NULL, {"\r\n"}, {{0, "X: 1\r\n", 0}}, 1,
	 {6, -EINTR}, 2, -EINTR, 1, "X: 1\r\n", NULL, 2},
	{"insertion at 0, EAGAIN at once: it did not happen", NULL, {"\r\n"}, {{0, "X: 1\r\n", 0}},
	 1, {-EAGAIN}, 1, -EAGAIN, 0, "", NULL, 1},
	{"pending, all taken", "PEND", {"abc"}, {{0}}, 0, {ALL}, 1, 3, 0, "PENDabc", NULL, 1},
	{"pending, part then all", "PEND", {"abc"}, {{0}}, 0, {2, ALL}, 2, 3, 0, "PENDabc",
	 NULL, 2},
	{"pending, part then EAGAIN", "PEND", {"abc"}, {{0}}, 0, {2, -EAGAIN}, 2, -EAGAIN, 0,
	 "PE", "ND", 2},
	{"pending exactly, then one program byte", "PEND", {"abc"}, {{0}}, 0, {4, 1}, 2, 1, 0,
	 "PENDa", NULL, 2},
	{"pending, insertion at 0, EPIPE inside it", "PE", {"abc"}, {{0, "XY", 0}}, 1, {3, -EPIPE},
	 2, -EPIPE, 1, "PEX", "Y", 2},
	{"insertion at the end, all", NULL, {"abc"}, {{3, "XY", 0}}, 1, {ALL}, 1, 3, 1, "abcXY",
	 NULL, 1},
	{"insertion at the end, not reached", NULL, {"abc"}, {{3, "XY", 0}}, 1, {3}, 1, 3, 0, "abc",
	 NULL, 1},
	{"insertion at the end, cut inside", NULL, {"abc"}, {{3, "XY", 0}}, 1, {4}, 1, 3, 1, "abcX",
	 "Y", 1},
	{"two at one offset, first whole", NULL, {"ab"}, {{1, "X", 0}, {1, "YZ", 0}}, 2, {2}, 1, 1,
	 1, "aX", NULL, 1},
	{"two at one offset, second cut", NULL, {"ab"}, {{1, "X", 0}, {1, "YZ", 0}}, 2, {3}, 1, 1,
	 2, "aXY", "Z", 1},
	{"two at one offset, all", NULL, {"ab"}, {{1, "X", 0}, {1, "YZ", 0}}, 2, {ALL}, 1, 2, 2,
	 "aXYZb", NULL, 1},
	{"two pipelined heads", NULL, {"A\r\n\r\nB\r\n\r\n"}, {{3, "x\r\n", 0}, {8, "y\r\n", 0}}, 2,
	 {ALL}, 1, 10, 2, "A\r\nx\r\n\r\nB\r\ny\r\n\r\n", NULL, 1},
	{"two pipelined heads, cut between", NULL, {"A\r\n\r\nB\r\n\r\n"},
	 {{3, "x\r\n", 0}, {8, "y\r\n", 0}}, 2, {9}, 1, 6, 1, "A\r\nx\r\n\r\nB", NULL, 1},
	{"empty iovecs around the insertion", NULL, {"", "ab", "", "c", ""}, {{2, "X", 0}}, 1,
	 {ALL}, 1, 3, 1, "abXc", NULL, 1},
	{"write function returns 0: no spinning", "P", {"ab"}, {{0}}, 0, {0}, 1, 0, 0, "", "P",
	 1},
	{"write function returns 0 after the pending bytes", "P", {"ab"}, {{0}}, 0, {1, 0}, 2,
	 0, 0, "P", NULL, 2},
	{"write function claims more than offered", NULL, {"ab"}, {{1, "X", 0}}, 1, {1000}, 1, 2,
	 1, "aXb", NULL, 1},
	{"write function fails with errno 0", "P", {"ab"}, {{0}}, 0, {ERRNO0}, 1, -EIO, 0, "",
	 "P", 1},
	{"empty write with pending: passed through", "PEND", {""}, {{0}}, 0, {ALL}, 1, 0, 0, "",
	 "PEND", 1},
	{"empty write, insertion ignored", NULL, {""}, {{0, "X", 0}}, 1, {ALL}, 1, 0, 0, "", NULL,
	 1},
	{"invalid: unsorted", NULL, {"abc"}, {{2, "X", 0}, {1, "Y", 0}}, 2, {ALL}, 1, -EINVAL, 0,
	 "", NULL, 0},
	{"invalid: beyond the end", NULL, {"abc"}, {{4, "X", 0}}, 1, {ALL}, 1, -EINVAL, 0, "", NULL,
	 0},
	{"invalid: empty insertion", NULL, {"abc"}, {{1, "", 0}}, 1, {ALL}, 1, -EINVAL, 0, "", NULL,
	 0},
	{"invalid with pending: pending untouched", "PEND", {"abc"}, {{4, "X", 0}}, 1, {ALL}, 1,
	 -EINVAL, 0, "", "PEND", 0},
	/* Replacements: the skipped range counts as consumed once a byte of its bytes went out. */
	{"replacement, same length, all", NULL, {"tp: AAAA\r\n"}, {{4, "BBBB", 4}}, 1, {ALL}, 1,
	 10, 1, "tp: BBBB\r\n", NULL, 1},
	{"replacement cut inside: its range is consumed", NULL, {"tp: AAAA\r\n"},
	 {{4, "BBBB", 4}}, 1, {6}, 1, 8, 1, "tp: BB", "BB", 1},
	{"cut just before the replacement: it did not happen", NULL, {"tp: AAAA\r\n"},
	 {{4, "BBBB", 4}}, 1, {4}, 1, 4, 0, "tp: ", NULL, 1},
	{"cut just after the replacement", NULL, {"tp: AAAA\r\n"}, {{4, "BBBB", 4}}, 1, {8}, 1, 8,
	 1, "tp: BBBB", NULL, 1},
	{"replacement at 0, part of it: the count is its skip", NULL, {"AAAA\r\n"},
	 {{0, "BBBB", 4}}, 1, {2}, 1, 4, 1, "BB", "BB", 1},
	{"replacement at 0, all of it, then a short count", NULL, {"AAAA\r\n"}, {{0, "BBBB", 4}},
	 1, {4}, 1, 4, 1, "BBBB", NULL, 1},
	{"replacement at 0, EAGAIN at once: it did not happen", NULL, {"AAAA\r\n"},
	 {{0, "BBBB", 4}}, 1, {-EAGAIN}, 1, -EAGAIN, 0, "", NULL, 1},
	{"replacement of the whole call, longer, part of it", NULL, {"AAAA"}, {{0, "BBBBBB", 4}},
	 1, {3}, 1, 4, 1, "BBB", "BBB", 1},
	{"pending, then EAGAIN before the replacement at 0", "PE", {"AAAA"}, {{0, "BB", 4}}, 1,
	 {2, -EAGAIN}, 2, -EAGAIN, 0, "PE", NULL, 2},
	{"pending and part of the replacement at 0: no further call", "PE", {"abcd"},
	 {{0, "XY", 2}}, 1, {3, -EAGAIN}, 2, 2, 1, "PEX", "Y", 1},
	{"pending, then 0 before the replacement at 0: no spinning", "P", {"ab"}, {{0, "XY", 2}},
	 1, {1, 0}, 2, 0, 0, "P", NULL, 2},
	{"replacement ending the call, all", NULL, {"ab1234"}, {{2, "XYZW", 4}}, 1, {ALL}, 1, 6,
	 1, "abXYZW", NULL, 1},
	{"replacement ending the call, cut inside", NULL, {"ab1234"}, {{2, "XYZW", 4}}, 1, {3}, 1,
	 6, 1, "abX", "YZW", 1},
	{"replacement right before an insertion, all", NULL, {"ab1234\r\n"},
	 {{2, "XYZW", 4}, {6, "I\r\n", 0}}, 2, {ALL}, 1, 8, 2, "abXYZWI\r\n\r\n", NULL, 1},
	{"replacement right before an insertion, cut between", NULL, {"ab1234\r\n"},
	 {{2, "XYZW", 4}, {6, "I\r\n", 0}}, 2, {6}, 1, 6, 1, "abXYZW", NULL, 1},
	{"replacement right before an insertion, cut in the insertion", NULL, {"ab1234\r\n"},
	 {{2, "XYZW", 4}, {6, "I\r\n", 0}}, 2, {7}, 1, 6, 2, "abXYZWI", "\r\n", 1},
	{"insertion and replacement at one offset, cut between", NULL, {"ab12cd"},
	 {{2, "I", 0}, {2, "XY", 2}}, 2, {3}, 1, 2, 1, "abI", NULL, 1},
	{"insertion and replacement at one offset, cut in the replacement", NULL, {"ab12cd"},
	 {{2, "I", 0}, {2, "XY", 2}}, 2, {4}, 1, 4, 2, "abIX", "Y", 1},
	{"insertion and replacement at one offset, all", NULL, {"ab12cd"},
	 {{2, "I", 0}, {2, "XY", 2}}, 2, {ALL}, 1, 6, 2, "abIXYcd", NULL, 1},
	{"replacements back to back, cut between", NULL, {"a12b"}, {{1, "X", 1}, {2, "YY", 1}}, 2,
	 {2}, 1, 2, 1, "aX", NULL, 1},
	{"replacements back to back, cut in the second", NULL, {"a12b"},
	 {{1, "X", 1}, {2, "YY", 1}}, 2, {3}, 1, 3, 2, "aXY", "Y", 1},
	{"replacements back to back, all", NULL, {"a12b"}, {{1, "X", 1}, {2, "YY", 1}}, 2, {ALL},
	 1, 4, 2, "aXYYb", NULL, 1},
	{"replacements back to back, the second to the end", NULL, {"a12b"},
	 {{1, "X", 1}, {2, "YY", 2}}, 2, {ALL}, 1, 4, 2, "aXYY", NULL, 1},
	{"shorter replacement", NULL, {"abcdef"}, {{1, "Z", 4}}, 1, {ALL}, 1, 6, 1, "aZf", NULL,
	 1},
	{"shorter replacement, cut after it", NULL, {"abcdef"}, {{1, "Z", 4}}, 1, {2}, 1, 5, 1,
	 "aZ", NULL, 1},
	{"longer replacement", NULL, {"abcdef"}, {{1, "LONG", 1}}, 1, {ALL}, 1, 6, 1,
	 "aLONGcdef", NULL, 1},
	{"replacement across buffers and empty iovecs", NULL, {"ab", "", "cd", "", "ef"},
	 {{1, "XY", 4}}, 1, {ALL}, 1, 6, 1, "aXYf", NULL, 1},
	{"replacement across buffers, cut inside", NULL, {"ab", "", "cd", "", "ef"},
	 {{1, "XY", 4}}, 1, {2}, 1, 5, 1, "aX", "Y", 1},
	{"replacement of all, then an insertion at the end", NULL, {"ab"},
	 {{0, "XY", 2}, {2, "I", 0}}, 2, {ALL}, 1, 2, 2, "XYI", NULL, 1},
	{"replacement of all, the insertion at the end not reached", NULL, {"ab"},
	 {{0, "XY", 2}, {2, "I", 0}}, 2, {2}, 1, 2, 1, "XY", NULL, 1},
	{"replacement, write function claims more than offered", NULL, {"ab"}, {{0, "X", 1}}, 1,
	 {1000}, 1, 2, 1, "Xb", NULL, 1},
	{"invalid: replaced range past the end", NULL, {"abc"}, {{2, "X", 2}}, 1, {ALL}, 1,
	 -EINVAL, 0, "", NULL, 0},
	{"invalid: next entry inside the replaced range", NULL, {"abcde"},
	 {{1, "X", 3}, {3, "Y", 0}}, 2, {ALL}, 1, -EINVAL, 0, "", NULL, 0},
	{"invalid: two replacements at one offset", NULL, {"abcde"}, {{1, "X", 1}, {1, "Y", 1}},
	 2, {ALL}, 1, -EINVAL, 0, "", NULL, 0},
	{"invalid: replacement before an insertion at its offset", NULL, {"abcde"},
	 {{1, "X", 1}, {1, "Y", 0}}, 2, {ALL}, 1, -EINVAL, 0, "", NULL, 0},
	{"invalid: replacement by nothing", NULL, {"abcde"}, {{1, "", 2}}, 1, {ALL}, 1, -EINVAL, 0,
	 "", NULL, 0},
};
// clang-format on

static void run_row(const struct row *r)
{
	struct iovec iov[6];
	struct inj_insert ins[3];
	struct inj_state st;
	struct kern k = {.script = r->script, .nscript = r->nscript};
	int cnt = 0, done = -7;
	ssize_t ret;

	print_message("row: %s\n", r->name);
	for (; r->prog[cnt]; cnt++)
		iov[cnt] = (struct iovec){(void *)r->prog[cnt], strlen(r->prog[cnt])};
	for (int i = 0; i < r->nins; i++)
		ins[i] = (struct inj_insert){.at = r->ins[i].at,
		                             .bytes = r->ins[i].b,
		                             .len = strlen(r->ins[i].b),
		                             .skip = r->ins[i].skip};
	set_pending(&st, r->pending);
	ret = inj_write(&st, iov, cnt, ins, r->nins, &done, kern_writev, &k);
	assert_int_equal(ret, r->ret);
	assert_int_equal(done, r->done);
	assert_int_equal(k.plen, strlen(r->peer));
	assert_memory_equal(k.peer, r->peer, k.plen);
	assert_pending(&st, r->pend_after);
	assert_int_equal(k.calls, r->calls);
}

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i]);
}

/* ---- pass-through and invalid arguments ------------------------------------------------------ */

static void test_fast_path_is_the_program_call(void **state)
{
	static struct iovec big[IOV_MAX + 1];
	struct iovec iov[2] = {{"ab", 2}, {"", 0}};
	struct inj_state st;
	struct kern k = {0};
	long efault = -EFAULT;

	(void)state;
	inj_state_init(&st);
	assert_int_equal(inj_write(&st, iov, 2, NULL, 0, NULL, kern_writev, &k), 2);
	assert_ptr_equal(k.last_iov, iov); /* the program's own vector, untouched */
	assert_int_equal(k.calls, 1);
	/* More than IOV_MAX buffers: the kernel, not us, says EINVAL (here: the script's errno). */
	for (int i = 0; i <= IOV_MAX; i++)
		big[i] = (struct iovec){"z", 1};
	k = (struct kern){.script = &efault, .nscript = 1};
	assert_int_equal(inj_write(&st, big, IOV_MAX + 1, NULL, 0, NULL, kern_writev, &k), -EFAULT);
	assert_ptr_equal(k.last_iov, big);
}

static void test_invalid_arguments(void **state)
{
	static struct iovec big[IOV_MAX + 1];
	static char longins[INJ_INSERT_MAX + 1];
	struct iovec iov[2] = {{"abc", 3}, {"de", 2}}, huge[2] = {{"a", SSIZE_MAX}, {"b", 2}};
	struct inj_insert ok = {1, "X", 1, 0}, many[INJ_MAX_INSERTS + 1];
	struct inj_insert nul = {1, NULL, 1, 0}, lng = {1, longins, sizeof(longins), 0};
	struct inj_insert at_end = {5, longins, INJ_INSERT_MAX, 0}; /* longest allowed: valid */
	/* ranges: one that wraps size_t, one one byte too long, the whole call (valid) */
	struct inj_insert wrap = {1, "X", 1, SIZE_MAX}, over = {1, "X", 1, 5};
	struct inj_insert whole = {0, longins, INJ_INSERT_MAX, 5};
	struct {
		const struct iovec *iov;
		int iovcnt;
		const struct inj_insert *ins;
		int nins;
		ssize_t ret;
	} t[] = {
	    {iov, -1, &ok, 1, -EINVAL},
	    {big, IOV_MAX + 1, &ok, 1, -EINVAL},
	    {NULL, 1, &ok, 1, -EINVAL},
	    {huge, 2, &ok, 1, -EINVAL},
	    {iov, 2, many, INJ_MAX_INSERTS + 1, -EINVAL},
	    {iov, 2, &ok, -1, -EINVAL},
	    {iov, 2, NULL, 1, -EINVAL},
	    {iov, 2, &nul, 1, -EINVAL},
	    {iov, 2, &lng, 1, -EINVAL},
	    {iov, 2, &wrap, 1, -EINVAL},
	    {iov, 2, &over, 1, -EINVAL},
	    {iov, 2, many, INJ_MAX_INSERTS, 5},
	    {iov, 2, &at_end, 1, 5},
	    {iov, 2, &whole, 1, 5},
	};

	(void)state;
	memset(longins, 'L', sizeof(longins));
	for (int i = 0; i <= IOV_MAX; i++)
		big[i] = (struct iovec){"z", 1};
	for (int i = 0; i <= INJ_MAX_INSERTS; i++)
		many[i] = (struct inj_insert){(size_t)i * 5 / INJ_MAX_INSERTS, "M", 1, 0};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct inj_state st;
		struct kern k = {0};
		int done = -7;

		print_message("invalid case %zu\n", i);
		set_pending(&st, "PEND");
		assert_int_equal(inj_write(&st, t[i].iov, t[i].iovcnt, t[i].ins, t[i].nins, &done,
		                           kern_writev, &k),
		                 t[i].ret);
		if (t[i].ret < 0) {
			assert_int_equal(k.calls, 0);
			assert_int_equal(done, 0);
			assert_pending(&st, "PEND");
		} else {
			assert_int_equal(done, t[i].nins);
			assert_false(inj_state_pending(&st));
		}
	}
}

/* ---- vectors longer than one call of the write function takes ------------------------------- */

static struct iovec many_iov[IOV_MAX];
static char many_bytes[IOV_MAX];

/* IOV_MAX one-byte buffers with an insertion every 100 bytes: far more entries than IOV_MAX. */
static int setup_many(struct inj_insert *ins, char expect[], size_t *elen)
{
	int nins = 0;
	size_t e = 0;

	for (int i = 0; i < IOV_MAX; i++) {
		many_bytes[i] = (char)('0' + i % 10);
		many_iov[i] = (struct iovec){&many_bytes[i], 1};
	}
	for (size_t at = 0; at <= IOV_MAX && nins < INJ_MAX_INSERTS; at += 100)
		ins[nins++] = (struct inj_insert){at, "<ins>", 5, 0};
	for (int i = 0, j = 0; i <= IOV_MAX; i++) {
		for (; j < nins && ins[j].at == (size_t)i; j++) {
			memcpy(expect + e, ins[j].bytes, ins[j].len);
			e += ins[j].len;
		}
		if (i < IOV_MAX)
			expect[e++] = many_bytes[i];
	}
	*elen = e;
	return nins;
}

static void test_iov_max_all_taken(void **state)
{
	struct inj_insert ins[INJ_MAX_INSERTS];
	static char expect[PEER_MAX];
	struct inj_state st;
	struct kern k = {0};
	size_t elen;
	int nins = setup_many(ins, expect, &elen), done;

	(void)state;
	set_pending(&st, "PEND");
	assert_int_equal(inj_write(&st, many_iov, IOV_MAX, ins, nins, &done, kern_writev, &k),
	                 IOV_MAX);
	assert_int_equal(done, nins);
	assert_int_equal(k.plen, 4 + elen);
	assert_memory_equal(k.peer, "PEND", 4);
	assert_memory_equal(k.peer + 4, expect, elen);
	assert_true(k.max_cnt <= INJ_VEC_MAX);
	assert_true(k.calls >= (IOV_MAX + 2 * nins) / INJ_VEC_MAX);
	assert_false(k.empty_entry);
	assert_false(inj_state_pending(&st));
}

/* The first piece goes whole, the second meets EAGAIN: the program gets the first piece's
 * bytes as a short count, not the error (the kernel does the same after a partial write). */
static void test_iov_max_error_after_first_piece(void **state)
{
	struct inj_insert ins[INJ_MAX_INSERTS];
	static char expect[PEER_MAX];
	struct inj_state st;
	long script[] = {ALL, -EAGAIN};
	struct kern k = {.script = script, .nscript = 2};
	size_t elen, prog = 0;
	int nins = setup_many(ins, expect, &elen), done;
	ssize_t r;

	(void)state;
	inj_state_init(&st);
	r = inj_write(&st, many_iov, IOV_MAX, ins, nins, &done, kern_writev, &k);
	assert_int_equal(k.calls, 2);
	assert_memory_equal(k.peer, expect, k.plen);
	for (size_t i = 0; i < k.plen; i++)
		prog += k.peer[i] >= '0' && k.peer[i] <= '9';
	assert_true(prog > 0);
	assert_int_equal(r, prog);
	assert_true(done > 0 && done < nins);
	assert_false(inj_state_pending(&st));
}

/* IOV_MAX one-byte buffers with INJ_MAX_INSERTS entries: replacements of 1..9 buffers by "[R]"
 * alternate with insertions, and the last replacement ends the call. Sets the expected stream
 * and where each entry starts in it. */
static int setup_many_repl(struct inj_insert *ins, char expect[], size_t *elen, size_t istart[])
{
	int nins = 0;
	size_t e = 0, p = 0;

	for (int i = 0; i < IOV_MAX; i++) {
		many_bytes[i] = (char)('0' + i % 10);
		many_iov[i] = (struct iovec){&many_bytes[i], 1};
	}
	for (int k = 0; k < INJ_MAX_INSERTS - 1; k++) {
		bool rep = k % 2 == 0;

		ins[nins++] = (struct inj_insert){(size_t)k * 60, rep ? "[R]" : "<ins>", rep ? 3 : 5,
		                                  rep ? (size_t)(1 + k % 9) : 0};
	}
	ins[nins++] = (struct inj_insert){IOV_MAX - 7, "[end]", 5, 7};
	for (int k = 0; k <= nins; k++) {
		size_t upto = k < nins ? ins[k].at : IOV_MAX;

		for (; p < upto; p++)
			expect[e++] = many_bytes[p];
		if (k == nins)
			break;
		istart[k] = e;
		memcpy(expect + e, ins[k].bytes, ins[k].len);
		e += ins[k].len;
		p += ins[k].skip;
	}
	*elen = e;
	return nins;
}

static void test_iov_max_replacements(void **state)
{
	struct inj_insert ins[INJ_MAX_INSERTS];
	static char expect[PEER_MAX];
	size_t elen, istart[INJ_MAX_INSERTS];
	int nins = setup_many_repl(ins, expect, &elen, istart), done;
	struct inj_state st;
	struct kern k = {0};
	long script[] = {ALL, -EAGAIN};
	size_t prog = 0;
	ssize_t r;

	(void)state;
	inj_state_init(&st);
	assert_int_equal(inj_write(&st, many_iov, IOV_MAX, ins, nins, &done, kern_writev, &k),
	                 IOV_MAX);
	assert_int_equal(done, nins);
	assert_int_equal(k.plen, elen);
	assert_memory_equal(k.peer, expect, elen);
	assert_true(k.max_cnt <= INJ_VEC_MAX && k.calls >= 2);
	assert_false(k.empty_entry);
	assert_false(inj_state_pending(&st));
	/* First piece whole, then EAGAIN: the count is the digits that went out plus the ranges
	 * of the entries that started, as read from the peer. */
	k = (struct kern){.script = script, .nscript = 2};
	r = inj_write(&st, many_iov, IOV_MAX, ins, nins, &done, kern_writev, &k);
	assert_int_equal(k.calls, 2);
	assert_memory_equal(k.peer, expect, k.plen);
	for (size_t i = 0; i < k.plen; i++)
		prog += k.peer[i] >= '0' && k.peer[i] <= '9';
	for (int i = 0; i < nins && istart[i] < k.plen; i++)
		prog += ins[i].skip;
	assert_true(prog > 0 && done > 0 && done < nins);
	assert_int_equal(r, prog);
	assert_true(istart[done - 1] < k.plen && istart[done] >= k.plen);
}

/* ---- inj_flush_pending ----------------------------------------------------------------------- */

static void test_flush(void **state)
{
	static const struct {
		const char *pending;
		long script[3];
		int nscript;
		int ret;
		const char *peer;
		const char *after;
		int calls;
	} t[] = {
	    {NULL, {ALL}, 1, 0, "", NULL, 0},
	    {"PEND", {ALL}, 1, 0, "PEND", NULL, 1},
	    {"PEND", {2, ALL}, 2, 0, "PEND", NULL, 2},
	    {"PEND", {1, 1, 1}, 3, 0, "PEND", NULL, 4},
	    {"PEND", {2, -EAGAIN}, 2, -EAGAIN, "PE", "ND", 2},
	    {"PEND", {-EINTR}, 1, -EINTR, "", "PEND", 1},
	    {"PEND", {3, -EPIPE}, 2, -EPIPE, "PEN", "D", 2},
	    {"PEND", {0}, 1, -EIO, "", "PEND", 1},
	    {"PEND", {100}, 1, 0, "PEND", NULL, 1},
	    {"PEND", {ERRNO0}, 1, -EIO, "", "PEND", 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct inj_state st;
		struct kern k = {.script = t[i].script, .nscript = t[i].nscript};

		print_message("flush case %zu\n", i);
		set_pending(&st, t[i].pending);
		assert_int_equal(inj_flush_pending(&st, kern_writev, &k), t[i].ret);
		assert_int_equal(k.plen, strlen(t[i].peer));
		assert_memory_equal(k.peer, t[i].peer, k.plen);
		assert_pending(&st, t[i].after);
		assert_int_equal(k.calls, t[i].calls);
	}
}

/* A request cut inside its header line, finished by the program's next call. */
static void test_pending_then_next_call(void **state)
{
	const char *req = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
	const char *want = "GET / HTTP/1.1\r\nHost: h\r\ntraceparent: x\r\n\r\n";
	struct inj_insert ins = {25, "traceparent: x\r\n", 16, 0};
	long script[] = {30, ALL};
	struct kern k = {.script = script, .nscript = 2};
	struct inj_state st;
	struct iovec iov = {(void *)req, strlen(req)};
	int done;
	ssize_t r;

	(void)state;
	inj_state_init(&st);
	r = inj_write(&st, &iov, 1, &ins, 1, &done, kern_writev, &k);
	assert_int_equal(r, 25);
	assert_int_equal(done, 1);
	assert_int_equal(inj_state_pending_len(&st), 11);
	/* The program re-offers its unsent bytes; the tracker plans nothing new. */
	iov = (struct iovec){(void *)(req + r), strlen(req) - (size_t)r};
	assert_int_equal(inj_write(&st, &iov, 1, NULL, 0, &done, kern_writev, &k), 2);
	assert_int_equal(done, 0);
	assert_false(inj_state_pending(&st));
	assert_int_equal(k.plen, strlen(want));
	assert_memory_equal(k.peer, want, k.plen);
}

/* A forwarded traceparent value replaced by the agent's own, cut by the kernel inside it: the
 * count takes in the whole forwarded value, and the program re-offers only what follows it. */
static void test_replacement_then_next_call(void **state)
{
	const char *req = "GET / HTTP/1.1\r\n"
	                  "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
	                  "\r\n";
	const char *own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
	const char *want = "GET / HTTP/1.1\r\n"
	                   "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
	                   "\r\n";
	struct inj_insert ins = {.at = 29, .bytes = own, .len = 55, .skip = 55};
	long script[] = {40, ALL};
	struct kern k = {.script = script, .nscript = 2};
	struct inj_state st;
	struct iovec iov = {(void *)req, strlen(req)};
	int done;
	ssize_t r;

	(void)state;
	assert_memory_equal(req + 16, "traceparent: 00-", 16); /* the value starts at 29 */
	inj_state_init(&st);
	r = inj_write(&st, &iov, 1, &ins, 1, &done, kern_writev, &k);
	assert_int_equal(r, 29 + 55);
	assert_int_equal(done, 1);
	assert_int_equal(inj_state_pending_len(&st), 55 - 11);
	iov = (struct iovec){(void *)(req + r), strlen(req) - (size_t)r};
	assert_memory_equal(iov.iov_base, "\r\n\r\n", 4);
	assert_int_equal(inj_write(&st, &iov, 1, NULL, 0, &done, kern_writev, &k), 4);
	assert_int_equal(done, 0);
	assert_false(inj_state_pending(&st));
	assert_int_equal(k.plen, strlen(want));
	assert_memory_equal(k.peer, want, k.plen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows),
	    cmocka_unit_test(test_fast_path_is_the_program_call),
	    cmocka_unit_test(test_invalid_arguments),
	    cmocka_unit_test(test_iov_max_all_taken),
	    cmocka_unit_test(test_iov_max_error_after_first_piece),
	    cmocka_unit_test(test_iov_max_replacements),
	    cmocka_unit_test(test_flush),
	    cmocka_unit_test(test_pending_then_next_call),
	    cmocka_unit_test(test_replacement_then_next_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
