/*
 * config_parse.c - typed environment readers and string helpers for the configuration.
 *
 * Purpose: one place that implements the parsing rules of OTSPEC
 * configuration/sdk-environment-variables.md ("Parsing empty value", "Boolean", "Numeric",
 * "Duration", "Timeout", "Enum"), the list and key=value syntax shared by
 * OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS (W3C Baggage members without
 * properties), percent-decoding (RFC 3986 section 2.1), and the OTLP endpoint URL rules
 * (OTSPEC protocol/exporter.md). See config_parse.h for the return convention.
 *
 * Design: the parsers are hand-written and locale-independent (no strtol/strtod on raw input:
 * "0x10", " -1", "1e999", "nan" must all be rejected, and the host may have changed LC_NUMERIC
 * before a forked child re-reads anything). Every warning names the variable and quotes the
 * value through cfg_quote() so control characters cannot reach the log unescaped.
 *
 * Thread safety: none needed (configuration is read once, before our threads exist).
 */
#include "config_parse.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wt_log.h"

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Trim blanks (OWS plus CR/LF, which a shell heredoc may leave) from both ends. */
static void trim(const char **s, size_t *len)
{
	while (*len > 0 && (is_ows(**s) || **s == '\r' || **s == '\n')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && (is_ows((*s)[*len - 1]) || (*s)[*len - 1] == '\r' ||
			    (*s)[*len - 1] == '\n'))
		(*len)--;
}

const char *cfg_get(config_getenv_fn g, const char *name)
{
	const char *raw = g ? g(name) : NULL;
	const char *v = raw;
	size_t len;

	if (!v)
		return NULL;
	len = strlen(v);
	trim(&v, &len);
	return len ? raw : NULL;
}

const char *cfg_quote(char *dst, const char *s, size_t len)
{
	size_t i, n = len > CFG_QUOTE_MAX ? CFG_QUOTE_MAX : len;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		dst[i] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
	}
	if (n < len) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
	return dst;
}

void cfg_value(config_getenv_fn g, const char *name, const char **s, size_t *len)
{
	*s = g(name);
	*len = strlen(*s);
	trim(s, len);
}

char *cfg_dup(config_getenv_fn g, const char *name)
{
	const char *s;
	size_t len;

	if (!cfg_get(g, name))
		return NULL;
	cfg_value(g, name, &s, &len);
	return cfg_strndup(s, len);
}

int cfg_bool(config_getenv_fn g, const char *name, bool *out)
{
	char q[CFG_QUOTE_MAX + 4];
	const char *s;
	size_t len;

	if (!cfg_get(g, name))
		return -ENOENT;
	cfg_value(g, name, &s, &len);
	*out = len == 4 && strncasecmp(s, "true", 4) == 0;
	if (!*out && !(len == 5 && strncasecmp(s, "false", 5) == 0))
		wt_warn("%s=\"%s\" is not a boolean (true or false); using false", name,
			cfg_quote(q, s, len));
	return 0;
}

/* Parse decimal digits into *v; false on no digits, other characters or overflow past lim. */
static bool parse_digits(const char *s, size_t len, long lim, long *v)
{
	long acc = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		acc = acc * 10 + (s[i] - '0');
		if (acc > lim)
			return false;
	}
	*v = acc;
	return true;
}

int cfg_int(config_getenv_fn g, const char *name, long lo, long hi, int *out)
{
	char q[CFG_QUOTE_MAX + 4];
	const char *s;
	size_t len;
	long v;

	if (!cfg_get(g, name))
		return -ENOENT;
	cfg_value(g, name, &s, &len);
	if (len > 0 && *s == '+') {
		s++;
		len--;
	}
	if (!parse_digits(s, len, CFG_INT_MAX, &v) || v < lo || v > hi) {
		cfg_value(g, name, &s, &len);
		wt_warn("%s=\"%s\" is not an integer in [%ld, %ld]; using the default", name,
			cfg_quote(q, s, len), lo, hi);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

int cfg_ms(config_getenv_fn g, const char *name, int *out)
{
	char q[CFG_QUOTE_MAX + 4];
	const char *s;
	size_t len;
	long v;

	if (!cfg_get(g, name))
		return -ENOENT;
	cfg_value(g, name, &s, &len);
	if (len > 1 && *s == '-' && parse_digits(s + 1, len - 1, CFG_INT_MAX, &v)) {
		wt_warn("%s=\"%s\" is a negative duration; using the default", name,
			cfg_quote(q, s, len));
		return -EINVAL;
	}
	return cfg_int(g, name, 0, CFG_INT_MAX, out);
}

/* Plain decimal: digits, optional fraction, optional exponent. Anything else is rejected
 * before strtod sees it (no hex floats, inf, nan or locale separators). */
static bool plain_decimal(const char *s, size_t len)
{
	size_t i = 0, digits = 0;

	if (i < len && s[i] == '+')
		i++;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t ed = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			ed++;
		if (ed == 0)
			return false;
	}
	return i == len;
}

int cfg_ratio(config_getenv_fn g, const char *name, double *out)
{
	char q[CFG_QUOTE_MAX + 4], num[64];
	const char *s;
	size_t len;
	double v = -1;

	if (!cfg_get(g, name))
		return -ENOENT;
	cfg_value(g, name, &s, &len);
	if (plain_decimal(s, len) && len < sizeof(num)) {
		memcpy(num, s, len);
		num[len] = '\0';
		v = strtod(num, NULL); /* the C locale is in force in the constructor */
	}
	if (!(v >= 0.0 && v <= 1.0)) {
		wt_warn("%s=\"%s\" is not a probability in [0, 1]; using the default", name,
			cfg_quote(q, s, len));
		return -EINVAL;
	}
	*out = v;
	return 0;
}

const struct cfg_enum *cfg_enum_find(const struct cfg_enum *tab, const char *s, size_t len)
{
	for (; tab->word; tab++)
		if (strlen(tab->word) == len && strncasecmp(tab->word, s, len) == 0)
			return tab;
	return NULL;
}

int cfg_enum(config_getenv_fn g, const char *name, const struct cfg_enum *tab, int *out)
{
	char q[CFG_QUOTE_MAX + 4];
	const struct cfg_enum *e;
	const char *s;
	size_t len;

	if (!cfg_get(g, name))
		return -ENOENT;
	cfg_value(g, name, &s, &len);
	e = cfg_enum_find(tab, s, len);
	if (!e) {
		wt_warn("%s=\"%s\" is not a known value; using the default", name,
			cfg_quote(q, s, len));
		return -EINVAL;
	}
	*out = e->value;
	return 0;
}

bool cfg_list_next(const char **cursor, const char **item, size_t *len)
{
	const char *p = *cursor;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *s = p;

		p = end ? end + 1 : p + n;
		trim(&s, &n);
		if (n > 0) {
			*cursor = p;
			*item = s;
			*len = n;
			return true;
		}
	}
	*cursor = p;
	return false;
}

bool cfg_kv_split(const char *item, size_t len, const char **key, size_t *klen,
		  const char **val, size_t *vlen)
{
	const char *eq = memchr(item, '=', len);

	if (!eq)
		return false;
	*key = item;
	*klen = (size_t)(eq - item);
	*val = eq + 1;
	*vlen = len - *klen - 1;
	trim(key, klen);
	trim(val, vlen);
	return true;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int cfg_pct_decode(const char *s, size_t len, char **out)
{
	char *d = malloc(len + 1);
	size_t i, n = 0;

	if (!d)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			d[n++] = s[i];
			continue;
		}
		if (i + 2 >= len || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
			goto bad;
		d[n] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
		if (d[n] == '\0')
			goto bad;
		n++;
		i += 2;
	}
	d[n] = '\0';
	*out = d;
	return 0;
bad:
	free(d);
	return -EINVAL;
}

char *cfg_strndup(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

bool cfg_is_token(const char *s, size_t len)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || (ch && strchr(extra, ch))))
			return false;
	}
	return true;
}

/* Offsets into an absolute URL: the authority is [auth, auth_end), the path [auth_end,
 * path_end), then the query and fragment up to the end. */
struct url_parts {
	size_t auth;
	size_t auth_end;
	size_t path_end;
};

static void url_split(const char *url, struct url_parts *p)
{
	const char *sep = strstr(url, "://");

	p->auth = sep ? (size_t)(sep - url) + 3 : 0;
	p->auth_end = p->auth + strcspn(url + p->auth, "/?#");
	p->path_end = p->auth_end + strcspn(url + p->auth_end, "?#");
}

static bool valid_port(const char *s, size_t len)
{
	long v;

	return len <= 5 && parse_digits(s, len, 65535, &v) && v >= 1;
}

/* Host and optional port of an authority (userinfo already skipped). */
static const char *check_hostport(const char *h, size_t len)
{
	const char *colon;

	if (len == 0)
		return "no host";
	if (h[0] == '[') {
		const char *rb = memchr(h, ']', len);
		size_t rest;

		if (!rb || rb == h + 1)
			return "malformed IPv6 address";
		rest = len - (size_t)(rb + 1 - h);
		if (rest == 0)
			return NULL;
		if (rb[1] != ':' || !valid_port(rb + 2, rest - 1))
			return "invalid port";
		return NULL;
	}
	colon = memchr(h, ':', len);
	if (colon == h)
		return "no host";
	if (colon && !valid_port(colon + 1, len - (size_t)(colon + 1 - h)))
		return "invalid port";
	return NULL;
}

static bool scheme_is(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(s, want, len) == 0;
}

/* The authority of a URL that has a scheme: skip any userinfo, then check host and port. */
static const char *check_authority(const char *url)
{
	struct url_parts p;
	const char *auth, *end;

	url_split(url, &p);
	auth = url + p.auth;
	end = url + p.auth_end;
	for (const char *c = auth; c < end; c++)
		if (*c == '@')
			auth = c + 1;
	return check_hostport(auth, (size_t)(end - auth));
}

char *cfg_url_normalize(const char *url, bool grpc, bool insecure, const char **why)
{
	const char *sep, *rest, *prefix;
	size_t len = strlen(url), slen, plen;
	char *out;

	*why = NULL;
	trim(&url, &len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
			*why = "blank or control character";
			return NULL;
		}
	sep = strstr(url, "://");
	if (sep && (size_t)(sep - url) < len) {
		slen = (size_t)(sep - url);
		if (scheme_is(url, slen, "http"))
			prefix = "http://";
		else if (scheme_is(url, slen, "https"))
			prefix = "https://";
		else {
			*why = "scheme is not http or https";
			return NULL;
		}
		rest = sep + 3;
	} else if (grpc) {
		/* OTSPEC protocol/exporter.md: Insecure applies only to a gRPC endpoint that
		 * has no scheme; an explicit http/https scheme always wins. */
		prefix = insecure ? "http://" : "https://";
		rest = url;
	} else {
		*why = "no http:// or https:// scheme";
		return NULL;
	}
	len -= (size_t)(rest - url);
	plen = strlen(prefix);
	out = malloc(plen + len + 1);
	if (!out)
		return NULL;
	memcpy(out, prefix, plen);
	memcpy(out + plen, rest, len);
	out[plen + len] = '\0';
	*why = check_authority(out);
	if (*why) {
		free(out);
		return NULL;
	}
	return out;
}

/* url[0, cut) + ins + url[from, end). */
static char *splice(const char *url, size_t cut, const char *ins, size_t from)
{
	size_t tail = strlen(url + from), ilen = strlen(ins);
	char *out = malloc(cut + ilen + tail + 1);

	if (!out)
		return NULL;
	memcpy(out, url, cut);
	memcpy(out + cut, ins, ilen);
	memcpy(out + cut + ilen, url + from, tail + 1);
	return out;
}

char *cfg_url_append_signal(const char *url, const char *signal_path)
{
	struct url_parts p;
	size_t cut;
	char *ins, *out;

	url_split(url, &p);
	cut = p.path_end;
	while (cut > p.auth_end && url[cut - 1] == '/')
		cut--;
	ins = malloc(strlen(signal_path) + 2);
	if (!ins)
		return NULL;
	ins[0] = '/';
	strcpy(ins + 1, signal_path);
	out = splice(url, cut, ins, p.path_end);
	free(ins);
	return out;
}

char *cfg_url_root_path(const char *url)
{
	struct url_parts p;

	url_split(url, &p);
	if (p.path_end > p.auth_end)
		return cfg_strndup(url, strlen(url));
	return splice(url, p.auth_end, "/", p.auth_end);
}

const char *cfg_url_redact(char *dst, const char *url)
{
	char tmp[256];
	struct url_parts p;
	const char *at = NULL;
	size_t n;

	url_split(url, &p);
	for (size_t i = p.auth; i < p.auth_end; i++)
		if (url[i] == '@')
			at = url + i;
	/* Userinfo and query strings may carry credentials: neither is ever logged. */
	if (at)
		snprintf(tmp, sizeof(tmp), "%.*s***%.*s", (int)p.auth, url,
			 (int)(url + p.path_end - at), at);
	else
		snprintf(tmp, sizeof(tmp), "%.*s", (int)p.path_end, url);
	n = strlen(tmp);
	if (url[p.path_end] && n + 4 < sizeof(tmp)) {
		memcpy(tmp + n, "?***", 5);
		n += 4;
	}
	return cfg_quote(dst, tmp, n);
}
