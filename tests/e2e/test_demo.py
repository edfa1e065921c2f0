#!/usr/bin/python3
"""End-to-end test of scripts/demo: the shop's four services under the real agent.

Runs the demo with the library under test ($WT_LIBRARY) and checks, from its printed waterfalls
and from the spans it received (--jsonl): exit status 0; exactly one trace per order; every trace
is the shop's tree

  order SERVER POST /orders
    order CLIENT -> inventory SERVER GET /stock/{item}
    order CLIENT -> inventory SERVER POST /stock/{item}/reserve
    order CLIENT -> payment SERVER POST /charges
    order CLIENT -> notification SERVER POST /notify

with each SERVER span the child of the CLIENT span that called it (the W3C traceparent crossed
the process and language boundary); the slow order's dominant span is the reservation; the
waterfall shows the same tree by indentation; no process the demo started is left running; and
a second run succeeds the same way (idempotence). If the agent does not produce spans, this
test fails: the demo says "no spans arrived" and exits 1.
"""

import json
import os
import re
import subprocess
import tempfile
import time
import unittest

SRC = os.environ.get("WT_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = os.environ.get("WT_LIBRARY") or os.path.join(SRC, "build", "libwiretrace.so")
DEMO = os.path.join(SRC, "scripts", "demo")

EXPECTED_CALLS = [  # (callee service, SERVER span name) in call order
    ("inventory", "GET /stock/{item}"),
    ("inventory", "POST /stock/{item}/reserve"),
    ("payment", "POST /charges"),
    ("notification", "POST /notify"),
]


def session_of(pid):
    """The session id of a process, or None if it is gone."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[3])  # state ppid pgrp session ...
    except (OSError, IndexError, ValueError):
        return None


def shop_processes(session):
    """pids of processes that run the shop's programs or the viewer in the demo's session (the
    demo runs in a session of its own, so other tests' viewers running at the same time are not
    counted)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or session_of(pid) != session:
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if re.search(r"examples/shop/\w+\.py|wiretrace-demo\.\w+/inventory|wiretrace-view", cmd):
            out.append((int(pid), cmd))
    return out


class DemoTest(unittest.TestCase):
    def run_demo(self, jsonl):
        """Run the demo in a session of its own; returns (result, leftover processes)."""
        env = dict(os.environ, WIRETRACE_LIBRARY=LIB)
        env.pop("LD_PRELOAD", None)
        p = subprocess.Popen([DEMO, "--no-deps", "--jsonl", jsonl], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        out, err = p.communicate(timeout=240)
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        time.sleep(0.2)
        return r, shop_processes(p.pid)

    def test_demo(self):
        if not os.path.exists(LIB):
            self.fail("the agent library %s is not built" % LIB)
        with tempfile.TemporaryDirectory(prefix="wtdemo.") as tmp:
            jsonl = os.path.join(tmp, "spans.jsonl")
            r, left = self.run_demo(jsonl)
            report = "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr)
            self.assertEqual(r.returncode, 0, report)
            self.assertIn("fast order (1 book): HTTP 201", r.stdout)
            self.assertIn("slow order (12 book): HTTP 201", r.stdout)
            with open(jsonl) as f:
                spans = [json.loads(line) for line in f]
            self.check_spans(spans, report)
            self.check_waterfalls(r.stdout, report)
            self.assertEqual(left, [], "processes left running after the demo")
            r2, left2 = self.run_demo(os.path.join(tmp, "again.jsonl"))
            self.assertEqual(r2.returncode, 0, "second run:\n" + r2.stdout + r2.stderr)
            self.assertEqual(left2, [])

    def check_spans(self, spans, report):
        traces = {}
        for s in spans:
            traces.setdefault(s["trace_id"], []).append(s)
        self.assertEqual(len(traces), 2, "one trace per order\n" + report)
        self.assertEqual({s["service"] for s in spans},
                         {"order", "inventory", "payment", "notification"})
        durations = {}
        for tid, ss in traces.items():
            by_id = {s["span_id"]: s for s in ss}
            roots = [s for s in ss if not s["parent_span_id"]]
            self.assertEqual(len(roots), 1, "one root in %s\n%s" % (tid, report))
            root = roots[0]
            self.assertEqual((root["service"], root["kind_name"], root["name"]),
                             ("order", "SERVER", "POST /orders"))
            calls = sorted((s for s in ss if s["parent_span_id"] == root["span_id"]),
                           key=lambda s: s["start_ns"])
            self.assertEqual([(c["service"], c["kind_name"]) for c in calls],
                             [("order", "CLIENT")] * 4, report)
            for call, (svc, name) in zip(calls, EXPECTED_CALLS):
                kids = [s for s in ss if s["parent_span_id"] == call["span_id"]]
                self.assertEqual([(k["service"], k["kind_name"], k["name"]) for k in kids],
                                 [(svc, "SERVER", name)], report)
                self.assertEqual(call["attributes"].get("http.response.status_code"),
                                 kids[0]["attributes"].get("http.response.status_code"))
            self.assertEqual(len(ss), 9, "9 spans per order\n" + report)
            for s in ss:
                if s["parent_span_id"]:
                    self.assertIn(s["parent_span_id"], by_id)
            reserve = [s for s in ss if s["name"] == "POST /stock/{item}/reserve"][0]
            durations[tid] = reserve["end_ns"] - reserve["start_ns"]
        fast, slow = sorted(durations.values())
        self.assertGreater(slow, 250 * 10**6, "the large reservation takes ~300 ms")
        self.assertLess(fast, 200 * 10**6)

    def check_waterfalls(self, out, report):
        traces, cur = [], None
        for line in out.splitlines():
            if re.match(r"trace [0-9a-f]{32} ", line):
                cur = []
                traces.append(cur)
                continue
            m = re.match(r"  (\S+)\s+(SERVER|CLIENT)  ( *)(.*?)\s{2,}.*\|[^|]*\|(.*)$", line)
            if m and cur is not None:
                cur.append((m.group(1), m.group(2), len(m.group(3)) // 2, m.group(5)))
        self.assertEqual(len(traces), 2, report)
        want = [("order", "SERVER", 0)]
        for svc, _ in EXPECTED_CALLS:
            want += [("order", "CLIENT", 1), (svc, "SERVER", 2)]
        for t in traces:
            self.assertEqual([r[:3] for r in t], want, report)
        self.assertTrue(any("dominant" in t[4][3] for t in traces),
                        "the slow reservation (row 5) is marked\n" + report)
        self.assertRegex(out, r"dominant: inventory SERVER POST /stock/\{item\}/reserve")


if __name__ == "__main__":
    unittest.main(verbosity=2)
