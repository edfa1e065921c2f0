"""Plumbing shared by the demo shop's Python services: plain http.server, no tracing code.

Each service is a ThreadingHTTPServer (one thread per connection, as many small Python
services are written) speaking HTTP/1.0-style one request per connection, with JSON bodies.
serve() prints "<name>: listening on HOST:PORT" once the socket accepts connections; the demo
waits for that line instead of probing the service with requests (a probe would be a trace).
"""

import argparse
import http.server
import json
import sys
import urllib.error
import urllib.request


class Handler(http.server.BaseHTTPRequestHandler):
    routes = {}  # (method, path) -> method name; subclasses fill it

    def log_message(self, fmt, *args):
        sys.stderr.write("%s: %s\n" % (self.server.name, fmt % args))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def reply(self, code, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def dispatch(self):
        name = self.routes.get((self.command, self.path.split("?")[0]))
        if name is None:
            self.reply(404, {"error": "no route for %s %s" % (self.command, self.path)})
            return
        body = self.body() if self.command == "POST" else {}
        if body is None:
            self.reply(400, {"error": "body is not JSON"})
            return
        getattr(self, name)(body)

    do_GET = do_POST = dispatch


def call(method, url, obj=None, timeout=10):
    """One HTTP request with a JSON body; returns (status, parsed JSON or None)."""
    data = json.dumps(obj).encode() if obj is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, None


def args(name, default_port, upstreams=()):
    p = argparse.ArgumentParser(prog=name)
    p.add_argument("--port", type=int, default=default_port, help="0 = any free port")
    for u in upstreams:
        p.add_argument("--" + u, required=True, metavar="URL", help="base URL of " + u)
    return p.parse_args()


def serve(name, handler, port, **attrs):
    """Serve until interrupted; attrs become attributes of the server (self.server.x)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    srv.daemon_threads = True
    srv.name = name
    for k, v in attrs.items():
        setattr(srv, k, v)
    print("%s: listening on 127.0.0.1:%d" % (name, srv.server_address[1]), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
