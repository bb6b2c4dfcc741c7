#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B9: a CPU-bound loop in the guest against the same loop in a host process.

The loop is guests/lib/bench_loop.h (add, rol, dec, jnz: a dependency chain),
compiled into the trapbench guest and, with gcc -O2, into bench/native_loop.c;
both time it with rdtsc. Each round runs, in rotating order:

  native        a host process, N iterations
  hw VM         guest user mode, N iterations (native speed: CPL3 runs on
                the CPU); guest kernel mode, KN iterations only: on this host
                KVM emulates guest CPL0 code, so that cell is scaled down and
                extrapolated to N (labelled so)
  shadow VM     guest user mode and guest kernel mode, N iterations each
                (shadow mode runs the guest kernel at real CPL3)

Speed relative to native = native cycles per iteration / guest cycles per
iteration, per round (the runs of a round are back to back), then the median.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

FULL = {"rounds": 5, "n": 10**9, "kn": 20000}
QUICK = {"rounds": 1, "n": 10**7, "kn": 200}

CELLS = [  # key, label, runs natively on this host
    ("native", "host process (reference)", True),
    ("hw-user", "hw mode, guest user mode", True),
    ("shadow-user", "shadow mode, guest user mode", True),
    ("shadow-kernel", "shadow mode, guest kernel mode", True),
    ("hw-kernel", "hw mode, guest kernel mode (CPL0 emulated by KVM here; KN iterations, extrapolated)", False),
]


def guest(vmmd, name, paging, cfg):
    _, out = lib.trapbench_run(vmmd, name, paging, "loop", cfg)
    return out["loop-user"][0], out["loop-kernel"][0]


def body(res, args):
    cfg = res.config(FULL, QUICK)
    if res.skip_without_kvm():
        return
    hz = lib.tsc_hz()
    res.doc["data"]["tsc_hz"] = hz
    rounds = []
    with lib.Vmmd() as vmmd:
        for r in range(cfg["rounds"]):
            row = {}
            steps = ["native", "hw", "shadow"]
            steps = steps[r % 3:] + steps[:r % 3]
            for step in steps:
                if step == "native":
                    x = lib.run_native_loop(cfg["n"])
                    row["native"] = {"n": x["n"], "cycles": x["cycles"], "wall_s": x["ns"] / 1e9}
                else:
                    u, k = guest(vmmd, "b9%s%d" % (step[0], r), step, cfg)
                    row[step + "-user"] = u
                    row[step + "-kernel"] = k
            for key, cell in row.items():
                cell["cycles_per_iter"] = cell["cycles"] / cell["n"]
                cell["ns_per_iter"] = cell["cycles_per_iter"] / hz * 1e9
            for key, cell in row.items():
                cell["speed_vs_native"] = row["native"]["cycles_per_iter"] / cell["cycles_per_iter"]
            rounds.append(row)
            lib.log("  B9 round %d: cycles/iteration " % (r + 1) + ", ".join(
                "%s %.3f" % (k, row[k]["cycles_per_iter"]) for k, _, _ in CELLS))
    res.doc["data"]["rounds"] = rounds
    summary = {}
    rows = []
    for key, label, natively in CELLS:
        s = {"cycles_per_iter": lib.spread_over([r[key]["cycles_per_iter"] for r in rounds]),
             "ns_per_iter": lib.spread_over([r[key]["ns_per_iter"] for r in rounds]),
             "speed_vs_native": lib.spread_over([r[key]["speed_vs_native"] for r in rounds]),
             "n": rounds[0][key]["n"], "native_cpl": natively}
        s["time_for_n_s"] = s["ns_per_iter"]["median"] * cfg["n"] / 1e9
        summary[key] = s
        extrap = key == "hw-kernel"
        rows.append([label, "%d%s" % (s["n"], " (of %d)" % cfg["n"] if extrap else ""),
                     lib.fmt_spread(s["cycles_per_iter"], lambda v: "%.3f" % v if v < 100 else "%.0f" % v),
                     "%.3g s%s" % (s["time_for_n_s"], " (extrapolated)" if extrap else ""),
                     lib.fmt_spread(s["speed_vs_native"], lambda v: "%.3f" % v if v > 0.01 else "%.2g" % v)])
    res.doc["data"]["summary"] = summary
    res.table("B9: %d iterations of the add/rol chain (median over %d rounds, min–max; TSC %.0f MHz)"
              % (cfg["n"], cfg["rounds"], hz / 1e6),
              ["where the loop runs", "iterations", "TSC cycles / iteration", "time for %d" % cfg["n"],
               "speed vs native (1 = native)"], rows,
              note="The hw-mode guest-kernel cell runs %d iterations and is extrapolated linearly: on this "
                   "host (KVM without VT-x) every guest CPL0 instruction is emulated. Shadow mode runs the "
                   "guest kernel at real CPL3, so its kernel cell is native." % cfg["kn"])
    native_cells = [k for k, _, nat in CELLS if nat and k != "native"]
    worst = min(native_cells, key=lambda k: summary[k]["speed_vs_native"]["median"])
    v = summary[worst]["speed_vs_native"]["median"]
    res.goal("≥ 0.95 of native wherever the host runs that CPL natively", v >= 0.95, v, 0.95,
             "worst %s: %.3f of native; hw kernel (emulated) %.2g" % (
                 worst, v, summary["hw-kernel"]["speed_vs_native"]["median"]))
    res.plot(name="b9-cpu", title="B9: speed vs native (median; hw kernel mode is emulated here)",
             kind="bars", ylabel="native cycles / guest cycles",
             series=[{"name": k, "y": round(summary[k]["speed_vs_native"]["median"], 4)} for k, _, _ in CELLS])


if __name__ == "__main__":
    lib.run_harness("B9", "CPU-bound loop vs native", body)
