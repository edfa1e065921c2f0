/*
 * test_base_log.c - the internal logger: line format, level filter, destinations (file, stderr,
 * never stdout), errno preservation, sanitising, truncation, fd-reuse safety and the rate
 * limiter (exact accounting of printed + suppressed lines, also under several threads).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wt_log.h"

static char path[64];

static void fresh_path(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/wt-test-log-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path); /* wt_log_init creates it */
}

/* Whole file into a static buffer. */
static const char *slurp(const char *p)
{
	static char buf[1 << 18];
	ssize_t n = 0;
	int fd = open(p, O_RDONLY);

	buf[0] = '\0';
	if (fd < 0)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int count_lines(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Redirect fd `which` to a temporary file; restore() gives back its contents. */
struct capture {
	int which, saved;
	char path[64];
};

static void capture_start(struct capture *c, int which)
{
	int fd;

	c->which = which;
	snprintf(c->path, sizeof(c->path), "/tmp/wt-test-cap-XXXXXX");
	fd = mkstemp(c->path);
	assert_true(fd >= 0);
	fflush(NULL);
	c->saved = dup(which);
	dup2(fd, which);
	close(fd);
}

static const char *capture_end(struct capture *c)
{
	const char *s;

	dup2(c->saved, c->which);
	close(c->saved);
	s = slurp(c->path);
	unlink(c->path);
	return s;
}

static void test_format_and_words(void **state)
{
	static const struct {
		int level;
		const char *want;
	} cases[] = {
		{WT_LOG_ERROR, "wiretrace: error: m 1\n"},
		{WT_LOG_WARN, "wiretrace: warn: m 2\n"},
		{WT_LOG_INFO, "wiretrace: info: m 3\n"},
		{WT_LOG_DEBUG, "wiretrace: debug: m 4\n"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fresh_path();
		wt_log_init(WT_LOG_DEBUG, path);
		wt_log(cases[i].level, "m %d", cases[i].level);
		assert_string_equal(slurp(path), cases[i].want);
		unlink(path);
	}
}

static void test_threshold_table(void **state)
{
	(void)state;
	for (int th = WT_LOG_NONE; th <= WT_LOG_DEBUG; th++) {
		for (int lv = WT_LOG_ERROR; lv <= WT_LOG_DEBUG; lv++) {
			fresh_path();
			wt_log_init(th, path);
			assert_int_equal(wt_log_threshold, th);
			wt_log(lv, "x");
			assert_int_equal(count_lines(slurp(path), "\n"), lv <= th ? 1 : 0);
			unlink(path);
		}
	}
	/* Out-of-range levels are clamped or dropped, never printed as garbage. */
	fresh_path();
	wt_log_init(99, path);
	assert_int_equal(wt_log_threshold, WT_LOG_DEBUG);
	wt_log(0, "level zero");
	wt_log(5, "level five");
	wt_log(-1, "negative");
	assert_string_equal(slurp(path), "");
	unlink(path);
}

static void test_errno_preserved(void **state)
{
	(void)state;
	fresh_path();
	errno = EPIPE;
	wt_log_init(WT_LOG_INFO, path);
	assert_int_equal(errno, EPIPE);
	errno = ECONNRESET;
	wt_warn("with errno");
	assert_int_equal(errno, ECONNRESET);
	errno = EAGAIN;
	wt_debug("filtered out");
	assert_int_equal(errno, EAGAIN);
	unlink(path);

	/* A failing write (stderr closed) must not leak its EBADF either. */
	int saved2 = dup(2);

	close(2);
	wt_log_init(WT_LOG_INFO, NULL);
	errno = ECONNRESET;
	wt_warn("nowhere to go");
	assert_int_equal(errno, ECONNRESET);
	dup2(saved2, 2);
	close(saved2);

	struct capture cap;

	capture_start(&cap, 2);
	errno = EINTR;
	wt_log_init(WT_LOG_INFO, "/nonexistent-dir/x/y.log");
	assert_int_equal(errno, EINTR);
	assert_non_null(strstr(capture_end(&cap), "cannot open WIRETRACE_LOG"));
}

static void test_scrub_and_truncate(void **state)
{
	static char big[5000];
	const char *s;
	(void)state;

	fresh_path();
	wt_log_init(WT_LOG_INFO, path);
	wt_warn("a\nb\r\x1b[31mc\x7f");
	assert_string_equal(slurp(path), "wiretrace: warn: a?b??[31mc?\n");
	unlink(path);

	memset(big, 'z', sizeof(big) - 1);
	fresh_path();
	wt_log_init(WT_LOG_INFO, path);
	wt_warn("%s", big);
	s = slurp(path);
	assert_int_equal(count_lines(s, "\n"), 1);
	assert_true(strlen(s) <= 1024);
	assert_true(strlen(s) > 900);
	assert_string_equal(s + strlen(s) - 4, "...\n");
	unlink(path);
}

static void test_destinations(void **state)
{
	struct capture err, out;
	const char *e, *o;
	struct stat st;
	(void)state;

	/* Default: stderr, never stdout. */
	capture_start(&out, 1);
	capture_start(&err, 2);
	wt_log_init(WT_LOG_INFO, NULL);
	wt_warn("to stderr");
	wt_log_init(WT_LOG_INFO, "");
	wt_err("again");
	e = strdup(capture_end(&err));
	o = capture_end(&out);
	assert_string_equal(e, "wiretrace: warn: to stderr\nwiretrace: error: again\n");
	assert_string_equal(o, "");
	free((void *)e);

	/* File: created 0600, appended to, nothing on stderr or stdout. */
	fresh_path();
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old\n", 4), 4);
	close(fd);
	capture_start(&out, 1);
	capture_start(&err, 2);
	wt_log_init(WT_LOG_INFO, path);
	wt_info("new");
	e = strdup(capture_end(&err));
	o = capture_end(&out);
	assert_string_equal(e, "");
	assert_string_equal(o, "");
	free((void *)e);
	assert_string_equal(slurp(path), "old\nwiretrace: info: new\n");
	unlink(path);

	fresh_path();
	wt_log_init(WT_LOG_INFO, path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	unlink(path);
	wt_log_init(WT_LOG_INFO, NULL);
}

/* With fd 0 closed, the log file must not take the program's stdin number. */
static void test_file_not_on_stdio_fd(void **state)
{
	int saved = dup(0);
	(void)state;

	close(0);
	fresh_path();
	wt_log_init(WT_LOG_INFO, path);
	assert_int_equal(fcntl(0, F_GETFD), -1);
	wt_warn("x");
	assert_non_null(strstr(slurp(path), "warn: x"));
	dup2(saved, 0);
	close(saved);
	unlink(path);
	wt_log_init(WT_LOG_INFO, NULL);
}

/* The fd number our file had, found through /proc/self/fd. */
static int fd_of(const char *p)
{
	char link[300], target[PATH_MAX];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int found = -1;

	while (d && (de = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, p) == 0)
			found = atoi(de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* A program closes "all its fds" and reuses our number: our text must not go there. */
static void test_fd_reuse_falls_back(void **state)
{
	char other[64];
	struct capture err;
	int fd, nfd;
	(void)state;

	fresh_path();
	wt_log_init(WT_LOG_INFO, path);
	fd = fd_of(path);
	assert_true(fd > 2);
	close(fd);
	snprintf(other, sizeof(other), "/tmp/wt-test-other-XXXXXX");
	nfd = mkstemp(other);
	if (nfd != fd) {
		assert_true(dup2(nfd, fd) == fd);
		close(nfd);
	}
	capture_start(&err, 2);
	wt_warn("where am I");
	assert_non_null(strstr(capture_end(&err), "where am I"));
	assert_string_equal(slurp(other), "");
	close(fd);
	unlink(other);
	unlink(path);
	wt_log_init(WT_LOG_INFO, NULL);
}

/* Sum of "N messages suppressed" numbers in s. */
static long suppressed_total(const char *s)
{
	static const char tag[] = " messages suppressed";
	long total = 0;

	for (const char *p = s; (p = strstr(p, "wiretrace: warn: ")); p++) {
		char *end;
		long n = strtol(p + 17, &end, 10);

		if (end != p + 17 && strncmp(end, tag, sizeof(tag) - 1) == 0)
			total += n;
	}
	return total;
}

static void test_rate_limit_burst(void **state)
{
	const char *s;
	int printed;
	(void)state;

	fresh_path();
	wt_log_init(WT_LOG_INFO, path);
	for (int i = 0; i < 200; i++)
		wt_warn("flood %d", i);
	s = slurp(path);
	printed = count_lines(s, "flood ");
	/* The burst is 50; a slow machine may refill a few tokens (20/s) during the loop. */
	assert_true(printed >= 50);
	assert_true(printed <= 60);
	assert_int_equal(suppressed_total(s), 0);

	sleep_ms(120); /* at least two tokens come back */
	wt_warn("after the flood");
	wt_warn("and one more");
	s = slurp(path);
	/* Reported once, in front of the first admitted line, and then reset. */
	assert_int_equal(suppressed_total(s), 200 - printed);
	assert_int_equal(count_lines(s, "messages suppressed"), 1);
	assert_non_null(strstr(s, "messages suppressed\nwiretrace: warn: after the flood\n"
				  "wiretrace: warn: and one more\n"));
	unlink(path);

	/* A filtered-out level consumes no token. */
	fresh_path();
	wt_log_init(WT_LOG_WARN, path);
	for (int i = 0; i < 500; i++)
		wt_debug("quiet %d", i);
	for (int i = 0; i < 50; i++)
		wt_warn("loud %d", i);
	s = slurp(path);
	assert_int_equal(count_lines(s, "loud "), 50);
	assert_int_equal(count_lines(s, "quiet "), 0);
	unlink(path);
}

#define NTHREADS 4
#define PER_THREAD 500

static void *flood(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < PER_THREAD; i++)
		wt_warn("thread %ld line %d end", id, i);
	return NULL;
}

static void test_rate_limit_threads(void **state)
{
	pthread_t th[NTHREADS];
	const char *s;
	int printed, lines;
	(void)state;

	fresh_path();
	wt_log_init(WT_LOG_INFO, path);
	for (long i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, flood, (void *)i), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	sleep_ms(120);
	wt_warn("final");
	s = slurp(path);
	printed = count_lines(s, "wiretrace: warn: thread ");
	lines = count_lines(s, "\n");
	/* Every line is whole: each flood line ends in " end\n". */
	assert_int_equal(count_lines(s, " end\n"), printed);
	assert_true(printed >= 50);
	assert_int_equal(printed + suppressed_total(s), NTHREADS * PER_THREAD);
	/* printed lines + the final one + at most a few suppression notices */
	assert_true(lines >= printed + 1);
	unlink(path);
	wt_log_init(WT_LOG_INFO, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_and_words),
		cmocka_unit_test(test_threshold_table),
		cmocka_unit_test(test_errno_preserved),
		cmocka_unit_test(test_scrub_and_truncate),
		cmocka_unit_test(test_destinations),
		cmocka_unit_test(test_file_not_on_stdio_fd),
		cmocka_unit_test(test_fd_reuse_falls_back),
		cmocka_unit_test(test_rate_limit_burst),
		cmocka_unit_test(test_rate_limit_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
