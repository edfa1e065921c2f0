/*
 * resource.c - build the OTLP Resource (see resource.h).
 *
 * What goes in, and why (semantic conventions v1.44, docs/resource/; SDK spec resource/sdk.md):
 *  - service.name: the configuration's resolved name (OTEL_SERVICE_NAME, then
 *    OTEL_RESOURCE_ATTRIBUTES); if it has none, `unknown_service:<process.executable.name>`, the
 *    SDK default the specification gives.
 *  - telemetry.sdk.name = "wiretrace": only the official SDKs may say "opentelemetry".
 *    telemetry.sdk.language = "c": the conventions list well-known values (cpp, go, ...) without
 *    C but allow custom ones, and wiretrace is written in C and instruments any language, so
 *    none of the listed values would be true. telemetry.sdk.version = WIRETRACE_VERSION.
 *  - process.pid (getpid(), so the resource is rebuilt in a forked child),
 *    process.executable.path (target of /proc/self/exe), process.executable.name (its basename),
 *    process.command (argv[0], the first string of /proc/self/cmdline).
 *    process.command_args is opt-in and may hold secrets, so it is not collected.
 *  - host.name (gethostname), host.arch (uname machine mapped to the conventions' values),
 *    os.type = "linux".
 *  - every OTEL_RESOURCE_ATTRIBUTES entry except service.name (already resolved). User-provided
 *    attributes are the primary resource when merging, so an entry with the key of a detected
 *    attribute replaces the detected value.
 * Resource attributes are exempt from the attribute limits (common/README.md), so nothing is
 * truncated here; the encoders still repair invalid UTF-8.
 *
 * Thread safety: runs on the exporter thread (or a test); allocates; reads /proc.
 */
#include "resource.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static const struct {
	const char *machine;
	const char *arch;
} arches[] = {
    {"x86_64", "amd64"}, {"amd64", "amd64"}, {"aarch64", "arm64"}, {"arm64", "arm64"},
    {"i386", "x86"},     {"i486", "x86"},    {"i586", "x86"},      {"i686", "x86"},
    {"ia64", "ia64"},    {"ppc64", "ppc64"}, {"ppc64le", "ppc64"}, {"ppc", "ppc32"},
    {"s390x", "s390x"},
};

const char *exp_resource_arch(const char *machine)
{
	size_t i;

	for (i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
		if (strcmp(machine, arches[i].machine) == 0)
			return arches[i].arch;
	if (strncmp(machine, "armv", 4) == 0 || strcmp(machine, "arm") == 0)
		return "arm32";
	return machine;
}

static struct exp_res_kv *find(const struct exp_resource *r, const char *key)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->kv[i].key, key) == 0)
			return &r->kv[i];
	return NULL;
}

const struct exp_res_kv *exp_resource_find(const struct exp_resource *r, const char *key)
{
	return find(r, key);
}

/* Add or replace key; a string value if str != NULL, else the integer i. */
static int set(struct exp_resource *r, const char *key, const char *str, int64_t i)
{
	struct exp_res_kv *kv = find(r, key);
	char *v = NULL;

	if (str && !(v = strdup(str)))
		return -ENOMEM;
	if (!kv) {
		if (r->n == r->cap) {
			int cap = r->cap ? r->cap * 2 : 16;
			struct exp_res_kv *p = realloc(r->kv, (size_t)cap * sizeof(*p));

			if (!p)
				goto nomem;
			r->kv = p;
			r->cap = cap;
		}
		kv = &r->kv[r->n];
		if (!(kv->key = strdup(key)))
			goto nomem;
		r->n++;
	} else {
		free(kv->str);
	}
	kv->str = v;
	kv->len = v ? strlen(v) : 0;
	kv->i = i;
	return 0;
nomem:
	free(v);
	return -ENOMEM;
}

/* First NUL-terminated string of a /proc file, into buf (NUL-terminated). */
static int read_first_string(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	buf[n] = '\0';
	return 0;
}

static int add_process(struct exp_resource *r, char *exe_name, size_t name_size)
{
	char path[PATH_MAX], cmd[4096];
	const char *base;
	ssize_t n;
	int rc;

	exe_name[0] = '\0';
	rc = set(r, "process.pid", NULL, (int64_t)getpid());
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (rc == 0 && n > 0) {
		path[n] = '\0';
		base = strrchr(path, '/');
		base = base ? base + 1 : path;
		n = (ssize_t)strlen(base);
		if ((size_t)n >= name_size)
			n = (ssize_t)name_size - 1;
		memcpy(exe_name, base, (size_t)n);
		exe_name[n] = '\0';
		rc = set(r, "process.executable.name", exe_name, 0);
		if (rc == 0)
			rc = set(r, "process.executable.path", path, 0);
	}
	if (rc == 0 && read_first_string("/proc/self/cmdline", cmd, sizeof(cmd)) == 0 && cmd[0])
		rc = set(r, "process.command", cmd, 0);
	return rc;
}

static int add_host(struct exp_resource *r)
{
	char host[HOST_NAME_MAX + 1];
	struct utsname u;
	int rc = 0;

	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		rc = set(r, "host.name", host, 0);
	}
	if (rc == 0 && uname(&u) == 0)
		rc = set(r, "host.arch", exp_resource_arch(u.machine), 0);
	if (rc == 0)
		rc = set(r, "os.type", "linux", 0);
	return rc;
}

static int add_service_name(struct exp_resource *r, const struct exp_config *c,
                            const char *exe_name)
{
	char name[300];

	if (c && c->service_name && c->service_name[0])
		return set(r, "service.name", c->service_name, 0);
	if (exe_name[0]) {
		strcpy(name, "unknown_service:");
		strncat(name, exe_name, sizeof(name) - strlen(name) - 1);
		return set(r, "service.name", name, 0);
	}
	return set(r, "service.name", "unknown_service", 0);
}

int exp_resource_build(struct exp_resource *r, const struct exp_config *c)
{
	char exe_name[256];
	int i, rc;

	memset(r, 0, sizeof(*r));
	/* service.name first so that it leads the list (readers look for it). */
	rc = set(r, "service.name", "", 0);
	if (rc == 0)
		rc = set(r, "telemetry.sdk.name", "wiretrace", 0);
	if (rc == 0)
		rc = set(r, "telemetry.sdk.language", "c", 0);
	if (rc == 0)
		rc = set(r, "telemetry.sdk.version", WIRETRACE_VERSION, 0);
	if (rc == 0)
		rc = add_process(r, exe_name, sizeof(exe_name));
	if (rc == 0)
		rc = add_host(r);
	if (rc == 0)
		rc = add_service_name(r, c, exe_name);
	for (i = 0; rc == 0 && c && c->resource && i < c->nresource; i++) {
		const struct exp_resource_attr *a = &c->resource[i];

		if (!a->key || !a->key[0] || strcmp(a->key, "service.name") == 0)
			continue;
		rc = set(r, a->key, a->value ? a->value : "", 0);
	}
	if (rc)
		exp_resource_free(r);
	return rc;
}

void exp_resource_free(struct exp_resource *r)
{
	int i;

	for (i = 0; i < r->n; i++) {
		free(r->kv[i].key);
		free(r->kv[i].str);
	}
	free(r->kv);
	memset(r, 0, sizeof(*r));
}
