/*
 * config_otlp.c - the exporter's part of the configuration (struct exp_config).
 *
 * Purpose: OTEL_TRACES_EXPORTER, the OTLP exporter options of OTSPEC protocol/exporter.md
 * (endpoint, protocol, headers, timeout, compression, TLS files, insecure), the batch span
 * processor (OTEL_BSP_*), and the resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).
 *
 * Design:
 * - Every OTLP option has a generic and a signal-specific variable; the _TRACES_ one wins when
 *   it is set and valid. An invalid value is treated as unset, so the generic variable, then
 *   the default, applies (OTSPEC "Numeric"/"Enum": warn and ignore the setting).
 * - Endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is (an empty path becomes "/");
 *   OTEL_EXPORTER_OTLP_ENDPOINT is a base URL to which "v1/traces" is appended with exactly one
 *   '/' for OTLP/HTTP; for gRPC the URL is the base and nothing is appended (the method path is
 *   the exporter's). A gRPC endpoint without scheme gets https://, or http:// when
 *   OTEL_EXPORTER_OTLP_INSECURE is true; an explicit scheme always wins. Defaults:
 *   http://localhost:4318/v1/traces (http/protobuf, http/json), http://localhost:4317 (grpc).
 * - Headers (OTEL_EXPORTER_OTLP_HEADERS): W3C Baggage members "key=value" without properties.
 *   The specification does not say what to do with a malformed member; we drop that member
 *   only, with a warning naming the variable and the key (or its position when there is no
 *   key), never the value: headers are independent and usually carry credentials, so losing
 *   every header because of one typo would turn a warning into an authentication failure. The
 *   values are percent-decoded; a value that decodes to a control character (CR, LF, NUL...)
 *   is malformed, so nothing can inject header lines.
 * - Resource (OTSPEC resource/sdk.md): on any decoding error in OTEL_RESOURCE_ATTRIBUTES the
 *   whole variable is discarded, as the specification requires. service.name is taken out of
 *   the list: OTEL_SERVICE_NAME wins, then the list's value, then
 *   "unknown_service:<executable name>" (semconv service.name).
 *
 * Thread safety: none needed (called from config_load()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "config_parse.h"
#include "wt_log.h"

#define EXP_LOGGING (-1) /* deprecated alias of console */
#define EXP_ZIPKIN (-2)  /* not supported: skipped, so otlp unless another entry is usable */

static const struct cfg_enum exporters[] = {
	{"otlp", EXP_EXPORTER_OTLP},      {"console", EXP_EXPORTER_CONSOLE},
	{"otlp/stdout", EXP_EXPORTER_OTLP_FILE}, {"none", EXP_EXPORTER_NONE},
	{"logging", EXP_LOGGING},         {"zipkin", EXP_ZIPKIN},
	{NULL, 0},
};

static const char *exporter_word(int v)
{
	for (const struct cfg_enum *e = exporters; e->word; e++)
		if (e->value == v)
			return e->word;
	return "?";
}

/* OTEL_TRACES_EXPORTER: OTSPEC says an implementation MAY accept a comma list; we export to one
 * destination, so the first supported entry wins and the rest are reported. */
static void load_exporter_kind(struct exp_config *e, config_getenv_fn g)
{
	char q[CFG_QUOTE_MAX + 4];
	const char *cur, *item;
	int chosen = -1;
	bool extra = false;
	size_t len;

	e->exporter = EXP_EXPORTER_OTLP;
	cur = cfg_get(g, "OTEL_TRACES_EXPORTER");
	while (cur && cfg_list_next(&cur, &item, &len)) {
		const struct cfg_enum *x = cfg_enum_find(exporters, item, len);
		int v;

		if (!x) {
			wt_warn("OTEL_TRACES_EXPORTER: unknown exporter \"%s\" ignored",
				cfg_quote(q, item, len));
			continue;
		}
		v = x->value;
		if (v == EXP_LOGGING) {
			wt_warn("OTEL_TRACES_EXPORTER: \"logging\" is deprecated; use \"console\"");
			v = EXP_EXPORTER_CONSOLE;
		} else if (v == EXP_ZIPKIN) {
			wt_warn("OTEL_TRACES_EXPORTER: the zipkin exporter is not supported; "
				"ignored (otlp is the default)");
			continue;
		}
		if (chosen < 0)
			chosen = v;
		else if (v != chosen)
			extra = true;
	}
	if (chosen >= 0)
		e->exporter = chosen;
	if (extra)
		wt_warn("OTEL_TRACES_EXPORTER: only one exporter is supported; using %s",
			exporter_word(e->exporter));
}

static const struct cfg_enum protocols[] = {
	{"http/protobuf", EXP_PROTO_HTTP_PROTOBUF},
	{"http/json", EXP_PROTO_HTTP_JSON},
	{"grpc", EXP_PROTO_GRPC},
	{NULL, 0},
};

static const struct cfg_enum compressions[] = {
	{"none", 0},
	{"gzip", 1},
	{NULL, 0},
};

/* A string option: the _TRACES_ variable, else the generic one. */
static char *dup_either(config_getenv_fn g, const char *traces, const char *generic)
{
	char *s = cfg_dup(g, traces);

	return s ? s : cfg_dup(g, generic);
}

/* A TLS file: kept even when unreadable (the file may appear later), but reported now. */
static char *load_file(config_getenv_fn g, const char *traces, const char *generic)
{
	char q[CFG_QUOTE_MAX + 4];
	char *s = dup_either(g, traces, generic);

	if (s && access(s, R_OK) != 0) {
		const char *why = strerrordesc_np(errno);

		wt_warn("%s: cannot read \"%s\" (%s)", cfg_get(g, traces) ? traces : generic,
			cfg_quote(q, s, strlen(s)), why ? why : "error");
	}
	return s;
}

static void load_options(struct exp_config *e, config_getenv_fn g)
{
	int gz = 0;

	e->protocol = EXP_PROTO_HTTP_PROTOBUF;
	if (cfg_enum(g, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", protocols, &e->protocol) != 0)
		cfg_enum(g, "OTEL_EXPORTER_OTLP_PROTOCOL", protocols, &e->protocol);
	e->timeout_ms = 10000;
	if (cfg_ms(g, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", &e->timeout_ms) != 0)
		cfg_ms(g, "OTEL_EXPORTER_OTLP_TIMEOUT", &e->timeout_ms);
	if (cfg_enum(g, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", compressions, &gz) != 0)
		cfg_enum(g, "OTEL_EXPORTER_OTLP_COMPRESSION", compressions, &gz);
	e->gzip = gz == 1;
	/* The obsolete OTEL_EXPORTER_OTLP_SPAN_INSECURE still works (OTSPEC: SHOULD). */
	e->insecure = false;
	if (cfg_bool(g, "OTEL_EXPORTER_OTLP_TRACES_INSECURE", &e->insecure) != 0 &&
	    cfg_bool(g, "OTEL_EXPORTER_OTLP_INSECURE", &e->insecure) != 0)
		cfg_bool(g, "OTEL_EXPORTER_OTLP_SPAN_INSECURE", &e->insecure);
	e->certificate = load_file(g, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
				   "OTEL_EXPORTER_OTLP_CERTIFICATE");
	e->client_key = load_file(g, "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
				  "OTEL_EXPORTER_OTLP_CLIENT_KEY");
	e->client_certificate = load_file(g, "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
					  "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
}

/* One endpoint variable; NULL if unset or invalid (warned, without any userinfo). */
static char *endpoint_from(const struct exp_config *e, config_getenv_fn g, const char *name,
			   bool generic)
{
	bool grpc = e->protocol == EXP_PROTO_GRPC;
	char q[CFG_QUOTE_MAX + 4];
	const char *raw = cfg_get(g, name), *why;
	char *url, *out;

	if (!raw)
		return NULL;
	url = cfg_url_normalize(raw, grpc, e->insecure, &why);
	if (!url) {
		if (why)
			wt_warn("%s=\"%s\" is not a valid endpoint (%s); ignored", name,
				cfg_url_redact(q, raw), why);
		return NULL;
	}
	if (grpc)
		return url;
	out = generic ? cfg_url_append_signal(url, "v1/traces") : cfg_url_root_path(url);
	free(url);
	return out;
}

static void load_endpoint(struct exp_config *e, config_getenv_fn g)
{
	e->endpoint = endpoint_from(e, g, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", false);
	if (!e->endpoint)
		e->endpoint = endpoint_from(e, g, "OTEL_EXPORTER_OTLP_ENDPOINT", true);
	if (!e->endpoint)
		e->endpoint = strdup(e->protocol == EXP_PROTO_GRPC
					     ? "http://localhost:4317"
					     : "http://localhost:4318/v1/traces");
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return true;
	return false;
}

/* One header member; returns 0 (stored or replaced) or -EINVAL (warned and dropped). The
 * value is never logged: only the variable, the position and the key. */
static int add_header(struct exp_config *e, const char *name, int pos, const char *item,
		      size_t len)
{
	char q[CFG_QUOTE_MAX + 4];
	const char *k, *v;
	size_t klen, vlen;
	char *val = NULL;
	int i;

	if (!cfg_kv_split(item, len, &k, &klen, &v, &vlen)) {
		wt_warn("%s: entry %d has no '='; entry ignored", name, pos);
		return -EINVAL;
	}
	if (!cfg_is_token(k, klen)) {
		wt_warn("%s: entry %d has an invalid header name \"%s\"; entry ignored", name, pos,
			cfg_quote(q, k, klen));
		return -EINVAL;
	}
	if (cfg_pct_decode(v, vlen, &val) != 0 || has_ctl(val)) {
		wt_warn("%s: the value of header \"%s\" is not valid percent-encoded text; "
			"header ignored", name, cfg_quote(q, k, klen));
		free(val);
		return -EINVAL;
	}
	for (i = 0; i < e->nheaders; i++)
		if (strlen(e->headers[i].name) == klen &&
		    strncasecmp(e->headers[i].name, k, klen) == 0)
			break;
	if (i == EXP_MAX_HEADERS) {
		wt_warn("%s: more than %d headers; \"%s\" ignored", name, EXP_MAX_HEADERS,
			cfg_quote(q, k, klen));
		free(val);
		return -EINVAL;
	}
	if (i < e->nheaders) { /* a repeated key: the last one wins */
		free(e->headers[i].value);
		e->headers[i].value = val;
		return 0;
	}
	e->headers[i].name = cfg_strndup(k, klen);
	if (!e->headers[i].name) {
		free(val);
		return -ENOMEM;
	}
	e->headers[i].value = val;
	e->nheaders++;
	return 0;
}

static void load_headers(struct exp_config *e, config_getenv_fn g)
{
	const char *name = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
	const char *cur = cfg_get(g, name), *item;
	size_t len;
	int pos = 0;

	if (!cur) {
		name = "OTEL_EXPORTER_OTLP_HEADERS";
		cur = cfg_get(g, name);
	}
	while (cur && cfg_list_next(&cur, &item, &len))
		add_header(e, name, ++pos, item, len);
}

/* OTEL_BSP_*: sizes are positive integers, the batch no larger than the queue (OTSPEC "Batch
 * Span Processor"); a larger batch is clamped, with a warning only if it was set explicitly. */
static void load_bsp(struct exp_config *e, config_getenv_fn g)
{
	int rc;

	e->bsp_schedule_delay_ms = 5000;
	cfg_ms(g, "OTEL_BSP_SCHEDULE_DELAY", &e->bsp_schedule_delay_ms);
	e->bsp_export_timeout_ms = 30000;
	cfg_ms(g, "OTEL_BSP_EXPORT_TIMEOUT", &e->bsp_export_timeout_ms);
	e->bsp_max_queue_size = 2048;
	cfg_int(g, "OTEL_BSP_MAX_QUEUE_SIZE", 1, CFG_INT_MAX, &e->bsp_max_queue_size);
	e->bsp_max_export_batch_size = 512;
	rc = cfg_int(g, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, CFG_INT_MAX,
		     &e->bsp_max_export_batch_size);
	if (e->bsp_max_export_batch_size > e->bsp_max_queue_size) {
		if (rc == 0)
			wt_warn("OTEL_BSP_MAX_EXPORT_BATCH_SIZE=%d is larger than the queue size "
				"%d; using %d", e->bsp_max_export_batch_size,
				e->bsp_max_queue_size, e->bsp_max_queue_size);
		e->bsp_max_export_batch_size = e->bsp_max_queue_size;
	}
}

static void free_resource(struct exp_resource_attr *r, int n)
{
	for (int i = 0; i < n; i++) {
		free(r[i].key);
		free(r[i].value);
	}
	free(r);
}

/* Decode one "key=value" member into r (replacing an earlier equal key). NULL or a reason. */
static const char *resource_member(struct exp_resource_attr *r, int *n, const char *item,
				   size_t len)
{
	const char *k, *v;
	size_t klen, vlen;
	char *key = NULL, *val = NULL;
	int i;

	if (!cfg_kv_split(item, len, &k, &klen, &v, &vlen))
		return "no '='";
	if (cfg_pct_decode(k, klen, &key) != 0 || cfg_pct_decode(v, vlen, &val) != 0) {
		free(key);
		return "invalid percent-encoding";
	}
	if (!key[0]) {
		free(key);
		free(val);
		return "empty key";
	}
	for (i = 0; i < *n && strcmp(r[i].key, key) != 0; i++)
		;
	if (i < *n) {
		free(r[i].key);
		free(r[i].value);
	} else if (*n == CFG_MAX_RESOURCE) {
		wt_warn("OTEL_RESOURCE_ATTRIBUTES: more than %d attributes; extra ones ignored",
			CFG_MAX_RESOURCE);
		free(key);
		free(val);
		return NULL;
	} else {
		(*n)++;
	}
	r[i].key = key;
	r[i].value = val;
	return NULL;
}

/* OTEL_RESOURCE_ATTRIBUTES: all or nothing. */
static void load_resource_list(struct exp_config *e, config_getenv_fn g)
{
	char q[CFG_QUOTE_MAX + 4];
	const char *cur = cfg_get(g, "OTEL_RESOURCE_ATTRIBUTES"), *item;
	struct exp_resource_attr *r;
	size_t len;
	int n = 0;

	if (!cur)
		return;
	r = calloc(CFG_MAX_RESOURCE, sizeof(*r));
	if (!r)
		return;
	while (cfg_list_next(&cur, &item, &len)) {
		const char *why = resource_member(r, &n, item, len);

		if (why) {
			wt_warn("OTEL_RESOURCE_ATTRIBUTES ignored entirely: entry \"%s\": %s",
				cfg_quote(q, item, len), why);
			free_resource(r, n);
			return;
		}
	}
	e->resource = r;
	e->nresource = n;
}

static void load_resource(struct wt_config *c, config_getenv_fn g)
{
	struct exp_config *e = &c->exp;
	char *from_list = NULL;

	load_resource_list(e, g);
	for (int i = 0; i < e->nresource; i++) {
		if (strcmp(e->resource[i].key, "service.name") != 0)
			continue;
		from_list = e->resource[i].value;
		free(e->resource[i].key);
		e->resource[i] = e->resource[--e->nresource];
		break;
	}
	e->service_name = cfg_dup(g, "OTEL_SERVICE_NAME");
	if (!e->service_name && from_list && from_list[0]) {
		e->service_name = from_list;
		from_list = NULL;
	}
	free(from_list);
	if (!e->service_name && c->exe_name) {
		size_t n = sizeof("unknown_service:") + strlen(c->exe_name);

		e->service_name = malloc(n);
		if (e->service_name)
			snprintf(e->service_name, n, "unknown_service:%s", c->exe_name);
	}
	if (!e->service_name)
		e->service_name = strdup("unknown_service");
}

void cfg_exp_load(struct wt_config *c, config_getenv_fn g)
{
	load_exporter_kind(&c->exp, g);
	load_options(&c->exp, g);
	load_endpoint(&c->exp, g);
	load_headers(&c->exp, g);
	load_bsp(&c->exp, g);
	load_resource(c, g);
}

void cfg_exp_free(struct exp_config *e)
{
	free(e->endpoint);
	for (int i = 0; i < e->nheaders; i++) {
		free(e->headers[i].name);
		if (e->headers[i].value) /* wipe credentials before the memory is reused */
			explicit_bzero(e->headers[i].value, strlen(e->headers[i].value));
		free(e->headers[i].value);
	}
	free(e->certificate);
	free(e->client_key);
	free(e->client_certificate);
	free(e->service_name);
	free_resource(e->resource, e->nresource);
	free(e->file_path);
	free(e->spool_dir);
	memset(e, 0, sizeof(*e));
}
