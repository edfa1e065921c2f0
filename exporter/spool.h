/*
 * spool.h - crash spool files: the reader the exporter thread runs, the OTLP protobuf decoder it
 * uses, and what the crash writer needs from exporter.c (internal to exporter/; the writer's
 * API is in api/exporter.h).
 *
 * File names in the spool directory (all written by spool.c):
 *   .crash-<fp>-<ns>-<pid>.tmp       being written by the crashing process <pid>
 *   crash-<fp>-<ns>-<pid>.otlp       complete, waiting to be exported
 *   crash-<fp>-<ns>-<pid>.claim-<r>  taken by reader process <r>, being exported
 *   crash-<fp>-<ns>-<pid>.bad        could not be decoded: moved aside, never read again
 *   .retry-after-<fp>                its mtime: when start-up imports may try again
 * <fp> is the fingerprint of the exporter configuration (exp_spool_fingerprint): a process
 * only reads the files of its own configuration. <ns> is the wall-clock time of the crash in
 * nanoseconds since the epoch. A temporary or
 * claimed file whose process no longer exists is taken over by the next reader (a crash while
 * writing, a reader killed while exporting).
 */
#ifndef EXP_SPOOL_H
#define EXP_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exp_span.h"
#include "exporter.h"
#include "resource.h"

#define EXP_SPOOL_MAX_FILE (64u << 20) /* OTLP's default maximum request size */
#define EXP_SPOOL_MAX_FILES 64         /* no new crash file while this many are waiting */
#define EXP_SPOOL_MAX_ARRAY 32         /* string-array elements kept per attribute */
#define EXP_SPOOL_FP_LEN 16

/* 16 hex digits identifying where c exports to (exporter, protocol, endpoint, file, headers). */
void exp_spool_fingerprint(const struct exp_config *c, char out[EXP_SPOOL_FP_LEN + 1]);

/* One decoded span and the Resource of its ResourceSpans (valid during the call only); after
 * the last span of a ResourceSpans, one more call with s == NULL (the Resource is still valid,
 * and freed after it). A negative return stops the decoding and is returned by
 * exp_spool_decode(). */
typedef int (*exp_spool_span_fn)(void *arg, const struct exp_span *s,
                                 const struct exp_resource *res);

/* Decode an ExportTraceServiceRequest (protobuf) into span records, calling fn for each; with
 * fn NULL only validate. Every tag, wire type, length and nesting is checked; unknown fields
 * are skipped; links are ignored (the agent makes none). What does not fit a record is dropped
 * and counted as the builders do. Returns the number of spans, -EBADMSG for a malformed
 * message, -ENOMEM, or fn's error. Exporter thread or tests: allocates (the Resource). */
long exp_spool_decode(const uint8_t *p, size_t n, exp_spool_span_fn fn, void *arg);

/* Where the reader sends decoded spans: it fills batch[0..max) and calls export_fn with the
 * count and the Resource they came with; export_fn returns an enum exp_outcome. */
struct exp_spool_sink {
	struct exp_span *batch;
	size_t max;
	int (*export_fn)(void *arg, const struct exp_resource *res, size_t n);
	void *arg;
};

/* Exporter thread: export the crash files of c->spool_dir written under the same configuration
 * fingerprint, at most EXP_SPOOL_MAX_FILES per call. Each
 * is claimed (renamed) first, so two processes never export the same file; exported files are
 * removed; a file whose export gave up (collector unreachable) is put back for the next
 * process; a file that does not decode is renamed *.bad and reported (one warning per process,
 * then debug lines). Returns the number of files exported. */
int exp_spool_import(const struct exp_config *c, const struct exp_spool_sink *sink);

/* Does c->spool_dir hold a crash file of this configuration waiting to be exported (and no
 * recent failure to hold off for)? Raw syscalls into a stack buffer for the listing: no
 * allocation; false when the directory does not exist. */
bool exp_spool_pending(const struct exp_config *c);

/* exporter.c, for the crash writer: take the oldest queued span into *out. 1 if one was
 * taken, 0 if the queue is empty (or not mapped). Lock-free, async-signal-safe. */
int exp_crash_take_queued(struct exp_span *out);

#endif
