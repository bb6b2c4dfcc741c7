#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Packaging and systemd integration (issue 7): `make install` into a
DESTDIR, the systemd units, sysusers and tmpfiles snippets, man pages, the
Debian package, and the installed vmmd run under systemd-socket-activate —
it must serve the socket it is handed and never bind one itself — with a
NOTIFY_SOCKET listener receiving READY=1, STATUS=, WATCHDOG=1 and
STOPPING=1. Needs no systemd as PID 1; KVM only for the STATUS= running
count."""

import atexit
import glob
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import ActivatedDaemon, Conn, NotifyListener, Skip, check, fail, fd_inodes, show  # noqa: E402

B_ARG = os.environ.get("B", "build")
TMP = tempfile.mkdtemp(prefix="vmmtest-pkg.")
if not vmmtest.KEEP:
    atexit.register(shutil.rmtree, TMP, True)

PREFIX = "/usr"
_installed = {}


def make(*args, timeout=600):
    """make -s B=$B ARGS in the repo root; fails with its output."""
    # Keep the caller's variables (SANITIZE=... from `make check`), not its
    # jobserver, whose descriptors this child does not inherit.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    flags = os.environ.get("MAKEFLAGS", "").split(" -- ", 1)
    if len(flags) == 2 and flags[1].strip():
        env["MAKEFLAGS"] = "-- " + flags[1].strip()
    cmd = ["make", "-s", "--no-print-directory", "B=" + B_ARG] + list(args)
    p = subprocess.run(cmd, cwd=vmmtest.ROOT, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    if p.returncode != 0:
        fail("%s failed (exit status %d):\n%s" % (" ".join(cmd), p.returncode,
                                                  (p.stdout + p.stderr).decode(errors="replace")[-3000:]))
    return p.stdout.decode(errors="replace")


def installed():
    """A `make install DESTDIR=... PREFIX=/usr` tree, made once per file."""
    if "root" not in _installed:
        root = os.path.join(TMP, "destdir")
        make("install", "DESTDIR=" + root, "PREFIX=" + PREFIX)
        _installed["root"] = root
    return _installed["root"]


def need(tool, package):
    if shutil.which(tool) is None:
        raise Skip("%s is not installed (package %s)" % (tool, package))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def read(path):
    with open(path) as f:
        return f.read()


# Files every installed tree has, relative to the root, with their modes.
INSTALLED = {
    "usr/sbin/vmmd": 0o755,
    "usr/bin/vmmctl": 0o755,
    "usr/lib/systemd/system/vmmd.service": 0o644,
    "usr/lib/systemd/system/vmmd.socket": 0o644,
    "usr/lib/sysusers.d/vmmd.conf": 0o644,
    "usr/lib/tmpfiles.d/vmmd.conf": 0o644,
    "usr/share/man/man8/vmmd.8": 0o644,
    "usr/share/man/man1/vmmctl.1": 0o644,
    "usr/share/vmmd/examples/hello.json": 0o644,
    "usr/share/vmmd/guests/hello.elf": 0o644,
    "usr/share/vmmd/vmmd.json.example": 0o644,
    "usr/sbin/vmmweb": 0o755,
    "usr/lib/systemd/system/vmmweb.service": 0o644,
    "usr/share/man/man8/vmmweb.8": 0o644,
    "usr/share/vmmd/web/index.html": 0o644,
    "usr/share/vmmd/web/app.js": 0o644,
    "usr/share/vmmd/grafana/vmmd-dashboard.json": 0o644,
    "usr/share/vmmd/python/vmmd.py": 0o644,
    "usr/share/vmmd/python/examples/pause_trappy.py": 0o755,
}


def test_make_install_tree(d):
    root = installed()
    for rel, want in sorted(INSTALLED.items()):
        path = os.path.join(root, rel)
        check(os.path.isfile(path), "make install did not install /%s (DESTDIR %s)" % (rel, root))
        check(mode(path) == want, "/%s has mode %o, expected %o" % (rel, mode(path), want))
    unit = read(os.path.join(root, "usr/lib/systemd/system/vmmd.service"))
    check("ExecStart=%s/sbin/vmmd " % PREFIX in unit,
          "vmmd.service's ExecStart does not name %s/sbin/vmmd:\n%s" % (PREFIX, unit))
    for key in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "KillMode=process",
                "DeviceAllow=/dev/kvm rw"):
        check(key in unit, "vmmd.service lacks %s" % key)
    sock = read(os.path.join(root, "usr/lib/systemd/system/vmmd.socket"))
    for key in ("ListenStream=/run/vmmd/vmmd.sock", "SocketMode=0660", "SocketGroup=vmm"):
        check(key in sock, "vmmd.socket lacks %s" % key)
    # Examples name the installed guests, not build/.
    for ex in glob.glob(os.path.join(root, "usr/share/vmmd/examples/*.json")):
        text = read(ex)
        check("build/" not in text, "%s still names build/: %s" % (ex, text))
        kernel = vmmtest.jsonlib.loads(text)["kernel"]
        check(kernel.startswith(PREFIX + "/share/vmmd/guests/") and os.path.isfile(root + kernel),
              "%s names kernel %s, not an installed guest" % (os.path.basename(ex), kernel))


def test_units_verify(d):
    need("systemd-analyze", "systemd")
    root = installed()
    units = os.path.join(TMP, "units")
    os.makedirs(units, exist_ok=True)
    for name in ("vmmd.service", "vmmd.socket", "vmmweb.service"):
        text = read(os.path.join(root, "usr/lib/systemd/system", name))
        # ExecStart must exist for verify: point it at the DESTDIR copy.
        for prog in ("vmmd", "vmmweb"):
            text = text.replace("ExecStart=%s/sbin/%s " % (PREFIX, prog), "ExecStart=%s%s/sbin/%s " % (root, PREFIX, prog))
        with open(os.path.join(units, name), "w") as f:
            f.write(text)
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", os.path.join(units, "vmmd.socket"),
                        os.path.join(units, "vmmd.service"), os.path.join(units, "vmmweb.service")],
                       capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode(errors="replace").strip()
    # DelegateSubgroup= came with systemd 254; older ones ignore it, which
    # vmmd expects (it then leaves its cgroup alone, docs/operations.md).
    if systemd_version() < 254:
        out = "\n".join(l for l in out.splitlines() if "Unknown key 'DelegateSubgroup'" not in l and
                        "Unknown key name 'DelegateSubgroup'" not in l).strip()
    check(p.returncode == 0 and not out, "systemd-analyze verify complains (exit %d):\n%s" % (p.returncode, out))


def systemd_version():
    p = subprocess.run(["systemd-analyze", "--version"], capture_output=True, timeout=30)
    words = p.stdout.decode(errors="replace").split()
    return int(words[1]) if len(words) > 1 and words[1].isdigit() else 0


def test_sysusers_tmpfiles(d):
    need("systemd-sysusers", "systemd")
    root = installed()
    target = os.path.join(TMP, "sysroot")
    os.makedirs(os.path.join(target, "etc"), exist_ok=True)
    p = subprocess.run(["systemd-sysusers", "--root=" + target,
                        os.path.join(root, "usr/lib/sysusers.d/vmmd.conf")], capture_output=True, timeout=60)
    check(p.returncode == 0, "systemd-sysusers failed: %s" % (p.stdout + p.stderr).decode(errors="replace"))
    groups = read(os.path.join(target, "etc/group"))
    check(any(line.startswith("vmm:") for line in groups.splitlines()),
          "systemd-sysusers did not create group vmm: %s" % groups)
    if os.geteuid() != 0:
        # tmpfiles gives /run/vmmd its owner (vmm), which only root may do.
        raise Skip("sysusers checked; tmpfiles needs root (systemd-tmpfiles --create chowns what it creates)")
    p = subprocess.run(["systemd-tmpfiles", "--root=" + target, "--create",
                        os.path.join(root, "usr/lib/tmpfiles.d/vmmd.conf")], capture_output=True, timeout=60)
    check(p.returncode == 0, "systemd-tmpfiles failed: %s" % (p.stdout + p.stderr).decode(errors="replace"))
    for rel, want in (("run/vmmd", 0o755), ("var/lib/vmmd", 0o750)):
        path = os.path.join(target, rel)
        check(os.path.isdir(path), "systemd-tmpfiles did not create /%s" % rel)
        check(mode(path) == want, "/%s has mode %o, expected %o" % (rel, mode(path), want))


def test_man_pages(d):
    need("man", "man-db")
    root = installed()
    for rel, words in (("usr/share/man/man8/vmmd.8", ("--socket", "--state-dir", "EXIT STATUS",
                                                       "ENVIRONMENT", "FILES", "WATCHDOG=1")),
                       ("usr/share/man/man1/vmmctl.1", ("--json", "EXIT STATUS", "ENVIRONMENT",
                                                         "FILES", "VMMD_SOCKET", "--connect", "bridge")),
                       ("usr/share/man/man8/vmmweb.8", ("--listen", "/metrics", "EXIT STATUS", "ENVIRONMENT",
                                                        "FILES", "VMMD_SOCKET"))):
        p = subprocess.run(["man", "--warnings", "-l", os.path.join(root, rel)], capture_output=True,
                           timeout=60, env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat",
                                                LC_ALL="C.UTF-8"))
        out = p.stdout.decode(errors="replace")
        err = p.stderr.decode(errors="replace").strip()
        check(p.returncode == 0 and not err, "man -l %s: exit %d, warnings:\n%s" % (rel, p.returncode, err))
        for w in words:
            check(w in out.replace("\u2010", "-"), "man page %s does not mention %s" % (rel, w))
        with open(os.path.join(vmmtest.ROOT, "VERSION")) as f:
            version = f.read().strip()
        check("vmmd %s" % version in out, "man page %s does not carry version %s" % (rel, version))


def activated(vmmd, env=None):
    a = ActivatedDaemon(vmmd=vmmd, tmp=tempfile.mkdtemp(prefix="act.", dir=TMP), env=env)
    a.own_tmp = False
    return a


def check_socket_activation(vmmd):
    """vmmd (an installed copy) under systemd-socket-activate serves the
    handed socket and binds nothing itself."""
    a = activated(vmmd)
    try:
        a.start()
        check(os.path.basename(a.activator_exe or "") == ActivatedDaemon.ACTIVATE,
              "before the first client %s ran, not %s" % (a.activator_exe, ActivatedDaemon.ACTIVATE))
        check(a.listen_inode, "no listening socket at %s before vmmd ran" % a.sock)
        c = Conn(a.sock)
        v = vmmtest.result_of(c.call("vmm.version"), "vmm.version over the activated socket")
        check(isinstance(v.get("version"), str) and v.get("api") == 1, "vmm.version result: %s" % show(v))
        c.close()
        # vmmd holds the very socket the activator created, as fd 3 ...
        fds = fd_inodes(a.pid)
        check(fds.get(3) == "socket:[%d]" % a.listen_inode,
              "vmmd's fd 3 is %s, not the activated socket socket:[%d]" % (fds.get(3), a.listen_inode))
        check(vmmtest.unix_listen_inode(a.sock) == a.listen_inode,
              "the socket at %s was replaced after activation" % a.sock)
        # ... and bound nothing of its own.
        check(not os.path.exists(a.unbound), "vmmd bound %s although it was socket-activated" % a.unbound)
        log = read(a.log_path)
        check("fd from systemd" in log, "vmmd did not log that it took the socket from systemd:\n%s" % log)
        # The installed vmmctl talks to it too.
        ctl = os.path.join(os.path.dirname(os.path.dirname(vmmd)), "bin", "vmmctl")
        p = subprocess.run([ctl, "--socket", a.sock, "version"], capture_output=True, timeout=30)
        check(p.returncode == 0 and b"version" in p.stdout,
              "installed vmmctl version failed (%d): %s" % (p.returncode, (p.stdout + p.stderr)[-500:]))
        rc = a.terminate()
        check(rc == 0, "activated vmmd exited with %s on SIGTERM%s" % (a.exit_text(), a.log_tail()))
        check(os.path.exists(a.sock), "vmmd removed the socket it did not create (%s)" % a.sock)
    finally:
        a.stop()


def test_socket_activation(d):
    check_socket_activation(os.path.join(installed(), "usr/sbin/vmmd"))


def test_notify_ready_status_watchdog(d):
    root = installed()
    a = activated(os.path.join(root, "usr/sbin/vmmd"))
    listener = NotifyListener(os.path.join(a.tmp, "notify.sock"))
    a.env = {"NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "300000"}
    try:
        a.start()
        ready = listener.wait(lambda m: "READY" in m, 10, "READY=1")
        check(ready.get("READY") == "1", "READY message: %s" % show(ready))
        check(ready.get("STATUS") == "0 VMs, 0 running, 0 paused",
              "STATUS with READY=1 is %s" % show(ready.get("STATUS")))
        # Pings at half of 300 ms: at least 3 within a second.
        t0 = time.monotonic()
        time.sleep(1.0)
        pings = [m for m in listener.messages() if m.get("WATCHDOG") == "1"]
        check(len(pings) >= 3, "%d WATCHDOG=1 pings in %.1f s with WATCHDOG_USEC=300000"
              % (len(pings), time.monotonic() - t0))
        # STATUS follows the VM count ...
        c = Conn(a.sock)
        kernel = PREFIX + "/share/vmmd/guests/hello.elf"
        cfg = {"name": "st", "kernel": root + kernel, "cmdline": "exit=0"}
        vmmtest.result_of(c.call("vm.create", {"config": cfg}), "vm.create")
        listener.wait(lambda m: m.get("STATUS") == "1 VM, 0 running, 0 paused", 5, "STATUS after vm.create")
        # ... and the running count (needs KVM).
        if vmmtest.kvm_problem() is None:
            cfg2 = {"name": "spin", "kernel": os.path.join(vmmtest.B, "guests", "spin.elf")}
            vmmtest.result_of(c.call("vm.create", {"config": cfg2}), "vm.create spin")
            vmmtest.result_of(c.call("vm.start", {"name": "spin"}), "vm.start spin")
            listener.wait(lambda m: m.get("STATUS") == "2 VMs, 1 running, 0 paused", 10,
                          "STATUS with a running VM")
            vmmtest.result_of(c.call("vm.stop", {"name": "spin", "force": True}), "vm.stop spin")
            listener.wait(lambda m: m.get("STATUS") == "2 VMs, 0 running, 0 paused", 10,
                          "STATUS after vm.stop")
            vmmtest.result_of(c.call("vm.destroy", {"name": "spin"}), "vm.destroy spin")
        vmmtest.result_of(c.call("vm.destroy", {"name": "st"}), "vm.destroy")
        listener.wait(lambda m: m.get("STATUS") == "0 VMs, 0 running, 0 paused", 5, "STATUS after vm.destroy")
        c.close()
        a.proc.send_signal(signal.SIGTERM)
        listener.wait(lambda m: m.get("STOPPING") == "1", 10, "STOPPING=1")
        rc = a.terminate()
        check(rc == 0, "vmmd exited with %s on SIGTERM%s" % (a.exit_text(), a.log_tail()))
    finally:
        listener.close()
        a.stop()


def test_no_watchdog_without_request(d):
    """Without WATCHDOG_USEC: READY=1, no pings; without NOTIFY_SOCKET vmmd
    runs as ever (the other tests)."""
    a = activated(os.path.join(installed(), "usr/sbin/vmmd"))
    listener = NotifyListener(os.path.join(a.tmp, "notify.sock"))
    a.env = {"NOTIFY_SOCKET": listener.path}
    try:
        a.start()
        listener.wait(lambda m: m.get("READY") == "1", 10, "READY=1")
        time.sleep(0.5)
        pings = [m for m in listener.messages() if "WATCHDOG" in m]
        check(not pings, "WATCHDOG=1 sent although systemd asked for no watchdog: %s" % show(pings))
    finally:
        listener.close()
        a.stop()


def test_deb_package(d):
    need("dpkg-deb", "dpkg")
    out = make("deb")
    debs = sorted(glob.glob(os.path.join(vmmtest.B, "vmmd_*.deb")), key=os.path.getmtime)
    check(debs, "make deb made no %s/vmmd_*.deb (output: %s)" % (vmmtest.B, out[-500:]))
    deb = debs[-1]
    info = subprocess.run(["dpkg-deb", "--field", deb], capture_output=True, timeout=60)
    fields = info.stdout.decode(errors="replace")
    with open(os.path.join(vmmtest.ROOT, "VERSION")) as f:
        version = f.read().strip()
    for want in ("Package: vmmd", "Version: %s\n" % version, "Architecture: ", "Depends: ", "libjson-c",
                 "libevent"):
        check(want in fields, "%s's control lacks %r:\n%s" % (os.path.basename(deb), want, fields))
    root = os.path.join(TMP, "deb-root")
    shutil.rmtree(root, ignore_errors=True)
    p = subprocess.run(["dpkg", "-x", deb, root], capture_output=True, timeout=60)
    check(p.returncode == 0, "dpkg -x failed: %s" % (p.stdout + p.stderr).decode(errors="replace"))
    for rel in ("usr/sbin/vmmd", "usr/bin/vmmctl", "lib/systemd/system/vmmd.service",
                "lib/systemd/system/vmmd.socket", "usr/lib/sysusers.d/vmmd.conf",
                "usr/lib/tmpfiles.d/vmmd.conf", "usr/share/man/man8/vmmd.8.gz",
                "usr/share/man/man1/vmmctl.1.gz", "usr/share/doc/vmmd/copyright",
                "usr/share/vmmd/examples/hello.json", "usr/share/vmmd/guests/hello.elf",
                "usr/sbin/vmmweb", "lib/systemd/system/vmmweb.service", "usr/share/man/man8/vmmweb.8.gz",
                "usr/share/vmmd/web/index.html"):
        check(os.path.isfile(os.path.join(root, rel)), "%s does not contain /%s" % (os.path.basename(deb), rel))
    unit = read(os.path.join(root, "lib/systemd/system/vmmd.service"))
    check("ExecStart=/usr/sbin/vmmd " in unit, "the packaged unit's ExecStart is wrong:\n%s" % unit)
    ctl = os.path.join(TMP, "deb-control")
    shutil.rmtree(ctl, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-e", deb, ctl], check=True, timeout=60)
    for script in ("postinst", "prerm", "postrm"):
        check(os.access(os.path.join(ctl, script), os.X_OK), "the package has no executable %s" % script)
    # Installed from the package, it starts under socket activation.
    check_socket_activation(os.path.join(root, "usr/sbin/vmmd"))


if __name__ == "__main__":
    vmmtest.main()
