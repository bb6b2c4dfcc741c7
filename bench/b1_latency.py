#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B1: control-plane latency, p50/p99 of sequential calls from one client.

Targets, measured in alternating chunks in each round with the same client code
(lib.LineClient.call) and the same request bytes where the protocol allows:
  echo        the floor: a trivial echo server on a Unix socket
  vmmd        vm.info on a created VM (the supervisor answers alone)
  vmmd-live   vm.info on a running VM, paused (the supervisor asks its worker
              for live stats: one more hop); needs /dev/kvm
  vmmd-version  vmm.version (what the daemon knows of the host)
  qmp         QEMU's query-status on qemu-system-x86_64 -M microvm -enable-kvm -S
Also the server's CPU time per call (utime+stime from /proc/PID/stat over
the round): stable where wall-clock latency is not.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

FULL = {"calls": 5000, "chunk": 500, "warmup": 200, "rounds": 5}
QUICK = {"calls": 200, "chunk": 100, "warmup": 20, "rounds": 1}


def measure(client, make, n, first_id):
    """n sequential calls; returns (latencies in µs, errors)."""
    errors = 0
    lat = [0.0] * n
    clock = time.perf_counter_ns
    for i in range(n):
        id = first_id + i
        msg = make(id)
        a = clock()
        reply = client.call(msg)
        b = clock()
        lat[i] = (b - a) / 1000.0
        if not lib.reply_ok(reply, id):
            errors += 1
    return lat, errors


def one_round(targets, cfg):
    """cfg["calls"] calls per target, in chunks that alternate between the
    targets so that each sees the same minute of this noisy host. Server CPU
    is read over the whole round: a server is idle while the others run."""
    out = {}
    for name, label, client, make, pids in targets:
        measure(client, make, cfg["warmup"], 10**9)
    cpu0 = {t[0]: [lib.cpu_ticks(p) for p in t[4]] for t in targets}
    lat = {t[0]: [] for t in targets}
    errors = {t[0]: 0 for t in targets}
    chunks = max(1, cfg["calls"] // cfg["chunk"])
    for c in range(chunks):
        for name, label, client, make, pids in targets:
            n = cfg["calls"] // chunks + (1 if c < cfg["calls"] % chunks else 0)
            got, err = measure(client, make, n, 1 + len(lat[name]))
            lat[name] += got
            errors[name] += err
    hz = os.sysconf("SC_CLK_TCK")
    for name, label, client, make, pids in targets:
        t0, t1 = cpu0[name], [lib.cpu_ticks(p) for p in pids]
        cpu = None
        if None not in t0 and None not in t1:
            cpu = sum(b - a for a, b in zip(t0, t1)) / hz / len(lat[name]) * 1e6
        out[name] = (lat[name], cpu, errors[name])
    return out


def body(res, args):
    cfg = res.config(FULL, QUICK)
    targets = []   # (name, label, client, make(id), pids)
    cleanup = []
    try:
        echo = lib.EchoServer().start()
        cleanup.append(echo.stop)
        info_a = lambda i: lib.rpc_message("vm.info", {"name": "b1"}, i)  # noqa: E731
        targets.append(("echo", "echo server (floor)", lib.LineClient(echo.sock), info_a, [echo.pid]))

        vmmd = lib.Vmmd().start()
        cleanup.append(vmmd.stop)
        vmmd.create("b1", "hello")
        targets.append(("vmmd", "vmmd vm.info (created VM)", vmmd.connect(), info_a, [vmmd.pid]))
        if lib.VMMD_BASELINE:
            base = lib.Vmmd(binary=lib.VMMD_BASELINE).start()
            cleanup.append(base.stop)
            base.create("b1", "hello")
            targets.append(("vmmd-baseline", "baseline vmmd vm.info (created VM; %s)" % lib.VMMD_BASELINE,
                            base.connect(), info_a, [base.pid]))

        # vmm.version (host facts): each on its own daemon, like the others.
        version = lambda i: lib.rpc_message("vmm.version", None, i)  # noqa: E731
        ver = lib.Vmmd().start()
        cleanup.append(ver.stop)
        targets.append(("vmmd-version", "vmmd vmm.version", ver.connect(), version, [ver.pid]))
        if lib.VMMD_BASELINE:
            bver = lib.Vmmd(binary=lib.VMMD_BASELINE).start()
            cleanup.append(bver.stop)
            targets.append(("baseline-version", "baseline vmmd vmm.version", bver.connect(), version, [bver.pid]))

        why = lib.kvm_problem()
        if why:
            res.note("vmmd-live skipped: %s" % why)
        else:
            try:
                # Its own daemon, so that each server process is idle while
                # the other targets run (CPU per call is read over the round).
                live = lib.Vmmd().start()
                cleanup.append(live.stop)
                live.create("b1live", "spin", cmdline="interval=100000000")
                live.rpc("vm.start", {"name": "b1live"})
                live.rpc("vm.pause", {"name": "b1live"})
                wpid = live.info("b1live")["pid"]
                info_live = lambda i: lib.rpc_message("vm.info", {"name": "b1live"}, i)  # noqa: E731
                targets.append(("vmmd-live", "vmmd vm.info (paused VM: + worker hop)", live.connect(),
                                info_live, [live.pid, wpid]))
            except lib.BenchError as e:
                res.note("vmmd-live skipped: %s" % e)

        why = lib.qemu_problem()
        if why:
            res.note("QEMU QMP skipped: %s" % why)
        else:
            try:
                q = lib.Qemu(paused=True).start()
                cleanup.append(q.stop)
                qs = lambda i: lib.qmp_message("query-status", None, i)  # noqa: E731
                targets.append(("qmp", "QEMU QMP query-status (microvm -S)", q.qmp, qs, [q.pid]))
            except lib.BenchError as e:
                res.note("QEMU QMP skipped: %s" % e)

        rounds = {t[0]: [] for t in targets}
        for r in range(cfg["rounds"]):
            got = one_round(targets, cfg)
            for name, label, client, make, pids in targets:
                lat, cpu, errors = got[name]
                s = lib.stats(lat)
                s.pop("n")
                rounds[name].append({"stats": s, "cpu_us_per_call": cpu, "errors": errors,
                                     "percentiles": [lib.percentile(sorted(lat), q) for q in range(1, 100)]})
                lib.log("  B1 round %d %-10s p50 %7.1f µs  p99 %7.1f µs  cpu/call %s µs"
                        % (r + 1, name, s["p50"], s["p99"], "%.1f" % cpu if cpu is not None else "?"))
    finally:
        for fn in reversed(cleanup):
            fn()

    res.doc["data"]["rounds"] = rounds
    labels = {t[0]: t[1] for t in targets}
    floor = rounds["echo"]
    summary = {}
    rows = []
    for name in rounds:
        rr = rounds[name]
        p50 = lib.spread_over([x["stats"]["p50"] for x in rr])
        p99 = lib.spread_over([x["stats"]["p99"] for x in rr])
        cpu = lib.spread_over([x["cpu_us_per_call"] for x in rr])
        r50 = lib.spread_over([lib.ratio(x["stats"]["p50"], f["stats"]["p50"]) for x, f in zip(rr, floor)])
        r99 = lib.spread_over([lib.ratio(x["stats"]["p99"], f["stats"]["p99"]) for x, f in zip(rr, floor)])
        iqr = lib.spread_over([x["stats"]["iqr"] for x in rr])
        errors = sum(x["errors"] for x in rr)
        summary[name] = {"p50_us": p50, "p99_us": p99, "iqr_us": iqr, "cpu_us_per_call": cpu,
                         "p50_ratio_to_echo": r50, "p99_ratio_to_echo": r99, "errors": errors}
        rows.append([labels[name], lib.fmt_spread(p50), lib.fmt_spread(p99), lib.fmt_spread(iqr),
                     lib.fmt_spread(cpu, lambda v: "%.1f" % v), lib.fmt_spread(r50, lib.fmt_x),
                     lib.fmt_spread(r99, lib.fmt_x), str(errors)])
    res.doc["data"]["summary"] = summary
    res.table("B1: latency of %d sequential calls, one client (µs; median over %d rounds, min–max in brackets)"
              % (cfg["calls"], cfg["rounds"]),
              ["target", "p50", "p99", "IQR", "server CPU/call", "p50 / echo", "p99 / echo", "errors"], rows,
              note="Ratios are per round against the echo floor of the same round. Server CPU is the "
                   "server processes' utime+stime per call (vmmd-live: supervisor + worker).")
    r = summary["vmmd"]["p50_ratio_to_echo"]
    met = None if r is None else r["median"] <= 1.25
    shown = None
    if r:
        shown = "p50 %s of the floor (%s vs %s µs)" % (
            lib.fmt_x(r["median"]), lib.fmt_us(summary["vmmd"]["p50_us"]["median"]),
            lib.fmt_us(summary["echo"]["p50_us"]["median"]))
        if "qmp" in summary:
            shown += "; QMP %s of the floor" % lib.fmt_x(summary["qmp"]["p50_ratio_to_echo"]["median"])
    res.goal("vmmd p50 ≤ 1.25x the echo floor", met, r["median"] if r else None, 1.25, shown)
    if "qmp" in summary and summary["qmp"]["p50_us"]:
        q = summary["qmp"]["p50_us"]["median"]
        v = summary["vmmd"]["p50_us"]["median"]
        res.doc["data"]["vmmd_vs_qmp_p50"] = v / q
    # The latency distribution of the median round, per target, for the plot.
    series = []
    for name in rounds:
        rr = sorted(rounds[name], key=lambda x: x["stats"]["p50"])
        mid = rr[len(rr) // 2]
        series.append({"name": labels[name], "x": list(range(1, 100)), "y": mid["percentiles"]})
    res.plot(name="b1-latency", title="B1: latency percentiles of sequential calls (median round)",
             kind="lines", xlabel="percentile", ylabel="µs per call", logy=True, series=series)


if __name__ == "__main__":
    lib.run_harness("B1", "control-plane latency (sequential calls)", body)
