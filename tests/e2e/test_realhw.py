#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The realhw guest (guests/realhw.c): a guest written for real hardware,
not for vmmd, with the four cases of issue 12 where shadow mode once
differed from the CPU (far return after lgdt before any IDT; PTEs edited
with btr/bts/xchg/cmpxchg/and on a live page table; R11.IF after syscall
from user mode entered with iretq; the mode after a syscall that never
returns). hw mode is the oracle: it must pass every check, and shadow mode
(both strategies, and with the scattered physmap) must print the same
lines, apart from the lines that name a host quirk below."""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, kvm, show  # noqa: E402

EXIT_OK = 42
CASE_LINES = 5    # cases 1-4 and "all checks passed"

# Host quirks the guest names on its console ("realhw: host quirk NAME: ..."),
# with the mode(s) in which each may appear (DESIGN.md, host quirks; "qemu"
# is QEMU TCG, which has none of them):
HOST_QUIRKS = {
    # KVM without VT-x (PVM): `syscall` at CPL3 jumps to LSTAR without
    # leaving CPL3, so the supervisor LSTAR page faults; the guest's #PF
    # handler finishes the syscall (guests/lib/entry_path.c). vmmd's shadow
    # mode emulates syscall like hardware, so it never shows there.
    "syscall-stays-at-cpl3": ("hw",),
}
QUIRK_PREFIX = "realhw: host quirk "


def run(d, name, cmdline="", **fields):
    d.run_vm(name, "realhw", cmdline, memory_mib=32, **fields)
    inf = d.wait_state(name, ("stopped", "crashed"), timeout=120)
    text = d.console_text(name)
    check(inf.get("state") == "stopped", "%s: %s\n  console:\n%s" % (name, show(inf), text))
    ex = inf.get("exit") or {}
    check(ex.get("reason") == "debug-exit" and ex.get("code") == (EXIT_OK << 1) | 1,
          "%s must pass all its checks (exit %d): %s\n  console:\n%s" % (name, EXIT_OK, show(ex), text))
    return d.info(name), text


def split_quirks(text, mode, what):
    """The lines without host-quirk lines; every quirk line must be a known one for this mode."""
    lines = []
    for line in text.splitlines():
        if line.startswith(QUIRK_PREFIX):
            quirk = line[len(QUIRK_PREFIX):].split(":", 1)[0]
            check(quirk in HOST_QUIRKS, "%s: unknown host quirk %r: %s" % (what, quirk, line))
            check(mode in HOST_QUIRKS[quirk], "%s: host quirk %s must not show in %s mode" % (what, quirk, mode))
            continue
        lines.append(line)
    return lines


@kvm
def test_realhw_shadow_matches_hw(d):
    _, hw_text = run(d, "realhw-hw")
    hw = split_quirks(hw_text, "hw", "hw mode")
    check(len(hw) == CASE_LINES and hw[-1] == "realhw: all checks passed",
          "hw mode must print one line per case: %s" % show(hw_text))
    variants = [("cached", {"strategy": "cached"}), ("vtlb", {"strategy": "vtlb"}),
                ("cached-scatter", {"strategy": "cached", "scatter": True}),
                ("vtlb-scatter", {"strategy": "vtlb", "scatter": True})]
    for label, shadow in variants:
        info, text = run(d, "realhw-" + label, paging="shadow", shadow=shadow)
        got = split_quirks(text, "shadow", "shadow mode (%s)" % label)
        check(got == hw, "shadow mode (%s) differs from hw mode:\n  hw:     %s\n  shadow: %s"
              % (label, show(hw), show(got)))
        traps = (info.get("stats") or {}).get("traps") or {}
        by_class = traps.get("by_class") or {}
        if shadow["strategy"] == "cached":
            # Case 2 edits a live, write-protected page table: emulated
            # writes, and one vmmd leaves to the CPU after unprotecting.
            check(by_class.get("page_fault_pt_write", 0) >= 8,
                  "cached: case 2's PTE edits must be page-table writes: %s" % show(traps))
            emulated = traps.get("pt_write_by_mnemonic") or {}
            for m in ("btr", "bts", "xchg", "cmpxchg", "and", "mov"):
                check(emulated.get(m, 0) >= 1, "cached: %s must be emulated: %s" % (m, show(traps)))
            check(traps.get("pt_write_native") == 1 and (traps.get("pt_write_native_by_mnemonic") or {}).get("fnstsw") == 1,
                  "cached: fnstsw must run natively once, unprotected: %s" % show(traps))
            human = d.ctl("info", "realhw-" + label, json=False)
            check("pt unshadowed: 1 (fnstsw 1)" in human and "\ntraps:" in human,
                  "vmmctl info shows the traps and the page-table writes left to the CPU: %s" % human)


@kvm
def test_realhw_each_case_alone(d):
    """Each case also passes on its own (case 1 always runs: it sets up the CPU)."""
    for n in (2, 3, 4):
        for strategy in ("cached", "vtlb"):
            _, text = run(d, "realhw-only%d-%s" % (n, strategy), "only=%d" % n,
                          paging="shadow", shadow={"strategy": strategy})
            check(("realhw: case %d:" % n) in text, "only=%d must run case %d: %s" % (n, n, show(text)))


def test_realhw_matches_qemu(d):
    """QEMU TCG, an oracle we did not write, prints the same lines (no quirk there)."""
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        raise vmmtest.Skip("qemu-system-x86_64 is not installed")
    _, hw_text = run(d, "realhw-hw-for-qemu") if vmmtest.kvm_problem() is None else (None, None)
    cmd = [qemu, "-M", "microvm", "-accel", "tcg", "-m", "32", "-nodefaults", "-no-user-config", "-nographic",
           "-serial", "stdio", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
           "-kernel", vmmtest.guest_path("realhw")]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        vmmtest.fail("realhw under QEMU did not finish within 120 s")
    text = p.stdout.decode(errors="replace")
    check(p.returncode == (EXIT_OK << 1) | 1, "realhw under QEMU exited %d, expected %d:\n%s"
          % (p.returncode, (EXIT_OK << 1) | 1, text))
    got = split_quirks(text, "qemu", "QEMU TCG")
    check(len(got) == CASE_LINES, "QEMU: one line per case: %s" % show(text))
    if hw_text is not None:
        check(got == split_quirks(hw_text, "hw", "hw mode"), "QEMU differs from hw mode:\n  hw:   %s\n  qemu: %s"
              % (show(hw_text), show(text)))


if __name__ == "__main__":
    vmmtest.main()
