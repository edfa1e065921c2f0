/*
 * exporter.h - the exporter's public API: configure, enqueue, flush, shut down.
 *
 * This is all the agent may call (DESIGN.md: "exporter (enqueue API only)"). The exporter never
 * calls back into the agent, hooks, context or injector.
 *
 * Threads: exp_enqueue() may be called from any thread, including from a signal handler that
 * interrupted another enqueue: it takes no lock, allocates nothing and makes no syscall except,
 * at most once per full batch, a futex wake of the exporter thread (none while spans flow
 * steadily: the thread then polls; see exporter.c). exp_init() must run before
 * the first enqueue (the lifecycle code calls it from the constructor); it allocates nothing
 * heavy: the queue's memory, the exporter thread and libcurl all come with the first enqueue.
 */
#ifndef EXPORTER_H
#define EXPORTER_H

#include <stdbool.h>
#include <stdint.h>

#include "exp_span.h"

enum exp_kind {
	EXP_EXPORTER_OTLP = 0,
	EXP_EXPORTER_CONSOLE = 1,  /* one human-readable line per span on stderr */
	EXP_EXPORTER_OTLP_FILE = 2, /* "otlp/stdout": OTLP JSON lines to WIRETRACE_FILE or stdout */
	EXP_EXPORTER_NONE = 3,
};

enum exp_protocol {
	EXP_PROTO_HTTP_PROTOBUF = 0,
	EXP_PROTO_HTTP_JSON = 1,
	EXP_PROTO_GRPC = 2,
};

#define EXP_MAX_HEADERS 32

struct exp_header {
	char *name;  /* owned by the config; decoded */
	char *value; /* never logged */
};

struct exp_resource_attr {
	char *key;
	char *value;
};

/* Everything the exporter needs, filled from the environment by agent/config.c. Strings are
 * heap copies owned by the config (freed by exp_config_free). */
struct exp_config {
	int exporter;           /* enum exp_kind */
	int protocol;           /* enum exp_protocol */
	char *endpoint;         /* the full URL to POST to (already resolved: generic + /v1/traces,
				 * or the signal endpoint as is); for gRPC the base URL */
	struct exp_header headers[EXP_MAX_HEADERS];
	int nheaders;
	int timeout_ms;         /* OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT, 0 = no limit */
	bool gzip;              /* _COMPRESSION=gzip */
	char *certificate;      /* CA file */
	char *client_key;
	char *client_certificate;
	bool insecure;          /* gRPC without scheme: cleartext */
	int bsp_schedule_delay_ms;
	int bsp_export_timeout_ms;
	int bsp_max_queue_size;
	int bsp_max_export_batch_size;
	struct exp_limits limits;
	char *service_name;     /* resolved: OTEL_SERVICE_NAME > resource attr > unknown_service:x */
	struct exp_resource_attr *resource; /* OTEL_RESOURCE_ATTRIBUTES minus service.name */
	int nresource;
	char *file_path;        /* WIRETRACE_FILE for otlp/stdout; NULL = stdout */
	char *spool_dir;        /* WIRETRACE_SPOOL_DIR */
};

/* Fill *c with the specification's defaults (exporter otlp, http/protobuf, timeout 10 s,
 * BSP 5000 ms / 30000 ms / 2048 / 512, limits 128 / no limit / 128 / 128); strings NULL. For
 * callers that build a config without agent/config.c (tools, tests). */
void exp_config_defaults(struct exp_config *c);

/* Remember the configuration (the pointer is kept: *c must stay valid and unchanged until
 * exp_shutdown; the agent's is process-wide). Cheap: no thread, no allocation of the queue.
 * Returns 0 or -errno. */
int exp_init(const struct exp_config *c);

/* Copy a finished span into the queue. Returns 0, or -ENOBUFS when the queue is full (the span
 * is dropped and counted), -ESHUTDOWN after exp_shutdown() (not counted), -EINVAL before
 * exp_init(). */
int exp_enqueue(const struct exp_span *s);

/* Export everything queued now, waiting at most timeout_ms (< 0: no limit; 0: only check).
 * Used at exit and on SIGTERM/SIGINT: async-signal-safe (atomics and futexes only). Returns 0
 * once every span enqueued before the call has been exported or dropped (including the batch
 * in flight), -ETIMEDOUT otherwise; -EDEADLK on the exporter thread. */
int exp_flush(int timeout_ms);

/* Flush (bounded, see docs/ARCHITECTURE.md) and stop the thread. Idempotent. Everything is
 * bounded by min(2 s, cfg->timeout_ms): flush, cut the transfer in progress, join; a thread
 * still busy then is detached (so *cfg must stay valid until the process exits). Spans still
 * queued are abandoned. Not async-signal-safe (logs the totals at debug level). */
void exp_shutdown(void);

/* In the child after fork(): forget the parent's queue contents and thread; the next enqueue
 * starts a fresh thread. Called from the atfork child handler (single-threaded context). */
void exp_atfork_child(void);

/* ---- crash spool (spool.c, spool_decode.c; the crash handler is agent/crash.c) ----------
 *
 * A process that dies of a fatal signal writes the spans it had in flight, and those still
 * queued, into one file in cfg->spool_dir: an OTLP ExportTraceServiceRequest in protobuf
 * (several ResourceSpans when written in chunks; protobuf concatenation appends repeated
 * fields). A later process with the same configuration exports the files and removes them. */

/* Outside any signal handler, before a crash file can be written: create the spool directory
 * (mode 0700, each missing component; an existing one must be ours and not writable by group
 * or others), build the Resource the file will carry, map the encode buffers. Idempotent.
 * Returns 0, or -errno (then crash files are not written; logged once). Not async-signal-safe. */
int exp_spool_prepare(const struct exp_config *c);

/* Async-signal-safe (no malloc, no lock, no stdio; open/write/rename/close only). Call in this
 * order from one thread: open a temporary file named after the pid and now_ns (wall clock);
 * add spans (copied; encoded and written in chunks); close: also takes the spans still in the
 * exporter's queue when take_queued is true, writes the rest, renames the file to its final
 * name (removes it when nothing was written). Return 0 or -errno; after a failure of open, add
 * and close do nothing. */
int exp_spool_crash_open(uint64_t now_ns);
int exp_spool_crash_add(const struct exp_span *s);
int exp_spool_crash_close(bool take_queued);

/* In the child after fork (atfork handler, single-threaded): correct process.pid in the
 * prepared Resource. */
void exp_spool_atfork_child(void);

/* At start-up, after exp_init(): when spans are exported and cfg->spool_dir holds crash files,
 * start the exporter thread now, so that they are exported even if this process never makes a
 * span. Costs one open(2), getdents64(2) and close(2) of the directory otherwise (or a failed
 * open when it does not exist). The exporter thread itself always looks at the spool
 * directory when it starts. */
void exp_spool_startup(void);

/* ---- call-site symbolisation --------------------------------------------------------------
 * The agent captures raw return addresses into exp_span.frames on the request thread; the
 * exporter thread calls `fn` on each span of a batch that has frames, before encoding it, to
 * turn them into attributes; fn must clear s->frames. Set once, before the first span with
 * frames (NULL: frames are dropped unread). */
typedef void (*exp_symbolise_fn)(struct exp_span *s);
void exp_symbolise_set(exp_symbolise_fn fn);

/* ---- deferred attributes -------------------------------------------------------------------
 * A span may carry agent-private data in exp_span.deferred (see exp_span.h). The exporter calls
 * `fn` on each such span before it is encoded, on the exporter thread, and on the spans the
 * crash writer takes from the queue (so fn must be async-signal-safe: pure, no allocation);
 * fn adds attributes from that data; the exporter clears deferred afterwards. Set once, before
 * the first span with deferred data (NULL: the data is dropped unread). */
typedef void (*exp_finish_fn)(struct exp_span *s);
void exp_finish_set(exp_finish_fn fn);

struct exp_stats {
	uint64_t enqueued;       /* spans accepted into the queue */
	uint64_t exported;       /* spans the backend accepted */
	uint64_t dropped_full;   /* spans dropped because the queue was full */
	uint64_t dropped_failed; /* spans dropped after the export failed for good */
	uint64_t wakeups;        /* futex wakes issued by producers (at most one per batch) */
};
void exp_stats_get(struct exp_stats *out);

#endif
