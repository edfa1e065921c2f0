/*
 * libsym.h - resolving the real definitions behind our libcurl and OpenSSL interposers.
 *
 * Unlike libc, these libraries are often not in the global symbol scope: CPython loads its
 * _ssl module (which needs libssl) with dlopen(RTLD_LOCAL); a plugin linked to libcurl may be
 * dlopen'ed the same way; the exporter dlopens libcurl RTLD_LOCAL. Their calls still reach our
 * exported hooks (relocations search the global scope, where the preloaded agent is, before
 * the object's own dependencies), but dlsym(RTLD_NEXT) cannot see a library outside the global
 * scope and returns NULL. So when RTLD_NEXT fails, the symbol is looked up from the caller's
 * side: the object containing the hook's return address (the library or plugin that called
 * us) is opened with RTLD_NOLOAD (never loads anything, only takes a reference to an object
 * already mapped) and the symbol is looked up in its dependency scope, where the real library
 * is; the reference is dropped at once.
 *
 * The agent's own threads (the exporter, with the re-entry guard set) reach these hooks through
 * the exporter's libcurl, which need not be the program's: git's remote helper links
 * libcurl-gnutls.so.4 while the exporter loads libcurl.so.4, each with its own OpenSSL or
 * GnuTLS. So a call made with the guard set goes to the definition seen from its caller's
 * object first (OWNREAL), kept apart from the one the program's calls use (LIBREAL).
 *
 * Resolution happens once per symbol (the pointer is cached with a relaxed atomic); dlsym,
 * dladdr and dlopen are never on a hot path. A symbol that cannot be resolved leaves the hook
 * failing the way the library reports errors (each hook says how), never crashing. A process
 * holding two different builds of one library (libcurl.so.4 and libcurl-gnutls.so.4) is served
 * by whichever the first resolution found: not supported.
 */
#ifndef WT_HOOKS_LIBSYM_H
#define WT_HOOKS_LIBSYM_H

#include <stdbool.h>

#include "agent.h"
#include "real.h"

/* dlsym(RTLD_NEXT, name), else `name` as seen from the object containing `caller`; NULL if
 * neither works or the result is one of our own definitions (decided by the object the address
 * lies in; `self` is unused: pass NULL). */
void *hook_resolve_lib(const char *name, void *self, const void *caller);

/* The other order: `name` as seen from the caller's object, else dlsym(RTLD_NEXT). */
void *hook_resolve_own(const char *name, void *self, const void *caller);

/* Library hooks (libcurl, OpenSSL) begin work outside any socket call: they initialise the
 * lazy agent themselves (agent_ensure_ready), with the guard set since that makes calls of its
 * own. True when the agent is ready to trace. */
static inline bool hook_agent_ready(void)
{
	int g = wt_guard_enter();
	bool ready = agent_ensure_ready();
	wt_guard_leave(g);
	return ready;
}

/* The pointer OWNREAL uses (next to REAL_DECL's real_<name>). */
#define OWN_DECL(ret, name, ...) static ret (*own_##name)(__VA_ARGS__)

/* Like REAL(name) (real.h), with the caller fallback; must be expanded in the exported hook
 * itself, so that __builtin_return_address(0) is the hook's caller. */
#define LIBREAL(name)                                                                              \
	(WT_LIKELY(__atomic_load_n(&real_##name, __ATOMIC_RELAXED) != NULL)                        \
	     ? real_##name                                                                         \
	     : (__atomic_store_n(&real_##name,                                                     \
	                         (__typeof__(real_##name))hook_resolve_lib(                        \
	                             #name, NULL, __builtin_return_address(0)),                             \
	                         __ATOMIC_RELAXED),                                                \
	        real_##name))

/* The real function for a call made with the guard set (the agent's own libcurl), resolved
 * from the caller's side first; expanded in the exported hook itself, like LIBREAL. */
#define OWNREAL(name)                                                                              \
	(WT_LIKELY(__atomic_load_n(&own_##name, __ATOMIC_RELAXED) != NULL)                         \
	     ? own_##name                                                                          \
	     : (__atomic_store_n(&own_##name,                                                      \
	                         (__typeof__(own_##name))hook_resolve_own(                         \
	                             #name, NULL, __builtin_return_address(0)),                             \
	                         __ATOMIC_RELAXED),                                                \
	        own_##name))

/* A call from the agent's own libcurl (guard set): straight to its own definition, or `fail`
 * when there is none. Expanded at the top of an exported hook. */
#define GUARDED(name, fail, ...)                                                                   \
	do {                                                                                       \
		if (WT_UNLIKELY(wt_guard)) {                                                       \
			if (!OWNREAL(name))                                                        \
				return fail;                                                       \
			return own_##name(__VA_ARGS__);                                            \
		}                                                                                  \
	} while (0)

#endif
