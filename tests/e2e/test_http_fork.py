#!/usr/bin/python3
"""End to end: a request in flight when the server forks is reported once, by the process
that answers it.

progs/forksrv (no tracing code) reads one request, then forks:
  - "close": the child (a helper forked mid-request) closes its copy of the connection and
    exits normally, the parent answers: one SERVER span, status unset, from the parent;
  - "serve": the child answers, the parent closes its copy and exits: one SERVER span, from
    the child.
Before the fork rule (conn.h, spans_atfork) each case gave two spans with the same span id: the
answering process's, and a "response_incomplete" error from the one that only closed.
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wtlib  # noqa: E402
from rawpeer import Service, wait_service_spans  # noqa: E402

FORKSRV = wtlib.prog("forksrv")
SERVER = wtlib.KIND["SERVER"]
RECV = wtlib.ModuleReceiver()
setUpModule, tearDownModule = RECV.setup, RECV.teardown


class ForkTest(unittest.TestCase):
    def run_case(self, mode):
        name = "forksrv-" + mode
        env = RECV.service_env(name)
        with Service([FORKSRV, "--child", mode], env) as svc:
            with socket.create_connection(("127.0.0.1", svc.port), timeout=15) as s:
                s.sendall(b"GET /work?x=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: fork-test\r\n\r\n")
                got = b""
                while True:
                    d = s.recv(4096)
                    if not d:
                        break
                    got += d
            self.assertEqual(got, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                  b"Connection: close\r\n\r\nok\n")
            self.assertEqual(svc.wait(), 0, svc.stderr())
            parent = svc.proc.pid
        spans = wait_service_spans(RECV, name, 1)
        time.sleep(0.5)  # a second span (the bug) would arrive with the other process's exit
        spans = [s for s in RECV.spans() if s["resource"].get("service.name") == name]
        self.assertEqual(len(spans), 1, spans)
        sp = spans[0]
        self.assertEqual(sp["kind"], SERVER)
        self.assertEqual(sp["attributes"].get("url.path"), "/work")
        self.assertEqual(sp["attributes"].get("http.response.status_code"), 200)
        self.assertNotIn("error.type", sp["attributes"])
        self.assertEqual(sp.get("status", {}).get("code", 0), 0)
        return sp, parent

    def test_helper_forked_mid_request(self):
        sp, parent = self.run_case("close")
        self.assertEqual(int(sp["resource"]["process.pid"]), parent)

    def test_child_answers(self):
        sp, parent = self.run_case("serve")
        self.assertNotEqual(int(sp["resource"]["process.pid"]), parent)


if __name__ == "__main__":
    unittest.main()
