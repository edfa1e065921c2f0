"""The OTLP/HTTP trace receiver (OTLP docs/specification.md, "OTLP/HTTP").

POST /v1/traces with Content-Type application/x-protobuf (binary ExportTraceServiceRequest) or
application/json (its JSON mapping), optionally Content-Encoding: gzip, with a Content-Length
or chunked. Answers:
  200 + empty ExportTraceServiceResponse in the request's content type (0 bytes of protobuf,
      or "{}"); when some spans had invalid ids, a partial_success naming how many were
      rejected and why (the client must not retry those);
  400 + a message when the body cannot be decoded (the message says where: the client must not
      retry, OTLP says 400 is bad data);
  404 for another path, 405 for another method, 411/413 for a missing or too large body
      (OTLP's default maximum request size is 64 MiB), 415 for another content type.
Error bodies are plain text: a developer reads them with curl; an OTLP exporter only looks at
the status code.

HTTP/1.1 with keep-alive, one thread per connection (http.server.ThreadingHTTPServer), so an
exporter that keeps its connection open does not block another.
"""

import gzip
import http.server
import json
import socket
import zlib

from . import otlp_decode

MAX_BODY = 64 << 20


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def response_body(kind, rejected, message):
    """ExportTraceServiceResponse: empty on full success, else partial_success (field 1) with
    rejected_spans (1, int64) and error_message (2, string)."""
    if kind == "json":
        if not rejected:
            return b"{}"
        return json.dumps({"partialSuccess": {"rejectedSpans": str(rejected),
                                              "errorMessage": message}}).encode()
    if not rejected:
        return b""
    msg = message.encode("utf-8")
    inner = b"\x08" + _varint(rejected) + b"\x12" + _varint(len(msg)) + msg
    return b"\x0a" + _varint(len(inner)) + inner


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wiretrace-view"
    sys_version = ""

    def log_message(self, fmt, *args):  # one line per request would drown the waterfalls
        pass

    def _reply(self, code, body, ctype="text/plain; charset=utf-8", close=False):
        if isinstance(body, str):
            body = (body + "\n").encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self):
        """The raw body, or None after an error reply."""
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    n = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self._reply(400, "bad chunk size line", close=True)
                    return None
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += n
                if total > MAX_BODY:
                    self._reply(413, "request body over %d bytes" % MAX_BODY, close=True)
                    return None
                chunks.append(self.rfile.read(n))
                self.rfile.readline(1024)
        cl = self.headers.get("Content-Length")
        if cl is None:
            self._reply(411, "Content-Length or chunked body required", close=True)
            return None
        try:
            n = int(cl)
        except ValueError:
            self._reply(400, "bad Content-Length %r" % cl, close=True)
            return None
        if n < 0 or n > MAX_BODY:
            self._reply(413, "request body of %d bytes over the %d limit" % (n, MAX_BODY),
                        close=True)
            return None
        return self.rfile.read(n)

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        if path != "/v1/traces":
            self._reply(404, "no such path %r: this receiver takes traces on POST /v1/traces"
                        % path, close=True)
            return
        body = self._read_body()
        if body is None:
            return
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype in ("application/x-protobuf", "application/protobuf"):
            kind = "protobuf"
        elif ctype == "application/json":
            kind = "json"
        else:
            self._reply(415, "unsupported Content-Type %r: use application/x-protobuf or "
                        "application/json" % ctype)
            return
        enc = self.headers.get("Content-Encoding", "identity").strip().lower()
        if enc == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as e:
                self._reply(400, "Content-Encoding gzip but the body is not valid gzip: %s" % e)
                return
        elif enc not in ("identity", "", "none"):
            self._reply(415, "unsupported Content-Encoding %r (gzip or none)" % enc)
            return
        try:
            spans, rejected = otlp_decode.decode(body, kind)
        except otlp_decode.DecodeError as e:
            self.server.app.note_error("rejected a %s body of %d bytes: %s"
                                       % (kind, len(body), e))
            self._reply(400, "cannot decode ExportTraceServiceRequest (%s): %s" % (kind, e))
            return
        msg = ""
        if rejected:
            msg = "%d span(s) rejected: %s" % (len(rejected), "; ".join(rejected[:3]))
            self.server.app.note_error(msg)
        self.server.app.accept(spans)
        self._reply(200, response_body(kind, len(rejected), msg),
                    "application/json" if kind == "json" else "application/x-protobuf")

    def _not_allowed(self):
        path = self.path.split("?", 1)[0]
        if path != "/v1/traces":
            self._reply(404, "no such path %r: this receiver takes traces on POST /v1/traces"
                        % path, close=True)
        else:
            self.send_response(405)
            self.send_header("Allow", "POST")
            self.send_header("Content-Length", "0")
            self.end_headers()

    do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _not_allowed


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, app):
        self.app = app  # has accept(spans) and note_error(msg)
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, _Handler)
