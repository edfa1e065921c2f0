/*
 * curl_dlopen.c - libcurl loaded at run time, for the end-to-end tests. No tracing code.
 *
 * Usage: curl_dlopen plugin PATH URL    dlopen(PATH, RTLD_NOW | RTLD_LOCAL), a shared object
 *                                       linked to libcurl that exports
 *                                       long plugin_fetch(const char *url); call it
 *        curl_dlopen dlsym URL          dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL) and call
 *                                       curl_easy_* through pointers from dlsym(handle)
 *
 * The first is how extension modules and plugins use libcurl: their calls go through their
 * own PLT, and libcurl is outside the global scope. The second bypasses symbol interposition
 * altogether (except libcurl's calls to its own exported functions).
 * Prints {"status": N} and exits 0 if the transfer answered 200, 1 otherwise, 2 on errors,
 * 3 if libcurl was already loaded at start (linked in: the cases above cannot be shown).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

typedef long (*fetch_fn)(const char *url);
typedef CURL *(*init_fn)(void);
typedef CURLcode (*setopt_fn)(CURL *, CURLoption, ...);
typedef CURLcode (*perform_fn)(CURL *);
typedef CURLcode (*getinfo_fn)(CURL *, CURLINFO, ...);
typedef void (*cleanup_fn)(CURL *);

static size_t sink(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);
	if (p == NULL)
		fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
	return p;
}

static long via_dlsym(const char *url)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return -1;
	}
	init_fn init;
	setopt_fn setopt;
	perform_fn perform;
	getinfo_fn getinfo;
	cleanup_fn cleanup;
	void *p[5] = {sym(h, "curl_easy_init"), sym(h, "curl_easy_setopt"),
		      sym(h, "curl_easy_perform"), sym(h, "curl_easy_getinfo"),
		      sym(h, "curl_easy_cleanup")};
	for (int i = 0; i < 5; i++)
		if (p[i] == NULL)
			return -1;
	memcpy(&init, &p[0], sizeof(init));
	memcpy(&setopt, &p[1], sizeof(setopt));
	memcpy(&perform, &p[2], sizeof(perform));
	memcpy(&getinfo, &p[3], sizeof(getinfo));
	memcpy(&cleanup, &p[4], sizeof(cleanup));
	CURL *c = init();
	long status = 0;
	setopt(c, CURLOPT_URL, url);
	setopt(c, CURLOPT_WRITEFUNCTION, sink);
	setopt(c, CURLOPT_NOSIGNAL, 1L);
	setopt(c, CURLOPT_TIMEOUT, 20L);
	if (perform(c) == CURLE_OK)
		getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	cleanup(c);
	return status;
}

static long via_plugin(const char *path, const char *url)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return -1;
	}
	void *p = sym(h, "plugin_fetch");
	fetch_fn fetch;
	if (p == NULL)
		return -1;
	memcpy(&fetch, &p, sizeof(fetch));
	return fetch(url);
}

int main(int argc, char **argv)
{
	long status;
	void *pre = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_NOLOAD);
	if (pre != NULL) {
		fprintf(stderr, "libcurl is already loaded: this program must not be linked to it\n");
		return 3;
	}
	if (argc == 4 && strcmp(argv[1], "plugin") == 0)
		status = via_plugin(argv[2], argv[3]);
	else if (argc == 3 && strcmp(argv[1], "dlsym") == 0)
		status = via_dlsym(argv[2]);
	else {
		fprintf(stderr, "usage: curl_dlopen plugin PATH URL | curl_dlopen dlsym URL\n");
		return 2;
	}
	printf("{\"status\": %ld}\n", status);
	return status < 0 ? 2 : status == 200 ? 0 : 1;
}
