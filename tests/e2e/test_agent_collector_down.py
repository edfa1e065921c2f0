#!/usr/bin/python3
"""End to end: a traced program and a collector that is down, hanging or slow.

The host must not notice: its requests are answered as they are without the agent, it exits
within the exporter's bound (about 2 s) whatever the collector does, and with SIGTERM it still
dies by SIGTERM. The agent's own export traffic is never traced: a collector that works receives
only the program's spans, never a CLIENT span for the POST to /v1/traces.

Not a benchmark: the bounds here are functional (seconds, with slack for a loaded machine), the
latency figures are printed for information.
"""

import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wtlib  # noqa: E402
from rawpeer import Service  # noqa: E402

HTTPD = wtlib.prog("httpd")
REQUESTS = 40
EXIT_BOUND_S = 2.0 + 3.0  # exporter bound (docs/ARCHITECTURE.md) + slack for a loaded machine


def drive(port, n):
    """n keep-alive requests; returns the slowest one in seconds."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    worst = 0.0
    for i in range(n):
        t = time.monotonic()
        s.sendall(b"GET /r/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                raise AssertionError("connection closed")
            buf += d
        head, _, rest = buf.partition(b"\r\n\r\n")
        n_body = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(rest) < n_body:
            rest += s.recv(65536)
        worst = max(worst, time.monotonic() - t)
    s.close()
    return worst


class CollectorDown(unittest.TestCase):
    def serve(self, otel_env, stop_with_sigterm=False):
        env = wtlib.preload_env(dict(otel_env, OTEL_SERVICE_NAME="down"))
        args = [HTTPD, "--mode", "threads"]
        if not stop_with_sigterm:
            args += ["--max-requests", REQUESTS]
        with Service(args, env) as svc:
            worst = drive(svc.port, REQUESTS)
            t = time.monotonic()
            if stop_with_sigterm:
                os.kill(svc.proc.pid, signal.SIGTERM)
            rc = svc.wait()
            exit_s = time.monotonic() - t
        return worst, exit_s, rc

    def check(self, what, otel_env):
        worst, exit_s, rc = self.serve(otel_env)
        print("\n%s: slowest request %.1f ms, exit took %.2f s" % (what, worst * 1e3, exit_s),
              file=sys.stderr)
        self.assertEqual(rc, 0)
        self.assertLess(exit_s, EXIT_BOUND_S, "exit held by the exporter")
        self.assertLess(worst, 1.0, "a request waited for the collector")

    def test_connection_refused(self):
        with wtlib.RefusingPort() as refusing:
            self.check("refused", {"OTEL_EXPORTER_OTLP_ENDPOINT":
                                   "http://127.0.0.1:%d" % refusing.port,
                                   "OTEL_BSP_SCHEDULE_DELAY": "50"})

    def test_collector_hangs(self):
        with wtlib.Receiver(hang=True) as recv:
            self.check("hanging collector", recv.env(OTEL_BSP_SCHEDULE_DELAY="50"))

    def test_sigterm_with_hanging_collector_keeps_signal_status(self):
        with wtlib.Receiver(hang=True) as recv:
            worst, exit_s, rc = self.serve(recv.env(OTEL_BSP_SCHEDULE_DELAY="50"),
                                           stop_with_sigterm=True)
        print("\nSIGTERM, hanging collector: exit took %.2f s" % exit_s, file=sys.stderr)
        self.assertEqual(rc, -signal.SIGTERM, "the program must still die by its signal")
        self.assertLess(exit_s, EXIT_BOUND_S)

    def test_own_export_traffic_is_not_traced(self):
        with wtlib.Receiver() as recv:
            worst, exit_s, rc = self.serve(recv.env())
            self.assertEqual(rc, 0)
            spans = recv.wait_spans(REQUESTS)
            time.sleep(0.3)
            spans = recv.spans()
        self.assertEqual(len(spans), REQUESTS, "exactly the program's own SERVER spans")
        self.assertEqual({s["kind"] for s in spans}, {2})
        for s in spans:
            self.assertNotIn("/v1/traces", s["attributes"].get("url.full", ""))
        self.assertTrue(all(s["attributes"]["url.path"].startswith("/r/") for s in spans))


if __name__ == "__main__":
    unittest.main(verbosity=2)
