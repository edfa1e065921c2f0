/*
 * resolve.c - dlsym(RTLD_NEXT) for the hooks (see real.h).
 *
 * dlsym may allocate and may take the loader lock; it is only called the first time each hook
 * runs. The re-entry guard is set around it so that anything dlsym does internally passes
 * straight through our hooks.
 */
#include <dlfcn.h>
#include <stddef.h>

#include "real.h"

void *hook_resolve(const char *name)
{
	int saved = errno;
	int g = wt_guard_enter();
	void *p = dlsym(RTLD_NEXT, name);
	wt_guard_leave(g);
	errno = saved;
	return p;
}
