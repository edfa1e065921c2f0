/*
 * handoff.c - context follows the wake-up (see handoff.h for the problem).
 *
 * Design. A table of HO_SLOTS slots keyed by the address of the synchronisation object. A post
 * stores the poster's request (span record and generation) in the object's slot; the thread
 * whose wait on the object returns takes it from the slot (consuming it) and adopts it as its
 * request of last resort: spans_pick_parent() uses an adopted request only when the thread
 * has no request of its own in flight. Rules that keep wrong parents out:
 *  - the poster gives a request only when exactly one request it READ is in flight on its
 *    thread (spans_handoff_source): an event loop that has read several requests gives
 *    nothing, and a worker never passes on a request it adopted;
 *  - only a wait that began before the post adopts it (a global post clock stamps both): a
 *    post nobody was waiting for is stale, and a later uncontended acquisition of the same
 *    lock by an unrelated thread must not pick it up;
 *  - a post made while several requests are in flight on the poster's thread is recorded as
 *    "unknown", so the object never keeps an older request for a newer post;
 *  - a post is only taken when it is the only one on the object since the last wake-up took
 *    one (two queued tasks: the older may be taken first);
 *  - once a thread has adopted from an object (its home: a worker's queue), only posts on that
 *    object are adopted; a post found there that preceded the wait (the worker came back after
 *    the next task was queued) is taken too; wake-ups on other objects (locks contended inside
 *    a handler) never give it a request;
 *  - a thread created while its creator served exactly one request carries that request
 *    (CPython starts a pool's worker thread for the first task, after queueing it), until a
 *    wake-up on an object whose last post names a different request or an unknown one;
 *  - a thread keeps an adopted request until that request ends or the thread waits again on
 *    the object it adopted it from (a worker going back to its queue for the next task);
 *    wake-ups on other objects (contended locks inside a handler) do not replace it;
 *  - a slot is written under a per-slot sequence claimed by CAS; a writer that finds the slot
 *    busy gives up (the hand-off is lost: no parent, never a wrong one); a reader validates the
 *    sequence around its copy.
 * Cost when the thread serves no request: one thread-local test per post; per wait-return one
 * hash and one load.
 *
 * Status: opt-in (WIRETRACE_HANDOFF=true), because under concurrency it is not yet free of
 * wrong parents. Measured with tests/e2e/test_http_handoff.py (a selectors event loop handing
 * requests to a ThreadPoolExecutor, CPython 3.11): sequential requests are linked almost
 * always (5 or 6 of 6; a worker that comes back to its queue after the next task was posted can
 * miss it); with 8 concurrent connections about 1 request in 32 is linked, the rest get no
 * parent, and roughly one run in two has one wrong parent, mostly a worker thread started for
 * an early request and then given another. The default (off) never adopts anything.
 *
 * Thread and signal safety: lock-free; async-signal-safe.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "agent.h"
#include "conn.h"
#include "handoff.h"

#define HO_SLOTS 1024

struct ho_slot {
	_Atomic uint32_t seq; /* odd while being written */
	_Atomic uintptr_t key;
	struct wt_span_rec *rec;
	uint32_t gen;
	uint64_t stamp; /* post clock at the post */
	uint32_t posts; /* posts on this object since the last wake-up took one */
};

bool agent_handoff_on;

static struct ho_slot slots[HO_SLOTS];
static _Atomic uint64_t post_clock; /* advanced by posts that carry a request only */

uint64_t handoff_wait_begin(const void *obj)
{
	spans_adopt_waiting(obj);
	return atomic_load_explicit(&post_clock, memory_order_acquire);
}

static struct ho_slot *slot_of(const void *obj)
{
	uintptr_t k = (uintptr_t)obj;
	k ^= k >> 17;
	k *= 0x9e3779b97f4a7c15ull;
	return &slots[(k >> 32) % HO_SLOTS];
}

void handoff_post(const void *obj)
{
	struct wt_span_rec *rec = NULL;
	uint32_t gen = 0;
	int src = spans_handoff_source(&rec, &gen);
	if (src == 0)
		return; /* this thread serves no request: its posts carry nothing */
	struct ho_slot *s = slot_of(obj);
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
	if ((seq & 1) || !atomic_compare_exchange_strong(&s->seq, &seq, seq + 1))
		return;
	/* Several requests in flight here: the post is recorded as "unknown", so that an older
	 * post's request is not taken for this one. */
	uintptr_t prev = atomic_load_explicit(&s->key, memory_order_relaxed);
	s->posts = prev == (uintptr_t)obj ? s->posts + 1 : 1;
	s->rec = src > 0 ? rec : NULL;
	s->gen = gen;
	s->stamp = atomic_fetch_add(&post_clock, 1) + 1;
	atomic_store_explicit(&s->key, (uintptr_t)obj, memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

void handoff_woken(const void *obj, uint64_t stamp)
{
	struct ho_slot *s = slot_of(obj);
	if (atomic_load_explicit(&s->key, memory_order_relaxed) != (uintptr_t)obj)
		return;
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	if (seq & 1)
		return;
	struct wt_span_rec *rec = s->rec;
	uint32_t gen = s->gen;
	bool fresh = s->stamp > stamp;
	uint32_t posts = s->posts;
	uintptr_t key = atomic_load_explicit(&s->key, memory_order_relaxed);
	/* Consume: claim the slot and clear it, so one post wakes one adoption. */
	if (key != (uintptr_t)obj || !atomic_compare_exchange_strong(&s->seq, &seq, seq + 1))
		return;
	atomic_store_explicit(&s->key, 0, memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
	/* Two posts not taken yet: which one woke us? Unknown. */
	spans_woken(obj, posts == 1 ? rec : NULL, gen, fresh);
}

bool handoff_capture(struct handoff_token *tok)
{
	struct wt_span_rec *rec;
	uint32_t gen;
	if (spans_handoff_source(&rec, &gen) <= 0)
		return false;
	tok->rec = rec;
	tok->gen = gen;
	return true;
}

void handoff_adopt(const struct handoff_token *tok)
{
	spans_adopt(tok->rec, tok->gen, NULL);
}
