#!/usr/bin/python3
"""End to end: crash forensics. A traced server that dies while serving a request leaves its
in-flight span in the spool directory, and the next process under the agent exports it.

progs/crashsrv (plain sockets, no tracing code) crashes in crash_in_handler() (a NULL write:
SIGSEGV) on GET /crash and calls abort() in abort_in_handler() on GET /abort. Checked:
  - the exit status (signal and core-dump flag) is the same with and without the agent;
  - a crash file appears in WIRETRACE_SPOOL_DIR (mode 0600, in a 0700 directory); the receiver
    got nothing from the dying process itself;
  - /bin/true started under the agent with the same configuration exports it (start-up export:
    it makes no span of its own) and removes it; the receiver then shows the SERVER span of the
    crashing request with status ERROR, error.type = SIGSEGV / SIGABRT, and an `exception`
    event whose exception.stacktrace names the crashing function and its caller; the span of
    an earlier request that was still queued for export (long schedule delay) is in the file
    too, not in error; the Resource is the crashed process's (its pid, its executable);
  - a program with its own SIGSEGV handler keeps it: installed before the agent's first span
    (the agent installs nothing for SIGSEGV) or after it (the program's replaces ours): its
    handler runs (exit 42) and no crash file is written;
  - a damaged spool file is reported on stderr and renamed *.bad, and a good file next to it is
    still exported;
  - a process configured to export elsewhere (another collector) leaves the file alone.

Sanitizer builds: crashsrv is built with ASan, whose runtime would install its own SIGSEGV
handler; handle_segv=0 keeps the default disposition, which is what this test is about.
"""

import glob
import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wtlib  # noqa: E402

CRASHSRV = wtlib.prog("crashsrv")
ASAN_EXTRA = ":handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0"
RECV = wtlib.ModuleReceiver()
setUpModule, tearDownModule = RECV.setup, RECV.teardown


def with_core(enabled):
    def fn():
        lim = resource.RLIM_INFINITY if enabled else 0
        resource.setrlimit(resource.RLIMIT_CORE, (lim, lim))
    return fn


class Server:
    """crashsrv under a given environment; request() sends one GET and returns the status line
    (or None when the connection died); wait() returns (signal or exit code, core flag)."""

    def __init__(self, env, args=(), cwd=None, core=False):
        self.p = subprocess.Popen([CRASHSRV] + list(args), env=env, cwd=cwd,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  preexec_fn=with_core(core))
        self.port = int(self.p.stdout.readline())

    def request(self, target):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: crash-test\r\n\r\n"
                      % target.encode())
            data = s.recv(4096)
            return data.split(b"\r\n")[0] if data else None

    def wait(self, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.p.pid, os.WNOHANG)
            if pid:
                self.p.returncode = 0  # reaped here: keep Popen from waiting again
                self.stderr = self.p.stderr.read().decode(errors="replace")
                self.p.stdout.close()
                self.p.stderr.close()
                if os.WIFSIGNALED(status):
                    return -os.WTERMSIG(status), os.WCOREDUMP(status)
                return os.WEXITSTATUS(status), False
            time.sleep(0.02)
        self.p.kill()
        raise AssertionError("crashsrv did not exit")


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="wt-crash.")
        self.spool = os.path.join(self.tmp, "spool")
        self.cwd = os.path.join(self.tmp, "cwd")
        os.mkdir(self.cwd)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def agent_env(self, **extra):
        extra.setdefault("WIRETRACE_SPOOL_DIR", self.spool)
        env = wtlib.preload_env(RECV.env("http/protobuf", **extra))
        if wtlib.SANITIZE:
            env["ASAN_OPTIONS"] += ASAN_EXTRA
        return env

    def plain_env(self):
        env = wtlib.clean_env()
        if wtlib.SANITIZE:
            env["ASAN_OPTIONS"] = "detect_leaks=0" + ASAN_EXTRA
        return env

    def spool_files(self, pattern="crash-*"):
        return sorted(glob.glob(os.path.join(self.spool, pattern)))

    def crash(self, target, env, args=(), core=False):
        srv = Server(env, args, cwd=self.cwd, core=core)
        self.assertEqual(srv.request("/hello"), b"HTTP/1.1 200 OK")
        self.assertIsNone(srv.request(target))
        return srv.wait(), srv

    def spans_of(self, pid):
        return [s for s in RECV.spans() if s["resource"].get("process.pid") == pid]

    def export_with_true(self):
        r = wtlib.run(["/bin/true"], env=self.agent_env())
        self.assertEqual(r.returncode, 0)
        return r

    def check_crash(self, target, sig, function):
        plain, _ = self.crash(target, self.plain_env())
        (status, core), srv = self.crash(target, self.agent_env(OTEL_BSP_SCHEDULE_DELAY="60000"))
        self.assertEqual(plain, (-sig, False))
        self.assertEqual(status, -sig, srv.stderr)
        files = self.spool_files()
        self.assertEqual(len(files), 1, os.listdir(self.spool))
        self.assertTrue(os.path.basename(files[0]).endswith("-%d.otlp" % srv.p.pid), files)
        self.assertEqual(stat.S_IMODE(os.stat(files[0]).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.spool).st_mode), 0o700)
        self.assertEqual(self.spans_of(srv.p.pid), [])  # nothing came from the dying process

        self.export_with_true()
        spans = wtlib.Receiver._wait(RECV, lambda: self.spans_of(srv.p.pid), 2, 15, "spans")
        self.assertEqual(self.spool_files(), [])
        by_path = {s["attributes"]["url.path"]: s for s in spans}
        self.assertEqual(sorted(by_path), sorted(["/hello", target]))
        hello, dead = by_path["/hello"], by_path[target]
        self.assertEqual(hello["status"]["code"], wtlib.STATUS["UNSET"])
        self.assertEqual(hello["attributes"]["http.response.status_code"], 200)
        self.assertEqual(dead["kind"], wtlib.KIND["SERVER"])
        self.assertEqual(dead["status"]["code"], wtlib.STATUS["ERROR"])
        self.assertEqual(dead["attributes"]["error.type"], signal.Signals(sig).name)
        self.assertNotIn("http.response.status_code", dead["attributes"])
        self.assertGreaterEqual(int(dead["endTimeUnixNano"]), int(dead["startTimeUnixNano"]))
        self.assertEqual(len(dead["events"]), 1)
        ev = dead["events"][0]
        self.assertEqual(ev["name"], "exception")
        self.assertEqual(ev["attributes"]["exception.type"], signal.Signals(sig).name)
        self.assertIn(signal.Signals(sig).name, ev["attributes"]["exception.message"])
        stack = ev["attributes"]["exception.stacktrace"].split("\n")
        names = [line.split("+")[0] for line in stack]
        self.assertIn(function, names, stack)
        self.assertIn("handle_request", names, stack)
        self.assertLess(names.index(function), names.index("handle_request"), stack)
        self.assertIn("(crashsrv+0x", stack[names.index(function)])
        self.assertEqual(dead["resource"]["process.executable.name"], "crashsrv")
        self.assertEqual(dead["resource"]["service.name"], "unknown_service:crashsrv")
        return dead

    def test_segv_in_handler(self):
        dead = self.check_crash("/crash", signal.SIGSEGV, "crash_in_handler")
        self.assertIn("at address 0x0", dead["events"][0]["attributes"]["exception.message"])

    def test_abort_in_handler(self):
        self.check_crash("/abort", signal.SIGABRT, "abort_in_handler")

    def test_core_dump_flag_unchanged(self):
        (plain, core_plain), _ = self.crash("/crash", self.plain_env(), core=True)
        (status, core), _ = self.crash("/crash", self.agent_env(), core=True)
        self.assertEqual((status, core), (plain, core_plain))
        self.assertEqual(status, -signal.SIGSEGV)

    def check_own_handler(self, when):
        for env in (self.plain_env(), self.agent_env()):
            (status, _), srv = self.crash("/crash", env, args=("--own-handler", when))
            self.assertEqual(status, 42, srv.stderr)
            self.assertIn("own handler ran", srv.stderr)
        self.assertEqual(self.spool_files(), [])

    def test_own_handler_installed_before_first_span(self):
        self.check_own_handler("early")

    def test_own_handler_installed_after_first_span(self):
        self.check_own_handler("late")

    def test_damaged_file_moved_aside(self):
        (status, _), srv = self.crash("/crash", self.agent_env())
        self.assertEqual(status, -signal.SIGSEGV)
        fp = os.path.basename(self.spool_files()[0]).split("-")[1]  # configuration fingerprint
        bad = os.path.join(self.spool, "crash-%s-1-1" % fp)
        with open(bad + ".otlp", "wb") as f:
            f.write(b"\x0a\x40garbage")
        os.chmod(bad + ".otlp", 0o600)
        r = self.export_with_true()
        self.assertIn("spool file crash-%s-1-1 is damaged" % fp, r.stderr)
        self.assertEqual(self.spool_files(), [bad + ".bad"])
        wtlib.Receiver._wait(RECV, lambda: self.spans_of(srv.p.pid), 2, 15, "spans")
        r = self.export_with_true()  # reported once, never read again
        self.assertNotIn("damaged", r.stderr)
        self.assertEqual(self.spool_files(), [bad + ".bad"])

    def test_other_configuration_leaves_the_file(self):
        (status, _), srv = self.crash("/crash", self.agent_env())
        self.assertEqual(status, -signal.SIGSEGV)
        with wtlib.Receiver() as other:
            env = wtlib.preload_env(other.env("http/protobuf", WIRETRACE_SPOOL_DIR=self.spool))
            self.assertEqual(wtlib.run(["/bin/true"], env=env).returncode, 0)
            time.sleep(0.3)
            self.assertEqual(other.spans(), [])
        self.assertEqual(len(self.spool_files()), 1)
        self.export_with_true()
        wtlib.Receiver._wait(RECV, lambda: self.spans_of(srv.p.pid), 2, 15, "spans")
        self.assertEqual(self.spool_files(), [])


if __name__ == "__main__":
    unittest.main()
