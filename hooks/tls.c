/*
 * tls.c - interposers for OpenSSL's plaintext I/O and session lifecycle: SSL_read,
 * SSL_read_ex, SSL_write, SSL_write_ex, SSL_set_fd, SSL_new, SSL_free (the logic is in
 * agent/tls_conn.c).
 *
 * OpenSSL 1.1.1 and 3.x share these signatures; the types stay opaque here (no OpenSSL
 * headers needed to build the agent). libssl is often outside the global scope (CPython's
 * _ssl module is dlopen'ed RTLD_LOCAL), so the real functions are resolved through the caller
 * when RTLD_NEXT fails (libsym.h). GnuTLS (gnutls_record_send/recv) is not interposed: HTTPS
 * through GnuTLS is not traced (its TLS records are still never parsed as HTTP: the socket
 * parser refuses them).
 *
 * Pass-through first: the guard is set (the exporter's own TLS, always, to the definitions its
 * own libcurl sees: OWNREAL in libsym.h), the agent is not
 * ready, or a traced libcurl transfer is running on this thread (curl_trace_busy: libcurl's
 * sessions are traced by the curl hooks, never twice). Otherwise the agent gets the call
 * with the guard set and errno preserved; reads run the real call first, writes are
 * performed by the agent through a writer bound to the program's own call.
 *
 * Return values: exactly the real call's, except that a write the agent rewrote reports the
 * program's own count on success (see tls_conn.c for the retry protocol). SSL_get_error()
 * keeps working because the agent's real calls leave the session state as the program's
 * would, and the agent only ever peeks at it (SSL_get_error does not consume the error queue).
 */
#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "agent.h"
#include "curl_trace.h"
#include "libsym.h"
#include "tls_conn.h"

struct ssl_ctx_st;

/* Our own prototypes (the exported names must match OpenSSL's). */
WT_EXPORT int SSL_read(struct ssl_st *ssl, void *buf, int num);
WT_EXPORT int SSL_read_ex(struct ssl_st *ssl, void *buf, size_t num, size_t *readbytes);
WT_EXPORT int SSL_write(struct ssl_st *ssl, const void *buf, int num);
WT_EXPORT int SSL_write_ex(struct ssl_st *ssl, const void *buf, size_t num, size_t *written);
WT_EXPORT int SSL_set_fd(struct ssl_st *ssl, int fd);
WT_EXPORT struct ssl_st *SSL_new(struct ssl_ctx_st *ctx);
WT_EXPORT void SSL_free(struct ssl_st *ssl);

REAL_DECL(int, SSL_read, struct ssl_st *, void *, int);
REAL_DECL(int, SSL_read_ex, struct ssl_st *, void *, size_t, size_t *);
REAL_DECL(int, SSL_write, struct ssl_st *, const void *, int);
REAL_DECL(int, SSL_write_ex, struct ssl_st *, const void *, size_t, size_t *);
REAL_DECL(int, SSL_set_fd, struct ssl_st *, int);
REAL_DECL(struct ssl_st *, SSL_new, struct ssl_ctx_st *);
REAL_DECL(void, SSL_free, struct ssl_st *);
REAL_DECL(int, SSL_get_error, const struct ssl_st *, int);
OWN_DECL(int, SSL_read, struct ssl_st *, void *, int);
OWN_DECL(int, SSL_read_ex, struct ssl_st *, void *, size_t, size_t *);
OWN_DECL(int, SSL_write, struct ssl_st *, const void *, int);
OWN_DECL(int, SSL_write_ex, struct ssl_st *, const void *, size_t, size_t *);
OWN_DECL(int, SSL_set_fd, struct ssl_st *, int);
OWN_DECL(struct ssl_st *, SSL_new, struct ssl_ctx_st *);
OWN_DECL(void, SSL_free, struct ssl_st *);

static struct tls_lib lib;
static int lib_state; /* 0 not tried, 1 loaded (members may be NULL) */

/* The helpers the agent calls, resolved once from the first hook's caller. */
static const struct tls_lib *lib_get(const void *caller)
{
	if (WT_LIKELY(__atomic_load_n(&lib_state, __ATOMIC_ACQUIRE)))
		return &lib;
	void *p = hook_resolve_lib("SSL_get_fd", NULL, caller);
	__atomic_store_n(&lib.get_fd, (__typeof__(lib.get_fd))p, __ATOMIC_RELAXED);
	p = hook_resolve_lib("SSL_is_server", NULL, caller);
	__atomic_store_n(&lib.is_server, (__typeof__(lib.is_server))p, __ATOMIC_RELAXED);
	p = hook_resolve_lib("SSL_ctrl", NULL, caller);
	__atomic_store_n(&lib.ctrl, (__typeof__(lib.ctrl))p, __ATOMIC_RELAXED);
	p = hook_resolve_lib("SSL_get_error", NULL, caller);
	__atomic_store_n(&real_SSL_get_error, (__typeof__(real_SSL_get_error))p, __ATOMIC_RELAXED);
	__atomic_store_n(&lib_state, 1, __ATOMIC_RELEASE);
	return &lib;
}

static inline bool pass(void)
{
	return wt_guard || !hook_agent_ready() || curl_trace_busy();
}

/* errno for the agent from a failed call's SSL_get_error: EAGAIN = retry the same call. */
static int ssl_errno(struct ssl_st *ssl, int ret)
{
	int e = real_SSL_get_error ? real_SSL_get_error(ssl, ret) : WT_SSL_ERROR_SSL;
	return e == WT_SSL_ERROR_WANT_READ || e == WT_SSL_ERROR_WANT_WRITE ? EAGAIN : EIO;
}

/* ---- reads --------------------------------------------------------------------------------- */

/* After a real read that returned r (> 0: bytes; else the value SSL_get_error wants). */
static void after_read(struct ssl_st *ssl, void *buf, ssize_t r, const void *caller)
{
	int saved = errno;
	int g = wt_guard_enter();
	const struct tls_lib *l = lib_get(caller);
	int err = 0;
	if (r <= 0) {
		int e = real_SSL_get_error ? real_SSL_get_error(ssl, (int)r) : WT_SSL_ERROR_SSL;
		if (e == WT_SSL_ERROR_WANT_READ || e == WT_SSL_ERROR_WANT_WRITE)
			r = -1, err = EAGAIN;
		else if (e == WT_SSL_ERROR_SYSCALL && saved != 0)
			r = -1, err = saved;
		else
			r = 0; /* close_notify, or the stream ended (OpenSSL 3: unexpected EOF) */
	}
	tls_conn_on_read(ssl, buf, r, err, l);
	wt_guard_leave(g);
	errno = saved;
}

WT_EXPORT int SSL_read(struct ssl_st *ssl, void *buf, int num)
{
	GUARDED(SSL_read, -1, ssl, buf, num);
	if (!LIBREAL(SSL_read))
		return -1;
	int r = real_SSL_read(ssl, buf, num);
	if (WT_LIKELY(!pass()))
		after_read(ssl, buf, r, __builtin_return_address(0));
	return r;
}

WT_EXPORT int SSL_read_ex(struct ssl_st *ssl, void *buf, size_t num, size_t *readbytes)
{
	GUARDED(SSL_read_ex, 0, ssl, buf, num, readbytes);
	if (!LIBREAL(SSL_read_ex))
		return 0;
	size_t got = 0;
	int ok = real_SSL_read_ex(ssl, buf, num, &got);
	if (readbytes)
		*readbytes = got;
	if (WT_LIKELY(!pass()))
		after_read(ssl, buf, ok == 1 ? (ssize_t)got : 0, __builtin_return_address(0));
	return ok;
}

/* ---- writes -------------------------------------------------------------------------------- */

struct wr {
	struct ssl_st *ssl;
	bool ex; /* SSL_write_ex */
};

/* tls_write_fn: one real write of the program's kind. */
static ssize_t real_write(void *p, const void *buf, size_t len, int *ret)
{
	struct wr *w = p;
	int r;
	size_t done = 0;
	if (w->ex) {
		r = real_SSL_write_ex(w->ssl, buf, len, &done);
		if (r == 1 && done > 0)
			return (ssize_t)done;
	} else {
		r = real_SSL_write(w->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
		if (r > 0)
			return r;
	}
	*ret = r;
	errno = ssl_errno(w->ssl, r);
	return -1;
}

/* The agent's write; returns the count for the program or -1 with *ret. */
static ssize_t agent_ssl_write(struct ssl_st *ssl, const void *buf, size_t num, bool ex, int *ret,
                               const void *caller)
{
	int saved = errno;
	int g = wt_guard_enter();
	const struct tls_lib *l = lib_get(caller);
	struct wr w = {ssl, ex};
	ssize_t r = tls_conn_write(ssl, buf, num, real_write, &w, ret, l);
	int e = errno;
	wt_guard_leave(g);
	errno = r < 0 ? e : saved;
	return r;
}

WT_EXPORT int SSL_write(struct ssl_st *ssl, const void *buf, int num)
{
	GUARDED(SSL_write, -1, ssl, buf, num);
	if (!LIBREAL(SSL_write))
		return -1;
	if (pass() || num <= 0)
		return real_SSL_write(ssl, buf, num);
	int ret = -1;
	ssize_t r =
	    agent_ssl_write(ssl, buf, (size_t)num, false, &ret, __builtin_return_address(0));
	return r > 0 ? (int)r : ret;
}

WT_EXPORT int SSL_write_ex(struct ssl_st *ssl, const void *buf, size_t num, size_t *written)
{
	GUARDED(SSL_write_ex, 0, ssl, buf, num, written);
	if (!LIBREAL(SSL_write_ex))
		return 0;
	if (pass() || num == 0)
		return real_SSL_write_ex(ssl, buf, num, written);
	int ret = 0;
	ssize_t r = agent_ssl_write(ssl, buf, num, true, &ret, __builtin_return_address(0));
	if (written)
		*written = r > 0 ? (size_t)r : 0;
	return r > 0 ? 1 : ret;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

WT_EXPORT int SSL_set_fd(struct ssl_st *ssl, int fd)
{
	GUARDED(SSL_set_fd, 0, ssl, fd);
	if (!LIBREAL(SSL_set_fd))
		return 0;
	int r = real_SSL_set_fd(ssl, fd);
	if (r != 1 || pass())
		return r;
	int saved = errno;
	int g = wt_guard_enter();
	tls_conn_on_set_fd(ssl, fd, lib_get(__builtin_return_address(0)));
	wt_guard_leave(g);
	errno = saved;
	return r;
}

WT_EXPORT struct ssl_st *SSL_new(struct ssl_ctx_st *ctx)
{
	GUARDED(SSL_new, NULL, ctx);
	if (!LIBREAL(SSL_new))
		return NULL;
	struct ssl_st *ssl = real_SSL_new(ctx);
	if (ssl) {
		int saved = errno;
		int g = wt_guard_enter();
		tls_conn_forget(ssl); /* an SSL freed behind our back had this address */
		wt_guard_leave(g);
		errno = saved;
	}
	return ssl;
}

WT_EXPORT void SSL_free(struct ssl_st *ssl)
{
	if (WT_UNLIKELY(wt_guard)) {
		if (OWNREAL(SSL_free))
			own_SSL_free(ssl);
		return;
	}
	if (!LIBREAL(SSL_free))
		return;
	if (ssl) {
		int saved = errno;
		int g = wt_guard_enter();
		tls_conn_forget(ssl);
		wt_guard_leave(g);
		errno = saved;
	}
	real_SSL_free(ssl);
}
