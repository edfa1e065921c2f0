/*
 * tls_client.c - a non-blocking OpenSSL client that writes one large request with a single
 * SSL_write (or SSL_write_ex) call and retries it after SSL_ERROR_WANT_WRITE / WANT_READ with
 * the same buffer and length, as OpenSSL requires. For the end-to-end tests of the TLS hooks'
 * retry protocol. No tracing code.
 *
 * Usage: tls_client PORT BODY_BYTES [--ex] [--own-traceparent] [--sndbuf N] [--dump PATH]
 *
 * Connects to 127.0.0.1:PORT (no certificate verification: a test server), sends
 * "POST /upload HTTP/1.1" with Host, Content-Length and, with --own-traceparent, the
 * program's own traceparent line, then BODY_BYTES of a fixed pattern, all in one buffer. The
 * socket's send buffer is made small (--sndbuf, default 4096) so that, against a server that
 * is slow to read, the write cannot complete at once. Then reads the response head.
 * --dump writes the exact request bytes the program offered to PATH.
 *
 * OpenSSL is loaded with dlopen(RTLD_GLOBAL) and its functions found with
 * dlsym(RTLD_DEFAULT), as a program linked to libssl would find them (interposers first);
 * the build needs no OpenSSL headers. Output: one JSON line {"written", "len", "retries",
 * "status"}. Exit 0 if the write reported len and the response was 200, else 1; 2 on errors.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SSL_ERROR_WANT_READ 2
#define SSL_ERROR_WANT_WRITE 3

struct ssl_st;
struct ssl_ctx_st;
struct ssl_method_st;

static const struct ssl_method_st *(*p_TLS_client_method)(void);
static struct ssl_ctx_st *(*p_SSL_CTX_new)(const struct ssl_method_st *);
static struct ssl_st *(*p_SSL_new)(struct ssl_ctx_st *);
static int (*p_SSL_set_fd)(struct ssl_st *, int);
static int (*p_SSL_connect)(struct ssl_st *);
static int (*p_SSL_write)(struct ssl_st *, const void *, int);
static int (*p_SSL_write_ex)(struct ssl_st *, const void *, size_t, size_t *);
static int (*p_SSL_read)(struct ssl_st *, void *, int);
static int (*p_SSL_get_error)(const struct ssl_st *, int);
static int (*p_SSL_shutdown)(struct ssl_st *);
static void (*p_SSL_free)(struct ssl_st *);
static void (*p_SSL_CTX_free)(struct ssl_ctx_st *);

#define LOAD(name)                                                                                 \
	do {                                                                                       \
		void *p_ = dlsym(RTLD_DEFAULT, #name);                                             \
		if (p_ == NULL) {                                                                  \
			fprintf(stderr, "missing %s\n", #name);                                    \
			return -1;                                                                 \
		}                                                                                  \
		memcpy(&p_##name, &p_, sizeof(p_));                                                \
	} while (0)

static int load(void)
{
	if (dlopen("libssl.so.3", RTLD_NOW | RTLD_GLOBAL) == NULL &&
	    dlopen("libssl.so.1.1", RTLD_NOW | RTLD_GLOBAL) == NULL) {
		fprintf(stderr, "dlopen libssl: %s\n", dlerror());
		return -1;
	}
	LOAD(TLS_client_method);
	LOAD(SSL_CTX_new);
	LOAD(SSL_new);
	LOAD(SSL_set_fd);
	LOAD(SSL_connect);
	LOAD(SSL_write);
	LOAD(SSL_write_ex);
	LOAD(SSL_read);
	LOAD(SSL_get_error);
	LOAD(SSL_shutdown);
	LOAD(SSL_free);
	LOAD(SSL_CTX_free);
	return 0;
}

/* Wait for what OpenSSL asked for; -1 on anything else. */
static int wait_for(int fd, struct ssl_st *ssl, int ret)
{
	int e = p_SSL_get_error(ssl, ret);
	struct pollfd pfd = {.fd = fd};
	if (e == SSL_ERROR_WANT_WRITE)
		pfd.events = POLLOUT;
	else if (e == SSL_ERROR_WANT_READ)
		pfd.events = POLLIN;
	else
		return -1;
	return poll(&pfd, 1, 20000) == 1 ? 0 : -1;
}

static char *build(size_t body, int own_tp, size_t *len)
{
	char head[512];
	int n =
	    snprintf(head, sizeof(head),
	             "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n",
	             own_tp ? "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"
	                      "00f067aa0ba902b7-01\r\n"
	                    : "",
	             body);
	char *b = malloc((size_t)n + body);
	if (b == NULL)
		return NULL;
	memcpy(b, head, (size_t)n);
	for (size_t i = 0; i < body; i++)
		b[(size_t)n + i] = (char)('a' + i % 26);
	*len = (size_t)n + body;
	return b;
}

int main(int argc, char **argv)
{
	int ex = 0, own_tp = 0, sndbuf = 4096, retries = 0;
	const char *dump = NULL;
	if (argc < 3) {
		fprintf(stderr, "usage: tls_client PORT BODY_BYTES [--ex] [--own-traceparent] "
		                "[--sndbuf N] [--dump PATH]\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--ex"))
			ex = 1;
		else if (!strcmp(argv[i], "--own-traceparent"))
			own_tp = 1;
		else if (!strcmp(argv[i], "--sndbuf") && i + 1 < argc)
			sndbuf = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dump") && i + 1 < argc)
			dump = argv[++i];
	}
	if (load() < 0)
		return 2;
	size_t len;
	char *req = build((size_t)atol(argv[2]), own_tp, &len);
	if (req == NULL)
		return 2;
	if (dump) {
		FILE *f = fopen(dump, "wb");
		if (f == NULL || fwrite(req, 1, len, f) != len || fclose(f) != 0)
			return 2;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)atoi(argv[1])),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("connect");
		return 2;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	struct ssl_ctx_st *ctx = p_SSL_CTX_new(p_TLS_client_method());
	struct ssl_st *ssl = p_SSL_new(ctx);
	p_SSL_set_fd(ssl, fd);
	int r;
	while ((r = p_SSL_connect(ssl)) != 1)
		if (wait_for(fd, ssl, r) < 0)
			return 2;
	long written;
	for (;;) {
		size_t w = 0;
		r = ex ? p_SSL_write_ex(ssl, req, len, &w) : p_SSL_write(ssl, req, (int)len);
		if (ex ? r == 1 : r > 0) {
			written = ex ? (long)w : r;
			break;
		}
		retries++;
		if (wait_for(fd, ssl, r) < 0) {
			fprintf(stderr, "write failed: %d\n", p_SSL_get_error(ssl, r));
			return 2;
		}
	}
	char resp[4096];
	size_t got = 0;
	while (got < sizeof(resp) - 1) {
		r = p_SSL_read(ssl, resp + got, (int)(sizeof(resp) - 1 - got));
		if (r > 0) {
			got += (size_t)r;
			resp[got] = '\0';
			if (strstr(resp, "\r\n\r\n"))
				break;
			continue;
		}
		if (wait_for(fd, ssl, r) < 0)
			break;
	}
	resp[got] = '\0';
	int status = 0;
	sscanf(resp, "HTTP/1.%*d %d", &status);
	printf("{\"written\": %ld, \"len\": %zu, \"retries\": %d, \"status\": %d}\n", written, len,
	       retries, status);
	p_SSL_shutdown(ssl);
	p_SSL_free(ssl);
	p_SSL_CTX_free(ctx);
	close(fd);
	free(req);
	return written == (long)len && status == 200 ? 0 : 1;
}
