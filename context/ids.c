/*
 * ids.c - trace and span ids from a per-thread xoshiro256** generator.
 *
 * Why not getrandom(2) per id: it is a syscall (~115 ns here), and a traced request needs one
 * trace id and one or two span ids. A per-thread xoshiro256** (Blackman and Vigna, 2018: 256-bit
 * state, period 2^256 - 1, passes BigCrush) costs about a nanosecond per 64-bit output and needs
 * no lock because its state lives in initial-exec TLS.
 *
 * Seeding. The state is seeded lazily, on a thread's first id, with 32 bytes from
 * getrandom(GRND_NONBLOCK). If that fails (a kernel without getrandom, a seccomp filter, or the
 * entropy pool not initialised yet early at boot) the seed is a splitmix64 mix of the wall and
 * monotonic clocks, pid, tid, a stack address, the state's own address and a process-wide
 * counter: not cryptographic, but different for every thread and process, which is all a trace
 * id needs to be unique. Trace ids are identifiers, not secrets.
 *
 * Fork. A forked child inherits its parent's generator state byte for byte, so without care it
 * would produce exactly the ids the parent produces next. The agent's atfork child handler calls
 * ctx_ids_atfork_child(), which bumps the global `fork_gen`. Every state remembers the
 * generation it was seeded in (`gen`, 0 = never seeded; `fork_gen` starts at 1 and skips 0 on
 * wrap-around), and each id starts with one compare of the two: a mismatch reseeds. That single
 * compare also performs the lazy first seeding, so the fast path has exactly one extra branch.
 *
 * Invariants:
 *  - A returned id is never all-zero: a zero draw is thrown away and drawn again (W3C: all-zero
 *    trace-id and parent-id are invalid). The state itself is never all-zero (xoshiro's one
 *    forbidden state), so the retry loop terminates.
 *  - Every byte of a trace id is generator output, so CTX_FLAG_RANDOM may be set for it
 *    (W3C Trace Context Level 2, section "Random Trace ID Flag").
 *  - A state with gen == fork_gen was seeded in this process after the last fork.
 *
 * Thread and signal safety. State is per thread, so threads never share it. A signal handler
 * that makes an id while the interrupted code of the same thread is half-way through advancing
 * the state would otherwise risk handing out the same output twice. `depth` counts the
 * generators active on this thread: the outermost call uses rngs[0], a nested one (a signal
 * handler) uses rngs[1], which is seeded separately. A signal nested inside a handler that is
 * itself making an id is not separated further; that needs two different signals interrupting
 * each other inside a ~2 ns window. (A handler that longjmps out of ctx_ids_* leaves `depth`
 * raised: ids stay correct, the thread just keeps using rngs[1].) Everything here is
 * async-signal-safe: TLS, a relaxed atomic load, and getrandom/clock_gettime/getpid/gettid when
 * seeding. errno is preserved.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ids.h"
#include "wt_clock.h"
#include "wt_guard.h"

struct rng {
	uint64_t s[4];
	uint32_t gen; /* fork generation seeded in; 0 = never seeded */
};

static WT_TLS struct rng rngs[2];
static WT_TLS unsigned depth;

static _Atomic uint32_t fork_gen = 1;
static _Atomic uint64_t seed_counter;

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: one 64-bit output, state advanced. */
static inline uint64_t next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* splitmix64 (Steele, Lea, Flood 2014): spreads weakly varying inputs over all 64 bits. */
static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void seed_fallback(uint64_t k[4], const void *where)
{
	uint64_t x = wt_clock_wall_ns();
	uint64_t mix[6];
	int local;

	mix[0] = wt_clock_mono_ns();
	mix[1] = (uint64_t)getpid() << 32 | (uint32_t)gettid();
	mix[2] = (uint64_t)(uintptr_t)&local;
	mix[3] = (uint64_t)(uintptr_t)where;
	mix[4] = atomic_fetch_add_explicit(&seed_counter, 1, memory_order_relaxed);
	mix[5] = wt_clock_wall_ns();
	for (int i = 0; i < 6; i++) {
		x ^= mix[i];
		(void)splitmix(&x);
	}
	for (int i = 0; i < 4; i++)
		k[i] ^= splitmix(&x);
}

static __attribute__((noinline)) void seed(struct rng *r, uint32_t gen)
{
	int saved = errno;
	uint64_t k[4] = {0, 0, 0, 0};

	if (getrandom(k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k))
		seed_fallback(k, r);
	if ((k[0] | k[1] | k[2] | k[3]) == 0)
		k[0] = 1; /* xoshiro must never be in the all-zero state */
	memcpy(r->s, k, sizeof(k));
	r->gen = gen;
	errno = saved;
}

static inline struct rng *enter(void)
{
	unsigned d = depth++;
	struct rng *r;
	uint32_t gen;

	/* The increment must be visible to a signal handler before the state is touched. */
	atomic_signal_fence(memory_order_seq_cst);
	r = &rngs[d ? 1 : 0];
	gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
	if (__builtin_expect(r->gen != gen, 0))
		seed(r, gen);
	return r;
}

static inline void leave(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	depth--;
}

void ctx_ids_new_trace(uint8_t out[16])
{
	struct rng *r = enter();
	uint64_t hi, lo;

	do {
		hi = next(r);
		lo = next(r);
	} while ((hi | lo) == 0);
	leave();
	memcpy(out, &hi, 8);
	memcpy(out + 8, &lo, 8);
}

void ctx_ids_new_span(uint8_t out[8])
{
	struct rng *r = enter();
	uint64_t v;

	do
		v = next(r);
	while (v == 0);
	leave();
	memcpy(out, &v, 8);
}

void ctx_ids_atfork_child(void)
{
	uint32_t g = atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed) + 1;

	if (g == 0) /* 0 means "never seeded": skip it on wrap-around */
		atomic_compare_exchange_strong(&fork_gen, &g, 1);
}
