/*
 * httpd.c - a small HTTP/1.1 server for the end-to-end tests, written with plain POSIX sockets
 * and no tracing code at all: the agent must find everything it needs in the socket calls.
 *
 * Usage: httpd [--port N] [--mode blocking|threads|epoll] [--respond write|writev|sendfile]
 *              [--max-requests N] [--downstream URL] [--client-style write|bytewise|writev]
 *              [--defer 0|1] [--delay-ms N]
 *
 * --port 0 (the default) binds an ephemeral port on 127.0.0.1 and prints it as the first line
 * of stdout. Modes: "blocking" serves one connection at a time; "threads" runs a thread per
 * connection; "epoll" is a single-threaded non-blocking event loop. Keep-alive and pipelined
 * requests are served in order; request bodies framed by Content-Length or chunked encoding
 * are read completely. After answering the Nth request (--max-requests) the process exits 0,
 * which lets the agent flush its spans at exit.
 *
 * Responses: status 200, or NNN for a target starting with /status/NNN. The body is
 * "<method> <target> body=<n> downstream=<status>\n"; a target starting with /echo gets the
 * request head it received instead, so a test can see exactly which header lines arrived.
 * HEAD, 1xx, 204 and 304 responses have no body.
 *
 * --downstream URL: before answering each request, GET <URL path><inbound target> from the URL's
 * host (a new connection each time, "Connection: close"). --client-style picks how that request
 * head is written: one write, one byte per write, or writev with many 5-byte iovecs. In epoll
 * mode the downstream call is non-blocking inside the event loop (connect EINPROGRESS, wait for
 * writable, write, read), interleaved with other connections, so that several inbound requests
 * are in flight while outbound ones start. With --defer 1 the downstream calls of the requests
 * read in one epoll_wait() round start only after that whole round was handled (as an event
 * loop's "run soon" queue does), so the request read last is usually not the one being served.
 *
 * --delay-ms N holds every answer N ms (a slow backend: under load, many requests are in flight
 * at the proxy in front of it at once). In epoll mode the wait is a timer of the event loop.
 *
 * Threads: only in --mode threads, where each connection's state is its thread's own; the
 * request counter is atomic.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "url.h"

#define MAX_BUF (8u << 20) /* largest request (head + body) we buffer */

enum { M_BLOCKING, M_THREADS, M_EPOLL };
enum { R_WRITE, R_WRITEV, R_SENDFILE };
enum { C_WRITE, C_BYTEWISE, C_WRITEV };

static int o_mode = M_BLOCKING, o_respond = R_WRITE, o_cstyle = C_WRITE;
static long o_max;
static int o_defer, o_delay_ms;
static const char *o_down;
static struct e2e_url down; /* --downstream */
static atomic_long answered;

struct req {
	char method[16];
	char target[2048];
	int minor;
	bool conn_close;
	size_t head_len, total_len, body_len;
};

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* ---- parsing ------------------------------------------------------------------------------- */

static bool hdr_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
	size_t n = strlen(name);
	if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
		return false;
	const char *v = line + n + 1, *e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*val = v;
	*vlen = (size_t)(e - v);
	return true;
}

static bool val_has(const char *v, size_t n, const char *token)
{
	size_t t = strlen(token);
	for (size_t i = 0; i + t <= n; i++)
		if (strncasecmp(v + i, token, t) == 0)
			return true;
	return false;
}

/* Decode a chunked body starting at `pos`: the framed end on success, 0 if incomplete, -1 bad. */
static long chunked_end(const char *buf, size_t len, size_t pos, size_t *body)
{
	*body = 0;
	for (;;) {
		const char *eol = memmem(buf + pos, len - pos, "\r\n", 2);
		if (!eol)
			return 0;
		char *end;
		unsigned long sz = strtoul(buf + pos, &end, 16);
		if (end == buf + pos)
			return -1;
		pos = (size_t)(eol - buf) + 2;
		if (sz == 0)
			break;
		if (sz > MAX_BUF)
			return -1;
		if (len - pos < sz + 2)
			return 0;
		if (memcmp(buf + pos + sz, "\r\n", 2) != 0)
			return -1;
		*body += sz;
		pos += sz + 2;
	}
	for (;;) { /* trailers, then the empty line */
		const char *eol = memmem(buf + pos, len - pos, "\r\n", 2);
		if (!eol)
			return 0;
		size_t l = (size_t)(eol - (buf + pos));
		pos += l + 2;
		if (l == 0)
			return (long)pos;
	}
}

/* 1: a complete request (head and body) is at the start of buf; 0: need more; -1: malformed. */
static int parse_request(const char *buf, size_t len, struct req *r)
{
	const char *he = memmem(buf, len, "\r\n\r\n", 4);
	if (!he)
		return len > 65536 ? -1 : 0;
	memset(r, 0, sizeof(*r));
	r->head_len = (size_t)(he - buf) + 4;
	const char *eol = memmem(buf, r->head_len, "\r\n", 2);
	char line[2100];
	size_t ll = (size_t)(eol - buf);
	if (ll >= sizeof(line))
		return -1;
	memcpy(line, buf, ll);
	line[ll] = '\0';
	char ver[16];
	if (sscanf(line, "%15s %2047s %15s", r->method, r->target, ver) != 3 ||
	    strncmp(ver, "HTTP/1.", 7) != 0)
		return -1;
	r->minor = ver[7] - '0';
	r->conn_close = r->minor == 0;
	bool chunked = false;
	long clen = 0;
	for (const char *p = eol + 2; p < he + 2;) {
		const char *e = memmem(p, (size_t)(he + 2 - p), "\r\n", 2);
		const char *v;
		size_t vl;
		if (hdr_is(p, (size_t)(e - p), "Content-Length", &v, &vl))
			clen = strtol(v, NULL, 10);
		else if (hdr_is(p, (size_t)(e - p), "Transfer-Encoding", &v, &vl))
			chunked = val_has(v, vl, "chunked");
		else if (hdr_is(p, (size_t)(e - p), "Connection", &v, &vl))
			r->conn_close = val_has(v, vl, "close") ||
			                (r->minor == 0 && !val_has(v, vl, "keep-alive"));
		p = e + 2;
	}
	if (chunked) {
		long end = chunked_end(buf, len, r->head_len, &r->body_len);
		if (end <= 0)
			return (int)end;
		r->total_len = (size_t)end;
		return 1;
	}
	if (clen < 0 || (size_t)clen > MAX_BUF)
		return -1;
	r->body_len = (size_t)clen;
	r->total_len = r->head_len + r->body_len;
	return len >= r->total_len ? 1 : 0;
}

static int parse_url(const char *url)
{
	if (e2e_parse_url(url, &down) < 0)
		return -1;
	size_t pl = strlen(down.path);
	if (pl && down.path[pl - 1] == '/')
		down.path[pl - 1] = '\0'; /* the inbound target brings its own slash */
	return 0;
}

/* ---- responses ----------------------------------------------------------------------------- */

struct resp {
	char head[512];
	size_t head_len;
	char *body;
	size_t body_len;
};

static const char *reason(int st)
{
	switch (st) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 404:
		return "Not Found";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	default:
		return "Status";
	}
}

static void build_response(const char *buf, const struct req *r, int ds_status, struct resp *out)
{
	int st = 200;
	if (strncmp(r->target, "/status/", 8) == 0)
		st = atoi(r->target + 8);
	if (st < 100 || st > 599)
		st = 200;
	bool nobody = strcmp(r->method, "HEAD") == 0 || st < 200 || st == 204 || st == 304;
	size_t cap = r->head_len + 2300;
	out->body = malloc(cap);
	if (!out->body)
		die("malloc");
	if (strncmp(r->target, "/echo", 5) == 0) {
		memcpy(out->body, buf, r->head_len);
		out->body_len = r->head_len;
	} else {
		int n = snprintf(out->body, cap, "%s %s body=%zu downstream=%d\n", r->method,
		                 r->target, r->body_len, ds_status);
		out->body_len = (size_t)n;
	}
	/* HEAD and 304 announce the length the body would have (and send none); 204 and 1xx
	 * carry no Content-Length at all (RFC 9110 8.6). */
	char clen[48] = "";
	if (st >= 200 && st != 204)
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", out->body_len);
	int n = snprintf(out->head, sizeof(out->head),
	                 "HTTP/1.1 %d %s\r\nServer: e2e-httpd\r\nContent-Type: text/plain\r\n"
	                 "%s%s\r\n",
	                 st, reason(st), clen, r->conn_close ? "Connection: close\r\n" : "");
	out->head_len = (size_t)n;
	if (nobody)
		out->body_len = 0;
}

/* A body for sendfile: an unlinked temp file holding the bytes, offset 0. */
static int body_file(const struct resp *rs)
{
	char path[] = "/tmp/e2e-httpd-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	unlink(path);
	for (size_t off = 0; off < rs->body_len;) {
		ssize_t k = write(fd, rs->body + off, rs->body_len - off);
		if (k <= 0)
			die("write tmp");
		off += (size_t)k;
	}
	return fd;
}

static void count_answer(void)
{
	if (o_max > 0 && atomic_fetch_add(&answered, 1) + 1 >= o_max)
		exit(0);
}

/* ---- blocking I/O (modes blocking and threads) --------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int writev_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t k = writev(fd, iov, cnt);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
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
	return 0;
}

/* The downstream request head for an inbound target. */
static size_t ds_request(char *out, size_t cap, const char *target)
{
	int n = snprintf(out, cap,
	                 "GET %s%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: e2e-httpd-client\r\n"
	                 "Accept: */*\r\nConnection: close\r\n\r\n",
	                 down.path, target, down.host, down.port);
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

static int ds_connect(bool nonblock)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
	if (getaddrinfo(down.host, down.port, &hints, &ai) != 0)
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Status of a complete response in buf (head + Content-Length body, or ended by EOF): the
 * status code, 0 while incomplete, -1 malformed. */
static int ds_status(const char *buf, size_t len, bool eof)
{
	const char *he = memmem(buf, len, "\r\n\r\n", 4);
	if (!he)
		return eof ? -1 : 0;
	int st;
	if (sscanf(buf, "HTTP/1.%*d %d", &st) != 1)
		return -1;
	const char *cl = memmem(buf, (size_t)(he - buf), "Content-Length:", 15);
	if (cl && !eof && len < (size_t)(he - buf) + 4 + strtoul(cl + 15, NULL, 10))
		return 0;
	if (!cl && !eof)
		return 0;
	return st;
}

static int downstream_blocking(const char *target)
{
	char req[4096], buf[65536];
	size_t n = ds_request(req, sizeof(req), target), len = 0;
	int fd = ds_connect(false), st = -1;
	if (fd < 0)
		return -1;
	if (o_cstyle == C_WRITE) {
		if (write_all(fd, req, n) < 0)
			goto out;
	} else if (o_cstyle == C_BYTEWISE) {
		for (size_t i = 0; i < n; i++)
			if (write_all(fd, req + i, 1) < 0)
				goto out;
	} else {
		struct iovec iov[1024];
		int cnt = 0;
		for (size_t off = 0; off < n && cnt < 1024; off += 5, cnt++) {
			iov[cnt].iov_base = req + off;
			iov[cnt].iov_len = n - off < 5 ? n - off : 5;
		}
		if (writev_all(fd, iov, cnt) < 0)
			goto out;
	}
	for (;;) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto out;
		len += (size_t)k;
		st = ds_status(buf, len, k == 0 || len == sizeof(buf));
		if (st != 0)
			break;
	}
out:
	close(fd);
	return st;
}

static int send_response_blocking(int fd, struct resp *rs)
{
	int rc;
	if (o_respond == R_WRITE) {
		char *all = malloc(rs->head_len + rs->body_len);
		if (!all)
			die("malloc");
		memcpy(all, rs->head, rs->head_len);
		memcpy(all + rs->head_len, rs->body, rs->body_len);
		rc = write_all(fd, all, rs->head_len + rs->body_len);
		free(all);
	} else if (o_respond == R_WRITEV) {
		size_t half = rs->head_len / 2;
		struct iovec iov[3] = {{rs->head, half},
		                       {rs->head + half, rs->head_len - half},
		                       {rs->body, rs->body_len}};
		rc = writev_all(fd, iov, rs->body_len ? 3 : 2);
	} else {
		rc = write_all(fd, rs->head, rs->head_len);
		if (rc == 0 && rs->body_len) {
			int bf = body_file(rs);
			off_t off = 0;
			while (rc == 0 && (size_t)off < rs->body_len) {
				ssize_t k = sendfile(fd, bf, &off, rs->body_len - (size_t)off);
				if (k <= 0 && errno != EINTR)
					rc = -1;
			}
			close(bf);
		}
	}
	return rc;
}

static void serve_blocking(int fd)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		die("malloc");
	for (;;) {
		struct req r;
		int pr;
		while ((pr = parse_request(buf, len, &r)) == 1) {
			int dst = o_down ? downstream_blocking(r.target) : 0;
			if (o_delay_ms > 0) {
				struct timespec ts = {o_delay_ms / 1000,
				                      (o_delay_ms % 1000) * 1000000L};
				while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
					;
			}
			struct resp rs;
			build_response(buf, &r, dst, &rs);
			int rc = send_response_blocking(fd, &rs);
			free(rs.body);
			if (rc < 0)
				goto out;
			count_answer();
			memmove(buf, buf + r.total_len, len - r.total_len);
			len -= r.total_len;
			if (r.conn_close)
				goto out;
		}
		if (pr < 0)
			goto out;
		if (len == cap) {
			if (cap >= MAX_BUF)
				goto out;
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("realloc");
		}
		ssize_t k = read(fd, buf + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			goto out;
		len += (size_t)k;
	}
out:
	free(buf);
	close(fd);
}

static void *conn_thread(void *arg)
{
	serve_blocking((int)(intptr_t)arg);
	return NULL;
}

/* ---- epoll event loop ---------------------------------------------------------------------- */

enum { K_LISTEN, K_CONN, K_DS };

struct econn;

struct ds {
	int kind, fd, state; /* state 0 connecting, 1 writing, 2 reading */
	char req[4096];
	size_t req_len, req_off;
	char resp[65536];
	size_t resp_len;
	struct econn *owner;
};

struct econn {
	int kind, fd;
	char *in;
	size_t in_len, in_cap;
	char *out; /* pending response bytes: head, then body unless sent with sendfile */
	size_t out_len, out_off, out_head;
	int file_fd;
	off_t file_off, file_len;
	bool busy, closing, eof, counted;
	struct req cur;
	struct ds *ds;
};

static int ep;
static struct econn *deferred[4096]; /* --defer: connections whose call starts after the round */
static int ndeferred;
static struct delayed {
	struct econn *c;
	int dst;
	long long due_ms;
} delayed[4096]; /* --delay-ms: answers waiting for their time, in due order */
static int ndelayed;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void ep_mod(int fd, void *ptr, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.ptr = ptr};
	if (epoll_ctl(ep, op, fd, &ev) < 0)
		die("epoll_ctl");
}

static void econn_close(struct econn *c)
{
	close(c->fd);
	if (c->file_fd >= 0)
		close(c->file_fd);
	free(c->in);
	free(c->out);
	free(c);
}

/* Queue the response of c->cur (whose downstream status is dst) on c's output. */
static void econn_respond(struct econn *c, int dst)
{
	struct resp rs;
	build_response(c->in, &c->cur, dst, &rs);
	bool file = o_respond == R_SENDFILE && rs.body_len > 0;
	free(c->out);
	c->out = malloc(rs.head_len + rs.body_len);
	if (!c->out)
		die("malloc");
	memcpy(c->out, rs.head, rs.head_len);
	memcpy(c->out + rs.head_len, rs.body, rs.body_len);
	c->out_head = rs.head_len;
	c->out_len = file ? rs.head_len : rs.head_len + rs.body_len;
	c->out_off = 0;
	if (file) {
		c->file_fd = body_file(&rs);
		c->file_off = 0;
		c->file_len = (off_t)rs.body_len;
	}
	free(rs.body);
	c->counted = false;
	memmove(c->in, c->in + c->cur.total_len, c->in_len - c->cur.total_len);
	c->in_len -= c->cur.total_len;
	c->closing = c->cur.conn_close;
}

/* Write what is pending; 1 when everything went, 0 on EAGAIN, -1 on error. */
static int econn_flush(struct econn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t k;
		if (o_respond == R_WRITEV) {
			struct iovec iov[2];
			int cnt = 0;
			if (c->out_off < c->out_head)
				iov[cnt++] =
				    (struct iovec){c->out + c->out_off, c->out_head - c->out_off};
			size_t b = c->out_off > c->out_head ? c->out_off : c->out_head;
			if (b < c->out_len)
				iov[cnt++] = (struct iovec){c->out + b, c->out_len - b};
			k = writev(c->fd, iov, cnt);
		} else {
			k = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN ? 0 : -1;
		c->out_off += (size_t)k;
	}
	while (c->file_fd >= 0 && c->file_off < c->file_len) {
		ssize_t k =
		    sendfile(c->fd, c->file_fd, &c->file_off, (size_t)(c->file_len - c->file_off));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN ? 0 : -1;
	}
	if (c->file_fd >= 0) {
		close(c->file_fd);
		c->file_fd = -1;
	}
	return 1;
}

static int ds_start(struct econn *c);

/* Drive a connection as far as it goes without blocking. */
static void econn_progress(struct econn *c)
{
	for (;;) {
		int f = econn_flush(c);
		if (f < 0)
			goto drop;
		if (f == 0) {
			ep_mod(c->fd, c, (c->eof ? 0 : EPOLLIN) | EPOLLOUT, EPOLL_CTL_MOD);
			return;
		}
		if (c->out_len && !c->counted) {
			c->counted = true;
			count_answer();
		}
		if (c->closing)
			goto drop;
		if (c->busy)
			break;
		int pr = parse_request(c->in, c->in_len, &c->cur);
		if (pr < 0)
			goto drop;
		if (pr == 0) {
			if (c->eof)
				goto drop;
			break;
		}
		if (o_down && o_defer && ndeferred < 4096) {
			/* Busy until the round ends; nothing drops a busy connection meanwhile: its
			 * output is flushed and only a downstream answer moves it on. */
			c->busy = true;
			deferred[ndeferred++] = c;
			break;
		}
		if (o_down && ds_start(c) == 0) {
			c->busy = true;
			break;
		}
		if (o_delay_ms > 0 && ndelayed < 4096) {
			c->busy = true; /* see --defer: a busy connection is not dropped */
			delayed[ndelayed++] =
			    (struct delayed){c, o_down ? -1 : 0, now_ms() + o_delay_ms};
			break;
		}
		econn_respond(c, o_down ? -1 : 0);
	}
	/* After EOF only the downstream answer can move this connection on. */
	ep_mod(c->fd, c, c->eof ? 0 : EPOLLIN, EPOLL_CTL_MOD);
	return;
drop:
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->ds)
		c->ds->owner = NULL;
	econn_close(c);
}

static void ds_finish(struct ds *d, int st)
{
	struct econn *c = d->owner;
	epoll_ctl(ep, EPOLL_CTL_DEL, d->fd, NULL);
	close(d->fd);
	free(d);
	if (!c)
		return;
	c->ds = NULL;
	if (o_delay_ms > 0 && ndelayed < 4096) {
		delayed[ndelayed++] = (struct delayed){c, st, now_ms() + o_delay_ms};
		return;
	}
	c->busy = false;
	econn_respond(c, st);
	econn_progress(c);
}

/* Answer the delayed requests whose time has come; the wait until the next one (-1: none). */
static int run_delayed(void)
{
	long long now = now_ms();
	int k = 0;
	while (k < ndelayed && delayed[k].due_ms <= now)
		k++;
	struct delayed due[4096];
	int ndue = k;
	memcpy(due, delayed, (size_t)k * sizeof(due[0]));
	memmove(delayed, delayed + k, (size_t)(ndelayed - k) * sizeof(delayed[0]));
	ndelayed -= k;
	for (int i = 0; i < ndue; i++) {
		due[i].c->busy = false;
		econn_respond(due[i].c, due[i].dst);
		econn_progress(due[i].c);
	}
	return ndelayed ? (int)(delayed[0].due_ms - now_ms() > 0 ? delayed[0].due_ms - now_ms() : 0)
	                : -1;
}

/* Start c's downstream call; -1 if it could not even be started. */
static int ds_start(struct econn *c)
{
	struct ds *d = calloc(1, sizeof(*d));
	if (!d)
		die("calloc");
	d->kind = K_DS;
	d->owner = c;
	d->req_len = ds_request(d->req, sizeof(d->req), c->cur.target);
	d->fd = ds_connect(true);
	if (d->fd < 0) {
		free(d);
		return -1;
	}
	c->ds = d;
	ep_mod(d->fd, d, EPOLLOUT, EPOLL_CTL_ADD);
	return 0;
}

static void ds_event(struct ds *d, uint32_t events)
{
	if (d->state == 0) {
		int err = 0;
		socklen_t sl = sizeof(err);
		getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			ds_finish(d, -1);
			return;
		}
		d->state = 1;
	}
	while (d->state == 1 && d->req_off < d->req_len) {
		size_t left = d->req_len - d->req_off;
		ssize_t k;
		if (o_cstyle == C_BYTEWISE) {
			k = write(d->fd, d->req + d->req_off, 1);
		} else if (o_cstyle == C_WRITEV) {
			struct iovec iov[1024];
			int cnt = 0;
			for (size_t off = 0; off < left && cnt < 1024; off += 5, cnt++) {
				iov[cnt].iov_base = d->req + d->req_off + off;
				iov[cnt].iov_len = left - off < 5 ? left - off : 5;
			}
			k = writev(d->fd, iov, cnt);
		} else {
			k = write(d->fd, d->req + d->req_off, left);
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		if (k < 0) {
			ds_finish(d, -1);
			return;
		}
		d->req_off += (size_t)k;
	}
	if (d->state == 1) {
		d->state = 2;
		ep_mod(d->fd, d, EPOLLIN, EPOLL_CTL_MOD);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t k = read(d->fd, d->resp + d->resp_len, sizeof(d->resp) - d->resp_len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		if (k < 0) {
			ds_finish(d, -1);
			return;
		}
		d->resp_len += (size_t)k;
		int st = ds_status(d->resp, d->resp_len, k == 0 || d->resp_len == sizeof(d->resp));
		if (st != 0) {
			ds_finish(d, st);
			return;
		}
	}
}

static void conn_event(struct econn *c, uint32_t events)
{
	while (!c->eof && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		if (c->in_len == c->in_cap) {
			if (c->in_cap >= MAX_BUF)
				break;
			c->in_cap *= 2;
			c->in = realloc(c->in, c->in_cap);
			if (!c->in)
				die("realloc");
		}
		ssize_t k = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			break;
		if (k <= 0)
			c->eof = true;
		else
			c->in_len += (size_t)k;
	}
	econn_progress(c);
}

static void run_epoll(int lfd)
{
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	static int listen_kind = K_LISTEN;
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	ep_mod(lfd, &listen_kind, EPOLLIN, EPOLL_CTL_ADD);
	int wait_ms = -1;
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, wait_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int kind = *(int *)evs[i].data.ptr;
			if (kind == K_LISTEN) {
				int fd;
				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct econn *c = calloc(1, sizeof(*c));
					if (!c)
						die("calloc");
					c->kind = K_CONN;
					c->fd = fd;
					c->file_fd = -1;
					c->in_cap = 65536;
					c->in = malloc(c->in_cap);
					if (!c->in)
						die("malloc");
					ep_mod(fd, c, EPOLLIN, EPOLL_CTL_ADD);
				}
			} else if (kind == K_CONN) {
				conn_event(evs[i].data.ptr, evs[i].events);
			} else {
				ds_event(evs[i].data.ptr, evs[i].events);
			}
		}
		for (int i = 0; i < ndeferred; i++) {
			struct econn *c = deferred[i];
			if (ds_start(c) < 0) {
				c->busy = false;
				econn_respond(c, -1);
				econn_progress(c);
			}
		}
		ndeferred = 0;
		wait_ms = run_delayed();
	}
}

/* ---- main ---------------------------------------------------------------------------------- */

static int pick(const char *v, const char *const *names, int n, const char *opt)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	fprintf(stderr, "httpd: bad value for %s: %s\n", opt, v);
	exit(2);
}

int main(int argc, char **argv)
{
	static const char *const modes[] = {"blocking", "threads", "epoll"};
	static const char *const resp[] = {"write", "writev", "sendfile"};
	static const char *const cst[] = {"write", "bytewise", "writev"};
	int port = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		if (strcmp(o, "--port") == 0)
			port = atoi(v);
		else if (strcmp(o, "--mode") == 0)
			o_mode = pick(v, modes, 3, o);
		else if (strcmp(o, "--respond") == 0)
			o_respond = pick(v, resp, 3, o);
		else if (strcmp(o, "--client-style") == 0)
			o_cstyle = pick(v, cst, 3, o);
		else if (strcmp(o, "--max-requests") == 0)
			o_max = atol(v);
		else if (strcmp(o, "--downstream") == 0)
			o_down = v;
		else if (strcmp(o, "--defer") == 0)
			o_defer = atoi(v);
		else if (strcmp(o, "--delay-ms") == 0)
			o_delay_ms = atoi(v);
		else {
			fprintf(stderr, "httpd: unknown option %s\n", o);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN); /* a client that leaves early must not kill the server */
	if (o_down && parse_url(o_down) < 0) {
		fprintf(stderr, "httpd: bad --downstream URL %s\n", o_down);
		return 2;
	}
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 256) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		die("bind/listen");
	printf("%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	if (o_mode == M_EPOLL)
		run_epoll(lfd);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		if (o_mode == M_BLOCKING) {
			serve_blocking(fd);
			continue;
		}
		pthread_t t;
		if (pthread_create(&t, NULL, conn_thread, (void *)(intptr_t)fd) != 0)
			die("pthread_create");
		pthread_detach(t);
	}
}
