"""Helpers shared by wiretrace's end-to-end tests (Debian's python3, standard library only).

What a test needs to run a real program under the agent and look at what it exported:

- paths from the environment that tests/CMakeLists.txt sets (WT_BUILD_DIR, WT_SOURCE_DIR,
  WT_LIBRARY, WT_SANITIZE), with defaults for running a test file by hand;
- Receiver: starts tests/e2e/otlp_receiver.js (a real OTLP/HTTP + OTLP/gRPC receiver on
  loopback; it decodes protobuf with the OpenTelemetry JavaScript packages) and reads back the
  spans and requests it recorded; its npm packages are installed once with `npm ci` into the
  build directory, never into the source tree;
- preload_env(): the environment for a program under LD_PRELOAD, including the ASan runtime in
  sanitizer builds;
- run(): a subprocess with a hard timeout that kills the whole process group, and its duration;
- free_port() / RefusingPort: loopback ports for "nothing listens there" cases;
- span-tree helpers: build the parent/child forest of exported spans and assert its shape.

Nothing here is specific to one test: socket, libcurl and nginx tests use the same pieces.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("WT_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD_DIR = os.environ.get("WT_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
LIBRARY = os.environ.get("WT_LIBRARY") or os.path.join(BUILD_DIR, "libwiretrace.so")
SANITIZE = os.environ.get("WT_SANITIZE", "").strip().lower() in ("1", "on", "true", "yes")
E2E_DIR = os.path.join(SOURCE_DIR, "tests", "e2e")
RECEIVER_JS = os.path.join(E2E_DIR, "otlp_receiver.js")

# OTLP Span.SpanKind and Status.StatusCode, for readable assertions.
KIND = {"UNSPECIFIED": 0, "INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}


def tool(name):
    """Path of a tool built from tests/tools/<name>.c."""
    return os.path.join(BUILD_DIR, "tools", name)


def prog(name):
    """Path of a test program built from tests/e2e/progs/<name>.c."""
    return os.path.join(BUILD_DIR, "progs", name)


# --- npm packages of the receiver ---------------------------------------------------------------

def node_modules():
    """Directory holding the receiver's node_modules, installed with `npm ci` on first use.

    The packages go under the build directory (keyed by a hash of package-lock.json, so a
    changed lock reinstalls), never into the source tree. Concurrent test processes serialise
    on a lock file. Needs the npm registry, nothing else. WT_NODE_MODULES overrides it all."""
    if os.environ.get("WT_NODE_MODULES"):
        return os.environ["WT_NODE_MODULES"]
    files = [os.path.join(E2E_DIR, n) for n in ("package.json", "package-lock.json")]
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            h.update(fh.read())
    key = h.hexdigest()[:16]
    dest = os.path.join(BUILD_DIR, "e2e-node")
    nm = os.path.join(dest, "node_modules")
    stamp = os.path.join(dest, ".installed")
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _read(stamp) == key and os.path.isdir(nm):
            return nm
        for f in files:
            shutil.copy(f, dest)
        npm = shutil.which("npm")
        if not npm:
            raise RuntimeError("npm not found: install the Debian packages nodejs and npm")
        # --ignore-scripts: nothing we use needs an install script.
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=dest,
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("npm ci failed in %s:\n%s%s" % (dest, r.stdout, r.stderr))
        with open(stamp, "w") as f:
            f.write(key)
    return nm


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):  # a line being written is not read half
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


# --- the receiver -------------------------------------------------------------------------------

class Receiver:
    """A running otlp_receiver.js; use as a context manager.

        with Receiver(script="503:ra=1,200") as r:
            run([...], env=preload_env(r.env("http/protobuf")))
            spans = r.wait_spans(3)

    Arguments map to the receiver's flags: script (str), hang (bool), partial (int),
    delay_ms (int), strict (bool, default True: a malformed body fails the test), tls (dict
    with cert, key and optionally client_ca), extra (list of raw flags)."""

    def __init__(self, script=None, hang=False, partial=None, delay_ms=None, strict=True,
                 tls=None, extra=None, start_timeout=60):
        self.args = []
        if script:
            self.args += ["--script", script]
        if hang:
            self.args.append("--hang")
        if partial:
            self.args += ["--partial", str(partial)]
        if delay_ms:
            self.args += ["--delay-ms", str(delay_ms)]
        if strict:
            self.args.append("--strict")
        if tls:
            self.args += ["--tls-cert", tls["cert"], "--tls-key", tls["key"]]
            if tls.get("client_ca"):
                self.args += ["--tls-client-ca", tls["client_ca"]]
        self.args += list(extra or [])
        self.tls = bool(tls)
        self.start_timeout = start_timeout
        self.proc = None
        self.dir = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop(keep=exc_type is not None and bool(os.environ.get("WT_KEEP")))
        return False

    def start(self):
        modules = node_modules()
        self.dir = tempfile.mkdtemp(prefix="wt-recv.")
        self.out = os.path.join(self.dir, "spans.jsonl")
        self.requests_file = os.path.join(self.dir, "requests.jsonl")
        self.stderr_path = os.path.join(self.dir, "stderr")
        cmd = ["node", RECEIVER_JS, "--out", self.out, "--requests", self.requests_file,
               "--modules", modules] + self.args
        self._err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._err,
                                     stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.proc.stdout], [], [], self.start_timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.stop()
            raise RuntimeError("otlp_receiver.js did not start: %s" % _read(self.stderr_path))
        ports = json.loads(line)
        self.http_port, self.grpc_port = ports["http"], ports["grpc"]
        scheme = "https" if self.tls else "http"
        self.http_endpoint = "%s://127.0.0.1:%d" % (scheme, self.http_port)
        self.traces_url = self.http_endpoint + "/v1/traces"
        self.grpc_endpoint = "%s://127.0.0.1:%d" % (scheme, self.grpc_port)

    def stop(self, keep=False):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self._err.close()
        if self.dir and not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def endpoint(self, protocol):
        """The URL to export to with `protocol` (http/protobuf, http/json or grpc): the
        signal-specific form, used as is (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)."""
        return self.grpc_endpoint if protocol == "grpc" else self.traces_url

    def env(self, protocol="http/protobuf", **extra):
        """OTEL_* variables that send a program's spans here, quickly (100 ms batches)."""
        e = {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.grpc_endpoint if protocol == "grpc"
            else self.http_endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def spans(self):
        """Every span received so far (normalised dicts, see otlp_receiver.js)."""
        return _jsonl(self.out)

    def requests(self):
        """Every request received so far, with the answer given."""
        return _jsonl(self.requests_file)

    def wait_spans(self, n, timeout=15):
        """Wait until at least n spans arrived; return all of them. Fails after `timeout` s."""
        return self._wait(self.spans, n, timeout, "spans")

    def wait_requests(self, n, timeout=15):
        return self._wait(self.requests, n, timeout, "requests")

    def _wait(self, get, n, timeout, what):
        end = time.monotonic() + timeout
        while True:
            got = get()
            if len(got) >= n:
                return got
            if not self.alive():
                raise AssertionError("receiver died: %s" % _read(self.stderr_path))
            if time.monotonic() > end:
                raise AssertionError("%d %s after %.1f s, wanted %d; requests: %s" % (
                    len(got), what, timeout, n, json.dumps(self.requests())[:2000]))
            time.sleep(0.05)

    def assert_clean(self):
        """No request was malformed (strict mode errors, decode errors)."""
        bad = [r for r in self.requests() if r.get("strictErrors") or r.get("decodeError")]
        if bad:
            raise AssertionError("malformed requests: %s" % json.dumps(bad)[:4000])


class ModuleReceiver:
    """One Receiver shared by the tests of a module, started before them and checked for
    malformed requests after them:

        RECV = wtlib.ModuleReceiver()
        setUpModule, tearDownModule = RECV.setup, RECV.teardown

    Any other attribute is the running Receiver's (RECV.env(...), RECV.spans(), ...)."""

    def __init__(self, **kw):
        self._kw = kw
        self._r = None

    def setup(self):
        self._r = Receiver(**self._kw)
        self._r.start()

    def teardown(self):
        try:
            self._r.assert_clean()
        finally:
            self._r.stop()

    def service_env(self, service, **extra):
        """The environment of a program run under the agent as `service`, exporting here."""
        return preload_env(self.env(OTEL_SERVICE_NAME=service, **extra))

    def __getattr__(self, name):
        if self._r is None:
            raise AttributeError("%s: the module's receiver is not started" % name)
        return getattr(self._r, name)


# --- running programs ---------------------------------------------------------------------------

_asan = None


def asan_runtime():
    """Path of gcc's ASan runtime (sanitizer builds preload it first)."""
    global _asan
    if _asan is None:
        r = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True)
        path = r.stdout.strip()
        if r.returncode != 0 or not os.path.isabs(path):
            raise RuntimeError("cannot locate libasan.so with gcc")
        _asan = os.path.realpath(path)
    return _asan


def clean_env(base=None):
    """The environment minus anything that would configure or preload an agent."""
    env = dict(os.environ if base is None else base)
    for k in list(env):
        if k.startswith(("OTEL_", "WIRETRACE_")) or k in ("LD_PRELOAD", "ASAN_OPTIONS"):
            del env[k]
    return env


def preload_env(extra=None, library=None, base=None):
    """Environment that runs a program under the agent (LD_PRELOAD) plus `extra`.

    In sanitizer builds the agent is linked against ASan, which must be the first object in
    the process: its runtime goes first in LD_PRELOAD. Leak checking is off because the
    programs we trace (python, curl, nginx) are not ours."""
    env = clean_env(base)
    preload = [library or LIBRARY]
    if SANITIZE:
        preload.insert(0, asan_runtime())
        env["ASAN_OPTIONS"] = "detect_leaks=0:halt_on_error=1:abort_on_error=0"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    env["LD_PRELOAD"] = " ".join(preload)
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def tool_env(extra=None):
    """Environment for our own tools (no preload; sanitizer options when relevant)."""
    env = clean_env()
    if SANITIZE:
        env["ASAN_OPTIONS"] = "detect_leaks=1:halt_on_error=1"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


class Result:
    """What run() returns: returncode, stdout, stderr (text), elapsed (s, monotonic)."""

    def __init__(self, cmd, returncode, stdout, stderr, elapsed):
        self.cmd, self.returncode, self.stdout, self.stderr, self.elapsed = (
            cmd, returncode, stdout, stderr, elapsed)

    def json_lines(self):
        """stdout's lines that are JSON objects, parsed."""
        out = []
        for line in self.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def __repr__(self):
        return "<%s: rc %s in %.2f s\nstdout: %s\nstderr: %s>" % (
            " ".join(map(str, self.cmd)), self.returncode, self.elapsed, self.stdout[-3000:],
            self.stderr[-3000:])


def run(cmd, env=None, timeout=60, input=None, cwd=None, check=True):
    """Run cmd; kill its whole process group if it outlives `timeout` (then fail).
    With check, a non-zero exit fails with the output in the message."""
    t0 = time.monotonic()
    p = subprocess.Popen([str(c) for c in cmd], env=env, cwd=cwd, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise AssertionError("timed out after %s s: %r" % (
            timeout, Result(cmd, None, out, err, time.monotonic() - t0)))
    res = Result(cmd, p.returncode, out, err, time.monotonic() - t0)
    if check and p.returncode != 0:
        raise AssertionError("failed: %r" % res)
    return res


def free_port():
    """A loopback TCP port that was free a moment ago (racy; prefer RefusingPort)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RefusingPort:
    """A loopback port that refuses connections for as long as the context lasts: bound, never
    listening, so no one else can take it meanwhile."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        return self

    def __exit__(self, *exc):
        self.sock.close()
        return False


# --- spans and trees ----------------------------------------------------------------------------

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def check_ids(span):
    """Assert a span's ids are well formed: 16/8 bytes lowercase hex, not all zero, parent
    empty or 8 bytes."""
    assert HEX32.match(span["traceId"]) and span["traceId"] != "0" * 32, span
    assert HEX16.match(span["spanId"]) and span["spanId"] != "0" * 16, span
    assert span["parentSpanId"] == "" or (HEX16.match(span["parentSpanId"]) and
                                          span["parentSpanId"] != "0" * 16), span


def span_tree(spans):
    """The forest of spans: a list of roots, each {"span": s, "children": [...]}, children
    sorted by start time. A span whose parent was not exported (a remote parent) is a root."""
    nodes = {(s["traceId"], s["spanId"]): {"span": s, "children": []} for s in spans}
    roots = []
    for s in spans:
        parent = nodes.get((s["traceId"], s["parentSpanId"])) if s["parentSpanId"] else None
        (parent["children"] if parent else roots).append(nodes[(s["traceId"], s["spanId"])])
    key = lambda n: int(n["span"]["startTimeUnixNano"])  # noqa: E731
    for n in nodes.values():
        n["children"].sort(key=key)
    roots.sort(key=key)
    return roots


def format_tree(spans):
    """A readable rendering of the forest, for failure messages."""
    lines = []

    def walk(n, depth):
        s = n["span"]
        kind = {v: k for k, v in KIND.items()}.get(s["kind"], s["kind"])
        lines.append("%s%s %s [%s %s<-%s] %s" % (
            "  " * depth, kind, s["name"], s["traceId"][:8], s["spanId"][:8],
            s["parentSpanId"][:8] or "-", json.dumps(s["attributes"], sort_keys=True)[:200]))
        for c in n["children"]:
            walk(c, depth + 1)
    for r in span_tree(spans):
        walk(r, 0)
    return "\n".join(lines)


def _matches(span, exp):
    if "name" in exp:
        want = exp["name"]
        if isinstance(want, re.Pattern) and not want.fullmatch(span["name"]):
            return False
        if isinstance(want, str) and span["name"] != want:
            return False
    if "kind" in exp:
        want = KIND[exp["kind"]] if isinstance(exp["kind"], str) else exp["kind"]
        if span["kind"] != want:
            return False
    if "status" in exp:
        want = STATUS[exp["status"]] if isinstance(exp["status"], str) else exp["status"]
        if span["status"]["code"] != want:
            return False
    for k, v in exp.get("attributes", {}).items():
        got = span["attributes"].get(k, _MISSING)
        if v is _MISSING:
            if got is not _MISSING:
                return False
        elif callable(v):
            if got is _MISSING or not v(got):
                return False
        elif got != v:
            return False
    return True


_MISSING = object()
ABSENT = _MISSING  # use as an attribute value in an expected shape: "must not be set"


def _match_level(nodes, expected):
    """Match nodes to expected shapes one-to-one (any order), recursively; backtracking."""
    if len(nodes) != len(expected):
        return False
    if not expected:
        return True
    exp, rest = expected[0], expected[1:]
    for i, n in enumerate(nodes):
        if _matches(n["span"], exp) and _match_level(n["children"], exp.get("children", [])) \
                and _match_level(nodes[:i] + nodes[i + 1:], rest):
            return True
    return False


def assert_span_tree(spans, expected, msg=""):
    """Assert the exported spans form exactly the forest `expected`: a list of root shapes,
    each a dict with any of name (str or compiled regex), kind ("SERVER"... or int), status,
    attributes ({key: value | predicate | ABSENT}) and children (list of shapes). Order does not
    matter; counts do: every span must be matched, and nothing else may exist. Parentage is
    checked through the ids (same traceId, parentSpanId == the parent's spanId)."""
    for s in spans:
        check_ids(s)
    roots = span_tree(spans)
    if not _match_level(roots, expected):
        raise AssertionError("%sspan tree does not match.\ngot:\n%s\nwanted:\n%s" % (
            msg + "\n" if msg else "", format_tree(spans), json.dumps(
                expected, default=lambda o: getattr(o, "pattern", repr(o)), indent=1)))
    return roots


# --- nginx ------------------------------------------------------------------------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class NginxRun:
    """nginx run from `conf` in its own prefix directory `prefix` under `env`: __enter__ starts
    it and waits until `port` accepts connections; stop() sends SIGTERM to the master by PID and
    returns its exit status (failing if it does not stop); __exit__ also removes the prefix.
    NginxRun.serving() writes the configuration around a test's own http blocks."""

    MAIN = """
daemon off;
worker_processes 1;
{user}
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{servers}
}}
"""

    @classmethod
    def serving(cls, servers, env, **fmt):
        """nginx under `env` with the http-level blocks `servers` (a format string: {d} is the
        prefix directory, {port} a free port for the first listen, other names from `fmt`)."""
        d = tempfile.mkdtemp(prefix="wt-nginx.")
        port = free_port()
        body = servers.format(d=d, port=port, **fmt)
        conf = cls.MAIN.format(d=d, servers=body, user="user root;" if os.geteuid() == 0 else "")
        return cls(conf, port, env, d)

    def __init__(self, conf, port, env, prefix):
        self.dir, self.port, self.env = prefix, port, env
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def __enter__(self):
        self.err = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-e", self.dir + "/error.log",
                                      "-c", self.conf], env=self.env, stdout=self.err,
                                     stderr=self.err, stdin=subprocess.DEVNULL)
        end = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > end:
                    self.stop()
                    raise AssertionError("nginx did not start: %s" % self.log())
                time.sleep(0.05)

    def log(self):
        out = ""
        for n in ("stderr", "error.log"):
            p = os.path.join(self.dir, n)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out += "%s: %s\n" % (n, f.read()[-3000:])
        return out

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("nginx ignored SIGTERM: %s" % self.log())

    def __exit__(self, *exc):
        self.stop()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False
