#!/usr/bin/python3
"""End to end: OTEL_SDK_DISABLED=true turns span creation off but keeps propagation (OTSPEC
sdk-environment-variables.md: the no-op SDK does not affect propagators).

A front httpd with OTEL_SDK_DISABLED=true calls a back httpd (traced normally) for each request.
A request that carries a traceparent: the front exports nothing, and the back's SERVER span
continues the caller's trace with the caller's span as its parent (the context passed through
the front unchanged, tracestate included). A request without one: the front adds nothing, so
the back starts its own trace.
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
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def get(port, path, headers=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % (path, headers))
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data


class SdkDisabled(unittest.TestCase):
    def test_propagation_without_spans(self):
        with wtlib.Receiver() as recv:
            back_env = wtlib.preload_env(recv.env(OTEL_SERVICE_NAME="sdkoff-back"))
            front_env = wtlib.preload_env(recv.env(OTEL_SERVICE_NAME="sdkoff-front",
                                                   OTEL_SDK_DISABLED="true"))
            with Service([HTTPD, "--mode", "threads", "--max-requests", 2], back_env) as back:
                down = "http://127.0.0.1:%d/down" % back.port
                with Service([HTTPD, "--mode", "threads", "--downstream", down,
                              "--max-requests", 2], front_env) as front:
                    tp = b"traceparent: 00-%s-%s-01\r\ntracestate: vendor=abc\r\n" % (
                        TRACE.encode(), PARENT.encode())
                    self.assertIn(b" 200 ", get(front.port, b"/with", tp))
                    self.assertIn(b" 200 ", get(front.port, b"/without"))
                    self.assertEqual(front.wait(), 0, front.stderr())
                self.assertEqual(back.wait(), 0, back.stderr())
            back_spans = wait_service_spans(recv, "sdkoff-back", 2)
            time.sleep(0.5)
            spans = recv.spans()
        self.assertEqual(service_spans(spans, "sdkoff-front"), [], "the front made spans")
        by_path = {s["attributes"]["url.path"]: s for s in back_spans}
        w = by_path["/down/with"]
        self.assertEqual((w["traceId"], w["parentSpanId"]), (TRACE, PARENT))
        self.assertEqual(w["traceState"], "vendor=abc")
        self.assertEqual(w["flags"] & 0xff, 0x01, "flags carried as received")
        wo = by_path["/down/without"]
        self.assertEqual(wo["parentSpanId"], "", "nothing to propagate: the back starts a trace")
        self.assertNotEqual(wo["traceId"], TRACE)


if __name__ == "__main__":
    unittest.main(verbosity=2)
