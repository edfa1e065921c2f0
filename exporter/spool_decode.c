/*
 * spool_decode.c - OTLP protobuf decoder for crash spool files (see spool.h).
 *
 * Why a decoder of our own: the agent does not link protobuf-c (the reference codec serves the
 * tests and tools), and a spool file must be re-exported with whatever exporter the reading
 * process is configured for (OTLP protobuf or JSON, console, a file), so its spans are turned
 * back into span records and go through the normal encoders. It reads exactly what encode_pb.c
 * writes (opentelemetry-proto v1.x field numbers, see encode_pb.c) and tolerates what protobuf
 * allows: any field order, unknown fields, repeated singular fields (last one wins).
 *
 * Wire format rules checked (protobuf encoding guide): varints of at most 10 bytes; field
 * number 0 and the group wire types (3, 4) rejected; lengths within the enclosing message; a
 * known field with the wrong wire type rejected; ids of the wrong length rejected. Anything
 * that fails makes the whole file "damaged" (-EBADMSG); the reader renames it aside. Strings
 * are copied into the span record as bytes; the encoders repair invalid UTF-8 on the way out.
 *
 * Thread safety: reentrant; allocates only the Resource of each ResourceSpans (freed before
 * returning).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"

enum { W_VARINT = 0, W_I64 = 1, W_LEN = 2, W_I32 = 5 };

struct rd {
	const uint8_t *p, *end;
};

struct fld {
	uint32_t num;
	uint8_t wt;
	uint64_t v;    /* VARINT, I64, I32 */
	struct rd sub; /* LEN */
};

static int varint(struct rd *r, uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; shift < 70; shift += 7) {
		if (r->p >= r->end)
			return -EBADMSG;
		*v |= (uint64_t)(*r->p & 0x7f) << shift;
		if (!(*r->p++ & 0x80))
			return 0;
	}
	return -EBADMSG;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* 1 and the next field in *f, 0 at the end, -EBADMSG. */
static int next(struct rd *r, struct fld *f)
{
	uint64_t tag, len;

	if (r->p >= r->end)
		return 0;
	if (varint(r, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
		return -EBADMSG;
	f->num = (uint32_t)(tag >> 3);
	f->wt = tag & 7;
	switch (f->wt) {
	case W_VARINT:
		return varint(r, &f->v) ? -EBADMSG : 1;
	case W_I64:
	case W_I32:
		len = f->wt == W_I64 ? 8 : 4;
		if ((size_t)(r->end - r->p) < len)
			return -EBADMSG;
		f->v = le(r->p, (int)len);
		r->p += len;
		return 1;
	case W_LEN:
		if (varint(r, &len) || len > (uint64_t)(r->end - r->p))
			return -EBADMSG;
		f->sub.p = r->p;
		f->sub.end = r->p + len;
		r->p += len;
		return 1;
	}
	return -EBADMSG;
}

/* Known field with the wire type it must have? */
#define WANT(f, w)                                                                                 \
	do {                                                                                       \
		if ((f).wt != (w))                                                                 \
			return -EBADMSG;                                                           \
	} while (0)

static size_t rlen(struct rd r)
{
	return (size_t)(r.end - r.p);
}

/* A NUL-terminated copy of a key (attribute keys and event names are C strings in the span
 * builders); keys longer than the buffer are cut. */
static const char *cstr(struct rd r, char *buf, size_t cap)
{
	size_t n = rlen(r) < cap - 1 ? rlen(r) : cap - 1;

	memcpy(buf, r.p, n);
	buf[n] = '\0';
	return buf;
}

enum { V_NONE = 0, V_STR, V_BOOL, V_INT, V_DOUBLE, V_ARRAY };

struct anyv {
	int type;
	struct rd s; /* STR, ARRAY (the ArrayValue message) */
	uint64_t v;  /* BOOL, INT, DOUBLE bits */
};

static int any_decode(struct rd r, struct anyv *a)
{
	struct fld f;
	int rc;

	a->type = V_NONE;
	while ((rc = next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			WANT(f, W_LEN);
			a->type = V_STR;
			a->s = f.sub;
			break;
		case 2:
			WANT(f, W_VARINT);
			a->type = V_BOOL;
			a->v = f.v;
			break;
		case 3:
			WANT(f, W_VARINT);
			a->type = V_INT;
			a->v = f.v;
			break;
		case 4:
			WANT(f, W_I64);
			a->type = V_DOUBLE;
			a->v = f.v;
			break;
		case 5:
			WANT(f, W_LEN);
			a->type = V_ARRAY;
			a->s = f.sub;
			break;
		case 6:
		case 7:
			WANT(f, W_LEN);
			a->type = V_NONE;
			break; /* kvlist, bytes: not kept */
		}
	}
	return rc;
}

static int kv_decode(struct rd r, struct rd *key, struct anyv *a)
{
	struct fld f;
	int rc;

	key->p = key->end = r.p;
	a->type = V_NONE;
	while ((rc = next(&r, &f)) > 0) {
		if (f.num == 1) {
			WANT(f, W_LEN);
			*key = f.sub;
		} else if (f.num == 2) {
			WANT(f, W_LEN);
			if (any_decode(f.sub, a) < 0)
				return -EBADMSG;
		}
	}
	return rc;
}

/* The string elements of an ArrayValue (others are skipped). */
static int array_decode(struct rd r, const char **vals, size_t *lens, size_t *n)
{
	struct anyv el;
	struct fld f;
	int rc;

	*n = 0;
	while ((rc = next(&r, &f)) > 0) {
		if (f.num != 1)
			continue;
		WANT(f, W_LEN);
		if (any_decode(f.sub, &el) < 0)
			return -EBADMSG;
		if (el.type == V_STR && *n < EXP_SPOOL_MAX_ARRAY) {
			vals[*n] = (const char *)el.s.p;
			lens[*n] = rlen(el.s);
			(*n)++;
		}
	}
	return rc;
}

/* One KeyValue onto the span (event < 0) or onto event `event`. */
static int attr_add(struct exp_span *s, int event, struct rd kv)
{
	const char *vals[EXP_SPOOL_MAX_ARRAY];
	size_t lens[EXP_SPOOL_MAX_ARRAY], n;
	char key[256];
	struct anyv a;
	struct rd k;
	double d;

	if (kv_decode(kv, &k, &a) < 0)
		return -EBADMSG;
	if (a.type == V_ARRAY && array_decode(a.s, vals, lens, &n) < 0)
		return -EBADMSG;
	if (!s)
		return 0;
	cstr(k, key, sizeof(key));
	if (event >= 0) {
		if (a.type == V_STR)
			exp_span_add_event_str(s, event, key, (const char *)a.s.p, rlen(a.s));
		else if (a.type == V_INT)
			exp_span_add_event_int(s, event, key, (int64_t)a.v);
		else
			s->events[event].dropped_attrs++;
		return 0;
	}
	switch (a.type) {
	case V_STR:
		exp_span_add_str(s, key, (const char *)a.s.p, rlen(a.s));
		break;
	case V_BOOL:
		exp_span_add_bool(s, key, a.v != 0);
		break;
	case V_INT:
		exp_span_add_int(s, key, (int64_t)a.v);
		break;
	case V_DOUBLE:
		memcpy(&d, &a.v, 8);
		exp_span_add_double(s, key, d);
		break;
	case V_ARRAY:
		exp_span_add_str_array(s, key, vals, lens, n);
		break;
	default:
		s->dropped_attrs++;
		break;
	}
	return 0;
}

static int event_decode(struct rd r, struct exp_span *s)
{
	struct rd name = {r.p, r.p}, it = r;
	uint64_t time = 0, dropped = 0;
	char nm[256];
	struct fld f;
	int rc, ev;

	while ((rc = next(&it, &f)) > 0) {
		switch (f.num) {
		case 1:
			WANT(f, W_I64);
			time = f.v;
			break;
		case 2:
			WANT(f, W_LEN);
			name = f.sub;
			break;
		case 3:
			WANT(f, W_LEN);
			if (attr_add(NULL, -1, f.sub) < 0)
				return -EBADMSG;
			break;
		case 4:
			WANT(f, W_VARINT);
			dropped = f.v;
			break;
		}
	}
	if (rc < 0)
		return rc;
	ev = exp_span_add_event(s, time, cstr(name, nm, sizeof(nm)));
	if (ev < 0)
		return 0; /* dropped and counted by the builder */
	s->events[ev].dropped_attrs += (uint32_t)dropped;
	while ((rc = next(&r, &f)) > 0)
		if (f.num == 3)
			attr_add(s, ev, f.sub);
	return rc;
}

static int status_decode(struct rd r, struct exp_span *s)
{
	struct rd msg = {r.p, r.p};
	uint64_t code = 0;
	struct fld f;
	int rc;

	while ((rc = next(&r, &f)) > 0) {
		if (f.num == 2) {
			WANT(f, W_LEN);
			msg = f.sub;
		} else if (f.num == 3) {
			WANT(f, W_VARINT);
			code = f.v;
		}
	}
	if (rc == 0 && code <= EXP_STATUS_ERROR)
		exp_span_set_status(s, (int)code, (const char *)msg.p, rlen(msg));
	return rc;
}

static int id_field(struct fld f, uint8_t *out, size_t n, bool empty_ok)
{
	WANT(f, W_LEN);
	if (rlen(f.sub) == n)
		memcpy(out, f.sub.p, n);
	else if (!(empty_ok && rlen(f.sub) == 0))
		return -EBADMSG;
	return 0;
}

static int span_field(struct fld f, struct exp_span *s)
{
	switch (f.num) {
	case 1:
		return id_field(f, s->trace_id, 16, false);
	case 2:
		return id_field(f, s->span_id, 8, false);
	case 3:
		WANT(f, W_LEN);
		exp_span_set_tracestate(s, (const char *)f.sub.p, rlen(f.sub));
		break;
	case 4:
		return id_field(f, s->parent_span_id, 8, true);
	case 5:
		WANT(f, W_LEN);
		exp_span_set_name(s, (const char *)f.sub.p, rlen(f.sub));
		break;
	case 6:
		WANT(f, W_VARINT);
		s->kind = f.v <= 5 ? (uint8_t)f.v : 0;
		break;
	case 7:
		WANT(f, W_I64);
		s->start_ns = f.v;
		break;
	case 8:
		WANT(f, W_I64);
		s->end_ns = f.v;
		break;
	case 9:
		WANT(f, W_LEN);
		return attr_add(s, -1, f.sub);
	case 10:
		WANT(f, W_VARINT);
		s->dropped_attrs += (uint32_t)f.v;
		break;
	case 11:
		WANT(f, W_LEN);
		return event_decode(f.sub, s);
	case 12:
		WANT(f, W_VARINT);
		s->dropped_events += (uint32_t)f.v;
		break;
	case 13:
		WANT(f, W_LEN);
		break; /* links: the agent makes none */
	case 15:
		WANT(f, W_LEN);
		return status_decode(f.sub, s);
	case 16:
		WANT(f, W_I32);
		s->flags = (uint32_t)f.v;
		break;
	}
	return 0;
}

static int span_decode(struct rd r, struct exp_span *s)
{
	static const uint8_t zero[16];
	struct fld f;
	int rc;

	exp_span_init(s);
	while ((rc = next(&r, &f)) > 0)
		if (span_field(f, s) < 0)
			return -EBADMSG;
	if (rc == 0 && (!memcmp(s->trace_id, zero, 16) || !memcmp(s->span_id, zero, 8)))
		return -EBADMSG; /* OTLP: a span must have both ids */
	return rc;
}

static int res_add(struct exp_resource *res, struct rd kv)
{
	struct exp_res_kv *e;
	struct anyv a;
	struct rd k;

	if (kv_decode(kv, &k, &a) < 0)
		return -EBADMSG;
	if (!res || (a.type != V_STR && a.type != V_INT) || rlen(k) == 0)
		return 0;
	/* Resource strings are C strings (the writer's come from the environment and the
	 * system): one holding a NUL byte cannot be kept whole, so the attribute is dropped. */
	if (memchr(k.p, 0, rlen(k)) || (a.type == V_STR && memchr(a.s.p, 0, rlen(a.s))))
		return 0;
	if (res->n == res->cap) {
		int cap = res->cap ? res->cap * 2 : 16;

		e = realloc(res->kv, (size_t)cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		res->kv = e, res->cap = cap;
	}
	e = &res->kv[res->n];
	memset(e, 0, sizeof(*e));
	e->key = strndup((const char *)k.p, rlen(k));
	if (a.type == V_STR) {
		e->str = strndup((const char *)a.s.p, rlen(a.s));
		e->len = e->str ? strlen(e->str) : 0;
	}
	e->i = (int64_t)a.v;
	res->n++;
	return e->key && (a.type != V_STR || e->str) ? 0 : -ENOMEM;
}

static int resource_decode(struct rd r, struct exp_resource *res)
{
	struct fld f;
	int rc;

	while ((rc = next(&r, &f)) > 0) {
		if (f.num == 1) {
			WANT(f, W_LEN);
			if ((rc = res_add(res, f.sub)) < 0)
				return rc;
		}
	}
	return rc;
}

/* The spans of one ScopeSpans. */
static long scope_decode(struct rd r, const struct exp_resource *res, exp_spool_span_fn fn,
                         void *arg)
{
	struct exp_span s;
	struct fld f;
	long n = 0;
	int rc;

	while ((rc = next(&r, &f)) > 0) {
		if (f.num == 1 || f.num == 3) {
			WANT(f, W_LEN); /* scope, schema_url: not kept */
		} else if (f.num == 2) {
			WANT(f, W_LEN);
			if (span_decode(f.sub, &s) < 0)
				return -EBADMSG;
			if (fn && (rc = fn(arg, &s, res)) < 0)
				return rc;
			n++;
		}
	}
	return rc < 0 ? rc : n;
}

static long rs_decode(struct rd r, exp_spool_span_fn fn, void *arg)
{
	struct exp_resource res = {0};
	struct rd it = r;
	struct fld f;
	long n = 0, k;
	int rc;

	/* The Resource first, wherever it is in the message. */
	while ((rc = next(&it, &f)) > 0) {
		if (f.num == 1) {
			rc = -EBADMSG; /* not WANT(): the Resource decoded so far must be freed */
			if (f.wt != W_LEN)
				goto out;
			exp_resource_free(&res);
			if ((rc = resource_decode(f.sub, fn ? &res : NULL)) < 0)
				goto out;
		}
	}
	if (rc < 0)
		goto out;
	while ((rc = next(&r, &f)) > 0) {
		if (f.num != 2)
			continue;
		if (f.wt != W_LEN) {
			rc = -EBADMSG;
			break;
		}
		if ((k = scope_decode(f.sub, &res, fn, arg)) < 0) {
			rc = (int)k;
			break;
		}
		n += k;
	}
	if (rc == 0 && fn && n) /* the end of this Resource's spans: the Resource goes away */
		rc = fn(arg, NULL, &res);
out:
	exp_resource_free(&res);
	return rc < 0 ? rc : n;
}

long exp_spool_decode(const uint8_t *p, size_t n, exp_spool_span_fn fn, void *arg)
{
	struct rd r = {p, p + n};
	struct fld f;
	long total = 0, k;
	int rc;

	if (!p && n)
		return -EINVAL;
	while ((rc = next(&r, &f)) > 0) {
		if (f.num != 1)
			continue;
		WANT(f, W_LEN);
		if ((k = rs_decode(f.sub, fn, arg)) < 0)
			return k;
		total += k;
	}
	return rc < 0 ? rc : total;
}
