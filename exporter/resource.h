/*
 * resource.h - the OTLP Resource wiretrace reports: who produced the spans (internal to
 * exporter/).
 *
 * Built once per exporter thread (so again in a forked child, whose process.pid differs) from
 * the configuration and from what the process can learn about itself. Owned by that thread.
 */
#ifndef EXP_RESOURCE_H
#define EXP_RESOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "exporter.h"

struct exp_res_kv {
	char *key;  /* owned */
	char *str;  /* owned; NULL for an integer value */
	size_t len; /* strlen(str) */
	int64_t i;  /* integer value when str == NULL */
};

struct exp_resource {
	struct exp_res_kv *kv; /* owned array */
	int n;
	int cap;
};

/* Fill *r (which is overwritten, not freed) from *c and the process: service.name, the
 * OTEL_RESOURCE_ATTRIBUTES entries (they win over detected values of the same key),
 * process.pid, process.executable.name/.path, process.command, host.name, host.arch, os.type,
 * telemetry.sdk.name/.language/.version. Returns 0 or -ENOMEM (then *r is empty and freed).
 * Allocates; not async-signal-safe; c may be NULL (detected attributes only). */
int exp_resource_build(struct exp_resource *r, const struct exp_config *c);
void exp_resource_free(struct exp_resource *r);

/* The attribute with this key, or NULL. */
const struct exp_res_kv *exp_resource_find(const struct exp_resource *r, const char *key);

/* OpenTelemetry host.arch for a uname(2) machine string ("x86_64" -> "amd64"); an unknown
 * machine is returned as is. */
const char *exp_resource_arch(const char *machine);

#endif
