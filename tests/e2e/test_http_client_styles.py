#!/usr/bin/python3
"""End to end: CLIENT spans and traceparent injection for a plain-socket client in every I/O style.

progs/httpc (no tracing code) runs under the agent against rawpeer.RawPeer, which keeps every
byte it received. For each write style (one write, a byte per write, writev with 3-byte
iovecs, sendmsg, keep-alive, pipelined, non-blocking with a tiny send buffer and a slow
reader) the test checks:
  - httpc's own accounting: the write-family calls returned exactly the bytes it meant to
    write (it exits 1 otherwise), and it got every response;
  - on the wire: exactly one well-formed traceparent per request, no tracestate (the client
    has no inbound context), and, with that one line taken out, byte-identical to what httpc
    meant to write (its --dump file), bodies included; nothing else arrived;
  - the spans: one CLIENT span per request, each the root of its own trace, named after the
    method, with the stable HTTP client attributes, and the traceparent on the wire carrying
    exactly that span's trace id and span id.
Then the status mapping (500 and 404 are errors on a client span, with error.type the code),
a request that already carries traceparent (nothing added), HEAD on keep-alive (message
boundaries without a body), and a peer that closes without answering (an error span).
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wtlib  # noqa: E402
from rawpeer import TRACEPARENT_RE, RawPeer, service_spans, wait_service_spans  # noqa: E402

HTTPC = wtlib.prog("httpc")
CLIENT = wtlib.KIND["CLIENT"]
RECV = wtlib.ModuleReceiver()
setUpModule, tearDownModule = RECV.setup, RECV.teardown


class ClientStyles(unittest.TestCase):
    maxDiff = 4000

    def run_client(self, service, peer, args, check=True):
        env = RECV.service_env(service)
        return wtlib.run([HTTPC] + args, env=env, timeout=60, check=check)

    def exchange(self, style, requests=3, method="POST", body=300, extra=(), peer_kw=None,
                 path="/items/{i}?q=v"):
        """Run httpc in `style` against a raw peer; return (peer requests, dump, spans, port,
        result)."""
        service = "httpc-" + self.id().rsplit(".", 1)[-1]
        with tempfile.TemporaryDirectory() as d, RawPeer(**(peer_kw or {})) as peer:
            dump = os.path.join(d, "dump")
            url = "http://127.0.0.1:%d%s" % (peer.port, path)
            res = self.run_client(service, peer, [
                "--url", url, "--requests", str(requests), "--style", style, "--method",
                method, "--body-size", str(body), "--dump", dump] + list(extra))
            self.assertEqual(res.stdout.count("HTTP/1.1 "), requests, res)
            self.assertTrue(peer.wait_requests(requests), "the peer got %d requests" %
                            len(peer.requests()))
            with open(dump, "rb") as f:
                meant = f.read()
            reqs = peer.requests()
            wire = peer.wire()
            for c in peer.connections:
                self.assertIsNone(c.error, "raw peer failed to parse: %s" % c.error)
            self.assertEqual(wire, b"".join(r.raw for r in reqs),
                             "bytes arrived beyond the complete requests")
        spans = wait_service_spans(RECV, service, requests)
        return reqs, meant, spans, peer.port, res, wire

    def check_wire_and_spans(self, reqs, meant, spans, port, method, path_of):
        self.assertEqual(len(reqs), len(spans), wtlib.format_tree(spans))
        self.assertEqual(b"".join(r.without("traceparent") for r in reqs), meant,
                         "with the traceparent lines taken out, the peer's bytes differ "
                         "from what the program wrote")
        by_url = {s["attributes"].get("url.full"): s for s in spans}
        trace_ids = set()
        for i, r in enumerate(reqs):
            tps = r.header("traceparent")
            self.assertEqual(len(tps), 1, "request %d has %d traceparent lines:\n%r" % (
                i, len(tps), r.head))
            self.assertEqual(r.header("tracestate"), [], "a client with no inbound "
                             "context must not send tracestate")
            m = TRACEPARENT_RE.match(tps[0])
            self.assertIsNotNone(m, "malformed traceparent %r" % tps[0])
            url = "http://127.0.0.1:%d%s" % (port, path_of(i))
            self.assertIn(url, by_url, "no span with url.full %s among %s" % (
                url, sorted(by_url, key=str)))
            s = by_url[url]
            wtlib.check_ids(s)
            self.assertEqual((m.group(1), m.group(2)), (s["traceId"], s["spanId"]),
                             "the injected traceparent is not this request's CLIENT span")
            self.assertEqual(int(m.group(3), 16), s["flags"] & 0xFF)
            self.assertTrue(s["flags"] & 0x01, "sampled by default")
            self.assertEqual(s["kind"], CLIENT)
            self.assertEqual(s["name"], method)
            self.assertEqual(s["parentSpanId"], "", "a client with no inbound request "
                             "starts a new trace")
            a = s["attributes"]
            want = {
                "http.request.method": method,
                "url.full": url,
                "server.address": "127.0.0.1",
                "server.port": port,
                "network.peer.address": "127.0.0.1",
                "network.peer.port": port,
                "network.protocol.version": "1.1",
                "http.response.status_code": 200,
            }
            self.assertEqual({k: a.get(k) for k in want}, want)
            self.assertNotIn("error.type", a)
            self.assertEqual(s["status"]["code"], wtlib.STATUS["UNSET"])
            self.assertLessEqual(int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"]))
            trace_ids.add(s["traceId"])
        self.assertEqual(len(trace_ids), len(reqs), "one trace per request")

    def style_case(self, style, requests=3, body=300, extra=(), peer_kw=None):
        reqs, meant, spans, port, res, _ = self.exchange(style, requests, "POST", body, extra,
                                                         peer_kw)
        self.check_wire_and_spans(reqs, meant, spans, port, "POST",
                                  lambda i: "/items/%d?q=v" % i)
        return res

    def test_style_write(self):
        self.style_case("write")

    def test_style_bytewise(self):
        self.style_case("bytewise", body=40)

    def test_style_writev_small_iovecs(self):
        self.style_case("writev")

    def test_style_writev_chunked_body(self):
        self.style_case("writev", body=2500, extra=["--chunked"])

    def test_style_sendmsg(self):
        self.style_case("sendmsg")

    def test_style_keepalive(self):
        self.style_case("keepalive", requests=4)

    def test_style_pipelined(self):
        self.style_case("pipelined", requests=4)

    def test_style_nonblock_small_sndbuf(self):
        res = self.style_case("nonblock-small", requests=2, body=1 << 20,
                              peer_kw={"read_delay": 0.001, "read_size": 16384})
        # The case only means something if the kernel really took partial writes.
        self.assertRegex(res.stderr, r"partial=[1-9]", res)

    def single(self, path, method="GET", extra=(), peer_kw=None):
        reqs, meant, spans, port, res, wire = self.exchange(
            "write", 1, method, 0, extra, peer_kw, path=path)
        self.assertEqual(len(spans), 1, wtlib.format_tree(spans))
        return reqs, meant, spans[0], port, wire

    def _status_case(self, code):
        reqs, meant, s, port, _ = self.single("/status/%d" % code)
        self.assertEqual(len(reqs[0].header("traceparent")), 1)
        a = s["attributes"]
        self.assertEqual(s["kind"], CLIENT)
        self.assertEqual(a.get("http.response.status_code"), code)
        self.assertEqual(s["status"]["code"], wtlib.STATUS["ERROR"],
                         "a %d answer makes a CLIENT span an error (semconv status mapping)" %
                         code)
        self.assertEqual(a.get("error.type"), str(code))

    def test_existing_traceparent_gets_nothing_added(self):
        tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        reqs, meant, _, _, wire = self.single(
            "/already", extra=["--header", "traceparent: " + tp,
                               "--header", "tracestate: k=v"])
        self.assertEqual(wire, meant, "the agent changed a request that had a traceparent")
        self.assertEqual(reqs[0].header("traceparent"), [tp])

    def test_head_requests_on_keepalive(self):
        reqs, meant, spans, port, _, _ = self.exchange("keepalive", 3, "HEAD", 0,
                                                       path="/h/{i}")
        self.check_wire_and_spans(reqs, meant, spans, port, "HEAD", lambda i: "/h/%d" % i)

    def test_peer_closes_without_answer_is_error(self):
        service = "httpc-" + self.id().rsplit(".", 1)[-1]
        with RawPeer(answer="close") as peer:
            url = "http://127.0.0.1:%d/gone" % peer.port
            res = self.run_client(service, peer, ["--url", url], check=False)
            self.assertEqual(res.returncode, 2, res)  # httpc saw no response
            self.assertTrue(peer.wait_requests(1))
            self.assertEqual(len(peer.requests()[0].header("traceparent")), 1)
        s = wait_service_spans(RECV, service, 1)[0]
        self.assertEqual(s["kind"], CLIENT)
        self.assertEqual(s["status"]["code"], wtlib.STATUS["ERROR"])
        self.assertTrue(s["attributes"].get("error.type"), s)
        self.assertNotIn("http.response.status_code", s["attributes"])
        self.assertEqual(len(service_spans(RECV.spans(), service)), 1)


def _add_status_tests():
    for code in (500, 404):
        setattr(ClientStyles, "test_status_%d_is_error" % code,
                lambda self, c=code: self._status_case(c))


_add_status_tests()

if __name__ == "__main__":
    unittest.main(verbosity=2)
