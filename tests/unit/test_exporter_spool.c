/*
 * test_exporter_spool.c - crash spool files: the writer the crash handler uses (prepare, open,
 * add, close), the fixed-buffer encoder under it, the decoder and the reader (import).
 *
 * The files are decoded by code we did not write (protoc-c's, from proto/): resource, chunking
 * into several ResourceSpans, every span field. Our own decoder must give back records that
 * re-encode to exactly the same bytes. Malformed input: every prefix of a valid file, and a table
 * of broken messages (bad tags, group wire types, lengths past the end, over-long varints, ids of
 * the wrong size, known fields with the wrong wire type, spans without ids). The reader: a ready
 * file is exported and removed; a damaged one renamed *.bad; a claim left by a dead process is
 * taken over; a temporary file of a live writer is left alone; a failed export puts the file
 * back and holds off start-up imports. Directory safety is checked in a child process (prepare
 * runs once per process).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "encode_pb.h"
#include "exporter.h"
#include "resource.h"
#include "spool.h"
#include "transport.h"

#define REQ Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
#define SPAN Opentelemetry__Proto__Trace__V1__Span
#define unpack_req opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack
#define free_req                                                                                   \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked

static char dir[256];
static struct exp_config cfg;

static void make_span(struct exp_span *s, unsigned i)
{
	static const char *const arr[] = {"a", "bc", ""};
	static const size_t lens[] = {1, 2, 0};
	int e;

	exp_span_init(s);
	memset(s->trace_id, 0x11, 16);
	memcpy(s->span_id, &i, sizeof(i));
	s->span_id[7] = 0x5a;
	if (i % 2)
		memset(s->parent_span_id, 0x22, 8);
	s->kind = i % 3 ? EXP_KIND_SERVER : EXP_KIND_CLIENT;
	s->flags = 0x01 | EXP_FLAGS_HAS_IS_REMOTE | (i % 2 ? EXP_FLAGS_IS_REMOTE : 0);
	s->start_ns = 1700000000000000000ull + i;
	s->end_ns = s->start_ns + 1000;
	exp_span_set_name(s, "GET", 3);
	exp_span_set_tracestate(s, "k=v", 3);
	exp_span_add_str(s, "url.path", "/crash", 6);
	exp_span_add_int(s, "server.port", -8080);
	exp_span_add_bool(s, "flag", true);
	exp_span_add_double(s, "ratio", 0.25);
	exp_span_add_str_array(s, "list", arr, lens, 3);
	exp_span_add_str(s, "bad.utf8", "\xff\xfe", 2);
	exp_span_set_status(s, EXP_STATUS_ERROR, "signal SIGSEGV", 14);
	e = exp_span_add_event(s, s->end_ns, "exception");
	exp_span_add_event_str(s, e, "exception.type", "SIGSEGV", 7);
	exp_span_add_event_str(s, e, "exception.stacktrace", "f+0x1 (m+0x2)\ng+0x3 (m+0x4)", 27);
	exp_span_add_event_int(s, e, "n", 7);
	s->dropped_attrs = 2;
	s->dropped_events = i % 4;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/wt-spool-test.%ld/a/spool", (long)getpid());
	exp_config_defaults(&cfg);
	cfg.spool_dir = dir;
	cfg.service_name = "spool-test";
	return 0;
}

/* Before each writer test; once prepared, prepare is a no-op (it runs once per process, which
 * is why test_prepare_unsafe runs first, in children of a process that never prepared). */
static int prepare(void **state)
{
	(void)state;
	return exp_spool_prepare(&cfg);
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf /tmp/wt-spool-test.%ld", (long)getpid());
	return system(cmd) == 0 ? 0 : -1;
}

static int read_all(const char *path, uint8_t **p, size_t *n)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	*p = malloc((size_t)st.st_size + 1);
	*n = (size_t)read(fd, *p, (size_t)st.st_size);
	close(fd);
	return *n == (size_t)st.st_size ? 0 : -1;
}

/* The one file whose name ends with suffix (the test empties the directory first). */
static int find_file(const char *suffix, char *out, size_t cap)
{
	struct dirent *d;
	DIR *dp = opendir(dir);
	int n = 0;
	size_t sl = strlen(suffix);

	assert_non_null(dp);
	while ((d = readdir(dp))) {
		size_t l = strlen(d->d_name);

		if (l > sl && strcmp(d->d_name + l - sl, suffix) == 0 && d->d_name[0] != '.') {
			snprintf(out, cap, "%s/%s", dir, d->d_name);
			n++;
		}
	}
	closedir(dp);
	return n;
}

static void empty_dir(void)
{
	char path[512];
	struct dirent *d;
	DIR *dp = opendir(dir);

	assert_non_null(dp);
	while ((d = readdir(dp))) {
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
			unlink(path);
		}
	}
	closedir(dp);
}

static void write_crash_file(const struct exp_span *spans, size_t n, char *path, size_t cap)
{
	size_t i;

	empty_dir();
	assert_int_equal(exp_spool_crash_open(1795000000123456789ull), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(exp_spool_crash_add(&spans[i]), 0);
	assert_int_equal(exp_spool_crash_close(false), 0);
	assert_int_equal(find_file(".otlp", path, cap), 1);
}

/* The directory: made with 0700; the file: 0600, named crash-<ns>-<pid>.otlp, no temporary
 * file left. */
static void test_writer_file(void **state)
{
	struct exp_span s;
	struct stat st;
	char path[512], want[128];

	(void)state;
	make_span(&s, 1);
	write_crash_file(&s, 1, path, sizeof(path));
	char fp[EXP_SPOOL_FP_LEN + 1];

	exp_spool_fingerprint(&cfg, fp);
	snprintf(want, sizeof(want), "/crash-%s-1795000000123456789-%ld.otlp", fp, (long)getpid());
	assert_non_null(strstr(path, want));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(find_file(".tmp", path, sizeof(path)), 0);
}

/* Nothing added: no file at all. */
static void test_writer_empty(void **state)
{
	char path[512];

	(void)state;
	empty_dir();
	assert_int_equal(exp_spool_crash_open(1), 0);
	assert_int_equal(exp_spool_crash_close(false), 0);
	assert_int_equal(find_file(".otlp", path, sizeof(path)), 0);
	assert_int_equal(find_file(".tmp", path, sizeof(path)), 0);
	/* and add/close without open fail cleanly */
	assert_int_equal(exp_spool_crash_add(NULL), -EBADF);
	assert_int_equal(exp_spool_crash_close(false), -EBADF);
}

/* 40 spans: chunks of 16, each its own ResourceSpans; protobuf-c reads one request with three
 * ResourceSpans carrying the resource and every span in order. */
static void test_writer_chunks_protobuf_c(void **state)
{
	static struct exp_span spans[40];
	const SPAN *d;
	uint8_t *data;
	size_t n, i, k, seen = 0;
	char path[512];
	REQ *r;

	(void)state;
	for (i = 0; i < 40; i++)
		make_span(&spans[i], (unsigned)i);
	write_crash_file(spans, 40, path, sizeof(path));
	assert_int_equal(read_all(path, &data, &n), 0);
	r = unpack_req(NULL, n, data);
	assert_non_null(r);
	assert_int_equal(r->n_resource_spans, 3);
	for (i = 0; i < r->n_resource_spans; i++) {
		const Opentelemetry__Proto__Resource__V1__Resource *res =
		    r->resource_spans[i]->resource;
		int found = 0;

		for (k = 0; k < res->n_attributes; k++) {
			if (strcmp(res->attributes[k]->key, "service.name") == 0) {
				assert_string_equal(res->attributes[k]->value->string_value,
				                    "spool-test");
				found++;
			}
			if (strcmp(res->attributes[k]->key, "process.pid") == 0) {
				assert_int_equal(res->attributes[k]->value->int_value, getpid());
				found++;
			}
		}
		assert_int_equal(found, 2);
		assert_int_equal(r->resource_spans[i]->n_scope_spans, 1);
		for (k = 0; k < r->resource_spans[i]->scope_spans[0]->n_spans; k++, seen++) {
			d = r->resource_spans[i]->scope_spans[0]->spans[k];
			assert_memory_equal(d->span_id.data, spans[seen].span_id, 8);
			assert_string_equal(d->name, "GET");
			assert_int_equal(d->status->code, EXP_STATUS_ERROR);
			assert_string_equal(d->status->message, "signal SIGSEGV");
			assert_int_equal(d->n_events, 1);
			assert_string_equal(d->events[0]->name, "exception");
			assert_int_equal(d->flags, spans[seen].flags);
		}
	}
	assert_int_equal(seen, 40);
	free_req(r, NULL);
	free(data);
}

struct collected {
	struct exp_span spans[64];
	size_t n, ends;
	char service[64];
};

static int collect(void *arg, const struct exp_span *s, const struct exp_resource *res)
{
	struct collected *c = arg;
	const struct exp_res_kv *kv = exp_resource_find(res, "service.name");

	if (!s) {
		c->ends++;
		return 0;
	}
	if (kv)
		snprintf(c->service, sizeof(c->service), "%s", kv->str);
	assert_true(c->n < 64);
	c->spans[c->n++] = *s;
	return 0;
}

/* Like collect, and writes the Resource's attributes into c->service as "k=v,...". */
static int collect_res(void *arg, const struct exp_span *s, const struct exp_resource *res)
{
	struct collected *c = arg;
	size_t o = 0;

	if (!s)
		return 0;
	for (int i = 0; res && i < res->n && o < sizeof(c->service); i++)
		o += (size_t)snprintf(c->service + o, sizeof(c->service) - o, "%s%s=%s", i ? "," : "",
		                      res->kv[i].key, res->kv[i].str ? res->kv[i].str : "");
	c->n++;
	return 0;
}

/* Our decoder gives back records that encode to the very same bytes. */
static void test_decode_roundtrip(void **state)
{
	static struct exp_span spans[20];
	static struct collected c;
	struct exp_buf a = {0}, b = {0};
	uint8_t *data;
	size_t n, i;
	char path[512];

	(void)state;
	for (i = 0; i < 20; i++)
		make_span(&spans[i], (unsigned)i);
	write_crash_file(spans, 20, path, sizeof(path));
	assert_int_equal(read_all(path, &data, &n), 0);
	assert_int_equal(exp_spool_decode(data, n, NULL, NULL), 20);
	memset(&c, 0, sizeof(c));
	assert_int_equal(exp_spool_decode(data, n, collect, &c), 20);
	assert_int_equal(c.n, 20);
	assert_int_equal(c.ends, 2); /* two ResourceSpans: 16 + 4 */
	assert_string_equal(c.service, "spool-test");
	for (i = 0; i < 20; i++) {
		assert_int_equal(exp_pb_encode(&a, NULL, &spans[i], 1), 0);
		assert_int_equal(exp_pb_encode(&b, NULL, &c.spans[i], 1), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.p, b.p, a.len);
	}
	exp_buf_free(&a);
	exp_buf_free(&b);
	free(data);
}

/* A length-delimited field with a one-byte tag and length, at o; returns its size. */
static size_t ld(uint8_t *o, uint8_t tag, const void *p, size_t n)
{
	assert_true(n < 128);
	o[0] = tag;
	o[1] = (uint8_t)n;
	memcpy(o + 2, p, n);
	return n + 2;
}

/* One Resource attribute {key: "k", value: string "v"}, key and value given with lengths. */
static size_t res_attr(uint8_t *o, const char *k, size_t kn, const char *v, size_t vn)
{
	uint8_t any[64], kv[128];
	size_t a = ld(any, 0x0a, v, vn), n = ld(kv, 0x0a, k, kn);

	n += ld(kv + n, 0x12, any, a);
	return ld(o, 0x0a, kv, n);
}

/* Resource strings are C strings: an attribute whose key or value holds a NUL is dropped,
 * the others are kept (the file is not damaged for it). */
static void test_decode_resource_nul(void **state)
{
	static struct collected c;
	uint8_t res[256], span[64], ss[96], rs[384], req[400], ids[24];
	size_t nres = 0, nspan = 0, nss, nrs, nreq;

	(void)state;
	nres += res_attr(res + nres, "a\0b", 3, "x", 1);
	nres += res_attr(res + nres, "service.name", 12, "s\0", 2);
	nres += res_attr(res + nres, "host.name", 9, "h", 1);
	memset(ids, 7, sizeof(ids));
	nspan += ld(span, 0x0a, ids, 16);
	nspan += ld(span + nspan, 0x12, ids, 8);
	nss = ld(ss, 0x12, span, nspan);
	nrs = ld(rs, 0x0a, res, nres);
	nrs += ld(rs + nrs, 0x12, ss, nss);
	nreq = ld(req, 0x0a, rs, nrs);
	memset(&c, 0, sizeof(c));
	assert_int_equal(exp_spool_decode(req, nreq, collect_res, &c), 1);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.service, "host.name=h");
}

/* Every prefix of a valid file: never a crash; either malformed or fewer spans. */
static void test_decode_prefixes(void **state)
{
	static struct exp_span spans[3];
	static struct collected c;
	uint8_t *data;
	size_t n, i;
	long rc;
	char path[512];

	(void)state;
	for (i = 0; i < 3; i++)
		make_span(&spans[i], (unsigned)i);
	write_crash_file(spans, 3, path, sizeof(path));
	assert_int_equal(read_all(path, &data, &n), 0);
	for (i = 0; i < n; i++) {
		memset(&c, 0, sizeof(c));
		rc = exp_spool_decode(data, i, collect, &c);
		assert_true(rc == -EBADMSG || (rc >= 0 && rc < 3));
	}
	free(data);
}

/* Malformed messages, each wrapped as resource_spans/scope_spans/spans where noted. */
static void test_decode_malformed(void **state)
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
		long want;
	} cases[] = {
	    {"empty file", "", 0, 0},
	    {"unknown top-level field skipped", "\x10\x05", 2, 0},
	    {"field number 0", "\x02\x00", 2, -EBADMSG},
	    {"group wire type", "\x0b\x0c", 2, -EBADMSG},
	    {"end-group wire type", "\x0c", 1, -EBADMSG},
	    {"wire type 6", "\x0e", 1, -EBADMSG},
	    {"length past the end", "\x0a\x05\x12\x01", 4, -EBADMSG},
	    {"varint of 11 bytes", "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12,
	     -EBADMSG},
	    {"truncated fixed64", "\x09\x01\x02", 3, -EBADMSG},
	    {"resource_spans as varint", "\x08\x01", 2, -EBADMSG},
	    {"span without ids", "\x0a\x04\x12\x02\x12\x00", 6, -EBADMSG},
	    {"trace_id of 3 bytes", "\x0a\x09\x12\x07\x12\x05\x0a\x03\x01\x02\x03", 11, -EBADMSG},
	    {"name as varint",
	     "\x0a\x24\x12\x22\x12\x20\x0a\x10\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
	     "\x01\x01\x01\x12\x08\x02\x02\x02\x02\x02\x02\x02\x02\x28\x01",
	     38, -EBADMSG},
	    {"minimal valid span",
	     "\x0a\x22\x12\x20\x12\x1e\x0a\x10\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
	     "\x01\x01\x01\x12\x08\x02\x02\x02\x02\x02\x02\x02\x02\x2a\x00",
	     36, 1},
	    {"attribute value past its KeyValue",
	     "\x0a\x27\x12\x25\x12\x23\x0a\x10\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
	     "\x01\x01\x01\x12\x08\x02\x02\x02\x02\x02\x02\x02\x02\x4a\x05\x0a\x01\x6b\x12\x09",
	     41, -EBADMSG},
	    {"a Resource, then resource as varint (the Resource is freed)",
	     "\x0a\x0e\x0a\x0a\x0a\x08\x0a\x01\x6b\x12\x03\x0a\x01\x76\x08\x05", 16,
	     -EBADMSG},
	};
	static struct collected c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long rc =
		    exp_spool_decode((const uint8_t *)cases[i].bytes, cases[i].len, NULL, NULL);

		if (rc != cases[i].want)
			fail_msg("%s: got %ld, wanted %ld", cases[i].what, rc, cases[i].want);
		memset(&c, 0, sizeof(c)); /* with a callback: the Resource is decoded too */
		rc = exp_spool_decode((const uint8_t *)cases[i].bytes, cases[i].len, collect, &c);
		if (rc != cases[i].want || c.n != (size_t)(rc > 0 ? rc : 0))
			fail_msg("%s (callback): got %ld, wanted %ld", cases[i].what, rc,
			         cases[i].want);
	}
}

/* The fixed-buffer encoder: same bytes as the growable one, -ENOSPC when the buffer is short. */
static void test_encode_fixed(void **state)
{
	static struct exp_span spans[4];
	static uint8_t out[65536];
	struct exp_buf b = {0};
	size_t len, i;

	(void)state;
	for (i = 0; i < 4; i++)
		make_span(&spans[i], (unsigned)i);
	assert_int_equal(exp_pb_encode(&b, NULL, spans, 4), 0);
	assert_int_equal(exp_pb_encode_fixed(out, sizeof(out), NULL, spans, 4, &len), 0);
	assert_int_equal(len, b.len);
	assert_memory_equal(out, b.p, len);
	assert_int_equal(exp_pb_encode_fixed(out, b.len - 1, NULL, spans, 4, &len), -ENOSPC);
	assert_int_equal(len, 0);
	assert_int_equal(exp_pb_encode_fixed(out, 8, NULL, spans, 4, &len), -ENOSPC);
	exp_buf_free(&b);
}

struct sink_state {
	int outcome;
	size_t spans, calls;
	char service[64];
};

static int sink_export(void *arg, const struct exp_resource *res, size_t n)
{
	struct sink_state *st = arg;
	const struct exp_res_kv *kv = exp_resource_find(res, "service.name");

	st->spans += n;
	st->calls++;
	if (kv)
		snprintf(st->service, sizeof(st->service), "%s", kv->str);
	return st->outcome;
}

static void put_file(const char *name, const void *p, size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static bool exists(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* A pid that is certainly gone: a child that exited and was reaped. */
static pid_t dead_pid(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return p;
}

/* A file name of this configuration: prefix, fingerprint, rest. */
static const char *fpname(const char *prefix, const char *rest)
{
	static char name[160];
	char fp[EXP_SPOOL_FP_LEN + 1];

	exp_spool_fingerprint(&cfg, fp);
	snprintf(name, sizeof(name), "%s%s%s", prefix, fp, rest);
	return name;
}

static void test_import(void **state)
{
	static struct exp_span spans[5], batch[4];
	struct sink_state st = {EXP_OUT_EXPORTED, 0, 0, ""};
	struct exp_spool_sink sink = {batch, 4, sink_export, &st};
	struct exp_config other = cfg, missing = cfg;
	char path[512], rest[64], live[64];
	uint8_t *data;
	size_t n, i;

	(void)state;
	for (i = 0; i < 5; i++)
		make_span(&spans[i], (unsigned)i);
	write_crash_file(spans, 5, path, sizeof(path));
	assert_int_equal(read_all(path, &data, &n), 0);
	snprintf(rest, sizeof(rest), "-5-%ld.claim-%ld", (long)dead_pid(), (long)dead_pid());
	put_file(fpname("crash-", rest), data, n); /* a reader died: taken over */
	snprintf(live, sizeof(live), "-6-%ld.tmp", (long)getpid());
	put_file(fpname(".crash-", live), data, n);                 /* a live writer: left alone */
	put_file(fpname("crash-", "-7-1.otlp"), "\x0a\x05\x12", 3); /* damaged */
	put_file("crash-00000000000000aa-9-1.otlp", data, n);       /* another configuration */
	put_file("notes.txt", "x", 1);                              /* not ours */
	assert_true(exp_spool_pending(&cfg));

	assert_int_equal(exp_spool_import(&cfg, &sink), 2);
	assert_int_equal(st.spans, 10); /* two files of 5, batches of at most 4 */
	assert_int_equal(st.calls, 4);  /* per file: a full batch of 4, then the last one */
	assert_string_equal(st.service, "spool-test");
	assert_true(exists(fpname("crash-", "-7-1.bad")));
	assert_true(exists(fpname(".crash-", live)));
	assert_true(exists("crash-00000000000000aa-9-1.otlp"));
	assert_true(exists("notes.txt"));
	assert_false(exp_spool_pending(&cfg));

	/* The other configuration's file is that configuration's business. */
	other.endpoint = "http://elsewhere:4318/v1/traces";
	assert_int_equal(exp_spool_import(&other, &sink), 0);
	assert_true(exists("crash-00000000000000aa-9-1.otlp"));
	unlink(path);

	/* The collector is down: the file goes back, and start-up imports wait. */
	put_file(fpname("crash-", "-8-1.otlp"), data, n);
	st.outcome = EXP_OUT_GAVE_UP;
	st.spans = st.calls = 0;
	assert_int_equal(exp_spool_import(&cfg, &sink), 0);
	assert_true(st.calls > 0);
	assert_true(exists(fpname("crash-", "-8-1.otlp")));
	assert_true(exists(fpname(".retry-after-", "")));
	assert_false(exp_spool_pending(&cfg)); /* held off */
	st.outcome = EXP_OUT_EXPORTED;
	assert_int_equal(exp_spool_import(&cfg, &sink), 1);
	assert_false(exists(fpname("crash-", "-8-1.otlp")));
	assert_false(exists(fpname(".retry-after-", "")));
	missing.spool_dir = "/nonexistent/spool";
	assert_false(exp_spool_pending(&missing));
	free(data);
}

/* Spans still queued for export go into the crash file too. */
static void test_writer_takes_queued(void **state)
{
	static struct exp_config qcfg;
	static struct exp_span s;
	char path[512];
	uint8_t *data;
	size_t n, i;

	(void)state;
	exp_config_defaults(&qcfg);
	qcfg.exporter = EXP_EXPORTER_NONE;
	qcfg.bsp_schedule_delay_ms = 3600000; /* the thread sleeps: the spans stay queued */
	assert_int_equal(exp_init(&qcfg), 0);
	for (i = 0; i < 3; i++) {
		make_span(&s, 100 + (unsigned)i);
		assert_int_equal(exp_enqueue(&s), 0);
	}
	empty_dir();
	make_span(&s, 1);
	assert_int_equal(exp_spool_crash_open(2), 0);
	assert_int_equal(exp_spool_crash_add(&s), 0);
	assert_int_equal(exp_spool_crash_close(true), 0);
	assert_int_equal(find_file(".otlp", path, sizeof(path)), 1);
	assert_int_equal(read_all(path, &data, &n), 0);
	assert_int_equal(exp_spool_decode(data, n, NULL, NULL), 4);
	free(data);
	exp_shutdown();
}

/* An unsafe directory (writable by others) or a path through a file is refused. */
static void test_prepare_unsafe(void **state)
{
	static const char *const modes[] = {"0777", "file"};
	char base[256], d[300];
	size_t i;

	(void)state;
	snprintf(base, sizeof(base), "/tmp/wt-spool-test.%ld", (long)getpid());
	assert_int_equal(mkdir(base, 0700), 0);
	strcat(base, "/unsafe");
	for (i = 0; i < 2; i++) {
		struct exp_config c;
		int status;
		pid_t p;

		snprintf(d, sizeof(d), "%s%zu", base, i);
		if (strcmp(modes[i], "file") == 0) {
			close(open(d, O_WRONLY | O_CREAT, 0600));
			strcat(d, "/spool");
		} else {
			mkdir(d, 0700);
			chmod(d, 0777);
		}
		p = fork();
		if (p == 0) {
			exp_config_defaults(&c);
			c.spool_dir = d;
			_exit(exp_spool_prepare(&c) < 0 ? 0 : 1);
		}
		assert_int_equal(waitpid(p, &status, 0), p);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prepare_unsafe), /* first: before this process prepares */
	    cmocka_unit_test_setup(test_writer_file, prepare),
	    cmocka_unit_test_setup(test_writer_empty, prepare),
	    cmocka_unit_test_setup(test_writer_chunks_protobuf_c, prepare),
	    cmocka_unit_test_setup(test_decode_roundtrip, prepare),
	    cmocka_unit_test_setup(test_decode_prefixes, prepare),
	    cmocka_unit_test(test_decode_malformed),
	    cmocka_unit_test(test_decode_resource_nul),
	    cmocka_unit_test(test_encode_fixed),
	    cmocka_unit_test_setup(test_import, prepare),
	    cmocka_unit_test_setup(test_writer_takes_queued, prepare),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
