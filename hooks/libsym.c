/*
 * libsym.c - dlsym(RTLD_NEXT) with a fallback through the caller's object (see libsym.h).
 *
 * The re-entry guard is set around the loader calls so that whatever they do internally (open,
 * read, mmap of nothing new: RTLD_NOLOAD maps nothing) passes straight through our hooks.
 */
#include <dlfcn.h>
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

void *hook_resolve_lib(const char *name, void *self, const void *caller)
{
	int saved = errno;
	int g = wt_guard_enter();
	void *p = dlsym(RTLD_NEXT, name);
	if (p == NULL || p == self)
		p = from_caller(name, caller);
	trace_origin("real", name, p == self ? NULL : p);
	wt_guard_leave(g);
	errno = saved;
	if (p == self)
		return NULL;
	return p;
}

void *hook_resolve_own(const char *name, void *self, const void *caller)
{
	int saved = errno;
	int g = wt_guard_enter();
	void *p = from_caller(name, caller);
	if (p == NULL || p == self)
		p = dlsym(RTLD_NEXT, name);
	trace_origin("the agent's own", name, p == self ? NULL : p);
	wt_guard_leave(g);
	errno = saved;
	if (p == self)
		return NULL;
	return p;
}
