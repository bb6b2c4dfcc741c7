#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The differential suite (issue 12): guests/isa runs seeded random cases
over the system instructions a kernel uses and records what it observes
(registers, the frames exceptions push, CR2, error codes) into a log in its
memory (guests/isa/isa.h). The same seed runs in hw mode, the oracle, in
shadow mode with both strategies and with a scattered physmap, and under
QEMU TCG, a second oracle vmmd did not write; every run at once. The logs
are read back with mem.read (QEMU: QMP pmemsave) and compared record by
record with hw mode's. A record may differ only where a list below names
the reason:

  HW_QUIRKS    where hw mode on this host is no oracle: PVM runs guest user
               code natively with the host's GDT, IF and IOPL, and KVM's
               instruction emulator runs guest CPL0 code, with gaps (the
               guest skips what would stop the VM: skip=). Those records
               are compared with QEMU's instead; with no QEMU record either
               they count as "no-oracle".
  QEMU_QUIRKS  where QEMU 7.2 TCG deviates from the architecture: not
               compared with QEMU.
  SHADOW_QUIRKS where shadow mode on this host cannot follow the
               architecture (docs/shadow.md, "Host quirks that remain"):
               compared with nothing.

ISA_CASES (default 5000) and ISA_SEED (default 1; comma-separated for
several) size it; `make check-long` runs 50000 cases each for three seeds.
A record reruns alone: `isa seed=S first=I count=1 trace` prints what the
case did (guests/isa/main.c).
"""

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import Skip, check, kvm, show  # noqa: E402

CASES = int(os.environ.get("ISA_CASES", "5000"))
SEEDS = [int(s) for s in os.environ.get("ISA_SEED", "1").split(",")]
MEMORY_MIB = 32
LOG_ADDR = 0x800000
REC = struct.Struct("<IHHII6Q16Q")          # struct isa_rec (guests/isa/isa.h)
REC_FIELDS = ("index", "kind", "variant", "vector", "error", "cr2", "rip", "cs", "rflags", "rsp", "ss")
NONE, SKIPPED, SYSCALL = 0xffffffff, 0xfffffffe, 0x100
VARIANT_USER = 0x8000
READ_MAX = 1 << 20
DONE_RE = re.compile(r"isa: done: (\d+) records of (\d+) bytes at (0x[0-9a-f]+), checksum (0x[0-9a-f]+)")
KIND_RE = re.compile(r"isa: kind (\d+) (\w+) ([\w,]+)")


class Rec:
    """One record, with names: kind name, fields v[] by the guest's names."""

    def __init__(self, raw, kinds):
        t = REC.unpack(raw)
        for i, f in enumerate(REC_FIELDS):
            setattr(self, f, t[i])
        self.v = list(t[len(REC_FIELDS):])
        self.kname, self.vnames = kinds.get(self.kind, ("?%d" % self.kind, []))
        self.user = bool(self.variant & VARIANT_USER)

    def fields(self):
        """(name, value) of everything but index/kind/variant."""
        out = [(f, getattr(self, f)) for f in REC_FIELDS[3:]]
        for i, val in enumerate(self.v):
            name = self.vnames[i] if i < len(self.vnames) else "v%d" % i
            out.append((name, val))
        return out

    def describe(self):
        how = {NONE: "ran through", SKIPPED: "skipped", SYSCALL: "syscall"}.get(self.vector, "vector %d" % self.vector)
        return "case %d %s variant 0x%x (%s, %s)" % (self.index, self.kname, self.variant,
                                                     "CPL3" if self.user else "CPL0", how)


def parse_kinds(text):
    kinds = {}
    for m in KIND_RE.finditer(text):
        kinds[int(m.group(1))] = (m.group(2), m.group(3).split(","))
    check(kinds, "isa printed no kind table:\n%s" % text[-2000:])
    return kinds


def records(raw, kinds, count):
    check(len(raw) == count * REC.size, "log is %d bytes, expected %d" % (len(raw), count * REC.size))
    return [Rec(raw[i * REC.size:(i + 1) * REC.size], kinds) for i in range(count)]


def cmdline(seed, count, skip=()):
    s = "seed=%d count=%d" % (seed, count)
    return s + (" skip=" + ",".join(skip) if skip else "")


# --- running the guest ------------------------------------------------------------

def host_virt(d):
    return d.call("vmm.version", {}).get("host", {}).get("virt")


class Run:
    """isa in one VM: started at once, collected later (runs overlap)."""

    def __init__(self, d, name, seed, count, skip=(), **fields):
        self.d, self.name, self.count = d, name, count
        self.t0 = time.monotonic()
        d.run_vm(name, "isa", cmdline(seed, count, skip), memory_mib=MEMORY_MIB, **fields)

    def collect(self, timeout=900):
        """Wait for the done line; read the log with mem.read; (records, seconds)."""
        d, name, count = self.d, self.name, self.count
        text = ""
        secs = None

        def done():
            nonlocal text, secs
            text = d.console_text(name)
            if "isa: FAIL" in text or DONE_RE.search(text):
                secs = time.monotonic() - self.t0
                return True
            st = d.state(name)
            check(st == "running", "%s: isa ended before it was done (%s, %s):\n%s"
                  % (name, st, show(d.info(name).get("exit")), text[-3000:]))
            return False
        vmmtest.wait_for(done, timeout=timeout, interval=0.2, what="%s to finish its cases" % name)
        check("isa: FAIL" not in text, "%s: isa failed:\n%s" % (name, text[-3000:]))
        m = DONE_RE.search(text)
        check(int(m.group(1)) == count and int(m.group(2)) == REC.size and int(m.group(3), 16) == LOG_ADDR,
              "%s: unexpected done line %r" % (name, m.group(0)))
        raw = b""
        total = count * REC.size
        while len(raw) < total:
            n = min(READ_MAX, total - len(raw))
            r = d.call("mem.read", {"name": name, "addr": LOG_ADDR + len(raw), "len": n})
            raw += base64.b64decode(r["data"])
        d.call("vm.stop", {"name": name, "force": True})
        return records(raw, parse_kinds(text), count), secs


def qemu_binary():
    return shutil.which("qemu-system-x86_64")


# --- what may differ, by name ----------------------------------------------------------

RF, IF, IOPL, NT = 0x10000, 0x200, 0x3000, 0x4000
RSVD = 8
HOLE_LO, HOLE_HI = 0xffff800000000000, 0xffff880000000000
DR7_READ_AS_0 = 0xd800
GP, SS_, UD, AC, PF = 13, 12, 6, 17, 14
READ_FAULTED = 0xfa17


def dnames(a, b):
    return {n for n, _, _ in differs(a, b)}


def val(r, name):
    return dict(r.fields()).get(name)


def only(a, b, *names):
    return dnames(a, b) <= set(names)


def xor_within(a, b, names, mask):
    """Every difference is in these fields and inside these bits."""
    return all(n in names and (x ^ y) & ~mask == 0 for n, x, y in differs(a, b))


def past_iret(r):
    """An enter_user record whose iretq/sysretq returned and faulted at the target."""
    return r.kname == "enter_user" and r.vector not in (NONE, SKIPPED, SYSCALL) and r.rip == val(r, "frame_rip")


def variant_index(r):
    return r.variant & 0xff


def rsvd_p_only(a, b):
    """A reserved-bit #PF error code with P set (the architecture) against one without."""
    for n, x, y in differs(a, b):
        if n == "rflags" and (x ^ y) == RF:
            continue
        if n == "error" and (x ^ y) == 1 and x & 8:
            continue
        if n in ("read", "read2") and x >> 48 == READ_FAULTED and (x ^ y) == 1 and x & 8:
            continue
        return False
    return True


# Rules see two records that differ: (name, applies(ref, other) -> bool, why).

# Where hw mode on this host is no oracle: the record is compared with
# QEMU's instead (DESIGN.md, host quirks). PVM runs guest user code natively
# with the host's GDT, IF and IOPL, and emulates guest CPL0 code with KVM's
# instruction emulator.
HW_QUIRKS = [
    ("hw-skipped", lambda h, o: h.vector == SKIPPED,
     "KVM's CPL0 emulator cannot run it (cmpxchg16b, int n, far transfers) or PVM's iretq loads bad "
     "selectors unchecked: the guest skips it in hw mode (skip=)"),
    ("pvm-int-n-from-user", lambda h, o: h.kname == "int" and h.user and h.vector == UD,
     "int n from CPL3 raises #UD on this host (DESIGN.md)"),
    ("pvm-user-selectors", lambda h, o: h.kname in ("seg", "iret_same", "enter_user") and h.user,
     "user-mode segment loads and iretq are checked against the host's GDT, not the guest's"),
    ("pvm-user-rflags", lambda h, o: h.kname in ("enter_user", "iret_same") and
     xor_within(h, o, ("rflags", "user_rflags", "rflags_after"), IF | IOPL | NT | RF | 0x40000),
     "user mode runs with the host's IF, IOPL and AC: pushf reads IF = 1, IOPL = 0, NT and AC from an "
     "iretq are dropped"),
    ("pvm-cr-reserved", lambda h, o: h.kname in ("cr0", "cr4") and h.vector == NONE and o.vector == GP,
     "KVM's emulated mov to CR0/CR4 ignores reserved bits 63:32 instead of #GP"),
    ("kvm-db-no-rf", lambda h, o: h.kname == "dr" and h.vector == o.vector == 1 and
     xor_within(h, o, ("rflags",), RF),
     "KVM's general-detect #DB frame has RF clear; a fault-class #DB sets it (SDM 17.3.1.1)"),
    ("pvm-host-hole", lambda h, o: h.vector == PF and h.error & RSVD and HOLE_LO <= h.cr2 < HOLE_HI,
     "guest-virtual 0xffff800000000000-0xffff87ffffffffff is the host's: an access there from user mode "
     "is a reserved-bit #PF whatever the guest's tables say (docs/shadow.md, guest contract item 4)"),
    ("kvm-ltr-lldt-error", lambda h, o: h.kname == "misc" and variant_index(h) in (5, 6) and
     h.vector == o.vector == GP and only(h, o, "error", "rflags"),
     "KVM's emulated ltr/lldt reports #GP(0) where the selector is the error code"),
]

# Where QEMU TCG (7.2) deviates from the architecture (or hangs): those
# records are not compared with QEMU.
QEMU_QUIRKS = [
    ("qemu-skipped", lambda a, q: q.vector == SKIPPED,
     "QEMU hangs on reserved CR0/CR3/CR4 bits and corrupts its state on 32-bit far transfers: skip="),
    ("qemu-no-rf", lambda a, q: only(a, q, "rflags") and a.rflags ^ q.rflags == RF,
     "QEMU does not set RF in the RFLAGS a fault pushes"),
    ("qemu-rsvd-error", rsvd_p_only, "QEMU's reserved-bit #PF error code lacks P"),
    ("qemu-no-ac", lambda a, q: a.kname == "ac" and a.vector == AC,
     "QEMU does not raise #AC"),
    ("qemu-msr-unchecked", lambda a, q: a.kname == "msr" and a.vector == GP and q.vector == NONE,
     "QEMU takes unknown MSRs, reserved EFER bits and non-canonical bases"),
    ("qemu-cr8-unchecked", lambda a, q: a.kname == "cr8" and a.vector == GP and q.vector == NONE,
     "QEMU takes reserved CR8 bits"),
    ("qemu-cr0-reserved-kept", lambda a, q: a.kname in ("cr0", "misc") and
     xor_within(a, q, ("read_back", "rbx"), 0x1ffc0),
     "QEMU keeps CR0's reserved bits 6-15"),
    ("qemu-dtr-noncanonical", lambda a, q: a.kname == "dtr" and a.vector == GP and q.vector == NONE,
     "QEMU loads a non-canonical GDTR/IDTR base"),
    ("qemu-ltr-null", lambda a, q: a.kname == "misc" and a.vector == GP and q.vector == NONE,
     "QEMU's ltr takes a null selector"),
    ("qemu-null-ss-rpl", lambda a, q: a.vector == GP and (q.vector in (NONE, SYSCALL) or past_iret(q)) and (
        (a.kname == "seg" and variant_index(a) in (4, 9) and val(a, "selector") & ~3 == 0) or
        (a.kname in ("enter_user", "iret_same") and val(a, "frame_ss") & ~3 == 0 and
         val(a, "frame_ss") & 3 != val(a, "frame_cs") & 3)),
     "QEMU loads a null SS whose RPL is not the new CPL (64-bit mode allows RPL = CPL only)"),
    ("qemu-dr7-reserved-kept", lambda a, q: a.kname == "dr" and variant_index(a) == 1 and
     xor_within(a, q, ("read_back",), DR7_READ_AS_0),
     "QEMU keeps DR7 bits 11, 12, 14 and 15, which read as 0"),
    ("qemu-iret-ss-np", lambda a, q: a.kname in ("iret_same", "enter_user") and a.vector == SS_ and q.vector == 11,
     "QEMU's iretq raises #NP for a not-present SS, where it is #SS(selector)"),
    ("qemu-ss-as-gp", lambda a, q: a.vector == SS_ and q.vector == GP,
     "QEMU raises #GP where a non-canonical stack access is #SS"),
    ("qemu-idt-error-code", lambda a, q: a.vector == q.vector and a.error & 2 and q.error == ((a.error >> 3) << 4 | (a.error & 7)) and
     xor_within(a, q, ("error", "rflags"), ~0),
     "QEMU's IDT error codes carry the gate's byte offset (vector * 16) where the vector * 8 belongs"),
    ("qemu-no-general-detect", lambda a, q: a.kname == "dr" and a.vector == 1 and q.vector == NONE,
     "QEMU does not raise #DB for a debug-register access with DR7.GD set"),
    ("qemu-jump-rip", lambda a, q: a.kname == "mem" and a.vector == q.vector == GP and
     xor_within(a, q, ("rip", "rflags"), ~0),
     "QEMU reports #GP for a jump to a non-canonical address at the target, not at the jump"),
] + [q for q in HW_QUIRKS if q[0].startswith("pvm-")]

# Where shadow mode on this host cannot be the architecture (docs/shadow.md,
# "Host quirks that remain"): such records are compared with nothing.
SHADOW_QUIRKS = [
    ("pvm-native-segment-loads", lambda r, g: r.kname == "seg" and
     (val(r, "selector") & ~3 == 0 or val(r, "selector") & ~7 in (0x20, 0x28, 0x30)),
     "a null selector, or one the host's GDT holds with DPL 3 (Linux's 0x23, 0x2b, 0x33), loads natively "
     "at real CPL3 without a trap: checked against the host's GDT, FS/GS bases from the host's "
     "descriptor or kept"),
]

def first(rules, a, b):
    return next((r for r in rules if r[1](a, b)), None)


def differs(a, b):
    return [(n, x, y) for (n, x), (_, y) in zip(a.fields(), b.fields()) if x != y]


def explain(a, b, an, bn):
    lines = ["%s:" % a.describe()]
    for n, x, y in differs(a, b):
        lines.append("    %-16s %s 0x%x  %s 0x%x" % (n, an, x, bn, y))
    return "\n".join(lines)


class Tally:
    def __init__(self):
        self.names = {}

    def add(self, name):
        self.names[name] = self.names.get(name, 0) + 1

    def __str__(self):
        return ", ".join("%s %d" % kv for kv in sorted(self.names.items())) or "none"


def compare_shadow(hw, qemu, got, label, quirks):
    """Differences of one shadow run from the oracle, outside the lists."""
    bad = []
    for i, (h, g) in enumerate(zip(hw, got)):
        if (g.index, g.kind, g.variant) != (h.index, h.kind, h.variant):
            bad.append("record %d: %s in hw mode, %s here: the generator is not deterministic"
                       % (i, h.describe(), g.describe()))
            continue
        ref, refname = h, "hw"
        if differs(h, g):
            rule = first(HW_QUIRKS, h, g)
            if rule:
                quirks.add(rule[0])
                q = qemu[i] if qemu else None
                if q is None or q.vector == SKIPPED:
                    quirks.add("no-oracle")
                    continue
                ref, refname = q, "qemu"
        if not differs(ref, g):
            continue
        if refname == "qemu":
            rule = first(QEMU_QUIRKS, g, ref)
            if rule:
                quirks.add(rule[0])
                continue
        rule = first(SHADOW_QUIRKS, ref, g)
        if rule:
            quirks.add(rule[0])
            continue
        bad.append(explain(ref, g, refname, label))
    return bad


def compare_qemu(hw, qemu, quirks):
    bad = []
    for h, q in zip(hw, qemu):
        if not differs(h, q):
            continue
        rule = first(QEMU_QUIRKS + HW_QUIRKS, h, q)
        if rule:
            quirks.add(rule[0])
            continue
        bad.append(explain(h, q, "hw", "qemu"))
    return bad


def summary(recs):
    kinds = {}
    for r in recs:
        kinds[r.kname] = kinds.get(r.kname, 0) + 1
    return ", ".join("%s %d" % kv for kv in sorted(kinds.items()))


# --- the tests ------------------------------------------------------------------------------

SHADOW_RUNS = [
    ("shadow-cached", {"paging": "shadow", "shadow": {"strategy": "cached"}}),
    ("shadow-vtlb", {"paging": "shadow", "shadow": {"strategy": "vtlb"}}),
    ("shadow-scatter", {"paging": "shadow", "shadow": {"strategy": "cached", "scatter": True}}),
]
HW_SKIP_EMULATED = ("cpl0_cmpxchg16b", "far32", "cpl0_int", "iret_bad", "cpl0_far")
QEMU_SKIP = ("cr_reserved", "far32")


class QemuRun:
    """isa under QEMU TCG (PVH boot): the log is read with QMP's pmemsave
    once the guest says done (the hex dump over the serial port, `dump`,
    is for hosts without a monitor)."""

    def __init__(self, seed, count, tmp):
        self.count = count
        self.t0 = time.monotonic()
        self.qmp_path = os.path.join(tmp, "isa-qmp-%d.sock" % seed)
        self.log_path = os.path.join(tmp, "isa-log-%d.bin" % seed)
        self.out_path = os.path.join(tmp, "isa-qemu-%d.txt" % seed)
        cmd = [qemu_binary(), "-M", "microvm", "-accel", "tcg", "-m", str(MEMORY_MIB), "-nodefaults",
               "-no-user-config", "-display", "none", "-serial", "file:" + self.out_path, "-no-reboot",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
               "-kernel", vmmtest.guest_path("isa"), "-append", cmdline(seed, count, QEMU_SKIP)]
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def text(self):
        try:
            with open(self.out_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def qmp(self, *commands):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(self.qmp_path)
        f = s.makefile("rwb")
        replies = []
        f.readline()                                        # the greeting
        for c in ({"execute": "qmp_capabilities"},) + commands:
            f.write((json.dumps(c) + "\n").encode())
            f.flush()
            while True:
                msg = json.loads(f.readline())
                if "return" in msg or "error" in msg:
                    replies.append(msg)
                    break
        s.close()
        return replies[1:]

    def collect(self, timeout=900):
        def done():
            text = self.text()
            if "isa: FAIL" in text or DONE_RE.search(text):
                return True
            check(self.p.poll() is None, "QEMU ended before isa was done (exit %s):\n%s%s"
                  % (self.p.returncode, text[-3000:], self.p.stderr.read().decode(errors="replace")[-1000:]))
            return False
        try:
            vmmtest.wait_for(done, timeout=timeout, interval=0.2, what="isa under QEMU to finish its cases")
            secs = time.monotonic() - self.t0
            text = self.text()
            check("isa: FAIL" not in text, "isa under QEMU failed:\n%s" % text[-3000:])
            r = self.qmp({"execute": "pmemsave", "arguments": {"val": LOG_ADDR, "size": self.count * REC.size,
                                                               "filename": self.log_path}})
            check("return" in r[0], "QMP pmemsave failed: %s" % show(r))
        finally:
            self.p.kill()
            self.p.wait()
        with open(self.log_path, "rb") as f:
            raw = f.read()
        return records(raw, parse_kinds(text), self.count), secs


def report(what, bad, limit=10):
    return "%s: %d record(s) differ outside the named quirks:\n%s%s" % (
        what, len(bad), "\n".join(bad[:limit]), "\n... and %d more" % (len(bad) - limit) if len(bad) > limit else "")


@kvm
def test_isa_matches_hw(d):
    """hw mode vs shadow mode (cached, vtlb, scattered) and QEMU TCG, record by record."""
    modes = d.call("vmm.version").get("paging_modes") or []
    if "shadow" not in modes:
        raise Skip("this vmmd has no shadow mode")
    hw_skip = HW_SKIP_EMULATED if host_virt(d) == "pvm" else ()
    failures = []
    quirks = Tally()
    for seed in SEEDS:
        # Every run at once: hw mode (CPL0 emulated here) is the long one.
        runs = [("hw", Run(d, "isa-hw-%d" % seed, seed, CASES, hw_skip))]
        qrun = QemuRun(seed, CASES, d.tmp) if qemu_binary() else None
        for label, fields in SHADOW_RUNS:
            runs.append((label, Run(d, "isa-%s-%d" % (label, seed), seed, CASES, **fields)))
        got = {label: r.collect() for label, r in runs}
        qemu = qrun.collect() if qrun else None
        hw = got["hw"][0]
        print("isa: seed %d, %d cases: %s" % (seed, CASES, summary(hw)))
        print("isa: seconds: %s" % ", ".join("%s %.1f" % (l, got[l][1]) for l, _ in runs) +
              (", qemu %.1f" % qemu[1] if qemu else ", no QEMU"))
        for label, _ in SHADOW_RUNS:
            bad = compare_shadow(hw, qemu[0] if qemu else None, got[label][0], label, quirks)
            print("isa: %s: %d differ outside the lists" % (label, len(bad)))
            if bad:
                failures.append(report("seed %d, %s" % (seed, label), bad))
        if qemu:
            bad = compare_qemu(hw, qemu[0], quirks)
            print("isa: qemu: %d differ outside the lists" % len(bad))
            if bad:
                failures.append(report("seed %d, QEMU vs hw" % seed, bad))
    print("isa: quirks: %s" % quirks)
    check(not failures, "\n\n".join(failures))


if __name__ == "__main__":
    vmmtest.main()
