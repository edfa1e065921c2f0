/*
 * real.h - resolving the real libc symbols behind our interposers.
 *
 * Each hook keeps a static pointer to the next definition of its symbol (dlsym(RTLD_NEXT)),
 * resolved on first use: hooks can run before our constructor (another library's constructor
 * may open a socket), so resolution cannot wait for it. dlsym is never on a hot path: after the
 * first call the pointer is a relaxed atomic load. If the symbol is missing the hook fails like
 * an absent libc function would: -1 with ENOSYS, never a crash.
 */
#ifndef WT_HOOKS_REAL_H
#define WT_HOOKS_REAL_H

#include <errno.h>

#include "wt_guard.h"

#define WT_EXPORT __attribute__((visibility("default")))
#define WT_LIKELY(x) __builtin_expect(!!(x), 1)
#define WT_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Resolve `name` with dlsym(RTLD_NEXT); NULL if missing. (RTLD_NEXT starts the search after
 * our own object, so it cannot return our own definition; not taking the hooks' own addresses
 * also spares the dynamic linker one symbol look-up per hook at every process start.) */
void *hook_resolve(const char *name);

/* Declare the pointer for `name` with the given function type. */
#define REAL_DECL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)

/* Evaluate to the real function pointer, resolving it on first use. */
#define REAL(name)                                                                           \
	(WT_LIKELY(__atomic_load_n(&real_##name, __ATOMIC_RELAXED) != NULL)                      \
		 ? real_##name                                                                \
		 : (__atomic_store_n(&real_##name,                                            \
				     (__typeof__(real_##name))hook_resolve(#name),                    \
				     __ATOMIC_RELAXED),                                       \
		    real_##name))

/* Fail like a missing libc function. */
#define REAL_MISSING(ret) \
	do {                  \
		errno = ENOSYS;   \
		return (ret);     \
	} while (0)

#endif
