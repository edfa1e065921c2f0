#!/usr/bin/python3
"""End-to-end tests of the OTLP exporter against a real receiver (tests/e2e/otlp_receiver.js).

tests/tools/exporter_emit pushes synthetic spans through the real exporter (queue, batching
thread, encoders, transports) and prints its statistics as a JSON line. The receiver decodes
every request with the OpenTelemetry JavaScript packages (protobufjs code generated from
opentelemetry-proto) and, in strict mode, checks the wire format field by field; these tests
then look at every span and every request.

Covered: http/protobuf, http/json and grpc, each plain and gzip'ed, with every span checked
(ids, names, attributes, resource); retries on 503 + Retry-After (seconds and HTTP-date), 429,
502/504, gRPC UNAVAILABLE and RESOURCE_EXHAUSTED with RetryInfo, and a connection closed without
an answer: nothing lost; 400 and gRPC INVALID_ARGUMENT: dropped after exactly one request;
partial success: accepted, not retried; connection refused and a receiver that never answers:
the emitter still exits within the exporter's 2 s bound; a forked child exports its own spans
only; the connection is kept alive across batches.

Not here (they need the socket hooks): a traced program's own requests are not slowed down by
a dead collector; the agent's own traffic is never traced.
"""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wtlib  # noqa: E402

EMIT = wtlib.tool("exporter_emit")
PROTOCOLS = ("http/protobuf", "http/json", "grpc")
# The exporter's exit bound (exporter.c: min(2 s, OTEL_EXPORTER_OTLP_TIMEOUT)), plus slack for
# the process itself and for a loaded CI machine; sanitizer builds run slower.
EXIT_BOUND_S = 2.0
SLACK_S = 2.5 if wtlib.SANITIZE else 1.5


def emit(endpoint, protocol="http/protobuf", spans=20, threads=1, gzip=False, fork=False,
         timeout_ms=None, extra=(), timeout=60, env=None):
    """Run exporter_emit; return (Result, stats lines as dicts)."""
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


class ExporterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(EMIT, os.X_OK):
            raise AssertionError("%s is not built (tests/tools/exporter_emit.c)" % EMIT)

    # --- helpers ------------------------------------------------------------------------------

    def check_spans(self, spans, n, protocol):
        """Every span well formed, unique, from this emitter's resource."""
        self.assertEqual(len(spans), n, "span count")
        ids = set()
        for s in spans:
            wtlib.check_ids(s)
            ids.add((s["traceId"], s["spanId"]))
            self.assertTrue(s["name"], s)
            self.assertIn(s["kind"], (1, 2, 3), s)
            self.assertGreater(int(s["startTimeUnixNano"]), 1_600_000_000 * 10**9, s)
            self.assertGreaterEqual(int(s["endTimeUnixNano"]), int(s["startTimeUnixNano"]), s)
            self.assertEqual(s["transport"], "grpc" if protocol == "grpc" else "http")
            r = s["resource"]
            self.assertEqual(r.get("telemetry.sdk.name"), "wiretrace", r)
            self.assertTrue(r.get("service.name"), r)
            self.assertTrue(r.get("telemetry.sdk.version"), r)
            self.assertIsInstance(r.get("process.pid"), int, r)
            self.assertEqual(s["scope"]["name"], "wiretrace", s["scope"])
        self.assertEqual(len(ids), n, "duplicate span ids")

    def stats(self, lines):
        self.assertTrue(lines, "exporter_emit printed no statistics")
        return lines[-1]

    # --- every protocol, every span -----------------------------------------------------------

    def roundtrip(self, protocol, gzip):
        with wtlib.Receiver() as r:
            res, lines = emit(r.endpoint(protocol), protocol, spans=300, threads=3, gzip=gzip)
            st = self.stats(lines)
            spans = r.wait_spans(300)
            r.assert_clean()
            self.check_spans(spans, 300, protocol)
            self.assertEqual(st["exported"], 300, st)
            self.assertEqual(st["dropped_failed"], 0, st)
            reqs = r.requests()
            self.assertEqual(sum(q["spans"] for q in reqs), 300)
            for q in reqs:
                self.assertEqual(q["answer"], {}, q)
                self.assertRegex(q["userAgent"], r"^wiretrace-otlp-exporter-c/\d+\.\d+\.\d+$")
                if protocol == "grpc":
                    self.assertEqual(q["path"], "/opentelemetry.proto.collector.trace.v1."
                                     "TraceService/Export")
                    self.assertEqual(q["contentType"], "application/grpc")
                    self.assertEqual(q["headers"].get("te"), "trailers")
                    self.assertEqual(q["grpcEncoding"], "gzip" if gzip else "")
                else:
                    self.assertEqual(q["path"], "/v1/traces")
                    self.assertEqual(q["contentType"], "application/json"
                                     if protocol == "http/json" else "application/x-protobuf")
                    self.assertEqual(q["contentEncoding"], "gzip" if gzip else "")
            return spans, reqs

    def test_http_protobuf(self):
        self.roundtrip("http/protobuf", False)

    def test_http_json(self):
        self.roundtrip("http/json", False)

    def test_grpc(self):
        self.roundtrip("grpc", False)

    def test_gzip_every_protocol(self):
        for p in PROTOCOLS:
            with self.subTest(protocol=p):
                self.roundtrip(p, True)

    def test_encodings_agree(self):
        """The same emitter gives the same spans through protobuf and JSON (ids aside)."""
        got = {}
        for p in ("http/protobuf", "http/json"):
            spans, _ = self.roundtrip(p, False)
            got[p] = sorted(json.dumps({k: s[k] for k in ("name", "kind", "attributes",
                                                          "attrTypes", "events", "status",
                                                          "flags", "traceState")},
                                       sort_keys=True) for s in spans)
        self.assertEqual(got["http/protobuf"], got["http/json"])

    def test_keep_alive_across_batches(self):
        with wtlib.Receiver() as r:
            emit(r.traces_url, spans=40, extra=["--batch", "10"])
            reqs = r.wait_requests(4)
            self.assertGreaterEqual(len(reqs), 4)
            self.assertEqual(len({q["conn"] for q in reqs}), 1, reqs)

    # --- retries --------------------------------------------------------------------------------

    def retried_until_ok(self, protocol, script, min_gap_ms=0, attempts=2):
        with wtlib.Receiver(script=script) as r:
            res, lines = emit(r.endpoint(protocol), protocol, spans=10, timeout_ms=10000)
            st = self.stats(lines)
            spans = r.wait_spans(10)
            r.assert_clean()
            self.check_spans(spans, 10, protocol)
            reqs = r.requests()
            self.assertEqual(len(reqs), attempts, reqs)
            self.assertEqual(st["exported"], 10, st)
            self.assertEqual(st["dropped_failed"], 0, st)
            if min_gap_ms:
                self.assertGreaterEqual(reqs[1]["tMs"] - reqs[0]["tMs"], min_gap_ms, reqs)
            return reqs

    def test_503_retry_after_seconds_then_200(self):
        self.retried_until_ok("http/protobuf", "503:ra=1", min_gap_ms=900)

    def test_503_retry_after_http_date(self):
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
        # No grpc-status: the client maps HTTP 503 to UNAVAILABLE, which is retryable.
        self.retried_until_ok("grpc", "503")

    # --- not retried ----------------------------------------------------------------------------

    def dropped_once(self, protocol, script):
        with wtlib.Receiver(script=script) as r:
            res, lines = emit(r.endpoint(protocol), protocol, spans=10, timeout_ms=10000)
            st = self.stats(lines)
            time.sleep(0.5)  # a retry would have come by now (back-off starts at <= 100 ms)
            reqs = r.requests()
            self.assertEqual(len(reqs), 1, reqs)
            self.assertEqual(len(r.spans()), 10)  # received (and answered) exactly once
            self.assertEqual(st["exported"], 0, st)
            self.assertEqual(st["dropped_failed"], 10, st)
            self.assertIn("lost", res.stderr)  # the one warning about lost spans

    def test_400_dropped_not_retried(self):
        self.dropped_once("http/protobuf", "400")

    def test_grpc_invalid_argument_dropped(self):
        self.dropped_once("grpc", "grpc=3:msg=bad%20data")

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
                self.assertEqual(st["exported"], 10, st)
                self.assertIn("3 spans rejected", res.stderr)

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
                self.assertEqual(st["exported"], 0, st)
                self.assertEqual(res.stderr.count("cannot reach the collector"), 1, res.stderr)

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
                self.assertEqual(len(lines), 2, res)  # parent's and child's statistics
                spans = r.wait_spans(50)
                time.sleep(0.3)
                spans = r.spans()
                r.assert_clean()
                self.assertEqual(len(spans), 50)
                by_pid = {}
                for s in spans:
                    by_pid.setdefault(s["resource"]["process.pid"], []).append(s)
                self.assertEqual(sorted(len(v) for v in by_pid.values()), [25, 25], by_pid.keys())
                self.assertEqual(len({s["spanId"] for s in spans}), 50)
                for st in lines:
                    self.assertEqual(st["exported"], 25, lines)


if __name__ == "__main__":
    unittest.main(verbosity=2)
