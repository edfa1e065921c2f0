/*
 * callsite.h - call-site attribution of CLIENT spans (agent/callsite.c):
 * WIRETRACE_CAPTURE_CALLSITE=true|stack.
 */
#ifndef WT_CALLSITE_H
#define WT_CALLSITE_H

#include "config.h"
#include "exp_span.h"

/* Capture the calling thread's return addresses into s->frames (request thread). */
void callsite_capture(struct exp_span *s);

/* A CLIENT span begins (spans.c): one predictable branch when capture is off. */
static inline void callsite_on_client_span(struct exp_span *s)
{
	if (__builtin_expect(wt_cfg.callsite != WT_CALLSITE_OFF, 0))
		callsite_capture(s);
}

/* At start-up when capture is on (lifecycle.c): give the exporter our symboliser. Cheap. */
void callsite_init(void);

/* Atfork child handler: forget the symboliser's caches (the parent's exporter thread may have
 * been updating them). */
void callsite_atfork_child(void);

#endif
