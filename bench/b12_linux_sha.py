#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B12: sha256sum of 64 MiB inside Debian's kernel in shadow mode (Xen PV),
against the host and QEMU TCG in the same run (bench/linux_pv.py): a file
in tmpfs (the figure), and the dd | sha256sum pipe (context switches)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import linux_pv  # noqa: E402

GOAL_X = 1.1
SHA_ZEROS = "3b6a07d0d404fab4e23b6d34bc6696a6a312dd92821332385e5af7c01c421351"


def body(res, args):
    s = linux_pv.session(res.doc["quick"])
    if s.get("skipped"):
        res.doc["status"] = "skipped"
        res.note("skipped: " + s["skipped"])
        return
    v, t, n = s["vmmd"], s["tcg"], s["native"]
    for who, g in (("vmmd", v), ("QEMU TCG", t)):
        for k in ("sha_file_sum", "sha_pipe_sum"):
            if g.get(k) and g[k] != SHA_ZEROS:
                raise lib.BenchError("%s computed a wrong sha256 (%s): %s" % (who, k, g[k]))
    sec = lambda x: "%.2f" % x if x is not None else "—"  # noqa: E731
    x = lambda a, b: lib.fmt_x(a / b) if a and b else "—"  # noqa: E731
    rows = [[name, sec(g.get("sha_file_s")), x(g.get("sha_file_s"), n.get("sha_file_s")),
             sec(g.get("sha_pipe_s")), x(g.get("sha_pipe_s"), n.get("sha_pipe_s"))]
            for name, g in (("vmmd, shadow mode, xen-pv", v), ("QEMU TCG", t), ("native (host, busybox)", n))]
    res.table("B12: sha256sum of 64 MiB (s; busybox's sha256sum everywhere; guest-timed)",
              ["target", "a file in tmpfs", "vs native", "dd | sha256sum", "vs native"], rows)
    brows = []
    for phase in ("sha_file", "sha_pipe"):
        d = v["phases"][phase]["delta"]
        brows.append([phase.replace("sha_", ""), "%d" % d.get("traps.total", 0),
                      "%d" % d.get("traps.by_class.syscall", 0), "%d" % d.get("traps.by_class.hypercall", 0),
                      "%d" % d.get("pt_switches.guest", 0), "%d" % d.get("traps.by_class.interrupt", 0),
                      "%d" % d.get("traps.by_class.page_fault_fill", 0), "%d" % d.get("exits.shadow_pool_zap", 0),
                      "%.1f" % v["phases"][phase]["wall_s"]])
    res.table("B12: vmmd's counters during each sha256sum (Δ stats.get)",
              ["what", "traps", "user syscalls", "hypercalls", "guest pt switches", "events", "fills", "pool zaps",
               "wall s (vmmd's clock)"], brows)
    ratio = v["sha_file_s"] / n["sha_file_s"] if v.get("sha_file_s") and n.get("sha_file_s") else None
    res.doc["data"]["sha_s"] = {"vmmd": [v.get("sha_file_s"), v.get("sha_pipe_s")],
                                "tcg": [t.get("sha_file_s"), t.get("sha_pipe_s")],
                                "native": [n.get("sha_file_s"), n.get("sha_pipe_s")]}
    res.goal("sha256sum of 64 MiB within %.1fx of native" % GOAL_X, ratio is not None and ratio <= GOAL_X,
             value=ratio, limit=GOAL_X, shown="%s of native (%s s vs %s s); TCG %s"
             % (lib.fmt_x(ratio), sec(v.get("sha_file_s")), sec(n.get("sha_file_s")),
                x(t.get("sha_file_s"), n.get("sha_file_s"))))


if __name__ == "__main__":
    lib.run_harness("B12", "Linux in shadow mode: sha256sum of 64 MiB", body)
