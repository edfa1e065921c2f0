/*
 * test_exporter_resource.c - the OTLP Resource: service.name resolution and fallback,
 * OTEL_RESOURCE_ATTRIBUTES entries (overriding detected values, malformed entries skipped),
 * process.* from /proc compared with what the test process knows about itself, a fresh
 * process.pid in a forked child, host.arch mapping, telemetry.sdk.*, exemption from limits.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "exporter.h"
#include "resource.h"

static const char *argv0;

static const char *str_of(const struct exp_resource *r, const char *key)
{
	const struct exp_res_kv *kv = exp_resource_find(r, key);

	return kv && kv->str ? kv->str : NULL;
}

static void test_detected(void **state)
{
	char exe[PATH_MAX], host[256];
	struct exp_resource r;
	const struct exp_res_kv *kv;
	const char *base;
	ssize_t n;

	(void)state;
	assert_int_equal(exp_resource_build(&r, NULL), 0);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	base = strrchr(exe, '/') + 1;
	assert_string_equal(str_of(&r, "process.executable.path"), exe);
	assert_string_equal(str_of(&r, "process.executable.name"), base);
	assert_string_equal(str_of(&r, "process.command"), argv0);
	kv = exp_resource_find(&r, "process.pid");
	assert_non_null(kv);
	assert_null(kv->str); /* an int, as the conventions type it */
	assert_true(kv->i == getpid());
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(str_of(&r, "host.name"), host);
	assert_non_null(str_of(&r, "host.arch"));
	assert_string_equal(str_of(&r, "os.type"), "linux");
	assert_string_equal(str_of(&r, "telemetry.sdk.name"), "wiretrace");
	assert_string_equal(str_of(&r, "telemetry.sdk.language"), "c");
	assert_string_equal(str_of(&r, "telemetry.sdk.version"), WIRETRACE_VERSION);
	/* No configured name: unknown_service:<process.executable.name>, and first. */
	assert_string_equal(r.kv[0].key, "service.name");
	{
		char want[300];

		snprintf(want, sizeof(want), "unknown_service:%s", base);
		assert_string_equal(r.kv[0].str, want);
	}
	exp_resource_free(&r);
	assert_int_equal(r.n, 0);
}

static void test_config_entries(void **state)
{
	static char longval[3000];
	struct exp_resource_attr extra[] = {
	    {"deployment.environment.name", "staging"},
	    {"host.name", "from-env"},   /* user-provided wins over detected */
	    {"service.name", "ignored"}, /* resolved by the config already */
	    {NULL, "no key"},            /* malformed entries are skipped */
	    {"", "empty key"},
	    {"nullvalue", NULL},
	    {"long", longval},                       /* resource attributes have no limits */
	    {"deployment.environment.name", "prod"}, /* a duplicate: the later one wins */
	};
	struct exp_limits tight = {1, 2, 1, 1};
	struct exp_resource r;
	struct exp_config c;
	int i, count = 0;

	(void)state;
	memset(longval, 'v', sizeof(longval) - 1);
	exp_config_defaults(&c);
	c.service_name = "checkout";
	c.resource = extra;
	c.nresource = (int)(sizeof(extra) / sizeof(extra[0]));
	exp_limits_set(&tight);
	assert_int_equal(exp_resource_build(&r, &c), 0);
	assert_string_equal(str_of(&r, "service.name"), "checkout");
	assert_string_equal(str_of(&r, "host.name"), "from-env");
	assert_string_equal(str_of(&r, "deployment.environment.name"), "prod");
	assert_string_equal(str_of(&r, "nullvalue"), "");
	assert_int_equal(strlen(str_of(&r, "long")), sizeof(longval) - 1);
	for (i = 0; i < r.n; i++) {
		assert_true(r.kv[i].key[0] != '\0');
		count += strcmp(r.kv[i].key, "service.name") == 0;
		assert_true(!r.kv[i].str || strlen(r.kv[i].str) == r.kv[i].len);
	}
	assert_int_equal(count, 1);
	exp_resource_free(&r);
	c.service_name = "";
	assert_int_equal(exp_resource_build(&r, &c), 0);
	assert_true(strncmp(str_of(&r, "service.name"), "unknown_service:", 16) == 0);
	exp_resource_free(&r);
}

static void test_pid_after_fork(void **state)
{
	struct exp_resource r;
	int status;
	pid_t child;

	(void)state;
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		if (exp_resource_build(&r, NULL))
			_exit(2);
		_exit(exp_resource_find(&r, "process.pid")->i == getpid() && getpid() != getppid()
		          ? 0
		          : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static const struct {
	const char *machine, *arch;
} arch_cases[] = {
    {"x86_64", "amd64"}, {"aarch64", "arm64"},   {"i686", "x86"},  {"i386", "x86"},
    {"armv7l", "arm32"}, {"ppc64le", "ppc64"},   {"ppc", "ppc32"}, {"s390x", "s390x"},
    {"ia64", "ia64"},    {"riscv64", "riscv64"}, {"", ""},
};

static void test_arch_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(arch_cases) / sizeof(arch_cases[0]); i++)
		assert_string_equal(exp_resource_arch(arch_cases[i].machine), arch_cases[i].arch);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detected),
	    cmocka_unit_test(test_config_entries),
	    cmocka_unit_test(test_pid_after_fork),
	    cmocka_unit_test(test_arch_table),
	};

	(void)argc;
	argv0 = argv[0];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
