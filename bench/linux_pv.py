# SPDX-License-Identifier: MIT
"""B10-B12's one session (bench/b10_linux_boot.py, b11_linux_fork.py,
b12_linux_sha.py): Debian's stock kernel and one busybox initramfs, booted

  - by vmmd in shadow mode as a Xen PV guest (docs/xenpv.md), and
  - by QEMU with TCG (`-accel tcg`: what a user without VT-x would pick),

side by side in the same run, and the same work natively on the host:

  B10  wall time from vm.start (QEMU: its start) to "Run /init"
  B11  fork+exec+wait of /bin/true in a busybox shell loop
  B12  sha256sum of 64 MiB (a file in tmpfs; the dd | sha256sum pipe too)

The guest runs bench/linux-bench.sh (/init's vmmd.run=bench), which waits
for a line on its console before each phase, so the harness can take
vmmd's stats.get just before and after: traps by class, hypercalls, shadow
fills, pool zaps and page-table switches per fork+exec and per sha256.

The session's raw figures are kept in $B/bench/linux-pv-session.json for
an hour: the three harnesses of one `make bench` share one boot of each.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

ROOT = lib.ROOT
B = os.path.join(ROOT, lib.B) if not os.path.isabs(lib.B) else lib.B
SCRIPT = os.path.join(ROOT, "bench", "linux-bench.sh")
CACHE = os.path.join(B, "bench", "linux-pv-session.json")
CACHE_MAX_AGE_S = 3600
MEMORY_MIB = 256
FULL = {"forks": 50, "boot_timeout_s": 900}
QUICK = {"forks": 3, "boot_timeout_s": 900}
PV_CMDLINE = "console=hvc0 earlyprintk=xen mitigations=off panic=-1 vmmd.run=bench"
TCG_CMDLINE = "console=ttyS0 mitigations=off panic=-1 nr_cpus=1 vmmd.run=bench"
INIT_LINE = "Run /init as init process"


def debian_kernel():
    r = subprocess.run([os.path.join(ROOT, "scripts", "get-debian-kernel")], cwd=ROOT, capture_output=True,
                       text=True, env=dict(os.environ, B=B))
    if r.returncode != 0 or not r.stdout.strip():
        return None, "Debian's kernel could not be fetched (scripts/get-debian-kernel): " + r.stderr.strip()[-300:]
    return r.stdout.strip(), None


def initramfs():
    out = os.path.join(B, "initramfs", "bench.cpio.gz")
    r = subprocess.run([os.path.join(ROOT, "scripts", "build-initramfs"), out, "bench=" + SCRIPT], cwd=ROOT,
                       capture_output=True, text=True, env=dict(os.environ, B=B))
    if r.returncode != 0:
        raise lib.BenchError("no busybox initramfs: " + r.stderr.strip())
    return out


def lines(text):
    """The script's "bench: KEY VALUE..." lines."""
    return {m.group(1): m.group(2).split() for m in re.finditer(r"^bench: (\w+) (.*?)\r?$", text, re.M)}


# --- vmmd ------------------------------------------------------------------------------------

class VmmdGuest:
    def __init__(self, vmmd, kernel, initrd, forks):
        self.vmmd, self.name, self.pos, self.text = vmmd, "b10deb", 0, ""
        self.cfg = {"name": self.name, "memory_mib": MEMORY_MIB, "paging": "shadow", "boot": "xen-pv",
                    "kernel": kernel, "initrd": initrd, "cmdline": PV_CMDLINE + " vmmd.forks=%d" % forks}

    def poll(self):
        while True:
            r = self.vmmd.rpc("vm.console.read", {"name": self.name, "offset": self.pos, "max": 65536})
            data = base64.b64decode(r["data"])
            self.pos = r["offset"]
            if not data:
                return
            self.text += data.decode(errors="replace")

    def wait(self, what, timeout, after=0):
        deadline = time.monotonic() + timeout
        while what not in self.text[after:]:
            if time.monotonic() > deadline:
                raise lib.BenchError("vmmd: no %r within %.0f s:\n%s" % (what, timeout, self.text[-1500:]))
            if self.vmmd.rpc("vm.info", {"name": self.name})["state"] != "running":
                raise lib.BenchError("vmmd: the guest ended: %s\n%s" % (
                    self.vmmd.rpc("vm.info", {"name": self.name}).get("exit"), self.text[-1500:]))
            time.sleep(0.02)
            self.poll()
        return time.monotonic()

    def stats(self):
        return lib.flat_stats(self.vmmd.rpc("stats.get", {"name": self.name}))

    def go(self):
        self.vmmd.rpc("vm.console.write", {"name": self.name, "data": base64.b64encode(b"go\n").decode()})


def run_vmmd(kernel, initrd, cfg):
    out = {}
    with lib.Vmmd() as vmmd:
        g = VmmdGuest(vmmd, kernel, initrd, cfg["forks"])
        vmmd.rpc("vm.create", {"config": g.cfg})
        t0 = time.monotonic()
        vmmd.rpc("vm.start", {"name": g.name})
        t_start = time.monotonic()
        t_init = g.wait(INIT_LINE, cfg["boot_timeout_s"])
        out["boot_s"] = t_init - t0
        out["vm_start_call_s"] = t_start - t0   # the worker unpacks and loads the kernel inside vm.start
        g.wait("bench: ready", 600)
        out["boot_stats"] = g.stats()
        phases = {}
        for phase, marker in (("forks", "bench: forks "), ("sha_file", "bench: sha_file "),
                              ("sha_pipe", "bench: sha_pipe ")):
            before, pos = g.stats(), len(g.text)
            t0 = time.monotonic()
            g.go()
            g.wait(marker, 3600, pos)
            g.wait("\n", 60, g.text.index(marker, pos))
            t1 = time.monotonic()
            after = g.stats()
            phases[phase] = {"wall_s": t1 - t0, "delta": lib.stats_delta(before, after)}
        g.wait("bench: done", 60)
        out["phases"] = phases
        out["lines"] = lines(g.text)
        vmmd.rpc("vm.console.write", {"name": g.name, "data": base64.b64encode(b"poweroff -f\n").decode()})
    return out


# --- QEMU TCG --------------------------------------------------------------------------------

def run_tcg(kernel, initrd, cfg):
    why = lib.qemu_problem()
    if why:
        return {"skipped": why}
    cmd = [lib.QEMU, "-accel", "tcg", "-m", str(MEMORY_MIB), "-smp", "1", "-nodefaults", "-no-user-config",
           "-display", "none", "-serial", "stdio", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
           "-append", TCG_CMDLINE + " vmmd.forks=%d" % cfg["forks"]]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    os.set_blocking(p.stdout.fileno(), False)
    text, out = "", {}

    def wait(what, timeout, after=0):
        nonlocal text
        deadline = time.monotonic() + timeout
        while what not in text[after:]:
            if time.monotonic() > deadline or p.poll() is not None:
                raise lib.BenchError("QEMU TCG: no %r:\n%s" % (what, text[-1500:]))
            try:
                data = p.stdout.read()
            except BlockingIOError:
                data = None
            if data:
                text += data.decode(errors="replace")
            else:
                time.sleep(0.01)
        return time.monotonic()

    try:
        out["boot_s"] = wait(INIT_LINE, cfg["boot_timeout_s"]) - t0
        wait("bench: ready", 600)
        for marker in ("bench: forks ", "bench: sha_file ", "bench: sha_pipe "):
            pos = len(text)
            p.stdin.write(b"go\n")
            p.stdin.flush()
            wait(marker, 3600, pos)
            wait("\n", 60, text.index(marker, pos))
        wait("bench: done", 60)
        out["lines"] = lines(text)
    finally:
        p.kill()
        p.wait()
    return out


# --- native -------------------------------------------------------------------------------------

def run_native(cfg):
    busybox = shutil.which("busybox")
    if not busybox:
        return {"skipped": "no busybox on the host"}
    n = max(cfg["forks"], 200)
    t0 = time.monotonic()
    subprocess.run([busybox, "sh", "-c", 'i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done' % n], check=True)
    fork_s = (time.monotonic() - t0) / n
    tmp = tempfile.mkdtemp(prefix="vmmbench-sha.", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        z = os.path.join(tmp, "z")
        subprocess.run(["dd", "if=/dev/zero", "of=" + z, "bs=1M", "count=64"], check=True, capture_output=True)
        t0 = time.monotonic()
        subprocess.run([busybox, "sha256sum", z], check=True, capture_output=True)
        sha_file_s = time.monotonic() - t0
        t0 = time.monotonic()
        subprocess.run("dd if=/dev/zero bs=1M count=64 2>/dev/null | %s sha256sum" % busybox, shell=True, check=True,
                       capture_output=True)
        sha_pipe_s = time.monotonic() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"fork_s": fork_s, "forks": n, "sha_file_s": sha_file_s, "sha_pipe_s": sha_pipe_s}


# --- the session ------------------------------------------------------------------------------------

def guest_figures(run):
    """Per-fork and per-sha figures from a guest's own /proc/uptime timestamps."""
    got = run.get("lines") or {}
    f = {}
    if "forks" in got:
        n, t0, t1 = int(got["forks"][0]), float(got["forks"][1]), float(got["forks"][2])
        f["fork_s"] = (t1 - t0) / max(n, 1)
    for k in ("sha_file", "sha_pipe"):
        if k in got:
            f[k + "_s"] = float(got[k][2]) - float(got[k][1])
            f[k + "_sum"] = got[k][0]
    return f


def session(quick):
    """The session's figures: cached when this build ran one within the hour."""
    try:
        with open(CACHE) as fh:
            cached = json.load(fh)
        if cached.get("quick") == quick and time.time() - cached.get("time", 0) < CACHE_MAX_AGE_S:
            lib.log("  B10-B12: reusing this hour's session (%s)" % CACHE)
            return cached
    except (OSError, ValueError):
        pass
    cfg = QUICK if quick else FULL
    kernel, why = debian_kernel()
    out = {"quick": quick, "time": time.time(), "git": lib.git_revision(), "config": cfg}
    if not kernel:
        out["skipped"] = why
        return out
    if lib.kvm_problem():
        out["skipped"] = "/dev/kvm not available: " + lib.kvm_problem()
        return out
    initrd = initramfs()
    out["kernel"] = kernel
    lib.log("  B10-B12: vmmd, Debian's kernel as a Xen PV guest (minutes) ...")
    out["vmmd"] = run_vmmd(kernel, initrd, cfg)
    out["vmmd"].update(guest_figures(out["vmmd"]))
    lib.log("  B10-B12: QEMU TCG, the same kernel and initramfs ...")
    out["tcg"] = run_tcg(kernel, initrd, cfg)
    out["tcg"].update(guest_figures(out["tcg"]))
    lib.log("  B10-B12: native ...")
    out["native"] = run_native(cfg)
    os.makedirs(os.path.dirname(CACHE), exist_ok=True)
    with open(CACHE, "w") as fh:
        json.dump(out, fh, indent=1)
    return out


def per(delta, key, n):
    v = delta.get(key)
    return None if v is None else v / n
