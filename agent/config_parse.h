/*
 * config_parse.h - typed readers of environment variables with the OpenTelemetry parsing rules,
 * and the string helpers config.c builds on (lists, key=value members, percent-decoding, URLs).
 *
 * Internal to agent/config*.c. Every reader takes the variable's name, looks it up through the
 * injected getenv function, and returns:
 *     0        the variable is set and valid; the result is stored
 *     -ENOENT  unset, or empty (OTSPEC sdk-environment-variables.md "Parsing empty value")
 *     -EINVAL  set but invalid: one warning naming the variable and the value was logged and
 *              the result was not touched, so the caller's default stands ("treat as unset")
 * Values quoted in warnings are sanitised and truncated with cfg_quote(); header values are
 * never passed to any of these functions.
 *
 * Thread safety: none needed (configuration is read once, before our threads exist).
 */
#ifndef WT_CONFIG_PARSE_H
#define WT_CONFIG_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define CFG_INT_MAX 2147483647L /* OTSPEC: integers SHOULD support 0 .. 2^31-1 */
#define CFG_QUOTE_MAX 80        /* characters of a value quoted in a warning */

/* The raw value, or NULL if unset or empty (whitespace-only counts as empty). */
const char *cfg_get(config_getenv_fn g, const char *name);

/* The trimmed value of a variable cfg_get() reported as set. */
void cfg_value(config_getenv_fn g, const char *name, const char **s, size_t *len);

/* Heap copy of the trimmed value, or NULL if unset/empty (or out of memory). */
char *cfg_dup(config_getenv_fn g, const char *name);

/* Boolean: only case-insensitive "true" is true; anything else is false, with a warning unless
 * it is "false" (OTSPEC "Boolean"). Returns 0 (set, *out written) or -ENOENT. */
int cfg_bool(config_getenv_fn g, const char *name, bool *out);

/* Integer in [lo, hi] (decimal digits with optional surrounding blanks). */
int cfg_int(config_getenv_fn g, const char *name, long lo, long hi, int *out);

/* Duration or timeout: integer milliseconds >= 0; a negative value gets its own warning. */
int cfg_ms(config_getenv_fn g, const char *name, int *out);

/* Probability in [0, 1]: plain decimal ("0.25", "1", ".5", "1e-3"); no hex, inf or nan. */
int cfg_ratio(config_getenv_fn g, const char *name, double *out);

struct cfg_enum {
	const char *word; /* matched case-insensitively; NULL ends the table */
	int value;
};

/* Look `s` (length len) up in tab; returns the entry or NULL. */
const struct cfg_enum *cfg_enum_find(const struct cfg_enum *tab, const char *s, size_t len);

/* Enum variable (OTSPEC "Enum": case-insensitive; unknown value -> warning, ignored). */
int cfg_enum(config_getenv_fn g, const char *name, const struct cfg_enum *tab, int *out);

/* Comma-list iteration: returns the next non-empty member with OWS (SP/HTAB) trimmed, or false
 * at the end. *cursor starts at the value and is advanced. */
bool cfg_list_next(const char **cursor, const char **item, size_t *len);

/* Split a member "key=value" at its first '=', trimming OWS on both parts. Returns false when
 * there is no '='. */
bool cfg_kv_split(const char *item, size_t len, const char **key, size_t *klen,
		  const char **val, size_t *vlen);

/* Percent-decode s[0, len) into a new NUL-terminated heap string (RFC 3986 section 2.1,
 * case-insensitive hex). Returns 0, -EINVAL for a '%' not followed by two hex digits or a
 * decoded NUL, or -ENOMEM. */
int cfg_pct_decode(const char *s, size_t len, char **out);

/* Copy of s[0, len) as a NUL-terminated heap string, or NULL. */
char *cfg_strndup(const char *s, size_t len);

/* RFC 9110 token (tchar) check: header field names and HTTP methods. */
bool cfg_is_token(const char *s, size_t len);

/* A printable, bounded rendering of s[0, len) for a warning: control bytes become '?', more
 * than CFG_QUOTE_MAX characters end in "...". dst must hold CFG_QUOTE_MAX + 4 bytes. */
const char *cfg_quote(char *dst, const char *s, size_t len);

/*
 * OTLP endpoint URLs (OTSPEC protocol/exporter.md). All return a new heap string or NULL (with
 * *why set to a short reason; NULL reason with NULL result = out of memory).
 *
 * cfg_url_normalize: validate an absolute http/https URL (scheme case-insensitive, made
 * lowercase; non-empty host, IPv6 in brackets; port 1-65535 if present; no blanks or control
 * characters). For gRPC (`grpc` true) a value without "scheme://" is accepted and given
 * "http://" if `insecure`, else "https://" (OTEL_EXPORTER_OTLP_INSECURE applies only then).
 *
 * cfg_url_append_signal: the generic endpoint rule: base + "v1/traces" with exactly one '/'
 * between the base path and "v1/traces"; a query string stays at the end.
 *
 * cfg_url_root_path: the signal-specific rule: used as is, but an empty path becomes "/".
 */
char *cfg_url_normalize(const char *url, bool grpc, bool insecure, const char **why);
char *cfg_url_append_signal(const char *url, const char *signal_path);
char *cfg_url_root_path(const char *url);

/* A URL rendered for a warning: userinfo ("user:password@") becomes "***@" and a query string or
 * fragment becomes "?***", since either may carry credentials. Sanitised as by cfg_quote(). */
const char *cfg_url_redact(char *dst, const char *url);

/* config_otlp.c: the exporter's part of the configuration (struct exp_config: exporter kind,
 * protocol, endpoint, headers, timeout, compression, TLS files, batch processor, service name
 * and resource). c->exe_name must be set. cfg_exp_free releases what it allocated. */
#define CFG_MAX_RESOURCE 128 /* OTEL_RESOURCE_ATTRIBUTES entries kept */
void cfg_exp_load(struct wt_config *c, config_getenv_fn g);
void cfg_exp_free(struct exp_config *e);

#endif
