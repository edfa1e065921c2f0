#!/usr/bin/python3
"""End-to-end tests of scripts/wiretrace-view, the local OTLP/HTTP trace viewer.

Inputs: tests/e2e/recorded/shop_two_orders.json (OTLP/JSON, two orders of the demo shop, four
services) and shop_two_orders.pb, the same request encoded as protobuf by the OpenTelemetry
JavaScript project's generated code (recorded/encode_pb.js), so the viewer's decoder is checked
against bytes it did not write. Messages built here with a tiny encoder cover malformed input.

What is checked: both encodings decode to the same spans; malformed bodies are errors that say
where; the HTTP answers (200 with an empty response of the request's content type, gzip, 400,
404, 405, 415, partial success); the terminal waterfall's order, indentation and marks
(dominant span, orphan); --jsonl; --html rendered by headless Chromium (spans and graph edges
in the DOM). Chromium is installed by the test setup (Debian package "chromium"); without it
the HTML test is skipped with a message saying so.
"""

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

SRC = os.environ.get("WT_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
VIEW = os.path.join(SRC, "scripts", "wiretrace-view")
REC = os.path.join(SRC, "tests", "e2e", "recorded")
sys.path.insert(0, SRC)

from viewer import otlp_decode, traces  # noqa: E402

SLOW = "4bf92f3577b34da6a3ce929d0e0e4736"
FAST = "0af7651916cd43dd8448eb211c80319c"


# --- a tiny protobuf encoder, for malformed and hand-made messages -------------------------
def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def fld(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 2:
        return key + varint(len(payload)) + payload
    if wt == 0:
        return key + varint(payload)
    if wt == 1:
        return key + payload.to_bytes(8, "little")
    return key + payload.to_bytes(4, "little")


def s(num, text):
    return fld(num, 2, text.encode() if isinstance(text, str) else text)


def attr(k, v):
    if isinstance(v, int):
        return s(9, s(1, k) + s(2, fld(3, 0, v & (2**64 - 1))))
    return s(9, s(1, k) + s(2, s(1, v)))


def pb_span(tid, sid, pid, name, kind, start_ms, end_ms, extra=b""):
    base = 1700000000 * 10**9
    return (s(1, bytes.fromhex(tid)) + s(2, bytes.fromhex(sid)) +
            (s(4, bytes.fromhex(pid)) if pid else b"") + s(5, name) + fld(6, 0, kind) +
            fld(7, 1, base + start_ms * 10**6) + fld(8, 1, base + end_ms * 10**6) + extra)


def pb_request(service, spans):
    res = s(1, s(1, "service.name") + s(2, s(1, service)))
    return s(1, s(1, res) + s(2, b"".join(s(2, sp) for sp in spans)))


def post(port, body, ctype="application/x-protobuf", path="/v1/traces", headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                 method="POST", headers=dict({"Content-Type": ctype},
                                                             **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def read_recorded(name):
    with open(os.path.join(REC, name), "rb") as f:
        return f.read()


class Viewer:
    """scripts/wiretrace-view on a free port; stop() sends SIGTERM and returns its stdout."""

    def __init__(self, *args):
        if "--spool" not in args:
            args = args + ("--no-spool",)  # never touch this machine's real spool directory
        self.p = subprocess.Popen([sys.executable, VIEW, "--port", "0"] + list(args),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.p.stderr.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/v1/traces", line)
        if not m:
            self.p.kill()
            raise AssertionError("viewer did not start: %r %s" % (line, self.p.stderr.read()))
        self.port = int(m.group(1))

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        out, err = self.p.communicate(timeout=20)
        return self.p.returncode, out, err


def waterfalls(text):
    """{trace_id: [(service, kind, depth, name, marks)]} parsed from the viewer's stdout."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"trace ([0-9a-f]{32}) ", line)
        if m:
            cur = out.setdefault(m.group(1), [])
            continue
        m = re.match(r"  (\S+)\s+(SERVER|CLIENT|INTERNAL)  ( *)(.*?)\s{2,}.*\|[^|]*\|(.*)$",
                     line)
        if m and cur is not None:
            cur.append((m.group(1), m.group(2), len(m.group(3)) // 2, m.group(4).strip(),
                        m.group(5)))
    return out


class DecodeTest(unittest.TestCase):
    def test_protobuf_and_json_decode_to_the_same_spans(self):
        a, ra = otlp_decode.decode_protobuf(read_recorded("shop_two_orders.pb"))
        b, rb = otlp_decode.decode_json(read_recorded("shop_two_orders.json"))
        self.assertEqual((ra, rb), ([], []))
        self.assertEqual(len(a), 18)
        self.assertEqual(a, b)
        reserve = [x for x in a if x["name"] == "POST /stock/{item}/reserve"
                   and x["trace_id"] == SLOW][0]
        self.assertEqual(reserve["service"], "inventory")
        self.assertEqual(reserve["kind_name"], "SERVER")
        self.assertEqual(reserve["end_ns"] - reserve["start_ns"], 303 * 10**6)
        self.assertEqual(reserve["attributes"]["http.response.status_code"], 200)
        self.assertEqual(reserve["attributes"]["url.path"], "/stock/book/reserve")
        self.assertEqual(reserve["flags"], 0x301)
        self.assertEqual(len(reserve["parent_span_id"]), 16)

    def test_real_agent_capture(self):
        """Bytes our exporter really sent (recorded/README.md): three orders, three traces."""
        spans, rej = otlp_decode.decode_protobuf(read_recorded("agent_shop_three_orders.pb"))
        self.assertEqual((len(spans), rej), (22, []))
        by = {}
        for sp in spans:
            by.setdefault(sp["trace_id"], []).append(sp)
        self.assertEqual(len(by), 3)
        views = sorted((traces.analyze(t, ss) for t, ss in by.items()), key=lambda v: v.t0)
        roots = [v.rows[0].span for v in views]
        self.assertEqual([(r["service"], r["kind_name"], r["name"]) for r in roots],
                         [("order", "SERVER", "POST /orders")] * 3)
        self.assertEqual([r["attributes"]["http.response.status_code"] for r in roots],
                         [201, 201, 402])
        slow = views[1]
        self.assertEqual((slow.dominant.span["service"], slow.dominant.span["name"]),
                         ("inventory", "POST /stock/{item}/reserve"))
        self.assertGreater(slow.dominant.self_ns, 290 * 10**6)
        self.assertEqual([(n.depth, n.span["service"], n.span["kind_name"]) for n in slow.rows],
                         [(0, "order", "SERVER"), (1, "order", "CLIENT"),
                          (2, "inventory", "SERVER"), (1, "order", "CLIENT"),
                          (2, "inventory", "SERVER"), (1, "order", "CLIENT"),
                          (1, "order", "CLIENT"), (2, "notification", "SERVER")])
        self.assertFalse(any(n.orphan for v in views for n in v.rows))
        res = roots[0]["resource"]
        self.assertEqual(res["telemetry.sdk.name"], "wiretrace")
        self.assertIsInstance(res["process.pid"], int)

    def test_value_types(self):
        av = (s(1, "k") + s(2, fld(3, 0, (-5) & (2**64 - 1))),
              s(1, "d") + s(2, fld(4, 1, 0x3FF8000000000000)),  # 1.5
              s(1, "b") + s(2, fld(2, 0, 1)),
              s(1, "a") + s(2, s(5, s(1, s(1, "x")) + s(1, s(1, "y")))))
        sp = pb_span("11" * 16, "22" * 8, None, "n", 1, 0, 1, b"".join(s(9, x) for x in av) +
                     s(15, s(2, "boom") + fld(3, 0, 2)) + s(99, "unknown field is skipped"))
        spans, rej = otlp_decode.decode_protobuf(pb_request("svc", [sp]))
        self.assertEqual(rej, [])
        self.assertEqual(spans[0]["attributes"], {"k": -5, "d": 1.5, "b": True, "a": ["x", "y"]})
        self.assertEqual((spans[0]["status_code"], spans[0]["status_message"]), (2, "boom"))
        self.assertEqual(spans[0]["parent_span_id"], "")

    def test_malformed_protobuf_is_an_error_that_says_where(self):
        good = pb_span("11" * 16, "22" * 8, None, "n", 2, 0, 1)
        cases = [
            ("truncated varint", b"\x0a\xff"),
            ("runs past the end", b"\x0a\x05\x12\x03"),
            ("wire type", s(1, s(2, fld(2, 0, 7)))),              # spans as a varint
            ("field number 0", b"\x00\x01"),
            ("invalid UTF-8", pb_request("svc", [good[:-0] + s(5, b"\xff\xfe")])),
            ("wire type 3", b"\x0b\x0c"),
            ("varint", b"\x08" + b"\xff" * 10 + b"\x01"),
            ("truncated fixed64", s(1, s(2, s(2, b"\x39\x01\x02"))))]
        for what, body in cases:
            with self.subTest(what):
                with self.assertRaisesRegex(otlp_decode.DecodeError, re.escape(what)):
                    otlp_decode.decode_protobuf(body)

    def test_bad_ids_are_rejected_one_by_one(self):
        ok = pb_span("11" * 16, "22" * 8, None, "ok", 2, 0, 1)
        short = pb_span("11" * 8, "33" * 8, None, "short", 2, 0, 1)
        zero = pb_span("00" * 16, "44" * 8, None, "zero", 2, 0, 1)
        spans, rej = otlp_decode.decode_protobuf(pb_request("svc", [ok, short, zero]))
        self.assertEqual([x["name"] for x in spans], ["ok"])
        self.assertEqual(len(rej), 2)
        self.assertIn("trace_id", rej[0])

    def test_malformed_json(self):
        for body in (b"{", b"[]", b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":'
                                   b'"zz"}]}]}]}',
                     b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_NOPE"}]}]}]}'):
            with self.subTest(body=body):
                self.assertRaises(otlp_decode.DecodeError, otlp_decode.decode_json, body)

    def test_json_enum_names_and_snake_case(self):
        body = json.dumps({"resource_spans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "x"}}]}, "scope_spans": [{
                "spans": [{"trace_id": "ab" * 16, "span_id": "cd" * 8, "name": "GET",
                           "kind": "SPAN_KIND_CLIENT", "start_time_unix_nano": 5,
                           "end_time_unix_nano": "7",
                           "status": {"code": "STATUS_CODE_ERROR"}}]}]}]})
        spans, _ = otlp_decode.decode_json(body.encode())
        self.assertEqual((spans[0]["kind"], spans[0]["status_code"], spans[0]["end_ns"],
                          spans[0]["service"]), (3, 2, 7, "x"))


class CrossCheckTest(unittest.TestCase):
    """The same bodies through tests/e2e/otlp_receiver.js (protobufjs, strict schema walk):
    both decoders must see the same spans, attribute for attribute."""

    def test_same_spans_as_protobufjs(self):
        node = shutil.which("node")
        recv = os.path.join(SRC, "tests", "e2e", "otlp_receiver.js")
        sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
        import wtlib  # installs the receiver's packages into the build dir on first use
        mods = wtlib.node_modules()
        self.assertTrue(node and os.path.exists(recv) and os.path.isdir(mods),
                        "node, otlp_receiver.js or its node_modules missing")
        with tempfile.TemporaryDirectory(prefix="wtxchk.") as tmp:
            out = os.path.join(tmp, "spans.jsonl")
            p = subprocess.Popen([node, recv, "--strict", "--out", out, "--modules", mods],
                                 stdout=subprocess.PIPE, text=True)
            try:
                port = json.loads(p.stdout.readline())["http"]
                mine = []
                for name in ("agent_shop_three_orders.pb", "shop_two_orders.pb"):
                    body = read_recorded(name)
                    self.assertEqual(post(port, body)[0], 200, name)
                    mine += otlp_decode.decode_protobuf(body)[0]
            finally:
                p.terminate()
                p.wait(timeout=20)
                p.stdout.close()
            with open(out) as f:
                theirs = [json.loads(line) for line in f]

        def norm(v):
            return [norm(x) for x in v] if isinstance(v, list) else str(v)

        a = sorted((sp["trace_id"], sp["span_id"], sp["parent_span_id"], sp["name"], sp["kind"],
                    str(sp["start_ns"]), str(sp["end_ns"]), sp["status_code"],
                    json.dumps({k: norm(v) for k, v in sp["attributes"].items()},
                               sort_keys=True),
                    json.dumps({k: norm(v) for k, v in sp["resource"].items()},
                               sort_keys=True)) for sp in mine)
        b = sorted((sp["traceId"], sp["spanId"], sp["parentSpanId"], sp["name"], sp["kind"],
                    str(sp["startTimeUnixNano"]), str(sp["endTimeUnixNano"]),
                    (sp.get("status") or {}).get("code", 0),
                    json.dumps({k: norm(v) for k, v in sp["attributes"].items()},
                               sort_keys=True),
                    json.dumps({k: norm(v) for k, v in sp["resource"].items()},
                               sort_keys=True)) for sp in theirs)
        self.assertEqual(len(a), 40)
        self.assertEqual(a, b)


class ReceiverTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="wtview.")
        self.jsonl = os.path.join(self.tmp, "spans.jsonl")
        self.html = os.path.join(self.tmp, "traces.html")
        self.v = Viewer("--quiet-after", "0.3", "--jsonl", self.jsonl, "--html", self.html)

    def tearDown(self):
        if self.v.p.poll() is None:
            self.v.p.kill()
            self.v.p.communicate()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_answers(self):
        port = self.v.port
        self.assertEqual(post(port, b""), (200, "application/x-protobuf", b""))
        self.assertEqual(post(port, b"{}", "application/json"), (200, "application/json", b"{}"))
        code, _, body = post(port, b"\x0a\xff")
        self.assertEqual(code, 400)
        self.assertIn(b"truncated varint", body)
        code, _, body = post(port, b"not json", "application/json")
        self.assertEqual(code, 400)
        self.assertIn(b"not valid JSON", body)
        self.assertEqual(post(port, b"x", "text/plain")[0], 415)
        self.assertEqual(post(port, b"", path="/v1/metrics")[0], 404)
        self.assertEqual(post(port, b"x", headers={"Content-Encoding": "gzip"})[0], 400)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen("http://127.0.0.1:%d/v1/traces" % port, timeout=10)
        self.assertEqual(cm.exception.code, 405)
        bad = pb_request("svc", [pb_span("11" * 8, "33" * 8, None, "short", 2, 0, 1)])
        code, ctype, body = post(port, bad)
        self.assertEqual(code, 200)
        self.assertRegex(body, rb"^\x0a.\x08\x01\x12.*trace_id")  # partial_success, 1 rejected
        rc, out, err = self.v.stop()
        self.assertEqual(rc, 0)
        self.assertIn("truncated varint", err)

    def test_waterfalls_jsonl_and_html(self):
        port = self.v.port
        pb = read_recorded("shop_two_orders.pb")
        # The protobuf in one gzip'ed request, the JSON copy again (the same spans: no dups).
        self.assertEqual(post(port, gzip.compress(pb), headers={"Content-Encoding": "gzip"})[0],
                         200)
        self.assertEqual(post(port, read_recorded("shop_two_orders.json"),
                              "application/json")[0], 200)
        deadline = time.time() + 15
        while time.time() < deadline and not os.path.exists(self.html):
            time.sleep(0.1)
        time.sleep(0.5)
        # An orphan: its parent 'ee..' was never sent; the trace has a root.
        orphan = pb_request("lonely", [
            pb_span("77" * 16, "01" * 8, None, "GET /root", 2, 0, 50),
            pb_span("77" * 16, "02" * 8, "ee" * 8, "GET /lost", 2, 10, 20)])
        self.assertEqual(post(port, orphan)[0], 200)
        time.sleep(1.0)
        rc, out, err = self.v.stop()
        self.assertEqual(rc, 0, err)
        w = waterfalls(out)
        self.assertEqual(set(w), {SLOW, FAST, "77" * 16}, out)
        slow = w[SLOW]
        self.assertEqual([(r[0], r[1], r[2], r[3]) for r in slow], [
            ("order", "SERVER", 0, "POST /orders"),
            ("order", "CLIENT", 1, "GET"),
            ("inventory", "SERVER", 2, "GET /stock/{item}"),
            ("order", "CLIENT", 1, "POST"),
            ("inventory", "SERVER", 2, "POST /stock/{item}/reserve"),
            ("order", "CLIENT", 1, "POST"),
            ("payment", "SERVER", 2, "POST /charges"),
            ("order", "CLIENT", 1, "POST"),
            ("notification", "SERVER", 2, "POST /notify")])
        dominant = [r for r in slow if "dominant" in r[4]]
        self.assertEqual([(r[0], r[3]) for r in dominant],
                         [("inventory", "POST /stock/{item}/reserve")])
        self.assertIn("303.0 ms self", dominant[0][4])
        self.assertEqual([r[3] for r in w[FAST] if "dominant" in r[4]], ["POST /charges"])
        lost = [r for r in w["77" * 16] if r[3] == "GET /lost"][0]
        self.assertEqual(lost[2], 0)
        self.assertIn("orphan: parent " + "ee" * 8, lost[4])
        self.assertEqual(out.count("trace %s " % SLOW), 1, "a trace is shown once")
        self.assertRegex(out, r"order \S+ inventory: 4 calls")
        self.assertIn("received 38 spans in 3 traces", err)
        with open(self.jsonl) as f:
            recs = [json.loads(line) for line in f]
        self.assertEqual(len(recs), 38)
        r0 = [r for r in recs if r["name"] == "POST /stock/{item}/reserve"
              and r["trace_id"] == SLOW][0]
        self.assertEqual((r0["service"], r0["kind"], r0["end_ns"] - r0["start_ns"]),
                         ("inventory", 2, 303 * 10**6))
        self.check_html_in_chromium()

    def check_html_in_chromium(self):
        with open(self.html, encoding="utf-8") as f:
            page = f.read()
        self.assertNotRegex(page, r"(src|href)=\"(https?:)?//", "no external assets")
        chrome = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chrome:
            self.skipTest("chromium is not installed (Debian package 'chromium'): the HTML "
                          "page was written but not rendered")
        prof = os.path.join(self.tmp, "profile")
        cmd = [chrome, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--user-data-dir=" + prof]
        dom = subprocess.run(cmd + ["--dump-dom", "file://" + self.html], capture_output=True,
                             text=True, timeout=120).stdout
        rows = re.findall(r'<tr class="span[^"]*" data-span-id="([0-9a-f]{16})" '
                          r'data-parent-id="([0-9a-f]*)" data-service="([^"]+)" '
                          r'data-kind="(\w+)" data-depth="(\d)" data-name="([^"]*)"', dom)
        self.assertEqual(len(rows), 20, "18 shop spans + 2 orphan-test spans in the DOM")
        dom_rows = [r for r in rows if r[5] == "POST /stock/{item}/reserve"]
        self.assertEqual({(r[2], r[3], r[4]) for r in dom_rows}, {("inventory", "SERVER", "2")})
        self.assertIn('<tr class="span dominant" data-span-id="0200000000000005"', dom)
        edges = set(re.findall(r'<g class="edge" data-from="(\w+)" data-to="(\w+)" '
                               r'data-count="(\d+)"', dom))
        self.assertEqual(edges, {("order", "inventory", "4"), ("order", "payment", "2"),
                                 ("order", "notification", "2")})
        nodes = set(re.findall(r'<g class="node" data-service="(\w+)"', dom))
        self.assertEqual(nodes, {"order", "inventory", "payment", "notification", "lonely"})
        png = os.path.join(self.tmp, "page.png")
        subprocess.run(cmd + ["--screenshot=" + png, "--window-size=1400,1200",
                              "file://" + self.html], capture_output=True, timeout=120)
        self.assertTrue(os.path.getsize(png) > 10000, "the page renders to a screenshot")
        keep = os.environ.get("WT_KEEP_SCREENSHOT")
        if keep:
            shutil.copy(png, keep)


class CliTest(unittest.TestCase):
    def test_bad_option_and_busy_port(self):
        r = subprocess.run([sys.executable, VIEW, "--bogus"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--bogus", r.stderr)
        v = Viewer()
        try:
            r = subprocess.run([sys.executable, VIEW, "--port", str(v.port)],
                               capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot listen on 127.0.0.1 port %d" % v.port, r.stderr)
        finally:
            v.stop()

    def test_exit_after_traces(self):
        v = Viewer("--quiet-after", "0.2", "--exit-after-traces", "1")
        post(v.port, pb_request("a", [pb_span("99" * 16, "01" * 8, None, "GET /x", 2, 0, 5)]))
        out, err = v.p.communicate(timeout=20)
        self.assertEqual(v.p.returncode, 0)
        self.assertEqual(list(waterfalls(out)), ["99" * 16])


class SpoolTest(unittest.TestCase):
    """Crash files a traced program left in the spool directory are imported like OTLP
    requests: finished files (crash-*.otlp) are taken and removed, a damaged one is moved aside
    as .bad and reported, files still being written (.tmp) and others are left alone."""

    def test_crash_files_imported(self):
        with tempfile.TemporaryDirectory(prefix="wtspool.") as d:
            with open(os.path.join(d, "crash-0123456789abcdef-1-42.otlp"), "wb") as f:
                f.write(read_recorded("shop_two_orders.pb"))
            with open(os.path.join(d, "crash-0123456789abcdef-2-43.otlp"), "wb") as f:
                f.write(b"\x0a\xff\xff\xff")  # a length that runs past the end
            for keep in (".crash-0123456789abcdef-3-44.tmp", "notes.txt"):
                with open(os.path.join(d, keep), "wb") as f:
                    f.write(b"x")
            v = Viewer("--spool", d, "--quiet-after", "0.2", "--exit-after-traces", "2")
            out, err = v.p.communicate(timeout=30)
            self.assertEqual(v.p.returncode, 0, err)
            self.assertEqual(len(waterfalls(out)), 2, out)
            self.assertIn("imported 1 crash file(s)", err)
            self.assertIn("damaged crash file crash-0123456789abcdef-2-43.otlp", err)
            self.assertEqual(sorted(os.listdir(d)), [".crash-0123456789abcdef-3-44.tmp",
                                                      "crash-0123456789abcdef-2-43.bad",
                                                      "notes.txt"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
