#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B15: what the shadow MMU's invalidations and first touches cost (the
stage-0 spikes of ../shared/XENPV.md 9.1, #2 and #3; not in BENCHMARKS.md,
whose B10-B13 need the Xen PV layer).

zapbench (guests/zapbench.c, ported from ../shared/xenpv/zapbench.c) in
shadow mode, `cached`, 64 MiB, one VM per configuration and round, in
rotating order:

  targeted   shadow.zap "targeted": KVM_X86_QUIRK_SLOT_ZAP_ALL off, the
             pool one KVM slot per page, so a zap drops what KVM derived
             from the page tables that changed, nothing else
  all        shadow.zap "all": the pool one slot, every zap drops
             everything KVM derived from the pool (what vmmd did before)
  baseline   (only with VMMD_BASELINE=path/to/old/vmmd) the old binary

For n touched pages zapbench prints cycles per round of: a `cli` trap and
the n pages ("trap"), and `invlpg` of another page (a zap at that flush
point), its refill and the n pages ("zap"). zap - trap is what a zap costs:
one more trap (the refill), the slot re-registration, and the pages KVM
refaults afterwards; its growth with n is the refault cost per page.

directpaging (guests/directpaging.c), 64 MiB, `cached` against `direct`
(the direct-paging spike: the guest's own tables are the real CR3 and KVM
shadows them): cycles per page of a first touch, a vmmd fill trap each in
`cached`, a fault inside the host in `direct`; and its alias check.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

FULL = {"rounds": 5, "reps": 20, "max": 4096, "check": 64, "n": 1024}
QUICK = {"rounds": 1, "reps": 2, "max": 64, "check": 8, "n": 64}
NS = [0, 16, 64, 256, 1024, 4096]


def zapbench(vmmd, name, cfg, zap):
    shadow = {"strategy": "cached"}
    if zap:
        shadow["zap"] = zap
    run = lib.GuestRun(vmmd, name, "zapbench", paging="shadow", memory_mib=64, shadow=shadow, timeout=600,
                       cmdline="reps=%d max=%d check=%d" % (cfg["reps"], cfg["max"], cfg["check"]))
    if not run.exit_ok() or "zapbench: remap check ok" not in run.text:
        raise lib.BenchError("%s ended with %s:\n%s" % (name, run.info.get("exit"), run.text[-800:]))
    out = {}
    for line, _, _ in run.lines("zapbench: n="):
        kv = lib.kv_line(line)
        out[int(kv["n"])] = {k: int(kv[k]) for k in ("first", "native", "trap", "zap")}
    stats = run.info.get("stats") or {}
    out["zaps"] = (stats.get("exits") or {}).get("shadow_pool_zap")
    out["zap_group_pages"] = (stats.get("shadow") or {}).get("zap_group_pages")
    return out


def directpaging(vmmd, name, cfg, strategy):
    run = lib.GuestRun(vmmd, name, "directpaging", paging="shadow", memory_mib=64, timeout=300,
                       shadow={"strategy": strategy}, cmdline="n=%d rounds=%d" % (cfg["n"], cfg["check"]),
                       experimental=["direct-paging"])
    if not run.exit_ok():
        raise lib.BenchError("%s ended with %s:\n%s" % (name, run.info.get("exit"), run.text[-800:]))
    out = {}
    for line, _, _ in run.lines("directpaging: "):
        out.update({k: int(v) for k, v in lib.kv_line(line).items()})
    by_class = ((run.info.get("stats") or {}).get("traps") or {}).get("by_class") or {}
    out["fills"] = by_class.get("page_fault_fill")
    return out


def body(res, args):
    cfg = res.config(FULL, QUICK)
    if res.skip_without_kvm():
        return
    for g in ("zapbench", "directpaging"):
        lib.require_guest(g)
    hz = lib.tsc_hz()
    res.doc["data"]["tsc_hz"] = hz
    us = lambda c: c / hz * 1e6  # noqa: E731
    ns = [n for n in NS if n <= cfg["max"]]
    zconfigs = ["targeted", "all"] + (["baseline"] if lib.VMMD_BASELINE else [])
    rounds = []
    base = lib.Vmmd(binary=lib.VMMD_BASELINE).start() if lib.VMMD_BASELINE else None
    try:
        with lib.Vmmd() as vmmd:
            for r in range(cfg["rounds"]):
                row = {"zap": {}, "dp": {}}
                order = zconfigs[r % len(zconfigs):] + zconfigs[:r % len(zconfigs)]
                for key in order:
                    row["zap"][key] = zapbench(base if key == "baseline" else vmmd, "b15z%s%d" % (key[:2], r), cfg,
                                               None if key == "baseline" else key)
                for st in (("cached", "direct") if r % 2 == 0 else ("direct", "cached")):
                    row["dp"][st] = directpaging(vmmd, "b15d%s%d" % (st[:2], r), cfg, st)
                rounds.append(row)
                big = ns[-1]
                lib.log("  B15 round %d: zap round at n=%d: %s; first touch: cached %.1f µs, direct %.1f µs"
                        % (r + 1, big, ", ".join("%s %.0f µs" % (k, us(row["zap"][k][big]["zap"])) for k in zconfigs),
                           us(row["dp"]["cached"]["first"]), us(row["dp"]["direct"]["first"])))
    finally:
        if base:
            base.stop()
    res.doc["data"]["rounds"] = rounds

    # zapbench: the cost of a zap over a trap, per n and configuration.
    summary = {"zap": {}, "dp": {}}
    rows = []
    for n in ns:
        s = {"trap_us": lib.spread_over([us(rd["zap"]["targeted"][n]["trap"]) for rd in rounds])}
        for key in zconfigs:
            s[key] = lib.spread_over([us(rd["zap"][key][n]["zap"] - rd["zap"][key][n]["trap"]) for rd in rounds])
        # Of the medians: a targeted zap can cost about nothing over its
        # trap in a round, which makes per-round ratios meaningless.
        s["all_over_targeted"] = s["all"]["median"] / max(s["targeted"]["median"], s["trap_us"]["median"])
        summary["zap"][n] = s
        f = lambda v: "%.0f" % v  # noqa: E731
        rows.append([str(n), lib.fmt_spread(s["trap_us"], f)] + [lib.fmt_spread(s[k], f) for k in zconfigs] +
                    [lib.fmt_x(s["all_over_targeted"])])
    res.table("B15: a zap's cost over a trap, by pages touched afterwards (µs per round; median over %d rounds, "
              "min–max; TSC %.0f MHz)" % (cfg["rounds"], hz / 1e6),
              ["pages touched (n)", "trap round (cli + n pages)"] +
              ["zap − trap: %s" % k for k in zconfigs] + ["all / targeted (medians)"], rows,
              note="zap − trap = one more trap (the refill of the invlpg'd page), KVM forgetting the slot(s) "
                   "and its refaults of the n pages afterwards. 'all' zaps the whole pool (the n pages all "
                   "refault); 'targeted' only the page table that changed. %d rounds of %d reps each; zaps "
                   "counted per VM: %s." % (cfg["rounds"], cfg["reps"], ", ".join(
                       "%s %s (group %s)" % (k, rounds[0]["zap"][k]["zaps"], rounds[0]["zap"][k]["zap_group_pages"])
                       for k in zconfigs)))
    big = ns[-1]
    per_page = {}
    for key in zconfigs:
        per_page[key] = lib.spread_over([us((rd["zap"][key][big]["zap"] - rd["zap"][key][big]["trap"]) -
                                            (rd["zap"][key][0]["zap"] - rd["zap"][key][0]["trap"])) / max(1, big)
                                         for rd in rounds])
    summary["zap"]["refault_us_per_page"] = per_page

    # directpaging: first touch.
    for st in ("cached", "direct"):
        summary["dp"][st] = {"first_us": lib.spread_over([us(rd["dp"][st]["first"]) for rd in rounds]),
                             "native_cycles": lib.spread_over([rd["dp"][st]["native"] for rd in rounds]),
                             "fills": lib.spread_over([rd["dp"][st]["fills"] for rd in rounds]),
                             "at_once": lib.spread_over([rd["dp"][st]["new-frame-at-once"] for rd in rounds]),
                             "after": lib.spread_over([rd["dp"][st]["after-invlpg"] for rd in rounds])}
    ratio = lib.spread_over([rd["dp"]["cached"]["first"] / max(1, rd["dp"]["direct"]["first"]) for rd in rounds])
    summary["dp"]["cached_over_direct"] = ratio
    f1 = lambda v: "%.1f" % v  # noqa: E731
    res.table("B15: first touch and page-table writes, vmmd's shadow (cached) against direct paging "
              "(median over %d rounds, min–max)" % cfg["rounds"],
              ["design", "first touch, µs per page", "vmmd fill traps in the VM", "alias write seen at once",
               "seen after invlpg"],
              [["(A) vmmd shadow MMU, cached", lib.fmt_spread(summary["dp"]["cached"]["first_us"], f1),
                lib.fmt_spread(summary["dp"]["cached"]["fills"], lambda v: "%.0f" % v),
                lib.fmt_spread(summary["dp"]["cached"]["at_once"], lambda v: "%.0f" % v),
                "%s of %d" % (lib.fmt_spread(summary["dp"]["cached"]["after"], lambda v: "%.0f" % v), cfg["check"])],
               ["(C) direct paging (KVM shadows the guest's tables)",
                lib.fmt_spread(summary["dp"]["direct"]["first_us"], f1),
                lib.fmt_spread(summary["dp"]["direct"]["fills"], lambda v: "%.0f" % v),
                lib.fmt_spread(summary["dp"]["direct"]["at_once"], lambda v: "%.0f" % v),
                "%s of %d" % (lib.fmt_spread(summary["dp"]["direct"]["after"], lambda v: "%.0f" % v), cfg["check"])]],
              note="%d pages touched once. Fill traps: the whole run's (the boot tables' few before the guest "
                   "loads its own, then none under direct paging). cached / direct per round: %s."
                   % (cfg["n"], lib.fmt_spread(ratio, lib.fmt_x)))
    res.doc["data"]["summary"] = {"zap": {str(k): v for k, v in summary["zap"].items()}, "dp": summary["dp"]}

    t_pp, a_pp = per_page["targeted"]["median"], per_page["all"]["median"]
    met = big > 0 and a_pp > 0 and t_pp <= 0.1 * a_pp
    res.goal("a targeted zap does not grow with the working set: its refaults per page touched afterwards "
             "≤ 10% of a whole-pool zap's", met, t_pp / a_pp if a_pp else None, 0.1,
             "refaults %.1f µs per page after a whole-pool zap, %.2f after a targeted one; zap − trap at "
             "n=%d: %.1f ms (targeted) vs %.0f ms (all); first touch %.0f µs (A) vs %.0f µs (C, direct paging)"
             % (a_pp, t_pp, big, summary["zap"][big]["targeted"]["median"] / 1e3,
                summary["zap"][big]["all"]["median"] / 1e3, summary["dp"]["cached"]["first_us"]["median"],
                summary["dp"]["direct"]["first_us"]["median"]))
    res.plot(name="b15-zap", title="B15: zap − trap (µs per round) by pages touched afterwards", kind="lines",
             xlabel="pages touched after the zap", ylabel="µs",
             series=[{"name": k, "x": ns, "y": [round(summary["zap"][n][k]["median"], 1) for n in ns]}
                     for k in zconfigs])


if __name__ == "__main__":
    lib.run_harness("B15", "shadow MMU: zaps, first touch, direct paging", body)
