/*
 * curl_trace.c - one CLIENT span per libcurl transfer, and traceparent/tracestate in its
 * request headers.
 *
 * Why at the libcurl level: most of what libcurl sends is out of reach of the socket-level
 * tracker (HTTPS, HTTP/2 multiplexing), and libcurl already knows the method, URL, status and
 * the outcome of each transfer. hooks/curl.c interposes the API calls and hands them here.
 *
 * Per-handle state (struct xfer, in a lock-free table keyed by the CURL* address): the options
 * the span and the header merge need, mirrored from the program's own successful
 * curl_easy_setopt calls (URL, CURLOPT_HTTPHEADER, the method options, CURLOPT_PORT,
 * CURLOPT_USERAGENT, CURLOPT_CONNECT_ONLY, CURLOPT_CURLU), and the transfer in progress.
 * A handle the program never configured through our hook (libcurl's internal DoH handles,
 * a program calling libcurl through dlsym'ed pointers) is unknown: its transfers are left to
 * the socket- and TLS-level tracker.
 *
 * A transfer (curl_easy_perform; or curl_multi_add_handle .. CURLMSG_DONE /
 * curl_multi_remove_handle) of an http(s) URL:
 *  - begins a CLIENT span whose parent is the request the thread is serving at that moment
 *    (spans_pick_parent, as for socket-level CLIENT spans; for the multi interface: when the
 *    handle is added, which is where the program decides to make the call);
 *  - unless the program's own header list already names traceparent (set, emptied or
 *    removed: its choice is kept), builds a new list = a copy of the program's list + our
 *    traceparent (and tracestate) lines, one malloc, and sets it with the REAL setopt; the
 *    program's list is never modified, and it is set back, and ours freed, when the transfer
 *    ends (after perform returns; at DONE or remove for multi);
 *  - ends with the attributes libcurl reports (CURLINFO_RESPONSE_CODE, REDIRECT_COUNT,
 *    PRIMARY_IP/PORT, HTTP_VERSION, SCHEME) and error.type from the CURLcode.
 *
 * Redirects: one span per transfer. libcurl sends the program's headers, ours included, on
 * every request of a followed redirect chain, so every hop names this span as its parent;
 * http.request.resend_count is CURLINFO_REDIRECT_COUNT (SEMCONV: resends "for any reason,
 * including redirects"), url.full / server.* describe the URL the program asked for, the
 * status code is the final response's. Separate spans per hop would need libcurl internals.
 *
 * Not traced twice: while a traced transfer runs, curl_trace_busy_n is set on the thread, and
 * conn.c gives up every client connection opened then (libcurl's sockets, kept-alive ones too,
 * since they were opened inside a transfer); hooks/tls.c passes the thread's OpenSSL calls
 * through untraced meanwhile. The price: HTTP the program itself makes from inside a libcurl
 * callback (a client connection it opens, a TLS session it uses) is not traced either.
 *
 * Limits: options set from inside a libcurl callback are not seen (libcurl's internal calls
 * cannot be told apart from the program's there); a URL given only as a CURLU handle is read
 * back at the end (CURLINFO_EFFECTIVE_URL, after redirects); a transfer libcurl reports as not
 * HTTP(S) (CURLINFO_SCHEME) produces no span.
 *
 * Span timing: start when the transfer starts (perform or add), end when libcurl reports it
 * complete (body included), not at the response head as socket-level CLIENT spans do: the
 * public API offers no earlier moment without installing callbacks into the program's handle.
 *
 * Threads: a handle is used by one thread at a time (a libcurl rule), so a handle's state is
 * never touched concurrently; the tables themselves are lock-free. Not async-signal-safe
 * (malloc): libcurl is not called from signal handlers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "conn.h"
#include "curl_trace.h"
#include "exp_span.h"
#include "http_span.h"
#include "inject.h"
#include "ptr_table.h"
#include "wt_clock.h"

#define CT_STR_MAX 8192 /* longest URL / method / user agent we copy */
#define CT_URL_MAX 2048 /* url.full, like the socket-level spans */

WT_TLS int curl_trace_depth;
WT_TLS int curl_trace_busy_n;

/* What the spans need from a URL, worked out once per URL (not once per transfer). */
struct url_info {
	bool ok, is_http;
	const char *host; /* in the URL string */
	size_t host_len;
	int port; /* explicit, else the scheme's default, 0 if unknown */
	char scheme[8];
	size_t scheme_len;
	char *full; /* url.full: scheme added if libcurl guesses it, credentials and signed
	             * query values redacted; malloc'ed */
	size_t full_len;
};

struct xfer {
	CURL *h;
	char *url, *custom, *ua;      /* copies of the program's strings, or NULL */
	struct url_info ui;           /* of url */
	struct curl_slist *prog_hdrs; /* the program's CURLOPT_HTTPHEADER (not ours to touch) */
	long port;                    /* CURLOPT_PORT, 0 = from the URL */
	uint8_t req;                  /* enum curl_trace_req */
	uint8_t nobody, connect_only, curlu;
	/* the transfer in progress */
	uint8_t active, linked;
	struct curl_slist *ours; /* our merged list while it is set on the handle */
	struct wt_span_rec *rec;
	CURLM *multi;               /* added to this multi handle, NULL for easy */
	struct xfer *mprev, *mnext; /* the multi handle's traced transfers */
};

/* A multi handle with traced transfers in it (absent from the table when it has none). */
struct multi_state {
	struct xfer *head;
};

static struct wt_ptab handles = WT_PTAB_INIT("curl handles", 4096);
static struct wt_ptab multis = WT_PTAB_INIT("curl multi handles", 1024);

/* ---- per-handle state ------------------------------------------------------------------------ */

static void set_str(char **slot, const void *v)
{
	free(*slot);
	*slot = v ? strndup(v, CT_STR_MAX) : NULL;
}

static void url_info_clear(struct url_info *ui)
{
	free(ui->full);
	memset(ui, 0, sizeof(*ui));
}

static void url_info_set(struct url_info *ui, const char *url)
{
	struct curl_trace_url u;
	url_info_clear(ui);
	if (url == NULL || curl_trace_url_split(url, &u) < 0)
		return;
	char raw[CT_URL_MAX], full[CT_URL_MAX];
	int n = snprintf(raw, sizeof(raw), "%s%s", u.scheme_guessed ? "http://" : "", url);
	size_t rn = n < 0 ? 0 : (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1;
	size_t fn = hspan_redact_url(full, sizeof(full), raw, rn);
	ui->full = malloc(fn ? fn : 1);
	if (ui->full == NULL)
		return;
	memcpy(ui->full, full, fn);
	ui->full_len = fn;
	ui->host = u.host;
	ui->host_len = u.host_len;
	ui->port = u.port;
	ui->scheme_len = u.scheme_len < sizeof(ui->scheme) ? u.scheme_len : sizeof(ui->scheme) - 1;
	for (size_t i = 0; i < ui->scheme_len; i++)
		ui->scheme[i] = (char)(u.scheme[i] | 0x20); /* ASCII letters: lower case */
	ui->is_http = (ui->scheme_len == 4 && memcmp(ui->scheme, "http", 4) == 0) ||
	              (ui->scheme_len == 5 && memcmp(ui->scheme, "https", 5) == 0);
	ui->ok = true;
}

static void set_url(struct xfer *x, const char *url)
{
	set_str(&x->url, url);
	url_info_set(&x->ui, x->url);
}

static void xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	url_info_clear(&x->ui);
	free(x->url);
	free(x->custom);
	free(x->ua);
	free(x->ours);
	free(x);
}

static struct xfer *xfer_of(CURL *h, bool create)
{
	struct xfer *x = ptab_get(&handles, h);
	if (x || !create)
		return x;
	x = calloc(1, sizeof(*x));
	if (x)
		x->h = h;
	if (x && ptab_put(&handles, h, x) < 0) {
		free(x);
		x = NULL;
	}
	return x;
}

/* Options the spans and the header merge depend on. */
static bool tracked_option(CURLoption opt)
{
	switch (opt) {
	case CURLOPT_URL:
	case CURLOPT_HTTPHEADER:
	case CURLOPT_CUSTOMREQUEST:
	case CURLOPT_USERAGENT:
	case CURLOPT_POST:
	case CURLOPT_POSTFIELDS:
	case CURLOPT_COPYPOSTFIELDS:
	case CURLOPT_HTTPPOST:
	case CURLOPT_MIMEPOST:
	case CURLOPT_HTTPGET:
	case CURLOPT_NOBODY:
	case CURLOPT_UPLOAD:
	case CURLOPT_PUT:
	case CURLOPT_PORT:
	case CURLOPT_CONNECT_ONLY:
	case CURLOPT_CURLU:
		return true;
	default:
		return false;
	}
}

/* The method options, combined as libcurl's setopt.c (7.8x/8.x) combines them: the last one
 * wins, and a body-sending option clears NOBODY. */
static void set_method(struct xfer *x, CURLoption opt, long lv)
{
	switch (opt) {
	case CURLOPT_POST:
		x->req = lv ? CT_REQ_POST : CT_REQ_GET;
		if (lv)
			x->nobody = 0;
		break;
	case CURLOPT_POSTFIELDS:
	case CURLOPT_COPYPOSTFIELDS:
		x->req = CT_REQ_POST;
		break;
	case CURLOPT_HTTPPOST:
	case CURLOPT_MIMEPOST:
		x->req = CT_REQ_POST;
		x->nobody = 0;
		break;
	case CURLOPT_HTTPGET:
		if (lv) {
			x->req = CT_REQ_GET;
			x->nobody = 0;
		}
		break;
	case CURLOPT_NOBODY:
		x->nobody = lv != 0;
		break;
	default: /* CURLOPT_UPLOAD, CURLOPT_PUT */
		x->req = lv ? CT_REQ_PUT : CT_REQ_GET;
		if (lv)
			x->nobody = 0;
		break;
	}
}

void curl_trace_setopt(CURL *h, CURLoption opt, long lv, const void *pv)
{
	if (h == NULL || !tracked_option(opt))
		return;
	struct xfer *x = xfer_of(h, true);
	if (x == NULL)
		return;
	switch (opt) {
	case CURLOPT_URL:
		set_url(x, pv);
		break;
	case CURLOPT_CUSTOMREQUEST:
		set_str(&x->custom, pv);
		break;
	case CURLOPT_USERAGENT:
		set_str(&x->ua, pv);
		break;
	case CURLOPT_HTTPHEADER:
		x->prog_hdrs = (struct curl_slist *)pv;
		break;
	case CURLOPT_PORT:
		x->port = lv;
		break;
	case CURLOPT_CONNECT_ONLY:
		x->connect_only = lv != 0;
		break;
	case CURLOPT_CURLU:
		x->curlu = pv != NULL;
		break;
	default:
		set_method(x, opt, lv);
		break;
	}
}

static void discard(struct xfer *x);

void curl_trace_new_handle(CURL *h)
{
	discard(ptab_take(&handles, h)); /* a handle freed behind our back had this address */
}

void curl_trace_reset(CURL *h)
{
	struct xfer *x = xfer_of(h, false);
	if (x == NULL)
		return;
	set_url(x, NULL);
	set_str(&x->custom, NULL);
	set_str(&x->ua, NULL);
	x->prog_hdrs = NULL;
	x->port = 0;
	x->req = CT_REQ_GET;
	x->nobody = x->connect_only = x->curlu = 0;
}

void curl_trace_dup(CURL *from, CURL *to, const struct curl_trace_lib *lib)
{
	struct xfer *src = xfer_of(from, false);
	discard(ptab_take(&handles, to));
	if (src == NULL)
		return;
	/* libcurl copied the header list pointer: if ours was set, give the duplicate the
	 * program's own, since ours is freed when this transfer ends. */
	if (src->ours)
		lib->setopt(to, CURLOPT_HTTPHEADER, src->prog_hdrs);
	struct xfer *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return;
	x->h = to;
	set_url(x, src->url);
	set_str(&x->custom, src->custom);
	set_str(&x->ua, src->ua);
	x->prog_hdrs = src->prog_hdrs;
	x->port = src->port;
	x->req = src->req;
	x->nobody = src->nobody;
	x->connect_only = src->connect_only;
	x->curlu = src->curlu;
	if (ptab_put(&handles, to, x) < 0)
		xfer_free(x);
}

void curl_trace_forget(CURL *h)
{
	discard(ptab_take(&handles, h));
}

/* ---- multi handles --------------------------------------------------------------------------- */

static void multi_link(CURLM *m, struct xfer *x)
{
	struct multi_state *ms = ptab_get(&multis, m);
	if (ms == NULL) {
		ms = calloc(1, sizeof(*ms));
		if (ms && ptab_put(&multis, m, ms) < 0) {
			free(ms);
			ms = NULL;
		}
	}
	if (ms == NULL)
		return; /* traced, but multi_perform will not mark the thread busy */
	x->mprev = NULL;
	x->mnext = ms->head;
	if (ms->head)
		ms->head->mprev = x;
	ms->head = x;
	x->linked = 1;
}

static void multi_unlink(struct xfer *x)
{
	if (!x->linked)
		return;
	struct multi_state *ms = ptab_get(&multis, x->multi);
	if (x->mnext)
		x->mnext->mprev = x->mprev;
	if (x->mprev)
		x->mprev->mnext = x->mnext;
	else if (ms)
		ms->head = x->mnext;
	x->mprev = x->mnext = NULL;
	x->linked = 0;
	if (ms && ms->head == NULL)
		free(ptab_take(&multis, x->multi));
}

bool curl_trace_multi_traced(CURLM *m)
{
	return ptab_get(&multis, m) != NULL;
}

/* ---- transfers ------------------------------------------------------------------------------- */

static bool is_http(const char *s, size_t n)
{
	return (n == 4 && strncasecmp(s, "http", 4) == 0) ||
	       (n == 5 && strncasecmp(s, "https", 5) == 0);
}

/* Is the next transfer of this handle one we trace? (An unknown URL, given as a CURLU handle,
 * is checked against CURLINFO_SCHEME at the end instead.) */
static bool traceable(const struct xfer *x)
{
	if (x->connect_only)
		return false;
	if (x->url == NULL)
		return x->curlu;
	return x->ui.ok && x->ui.is_http;
}

static bool start(struct xfer *x, CURL *h, CURLM *m, const struct curl_trace_lib *lib)
{
	if (x->active || !traceable(x))
		return false;
	struct wt_parent parent;
	bool has_parent = spans_pick_parent(&parent);
	struct wt_span_rec *r =
	    spans_client_begin_detached(has_parent ? &parent : NULL, wt_clock_wall_ns());
	if (r == NULL)
		return false;
	x->rec = r;
	x->active = 1;
	x->multi = m;
	x->ours = NULL;
	if (!wt_cfg.propagate_tracecontext || !r->ctx.valid ||
	    curl_trace_list_has_traceparent(x->prog_hdrs))
		return true; /* the program's own traceparent is kept, nothing added */
	size_t n = inj_format_headers(r->hdr, sizeof(r->hdr), &r->ctx,
	                              r->span.buf + r->span.tracestate.off, r->span.tracestate.len);
	struct curl_slist *ours = n ? curl_trace_list_merge(x->prog_hdrs, r->hdr, n) : NULL;
	if (ours && lib->setopt(h, CURLOPT_HTTPHEADER, ours) == CURLE_OK)
		x->ours = ours;
	else
		free(ours);
	return true;
}

static void restore_headers(struct xfer *x, CURL *h, const struct curl_trace_lib *lib)
{
	if (x->ours == NULL)
		return;
	lib->setopt(h, CURLOPT_HTTPHEADER, x->prog_hdrs);
	free(x->ours);
	x->ours = NULL;
}

static const char *http_version(long v)
{
	switch (v) {
	case CURL_HTTP_VERSION_1_0:
		return "1.0";
	case CURL_HTTP_VERSION_1_1:
		return "1.1";
	case CURL_HTTP_VERSION_2_0:
		return "2";
	case CURL_HTTP_VERSION_3:
		return "3";
	default:
		return NULL;
	}
}

static void add_method(struct exp_span *s, const char *m)
{
	size_t n = strlen(m);
	bool known = hspan_method_known(m, n);
	exp_span_set_name(s, known ? m : "HTTP", known ? n : 4);
	exp_span_add_str(s, "http.request.method", known ? m : "_OTHER", known ? n : 6);
	if (!known)
		exp_span_add_str(s, "http.request.method_original", m, n);
}

/* Request attributes from the URL the program gave (or libcurl's effective URL). */
static void add_url(struct exp_span *s, const struct xfer *x, const struct url_info *ui)
{
	if (!ui->ok)
		return;
	exp_span_add_str(s, "server.address", ui->host, ui->host_len);
	long port = x->port > 0 && x->port < 65536 ? x->port : ui->port;
	if (port > 0)
		exp_span_add_int(s, "server.port", port);
	exp_span_add_str(s, "url.full", ui->full, ui->full_len);
	exp_span_add_str(s, "url.scheme", ui->scheme, ui->scheme_len);
}

/* Fill the span from what libcurl reports. False if the transfer was not HTTP after all. */
static bool fill(struct exp_span *s, const struct xfer *x, CURL *h, CURLcode rc, bool have_rc,
                 const struct curl_trace_lib *lib)
{
	char *str = NULL;
	if (lib->getinfo(h, CURLINFO_SCHEME, &str) == CURLE_OK && str && !is_http(str, strlen(str)))
		return false;
	add_method(s, curl_trace_method(x->custom, x->nobody, x->req));
	char *eff = NULL;
	if (x->url) {
		add_url(s, x, &x->ui);
	} else if (lib->getinfo(h, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) {
		struct url_info ui = {0};
		url_info_set(&ui, eff);
		add_url(s, x, &ui);
		url_info_clear(&ui);
	}
	long v = 0;
	str = NULL;
	if (lib->getinfo(h, CURLINFO_PRIMARY_IP, &str) == CURLE_OK && str && str[0]) {
		exp_span_add_str(s, "network.peer.address", str, strlen(str));
		if (lib->getinfo(h, CURLINFO_PRIMARY_PORT, &v) == CURLE_OK && v > 0)
			exp_span_add_int(s, "network.peer.port", v);
	}
	v = 0;
	const char *ver =
	    lib->getinfo(h, CURLINFO_HTTP_VERSION, &v) == CURLE_OK ? http_version(v) : NULL;
	if (ver)
		exp_span_add_str(s, "network.protocol.version", ver, strlen(ver));
	if (x->ua)
		exp_span_add_str(s, "user_agent.original", x->ua, strlen(x->ua));
	v = 0;
	if (lib->getinfo(h, CURLINFO_REDIRECT_COUNT, &v) == CURLE_OK && v > 0)
		exp_span_add_int(s, "http.request.resend_count", v);
	v = 0;
	if (lib->getinfo(h, CURLINFO_RESPONSE_CODE, &v) == CURLE_OK && v > 0)
		hspan_response(s, (int)v); /* 4xx/5xx: error, error.type = the code */
	/* A callback that aborted the transfer is the program cancelling it: not an error
	 * (SEMCONV error.type). Any other failure keeps the status code's error.type if there
	 * is one (CURLE_HTTP_RETURNED_ERROR), else names the CURLcode. */
	if (have_rc && rc != CURLE_OK && rc != CURLE_ABORTED_BY_CALLBACK)
		hspan_error(s, curl_trace_code_name(rc));
	return true;
}

/* The transfer is over: program's headers back, span ended (or dropped if not HTTP). */
static void finish(struct xfer *x, CURLcode rc, bool have_rc, const struct curl_trace_lib *lib)
{
	restore_headers(x, x->h, lib);
	multi_unlink(x);
	struct wt_span_rec *r = x->rec;
	x->rec = NULL;
	x->active = 0;
	x->multi = NULL;
	if (r == NULL)
		return;
	if (!r->record || fill(&r->span, x, x->h, rc, have_rc, lib))
		spans_end(r, wt_clock_wall_ns());
	spans_release(r);
}

/* State for a handle that no longer exists as we knew it: nothing is said to libcurl. */
static void discard(struct xfer *x)
{
	if (x == NULL)
		return;
	multi_unlink(x);
	if (x->rec)
		spans_release(x->rec);
	xfer_free(x);
}

bool curl_trace_easy_begin(CURL *h, const struct curl_trace_lib *lib)
{
	struct xfer *x = h ? xfer_of(h, false) : NULL;
	return x && start(x, h, NULL, lib);
}

void curl_trace_easy_end(CURL *h, CURLcode rc, const struct curl_trace_lib *lib)
{
	struct xfer *x = xfer_of(h, false);
	if (x && x->active && x->multi == NULL)
		finish(x, rc, true, lib);
}

bool curl_trace_multi_add(CURLM *m, CURL *h, const struct curl_trace_lib *lib)
{
	struct xfer *x = h && m ? xfer_of(h, false) : NULL;
	return x && start(x, h, m, lib);
}

void curl_trace_multi_added(CURLM *m, CURL *h, CURLMcode rc, const struct curl_trace_lib *lib)
{
	struct xfer *x = xfer_of(h, false);
	if (x == NULL || !x->active || x->multi != m || x->linked)
		return;
	if (rc == CURLM_OK) {
		multi_link(m, x);
		return;
	}
	/* Not added: as if nothing happened (no span, the program's list back). */
	restore_headers(x, h, lib);
	spans_release(x->rec);
	x->rec = NULL;
	x->active = 0;
	x->multi = NULL;
}

void curl_trace_multi_done(CURL *h, CURLcode rc, const struct curl_trace_lib *lib)
{
	struct xfer *x = xfer_of(h, false);
	if (x && x->active && x->multi)
		finish(x, rc, true, lib);
}

void curl_trace_multi_removed(CURLM *m, CURL *h, const struct curl_trace_lib *lib)
{
	struct xfer *x = xfer_of(h, false);
	if (x && x->active && x->multi == m)
		finish(x, CURLE_OK, false, lib);
}

void curl_trace_multi_cleanup_begin(CURLM *m, const struct curl_trace_lib *lib)
{
	struct multi_state *ms;
	/* Transfers still in it end (cancelled) while their handles still belong to it. */
	while ((ms = ptab_get(&multis, m)) != NULL && ms->head)
		finish(ms->head, CURLE_OK, false, lib);
	free(ptab_take(&multis, m));
}

void curl_trace_cleanup_begin(CURL *h, const struct curl_trace_lib *lib)
{
	struct xfer *x = xfer_of(h, false);
	if (x && x->active)
		finish(x, CURLE_OK, false, lib);
}
