#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B4: memory per VM, worker PSS with guest RAM excluded.

Starts N `spin` VMs (16 MiB each) under one vmmd, waits until each has
printed (its guest runs), then reads every worker's /proc/PID/smaps: PSS of
all mappings minus the guest RAM mapping (the anonymous mapping of
memory_mib). PSS splits pages shared between workers (the vmmd binary,
libraries), which is what one more VM really costs. The supervisor's PSS
growth per VM is reported too.

Reference: N QEMU microvm -kernel spin.elf (-m 16), VmRSS as BENCHMARKS.md
asks, and the same PSS-without-guest-RAM figure for a like-for-like ratio.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

FULL = {"vms": 4, "memory_mib": 16, "settle_s": 1.0}
QUICK = {"vms": 2, "memory_mib": 16, "settle_s": 0.2}
SPIN_CMDLINE = "interval=100000"


def mib(kib):
    return kib / 1024.0


def body(res, args):
    cfg = res.config(FULL, QUICK)
    if res.skip_without_kvm():
        return
    n = cfg["vms"]
    guest_bytes = cfg["memory_mib"] << 20
    vm_rows = []
    with lib.Vmmd() as vmmd:
        sup_before = lib.memory_of(vmmd.pid)
        names = ["b4v%d" % i for i in range(n)]
        for name in names:
            vmmd.create(name, "spin", memory_mib=cfg["memory_mib"], cmdline=SPIN_CMDLINE)
            vmmd.rpc("vm.start", {"name": name})
        deadline = time.monotonic() + 30
        for name in names:
            while not vmmd.console(name, 0, 1)[0]:
                if time.monotonic() > deadline:
                    raise lib.BenchError("VM %s printed nothing in 30 s" % name)
                time.sleep(0.01)
        time.sleep(cfg["settle_s"])
        for name in names:
            inf = vmmd.info(name)
            if inf["state"] != "running":
                raise lib.BenchError("VM %s is %s, not running" % (name, inf["state"]))
            m = lib.memory_of(inf["pid"], guest_bytes)
            if m["guest_ram"] is None:
                raise lib.BenchError("no %d MiB guest RAM mapping in worker %d" % (cfg["memory_mib"], inf["pid"]))
            m["vmrss"] = lib.vm_rss_kib(inf["pid"])
            vm_rows.append(m)
        sup_after = lib.memory_of(vmmd.pid)
    qemu_rows = []
    qemu_why = lib.qemu_problem()
    if qemu_why:
        res.note("QEMU skipped: %s" % qemu_why)
    else:
        qs = []
        try:
            for i in range(n):
                q = lib.Qemu(kernel=lib.guest_elf("spin"), memory_mib=cfg["memory_mib"], paused=False,
                             cmdline=SPIN_CMDLINE)
                q.start()
                qs.append(q)
            time.sleep(cfg["settle_s"] + 0.5)   # let it boot and print
            for q in qs:
                if q.proc.poll() is not None:
                    raise lib.BenchError("QEMU exited (%s)" % q.proc.returncode)
                m = lib.memory_of(q.pid, guest_bytes)
                m["vmrss"] = lib.vm_rss_kib(q.pid)
                qemu_rows.append(m)
        except lib.BenchError as e:
            res.note("QEMU skipped: %s" % e)
            qemu_rows = []
        finally:
            for q in qs:
                q.stop()

    def per(rows, key):
        return lib.spread_over([mib(r[key]) for r in rows])

    def guest(rows, key):
        return lib.spread_over([mib(r["guest_ram"][key]) for r in rows if r["guest_ram"]])
    summary = {
        "vmmd_worker_pss_excl_guest_mib": per(vm_rows, "pss_excl_guest"),
        "vmmd_worker_pss_mib": per(vm_rows, "pss"),
        "vmmd_worker_rss_mib": per(vm_rows, "vmrss"),
        "vmmd_worker_private_mib": per(vm_rows, "private"),
        "vmmd_guest_ram_rss_mib": guest(vm_rows, "rss"),
        "vmmd_supervisor_pss_growth_per_vm_mib": mib(sup_after["pss"] - sup_before["pss"]) / n,
        "vmmd_supervisor_private_growth_per_vm_mib": mib(sup_after["private"] - sup_before["private"]) / n,
    }
    if qemu_rows:
        summary.update({
            "qemu_rss_mib": per(qemu_rows, "vmrss"),
            "qemu_pss_excl_guest_mib": per(qemu_rows, "pss_excl_guest"),
            "qemu_pss_mib": per(qemu_rows, "pss"),
            "qemu_guest_ram_rss_mib": guest(qemu_rows, "rss"),
        })
        summary["qemu_rss_over_vmmd_pss_excl_guest"] = lib.ratio(
            summary["qemu_rss_mib"]["median"], summary["vmmd_worker_pss_excl_guest_mib"]["median"])
        summary["qemu_over_vmmd_pss_excl_guest"] = lib.ratio(
            summary["qemu_pss_excl_guest_mib"]["median"], summary["vmmd_worker_pss_excl_guest_mib"]["median"])
    res.doc["data"]["summary"] = summary
    res.doc["data"]["vmmd_workers"] = vm_rows
    res.doc["data"]["qemu"] = qemu_rows
    res.doc["data"]["supervisor"] = {"before": sup_before, "after": sup_after}
    f = lambda s: lib.fmt_spread(s, lambda v: "%.2f" % v)  # noqa: E731
    rows = [["vmmd worker", f(summary["vmmd_worker_pss_excl_guest_mib"]), f(summary["vmmd_worker_pss_mib"]),
             f(summary["vmmd_worker_rss_mib"]), f(summary["vmmd_guest_ram_rss_mib"])]]
    if qemu_rows:
        rows.append(["QEMU microvm", f(summary["qemu_pss_excl_guest_mib"]), f(summary["qemu_pss_mib"]),
                     f(summary["qemu_rss_mib"]), f(summary["qemu_guest_ram_rss_mib"])])
    res.table("B4: memory per VM, %d running spin VMs of %d MiB each (MiB; median over the VMs, min–max)"
              % (n, cfg["memory_mib"]),
              ["process", "PSS without guest RAM", "PSS", "RSS", "guest RAM resident"], rows,
              note="vmmd's supervisor: %+.3f MiB private (%+.3f MiB PSS: its pages are now shared with "
                   "the workers) per VM. Firecracker publishes < 5 MiB of VMM overhead per VM."
                   % (summary["vmmd_supervisor_private_growth_per_vm_mib"],
                      summary["vmmd_supervisor_pss_growth_per_vm_mib"]))
    if qemu_rows:
        res.table("B4: ratios", ["figure", "value"],
                  [["QEMU RSS / vmmd worker PSS without guest RAM",
                    lib.fmt_x(summary["qemu_rss_over_vmmd_pss_excl_guest"])],
                   ["QEMU PSS / vmmd PSS, both without guest RAM",
                    lib.fmt_x(summary["qemu_over_vmmd_pss_excl_guest"])]])
    v = summary["vmmd_worker_pss_excl_guest_mib"]["median"]
    shown = "%.2f MiB" % v
    if qemu_rows:
        shown += "; QEMU RSS %.1f MiB (%s)" % (summary["qemu_rss_mib"]["median"],
                                              lib.fmt_x(summary["qemu_rss_over_vmmd_pss_excl_guest"]))
    res.goal("≤ 2 MiB per VM (worker PSS, guest RAM excluded)", v <= 2.0, v, 2.0, shown)
    series = [{"name": "vmmd worker PSS w/o guest RAM", "y": v}]
    if qemu_rows:
        series += [{"name": "QEMU PSS w/o guest RAM", "y": summary["qemu_pss_excl_guest_mib"]["median"]},
                   {"name": "QEMU RSS", "y": summary["qemu_rss_mib"]["median"]}]
    res.plot(name="b4-memory", title="B4: memory per VM (MiB, median)", kind="bars", ylabel="MiB",
             series=series)


if __name__ == "__main__":
    lib.run_harness("B4", "memory per VM", body)
