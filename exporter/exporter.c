/*
 * exporter.c - the batching exporter: enqueue, the exporter thread, flush, shutdown, fork.
 *
 * This is OpenTelemetry's batch span processor (SDK spec trace/sdk.md "Batching processor")
 * fused with the exporter selection (OTEL_TRACES_EXPORTER). Finished spans go into a lock-free
 * bounded queue (queue.c); one thread takes up to OTEL_BSP_MAX_EXPORT_BATCH_SIZE of them at a
 * time and exports them every OTEL_BSP_SCHEDULE_DELAY, or at once when a full batch is waiting
 * or a flush was asked for. Exports never run concurrently (there is one thread).
 *
 * Host threads (producers) pay for one queue push: no lock, no malloc, and, while spans flow
 * steadily, no syscall. The thread sleeps in a timed futex wait. When traffic is light it
 * sleeps until the next scheduled export, and the one producer whose push makes the queue
 * length reach the batch size wakes it (SLEEP_LONG). Once it has exported a full batch it
 * polls instead (SLEEP_POLL: it wakes itself every POLL_NS and exports whenever a full batch
 * is waiting), so a steady stream of spans costs the host's threads no wake-up at all; it
 * goes back to long sleeps after an export that was not a full batch. In both modes the
 * producer whose push fills half the queue wakes it (the thread was kept off the CPU). The
 * lost-wake-up race is closed Dekker-style: the thread publishes `sleeping` and re-reads the
 * queue length (with a full fence between) before it waits on `wake_word`; a producer bumps
 * the queue tail and then reads `sleeping`; with sequentially consistent ordering at least
 * one of them sees the other.
 *
 * Lifecycle:
 *  - exp_init() only records the configuration; the queue's memory and the thread come with the
 *    first enqueue. The thread is started with every signal blocked (pthread_sigmask around
 *    pthread_create: the thread inherits the mask, so the host's signals are never delivered
 *    to it) and sets the re-entry guard for its whole life, so that the hooks pass its own
 *    traffic (libcurl's sockets, the file writes) straight through.
 *  - exp_flush() asks the thread to export everything queued so far and waits on a futex until
 *    the thread has handled those positions (exported or dropped, including the batch in
 *    flight) or the timeout passes. It only uses atomics and futexes: callable from a signal
 *    handler (the agent flushes in its SIGTERM/SIGINT handler).
 *  - exp_shutdown() bounds everything by min(2 s, OTEL_EXPORTER_OTLP_TIMEOUT): a flush, then the
 *    transport's deadline is lowered to the same instant (a transfer in progress is cut), the
 *    thread is told to stop and joined until that instant; if it is still busy it is detached
 *    and finishes on its own. A dead collector thus never holds the exit for more than about
 *    2 s. The thread releases the transport (exp_transport_shutdown) itself as it exits, since
 *    the transport belongs to it. Spans still queued after the flush are abandoned (logged at
 *    debug level with the totals).
 *  - exp_atfork_child(): the child has no exporter thread (fork copies only the calling
 *    thread). It forgets it, unmaps the inherited queue so that the parent's spans can never be
 *    exported twice, zeroes the statistics, and the next enqueue starts a fresh thread, which
 *    builds a fresh resource (new process.pid).
 *
 * Statistics are atomics: `enqueued` is the queue's tail position itself (no extra counter on
 * the producer path); dropped_full is only touched when a span is dropped; exported and
 * dropped_failed only by the thread. The one-time warning about a full queue is logged by the
 * thread, never by a producer (which may be in a signal handler).
 */
#include "exporter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "encode_json.h"
#include "encode_pb.h"
#include "queue.h"
#include "resource.h"
#include "spool.h"
#include "transport.h"
#include "wt_clock.h"
#include "wt_guard.h"
#include "wt_log.h"

#define NS_PER_MS 1000000ull
#define EXIT_BOUND_MS 2000
#define NAP_NS (1 * NS_PER_MS) /* wait for a producer that was interrupted mid-push */
#define POLL_NS (2 * NS_PER_MS) /* SLEEP_POLL: how often the thread looks for a full batch */

enum { ST_IDLE = 0, ST_STARTING, ST_RUNNING, ST_FAILED, ST_STOPPED };

static const struct exp_config *cfg;
static struct exp_queue q;
static uint64_t batch_max = 512;
static uint64_t delay_ns = 5000 * NS_PER_MS;

static int state;       /* ST_* */
static int start_error; /* pthread_create's error, for the log */
static bool detached;   /* a stopped thread could not be joined */
static pthread_t thr;
static int stop; /* the thread must exit at its next check */
static int shut; /* exp_shutdown ran */

static uint32_t wake_word; /* futex: bumped to wake the thread */
enum { AWAKE = 0, SLEEP_LONG = 1, SLEEP_POLL = 2 };
static int sleeping;       /* the thread is in (or entering) its futex wait: SLEEP_* */
static uint32_t progress;  /* futex: bumped when done_pos advances */
static int flush_waiters;
static uint64_t flush_target; /* export without waiting until head reaches this */
static uint64_t done_pos;     /* queue positions the thread has finished with */

static uint64_t n_exported, n_dropped_full, n_dropped_failed, n_wakeups;
static int warned_full, warned_failed, warned_thread;

/* What the thread owns; allocated by it and freed when it exits. A forked child cannot free
 * the parent's (the parent's thread may have been in the middle of a realloc), so it files it
 * under `orphans`: never touched again (its pages stay shared copy-on-write), but reachable,
 * so that leak checkers do not report it. */
struct tctx {
	struct exp_span *batch;
	struct exp_buf out;
	struct exp_resource res;
	bool used_transport;
	struct tctx *next_orphan;
};

static struct tctx *live_ctx, *orphans;

static exp_symbolise_fn symbolise; /* call-site frames -> attributes (set by the agent) */
static exp_finish_fn finisher;     /* deferred data -> attributes (set by the agent) */

static long futex(uint32_t *addr, int op, uint32_t val, uint64_t timeout_ns)
{
	struct timespec ts = {(time_t)(timeout_ns / 1000000000ull),
	                      (long)(timeout_ns % 1000000000ull)};

	return syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val,
	               op == FUTEX_WAIT && timeout_ns ? &ts : NULL, NULL, 0);
}

static void wake_thread(void)
{
	__atomic_fetch_add(&wake_word, 1, __ATOMIC_SEQ_CST);
	futex(&wake_word, FUTEX_WAKE, 1, 0);
}

void exp_config_defaults(struct exp_config *c)
{
	memset(c, 0, sizeof(*c));
	c->exporter = EXP_EXPORTER_OTLP;
	c->protocol = EXP_PROTO_HTTP_PROTOBUF;
	c->timeout_ms = 10000;
	c->bsp_schedule_delay_ms = 5000;
	c->bsp_export_timeout_ms = 30000;
	c->bsp_max_queue_size = 2048;
	c->bsp_max_export_batch_size = 512;
	c->limits.attr_count = 128;
	c->limits.attr_value_len = -1;
	c->limits.event_count = 128;
	c->limits.event_attr_count = 128;
}

static void reset_state(void)
{
	exp_queue_reset(&q);
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&shut, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sleeping, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&flush_waiters, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&flush_target, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&done_pos, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&n_exported, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&n_dropped_full, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&n_dropped_failed, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&n_wakeups, 0, __ATOMIC_RELAXED);
	warned_full = warned_failed = warned_thread = 0;
	start_error = 0;
	detached = false;
	exp_transport_set_deadline(0);
	__atomic_store_n(&state, ST_IDLE, __ATOMIC_RELEASE);
}

int exp_init(const struct exp_config *c)
{
	int st = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
	uint64_t cap, batch;

	if (!c)
		return -EINVAL;
	if (st == ST_STARTING || st == ST_RUNNING || detached)
		return -EBUSY;
	cap = c->bsp_max_queue_size > 0 ? (uint64_t)c->bsp_max_queue_size : 2048;
	batch = c->bsp_max_export_batch_size > 0 ? (uint64_t)c->bsp_max_export_batch_size : 512;
	if (batch > cap)
		batch = cap; /* the spec requires batch <= queue size */
	reset_state();
	if (exp_queue_init(&q, cap, batch))
		return -EINVAL;
	batch_max = batch;
	/* A delay of 0 would make the idle thread spin: poll at most every millisecond. */
	delay_ns =
	    (c->bsp_schedule_delay_ms > 0 ? (uint64_t)c->bsp_schedule_delay_ms : 1) * NS_PER_MS;
	exp_limits_set(&c->limits);
	cfg = c;
	return 0;
}

/* ---- the exporter thread ------------------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* otlp/stdout: one ExportTraceServiceRequest per line. The file is opened for each batch: a
 * host that closes every descriptor (daemons do) must never get our lines in its own files. */
static int export_file(struct tctx *t, const struct exp_resource *res, size_t n)
{
	int fd = 1, rc;

	rc = exp_json_encode(&t->out, res, t->batch, n);
	if (rc == 0)
		rc = exp_buf_reserve(&t->out, 1);
	if (rc)
		return rc;
	t->out.p[t->out.len++] = '\n';
	if (cfg->file_path && cfg->file_path[0]) {
		fd = open(cfg->file_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
	}
	rc = write_all(fd, t->out.p, t->out.len);
	if (fd != 1)
		close(fd);
	return rc;
}

static int export_otlp(struct tctx *t, const struct exp_resource *res, size_t n)
{
	int rc;

	if (cfg->protocol == EXP_PROTO_HTTP_JSON)
		rc = exp_json_encode(&t->out, res, t->batch, n);
	else /* http/protobuf, and gRPC, whose messages are protobuf */
		rc = exp_pb_encode(&t->out, res, t->batch, n);
	if (rc) {
		wt_debug("encoding a batch of %zu spans failed: %s", n, strerror(-rc));
		return EXP_OUT_DROPPED;
	}
	t->used_transport = true;
	return exp_deliver(cfg, t->out.p, t->out.len, (int)n);
}

/* Deferred attributes become attributes (the agent's finisher); without one they are dropped
 * unread. Exporter thread, or the crash writer for the spans it takes from the queue. */
static void finish_span(struct exp_span *s)
{
	exp_finish_fn fn;

	if (!s->deferred.len)
		return;
	fn = __atomic_load_n(&finisher, __ATOMIC_ACQUIRE);
	if (fn)
		fn(s);
	s->deferred.len = 0;
}

/* What the request threads left to the exporter thread becomes attributes here, before any
 * exporter but "none" sees the batch: deferred attributes first (the agent's finisher), then
 * call-site frames (its symboliser), so a span's attributes keep their order. Spans without a
 * symboliser lose their frames unread. */
static void prepare_batch(struct tctx *t, size_t n)
{
	exp_symbolise_fn fn = __atomic_load_n(&symbolise, __ATOMIC_ACQUIRE);
	size_t i;

	for (i = 0; i < n; i++) {
		finish_span(&t->batch[i]);
		if (!t->batch[i].frames.len)
			continue;
		if (fn)
			fn(&t->batch[i]);
		t->batch[i].frames.len = 0;
	}
}

/* Export batch[0..n) as coming from `res`; returns an enum exp_outcome. */
static int export_batch_res(struct tctx *t, const struct exp_resource *res, size_t n)
{
	int out = EXP_OUT_EXPORTED, rc;

	if (cfg->exporter != EXP_EXPORTER_NONE)
		prepare_batch(t, n);
	switch (cfg->exporter) {
	case EXP_EXPORTER_OTLP:
		out = export_otlp(t, res, n);
		break;
	case EXP_EXPORTER_CONSOLE:
		rc = exp_console_export(2, t->batch, n);
		out = rc ? EXP_OUT_DROPPED : EXP_OUT_EXPORTED;
		break;
	case EXP_EXPORTER_OTLP_FILE:
		rc = export_file(t, res, n);
		if (rc)
			wt_log_once(warned_failed, WT_LOG_WARN, "otlp/stdout: cannot write %s: %s",
			            cfg->file_path ? cfg->file_path : "stdout", strerror(-rc));
		out = rc ? EXP_OUT_DROPPED : EXP_OUT_EXPORTED;
		break;
	default: /* none: spans are accepted and discarded */
		break;
	}
	if (out == EXP_OUT_EXPORTED)
		__atomic_fetch_add(&n_exported, n, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&n_dropped_failed, n, __ATOMIC_RELAXED);
	return out;
}

static void export_batch(struct tctx *t, size_t n)
{
	export_batch_res(t, &t->res, n);
}

/* ---- crash spool files (spool.c) ------------------------------------------------------- */

static int spool_export(void *arg, const struct exp_resource *res, size_t n)
{
	return export_batch_res(arg, res, n);
}

/* Export what crashed processes left in the spool directory, with their own Resource. Runs
 * once, when the thread starts, before the first batch of this process. */
static void export_spool(struct tctx *t)
{
	struct exp_spool_sink sink = {t->batch, batch_max, spool_export, t};

	if (cfg->spool_dir && cfg->spool_dir[0] && cfg->exporter != EXP_EXPORTER_NONE)
		exp_spool_import(cfg, &sink);
}

/* Tell flush waiters how far the thread got. */
static void publish(void)
{
	uint64_t taken = exp_queue_taken(&q);

	if (__atomic_load_n(&done_pos, __ATOMIC_RELAXED) == taken)
		return;
	__atomic_store_n(&done_pos, taken, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&progress, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&flush_waiters, __ATOMIC_SEQ_CST))
		futex(&progress, FUTEX_WAKE, INT_MAX, 0);
}

static bool flushing(void)
{
	return __atomic_load_n(&flush_target, __ATOMIC_ACQUIRE) > exp_queue_taken(&q);
}

/* Sleep until woken or timeout_ns passed, unless there is work already. With `nap`, sleep
 * anyway: the work there is cannot be taken yet (a producer was interrupted in the middle of
 * its push), and re-checking would spin for as long as that producer stays off the CPU. */
static void doze(uint64_t timeout_ns, bool nap, int mode)
{
	uint32_t v;

	__atomic_store_n(&sleeping, mode, __ATOMIC_SEQ_CST);
	v = __atomic_load_n(&wake_word, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (nap || (exp_queue_len(&q) < batch_max && !flushing() &&
	            !__atomic_load_n(&stop, __ATOMIC_SEQ_CST)))
		futex(&wake_word, FUTEX_WAIT, v, timeout_ns ? timeout_ns : 1);
	__atomic_store_n(&sleeping, AWAKE, __ATOMIC_RELAXED);
}

static size_t take(struct tctx *t)
{
	size_t n = 0;

	while (n < batch_max && exp_queue_pop(&q, &t->batch[n]))
		n++;
	return n;
}

static void warn_drops(void)
{
	if (!warned_full && __atomic_load_n(&n_dropped_full, __ATOMIC_RELAXED))
		wt_log_once(
		    warned_full, WT_LOG_WARN,
		    "span queue full (%llu slots, OTEL_BSP_MAX_QUEUE_SIZE): spans are being "
		    "dropped",
		    (unsigned long long)q.cap);
}

static void loop(struct tctx *t)
{
	uint64_t next = wt_clock_mono_ns() + delay_ns, now, len;
	bool busy = false; /* the last export was a full batch: poll */
	size_t n;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		warn_drops();
		now = wt_clock_mono_ns();
		len = exp_queue_len(&q);
		if (len && (len >= batch_max || flushing() || now >= next)) {
			n = take(t);
			if (n) {
				export_batch(t, n);
				busy = n == batch_max;
				next = wt_clock_mono_ns() + delay_ns;
			}
			publish();
			if (!n)
				doze(NAP_NS, true, SLEEP_LONG);
			continue;
		}
		publish();
		if (now >= next)
			next = now + delay_ns;
		if (busy && next - now > POLL_NS)
			doze(POLL_NS, false, SLEEP_POLL);
		else
			doze(next - now, false, SLEEP_LONG);
	}
}

static void *run(void *arg)
{
	struct tctx *t;

	(void)arg;
	wt_guard = 1; /* for the thread's whole life: the hooks pass everything through */
	pthread_setname_np(pthread_self(), "wiretrace-exp");
	t = calloc(1, sizeof(*t));
	if (t)
		t->batch = malloc(batch_max * sizeof(struct exp_span));
	if (!t || !t->batch) {
		wt_err("exporter: cannot allocate a batch of %llu spans: exporting nothing",
		       (unsigned long long)batch_max);
		free(t);
		__atomic_store_n(&state, ST_FAILED, __ATOMIC_RELEASE);
		return NULL;
	}
	__atomic_store_n(&live_ctx, t, __ATOMIC_RELEASE);
	if (cfg->exporter != EXP_EXPORTER_CONSOLE && cfg->exporter != EXP_EXPORTER_NONE &&
	    exp_resource_build(&t->res, cfg))
		wt_warn("exporter: out of memory building the resource; exporting without it");
	export_spool(t);
	loop(t);
	if (t->used_transport)
		exp_transport_shutdown();
	__atomic_store_n(&live_ctx, NULL, __ATOMIC_RELEASE);
	exp_resource_free(&t->res);
	exp_buf_free(&t->out);
	free(t->batch);
	free(t);
	return NULL;
}

/* Start the thread once (first enqueue). All signals are blocked while it is created, so it
 * starts with (and keeps) a full mask. */
static void start_thread(void)
{
	int expected = ST_IDLE, rc;
	sigset_t all, old;

	if (!__atomic_compare_exchange_n(&state, &expected, ST_STARTING, false, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_RELAXED))
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&thr, NULL, run, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	start_error = rc;
	__atomic_store_n(&state, rc ? ST_FAILED : ST_RUNNING, __ATOMIC_RELEASE);
}

/* ---- host-facing API ----------------------------------------------------------------- */

int exp_enqueue(const struct exp_span *s)
{
	int rc, st, sl;

	if (!cfg || !s)
		return -EINVAL;
	st = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
	if (st == ST_STOPPED)
		return -ESHUTDOWN;
	rc = exp_queue_push(&q, s);
	if (rc < 0) {
		__atomic_fetch_add(&n_dropped_full, 1, __ATOMIC_RELAXED);
		return -ENOBUFS;
	}
	if (st == ST_IDLE)
		start_thread();
	/* the batch size wakes a thread in a long sleep, half the queue any sleeping thread */
	sl = rc > 0 ? __atomic_load_n(&sleeping, __ATOMIC_SEQ_CST) : AWAKE;
	if ((rc == 1 && sl == SLEEP_LONG) || (rc == 2 && sl != AWAKE)) {
		__atomic_fetch_add(&n_wakeups, 1, __ATOMIC_RELAXED);
		wake_thread();
	}
	return 0;
}

static bool alive(void)
{
	int st = __atomic_load_n(&state, __ATOMIC_ACQUIRE);

	return st == ST_RUNNING || st == ST_STARTING;
}

/* Wait until the thread has finished with every position below target, or until deadline. */
static int wait_done(uint64_t target, uint64_t deadline)
{
	uint64_t now;
	uint32_t v;
	int rc = 0;

	__atomic_fetch_add(&flush_waiters, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		v = __atomic_load_n(&progress, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&done_pos, __ATOMIC_SEQ_CST) >= target)
			break;
		now = wt_clock_mono_ns();
		if (now >= deadline || !alive()) {
			rc = -ETIMEDOUT;
			break;
		}
		futex(&progress, FUTEX_WAIT, v, deadline - now);
	}
	__atomic_fetch_sub(&flush_waiters, 1, __ATOMIC_SEQ_CST);
	return rc;
}

int exp_flush(int timeout_ms)
{
	int st = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
	uint64_t target = exp_queue_accepted(&q), cur, deadline;

	if (st == ST_IDLE || target <= __atomic_load_n(&done_pos, __ATOMIC_ACQUIRE))
		return 0;
	if (st == ST_RUNNING && pthread_equal(pthread_self(), thr))
		return -EDEADLK;
	if (st != ST_RUNNING && st != ST_STARTING)
		return -ETIMEDOUT;
	cur = __atomic_load_n(&flush_target, __ATOMIC_RELAXED);
	while (cur < target && !__atomic_compare_exchange_n(&flush_target, &cur, target, true,
	                                                    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
	wake_thread();
	deadline =
	    timeout_ms < 0 ? UINT64_MAX : wt_clock_mono_ns() + (uint64_t)timeout_ms * NS_PER_MS;
	return wait_done(target, deadline);
}

/* Bound of the flush at exit: min(2 s, the OTLP export timeout). */
static uint64_t exit_bound_ms(void)
{
	if (cfg && cfg->timeout_ms > 0 && cfg->timeout_ms < EXIT_BOUND_MS)
		return (uint64_t)cfg->timeout_ms;
	return EXIT_BOUND_MS;
}

static void stop_thread(uint64_t deadline)
{
	struct timespec ts;
	uint64_t now;
	int rc;

	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	wake_thread();
	now = wt_clock_mono_ns();
	if (deadline < now + NS_PER_MS)
		deadline = now + NS_PER_MS;
	ts.tv_sec = (time_t)(deadline / 1000000000ull);
	ts.tv_nsec = (long)(deadline % 1000000000ull);
	rc = pthread_clockjoin_np(thr, NULL, CLOCK_MONOTONIC, &ts);
	if (rc) {
		pthread_detach(thr);
		detached = true;
		wt_debug("exporter: thread still busy at the exit deadline: detached");
	}
}

void exp_shutdown(void)
{
	uint64_t bound, deadline, left;
	int st, i;

	if (__atomic_exchange_n(&shut, 1, __ATOMIC_ACQ_REL))
		return;
	for (i = 0; i < 1000 && __atomic_load_n(&state, __ATOMIC_ACQUIRE) == ST_STARTING; i++)
		sched_yield();
	st = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
	if (st == ST_RUNNING && !pthread_equal(pthread_self(), thr)) {
		bound = exit_bound_ms();
		deadline = wt_clock_mono_ns() + bound * NS_PER_MS;
		exp_transport_set_deadline(deadline);
		exp_flush((int)bound);
		stop_thread(deadline);
	} else if (st == ST_FAILED && start_error) {
		wt_log_once(warned_thread, WT_LOG_WARN, "exporter thread could not be started: %s",
		            strerror(start_error));
	}
	__atomic_store_n(&state, ST_STOPPED, __ATOMIC_RELEASE);
	left = exp_queue_len(&q);
	wt_debug("exporter: %llu spans enqueued, %llu exported, %llu dropped (queue full), "
	         "%llu dropped (export failed), %llu abandoned in the queue",
	         (unsigned long long)exp_queue_accepted(&q),
	         (unsigned long long)__atomic_load_n(&n_exported, __ATOMIC_RELAXED),
	         (unsigned long long)__atomic_load_n(&n_dropped_full, __ATOMIC_RELAXED),
	         (unsigned long long)__atomic_load_n(&n_dropped_failed, __ATOMIC_RELAXED),
	         (unsigned long long)left);
}

void exp_atfork_child(void)
{
	/* The parent's thread does not exist here; its memory (batch, buffers, resource) stays
	 * mapped copy-on-write and is never touched. */
	if (live_ctx) {
		live_ctx->next_orphan = orphans;
		orphans = live_ctx;
		live_ctx = NULL;
	}
	reset_state();
}

void exp_spool_startup(void)
{
	if (cfg && cfg->spool_dir && cfg->exporter != EXP_EXPORTER_NONE &&
	    __atomic_load_n(&state, __ATOMIC_ACQUIRE) == ST_IDLE && exp_spool_pending(cfg))
		start_thread();
}

int exp_crash_take_queued(struct exp_span *out)
{
	int rc = exp_queue_pop(&q, out);

	if (rc == 1)
		finish_span(out);
	return rc;
}

void exp_finish_set(exp_finish_fn fn)
{
	__atomic_store_n(&finisher, fn, __ATOMIC_RELEASE);
}

void exp_symbolise_set(exp_symbolise_fn fn)
{
	__atomic_store_n(&symbolise, fn, __ATOMIC_RELEASE);
}

void exp_stats_get(struct exp_stats *out)
{
	out->enqueued = exp_queue_accepted(&q);
	out->exported = __atomic_load_n(&n_exported, __ATOMIC_RELAXED);
	out->dropped_full = __atomic_load_n(&n_dropped_full, __ATOMIC_RELAXED);
	out->dropped_failed = __atomic_load_n(&n_dropped_failed, __ATOMIC_RELAXED);
	out->wakeups = __atomic_load_n(&n_wakeups, __ATOMIC_RELAXED);
}
