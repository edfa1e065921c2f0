/*
 * console.c - the "console" exporter (OTEL_TRACES_EXPORTER=console): one line per span.
 *
 * For people looking at a terminal, not for machines (otlp/stdout is the machine format).
 * A line reads:
 *   wiretrace: span SERVER "GET" trace=4bf9...4736 span=00f0...02b7 parent=- 1.234ms
 *   status=UNSET http.request.method="GET" http.response.status_code=200 events=[...]
 * Trace and span ids in lowercase hex as in a traceparent, duration in milliseconds, status
 * with its message when it is ERROR, then the span's attributes in the order they were added.
 *
 * Lines are formatted into a buffer on the stack and written with write(2) (not stdio: the host
 * program owns stdio's buffers and locks). Span strings are escaped: printable ASCII and
 * well-formed UTF-8 are kept, anything else (controls, invalid bytes) is shown as \xNN.
 *
 * Thread safety: runs on the exporter thread; reentrant.
 */
#include "console.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "encbuf.h"

struct line {
	char *p;
	size_t size, len; /* len <= size - 5: room for "...\n" and a NUL is kept */
	bool cut;
};

static void add(struct line *l, const char *s, size_t n)
{
	size_t max = l->size - 5;

	if (l->cut)
		return;
	if (n > max - l->len) {
		n = max - l->len;
		l->cut = true;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void addf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct line *l, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		add(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void add_esc(struct line *l, const struct exp_span *s, struct exp_str str)
{
	size_t i = 0, k;
	const char *sp;
	size_t n = exp_str_get(s, str, exp_str_used(s), &sp);
	const uint8_t *p = (const uint8_t *)sp;

	while (i < n && !l->cut) {
		k = p[i] >= 0x80 ? exp_utf8_seq_len(p + i, n - i) : 1;
		if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f || p[i] == '"' || p[i] == '\\'))
			k = 0;
		if (k) {
			add(l, (const char *)p + i, k);
			i += k;
		} else {
			addf(l, "\\x%02x", p[i]);
			i++;
		}
	}
}

static void add_hex(struct line *l, const uint8_t *id, size_t n)
{
	char tmp[32];

	exp_hex(tmp, id, n);
	add(l, tmp, 2 * n);
}

static void add_value(struct line *l, const struct exp_span *s, const struct exp_attr *a)
{
	struct exp_str el;
	const char *p;
	size_t k, off, end;

	switch (a->type) {
	case EXP_ATTR_STRING:
		add(l, "\"", 1);
		add_esc(l, s, a->v.s);
		add(l, "\"", 1);
		return;
	case EXP_ATTR_BOOL:
		add(l, *(const uint8_t *)&a->v.b ? "true" : "false",
		    *(const uint8_t *)&a->v.b ? 4 : 5);
		return;
	case EXP_ATTR_INT:
		addf(l, "%lld", (long long)a->v.i);
		return;
	case EXP_ATTR_DOUBLE:
		addf(l, "%g", a->v.d);
		return;
	case EXP_ATTR_STRING_ARRAY:
		add(l, "[", 1);
		off = a->v.s.off;
		end = off + a->v.s.len;
		if (end > EXP_SPAN_BUF || end > s->buf_used)
			end = off;
		for (k = 0; k < a->count && off < end; k++) {
			p = memchr(s->buf + off, 0, end - off);
			el.off = (uint16_t)off;
			el.len = (uint16_t)(p ? (size_t)(p - (s->buf + off)) : end - off);
			add(l, k ? ", \"" : "\"", k ? 3 : 1);
			add_esc(l, s, el);
			add(l, "\"", 1);
			off += el.len + 1u;
		}
		add(l, "]", 1);
		return;
	}
	add(l, "?", 1);
}

static const char *kind_name(unsigned k)
{
	static const char *const names[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
	                                    "CLIENT",      "PRODUCER", "CONSUMER"};

	return k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static void add_attrs(struct line *l, const struct exp_span *s, unsigned owner)
{
	unsigned i, n = s->nattrs < EXP_SPAN_MAX_ATTRS ? s->nattrs : EXP_SPAN_MAX_ATTRS;
	bool first = true;

	for (i = 0; i < n; i++) {
		const struct exp_attr *a = &s->attrs[i];

		if (a->event != owner)
			continue;
		add(l, owner && first ? "" : " ", owner && first ? 0 : 1);
		first = false;
		add_esc(l, s, a->key);
		add(l, "=", 1);
		add_value(l, s, a);
	}
}

size_t exp_console_format(char *out, size_t size, const struct exp_span *s)
{
	struct line l = {out, size, 0, false};
	static const char *const status[] = {"UNSET", "OK", "ERROR"};
	uint64_t dur = s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0;
	unsigned k, nev = s->nevents < EXP_SPAN_MAX_EVENTS ? s->nevents : EXP_SPAN_MAX_EVENTS;

	addf(&l, "wiretrace: span %s \"", kind_name(s->kind));
	add_esc(&l, s, s->name);
	add(&l, "\" trace=", 8);
	add_hex(&l, s->trace_id, 16);
	add(&l, " span=", 6);
	add_hex(&l, s->span_id, 8);
	add(&l, " parent=", 8);
	if (memcmp(s->parent_span_id, "\0\0\0\0\0\0\0\0", 8))
		add_hex(&l, s->parent_span_id, 8);
	else
		add(&l, "-", 1);
	addf(&l, " %llu.%03llums status=%s", (unsigned long long)(dur / 1000000),
	     (unsigned long long)(dur / 1000 % 1000),
	     s->status_code < 3 ? status[s->status_code] : "?");
	if (s->status_message.len) {
		add(&l, "(\"", 2);
		add_esc(&l, s, s->status_message);
		add(&l, "\")", 2);
	}
	add_attrs(&l, s, 0);
	if (s->dropped_attrs)
		addf(&l, " dropped_attributes=%u", s->dropped_attrs);
	for (k = 0; k < nev; k++) {
		add(&l, k ? ", " : " events=[", k ? 2 : 9);
		add_esc(&l, s, s->events[k].name);
		add(&l, "{", 1);
		add_attrs(&l, s, k + 1);
		add(&l, "}", 1);
	}
	if (nev)
		add(&l, "]", 1);
	if (l.cut) {
		memcpy(l.p + l.len, "...", 3);
		l.len += 3;
	}
	l.p[l.len++] = '\n';
	l.p[l.len] = '\0';
	return l.len;
}

int exp_console_export(int fd, const struct exp_span *spans, size_t n)
{
	char line[EXP_CONSOLE_LINE];
	size_t i, len, off;
	ssize_t w;

	for (i = 0; i < n; i++) {
		len = exp_console_format(line, sizeof(line), &spans[i]);
		for (off = 0; off < len; off += (size_t)w) {
			w = write(fd, line + off, len - off);
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w <= 0)
				return w < 0 ? -errno : -EIO;
		}
	}
	return 0;
}
