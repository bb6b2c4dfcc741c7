#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Multi-vCPU introspection: the smp guest starts vCPU 1 with INIT/SIPI
through the in-kernel LAPIC (real mode -> long mode, emulated by KVM on
hosts without VT-x); both CPUs print, then spin in functions of their
own, so vcpu.state must show two RIPs, each inside its CPU's function;
reading one vCPU leaves the other running."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from guestelf import GuestElf  # noqa: E402
from vmmtest import check, expect_error, fail, kvm, show, wait_for  # noqa: E402

INVALID_PARAMS = -32602


def inside(elf, sym, rip):
    start, size = elf.symbol(sym)
    return start <= rip < start + size


@kvm
def test_two_vcpus_two_rips(d):
    d.run_vm("smp", "smp", vcpus=2)
    text = wait_for(lambda: "smp: both cpus spinning" in d.console_text("smp") and d.console_text("smp"), 30,
                    what="both CPUs of the smp guest")
    check("smp: cpu 0 up (2 vcpus)" in text and "smp: cpu 1 up (apic id 1)" in text, "console: %s" % show(text))
    elf = GuestElf(vmmtest.guest_path("smp"))
    # The line on the console does not mean its printf has returned: each
    # CPU goes on to its loop a few instructions (and, on a loaded host,
    # maybe a time slice) later. Wait until both are there.
    seen = []

    def in_their_loops():
        s0 = d.call("vcpu.state", {"name": "smp", "vcpu": 0})
        s1 = d.call("vcpu.state", {"name": "smp", "vcpu": 1})
        seen[:] = [s0["regs"]["rip"], s1["regs"]["rip"]]
        return (inside(elf, "spin_cpu0", seen[0]) and inside(elf, "spin_cpu1", seen[1])) and (s0, s1)
    try:
        s0, s1 = wait_for(in_their_loops, 10, 0.05, "each vCPU in its spin loop")
    except vmmtest.Failure:
        fail("vCPU 0's rip 0x%x should be in spin_cpu0 %s, vCPU 1's 0x%x in spin_cpu1 %s"
             % (seen[0], show(elf.symbol("spin_cpu0")), seen[1], show(elf.symbol("spin_cpu1"))))
    r0, r1 = s0["regs"]["rip"], s1["regs"]["rip"]
    check(r0 != r1, "the two vCPUs show the same rip 0x%x" % r0)
    check(s0["sregs"]["apic_base"] & 0x100 and not s1["sregs"]["apic_base"] & 0x100,
          "only vCPU 0 is the bootstrap processor: %s / %s" % (hex(s0["sregs"]["apic_base"]), hex(s1["sregs"]["apic_base"])))
    # vCPU 1 came through the trampoline: long mode on vmmd's page tables, its own GDT at 0x10000.
    check(s1["sregs"]["cr3"] == 0x2000 and s1["sregs"]["efer"] & 0x400 and s1["sregs"]["cs"]["l"],
          "vCPU 1 in long mode: %s" % show(s1["sregs"]))
    check(0x10000 <= s1["sregs"]["gdt"]["base"] < 0x11000, "vCPU 1's GDT is the trampoline's: %s"
          % show(s1["sregs"]["gdt"]))
    check(s0["mp_state"] == "runnable" and s1["mp_state"] == "runnable", "mp states: %s %s"
          % (s0["mp_state"], s1["mp_state"]))
    # Both make progress: their counters in guest memory grow.
    spins = elf.symbol("smp_spins")[0]
    def counters():
        import base64, struct
        r = d.call("mem.read", {"name": "smp", "addr": spins, "len": 16, "space": "virtual", "vcpu": 1})
        return struct.unpack("<QQ", base64.b64decode(r["data"]))
    a = counters()
    b = wait_for(lambda: (lambda c: c[0] > a[0] and c[1] > a[1] and c)(counters()), 10,
                 what="both CPUs' spin counters to grow")
    check(b[1] % 3 == 0, "vCPU 1 counts in threes: %s" % show(b))
    t = d.call("mmu.translate", {"name": "smp", "addr": spins, "vcpu": 1})
    check(t["physical"] == spins and t["vcpu"] == 1, "translate on vCPU 1: %s" % show(t))
    st = d.call("stats.get", {"name": "smp"})
    check(len(st["vcpus"]) == 2 and st["vcpus"][1]["io"] > 0, "vCPU 1 printed, so it has io exits: %s" % show(st))
    out = d.ctl("regs", "smp", "--vcpu", "1", json=False)
    check(("rip %016x" % r1)[:12] in out and out.startswith("vcpu 1"), "vmmctl regs --vcpu 1: %s" % show(out))
    expect_error(d.rpc("vcpu.state", {"name": "smp", "vcpu": 2}), INVALID_PARAMS, "InvalidParams", what="vcpu 2")
    r = d.ctl("regs", "smp", "--vcpu", "2", check=False)
    check(r.rc == 1 and "InvalidParams" in r.err, "vmmctl regs --vcpu 2: %r" % r)
    d.call("vm.stop", {"name": "smp", "force": True})


@kvm
def test_reading_one_vcpu_leaves_the_other_running(d):
    """Issue 14, finding 14: every inspection call used to pause every
    vCPU, so a read user slowed the whole guest. Reading vCPU 0's registers,
    walks and memory by virtual address now parks vCPU 0 alone: vCPU 1 is
    never kicked (its `intr` exits stay put) and keeps counting meanwhile."""
    d.run_vm("smp2", "smp", vcpus=2)
    wait_for(lambda: "smp: both cpus spinning" in d.console_text("smp2"), 30, what="both CPUs of the smp guest")
    elf = GuestElf(vmmtest.guest_path("smp"))
    spins = elf.symbol("smp_spins")[0]

    def intr():
        return [v["intr"] for v in d.call("stats.get", {"name": "smp2"})["vcpus"]]
    before = intr()
    for i in range(20):
        st = d.call("vcpu.state", {"name": "smp2", "vcpu": 0})
        check(st["paused"] is False, "read while running: %s" % show(st)[:200])
        d.call("mmu.translate", {"name": "smp2", "addr": spins, "vcpu": 0})
        d.call("mem.read", {"name": "smp2", "addr": spins, "len": 16, "space": "virtual", "vcpu": 0})
    after = intr()
    # Back-to-back reads may find vCPU 0 still parked from the last one: fewer kicks than reads.
    check(after[0] > before[0], "vCPU 0 was kicked for the reads: %s -> %s" % (before, after))
    check(after[1] - before[1] < 5, "vCPU 1 must not be kicked when vCPU 0 is read: intr %s -> %s" % (before, after))
    d.call("vm.stop", {"name": "smp2", "force": True})


@kvm
def test_smp_guest_needs_two_vcpus(d):
    d.run_vm("smp1", "smp")
    inf = d.wait_state("smp1", ("stopped", "crashed"))
    check(inf["exit"]["reason"] == "debug-exit" and inf["exit"]["code"] == 3,
          "with one vCPU smp exits with code 1 (status 3): %s" % show(inf["exit"]))


if __name__ == "__main__":
    vmmtest.main()
