/*
 * test_context_tracestate.c - W3C tracestate combine/validate/normalise vectors.
 *
 * A table of literal vectors (one to four header fields in, expected normalised value or
 * -EINVAL out) covers combining fields in order, empty and whitespace-only members, OWS, the
 * key and value grammar character by character, leading spaces kept in values, repeated keys.
 * Generated vectors cover the limits that are tedious to write literally: 256-character keys and
 * values, 32 versus 33 members, and the 512-character truncation order (members over 128
 * characters first, then from the right end).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tracestate.h"

#define MAXF 4

struct ts_vec {
	const char *name;
	const char *f[MAXF]; /* NULL-terminated list of fields */
	int rc;
	const char *want; /* normalised output when rc == 0 */
};

/* clang-format off */
static const struct ts_vec vecs[] = {
	/* well-formed */
	{"single", {"foo=1"}, 0, "foo=1"},
	{"two members", {"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}, 0,
	 "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
	{"no fields", {NULL}, 0, ""},
	{"empty field", {""}, 0, ""},
	{"whitespace-only field", {" \t "}, 0, ""},
	{"only commas", {",,,"}, 0, ""},
	{"commas and OWS", {" , \t, "}, 0, ""},
	/* combining fields in order */
	{"three fields in order", {"foo=1,bar=2", "rojo=1,congo=2", "baz=3"}, 0,
	 "foo=1,bar=2,rojo=1,congo=2,baz=3"},
	{"empty field first", {"", "foo=1"}, 0, "foo=1"},
	{"empty field last", {"foo=1", ""}, 0, "foo=1"},
	{"empty field between", {"a=1", "", "b=2"}, 0, "a=1,b=2"},
	{"trailing comma then field", {"a=1,", "b=2"}, 0, "a=1,b=2"},
	{"invalid in second field drops all", {"a=1", "B=2"}, -EINVAL, NULL},
	{"duplicate across fields", {"foo=1", "foo=2"}, -EINVAL, NULL},
	{"same member twice across fields", {"foo=1", "foo=1"}, -EINVAL, NULL},
	/* empty members and OWS */
	{"empty members inside", {"a=1,,b=2"}, 0, "a=1,b=2"},
	{"leading and trailing commas", {",a=1,"}, 0, "a=1"},
	{"OWS around members", {"foo=1 \t , \t bar=2, \t baz=3"}, 0, "foo=1,bar=2,baz=3"},
	{"tabs around comma", {"foo=1\t \t,\t \tbar=2"}, 0, "foo=1,bar=2"},
	{"leading space", {" foo=1"}, 0, "foo=1"},
	{"leading tab", {"\tfoo=1"}, 0, "foo=1"},
	{"trailing space is OWS", {"foo=1 "}, 0, "foo=1"},
	{"trailing tab is OWS", {"foo=1\t"}, 0, "foo=1"},
	{"both ends", {"\t foo=1 \t"}, 0, "foo=1"},
	/* value: leading spaces belong to it */
	{"value leading space kept", {"foo= 1"}, 0, "foo= 1"},
	{"value leading spaces kept", {"foo=   bar baz"}, 0, "foo=   bar baz"},
	{"value inner space", {"foo=a b"}, 0, "foo=a b"},
	{"value all punctuation", {"k=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~"}, 0,
	 "k=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~"},
	{"value only spaces", {"foo=   "}, -EINVAL, NULL},
	{"value empty", {"foo="}, -EINVAL, NULL},
	{"value empty then member", {"foo=,bar=2"}, -EINVAL, NULL},
	{"value with equals", {"foo=a=b"}, -EINVAL, NULL},
	{"value with tab inside", {"foo=a\tb"}, -EINVAL, NULL},
	{"value with tab first", {"foo=\tb"}, -EINVAL, NULL},
	{"value with DEL", {"foo=a\x7f"}, -EINVAL, NULL},
	{"value with high byte", {"foo=\xc3\xa9"}, -EINVAL, NULL},
	{"value with CR", {"foo=1\r"}, -EINVAL, NULL},
	{"value with LF", {"foo=1\nbar=2"}, -EINVAL, NULL},
	/* key grammar */
	{"key all allowed chars",
	 {"abcdefghijklmnopqrstuvwxyz0123456789_-*/@=v"}, 0,
	 "abcdefghijklmnopqrstuvwxyz0123456789_-*/@=v"},
	{"key starts with digit", {"0foo=1"}, 0, "0foo=1"},
	{"key single char", {"a=1"}, 0, "a=1"},
	{"key tenant@system", {"tenant@vendor=x"}, 0, "tenant@vendor=x"},
	{"key trailing at", {"foo@=1,bar=2"}, 0, "foo@=1,bar=2"},
	{"key double at (Level 2 grammar)", {"foo@@bar=1"}, 0, "foo@@bar=1"},
	{"key two ats", {"foo@bar@baz=1"}, 0, "foo@bar@baz=1"},
	{"key leading at", {"@foo=1,bar=2"}, -EINVAL, NULL},
	{"key leading underscore", {"_foo=1"}, -EINVAL, NULL},
	{"key leading dash", {"-foo=1"}, -EINVAL, NULL},
	{"key leading star", {"*foo=1"}, -EINVAL, NULL},
	{"key leading slash", {"/foo=1"}, -EINVAL, NULL},
	{"key uppercase", {"FOO=1"}, -EINVAL, NULL},
	{"key one uppercase", {"fOo=1"}, -EINVAL, NULL},
	{"key with dot", {"foo.bar=1"}, -EINVAL, NULL},
	{"key with space before equals", {"foo =1"}, -EINVAL, NULL},
	{"key with inner space", {"fo o=1"}, -EINVAL, NULL},
	{"key empty", {"=1"}, -EINVAL, NULL},
	{"key with colon", {"foo:bar=1"}, -EINVAL, NULL},
	{"no equals", {"foo"}, -EINVAL, NULL},
	{"no equals after valid", {"a=1,foo"}, -EINVAL, NULL},
	{"invalid member drops valid ones", {"a=1,B=2,c=3"}, -EINVAL, NULL},
	/* repeated keys */
	{"duplicate key same value", {"foo=1,foo=1"}, -EINVAL, NULL},
	{"duplicate key other value", {"foo=1,foo=2"}, -EINVAL, NULL},
	{"duplicate key not adjacent", {"foo=1,bar=2,foo=3"}, -EINVAL, NULL},
	{"prefix keys are distinct", {"foo=1,foob=2,fo=3"}, 0, "foo=1,foob=2,fo=3"},
};
/* clang-format on */

static int run(const char *const *f, size_t n, char *out, size_t *len)
{
	struct ctx_slice s[MAXF + 1];

	for (size_t i = 0; i < n; i++)
		s[i] = (struct ctx_slice){f[i], strlen(f[i])};
	return ctx_ts_combine(s, n, out, CTX_TRACESTATE_MAX + 1, len);
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct ts_vec *t = &vecs[i];
		char out[CTX_TRACESTATE_MAX + 1];
		size_t n = 0, len = 99;
		int rc;

		while (n < MAXF && t->f[n])
			n++;
		memset(out, 'x', sizeof(out));
		rc = run(t->f, n, out, &len);
		if (rc != t->rc)
			fail_msg("vector '%s': rc %d, want %d", t->name, rc, t->rc);
		if (rc != 0) {
			assert_int_equal(len, 0);
			assert_string_equal(out, "");
			continue;
		}
		if (strcmp(out, t->want) != 0 || len != strlen(t->want))
			fail_msg("vector '%s': got '%s' (%zu), want '%s'", t->name, out, len,
			         t->want);
	}
}

/* Builds member "k<i>=<value of vlen chars>" with a key padded to klen characters. */
static size_t member(char *p, int i, size_t klen, size_t vlen)
{
	size_t n = (size_t)snprintf(p, 16, "k%d", i);

	for (; n < klen; n++)
		p[n] = 'x';
	p[n++] = '=';
	for (size_t j = 0; j < vlen; j++)
		p[n++] = (char)('a' + (i + (int)j) % 26);
	p[n] = '\0';
	return n;
}

static int combine1(const char *s, char *out, size_t *len)
{
	struct ctx_slice f = {s, strlen(s)};

	return ctx_ts_combine(&f, 1, out, CTX_TRACESTATE_MAX + 1, len);
}

static void test_key_value_limits(void **state)
{
	char in[1200], out[CTX_TRACESTATE_MAX + 1];
	size_t len;

	(void)state;
	/* key of exactly 256 characters is valid, 257 is not */
	memset(in, 'a', 256);
	strcpy(in + 256, "=v");
	assert_int_equal(combine1(in, out, &len), 0);
	assert_int_equal(len, 258);
	memset(in, 'a', 257);
	strcpy(in + 257, "=v");
	assert_int_equal(combine1(in, out, &len), -EINVAL);
	/* value of exactly 256 characters is valid, 257 is not; leading spaces count */
	strcpy(in, "k=");
	memset(in + 2, ' ', 10);
	memset(in + 12, 'v', 246);
	in[258] = '\0';
	assert_int_equal(combine1(in, out, &len), 0);
	assert_int_equal(len, 258);
	assert_memory_equal(out, in, 258);
	strcpy(in, "k=");
	memset(in + 2, 'v', 257);
	in[259] = '\0';
	assert_int_equal(combine1(in, out, &len), -EINVAL);
	/* trailing OWS does not count towards the 256 */
	memset(in + 2, 'v', 256);
	strcpy(in + 258, "    \t");
	assert_int_equal(combine1(in, out, &len), 0);
	assert_int_equal(len, 258);
}

static void test_member_count(void **state)
{
	char in[1024], out[CTX_TRACESTATE_MAX + 1];
	char *p = in;
	size_t len;

	(void)state;
	for (int i = 0; i < 32; i++) {
		p += member(p, i, 3, 2);
		*p++ = ',';
		*p++ = ','; /* empty members do not count */
	}
	*p = '\0';
	assert_int_equal(combine1(in, out, &len), 0);
	assert_int_equal(len, 32 * 6 + 31); /* 32 members "kNN=vv" (keys padded to 3), 31 commas */
	p += member(p, 32, 3, 2);
	*p = '\0';
	assert_int_equal(combine1(in, out, &len), -EINVAL);
}

static void test_truncation_from_right(void **state)
{
	char in[2048], out[CTX_TRACESTATE_MAX + 1], want[2048];
	char *p = in;
	size_t len;

	(void)state;
	/* 10 members of 100 characters: 1009 total; keep the first 5 (5 * 100 + 4 = 504). */
	for (int i = 0; i < 10; i++) {
		if (i)
			*p++ = ',';
		p += member(p, i, 10, 89);
	}
	*p = '\0';
	assert_int_equal(combine1(in, out, &len), 0);
	assert_int_equal(len, 504);
	memcpy(want, in, 504);
	want[504] = '\0';
	assert_string_equal(out, want);
	/* Exactly 512 characters stay untouched; one more member is removed from the right. */
	p = in;
	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = ',';
		p += member(p, i, 10, i == 3 ? 117 : 116); /* 127, 127, 127, 128 + 3 commas */
	}
	*p = '\0';
	assert_int_equal(combine1(in, out, &len), 0);
	assert_int_equal(len, 512);
	assert_string_equal(out, in);
	strcpy(p, ",z=1");
	assert_int_equal(combine1(in, out, &len), 0);
	assert_int_equal(len, 512);
	*p = '\0';
	assert_string_equal(out, in);
}

static void test_truncation_long_first(void **state)
{
	char in[2048], out[CTX_TRACESTATE_MAX + 1];
	char m[6][300];
	size_t mlen[6], len;
	char *p = in;

	(void)state;
	/* short(50) long(200) short(50) long(150) short(50) short(50): 550 + 5 commas = 555 */
	mlen[0] = member(m[0], 0, 10, 39);
	mlen[1] = member(m[1], 1, 10, 189);
	mlen[2] = member(m[2], 2, 10, 39);
	mlen[3] = member(m[3], 3, 10, 139);
	mlen[4] = member(m[4], 4, 10, 39);
	mlen[5] = member(m[5], 5, 10, 39);
	assert_int_equal(mlen[1], 200);
	assert_int_equal(mlen[3], 150);
	for (int i = 0; i < 6; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, m[i], mlen[i]);
		p += mlen[i];
	}
	*p = '\0';
	/* Removing the right-most long member (150) gives 404: enough, the 200 one stays. */
	assert_int_equal(combine1(in, out, &len), 0);
	assert_int_equal(len, 555 - 151);
	assert_non_null(strstr(out, m[1]));
	assert_null(strstr(out, m[3]));
	assert_non_null(strstr(out, m[5]));
}

static void test_truncation_long_then_right(void **state)
{
	char in[2048], out[CTX_TRACESTATE_MAX + 1], m[12][300];
	size_t mlen[12], len;
	char *p = in;

	(void)state;
	/* long(129) then 11 short(60): 129 + 660 + 11 = 800. The long one goes first (670), then
	 * short ones from the right until <= 512: 8 shorts = 8 * 60 + 7 = 487. */
	mlen[0] = member(m[0], 0, 10, 118);
	assert_int_equal(mlen[0], 129);
	for (int i = 1; i < 12; i++)
		mlen[i] = member(m[i], i, 10, 49);
	for (int i = 0; i < 12; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, m[i], mlen[i]);
		p += mlen[i];
	}
	*p = '\0';
	assert_int_equal(combine1(in, out, &len), 0);
	assert_int_equal(len, 487);
	assert_null(strstr(out, m[0]));
	assert_int_equal(strncmp(out, m[1], mlen[1]), 0);
	assert_non_null(strstr(out, m[8]));
	assert_null(strstr(out, m[9]));
	/* A 128-character member is not "longer than 128": it is kept while shorts are cut. */
	mlen[0] = member(m[0], 0, 10, 117);
	assert_int_equal(mlen[0], 128);
	p = in;
	for (int i = 0; i < 12; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, m[i], mlen[i]);
		p += mlen[i];
	}
	*p = '\0';
	assert_int_equal(combine1(in, out, &len), 0);
	assert_int_equal(strncmp(out, m[0], mlen[0]), 0);
	assert_true(len <= CTX_TRACESTATE_MAX);
	assert_int_equal(len, 128 + 6 * 61); /* 128 + 6 shorts with their commas = 494 */
}

/* Truncation works across fields too, and output always re-combines to itself. */
static void test_fixed_point(void **state)
{
	const char *f[3] = {" a=1 ,, b= 2", "", "c=3\t, d=4"};
	char out[CTX_TRACESTATE_MAX + 1], again[CTX_TRACESTATE_MAX + 1];
	size_t len, len2;

	(void)state;
	assert_int_equal(run(f, 3, out, &len), 0);
	assert_string_equal(out, "a=1,b= 2,c=3,d=4");
	assert_int_equal(combine1(out, again, &len2), 0);
	assert_int_equal(len, len2);
	assert_string_equal(out, again);
}

static void test_small_buffer(void **state)
{
	struct ctx_slice f = {"a=1", 3};
	char out[CTX_TRACESTATE_MAX];
	size_t len = 7;

	(void)state;
	out[0] = 'x';
	assert_int_equal(ctx_ts_combine(&f, 1, out, sizeof(out), &len), -ENOBUFS);
	assert_int_equal(len, 0);
	assert_int_equal(out[0], '\0');
	assert_int_equal(ctx_ts_combine(NULL, 0, out, 0, &len), -ENOBUFS);
}

/* Bytes beyond a slice's length are not part of the field. */
static void test_slice_bounds(void **state)
{
	const char *s = "foo=1,BAD";
	struct ctx_slice f[2] = {{s, 5}, {NULL, 0}};
	char out[CTX_TRACESTATE_MAX + 1];
	size_t len;

	(void)state;
	assert_int_equal(ctx_ts_combine(f, 2, out, sizeof(out), &len), 0);
	assert_string_equal(out, "foo=1");
	f[0].len = 9;
	assert_int_equal(ctx_ts_combine(f, 2, out, sizeof(out), &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_key_value_limits),
	    cmocka_unit_test(test_member_count),
	    cmocka_unit_test(test_truncation_from_right),
	    cmocka_unit_test(test_truncation_long_first),
	    cmocka_unit_test(test_truncation_long_then_right),
	    cmocka_unit_test(test_fixed_point),
	    cmocka_unit_test(test_small_buffer),
	    cmocka_unit_test(test_slice_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
