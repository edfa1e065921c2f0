/*
 * tls_conn.h - HTTP over TLS sessions: the plaintext of an OpenSSL SSL* fed to the connection
 * tracker (the logic behind hooks/tls.c; the design is in tls_conn.c's header comment).
 *
 * Each traced SSL* gets its own struct conn (conn.h, c->tls = 1: url.scheme https, default port
 * 443), with the role, peer and connect-time parent of its socket; the socket itself is given
 * up, so its raw TLS bytes are never parsed as HTTP.
 *
 * Calls come from the hooks with the re-entry guard set, on the thread that uses the SSL*
 * (OpenSSL requires one thread at a time per SSL*). They may allocate (TLS libraries are not
 * called from signal handlers).
 */
#ifndef WT_TLS_CONN_H
#define WT_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ssl_st; /* OpenSSL's SSL, opaque here */

/* OpenSSL's ABI constants we need (stable since 1.0: ssl.h). */
#define WT_SSL_ERROR_SSL 1
#define WT_SSL_ERROR_WANT_READ 2
#define WT_SSL_ERROR_WANT_WRITE 3
#define WT_SSL_ERROR_SYSCALL 5
#define WT_SSL_ERROR_ZERO_RETURN 6
#define WT_SSL_CTRL_MODE 33
#define WT_SSL_MODE_ENABLE_PARTIAL_WRITE 0x1L

/* Real libssl functions the agent calls (resolved by hooks/tls.c; any may be NULL, and the
 * session then goes untraced). */
struct tls_lib {
	int (*get_fd)(const struct ssl_st *s);
	int (*is_server)(const struct ssl_st *s);
	long (*ctrl)(struct ssl_st *s, int cmd, long larg, void *parg);
};

/* One real write of the program's kind (SSL_write or SSL_write_ex) of `len` bytes at `buf`:
 * returns the count written (> 0), or -1 with *ret set to the value the real call returned and
 * errno EAGAIN (SSL_ERROR_WANT_READ/WANT_WRITE: OpenSSL wants the very same buffer and length
 * again) or EIO (any other failure). */
typedef ssize_t (*tls_write_fn)(void *ctx, const void *buf, size_t len, int *ret);

/* SSL_set_fd succeeded: the session takes the socket's role, peer and connect-time binding,
 * and the socket's own tracking stops. */
void tls_conn_on_set_fd(struct ssl_st *ssl, int fd, const struct tls_lib *lib);

/* SSL_new returned this address, or SSL_free is about to release it: forget any session. */
void tls_conn_forget(struct ssl_st *ssl);

/* A write of `num` > 0 program bytes. Performs it through fn (once, or not at all when an
 * earlier write's bytes are still waiting for this retry) and returns what the program must
 * see: its own count (> 0), or -1 with *ret the real call's return value. */
ssize_t tls_conn_write(struct ssl_st *ssl, const void *buf, size_t num, tls_write_fn fn, void *ctx,
                       int *ret, const struct tls_lib *lib);

/* After a read: n > 0 plaintext bytes at buf; n == 0 the peer closed (close_notify or EOF);
 * n < 0 a failure with err (EAGAIN: would block). */
void tls_conn_on_read(struct ssl_st *ssl, const void *buf, ssize_t n, int err,
                      const struct tls_lib *lib);

/* Largest client write we rewrite to insert header lines (one contiguous copy); a larger write
 * that could carry a request head gives the session up. */
#define TLS_CONN_WRITE_MAX (1u << 20)

#endif
