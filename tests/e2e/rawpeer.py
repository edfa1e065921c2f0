"""A raw HTTP/1.1 peer for the end-to-end tests: what really went over the wire.

RawPeer is a TCP server on an ephemeral port of 127.0.0.1, a thread per connection, that keeps
every byte each connection received (in accept order) and splits it into requests with its own
parser (head, then a Content-Length or chunked body, kept exactly as framed on the wire). Each
request gets a fixed response: status 200, or NNN for a target starting with /status/NNN, a
short body with Content-Length; the connection stays open unless the request said
"Connection: close". Nothing here trusts the program under test or the agent: the tests
compare these bytes with what the program meant to write.

answer="close" makes the peer read a request and close the connection without answering (a
client span must then end in error).

Helpers:
  parse_requests(buf)     -> (list of Request, bytes consumed); raises ValueError if malformed
  TRACEPARENT_RE          the W3C version-00 traceparent value (lowercase hex, exact length)
  Request.header(name)    all values of a header (case-insensitive name), in order
  Request.without(name)   the request's wire bytes with every header line `name` removed

Also for the HTTP tests (the shared harness is wtlib.py; these are the pieces only they need):
  Service                 a server process run under the agent that prints its port first
  service_spans(spans, n) the spans whose resource service.name is n
  wait_service_spans(receiver, name, n, timeout) wait for at least n spans of a service
  fetch_cmd(urls)         the curl CLI fetching urls (a Python stand-in in sanitizer builds)
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


class Request:
    """One request as it arrived: `head` (request line to the empty line, CRLFs included),
    `body` (the framed body bytes as sent, chunk framing included), `raw` = head + body."""

    def __init__(self, head, body):
        self.head = head
        self.body = body
        self.raw = head + body
        lines = head[:-4].split(b"\r\n")
        self.request_line = lines[0].decode("latin-1")
        parts = self.request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise ValueError("bad request line %r" % self.request_line)
        self.method, self.target, self.version = parts
        self.headers = []
        for ln in lines[1:]:
            name, sep, value = ln.partition(b":")
            if not sep:
                raise ValueError("bad header line %r" % ln)
            self.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))

    def header(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def without(self, name):
        """The wire bytes with each header line called `name` taken out of the head."""
        lines = self.head[:-4].split(b"\r\n")
        keep = [lines[0]] + [ln for ln in lines[1:]
                             if ln.partition(b":")[0].decode("latin-1").lower() != name.lower()]
        return b"\r\n".join(keep) + b"\r\n\r\n" + self.body


def _chunked_end(buf, pos):
    """End of a chunked body starting at pos (trailers included), or None if incomplete."""
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_txt = buf[pos:eol].split(b";")[0].strip()
        try:
            size = int(size_txt, 16)
        except ValueError:
            raise ValueError("bad chunk size %r" % size_txt)
        pos = eol + 2
        if size == 0:
            break
        if len(buf) < pos + size + 2:
            return None
        if buf[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        pos += size + 2
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        empty = eol == pos
        pos = eol + 2
        if empty:
            return pos


def parse_requests(buf):
    """Complete requests at the start of buf: (requests, bytes consumed)."""
    out, pos = [], 0
    while True:
        he = buf.find(b"\r\n\r\n", pos)
        if he < 0:
            return out, pos
        head = bytes(buf[pos:he + 4])
        req = Request(head, b"")
        te = ",".join(req.header("Transfer-Encoding")).lower()
        if "chunked" in te:
            end = _chunked_end(buf, he + 4)
            if end is None:
                return out, pos
        else:
            cl = req.header("Content-Length")
            end = he + 4 + (int(cl[0]) if cl else 0)
            if len(buf) < end:
                return out, pos
        req = Request(head, bytes(buf[he + 4:end]))
        out.append(req)
        pos = end


class Conn:
    def __init__(self):
        self.data = bytearray()
        self.requests = []
        self.error = None
        self.closed = False


class RawPeer:
    """Context manager: `with RawPeer() as peer: ... peer.port ... peer.connections`.

    read_delay: seconds to sleep between reads of at most read_size bytes (a slow reader, so
    that a client with a small send buffer sees partial writes and EAGAIN)."""

    def __init__(self, read_delay=0.0, read_size=65536, body=b"raw peer says hi\n",
                 answer="fixed"):
        self.answer = answer
        self.read_delay = read_delay
        self.read_size = read_size
        self.body = body
        self.connections = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self.sock.close()
        return False

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            if self.stopping:
                s.close()
                return
            c = Conn()
            with self.lock:
                self.connections.append(c)
            threading.Thread(target=self._serve, args=(s, c), daemon=True).start()

    def _answer(self, req):
        status = 200
        m = re.match(r"/status/(\d{3})", req.target)
        if m:
            status = int(m.group(1))
        close = any("close" in v.lower() for v in req.header("Connection"))
        body = b"" if req.method == "HEAD" else self.body
        head = ("HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" %
                (status, len(self.body), "Connection: close\r\n" if close else ""))
        return head.encode() + body, close

    def _serve(self, s, c):
        pending = bytearray()
        try:
            while True:
                if self.read_delay:
                    time.sleep(self.read_delay)
                d = s.recv(self.read_size)
                if not d:
                    break
                with self.lock:
                    c.data += d
                pending += d
                reqs, used = parse_requests(pending)
                del pending[:used]
                close = False
                for r in reqs:
                    with self.lock:
                        c.requests.append(r)
                    if self.answer == "close":
                        close = True
                        break
                    answer, close = self._answer(r)
                    s.sendall(answer)
                    if close:
                        break
                if close:
                    break
        except (OSError, ValueError) as e:
            c.error = repr(e)
        finally:
            c.closed = True
            s.close()

    def requests(self):
        with self.lock:
            return [r for c in self.connections for r in c.requests]

    def wire(self):
        """Every byte received, connections concatenated in accept order."""
        with self.lock:
            return b"".join(bytes(c.data) for c in self.connections)

    def wait_requests(self, n, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.requests()) >= n:
                return True
            time.sleep(0.01)
        return False


# --- processes and spans ------------------------------------------------------------------------

class Service:
    """A server run under the agent whose first stdout line is its port.

        with Service([prog("httpd"), "--max-requests", "3"], env) as svc:
            ... svc.port ...
            svc.wait()          # it exits by itself after 3 requests

    On leaving the block a process still running gets SIGTERM (the agent flushes on it when
    the program kept the default disposition), then SIGKILL after `grace` seconds. stderr
    goes to a file, readable as .stderr(), and is part of every failure message."""

    def __init__(self, cmd, env, start_timeout=30, grace=10):
        self.cmd = [str(c) for c in cmd]
        self.env = env
        self.start_timeout = start_timeout
        self.grace = grace
        self.proc = None

    def __enter__(self):
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._err,
                                     start_new_session=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], self.start_timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self.kill()
            raise AssertionError("%s did not print its port (got %r); stderr: %s" % (
                self.cmd, line, self.stderr()))
        self.port = int(line)
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.terminate()
        self.proc.stdout.close()
        self._err.close()
        return False

    def stderr(self):
        self._err.seek(0)
        return self._err.read().decode("utf-8", "replace")[-4000:]

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def wait(self, timeout=30):
        """Wait for the process to exit by itself; its exit status (fails on a timeout)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not exit within %s s; stderr: %s" % (
                self.cmd, timeout, self.stderr()))

    def terminate(self):
        """SIGTERM, then wait (SIGKILL after the grace period); the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(self.grace)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s ignored SIGTERM for %s s; stderr: %s" % (
                self.cmd, self.grace, self.stderr()))


def service_spans(spans, name):
    return [s for s in spans if s.get("resource", {}).get("service.name") == name]


def wait_service_spans(receiver, name, n, timeout=15):
    """At least n spans of service `name` (all of them, once there are n); fails on timeout."""
    end = time.monotonic() + timeout
    while True:
        got = service_spans(receiver.spans(), name)
        if len(got) >= n:
            return got
        if time.monotonic() > end:
            raise AssertionError("%d spans of %s after %s s, wanted %d; receiver requests: %s" % (
                len(got), name, timeout, n, str(receiver.requests())[-1500:]))
        time.sleep(0.05)


# The curl CLI deadlocks at start-up on this system when the ASan runtime is preloaded, with no
# agent at all (`LD_PRELOAD=$(gcc -print-file-name=libasan.so) curl --version` hangs in main's
# first setlocale(), waiting for glibc's locale lock). In sanitizer builds, where the agent
# needs that runtime first in LD_PRELOAD, the tests drive the services with Debian's python3
# and urllib instead; the rest of each chain is checked the same way.
PY_FETCH = ("import sys, urllib.request\n"
            "for u in sys.argv[1:]:\n"
            "    sys.stdout.write(urllib.request.urlopen(u, timeout=20).read().decode())\n")


def fetch_cmd(urls, sanitize):
    """Command printing the bodies of `urls`, fetched in order: curl (one process, keep-alive)
    or, when `sanitize`, python3 with urllib. Returns (cmd, client name)."""
    if sanitize:
        return ["/usr/bin/python3", "-c", PY_FETCH] + list(urls), "python3-urllib"
    curl = shutil.which("curl")
    if not curl:
        raise AssertionError("the curl CLI is needed (Debian package curl)")
    return [curl, "-s", "-S", "--max-time", "20"] + list(urls), "curl"
