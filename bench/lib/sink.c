/*
 * sink.c - a local OTLP/HTTP receiver that discards: the "collector" of the benchmarks.
 *
 *   sink [PORT]
 *
 * Listens on 127.0.0.1:PORT (0 or absent: a free port), prints the port on the first line of
 * stdout, and answers every HTTP/1.1 request with 200 and an empty OTLP response (an empty
 * ExportTraceServiceResponse for protobuf, "{}" for JSON) after reading and discarding its body.
 * Keep-alive connections are served by one thread each, so the exporter's connection reuse is
 * exercised as with a real collector. Spans are counted in uncompressed protobuf bodies (a walk
 * over ExportTraceServiceRequest.resource_spans.scope_spans.spans, OTLP
 * collector/trace/v1/trace_service.proto and trace/v1/trace.proto, nothing decoded), so that a
 * benchmark can check that every request was traced. On SIGUSR1 it prints one line on stdout,
 * "sink: requests N body_bytes B spans S" (totals so far; S counts only the bodies that were
 * uncompressed protobuf); on SIGTERM or SIGINT it prints that line and exits 0.
 *
 * Why not a real collector: the benchmarks measure the agent's cost, so the receiver must cost
 * as little as possible on the shared cores and never push back. Why not Python: at the
 * exporter's target (500k spans/s, about 1000 POSTs of 240 KB per second) a Python receiver
 * would be the bottleneck.
 *
 * Only what the exporter sends is supported: a request head of at most 16 KiB with a
 * Content-Length body (libcurl sends POSTFIELDS that way). Anything else gets 400 and the
 * connection is closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define BUF_SIZE 65536

#define BODY_MAX (64 << 20) /* larger bodies are discarded without counting their spans */

static unsigned long long n_requests, n_body_bytes, n_spans;

/* Protobuf wire format (protobuf.dev/programming-guides/encoding): read a varint. */
static int varint(const unsigned char **p, const unsigned char *end, unsigned long long *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		unsigned char b = *(*p)++;
		*v |= (unsigned long long)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* Count the length-delimited fields numbered path[0] of the message [p, end); with depth > 1,
 * count instead, inside each of them, the fields along path[1..]. Returns the count, or -1 on
 * malformed input. */
static long long count_fields(const unsigned char *p, const unsigned char *end,
			      const int *path, int depth)
{
	long long n = 0, sub;
	unsigned long long key, len;

	while (p < end) {
		if (varint(&p, end, &key))
			return -1;
		switch (key & 7) {
		case 0:
			if (varint(&p, end, &len))
				return -1;
			break;
		case 1:
			p += 8;
			break;
		case 5:
			p += 4;
			break;
		case 2:
			if (varint(&p, end, &len) || len > (unsigned long long)(end - p))
				return -1;
			if ((int)(key >> 3) == path[0]) {
				sub = depth > 1 ? count_fields(p, p + len, path + 1, depth - 1) : 1;
				if (sub < 0)
					return -1;
				n += sub;
			}
			p += len;
			break;
		default:
			return -1;
		}
	}
	return p == end ? n : -1;
}

/* ExportTraceServiceRequest: resource_spans = 1; ResourceSpans: scope_spans = 2;
 * ScopeSpans: spans = 2. */
static long long count_spans(const char *body, size_t len)
{
	static const int path[] = {1, 2, 2};
	const unsigned char *p = (const unsigned char *)body;

	return count_fields(p, p + len, path, 3);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Find header `name` in the head [p, p+n) and return its value (leading blanks skipped). */
static const char *header(const char *p, size_t n, const char *name)
{
	size_t len = strlen(name);
	const char *end = p + n, *line = memchr(p, '\n', n);

	while (line && line + 1 + len < end) {
		line++;
		if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
			line += len + 1;
			while (line < end && (*line == ' ' || *line == '\t'))
				line++;
			return line;
		}
		line = memchr(line, '\n', (size_t)(end - line));
	}
	return NULL;
}

static const char ok_pb[] = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
			   "Content-Length: 0\r\n\r\n";
static const char ok_json[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			     "Content-Length: 2\r\n\r\n{}";
static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
			  "Connection: close\r\n\r\n";

/* Consume the body of `body` bytes that follows the head buf[0, head): what is already in
 * buf, then from the socket. With `keep`, the body is copied there; otherwise it is read into
 * buf and dropped. Whatever follows the body in buf (a pipelined request) is moved to its
 * start and *have updated. Returns 0, or -1 if the connection ended first. */
static int take_body(int fd, char *buf, size_t *have, size_t head, long long body, char *keep)
{
	size_t extra = *have - head, got;
	long long left = body;

	if ((long long)extra >= left) {
		if (keep)
			memcpy(keep, buf + head, (size_t)left);
		memmove(buf, buf + head + left, extra - (size_t)left);
		*have = extra - (size_t)left;
		return 0;
	}
	if (keep)
		memcpy(keep, buf + head, extra);
	left -= (long long)extra;
	*have = 0;
	got = extra;
	while (left > 0) {
		size_t want = keep ? (size_t)left : (left < BUF_SIZE ? (size_t)left : BUF_SIZE);
		ssize_t r = read(fd, keep ? keep + got : buf, want);
		if (r <= 0)
			return -1;
		left -= r;
		got += (size_t)r;
	}
	return 0;
}

/* One keep-alive connection: read a head, take its body, answer; until EOF. The answer is
 * sent once the whole body has been read, as a collector would. */
static void *serve(void *arg)
{
	int fd = (int)(long)arg, json, ok;
	char *buf = malloc(BUF_SIZE), *eoh, *keep;
	size_t have = 0, head;
	long long body, spans;
	const char *cl, *ct;

	while (buf) {
		eoh = have >= 4 ? memmem(buf, have, "\r\n\r\n", 4) : NULL;
		if (!eoh) {
			ssize_t r = have < HEAD_MAX ? read(fd, buf + have, BUF_SIZE - have) : -1;
			if (r <= 0)
				break;
			have += (size_t)r;
			continue;
		}
		head = (size_t)(eoh - buf) + 4;
		cl = header(buf, head, "content-length");
		ct = header(buf, head, "content-type");
		json = ct && strncasecmp(ct, "application/json", 16) == 0;
		body = cl && !header(buf, head, "transfer-encoding") ? strtoll(cl, NULL, 10) : -1;
		if (body < 0) {
			write_all(fd, bad, sizeof(bad) - 1);
			break;
		}
		/* Spans are counted in uncompressed protobuf bodies of a sane size only. */
		keep = !json && !header(buf, head, "content-encoding") && body <= BODY_MAX
			       ? malloc(body ? (size_t)body : 1)
			       : NULL;
		ok = take_body(fd, buf, &have, head, body, keep) == 0;
		spans = ok && keep ? count_spans(keep, (size_t)body) : 0;
		free(keep);
		if (!ok)
			break;
		if (spans > 0)
			__atomic_fetch_add(&n_spans, (unsigned long long)spans, __ATOMIC_RELAXED);
		__atomic_fetch_add(&n_requests, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&n_body_bytes, (unsigned long long)body, __ATOMIC_RELAXED);
		if (json ? write_all(fd, ok_json, sizeof(ok_json) - 1)
			 : write_all(fd, ok_pb, sizeof(ok_pb) - 1))
			break;
	}
	free(buf);
	close(fd);
	return NULL;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(long)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			return NULL;
		}
		if (pthread_create(&t, NULL, serve, (void *)(long)fd) != 0)
			close(fd);
		else
			pthread_detach(t);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int lfd, one = 1, sig;
	sigset_t set;
	pthread_t t;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(argc > 1 ? (unsigned short)atoi(argv[1]) : 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 128) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen)) {
		perror("sink");
		return 1;
	}
	/* Signals are taken by sigwait in the main thread only. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("%u\n", ntohs(a.sin_port));
	fflush(stdout);
	if (pthread_create(&t, NULL, acceptor, (void *)(long)lfd) != 0)
		return 1;
	do {
		sigwait(&set, &sig);
		printf("sink: requests %llu body_bytes %llu spans %llu\n",
		       __atomic_load_n(&n_requests, __ATOMIC_RELAXED),
		       __atomic_load_n(&n_body_bytes, __ATOMIC_RELAXED),
		       __atomic_load_n(&n_spans, __ATOMIC_RELAXED));
		fflush(stdout);
	} while (sig == SIGUSR1);
	_exit(0);
}
