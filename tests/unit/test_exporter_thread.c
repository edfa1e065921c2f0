/*
 * test_exporter_thread.c - the exporter as a whole: the thread started by the first enqueue,
 * batching (full batch without waiting, schedule delay), flush, exact statistics with several
 * producer threads, the exporters "none", "otlp/stdout" (to a file, each line parsed by
 * python3) and "console", the exporter thread's signal mask, a fork child that exports only its
 * own spans under its own process.pid, and the exit bound when the export is stuck.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "console.h"
#include "exporter.h"

static struct exp_config cfg;
static char tmpdir[64];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void make_span(struct exp_span *s, const char *name, unsigned tid, unsigned seq)
{
	exp_span_init(s);
	s->trace_id[0] = 0x11;
	memcpy(s->trace_id + 4, &tid, sizeof(tid));
	memcpy(s->span_id, &seq, sizeof(seq));
	s->span_id[7] = 0x77;
	s->kind = EXP_KIND_SERVER;
	s->start_ns = 1700000000000000000ull + seq;
	s->end_ns = s->start_ns + 1500000;
	exp_span_set_name(s, name, strlen(name));
	exp_span_add_str(s, "http.request.method", "GET", 3);
	exp_span_add_int(s, "http.response.status_code", 200);
}

static void start(int exporter, const char *file, int queue, int batch, int delay_ms)
{
	exp_config_defaults(&cfg);
	cfg.exporter = exporter;
	cfg.file_path = (char *)file;
	cfg.bsp_max_queue_size = queue;
	cfg.bsp_max_export_batch_size = batch;
	cfg.bsp_schedule_delay_ms = delay_ms;
	cfg.timeout_ms = 1000;
	assert_int_equal(exp_init(&cfg), 0);
}

struct prod {
	unsigned id, n, ok, full;
};

static void *producer(void *arg)
{
	struct prod *p = arg;
	struct exp_span s;
	unsigned i;
	int rc;

	for (i = 0; i < p->n; i++) {
		make_span(&s, "work", p->id, i);
		rc = exp_enqueue(&s);
		p->ok += rc == 0;
		p->full += rc == -ENOBUFS;
	}
	return NULL;
}

/* Run `threads` producers of n spans each; returns accepted, *full = refused as full. */
static unsigned produce(unsigned threads, unsigned n, unsigned *full)
{
	struct prod p[8];
	pthread_t t[8];
	unsigned i, ok = 0;

	*full = 0;
	for (i = 0; i < threads; i++) {
		p[i] = (struct prod){.id = i, .n = n};
		assert_int_equal(pthread_create(&t[i], NULL, producer, &p[i]), 0);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(p[i].ok + p[i].full, n);
		ok += p[i].ok;
		*full += p[i].full;
	}
	return ok;
}

static void test_none_exact_stats(void **state)
{
	struct exp_stats st;
	unsigned ok, full;

	(void)state;
	start(EXP_EXPORTER_NONE, NULL, 8192, 64, 60000);
	assert_int_equal(exp_flush(1000), 0); /* nothing enqueued yet: nothing to wait for */
	ok = produce(4, 1000, &full);
	assert_int_equal(exp_flush(10000), 0);
	exp_stats_get(&st);
	assert_int_equal(ok + full, 4000);
	assert_int_equal(st.enqueued, ok);
	assert_int_equal(st.dropped_full, full);
	assert_int_equal(st.exported, ok);
	assert_int_equal(st.dropped_failed, 0);
	/* Producers woke the thread at most once per batch. */
	assert_true(st.wakeups <= ok / 64 + 1);
	exp_shutdown();
	exp_shutdown(); /* idempotent */
	{
		struct exp_span s;

		make_span(&s, "late", 9, 9);
		assert_int_equal(exp_enqueue(&s), -ESHUTDOWN);
	}
}

static void wait_exported(uint64_t want, unsigned max_ms)
{
	uint64_t end = now_ms() + max_ms;
	struct exp_stats st;

	do {
		exp_stats_get(&st);
		if (st.exported >= want)
			break;
		usleep(2000);
	} while (now_ms() < end);
	assert_int_equal(st.exported, want);
}

/* A full batch is exported at once, without a flush and long before the 60 s delay. */
static void test_full_batch_without_flush(void **state)
{
	struct exp_stats st;
	struct exp_span s;
	unsigned i;

	(void)state;
	start(EXP_EXPORTER_NONE, NULL, 256, 32, 60000);
	for (i = 0; i < 31; i++) {
		make_span(&s, "x", 0, i);
		assert_int_equal(exp_enqueue(&s), 0);
	}
	usleep(50000); /* the thread is asleep now; 31 < batch: nothing exported */
	exp_stats_get(&st);
	assert_int_equal(st.exported, 0);
	make_span(&s, "x", 0, 31);
	assert_int_equal(exp_enqueue(&s), 0); /* the 32nd wakes the thread */
	wait_exported(32, 5000);
	exp_stats_get(&st);
	assert_int_equal(st.wakeups, 1);
	exp_shutdown();
}

/* A steady stream of spans costs the producers no wake-up: after the first full batch the
 * thread polls for full batches itself. */
static void test_steady_stream_no_wakeups(void **state)
{
	struct exp_stats st;
	struct exp_span s;
	unsigned i, k;

	(void)state;
	start(EXP_EXPORTER_NONE, NULL, 8192, 64, 60000);
	for (i = 0; i < 64; i++) {
		make_span(&s, "x", 0, i);
		assert_int_equal(exp_enqueue(&s), 0);
	}
	wait_exported(64, 5000); /* the 64th woke the thread, or it found them at start */
	for (k = 0; k < 20; k++) {
		for (i = 0; i < 64; i++) {
			make_span(&s, "x", k + 1, i);
			assert_int_equal(exp_enqueue(&s), 0);
		}
		usleep(10000);
	}
	wait_exported(21 * 64, 5000);
	exp_stats_get(&st);
	/* at most the first batch's (the new thread may have found it before sleeping); the
	 * long-sleep scheme would have been woken by every one of the 20 later batches */
	assert_true(st.wakeups <= 1);
	assert_int_equal(st.dropped_full, 0);
	exp_shutdown();
}

/* A partial batch goes out after the schedule delay. */
static void test_schedule_delay(void **state)
{
	struct exp_span s;
	uint64_t t0;
	unsigned i;

	(void)state;
	start(EXP_EXPORTER_NONE, NULL, 256, 128, 100);
	t0 = now_ms();
	for (i = 0; i < 5; i++) {
		make_span(&s, "x", 0, i);
		assert_int_equal(exp_enqueue(&s), 0);
	}
	wait_exported(5, 5000);
	assert_true(now_ms() - t0 < 5000);
	exp_shutdown();
}

/* When the queue is full the span is refused and counted, never blocking. */
static void test_queue_full_accounting(void **state)
{
	struct exp_stats st;
	unsigned ok, full;

	(void)state;
	start(EXP_EXPORTER_NONE, NULL, 8, 8, 60000);
	ok = produce(4, 5000, &full);
	assert_int_equal(exp_flush(10000), 0);
	exp_stats_get(&st);
	assert_int_equal(st.enqueued, ok);
	assert_int_equal(st.dropped_full, full);
	assert_int_equal(st.exported, ok);
	exp_shutdown();
}

/* Python reads the JSON lines file: "<lines> <spans> <distinct ids>" then "name@pid count". */
static char *py_count(const char *path)
{
	static const char script[] =
	    "import json,sys,collections\n"
	    "n=0;c=collections.Counter();ids=set()\n"
	    "for line in open(sys.argv[1],encoding='utf-8'):\n"
	    "  d=json.loads(line);n+=1\n"
	    "  for rs in d['resourceSpans']:\n"
	    "    pid=[a['value']['intValue'] for a in rs['resource']['attributes']\n"
	    "         if a['key']=='process.pid'][0]\n"
	    "    for ss in rs['scopeSpans']:\n"
	    "      for s in ss['spans']:\n"
	    "        c[s['name']+'@'+pid]+=1;ids.add(s['traceId']+s['spanId'])\n"
	    "print(n,sum(c.values()),len(ids))\n"
	    "for k,v in sorted(c.items()): print(k,v)\n";
	char spath[128], cmd[512];
	static char out[4096];
	size_t n = 0, r;
	FILE *f;
	int fd;

	snprintf(spath, sizeof(spath), "%s/count.py", tmpdir);
	fd = open(spath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, script, sizeof(script) - 1), (ssize_t)sizeof(script) - 1);
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", spath, path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((r = fread(out + n, 1, sizeof(out) - 1 - n, f)) > 0)
		n += r;
	out[n] = '\0';
	assert_int_equal(pclose(f), 0);
	return out;
}

static void test_otlp_file_threads(void **state)
{
	char path[128], want[64];
	struct exp_stats st;
	unsigned ok, full;
	char *out;

	(void)state;
	snprintf(path, sizeof(path), "%s/spans.jsonl", tmpdir);
	unlink(path);
	start(EXP_EXPORTER_OTLP_FILE, path, 4096, 100, 60000);
	ok = produce(3, 500, &full);
	assert_int_equal(full, 0);
	assert_int_equal(exp_flush(10000), 0);
	exp_stats_get(&st);
	assert_int_equal(st.exported, 1500);
	assert_int_equal(st.enqueued, 1500);
	out = py_count(path);
	/* batches of at most 100: at least 15 lines; every span once */
	assert_true(atoi(out) >= 15);
	assert_non_null(strstr(out, " 1500 1500\n"));
	snprintf(want, sizeof(want), "work@%d 1500\n", (int)getpid());
	assert_non_null(strstr(out, want));
	exp_shutdown();
	(void)ok;
}

/* The fork child exports its own spans only, under its own pid; the parent's stay with it. */
static void test_fork_child_exports_own_spans(void **state)
{
	char path[128], want[64];
	struct exp_stats st;
	struct exp_span s;
	unsigned i;
	int status;
	pid_t child;
	char *out;

	(void)state;
	snprintf(path, sizeof(path), "%s/fork.jsonl", tmpdir);
	unlink(path);
	start(EXP_EXPORTER_OTLP_FILE, path, 1024, 512, 60000);
	for (i = 0; i < 10; i++) {
		make_span(&s, "parent", 1, i);
		assert_int_equal(exp_enqueue(&s), 0);
	}
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		exp_atfork_child(); /* what the agent's atfork handler does */
		exp_stats_get(&st);
		if (st.enqueued || st.exported)
			_exit(10);
		for (i = 0; i < 3; i++) {
			make_span(&s, "child", 2, i);
			if (exp_enqueue(&s))
				_exit(11);
		}
		if (exp_flush(5000))
			_exit(12);
		exp_stats_get(&st);
		if (st.enqueued != 3 || st.exported != 3)
			_exit(13);
		exp_shutdown();
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	out = py_count(path);
	assert_true(strncmp(out, "1 3 3\n", 6) == 0);
	snprintf(want, sizeof(want), "child@%d 3\n", (int)child);
	assert_non_null(strstr(out, want));
	/* The parent's spans are still queued in the parent, and only there. */
	assert_int_equal(exp_flush(5000), 0);
	exp_stats_get(&st);
	assert_int_equal(st.exported, 10);
	out = py_count(path);
	assert_true(strncmp(out, "2 13 13\n", 8) == 0);
	snprintf(want, sizeof(want), "parent@%d 10\n", (int)getpid());
	assert_non_null(strstr(out, want));
	exp_shutdown();
}

/* The exporter thread blocks every signal the host could send. */
static void test_thread_signal_mask(void **state)
{
	char p[300], line[256], comm[64];
	unsigned long long blk = 0;
	struct dirent *d;
	struct exp_span s;
	int found = 0;
	DIR *dir;
	FILE *f;

	(void)state;
	start(EXP_EXPORTER_NONE, NULL, 64, 8, 60000);
	make_span(&s, "x", 0, 0);
	assert_int_equal(exp_enqueue(&s), 0);
	assert_int_equal(exp_flush(5000), 0); /* the thread exists and has run */
	dir = opendir("/proc/self/task");
	assert_non_null(dir);
	while ((d = readdir(dir)) && !found) {
		snprintf(p, sizeof(p), "/proc/self/task/%s/comm", d->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		found = fgets(comm, sizeof(comm), f) && strcmp(comm, "wiretrace-exp\n") == 0;
		fclose(f);
		if (!found)
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/status", d->d_name);
		f = fopen(p, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "SigBlk:", 7) == 0)
				blk = strtoull(line + 7, NULL, 16);
		fclose(f);
	}
	closedir(dir);
	assert_true(found);
	assert_true(blk & (1ull << (SIGTERM - 1)));
	assert_true(blk & (1ull << (SIGINT - 1)));
	assert_true(blk & (1ull << (SIGCHLD - 1)));
	assert_true(blk & (1ull << (SIGUSR1 - 1)));
	assert_true(blk & (1ull << (SIGPIPE - 1)));
	assert_true(blk & (1ull << (SIGALRM - 1)));
	exp_shutdown();
}

/* Console: one readable line per span on stderr (captured in a child). */
static void test_console(void **state)
{
	char path[128], buf[8192], line[EXP_CONSOLE_LINE];
	struct exp_span s;
	int status, fd;
	pid_t child;
	ssize_t n;

	(void)state;
	make_span(&s, "GET", 3, 4);
	s.parent_span_id[0] = 0xab;
	exp_span_set_status(&s, EXP_STATUS_ERROR, "bad\ngateway", 11);
	n = (ssize_t)exp_console_format(line, sizeof(line), &s);
	assert_true(n > 0 && line[n - 1] == '\n');
	assert_null(memchr(line, '\n', (size_t)n - 1)); /* the newline in the message is escaped */
	assert_non_null(strstr(line,
	                       "SERVER \"GET\" trace=11000000030000000000000000000000 "
	                       "span=0400000000000077 parent=ab00000000000000 1.500ms "
	                       "status=ERROR(\"bad\\x0agateway\") http.request.method=\"GET\" "
	                       "http.response.status_code=200"));
	n = (ssize_t)exp_console_format(line, 80, &s); /* cut, still one terminated line */
	assert_true(n < 80 && line[n - 1] == '\n' && strstr(line, "...\n"));

	snprintf(path, sizeof(path), "%s/console.txt", tmpdir);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		exp_atfork_child();
		start(EXP_EXPORTER_CONSOLE, NULL, 64, 8, 60000);
		make_span(&s, "one", 0, 1);
		exp_enqueue(&s);
		make_span(&s, "two", 0, 2);
		exp_enqueue(&s);
		_exit(exp_flush(5000) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(WEXITSTATUS(status), 0);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "wiretrace: span SERVER \"one\""));
	assert_non_null(strstr(buf, "wiretrace: span SERVER \"two\""));
	assert_ptr_equal(strchr(strchr(buf, '\n') + 1, '\n'), buf + n - 1); /* two lines */
}

/* An export that never returns (a FIFO nobody reads) holds neither flush nor exit. */
static void test_stuck_export_exit_bound(void **state)
{
	char path[128];
	int status, pfd[2];
	uint64_t t0, ms = 0;
	pid_t child;

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(pipe(pfd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct exp_span s;
		uint64_t t1;

		exp_atfork_child();
		start(EXP_EXPORTER_OTLP_FILE, path, 64, 8, 60000);
		cfg.timeout_ms = 300; /* exit bound = min(2 s, 300 ms) */
		make_span(&s, "stuck", 0, 1);
		exp_enqueue(&s);
		t1 = now_ms();
		if (exp_flush(200) != -ETIMEDOUT)
			_exit(20);
		t1 = now_ms();
		exp_shutdown();
		t1 = now_ms() - t1;
		if (write(pfd[1], &t1, sizeof(t1)) != sizeof(t1))
			_exit(21);
		_exit(0);
	}
	close(pfd[1]);
	t0 = now_ms();
	assert_int_equal(read(pfd[0], &ms, sizeof(ms)), sizeof(ms));
	assert_int_equal(waitpid(child, &status, 0), child);
	close(pfd[0]);
	unlink(path);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* exp_shutdown returned within its bound (300 ms) plus scheduling slack. */
	assert_true(ms < 300 + 400);
	assert_true(now_ms() - t0 < 5000);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wt-exp-test-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_none_exact_stats),
	    cmocka_unit_test(test_full_batch_without_flush),
	    cmocka_unit_test(test_steady_stream_no_wakeups),
	    cmocka_unit_test(test_schedule_delay),
	    cmocka_unit_test(test_queue_full_accounting),
	    cmocka_unit_test(test_otlp_file_threads),
	    cmocka_unit_test(test_fork_child_exports_own_spans),
	    cmocka_unit_test(test_thread_signal_mask),
	    cmocka_unit_test(test_console),
	    cmocka_unit_test(test_stuck_export_exit_bound),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
