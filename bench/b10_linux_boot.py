#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B10: Linux in shadow mode (the Xen PV ABI): wall time from vm.start to
/init running, Debian's stock kernel and a busybox initramfs, against QEMU
TCG booting the same kernel and initramfs in the same run
(bench/linux_pv.py runs the session B10-B12 share)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import linux_pv  # noqa: E402

GOAL_S = 2.0


def body(res, args):
    s = linux_pv.session(res.doc["quick"])
    res.doc["data"]["session"] = {k: v for k, v in s.items() if k in ("config", "kernel", "skipped")}
    if s.get("skipped"):
        res.doc["status"] = "skipped"
        res.note("skipped: " + s["skipped"])
        return
    v, t = s["vmmd"], s["tcg"]
    res.doc["data"]["vmmd"] = {"boot_s": v["boot_s"], "vm_start_call_s": v["vm_start_call_s"]}
    res.doc["data"]["tcg"] = {"boot_s": t.get("boot_s"), "skipped": t.get("skipped")}
    rows = [["vmmd, shadow mode, boot xen-pv", "%.1f" % v["boot_s"],
             lib.fmt_x(v["boot_s"] / t["boot_s"]) if t.get("boot_s") else "—",
             "vm.start itself (worker, xz unpack, load): %.2f s" % v["vm_start_call_s"]],
            ["QEMU TCG (-accel tcg), bzImage", "%.1f" % t["boot_s"] if t.get("boot_s") else "—", "1.00x",
             t.get("skipped") or "from QEMU's start"]]
    res.table("B10: start to \"Run /init as init process\" (s, one boot each, same kernel and initramfs)",
              ["target", "s", "vs TCG", "note"], rows,
              note="Debian %s, %d MiB, 1 vCPU." % (os.path.basename(s["kernel"]), linux_pv.MEMORY_MIB))
    d = v["boot_stats"]
    keys = [("traps.total", "traps"), ("traps.by_class.hypercall", "hypercalls"),
            ("traps.by_class.page_fault_fill", "shadow fills (#PF)"), ("traps.by_class.page_fault_guest", "guest #PF"),
            ("traps.by_class.page_fault_pt_write", "page-table writes emulated"), ("traps.by_class.privileged", "privileged"),
            ("traps.by_class.interrupt", "events delivered"), ("exits.shadow_pool_zap", "shadow pool zaps"),
            ("hypercalls.by_number.mmu_update", "mmu_update calls"), ("hypercalls.by_number.mmuext_op", "mmuext_op calls"),
            ("pt_switches.guest", "guest page-table switches")]
    res.table("B10: what vmmd did from vm.start to the bench script's first line (counters)",
              ["counter", "count"], [[label, "%d" % d.get(k, 0)] for k, label in keys])
    met = v["boot_s"] <= GOAL_S
    res.goal("vm.start to /init ≤ %.0f s" % GOAL_S, met, value=v["boot_s"], limit=GOAL_S,
             shown="%.1f s; QEMU TCG %s" % (v["boot_s"], "%.1f s" % t["boot_s"] if t.get("boot_s") else "—"))


if __name__ == "__main__":
    lib.run_harness("B10", "Linux in shadow mode: vm.start to /init", body)
