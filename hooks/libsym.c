/*
 * libsym.c - dlsym(RTLD_NEXT) with a fallback through the caller's object (see libsym.h).
 *
 * The re-entry guard is set around the loader calls so that whatever they do internally (open,
 * read, mmap of nothing new: RTLD_NOLOAD maps nothing) passes straight through our hooks.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

#include "libsym.h"
#include "wt_log.h"

/* Which object a resolved symbol came from: debug log only (once per symbol). */
static void trace_origin(const char *how, const char *name, void *p)
{
	Dl_info di;
	if (wt_log_threshold >= WT_LOG_DEBUG)
		wt_debug("%s %s: %s", how, name,
		         p == NULL                        ? "not found"
		         : dladdr(p, &di) && di.dli_fname ? di.dli_fname
		                                          : "?");
}

static void *from_caller(const char *name, const void *caller)
{
	Dl_info di;
	if (caller == NULL || dladdr(caller, &di) == 0 || di.dli_fname == NULL ||
	    di.dli_fname[0] == '\0')
		return NULL;
	/* RTLD_NOLOAD: a reference to the caller's object, which is mapped since it called us. */
	void *h = dlopen(di.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	if (h == NULL)
		return NULL;
	void *p = dlsym(h, name);
	dlclose(h);
	return p;
}

/* Is p one of our own definitions? Decided by the object it lies in, not by comparing with the
 * hook's own address: taking the address of an exported function costs the dynamic linker a
 * symbol look-up at every process start (one per hook). */
static bool is_ours(const void *p)
{
	static const void *our_base;
	Dl_info a;
	if (p == NULL)
		return false;
	if (our_base == NULL) {
		Dl_info me;
		if (dladdr((const void *)is_ours, &me) == 0)
			return false;
		our_base = me.dli_fbase;
	}
	return dladdr(p, &a) != 0 && a.dli_fbase == our_base;
}

void *hook_resolve_lib(const char *name, void *self, const void *caller)
{
	(void)self;
	int saved = errno;
	int g = wt_guard_enter();
	void *p = dlsym(RTLD_NEXT, name);
	if (p == NULL || is_ours(p))
		p = from_caller(name, caller);
	if (is_ours(p))
		p = NULL;
	trace_origin("real", name, p);
	wt_guard_leave(g);
	errno = saved;
	return p;
}

void *hook_resolve_own(const char *name, void *self, const void *caller)
{
	(void)self;
	int saved = errno;
	int g = wt_guard_enter();
	void *p = from_caller(name, caller);
	if (p == NULL || is_ours(p))
		p = dlsym(RTLD_NEXT, name);
	if (is_ours(p))
		p = NULL;
	trace_origin("the agent's own", name, p);
	wt_guard_leave(g);
	errno = saved;
	return p;
}
