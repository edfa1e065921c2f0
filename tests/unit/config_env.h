/*
 * config_env.h - the fake environment the configuration unit tests load from: a table of
 * variables, WIRETRACE_LOG pointing at a fresh temporary file for every load, and helpers that
 * read the log back and check the warnings in it. Included by test_agent_config*.c only.
 */
#ifndef WT_TEST_CONFIG_ENV_H
#define WT_TEST_CONFIG_ENV_H

#ifndef MAXENV
#define MAXENV 80
#endif

struct kv {
	const char *k, *v;
};

static struct kv env[MAXENV];
static int nenv;
static char logpath[64];

static const char *fake_getenv(const char *name)
{
	for (int i = 0; i < nenv; i++)
		if (strcmp(env[i].k, name) == 0)
			return env[i].v;
	if (strcmp(name, "WIRETRACE_LOG") == 0)
		return logpath;
	return NULL;
}

static void load(struct wt_config *c, const struct kv *list)
{
	int fd;

	nenv = 0;
	for (; list && list->k && nenv < MAXENV; list++)
		env[nenv++] = *list;
	snprintf(logpath, sizeof(logpath), "/tmp/wt-test-cfg-XXXXXX");
	fd = mkstemp(logpath);
	assert_true(fd >= 0);
	close(fd);
	config_load(c, fake_getenv);
}

static const char *logtext(void)
{
	static char buf[1 << 16];
	int fd = open(logpath, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void done(struct wt_config *c)
{
	config_free(c);
	unlink(logpath);
	logpath[0] = '\0';
}

/* Is there a warn line containing `sub`? */
static bool warned(const char *log, const char *sub)
{
	for (const char *p = log; (p = strstr(p, "wiretrace: warn: ")); p++) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char line[1100];

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		if (strstr(line, sub))
			return true;
	}
	return false;
}

static void check_warning(const char *what, const char *log, const char *want)
{
	if (want && !warned(log, want))
		fail_msg("%s: expected a warning containing \"%s\"; log:\n%s", what, want, log);
	if (!want && strstr(log, "wiretrace: warn:"))
		fail_msg("%s: unexpected warning:\n%s", what, log);
}

/* Integer tables: a getter picks one value out of a loaded configuration. */
typedef long (*getter)(const struct wt_config *c);
#define GET(name, expr)                                                                     \
	static long name(const struct wt_config *c)                                         \
	{                                                                                    \
		return (long)(expr);                                                         \
	}

/* Case i of an integer table: load env, expect get() == want, and the warning (or none). */
static void check_int_case(size_t i, const struct kv *list, getter get, long want,
			   const char *warn)
{
	struct wt_config c;
	char what[160];
	long got;

	snprintf(what, sizeof(what), "case %zu (%s=%s)", i, list[0].k ? list[0].k : "-",
		 list[0].v ? list[0].v : "-");
	load(&c, list);
	got = get(&c);
	if (got != want)
		fail_msg("%s: got %ld, want %ld; log:\n%s", what, got, want, logtext());
	check_warning(what, logtext(), warn);
	done(&c);
}

#endif
