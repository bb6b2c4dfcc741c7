#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Remote control (issue 15): `vmmctl --connect ssh://` and the Python
client (clients/python/vmmd.py), locally and through a real sshd (Debian's
openssh-server, scripts/deps) that the test starts on 127.0.0.1 with
throw-away host and user keys, logging in as the user running the tests.
Over ssh every call goes through `vmmctl bridge` on the far side."""

import getpass
import os
import pwd
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
import webtest  # noqa: E402
from vmmtest import check, kvm, show  # noqa: E402

sys.path.insert(0, os.path.join(vmmtest.ROOT, "clients", "python"))
import vmmd  # noqa: E402

EXAMPLES = os.path.join(vmmtest.ROOT, "clients", "python", "examples")


class Sshd:
    """sshd -D on 127.0.0.1:<free port>, keys in a temporary folder."""

    def __init__(self, d):
        sshd = webtest.tool("sshd", "openssh-server")
        keygen = webtest.tool("ssh-keygen", "openssh-client")
        self.ssh_bin = webtest.tool("ssh", "openssh-client")
        self.dir = os.path.join(d.tmp, "ssh")
        os.makedirs(self.dir, exist_ok=True)
        for key in ("host", "user"):
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(self.dir, key)], check=True)
        with open(os.path.join(self.dir, "user.pub")) as f, open(os.path.join(self.dir, "authorized_keys"), "w") as o:
            o.write(f.read())
        os.chmod(os.path.join(self.dir, "authorized_keys"), 0o600)
        self.port = webtest.free_port()
        self.user = pwd.getpwuid(os.getuid()).pw_name
        cfg = os.path.join(self.dir, "sshd_config")
        with open(cfg, "w") as f:
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s/host\nAuthorizedKeysFile %s/authorized_keys\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                    "PermitRootLogin prohibit-password\nPidFile %s/sshd.pid\nLogLevel VERBOSE\n"
                    % (self.port, self.dir, self.dir, self.dir))
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", exist_ok=True)   # sshd's privilege-separation directory
        self.log = os.path.join(self.dir, "sshd.log")
        self.proc = subprocess.Popen([sshd, "-D", "-f", cfg, "-E", self.log], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        vmmtest.wait_for(lambda: self.proc.poll() is not None or "Server listening" in self.log_text(), 10, 0.05,
                         "sshd to listen")
        if self.proc.poll() is not None:
            vmmtest.fail("sshd exited (%s): %s" % (self.proc.returncode, self.log_text()))
        # ssh's own options, as users put them in VMMCTL_SSH.
        self.ssh = ("%s -i %s/user -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                    "-o BatchMode=yes -o LogLevel=ERROR" % (self.ssh_bin, self.dir))
        self.env = dict(os.environ, VMMCTL_SSH=self.ssh, VMMCTL_REMOTE=vmmtest.VMMCTL)

    def url(self, d):
        return "ssh://%s@127.0.0.1:%d%s" % (self.user, self.port, d.sock)

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        webtest.stop_process(self.proc)


def sshd(d):
    s = getattr(d, "_sshd", None)
    if s is None:
        s = Sshd(d)
        d._sshd = s
        orig = d.stop

        def stop():
            try:
                s.stop()
            finally:
                orig()
        d.stop = stop
    return s


def remote(d, *args, env=None, check_rc=True, timeout=30, stdin=None):
    s = sshd(d)
    p = subprocess.run([vmmtest.VMMCTL, "--connect", s.url(d)] + list(args), capture_output=True, timeout=timeout,
                       env=env or s.env, input=stdin)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if check_rc:
        check(p.returncode == 0, "vmmctl --connect %s: exit %d\nstdout: %s\nstderr: %s\nsshd: %s"
              % (" ".join(args), p.returncode, out, err, s.log_text()[-1500:]))
    return p.returncode, out, err


@kvm
def test_vmmctl_over_ssh(d):
    """Commands run against the remote vmmd: list, run, info, pause, stop."""
    # Each call is an ssh login (about a second here): few of them.
    cfg = d.config_file("rem", "spin", "interval=3000000", paging="shadow")
    remote(d, "run", cfg)
    _, out, _ = remote(d, "list")
    check(re.search(r"^rem\s+running\s+shadow", out, re.M), "list over ssh: %r" % out)
    # Its first line whole (the guest prints a byte per exit), before the
    # pause that could fall inside it: the console over ssh shows it below.
    vmmtest.wait_for(lambda: "spin: 0\n" in d.console_text("rem"), 15, 0.05, "the guest's first line")
    _, out, _ = remote(d, "pause", "rem")
    check(out.strip() == "rem: paused" and d.state("rem") == "paused", "pause over ssh: %r" % out)
    d.call("vm.resume", {"name": "rem"})
    _, out, _ = remote(d, "console", "rem")
    check("spin: 0" in out, "console over ssh: %r" % out[:200])
    rc, out, err = remote(d, "stats", "nosuch", check_rc=False)
    check(rc == 1 and "NoSuchVm" in err, "an RPC error keeps its class over ssh: %d %r" % (rc, err))


@kvm
def test_events_over_ssh(d):
    """A long-lived stream: vmmctl events over ssh sees a pause made locally."""
    s = sshd(d)
    if d.rpc("vm.info", {"name": "rem"}).get("error"):
        d.run_vm("rem", "spin", "interval=3000000", paging="shadow")
    subscribed = d.call("vmm.stats")["subscribers"]["state"]
    p = subprocess.Popen([vmmtest.VMMCTL, "--connect", s.url(d), "events", "rem", "--topic", "state"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=s.env)
    try:
        # Once the bridge's connection has subscribed (vmmd counts it), the pause is seen.
        vmmtest.wait_for(lambda: d.call("vmm.stats")["subscribers"]["state"] > subscribed, 15, 0.05,
                         "the remote events stream to subscribe")
        d.call("vm.pause", {"name": "rem"})
        d.call("vm.resume", {"name": "rem"})
        import select
        got, deadline = b"", time.monotonic() + 10
        while b"running (was paused)" not in got and time.monotonic() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                got += os.read(p.stdout.fileno(), 4096)
        check(b"rem state paused (was running)" in got and b"rem state running (was paused)" in got,
              "events over ssh: %r" % got)
    finally:
        p.terminate()
        p.wait(10)


def test_ssh_failures_say_why(d):
    s = sshd(d)
    env = dict(s.env, VMMCTL_REMOTE="/nonexistent/vmmctl")
    rc, _, err = remote(d, "list", env=env, check_rc=False)
    check(rc == 1 and "status 127" in err and "VMMCTL_REMOTE" in err, "a missing remote vmmctl: %d %r" % (rc, err))
    p = subprocess.run([vmmtest.VMMCTL, "--connect", "ssh://127.0.0.1:%d/x" % webtest.free_port(), "list"],
                       capture_output=True, env=s.env, timeout=30)
    check(p.returncode == 1 and b"status 255" in p.stderr, "an unreachable host: %d %r" % (p.returncode, p.stderr))
    rc, _, err = remote(d, "list", check_rc=False, env=dict(s.env))
    check(rc == 0, "still fine: %r" % err)
    p = subprocess.run([vmmtest.VMMCTL, "--connect", "ssh://-oProxyCommand=x/y", "list"], capture_output=True, timeout=10)
    check(p.returncode == 2 and b"misread" in p.stderr, "an option-like host is refused: %r" % p.stderr)
    p = subprocess.run([vmmtest.VMMCTL, "--socket", d.sock, "--connect", "ssh://h", "list"], capture_output=True,
                       timeout=10)
    check(p.returncode == 2 and b"exclude" in p.stderr, "--socket with --connect: %r" % p.stderr)
    rc, out, err = remote(d, "bridge", "--help", check_rc=False)
    check(rc == 0 and "relay" in out, "bridge --help: %r %r" % (out, err))


@kvm
def test_python_client_local(d):
    """Typed calls, a batch, error classes and an event iterator on the local socket."""
    with vmmd.connect(d.sock) as c:
        check(c.version()["api"] == 1, "version")
        cfg = vmmtest.guest_config("py", "spin", "interval=3000000", paging="shadow")
        check(c.create(cfg)["state"] == "created", "create")
        check(c.start("py") == "running", "start")
        vms = {v.name: v for v in c.list()}
        check(vms["py"].paging == "shadow" and vms["py"].state == "running", "list: %s" % vms)
        d.wait_progress("py")
        st, missing = c.batch([("stats.get", {"name": "py"}), ("stats.get", {"name": "nosuch"})])
        check(st["traps"]["total"] > 0, "batch result: %s" % show(st))
        check(isinstance(missing, vmmd.NoSuchVm) and missing.cls == "NoSuchVm", "batch error: %r" % missing)
        try:
            c.pause("nosuch")
            vmmtest.fail("pause of a VM that does not exist raised nothing")
        except vmmd.NoSuchVm as e:
            check(e.code == -32000 and "nosuch" in e.message, "NoSuchVm carries code and message: %r" % e)
        try:
            c.call("vm.list", bogus=1)
            vmmtest.fail("an unknown parameter raised nothing")
        except vmmd.InvalidParams as e:
            check(e.field == "bogus", "InvalidParams names the field: %r %s" % (e, e.data))
        # The guest prints a byte per exit: wait for a whole first line,
        # not whatever part of it had arrived when we looked.
        def first_line():
            data = c.console_read("py")[0]
            return data if b"spin:" in data else None
        data = vmmtest.wait_for(first_line, 10, 0.05, "the guest's first 'spin:' line on the console")
        check(data.startswith(b"spin"), "console_read from offset 0: %r" % data[:80])
        check(c.translate("py", 0x100000)["mapped"], "translate")
        check(c.shadow("py", root="kernel", limit=4)["roots"], "shadow")
        c.pause("py")
    with vmmd.connect(d.sock) as ev, vmmd.connect(d.sock) as c:
        it = ev.events(["state"], name="py", timeout=10)
        c.resume("py")
        e = next(it)
        check(e.vm == "py" and e.type == "state" and e.data["state"] == "running" and e.timestamp > 0,
              "an Event: %s" % (e,))
        c.stop("py", force=True)
        e = next(it)
        check(e.data["state"] == "stopped", "the stop: %s" % (e,))
    try:
        vmmd.connect(os.path.join(d.tmp, "nope.sock"))
        vmmtest.fail("connecting to no socket raised nothing")
    except vmmd.ConnectionLost as e:
        check("cannot connect" in str(e), "%s" % e)


@kvm
def test_python_client_and_examples_over_ssh(d):
    s = sshd(d)
    if d.rpc("vm.info", {"name": "pyssh"}).get("error"):
        d.run_vm("pyssh", "spin", "interval=3000000", paging="shadow")
    d.wait_progress("pyssh")
    with vmmd.connect(s.url(d), ssh=s.ssh, remote_vmmctl=vmmtest.VMMCTL) as c:
        names = [v.name for v in c.list()]
        check("pyssh" in names, "list over ssh: %s" % names)
        check(c.stats("pyssh")["traps"]["total"] > 0, "stats over ssh")
        try:
            c.info("nosuch")
            vmmtest.fail("NoSuchVm over ssh raised nothing")
        except vmmd.NoSuchVm:
            pass
    # "Collect stats from three hosts": the local socket, its path, and ssh.
    env = dict(s.env, VMMD_SOCKET=d.sock)
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, "collect_stats.py"), "--json", "local", d.sock,
                        s.url(d)], capture_output=True, env=env, timeout=60)
    check(p.returncode == 0, "collect_stats.py: %d %s" % (p.returncode, p.stderr.decode()))
    import json
    rows = [json.loads(l) for l in p.stdout.decode().splitlines()]
    hosts = {r["host"] for r in rows if r["vm"] == "pyssh"}
    check(hosts == {"local", d.sock, s.url(d)}, "a row of pyssh from each host: %s" % hosts)
    # "Pause every VM whose trap rate exceeds X": the spinning shadow VM traps, an idle one does not.
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, "pause_trappy.py"), "--connect", s.url(d),
                        "--threshold", "5", "--interval", "1"], capture_output=True, env=env, timeout=60)
    check(p.returncode == 0 and re.search(r"^pyssh\s+\d+ traps/s\s+paused$", p.stdout.decode(), re.M),
          "pause_trappy.py: %d %s %s" % (p.returncode, p.stdout.decode(), p.stderr.decode()))
    check(d.state("pyssh") == "paused", "the trappy VM is paused")
    d.call("vm.stop", {"name": "pyssh", "force": True})


if __name__ == "__main__":
    vmmtest.main()
