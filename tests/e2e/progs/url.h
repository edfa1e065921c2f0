/*
 * url.h - the "http://host[:port][/path]" parsing the end-to-end test programs share (header
 * only: each program in this folder is built from its own .c file).
 */
#ifndef WT_E2E_URL_H
#define WT_E2E_URL_H

#include <stdio.h>
#include <string.h>

struct e2e_url {
	char host[256];
	char port[16];
	char path[2048]; /* from the first '/', or "" when the URL has none */
};

/* 0, or -1 for a URL that is not http:// with a host. */
static inline int e2e_parse_url(const char *url, struct e2e_url *u)
{
	if (strncmp(url, "http://", 7) != 0)
		return -1;
	const char *h = url + 7, *slash = strchr(h, '/');
	size_t hl = slash ? (size_t)(slash - h) : strlen(h);
	const char *colon = memchr(h, ':', hl);
	size_t nl = colon ? (size_t)(colon - h) : hl;
	if (nl == 0 || nl >= sizeof(u->host))
		return -1;
	memcpy(u->host, h, nl);
	u->host[nl] = '\0';
	snprintf(u->port, sizeof(u->port), "%.*s", colon ? (int)(hl - nl - 1) : 2,
		 colon ? colon + 1 : "80");
	snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "");
	return 0;
}

#endif
