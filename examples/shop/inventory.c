/*
 * inventory.c - the demo shop's stock service: a plain C HTTP/1.1 server, no tracing code.
 *
 *   GET  /stock/{item}           200 {"item":"book","available":40}, 404 for an unknown item
 *   POST /stock/{item}/reserve   body {"quantity":N}: 200 {"reserved":N,"left":M}, 409 if short;
 *                                a reservation of LARGE_ORDER items or more takes ~300 ms (the
 *                                warehouse table is locked while a pallet is counted): the slow
 *                                span the demo's waterfall shows.
 *
 * Design: one detached thread per connection (accept, read the head and the Content-Length body
 * with read(), answer with write(), close): the classic thread-per-request server whose spans
 * the agent must parent correctly. Each response carries Connection: close, so there is one
 * request per connection. The stock table is guarded by one mutex.
 *
 * Usage: inventory [--port N]   (0 = any free port; prints "inventory: listening on HOST:PORT"
 * once it accepts connections, which is what the demo waits for).
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LARGE_ORDER 10
#define SLOW_MS 300
#define HEAD_MAX 8192
#define BODY_MAX 4096

struct item {
	const char *name;
	int available;
};

static struct item stock[] = {
	{"book", 40}, {"lamp", 12}, {"mug", 100}, {"pen", 500},
};
static pthread_mutex_t stock_lock = PTHREAD_MUTEX_INITIALIZER;

static struct item *find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(stock) / sizeof(stock[0]); i++)
		if (strlen(stock[i].name) == len && memcmp(stock[i].name, name, len) == 0)
			return &stock[i];
	return NULL;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
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

static void reply(int fd, int code, const char *reason, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 code, reason, strlen(body));
	if (write_all(fd, head, (size_t)n) == 0)
		write_all(fd, body, strlen(body));
}

/* Read until the end of the head; then the body up to Content-Length. Returns the total bytes
 * in buf (head + body) and sets *body_off, or -1. */
static int read_request(int fd, char *buf, size_t cap, size_t *body_off, size_t *body_len)
{
	size_t have = 0;
	char *end = NULL;
	while (!end) {
		if (have == cap - 1)
			return -1;
		ssize_t r = read(fd, buf + have, cap - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	*body_off = (size_t)(end + 4 - buf);
	const char *cl = strcasestr(buf, "\r\nContent-Length:");
	size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
	if (want > BODY_MAX)
		return -1;
	while (have - *body_off < want) {
		ssize_t r = read(fd, buf + have, cap - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	buf[have] = '\0';
	*body_len = want;
	return (int)have;
}

static void handle(int fd, char *req, const char *body)
{
	char method[8], path[256], out[256];
	if (sscanf(req, "%7s %255s", method, path) != 2) {
		reply(fd, 400, "Bad Request", "{\"error\":\"bad request line\"}");
		return;
	}
	if (strncmp(path, "/stock/", 7) != 0) {
		reply(fd, 404, "Not Found", "{\"error\":\"no such path\"}");
		return;
	}
	const char *name = path + 7;
	const char *slash = strchr(name, '/');
	size_t nlen = slash ? (size_t)(slash - name) : strlen(name);
	int reserve = slash && strcmp(slash, "/reserve") == 0;
	if ((slash && !reserve) || (reserve != (strcmp(method, "POST") == 0)) ||
	    (!reserve && strcmp(method, "GET") != 0)) {
		reply(fd, 404, "Not Found", "{\"error\":\"no such route\"}");
		return;
	}
	struct item *it = find(name, nlen);
	if (!it) {
		reply(fd, 404, "Not Found", "{\"error\":\"unknown item\"}");
		return;
	}
	if (!reserve) {
		pthread_mutex_lock(&stock_lock);
		snprintf(out, sizeof(out), "{\"item\":\"%s\",\"available\":%d}", it->name,
			 it->available);
		pthread_mutex_unlock(&stock_lock);
		reply(fd, 200, "OK", out);
		return;
	}
	const char *q = strstr(body, "\"quantity\"");
	int qty = q && strchr(q, ':') ? atoi(strchr(q, ':') + 1) : 0;
	if (qty <= 0) {
		reply(fd, 400, "Bad Request", "{\"error\":\"quantity must be a positive number\"}");
		return;
	}
	if (qty >= LARGE_ORDER) { /* counting a pallet: the slow part of the demo */
		struct timespec ts = {0, SLOW_MS * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_lock(&stock_lock);
	int ok = it->available >= qty;
	if (ok)
		it->available -= qty;
	snprintf(out, sizeof(out), "{\"item\":\"%s\",\"reserved\":%d,\"left\":%d}", it->name,
		 ok ? qty : 0, it->available);
	pthread_mutex_unlock(&stock_lock);
	reply(fd, ok ? 200 : 409, ok ? "OK" : "Conflict", out);
}

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char buf[HEAD_MAX + BODY_MAX + 1];
	size_t off = 0, len = 0;
	if (read_request(fd, buf, sizeof(buf), &off, &len) >= 0) {
		buf[off + len] = '\0';
		handle(fd, buf, buf + off);
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	int port = 8082;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			port = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 64) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
		fprintf(stderr, "inventory: cannot listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	printf("inventory: listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("inventory: accept");
			return 1;
		}
		pthread_t t;
		if (pthread_create(&t, NULL, serve, (void *)(long)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}
