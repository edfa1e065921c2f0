/*
 * crashsrv.c - a small HTTP/1.1 server that dies while serving a request, for the crash
 * forensics tests. Plain POSIX sockets, no tracing code: the agent must see the request in the
 * socket calls and record the crash itself.
 *
 * Usage: crashsrv [--port N] [--own-handler none|early|late]
 *
 * --port 0 (the default) binds an ephemeral port on 127.0.0.1 and prints it as the first line
 * of stdout. One connection at a time, keep-alive. Targets:
 *   /crash  crash_in_handler() writes through a NULL pointer: SIGSEGV
 *   /abort  abort_in_handler() calls abort(): SIGABRT
 *   /exit   answers, then exits 0
 *   other   200 "ok\n"
 * --own-handler early installs the program's own SIGSEGV handler at start-up (before any
 * request, so before the agent's first span); late installs it when the first request has been
 * read (after the agent installed its handler). The handler writes "own handler ran" to stderr
 * and exits with status 42, so a test can tell whose handler ran.
 *
 * The crashing functions are global and never inlined, so that their names are in the symbol
 * table and in the stack. Sanitizer builds: run it with ASAN_OPTIONS=handle_segv=0 so that the
 * SIGSEGV disposition stays the default one.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *own = "none";
static int own_installed;

static void own_handler(int sig)
{
	static const char msg[] = "own handler ran\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(43);
	_exit(42);
}

static void install_own(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = own_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	own_installed = 1;
}

/* no_sanitize: in sanitizer builds UBSan would report the NULL store and exit instead of
 * letting it fault, and the fault is what the test is about. */
__attribute__((noinline, no_sanitize("undefined"))) void crash_in_handler(const char *target)
{
	volatile int *volatile p = NULL;

	fprintf(stderr, "crashsrv: crashing on %s\n", target);
	*p = 42;
}

__attribute__((noinline)) void abort_in_handler(const char *target)
{
	fprintf(stderr, "crashsrv: aborting on %s\n", target);
	abort();
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one request head (no bodies in these tests); 0 at EOF. */
static int read_head(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len + 1 < cap) {
		ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);

		if (r <= 0)
			return 0;
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return 1;
	}
	return 0;
}

__attribute__((noinline)) int handle_request(int fd, const char *target)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";

	if (strcmp(own, "late") == 0 && !own_installed)
		install_own();
	if (strcmp(target, "/crash") == 0)
		crash_in_handler(target);
	if (strcmp(target, "/abort") == 0)
		abort_in_handler(target);
	if (send_all(fd, ok, sizeof(ok) - 1) < 0)
		return -1;
	return strcmp(target, "/exit") == 0 ? 1 : 0;
}

static int serve(int fd)
{
	char buf[8192], target[1024];

	while (read_head(fd, buf, sizeof(buf))) {
		int rc;

		if (sscanf(buf, "%*s %1023s", target) != 1)
			return -1;
		rc = handle_request(fd, target);
		if (rc)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int port = 0, ls, i, one = 1;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--own-handler") == 0)
			own = argv[i + 1];
	}
	if (strcmp(own, "early") == 0)
		install_own();
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 16) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
		perror("crashsrv: listen");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int c = accept(ls, NULL, NULL), rc;

		if (c < 0)
			return 1;
		rc = serve(c);
		close(c);
		if (rc > 0)
			return 0;
	}
}
