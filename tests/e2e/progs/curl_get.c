/*
 * curl_get.c - a tiny stand-in for the curl CLI, for the sanitizer builds of the end-to-end
 * tests: the Debian curl CLI deadlocks at start-up when the ASan runtime is preloaded (see
 * rawpeer.py), so there the tests run this instead, with the same options and the same exit
 * codes (the CURLcode of the last failed transfer, as the CLI returns). No tracing code.
 *
 * Usage: curl_get [-s] [-S] [-L] [-I] [-f] [-X METHOD] [-d DATA] [-T FILE] [-H LINE]...
 *                 [--cacert PEM] [--max-time S] [-o FILE] URL...
 *
 * One easy handle for all URLs, in order (keep-alive, as the CLI does), through
 * curl_easy_perform; bodies go to stdout (or are dropped with -o, whatever FILE is).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

static int quiet_body;

static size_t out(char *p, size_t sz, size_t n, void *u)
{
	(void)u;
	if (!quiet_body)
		fwrite(p, sz, n, stdout);
	return sz * n;
}

int main(int argc, char **argv)
{
	struct curl_slist *hdrs = NULL;
	const char *method = NULL, *data = NULL, *upload = NULL, *cacert = NULL;
	long follow = 0, nobody = 0, failonerror = 0, max_time = 30;
	int rc = 0, i;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-s") || !strcmp(a, "-S") || !strcmp(a, "-sS"))
			continue;
		if (!strcmp(a, "-L"))
			follow = 1;
		else if (!strcmp(a, "-I"))
			nobody = 1;
		else if (!strcmp(a, "-f"))
			failonerror = 1;
		else if (v && !strcmp(a, "-X"))
			method = v, i++;
		else if (v && !strcmp(a, "-d"))
			data = v, i++;
		else if (v && !strcmp(a, "-T"))
			upload = v, i++;
		else if (v && !strcmp(a, "-H"))
			hdrs = curl_slist_append(hdrs, v), i++;
		else if (v && !strcmp(a, "--cacert"))
			cacert = v, i++;
		else if (v && !strcmp(a, "--max-time"))
			max_time = atol(v), i++;
		else if (v && !strcmp(a, "-o"))
			quiet_body = 1, i++;
		else {
			fprintf(stderr, "curl_get: unknown option %s\n", a);
			return 2;
		}
	}
	if (i == argc) {
		fprintf(stderr, "curl_get: no URL\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, out);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, max_time);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, follow);
	curl_easy_setopt(h, CURLOPT_NOBODY, nobody);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, failonerror);
	if (hdrs)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, cacert);
	if (data)
		curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, data);
	if (method)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	FILE *up = NULL;
	if (upload) {
		struct stat st;
		up = fopen(upload, "rb");
		if (up == NULL || fstat(fileno(up), &st) < 0) {
			perror(upload);
			return 2;
		}
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READDATA, up);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	}
	for (; i < argc; i++) {
		curl_easy_setopt(h, CURLOPT_URL, argv[i]);
		CURLcode r = curl_easy_perform(h);
		if (r != CURLE_OK) {
			fprintf(stderr, "curl_get: %s: %s\n", argv[i], curl_easy_strerror(r));
			rc = (int)r;
		}
	}
	if (up)
		fclose(up);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	curl_global_cleanup();
	return rc;
}
