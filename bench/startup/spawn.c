/*
 * spawn.c - start-up wall time, CPU time and peak RSS of a command, with and without
 * preloaded libraries, interleaved.
 *
 *   spawn ROUNDS [NAME=LIBRARY]... -- COMMAND [ARGS...]
 *
 * Each round runs COMMAND once bare (LD_PRELOAD removed from the environment) and then once per
 * NAME=LIBRARY with LD_PRELOAD=LIBRARY, so that the machine's drift over the run (other
 * tenants, CPU frequency, page cache) hits every variant alike. COMMAND's stdout goes to
 * /dev/null. For each run it prints one line:
 *
 *   VARIANT WALL_NS CPU_NS MAXRSS_KIB MINFLT STATUS
 *
 * WALL_NS is from just before fork() to the return of wait4(); CPU_NS (user + system),
 * MAXRSS_KIB and MINFLT (minor page faults) come from wait4()'s rusage, which covers the child
 * and the descendants it waited for (for `sh -c ls`, the shell and ls): CPU and faults are
 * summed, ru_maxrss is the largest resident set of any of them. Round 0 is a warm-up and is
 * not printed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int run(const char *variant, const char *lib, char **cmd, int print)
{
	struct rusage ru;
	long long t0 = now_ns(), wall;
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		perror("spawn: fork");
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 1);
		if (lib)
			setenv("LD_PRELOAD", lib, 1);
		else
			unsetenv("LD_PRELOAD");
		execvp(cmd[0], cmd);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid) {
		perror("spawn: wait4");
		return -1;
	}
	wall = now_ns() - t0;
	if (print)
		printf("%s %lld %lld %ld %ld %d\n", variant, wall,
		       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
			   (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL,
		       ru.ru_maxrss, ru.ru_minflt,
		       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 0, first = 2, cmd;

	for (cmd = first; cmd < argc && strcmp(argv[cmd], "--") != 0; cmd++)
		if (!strchr(argv[cmd], '='))
			rounds = 0;
	if (rounds < 1 || cmd + 1 >= argc) {
		fprintf(stderr, "usage: spawn ROUNDS [NAME=LIBRARY]... -- COMMAND [ARGS...]\n");
		return 2;
	}
	for (int r = 0; r <= rounds; r++) {
		if (run("bare", NULL, argv + cmd + 1, r > 0))
			return 1;
		for (int v = first; v < cmd; v++) {
			char name[64];
			const char *eq = strchr(argv[v], '=');
			snprintf(name, sizeof(name), "%.*s", (int)(eq - argv[v]), argv[v]);
			if (run(name, eq + 1, argv + cmd + 1, r > 0))
				return 1;
		}
	}
	return 0;
}
