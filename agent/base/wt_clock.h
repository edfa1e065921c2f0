/*
 * wt_clock.h - time sources (leaf).
 *
 * Span timestamps are wall-clock nanoseconds since the Unix epoch (OTLP start/end_time_unix_nano);
 * timeouts and back-off use the monotonic clock. Both go through the vDSO (~18 ns here), no
 * syscall, and are async-signal-safe.
 */
#ifndef WT_CLOCK_H
#define WT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t wt_clock_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t wt_clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
