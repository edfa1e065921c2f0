/*
 * handoff.h - context follows the wake-up: requests that change threads.
 *
 * An event loop reads a request and hands it to a worker thread (CPython's thread pools,
 * uvicorn's sync handlers, Java executors); the worker makes the outbound calls. The hand-off
 * is visible from inside the process as a wake-up: the loop thread posts a semaphore the
 * worker is waiting on (CPython's locks are POSIX semaphores), or creates the worker thread.
 * The poster's request is stored on the object; the thread whose wait on that object returns
 * adopts it, unless it already carries a request that is still in flight.
 */
#ifndef WT_HANDOFF_H
#define WT_HANDOFF_H

#include <stdbool.h>
#include <stdint.h>

/* Before sem_post(obj) on this thread. */
void handoff_post(const void *obj);
/* Before a wait on obj: a stamp to give to handoff_woken (posts older than the wait are
 * stale). Waiting again on the object a request was adopted from means the thread goes back
 * for more work: the adopted request is dropped. */
uint64_t handoff_wait_begin(const void *obj);
/* After a successful wait on obj by this thread that began at `stamp`. */
void handoff_woken(const void *obj, uint64_t stamp);

/* pthread_create: the creator's request, captured into *tok, adopted by the new thread. */
struct handoff_token {
	void *rec;
	unsigned gen;
};
bool handoff_capture(struct handoff_token *tok);
void handoff_adopt(const struct handoff_token *tok);

#endif
