/*
 * curl_multi.c - concurrent libcurl transfers through the multi interface, from several
 * threads, each thread with its own multi handle, for the end-to-end tests. No tracing code.
 *
 * Usage: curl_multi --base URL [--threads T] [--transfers N] [--rounds R] [--serve]
 *                   [--api perform|socket] [--cacert PEM]
 *
 * Each thread runs R rounds; a round adds its N easy handles to the thread's multi handle at
 * once, drives them until all are done, reads every CURLMSG_DONE with curl_multi_info_read and
 * removes the handles. --api perform (the default) drives them with curl_multi_perform +
 * curl_multi_poll; --api socket with curl_multi_socket_action and the socket and timer
 * callbacks (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION) around poll(), as event-loop
 * programs do. The easy handles are reused
 * from round to round (same handle, new URL). URLs: <base><prefix>/<round>/<i>.
 *
 * Without --serve the prefix is "/t<thread>". With --serve the program is also a server: it
 * listens on an ephemeral port of 127.0.0.1, prints the port as the first line of stdout, and
 * each thread first accepts one connection and reads one request head from it (with plain
 * socket calls: the agent makes that a SERVER span, the thread's current request); the prefix
 * is then that request's path, and after its transfers the thread answers it (200, a one-line
 * body) and closes the connection. So every transfer's CLIENT span must be a child of the
 * SERVER span of the thread that added it.
 *
 * Output: one JSON line per transfer ({"url":..., "result":..., "status":...}) on stdout.
 * Exit status 0 if every transfer succeeded with status 200, 1 otherwise, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#define MAX_N 64

static const char *o_base, *o_cacert;
static int o_threads = 2, o_transfers = 4, o_rounds = 1, o_serve, o_socket_api;
static int lfd = -1;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;

static size_t sink(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* Read one request head; its path into path. 0 or -1. */
static int read_request(int fd, char *path, size_t cap)
{
	char buf[8192];
	size_t len = 0;
	while (len < sizeof(buf) - 1) {
		ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	char *sp = strchr(buf, ' ');
	char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
	if (sp2 == NULL || (size_t)(sp2 - sp - 1) >= cap)
		return -1;
	memcpy(path, sp + 1, (size_t)(sp2 - sp - 1));
	path[sp2 - sp - 1] = '\0';
	return 0;
}

/* The sockets and the timer libcurl asks a socket-API program to watch (one per thread). */
struct watch {
	struct pollfd fds[2 * MAX_N];
	int nfds;
	long timeout_ms; /* -1: none */
};

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
{
	(void)e;
	(void)sockp;
	struct watch *w = userp;
	int i = 0;
	while (i < w->nfds && w->fds[i].fd != s)
		i++;
	if (what == CURL_POLL_REMOVE) {
		if (i < w->nfds)
			w->fds[i] = w->fds[--w->nfds];
		return 0;
	}
	if (i == w->nfds) {
		if (w->nfds == 2 * MAX_N)
			return -1;
		w->nfds++;
	}
	w->fds[i].fd = s;
	w->fds[i].events =
	    (short)(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	((struct watch *)userp)->timeout_ms = timeout_ms;
	return 0;
}

static int drive_socket_api(CURLM *m, struct watch *w)
{
	int running = 0;
	if (curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
		return -1;
	while (running) {
		int t = w->timeout_ms < 0 || w->timeout_ms > 1000 ? 1000 : (int)w->timeout_ms;
		struct pollfd fds[2 * MAX_N];
		int nfds = w->nfds;
		memcpy(fds, w->fds, sizeof(fds[0]) * (size_t)nfds);
		int r = poll(fds, (nfds_t)nfds, t);
		if (r < 0)
			return -1;
		if (r == 0 &&
		    curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
			return -1;
		for (int i = 0; i < nfds && r > 0; i++) {
			int ev = ((fds[i].revents & POLLIN) ? CURL_CSELECT_IN : 0) |
			         ((fds[i].revents & POLLOUT) ? CURL_CSELECT_OUT : 0) |
			         ((fds[i].revents & (POLLERR | POLLHUP)) ? CURL_CSELECT_ERR : 0);
			if (ev && curl_multi_socket_action(m, fds[i].fd, ev, &running) != CURLM_OK)
				return -1;
		}
	}
	return 0;
}

static int drive_perform(CURLM *m)
{
	int running = 0;
	do {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			return -1;
		if (running && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
			return -1;
	} while (running);
	return 0;
}

static int run_round(CURLM *m, struct watch *w, CURL **h, int n, const char *prefix, int round)
{
	char urls[MAX_N][512];
	int bad = 0;
	for (int i = 0; i < n; i++) {
		snprintf(urls[i], sizeof(urls[i]), "%s%s/%d/%d", o_base, prefix, round, i);
		curl_easy_setopt(h[i], CURLOPT_URL, urls[i]);
		if (curl_multi_add_handle(m, h[i]) != CURLM_OK)
			bad++;
	}
	if ((o_socket_api ? drive_socket_api(m, w) : drive_perform(m)) < 0)
		return n;
	CURLMsg *msg;
	int left, done = 0;
	while ((msg = curl_multi_info_read(m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		long status = 0;
		char *url = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_EFFECTIVE_URL, &url);
		pthread_mutex_lock(&out_lock);
		printf("{\"url\": \"%s\", \"result\": %d, \"status\": %ld}\n", url ? url : "",
		       (int)msg->data.result, status);
		fflush(stdout);
		pthread_mutex_unlock(&out_lock);
		if (msg->data.result != CURLE_OK || status != 200)
			bad++;
		done++;
	}
	for (int i = 0; i < n; i++)
		curl_multi_remove_handle(m, h[i]);
	return bad + (n - done);
}

static void *worker(void *arg)
{
	int t = (int)(long)arg, bad = 0, cfd = -1;
	char prefix[256];
	snprintf(prefix, sizeof(prefix), "/t%d", t);
	if (o_serve) {
		cfd = accept(lfd, NULL, NULL);
		if (cfd < 0 || read_request(cfd, prefix, sizeof(prefix)) < 0) {
			bad = 1;
			goto out;
		}
	}
	CURLM *m = curl_multi_init();
	struct watch w = {.timeout_ms = -1};
	curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(m, CURLMOPT_SOCKETDATA, &w);
	curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(m, CURLMOPT_TIMERDATA, &w);
	CURL *h[MAX_N];
	for (int i = 0; i < o_transfers; i++) {
		h[i] = curl_easy_init();
		curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(h[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 20L);
		if (o_cacert)
			curl_easy_setopt(h[i], CURLOPT_CAINFO, o_cacert);
	}
	for (int r = 0; r < o_rounds; r++)
		bad += run_round(m, &w, h, o_transfers, prefix, r);
	for (int i = 0; i < o_transfers; i++)
		curl_easy_cleanup(h[i]);
	curl_multi_cleanup(m);
	if (cfd >= 0) {
		char resp[256];
		int n =
		    snprintf(resp, sizeof(resp),
		             "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n%s",
		             bad ? "bad" : "ok\n");
		if (write(cfd, resp, (size_t)n) != n)
			bad++;
	}
out:
	if (cfd >= 0)
		close(cfd);
	pthread_mutex_lock(&out_lock);
	failures += bad;
	pthread_mutex_unlock(&out_lock);
	return NULL;
}

static int listen_any(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	return fd;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--serve")) {
			o_serve = 1;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "%s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--base"))
			o_base = v;
		else if (!strcmp(a, "--threads"))
			o_threads = atoi(v);
		else if (!strcmp(a, "--transfers"))
			o_transfers = atoi(v);
		else if (!strcmp(a, "--rounds"))
			o_rounds = atoi(v);
		else if (!strcmp(a, "--cacert"))
			o_cacert = v;
		else if (!strcmp(a, "--api") && (!strcmp(v, "socket") || !strcmp(v, "perform")))
			o_socket_api = !strcmp(v, "socket");
		else {
			fprintf(stderr, "unknown option %s\n", a);
			return 2;
		}
	}
	if (o_base == NULL || o_threads < 1 || o_threads > 64 || o_transfers < 1 ||
	    o_transfers > MAX_N || o_rounds < 1) {
		fprintf(stderr, "usage: curl_multi --base URL [--threads T] [--transfers N] "
		                "[--rounds R] [--serve] [--api perform|socket] [--cacert PEM]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (o_serve && (lfd = listen_any()) < 0) {
		perror("listen");
		return 2;
	}
	pthread_t th[64];
	for (int t = 0; t < o_threads; t++)
		pthread_create(&th[t], NULL, worker, (void *)(long)t);
	for (int t = 0; t < o_threads; t++)
		pthread_join(th[t], NULL);
	if (lfd >= 0)
		close(lfd);
	curl_global_cleanup();
	return failures ? 1 : 0;
}
