/*
 * curl_trace.h - CLIENT spans and trace context for libcurl transfers (the logic behind
 * hooks/curl.c; the design is in curl_trace.c's header comment).
 *
 * Every function here runs on the thread that uses the handle, with the re-entry guard set by
 * the hook, outside any signal context (libcurl is not async-signal-safe either), so it may
 * allocate. Handles are only ever looked at through the program's own calls: the agent keeps
 * no pointer into libcurl beyond the handle addresses it was given.
 */
#ifndef WT_CURL_TRACE_H
#define WT_CURL_TRACE_H

#include <stdbool.h>

/* We name options libcurl marks deprecated (CURLOPT_PUT, CURLOPT_HTTPPOST) because programs
 * still set them; the attribute would turn those names into warnings. */
#ifndef CURL_DISABLE_DEPRECATION
#define CURL_DISABLE_DEPRECATION 1
#endif
/* hooks/curl.c defines curl_easy_setopt itself: no type-checking macro of that name. */
#ifndef CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_TYPECHECK 1
#endif
#include <curl/curl.h>

#include "wt_guard.h"

/* The real libcurl functions the tracer calls, resolved by the hooks (never our own hooks:
 * the list it sets and restores must reach libcurl itself). */
struct curl_trace_lib {
	CURLcode (*setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*getinfo)(CURL *h, CURLINFO info, ...);
};

/* Per-thread nesting. depth > 0 while one of our curl hooks runs its real call: a curl hook
 * reached from inside it (libcurl calls its own exported multi functions, DoH sub-transfers,
 * the program's callbacks) only passes through. busy > 0 while that call runs transfers the
 * curl hooks trace: client connections opened then are libcurl's (conn.c gives them up) and
 * TLS sessions first used then are libcurl's (tls_conn.c leaves them alone). */
extern WT_TLS int curl_trace_depth;
extern WT_TLS int curl_trace_busy_n;

static inline bool curl_trace_busy(void)
{
	return curl_trace_busy_n > 0;
}

/* ---- option bookkeeping (after the program's call to the real function succeeded) ------- */

/* curl_easy_setopt: remember what the spans and the header merge need (URL, method options,
 * CURLOPT_HTTPHEADER, CURLOPT_PORT, CURLOPT_USERAGENT, CURLOPT_CONNECT_ONLY, CURLOPT_CURLU).
 * `lv` is the argument of a long option, `pv` of an object option; other options are ignored.
 * Only a handle the program configured through our hook is "known" and gets spans. */
void curl_trace_setopt(CURL *h, CURLoption opt, long lv, const void *pv);

/* curl_easy_init / curl_easy_reset / curl_easy_duphandle (after the real call): a new handle
 * starts unknown; a reset handle forgets its options; a duplicate inherits the options of its
 * source (libcurl copies the header list pointer, so the duplicate gets the program's list
 * back via `lib` if ours was set on the source at that moment). */
void curl_trace_new_handle(CURL *h);
void curl_trace_reset(CURL *h);
void curl_trace_dup(CURL *from, CURL *to, const struct curl_trace_lib *lib);

/* curl_easy_cleanup, BEFORE the real call: a transfer still open ends (cancelled) and the
 * program's header list is restored; afterwards curl_trace_forget() frees the state. */
void curl_trace_cleanup_begin(CURL *h, const struct curl_trace_lib *lib);
void curl_trace_forget(CURL *h);

/* ---- transfers ----------------------------------------------------------------------------- */

/* Before the real curl_easy_perform: true if the transfer is traced (span begun under the
 * thread's current request, traceparent/tracestate lines set on the handle). Then
 * curl_trace_easy_end() after it, with its result. */
bool curl_trace_easy_begin(CURL *h, const struct curl_trace_lib *lib);
void curl_trace_easy_end(CURL *h, CURLcode rc, const struct curl_trace_lib *lib);

/* Before the real curl_multi_add_handle (the context is the thread's current request now);
 * then curl_trace_multi_added() with its result (a failure undoes everything). */
bool curl_trace_multi_add(CURLM *m, CURL *h, const struct curl_trace_lib *lib);
void curl_trace_multi_added(CURLM *m, CURL *h, CURLMcode rc, const struct curl_trace_lib *lib);

/* Does this multi handle run transfers we trace (curl_multi_perform, curl_multi_socket_action
 * then set busy)? */
bool curl_trace_multi_traced(CURLM *m);

/* curl_multi_info_read returned CURLMSG_DONE for h with result rc: the span ends, the
 * program's list is back. */
void curl_trace_multi_done(CURL *h, CURLcode rc, const struct curl_trace_lib *lib);

/* After the real curl_multi_remove_handle: a transfer not ended by a DONE message ends now
 * (cancelled, or its message was never read). */
void curl_trace_multi_removed(CURLM *m, CURL *h, const struct curl_trace_lib *lib);

/* curl_multi_cleanup, BEFORE the real call: transfers still in the multi handle end
 * (cancelled), their handles get the program's lists back, the multi handle is forgotten. */
void curl_trace_multi_cleanup_begin(CURLM *m, const struct curl_trace_lib *lib);

/* ---- pure helpers, exposed for the unit tests ---------------------------------------------- */

/* A low-cardinality error.type for a CURLcode: its enum name for the common failures
 * ("CURLE_COULDNT_CONNECT"), "_OTHER" otherwise. */
const char *curl_trace_code_name(CURLcode rc);

/* Parts of a URL as libcurl reads it: scheme (guessed "http" when absent, as libcurl does for
 * a host without a known protocol prefix), host (IPv6 without brackets), port (explicit, else
 * the scheme's default; 0 if unknown scheme). Returns 0, or -EINVAL for a URL without host. */
struct curl_trace_url {
	const char *scheme;
	size_t scheme_len;
	bool scheme_guessed;
	const char *host;
	size_t host_len;
	int port;
};
int curl_trace_url_split(const char *url, struct curl_trace_url *u);

/* The method libcurl will send, from the options as libcurl 7.x/8.x combine them (custom
 * request, else HEAD for NOBODY, else PUT for UPLOAD, POST for the post options, GET). */
enum curl_trace_req { CT_REQ_GET = 0, CT_REQ_POST, CT_REQ_PUT, CT_REQ_HEAD };
const char *curl_trace_method(const char *custom, bool nobody, int req);

/* Does a program header list carry a traceparent line (set, empty "name;" or removal
 * "name:")? Then nothing is added. */
bool curl_trace_list_has_traceparent(const struct curl_slist *l);

/* A new list: the program's lines (copied) followed by the `n` lines of `hdr` separated by
 * CRLF (as inj_format_headers() writes them, CRLFs not included in the nodes). One malloc;
 * free() releases it all. NULL on allocation failure. */
struct curl_slist *curl_trace_list_merge(const struct curl_slist *prog, const char *hdr,
                                         size_t hdr_len);

#endif
