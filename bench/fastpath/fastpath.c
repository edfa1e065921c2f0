/*
 * fastpath.c - the cost of a wrapped I/O call on an fd the agent does not trace.
 *
 *   fastpath MODE N [stub]
 *
 * MODE is one of
 *   write  N write() of 64 bytes to /dev/null
 *   read   N read() of 64 bytes from /dev/zero
 *   unix   N rounds of send()+recv() of 64 bytes each way on an AF_UNIX socketpair
 *          (4 calls per round); the agent does not track socketpair fds
 *   tcp    the same on a loopback TCP connection made here (socket+connect, accept): both
 *          ends are tracked sockets, and the first bytes each way are binary, so the agent
 *          classifies the connection as not HTTP; the N rounds measure the calls after that
 * and prints one line: "MODE calls wall_ns_per_call cpu_ns_per_call".
 *
 * The timed loop is a function of its own, never inlined (loop_write, loop_read, loop_pair for
 * unix and tcp), so that callgrind can count exactly the loop's instructions
 * (--toggle-collect=loop_*): the calls, the libc wrappers, and under LD_PRELOAD the agent's
 * hooks, nothing of the set-up. A
 * warm-up of a few calls before the loop resolves the PLT entries and the agent's real-symbol
 * pointers, so the loop counts steady-state calls only.
 *
 * A loopback TCP socket is opened first in every mode so that the agent's fd table has its
 * first chunk, as in any process that has sockets: the lookup then goes all the way to the
 * slot, which is the path a real program takes.
 *
 * With "stub", bench/fastpath/stub.c must be preloaded (after the agent, if the agent is
 * preloaded too): after the set-up and the warm-up, which use the real calls (so a tcp
 * connection is classified by real bytes), the stub is switched on and the timed loop's calls
 * return without a system call, which leaves the wrapper's own cost to time (see stub.c).
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define WARMUP 100

static char buf[MSG];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static __attribute__((noinline)) void loop_write(int fd, long n)
{
	for (long i = 0; i < n; i++)
		if (write(fd, buf, MSG) != MSG)
			die("write");
}

static __attribute__((noinline)) void loop_read(int fd, long n)
{
	for (long i = 0; i < n; i++)
		if (read(fd, buf, MSG) != MSG)
			die("read");
}

/* One round: a -> b, then b -> a. Messages are small and read at once, so each call moves
 * exactly MSG bytes on a local stream socket. */
static inline void round_trip(int a, int b)
{
	if (send(a, buf, MSG, 0) != MSG || recv(b, buf, MSG, MSG_WAITALL) != MSG)
		die("send/recv a->b");
	if (send(b, buf, MSG, 0) != MSG || recv(a, buf, MSG, MSG_WAITALL) != MSG)
		die("send/recv b->a");
}

/* unix and tcp share this loop (two identical functions would be folded into one by gcc). */
static __attribute__((noinline)) void loop_pair(int a, int b, long n)
{
	for (long i = 0; i < n; i++)
		round_trip(a, b);
}

/* A connected loopback TCP pair: *c from socket+connect, *s from accept. */
static void tcp_pair(int *c, int *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &alen))
		die("listen");
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	*s = accept(l, NULL, NULL);
	if (*s < 0)
		die("accept");
	close(l);
}

static double now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[1] : "";
	long n = argc > 2 ? atol(argv[2]) : 0, calls;
	int a = -1, b = -1, keep_c, keep_s;
	double w0, c0, w, c;

	if (n <= 0) {
		fprintf(stderr, "usage: fastpath write|read|unix|tcp N [stub]\n");
		return 2;
	}
	/* Binary bytes, never the start of an HTTP/1.x message. */
	for (int i = 0; i < MSG; i++)
		buf[i] = (char)(i * 37 + 1);
	tcp_pair(&keep_c, &keep_s); /* the fd table's first chunk exists, as in any server */
	if (strcmp(mode, "write") == 0 || strcmp(mode, "read") == 0) {
		a = mode[0] == 'w' ? open("/dev/null", O_WRONLY) : open("/dev/zero", O_RDONLY);
		if (a < 0)
			die("open");
	} else if (strcmp(mode, "unix") == 0) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			die("socketpair");
		a = sv[0];
		b = sv[1];
	} else if (strcmp(mode, "tcp") == 0) {
		tcp_pair(&a, &b);
	} else {
		fprintf(stderr, "fastpath: unknown mode '%s'\n", mode);
		return 2;
	}
	/* Warm-up, outside the counted loop; for tcp these first bytes classify both ends. */
	for (int i = 0; i < WARMUP; i++) {
		if (mode[0] == 'w')
			(void)!write(a, buf, MSG);
		else if (mode[0] == 'r')
			(void)!read(a, buf, MSG);
		else
			round_trip(a, b);
	}
	if (argc > 3 && strcmp(argv[3], "stub") == 0) {
		void (*stub)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "fastpath_stub");
		if (!stub) {
			fprintf(stderr, "fastpath: stub mode needs the stub library preloaded\n");
			return 2;
		}
		stub(1);
	}
	w0 = now_ns(CLOCK_MONOTONIC);
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	if (mode[0] == 'w')
		loop_write(a, n);
	else if (mode[0] == 'r')
		loop_read(a, n);
	else
		loop_pair(a, b, n);
	c = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
	w = now_ns(CLOCK_MONOTONIC) - w0;
	calls = mode[0] == 'w' || mode[0] == 'r' ? n : 4 * n;
	printf("%s %ld %.2f %.2f\n", mode, calls, w / calls, c / calls);
	return 0;
}
