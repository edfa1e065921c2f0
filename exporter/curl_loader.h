/*
 * curl_loader.h - libcurl and zlib, loaded at run time (internal to exporter/).
 *
 * The library never links -lcurl or -lz: a process that never exports a span must not pay for
 * loading them (DESIGN.md, start-up and RSS targets). The exporter thread calls exp_curl_get()
 * on its first export; it dlopen()s "libcurl.so.4" and resolves the few functions we use into
 * a table. curl's and zlib's headers are used for types and constants only.
 *
 * Thread safety: exporter thread only (there is one per process). The tables, once loaded,
 * stay valid for the life of the process (the handles are never closed), also in a forked child.
 */
#ifndef EXP_CURL_LOADER_H
#define EXP_CURL_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

/* Function pointer types of the libcurl entry points we use. */
typedef CURLcode (*exp_curl_global_init_fn)(long flags);
typedef CURL *(*exp_curl_easy_init_fn)(void);
typedef CURLcode (*exp_curl_easy_setopt_fn)(CURL *h, CURLoption opt, ...);
typedef CURLcode (*exp_curl_easy_getinfo_fn)(CURL *h, CURLINFO info, ...);
typedef void (*exp_curl_easy_cleanup_fn)(CURL *h);
typedef const char *(*exp_curl_easy_strerror_fn)(CURLcode code);
typedef struct curl_slist *(*exp_curl_slist_append_fn)(struct curl_slist *l, const char *s);
typedef void (*exp_curl_slist_free_all_fn)(struct curl_slist *l);
typedef curl_version_info_data *(*exp_curl_version_info_fn)(CURLversion v);
typedef CURLM *(*exp_curl_multi_init_fn)(void);
typedef CURLMcode (*exp_curl_multi_handle_fn)(CURLM *m, CURL *h);
typedef CURLMcode (*exp_curl_multi_perform_fn)(CURLM *m, int *running);
typedef CURLMcode (*exp_curl_multi_poll_fn)(CURLM *m, struct curl_waitfd *fds, unsigned n,
                                            int timeout_ms, int *numfds);
typedef CURLMsg *(*exp_curl_multi_info_read_fn)(CURLM *m, int *left);
typedef CURLMcode (*exp_curl_multi_cleanup_fn)(CURLM *m);

struct exp_curl {
	exp_curl_easy_init_fn easy_init;
	exp_curl_easy_setopt_fn easy_setopt;
	exp_curl_easy_getinfo_fn easy_getinfo;
	exp_curl_easy_cleanup_fn easy_cleanup;
	exp_curl_easy_strerror_fn easy_strerror;
	exp_curl_slist_append_fn slist_append;
	exp_curl_slist_free_all_fn slist_free_all;
	exp_curl_multi_init_fn multi_init;
	exp_curl_multi_handle_fn multi_add_handle;
	exp_curl_multi_handle_fn multi_remove_handle;
	exp_curl_multi_perform_fn multi_perform;
	exp_curl_multi_poll_fn multi_poll; /* libcurl >= 7.66 */
	exp_curl_multi_info_read_fn multi_info_read;
	exp_curl_multi_cleanup_fn multi_cleanup;
	int has_http2;        /* the loaded libcurl was built with nghttp2 */
	int has_ssl;          /* ... and with a TLS backend */
	unsigned version_num; /* 0xXXYYZZ */
	char version[24];     /* e.g. "7.88.1", for the debug log */
};

/* The loaded libcurl, or NULL if it cannot be loaded (logged once; every later call returns
 * NULL at once without trying again). The first call dlopen()s it and runs curl_global_init. */
const struct exp_curl *exp_curl_get(void);

/* Compress `in` as one gzip member (RFC 1952) into a buffer owned by the loader (reused, grown
 * as needed; valid until the next call or exp_gzip_release). Returns 0 and sets *out / *outlen,
 * or a negative errno: -ENOSYS when zlib cannot be loaded (logged once), -ENOMEM, -EIO. */
int exp_gzip(const uint8_t *in, size_t len, const uint8_t **out, size_t *outlen);

/* Free the compression buffer (exporter thread, at shutdown). */
void exp_gzip_release(void);

/* For tests: load from other names (a missing name exercises the failure path). Forgets what
 * was loaded or failed: the next exp_curl_get()/exp_gzip() loads again. NULL = the default. */
void exp_loader_set_names(const char *curl_name, const char *zlib_name);

#endif
