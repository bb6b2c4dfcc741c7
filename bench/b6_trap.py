#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B6: shadow trap cost against the raw exit floor, same host, same run.

The trapbench guest (guests/trapbench.c) times N operations with rdtsc and
prints cycles; the harness converts them with the host's TSC rate and also
times each phase by the console events' timestamps (wall clock, ±5 ms: the
worker coalesces console notifications). Each round runs two VMs of 16 MiB,
in alternating order:

  hw VM      floor       N x `outb %al, $0x80` from guest user mode (CPL3),
                         let through by the TSS I/O bitmap: a KVM_EXIT_IO to
                         vmmd's bus (port 0x80 is unclaimed) and back, the
                         raw exit floor
             kernel-out  the same from guest kernel mode: CPL0 code that
                         KVM emulates on this host (context only)
  shadow VM  trap-out    N x the same `out` from guest kernel mode, which
                         runs at real CPL3: #GP, the monitor stub's exit,
                         vmmd decodes and emulates it on its bus, re-entry
             trap-cli    N x `cli`: a trap that does not touch the bus
             hc-port     N x vmmd's hypercall through the hypercall port,
                         open in the monitor's TSS I/O bitmap: a plain port
                         exit, no exception, no stub (XENPV.md 9.1 #4)
             hc-msr      N x the same hypercall through `wrmsr` (#GP trap)
             syscall     N x `syscall` from guest kernel mode to a handler
                         that jumps back: the #PF at the monitor's LSTAR on
                         this host, the path a Xen PV hypercall takes
             fill        F x a read of a fresh page of guest memory the
                         guest already maps (2 MiB pages): no guest #PF, a
                         shadow miss vmmd fills, one entry each (this VM has
                         shadow.prefetch 1). Each page was read before
                         through an alias with tables of its own, so the
                         host has the frame already: the host's own first
                         touch is not in it. F alternates between rounds
                         (FULL: 3072 and 2048 of the 16 MiB) so that vmmd's
                         counters prove each touch one fill: traps.by_class
                         page_fault_fill - 2F (alias and timed touch) must
                         be the same in every round.

The ratio trap-out / floor is taken per round, then the median; so is the
hypercall transport's, syscall / hc-port. Those ratios are also the
figure's comparison rows (lib.Result.compare), which docs/PERFORMANCE.md
shows beside the same run on another host: `make bench-nested` measures
B6 on AMD-V emulated by QEMU's TCG (host tcg-svm). There the port
hypercall is no port exit (the named quirk hypercall-port-not-an-io-exit,
tests/e2e/vmmtest.py HOST_QUIRKS): QEMU raises #GP for it, the monitor's
stub exits and vmmd emulates the `out`, so hc-port takes the trap path.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

FULL = {"rounds": 7, "n": 20000, "kn": 200, "fill": 3072}
# Two rounds at least: the fill check needs two page counts.
QUICK = {"rounds": 2, "n": 500, "kn": 20, "fill": 128}
WALL_MIN_S = 0.1      # shorter phases: the ±5 ms of the event timestamps dominate

LABELS = {
    "floor": "floor: guest user-mode out, KVM_EXIT_IO to vmmd and back (hw)",
    "trap-out": "shadow trap: guest kernel out → #GP → monitor → vmmd emulates → resume",
    "trap-cli": "shadow trap: guest kernel cli (no device bus)",
    "kernel-out": "hw guest kernel out (CPL0, which KVM emulates on PVM; context)",
    "hc-port": "shadow hypercall: out %al,$0xef through the monitor's I/O bitmap (a port exit)",
    "hc-msr": "shadow hypercall: wrmsr (#GP → monitor → vmmd emulates)",
    "syscall": "shadow syscall from guest kernel mode (the monitor's LSTAR → vmmd, a #PF there on PVM; "
               "Xen PV's hypercall path)",
    "fill": "shadow fill: guest kernel read of a fresh, guest-mapped page → #PF → vmmd walks and fills one entry",
}


# The same operations named for any host: the comparison rows.
COMPARE_LABELS = {
    "floor": "raw exit floor: hw guest user-mode out to vmmd and back",
    "trap-out": "shadow trap: guest kernel out (#GP, monitor, vmmd emulates)",
    "trap-cli": "shadow trap: guest kernel cli",
    "hc-port": "shadow hypercall: out %al,$0xef through the monitor's I/O bitmap",
    "hc-msr": "shadow hypercall: wrmsr (#GP, monitor, vmmd emulates)",
    "syscall": "shadow syscall from guest kernel mode (Xen PV's hypercall path)",
    "fill": "shadow fill: guest kernel read of a fresh page (#PF, vmmd fills one entry)",
    "kernel-out": "hw guest kernel out (CPL0)",
}
# Where the port hypercall is a #GP instead (HOST_QUIRKS).
PORT_QUIRK = "hypercall-port-not-an-io-exit"


def one_vm(vmmd, name, paging, cfg, fill):
    if paging == "shadow":
        run, res = lib.trapbench_run(vmmd, name, paging, "trap", cfg, "fill=%d" % fill, shadow={"prefetch": 1})
    else:
        run, res = lib.trapbench_run(vmmd, name, paging, "trap", cfg)
    return res, run.info.get("stats") or {}


def fill_pages(cfg, r):
    """The fill phase's page count in round r: two counts, alternating."""
    return cfg["fill"] if r % 2 == 0 else cfg["fill"] * 2 // 3


def check_fills(rounds_fills):
    """[(pages read, page_fault_fill)] per round -> the fills that are not the
    phase's (boot, image, stacks: the same in every round). Each page is read
    twice (alias, then timed), each read one fill: page_fault_fill - 2 x pages
    must not change with the page count. Raises otherwise."""
    rest = sorted({fills - 2 * pages for pages, fills in rounds_fills})
    counts = {pages for pages, _ in rounds_fills}
    if len(rest) != 1 or rest[0] < 0:
        raise lib.BenchError("shadow fills are not one per touched page: (pages, page_fault_fill) per round %s"
                             % rounds_fills)
    if len(counts) < 2:
        raise lib.BenchError("the fill check needs two page counts, got %s" % sorted(counts))
    return rest[0]


def body(res, args):
    cfg = res.config(FULL, QUICK)
    if res.skip_without_kvm():
        return
    hz = lib.tsc_hz()
    res.doc["data"]["tsc_hz"] = hz
    rounds = []
    fills_seen = []
    with lib.Vmmd() as vmmd:
        host = vmmd.host_kind()
        port_exits = not vmmd.host_has(PORT_QUIRK)
        res.doc["data"]["host"] = host
        for r in range(cfg["rounds"]):
            got = {}
            order = ("hw", "shadow") if r % 2 == 0 else ("shadow", "hw")
            for paging in order:
                out, stats = one_vm(vmmd, "b6%s%d" % (paging[0], r), paging, cfg, fill_pages(cfg, r))
                got[paging] = (out, stats)
            hw, hw_stats = got["hw"]
            sh, sh_stats = got["shadow"]
            io_exits = (hw_stats.get("exits") or {}).get("io", 0)
            traps = ((sh_stats.get("traps") or {}).get("privileged_by_mnemonic") or {})
            # Sanity: every floor out reached vmmd, every shadow out and cli trapped.
            if io_exits < cfg["n"]:
                raise lib.BenchError("the floor made %d io exits for %d outs" % (io_exits, cfg["n"]))
            if traps.get("out", 0) < cfg["n"] or traps.get("cli", 0) < cfg["n"]:
                raise lib.BenchError("shadow traps counted %s for %d outs and clis" % (traps, cfg["n"]))
            by_class = (sh_stats.get("traps") or {}).get("by_class") or {}
            if by_class.get("syscall", 0) < cfg["n"]:
                raise lib.BenchError("shadow traps counted %s for %d syscalls" % (by_class, cfg["n"]))
            if port_exits and by_class.get("hypercall", 0) < cfg["n"]:
                raise lib.BenchError("shadow traps counted %s for %d port hypercalls" % (by_class, cfg["n"]))
            # Where the port's `out` is a #GP (PORT_QUIRK), vmmd emulates it:
            # it counts as an `out` beside trap-out's, and as no hypercall.
            if not port_exits and (traps.get("out", 0) < 2 * cfg["n"] or by_class.get("hypercall", 0)):
                raise lib.BenchError("on a %s host the port hypercalls are emulated outs: traps %s, %s"
                                     % (host, traps, by_class))
            if by_class.get("page_fault_guest", 0):
                raise lib.BenchError("the fill phase made guest page faults: %s" % by_class)
            fills_seen.append((sh["fill"][0]["n"], by_class.get("page_fault_fill", 0)))
            row = {}
            for name, m in list(hw.items()) + list(sh.items()):
                x = m[0]
                us = x["cycles"] / x["n"] / hz * 1e6
                wall = x["wall_s"] / x["n"] * 1e6 if x["wall_s"] and x["wall_s"] >= WALL_MIN_S else None
                row[name] = {"us": us, "cycles": x["cycles"] / x["n"], "wall_us": wall, "n": x["n"]}
            rounds.append(row)
            lib.log("  B6 round %d: floor %.1f µs, trap-out %.1f µs (%.2fx), trap-cli %.1f µs, hw kernel out %.1f µs, "
                    "hc-port %.1f µs, syscall %.1f µs, fill %.1f µs (%d pages, %d fills in the VM)"
                    % (r + 1, row["floor"]["us"], row["trap-out"]["us"], row["trap-out"]["us"] / row["floor"]["us"],
                       row["trap-cli"]["us"], row["kernel-out"]["us"], row["hc-port"]["us"], row["syscall"]["us"],
                       row["fill"]["us"], fills_seen[-1][0], fills_seen[-1][1]))
    res.doc["data"]["rounds"] = rounds
    other = check_fills(fills_seen)
    res.doc["data"]["fills"] = {"per_round": [{"pages": p, "page_fault_fill": f} for p, f in fills_seen],
                                "not_the_phase": other}
    names = ["floor", "trap-out", "trap-cli", "hc-port", "hc-msr", "syscall", "fill", "kernel-out"]
    labels = dict(LABELS)
    if not port_exits:
        labels["hc-port"] = ("shadow hypercall: out %%al,$0xef, on this host (%s) a #GP the monitor passes on "
                             "and vmmd emulates (%s)" % (host, PORT_QUIRK))
    summary = {}
    for name in names:
        summary[name] = {
            "us": lib.spread_over([r[name]["us"] for r in rounds]),
            "cycles": lib.spread_over([r[name]["cycles"] for r in rounds]),
            "wall_us": lib.spread_over([r[name]["wall_us"] for r in rounds]),
            "ratio_to_floor": lib.spread_over([r[name]["us"] / r["floor"]["us"] for r in rounds]),
        }
    res.doc["data"]["summary"] = summary
    f1 = lambda v: "%.1f" % v  # noqa: E731
    rows = []
    for name in names:
        s = summary[name]
        ns = "/".join(str(n_) for n_ in sorted({r[name]["n"] for r in rounds}, reverse=True))
        rows.append([labels[name], ns, lib.fmt_spread(s["cycles"], lambda v: "%.0f" % v),
                     lib.fmt_spread(s["us"], f1), lib.fmt_spread(s["wall_us"], f1),
                     lib.fmt_spread(s["ratio_to_floor"], lib.fmt_x)])
    res.table("B6: cost per operation (median over %d rounds, min–max; TSC %.0f MHz)" % (cfg["rounds"], hz / 1e6),
              ["operation", "n", "TSC cycles", "µs (rdtsc)", "µs (wall, console events)", "ratio to floor"], rows,
              note="Guest-side rdtsc around the loop, converted with the host's TSC rate; the wall column "
                   "times the same phase by the supervisor's console-event timestamps (±5 ms, shown for "
                   "phases ≥ %.0f ms). Ratios are per round (the two VMs of a round run back to back). "
                   "fill: the page count alternates between rounds; vmmd's page_fault_fill counter was "
                   "exactly 2 per page read (alias and timed read) + %d in every round."
                   % (WALL_MIN_S * 1e3, other))
    transport = lib.spread_over([r["syscall"]["us"] / r["hc-port"]["us"] for r in rounds])
    msr_port = lib.spread_over([r["hc-msr"]["us"] / r["hc-port"]["us"] for r in rounds])
    res.doc["data"]["transport_x"] = transport
    res.table("B6: the hypercall transport (XENPV.md 9.1 #4), per round, then the median",
              ["figure", "value"],
              [["syscall / port hypercall, time per call", lib.fmt_spread(transport, lib.fmt_x)],
               ["port hypercall / raw exit floor",
                lib.fmt_spread(summary["hc-port"]["ratio_to_floor"], lib.fmt_x)],
               ["wrmsr hypercall / port hypercall", lib.fmt_spread(msr_port, lib.fmt_x)]],
              note="One call each way: the port form is a direct port exit from real CPL3, the others an "
                   "exception delivered to the monitor, whose stub exits.")
    port_note = "" if port_exits else " (a #GP here: %s)" % PORT_QUIRK
    crows = [[name, COMPARE_LABELS[name],
              lib.fmt_spread(summary[name]["ratio_to_floor"], lib.fmt_x) + (port_note if name == "hc-port" else "")]
             for name in names]
    crows += [["syscall/hc-port", "syscall / port hypercall, time per call", lib.fmt_spread(transport, lib.fmt_x)],
              ["hc-msr/hc-port", "wrmsr hypercall / port hypercall", lib.fmt_spread(msr_port, lib.fmt_x)]]
    res.compare("B6 on each host: cost per operation as a ratio to that host's raw exit floor in the same run "
                "(median over rounds, min–max)", crows)
    r = summary["trap-out"]["ratio_to_floor"]
    res.goal("shadow trap ≤ 1.2x the raw CPL3 exit floor", r["median"] <= 1.2, r["median"], 1.2,
             "%s of the floor (%.1f vs %.1f µs)" % (lib.fmt_x(r["median"]), summary["trap-out"]["us"]["median"],
                                                   summary["floor"]["us"]["median"]))
    res.plot(name="b6-trap", title="B6: µs per operation (median over rounds)", kind="bars", ylabel="µs",
             series=[{"name": n_, "y": round(summary[n_]["us"]["median"], 2)} for n_ in names])


if __name__ == "__main__":
    lib.run_harness("B6", "shadow trap cost vs the raw exit floor", body)
