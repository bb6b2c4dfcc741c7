# SPDX-License-Identifier: MIT
"""Helpers for the vmmweb tests (test_web.py, test_prometheus.py,
test_dashboard.py): start a real vmmweb on a free port against the test's
vmmd, talk HTTP to it, and find the Debian tools the tests drive
(promtool, prometheus, chromium, chromedriver, python3-selenium; all from
scripts/deps). A tool that is missing skips its test with the package to
install; a tool that is there and fails is a failure.
"""

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import vmmtest
from vmmtest import check, fail

VMMWEB = os.path.join(vmmtest.B, "vmmweb")


class Web:
    """A vmmweb on 127.0.0.1:<free port> (or a Unix socket) for daemon d."""

    def __init__(self, d, *args, listen="127.0.0.1:0", socket=None, env=None, user=None):
        check(os.access(VMMWEB, os.X_OK), "%s is not built (make all)" % VMMWEB)
        self.log_path = os.path.join(d.tmp, "vmmweb-%d.log" % time.monotonic_ns())
        self.log = open(self.log_path, "wb")
        cmd = [VMMWEB, "--socket", socket or d.sock]
        cmd += ["--listen", listen] if not any(a.startswith("--listen") for a in args) else []
        cmd += list(args)
        kw = {}
        if user is not None:
            kw["user"], kw["group"], kw["extra_groups"] = user, user, []
        self.proc = subprocess.Popen(cmd, cwd=vmmtest.ROOT, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True, **kw)
        self.port = None
        deadline = time.monotonic() + 10
        while self.port is None and "--listen-unix" not in args:
            if self.proc.poll() is not None:
                fail("vmmweb exited during start-up (status %s):\n%s" % (self.proc.returncode, self.log_text()))
            m = re.search(r"Listening on http://[^ ]*:(\d+)/", self.log_text())
            if m:
                self.port = int(m.group(1))
                break
            if time.monotonic() > deadline:
                fail("vmmweb did not say where it listens within 10 s:\n%s" % self.log_text())
            time.sleep(0.02)
        self.base = "http://127.0.0.1:%s" % self.port

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; fails unless vmmweb exits 0 (a sanitizer build exits
        non-zero on a leak or an error it found)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                fail("vmmweb did not exit within 10 s of SIGTERM")
        if not self.log.closed:
            self.log.close()
        rc = self.proc.returncode
        check(rc == 0, "vmmweb exited with status %s:\n%s" % (rc, self.log_text()[-3000:]))
        return rc

    def request(self, path, method="GET", headers=None, timeout=15.0, body=None):
        """(status, {header: value} lowercased, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request(path, **kw)

    def text(self, path, **kw):
        status, headers, body = self.request(path, **kw)
        check(status == 200, "GET %s: status %d: %s" % (path, status, body[:300]))
        return body.decode()

    def json(self, path, want=200):
        import json
        status, headers, body = self.request(path)
        check(status == want, "GET %s: expected status %d, got %d: %s" % (path, want, status, body[:300]))
        check(headers.get("content-type", "").startswith("application/json"),
              "GET %s: not JSON: %s" % (path, headers))
        return json.loads(body)

    def wait_ready(self, timeout=10.0):
        vmmtest.wait_for(lambda: self.get("/healthz")[0] == 200, timeout, 0.05, "vmmweb to reach vmmd")


def web_as(d, uid, *args):
    """A vmmweb run as uid (not yet ready), from a copy of the binary and
    the page that uid can reach, wherever the checkout lives (the CI's may
    be in /root). Lets uid reach d's socket too."""
    global VMMWEB
    if os.geteuid() != 0:
        raise vmmtest.Skip("needs root to run vmmweb as another user")
    os.chmod(d.tmp, 0o755)
    os.chmod(d.sock, 0o666)
    top = os.path.join(d.tmp, "web-as-%d" % uid)
    os.makedirs(os.path.join(top, "bin"), exist_ok=True)
    shutil.copy(VMMWEB, os.path.join(top, "bin", "vmmweb"))
    shutil.copytree(os.path.join(vmmtest.ROOT, "web", "static"), os.path.join(top, "static"), dirs_exist_ok=True)
    for root, dirs, files in os.walk(top):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o755)
    saved = VMMWEB
    VMMWEB = os.path.join(top, "bin", "vmmweb")
    try:
        return Web(d, "--static-dir", os.path.join(top, "static"), *args, user=uid)
    finally:
        VMMWEB = saved


def stop_process(proc, timeout=10):
    """SIGTERM, then SIGKILL after timeout seconds; returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def web(d, **kw):
    """The file's shared vmmweb for this daemon (a new one after a daemon restart)."""
    w = getattr(d, "_web", None)
    if w is None or not w.alive():
        w = Web(d, **kw)
        w.wait_ready()
        d._web = w
        orig = d.stop

        def stop():
            try:
                w.stop()
            except vmmtest.Failure as e:
                print("  note: %s" % e, flush=True)
            finally:
                orig()
        d.stop = stop
    return w


def metric_samples(text):
    """{(name, frozenset(labels.items())): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        check(m, "not a sample line: %r" % line)
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def sample(samples, name, **labels):
    """The value of one sample, or None."""
    want = set(labels.items())
    for (n, ls), v in samples.items():
        if n == name and want <= set(ls):
            return v
    return None


def tool(name, package):
    """The path of a Debian tool, or a Skip naming its package."""
    path = shutil.which(name) or next((p for p in ("/usr/bin/" + name, "/usr/sbin/" + name) if os.access(p, os.X_OK)), None)
    if not path:
        raise vmmtest.Skip("%s is not installed (package %s; scripts/deps installs it)" % (name, package))
    return path


def selenium():
    """The selenium module from python3-selenium, also when python3 is not
    Debian's own (a pyenv python does not see /usr/lib/python3/dist-packages)."""
    try:
        import selenium.webdriver  # noqa: F401
    except ImportError:
        if "/usr/lib/python3/dist-packages" not in sys.path:
            sys.path.append("/usr/lib/python3/dist-packages")
        try:
            import selenium.webdriver  # noqa: F401
        except ImportError:
            raise vmmtest.Skip("python3-selenium is not installed (scripts/deps installs it)")
    import selenium
    return selenium


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
