/*
 * exporter_emit.c - push synthetic spans through the real exporter (queue, thread, encoders,
 * transports), for end-to-end tests against a real OTLP receiver and for benchmarks.
 *
 *   exporter_emit [--endpoint URL] [--protocol http/protobuf|http/json|grpc] [--gzip]
 *                 [--spans N] [--threads T] [--fork] [--timeout-ms MS] [--batch N]
 *                 [--queue N] [--delay-ms MS] [--exporter otlp|console|otlp/stdout|none]
 *                 [--file PATH] [--service NAME] [--header K=V]... [--certificate PEM]
 *                 [--client-key PEM] [--client-certificate PEM] [--insecure] [--flush-ms MS]
 *
 * The configuration is built here from the flags (agent/config.c is not linked), starting from
 * the specification's defaults (exp_config_defaults). Defaults: endpoint
 * http://localhost:4318/v1/traces (the HTTP protocols) or http://localhost:4317 (grpc), 1000
 * spans, one thread. OTEL_LOG_LEVEL and WIRETRACE_LOG are honoured for the exporter's own messages.
 *
 * The spans are realistic HTTP spans: SERVER (half with a remote parent, flags 0x301; the others
 * roots, 0x103) and CLIENT children, each with the 12 attributes the HTTP semantic conventions
 * put on such a span, an event on every tenth, status ERROR on 5xx. Ids are random.
 *
 * With --fork the process emits N spans (not flushed), forks, and the child (after
 * exp_atfork_child, as the agent's atfork handler does) emits N spans of its own and shuts down;
 * then the parent shuts down. Each process ends by printing one JSON line of statistics on
 * stdout: {"role", "pid", "spans", "enqueued", "exported", "dropped_full", "dropped_failed",
 * "emit_ms", "shutdown_ms"}. The exit status is 0 unless the arguments were wrong or the
 * exporter could not be initialised.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exporter.h"
#include "wt_clock.h"
#include "wt_log.h"

static struct exp_config cfg;
static unsigned nspans = 1000, nthreads = 1;

struct worker {
	unsigned idx, n;
	uint64_t rng;
	unsigned refused;
};

static uint64_t next_rand(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rand_bytes(uint64_t *x, uint8_t *p, size_t n)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < n; i += 8) {
		v = next_rand(x);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static void add_s(struct exp_span *s, const char *k, const char *v)
{
	exp_span_add_str(s, k, v, strlen(v));
}

static void make_span(struct exp_span *s, struct worker *w, unsigned i)
{
	static const char *const paths[] = {"/api/orders/42", "/api/cart", "/health",
	                                    "/static/app.js"};
	uint64_t now = wt_clock_wall_ns(), dur = 200000 + next_rand(&w->rng) % 5000000;
	int status = i % 17 == 0 ? 503 : (i % 7 == 0 ? 404 : 200);
	bool client = i % 3 == 2;
	int e;

	exp_span_init(s);
	rand_bytes(&w->rng, s->trace_id, 16);
	rand_bytes(&w->rng, s->span_id, 8);
	if (client || i % 2)
		rand_bytes(&w->rng, s->parent_span_id, 8);
	s->kind = client ? EXP_KIND_CLIENT : EXP_KIND_SERVER;
	if (client)
		s->flags = 0x03 | EXP_FLAGS_HAS_IS_REMOTE;
	else if (i % 2)
		s->flags = 0x01 | EXP_FLAGS_HAS_IS_REMOTE | EXP_FLAGS_IS_REMOTE;
	else
		s->flags = 0x03 | EXP_FLAGS_HAS_IS_REMOTE;
	s->start_ns = now - dur;
	s->end_ns = now;
	exp_span_set_name(s, i % 5 ? "GET" : "POST", i % 5 ? 3 : 4);
	if (i % 4 == 1)
		exp_span_set_tracestate(s, "congo=t61rcWkgMzE", 17);
	add_s(s, "http.request.method", i % 5 ? "GET" : "POST");
	exp_span_add_int(s, "http.response.status_code", status);
	add_s(s, "network.protocol.version", "1.1");
	add_s(s, "server.address", "shop.example.com");
	exp_span_add_int(s, "server.port", 8080);
	add_s(s, "network.peer.address", "10.1.2.3");
	exp_span_add_int(s, "network.peer.port", 40000 + (int)(i % 20000));
	add_s(s, "user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) exporter_emit/1.0");
	if (client) {
		add_s(s, "url.full", "http://shop.example.com:8080/api/stock?sku=1234");
		add_s(s, "url.scheme", "http");
		add_s(s, "url.path", "/api/stock");
		add_s(s, "url.query", "sku=1234");
	} else {
		add_s(s, "url.path", paths[i % 4]);
		add_s(s, "url.scheme", "http");
		add_s(s, "url.query", "page=2&sort=desc");
		add_s(s, "client.address", "10.1.2.3");
	}
	if (status >= 500) {
		char code[8];

		snprintf(code, sizeof(code), "%d", status);
		add_s(s, "error.type", code);
		exp_span_set_status(s, EXP_STATUS_ERROR, NULL, 0);
	}
	if (i % 10 == 0) {
		e = exp_span_add_event(s, s->start_ns + dur / 2, "exception");
		exp_span_add_event_str(s, e, "exception.type", "ECONNRESET", 10);
		exp_span_add_event_str(s, e, "exception.message", "connection reset by peer", 24);
	}
}

static void *emit_thread(void *arg)
{
	struct worker *w = arg;
	struct exp_span s;
	unsigned i;

	for (i = 0; i < w->n; i++) {
		make_span(&s, w, w->idx * 1000003u + i);
		if (exp_enqueue(&s))
			w->refused++;
	}
	return NULL;
}

static uint64_t mono_ms(void)
{
	return wt_clock_mono_ns() / 1000000;
}

/* Emit nspans over nthreads; returns the time it took (ms). */
static uint64_t emit(void)
{
	struct worker w[64];
	pthread_t t[64];
	bool started[64];
	uint64_t t0 = mono_ms(), seed = wt_clock_wall_ns() ^ ((uint64_t)getpid() << 32);
	unsigned i;

	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){.idx = i, .n = nspans / nthreads + (i < nspans % nthreads)};
		w[i].rng = seed + i * 0x1234567ull;
		started[i] = pthread_create(&t[i], NULL, emit_thread, &w[i]) == 0;
		if (!started[i])
			emit_thread(&w[i]); /* no thread: do it here */
	}
	for (i = 0; i < nthreads; i++)
		if (started[i])
			pthread_join(t[i], NULL);
	return mono_ms() - t0;
}

static void report(const char *role, uint64_t emit_ms, uint64_t shutdown_ms)
{
	struct exp_stats st;

	exp_stats_get(&st);
	printf("{\"role\":\"%s\",\"pid\":%d,\"spans\":%u,\"enqueued\":%llu,\"exported\":%llu,"
	       "\"dropped_full\":%llu,\"dropped_failed\":%llu,\"emit_ms\":%llu,"
	       "\"shutdown_ms\":%llu}\n",
	       role, (int)getpid(), nspans, (unsigned long long)st.enqueued,
	       (unsigned long long)st.exported, (unsigned long long)st.dropped_full,
	       (unsigned long long)st.dropped_failed, (unsigned long long)emit_ms,
	       (unsigned long long)shutdown_ms);
	fflush(stdout);
}

static void finish(const char *role, uint64_t emit_ms, int flush_ms)
{
	uint64_t t0;

	if (flush_ms >= 0)
		exp_flush(flush_ms);
	t0 = mono_ms();
	exp_shutdown();
	report(role, emit_ms, mono_ms() - t0);
}

static int parse_enum(const char *v, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcasecmp(v, names[i]) == 0)
			return i;
	fprintf(stderr, "exporter_emit: unknown value '%s'\n", v);
	exit(2);
}

static void add_header(const char *kv)
{
	const char *eq = strchr(kv, '=');

	if (!eq || cfg.nheaders >= EXP_MAX_HEADERS) {
		fprintf(stderr, "exporter_emit: bad --header '%s' (K=V)\n", kv);
		exit(2);
	}
	cfg.headers[cfg.nheaders].name = strndup(kv, (size_t)(eq - kv));
	cfg.headers[cfg.nheaders].value = strdup(eq + 1);
	cfg.nheaders++;
}

static void log_from_env(void)
{
	static const char *const levels[] = {"none", "error", "warn", "info", "debug"};
	const char *v = getenv("OTEL_LOG_LEVEL");
	int i, level = WT_LOG_INFO;

	for (i = 0; v && i < 5; i++)
		if (strcasecmp(v, levels[i]) == 0)
			level = i;
	wt_log_init(level, getenv("WIRETRACE_LOG"));
}

static const struct option opts[] = {
    {"endpoint", required_argument, NULL, 'e'},
    {"protocol", required_argument, NULL, 'p'},
    {"gzip", no_argument, NULL, 'z'},
    {"spans", required_argument, NULL, 'n'},
    {"threads", required_argument, NULL, 't'},
    {"fork", no_argument, NULL, 'f'},
    {"timeout-ms", required_argument, NULL, 'T'},
    {"batch", required_argument, NULL, 'b'},
    {"queue", required_argument, NULL, 'q'},
    {"delay-ms", required_argument, NULL, 'd'},
    {"exporter", required_argument, NULL, 'x'},
    {"file", required_argument, NULL, 'o'},
    {"service", required_argument, NULL, 's'},
    {"header", required_argument, NULL, 'H'},
    {"certificate", required_argument, NULL, 'C'},
    {"client-key", required_argument, NULL, 'K'},
    {"client-certificate", required_argument, NULL, 'c'},
    {"insecure", no_argument, NULL, 'i'},
    {"flush-ms", required_argument, NULL, 'F'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_args(int argc, char **argv, int *do_fork, int *flush_ms)
{
	static const char *const protos[] = {"http/protobuf", "http/json", "grpc"};
	static const char *const exps[] = {"otlp", "console", "otlp/stdout", "none"};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			cfg.endpoint = optarg;
			break;
		case 'p':
			cfg.protocol = parse_enum(optarg, protos, 3);
			break;
		case 'z':
			cfg.gzip = true;
			break;
		case 'n':
			nspans = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			nthreads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			*do_fork = 1;
			break;
		case 'T':
			cfg.timeout_ms = atoi(optarg);
			break;
		case 'b':
			cfg.bsp_max_export_batch_size = atoi(optarg);
			break;
		case 'q':
			cfg.bsp_max_queue_size = atoi(optarg);
			break;
		case 'd':
			cfg.bsp_schedule_delay_ms = atoi(optarg);
			break;
		case 'x':
			cfg.exporter = parse_enum(optarg, exps, 4);
			break;
		case 'o':
			cfg.file_path = optarg;
			break;
		case 's':
			cfg.service_name = optarg;
			break;
		case 'H':
			add_header(optarg);
			break;
		case 'C':
			cfg.certificate = optarg;
			break;
		case 'K':
			cfg.client_key = optarg;
			break;
		case 'c':
			cfg.client_certificate = optarg;
			break;
		case 'i':
			cfg.insecure = true;
			break;
		case 'F':
			*flush_ms = atoi(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: exporter_emit [--endpoint URL] [--protocol P] [--gzip] "
			        "[--spans N] [--threads T] [--fork] [--timeout-ms MS] ... "
			        "(see the comment at the top of exporter_emit.c)\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (nthreads < 1 || nthreads > 64) {
		fprintf(stderr, "exporter_emit: --threads must be 1..64\n");
		return 2;
	}
	return -1;
}

/* Read /proc/self/task/<tid>/<name> into buf (NUL-terminated) with open/read only: no
 * allocation while another thread may be allocating. Returns the length, or -1. */
static ssize_t task_file(const char *tid, const char *name, char *buf, size_t cap)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%s/%s", tid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/*
 * Before --fork forks: wait (up to 5 s) until the exporter thread has finished starting and
 * sleeps in its futex wait. Under a sanitizer's allocator (unlike glibc's malloc, which is
 * fork-safe) a fork while another thread is inside malloc leaves the child's allocator locked,
 * and the child's exporter thread then hangs in its first allocation: seen as a child that
 * exported nothing in sanitizer builds. While this thread only polls with open/read, the
 * exporter thread's only futex wait is its sleep.
 */
static void wait_exporter_asleep(void)
{
	char tid[256] = "", buf[256];
	struct timespec ts = {0, 2000000};
	int tries;

	for (tries = 0; tries < 2500; tries++, nanosleep(&ts, NULL)) {
		if (!tid[0]) {
			DIR *d = opendir("/proc/self/task");
			struct dirent *e;

			while (d && (e = readdir(d)) != NULL)
				if (e->d_name[0] != '.' &&
				    task_file(e->d_name, "comm", buf, sizeof(buf)) > 0 &&
				    strcmp(buf, "wiretrace-exp\n") == 0)
					snprintf(tid, sizeof(tid), "%s", e->d_name);
			if (d)
				closedir(d);
			continue;
		}
		if (task_file(tid, "syscall", buf, sizeof(buf)) > 0 && strncmp(buf, "202 ", 4) == 0)
			return; /* futex */
	}
}

int main(int argc, char **argv)
{
	int do_fork = 0, flush_ms = -1, rc, status;
	uint64_t emit_ms;
	pid_t child;

	exp_config_defaults(&cfg);
	cfg.service_name = "exporter_emit";
	log_from_env();
	rc = parse_args(argc, argv, &do_fork, &flush_ms);
	if (rc >= 0)
		return rc;
	if (!cfg.endpoint)
		cfg.endpoint = cfg.protocol == EXP_PROTO_GRPC ? "http://localhost:4317"
		                                              : "http://localhost:4318/v1/traces";
	if (exp_init(&cfg)) {
		fprintf(stderr, "exporter_emit: exp_init failed\n");
		return 1;
	}
	emit_ms = emit();
	if (do_fork) {
		wait_exporter_asleep();
		fflush(stdout);
		child = fork();
		if (child == 0) {
			exp_atfork_child();
			finish("child", emit(), flush_ms);
			_exit(0);
		}
		if (child > 0)
			waitpid(child, &status, 0);
		else
			perror("exporter_emit: fork");
	}
	finish(do_fork ? "parent" : "main", emit_ms, flush_ms);
	return 0;
}
