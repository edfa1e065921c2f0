/*
 * forksrv.c - a server that forks while a request is in flight, for the end-to-end tests.
 *
 * Usage: forksrv [--child close|serve]
 *
 * Binds an ephemeral port on 127.0.0.1 and prints it as the first line of stdout, accepts one
 * connection, reads one request head (up to the blank line), then forks:
 *   close (default): the child closes its copy of the connection and exits normally (atexit
 *     handlers run); the parent waits for it, then answers "200 OK" and exits: a program that
 *     forks a helper (a worker, a subprocess) in the middle of a request;
 *   serve: the child answers the request and exits; the parent closes its copy, waits for the
 *     child and exits: a server that hands the connection to a child.
 * No tracing code: the agent must follow the request on its own.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void answer(int c)
{
	size_t off = 0;
	while (off < sizeof(reply) - 1) {
		ssize_t n = write(c, reply + off, sizeof(reply) - 1 - off);
		if (n <= 0)
			die("write");
		off += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	int serve_in_child = argc > 2 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "serve") == 0;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	char buf[8192];
	size_t have = 0;
	int l = socket(AF_INET, SOCK_STREAM, 0), c, st;

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die("listen");
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	while (have < sizeof(buf) - 1) {
		ssize_t n = read(c, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			die("read");
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (serve_in_child)
			answer(c);
		close(c);
		close(l);
		exit(0);
	}
	if (!serve_in_child) {
		if (waitpid(pid, &st, 0) < 0)
			die("waitpid");
		answer(c);
		close(c);
	} else {
		close(c);
		if (waitpid(pid, &st, 0) < 0)
			die("waitpid");
	}
	close(l);
	return 0;
}
