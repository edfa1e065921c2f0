/*
 * test_exporter_encode_json.c - the OTLP/JSON encoder. The output is parsed by a JSON parser we
 * did not write (Debian's python3, strict UTF-8), which prints what it decoded; the test
 * compares that with the spans: lowerCamelCase keys, hex ids, integer enums, 64-bit integers as
 * decimal strings, escaping of quotes, backslashes and control characters, invalid UTF-8
 * replaced, doubles (NaN/Infinity as strings). A small structural validator also runs on
 * random malformed records, where python would be too slow.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "encode_json.h"
#include "exporter.h"
#include "resource.h"

static const struct exp_limits defaults = {128, -1, 128, 128};

/* Prints one line per decoded item, strings as ASCII-escaped JSON so the C side can compare. */
static const char pyscript[] =
    "import json,sys\n"
    "d=json.load(open(sys.argv[1],encoding='utf-8',errors='strict'))\n"
    "def v(x):\n"
    "  if not x: return 'empty'\n"
    "  (k,y),=x.items()\n"
    "  if k=='arrayValue': return 'array:'+'|'.join(v(e) for e in y.get('values',[]))\n"
    "  return k+':'+json.dumps(y)\n"
    "def attrs(tag,o):\n"
    "  for a in o.get('attributes',[]): print(tag,a['key'],v(a['value']))\n"
    "for rs in d['resourceSpans']:\n"
    "  attrs('res',rs['resource'])\n"
    "  for ss in rs['scopeSpans']:\n"
    "    print('scope',ss['scope']['name'],ss['scope']['version'])\n"
    "    for s in ss['spans']:\n"
    "      print('span',s['traceId'],s['spanId'],s.get('parentSpanId','-'),s.get('kind',0),\n"
    "            s['startTimeUnixNano'],s['endTimeUnixNano'],s.get('flags',0),\n"
    "            json.dumps(s['name']),json.dumps(s.get('traceState','')),\n"
    "            s.get('droppedAttributesCount',0),s.get('droppedEventsCount',0))\n"
    "      attrs('attr',s)\n"
    "      for e in s.get('events',[]):\n"
    "        print('event',e['timeUnixNano'],json.dumps(e['name']),\n"
    "              e.get('droppedAttributesCount',0))\n"
    "        attrs('eattr',e)\n"
    "      st=s.get('status')\n"
    "      if st is not None: print('status',st.get('code',0),json.dumps(st.get('message','')))\n";

/* Run python on the JSON; returns its output (caller frees) or NULL if python failed. */
static char *py_decode(const struct exp_buf *b)
{
	char path[] = "/tmp/wt-json-XXXXXX", spath[] = "/tmp/wt-py-XXXXXX", cmd[256];
	static char out[1 << 16];
	size_t n = 0, r;
	FILE *f;
	int fd, sfd, rc;

	fd = mkstemp(path);
	sfd = mkstemp(spath);
	assert_true(fd >= 0 && sfd >= 0);
	assert_int_equal(write(fd, b->p, b->len), (ssize_t)b->len);
	assert_int_equal(write(sfd, pyscript, sizeof(pyscript) - 1), (ssize_t)sizeof(pyscript) - 1);
	close(fd);
	close(sfd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", spath, path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((r = fread(out + n, 1, sizeof(out) - 1 - n, f)) > 0)
		n += r;
	out[n] = '\0';
	rc = pclose(f);
	unlink(path);
	unlink(spath);
	return rc == 0 ? strdup(out) : NULL;
}

static void expect_line(const char *out, const char *line)
{
	if (!strstr(out, line)) {
		print_error("missing line: %s\nin:\n%s\n", line, out);
		fail();
	}
}

static void server_span(struct exp_span *s)
{
	static const uint8_t tid[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
	                                0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
	static const uint8_t sid[8] = {0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18};
	static const uint8_t pid[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
	const char *arr[] = {"gzip", "br"};
	const size_t lens[] = {4, 2};
	int e;

	exp_span_init(s);
	memcpy(s->trace_id, tid, 16);
	memcpy(s->span_id, sid, 8);
	memcpy(s->parent_span_id, pid, 8);
	s->kind = EXP_KIND_SERVER;
	s->flags = 0x301;
	s->start_ns = 1700000000123456789ull;
	s->end_ns = 1700000000124691356ull;
	exp_span_set_name(s, "GET", 3);
	exp_span_set_tracestate(s, "congo=t61rcWkgMzE", 17);
	exp_span_add_str(s, "http.request.method", "GET", 3);
	exp_span_add_str(s, "url.path", "/api/orders/42", 14);
	exp_span_add_int(s, "http.response.status_code", 503);
	exp_span_add_int(s, "neg", -42);
	exp_span_add_int(s, "big", INT64_MIN);
	exp_span_add_double(s, "ratio", 0.1);
	exp_span_add_double(s, "nan", NAN);
	exp_span_add_double(s, "inf", -INFINITY);
	exp_span_add_bool(s, "ok", false);
	exp_span_add_str_array(s, "enc", arr, lens, 2);
	exp_span_add_str(s, "empty", "", 0);
	e = exp_span_add_event(s, 1700000000123457000ull, "exception");
	exp_span_add_event_str(s, e, "exception.type", "ECONNRESET", 10);
	exp_span_set_status(s, EXP_STATUS_ERROR, "upstream \"down\"", 15);
	s->dropped_attrs = 3;
	s->events[0].dropped_attrs = 1;
}

static void test_server_span_decoded(void **state)
{
	struct exp_resource_attr extra[] = {{"team", "payments"}};
	struct exp_buf b = {0};
	struct exp_resource res;
	struct exp_config c;
	struct exp_span s;
	char *out;

	(void)state;
	exp_config_defaults(&c);
	c.service_name = "checkout";
	c.resource = extra;
	c.nresource = 1;
	assert_int_equal(exp_resource_build(&res, &c), 0);
	server_span(&s);
	assert_int_equal(exp_json_encode(&b, &res, &s, 1), 0);
	assert_null(memchr(b.p, '\n', b.len)); /* one JSON line */
	out = py_decode(&b);
	assert_non_null(out);
	expect_line(out, "res service.name stringValue:\"checkout\"\n");
	expect_line(out, "res team stringValue:\"payments\"\n");
	expect_line(out, "res telemetry.sdk.name stringValue:\"wiretrace\"\n");
	expect_line(out, "res process.pid intValue:\"");
	expect_line(out, "scope wiretrace " WIRETRACE_VERSION "\n");
	expect_line(out,
	            "span 4bf92f3577b34da6a3ce929d0e0e4736 a1b2c3d4e5f60718 00f067aa0ba902b7 2 "
	            "1700000000123456789 1700000000124691356 769 \"GET\" \"congo=t61rcWkgMzE\" "
	            "3 0\n");
	expect_line(out, "attr http.request.method stringValue:\"GET\"\n");
	expect_line(out, "attr url.path stringValue:\"/api/orders/42\"\n");
	expect_line(out, "attr http.response.status_code intValue:\"503\"\n");
	expect_line(out, "attr neg intValue:\"-42\"\n");
	expect_line(out, "attr big intValue:\"-9223372036854775808\"\n");
	expect_line(out, "attr ratio doubleValue:0.1\n");
	expect_line(out, "attr nan doubleValue:\"NaN\"\n");
	expect_line(out, "attr inf doubleValue:\"-Infinity\"\n");
	expect_line(out, "attr ok boolValue:false\n");
	expect_line(out, "attr enc array:stringValue:\"gzip\"|stringValue:\"br\"\n");
	expect_line(out, "attr empty stringValue:\"\"\n");
	expect_line(out, "event 1700000000123457000 \"exception\" 1\n");
	expect_line(out, "eattr exception.type stringValue:\"ECONNRESET\"\n");
	expect_line(out, "status 2 \"upstream \\\"down\\\"\"\n");
	free(out);
	exp_resource_free(&res);
	exp_buf_free(&b);
}

static void test_root_span_and_defaults(void **state)
{
	struct exp_buf b = {0};
	struct exp_span s;
	char *out;

	(void)state;
	exp_span_init(&s);
	s.trace_id[15] = 0xab;
	s.span_id[0] = 0xcd;
	assert_int_equal(exp_json_encode(&b, NULL, &s, 1), 0);
	/* Field names as the OTLP JSON mapping spells them, and nothing for defaults. */
	assert_null(strstr((char *)b.p, "parentSpanId"));
	assert_null(strstr((char *)b.p, "\"status\""));
	assert_null(strstr((char *)b.p, "\"kind\""));
	assert_null(strstr((char *)b.p, "\"flags\""));
	out = py_decode(&b);
	assert_non_null(out);
	expect_line(
	    out,
	    "span 000000000000000000000000000000ab cd00000000000000 - 0 0 0 0 \"\" \"\" 0 0\n");
	free(out);
	exp_buf_free(&b);
}

/* Strings: what goes in, what a JSON parser must read back (as ASCII-escaped JSON). */
static const struct {
	const char *in;
	size_t len;
	const char *decoded;
} esc_cases[] = {
    {"plain", 5, "\"plain\""},
    {"q\"b\\s/", 6, "\"q\\\"b\\\\s/\""},
    {"\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""},
    {"\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\""},
    {"nul\0x", 5, "\"nul\\u0000x\""},
    {"caf\xc3\xa9", 5, "\"caf\\u00e9\""},
    {"\xe2\x80\xa8", 3, "\"\\u2028\""},
    {"\xf0\x9f\x98\x80", 4, "\"\\ud83d\\ude00\""},
    {"bad\xff", 4, "\"bad\\ufffd\""},
    {"\xc3", 1, "\"\\ufffd\""},
    {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},
};

static void test_string_escaping(void **state)
{
	struct exp_buf b = {0};
	struct exp_span s;
	char want[128];
	char *out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		exp_span_init(&s);
		exp_span_set_name(&s, esc_cases[i].in, esc_cases[i].len);
		exp_span_add_str(&s, "k", esc_cases[i].in, esc_cases[i].len);
		assert_int_equal(exp_json_encode(&b, NULL, &s, 1), 0);
		out = py_decode(&b);
		assert_non_null(out);
		snprintf(want, sizeof(want), " %s \"\" 0 0\n", esc_cases[i].decoded);
		expect_line(out, want);
		snprintf(want, sizeof(want), "attr k stringValue:%s\n", esc_cases[i].decoded);
		expect_line(out, want);
		free(out);
	}
	exp_buf_free(&b);
}

static const struct {
	double d;
	const char *text;
} dbl_cases[] = {
    {0.1, "0.1"},
    {3.141592653589793, "3.141592653589793"},
    {-2.5, "-2.5"},
    {1e300, "1e+300"},
    {0.0, "0"},
    {100, "100"},
    {0.30000000000000004, "0.30000000000000004"},
};

static void test_doubles(void **state)
{
	char buf[40];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dbl_cases) / sizeof(dbl_cases[0]); i++) {
		assert_int_equal(exp_json_double(buf, dbl_cases[i].d), strlen(dbl_cases[i].text));
		assert_string_equal(buf, dbl_cases[i].text);
		assert_true(strtod(buf, NULL) == dbl_cases[i].d);
	}
	exp_json_double(buf, NAN);
	assert_string_equal(buf, "\"NaN\"");
	exp_json_double(buf, INFINITY);
	assert_string_equal(buf, "\"Infinity\"");
}

/* Minimal RFC 8259 structure checker (values, nesting, string escapes, UTF-8 done by python). */
static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *jvalue(const char *p, int depth);

static const char *jstring(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *jnumber(const char *p)
{
	char *end;

	if (*p != '-' && (*p < '0' || *p > '9'))
		return NULL;
	strtod(p, &end);
	return end > p ? end : NULL;
}

static const char *jlist(const char *p, int depth, char close, int object)
{
	p = ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if (!(p = jstring(ws(p))))
				return NULL;
			p = ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if (!(p = jvalue(ws(p), depth + 1)))
			return NULL;
		p = ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *jvalue(const char *p, int depth)
{
	if (depth > 64)
		return NULL;
	switch (*p) {
	case '{':
		return jlist(p, depth, '}', 1);
	case '[':
		return jlist(p, depth, ']', 0);
	case '"':
		return jstring(p);
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	}
	return jnumber(p);
}

static int json_ok(const struct exp_buf *b)
{
	char *t = malloc(b->len + 1);
	const char *end;
	int ok;

	memcpy(t, b->p, b->len);
	t[b->len] = '\0';
	end = jvalue(ws(t), 0);
	ok = end && *ws(end) == '\0' && strlen(t) == b->len && exp_utf8_valid(t, b->len);
	free(t);
	return ok;
}

static void test_validator_rejects(void **state)
{
	static const char *const bad[] = {"{",         "{\"a\":}",  "[1,]", "\"\x01\"",
	                                  "{\"a\" 1}", "[\"\\x\"]", "tru",  "{}x"};
	struct exp_buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b.p = (uint8_t *)bad[i];
		b.len = strlen(bad[i]);
		assert_false(json_ok(&b));
	}
	b.p = (uint8_t *)"{\"a\":[1,-2.5e3,true,null,\"\\u00e9\"]}";
	b.len = strlen((char *)b.p);
	assert_true(json_ok(&b));
}

static void test_malformed_records_stay_valid(void **state)
{
	struct exp_buf b = {0};
	struct exp_span s[3];
	unsigned seed = 777, i, k;
	char *out;

	(void)state;
	for (i = 0; i < 3000; i++) {
		uint8_t *raw = (uint8_t *)s;

		for (k = 0; k < sizeof(s); k++) {
			seed = seed * 1103515245u + 12345u;
			raw[k] = (uint8_t)(seed >> 16);
		}
		for (k = 0; k < 3; k++)
			if ((i + k) % 2)
				s[k].buf_used = (uint16_t)(s[k].buf_used % (EXP_SPAN_BUF + 1));
		assert_int_equal(exp_json_encode(&b, NULL, s, 3), 0);
		assert_true(json_ok(&b));
		if (i % 500 == 0) { /* and now and then the real parser */
			out = py_decode(&b);
			assert_non_null(out);
			free(out);
		}
	}
	exp_buf_free(&b);
}

static int setup(void **state)
{
	(void)state;
	exp_limits_set(&defaults);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_span_decoded),
	    cmocka_unit_test(test_root_span_and_defaults),
	    cmocka_unit_test(test_string_escaping),
	    cmocka_unit_test(test_doubles),
	    cmocka_unit_test(test_validator_rejects),
	    cmocka_unit_test(test_malformed_records_stay_valid),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
