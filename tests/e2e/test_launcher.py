#!/usr/bin/python3
"""End-to-end tests of scripts/wiretrace, the launcher.

Most tests preload a stand-in library built here (an empty shared object), so that what is
tested is the launcher alone: options to variables (checked by evaluating --print-env's output
in a shell, so the quoting is checked too), LD_PRELOAD handling, exec (same pid, the exit status
and the terminating signal are the program's own), the errors and their exit codes, the library
search next to an install, --version, and `check` on programs built here: static, dynamic,
another architecture (an ELF header patched to AArch64), a missing library, setuid (as root),
a script, and a Go-like binary. One test runs a program under the real agent ($WT_LIBRARY).
"""

import http.server
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import unittest

SRC = os.environ.get("WT_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
LAUNCHER = os.path.join(SRC, "scripts", "wiretrace")
REAL_LIB = os.environ.get("WT_LIBRARY", "")

HELLO = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def cc(out, src, *flags):
    path = out + ".c"
    with open(path, "w") as f:
        f.write(src)
    r = subprocess.run(["cc", "-o", out, path] + list(flags), capture_output=True, text=True)
    if r.returncode != 0:
        raise unittest.SkipTest("cannot compile (%s): %s" % (" ".join(flags), r.stderr))
    return out


class LauncherTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="wtlaunch.")
        cls.lib = cc(os.path.join(cls.tmp, "libstandin.so"), "int wt_standin;\n",
                     "-shared", "-fPIC")
        cls.other = cc(os.path.join(cls.tmp, "libother.so"), "int wt_other;\n",
                       "-shared", "-fPIC")
        cls.dyn = cc(os.path.join(cls.tmp, "hello"), HELLO)
        cls.static = cc(os.path.join(cls.tmp, "hello_static"), HELLO, "-static")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_l(self, *args, env=None, launcher=LAUNCHER, **kw):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("OTEL_", "WIRETRACE_")) and k != "LD_PRELOAD"}
        e["WIRETRACE_LIBRARY"] = self.lib
        e.update(env or {})
        e = {k: v for k, v in e.items() if v is not None}
        return subprocess.run([launcher] + list(args), env=e, capture_output=True, text=True,
                              timeout=60, **kw)

    # --- options and the environment ---------------------------------------------------------
    def test_options_map_to_variables(self):
        table = [
            (["--service-name", "my api"], "OTEL_SERVICE_NAME", "my api"),
            (["--service-name=it's"], "OTEL_SERVICE_NAME", "it's"),
            (["--endpoint", "http://collector:4318"], "OTEL_EXPORTER_OTLP_ENDPOINT",
             "http://collector:4318"),
            (["--protocol", "http/json"], "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            (["--protocol=grpc"], "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            (["--exporter", "console"], "OTEL_TRACES_EXPORTER", "console"),
            (["--sampler", "parentbased_traceidratio"], "OTEL_TRACES_SAMPLER",
             "parentbased_traceidratio"),
            (["--sampler-arg", "0.25"], "OTEL_TRACES_SAMPLER_ARG", "0.25"),
            (["--resource-attributes", "deployment.environment=dev,team=a b"],
             "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=dev,team=a b"),
            (["--include", "python3*,curl"], "WIRETRACE_INCLUDE", "python3*,curl"),
            (["--exclude", "sleep,sed"], "WIRETRACE_EXCLUDE", "sleep,sed"),
            (["--routes", "/stock/{item}"], "WIRETRACE_ROUTES", "/stock/{item}"),
        ]
        for opts, var, want in table:
            with self.subTest(opts=opts):
                r = self.run_l("--print-env", *opts)
                self.assertEqual(r.returncode, 0, r.stderr)
                # The lines must survive a shell: evaluate them and print the variable.
                sh = subprocess.run(["sh", "-c", 'eval "$1"; printf "%s|%s" "$' + var +
                                     '" "$LD_PRELOAD"', "sh", r.stdout],
                                    capture_output=True, text=True)
                self.assertEqual(sh.stdout, "%s|%s" % (want, self.lib))
                self.assertRegex(r.stdout, r"(?m)^%s=" % var)

    def test_variables_reach_the_program(self):
        r = self.run_l("--include", "env", "--exclude", "sleep,sed", "--service-name", "svc",
                       "--", "env")
        self.assertEqual(r.returncode, 0, r.stderr)
        env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        self.assertEqual(env["WIRETRACE_INCLUDE"], "env")
        self.assertEqual(env["WIRETRACE_EXCLUDE"], "sleep,sed")
        self.assertEqual(env["OTEL_SERVICE_NAME"], "svc")
        self.assertEqual(env["LD_PRELOAD"], self.lib)

    def test_ld_preload_is_appended_once(self):
        show = ["sh", "-c", 'printf "%s" "$LD_PRELOAD"']
        r = self.run_l(*show, env={"LD_PRELOAD": self.other})
        self.assertEqual(r.stdout, "%s %s" % (self.other, self.lib))
        r = self.run_l(*show, env={"LD_PRELOAD": "%s:%s" % (self.other, self.lib)})
        self.assertEqual(r.stdout, "%s:%s" % (self.other, self.lib), "no duplicate")
        r = self.run_l(*show, env={"LD_PRELOAD": ""})
        self.assertEqual(r.stdout, self.lib)

    # --- exec: pid, status, signals ----------------------------------------------------------
    def test_exit_status_is_the_programs(self):
        for code in (0, 1, 7, 255):
            with self.subTest(code=code):
                self.assertEqual(self.run_l("sh", "-c", "exit %d" % code).returncode, code)

    def test_exec_keeps_the_pid_and_the_signal(self):
        e = dict(os.environ, WIRETRACE_LIBRARY=self.lib)
        p = subprocess.Popen([LAUNCHER, "sh", "-c", 'echo $$; kill -TERM $$'], env=e,
                             stdout=subprocess.PIPE, text=True)
        out, _ = p.communicate(timeout=30)
        self.assertEqual(int(out.strip()), p.pid, "the program runs in the launcher's process")
        self.assertEqual(p.returncode, -signal.SIGTERM, "killed by SIGTERM, as seen by wait()")
        p = subprocess.Popen([LAUNCHER, "sleep", "30"], env=e)
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=30), -signal.SIGINT)

    # --- errors ------------------------------------------------------------------------------
    def test_errors(self):
        table = [
            (["--bogus", "true"], 2, "unknown option '--bogus'"),
            (["--service-name"], 2, "--service-name needs a value"),
            (["--protocol", "http/xml", "true"], 2, "'http/xml' is not one of"),
            ([], 2, "no command given"),
            (["no-such-program-wt"], 127, "no-such-program-wt: command not found"),
            (["./no/such/file"], 127, "No such file or directory"),
            ([os.path.join(SRC, "CMakeLists.txt")], 126, "Permission denied"),
        ]
        for args, code, msg in table:
            with self.subTest(args=args):
                r = self.run_l(*args)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertIn(msg, r.stderr)
                self.assertTrue(r.stderr.startswith("wiretrace: "), r.stderr)

    def test_library_not_found_names_where_it_looked(self):
        r = self.run_l("true", env={"WIRETRACE_LIBRARY": "/nonexistent/libwt.so"})
        self.assertEqual(r.returncode, 1)
        self.assertIn("WIRETRACE_LIBRARY=/nonexistent/libwt.so: no such file", r.stderr)
        prefix = os.path.join(self.tmp, "empty-prefix")
        os.makedirs(os.path.join(prefix, "bin"), exist_ok=True)
        shutil.copy(LAUNCHER, os.path.join(prefix, "bin", "wiretrace"))
        r = self.run_l("true", env={"WIRETRACE_LIBRARY": None},
                       launcher=os.path.join(prefix, "bin", "wiretrace"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("libwiretrace.so not found", r.stderr)
        self.assertIn(os.path.join(prefix, "lib", "libwiretrace.so"), r.stderr)

    def test_library_next_to_an_install(self):
        for libdir in ("lib", "lib/x86_64-linux-gnu", "lib64"):
            with self.subTest(libdir=libdir):
                prefix = tempfile.mkdtemp(dir=self.tmp)
                os.makedirs(os.path.join(prefix, "bin"))
                os.makedirs(os.path.join(prefix, libdir))
                shutil.copy(LAUNCHER, os.path.join(prefix, "bin", "wiretrace"))
                want = os.path.join(prefix, libdir, "libwiretrace.so")
                shutil.copy(self.lib, want)
                # Called through a symlink elsewhere, as from a directory on PATH.
                link = os.path.join(prefix, "wt-link")
                os.symlink(os.path.join(prefix, "bin", "wiretrace"), link)
                r = self.run_l("--print-env", env={"WIRETRACE_LIBRARY": None}, launcher=link)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.splitlines()[0],
                                 "LD_PRELOAD=" + os.path.realpath(want))

    def test_help_and_version(self):
        r = self.run_l("--help")
        self.assertEqual(r.returncode, 0)
        for opt in ("--service-name", "--endpoint", "--protocol", "--exporter", "--sampler",
                    "--sampler-arg", "--resource-attributes", "--include", "--exclude",
                    "--print-env", "check"):
            self.assertIn(opt, r.stdout)
        with open(os.path.join(SRC, "CMakeLists.txt")) as f:
            v = re.search(r"project\(wiretrace VERSION ([0-9.]+)", f.read()).group(1)
        r = self.run_l("--version")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("wiretrace %s " % v), r.stdout)
        prefix = tempfile.mkdtemp(dir=self.tmp)
        os.makedirs(os.path.join(prefix, "bin"))
        os.makedirs(os.path.join(prefix, "share", "wiretrace"))
        shutil.copy(LAUNCHER, os.path.join(prefix, "bin", "wiretrace"))
        with open(os.path.join(prefix, "share", "wiretrace", "VERSION"), "w") as f:
            f.write("9.8.7\n")
        r = self.run_l("--version", launcher=os.path.join(prefix, "bin", "wiretrace"))
        self.assertEqual(r.stdout.strip(), "wiretrace 9.8.7")

    def test_real_agent_keeps_exit_status(self):
        if not REAL_LIB or not os.path.exists(REAL_LIB):
            self.skipTest("WT_LIBRARY is not built: %r" % REAL_LIB)
        r = self.run_l("sh", "-c", "echo traced; exit 3", env={
            "WIRETRACE_LIBRARY": REAL_LIB, "OTEL_TRACES_EXPORTER": "none"})
        self.assertEqual((r.returncode, r.stdout), (3, "traced\n"), r.stderr)

    def test_include_exclude_with_the_real_agent(self):
        """--include/--exclude reach the agent, which decides per executable name: a shell
        runs curl; the console exporter prints a line per span on stderr."""
        if not REAL_LIB or not os.path.exists(REAL_LIB):
            self.skipTest("WT_LIBRARY is not built: %r" % REAL_LIB)
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/" % srv.server_address[1]
        # curl cannot start under the ASan runtime on Debian 12 (it hangs in setlocale even
        # without the agent): sanitizer builds use Python's urllib as the client.
        if os.environ.get("WT_SANITIZE", "").upper() in ("1", "ON", "TRUE"):
            name, glob = "python3*", "pyth*"
            client = "/usr/bin/python3 -c 'import urllib.request as u; u.urlopen(\"%s\").read()'"
        else:
            name, glob, client = "curl", "cu*", "curl -s -o /dev/null %s"
        table = [([], True), (["--exclude", name], False), (["--include", "sh"], False),
                 (["--include", glob], True), (["--exclude", "sh,sleep"], True)]
        try:
            for opts, traced in table:
                with self.subTest(opts=opts):
                    r = self.run_l(*opts, "--", "sh", "-c", client % url,
                                   env={"WIRETRACE_LIBRARY": REAL_LIB,
                                        "OTEL_TRACES_EXPORTER": "console",
                                        # the client's own leaks are not ours to report
                                        "ASAN_OPTIONS": "detect_leaks=0"})
                    self.assertEqual(r.returncode, 0, r.stderr)
                    spans = re.findall(r"wiretrace: span CLIENT", r.stderr)
                    self.assertEqual(len(spans), 1 if traced else 0, r.stderr)
        finally:
            srv.shutdown()
            srv.server_close()

    # --- check --------------------------------------------------------------------------------
    def check(self, prog, env=None):
        return self.run_l("check", prog, env=env)

    def test_check_dynamic_and_static(self):
        r = self.check(self.dyn)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("dynamically linked", r.stdout)
        self.assertIn("traceable: run it with", r.stdout)
        r = self.check(self.static)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("NOT traceable: statically linked", r.stdout)
        self.assertIn("OpenTelemetry", r.stdout)  # the alternative is named
        self.assertIn("eBPF", r.stdout)
        r = self.check("sh")  # found on PATH
        self.assertEqual(r.returncode, 0, r.stdout)
        r = self.check("no-such-program-wt")
        self.assertEqual(r.returncode, 127)
        self.assertIn("command not found", r.stderr)

    def test_check_other_architecture(self):
        arm = os.path.join(self.tmp, "hello_arm")
        with open(self.dyn, "rb") as f:
            data = bytearray(f.read())
        data[18:20] = (183).to_bytes(2, "little")  # e_machine = EM_AARCH64
        with open(arm, "wb") as f:
            f.write(data)
        os.chmod(arm, 0o755)
        r = self.check(arm)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("ELF64 aarch64", r.stdout)
        self.assertIn("build libwiretrace.so for the program's architecture", r.stdout)

    def test_check_missing_library(self):
        d = os.path.join(self.tmp, "needs")
        os.makedirs(d, exist_ok=True)
        lib = cc(os.path.join(d, "libwtgone.so"), "int wt_gone(void) { return 1; }\n",
                 "-shared", "-fPIC")
        prog = cc(os.path.join(d, "needs_gone"),
                  "int wt_gone(void);\nint main(void) { return wt_gone(); }\n",
                  "-L" + d, "-lwtgone")
        os.unlink(lib)
        r = self.check(prog)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("shared libraries not found: libwtgone.so", r.stdout)

    def test_check_setuid(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give a program to another owner")
        prog = os.path.join(self.tmp, "hello_suid")
        shutil.copy(self.dyn, prog)
        os.chown(prog, 65534, -1)
        os.chmod(prog, 0o4755)
        self.assertTrue(os.stat(prog).st_mode & stat.S_ISUID)
        r = self.check(prog)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("setuid", r.stdout)
        self.assertIn("ignores LD_PRELOAD", r.stdout)

    def test_check_script_and_go(self):
        script = os.path.join(self.tmp, "script.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(script, 0o755)
        r = self.check(script)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("a script run by /bin/sh", r.stdout)
        bad = os.path.join(self.tmp, "static_script")
        with open(bad, "w") as f:
            f.write("#!%s\n" % self.static)
        os.chmod(bad, 0o755)
        r = self.check(bad)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("statically linked", r.stdout)
        go = cc(os.path.join(self.tmp, "golike"),
                'const char buildinfo[] = "\\xff Go buildinf:";\n'
                'int main(void) { return buildinfo[0] == 0; }\n')
        r = self.check(go)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("a Go program", r.stdout)

    def test_print_env_warns_about_an_untraceable_command(self):
        r = self.run_l("--print-env", "--service-name", "s", self.static)
        self.assertEqual(r.returncode, 0)
        self.assertIn("OTEL_SERVICE_NAME=s", r.stdout)
        self.assertIn("cannot be traced", r.stderr)
        r = self.run_l("--print-env", self.dyn)
        self.assertEqual(r.stderr, "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
