/*
 * spool.c - crash spool files: written from a fatal-signal handler, exported by a later process.
 *
 * Writer (exp_spool_crash_*, called by the agent's crash handler): everything it needs is made
 * beforehand by exp_spool_prepare(), outside any signal handler: the directory (0700), the
 * Resource of this process, and one anonymous mapping holding a chunk of span slots and the
 * output buffer. In the handler, spans are copied into the
 * chunk; a full chunk is encoded by the direct encoder's fixed-buffer mode (no allocation) and
 * written with write(2) to ".crash-<ns>-<pid>.tmp" (O_CREAT|O_EXCL|O_NOFOLLOW, 0600); the file
 * is renamed to "crash-<ns>-<pid>.otlp" when complete, so a reader never sees half a file under
 * the final name. Each chunk is a whole ExportTraceServiceRequest with its own ResourceSpans;
 * because protobuf appends repeated fields when messages are concatenated, the file is one
 * valid request whatever the number of chunks. Names are formatted by hand (snprintf is not
 * async-signal-safe). No file is started when EXP_SPOOL_MAX_FILES are already waiting (a crash
 * loop with the collector down must not fill the disk).
 *
 * Configuration: a file is only read by a process that exports to the same place. Its name
 * starts with a fingerprint of the exporter configuration (exporter, protocol, endpoint, file,
 * headers: FNV-1a, 64 bits, in hex), so that spans of one service are never sent to the
 * collector (or tenant) another service of the same user is configured for.
 *
 * Reader (exp_spool_import, on the exporter thread when it starts): claims each file by
 * renaming it to "<stem>.claim-<ourpid>" (rename is atomic: two starting processes never
 * export one file twice), reads it (a regular file of ours, at most 64 MiB), decodes it fully
 * once to validate it, then again into the exporter's batch, exporting batch by batch with the
 * Resource the crashed process wrote, so process.pid and service.name are those of the dead
 * process. Outcomes: exported or rejected by the collector -> removed; gave up (collector
 * unreachable) -> renamed back for the next process; malformed -> "<stem>.bad", reported.
 *
 * Directory safety: the spool holds span data (URLs, addresses), so it must be private. Every
 * existing component of the path must be owned by root or by us and not writable by others
 * unless sticky (/tmp); the directory itself must be ours, a real directory, and not writable
 * by group or others; otherwise nothing is written or read there (one warning).
 *
 * Thread and signal safety: prepare/import/decode run outside signal handlers (they allocate);
 * crash_open/add/close are async-signal-safe and meant for one thread, the crashing one; they
 * make raw system calls (our own hooks of open/write/close would resolve libc's symbols with
 * dlsym on their first call).
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "encode_pb.h"
#include "exporter.h"
#include "transport.h"
#include "wt_log.h"

#define CHUNK 16             /* spans per encoded chunk */
#define OUT_CAP (256u << 10) /* encoded chunk; a span is at most ~7 KiB on the wire */
#define NAME_MAX_LEN 96
#define RETRY_S 60 /* after a failed import, start-up leaves the spool alone this long */
#define RETRY_NAME "/.retry-after-"

static struct {
	_Atomic int state; /* 0 not prepared, 1 preparing, 2 ready, -1 unusable */
	char dir[PATH_MAX - NAME_MAX_LEN];
	size_t dirlen;
	char fp[EXP_SPOOL_FP_LEN + 1];
	struct exp_resource res;
	struct exp_span *chunk;
	uint8_t *out;
	size_t map_len;
	/* the crash file being written */
	int fd;
	size_t n;       /* spans in the chunk */
	size_t written; /* spans written to the file */
	char tmp[PATH_MAX], fin[PATH_MAX];
} sp = {.fd = -1};

static int warned_dir, warned_bad, warned_full;

/* ---- small async-signal-safe string helpers --------------------------------------------- */

static char *put_s(char *p, const char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

static char *put_u(char *p, const char *end, uint64_t v)
{
	char d[24];
	int i = 0;

	do
		d[i++] = (char)('0' + v % 10);
	while ((v /= 10) && i < 24);
	while (i && p < end)
		*p++ = d[--i];
	return p;
}

/* ---- configuration fingerprint ------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const char *s)
{
	if (s)
		for (; *s; s++)
			h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull; /* a separator: ("ab","c") != ("a","bc") */
}

void exp_spool_fingerprint(const struct exp_config *c, char out[EXP_SPOOL_FP_LEN + 1])
{
	uint64_t h = 0xcbf29ce484222325ull;
	char num[16];
	int i;

	snprintf(num, sizeof(num), "%d/%d", c->exporter, c->protocol);
	h = fnv(fnv(fnv(h, num), c->endpoint), c->file_path);
	for (i = 0; i < c->nheaders && i < EXP_MAX_HEADERS; i++)
		h = fnv(fnv(h, c->headers[i].name), c->headers[i].value);
	snprintf(out, EXP_SPOOL_FP_LEN + 1, "%016llx", (unsigned long long)h);
}

/* Is this stem (<fp>-<ns>-<pid>) one of ours? */
static bool same_config(const char *stem, const char *fp)
{
	return strncmp(stem, fp, EXP_SPOOL_FP_LEN) == 0 && stem[EXP_SPOOL_FP_LEN] == '-';
}

/* ---- directory ---------------------------------------------------------------------------- */

static bool safe_component(const struct stat *st, bool last)
{
	if (!S_ISDIR(st->st_mode))
		return false;
	if (last)
		return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return false;
	return !(st->st_mode & (S_IWGRP | S_IWOTH)) || (st->st_mode & S_ISVTX);
}

/* mkdir -p with mode 0700 for what is missing, then the safety checks above. */
static int dir_make(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len = strlen(dir), i;

	if (len == 0 || len >= sizeof(path) || dir[0] != '/')
		return -EINVAL;
	memcpy(path, dir, len + 1);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		if ((i == len ? lstat(path, &st) : stat(path, &st)) < 0)
			return -errno;
		if (!safe_component(&st, i == len))
			return -EPERM;
		if (i < len)
			path[i] = '/';
	}
	return 0;
}

/* Is `dir` usable for reading (it exists and is safe)? */
static bool dir_safe(const char *dir)
{
	struct stat st;

	return lstat(dir, &st) == 0 && safe_component(&st, true);
}

/* ---- file names --------------------------------------------------------------------------- */

enum { F_OTHER = 0, F_READY, F_TMP, F_CLAIM };

/* Classify a directory entry; *stem (<fp>-<ns>-<pid>) and *owner (the pid that may be alive)
 * are set for our files. */
static int name_kind(const char *name, char *stem, size_t cap, pid_t *owner)
{
	const char *p = name, *s, *dash = NULL;
	int kind;
	size_t n;

	if (strncmp(p, ".crash-", 7) == 0)
		p += 7, kind = F_TMP;
	else if (strncmp(p, "crash-", 6) == 0)
		p += 6, kind = F_READY;
	else
		return F_OTHER;
	for (s = p; (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || *s == '-'; s++)
		if (*s == '-')
			dash = s;
	n = (size_t)(s - p);
	if (!dash || dash == p || dash + 1 == s || n + 1 > cap)
		return F_OTHER;
	memcpy(stem, p, n);
	stem[n] = '\0';
	*owner = (pid_t)strtol(dash + 1, NULL, 10);
	if (kind == F_TMP)
		return strcmp(s, ".tmp") == 0 ? F_TMP : F_OTHER;
	if (strcmp(s, ".otlp") == 0)
		return F_READY;
	if (strncmp(s, ".claim-", 7) == 0 && s[7] >= '1' && s[7] <= '9') {
		*owner = (pid_t)strtol(s + 7, NULL, 10);
		return F_CLAIM;
	}
	return F_OTHER;
}

static bool pid_gone(pid_t pid)
{
	return pid > 0 && pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH;
}

/* The collector was unreachable for the last import: until the marker's time (its mtime),
 * processes do not start their exporter thread at start-up just for the spool, which would hold
 * every exit up to the exit bound. */
static bool retry_pending(const char *dir, const char *fp)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s" RETRY_NAME "%s", dir, fp) >= (int)sizeof(path))
		return false;
	return stat(path, &st) == 0 && st.st_mtime > time(NULL);
}

static void retry_mark(const char *dir, const char *fp, bool failed)
{
	struct timespec ts[2] = {{time(NULL) + RETRY_S, 0}, {time(NULL) + RETRY_S, 0}};
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s" RETRY_NAME "%s", dir, fp) >= (int)sizeof(path))
		return;
	if (!failed) {
		unlink(path);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		futimens(fd, ts);
		close(fd);
	}
}

bool exp_spool_pending(const struct exp_config *c)
{
	char buf[2048] __attribute__((aligned(8))), stem[64], fp[EXP_SPOOL_FP_LEN + 1];
	const char *dir = c ? c->spool_dir : NULL;
	long n, off;
	int fd, rounds = 0;
	bool found = false;
	pid_t owner;

	if (!dir || !dir[0])
		return false;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	exp_spool_fingerprint(c, fp);
	while (!found && rounds++ < 16 && (n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n && !found;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);

			found = name_kind(d->d_name, stem, sizeof(stem), &owner) == F_READY &&
			        same_config(stem, fp);
			off += d->d_reclen;
		}
	}
	close(fd);
	return found && !retry_pending(dir, fp);
}

static int count_waiting(const char *dir)
{
	char stem[64];
	struct dirent *d;
	pid_t owner;
	DIR *dp = opendir(dir);
	int n = 0;

	if (!dp)
		return 0;
	while ((d = readdir(dp)))
		n += name_kind(d->d_name, stem, sizeof(stem), &owner) != F_OTHER;
	closedir(dp);
	return n;
}

/* ---- writer: preparation ------------------------------------------------------------------ */

static int map_buffers(void)
{
	size_t spans = CHUNK * sizeof(struct exp_span), len = spans + OUT_CAP;
	uint8_t *m;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
	         0);
	if (m == MAP_FAILED)
		return -errno;
	sp.chunk = (struct exp_span *)m;
	sp.out = m + spans;
	sp.map_len = len;
	return 0;
}

int exp_spool_prepare(const struct exp_config *c)
{
	int expect = 0, rc;

	if (!atomic_compare_exchange_strong(&sp.state, &expect, 1))
		return atomic_load(&sp.state) == 2 ? 0 : -EAGAIN;
	rc = -EINVAL;
	if (!c || !c->spool_dir || strlen(c->spool_dir) >= sizeof(sp.dir))
		goto out;
	rc = dir_make(c->spool_dir);
	if (rc) {
		wt_log_once(warned_dir, WT_LOG_WARN,
		            "spool directory %s is unusable (%s): crashes will not be recorded",
		            c->spool_dir,
		            rc == -EPERM ? "not private to this user" : strerror(-rc));
		goto out;
	}
	strcpy(sp.dir, c->spool_dir);
	exp_spool_fingerprint(c, sp.fp);
	sp.dirlen = strlen(sp.dir);
	while (sp.dirlen > 1 && sp.dir[sp.dirlen - 1] == '/')
		sp.dir[--sp.dirlen] = '\0';
	if (count_waiting(sp.dir) >= EXP_SPOOL_MAX_FILES) {
		wt_log_once(warned_full, WT_LOG_WARN,
		            "spool directory %s already holds %d crash files: crashes of this "
		            "process will not be recorded",
		            sp.dir, EXP_SPOOL_MAX_FILES);
		rc = -ENOSPC;
		goto out;
	}
	rc = exp_resource_build(&sp.res, c);
	if (rc == 0)
		rc = map_buffers();
out:
	atomic_store(&sp.state, rc ? -1 : 2);
	return rc;
}

void exp_spool_atfork_child(void)
{
	struct exp_res_kv *kv = (struct exp_res_kv *)exp_resource_find(&sp.res, "process.pid");

	if (atomic_load(&sp.state) == 2 && kv && !kv->str)
		kv->i = getpid();
}

/* ---- writer: in the signal handler -------------------------------------------------------- */

/* Raw system calls: the libc functions of the same names are interposed by our own hooks,
 * whose first call resolves the real symbol with dlsym, which is not async-signal-safe. */
static int sys_open(const char *path, int flags, int mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static void sys_close(int fd)
{
	syscall(SYS_close, fd);
}

static int sys_rename(const char *from, const char *to)
{
	return (int)syscall(SYS_renameat, AT_FDCWD, from, AT_FDCWD, to);
}

static void sys_unlink(const char *path)
{
	syscall(SYS_unlinkat, AT_FDCWD, path, 0);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = syscall(SYS_write, fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Encode spans[0..n) and write them; halves a chunk that does not fit the output buffer. */
static int write_spans(const struct exp_span *spans, size_t n)
{
	size_t len;
	int rc;

	if (n == 0)
		return 0;
	rc = exp_pb_encode_fixed(sp.out, OUT_CAP, &sp.res, spans, n, &len);
	if (rc == -ENOSPC && n > 1) {
		rc = write_spans(spans, n / 2);
		return rc ? rc : write_spans(spans + n / 2, n - n / 2);
	}
	if (rc)
		return rc == -ENOSPC ? 0 : rc; /* one span too large for the buffer: dropped */
	rc = write_all(sp.fd, sp.out, len);
	if (rc == 0)
		sp.written += n;
	return rc;
}

static int flush_chunk(void)
{
	int rc = write_spans(sp.chunk, sp.n);

	sp.n = 0;
	return rc;
}

int exp_spool_crash_open(uint64_t now_ns)
{
	char *p, *end;
	uint64_t pid = (uint64_t)getpid();

	if (atomic_load(&sp.state) != 2 || sp.fd >= 0)
		return -EINVAL;
	p = sp.tmp, end = sp.tmp + sizeof(sp.tmp) - 1;
	p = put_s(put_s(put_s(put_s(p, end, sp.dir), end, "/.crash-"), end, sp.fp), end, "-");
	p = put_u(put_s(put_u(p, end, now_ns), end, "-"), end, pid);
	*put_s(p, end, ".tmp") = '\0';
	p = sp.fin, end = sp.fin + sizeof(sp.fin) - 1;
	p = put_s(put_s(put_s(put_s(p, end, sp.dir), end, "/crash-"), end, sp.fp), end, "-");
	p = put_u(put_s(put_u(p, end, now_ns), end, "-"), end, pid);
	*put_s(p, end, ".otlp") = '\0';
	sp.n = sp.written = 0;
	sp.fd = sys_open(sp.tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	return sp.fd < 0 ? -errno : 0;
}

static void used_copy(struct exp_span *dst, const struct exp_span *s)
{
	size_t used = exp_str_used(s);

	memcpy(dst, s, offsetof(struct exp_span, buf) + used);
}

int exp_spool_crash_add(const struct exp_span *s)
{
	if (sp.fd < 0)
		return -EBADF;
	used_copy(&sp.chunk[sp.n++], s);
	return sp.n == CHUNK ? flush_chunk() : 0;
}

int exp_spool_crash_close(bool take_queued)
{
	unsigned guard = 0;
	int rc = 0;

	if (sp.fd < 0)
		return -EBADF;
	/* Spans that ended but were not exported yet: the exporter thread may take some of them
	 * at the same time (the queue is MPMC); each span goes to one of us. */
	while (take_queued && rc == 0 && guard++ < (1u << 20) &&
	       exp_crash_take_queued(&sp.chunk[sp.n]))
		if (++sp.n == CHUNK)
			rc = flush_chunk();
	if (rc == 0)
		rc = flush_chunk();
	sys_close(sp.fd);
	sp.fd = -1;
	if (rc == 0 && sp.written)
		rc = sys_rename(sp.tmp, sp.fin) < 0 ? -errno : 0;
	else
		sys_unlink(sp.tmp);
	return rc;
}

/* ---- reader ------------------------------------------------------------------------------- */

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *p = NULL;
	size_t got = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_size > (off_t)EXP_SPOOL_MAX_FILE) {
		rc = -EPERM;
		goto out;
	}
	p = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size && (r = read(fd, p + got, (size_t)st.st_size - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		got += (size_t)r;
	}
	*out = p, *len = got, p = NULL;
out:
	free(p);
	close(fd);
	return rc;
}

struct batcher {
	const struct exp_spool_sink *sink;
	const struct exp_resource *res;
	size_t n;
	bool gave_up;
};

static void batch_flush(struct batcher *b)
{
	if (b->n && b->sink->export_fn(b->sink->arg, b->res, b->n) == EXP_OUT_GAVE_UP)
		b->gave_up = true;
	b->n = 0;
}

static int batch_add(void *arg, const struct exp_span *s, const struct exp_resource *res)
{
	struct batcher *b = arg;

	if (!s) { /* the end of a ResourceSpans: its Resource is about to be freed */
		batch_flush(b);
		return 0;
	}
	if (b->n && res != b->res)
		batch_flush(b);
	b->res = res;
	b->sink->batch[b->n++] = *s;
	if (b->n == b->sink->max)
		batch_flush(b);
	return 0;
}

/* dir/crash-<stem><suffix>; false if it does not fit (the file is then left alone). */
static bool path_of(char *out, const char *dir, const char *stem, const char *suffix)
{
	int n = snprintf(out, PATH_MAX, "%s/crash-%s%s", dir, stem, suffix);

	return n > 0 && n < PATH_MAX;
}

/* Export one claimed file; returns 1 if it was exported, 0 if it was damaged, -1 if it was put
 * back (read or export failed: the next process tries again). */
static int import_one(const char *dir, const char *stem, const char *claimed,
                      const struct exp_spool_sink *sink)
{
	char back[PATH_MAX] = "";
	struct batcher b = {sink, NULL, 0, false};
	uint8_t *data = NULL;
	size_t len = 0;
	long rc = read_file(claimed, &data, &len);
	int out = -1;

	if (rc == 0)
		rc = exp_spool_decode(data, len, NULL, NULL); /* validate the whole file first */
	if (rc == -EBADMSG || rc == -EPERM) {
		if (path_of(back, dir, stem, ".bad"))
			rename(claimed, back);
		if (!__atomic_exchange_n(&warned_bad, 1, __ATOMIC_RELAXED))
			wt_warn("spool file crash-%s is damaged (%s): moved aside as %s", stem,
			        rc == -EPERM ? "not a regular file of ours" : "cannot be decoded",
			        back);
		else
			wt_debug("spool file crash-%s is damaged: moved aside", stem);
		out = 0;
		goto out;
	}
	if (rc >= 0)
		rc = exp_spool_decode(data, len, batch_add, &b);
	if (rc < 0 || b.gave_up) {
		if (path_of(back, dir, stem, ".otlp"))
			rename(claimed, back);
		goto out;
	}
	unlink(claimed);
	wt_debug("exported spool file crash-%s (%ld spans)", stem, rc);
	out = 1;
out:
	free(data);
	return out;
}

int exp_spool_import(const struct exp_config *c, const struct exp_spool_sink *sink)
{
	char names[EXP_SPOOL_MAX_FILES][64], src[PATH_MAX], claimed[PATH_MAX], suffix[32];
	char fp[EXP_SPOOL_FP_LEN + 1];
	const char *dir = c ? c->spool_dir : NULL;
	int nnames = 0, done = 0, failed = 0, i, kind, rc;
	struct dirent *d;
	pid_t owner;
	DIR *dp;

	if (!dir || strlen(dir) > PATH_MAX - 128 || !dir_safe(dir) || !(dp = opendir(dir)))
		return 0;
	snprintf(suffix, sizeof(suffix), ".claim-%ld", (long)getpid());
	exp_spool_fingerprint(c, fp);
	while (nnames < EXP_SPOOL_MAX_FILES && (d = readdir(dp))) {
		kind = name_kind(d->d_name, names[nnames], sizeof(names[0]), &owner);
		if (kind == F_OTHER || !same_config(names[nnames], fp) ||
		    (kind != F_READY && !pid_gone(owner)))
			continue;
		if (snprintf(src, sizeof(src), "%s/%s", dir, d->d_name) >= (int)sizeof(src) ||
		    !path_of(claimed, dir, names[nnames], suffix))
			continue;
		if (rename(src, claimed) == 0) /* ours now; another reader won the race otherwise */
			nnames++;
	}
	closedir(dp);
	for (i = 0; i < nnames; i++) {
		/* Also when the process is exiting: the exit bound lowers the transport's deadline,
		 * so exports that cannot finish in time give up at once and their files are put
		 * back, while damaged files are still found and moved aside. */
		if (!path_of(claimed, dir, names[i], suffix))
			continue;
		rc = import_one(dir, names[i], claimed, sink);
		done += rc > 0;
		failed += rc < 0;
	}
	if (nnames)
		retry_mark(dir, fp, failed > 0);
	return done;
}
