/*
 * ids.h - trace and span id generation.
 *
 * Ids come from a per-thread xoshiro256** generator in initial-exec TLS, seeded lazily from
 * getrandom(2) on a thread's first id and again after every fork. All 128 bits of a trace id
 * are generator output, so a caller may set the W3C Level 2 random-trace-id flag
 * (CTX_FLAG_RANDOM) on every root span it starts (W3C Trace Context Level 2, "Random Trace ID
 * Flag": at least the right-most 7 bytes must be random). An all-zero id is never returned
 * (W3C: all-zero trace-id and parent-id are invalid).
 *
 * Thread and signal safety: all three functions are async-signal-safe (TLS, one atomic load,
 * getrandom only when seeding; no locks, no malloc) and may be called from any thread. They do
 * not change errno.
 */
#ifndef CTX_IDS_H
#define CTX_IDS_H

#include <stdint.h>

/* Fill `out` with a new random, non-zero 16-byte trace id. */
void ctx_ids_new_trace(uint8_t out[16]);

/* Fill `out` with a new random, non-zero 8-byte span id. */
void ctx_ids_new_span(uint8_t out[8]);

/* Call in the child after fork() (the agent's pthread_atfork child handler). Bumps a global
 * fork generation; every thread's generator reseeds on its next id when its own generation
 * differs, so the child never repeats the ids its parent goes on to produce. */
void ctx_ids_atfork_child(void);

#endif
