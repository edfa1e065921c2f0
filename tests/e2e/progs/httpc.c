/*
 * httpc.c - a small HTTP/1.1 client for the end-to-end tests, written with plain POSIX sockets
 * and no tracing code at all.
 *
 * Usage: httpc --url http://HOST:PORT/PATH [--requests N] [--style STYLE] [--method M]
 *              [--body-size N] [--chunked] [--header "Name: value"]... [--dump FILE]
 *
 * "{i}" in the URL's path is replaced by the request's index (0-based), so a test can tell the
 * requests apart. Styles (how the request bytes are written):
 *   write          a new connection per request, head and body in one write()
 *   bytewise       a new connection per request, one byte per write()
 *   writev         a new connection per request, writev() with the head in 3-byte iovecs
 *   sendmsg        a new connection per request, sendmsg() with three iovecs
 *   keepalive      one connection, one write() per request, each response read before the next
 *   pipelined      one connection, every request in a single write(), then all the responses
 *   nonblock-small a new connection per request, non-blocking, SO_SNDBUF as small as the kernel
 *                  allows, head and body in one buffer written until done, poll() on EAGAIN;
 *                  the number of partial writes and EAGAINs goes to stderr
 * Every response's status line is printed on stdout.
 *
 * The point of the program is the accounting a program does on its own writes: every call's
 * return value is checked to be at most what was offered, and at the end the returns must add
 * up to exactly the bytes the program meant to write; otherwise it exits 1. --dump writes those
 * intended bytes (all connections, in order) to FILE, so a test can compare them with what the
 * peer received. Exit 2 on any other failure (connect, malformed or missing response).
 *
 * Single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "url.h"

enum { S_WRITE, S_BYTEWISE, S_WRITEV, S_SENDMSG, S_KEEPALIVE, S_PIPELINED, S_NONBLOCK };

static int o_style = S_WRITE, o_requests = 1, o_chunked;
static long o_body;
static const char *o_method = "GET", *o_dump;
static char *o_headers[32];
static int o_nheaders;
static struct e2e_url u; /* the URL requested */

static size_t intended, written; /* bytes meant to be written, sum of the write returns */
static long partials, eagains;
static FILE *dump;

static void fail(int code, const char *what)
{
	if (errno)
		perror(what);
	else
		fprintf(stderr, "httpc: %s\n", what);
	exit(code);
}

/* Record one write-family call's result against what it was offered. */
static void account(ssize_t ret, size_t offered)
{
	if (ret < 0)
		return;
	if ((size_t)ret > offered) {
		fprintf(stderr, "httpc: a write returned %zd for %zu bytes offered\n", ret,
		        offered);
		exit(1);
	}
	if ((size_t)ret < offered)
		partials++;
	written += (size_t)ret;
}

static void plan(const char *p, size_t n)
{
	intended += n;
	if (dump && fwrite(p, 1, n, dump) != n)
		fail(2, "dump");
}

static int parse_url(const char *url)
{
	if (e2e_parse_url(url, &u) < 0)
		return -1;
	if (!u.path[0])
		snprintf(u.path, sizeof(u.path), "/");
	return 0;
}

/* Request i: head and body in one malloc'ed buffer; *head_len tells where the body starts. */
static char *build_request(int i, size_t *len, size_t *head_len)
{
	char target[2100], *brace = strstr(u.path, "{i}");
	if (brace)
		snprintf(target, sizeof(target), "%.*s%d%s", (int)(brace - u.path), u.path, i,
		         brace + 3);
	else
		snprintf(target, sizeof(target), "%s", u.path);
	size_t cap = 4096 + (size_t)o_body * 2 + 64, n;
	char *b = malloc(cap);
	if (!b)
		fail(2, "malloc");
	n = (size_t)snprintf(b, cap,
	                     "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: e2e-httpc/1\r\n"
	                     "Accept: */*\r\n",
	                     o_method, target, u.host, u.port);
	for (int h = 0; h < o_nheaders; h++)
		n += (size_t)snprintf(b + n, cap - n, "%s\r\n", o_headers[h]);
	if (o_body > 0 && o_chunked)
		n += (size_t)snprintf(b + n, cap - n, "Transfer-Encoding: chunked\r\n");
	else if (o_body > 0)
		n += (size_t)snprintf(b + n, cap - n, "Content-Length: %ld\r\n", o_body);
	n += (size_t)snprintf(b + n, cap - n, "\r\n");
	*head_len = n;
	for (long k = 0; k < o_body;) {
		long piece = o_chunked ? (o_body - k > 1000 ? 1000 : o_body - k) : o_body;
		if (o_chunked)
			n += (size_t)snprintf(b + n, cap - n, "%lx;ext=1\r\n", piece);
		for (long j = 0; j < piece; j++)
			b[n++] = (char)('a' + (k + j + i) % 26);
		k += piece;
		if (o_chunked)
			n += (size_t)snprintf(b + n, cap - n, "\r\n");
	}
	if (o_body > 0 && o_chunked)
		n += (size_t)snprintf(b + n, cap - n, "0\r\nX-Trailer: t\r\n\r\n");
	*len = n;
	return b;
}

static int dial(bool nonblock)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
	if (getaddrinfo(u.host, u.port, &hints, &ai) != 0)
		fail(2, "getaddrinfo");
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		fail(2, "socket");
	if (nonblock) {
		int small = 1; /* the kernel rounds it up to its minimum */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			fail(2, "connect");
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t sl = sizeof(err);
		if (poll(&p, 1, 10000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) ||
		    err)
			fail(2, "connect (non-blocking)");
	}
	freeaddrinfo(ai);
	return fd;
}

static void write_plain(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		account(k, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			fail(2, "write");
		p += k;
		n -= (size_t)k;
	}
}

static void write_nonblock(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		account(k, n);
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			eagains++;
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			if (poll(&pf, 1, 10000) != 1)
				fail(2, "poll");
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			fail(2, "write");
		p += k;
		n -= (size_t)k;
	}
}

/* writev or sendmsg of an iovec array until all of it went, advancing over partial writes. */
static void write_vec(int fd, struct iovec *iov, int cnt, bool msg)
{
	while (cnt > 0) {
		size_t offered = 0;
		for (int j = 0; j < cnt; j++)
			offered += iov[j].iov_len;
		ssize_t k;
		if (msg) {
			struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
			k = sendmsg(fd, &mh, 0);
		} else {
			k = writev(fd, iov, cnt);
		}
		account(k, offered);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			fail(2, msg ? "sendmsg" : "writev");
		while (cnt > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
}

static void send_request(int fd, const char *b, size_t n, size_t hl)
{
	plan(b, n);
	if (o_style == S_BYTEWISE) {
		for (size_t j = 0; j < n; j++)
			write_plain(fd, b + j, 1);
	} else if (o_style == S_WRITEV) {
		struct iovec iov[1024];
		int cnt = 0;
		for (size_t off = 0; off < hl && cnt < 1023; off += 3, cnt++)
			iov[cnt] = (struct iovec){(char *)b + off, hl - off < 3 ? hl - off : 3};
		if (n > hl)
			iov[cnt++] = (struct iovec){(char *)b + hl, n - hl};
		write_vec(fd, iov, cnt, false);
	} else if (o_style == S_SENDMSG) {
		struct iovec iov[3] = {{(char *)b, hl / 2},
		                       {(char *)b + hl / 2, hl - hl / 2},
		                       {(char *)b + hl, n - hl}};
		write_vec(fd, iov, n > hl ? 3 : 2, true);
	} else if (o_style == S_NONBLOCK) {
		write_nonblock(fd, b, n);
	} else {
		write_plain(fd, b, n);
	}
}

/* ---- responses ----------------------------------------------------------------------------- */

struct rbuf {
	int fd;
	char *p;
	size_t len, cap;
	bool eof;
};

static void fill(struct rbuf *r)
{
	if (r->len == r->cap) {
		r->cap *= 2;
		r->p = realloc(r->p, r->cap);
		if (!r->p)
			fail(2, "realloc");
	}
	for (;;) {
		ssize_t k = read(r->fd, r->p + r->len, r->cap - r->len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pf = {.fd = r->fd, .events = POLLIN};
			if (poll(&pf, 1, 10000) != 1)
				fail(2, "poll (response)");
			continue;
		}
		if (k < 0)
			fail(2, "read");
		if (k == 0)
			r->eof = true;
		r->len += (size_t)k;
		return;
	}
}

/* Read one response off r, print its status line, drop its bytes from the buffer. */
static void read_response(struct rbuf *r, bool head_req)
{
	char *he;
	while (!(he = memmem(r->p, r->len, "\r\n\r\n", 4))) {
		if (r->eof)
			fail(2, "connection closed before a response head");
		fill(r);
	}
	size_t hl = (size_t)(he - r->p) + 4, need = hl;
	char *eol = memmem(r->p, hl, "\r\n", 2);
	int st = 0;
	if (sscanf(r->p, "HTTP/1.%*d %d", &st) != 1)
		fail(2, "malformed status line");
	printf("%.*s\n", (int)(eol - r->p), r->p);
	fflush(stdout);
	bool no_body = head_req || st < 200 || st == 204 || st == 304;
	char *cl = NULL;
	for (char *l = eol + 2; !no_body && l < he;) {
		char *e = memmem(l, (size_t)(he + 2 - l), "\r\n", 2);
		if ((size_t)(e - l) > 15 && strncasecmp(l, "Content-Length:", 15) == 0)
			cl = l + 15;
		l = e + 2;
	}
	if (!no_body && cl) {
		need = hl + strtoul(cl, NULL, 10);
	} else if (!no_body) { /* until the server closes */
		while (!r->eof)
			fill(r);
		need = r->len;
	}
	while (r->len < need) {
		if (r->eof)
			fail(2, "connection closed inside a response body");
		fill(r);
	}
	memmove(r->p, r->p + need, r->len - need);
	r->len -= need;
	if (st >= 100 && st < 200)
		read_response(r, head_req); /* the final response follows an interim one */
}

static void run(void)
{
	bool head_req = strcmp(o_method, "HEAD") == 0;
	bool one_conn = o_style == S_KEEPALIVE || o_style == S_PIPELINED;
	struct rbuf r = {.fd = -1, .cap = 65536};
	r.p = malloc(r.cap);
	if (!r.p)
		fail(2, "malloc");
	if (one_conn)
		r.fd = dial(false);
	if (o_style == S_PIPELINED) {
		size_t total = 0, n, hl;
		char *all = NULL;
		for (int i = 0; i < o_requests; i++) {
			char *b = build_request(i, &n, &hl);
			all = realloc(all, total + n);
			if (!all)
				fail(2, "realloc");
			memcpy(all + total, b, n);
			total += n;
			free(b);
		}
		plan(all, total);
		write_plain(r.fd, all, total);
		free(all);
		for (int i = 0; i < o_requests; i++)
			read_response(&r, head_req);
	} else {
		for (int i = 0; i < o_requests; i++) {
			size_t n, hl;
			char *b = build_request(i, &n, &hl);
			if (!one_conn) {
				r.fd = dial(o_style == S_NONBLOCK);
				r.len = 0;
				r.eof = false;
			}
			send_request(r.fd, b, n, hl);
			free(b);
			read_response(&r, head_req);
			if (!one_conn)
				close(r.fd);
		}
	}
	if (one_conn)
		close(r.fd);
	free(r.p);
}

int main(int argc, char **argv)
{
	static const char *const styles[] = {"write",     "bytewise",  "writev",        "sendmsg",
	                                     "keepalive", "pipelined", "nonblock-small"};
	const char *url = NULL;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--chunked") == 0) {
			o_chunked = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "httpc: %s needs a value\n", o);
			return 2;
		}
		i++;
		if (strcmp(o, "--url") == 0) {
			url = v;
		} else if (strcmp(o, "--requests") == 0) {
			o_requests = atoi(v);
		} else if (strcmp(o, "--method") == 0) {
			o_method = v;
		} else if (strcmp(o, "--body-size") == 0) {
			o_body = atol(v);
		} else if (strcmp(o, "--dump") == 0) {
			o_dump = v;
		} else if (strcmp(o, "--header") == 0 && o_nheaders < 32) {
			o_headers[o_nheaders++] = (char *)v;
		} else if (strcmp(o, "--style") == 0) {
			o_style = -1;
			for (int s = 0; s < 7; s++)
				if (strcmp(v, styles[s]) == 0)
					o_style = s;
			if (o_style < 0) {
				fprintf(stderr, "httpc: unknown style %s\n", v);
				return 2;
			}
		} else {
			fprintf(stderr, "httpc: unknown option %s\n", o);
			return 2;
		}
	}
	if (!url || parse_url(url) < 0 || o_requests < 1 || o_body < 0) {
		fprintf(stderr, "httpc: usage: httpc --url http://HOST:PORT/PATH [options]\n");
		return 2;
	}
	if (o_dump && !(dump = fopen(o_dump, "wb")))
		fail(2, o_dump);
	errno = 0;
	run();
	if (dump)
		fclose(dump);
	if (o_style == S_NONBLOCK)
		fprintf(stderr, "httpc: partial=%ld eagain=%ld\n", partials, eagains);
	if (written != intended) {
		fprintf(stderr, "httpc: wrote %zu bytes, meant %zu\n", written, intended);
		return 1;
	}
	return 0;
}
