#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B3: VM start, vm.create + vm.start to the first console byte of `hello`.

vmmd, two ways of seeing the first byte, each timed from just before
vm.create is sent:
  poll    vm.console.read {offset 0, max 1} in a loop on the calling connection
  events  a second connection subscribed to console events (before vm.create)
          waits for the VM's first console notification
QEMU: qemu-system-x86_64 -M microvm -enable-kvm -kernel hello.elf (the same
ELF, through its PVH note) from just before the fork to the first byte on its
serial (stdout pipe). Also QEMU -S to its QMP greeting, for context.
Every run is a fresh VM (vmmd: a new name; destroyed after it stopped) or a
fresh QEMU process; the runs of the three alternate.
"""

import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

FULL = {"runs": 25, "warmup": 2}
QUICK = {"runs": 2, "warmup": 0}


def vmmd_poll(vmmd, c, name):
    t0 = time.perf_counter()
    c.rpc("vm.create", {"config": vm_config(name)})
    t_create = time.perf_counter()
    c.rpc("vm.start", {"name": name})
    t_start = time.perf_counter()
    while True:
        r = c.rpc("vm.console.read", {"name": name, "offset": 0, "max": 1})
        if r["data"]:
            break
        if time.perf_counter() - t0 > 20:
            raise lib.BenchError("no console byte from %s in 20 s" % name)
    t1 = time.perf_counter()
    return {"first_byte_ms": (t1 - t0) * 1e3, "create_ms": (t_create - t0) * 1e3,
            "start_ms": (t_start - t_create) * 1e3}


def vmmd_events(vmmd, c, ev, name):
    t0 = time.perf_counter()
    c.rpc("vm.create", {"config": vm_config(name)})
    c.rpc("vm.start", {"name": name})
    while True:
        n = ev.wait_notification(20)
        if n is None:
            raise lib.BenchError("no console event from %s in 20 s" % name)
        p = n.get("params") or {}
        if p.get("vm") == name and p.get("type") == "console":
            break
    t1 = time.perf_counter()
    return {"first_byte_ms": (t1 - t0) * 1e3}


def vm_config(name):
    return {"name": name, "kernel": lib.guest_elf("hello"), "memory_mib": 16, "vcpus": 1,
            "paging": "hw", "cmdline": ""}


def finish_vm(vmmd, c, name):
    deadline = time.monotonic() + 20
    while c.rpc("vm.info", {"name": name})["state"] not in ("stopped", "crashed"):
        if time.monotonic() > deadline:
            c.rpc("vm.stop", {"name": name, "force": True})
            break
        time.sleep(0.002)
    c.rpc("vm.destroy", {"name": name})


def qemu_first_byte():
    cmd = lib.qemu_cmd(lib.guest_elf("hello"), 16)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        r, _, _ = select.select([p.stdout], [], [], 20)
        if not r:
            raise lib.BenchError("no serial byte from QEMU in 20 s")
        b = os.read(p.stdout.fileno(), 1)
        t1 = time.perf_counter()
        if not b:
            raise lib.BenchError("QEMU ended without a serial byte (exit %s)" % p.wait())
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
    return {"first_byte_ms": (t1 - t0) * 1e3}


def qemu_qmp_ready():
    t0 = time.perf_counter()
    q = lib.Qemu(paused=True)
    q.start()
    t1 = time.perf_counter()
    q.stop()
    return {"qmp_ready_ms": (t1 - t0) * 1e3}


def body(res, args):
    cfg = res.config(FULL, QUICK)
    if res.skip_without_kvm():
        return
    qemu_why = lib.qemu_problem()
    if qemu_why:
        res.note("QEMU skipped: %s" % qemu_why)
    runs = {"vmmd-poll": [], "vmmd-events": [], "qemu": [], "qemu-qmp-ready": [], "baseline-poll": []}
    base = lib.Vmmd(binary=lib.VMMD_BASELINE).start() if lib.VMMD_BASELINE else None
    try:
        measure_runs(cfg, runs, base, qemu_why)
    finally:
        if base:
            base.stop()
    report(res, cfg, runs)


def measure_runs(cfg, runs, base, qemu_why):
    with lib.Vmmd() as vmmd:
        c = vmmd.connect()
        ev = vmmd.connect()
        ev.rpc("events.subscribe", {"topics": ["console"]})
        k = 0
        for i in range(cfg["warmup"] + cfg["runs"]):
            keep = i >= cfg["warmup"]
            k += 1
            name = "b3p%d" % k
            x = vmmd_poll(vmmd, c, name)
            finish_vm(vmmd, c, name)
            ev.notifications.clear()
            k += 1
            name = "b3e%d" % k
            y = vmmd_events(vmmd, c, ev, name)
            finish_vm(vmmd, c, name)
            ev.notifications.clear()
            z = w = b = None
            if base:
                b = vmmd_poll(base, base.client, name)
                finish_vm(base, base.client, name)
            if not qemu_why:
                z = qemu_first_byte()
                w = qemu_qmp_ready()
            if keep:
                runs["vmmd-poll"].append(x)
                runs["vmmd-events"].append(y)
                if b:
                    runs["baseline-poll"].append(b)
                if z:
                    runs["qemu"].append(z)
                    runs["qemu-qmp-ready"].append(w)
            lib.log("  B3 run %d%s: vmmd poll %.2f ms (create %.2f, start %.2f), events %.2f ms%s"
                    % (i + 1, "" if keep else " (warm-up)", x["first_byte_ms"], x["create_ms"], x["start_ms"],
                       y["first_byte_ms"],
                       ", QEMU %.1f ms (QMP ready %.1f ms)" % (z["first_byte_ms"], w["qmp_ready_ms"]) if z else "")
                    + (", baseline poll %.2f ms" % b["first_byte_ms"] if b else ""))


def report(res, cfg, runs):
    res.doc["data"]["runs"] = runs

    def sp(key, field):
        return lib.spread_over([r[field] for r in runs[key]])
    summary = {
        "vmmd_poll_ms": sp("vmmd-poll", "first_byte_ms"),
        "vmmd_poll_create_ms": sp("vmmd-poll", "create_ms"),
        "vmmd_poll_start_ms": sp("vmmd-poll", "start_ms"),
        "vmmd_events_ms": sp("vmmd-events", "first_byte_ms"),
        "qemu_ms": sp("qemu", "first_byte_ms") if runs["qemu"] else None,
        "qemu_qmp_ready_ms": sp("qemu-qmp-ready", "qmp_ready_ms") if runs["qemu"] else None,
    }
    best = min(("vmmd_poll_ms", "vmmd_events_ms"), key=lambda k: summary[k]["median"])
    summary["best"] = best
    if runs["qemu"]:
        # Ratio per run (runs alternate: same minute), then the median.
        summary["speedup_vs_qemu"] = lib.spread_over(
            [q["first_byte_ms"] / v["first_byte_ms"]
             for q, v in zip(runs["qemu"], runs["vmmd-poll" if best == "vmmd_poll_ms" else "vmmd-events"])])
    res.doc["data"]["summary"] = summary
    f = lambda s: lib.fmt_spread(s, lib.fmt_ms)  # noqa: E731
    rows = [["vmmd, polling vm.console.read", f(summary["vmmd_poll_ms"]),
             "create %s + start %s" % (f(summary["vmmd_poll_create_ms"]), f(summary["vmmd_poll_start_ms"]))],
            ["vmmd, console event", f(summary["vmmd_events_ms"]), "worker coalesces console notifications"]]
    if runs["baseline-poll"]:
        rows.append(["baseline vmmd (%s), polling" % lib.VMMD_BASELINE,
                     f(sp("baseline-poll", "first_byte_ms")),
                     "create %s + start %s" % (f(sp("baseline-poll", "create_ms")), f(sp("baseline-poll", "start_ms")))])
    if runs["qemu"]:
        rows.append(["QEMU microvm -kernel hello.elf", f(summary["qemu_ms"]), "fork to first serial byte"])
        rows.append(["QEMU microvm -S, to QMP greeting", f(summary["qemu_qmp_ready_ms"]), "context"])
    res.table("B3: to the first console byte of hello (ms; median over %d runs, min–max)" % cfg["runs"],
              ["path", "first byte", "detail"], rows,
              note="vmmd times start before vm.create and include the client's round trips; "
                   "QEMU's start before the fork.")
    v = summary[best]["median"]
    s = summary.get("speedup_vs_qemu")
    if s:
        res.table("B3: ratio", ["figure", "value"],
                  [["QEMU time / vmmd time (%s, per run)" % best.replace("_ms", "").replace("_", " "),
                    lib.fmt_spread(s, lib.fmt_x)]])
    met = v <= 20 and (s is None or s["median"] >= 10)
    res.goal("≥ 10x faster than QEMU; ≤ 20 ms", met, {"ms": v, "speedup": s["median"] if s else None},
             {"ms": 20, "speedup": 10},
             "%.1f ms (%s)%s" % (v, best.replace("vmmd_", "").replace("_ms", ""),
                                 ", %s faster than QEMU" % lib.fmt_x(s["median"]) if s else ""))
    plot = [{"name": "vmmd (poll)", "y": summary["vmmd_poll_ms"]["median"]},
            {"name": "vmmd (events)", "y": summary["vmmd_events_ms"]["median"]}]
    if runs["qemu"]:
        plot += [{"name": "QEMU first byte", "y": summary["qemu_ms"]["median"]},
                 {"name": "QEMU QMP ready", "y": summary["qemu_qmp_ready_ms"]["median"]}]
    res.plot(name="b3-start", title="B3: to the first console byte of hello (median, ms)", kind="bars",
             ylabel="ms", series=plot)


if __name__ == "__main__":
    lib.run_harness("B3", "VM start to first console byte", body)
