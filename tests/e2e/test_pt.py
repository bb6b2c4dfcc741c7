#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The pt guest (guests/pt.c): two address spaces, mov cr3, invlpg, its own
kernel #PF, user mode with syscall/sysretq and int 0x80/iretq, user #DE and
#PF. Its console output is the same byte for byte on every host and in every
mode: hw mode is checked against the full expected text, shadow mode (both
strategies) against the same text, QEMU TCG (native syscall/int paths)
against it too, and `verbose` shows which entry path the host gave. One
line depends on the CPU: QEMU's TCG leaves P out of a reserved-bit #PF's
error code (host quirk rsvd-pf-error-lacks-p), in hw mode on a TCG host
and under QEMU directly; vmmd's shadow mode reflects what hardware gives."""

import difflib
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import Skip, check, kvm, show  # noqa: E402

PT_EXIT_OK = 42
EXPECTED = (
    "pt: two address spaces: kernel 0-8 MiB shared, user pages at 0x8000000000\n"
    "pt: cr3 -> address space A: 0x8000010000 holds 'page of process 1'\n"
    "pt: cr3 -> address space B: 0x8000010000 holds 'page of process 2'\n"
    "pt: invlpg: 0x8000030000 held 'old frame', after the PTE change it holds 'new frame'\n"
    "pt: kernel #PF: cr2=0x40000000 err=0x2, mapping a fresh page\n"
    "pt: kernel write retried: 0x40000000 holds 0x1234abcd\n"
    "pt: kernel #PF on a reserved bit: cr2=0x40200000 err=0x9, clearing it\n"
    "pt: kernel read retried after the reserved bit was cleared\n"
    "pt: process 1 (address space A): entering user mode\n"
    "user: hello from user mode via syscall\n"
    "user: hello from user mode via int 0x80\n"
    "user: my page at 0x8000010000 holds 'page of process 1'\n"
    "pt: process 1 exited with status 0\n"
    "pt: process 2 (address space B): entering user mode\n"
    "user: my page at 0x8000010000 holds 'page of process 2'\n"
    "pt: user #DE at rip=0x8000000300, killing process 2\n"
    "pt: process 3 (address space A): entering user mode\n"
    "pt: user #PF at rip=0x8000000380 cr2=0x100000 err=0x5, killing process 3\n"
    "pt: all checks passed\n"
).encode()

# Where the CPU is QEMU's TCG, a reserved-bit #PF's error code lacks P.
RSVD_HW, RSVD_TCG = b"cr2=0x40200000 err=0x9,", b"cr2=0x40200000 err=0x8,"


def expected(quirks):
    """EXPECTED as a CPU with these host quirks (vmmtest.HOST_QUIRKS) prints it."""
    if "rsvd-pf-error-lacks-p" in quirks:
        return EXPECTED.replace(RSVD_HW, RSVD_TCG)
    return EXPECTED


def expected_hw(d):
    """What hw mode prints on d's host: its CPU handles pt's faults itself."""
    return expected({q for q in vmmtest.KNOWN_QUIRKS if vmmtest.host_has(d, q)})


# `verbose` adds this before the last line: 7 syscalls (probe 2, process 1
# five) and 5 int 0x80s (probe 1, process 2 four), all on one path.
PATHS_RE = re.compile(rb"pt: entry paths: syscall (native|fault) \((\d+) native, (\d+) fault\), "
                      rb"int 0x80 (native|fault) \((\d+) native, (\d+) fault\)\n")


def diff(want, got, a="expected", b="got"):
    lines = difflib.unified_diff(want.decode(errors="replace").splitlines(True),
                                 got.decode(errors="replace").splitlines(True), a, b)
    return "".join(lines) or "(no line differs; bytes do: %s vs %s)" % (show(want, 200), show(got, 200))


def console_bytes(d, name):
    out, pos = b"", 0
    for _ in range(64):
        data, nxt, _r = d.console(name, pos)
        out += data
        if not data or nxt == pos:
            break
        pos = nxt
    return out


def check_exit(inf, what):
    ex = inf.get("exit") or {}
    check(inf.get("state") == "stopped" and ex.get("reason") == "debug-exit",
          "%s: must stop through the debug-exit port: %s" % (what, show(inf)))
    check(ex.get("code") == (PT_EXIT_OK << 1) | 1,
          "%s: exit code must be %d ((%d << 1) | 1, all checks passed): %s"
          % (what, (PT_EXIT_OK << 1) | 1, PT_EXIT_OK, show(ex)))


def finish(d, name, what):
    """Wait for the VM to end; return its console bytes after checking the exit."""
    inf = d.wait_state(name, ("stopped", "crashed"), timeout=120)
    out = console_bytes(d, name)
    check(inf.get("state") != "crashed", "%s crashed: %s\n  console:\n%s" % (what, show(inf), out.decode(errors="replace")))
    check_exit(inf, what)
    return out


def run_config(d, name, **fields):
    d.run_vm(name, "pt", memory_mib=16, **fields)
    return finish(d, name, name)


@kvm
def test_pt_hw(d):
    d.ctl("run", vmmtest.example_config(d, "pt"))
    out = finish(d, "pt", "config/examples/pt.json")
    want = expected_hw(d)
    check(out == want, "pt in hw mode printed something else:\n%s" % diff(want, out))


@kvm
def test_pt_verbose_entry_paths(d):
    out = run_config(d, "pt-verbose", cmdline="verbose")
    m = PATHS_RE.search(out)
    check(m, "pt verbose must print the entry paths line: %s" % show(out[-400:]))
    sys_path, sys_native, sys_fault, int_path, int_native, int_fault = m.groups()
    counts = {b"native": (int(sys_native), int(int_native)), b"fault": (int(sys_fault), int(int_fault))}
    check(counts[sys_path][0] == 7 and int(sys_native) + int(sys_fault) == 7,
          "all 7 syscalls must come the probed way (%s): %s" % (sys_path.decode(), m.group(0)))
    check(counts[int_path][1] == 5 and int(int_native) + int(int_fault) == 5,
          "all 5 int 0x80s must come the probed way (%s): %s" % (int_path.decode(), m.group(0)))
    # The way this host delivers them: hardware (and QEMU) natively, PVM by faults.
    want = (b"fault" if vmmtest.host_has(d, "syscall-stays-at-cpl3") else b"native",
            b"fault" if vmmtest.host_has(d, "int-n-is-ud") else b"native")
    check((sys_path, int_path) == want, "a %s host delivers syscall %s and int 0x80 %s: %s"
          % (vmmtest.host_kind(d), want[0].decode(), want[1].decode(), m.group(0)))
    without = out[:m.start()] + out[m.end():]
    check(without == expected_hw(d), "verbose must only add the paths line:\n%s" % diff(expected_hw(d), without))


@kvm
def test_pt_shadow_matches_hw(d):
    # vmmd computes the error codes it reflects as hardware does: its output
    # is EXPECTED on every host, hw mode's only where the CPU does too.
    hw = run_config(d, "pt-hw-reference")
    check(hw == expected_hw(d), "pt in hw mode:\n%s" % diff(expected_hw(d), hw))
    hw = EXPECTED
    d.ctl("run", vmmtest.example_config(d, "pt-shadow"))
    shadow = finish(d, "pt-shadow", "config/examples/pt-shadow.json")
    check(shadow == hw, "pt in shadow mode differs from hw mode:\n%s" % diff(hw, shadow, "hw", "shadow"))
    for strategy in ("cached", "vtlb"):
        name = "pt-" + strategy
        out = run_config(d, name, paging="shadow", shadow={"strategy": strategy})
        check(out == hw, "pt in shadow mode (%s) differs from hw mode:\n%s"
              % (strategy, diff(hw, out, "hw", "shadow/" + strategy)))


def test_pt_matches_qemu(d):
    """QEMU's TCG takes syscall and int 0x80 the native way: same text."""
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        raise Skip("qemu-system-x86_64 is not installed")
    cmd = [qemu, "-M", "microvm", "-accel", "tcg", "-m", "16", "-nodefaults", "-no-user-config",
           "-nographic", "-serial", "stdio", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
           "-kernel", vmmtest.guest_path("pt")]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        vmmtest.fail("pt under QEMU did not finish within 120 s")
    if p.returncode != (PT_EXIT_OK << 1) | 1 and b"pt:" not in p.stdout:
        raise Skip("QEMU could not run pt here (exit %d): %s" % (p.returncode, show(p.stderr, 300)))
    check(p.returncode == (PT_EXIT_OK << 1) | 1, "pt under QEMU exited %d, expected %d"
          % (p.returncode, (PT_EXIT_OK << 1) | 1))
    want = expected(vmmtest.HOST_QUIRKS["tcg-svm"])    # the same emulator as make check-nested's
    check(p.stdout == want, "pt under QEMU printed something else:\n%s" % diff(want, p.stdout))


if __name__ == "__main__":
    vmmtest.main()
