/*
 * curl_util.c - the pure pieces of the libcurl tracer (declared in curl_trace.h): CURLcode
 * names for error.type, URL splitting as libcurl reads URLs, the method libcurl will send,
 * and the header lists (does the program's list name traceparent; the merged copy).
 *
 * No state, no I/O; curl_trace_list_merge allocates (one malloc per list). Thread-safe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl_trace.h"

static const struct {
	CURLcode code;
	const char *name;
} code_names[] = {
#define N(c)                                                                                       \
	{                                                                                          \
		c, #c                                                                              \
	}
    N(CURLE_UNSUPPORTED_PROTOCOL),
    N(CURLE_URL_MALFORMAT),
    N(CURLE_COULDNT_RESOLVE_PROXY),
    N(CURLE_COULDNT_RESOLVE_HOST),
    N(CURLE_COULDNT_CONNECT),
    N(CURLE_WEIRD_SERVER_REPLY),
    N(CURLE_HTTP2),
    N(CURLE_PARTIAL_FILE),
    N(CURLE_HTTP_RETURNED_ERROR),
    N(CURLE_WRITE_ERROR),
    N(CURLE_UPLOAD_FAILED),
    N(CURLE_READ_ERROR),
    N(CURLE_OUT_OF_MEMORY),
    N(CURLE_OPERATION_TIMEDOUT),
    N(CURLE_RANGE_ERROR),
    N(CURLE_SSL_CONNECT_ERROR),
    N(CURLE_TOO_MANY_REDIRECTS),
    N(CURLE_GOT_NOTHING),
    N(CURLE_SEND_ERROR),
    N(CURLE_RECV_ERROR),
    N(CURLE_PEER_FAILED_VERIFICATION),
    N(CURLE_SSL_CERTPROBLEM),
    N(CURLE_SSL_CIPHER),
    N(CURLE_SSL_CACERT_BADFILE),
    N(CURLE_BAD_CONTENT_ENCODING),
    N(CURLE_LOGIN_DENIED),
    N(CURLE_HTTP2_STREAM),
    N(CURLE_PROXY),
    N(CURLE_HTTP3),
    N(CURLE_ABORTED_BY_CALLBACK),
    N(CURLE_FAILED_INIT),
    N(CURLE_SEND_FAIL_REWIND),
#undef N
};

const char *curl_trace_code_name(CURLcode rc)
{
	for (size_t i = 0; i < sizeof(code_names) / sizeof(code_names[0]); i++)
		if (code_names[i].code == rc)
			return code_names[i].name;
	return "_OTHER";
}

static bool is_scheme_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return !first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.');
}

/* libcurl's guess for a URL without a scheme: a few host prefixes name their protocol. */
static const char *guess_scheme(const char *host, size_t len)
{
	static const char *const pfx[] = {"ftp", "dict", "ldap", "imap", "smtp", "pop3", NULL};
	for (int i = 0; pfx[i]; i++) {
		size_t n = strlen(pfx[i]);
		if (len > n && strncasecmp(host, pfx[i], n) == 0 && host[n] == '.')
			return pfx[i];
	}
	return "http";
}

static int parse_port(const char *p, const char *end)
{
	int v = 0;
	if (p == end)
		return 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > 65535)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v > 0 && v <= 65535 ? v : -1;
}

int curl_trace_url_split(const char *url, struct curl_trace_url *u)
{
	memset(u, 0, sizeof(*u));
	if (url == NULL)
		return -EINVAL;
	const char *p = url;
	while (is_scheme_char(*p, p == url))
		p++;
	const char *rest = url;
	if (p > url && strncmp(p, "://", 3) == 0) {
		u->scheme = url;
		u->scheme_len = (size_t)(p - url);
		rest = p + 3;
	}
	const char *end = rest + strcspn(rest, "/?#");
	const char *at = NULL;
	for (const char *q = rest; q < end; q++)
		if (*q == '@')
			at = q; /* the last one: a password may contain '@' */
	const char *h = at ? at + 1 : rest, *pstart = end;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (rb == NULL)
			return -EINVAL;
		u->host = h + 1;
		u->host_len = (size_t)(rb - h - 1);
		if (rb + 1 < end && rb[1] == ':')
			pstart = rb + 2;
		else if (rb + 1 != end)
			return -EINVAL;
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));
		u->host = h;
		u->host_len = (size_t)((colon ? colon : end) - h);
		if (colon)
			pstart = colon + 1;
	}
	if (u->host_len == 0)
		return -EINVAL;
	if (u->scheme == NULL) {
		u->scheme = guess_scheme(u->host, u->host_len);
		u->scheme_len = strlen(u->scheme);
		u->scheme_guessed = true;
	}
	int port = pstart < end ? parse_port(pstart, end) : 0;
	if (port < 0)
		return -EINVAL;
	if (port == 0 && u->scheme_len == 4 && strncasecmp(u->scheme, "http", 4) == 0)
		port = 80;
	else if (port == 0 && u->scheme_len == 5 && strncasecmp(u->scheme, "https", 5) == 0)
		port = 443;
	u->port = port;
	return 0;
}

const char *curl_trace_method(const char *custom, bool nobody, int req)
{
	if (custom && custom[0])
		return custom;
	if (nobody)
		return "HEAD";
	switch (req) {
	case CT_REQ_POST:
		return "POST";
	case CT_REQ_PUT:
		return "PUT";
	case CT_REQ_HEAD:
		return "HEAD";
	default:
		return "GET";
	}
}

bool curl_trace_list_has_traceparent(const struct curl_slist *l)
{
	for (; l; l = l->next) {
		const char *d = l->data;
		if (d && strncasecmp(d, "traceparent", 11) == 0 &&
		    (d[11] == ':' || d[11] == ';' || d[11] == ' ' || d[11] == '\t'))
			return true;
	}
	return false;
}

/* The next line of hdr (lines end with CRLF or LF; empty lines are skipped): its length, and
 * its start in *line; 0 at the end. */
static size_t next_line(const char **p, const char *end, const char **line)
{
	while (*p < end && (**p == '\r' || **p == '\n'))
		(*p)++;
	*line = *p;
	const char *nl = *p < end ? memchr(*p, '\n', (size_t)(end - *p)) : NULL;
	*p = nl ? nl : end;
	size_t len = (size_t)(*p - *line);
	return len && (*line)[len - 1] == '\r' ? len - 1 : len;
}

struct curl_slist *curl_trace_list_merge(const struct curl_slist *prog, const char *hdr,
                                         size_t hdr_len)
{
	size_t n = 0, bytes = 0;
	for (const struct curl_slist *l = prog; l; l = l->next, n++)
		bytes += (l->data ? strlen(l->data) : 0) + 1;
	const char *p = hdr, *end = hdr + hdr_len, *line;
	size_t len;
	while ((len = next_line(&p, end, &line)) > 0)
		n++, bytes += len + 1;
	if (n == 0)
		return NULL;
	struct curl_slist *nodes = malloc(n * sizeof(*nodes) + bytes);
	if (nodes == NULL)
		return NULL;
	char *s = (char *)(nodes + n);
	size_t i = 0;
	for (const struct curl_slist *l = prog; l; l = l->next, i++) {
		size_t k = l->data ? strlen(l->data) : 0;
		memcpy(s, l->data ? l->data : "", k + 1);
		nodes[i].data = s;
		s += k + 1;
	}
	for (p = hdr; (len = next_line(&p, end, &line)) > 0; i++) {
		memcpy(s, line, len);
		s[len] = '\0';
		nodes[i].data = s;
		s += len + 1;
	}
	for (i = 0; i < n; i++)
		nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
	return nodes;
}
