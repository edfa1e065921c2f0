/*
 * queue.h - bounded multi-producer multi-consumer ring of finished spans (internal to exporter/).
 *
 * Producers (any host thread, also a signal handler that interrupted another producer) take no
 * lock, allocate nothing and make no syscall except one mmap, the very first time. Consumers
 * are in practice the single exporter thread.
 */
#ifndef EXP_QUEUE_H
#define EXP_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "exp_span.h"

struct exp_qslot;

struct exp_queue {
	/* Set by exp_queue_init, then read-only. */
	uint64_t cap;     /* number of slots */
	uint64_t wake_at; /* queue length at which exp_queue_push() returns 1 (batch size) */
	uint64_t wake_high; /* ... and 2: half the capacity, at least wake_at */
	/* Mapped on the first push; NULL until then. */
	struct exp_qslot *slots;
	/* Positions: tail = spans ever accepted, head = spans ever taken (since init/reset). */
	_Alignas(64) uint64_t tail;
	_Alignas(64) uint64_t head;
};

/* Set capacity and wake threshold; maps nothing. cap >= 1, 1 <= wake_at <= cap. Must not run
 * while any other thread uses the queue. Returns 0 or -EINVAL. */
int exp_queue_init(struct exp_queue *q, uint64_t cap, uint64_t wake_at);

/* Copy *s into the queue (only the used part of its string buffer). Returns 0; 1 if this push
 * made the queue length equal to wake_at, 2 if equal to wake_high (the caller may then wake
 * the consumer); -ENOBUFS if the queue is full; -ENOMEM if the ring could not be mapped.
 * Lock-free, async-signal-safe. */
int exp_queue_push(struct exp_queue *q, const struct exp_span *s);

/* Take the oldest span into *out. Returns 1, or 0 if the queue is empty or the oldest slot is
 * still being written by a producer (try again later). */
int exp_queue_pop(struct exp_queue *q, struct exp_span *out);

/* Spans accepted but not yet taken (approximate while producers run). */
uint64_t exp_queue_len(const struct exp_queue *q);

/* Spans ever accepted / taken since init or reset. */
uint64_t exp_queue_accepted(const struct exp_queue *q);
uint64_t exp_queue_taken(const struct exp_queue *q);

/* Forget everything: unmap the ring, zero the positions (the next push maps a fresh one).
 * Only when no other thread uses the queue: after fork in the child, or after the consumer
 * stopped. */
void exp_queue_reset(struct exp_queue *q);

#endif
