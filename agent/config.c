/*
 * config.c - the agent's configuration, read once from the environment (see config.h).
 *
 * Purpose: turn the OTEL_* variables that concern traces (OTSPEC
 * configuration/sdk-environment-variables.md, protocol/exporter.md) and the WIRETRACE_* ones
 * into struct wt_config. docs/CONFIGURATION.md lists every variable with its default and what
 * happens on invalid input; keep the two in step.
 *
 * Design:
 * - The logger comes first: OTEL_LOG_LEVEL and WIRETRACE_LOG are read, wt_log_init() is
 *   called, and only then is anything else parsed, so every warning about the rest is filtered
 *   and routed as the user asked.
 * - Readers follow the specification's rules through config_parse.c: empty means unset; an
 *   invalid value is warned about once (naming the variable and the value) and treated as
 *   unset, so the default, or the generic variable behind a _TRACES_ one, applies.
 * - This file holds the agent-side settings (sampler, propagators, limits, URL lists, process
 *   selection, call sites); config_otlp.c fills the exporter's struct exp_config.
 * - The look-up function is injected (getenv in production, a table in the unit tests), and so
 *   is the executable path (config_set_exe_path), so that tests never depend on the host.
 *
 * Invariants: config_load() never fails and never logs a header value; every string in the
 * struct is a heap copy owned by it and released by config_free().
 *
 * Thread safety: config_load() runs in the constructor before any thread of ours exists (the
 * re-entry guard is held by the caller); afterwards the struct is read-only.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_parse.h"
#include "wt_log.h"

#define GLOB_MAX 256 /* longest WIRETRACE_INCLUDE/EXCLUDE member */

struct wt_config wt_cfg;

static char exe_override[PATH_MAX];
static bool exe_override_set;

void config_set_exe_path(const char *path)
{
	exe_override_set = path != NULL;
	if (path)
		snprintf(exe_override, sizeof(exe_override), "%s", path);
}

/* The executable: /proc/self/exe names the file actually executed (not argv[0], which the
 * program may have rewritten), as semconv process.executable.path prescribes. */
static void load_exe(struct wt_config *c)
{
	static const char deleted[] = " (deleted)";
	char buf[PATH_MAX];
	const char *base;
	ssize_t n;

	if (exe_override_set) {
		n = (ssize_t)strlen(exe_override);
		memcpy(buf, exe_override, (size_t)n + 1);
	} else {
		n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
		if (n < 0)
			n = 0;
		buf[n] = '\0';
	}
	if ((size_t)n > sizeof(deleted) - 1 &&
	    strcmp(buf + n - (sizeof(deleted) - 1), deleted) == 0)
		buf[n - (sizeof(deleted) - 1)] = '\0';
	if (!buf[0])
		return;
	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	c->exe_path = strdup(buf);
	if (*base)
		c->exe_name = strdup(base);
}

/* OTEL_LOG_LEVEL is an Enum (OTSPEC), so "none" is its null value: no output at all. The
 * specification lists no values; we take the usual four severities plus the aliases other
 * SDKs accept ("warning"; "verbose" and "all" as debug). */
static const struct cfg_enum log_levels[] = {
	{"none", WT_LOG_NONE},   {"error", WT_LOG_ERROR},   {"warn", WT_LOG_WARN},
	{"warning", WT_LOG_WARN}, {"info", WT_LOG_INFO},    {"debug", WT_LOG_DEBUG},
	{"verbose", WT_LOG_DEBUG}, {"all", WT_LOG_DEBUG},  {NULL, 0},
};

static void load_log(struct wt_config *c, config_getenv_fn g)
{
	const struct cfg_enum *e = NULL;
	const char *s = NULL;
	size_t len = 0;

	c->log_level = WT_LOG_INFO;
	if (cfg_get(g, "OTEL_LOG_LEVEL")) {
		cfg_value(g, "OTEL_LOG_LEVEL", &s, &len);
		e = cfg_enum_find(log_levels, s, len);
		if (e)
			c->log_level = e->value;
	}
	c->log_path = cfg_dup(g, "WIRETRACE_LOG");
	wt_log_init(c->log_level, c->log_path);
	if (s && !e) {
		char q[CFG_QUOTE_MAX + 4];

		wt_warn("OTEL_LOG_LEVEL=\"%s\" is not one of none, error, warn, info, debug; "
			"using info", cfg_quote(q, s, len));
	}
}

enum { PROP_TC, PROP_BAGGAGE, PROP_NONE, PROP_UNSUPPORTED };

static const struct cfg_enum propagators[] = {
	{"tracecontext", PROP_TC}, {"baggage", PROP_BAGGAGE}, {"none", PROP_NONE},
	{"b3", PROP_UNSUPPORTED},  {"b3multi", PROP_UNSUPPORTED}, {"jaeger", PROP_UNSUPPORTED},
	{"xray", PROP_UNSUPPORTED}, {"ottrace", PROP_UNSUPPORTED}, {NULL, 0},
};

/* OTEL_PROPAGATORS: a comma list, deduplicated. Known but unsupported propagators get one
 * warning each; unknown names are ignored with a warning; a list with no known name at all is
 * ignored as a whole (the Enum rule), so a typo does not silently switch propagation off. */
static void load_propagators(struct wt_config *c, config_getenv_fn g)
{
	char q[CFG_QUOTE_MAX + 4];
	const char *cur, *item;
	bool seen[PROP_UNSUPPORTED + 1] = {false};
	unsigned warned = 0;
	bool known = false;
	size_t len;

	c->propagate_tracecontext = true;
	c->propagate_baggage = true;
	cur = cfg_get(g, "OTEL_PROPAGATORS");
	if (!cur)
		return;
	while (cfg_list_next(&cur, &item, &len)) {
		const struct cfg_enum *e = cfg_enum_find(propagators, item, len);
		unsigned bit;

		if (!e) {
			wt_warn("OTEL_PROPAGATORS: unknown propagator \"%s\" ignored",
				cfg_quote(q, item, len));
			continue;
		}
		known = true;
		seen[e->value] = true;
		bit = 1u << (e - propagators);
		if (e->value == PROP_UNSUPPORTED && !(warned & bit)) {
			warned |= bit;
			wt_warn("OTEL_PROPAGATORS: the %s propagator is not supported; ignored",
				e->word);
		}
	}
	if (!known) {
		wt_warn("OTEL_PROPAGATORS names no known propagator; using tracecontext,baggage");
		return;
	}
	if (seen[PROP_NONE] && (seen[PROP_TC] || seen[PROP_BAGGAGE]))
		wt_warn("OTEL_PROPAGATORS: \"none\" is combined with other propagators; "
			"\"none\" ignored");
	c->propagate_tracecontext = seen[PROP_TC];
	c->propagate_baggage = seen[PROP_BAGGAGE];
}

#define SAMPLER_UNSUPPORTED (-1)

static const struct cfg_enum samplers[] = {
	{"always_on", WT_SAMPLER_ALWAYS_ON},
	{"always_off", WT_SAMPLER_ALWAYS_OFF},
	{"traceidratio", WT_SAMPLER_TRACEIDRATIO},
	{"parentbased_always_on", WT_SAMPLER_PARENTBASED_ALWAYS_ON},
	{"parentbased_always_off", WT_SAMPLER_PARENTBASED_ALWAYS_OFF},
	{"parentbased_traceidratio", WT_SAMPLER_PARENTBASED_TRACEIDRATIO},
	{"parentbased_jaeger_remote", SAMPLER_UNSUPPORTED},
	{"jaeger_remote", SAMPLER_UNSUPPORTED},
	{"xray", SAMPLER_UNSUPPORTED},
	{NULL, 0},
};

/* OTEL_TRACES_SAMPLER and its argument. OTSPEC: the argument "will only be used if
 * OTEL_TRACES_SAMPLER is set", and only the ratio samplers take one here. */
static void load_sampler(struct wt_config *c, config_getenv_fn g)
{
	int v = WT_SAMPLER_PARENTBASED_ALWAYS_ON, rc;

	c->sampler = WT_SAMPLER_PARENTBASED_ALWAYS_ON;
	c->sampler_ratio = 1.0;
	rc = cfg_enum(g, "OTEL_TRACES_SAMPLER", samplers, &v);
	if (rc == 0 && v == SAMPLER_UNSUPPORTED) {
		char q[CFG_QUOTE_MAX + 4];
		const char *s;
		size_t len;

		cfg_value(g, "OTEL_TRACES_SAMPLER", &s, &len);
		wt_warn("OTEL_TRACES_SAMPLER=\"%s\" is not supported; using parentbased_always_on",
			cfg_quote(q, s, len));
		rc = -EINVAL;
	} else if (rc == 0) {
		c->sampler = v;
	}
	if (!cfg_get(g, "OTEL_TRACES_SAMPLER_ARG"))
		return;
	if (rc == -ENOENT) {
		wt_warn("OTEL_TRACES_SAMPLER_ARG is ignored: OTEL_TRACES_SAMPLER is not set");
		return;
	}
	if (c->sampler == WT_SAMPLER_TRACEIDRATIO ||
	    c->sampler == WT_SAMPLER_PARENTBASED_TRACEIDRATIO)
		cfg_ratio(g, "OTEL_TRACES_SAMPLER_ARG", &c->sampler_ratio);
	else
		wt_debug("OTEL_TRACES_SAMPLER_ARG is ignored: the sampler takes no argument");
}

/* Attribute, event and link limits (OTSPEC sdk-environment-variables.md "Attribute Limits",
 * "Span Limits"). common/README.md: a model-specific limit wins; when it is unset the general
 * OTEL_ATTRIBUTE_* limit applies, to span, event and link attributes alike. */
static void load_limits(struct wt_config *c, config_getenv_fn g)
{
	struct exp_limits *l = &c->exp.limits;
	int count = 128, len = -1;

	cfg_int(g, "OTEL_ATTRIBUTE_COUNT_LIMIT", 0, CFG_INT_MAX, &count);
	cfg_int(g, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", 0, CFG_INT_MAX, &len);
	l->attr_count = count;
	cfg_int(g, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", 0, CFG_INT_MAX, &l->attr_count);
	l->attr_value_len = len;
	cfg_int(g, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", 0, CFG_INT_MAX, &l->attr_value_len);
	l->event_count = 128;
	cfg_int(g, "OTEL_SPAN_EVENT_COUNT_LIMIT", 0, CFG_INT_MAX, &l->event_count);
	l->event_attr_count = count;
	cfg_int(g, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", 0, CFG_INT_MAX, &l->event_attr_count);
	c->link_count_limit = 128;
	cfg_int(g, "OTEL_SPAN_LINK_COUNT_LIMIT", 0, CFG_INT_MAX, &c->link_count_limit);
	c->link_attr_count_limit = count;
	cfg_int(g, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", 0, CFG_INT_MAX, &c->link_attr_count_limit);
}

/* Member validators for the list variables: NULL if valid, else the reason. */
typedef const char *(*member_check_fn)(const char *s, size_t len);

static const char *check_method(const char *s, size_t len)
{
	return cfg_is_token(s, len) ? NULL : "not an HTTP method token";
}

static const char *check_path(const char *s, size_t len)
{
	(void)len;
	return s[0] == '/' ? NULL : "does not start with '/'";
}

/* A route: starts with '/', and every "{name}" is closed, non-empty, unnested and within one
 * path segment. */
static const char *check_route(const char *s, size_t len)
{
	size_t open = 0;
	bool in = false;

	if (s[0] != '/')
		return "does not start with '/'";
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '{') {
			if (in)
				return "nested '{'";
			in = true;
			open = i;
		} else if (s[i] == '}') {
			if (!in)
				return "'}' without '{'";
			if (i == open + 1)
				return "empty {}";
			in = false;
		} else if (s[i] == '/' && in) {
			return "'{' not closed in its segment";
		}
	}
	return in ? "'{' not closed" : NULL;
}

static const char *check_glob(const char *s, size_t len)
{
	(void)s;
	return len < GLOB_MAX ? NULL : "too long";
}

/* A comma list into arr[WT_MAX_LIST]: invalid members and duplicates are dropped (invalid ones
 * with a warning), members past WT_MAX_LIST too. */
static void load_list(config_getenv_fn g, const char *name, member_check_fn check, char **arr,
		      int *n)
{
	char q[CFG_QUOTE_MAX + 4];
	const char *cur = cfg_get(g, name), *item;
	size_t len;

	*n = 0;
	while (cur && cfg_list_next(&cur, &item, &len)) {
		const char *why = check(item, len);
		bool dup = false;

		if (why) {
			wt_warn("%s: \"%s\" ignored: %s", name, cfg_quote(q, item, len), why);
			continue;
		}
		for (int i = 0; i < *n && !dup; i++)
			dup = strlen(arr[i]) == len && memcmp(arr[i], item, len) == 0;
		if (dup)
			continue;
		if (*n == WT_MAX_LIST) {
			wt_warn("%s: more than %d entries; \"%s\" and later ones ignored", name,
				WT_MAX_LIST, cfg_quote(q, item, len));
			return;
		}
		arr[*n] = cfg_strndup(item, len);
		if (arr[*n])
			(*n)++;
	}
}

/* WIRETRACE_INCLUDE / WIRETRACE_EXCLUDE: validated members, re-joined with ',' (NULL if none). */
static char *load_globs(config_getenv_fn g, const char *name)
{
	char *arr[WT_MAX_LIST], *out = NULL;
	size_t total = 0;
	int n;

	load_list(g, name, check_glob, arr, &n);
	for (int i = 0; i < n; i++)
		total += strlen(arr[i]) + 1;
	if (n > 0)
		out = malloc(total);
	if (out) {
		out[0] = '\0';
		for (int i = 0; i < n; i++) {
			if (i)
				strcat(out, ",");
			strcat(out, arr[i]);
		}
	}
	for (int i = 0; i < n; i++)
		free(arr[i]);
	return out;
}

static const struct cfg_enum callsites[] = {
	{"false", WT_CALLSITE_OFF},
	{"true", WT_CALLSITE_ON},
	{"stack", WT_CALLSITE_STACK},
	{NULL, 0},
};

/* WIRETRACE_SPOOL_DIR, or $XDG_RUNTIME_DIR/wiretrace/spool (the per-user runtime directory of
 * the XDG Base Directory specification, which must be absolute), else /tmp/wiretrace-<uid>. */
static void load_spool(struct wt_config *c, config_getenv_fn g)
{
	char buf[PATH_MAX], q[CFG_QUOTE_MAX + 4];
	const char *s;
	size_t len;

	if (cfg_get(g, "WIRETRACE_SPOOL_DIR")) {
		cfg_value(g, "WIRETRACE_SPOOL_DIR", &s, &len);
		if (s[0] == '/') {
			c->exp.spool_dir = cfg_strndup(s, len);
			return;
		}
		wt_warn("WIRETRACE_SPOOL_DIR=\"%s\" is not an absolute path; using the default",
			cfg_quote(q, s, len));
	}
	s = cfg_get(g, "XDG_RUNTIME_DIR");
	if (s && s[0] == '/')
		snprintf(buf, sizeof(buf), "%s/wiretrace/spool", s);
	else
		snprintf(buf, sizeof(buf), "/tmp/wiretrace-%u/spool", (unsigned)getuid());
	c->exp.spool_dir = strdup(buf);
}

static void load_wiretrace(struct wt_config *c, config_getenv_fn g)
{
	load_list(g, "WIRETRACE_EXCLUDED_URLS", check_path, c->excluded_urls,
		  &c->nexcluded_urls);
	load_list(g, "WIRETRACE_ROUTES", check_route, c->routes, &c->nroutes);
	load_list(g, "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", check_method, c->known_methods,
		  &c->nknown_methods);
	if (cfg_get(g, "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS") && c->nknown_methods == 0)
		wt_warn("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS has no valid method; "
			"using the default list");
	c->include_glob = load_globs(g, "WIRETRACE_INCLUDE");
	c->exclude_glob = load_globs(g, "WIRETRACE_EXCLUDE");
	c->callsite = WT_CALLSITE_OFF;
	cfg_enum(g, "WIRETRACE_CAPTURE_CALLSITE", callsites, &c->callsite);
	cfg_bool(g, "WIRETRACE_HANDOFF", &c->handoff);
	c->exp.file_path = cfg_dup(g, "WIRETRACE_FILE");
	load_spool(c, g);
}

static const char *sampler_name(int s)
{
	for (const struct cfg_enum *e = samplers; e->word; e++)
		if (e->value == s)
			return e->word;
	return "?";
}

static void log_summary(const struct wt_config *c)
{
	static const char *const kinds[] = {"otlp", "console", "otlp/stdout", "none"};
	static const char *const protos[] = {"http/protobuf", "http/json", "grpc"};
	char q[CFG_QUOTE_MAX + 4];

	wt_debug("config: sdk_disabled=%d sampler=%s ratio=%g propagators:%s%s service.name=%s",
		 c->sdk_disabled, sampler_name(c->sampler), c->sampler_ratio,
		 c->propagate_tracecontext ? " tracecontext" : "",
		 c->propagate_baggage ? " baggage" : "",
		 c->exp.service_name ? c->exp.service_name : "?");
	wt_debug("config: exporter=%s protocol=%s endpoint=%s headers=%d (values not logged) "
		 "timeout=%dms gzip=%d",
		 kinds[c->exp.exporter & 3], protos[c->exp.protocol % 3],
		 c->exp.endpoint ? cfg_url_redact(q, c->exp.endpoint) : "?", c->exp.nheaders,
		 c->exp.timeout_ms, c->exp.gzip);
}

const char *config_getenv(const char *name)
{
	return getenv(name);
}

void config_load(struct wt_config *c, config_getenv_fn g)
{
	memset(c, 0, sizeof(*c));
	load_log(c, g);
	load_exe(c);
	if (cfg_get(g, "OTEL_CONFIG_FILE") || cfg_get(g, "OTEL_EXPERIMENTAL_CONFIG_FILE"))
		wt_warn("OTEL_CONFIG_FILE: declarative configuration is not supported; "
			"the environment variables are used");
	cfg_bool(g, "OTEL_SDK_DISABLED", &c->sdk_disabled);
	load_propagators(c, g);
	load_sampler(c, g);
	load_limits(c, g);
	load_wiretrace(c, g);
	cfg_exp_load(c, g);
	log_summary(c);
}

static void free_list(char **arr, int *n)
{
	for (int i = 0; i < *n; i++) {
		free(arr[i]);
		arr[i] = NULL;
	}
	*n = 0;
}

void config_free(struct wt_config *c)
{
	free(c->log_path);
	free_list(c->excluded_urls, &c->nexcluded_urls);
	free_list(c->routes, &c->nroutes);
	free_list(c->known_methods, &c->nknown_methods);
	free(c->include_glob);
	free(c->exclude_glob);
	free(c->exe_path);
	free(c->exe_name);
	cfg_exp_free(&c->exp);
	memset(c, 0, sizeof(*c));
}

static bool glob_match(const char *list, const char *name)
{
	char pat[GLOB_MAX];
	const char *cur = list, *item;
	size_t len;

	while (cfg_list_next(&cur, &item, &len)) {
		if (len >= sizeof(pat))
			continue;
		memcpy(pat, item, len);
		pat[len] = '\0';
		if (fnmatch(pat, name, 0) == 0)
			return true;
	}
	return false;
}

bool config_process_selected(const struct wt_config *c, const char *exe_name)
{
	if (!exe_name)
		exe_name = c->exe_name ? c->exe_name : "";
	if (c->include_glob && !glob_match(c->include_glob, exe_name))
		return false;
	if (c->exclude_glob && glob_match(c->exclude_glob, exe_name))
		return false;
	return true;
}
