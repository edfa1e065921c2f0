/*
 * curl.c - interposers for libcurl's easy and multi interfaces (the logic is in
 * agent/curl_trace.c).
 *
 * Reached by symbol interposition whether the program links libcurl (the curl CLI) or a
 * library it dlopens does (a plugin, an extension module): relocations look in the global
 * scope, where the preloaded agent is, first. The real functions are found with RTLD_NEXT or,
 * for a libcurl outside the global scope, through the caller's object (libsym.h). A process
 * that never calls libcurl never runs any of this. A program that calls libcurl through
 * pointers it got from dlsym(handle) bypasses these hooks except for libcurl's own internal
 * calls to its multi functions, which find nothing known and pass through: its plain-HTTP
 * and HTTPS/1.1 requests are then traced at the socket and TLS level instead.
 *
 * Pass-through rules, first thing in every hook: the re-entry guard is set (the exporter's
 * own libcurl, always: its calls go to the definitions its own object sees, OWNREAL in
 * libsym.h), the agent is not ready, or we are inside another curl hook's real call
 * (curl_trace_depth: libcurl calls its exported multi functions from curl_easy_perform, makes
 * internal DoH handles, and runs the program's callbacks). Bookkeeping runs with the guard
 * set and errno preserved; the real call itself runs WITHOUT the guard, so the program's
 * callbacks and libcurl's sockets meet the agent normally, with curl_trace_busy_n telling
 * the socket and TLS layers that what libcurl opens now is traced here.
 *
 * curl_easy_setopt is variadic: the argument is read with the type its option number's
 * range announces (CURLOPTTYPE_LONG, OBJECTPOINT, FUNCTIONPOINT, OFF_T, BLOB: curl.h) and
 * passed on with that same type.
 */
#include <stdarg.h>

#include "agent.h"
#include "curl_trace.h"
#include "libsym.h"

REAL_DECL(CURLcode, curl_easy_perform, CURL *);
REAL_DECL(CURLcode, curl_easy_setopt, CURL *, CURLoption, ...);
REAL_DECL(CURL *, curl_easy_init, void);
REAL_DECL(void, curl_easy_cleanup, CURL *);
REAL_DECL(void, curl_easy_reset, CURL *);
REAL_DECL(CURL *, curl_easy_duphandle, CURL *);
REAL_DECL(CURLMcode, curl_multi_add_handle, CURLM *, CURL *);
REAL_DECL(CURLMcode, curl_multi_remove_handle, CURLM *, CURL *);
REAL_DECL(CURLMcode, curl_multi_perform, CURLM *, int *);
REAL_DECL(CURLMcode, curl_multi_socket_action, CURLM *, curl_socket_t, int, int *);
REAL_DECL(CURLMsg *, curl_multi_info_read, CURLM *, int *);
REAL_DECL(CURLMcode, curl_multi_cleanup, CURLM *);
OWN_DECL(CURLcode, curl_easy_perform, CURL *);
OWN_DECL(CURLcode, curl_easy_setopt, CURL *, CURLoption, ...);
OWN_DECL(CURL *, curl_easy_init, void);
OWN_DECL(void, curl_easy_cleanup, CURL *);
OWN_DECL(void, curl_easy_reset, CURL *);
OWN_DECL(CURL *, curl_easy_duphandle, CURL *);
OWN_DECL(CURLMcode, curl_multi_add_handle, CURLM *, CURL *);
OWN_DECL(CURLMcode, curl_multi_remove_handle, CURLM *, CURL *);
OWN_DECL(CURLMcode, curl_multi_perform, CURLM *, int *);
OWN_DECL(CURLMcode, curl_multi_socket_action, CURLM *, curl_socket_t, int, int *);
OWN_DECL(CURLMsg *, curl_multi_info_read, CURLM *, int *);
OWN_DECL(CURLMcode, curl_multi_cleanup, CURLM *);

static struct curl_trace_lib lib;

/* The real setopt/getinfo for the agent; NULL if either cannot be resolved. `caller` is the
 * hook's return address (see libsym.h). */
static const struct curl_trace_lib *lib_get(const void *caller)
{
	if (WT_UNLIKELY(__atomic_load_n(&lib.getinfo, __ATOMIC_ACQUIRE) == NULL)) {
		void *s = hook_resolve_lib("curl_easy_setopt", NULL, caller);
		void *g = hook_resolve_lib("curl_easy_getinfo", NULL, caller);
		if (s == NULL || g == NULL)
			return NULL;
		__atomic_store_n(&lib.setopt, (__typeof__(lib.setopt))s, __ATOMIC_RELAXED);
		__atomic_store_n(&lib.getinfo, (__typeof__(lib.getinfo))g, __ATOMIC_RELEASE);
	}
	return &lib;
}

/* GUARDED (libsym.h) for a hook that returns nothing. */
#define GUARDED_VOID(name, ...)                                                                    \
	do {                                                                                       \
		if (WT_UNLIKELY(wt_guard)) {                                                       \
			if (OWNREAL(name))                                                         \
				own_##name(__VA_ARGS__);                                           \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static inline bool pass(void)
{
	return wt_guard || !hook_agent_ready() || curl_trace_depth > 0;
}

/* Run `stmt` as bookkeeping: guard set, errno preserved. */
#define BOOKKEEP(stmt)                                                                             \
	do {                                                                                       \
		int saved_ = errno;                                                                \
		int g_ = wt_guard_enter();                                                         \
		stmt;                                                                              \
		wt_guard_leave(g_);                                                                \
		errno = saved_;                                                                    \
	} while (0)

/* ---- easy interface ---------------------------------------------------------------------- */

WT_EXPORT CURLcode curl_easy_perform(CURL *h)
{
	GUARDED(curl_easy_perform, CURLE_FAILED_INIT, h);
	if (!LIBREAL(curl_easy_perform))
		return CURLE_FAILED_INIT;
	if (pass())
		return real_curl_easy_perform(h);
	const struct curl_trace_lib *l = lib_get(__builtin_return_address(0));
	bool traced = false;
	if (l)
		BOOKKEEP(traced = curl_trace_easy_begin(h, l));
	curl_trace_depth++;
	curl_trace_busy_n += traced;
	CURLcode rc = real_curl_easy_perform(h);
	curl_trace_busy_n -= traced;
	curl_trace_depth--;
	if (traced)
		BOOKKEEP(curl_trace_easy_end(h, rc, l));
	return rc;
}

/* The argument of a curl_easy_setopt call, read with the type its option's range announces
 * (curl.h: CURLOPTTYPE_LONG, OBJECTPOINT, FUNCTIONPOINT, OFF_T, BLOB). */
struct opt_arg {
	long lv;
	void *pv;
	void (*fv)(void);
	curl_off_t ov;
};

static CURLcode forward_setopt(CURLcode (*fn)(CURL *, CURLoption, ...), CURL *h, CURLoption opt,
                               const struct opt_arg *a)
{
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		return fn(h, opt, a->lv);
	if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		return fn(h, opt, a->pv);
	if (opt < CURLOPTTYPE_OFF_T)
		return fn(h, opt, a->fv);
	if (opt < CURLOPTTYPE_BLOB)
		return fn(h, opt, a->ov);
	return fn(h, opt, a->pv); /* struct curl_blob *, and any later pointer class */
}

WT_EXPORT CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	struct opt_arg a = {0};
	va_list ap;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		a.lv = va_arg(ap, long);
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		a.pv = va_arg(ap, void *);
	else if (opt < CURLOPTTYPE_OFF_T)
		a.fv = va_arg(ap, void (*)(void));
	else if (opt < CURLOPTTYPE_BLOB)
		a.ov = va_arg(ap, curl_off_t);
	else
		a.pv = va_arg(ap, void *);
	va_end(ap);
	if (WT_UNLIKELY(wt_guard))
		return OWNREAL(curl_easy_setopt) ? forward_setopt(own_curl_easy_setopt, h, opt, &a)
		                                 : CURLE_FAILED_INIT;
	if (!LIBREAL(curl_easy_setopt))
		return CURLE_FAILED_INIT;
	CURLcode rc = forward_setopt(real_curl_easy_setopt, h, opt, &a);
	if (rc != CURLE_OK || pass())
		return rc;
	BOOKKEEP(curl_trace_setopt(h, opt, a.lv, a.pv));
	return rc;
}

WT_EXPORT CURL *curl_easy_init(void)
{
	GUARDED(curl_easy_init, NULL, );
	if (!LIBREAL(curl_easy_init))
		return NULL;
	CURL *h = real_curl_easy_init();
	/* Even inside another curl call: this address may still carry a stale handle's state. */
	if (h)
		BOOKKEEP(curl_trace_new_handle(h));
	return h;
}

WT_EXPORT CURL *curl_easy_duphandle(CURL *h)
{
	GUARDED(curl_easy_duphandle, NULL, h);
	if (!LIBREAL(curl_easy_duphandle))
		return NULL;
	CURL *d = real_curl_easy_duphandle(h);
	/* Also inside a transfer (HTTP/2 server push duplicates the handle): a duplicate must
	 * never keep a pointer to our list. */
	if (d == NULL || !agent_ready())
		return d;
	const struct curl_trace_lib *l = lib_get(__builtin_return_address(0));
	if (l)
		BOOKKEEP(curl_trace_dup(h, d, l));
	return d;
}

WT_EXPORT void curl_easy_reset(CURL *h)
{
	GUARDED_VOID(curl_easy_reset, h);
	if (!LIBREAL(curl_easy_reset))
		return;
	real_curl_easy_reset(h);
	if (!pass())
		BOOKKEEP(curl_trace_reset(h));
}

WT_EXPORT void curl_easy_cleanup(CURL *h)
{
	GUARDED_VOID(curl_easy_cleanup, h);
	if (!LIBREAL(curl_easy_cleanup))
		return;
	if (h == NULL) {
		real_curl_easy_cleanup(h);
		return;
	}
	const struct curl_trace_lib *l = lib_get(__builtin_return_address(0));
	if (l)
		BOOKKEEP(curl_trace_cleanup_begin(h, l));
	/* Closing its connections may read a TLS close_notify: libcurl's, not traced. */
	curl_trace_depth++;
	curl_trace_busy_n++;
	real_curl_easy_cleanup(h);
	curl_trace_busy_n--;
	curl_trace_depth--;
	BOOKKEEP(curl_trace_forget(h));
}

/* ---- multi interface --------------------------------------------------------------------- */

WT_EXPORT CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	GUARDED(curl_multi_add_handle, CURLM_INTERNAL_ERROR, m, h);
	if (!LIBREAL(curl_multi_add_handle))
		return CURLM_INTERNAL_ERROR;
	if (pass())
		return real_curl_multi_add_handle(m, h);
	const struct curl_trace_lib *l = lib_get(__builtin_return_address(0));
	bool traced = false;
	if (l)
		BOOKKEEP(traced = curl_trace_multi_add(m, h, l));
	curl_trace_depth++;
	CURLMcode rc = real_curl_multi_add_handle(m, h);
	curl_trace_depth--;
	if (traced)
		BOOKKEEP(curl_trace_multi_added(m, h, rc, l));
	return rc;
}

WT_EXPORT CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	GUARDED(curl_multi_perform, CURLM_INTERNAL_ERROR, m, running);
	if (!LIBREAL(curl_multi_perform))
		return CURLM_INTERNAL_ERROR;
	if (pass())
		return real_curl_multi_perform(m, running);
	bool traced = curl_trace_multi_traced(m);
	curl_trace_depth++;
	curl_trace_busy_n += traced;
	CURLMcode rc = real_curl_multi_perform(m, running);
	curl_trace_busy_n -= traced;
	curl_trace_depth--;
	return rc;
}

WT_EXPORT CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev_bitmask,
                                             int *running)
{
	GUARDED(curl_multi_socket_action, CURLM_INTERNAL_ERROR, m, s, ev_bitmask, running);
	if (!LIBREAL(curl_multi_socket_action))
		return CURLM_INTERNAL_ERROR;
	if (pass())
		return real_curl_multi_socket_action(m, s, ev_bitmask, running);
	bool traced = curl_trace_multi_traced(m);
	curl_trace_depth++;
	curl_trace_busy_n += traced;
	CURLMcode rc = real_curl_multi_socket_action(m, s, ev_bitmask, running);
	curl_trace_busy_n -= traced;
	curl_trace_depth--;
	return rc;
}

WT_EXPORT CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	GUARDED(curl_multi_info_read, NULL, m, left);
	if (!LIBREAL(curl_multi_info_read))
		return NULL;
	if (pass())
		return real_curl_multi_info_read(m, left);
	CURLMsg *msg = real_curl_multi_info_read(m, left);
	if (msg == NULL || msg->msg != CURLMSG_DONE)
		return msg;
	const struct curl_trace_lib *l = lib_get(__builtin_return_address(0));
	if (l)
		BOOKKEEP(curl_trace_multi_done(msg->easy_handle, msg->data.result, l));
	return msg;
}

WT_EXPORT CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	GUARDED(curl_multi_remove_handle, CURLM_INTERNAL_ERROR, m, h);
	if (!LIBREAL(curl_multi_remove_handle))
		return CURLM_INTERNAL_ERROR;
	if (pass())
		return real_curl_multi_remove_handle(m, h);
	bool traced = curl_trace_multi_traced(m);
	curl_trace_depth++;
	curl_trace_busy_n += traced;
	CURLMcode rc = real_curl_multi_remove_handle(m, h);
	curl_trace_busy_n -= traced;
	curl_trace_depth--;
	const struct curl_trace_lib *l = lib_get(__builtin_return_address(0));
	if (rc == CURLM_OK && traced && l)
		BOOKKEEP(curl_trace_multi_removed(m, h, l));
	return rc;
}

WT_EXPORT CURLMcode curl_multi_cleanup(CURLM *m)
{
	GUARDED(curl_multi_cleanup, CURLM_INTERNAL_ERROR, m);
	if (!LIBREAL(curl_multi_cleanup))
		return CURLM_INTERNAL_ERROR;
	if (m == NULL)
		return real_curl_multi_cleanup(m);
	const struct curl_trace_lib *l = lib_get(__builtin_return_address(0));
	if (l && curl_trace_multi_traced(m))
		BOOKKEEP(curl_trace_multi_cleanup_begin(m, l));
	curl_trace_depth++;
	curl_trace_busy_n++;
	CURLMcode rc = real_curl_multi_cleanup(m);
	curl_trace_busy_n--;
	curl_trace_depth--;
	return rc;
}
