/*
 * curl_loader.c - dlopen() of libcurl and zlib on the first export, and gzip compression.
 *
 * Why at run time: the agent is preloaded into every process of a pipeline, most of which never
 * make a span. Linking libcurl would map it, OpenSSL, nghttp2 and a dozen more libraries into
 * each of them (measured: several MiB of RSS and a noticeable start-up cost), against the
 * 1.10x start-up and +2 MiB targets in DESIGN.md. So the exporter thread loads them when it
 * first has a batch to send, and a missing library only costs the spans (logged once, counted
 * by the caller as dropped), never the host.
 *
 * Design: each library is tried once per process; the outcome (a filled table, or "failed") is
 * remembered. Symbols are resolved with dlsym() on the handle, which searches libcurl itself and
 * its dependencies only, so we always get libcurl's own functions even when the agent interposes
 * some of them for the host. We never dlclose(): curl and OpenSSL keep global state and may
 * have registered atexit handlers that must find their code still mapped.
 *
 * Invariants: callers see either NULL or a table whose every pointer is non-NULL.
 * Thread safety: exporter thread only, which is one thread per process; no locks needed. The
 * tables survive fork() unchanged and remain valid in the child.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "curl_loader.h"
#include "exporter.h"
#include "wt_guard.h"
#include "wt_log.h"

#define CURL_SONAME "libcurl.so.4"
#define ZLIB_SONAME "libz.so.1"

/* Same shapes as zlib.h's functions; resolved from the loaded library. */
typedef int (*zdeflate_init2_fn)(z_streamp s, int level, int method, int bits, int memlevel,
                                 int strategy, const char *version, int stream_size);
typedef int (*zdeflate_fn)(z_streamp s, int flush);
typedef int (*zdeflate_end_fn)(z_streamp s);
typedef uLong (*zdeflate_bound_fn)(z_streamp s, uLong len);

struct zlib_tab {
	zdeflate_init2_fn init2;
	zdeflate_fn deflate;
	zdeflate_end_fn end;
	zdeflate_bound_fn bound;
};

enum { UNTRIED = 0, LOADED = 1, FAILED = 2 };

static const char *curl_name = CURL_SONAME;
static const char *zlib_name = ZLIB_SONAME;
static int curl_state;
static int zlib_state;
static struct exp_curl curl_tab;
static struct zlib_tab zlib_tab;
static int curl_fail_logged;
static int zlib_fail_logged;

static uint8_t *gz_buf;
static size_t gz_cap;

void exp_loader_set_names(const char *cname, const char *zname)
{
	curl_name = cname ? cname : CURL_SONAME;
	zlib_name = zname ? zname : ZLIB_SONAME;
	curl_state = UNTRIED;
	zlib_state = UNTRIED;
	curl_fail_logged = 0;
	zlib_fail_logged = 0;
}

/* Resolve `name` into *slot; returns 0 or -ENOENT. Function pointers are copied through memcpy
 * because ISO C has no conversion between object and function pointers. */
static int resolve(void *h, const char *name, void *slot, size_t size)
{
	void *p = dlsym(h, name);

	if (!p)
		return -ENOENT;
	memcpy(slot, &p, size);
	return 0;
}

#define RESOLVE(h, name, field) resolve((h), (name), &(field), sizeof(field))

static int curl_resolve(void *h, exp_curl_global_init_fn *ginit, exp_curl_version_info_fn *vinfo)
{
	struct exp_curl *t = &curl_tab;
	int rc = 0;

	rc |= RESOLVE(h, "curl_global_init", *ginit);
	rc |= RESOLVE(h, "curl_version_info", *vinfo);
	rc |= RESOLVE(h, "curl_easy_init", t->easy_init);
	rc |= RESOLVE(h, "curl_easy_setopt", t->easy_setopt);
	rc |= RESOLVE(h, "curl_easy_getinfo", t->easy_getinfo);
	rc |= RESOLVE(h, "curl_easy_cleanup", t->easy_cleanup);
	rc |= RESOLVE(h, "curl_easy_strerror", t->easy_strerror);
	rc |= RESOLVE(h, "curl_slist_append", t->slist_append);
	rc |= RESOLVE(h, "curl_slist_free_all", t->slist_free_all);
	rc |= RESOLVE(h, "curl_multi_init", t->multi_init);
	rc |= RESOLVE(h, "curl_multi_add_handle", t->multi_add_handle);
	rc |= RESOLVE(h, "curl_multi_remove_handle", t->multi_remove_handle);
	rc |= RESOLVE(h, "curl_multi_perform", t->multi_perform);
	rc |= RESOLVE(h, "curl_multi_poll", t->multi_poll);
	rc |= RESOLVE(h, "curl_multi_info_read", t->multi_info_read);
	rc |= RESOLVE(h, "curl_multi_cleanup", t->multi_cleanup);
	return rc ? -ENOENT : 0;
}

/* libcurl's TLS library (OpenSSL) registers its own clean-up with atexit when it initialises,
 * which is now, after the agent registered its exit flush: atexit handlers run in reverse
 * order, so OpenSSL would be torn down before our last export (a crash, or a lost batch).
 * Registering the flush again from here puts it after OpenSSL's registration, so it runs
 * first; exp_shutdown() is idempotent, the second call does nothing. */
static void flush_before_tls_cleanup(void)
{
	int g = wt_guard_enter();
	exp_shutdown();
	wt_guard_leave(g);
}

static int curl_load(void)
{
	exp_curl_global_init_fn ginit = NULL;
	exp_curl_version_info_fn vinfo = NULL;
	curl_version_info_data *vi;
	void *h;

	memset(&curl_tab, 0, sizeof(curl_tab));
	h = dlopen(curl_name, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		wt_log_once(curl_fail_logged, WT_LOG_ERROR,
		            "cannot load %s (%s): spans will be dropped; install the "
		            "libcurl4 package to export them",
		            curl_name, dlerror());
		return -ENOENT;
	}
	if (curl_resolve(h, &ginit, &vinfo) < 0) {
		wt_log_once(curl_fail_logged, WT_LOG_ERROR,
		            "%s lacks a function the exporter needs: spans will be "
		            "dropped",
		            curl_name);
		return -ENOENT;
	}
	/* curl_global_init is reference counted and, since libcurl 7.84, thread-safe, so it does
	 * not matter whether the host already called it. */
	if (ginit(CURL_GLOBAL_ALL) != CURLE_OK) {
		wt_log_once(curl_fail_logged, WT_LOG_ERROR,
		            "curl_global_init failed: spans will be dropped");
		return -EIO;
	}
	atexit(flush_before_tls_cleanup);
	vi = vinfo(CURLVERSION_NOW);
	if (vi) {
		curl_tab.has_http2 = !!(vi->features & CURL_VERSION_HTTP2);
		curl_tab.has_ssl = !!(vi->features & CURL_VERSION_SSL);
		curl_tab.version_num = vi->version_num;
		if (vi->version)
			snprintf(curl_tab.version, sizeof(curl_tab.version), "%s", vi->version);
	}
	wt_debug("loaded libcurl %s (http2 %s, tls %s)", curl_tab.version,
	         curl_tab.has_http2 ? "yes" : "no", curl_tab.has_ssl ? "yes" : "no");
	return 0;
}

const struct exp_curl *exp_curl_get(void)
{
	if (curl_state == UNTRIED)
		curl_state = curl_load() == 0 ? LOADED : FAILED;
	return curl_state == LOADED ? &curl_tab : NULL;
}

static int zlib_load(void)
{
	struct zlib_tab *t = &zlib_tab;
	void *h;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	h = dlopen(zlib_name, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -ENOENT;
	rc |= RESOLVE(h, "deflateInit2_", t->init2);
	rc |= RESOLVE(h, "deflate", t->deflate);
	rc |= RESOLVE(h, "deflateEnd", t->end);
	rc |= RESOLVE(h, "deflateBound", t->bound);
	return rc ? -ENOENT : 0;
}

static int gz_reserve(size_t need)
{
	uint8_t *p;

	if (need <= gz_cap)
		return 0;
	p = realloc(gz_buf, need);
	if (!p)
		return -ENOMEM;
	gz_buf = p;
	gz_cap = need;
	return 0;
}

int exp_gzip(const uint8_t *in, size_t len, const uint8_t **out, size_t *outlen)
{
	z_stream zs;
	int rc;

	if (zlib_state == UNTRIED)
		zlib_state = zlib_load() == 0 ? LOADED : FAILED;
	if (zlib_state != LOADED) {
		wt_log_once(zlib_fail_logged, WT_LOG_WARN, "cannot load %s: sending uncompressed",
		            zlib_name);
		return -ENOSYS;
	}
	if (len > (size_t)UINT32_MAX) /* zlib's lengths are uInt in a single call */
		return -EFBIG;
	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16 selects the gzip wrapper (zlib.h, deflateInit2). Level 1: OTLP bodies
	 * are dominated by repeated keys, which the fastest level already shrinks several times,
	 * while the default level 6 cost ~3.9 us per span on the exporter thread (bench/encode). */
	if (zlib_tab.init2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
	                   ZLIB_VERSION, (int)sizeof(zs)) != Z_OK)
		return -ENOMEM;
	rc = gz_reserve((size_t)zlib_tab.bound(&zs, (uLong)len) + 32);
	if (rc < 0)
		goto out;
	zs.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const-correct; it only reads */
	zs.avail_in = (uInt)len;
	zs.next_out = gz_buf;
	zs.avail_out = gz_cap > UINT32_MAX ? UINT32_MAX : (uInt)gz_cap;
	rc = zlib_tab.deflate(&zs, Z_FINISH) == Z_STREAM_END ? 0 : -EIO;
	if (rc == 0) {
		*out = gz_buf;
		*outlen = zs.total_out;
	}
out:
	zlib_tab.end(&zs);
	return rc;
}

void exp_gzip_release(void)
{
	free(gz_buf);
	gz_buf = NULL;
	gz_cap = 0;
}
