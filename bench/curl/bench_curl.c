/*
 * bench_curl.c - the cost of one curl_easy_perform, for bench/curl/run.sh.
 *
 *   bench_curl URL N [WARMUP [HEADER]]
 *
 * One easy handle, kept alive (the connection is reused), a write callback that discards the
 * body. WARMUP transfers (default 200) first, then N timed ones. HEADER: one header line the
 * program sets itself (CURLOPT_HTTPHEADER), to measure what libcurl charges for one more
 * line, the agent aside. Prints one JSON line:
 *   {"n": N, "median_ns": .., "p10_ns": .., "p90_ns": .., "thread_cpu_ns": ..,
 *    "process_cpu_ns": .., "failed": ..}
 * median/p10/p90: wall time (CLOCK_MONOTONIC) of one curl_easy_perform; thread_cpu_ns: CPU time
 * of the calling thread per transfer (CLOCK_THREAD_CPUTIME_ID over the timed loop);
 * process_cpu_ns: the same for the whole process (the agent's exporter thread included).
 * The timed loop is the function timed_loop(), which callgrind can isolate with
 * --toggle-collect=timed_loop. Exit status 1 if any transfer failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <curl/curl.h>

static size_t sink(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

static long long now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* Not inlined: the name is callgrind's toggle. */
__attribute__((noinline)) int timed_loop(CURL *h, long n, long long *t)
{
	int failed = 0;
	for (long i = 0; i < n; i++) {
		long long t0 = now_ns(CLOCK_MONOTONIC);
		failed += curl_easy_perform(h) != CURLE_OK;
		t[i] = now_ns(CLOCK_MONOTONIC) - t0;
	}
	return failed;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_curl URL N [WARMUP [HEADER]]\n");
		return 2;
	}
	long n = atol(argv[2]), warm = argc > 3 ? atol(argv[3]) : 200;
	long long *t = calloc((size_t)(n > warm ? n : warm) + 1, sizeof(*t));
	if (n < 1 || t == NULL)
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	struct curl_slist *hdr = argc > 4 ? curl_slist_append(NULL, argv[4]) : NULL;
	if (hdr)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	int failed = timed_loop(h, warm, t);
	long long c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), p0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	failed += timed_loop(h, n, t);
	long long c1 = now_ns(CLOCK_THREAD_CPUTIME_ID), p1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("{\"n\": %ld, \"median_ns\": %lld, \"p10_ns\": %lld, \"p90_ns\": %lld, "
	       "\"thread_cpu_ns\": %lld, \"process_cpu_ns\": %lld, \"failed\": %d}\n",
	       n, t[n / 2], t[n / 10], t[n * 9 / 10], (c1 - c0) / n, (p1 - p0) / n, failed);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	curl_global_cleanup();
	free(t);
	return failed ? 1 : 0;
}
