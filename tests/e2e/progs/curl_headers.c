/*
 * curl_headers.c - a libcurl program with its own CURLOPT_HTTPHEADER list, for the end-to-end
 * tests: the list must come back from every transfer exactly as it was (same nodes, same
 * string pointers, same bytes) and keep working when reused. No tracing code.
 *
 * Usage: curl_headers BASE_URL
 *
 * Steps, each a GET of BASE_URL/<step> (the server logs what it received):
 *   easy1, easy2   curl_easy_perform twice on one handle with the program's list
 *   multi          the same handle through a multi handle (add, perform, info_read, remove)
 *   easy3          curl_easy_perform again after the multi transfer
 *   dup            curl_easy_duphandle of the handle, performed
 *   own            a second list that carries its own traceparent (must arrive unchanged)
 *   none           CURLOPT_HTTPHEADER set back to NULL (only the agent's header is sent)
 *   reset          curl_easy_reset, then only the URL and the list set again
 * After each step the program's lists are checked against snapshots taken when they were
 * built. Output: one JSON line per step ({"step", "result", "status", "list_intact"}).
 * Exit status 0 if every step succeeded with status 200 and the lists were intact, else 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define MAXN 8

struct snap {
	struct curl_slist *head;
	int n;
	struct curl_slist *node[MAXN];
	char *data[MAXN];
	char copy[MAXN][128];
};

static const char *base;
static int failed;

static size_t sink(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

static struct curl_slist *build(struct snap *s, const char *const *lines)
{
	struct curl_slist *l = NULL;
	for (int i = 0; lines[i]; i++)
		l = curl_slist_append(l, lines[i]);
	memset(s, 0, sizeof(*s));
	s->head = l;
	for (struct curl_slist *p = l; p && s->n < MAXN; p = p->next, s->n++) {
		s->node[s->n] = p;
		s->data[s->n] = p->data;
		snprintf(s->copy[s->n], sizeof(s->copy[s->n]), "%s", p->data);
	}
	return l;
}

static int intact(const struct snap *s, const struct curl_slist *l)
{
	int i = 0;
	if (l != s->head)
		return 0;
	for (const struct curl_slist *p = l; p; p = p->next, i++)
		if (i >= s->n || p != s->node[i] || p->data != s->data[i] ||
		    strcmp(p->data, s->copy[i]) != 0)
			return 0;
	return i == s->n;
}

static void report(const char *step, CURL *h, CURLcode rc, int ok_list)
{
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	printf("{\"step\": \"%s\", \"result\": %d, \"status\": %ld, \"list_intact\": %s}\n", step,
	       (int)rc, status, ok_list ? "true" : "false");
	fflush(stdout);
	if (rc != CURLE_OK || status != 200 || !ok_list)
		failed = 1;
}

static void setup(CURL *h, const char *step)
{
	char url[1024];
	snprintf(url, sizeof(url), "%s/%s", base, step);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
}

static CURLcode via_multi(CURL *h)
{
	CURLM *m = curl_multi_init();
	CURLcode rc = CURLE_FAILED_INIT;
	int running = 0, left;
	if (curl_multi_add_handle(m, h) != CURLM_OK)
		goto out;
	do {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			goto out;
		if (running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	} while (running);
	CURLMsg *msg;
	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
			rc = msg->data.result;
	curl_multi_remove_handle(m, h);
out:
	curl_multi_cleanup(m);
	return rc;
}

int main(int argc, char **argv)
{
	static const char *const mine[] = {"X-Test-A: 1", "Accept: text/x-test",
	                                   "X-Test-B: two words", NULL};
	static const char *const own[] = {
	    "X-Test-A: own", "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	    NULL};
	struct snap s1, s2;
	if (argc != 2) {
		fprintf(stderr, "usage: curl_headers BASE_URL\n");
		return 2;
	}
	base = argv[1];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct curl_slist *list = build(&s1, mine);
	struct curl_slist *list2 = build(&s2, own);
	CURL *h = curl_easy_init();
	setup(h, "easy1");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	report("easy1", h, curl_easy_perform(h), intact(&s1, list));
	setup(h, "easy2");
	report("easy2", h, curl_easy_perform(h), intact(&s1, list));
	setup(h, "multi");
	report("multi", h, via_multi(h), intact(&s1, list));
	setup(h, "easy3");
	report("easy3", h, curl_easy_perform(h), intact(&s1, list));

	setup(h, "dup");
	CURL *d = curl_easy_duphandle(h);
	report("dup", d, curl_easy_perform(d), intact(&s1, list));
	curl_easy_cleanup(d);

	setup(h, "own");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list2);
	report("own", h, curl_easy_perform(h), intact(&s2, list2));

	setup(h, "none");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	report("none", h, curl_easy_perform(h), intact(&s1, list) && intact(&s2, list2));

	curl_easy_reset(h);
	setup(h, "reset");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	report("reset", h, curl_easy_perform(h), intact(&s1, list));

	curl_easy_cleanup(h);
	curl_slist_free_all(list);
	curl_slist_free_all(list2);
	curl_global_cleanup();
	return failed;
}
