/*
 * queue.c - the finished-span queue: a bounded lock-free MPMC ring (see queue.h).
 *
 * Algorithm: Dmitry Vyukov's bounded MPMC queue. Every slot carries a sequence number that says
 * whose turn it is: a producer may fill the slot for position `pos` when seq == pos, then
 * publishes seq = pos + 1; a consumer may empty it for `pos` when seq == pos + 1, then releases
 * it with seq = pos + cap for the producer one lap later. Positions are claimed with a CAS on
 * tail (producers) or head (consumers). Positions are 64-bit and never wrap in practice.
 *
 * Why this one: a producer never waits for anybody. If the slot at its position is not free
 * the queue is full and the span is dropped (the SDK specification's batch processor drops,
 * it never blocks). A producer interrupted by a signal between claiming and publishing its slot
 * only delays the consumer, which sees "not ready yet" at that position and tries again later;
 * a signal handler that enqueues on the same thread claims the next position and completes, so
 * there is no deadlock. No malloc, no lock, no syscall: async-signal-safe.
 *
 * Memory: the ring (about 2.7 KiB per slot, 5.5 MiB for the default 2048 slots) is mapped on the
 * first push with mmap, so a process that never makes a span pays nothing for it; pages are
 * touched only as slots are used. The zero page must mean "slot i is free for position i", so
 * the stored sequence is relative to the slot index (stored = seq - i) and mapping needs no
 * initialisation pass. Two producers racing on the first push each map a ring; the CAS picks
 * one and the loser unmaps its own: no producer waits for another to finish initialising.
 *
 * Copies are short: only the used part of a span's string buffer is copied in and out
 * (the fixed part is about 660 bytes; a typical HTTP span has 300-500 bytes of strings).
 */
#include "queue.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

struct exp_qslot {
	_Alignas(64) uint64_t seq; /* relative to the slot index, see above */
	struct exp_span span;
};

/* Copy only what a record uses: its fixed fields, its attributes and events (not the unused
 * slots of those arrays: a span whose attributes are still to be made on the exporter thread
 * has none) and the used part of its string buffer. Counts beyond the arrays' capacity are
 * copied as they are and clamped by every reader, so only the capacity is copied then. */
static void copy_span(struct exp_span *d, const struct exp_span *s)
{
	size_t na = s->nattrs < EXP_SPAN_MAX_ATTRS ? s->nattrs : EXP_SPAN_MAX_ATTRS;
	size_t ne = s->nevents < EXP_SPAN_MAX_EVENTS ? s->nevents : EXP_SPAN_MAX_EVENTS;
	size_t used = exp_str_used(s);

	memcpy(d, s, offsetof(struct exp_span, attrs));
	memcpy(d->attrs, s->attrs, na * sizeof(s->attrs[0]));
	memcpy(d->events, s->events, ne * sizeof(s->events[0]));
	memcpy(&d->buf_used, &s->buf_used,
	       offsetof(struct exp_span, buf) - offsetof(struct exp_span, buf_used) + used);
}

int exp_queue_init(struct exp_queue *q, uint64_t cap, uint64_t wake_at)
{
	if (cap < 1 || cap > (SIZE_MAX / sizeof(struct exp_qslot)) || wake_at < 1 || wake_at > cap)
		return -EINVAL;
	q->cap = cap;
	q->wake_at = wake_at;
	q->wake_high = cap / 2 > wake_at ? cap / 2 : wake_at;
	q->slots = NULL;
	q->tail = 0;
	q->head = 0;
	return 0;
}

static struct exp_qslot *ring(struct exp_queue *q, bool create)
{
	struct exp_qslot *s = __atomic_load_n(&q->slots, __ATOMIC_ACQUIRE), *expected = NULL;
	void *p;

	if (s || !create)
		return s;
	p = mmap(NULL, q->cap * sizeof(struct exp_qslot), PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (__atomic_compare_exchange_n(&q->slots, &expected, (struct exp_qslot *)p, false,
	                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return p;
	munmap(p, q->cap * sizeof(struct exp_qslot));
	return expected;
}

int exp_queue_push(struct exp_queue *q, const struct exp_span *s)
{
	struct exp_qslot *slots = ring(q, true), *slot;
	uint64_t pos, idx, seq, head;
	int64_t diff;

	if (!slots)
		return -ENOMEM;
	pos = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
	for (;;) {
		idx = pos % q->cap;
		slot = &slots[idx];
		seq = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE) + idx;
		diff = (int64_t)(seq - pos);
		if (diff == 0) {
			if (__atomic_compare_exchange_n(&q->tail, &pos, pos + 1, true,
			                                __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
				break;
		} else if (diff < 0) {
			return -ENOBUFS; /* the slot one lap back is not consumed yet: full */
		} else {
			pos = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
		}
	}
	copy_span(&slot->span, s);
	__atomic_store_n(&slot->seq, pos + 1 - idx, __ATOMIC_RELEASE);
	head = __atomic_load_n(&q->head, __ATOMIC_SEQ_CST);
	diff = (int64_t)(pos + 1 - head);
	return diff == (int64_t)q->wake_high ? 2 : diff == (int64_t)q->wake_at;
}

int exp_queue_pop(struct exp_queue *q, struct exp_span *out)
{
	struct exp_qslot *slots = ring(q, false), *slot;
	uint64_t pos, idx, seq;
	int64_t diff;

	if (!slots)
		return 0;
	pos = __atomic_load_n(&q->head, __ATOMIC_RELAXED);
	for (;;) {
		idx = pos % q->cap;
		slot = &slots[idx];
		seq = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE) + idx;
		diff = (int64_t)(seq - (pos + 1));
		if (diff == 0) {
			if (__atomic_compare_exchange_n(&q->head, &pos, pos + 1, true,
			                                __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
				break;
		} else if (diff < 0) {
			return 0; /* empty, or the producer of this slot has not finished */
		} else {
			pos = __atomic_load_n(&q->head, __ATOMIC_RELAXED);
		}
	}
	copy_span(out, &slot->span);
	__atomic_store_n(&slot->seq, pos + q->cap - idx, __ATOMIC_RELEASE);
	return 1;
}

uint64_t exp_queue_len(const struct exp_queue *q)
{
	uint64_t head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
	uint64_t tail = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);

	return tail > head ? tail - head : 0;
}

uint64_t exp_queue_accepted(const struct exp_queue *q)
{
	return __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
}

uint64_t exp_queue_taken(const struct exp_queue *q)
{
	return __atomic_load_n(&q->head, __ATOMIC_RELAXED);
}

void exp_queue_reset(struct exp_queue *q)
{
	if (q->slots)
		munmap(q->slots, q->cap * sizeof(struct exp_qslot));
	q->slots = NULL;
	q->tail = 0;
	q->head = 0;
}
