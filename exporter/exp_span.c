/*
 * exp_span.c - builders for the flat finished-span record (see api/exp_span.h).
 *
 * Design: a span is one fixed-size struct; every string it holds is copied into its own `buf`
 * and referenced by offset and length, so a span can be copied with one memcpy and holds no
 * pointer. The builders only append: nothing is ever removed, and a failed append rolls back
 * the buffer so that a partly written attribute never stays behind.
 *
 * Limits, as the OpenTelemetry SDK specification requires (common/README.md "Attribute limits",
 * trace/sdk.md "Span limits"):
 *  - attribute count: a span attribute beyond OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT is discarded and
 *    counted in dropped_attrs; an event attribute beyond OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT in the
 *    event's dropped_attrs; an event beyond OTEL_SPAN_EVENT_COUNT_LIMIT in dropped_events.
 *  - value length: a string longer than the limit is truncated "counting any character in it
 *    as 1", i.e. in Unicode characters, never inside a multi-byte UTF-8 sequence; each element of
 *    a string array is truncated separately.
 *  - the record's own capacity (EXP_SPAN_MAX_ATTRS, EXP_SPAN_MAX_EVENTS, EXP_SPAN_BUF) is one
 *    more limit: what does not fit is dropped and counted the same way, never truncated.
 * Status descriptions are kept only with STATUS_CODE_ERROR (trace/api.md "Set Status":
 * "Description MUST be IGNORED for StatusCode Ok & Unset values").
 *
 * Thread and signal safety: no allocation, no lock, no syscall; only the span being built is
 * written. The limits are a process-wide copy set once by exp_limits_set() before any span is
 * built (exp_init() does it), then only read.
 */
#include "exp_span.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

const struct exp_keyname exp_keynames[EXP_K_COUNT] = {
    [EXP_K_NONE] = {"", 0},
#define EXP_KEY_NAME(id, str) [EXP_K_##id] = {str, sizeof(str) - 1},
    EXP_KEYS(EXP_KEY_NAME)
#undef EXP_KEY_NAME
};

static struct exp_limits lim = {
    .attr_count = 128,
    .attr_value_len = -1,
    .event_count = 128,
    .event_attr_count = 128,
};

void exp_limits_set(const struct exp_limits *l)
{
	if (l)
		lim = *l;
}

void exp_span_init(struct exp_span *s)
{
	memset(s, 0, offsetof(struct exp_span, attrs));
	s->buf_used = 0;
}

static size_t room(const struct exp_span *s)
{
	return s->buf_used < EXP_SPAN_BUF ? EXP_SPAN_BUF - s->buf_used : 0;
}

/* Append n bytes to buf; -ENOSPC if they do not fit (nothing written). */
static int put(struct exp_span *s, const char *p, size_t n, struct exp_str *out)
{
	if (n > room(s))
		return -ENOSPC;
	if (n)
		memcpy(s->buf + s->buf_used, p, n);
	out->off = s->buf_used;
	out->len = (uint16_t)n;
	s->buf_used += (uint16_t)n;
	return 0;
}

/* Length in bytes of the first `limit` characters of p[0..n): a character starts at every byte
 * that is not a UTF-8 continuation byte (10xxxxxx), so the cut never splits a sequence. */
static size_t truncated(const char *p, size_t n)
{
	long chars = 0;
	size_t i;

	if (lim.attr_value_len < 0 || n <= (size_t)lim.attr_value_len)
		return n;
	for (i = 0; i < n; i++) {
		if (((uint8_t)p[i] & 0xc0) != 0x80 && chars++ == lim.attr_value_len)
			return i;
	}
	return n;
}

static int set_str(struct exp_span *s, struct exp_str *f, const char *p, size_t n)
{
	int rc;

	if (!p)
		n = 0;
	rc = put(s, p, n, f);
	if (rc)
		f->off = f->len = 0;
	return rc;
}

int exp_span_set_name(struct exp_span *s, const char *name, size_t len)
{
	return set_str(s, &s->name, name, len);
}

int exp_span_set_tracestate(struct exp_span *s, const char *ts, size_t len)
{
	return set_str(s, &s->tracestate, ts, len);
}

int exp_span_set_status(struct exp_span *s, int code, const char *msg, size_t len)
{
	if (code < EXP_STATUS_UNSET || code > EXP_STATUS_ERROR)
		return -EINVAL;
	s->status_code = (uint8_t)code;
	if (code != EXP_STATUS_ERROR)
		msg = NULL;
	return set_str(s, &s->status_message, msg, len);
}

static unsigned count_attrs(const struct exp_span *s, unsigned event)
{
	unsigned i, n = 0;

	for (i = 0; i < s->nattrs && i < EXP_SPAN_MAX_ATTRS; i++)
		n += s->attrs[i].event == event;
	return n;
}

static void count_drop(struct exp_span *s, unsigned event)
{
	if (event == 0)
		s->dropped_attrs++;
	else
		s->events[event - 1].dropped_attrs++;
}

/* The next attribute slot of `event` (0 = span), or NULL (and a drop counted) if the count
 * limit or the record's capacity is reached. */
static struct exp_attr *slot(struct exp_span *s, unsigned event)
{
	int limit = event ? lim.event_attr_count : lim.attr_count;

	/* count_attrs() <= nattrs: only count when the total could reach the limit at all (with
	 * the default limit of 128 and 32 slots it never does: no scan on the hot path). */
	if (s->nattrs >= EXP_SPAN_MAX_ATTRS ||
	    (limit >= 0 && s->nattrs >= (unsigned)limit && count_attrs(s, event) >= (unsigned)limit)) {
		count_drop(s, event);
		return NULL;
	}
	return &s->attrs[s->nattrs];
}

/*
 * Reserve a new attribute of `event` with its key copied into buf. Returns NULL and counts a
 * drop if it does not fit. On success the caller either completes the attribute or calls
 * unclaim().
 */
static struct exp_attr *claim(struct exp_span *s, unsigned event, const char *key)
{
	struct exp_attr *a = slot(s, event);

	if (!a)
		return NULL;
	if (put(s, key, strlen(key), &a->key)) {
		count_drop(s, event);
		return NULL;
	}
	a->event = (uint8_t)event;
	a->count = 0;
	return a;
}

/* The same for a well-known key: referenced, nothing written to buf. */
static struct exp_attr *claim_k(struct exp_span *s, int key)
{
	struct exp_attr *a = slot(s, 0);

	if (!a)
		return NULL;
	a->key.off = (uint16_t)(EXP_STR_KEY | (unsigned)key);
	a->key.len = exp_keynames[key].len;
	a->event = 0;
	a->count = 0;
	return a;
}

static void unclaim(struct exp_span *s, struct exp_attr *a, unsigned event)
{
	if (!(a->key.off & EXP_STR_KEY))
		s->buf_used = a->key.off; /* roll back the key */
	count_drop(s, event);
}

static void commit(struct exp_span *s)
{
	s->nattrs++;
}

static bool key_ok(int key)
{
	return key > EXP_K_NONE && key < EXP_K_COUNT;
}

/* Complete a claimed attribute (a NULL claim was dropped and counted already). */
static int fill_str(struct exp_span *s, struct exp_attr *a, unsigned event, const char *val,
		    size_t len)
{
	if (!a)
		return -ENOSPC;
	a->type = EXP_ATTR_STRING;
	if (!val)
		len = 0;
	if (put(s, val, truncated(val, len), &a->v.s)) {
		unclaim(s, a, event);
		return -ENOSPC;
	}
	commit(s);
	return 0;
}

static int fill_int(struct exp_span *s, struct exp_attr *a, int64_t val)
{
	if (!a)
		return -ENOSPC;
	a->type = EXP_ATTR_INT;
	a->v.i = val;
	commit(s);
	return 0;
}

static int add_str(struct exp_span *s, unsigned event, const char *key, const char *val, size_t len)
{
	return fill_str(s, claim(s, event, key), event, val, len);
}

static int add_int(struct exp_span *s, unsigned event, const char *key, int64_t val)
{
	return fill_int(s, claim(s, event, key), val);
}

int exp_span_add_str_k(struct exp_span *s, int key, const char *val, size_t len)
{
	return key_ok(key) ? fill_str(s, claim_k(s, key), 0, val, len) : -EINVAL;
}

int exp_span_add_int_k(struct exp_span *s, int key, int64_t val)
{
	return key_ok(key) ? fill_int(s, claim_k(s, key), val) : -EINVAL;
}

int exp_span_add_known_k(struct exp_span *s, int key, int val)
{
	struct exp_attr *a;
	const struct exp_keyname *v;

	if (!key_ok(key) || !key_ok(val))
		return -EINVAL;
	v = &exp_keynames[val];
	if (truncated(v->p, v->len) < v->len)
		return exp_span_add_str_k(s, key, v->p, v->len);
	a = claim_k(s, key);
	if (!a)
		return -ENOSPC;
	a->type = EXP_ATTR_STRING;
	a->v.s.off = (uint16_t)(EXP_STR_KEY | (unsigned)val);
	a->v.s.len = v->len;
	commit(s);
	return 0;
}

int exp_span_add_ref_k(struct exp_span *s, int key, size_t off, size_t len)
{
	struct exp_attr *a;

	if (!key_ok(key) || off + len > s->buf_used || off + len > EXP_SPAN_BUF)
		return -EINVAL;
	a = claim_k(s, key);
	if (!a)
		return -ENOSPC;
	a->type = EXP_ATTR_STRING;
	a->v.s.off = (uint16_t)off;
	a->v.s.len = (uint16_t)truncated(s->buf + off, len);
	commit(s);
	return 0;
}

int exp_span_add_str(struct exp_span *s, const char *key, const char *val, size_t len)
{
	if (!key || !*key)
		return -EINVAL;
	return add_str(s, 0, key, val, len);
}

int exp_span_add_int(struct exp_span *s, const char *key, int64_t val)
{
	if (!key || !*key)
		return -EINVAL;
	return add_int(s, 0, key, val);
}

int exp_span_add_double(struct exp_span *s, const char *key, double val)
{
	struct exp_attr *a;

	if (!key || !*key)
		return -EINVAL;
	a = claim(s, 0, key);
	if (!a)
		return -ENOSPC;
	a->type = EXP_ATTR_DOUBLE;
	a->v.d = val;
	commit(s);
	return 0;
}

int exp_span_add_bool(struct exp_span *s, const char *key, bool val)
{
	struct exp_attr *a;

	if (!key || !*key)
		return -EINVAL;
	a = claim(s, 0, key);
	if (!a)
		return -ENOSPC;
	a->type = EXP_ATTR_BOOL;
	a->v.b = val;
	commit(s);
	return 0;
}

int exp_span_add_str_array(struct exp_span *s, const char *key, const char *const *vals,
                           const size_t *lens, size_t n)
{
	size_t i, total = 0, l;
	struct exp_attr *a;
	uint16_t start;

	if (!key || !*key || (n && (!vals || !lens)))
		return -EINVAL;
	a = claim(s, 0, key);
	if (!a)
		return -ENOSPC;
	for (i = 0; i < n; i++)
		total += (vals[i] ? truncated(vals[i], lens[i]) : 0) + 1;
	if (total > room(s) || n > UINT16_MAX) {
		unclaim(s, a, 0);
		return -ENOSPC;
	}
	start = s->buf_used;
	for (i = 0; i < n; i++) {
		l = vals[i] ? truncated(vals[i], lens[i]) : 0;
		if (l)
			memcpy(s->buf + s->buf_used, vals[i], l);
		s->buf[s->buf_used + l] = '\0';
		s->buf_used += (uint16_t)(l + 1);
	}
	a->type = EXP_ATTR_STRING_ARRAY;
	a->count = (uint16_t)n;
	a->v.s.off = start;
	a->v.s.len = (uint16_t)total;
	commit(s);
	return 0;
}

int exp_span_add_event(struct exp_span *s, uint64_t time_ns, const char *name)
{
	struct exp_event *e;

	if ((lim.event_count >= 0 && s->nevents >= lim.event_count) ||
	    s->nevents >= EXP_SPAN_MAX_EVENTS)
		goto drop;
	e = &s->events[s->nevents];
	if (put(s, name, name ? strlen(name) : 0, &e->name))
		goto drop;
	e->time_ns = time_ns;
	e->dropped_attrs = 0;
	return s->nevents++;
drop:
	s->dropped_events++;
	return -ENOSPC;
}

static int event_ok(const struct exp_span *s, int event, const char *key)
{
	return event >= 0 && event < s->nevents && event < EXP_SPAN_MAX_EVENTS && key && *key;
}

int exp_span_add_event_str(struct exp_span *s, int event, const char *key, const char *val,
                           size_t len)
{
	if (!event_ok(s, event, key))
		return -EINVAL;
	return add_str(s, (unsigned)event + 1, key, val, len);
}

int exp_span_add_event_int(struct exp_span *s, int event, const char *key, int64_t val)
{
	if (!event_ok(s, event, key))
		return -EINVAL;
	return add_int(s, (unsigned)event + 1, key, val);
}

const struct exp_attr *exp_span_find_attr(const struct exp_span *s, const char *key)
{
	size_t klen = strlen(key);
	unsigned i;

	for (i = 0; i < s->nattrs && i < EXP_SPAN_MAX_ATTRS; i++) {
		const struct exp_attr *a = &s->attrs[i];
		const char *p;

		if (a->event == 0 && a->key.len == klen &&
		    exp_str_get(s, a->key, exp_str_used(s), &p) == klen && memcmp(p, key, klen) == 0)
			return a;
	}
	return NULL;
}
