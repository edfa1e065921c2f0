#!/usr/bin/python3
"""End to end: call-site attribution of CLIENT spans (WIRETRACE_CAPTURE_CALLSITE).

progs/callsite_client (no tracing code) makes requests from three named functions:
fetch_inventory() (send on a plain socket), submit_order() (writev) and fetch_with_curl()
(libcurl's easy interface), against progs/httpd running without the agent. Checked:
  - `true`: every CLIENT span has code.function.name naming the function that made the request
    (the first frame outside the agent, libc and libcurl), and no code.stacktrace;
  - `stack`: the same name, and code.stacktrace whose first frame is that function and whose
    next frame is main, each frame "function+0xoff (object+0xoff)";
  - off (unset, or "false"): no code.* attribute at all;
  - many requests: every span attributed (the symboliser's cache path).
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wtlib  # noqa: E402

CLIENT = wtlib.prog("callsite_client")
FUNCS = {"/inventory": "fetch_inventory", "/orders": "submit_order", "/curl": "fetch_with_curl"}
FRAME = re.compile(r"^(\?\?|[A-Za-z_][\w.@]*\+0x[0-9a-f]+) \([^ ()]+\+0x[0-9a-f]+\)$")
RECV = None
HTTPD = None
PORT = None


def setUpModule():
    global RECV, HTTPD, PORT
    RECV = wtlib.Receiver()
    RECV.start()
    HTTPD = subprocess.Popen([wtlib.prog("httpd"), "--mode", "threads"], env=wtlib.tool_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    PORT = int(HTTPD.stdout.readline())


def tearDownModule():
    HTTPD.kill()
    HTTPD.wait()
    HTTPD.stdout.close()
    RECV.assert_clean()
    RECV.stop()


def path_of(span):
    url = span["attributes"]["url.full"]
    return "/" + url.split("/", 3)[3]


class CallsiteTest(unittest.TestCase):
    def run_client(self, mode, count=1, which="all"):
        """Run the client with `mode` (None: unset); return its CLIENT spans."""
        name = "callsite-%s-%d-%s" % (mode, count, which)
        extra = {"OTEL_SERVICE_NAME": name}
        if mode is not None:
            extra["WIRETRACE_CAPTURE_CALLSITE"] = mode
        env = wtlib.preload_env(RECV.env("http/protobuf", **extra))
        wtlib.run([CLIENT, PORT, count, which], env=env)
        want = count * (3 if which == "all" else len(which.split(",")))
        mine = lambda: [s for s in RECV.spans()  # noqa: E731
                        if s["resource"].get("service.name") == name]
        spans = wtlib.Receiver._wait(RECV, mine, want, 15, "spans")
        self.assertEqual(len(spans), want)
        for s in spans:
            self.assertEqual(s["kind"], wtlib.KIND["CLIENT"], s)
        return spans

    def test_true_names_each_function(self):
        spans = self.run_client("true")
        self.assertEqual(sorted(path_of(s) for s in spans), sorted(FUNCS))
        for s in spans:
            self.assertEqual(s["attributes"].get("code.function.name"), FUNCS[path_of(s)], s)
            self.assertNotIn("code.stacktrace", s["attributes"])
            self.assertEqual(s["attrTypes"]["code.function.name"], "string")

    def test_stack(self):
        for s in self.run_client("stack"):
            func = FUNCS[path_of(s)]
            self.assertEqual(s["attributes"].get("code.function.name"), func, s)
            frames = s["attributes"]["code.stacktrace"].split("\n")
            for f in frames:
                self.assertRegex(f, FRAME)
            self.assertTrue(frames[0].startswith(func + "+0x"), frames)
            self.assertIn("(callsite_client+0x", frames[0])
            self.assertTrue(frames[1].startswith("main+0x"), frames)
            self.assertFalse(any("libwiretrace" in f for f in frames), frames)

    def test_off(self):
        for mode in (None, "false"):
            for s in self.run_client(mode):
                self.assertFalse([k for k in s["attributes"] if k.startswith("code.")], s)

    def test_many_requests_all_attributed(self):
        spans = self.run_client("true", count=20, which="inventory,curl")
        for s in spans:
            self.assertEqual(s["attributes"].get("code.function.name"), FUNCS[path_of(s)], s)


if __name__ == "__main__":
    unittest.main()
