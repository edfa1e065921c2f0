#!/usr/bin/python3
"""End to end: SERVER spans of a plain-socket server in every I/O mode, and W3C extraction.

progs/httpd (no tracing code) runs under the agent in each mode (blocking, a thread per
connection, a non-blocking epoll loop) and each response style (write, writev, sendfile).
The test talks to it with a Python socket on one keep-alive connection: a request with an
inbound traceparent + tracestate, one without, two pipelined POSTs in one send (a chunked body
with a mixed-case TraceParent header whose flags are 03, and a Content-Length body), a HEAD, and
a last request with Connection: close. Checked:
  - the responses are byte-exact what httpd produces (the agent changes nothing going out);
  - one SERVER span per request, named after the method; parent = the inbound parent id in the
    same trace, trace flags carried (including the random bit), the remote-parent bits set in
    the OTLP flags, tracestate carried; a request without context is the root of a new trace;
  - attributes: http.request.method, url.path, url.query (only when there is one), url.scheme,
    server.address/port, client.address, network.peer.port (the test socket's own port),
    network.protocol.version, user_agent.original, http.response.status_code.
Then, in blocking mode: invalid traceparents start new traces and drop tracestate (W3C
processing model), WIRETRACE_EXCLUDED_URLS suppresses spans, WIRETRACE_ROUTES gives http.route
and the "METHOD route" name, and the server status mapping (5xx error, 4xx not; 204 boundary).
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wtlib  # noqa: E402
from rawpeer import Service, service_spans, wait_service_spans  # noqa: E402

HTTPD = wtlib.prog("httpd")
SERVER = wtlib.KIND["SERVER"]
UA = "e2e-test/1.0 (python)"
T1, P1 = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
T2, P2 = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
RECV = wtlib.ModuleReceiver()
setUpModule, tearDownModule = RECV.setup, RECV.teardown


def req(method, target, headers=(), body=b"", chunked=False, host="127.0.0.1"):
    h = "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n" % (method, target, host, UA)
    for k, v in headers:
        h += "%s: %s\r\n" % (k, v)
    if chunked:
        h += "Transfer-Encoding: chunked\r\n\r\n"
        out = b""
        for i in range(0, len(body), 700):
            piece = body[i:i + 700]
            out += b"%x;e=1\r\n" % len(piece) + piece + b"\r\n"
        return h.encode() + out + b"0\r\nX-T: 1\r\n\r\n"
    if body:
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode() + b"\r\n" + body


class Conn:
    """A client connection that reads whole responses (Content-Length framed, as httpd's)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.local_port = self.s.getsockname()[1]
        self.port = port
        self.buf = b""

    def req(self, *args, **kw):
        """A request (see req()) whose Host header names this server, port included."""
        return req(*args, host="127.0.0.1:%d" % self.port, **kw)

    def send(self, data):
        self.s.sendall(data)

    def response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise AssertionError("connection closed, buffered %r" % self.buf)
            self.buf += d
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        hdrs = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        n = 0 if head_request or status in (204, 304) else int(hdrs.get("content-length", 0))
        while len(rest) < n:
            d = self.s.recv(65536)
            if not d:
                raise AssertionError("connection closed inside a body")
            rest += d
        self.buf = rest[n:]
        return status, hdrs, rest[:n]

    def close(self):
        self.s.close()


def expected_body(method, target, body_len=0):
    return ("%s %s body=%d downstream=0\n" % (method, target, body_len)).encode()


class ServerModes(unittest.TestCase):
    maxDiff = 4000

    def service(self):
        return "httpd-" + self.id().rsplit(".", 1)[-1]

    def start(self, args, max_requests, **env):
        e = RECV.service_env(self.service(), **env)
        return Service([HTTPD, "--max-requests", str(max_requests)] + list(args), e)

    def finish(self, svc, n):
        """Wait for httpd to exit after its last request, then return its n spans (exactly)."""
        self.assertEqual(svc.wait(), 0, svc.stderr())
        spans = wait_service_spans(RECV, self.service(), n)
        time.sleep(0.2)
        spans = service_spans(RECV.spans(), self.service())
        self.assertEqual(len(spans), n, wtlib.format_tree(spans))
        for s in spans:
            wtlib.check_ids(s)
            self.assertEqual(s["kind"], SERVER, s)
        return {s["attributes"].get("url.path"): s for s in spans}

    def check_attrs(self, s, method, path, query, port, peer_port, status=200):
        a = s["attributes"]
        want = {
            "http.request.method": method,
            "url.path": path,
            "url.scheme": "http",
            "server.address": "127.0.0.1",
            "client.address": "127.0.0.1",
            "network.peer.port": peer_port,
            "network.protocol.version": "1.1",
            "user_agent.original": UA,
            "http.response.status_code": status,
        }
        self.assertEqual({k: a.get(k) for k in want}, want, s)
        if query is None:
            self.assertNotIn("url.query", a)
        else:
            self.assertEqual(a.get("url.query"), query)
        self.assertEqual(s["name"], method)
        self.assertLessEqual(int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"]))

    def mode_case(self, mode, respond):
        ts = "vendor=abc,other=1"
        body2, body3 = bytes(range(256)) * 9, b"x" * 5000
        with self.start(["--mode", mode, "--respond", respond], 6) as svc:
            c = Conn(svc.port)
            c.send(c.req("GET", "/r/0?x=1", [("traceparent", "00-%s-%s-01" % (T1, P1)),
                                             ("tracestate", ts)]))
            self.assertEqual(c.response()[2], expected_body("GET", "/r/0?x=1"))
            c.send(c.req("GET", "/r/1"))
            self.assertEqual(c.response()[2], expected_body("GET", "/r/1"))
            c.send(c.req("POST", "/r/2", [("TraceParent", "00-%s-%s-03" % (T2, P2))], body2,
                       chunked=True) + c.req("POST", "/r/3?y=2&z", body=body3))
            self.assertEqual(c.response()[2], expected_body("POST", "/r/2", len(body2)))
            self.assertEqual(c.response()[2], expected_body("POST", "/r/3?y=2&z", len(body3)))
            c.send(c.req("HEAD", "/r/4"))
            st, h, b = c.response(head_request=True)
            self.assertEqual((st, b, h.get("content-length")),
                             (200, b"", str(len(expected_body("HEAD", "/r/4")))))
            c.send(c.req("GET", "/r/5", [("Connection", "close")]))
            self.assertEqual(c.response()[2], expected_body("GET", "/r/5"))
            self.assertEqual(c.s.recv(100), b"", "httpd must close after Connection: close")
            c.close()
            spans = self.finish(svc, 6)
        peer = c.local_port
        self.assertEqual(sorted(spans, key=str), ["/r/%d" % i for i in range(6)])
        for path, (m, q) in {"/r/0": ("GET", "x=1"), "/r/1": ("GET", None),
                             "/r/2": ("POST", None), "/r/3": ("POST", "y=2&z"),
                             "/r/4": ("HEAD", None), "/r/5": ("GET", None)}.items():
            self.check_attrs(spans[path], m, path, q, svc.port, peer)
            self.assertEqual(spans[path]["attributes"].get("server.port"), svc.port)
        s0, s2 = spans["/r/0"], spans["/r/2"]
        self.assertEqual((s0["traceId"], s0["parentSpanId"]), (T1, P1))
        self.assertEqual(s0["flags"] & 0xFF, 0x01)
        self.assertEqual(s0["flags"] & 0x300, 0x300, "remote parent: OTLP flags bits 8 and 9")
        self.assertEqual(s0["traceState"], ts)
        self.assertEqual((s2["traceId"], s2["parentSpanId"]), (T2, P2))
        self.assertEqual(s2["flags"] & 0xFF, 0x03, "trace flags carried as received")
        self.assertEqual(s2["traceState"], "")
        roots = [spans["/r/%d" % i] for i in (1, 3, 4, 5)]
        for s in roots:
            self.assertEqual(s["parentSpanId"], "", s)
            self.assertEqual(s["traceState"], "")
            self.assertTrue(s["flags"] & 0x01, "new roots are sampled by default")
        self.assertEqual(len({s["traceId"] for s in roots} | {T1, T2}), 6,
                         "each request without context starts its own trace")

    def test_invalid_traceparent_starts_new_trace(self):
        bad = ["00-%s-00000000000000-01" % T1,              # short parent id
               "00-%s-%s-01" % ("0" * 32, P1),              # all-zero trace id
               "00-%s-%s-01" % (T1, "0" * 16),              # all-zero parent id
               "ff-%s-%s-01" % (T1, P1),                    # version ff
               "00-%s-%s-01" % (T1.upper(), P1.upper()),    # uppercase hex
               "00-%s-%s-01-extra" % (T1, P1),              # version 00 with more after it
               "00-%s-%s-0g" % (T1, P1),                    # bad flags
               "garbage"]
        good_future = "cc-%s-%s-01-whatever" % (T2, P2)     # a higher version: parse the start
        with self.start(["--mode", "blocking"], len(bad) + 1) as svc:
            c = Conn(svc.port)
            for i, tp in enumerate(bad):
                c.send(c.req("GET", "/bad/%d" % i,
                             [("traceparent", tp), ("tracestate", "k=v")]))
                c.response()
            c.send(c.req("GET", "/future",
                         [("traceparent", good_future), ("tracestate", "k=v")]))
            c.response()
            c.close()
            spans = self.finish(svc, len(bad) + 1)
        for i, tp in enumerate(bad):
            s = spans["/bad/%d" % i]
            self.assertEqual(s["parentSpanId"], "", "invalid %r was used as a parent" % tp)
            self.assertNotIn(s["traceId"], (T1, T1.lower()), "invalid %r continued" % tp)
            self.assertEqual(s["traceState"], "", "tracestate kept with invalid %r" % tp)
        f = spans["/future"]
        self.assertEqual((f["traceId"], f["parentSpanId"], f["traceState"]), (T2, P2, "k=v"),
                         "a higher version's traceparent is parsed by its version-00 prefix")

    def test_excluded_urls_make_no_span(self):
        with self.start(["--mode", "blocking"], 4,
                        WIRETRACE_EXCLUDED_URLS="/health,/metrics") as svc:
            c = Conn(svc.port)
            for t in ("/health", "/metrics?x=1", "/kept", "/health"):
                c.send(c.req("GET", t))
                self.assertEqual(c.response()[2], expected_body("GET", t))
            c.close()
            spans = self.finish(svc, 1)
        self.assertEqual(list(spans), ["/kept"])

    def test_routes_name_the_span(self):
        with self.start(["--mode", "threads"], 4,
                        WIRETRACE_ROUTES="/items/{id},/stock/{item}/reserve") as svc:
            c = Conn(svc.port)
            for m, t in (("GET", "/items/42"), ("POST", "/stock/abc/reserve"),
                         ("GET", "/other"), ("GET", "/items/7?full=1")):
                c.send(c.req(m, t))
                c.response()
            c.close()
            spans = self.finish(svc, 4)
        got = {p: (s["name"], s["attributes"].get("http.route")) for p, s in spans.items()}
        self.assertEqual(got, {"/items/42": ("GET /items/{id}", "/items/{id}"),
                               "/stock/abc/reserve": ("POST /stock/{item}/reserve",
                                                      "/stock/{item}/reserve"),
                               "/other": ("GET", None),
                               "/items/7": ("GET /items/{id}", "/items/{id}")})

    def test_status_mapping_and_bodiless_responses(self):
        with self.start(["--mode", "epoll", "--respond", "writev"], 5) as svc:
            c = Conn(svc.port)
            for t in ("/status/500", "/status/404", "/status/204", "/status/304", "/after"):
                c.send(c.req("GET", t))
                st, _, _ = c.response()
                self.assertEqual(st, int(t[8:]) if t.startswith("/status/") else 200)
            c.close()
            spans = self.finish(svc, 5)
        for path, code, err in (("/status/500", 500, True), ("/status/404", 404, False),
                                ("/status/204", 204, False), ("/status/304", 304, False),
                                ("/after", 200, False)):
            s = spans[path]
            self.check_attrs(s, "GET", path, None, svc.port, c.local_port, code)
            if err:
                self.assertEqual(s["status"]["code"], wtlib.STATUS["ERROR"], s)
                self.assertEqual(s["attributes"].get("error.type"), "500")
            else:
                self.assertEqual(s["status"]["code"], wtlib.STATUS["UNSET"],
                                 "%d is not an error on a SERVER span" % code)
                self.assertNotIn("error.type", s["attributes"])


def _add_mode_tests():
    for mode in ("blocking", "threads", "epoll"):
        for respond in ("write", "writev", "sendfile"):
            setattr(ServerModes, "test_mode_%s_respond_%s" % (mode, respond),
                    lambda self, m=mode, r=respond: self.mode_case(m, r))


_add_mode_tests()

if __name__ == "__main__":
    unittest.main(verbosity=2)
