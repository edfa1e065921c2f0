/*
 * callsite_client.c - an HTTP client that makes its requests from different, named functions,
 * for the call-site attribution tests (WIRETRACE_CAPTURE_CALLSITE) and the call-site benchmark.
 *
 * Usage: callsite_client PORT [COUNT [WHICH]]
 *
 * Makes COUNT (default 1) rounds of requests to 127.0.0.1:PORT; WHICH (default "all") picks
 * the functions, a comma list of:
 *   inventory  fetch_inventory(): GET /inventory on a new plain socket (send + recv)
 *   order      submit_order(): POST /orders with a body, on a new plain socket (writev)
 *   curl       fetch_with_curl(): GET /curl through libcurl's easy interface
 * Every request uses "Connection: close" and its response is read to the end. Exit 0 when every
 * response started with "HTTP/1.1 2". No tracing code: the agent must find the calling
 * function on its own. The functions are global and never inlined, and each does work after
 * its I/O, so that none of them ends in a tail call and each is a frame of its own.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static int port;
static int failures;

static int dial(void)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("callsite_client: connect");
		exit(2);
	}
	return fd;
}

/* Read the response to EOF; 0 if it is a 2xx. */
static int read_response(int fd)
{
	char buf[4096];
	size_t got = 0;
	ssize_t r;

	while ((r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0) {
		got += (size_t)r;
		if (got == sizeof(buf) - 1)
			got = 12; /* keep the status line, drop the rest */
	}
	buf[got] = '\0';
	close(fd);
	return strncmp(buf, "HTTP/1.1 2", 10) == 0 ? 0 : -1;
}

__attribute__((noinline)) int fetch_inventory(void)
{
	static const char req[] = "GET /inventory HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                          "Connection: close\r\n\r\n";
	int fd = dial();

	if (send(fd, req, sizeof(req) - 1, 0) != (ssize_t)sizeof(req) - 1)
		return -1;
	return read_response(fd);
}

__attribute__((noinline)) int submit_order(void)
{
	static char head[] = "POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n"
	                     "Content-Type: application/json\r\nConnection: close\r\n\r\n";
	static char body[] = "{\"sku\":42}\n";
	struct iovec iov[2] = {{head, sizeof(head) - 1}, {body, sizeof(body) - 1}};
	int fd = dial();

	if (writev(fd, iov, 2) != (ssize_t)(sizeof(head) - 1 + sizeof(body) - 1))
		return -1;
	return read_response(fd);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

__attribute__((noinline)) int fetch_with_curl(void)
{
	char url[64];
	long status = 0;
	CURLcode rc;
	CURL *h = curl_easy_init();

	if (!h)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/curl", port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return rc == CURLE_OK && status / 100 == 2 ? 0 : -1;
}

static void check(int rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "callsite_client: %s failed\n", what);
		failures++;
	}
}

int main(int argc, char **argv)
{
	const char *which = argc > 3 ? argv[3] : "all";
	int count = argc > 2 ? atoi(argv[2]) : 1, i;
	int all = strcmp(which, "all") == 0;

	if (argc < 2) {
		fprintf(stderr, "usage: callsite_client PORT [COUNT [WHICH]]\n");
		return 2;
	}
	port = atoi(argv[1]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (i = 0; i < count; i++) {
		if (all || strstr(which, "inventory"))
			check(fetch_inventory(), "fetch_inventory");
		if (all || strstr(which, "order"))
			check(submit_order(), "submit_order");
		if (all || strstr(which, "curl"))
			check(fetch_with_curl(), "fetch_with_curl");
	}
	curl_global_cleanup();
	return failures ? 1 : 0;
}
