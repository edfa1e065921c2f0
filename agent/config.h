/*
 * config.h - the agent's configuration, read once from the environment.
 *
 * Every trace-related OTEL_* variable plus the WIRETRACE_* ones, parsed with the
 * specification's rules (OTSPEC configuration/sdk-environment-variables.md): an empty value is
 * unset; an invalid value gets one warning naming the variable and the value, and the default is
 * used. The exporter's part is an embedded struct exp_config so it can be handed over as is.
 *
 * Thread safety: config_load() runs in the constructor, before any other thread of ours exists;
 * afterwards the struct is read-only.
 */
#ifndef WT_CONFIG_H
#define WT_CONFIG_H

#include <stdbool.h>

#include "exporter.h"

enum wt_sampler {
	WT_SAMPLER_ALWAYS_ON = 0,
	WT_SAMPLER_ALWAYS_OFF,
	WT_SAMPLER_TRACEIDRATIO,
	WT_SAMPLER_PARENTBASED_ALWAYS_ON,
	WT_SAMPLER_PARENTBASED_ALWAYS_OFF,
	WT_SAMPLER_PARENTBASED_TRACEIDRATIO,
};

enum wt_callsite {
	WT_CALLSITE_OFF = 0,   /* WIRETRACE_CAPTURE_CALLSITE unset or false */
	WT_CALLSITE_ON = 1,    /* true: the calling function */
	WT_CALLSITE_STACK = 2, /* stack: a short stack */
};

#define WT_MAX_LIST 64 /* entries in WIRETRACE_EXCLUDED_URLS / WIRETRACE_ROUTES */

struct wt_config {
	bool sdk_disabled;        /* OTEL_SDK_DISABLED: no spans, propagation continues */
	bool propagate_tracecontext; /* OTEL_PROPAGATORS contains tracecontext (default yes) */
	bool propagate_baggage;   /* OTEL_PROPAGATORS contains baggage (default yes) */
	int sampler;              /* enum wt_sampler */
	double sampler_ratio;     /* OTEL_TRACES_SAMPLER_ARG for the ratio samplers, default 1.0 */
	int log_level;            /* enum wt_log_level from OTEL_LOG_LEVEL */
	char *log_path;           /* WIRETRACE_LOG */
	char *excluded_urls[WT_MAX_LIST]; /* WIRETRACE_EXCLUDED_URLS: paths, exact match */
	int nexcluded_urls;
	char *routes[WT_MAX_LIST]; /* WIRETRACE_ROUTES: patterns with {name} segments */
	int nroutes;
	char *known_methods[WT_MAX_LIST]; /* OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS, NULL = default */
	int nknown_methods;
	char *include_glob;       /* WIRETRACE_INCLUDE: executable-name globs (comma list) */
	char *exclude_glob;       /* WIRETRACE_EXCLUDE */
	int callsite;             /* WIRETRACE_CAPTURE_CALLSITE: enum wt_callsite */
	bool handoff;             /* WIRETRACE_HANDOFF: follow requests across threads (experimental) */
	int link_count_limit;     /* OTEL_SPAN_LINK_COUNT_LIMIT, default 128 */
	int link_attr_count_limit; /* OTEL_LINK_ATTRIBUTE_COUNT_LIMIT (> OTEL_ATTRIBUTE_COUNT_LIMIT),
				    * default 128 */
	char *exe_path;           /* target of /proc/self/exe (" (deleted)" removed); NULL if unknown */
	char *exe_name;           /* its basename: what WIRETRACE_INCLUDE/EXCLUDE match */
	struct exp_config exp;    /* everything the exporter needs */
};

/* Read the environment into *c (zeroed first). Never fails: invalid values are warned about and
 * defaults used. `getenv_fn` is getenv in production and a table look-up in the unit tests. */
typedef const char *(*config_getenv_fn)(const char *name);
void config_load(struct wt_config *c, config_getenv_fn getenv_fn);

/* The production look-up for config_load(): getenv(3) with the const return type of
 * config_getenv_fn (getenv itself returns char *, so it cannot be passed directly). */
const char *config_getenv(const char *name);
void config_free(struct wt_config *c);

/* Is this executable selected by WIRETRACE_INCLUDE / WIRETRACE_EXCLUDE? Each is a comma list of
 * fnmatch(3) globs on the executable's base name. An empty include list selects everything; a
 * name matching an exclude glob is never selected (exclude wins). exe_name NULL means
 * c->exe_name. Pure: no allocation, no I/O. */
bool config_process_selected(const struct wt_config *c, const char *exe_name);

/* Tests: make the next config_load() use `path` as the executable path instead of reading
 * /proc/self/exe (NULL restores the real look-up; "" means "unknown"). The string is copied. */
void config_set_exe_path(const char *path);

/* The process-wide configuration, valid after the constructor ran. */
extern struct wt_config wt_cfg;

#endif
