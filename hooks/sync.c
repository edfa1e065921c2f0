/*
 * sync.c - interposers for the wake-ups that carry a request from one thread to another:
 * sem_post / sem_wait (CPython's locks and queues are POSIX semaphores; so are many C thread
 * pools) and pthread_create (a worker started for the first request).
 *
 * Opt-in (WIRETRACE_HANDOFF=true); when off each hook is one flag test and the real call.
 * Thin: the logic is agent/handoff.c. A post records the poster's request on the semaphore
 * before the real post (so it is there when the waiter wakes); a successful wait takes it.
 * pthread_create passes the creator's request to the new thread through a small trampoline,
 * allocated only when the creator is serving a request (otherwise the call goes straight
 * through). Return values and errno are the real calls'.
 */
#include <pthread.h>
#include <stdint.h>
#include <semaphore.h>
#include <stdlib.h>
#include <time.h>

#include "agent.h"
#include "handoff.h"
#include "real.h"

REAL_DECL(int, sem_post, sem_t *);
REAL_DECL(int, sem_wait, sem_t *);
REAL_DECL(int, sem_trywait, sem_t *);
REAL_DECL(int, sem_timedwait, sem_t *, const struct timespec *);
REAL_DECL(int, sem_clockwait, sem_t *, clockid_t, const struct timespec *);
REAL_DECL(int, pthread_create, pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* Off unless WIRETRACE_HANDOFF=true: see agent/handoff.c for what it gets right and wrong. */
static inline int active(void)
{
	return !wt_guard && agent_ready() && agent_handoff_enabled();
}

WT_EXPORT int sem_post(sem_t *s)
{
	if (!REAL(sem_post))
		REAL_MISSING(-1);
	if (active()) {
		int saved = errno;
		int g = wt_guard_enter();
		handoff_post(s);
		wt_guard_leave(g);
		errno = saved;
	}
	return real_sem_post(s);
}

static inline uint64_t wait_begin(sem_t *s)
{
	if (!active())
		return UINT64_MAX;
	int g = wt_guard_enter();
	uint64_t t = handoff_wait_begin(s);
	wt_guard_leave(g);
	return t;
}

static int woken(sem_t *s, uint64_t stamp, int rc)
{
	if (rc == 0 && stamp != UINT64_MAX && active()) {
		int saved = errno;
		int g = wt_guard_enter();
		handoff_woken(s, stamp);
		wt_guard_leave(g);
		errno = saved;
	}
	return rc;
}

WT_EXPORT int sem_wait(sem_t *s)
{
	if (!REAL(sem_wait))
		REAL_MISSING(-1);
	uint64_t t = wait_begin(s);
	return woken(s, t, real_sem_wait(s));
}

WT_EXPORT int sem_trywait(sem_t *s)
{
	if (!REAL(sem_trywait))
		REAL_MISSING(-1);
	return real_sem_trywait(s); /* never waited: never woken by a post */
}

WT_EXPORT int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
	if (!REAL(sem_timedwait))
		REAL_MISSING(-1);
	uint64_t t = wait_begin(s);
	return woken(s, t, real_sem_timedwait(s, abstime));
}

WT_EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *abstime)
{
	if (!REAL(sem_clockwait))
		REAL_MISSING(-1);
	uint64_t t = wait_begin(s);
	return woken(s, t, real_sem_clockwait(s, clk, abstime));
}

struct tramp {
	void *(*fn)(void *);
	void *arg;
	struct handoff_token tok;
};

static void *tramp_start(void *p)
{
	struct tramp t = *(struct tramp *)p;
	free(p);
	handoff_adopt(&t.tok);
	return t.fn(t.arg);
}

WT_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
			     void *arg)
{
	if (!REAL(pthread_create))
		return ENOSYS;
	struct handoff_token tok;
	struct tramp *t = NULL;
	if (active()) {
		int saved = errno;
		int g = wt_guard_enter();
		if (handoff_capture(&tok) && (t = malloc(sizeof(*t))) != NULL) {
			t->fn = fn;
			t->arg = arg;
			t->tok = tok;
		}
		wt_guard_leave(g);
		errno = saved;
	}
	if (t == NULL)
		return real_pthread_create(th, attr, fn, arg);
	int rc = real_pthread_create(th, attr, tramp_start, t);
	if (rc != 0)
		free(t);
	return rc;
}
