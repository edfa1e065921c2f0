#!/usr/bin/python3
"""End to end: one trace through real, unmodified binaries: curl -> A -> B -> C.

A, B and C are small services on Python's standard library (ThreadingHTTPServer, the
http.server module's threaded server, and urllib.request for the next call), run by Debian's
/usr/bin/python3 under the agent; curl (the CLI) drives them, also under the agent (in
sanitizer builds a python3 urllib client stands in for curl, which cannot start under the ASan
runtime: see rawpeer.fetch_cmd). Each service
answers with JSON: its name, the header lines it received, and the answer of the next service,
so the test sees what arrived at every hop. Checked, for each of two chains:
  - one trace of exactly six spans with exact parent links and kinds:
    curl CLIENT -> A SERVER -> A CLIENT -> B SERVER -> B CLIENT -> C SERVER;
  - every receiver got exactly one traceparent, naming the CLIENT span that called it;
  - the two chains are two different traces.
"""

import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wtlib  # noqa: E402
from rawpeer import (TRACEPARENT_RE, Service, fetch_cmd, service_spans,  # noqa: E402
                     wait_service_spans)

PYTHON = "/usr/bin/python3"
CHAINS = 2

SERVICE_PY = r'''
import json, sys, threading, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME, NEXT, MAX = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock, served = threading.Lock(), [0]

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        got = [[k, v] for k, v in self.headers.items()]
        down = None
        if NEXT != "-":
            with urllib.request.urlopen(NEXT + self.path, timeout=20) as r:
                down = json.loads(r.read())
        body = json.dumps({"name": NAME, "headers": got, "down": down}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with lock:
            served[0] += 1
            if served[0] == MAX:
                threading.Thread(target=self.server.shutdown).start()

    def log_message(self, *a):
        pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
srv.server_close()
'''

RECV = wtlib.ModuleReceiver()
setUpModule, tearDownModule = RECV.setup, RECV.teardown


class Chain(unittest.TestCase):
    maxDiff = 6000

    def test_curl_python_chain_is_one_trace(self):
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "service.py")
            with open(script, "w") as f:
                f.write(SERVICE_PY)

            def start(name, nxt):
                env = RECV.service_env("chain-" + name)
                return Service([PYTHON, script, name, nxt, CHAINS], env)

            with start("C", "-") as c, \
                    start("B", "http://127.0.0.1:%d" % c.port) as b, \
                    start("A", "http://127.0.0.1:%d" % b.port) as a:
                answers = []
                for i in range(CHAINS):
                    env = RECV.service_env("chain-curl")
                    cmd, client = fetch_cmd(
                        ["http://127.0.0.1:%d/chain/%d?n=%d" % (a.port, i, i)], wtlib.SANITIZE)
                    if client != "curl" and i == 0:
                        print("\n(sanitizer build: %s stands in for curl, see rawpeer.py)" %
                              client, file=sys.stderr)
                    r = wtlib.run(cmd, env=env, timeout=30)
                    answers.append(json.loads(r.stdout))
                for svc in (a, b, c):
                    self.assertEqual(svc.wait(), 0, svc.stderr())
        names = ("curl", "A", "B", "C")
        counts = {"curl": CHAINS, "A": 2 * CHAINS, "B": 2 * CHAINS, "C": CHAINS}
        for n in names:
            wait_service_spans(RECV, "chain-" + n, counts[n])
        time.sleep(0.2)
        spans = [s for s in RECV.spans()
                 if s["resource"].get("service.name", "").startswith("chain-")]
        self.assertEqual({n: len(service_spans(spans, "chain-" + n)) for n in names}, counts,
                         wtlib.format_tree(spans))

        def svc(name):
            return {"attributes": {}, "resource_service": "chain-" + name}

        def shape(kind, child=None):
            return {"kind": kind, "children": [child] if child else []}

        one_chain = shape("CLIENT", shape("SERVER", shape("CLIENT", shape("SERVER", shape(
            "CLIENT", shape("SERVER"))))))
        roots = wtlib.assert_span_tree(spans, [one_chain] * CHAINS)
        # The shape says nothing about which process made which span: walk it.
        by_id = {s["spanId"]: s for s in spans}
        for i, root in enumerate(roots):
            chain, node = [], root
            while node:
                chain.append(node["span"])
                node = node["children"][0] if node["children"] else None
            got = [(s["resource"]["service.name"], s["kind"]) for s in chain]
            self.assertEqual(got, [("chain-curl", 3), ("chain-A", 2), ("chain-A", 3),
                                   ("chain-B", 2), ("chain-B", 3), ("chain-C", 2)])
            self.assertEqual(len({s["traceId"] for s in chain}), 1)
            path = chain[1]["attributes"].get("url.path")
            self.assertIn(path, ["/chain/%d" % k for k in range(CHAINS)])
            for s in chain[3], chain[5]:
                self.assertEqual(s["attributes"].get("url.path"), path,
                                 "each hop forwards the same path")
        self.assertEqual(len({r["span"]["traceId"] for r in roots}), CHAINS,
                         "each curl request is its own trace")
        # What each service received: exactly one traceparent, from its caller's CLIENT span.
        for ans in answers:
            hop, caller_service = ans, "chain-curl"
            for name in ("A", "B", "C"):
                self.assertEqual(hop["name"], name)
                tps = [v for k, v in hop["headers"] if k.lower() == "traceparent"]
                self.assertEqual(len(tps), 1, "%s received %s" % (name, hop["headers"]))
                m = TRACEPARENT_RE.match(tps[0])
                self.assertIsNotNone(m, tps[0])
                caller = by_id.get(m.group(2))
                self.assertIsNotNone(caller, "%s's traceparent names no exported span" % name)
                self.assertEqual((caller["kind"], caller["resource"]["service.name"],
                                  caller["traceId"]),
                                 (wtlib.KIND["CLIENT"], caller_service, m.group(1)))
                self.assertEqual([v for k, v in hop["headers"] if k.lower() == "tracestate"],
                                 [], "no tracestate was ever set in this chain")
                caller_service = "chain-" + name
                hop = hop["down"]
            self.assertIsNone(hop)


if __name__ == "__main__":
    unittest.main(verbosity=2)
