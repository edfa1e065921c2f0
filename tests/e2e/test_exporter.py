#!/usr/bin/python3
"""End-to-end tests of the OTLP exporter against a real receiver (tests/e2e/otlp_receiver.js).

tests/tools/exporter_emit pushes synthetic spans through the real exporter (queue, batching
thread, encoders, transports) and prints its statistics as JSON lines. The receiver decodes
every request with the OpenTelemetry JavaScript packages (protobufjs code generated from
opentelemetry-proto) and, in strict mode, checks the wire format field by field; these tests
then look at every span and every request.

Covered: http/protobuf, http/json and grpc, each plain and gzip'ed, every span compared with a
model of exporter_emit's generator (name, kind, flags, tracestate, parent, every attribute with
its type, events, status) and the resource; retries on 503 + Retry-After (seconds and
HTTP-date), 429/502/504, a connection closed without an answer, gRPC UNAVAILABLE,
RESOURCE_EXHAUSTED with RetryInfo and a proxy's 503 without grpc-status: nothing lost; 400,
gRPC INVALID_ARGUMENT and RESOURCE_EXHAUSTED without RetryInfo: dropped after exactly one
request; partial success: accepted, not retried; connection refused and a receiver that never
answers: the emitter still exits within the exporter's 2 s bound; a forked child exports its own
spans only; keep-alive across batches; configured headers sent and never logged; TLS with a
private CA, mTLS, and a failed verification (dropped, not retried).

Not here, because they need the socket hooks: a traced program's own requests are not slowed
down by a dead collector; the agent's own traffic is never traced.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wtlib  # noqa: E402

EMIT = wtlib.tool("exporter_emit")
PROTOCOLS = ("http/protobuf", "http/json", "grpc")
# The exporter's exit bound (exporter.c: min(2 s, OTEL_EXPORTER_OTLP_TIMEOUT)), plus slack for
# process start-up and a loaded CI machine; sanitizer builds run slower.
EXIT_BOUND_S = 2.0
SLACK_S = 2.5 if wtlib.SANITIZE else 1.5
# Long enough for retries to finish before the exporter's bounded shutdown starts.
FLUSH = ["--flush-ms", "8000"]


def emit(endpoint, protocol="http/protobuf", spans=20, threads=1, gzip=False, fork=False,
         timeout_ms=None, extra=(), timeout=60, env=None):
    """Run exporter_emit; return (Result, its statistics lines as dicts)."""
    cmd = [EMIT, "--endpoint", endpoint, "--protocol", protocol, "--spans", str(spans),
           "--threads", str(threads)]
    if gzip:
        cmd.append("--gzip")
    if fork:
        cmd.append("--fork")
    if timeout_ms is not None:
        cmd += ["--timeout-ms", str(timeout_ms)]
    cmd += list(extra)
    res = wtlib.run(cmd, env=wtlib.tool_env(env), timeout=timeout)
    return res, res.json_lines()


def expected_span(i):
    """What exporter_emit's make_span() builds for index i (one thread: i = 0, 1, ...)."""
    status = 503 if i % 17 == 0 else 404 if i % 7 == 0 else 200
    client = i % 3 == 2
    method = "GET" if i % 5 else "POST"
    a = {"http.request.method": method, "http.response.status_code": status,
         "network.protocol.version": "1.1", "server.address": "shop.example.com",
         "server.port": 8080, "network.peer.address": "10.1.2.3",
         "network.peer.port": 40000 + i % 20000,
         "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) exporter_emit/1.0"}
    if client:
        a.update({"url.full": "http://shop.example.com:8080/api/stock?sku=1234",
                  "url.scheme": "http", "url.path": "/api/stock", "url.query": "sku=1234"})
    else:
        a.update({"url.path": ("/api/orders/42", "/api/cart", "/health", "/static/app.js")[i % 4],
                  "url.scheme": "http", "url.query": "page=2&sort=desc",
                  "client.address": "10.1.2.3"})
    if status >= 500:
        a["error.type"] = str(status)
    types = {k: "int" if isinstance(v, int) else "string" for k, v in a.items()}
    if client:
        flags = 0x03 | 0x100
    elif i % 2:
        flags = 0x01 | 0x100 | 0x200  # remote parent
    else:
        flags = 0x03 | 0x100
    events = []
    if i % 10 == 0:
        events = [{"name": "exception", "attributes": {
            "exception.type": "ECONNRESET", "exception.message": "connection reset by peer"}}]
    return {"name": method, "kind": 3 if client else 2, "flags": flags,
            "traceState": "congo=t61rcWkgMzE" if i % 4 == 1 else "",
            "has_parent": client or i % 2 == 1, "attributes": a, "attrTypes": types,
            "events": events, "status": {"code": 2 if status >= 500 else 0, "message": ""}}


class ExporterTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not os.access(EMIT, os.X_OK):
            raise AssertionError("%s is not built (tests/tools/exporter_emit.c)" % EMIT)

    # --- helpers ------------------------------------------------------------------------------

    def check_common(self, spans, n, protocol, pid=None):
        """Every span well formed and unique, from exporter_emit's resource and our scope."""
        self.assertEqual(len(spans), n, "span count")
        self.assertEqual(len({(s["traceId"], s["spanId"]) for s in spans}), n, "duplicate ids")
        for s in spans:
            wtlib.check_ids(s)
            self.assertEqual(s["transport"], "grpc" if protocol == "grpc" else "http")
            start, end = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
            self.assertGreater(start, 1_600_000_000 * 10**9, s)
            self.assertTrue(200_000 <= end - start < 5_200_000, s)  # the emitter's durations
            r = s["resource"]
            self.assertEqual(r.get("service.name"), "exporter_emit", r)
            self.assertEqual(r.get("telemetry.sdk.name"), "wiretrace", r)
            self.assertRegex(r.get("telemetry.sdk.version", ""), r"^\d+\.\d+\.\d+", r)
            self.assertEqual(r.get("process.executable.name"), "exporter_emit", r)
            self.assertEqual(r.get("os.type"), "linux", r)
            if pid is not None:
                self.assertEqual(r.get("process.pid"), pid, r)
            self.assertEqual(s["scope"]["name"], "wiretrace", s["scope"])

    def check_exact(self, s):
        """One span against the model, its index read back from network.peer.port."""
        i = s["attributes"]["network.peer.port"] - 40000
        want = expected_span(i)
        for k in ("name", "kind", "flags", "traceState", "attributes", "attrTypes", "status"):
            self.assertEqual(s[k], want[k], "span %d: %s" % (i, k))
        self.assertEqual(bool(s["parentSpanId"]), want["has_parent"], "span %d parent" % i)
        self.assertEqual([{"name": e["name"], "attributes": e["attributes"]} for e in s["events"]],
                         want["events"], "span %d events" % i)
        for e in s["events"]:
            self.assertTrue(int(s["startTimeUnixNano"]) <= int(e["timeUnixNano"]) <=
                            int(s["endTimeUnixNano"]), s)
        self.assertEqual((s["droppedAttributesCount"], s["droppedEventsCount"]), (0, 0))
        return i

    def stats(self, lines, n=1):
        self.assertEqual(len(lines), n, "statistics lines: %s" % lines)
        return lines[-1]

    def check_requests(self, reqs, protocol, gzip):
        for q in reqs:
            self.assertRegex(q["userAgent"], r"^wiretrace-otlp-exporter-c/\d+\.\d+\.\d+$")
            if protocol == "grpc":
                self.assertEqual(q["path"], "/opentelemetry.proto.collector.trace.v1."
                                 "TraceService/Export")
                self.assertEqual(q["contentType"], "application/grpc")
                self.assertEqual(q["headers"].get("te"), "trailers")
                self.assertEqual(q["grpcEncoding"], "gzip" if gzip else "")
                self.assertRegex(q["headers"].get("grpc-timeout", ""), r"^\d{1,8}m$")
            else:
                self.assertEqual(q["method"], "POST")
                self.assertEqual(q["path"], "/v1/traces")
                self.assertEqual(q["contentType"], "application/json"
                                 if protocol == "http/json" else "application/x-protobuf")
                self.assertEqual(q["contentEncoding"], "gzip" if gzip else "")

    # --- every protocol, every span -----------------------------------------------------------

    def exact_roundtrip(self, protocol, gzip, n=120):
        with wtlib.Receiver() as r:
            res, lines = emit(r.endpoint(protocol), protocol, spans=n, gzip=gzip,
                              extra=["--batch", "50"])
            st = self.stats(lines)
            spans = r.wait_spans(n)
            r.assert_clean()
            self.check_common(spans, n, protocol, pid=st["pid"])
            self.assertEqual(sorted(self.check_exact(s) for s in spans), list(range(n)))
            self.assertEqual((st["exported"], st["dropped_failed"]), (n, 0), st)
            reqs = r.requests()
            self.assertEqual([q["spans"] for q in reqs], [50, 50, 20])
            self.assertTrue(all(q["answer"] == {} for q in reqs), reqs)
            self.check_requests(reqs, protocol, gzip)
            return spans

    def test_http_protobuf(self):
        self.exact_roundtrip("http/protobuf", False)

    def test_http_json(self):
        self.exact_roundtrip("http/json", False)

    def test_grpc(self):
        self.exact_roundtrip("grpc", False)

    def test_gzip_every_protocol(self):
        for p in PROTOCOLS:
            with self.subTest(protocol=p):
                self.exact_roundtrip(p, True)

    def test_many_threads_nothing_lost(self):
        for p in PROTOCOLS:
            with self.subTest(protocol=p), wtlib.Receiver() as r:
                res, lines = emit(r.endpoint(p), p, spans=1500, threads=4)
                st = self.stats(lines)
                spans = r.wait_spans(1500)
                r.assert_clean()
                self.check_common(spans, 1500, p, pid=st["pid"])
                self.assertEqual((st["enqueued"], st["exported"], st["dropped_failed"]),
                                 (1500, 1500, 0), st)

    def test_keep_alive_across_batches(self):
        with wtlib.Receiver() as r:
            emit(r.traces_url, spans=40, extra=["--batch", "10"])
            reqs = r.wait_requests(4)
            self.assertEqual([q["spans"] for q in reqs], [10, 10, 10, 10])
            self.assertEqual(len({q["conn"] for q in reqs}), 1, reqs)

    def test_headers_sent_and_never_logged(self):
        secret = "s3cr3t-token-value"
        with wtlib.Receiver() as r:
            res, _ = emit(r.traces_url, spans=5, env={"OTEL_LOG_LEVEL": "debug"},
                          extra=["--header", "x-api-key=" + secret, "--header", "x-empty=",
                                 "--header", "Content-Type=text/plain"])
            reqs = r.wait_requests(1)
            h = reqs[0]["headers"]
            self.assertEqual(h.get("x-api-key"), secret)
            self.assertEqual(h.get("x-empty"), "")
            # A header the transport owns is not overridden (one warning names it).
            self.assertEqual(reqs[0]["contentType"], "application/x-protobuf")
            self.assertIn('"Content-Type"', res.stderr)
            self.assertNotIn(secret, res.stderr + res.stdout)
            self.assertNotIn("text/plain", res.stderr)

    # --- retries --------------------------------------------------------------------------------

    def retried_until_ok(self, protocol, script, min_gap_ms=0, attempts=2):
        with wtlib.Receiver(script=script) as r:
            res, lines = emit(r.endpoint(protocol), protocol, spans=10, timeout_ms=10000,
                              extra=FLUSH)
            st = self.stats(lines)
            reqs = r.wait_requests(attempts)
            spans = r.spans()
            r.assert_clean()
            self.assertEqual(len(reqs), attempts, reqs)
            # Each attempt carried the whole batch; the receiver stored every copy.
            self.assertEqual(len(spans), 10 * attempts)
            self.check_common(spans[-10:], 10, protocol, pid=st["pid"])
            self.assertEqual(reqs[-1]["answer"], {})
            self.assertEqual((st["exported"], st["dropped_failed"]), (10, 0), st)
            if min_gap_ms:
                self.assertGreaterEqual(reqs[1]["tMs"] - reqs[0]["tMs"], min_gap_ms, reqs)
            return reqs

    def test_503_retry_after_seconds_then_200(self):
        self.retried_until_ok("http/protobuf", "503:ra=1", min_gap_ms=900)

    def test_503_retry_after_http_date_then_200(self):
        # An HTTP-date has whole seconds: 2 s ahead is at least 1 s after truncation.
        self.retried_until_ok("http/json", "503:rad=2", min_gap_ms=900)

    def test_429_502_504_then_200(self):
        self.retried_until_ok("http/protobuf", "429,502,504", attempts=4)

    def test_connection_closed_without_answer_is_retried(self):
        reqs = self.retried_until_ok("http/protobuf", "close")
        self.assertEqual(reqs[0]["answer"], {"action": "close"})

    def test_grpc_unavailable_then_ok(self):
        self.retried_until_ok("grpc", "grpc=14:msg=try%20later")

    def test_grpc_resource_exhausted_with_retry_info(self):
        self.retried_until_ok("grpc", "grpc=8:ri=1", min_gap_ms=900)

    def test_grpc_proxy_503_without_grpc_status(self):
        # No grpc-status: HTTP 503 maps to UNAVAILABLE ([GRPC] http-grpc-status-mapping.md).
        self.retried_until_ok("grpc", "503")

    def test_grpc_connection_closed_is_retried(self):
        self.retried_until_ok("grpc", "close")

    # --- not retried ----------------------------------------------------------------------------

    def dropped_once(self, protocol, script, message=None):
        with wtlib.Receiver(script=script) as r:
            res, lines = emit(r.endpoint(protocol), protocol, spans=10, timeout_ms=10000,
                              extra=FLUSH)
            st = self.stats(lines)
            time.sleep(0.5)  # a retry would have come by now (the first back-off is <= 100 ms)
            self.assertEqual(len(r.requests()), 1, r.requests())
            self.assertEqual(len(r.spans()), 10)  # received, and answered, exactly once
            self.assertEqual((st["exported"], st["dropped_failed"]), (0, 10), st)
            self.assertEqual(res.stderr.count("spans lost"), 1, res.stderr)
            if message:
                self.assertIn(message, res.stderr)

    def test_400_dropped_not_retried(self):
        self.dropped_once("http/protobuf", "400:msg=bad%20span", "bad span")

    def test_http_json_400_dropped_not_retried(self):
        self.dropped_once("http/json", "400")

    def test_grpc_invalid_argument_dropped(self):
        self.dropped_once("grpc", "grpc=3:msg=bad%20data%0A", "bad data?")

    def test_grpc_resource_exhausted_without_retry_info_dropped(self):
        self.dropped_once("grpc", "grpc=8")

    def test_partial_success_not_retried(self):
        for p in PROTOCOLS:
            with self.subTest(protocol=p), wtlib.Receiver(partial=3) as r:
                res, lines = emit(r.endpoint(p), p, spans=10)
                st = self.stats(lines)
                r.wait_spans(10)
                time.sleep(0.3)
                self.assertEqual(len(r.requests()), 1)
                self.assertEqual((st["exported"], st["dropped_failed"]), (10, 0), st)
                self.assertIn("3 spans rejected: rejected 3 spans", res.stderr)

    # --- a dead collector does not hold the exit ------------------------------------------------

    def assert_exit_bounded(self, res):
        self.assertLess(res.elapsed, EXIT_BOUND_S + SLACK_S,
                        "exit held %.2f s: %r" % (res.elapsed, res))

    def test_connection_refused_exit_bounded(self):
        for p in PROTOCOLS:
            with self.subTest(protocol=p), wtlib.RefusingPort() as port:
                url = "http://127.0.0.1:%d%s" % (port.port, "" if p == "grpc" else "/v1/traces")
                res, lines = emit(url, p, spans=50, timeout_ms=30000)
                self.assert_exit_bounded(res)
                st = self.stats(lines)
                self.assertEqual((st["exported"], st["dropped_failed"]), (0, 50), st)
                # One warning for "unreachable" and one for "lost", not one per attempt.
                self.assertEqual(res.stderr.count("cannot reach the collector"), 1, res.stderr)
                self.assertEqual(res.stderr.count("spans lost"), 1, res.stderr)

    def test_hanging_receiver_exit_bounded(self):
        for p in PROTOCOLS:
            with self.subTest(protocol=p), wtlib.Receiver(hang=True) as r:
                res, lines = emit(r.endpoint(p), p, spans=50, timeout_ms=30000)
                self.assert_exit_bounded(res)
                self.assertGreaterEqual(len(r.wait_requests(1)), 1)
                self.assertEqual(self.stats(lines)["exported"], 0)

    # --- fork -----------------------------------------------------------------------------------

    def test_fork_child_exports_its_own_spans_only(self):
        for p in ("http/protobuf", "grpc"):
            with self.subTest(protocol=p), wtlib.Receiver() as r:
                res, lines = emit(r.endpoint(p), p, spans=25, fork=True)
                self.assertEqual(sorted(st["role"] for st in lines), ["child", "parent"], res)
                r.wait_spans(50)
                time.sleep(0.3)
                spans = r.spans()
                r.assert_clean()
                self.assertEqual(len(spans), 50)  # nothing exported twice
                for st in lines:
                    mine = [s for s in spans if s["resource"]["process.pid"] == st["pid"]]
                    self.check_common(mine, 25, p, pid=st["pid"])
                    self.assertEqual(sorted(self.check_exact(s) for s in mine), list(range(25)))
                    self.assertEqual(st["exported"], 25, lines)


@unittest.skipUnless(shutil.which("openssl"), "the openssl command is needed to make certificates")
class ExporterTlsTest(unittest.TestCase):
    """OTLP over TLS with a private CA (OTEL_EXPORTER_OTLP_CERTIFICATE), and mTLS."""

    @classmethod
    def setUpClass(cls):
        if not os.access(EMIT, os.X_OK):
            raise AssertionError("%s is not built" % EMIT)
        cls.dir = tempfile.mkdtemp(prefix="wt-pki.")
        d = cls.dir

        def ssl(*args):
            subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=wiretrace test CA")
        with open(os.path.join(d, "san.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        for name, cn, ext in (("srv", "127.0.0.1", ["-extfile", "san.cnf"]),
                              ("cli", "client", [])):
            ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + cn)
            ssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", *ext)
        cls.server = {"cert": os.path.join(d, "srv.pem"), "key": os.path.join(d, "srv.key")}
        cls.ca = os.path.join(d, "ca.pem")
        cls.client = ["--client-certificate", os.path.join(d, "cli.pem"),
                      "--client-key", os.path.join(d, "cli.key")]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_tls_with_private_ca(self):
        for p in PROTOCOLS:
            with self.subTest(protocol=p), wtlib.Receiver(tls=self.server) as r:
                self.assertTrue(r.endpoint(p).startswith("https://"))
                res, lines = emit(r.endpoint(p), p, spans=30, extra=["--certificate", self.ca])
                self.assertEqual(lines[-1]["exported"], 30, res)
                self.assertEqual(len(r.wait_spans(30)), 30)
                r.assert_clean()

    def test_mtls(self):
        tls = dict(self.server, client_ca=self.ca)
        for p in ("http/protobuf", "grpc"):
            with self.subTest(protocol=p), wtlib.Receiver(tls=tls) as r:
                res, lines = emit(r.endpoint(p), p, spans=30,
                                  extra=["--certificate", self.ca] + self.client)
                self.assertEqual(lines[-1]["exported"], 30, res)
                self.assertEqual(len(r.wait_spans(30)), 30)

    def test_mtls_without_client_certificate_fails(self):
        tls = dict(self.server, client_ca=self.ca)
        with wtlib.Receiver(tls=tls) as r:
            res, lines = emit(r.traces_url, spans=10, extra=["--certificate", self.ca])
            self.assertEqual(lines[-1]["exported"], 0, res)
            self.assertEqual(r.spans(), [])

    def test_unknown_ca_dropped_without_retry(self):
        # Verification fails against the system store: retrying cannot help.
        with wtlib.Receiver(tls=self.server) as r:
            res, lines = emit(r.traces_url, spans=10, timeout_ms=10000, extra=FLUSH)
            st = lines[-1]
            self.assertEqual((st["exported"], st["dropped_failed"]), (0, 10), res)
            self.assertLess(res.elapsed, 2.0 + SLACK_S)
            self.assertEqual(r.requests(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
