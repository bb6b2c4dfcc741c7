# SPDX-License-Identifier: MIT
"""Smoke run of the benchmark harnesses (bench/run-all --quick): each one
starts, measures a few iterations and writes a well-formed result. No
timing is asserted: figures live in docs/PERFORMANCE.md (make bench).
The figures that run VMs (B3-B9, B14) skip, saying so, without /dev/kvm."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import vmmtest
from vmmtest import check, fail, kvm

RUN_ALL = os.path.join(vmmtest.ROOT, "bench", "run-all")
TMP = tempfile.mkdtemp(prefix="vmmtest-bench.")
RESULTS = os.path.join(TMP, "results")


def run_all(*figures):
    cmd = [sys.executable, RUN_ALL, "--quick", "--no-docs", "--no-install", "--results", RESULTS,
           "--only", ",".join(figures)]
    env = dict(os.environ, B=vmmtest.B)
    try:
        p = subprocess.run(cmd, cwd=vmmtest.ROOT, env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        fail("bench/run-all --quick %s took more than 240 s" % " ".join(figures))
    out = p.stdout + p.stderr
    check(p.returncode == 0, "bench/run-all --quick --only %s exited %d:\n%s"
          % (",".join(figures), p.returncode, out[-3000:]))
    docs = {}
    for fid in figures:
        path = os.path.join(RESULTS, fid + ".json")
        check(os.path.exists(path), "%s wrote no %s:\n%s" % (fid, path, out[-2000:]))
        with open(path) as f:
            doc = json.load(f)
        for key in ("id", "title", "date", "machine", "status", "goal", "tables", "quick"):
            check(key in doc, "%s result lacks %s: %s" % (fid, key, vmmtest.show(doc)))
        check(doc["id"] == fid and doc["quick"] is True, "%s: id/quick wrong in %s" % (fid, path))
        docs[fid] = doc
    return docs, out


def check_measured(doc):
    fid = doc["id"]
    check(doc["status"] == "ok", "%s status %s, notes: %s" % (fid, doc["status"], doc.get("notes")))
    check(doc["tables"] and all(t["rows"] for t in doc["tables"]), "%s has an empty table" % fid)
    check(doc["goal"] and doc["goal"].get("met") in (True, False),
          "%s gave no verdict on its goal: %s" % (fid, doc["goal"]))


def test_bench_control_plane(d):
    """B1 (latency) and B2 (throughput): echo floor and vmmd, no KVM needed."""
    docs, out = run_all("B1", "B2")
    for doc in docs.values():
        check_measured(doc)
    s1 = docs["B1"]["data"]["summary"]
    for target in ("echo", "vmmd"):
        check(target in s1 and s1[target]["errors"] == 0, "B1 %s: missing or errors: %s" % (target, s1.get(target)))
    s2 = docs["B2"]["data"]["summary"]
    check(s2["vmmd"]["errors"] == 0 and s2["echo"]["errors"] == 0, "B2 counted errors: %s" % s2)
    check(s2["vmmd"]["calls_per_s"]["median"] > 0, "B2: vmmd served no call")
    for note in docs["B1"]["notes"]:
        print("  note: B1 " + note)


@kvm
def test_bench_vm_figures(d):
    """B3 (start to first console byte) and B4 (memory per VM): need /dev/kvm."""
    docs, out = run_all("B3", "B4")
    for doc in docs.values():
        check_measured(doc)
        for note in doc["notes"]:
            print("  note: %s %s" % (doc["id"], note))
    check(docs["B3"]["data"]["summary"]["vmmd_poll_ms"]["median"] > 0, "B3 measured nothing")
    check(docs["B4"]["data"]["summary"]["vmmd_worker_pss_excl_guest_mib"]["median"] > 0, "B4 measured nothing")


@kvm
def test_bench_density(d):
    """B5 (N idle minios VMs in both modes, an idle.c reference, then all stopped): needs /dev/kvm."""
    docs, out = run_all("B5")
    doc = docs["B5"]
    check_measured(doc)
    modes = doc["data"]["modes"]
    for mode in ("hw", "shadow"):
        check(mode in modes and modes[mode]["steps"], "B5 %s measured nothing: %s" % (mode, modes.get(mode)))
        last = modes[mode]["steps"][-1]
        check(last["n"] == doc["data"]["config"]["steps"][-1],
              "B5 %s stopped early: %s" % (mode, modes[mode]["stopped_by"]))
        check(last["api_ms"]["vm.info"]["n"] > 0 and last["memory_mib"]["workers_pss_total"] > 0,
              "B5 %s: no latency or memory figures: %s" % (mode, vmmtest.show(last)))
        check(modes[mode]["workers_left"] == 0, "B5 %s left workers running" % mode)
        check(modes[mode]["projection"] and modes[mode]["projection"]["first"],
              "B5 %s: no limit projected" % mode)
        check(modes[mode]["guest"] == "minios", "B5 %s ramped %s, not minios" % (mode, modes[mode]["guest"]))
        ref = doc["data"]["reference"][mode]
        check(ref["steps"] and ref["workers_left"] == 0,
              "B5 %s reference (%s): %s" % (mode, ref["guest"], ref["stopped_by"]))


@kvm
def test_bench_shadow_figures(d):
    """B6 (shadow trap vs the raw exit floor, the hypercall transport), B9 (CPU
    loop vs native): trapbench, both modes; B15 (zaps, first touch, direct
    paging): zapbench and directpaging."""
    docs, out = run_all("B6", "B9", "B15")
    for doc in docs.values():
        check_measured(doc)
        for note in doc["notes"]:
            print("  note: %s %s" % (doc["id"], note))
    s6 = docs["B6"]["data"]["summary"]
    for name in ("floor", "trap-out", "trap-cli", "kernel-out"):
        check(s6[name]["us"]["median"] > 0, "B6 %s measured nothing: %s" % (name, s6[name]))
    check(docs["B6"]["data"]["tsc_hz"] > 1e8, "B6: TSC rate %s" % docs["B6"]["data"]["tsc_hz"])
    for name in ("hc-port", "hc-msr", "syscall", "fill"):
        check(s6[name]["us"]["median"] > 0, "B6 %s measured nothing: %s" % (name, s6[name]))
    # b6_trap.check_fills held each round to 2 fills per page; the rest is boot.
    f6 = docs["B6"]["data"]["fills"]
    check(len({r["pages"] for r in f6["per_round"]}) == 2 and 0 < f6["not_the_phase"] < 100,
          "B6 fill check: %s" % f6)
    check("fill" in [row[0] for row in docs["B6"]["compare"]["rows"]], "B6: no fill comparison row")
    s9 = docs["B9"]["data"]["summary"]
    for name in ("native", "hw-user", "shadow-user", "shadow-kernel", "hw-kernel"):
        check(s9[name]["cycles_per_iter"]["median"] > 0, "B9 %s measured nothing: %s" % (name, s9[name]))
    s15 = docs["B15"]["data"]["summary"]
    for design in ("cached", "direct"):
        check(s15["dp"][design]["first_us"]["median"] > 0, "B15 %s first touch: %s" % (design, s15["dp"][design]))
        check(s15["dp"][design]["after"]["median"] == 8, "B15 %s alias check: %s" % (design, s15["dp"][design]))
    check(s15["zap"]["64"]["all"]["median"] != 0, "B15 zap rounds measured nothing: %s" % s15["zap"]["64"])


@kvm
def test_bench_minios_figures(d):
    """B7 (nanobench in hw and shadow mode, host-process rows) and B8 (vtlb vs
    cached in pingpong and churn): minios, both modes."""
    docs, out = run_all("B7", "B8")
    for doc in docs.values():
        check_measured(doc)
        for note in doc["notes"]:
            print("  note: %s %s" % (doc["id"], note))
    s7 = docs["B7"]["data"]["summary"]
    for row in ("syscall", "int80", "in", "callret", "pgfault", "divzero", "ptemod"):
        for cfg in ("hw", "shadow-cached", "shadow-vtlb"):
            check(s7[row][cfg]["median"] > 0, "B7 %s %s measured nothing: %s" % (row, cfg, s7[row][cfg]))
    for row in ("syscall", "callret", "pgfault", "divzero", "ptemod"):
        check(s7[row]["native"] and s7[row]["native"]["median"] > 0, "B7 native %s: %s" % (row, s7[row]["native"]))
    for strategy, t in docs["B7"]["data"]["traps"].items():
        check(not t["mismatch"], "B7 %s: the per-row trap model disagrees with stats.get: %s"
              % (strategy, t["mismatch"]))
    s8 = docs["B8"]["data"]["summary"]
    for workload in ("pingpong", "churn"):
        for cfg in ("vtlb", "cached", "hw"):
            x = s8[workload][cfg]
            # A figure, not a speed: the quick run differences two short
            # runs, which on a loaded machine can even come out negative.
            check(x["us_per_switch"] and x["us_per_switch"]["median"] is not None,
                  "B8 %s %s: no time per switch: %s" % (workload, cfg, x))
        check(s8[workload]["vtlb"]["fills_per_switch"]["median"] > 0, "B8 %s: vtlb made no fills" % workload)


@kvm
def test_bench_scrape(d):
    """B14 (vmmweb's /metrics with N VMs, one batch per scrape, events to a client)."""
    docs, out = run_all("B14")
    doc = docs["B14"]
    check_measured(doc)
    data = doc["data"]
    check(data["batches_per_scrape"] == 1, "B14: %s batches per scrape, not one" % data["batches_per_scrape"])
    check(data["samples"] > 0 and data["scrape_ms"], "B14 measured no scrape: %s" % vmmtest.show(data))
    check(data["sse_ms"]["n"] >= data["config"]["n"], "B14: too few events: %s" % data["sse_ms"])


def render_report(results, doc):
    """bench/report.py run on `results` into the file `doc`; its text."""
    p = subprocess.run([sys.executable, os.path.join(vmmtest.ROOT, "bench", "report.py"),
                        "--results", results, "--docs", doc], cwd=vmmtest.ROOT,
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "bench/report.py exited %d: %s" % (p.returncode, (p.stdout + p.stderr)[-2000:]))
    with open(doc) as f:
        return f.read()


def test_bench_report(d):
    """bench/report.py renders what the smoke runs left (into a temporary file)."""
    if not os.path.isdir(RESULTS) or not os.listdir(RESULTS):
        run_all("B1")
    text = render_report(RESULTS, os.path.join(TMP, "PERFORMANCE.md"))
    for want in ("# vmmd performance", "## Goals at a glance", "## B1", "quick (smoke) run"):
        check(want in text, "the report lacks %r" % want)


def fake_result(fid, host, compare=None):
    """A result as lib.Result writes it, made up for report.py's layout only."""
    doc = {"id": fid, "title": "figure " + fid, "quick": False, "date": "2026-01-01T00:00:00+00:00",
           "git": "0000000", "build": "build", "status": "ok", "elapsed_s": 1.0,
           "machine": {"cpu": "cpu-" + host, "cpus": 1, "kernel": "k", "virt": host.split("-")[-1]},
           "goal": None, "tables": [], "plots": [], "data": {"host": host}, "notes": []}
    if compare is not None:
        doc["compare"] = {"title": "ratios of " + fid, "rows": compare, "note": None}
    return doc


def test_bench_report_hosts(d):
    """report.py puts a figure measured on another host (results/host-TAG/,
    make bench-nested) beside this machine's, row by row by key; names a
    run without comparison rows; keeps other folders as experiments."""
    results = os.path.join(TMP, "hosts")
    for folder, fid, doc in (
            ("", "B6", fake_result("B6", "pvm", [["floor", "the floor", "1.00x"], ["trap", "a trap", "1.10x"]])),
            ("host-tcg-svm", "B6", fake_result("B6", "tcg-svm", [["trap", "a trap (other words)", "3.50x"],
                                                                 ["only-there", "a row pvm lacks", "2.00x"]])),
            ("host-tcg-svm", "B9", fake_result("B9", "tcg-svm")),
            ("an-experiment", "B1", fake_result("B1", "pvm"))):
        os.makedirs(os.path.join(results, folder), exist_ok=True)
        with open(os.path.join(results, folder, fid + ".json"), "w") as f:
            json.dump(doc, f)
    with open(os.path.join(results, "host-tcg-svm", "about.md"), "w") as f:
        f.write("About the emulated host.\n")
    text = render_report(results, os.path.join(TMP, "hosts.md"))
    for want in ("### B6 on other hosts", "About the emulated host.", "**ratios of B6**",
                 "| operation | `pvm (this machine)` | `tcg-svm` |",
                 "| the floor | 1.00x | — |", "| a trap | 1.10x | 3.50x |", "| a row pvm lacks | — | 2.00x |",
                 "## B9 — on other hosts only", "The `tcg-svm` run of B9 has no comparison rows",
                 "### an-experiment"):
        check(want in text, "the report lacks %r:\n%s" % (want, text[-3000:]))
    check("### host-tcg-svm" not in text, "a host's folder is no experiment:\n%s" % text[-3000:])


if __name__ == "__main__":
    try:
        vmmtest.main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
