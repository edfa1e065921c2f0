/*
 * sink.c - a local OTLP/HTTP receiver that discards: the "collector" of the benchmarks.
 *
 *   sink [PORT]
 *
 * Listens on 127.0.0.1:PORT (0 or absent: a free port), prints the port on the first line of
 * stdout, and answers every HTTP/1.1 request with 200 and an empty OTLP response (an empty
 * ExportTraceServiceResponse for protobuf, "{}" for JSON) after reading and discarding its body.
 * Keep-alive connections are served by one thread each, so the exporter's connection reuse is
 * exercised as with a real collector. On SIGTERM or SIGINT it prints one line on stdout,
 * "sink: requests N body_bytes B", and exits 0.
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

static unsigned long long n_requests, n_body_bytes;

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

/* One keep-alive connection: read a head, discard its body, answer; until EOF. The answer is
 * sent once the whole body has been read, as a collector would. */
static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char *buf = malloc(BUF_SIZE);
	size_t have = 0;
	long long body;

	while (buf) {
		char *eoh = have >= 4 ? memmem(buf, have, "\r\n\r\n", 4) : NULL;
		if (!eoh) {
			if (have >= HEAD_MAX)
				break;
			ssize_t r = read(fd, buf + have, BUF_SIZE - have);
			if (r <= 0)
				break;
			have += (size_t)r;
			continue;
		}
		size_t head = (size_t)(eoh - buf) + 4;
		const char *cl = header(buf, head, "content-length");
		const char *ct = header(buf, head, "content-type");
		int json = ct && strncasecmp(ct, "application/json", 16) == 0;
		body = cl && !header(buf, head, "transfer-encoding") ? strtoll(cl, NULL, 10) : -1;
		if (body < 0) {
			write_all(fd, bad, sizeof(bad) - 1);
			break;
		}
		/* Discard the body: first what is already in the buffer, then from the socket. */
		size_t extra = have - head;
		long long left = body;
		if ((long long)extra >= left) {
			memmove(buf, buf + head + left, extra - (size_t)left);
			have = extra - (size_t)left;
			left = 0;
		} else {
			left -= (long long)extra;
			have = 0;
		}
		while (left > 0) {
			ssize_t r = read(fd, buf, left < BUF_SIZE ? (size_t)left : BUF_SIZE);
			if (r <= 0)
				goto out;
			left -= r;
		}
		__atomic_fetch_add(&n_requests, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&n_body_bytes, (unsigned long long)body, __ATOMIC_RELAXED);
		if (json ? write_all(fd, ok_json, sizeof(ok_json) - 1)
			 : write_all(fd, ok_pb, sizeof(ok_pb) - 1))
			break;
	}
out:
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
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("%u\n", ntohs(a.sin_port));
	fflush(stdout);
	if (pthread_create(&t, NULL, acceptor, (void *)(long)lfd) != 0)
		return 1;
	sigwait(&set, &sig);
	printf("sink: requests %llu body_bytes %llu\n",
	       __atomic_load_n(&n_requests, __ATOMIC_RELAXED),
	       __atomic_load_n(&n_body_bytes, __ATOMIC_RELAXED));
	fflush(stdout);
	_exit(0);
}
