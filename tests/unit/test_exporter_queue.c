/*
 * test_exporter_queue.c - the lock-free span ring: FIFO order, full/empty, wrap-around with a
 * capacity that is not a power of two, lazy mapping and reset, the wake threshold, and four
 * producer threads against one consumer with exact accounting (accepted + dropped ==
 * attempted, every span taken out intact and in per-producer order).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "queue.h"

static void make_span(struct exp_span *s, unsigned producer, unsigned seq)
{
	char name[32];
	int n;

	exp_span_init(s);
	memcpy(s->trace_id, &producer, sizeof(producer));
	memcpy(s->span_id, &seq, sizeof(seq));
	n = snprintf(name, sizeof(name), "p%u-%u", producer, seq);
	exp_span_set_name(s, name, (size_t)n);
	exp_span_add_int(s, "seq", seq);
	exp_span_add_str(s, "pad", "abcdefghijklmnopqrstuvwxyz", seq % 27);
}

/* Check a span made by make_span; returns its producer and sequence. */
static void check_span(const struct exp_span *s, unsigned *producer, unsigned *seq)
{
	const struct exp_attr *a;
	char name[32];
	int n;

	memcpy(producer, s->trace_id, sizeof(*producer));
	memcpy(seq, s->span_id, sizeof(*seq));
	n = snprintf(name, sizeof(name), "p%u-%u", *producer, *seq);
	assert_int_equal(s->name.len, n);
	assert_memory_equal(exp_str_ptr(s, s->name), name, (size_t)n);
	a = exp_span_find_attr(s, "seq");
	assert_non_null(a);
	assert_true(a->v.i == (int64_t)*seq);
	a = exp_span_find_attr(s, "pad");
	assert_non_null(a);
	assert_int_equal(a->v.s.len, *seq % 27);
	assert_memory_equal(exp_str_ptr(s, a->v.s), "abcdefghijklmnopqrstuvwxyz", *seq % 27);
}

static void test_init_rejects(void **state)
{
	struct exp_queue q;

	(void)state;
	assert_int_equal(exp_queue_init(&q, 0, 1), -EINVAL);
	assert_int_equal(exp_queue_init(&q, 8, 0), -EINVAL);
	assert_int_equal(exp_queue_init(&q, 8, 9), -EINVAL);
	assert_int_equal(exp_queue_init(&q, 8, 8), 0);
}

static void test_fifo_full_empty(void **state)
{
	struct exp_span s, out;
	struct exp_queue q;
	unsigned i, p, seq;

	(void)state;
	assert_int_equal(exp_queue_init(&q, 8, 2), 0);
	assert_null(q.slots); /* nothing mapped before the first push */
	assert_int_equal(exp_queue_pop(&q, &out), 0);
	for (i = 0; i < 8; i++) {
		make_span(&s, 1, i);
		/* Only the push that makes the length reach the batch (2) says "wake" (1), and the
		 * one that makes it reach half the capacity (4) "wake, whatever the mode" (2). */
		assert_int_equal(exp_queue_push(&q, &s), i == 1 ? 1 : i == 3 ? 2 : 0);
	}
	assert_non_null(q.slots);
	make_span(&s, 1, 99);
	assert_int_equal(exp_queue_push(&q, &s), -ENOBUFS);
	assert_int_equal(exp_queue_len(&q), 8);
	assert_int_equal(exp_queue_accepted(&q), 8);
	for (i = 0; i < 8; i++) {
		memset(&out, 0, sizeof(out));
		assert_int_equal(exp_queue_pop(&q, &out), 1);
		check_span(&out, &p, &seq);
		assert_int_equal(seq, i);
	}
	assert_int_equal(exp_queue_pop(&q, &out), 0);
	assert_int_equal(exp_queue_taken(&q), 8);
	assert_int_equal(exp_queue_len(&q), 0);
	exp_queue_reset(&q);
	assert_null(q.slots);
	assert_int_equal(exp_queue_accepted(&q), 0);
}

static void test_wraparound_odd_capacity(void **state)
{
	struct exp_span s, out;
	struct exp_queue q;
	unsigned i, next_in = 0, next_out = 0, p, seq;

	(void)state;
	assert_int_equal(exp_queue_init(&q, 3, 3), 0);
	for (i = 0; i < 1000; i++) {
		/* push two, pop one or two: the positions lap the ring many times */
		make_span(&s, 2, next_in);
		if (exp_queue_push(&q, &s) >= 0)
			next_in++;
		make_span(&s, 2, next_in);
		if (exp_queue_push(&q, &s) >= 0)
			next_in++;
		for (unsigned k = 0; k < 1 + i % 2; k++) {
			if (exp_queue_pop(&q, &out)) {
				check_span(&out, &p, &seq);
				assert_int_equal(seq, next_out);
				next_out++;
			}
		}
	}
	while (exp_queue_pop(&q, &out)) {
		check_span(&out, &p, &seq);
		assert_int_equal(seq, next_out++);
	}
	assert_int_equal(next_in, next_out);
	assert_true(next_in > 1000);
	exp_queue_reset(&q);
}

/* The used part of the string buffer travels; a bogus buf_used is clamped, not trusted. */
static void test_bogus_buf_used(void **state)
{
	struct exp_span s, out;
	struct exp_queue q;

	(void)state;
	assert_int_equal(exp_queue_init(&q, 2, 1), 0);
	make_span(&s, 3, 3);
	s.buf_used = 60000;
	assert_int_equal(exp_queue_push(&q, &s), 2); /* batch 1 = half of 2: the stronger wake */
	assert_int_equal(exp_queue_pop(&q, &out), 1);
	assert_memory_equal(out.buf, s.buf, EXP_SPAN_BUF);
	/* Counts beyond the arrays' capacity: the arrays are copied whole, the counts as they are
	 * (readers clamp them), nothing is read or written past the record. */
	memset(s.attrs, 0x11, sizeof(s.attrs));
	memset(s.events, 0x22, sizeof(s.events));
	s.nattrs = 255;
	s.nevents = 255;
	s.buf_used = 7;
	assert_true(exp_queue_push(&q, &s) >= 0);
	memset(&out, 0, sizeof(out));
	assert_int_equal(exp_queue_pop(&q, &out), 1);
	assert_int_equal(out.nattrs, 255);
	assert_int_equal(out.nevents, 255);
	assert_memory_equal(out.attrs, s.attrs, sizeof(s.attrs));
	assert_memory_equal(out.events, s.events, sizeof(s.events));
	assert_memory_equal(out.buf, s.buf, 7);
	assert_int_equal(out.buf[7], 0); /* only the used part of buf */
	exp_queue_reset(&q);
}

#define PRODUCERS 4
#define PER_PRODUCER 20000
#define WAKE_N 2000

struct prod {
	struct exp_queue *q;
	unsigned id, n;
	unsigned accepted, dropped, wakes;
};

static int finished; /* producers done (atomic) */

static void *producer(void *arg)
{
	struct prod *p = arg;
	struct exp_span s;
	unsigned i;
	int rc;

	for (i = 0; i < p->n; i++) {
		make_span(&s, p->id, i);
		rc = exp_queue_push(p->q, &s);
		if (rc < 0) {
			p->dropped += rc == -ENOBUFS;
		} else {
			p->accepted++;
			p->wakes += rc == 1;
		}
	}
	__atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void run_producers(struct exp_queue *q, struct prod *pr, pthread_t *t, unsigned n)
{
	unsigned i;

	__atomic_store_n(&finished, 0, __ATOMIC_RELAXED);
	for (i = 0; i < PRODUCERS; i++) {
		pr[i] = (struct prod){.q = q, .id = i, .n = n};
		assert_int_equal(pthread_create(&t[i], NULL, producer, &pr[i]), 0);
	}
}

static void test_four_producers_one_consumer(void **state)
{
	static struct exp_span out;
	unsigned last[PRODUCERS], i, p, seq, taken = 0, accepted = 0, dropped = 0;
	struct prod pr[PRODUCERS];
	pthread_t t[PRODUCERS];
	struct exp_queue q;

	(void)state;
	memset(last, 0xff, sizeof(last));
	assert_int_equal(exp_queue_init(&q, 64, 16), 0);
	run_producers(&q, pr, t, PER_PRODUCER);
	/* Consume until every producer has finished and the ring is empty. */
	while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < PRODUCERS || exp_queue_len(&q)) {
		if (exp_queue_pop(&q, &out)) {
			check_span(&out, &p, &seq);
			assert_true(p < PRODUCERS);
			/* Per producer, spans come out in the order they went in. */
			assert_true(last[p] == 0xffffffffu || seq > last[p]);
			last[p] = seq;
			taken++;
		}
	}
	for (i = 0; i < PRODUCERS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(pr[i].accepted + pr[i].dropped, PER_PRODUCER);
		accepted += pr[i].accepted;
		dropped += pr[i].dropped;
	}
	while (exp_queue_pop(&q, &out))
		taken++;
	assert_int_equal(accepted + dropped, PRODUCERS * PER_PRODUCER);
	assert_int_equal(taken, accepted);
	assert_int_equal(exp_queue_accepted(&q), accepted);
	exp_queue_reset(&q);
}

/* Without a consumer the length passes the threshold exactly once: one wake in all. */
static void test_one_wake_per_batch(void **state)
{
	static struct exp_span out;
	struct prod pr[PRODUCERS];
	pthread_t t[PRODUCERS];
	unsigned i, wakes = 0, accepted = 0;
	struct exp_queue q;

	(void)state;
	assert_int_equal(exp_queue_init(&q, PRODUCERS * WAKE_N, 1000), 0);
	run_producers(&q, pr, t, WAKE_N);
	for (i = 0; i < PRODUCERS; i++) {
		pthread_join(t[i], NULL);
		wakes += pr[i].wakes;
		accepted += pr[i].accepted;
		assert_int_equal(pr[i].dropped, 0);
	}
	assert_int_equal(accepted, PRODUCERS * WAKE_N);
	assert_int_equal(wakes, 1);
	/* Drain to below the threshold, then refill: exactly one more wake. */
	for (i = 0; i < PRODUCERS * WAKE_N; i++)
		assert_int_equal(exp_queue_pop(&q, &out), 1);
	run_producers(&q, pr, t, WAKE_N);
	for (wakes = 0, i = 0; i < PRODUCERS; i++) {
		pthread_join(t[i], NULL);
		wakes += pr[i].wakes;
	}
	assert_int_equal(wakes, 1);
	exp_queue_reset(&q);
}

/* A signal handler that enqueues, interrupting a thread that is itself pushing and popping:
 * no deadlock, exact accounting, every span intact, each producer's spans in order. */
static struct exp_queue sigq;
static volatile sig_atomic_t sig_ok, sig_full, sig_calls;

static void sig_span(struct exp_span *s, unsigned producer, unsigned seq)
{
	exp_span_init(s); /* the builders are async-signal-safe: no snprintf here */
	memcpy(s->trace_id, &producer, sizeof(producer));
	memcpy(s->span_id, &seq, sizeof(seq));
	exp_span_set_name(s, "sig", 3);
	exp_span_add_int(s, "seq", seq);
}

static void on_alarm(int sig)
{
	struct exp_span s;
	int rc;

	(void)sig;
	sig_span(&s, 7, (unsigned)sig_ok);
	rc = exp_queue_push(&sigq, &s);
	if (rc >= 0)
		sig_ok++;
	else
		sig_full++;
	sig_calls++;
}

static void test_signal_handler_producer(void **state)
{
	struct itimerval it = {{0, 20}, {0, 20}}, off = {{0, 0}, {0, 0}};
	static struct exp_span s, out;
	unsigned i, main_ok = 0, taken = 0, last[2] = {0, 0}, seen[2] = {0, 0};
	struct sigaction sa, old;
	const struct exp_attr *a;
	unsigned p, seq;

	(void)state;
	assert_int_equal(exp_queue_init(&sigq, 256, 64), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &it, NULL);
	for (i = 0; i < 200000 || !sig_calls; i++) {
		sig_span(&s, 1, main_ok);
		if (exp_queue_push(&sigq, &s) >= 0)
			main_ok++;
		while (exp_queue_pop(&sigq, &out)) {
			memcpy(&p, out.trace_id, sizeof(p));
			memcpy(&seq, out.span_id, sizeof(seq));
			assert_true(p == 1 || p == 7);
			a = exp_span_find_attr(&out, "seq");
			assert_true(a && a->v.i == (int64_t)seq);
			assert_int_equal(out.name.len, 3);
			/* per producer, in order and without gaps */
			assert_int_equal(seq, seen[p == 7] ? last[p == 7] + 1 : 0);
			last[p == 7] = seq;
			seen[p == 7] = 1;
			taken++;
		}
	}
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	while (exp_queue_pop(&sigq, &out))
		taken++;
	print_message("signal handler pushed %d, refused %d\n", (int)sig_ok, (int)sig_full);
	assert_true(sig_calls > 0);
	assert_int_equal(sig_ok + sig_full, sig_calls);
	assert_int_equal(exp_queue_accepted(&sigq), main_ok + (unsigned)sig_ok);
	assert_int_equal(taken, main_ok + (unsigned)sig_ok);
	exp_queue_reset(&sigq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_rejects),
	    cmocka_unit_test(test_fifo_full_empty),
	    cmocka_unit_test(test_wraparound_odd_capacity),
	    cmocka_unit_test(test_bogus_buf_used),
	    cmocka_unit_test(test_four_producers_one_consumer),
	    cmocka_unit_test(test_one_wake_per_batch),
	    cmocka_unit_test(test_signal_handler_producer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
