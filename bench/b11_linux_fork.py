#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B11: fork+exec+wait of /bin/true in a busybox shell loop inside Debian's
kernel in shadow mode (Xen PV), against QEMU TCG and the host in the same
run (bench/linux_pv.py), with vmmd's counters per fork+exec: traps by
class, hypercalls, shadow fills, pool zaps, page-table switches."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import linux_pv  # noqa: E402


def body(res, args):
    s = linux_pv.session(res.doc["quick"])
    if s.get("skipped"):
        res.doc["status"] = "skipped"
        res.note("skipped: " + s["skipped"])
        return
    v, t, n = s["vmmd"], s["tcg"], s["native"]
    forks = s["config"]["forks"]
    ms = lambda x: "%.2f" % (x * 1e3) if x is not None else "—"  # noqa: E731
    rows = [["vmmd, shadow mode, xen-pv", ms(v.get("fork_s")),
             lib.fmt_x(v["fork_s"] / t["fork_s"]) if t.get("fork_s") else "—",
             lib.fmt_x(v["fork_s"] / n["fork_s"]) if n.get("fork_s") else "—"],
            ["QEMU TCG", ms(t.get("fork_s")), "1.00x", lib.fmt_x(t["fork_s"] / n["fork_s"]) if t.get("fork_s") else "—"],
            ["native (host, busybox sh)", ms(n.get("fork_s")), "—", "1.00x"]]
    res.table("B11: ms per fork+exec+wait of /bin/true (%d in the guest, %d natively; guest-timed)"
              % (forks, n.get("forks", 0)), ["target", "ms each", "vs TCG", "vs native"], rows)
    d = v["phases"]["forks"]["delta"]
    per = lambda k: d.get(k, 0) / forks  # noqa: E731
    breakdown = [(k, label) for k, label in [
        ("traps.total", "traps"), ("traps.by_class.hypercall", "  hypercalls"),
        ("traps.by_class.syscall", "  user system calls (syscall callback)"),
        ("traps.by_class.page_fault_fill", "  shadow fills"), ("traps.by_class.page_fault_guest", "  guest #PF (bounced)"),
        ("traps.by_class.page_fault_pt_write", "  page-table writes emulated"),
        ("traps.by_class.privileged", "  privileged instructions"), ("traps.by_class.interrupt", "  events delivered"),
        ("exits.shadow_pool_zap", "shadow pool zaps"), ("pt_switches.guest", "guest page-table switches"),
        ("pt_switches.shadow", "shadow root loads"), ("shadow.cache_misses", "new address spaces (root cache misses)"),
        ("hypercalls.by_number.iret", "iret hypercalls"), ("hypercalls.by_number.mmu_update", "mmu_update calls"),
        ("hypercalls.by_subop.mmu_update/normal", "  their entries (normal updates)"),
        ("hypercalls.by_number.mmuext_op", "mmuext_op calls"), ("hypercalls.by_number.update_va_mapping", "update_va_mapping"),
        ("hypercalls.by_number.set_segment_base", "set_segment_base"), ("hypercalls.by_number.stack_switch", "stack_switch"),
        ("hypercalls.by_number.vcpu_op", "vcpu_op (timer)"), ("hypercalls.by_number.multicall", "multicall"),
        ("xenpv.ptwr", "writable page-table assists"), ("events.virq.timer", "timer VIRQs")]]
    res.table("B11: vmmd's counters per fork+exec (Δ stats.get over the loop / %d)" % forks,
              ["counter", "per fork+exec"], [[label, "%.1f" % per(k)] for k, label in breakdown],
              note="Wall time of the loop (vmmd's clock): %.1f s." % v["phases"]["forks"]["wall_s"])
    res.doc["data"]["per_fork"] = {k: per(k) for k, _ in breakdown}
    res.doc["data"]["fork_s"] = {"vmmd": v.get("fork_s"), "tcg": t.get("fork_s"), "native": n.get("fork_s")}
    met = bool(t.get("fork_s")) and v["fork_s"] <= t["fork_s"]
    res.goal("fork+exec+wait no slower than QEMU TCG", met, value=v["fork_s"], limit=t.get("fork_s"),
             shown="%s ms vs TCG %s ms (native %s ms); %.0f traps each"
             % (ms(v["fork_s"]), ms(t.get("fork_s")), ms(n.get("fork_s")), per("traps.total")))


if __name__ == "__main__":
    lib.run_harness("B11", "Linux in shadow mode: fork+exec+wait", body)
