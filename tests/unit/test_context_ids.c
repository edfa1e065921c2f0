/*
 * test_context_ids.c - trace/span id generation: never zero, uniform bits, distinct across
 * threads, and a forked child that has run the atfork hook does not repeat its parent's ids
 * (with the opposite control: without the hook it does, which shows the test can fail).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ids.h"

#define NTHREADS 4
#define PER_THREAD 10000

struct tid128 {
	uint8_t b[16];
};

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static int cmp8(const void *a, const void *b)
{
	return memcmp(a, b, 8);
}

static bool is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void test_never_zero(void **state)
{
	uint8_t t[16], s[8];

	(void)state;
	for (int i = 0; i < 200000; i++) {
		ctx_ids_new_trace(t);
		ctx_ids_new_span(s);
		assert_false(is_zero(t, 16));
		assert_false(is_zero(s, 8));
	}
}

/* Every one of the 128 trace-id bits is random (W3C Level 2 random flag): each bit is set in
 * 45-55% of 20,000 draws (expected 50%, standard deviation 0.35%: a 14-sigma margin). */
static void test_bits_uniform(void **state)
{
	static unsigned count[128];
	const int n = 20000;
	uint8_t t[16];

	(void)state;
	for (int i = 0; i < n; i++) {
		ctx_ids_new_trace(t);
		for (int bit = 0; bit < 128; bit++)
			count[bit] += (t[bit / 8] >> (bit % 8)) & 1;
	}
	for (int bit = 0; bit < 128; bit++)
		if (count[bit] < n * 45 / 100 || count[bit] > n * 55 / 100)
			fail_msg("bit %d set %u times in %d", bit, count[bit], n);
}

struct collect {
	struct tid128 *traces;
	uint8_t (*spans)[8];
	int errno_kept;
};

static void *collector(void *arg)
{
	struct collect *c = arg;

	errno = 4242; /* the first id seeds the generator: errno must survive that */
	for (int i = 0; i < PER_THREAD; i++) {
		ctx_ids_new_trace(c->traces[i].b);
		ctx_ids_new_span(c->spans[i]);
	}
	c->errno_kept = errno == 4242;
	return NULL;
}

static void test_threads_distinct(void **state)
{
	struct tid128 *traces = calloc(NTHREADS * PER_THREAD, sizeof(*traces));
	uint8_t(*spans)[8] = calloc(NTHREADS * PER_THREAD, 8);
	struct collect c[NTHREADS];
	pthread_t th[NTHREADS];

	(void)state;
	assert_non_null(traces);
	assert_non_null(spans);
	for (int i = 0; i < NTHREADS; i++) {
		c[i] = (struct collect){traces + i * PER_THREAD, spans + i * PER_THREAD, 0};
		assert_int_equal(pthread_create(&th[i], NULL, collector, &c[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_true(c[i].errno_kept);
	}
	qsort(traces, NTHREADS * PER_THREAD, 16, cmp16);
	qsort(spans, NTHREADS * PER_THREAD, 8, cmp8);
	for (int i = 1; i < NTHREADS * PER_THREAD; i++) {
		if (memcmp(&traces[i - 1], &traces[i], 16) == 0)
			fail_msg("duplicate trace id at sorted index %d", i);
		if (memcmp(spans[i - 1], spans[i], 8) == 0)
			fail_msg("duplicate span id at sorted index %d", i);
	}
	free(traces);
	free(spans);
}

struct draw {
	uint8_t t[16];
	uint8_t s[8];
};

/* Fork; the child optionally runs the atfork hook, then both draw the next ids; the child's
 * come back over a pipe. Returns whether parent and child produced identical ids. */
static bool fork_and_compare(bool run_hook)
{
	struct draw mine, child;
	int fds[2], status;
	pid_t pid;

	ctx_ids_new_span(mine.s); /* make sure this thread's generator is seeded */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (run_hook)
			ctx_ids_atfork_child();
		ctx_ids_new_trace(child.t);
		ctx_ids_new_span(child.s);
		_exit(write(fds[1], &child, sizeof(child)) == sizeof(child) ? 0 : 1);
	}
	close(fds[1]);
	ctx_ids_new_trace(mine.t);
	ctx_ids_new_span(mine.s);
	assert_int_equal(read(fds[0], &child, sizeof(child)), sizeof(child));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_false(is_zero(child.t, 16));
	assert_false(is_zero(child.s, 8));
	return memcmp(mine.t, child.t, 16) == 0 && memcmp(mine.s, child.s, 8) == 0;
}

static void test_fork_reseeds(void **state)
{
	(void)state;
	/* Control: the inherited state alone repeats the parent's sequence exactly. */
	assert_true(fork_and_compare(false));
	/* With the atfork hook the child reseeds and its ids differ. */
	for (int i = 0; i < 3; i++)
		assert_false(fork_and_compare(true));
}

static volatile sig_atomic_t handler_ok;

static void on_signal(int sig)
{
	uint8_t t[16], s[8];

	(void)sig;
	ctx_ids_new_trace(t);
	ctx_ids_new_span(s);
	handler_ok = !is_zero(t, 16) && !is_zero(s, 8);
}

/* Ids can be made inside a signal handler, and do not repeat the interrupted thread's. */
static void test_signal_handler(void **state)
{
	struct sigaction sa;
	uint8_t a[8], b[8];

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	ctx_ids_new_span(a);
	assert_int_equal(raise(SIGUSR1), 0);
	ctx_ids_new_span(b);
	assert_true(handler_ok);
	assert_memory_not_equal(a, b, 8);
	signal(SIGUSR1, SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_never_zero),       cmocka_unit_test(test_bits_uniform),
	    cmocka_unit_test(test_threads_distinct), cmocka_unit_test(test_fork_reseeds),
	    cmocka_unit_test(test_signal_handler),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
