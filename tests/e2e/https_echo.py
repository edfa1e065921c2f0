#!/usr/bin/python3
"""An HTTP/1.1 echo server for the libcurl and TLS end-to-end tests (standard library only).

Usage: https_echo.py [--tls CERT KEY] [--log PATH] [--downstream URL] [--cafile PEM]

Binds an ephemeral port on 127.0.0.1 and prints it as the first line of stdout (the protocol
rawpeer.Service expects). A thread per connection, keep-alive. Every request is answered
(GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS; a request body framed by Content-Length is
read) with a JSON body: {"method", "path", "traceparent": [...], "tracestate": [...],
"headers": [[name, value], ...], "body": <bytes read>, "downstream": <status or null>}, and
the same object is appended as one line to --log, so a test can see exactly which header
lines arrived (how many traceparent fields, in which order).

Paths: /status/NNN answers NNN; /redirect/N answers 302 to /redirect/N-1 (/redirect/0: 200);
/slow/MS waits MS milliseconds first. --downstream URL: before answering, GET URL + path with
urllib (an HTTPS URL is verified against --cafile), and report its status: the server is then
also a client, which makes a SERVER -> CLIENT -> SERVER chain under the agent.

Plain HTTP without --tls. With --tls the listening socket is wrapped by Python's ssl module
(OpenSSL through the _ssl extension, which CPython loads with dlopen).
"""

import argparse
import http.server
import json
import re
import ssl
import sys
import threading
import time
import urllib.request

ARGS = None
LOG_LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        m = re.match(r"/slow/(\d+)", self.path)
        if m:
            time.sleep(int(m.group(1)) / 1000.0)
        down = None
        if ARGS.downstream:
            ctx = ssl.create_default_context(cafile=ARGS.cafile) if ARGS.cafile else None
            try:
                with urllib.request.urlopen(ARGS.downstream + self.path, context=ctx,
                                            timeout=20) as r:
                    r.read()
                    down = r.status
            except urllib.error.HTTPError as e:
                down = e.code
        rec = {"method": self.command, "path": self.path,
               "traceparent": self.headers.get_all("traceparent") or [],
               "tracestate": self.headers.get_all("tracestate") or [],
               "headers": [[k, v] for k, v in self.headers.items()],
               "body": len(body), "downstream": down}
        if ARGS.log:
            with LOG_LOCK, open(ARGS.log, "a") as f:
                f.write(json.dumps(rec) + "\n")
        status, extra = 200, []
        m = re.match(r"/status/(\d{3})", self.path)
        if m:
            status = int(m.group(1))
        m = re.match(r"/redirect/(\d+)", self.path)
        if m and int(m.group(1)) > 0:
            status, extra = 302, [("Location", "/redirect/%d" % (int(m.group(1)) - 1))]
        out = (json.dumps(rec) + "\n").encode()
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = handle_any


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--log")
    p.add_argument("--downstream")
    p.add_argument("--cafile")
    ARGS = p.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if ARGS.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls[0], ARGS.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
