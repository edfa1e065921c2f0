/*
 * unwind_cost.c - what one call-site capture's unwinding costs, by unwinder and stack depth.
 *
 * Usage: unwind_cost [ITERATIONS]
 *
 * Calls, at a stack depth of D frames below main (D = 4, 8, 16, 32), each unwinder with room
 * for 48 return addresses, as callsite.c does:
 *   unw_backtrace   libunwind (dlopen'ed "libunwind.so.8", as the agent does)
 *   backtrace       glibc's backtrace() (libgcc's unwinder: the agent's fallback)
 * and prints ns per call (median of 7 runs of ITERATIONS calls, default 20000) and the frames
 * found. Run it under callgrind to get instructions instead (the driver does).
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*bt_fn)(void **, int);

static int (*volatile fn_to_call)(void **, int);
static int frames_found;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int descend(int depth, long iters);
/* Called through a volatile pointer: the compiler cannot turn the recursion into a loop. */
static int (*volatile next_level)(int, long) = descend;

__attribute__((noinline)) static int descend(int depth, long iters)
{
	void *ip[48];
	long i;
	int n = 0;

	if (depth > 1)
		return next_level(depth - 1, iters) + 1; /* not a tail call: a frame per level */
	for (i = 0; i < iters; i++)
		n = fn_to_call(ip, 48);
	frames_found = n;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void measure(const char *name, bt_fn fn, int depth, long iters)
{
	double t[7];
	int r;

	fn_to_call = fn;
	descend(depth, 100); /* warm-up: caches, lazy binding, libgcc_s loading */
	for (r = 0; r < 7; r++) {
		double t0 = now_ns();

		descend(depth, iters);
		t[r] = (now_ns() - t0) / iters;
	}
	qsort(t, 7, sizeof(t[0]), cmp);
	printf("%-14s depth %2d: %7.0f ns per call (min %5.0f), %2d frames\n", name, depth, t[3],
	       t[0], frames_found);
}

int main(int argc, char **argv)
{
	static const int depths[] = {4, 8, 16, 32};
	long iters = argc > 1 ? atol(argv[1]) : 20000;
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	bt_fn unw = h ? (bt_fn)dlsym(h, "unw_backtrace") : NULL;
	const char *only = getenv("UNWINDER");
	unsigned i;

	for (i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		if (unw && (!only || strcmp(only, "unw_backtrace") == 0))
			measure("unw_backtrace", unw, depths[i], iters);
		if (!only || strcmp(only, "backtrace") == 0)
			measure("backtrace", backtrace, depths[i], iters);
	}
	return 0;
}
