/*
 * enqueue.c - what a host thread pays to hand a finished span to the exporter (exp_enqueue).
 *
 *   enqueue THREADS ROUNDS BURST
 *
 * THREADS producer threads (1..8) each enqueue ROUNDS bursts of BURST realistic SERVER spans
 * (12 HTTP semantic-convention attributes, about 350 bytes of strings, as the agent makes for
 * an nginx request) into the real exporter, configured like OTEL_TRACES_EXPORTER=none: the
 * exporter thread takes the spans out of the queue in batches and discards them, so the queue,
 * the batching and the wake-up protocol are exactly the agent's, without any network. Between
 * bursts a producer sleeps 1 ms (a system call of this benchmark, outside the timed part) so
 * that the exporter thread keeps up and no span is dropped for lack of room; only the
 * exp_enqueue() calls are timed (CLOCK_MONOTONIC around each burst). A warm-up of two queue
 * laps first, not timed, maps the queue's pages.
 *
 * Prints, on stderr, "producer TID" for each producer thread (so a tracer can tell their
 * system calls apart: a producer makes none of its own but the pause), and on stdout one line
 * of results:
 *
 *   threads T spans N ns_per_enqueue_median M ns_per_enqueue_mean A dropped D wakeups W
 *
 * where M is the median over all bursts of the burst's time divided by BURST, A the total
 * time over the total count, D the spans dropped because the queue was full (expected 0), and
 * W the futex wake-ups issued by producers (exp_stats: at most one per full batch).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exporter.h"

#define MAX_THREADS 8

static unsigned rounds, burst;
static struct exp_config cfg;

struct producer {
	struct exp_span span;
	double *burst_ns; /* ROUNDS entries */
	double total_ns;
	int tid;
};

static void add(struct exp_span *s, const char *k, const char *v)
{
	exp_span_add_str(s, k, v, strlen(v));
}

/* A SERVER span like the agent's for "GET /index.html" served by nginx to wrk. */
static void fill(struct exp_span *s, unsigned seed)
{
	exp_span_init(s);
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(seed * 31 + i * 7 + 1);
	for (int i = 0; i < 8; i++)
		s->span_id[i] = (uint8_t)(seed * 17 + i * 3 + 1);
	s->kind = EXP_KIND_SERVER;
	s->flags = 0x101;
	s->start_ns = 1700000000000000000ull + seed;
	s->end_ns = s->start_ns + 52000;
	exp_span_set_name(s, "GET", 3);
	add(s, "http.request.method", "GET");
	add(s, "url.path", "/index.html");
	add(s, "url.scheme", "http");
	exp_span_add_int(s, "http.response.status_code", 200);
	add(s, "server.address", "127.0.0.1");
	exp_span_add_int(s, "server.port", 8080);
	add(s, "client.address", "127.0.0.1");
	add(s, "network.peer.address", "127.0.0.1");
	exp_span_add_int(s, "network.peer.port", 43210);
	add(s, "network.protocol.version", "1.1");
	add(s, "network.transport", "tcp");
	add(s, "user_agent.original", "wrk");
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void pause_1ms(void)
{
	struct timespec ts = {0, 1000000};

	nanosleep(&ts, NULL);
}

static void *produce(void *arg)
{
	struct producer *p = arg;

	p->tid = (int)gettid(); /* printed by main: no stdio (and its lock) on this thread */
	for (unsigned r = 0; r < rounds; r++) {
		double t0 = now_ns(), dt;
		for (unsigned i = 0; i < burst; i++)
			exp_enqueue(&p->span);
		dt = now_ns() - t0;
		p->burst_ns[r] = dt / burst;
		p->total_ns += dt;
		pause_1ms();
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	unsigned threads = argc > 3 ? (unsigned)atoi(argv[1]) : 0;
	static struct producer prod[MAX_THREADS];
	pthread_t t[MAX_THREADS];
	struct exp_stats st;
	double *all, total = 0;
	size_t n = 0;

	rounds = argc > 3 ? (unsigned)atoi(argv[2]) : 0;
	burst = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
	if (threads < 1 || threads > MAX_THREADS || rounds < 1 || burst < 1) {
		fprintf(stderr, "usage: enqueue THREADS(1-8) ROUNDS BURST\n");
		return 2;
	}
	exp_config_defaults(&cfg);
	cfg.exporter = EXP_EXPORTER_NONE;
	cfg.service_name = "bench-enqueue";
	exp_limits_set(&cfg.limits);
	if (exp_init(&cfg))
		return 1;
	all = calloc((size_t)threads * rounds, sizeof(double));
	for (unsigned i = 0; i < threads; i++) {
		fill(&prod[i].span, i);
		prod[i].burst_ns = calloc(rounds, sizeof(double));
		if (!prod[i].burst_ns || !all)
			return 1;
	}
	/* Warm-up: two laps of the queue, then wait until it is empty again. */
	for (int lap = 0; lap < 2; lap++) {
		for (int i = 0; i < cfg.bsp_max_queue_size; i++)
			exp_enqueue(&prod[0].span);
		exp_flush(-1);
	}
	exp_stats_get(&st);
	uint64_t wake0 = st.wakeups, drop0 = st.dropped_full;
	for (unsigned i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, produce, &prod[i]))
			return 1;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		fprintf(stderr, "producer %d\n", prod[i].tid);
		memcpy(all + n, prod[i].burst_ns, rounds * sizeof(double));
		n += rounds;
		total += prod[i].total_ns;
	}
	exp_flush(-1);
	exp_stats_get(&st);
	qsort(all, n, sizeof(double), cmp);
	printf("threads %u spans %zu ns_per_enqueue_median %.1f ns_per_enqueue_mean %.1f "
	       "dropped %llu wakeups %llu\n",
	       threads, n * burst, all[n / 2], total / ((double)n * burst),
	       (unsigned long long)(st.dropped_full - drop0),
	       (unsigned long long)(st.wakeups - wake0));
	exp_shutdown();
	return 0;
}
