/*
 * exp_span.h - the finished-span record: what the agent hands to the exporter.
 *
 * A span is one flat, fixed-size struct with no pointers, so that it can be built in place in
 * a connection's state, copied into a queue slot with one memcpy, and written to a spool file
 * from a signal handler. Strings (name, tracestate, attribute keys and string values, event
 * names, status message) live in `buf` and are referenced by offset and length. Attributes
 * belong either to the span (event == 0) or to event number `event - 1`.
 *
 * Builders (exp_span_*) are pure functions over the struct: no allocation, no locks, no I/O;
 * async-signal-safe. When an attribute does not fit (count limit, EXP_SPAN_MAX_ATTRS, or the
 * string buffer), it is dropped and counted in dropped_attrs, as the OpenTelemetry attribute
 * limits require (OTSPEC common/README.md: "discarded", with a dropped count).
 */
#ifndef EXP_SPAN_H
#define EXP_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXP_SPAN_MAX_ATTRS 32
#define EXP_SPAN_MAX_EVENTS 4
#define EXP_SPAN_BUF 2048
#define EXP_FRAME_SIZE 8 /* bytes per captured return address in exp_span.frames */

enum exp_span_kind { /* values are OTLP's Span.SpanKind */
	EXP_KIND_INTERNAL = 1,
	EXP_KIND_SERVER = 2,
	EXP_KIND_CLIENT = 3,
};

enum exp_status_code { /* values are OTLP's Status.StatusCode */
	EXP_STATUS_UNSET = 0,
	EXP_STATUS_OK = 1,
	EXP_STATUS_ERROR = 2,
};

enum exp_attr_type {
	EXP_ATTR_STRING = 1,
	EXP_ATTR_BOOL = 2,
	EXP_ATTR_INT = 3,
	EXP_ATTR_DOUBLE = 4,
	EXP_ATTR_STRING_ARRAY = 5, /* elements in buf, each NUL-terminated; `len` = total bytes */
};

/* OTLP Span.flags bits (trace.v1.SpanFlags). */
#define EXP_FLAGS_TRACE_MASK 0x000000ffu
#define EXP_FLAGS_HAS_IS_REMOTE 0x00000100u
#define EXP_FLAGS_IS_REMOTE 0x00000200u

struct exp_str {
	uint16_t off; /* in buf; with EXP_STR_KEY set, the well-known key number off & 0x7fff */
	uint16_t len;
};

/* Well-known strings: an attribute added with exp_span_add_*_k() refers to its key by number
 * instead of copying it into buf, and exp_span_add_known_k() its value too (EXP_SPAN_BUF is
 * far below 0x8000, so the flag never collides with an offset). The attribute keys come first,
 * then a few values (EXP_K_VAL_*). Read any string through exp_str_get() or exp_str_ptr(). */
#define EXP_STR_KEY 0x8000u
#define EXP_KEYS(X)                                                                            \
	X(HTTP_REQUEST_METHOD, "http.request.method")                                          \
	X(HTTP_REQUEST_METHOD_ORIGINAL, "http.request.method_original")                        \
	X(HTTP_RESPONSE_STATUS_CODE, "http.response.status_code")                              \
	X(HTTP_ROUTE, "http.route")                                                            \
	X(URL_PATH, "url.path")                                                                \
	X(URL_QUERY, "url.query")                                                              \
	X(URL_SCHEME, "url.scheme")                                                            \
	X(URL_FULL, "url.full")                                                                \
	X(SERVER_ADDRESS, "server.address")                                                    \
	X(SERVER_PORT, "server.port")                                                          \
	X(CLIENT_ADDRESS, "client.address")                                                    \
	X(NETWORK_PEER_ADDRESS, "network.peer.address")                                        \
	X(NETWORK_PEER_PORT, "network.peer.port")                                              \
	X(NETWORK_PROTOCOL_VERSION, "network.protocol.version")                                \
	X(USER_AGENT_ORIGINAL, "user_agent.original")                                          \
	X(ERROR_TYPE, "error.type")                                                            \
	X(VAL_HTTP, "http")                                                                    \
	X(VAL_HTTPS, "https")                                                                  \
	X(VAL_1_0, "1.0")                                                                      \
	X(VAL_1_1, "1.1")

enum exp_key {
	EXP_K_NONE = 0,
#define EXP_KEY_ENUM(id, str) EXP_K_##id,
	EXP_KEYS(EXP_KEY_ENUM)
#undef EXP_KEY_ENUM
	EXP_K_COUNT
};

struct exp_keyname {
	const char *p;
	uint16_t len;
};
extern const struct exp_keyname exp_keynames[EXP_K_COUNT];

struct exp_attr {
	struct exp_str key;
	uint8_t type;  /* enum exp_attr_type */
	uint8_t event; /* 0 = span attribute, k = attribute of events[k - 1] */
	uint16_t count; /* STRING_ARRAY: number of elements */
	union {
		struct exp_str s; /* STRING, STRING_ARRAY */
		int64_t i;        /* INT */
		double d;         /* DOUBLE */
		bool b;           /* BOOL */
	} v;
};

struct exp_event {
	uint64_t time_ns;
	struct exp_str name;
	uint32_t dropped_attrs; /* event attributes dropped (OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT) */
};

struct exp_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8]; /* all zero: root span */
	uint8_t kind;              /* enum exp_span_kind */
	uint8_t status_code;       /* enum exp_status_code */
	uint8_t nattrs;
	uint8_t nevents;
	uint32_t flags; /* W3C trace-flags | EXP_FLAGS_HAS_IS_REMOTE | EXP_FLAGS_IS_REMOTE */
	uint32_t dropped_attrs;
	uint32_t dropped_events;
	uint64_t start_ns; /* wall clock, ns since the epoch */
	uint64_t end_ns;
	struct exp_str name;
	struct exp_str tracestate;
	struct exp_str status_message;
	/* Call-site capture (WIRETRACE_CAPTURE_CALLSITE): raw return addresses, EXP_FRAME_SIZE
	 * bytes each (native byte order, not aligned), stored in buf; len 0 = none. Never
	 * encoded: the exporter thread turns them into code.* attributes (exp_symbolise_set)
	 * and clears them before encoding. Fills what was padding: the struct's size is unchanged. */
	struct exp_str frames;
	/* Deferred attributes: agent-private bytes in buf (a captured request head and what goes
	 * with it) that the agent's finisher (exp_finish_set) turns into attributes on the
	 * exporter thread, so that the request thread only copies them. Never encoded: the
	 * exporter finishes (or, without a finisher, drops) them before encoding; len 0 = none. */
	struct exp_str deferred;
	struct exp_attr attrs[EXP_SPAN_MAX_ATTRS];
	struct exp_event events[EXP_SPAN_MAX_EVENTS];
	uint16_t buf_used;
	char buf[EXP_SPAN_BUF];
};

/* Limits applied by the builders (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
 * OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT,
 * OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT). Set once by exp_limits_set() before any span is built;
 * a value of -1 means "no limit" (only the record's fixed capacity applies). */
struct exp_limits {
	int attr_count;   /* default 128 */
	int attr_value_len; /* default -1 */
	int event_count;  /* default 128 */
	int event_attr_count; /* default 128 */
};
void exp_limits_set(const struct exp_limits *l);

/* Reset to an empty span (ids zero, no attributes). Does not clear buf (cheap). */
void exp_span_init(struct exp_span *s);

/* Returns 0, or -ENOSPC if the string does not fit (the field is then left empty). */
int exp_span_set_name(struct exp_span *s, const char *name, size_t len);
int exp_span_set_tracestate(struct exp_span *s, const char *ts, size_t len);
int exp_span_set_status(struct exp_span *s, int code, const char *msg, size_t len);

/* Span attributes. Strings are truncated to the value-length limit. Adding a key that is
 * already present replaces nothing: callers add each key once. Return 0 or -ENOSPC (dropped and
 * counted). */
int exp_span_add_str(struct exp_span *s, const char *key, const char *val, size_t len);
int exp_span_add_int(struct exp_span *s, const char *key, int64_t val);
int exp_span_add_double(struct exp_span *s, const char *key, double val);
int exp_span_add_bool(struct exp_span *s, const char *key, bool val);
int exp_span_add_str_array(struct exp_span *s, const char *key, const char *const *vals,
			   const size_t *lens, size_t n);

/* The same with a well-known key (enum exp_key), which is referenced, not copied. */
int exp_span_add_str_k(struct exp_span *s, int key, const char *val, size_t len);
int exp_span_add_int_k(struct exp_span *s, int key, int64_t val);
/* A string attribute whose value is the well-known string `val` (EXP_K_VAL_*): nothing copied
 * (a value-length limit below its length copies the cut value instead). */
int exp_span_add_known_k(struct exp_span *s, int key, int val);
/* A string attribute whose value is buf[off, off + len) of the span itself (bytes a finisher
 * finds in its deferred data): referenced in place, truncated to the value-length limit. */
int exp_span_add_ref_k(struct exp_span *s, int key, size_t off, size_t len);

/* Events: exp_span_add_event() returns the event index (>= 0) or -ENOSPC; then attributes are
 * added to it with exp_span_add_event_str()/..._int(). */
int exp_span_add_event(struct exp_span *s, uint64_t time_ns, const char *name);
int exp_span_add_event_str(struct exp_span *s, int event, const char *key, const char *val,
			   size_t len);
int exp_span_add_event_int(struct exp_span *s, int event, const char *key, int64_t val);

/* Look-ups, mainly for tests and the console exporter. */
/* The used part of buf: buf_used, clamped to the buffer (a record may be damaged). */
static inline size_t exp_str_used(const struct exp_span *s)
{
	return s->buf_used < EXP_SPAN_BUF ? s->buf_used : EXP_SPAN_BUF;
}

/* The bytes of str into *p, and their count: a well-known key, or a slice of buf[0, used); ""
 * and 0 for anything else (an unknown key number, a slice outside the used buffer). */
static inline size_t exp_str_get(const struct exp_span *s, struct exp_str str, size_t used,
				 const char **p)
{
	if (str.off & EXP_STR_KEY) {
		unsigned k = str.off & ~EXP_STR_KEY;

		if (k < EXP_K_COUNT && str.len == exp_keynames[k].len) {
			*p = exp_keynames[k].p;
			return str.len;
		}
	} else if ((size_t)str.off + str.len <= used) {
		*p = s->buf + str.off;
		return str.len;
	}
	*p = "";
	return 0;
}

static inline const char *exp_str_ptr(const struct exp_span *s, struct exp_str str)
{
	const char *p;

	exp_str_get(s, str, EXP_SPAN_BUF, &p);
	return p;
}

/* Find a span attribute (event 0) by key; NULL if absent. */
const struct exp_attr *exp_span_find_attr(const struct exp_span *s, const char *key);

#endif
