/*
 * exporter_bench.c - spans per second that the exporter thread encodes and POSTs, and its CPU
 * time per span: the whole export pipeline (queue pop, batch, encoder, libcurl transport) as
 * the agent runs it, against a local sink that discards.
 *
 *   exporter_bench URL PROTOCOL SECONDS [gzip]
 *
 * PROTOCOL is http/protobuf or http/json. One producer thread (this one) enqueues realistic
 * HTTP spans (SERVER and CLIENT, the 12 semantic-convention attributes, an event on every
 * tenth, different ids) as fast as the queue takes them; when the queue is full it sleeps
 * 50 us and offers the same span again, so that no span is lost and the exporter thread is
 * never idle for want of spans (the exporter's one-time "queue full" warning is therefore
 * silenced: only errors are logged). After a warm-up (4096 spans exported: libcurl loaded, the
 * connection open, the buffers grown), it measures for SECONDS: spans exported (exp_stats),
 * wall time, and the exporter thread's CPU time (user + system, read from the thread's CPU
 * clock: the Linux per-thread clock id of its tid, found by its name "wiretrace-exp" under
 * /proc/self/task). Prints one line:
 *
 *   PROTOCOL spans N wall_s W exporter_cpu_s C ns_cpu_per_span P spans_per_cpu_s S
 *   spans_per_wall_s R system_share K
 *
 * K is the share of that CPU time spent in the kernel (sending to the loopback socket),
 * from the thread's utime and stime in /proc (clock-tick resolution). S is what one core
 * running the exporter thread alone would sustain: the "spans/s on one
 * core" of the target. R depends on how the machine's cores are shared with the producer and
 * the sink, and is only for information.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exporter.h"
#include "wt_log.h"

#define NSPANS 1024

static struct exp_span spans[NSPANS];
static struct exp_config cfg;

static void add(struct exp_span *s, const char *k, const char *v)
{
	exp_span_add_str(s, k, v, strlen(v));
}

static uint64_t mix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(struct exp_span *s, unsigned i, uint64_t *rng)
{
	static const char *const paths[] = {"/api/orders/42", "/api/cart", "/index.html",
					    "/static/app.js"};
	int client = i % 3 == 2, status = i % 17 == 0 ? 503 : (i % 7 == 0 ? 404 : 200);
	uint64_t a = mix(rng), b = mix(rng), c = mix(rng), d = mix(rng);

	exp_span_init(s);
	memcpy(s->trace_id, &a, 8);
	memcpy(s->trace_id + 8, &b, 8);
	memcpy(s->span_id, &c, 8);
	if (client || i % 2)
		memcpy(s->parent_span_id, &d, 8);
	s->kind = client ? EXP_KIND_CLIENT : EXP_KIND_SERVER;
	s->flags = 0x301;
	s->start_ns = 1700000000000000000ull + i * 1000000ull;
	s->end_ns = s->start_ns + 200000 + mix(rng) % 5000000;
	exp_span_set_name(s, "GET", 3);
	add(s, "http.request.method", "GET");
	add(s, "url.path", paths[i % 4]);
	add(s, "url.scheme", "http");
	if (i % 4 == 0)
		add(s, "url.query", "page=2&sort=desc");
	exp_span_add_int(s, "http.response.status_code", status);
	add(s, "server.address", "shop.example.com");
	exp_span_add_int(s, "server.port", 8080);
	add(s, client ? "url.full" : "client.address",
	    client ? "http://stock.internal:8081/api/stock/42" : "10.1.2.3");
	add(s, "network.peer.address", "10.1.2.3");
	exp_span_add_int(s, "network.peer.port", 40000 + (int)(i % 20000));
	add(s, "network.protocol.version", "1.1");
	add(s, "user_agent.original", "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Firefox/115.0");
	if (status >= 500)
		exp_span_set_status(s, 2, NULL, 0);
	if (i % 10 == 0) {
		int e = exp_span_add_event(s, s->end_ns - 1000, "exception");
		if (e >= 0)
			exp_span_add_event_str(s, e, "exception.type", "ECONNRESET", 10);
	}
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The exporter thread's tid, by its name; 0 if not found. */
static int exporter_tid(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int tid = 0;

	while (d && (e = readdir(d)) && !tid) {
		char path[300], comm[32] = "";
		FILE *f;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && strncmp(comm, "wiretrace-exp", 13) == 0)
			tid = atoi(e->d_name);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return tid;
}

/* CPU time of thread `tid` of this process: Linux encodes a per-thread CPU clock as
 * (~tid << 3) | CPUCLOCK_PERTHREAD (4) | CPUCLOCK_SCHED (2), the id pthread_getcpuclockid
 * itself returns. */
static double thread_cpu_s(int tid)
{
	struct timespec ts;
	clockid_t id = (clockid_t)((~(unsigned)tid << 3) | 6);

	if (clock_gettime(id, &ts))
		return -1;
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* User and system time of thread `tid`, in clock ticks, from /proc (fields 14 and 15). */
static int thread_ticks(int tid, unsigned long *user, unsigned long *sys)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may contain spaces; fields 3.. follow the last ')' */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", user,
			 sys) != 2)
		return -1;
	return 0;
}

static void offer(const struct exp_span *s)
{
	static const struct timespec nap = {0, 50000};

	while (exp_enqueue(s) == -ENOBUFS)
		nanosleep(&nap, NULL);
}

static uint64_t exported(void)
{
	struct exp_stats st;

	exp_stats_get(&st);
	return st.exported;
}

int main(int argc, char **argv)
{
	double secs = argc > 3 ? atof(argv[3]) : 0, w0, c0, wall, cpu;
	uint64_t rng = 42, e0, n;
	unsigned long u0 = 0, s0 = 0, u1 = 0, s1 = 0;
	unsigned i = 0;
	int tid;

	if (secs <= 0) {
		fprintf(stderr,
			"usage: exporter_bench URL http/protobuf|http/json SECONDS [gzip]\n");
		return 2;
	}
	/* A full queue is this benchmark's back-pressure, not an incident: errors only. */
	wt_log_init(WT_LOG_ERROR, NULL);
	exp_config_defaults(&cfg);
	cfg.endpoint = argv[1];
	cfg.protocol = strcmp(argv[2], "http/json") == 0 ? EXP_PROTO_HTTP_JSON
							 : EXP_PROTO_HTTP_PROTOBUF;
	cfg.gzip = argc > 4 && strcmp(argv[4], "gzip") == 0;
	cfg.service_name = "bench-exporter";
	exp_limits_set(&cfg.limits);
	if (exp_init(&cfg))
		return 1;
	for (unsigned k = 0; k < NSPANS; k++)
		fill(&spans[k], k, &rng);
	for (i = 0; i < 4096; i++)
		offer(&spans[i % NSPANS]);
	exp_flush(-1);
	tid = exporter_tid();
	if (!tid || exported() < 4096) {
		fprintf(stderr,
			"exporter_bench: warm-up failed (exporter thread %d, exported %llu)\n", tid,
			(unsigned long long)exported());
		return 1;
	}
	e0 = exported();
	w0 = mono_s();
	c0 = thread_cpu_s(tid);
	thread_ticks(tid, &u0, &s0);
	while (mono_s() - w0 < secs)
		for (int k = 0; k < 256; k++)
			offer(&spans[i++ % NSPANS]);
	exp_flush(-1);
	cpu = thread_cpu_s(tid) - c0;
	thread_ticks(tid, &u1, &s1);
	wall = mono_s() - w0;
	n = exported() - e0;
	printf("%s%s spans %llu wall_s %.3f exporter_cpu_s %.3f ns_cpu_per_span %.1f "
	       "spans_per_cpu_s %.0f spans_per_wall_s %.0f system_share %.2f\n",
	       argv[2], cfg.gzip ? "+gzip" : "", (unsigned long long)n, wall, cpu, cpu * 1e9 / n,
	       n / cpu, n / wall,
	       u1 + s1 > u0 + s0 ? (double)(s1 - s0) / (double)(u1 + s1 - u0 - s0) : 0.0);
	exp_shutdown();
	return n ? 0 : 1;
}
