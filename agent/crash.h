/*
 * crash.h - crash forensics: the fatal-signal handler that ends every span in flight with an
 * error and spools it, and the stack unwinder it shares with call-site capture (agent/crash.c).
 */
#ifndef WT_CRASH_H
#define WT_CRASH_H

#include <stdint.h>

#include "wt_guard.h"

/* Counts span starts on this thread: the first one, and one in 1024 after it, take the slow
 * path (install the handlers once; see whether modules were loaded since the module map was
 * made). */
extern WT_TLS uint32_t crash_tick;
void crash_span_slow(void);

/* Every span start (spans.c). Installs the fatal-signal handlers at the first span of the
 * process (not at start-up: a program may install its own only when it finds the default
 * disposition). Not async-signal-safe the first time (dlopen, mmap, mkdir). */
static inline void crash_on_span_begin(void)
{
	if (__builtin_expect((++crash_tick & 1023) == 1, 0))
		crash_span_slow();
}

/* Atfork child handler (lifecycle.c): the spool Resource gets the child's pid. */
void crash_atfork_child(void);

/* The unwinder for call-site capture (callsite.c): libunwind's unw_backtrace when libunwind
 * can be loaded (dlopen "libunwind.so.8"), else glibc's backtrace(). Loaded once; the first call
 * is not async-signal-safe. NULL if neither works. */
typedef int (*wt_backtrace_fn)(void **buf, int size);
wt_backtrace_fn crash_backtrace_fn(void);
/* The same with libunwind's cursor, step by step: slower per call than unw_backtrace, but
 * without the per-thread cache unw_backtrace builds at a thread's first call (~50 us): for a
 * thread's first captures. NULL without libunwind. */
wt_backtrace_fn crash_backtrace_cold_fn(void);

#endif
