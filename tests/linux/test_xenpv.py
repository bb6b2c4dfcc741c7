#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Xen PV tier (docs/xenpv.md): Linux in shadow mode through the Xen PV
ABI, on this project's hosts without VT-x as much as on any other.

- The test kernel of scripts/build-linux-guest (tinyconfig plus PARAVIRT,
  XEN, XEN_PV, HVC_XEN), its vmlinux booted as "xen-pv": with the tiny
  /init (tests/linux/init.c), which powers off (SCHEDOP_shutdown), also as
  its lz4 bzImage with boot "auto" (vmmd unpacks it and sees the notes); and with
  the busybox initramfs
  (scripts/build-initramfs) running tests/linux/pvtest.sh: uname, arithmetic,
  /proc/interrupts, a pipeline, fork+exec of /bin/true, a 64 MiB sha256sum,
  then a command typed on the console, then `poweroff -f`.
- The acceptance test: Debian's stock kernel (scripts/get-debian-kernel),
  the same script. Skipped, saying so, where it cannot be fetched.

PV_FORKS (default 20 here, 1000 in make check-long) sets the fork count: a
fork+exec+exit costs about a second on this project's machines today
(docs/PERFORMANCE.md B11)."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import vmmtest  # noqa: E402
from vmmtest import check, kvm, show, wait_for  # noqa: E402

ROOT = vmmtest.ROOT
LINUX = os.path.join(vmmtest.B, "linux")
FORKS = int(os.environ.get("PV_FORKS", "20"))
BOOT_TIMEOUT = float(os.environ.get("PV_BOOT_TIMEOUT", "600"))
SCRIPT_TIMEOUT = 120.0 + 8.0 * FORKS
SHA256_ZEROS_64M = "3b6a07d0d404fab4e23b6d34bc6696a6a312dd92821332385e5af7c01c421351"
CMDLINE = "console=hvc0 earlyprintk=xen mitigations=off panic=-1"


def artifact(name):
    path = os.path.join(LINUX, name)
    check(os.path.exists(path), "%s missing: run scripts/build-linux-guest (make check-linux does)" % path)
    return path


def busybox_initramfs():
    out = os.path.join(vmmtest.B, "initramfs", "pvtest.cpio.gz")
    script = os.path.join(ROOT, "tests", "linux", "pvtest.sh")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(script):
        r = subprocess.run([os.path.join(ROOT, "scripts", "build-initramfs"), out, "pvtest=" + script],
                           cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, B=vmmtest.B))
        if r.returncode != 0:
            raise vmmtest.Skip("no busybox initramfs: " + r.stderr.strip())
    return out


def debian_kernel():
    r = subprocess.run([os.path.join(ROOT, "scripts", "get-debian-kernel")], cwd=ROOT, capture_output=True,
                       text=True, env=dict(os.environ, B=vmmtest.B))
    if r.returncode != 0 or not r.stdout.strip():
        raise vmmtest.Skip("Debian's kernel could not be fetched (scripts/get-debian-kernel): " + r.stderr.strip()[-300:])
    return r.stdout.strip()


def run_pv(d, name, kernel, initrd, cmdline, memory_mib=256, boot="xen-pv"):
    cfg = {"name": name, "memory_mib": memory_mib, "paging": "shadow", "boot": boot, "kernel": kernel,
           "initrd": initrd, "cmdline": cmdline}
    path = os.path.join(d.tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    t0 = time.monotonic()
    d.ctl("run", path)
    return t0


def wait_console(d, name, what, timeout, after=0):
    def seen():
        text = d.console_text(name)
        return what in text[after:] or d.state(name) != "running"
    wait_for(seen, timeout, 0.5, "%s: %r on the console" % (name, what))
    text = d.console_text(name)
    check(what in text[after:], "%s: no %r (state %s, exit %s): %s" % (
        name, what, d.state(name), show(d.info(name).get("exit")), show(text[-3000:], 3000)))
    return text


def type_line(d, name, line):
    import base64
    d.call("vm.console.write", {"name": name, "data": base64.b64encode(line.encode()).decode()})


def pvtest_lines(text):
    return {m.group(1): m.group(2) for m in re.finditer(r"^pvtest: (\w+) (.*?)\r?$", text, re.M)}


def check_script_and_shell(d, name):
    """pvtest.sh's lines, then a command typed on hvc0, then poweroff."""
    text = wait_console(d, name, "pvtest: done", SCRIPT_TIMEOUT)
    got = pvtest_lines(text)
    check("x86_64" in got.get("uname", ""), "uname -a ran: %s" % show(got))
    check(got.get("arith") == "42 1048576", "arithmetic: %s" % show(got))
    check(re.match(r"[1-9]\d* xen lines", got.get("interrupts", "")), "/proc/interrupts lists Xen events: %s" % show(got))
    check(got.get("pipe") == "8", "a pipeline (echo | tr | rev | wc): %s" % show(got))
    forks = re.match(r"(\d+) from ([\d.]+) to ([\d.]+)", got.get("forks", ""))
    check(forks and int(forks.group(1)) == FORKS, "fork+exec loop: %s" % show(got))
    sha = re.match(r"(\w+) from ([\d.]+) to ([\d.]+)", got.get("sha256", ""))
    check(sha and sha.group(1) == SHA256_ZEROS_64M, "sha256sum of 64 MiB: %s" % show(got))
    per_fork_ms = (float(forks.group(3)) - float(forks.group(2))) * 1000 / max(FORKS, 1)
    # The shell on hvc0 takes typed input.
    pos = len(d.console_text(name))
    type_line(d, name, "echo typed-$((40 + 2))\n")
    wait_console(d, name, "typed-42", 120.0, after=pos)
    type_line(d, name, "poweroff -f\n")
    d.wait_state(name, ["stopped", "crashed"], 120.0)
    exit_ = d.info(name)["exit"]
    check(d.state(name) == "stopped" and exit_["reason"] == "poweroff" and exit_["code"] == 0,
          "poweroff -f ends the VM stopped, code 0: %s %s" % (d.state(name), show(exit_)))
    stats = d.call("stats.get", {"name": name})
    hc = stats.get("hypercalls") or {}
    check(hc.get("total", 0) > 1000 and "iret" in hc.get("by_number", {}), "hypercalls counted: %s" % show(hc))
    check(stats["events"]["virq"]["timer"] > 100, "VIRQ_TIMER drives the clock: %s" % show(stats["events"]))
    print("  %s: %.1f ms per fork+exec over %d, sha256 of 64 MiB in %.2f s, %d hypercalls" % (
        name, per_fork_ms, FORKS, float(sha.group(3)) - float(sha.group(2)), hc["total"]))


def tiny_init_powers_off(d, name, kernel, boot="xen-pv"):
    """The tiny /init: runs as pid 1, prints its lines and powers off: the
    test kernel has no ioperm(), so init's reboot(RB_POWER_OFF) becomes
    SCHEDOP_shutdown(poweroff) and the VM ends stopped (XENPV.md stage 3)."""
    t0 = run_pv(d, name, kernel, artifact("initramfs.cpio.gz"), CMDLINE, boot=boot)
    text = wait_console(d, name, "Run /init as init process", BOOT_TIMEOUT)
    check("Booting kernel on Xen" in text and "Xen version: 4.17" in text, "a Xen PV boot: %s" % show(text[:3000], 3000))
    d.wait_state(name, ["stopped", "crashed"], 120.0)
    text = d.console_text(name)
    check("vmmd-init: running as pid 1" in text, "init ran: %s" % show(text[-2000:], 2000))
    exit_ = d.info(name)["exit"]
    check(d.state(name) == "stopped" and exit_["reason"] in ("poweroff", "debug-exit") and exit_["code"] in (0, 1),
          "init powered off: %s" % show(exit_))
    boot = d.info(name)["boot"]
    check(boot["kind"] == "xen-pv" and "noreplace-smp" in boot["cmdline"], "vm.info boot: %s" % show(boot))
    print("  %s: vm.start to power-off in %.1f s" % (name, time.monotonic() - t0))


@kvm
def test_tiny_pv_kernel_init_powers_off(d):
    tiny_init_powers_off(d, "pvtiny", artifact("vmlinux"))


@kvm
def test_lz4_bzimage_boots_as_xen_pv(d):
    """The same kernel as its bzImage, whose payload is lz4 (the kernel's
    legacy frame): vmmd unpacks it with liblz4, finds the Xen notes and,
    with boot "auto" in shadow mode, boots it as Xen PV."""
    tiny_init_powers_off(d, "pvlz4", artifact("bzImage"), boot="auto")


@kvm
def test_tiny_pv_kernel_busybox(d):
    run_pv(d, "pvbusybox", artifact("vmlinux"), busybox_initramfs(),
           CMDLINE + " vmmd.run=pvtest vmmd.forks=%d" % FORKS)
    wait_console(d, "pvbusybox", "Run /init as init process", BOOT_TIMEOUT)
    check_script_and_shell(d, "pvbusybox")


@kvm
def test_debian_stock_kernel(d):
    """The acceptance test: Debian's own kernel (a bzImage, xz inside)."""
    kernel = debian_kernel()
    t0 = run_pv(d, "debian", kernel, busybox_initramfs(), CMDLINE + " vmmd.run=pvtest vmmd.forks=%d" % FORKS)
    text = wait_console(d, "debian", "Run /init as init process", BOOT_TIMEOUT)
    check(re.search(r"Linux version 6\.1\.\S+-amd64 \(debian-kernel@lists\.debian\.org\)", text),
          "Debian's kernel banner: %s" % show(text[:2000], 2000))
    # As under Xen, a PV guest has no keyboard controller: Linux's probe
    # ends at once instead of timing out 10,000 status reads.
    check("i8042: No controller found" in text, "no i8042 for a PV guest: %s" % show(
        "\n".join(l for l in text.splitlines() if "i8042" in l), 1000))
    print("  debian: vm.start to /init in %.1f s" % (time.monotonic() - t0))
    check_script_and_shell(d, "debian")


if __name__ == "__main__":
    vmmtest.main()
