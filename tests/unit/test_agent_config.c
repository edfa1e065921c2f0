/*
 * test_agent_config.c - configuration from the environment: every agent-side variable with
 * valid, edge and invalid values, and the warning each invalid value must produce.
 *
 * The environment is a fake table handed to config_load(); WIRETRACE_LOG points at a fresh
 * temporary file for every load (unless a case sets it), so the warnings can be read back.
 * The exporter's variables (endpoint, headers, resource...) are in test_agent_config_otlp.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "wt_log.h"

#include "config_env.h"

GET(g_disabled, c->sdk_disabled)
GET(g_level, c->log_level)
GET(g_tc, c->propagate_tracecontext)
GET(g_bag, c->propagate_baggage)
GET(g_sampler, c->sampler)
GET(g_ratio_ppm, c->sampler_ratio * 1e6 + 0.5)
GET(g_attr_count, c->exp.limits.attr_count)
GET(g_attr_len, c->exp.limits.attr_value_len)
GET(g_event_count, c->exp.limits.event_count)
GET(g_event_attrs, c->exp.limits.event_attr_count)
GET(g_link_count, c->link_count_limit)
GET(g_link_attrs, c->link_attr_count_limit)
GET(g_callsite, c->callsite)
GET(g_nexcl, c->nexcluded_urls)
GET(g_nroutes, c->nroutes)
GET(g_nmethods, c->nknown_methods)
GET(g_threshold, c ? wt_log_threshold : -1)

struct icase {
	struct kv env[4];
	getter get;
	long want;
	const char *warn; /* a warn line must contain this; NULL: no warning at all */
};

#define S_PB_ON WT_SAMPLER_PARENTBASED_ALWAYS_ON
static const struct icase icases[] = {
	/* OTEL_SDK_DISABLED: Boolean */
	{{{NULL, NULL}}, g_disabled, 0, NULL},
	{{{"OTEL_SDK_DISABLED", "true"}}, g_disabled, 1, NULL},
	{{{"OTEL_SDK_DISABLED", "TRUE"}}, g_disabled, 1, NULL},
	{{{"OTEL_SDK_DISABLED", "True"}}, g_disabled, 1, NULL},
	{{{"OTEL_SDK_DISABLED", "false"}}, g_disabled, 0, NULL},
	{{{"OTEL_SDK_DISABLED", "FALSE"}}, g_disabled, 0, NULL},
	{{{"OTEL_SDK_DISABLED", ""}}, g_disabled, 0, NULL},
	{{{"OTEL_SDK_DISABLED", "1"}}, g_disabled, 0, "OTEL_SDK_DISABLED=\"1\""},
	{{{"OTEL_SDK_DISABLED", "yes"}}, g_disabled, 0, "OTEL_SDK_DISABLED=\"yes\""},
	{{{"OTEL_SDK_DISABLED", "truee"}}, g_disabled, 0, "OTEL_SDK_DISABLED"},
	/* OTEL_LOG_LEVEL: Enum */
	{{{NULL, NULL}}, g_level, WT_LOG_INFO, NULL},
	{{{"OTEL_LOG_LEVEL", "debug"}}, g_level, WT_LOG_DEBUG, NULL},
	{{{"OTEL_LOG_LEVEL", "DEBUG"}}, g_threshold, WT_LOG_DEBUG, NULL},
	{{{"OTEL_LOG_LEVEL", "info"}}, g_level, WT_LOG_INFO, NULL},
	{{{"OTEL_LOG_LEVEL", "warn"}}, g_level, WT_LOG_WARN, NULL},
	{{{"OTEL_LOG_LEVEL", "warning"}}, g_level, WT_LOG_WARN, NULL},
	{{{"OTEL_LOG_LEVEL", "error"}}, g_threshold, WT_LOG_ERROR, NULL},
	{{{"OTEL_LOG_LEVEL", "none"}}, g_threshold, WT_LOG_NONE, NULL},
	{{{"OTEL_LOG_LEVEL", "verbose"}}, g_level, WT_LOG_DEBUG, NULL},
	{{{"OTEL_LOG_LEVEL", "loud"}}, g_level, WT_LOG_INFO, "OTEL_LOG_LEVEL=\"loud\""},
	{{{"OTEL_LOG_LEVEL", "3"}}, g_threshold, WT_LOG_INFO, "OTEL_LOG_LEVEL=\"3\""},
	/* OTEL_PROPAGATORS */
	{{{NULL, NULL}}, g_tc, 1, NULL},
	{{{NULL, NULL}}, g_bag, 1, NULL},
	{{{"OTEL_PROPAGATORS", "tracecontext"}}, g_tc, 1, NULL},
	{{{"OTEL_PROPAGATORS", "tracecontext"}}, g_bag, 0, NULL},
	{{{"OTEL_PROPAGATORS", "baggage"}}, g_tc, 0, NULL},
	{{{"OTEL_PROPAGATORS", "none"}}, g_tc, 0, NULL},
	{{{"OTEL_PROPAGATORS", "none"}}, g_bag, 0, NULL},
	{{{"OTEL_PROPAGATORS", " TraceContext , BAGGAGE "}}, g_bag, 1, NULL},
	{{{"OTEL_PROPAGATORS", "tracecontext,tracecontext"}}, g_tc, 1, NULL},
	{{{"OTEL_PROPAGATORS", "b3"}}, g_tc, 0, "b3 propagator is not supported"},
	{{{"OTEL_PROPAGATORS", "b3multi,tracecontext"}}, g_tc, 1, "b3multi propagator"},
	{{{"OTEL_PROPAGATORS", "xray,jaeger,ottrace"}}, g_tc, 0, "ottrace propagator"},
	{{{"OTEL_PROPAGATORS", "tracecontxt"}}, g_tc, 1, "unknown propagator \"tracecontxt\""},
	{{{"OTEL_PROPAGATORS", "foo,baggage"}}, g_tc, 0, "unknown propagator \"foo\""},
	{{{"OTEL_PROPAGATORS", "none,tracecontext"}}, g_tc, 1, "\"none\" is combined"},
	{{{"OTEL_PROPAGATORS", ",,"}}, g_tc, 1, "no known propagator"},
	/* OTEL_TRACES_SAMPLER */
	{{{NULL, NULL}}, g_sampler, S_PB_ON, NULL},
	{{{"OTEL_TRACES_SAMPLER", "always_on"}}, g_sampler, WT_SAMPLER_ALWAYS_ON, NULL},
	{{{"OTEL_TRACES_SAMPLER", "always_off"}}, g_sampler, WT_SAMPLER_ALWAYS_OFF, NULL},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}}, g_sampler, WT_SAMPLER_TRACEIDRATIO, NULL},
	{{{"OTEL_TRACES_SAMPLER", "TraceIdRatio"}}, g_sampler, WT_SAMPLER_TRACEIDRATIO, NULL},
	{{{"OTEL_TRACES_SAMPLER", "parentbased_always_on"}}, g_sampler, S_PB_ON, NULL},
	{{{"OTEL_TRACES_SAMPLER", "parentbased_always_off"}},
	 g_sampler, WT_SAMPLER_PARENTBASED_ALWAYS_OFF, NULL},
	{{{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"}},
	 g_sampler, WT_SAMPLER_PARENTBASED_TRACEIDRATIO, NULL},
	{{{"OTEL_TRACES_SAMPLER", "jaeger_remote"}}, g_sampler, S_PB_ON, "is not supported"},
	{{{"OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote"}}, g_sampler, S_PB_ON,
	 "OTEL_TRACES_SAMPLER=\"parentbased_jaeger_remote\" is not supported"},
	{{{"OTEL_TRACES_SAMPLER", "xray"}}, g_sampler, S_PB_ON, "\"xray\" is not supported"},
	{{{"OTEL_TRACES_SAMPLER", "sometimes"}}, g_sampler, S_PB_ON, "\"sometimes\""},
	/* OTEL_TRACES_SAMPLER_ARG */
	{{{NULL, NULL}}, g_ratio_ppm, 1000000, NULL},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}}, g_ratio_ppm, 1000000, NULL},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0.25"}},
	 g_ratio_ppm, 250000, NULL},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0"}},
	 g_ratio_ppm, 0, NULL},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "1"}},
	 g_ratio_ppm, 1000000, NULL},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", " .5 "}},
	 g_ratio_ppm, 500000, NULL},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "1e-1"}},
	 g_ratio_ppm, 100000, NULL},
	{{{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
	  {"OTEL_TRACES_SAMPLER_ARG", "0.001"}}, g_ratio_ppm, 1000, NULL},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "1.5"}},
	 g_ratio_ppm, 1000000, "OTEL_TRACES_SAMPLER_ARG=\"1.5\""},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "-0.1"}},
	 g_ratio_ppm, 1000000, "OTEL_TRACES_SAMPLER_ARG=\"-0.1\""},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "half"}},
	 g_ratio_ppm, 1000000, "OTEL_TRACES_SAMPLER_ARG=\"half\""},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "nan"}},
	 g_ratio_ppm, 1000000, "OTEL_TRACES_SAMPLER_ARG"},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0x1p-2"}},
	 g_ratio_ppm, 1000000, "OTEL_TRACES_SAMPLER_ARG"},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0,5"}},
	 g_ratio_ppm, 1000000, "OTEL_TRACES_SAMPLER_ARG"},
	{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "1e"}},
	 g_ratio_ppm, 1000000, "OTEL_TRACES_SAMPLER_ARG"},
	{{{"OTEL_TRACES_SAMPLER", "always_on"}, {"OTEL_TRACES_SAMPLER_ARG", "0.5"}},
	 g_ratio_ppm, 1000000, NULL},
	{{{"OTEL_TRACES_SAMPLER_ARG", "0.5"}}, g_ratio_ppm, 1000000,
	 "OTEL_TRACES_SAMPLER is not set"},
	{{{"OTEL_TRACES_SAMPLER", "bogus"}, {"OTEL_TRACES_SAMPLER_ARG", "0.5"}}, g_ratio_ppm,
	 1000000, "OTEL_TRACES_SAMPLER=\"bogus\""},
	/* Limits: integers >= 0; model-specific over general */
	{{{NULL, NULL}}, g_attr_count, 128, NULL},
	{{{NULL, NULL}}, g_attr_len, -1, NULL},
	{{{NULL, NULL}}, g_event_count, 128, NULL},
	{{{NULL, NULL}}, g_event_attrs, 128, NULL},
	{{{NULL, NULL}}, g_link_count, 128, NULL},
	{{{NULL, NULL}}, g_link_attrs, 128, NULL},
	{{{"OTEL_ATTRIBUTE_COUNT_LIMIT", "10"}}, g_attr_count, 10, NULL},
	{{{"OTEL_ATTRIBUTE_COUNT_LIMIT", "10"}}, g_event_attrs, 10, NULL},
	{{{"OTEL_ATTRIBUTE_COUNT_LIMIT", "10"}}, g_link_attrs, 10, NULL},
	{{{"OTEL_ATTRIBUTE_COUNT_LIMIT", "10"}, {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "5"}},
	 g_attr_count, 5, NULL},
	{{{"OTEL_ATTRIBUTE_COUNT_LIMIT", "10"}, {"OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "3"}},
	 g_event_attrs, 3, NULL},
	{{{"OTEL_ATTRIBUTE_COUNT_LIMIT", "10"}, {"OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "4"}},
	 g_link_attrs, 4, NULL},
	{{{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"}}, g_attr_len, 100, NULL},
	{{{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"},
	  {"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "50"}}, g_attr_len, 50, NULL},
	{{{"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "0"}}, g_attr_len, 0, NULL},
	{{{"OTEL_SPAN_EVENT_COUNT_LIMIT", "7"}}, g_event_count, 7, NULL},
	{{{"OTEL_SPAN_LINK_COUNT_LIMIT", "+3"}}, g_link_count, 3, NULL},
	{{{"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2147483647"}}, g_attr_count, 2147483647, NULL},
	{{{"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2147483648"}}, g_attr_count, 128,
	 "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=\"2147483648\""},
	{{{"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "-3"}}, g_attr_count, 128,
	 "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=\"-3\""},
	{{{"OTEL_ATTRIBUTE_COUNT_LIMIT", "12abc"}}, g_attr_count, 128,
	 "OTEL_ATTRIBUTE_COUNT_LIMIT=\"12abc\""},
	{{{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "0x10"}}, g_attr_len, -1,
	 "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=\"0x10\""},
	{{{"OTEL_SPAN_EVENT_COUNT_LIMIT", "1.5"}}, g_event_count, 128,
	 "OTEL_SPAN_EVENT_COUNT_LIMIT"},
	{{{"OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "x"}}, g_event_attrs, 128,
	 "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"},
	{{{"OTEL_SPAN_LINK_COUNT_LIMIT", "-"}}, g_link_count, 128, "OTEL_SPAN_LINK_COUNT_LIMIT"},
	{{{"OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "99999999999999999999"}}, g_link_attrs, 128,
	 "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"},
	/* WIRETRACE_CAPTURE_CALLSITE */
	{{{NULL, NULL}}, g_callsite, WT_CALLSITE_OFF, NULL},
	{{{"WIRETRACE_CAPTURE_CALLSITE", "false"}}, g_callsite, WT_CALLSITE_OFF, NULL},
	{{{"WIRETRACE_CAPTURE_CALLSITE", "true"}}, g_callsite, WT_CALLSITE_ON, NULL},
	{{{"WIRETRACE_CAPTURE_CALLSITE", "STACK"}}, g_callsite, WT_CALLSITE_STACK, NULL},
	{{{"WIRETRACE_CAPTURE_CALLSITE", "1"}}, g_callsite, WT_CALLSITE_OFF,
	 "WIRETRACE_CAPTURE_CALLSITE=\"1\""},
	/* WIRETRACE_EXCLUDED_URLS */
	{{{NULL, NULL}}, g_nexcl, 0, NULL},
	{{{"WIRETRACE_EXCLUDED_URLS", "/health, /metrics ,/health"}}, g_nexcl, 2, NULL},
	{{{"WIRETRACE_EXCLUDED_URLS", "/health,metrics"}}, g_nexcl, 1,
	 "WIRETRACE_EXCLUDED_URLS: \"metrics\" ignored"},
	/* WIRETRACE_ROUTES */
	{{{"WIRETRACE_ROUTES", "/stock/{item}/reserve,/users/{id},/"}}, g_nroutes, 3, NULL},
	{{{"WIRETRACE_ROUTES", "/a/{b"}}, g_nroutes, 0, "\"/a/{b\" ignored: '{' not closed"},
	{{{"WIRETRACE_ROUTES", "/a/b}"}}, g_nroutes, 0, "'}' without '{'"},
	{{{"WIRETRACE_ROUTES", "/a/{}"}}, g_nroutes, 0, "empty {}"},
	{{{"WIRETRACE_ROUTES", "/a/{b{c}}"}}, g_nroutes, 0, "nested"},
	{{{"WIRETRACE_ROUTES", "/a/{b/c}"}}, g_nroutes, 0, "not closed in its segment"},
	{{{"WIRETRACE_ROUTES", "stock/{item}, /ok/{x}"}}, g_nroutes, 1,
	 "\"stock/{item}\" ignored: does not start with '/'"},
	/* OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS */
	{{{NULL, NULL}}, g_nmethods, 0, NULL},
	{{{"OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,POST,PURGE"}}, g_nmethods, 3, NULL},
	{{{"OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,BAD METHOD"}}, g_nmethods, 1,
	 "\"BAD METHOD\" ignored"},
	{{{"OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "(),{}"}}, g_nmethods, 0,
	 "has no valid method"},
	/* OTEL_CONFIG_FILE */
	{{{"OTEL_CONFIG_FILE", "/etc/otel.yaml"}}, g_sampler, S_PB_ON,
	 "declarative configuration is not supported"},
	{{{"OTEL_EXPERIMENTAL_CONFIG_FILE", "/etc/otel.yaml"}}, g_sampler, S_PB_ON,
	 "OTEL_CONFIG_FILE"},
	/* Levels above warn silence the warnings */
	{{{"OTEL_LOG_LEVEL", "error"}, {"OTEL_SDK_DISABLED", "maybe"}}, g_disabled, 0, NULL},
	{{{"OTEL_LOG_LEVEL", "none"}, {"OTEL_SPAN_EVENT_COUNT_LIMIT", "x"}}, g_event_count, 128,
	 NULL},
};

static void test_int_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(icases) / sizeof(icases[0]); i++)
		check_int_case(i, icases[i].env, icases[i].get, icases[i].want, icases[i].warn);
}

/* A propagator named twice is reported once. */
static void test_unsupported_propagator_warned_once(void **state)
{
	static const struct kv e[] = {{"OTEL_PROPAGATORS", "b3,tracecontext,b3,B3"}, {NULL, NULL}};
	struct wt_config c;
	const char *log, *p;
	int n = 0;
	(void)state;

	load(&c, e);
	log = logtext();
	for (p = log; (p = strstr(p, "b3 propagator")); p++)
		n++;
	assert_int_equal(n, 1);
	assert_true(c.propagate_tracecontext);
	done(&c);
}

static void test_lists_content(void **state)
{
	static const struct kv e[] = {
		{"WIRETRACE_EXCLUDED_URLS", " /health ,/metrics"},
		{"WIRETRACE_ROUTES", "/stock/{item}/reserve"},
		{"OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET, PURGE"},
		{"WIRETRACE_INCLUDE", " nginx , py* "},
		{NULL, NULL},
	};
	struct wt_config c;
	(void)state;

	load(&c, e);
	assert_int_equal(c.nexcluded_urls, 2);
	assert_string_equal(c.excluded_urls[0], "/health");
	assert_string_equal(c.excluded_urls[1], "/metrics");
	assert_string_equal(c.routes[0], "/stock/{item}/reserve");
	assert_string_equal(c.known_methods[0], "GET");
	assert_string_equal(c.known_methods[1], "PURGE");
	assert_string_equal(c.include_glob, "nginx,py*");
	assert_null(c.exclude_glob);
	done(&c);
}

static void test_list_overflow(void **state)
{
	static char big[WT_MAX_LIST * 8 + 64];
	struct kv e[] = {{"WIRETRACE_EXCLUDED_URLS", big}, {NULL, NULL}};
	struct wt_config c;
	size_t n = 0;
	(void)state;

	for (int i = 0; i < WT_MAX_LIST + 5; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "/p%d,", i);
	load(&c, e);
	assert_int_equal(c.nexcluded_urls, WT_MAX_LIST);
	assert_string_equal(c.excluded_urls[WT_MAX_LIST - 1], "/p63");
	assert_true(warned(logtext(), "more than 64 entries; \"/p64\""));
	done(&c);
}

struct selcase {
	const char *include, *exclude, *exe;
	bool want;
};

static void test_process_selected(void **state)
{
	static const struct selcase cases[] = {
		{NULL, NULL, "nginx", true},
		{"nginx", NULL, "nginx", true},
		{"nginx", NULL, "curl", false},
		{"py*,node", NULL, "python3", true},
		{"py*,node", NULL, "node", true},
		{"py*,node", NULL, "nodejs", false},
		{NULL, "python*", "python3", false},
		{NULL, "python*", "bash", true},
		{"*", "bash", "bash", false},
		{"bash", "bash", "bash", false},
		{"ng?nx", NULL, "nginx", true},
		{"[a-c]url", NULL, "curl", true},
		{"[a-c]url", NULL, "wurl", false},
		{" curl , wget ", NULL, "wget", true},
		{NULL, NULL, "", true},
		{"x", NULL, "", false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kv e[3] = {{NULL, NULL}};
		struct wt_config c;
		int n = 0;

		if (cases[i].include)
			e[n++] = (struct kv){"WIRETRACE_INCLUDE", cases[i].include};
		if (cases[i].exclude)
			e[n++] = (struct kv){"WIRETRACE_EXCLUDE", cases[i].exclude};
		load(&c, e);
		if (config_process_selected(&c, cases[i].exe) != cases[i].want)
			fail_msg("case %zu: include=%s exclude=%s exe=%s", i, cases[i].include,
				 cases[i].exclude, cases[i].exe);
		done(&c);
	}
}

/* exe_name NULL: the executable of the configuration (here injected). */
static void test_process_selected_own_exe(void **state)
{
	static const struct kv e[] = {{"WIRETRACE_EXCLUDE", "secret-*"}, {NULL, NULL}};
	struct wt_config c;
	(void)state;

	config_set_exe_path("/opt/bin/secret-daemon");
	load(&c, e);
	assert_string_equal(c.exe_name, "secret-daemon");
	assert_string_equal(c.exe_path, "/opt/bin/secret-daemon");
	assert_false(config_process_selected(&c, NULL));
	done(&c);
	config_set_exe_path("/opt/bin/web");
	load(&c, e);
	assert_true(config_process_selected(&c, NULL));
	done(&c);
	config_set_exe_path(NULL); /* the real /proc/self/exe: this test program */
	load(&c, NULL);
	assert_non_null(c.exe_path);
	assert_int_equal(access(c.exe_path, X_OK), 0);
	assert_non_null(strstr(c.exe_name, "test_agent_config"));
	assert_string_equal(c.exe_path + strlen(c.exe_path) - strlen(c.exe_name), c.exe_name);
	done(&c);
	config_set_exe_path("/usr/bin/testprog");
}

struct scase {
	struct kv env[3];
	size_t off; /* offset of a char * in struct wt_config */
	const char *want;
	const char *warn;
};

#define F(field) offsetof(struct wt_config, field)

static void test_string_table(void **state)
{
	static char tmpspool[64];
	static const struct scase cases[] = {
		{{{"WIRETRACE_FILE", "/tmp/spans.jsonl"}}, F(exp.file_path), "/tmp/spans.jsonl",
		 NULL},
		{{{NULL, NULL}}, F(exp.file_path), NULL, NULL},
		{{{"WIRETRACE_SPOOL_DIR", "/var/spool/wt"}}, F(exp.spool_dir), "/var/spool/wt",
		 NULL},
		{{{"XDG_RUNTIME_DIR", "/run/user/1000"}}, F(exp.spool_dir),
		 "/run/user/1000/wiretrace/spool", NULL},
		{{{"XDG_RUNTIME_DIR", "/run/user/7"}, {"WIRETRACE_SPOOL_DIR", "/s"}},
		 F(exp.spool_dir), "/s", NULL},
		{{{"XDG_RUNTIME_DIR", "/run/user/7"}, {"WIRETRACE_SPOOL_DIR", "rel/dir"}},
		 F(exp.spool_dir), "/run/user/7/wiretrace/spool",
		 "WIRETRACE_SPOOL_DIR=\"rel/dir\" is not an absolute path"},
		{{{"XDG_RUNTIME_DIR", "relative"}}, F(exp.spool_dir), tmpspool, NULL},
		{{{NULL, NULL}}, F(exp.spool_dir), tmpspool, NULL},
		{{{NULL, NULL}}, F(include_glob), NULL, NULL},
		{{{"WIRETRACE_EXCLUDE", ",,"}}, F(exclude_glob), NULL, NULL},
	};
	(void)state;
	snprintf(tmpspool, sizeof(tmpspool), "/tmp/wiretrace-%u/spool", (unsigned)getuid());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wt_config c;
		const char *got;
		char what[64];

		snprintf(what, sizeof(what), "string case %zu", i);
		load(&c, cases[i].env);
		got = *(char **)((char *)&c + cases[i].off);
		if (cases[i].want == NULL && got != NULL)
			fail_msg("%s: got \"%s\", want NULL", what, got);
		if (cases[i].want && (!got || strcmp(got, cases[i].want) != 0))
			fail_msg("%s: got \"%s\", want \"%s\"", what, got ? got : "(null)",
				 cases[i].want);
		check_warning(what, logtext(), cases[i].warn);
		done(&c);
	}
}

/* WIRETRACE_LOG routes the warnings; config keeps the path. */
static void test_wiretrace_log(void **state)
{
	char other[64];
	struct kv e[] = {{"WIRETRACE_LOG", other}, {"OTEL_SDK_DISABLED", "nope"}, {NULL, NULL}};
	struct wt_config c;
	int fd;
	(void)state;

	snprintf(other, sizeof(other), "/tmp/wt-test-cfglog-XXXXXX");
	fd = mkstemp(other);
	assert_true(fd >= 0);
	load(&c, e);
	assert_string_equal(c.log_path, other);
	assert_string_equal(logtext(), ""); /* the default test file got nothing */
	char buf[512] = {0};
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	assert_non_null(strstr(buf, "wiretrace: warn: OTEL_SDK_DISABLED=\"nope\""));
	close(fd);
	unlink(other);
	done(&c);
}

/* Debug level prints a summary; nothing at all is printed for a clean environment at info. */
static void test_levels_and_summary(void **state)
{
	static const struct kv dbg[] = {{"OTEL_LOG_LEVEL", "debug"}, {NULL, NULL}};
	struct wt_config c;
	(void)state;

	load(&c, NULL);
	assert_string_equal(logtext(), "");
	done(&c);
	load(&c, dbg);
	assert_non_null(strstr(logtext(), "wiretrace: debug: config: "));
	assert_non_null(strstr(logtext(), "sampler=parentbased_always_on"));
	done(&c);
}

static int setup(void **state)
{
	(void)state;
	config_set_exe_path("/usr/bin/testprog");
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_table),
		cmocka_unit_test(test_unsupported_propagator_warned_once),
		cmocka_unit_test(test_lists_content),
		cmocka_unit_test(test_list_overflow),
		cmocka_unit_test(test_process_selected),
		cmocka_unit_test(test_process_selected_own_exe),
		cmocka_unit_test(test_string_table),
		cmocka_unit_test(test_wiretrace_log),
		cmocka_unit_test(test_levels_and_summary),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
