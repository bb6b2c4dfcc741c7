#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Render bench results (B*.json) into docs/PERFORMANCE.md and PNG plots.

    python3 bench/report.py [--results bench/results] [--docs docs/PERFORMANCE.md]

Every figure's JSON carries its own tables, goal verdict, notes and plot
specs (see bench/lib.py, Result), so a new harness needs no change here.
Plots go next to the document, in <docs dir>/perf/<name>.png, drawn with
gnuplot (Debian's gnuplot-nox); without gnuplot the document says so.
The hand-written analysis (profiles, bottlenecks, before/after) is
bench/notes.md, appended as it is.

Results folders: bench/results/B<N>.json is this machine's run;
bench/results/host-<tag>/ holds the same figures measured on another host
(make bench-nested: host-tcg-svm), shown beside this machine's by their
comparison rows (lib.Result.compare) with the folder's about.md; any other
sub-folder is a before/after experiment (VMMD_BASELINE).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.realpath(os.path.join(HERE, ".."))

# BENCHMARKS.md's figures, for the overview; a figure with a result JSON
# uses the JSON's own title and goal.
FIGURES = [
    ("B1", "control-plane latency", "vmmd p50 ≤ 1.25x the echo floor"),
    ("B2", "control-plane throughput, 8 clients", "≥ 0.8x the echo server's calls/s, no error"),
    ("B3", "VM start to first console byte", "≥ 10x faster than QEMU; ≤ 20 ms"),
    ("B4", "memory per VM", "≤ 2 MiB per VM"),
    ("B5", "density: N idle minios VMs", "N = 200, all alive, API p99 < 20 ms"),
    ("B6", "shadow trap cost", "≤ 1.2x the raw exit floor"),
    ("B7", "Adams & Agesen nanobenchmarks", "full table, both modes; shadow ≥ 100x faster than hw here"),
    ("B8", "shadow strategies vtlb vs cached", "cached ≥ 5x fewer fills, ≥ 2x faster per switch"),
    ("B9", "CPU-bound loop vs native", "≥ 0.95 of native"),
    ("B10", "Linux (Xen PV, shadow mode): vm.start to /init", "≤ 2 s; QEMU TCG in the same run"),
    ("B11", "Linux (Xen PV, shadow mode): fork+exec+wait", "no slower than QEMU TCG"),
    ("B12", "Linux (Xen PV, shadow mode): sha256sum of 64 MiB", "≤ 1.1x native"),
    ("B14", "metrics scrape with 100 VMs (vmmweb /metrics)", "≤ 20 ms per scrape, one batched call to vmmd"),
]
PENDING = {
    "B7": "no result yet: bench/b7_nanobench.py (minios `nanobench`, hw and shadow mode)",
    "B8": "no result yet: bench/b8_shadow.py (minios pingpong/churn, vtlb vs cached)",
}


def load(results):
    docs = {}
    if not os.path.isdir(results):
        return docs
    for f in os.listdir(results):
        m = re.match(r"^(B\d+)\.json$", f)
        if not m:
            continue
        try:
            with open(os.path.join(results, f)) as fh:
                docs[m.group(1)] = json.load(fh)
        except (OSError, ValueError) as e:
            print("report: skipping %s: %s" % (f, e), file=sys.stderr)
    return docs


HOST_PREFIX = "host-"


def load_hosts(results):
    """{tag: {figure: doc}} from results/host-<tag>/B*.json: other hosts' runs."""
    hosts = {}
    if not results or not os.path.isdir(results):
        return hosts
    for sub in sorted(os.listdir(results)):
        path = os.path.join(results, sub)
        if sub.startswith(HOST_PREFIX) and os.path.isdir(path):
            runs = load(path)
            if runs:
                hosts[sub[len(HOST_PREFIX):]] = runs
    return hosts


def host_tag(doc):
    """The host a run measured: the harness's own word for it, else the machine's virtualization."""
    return (doc.get("data") or {}).get("host") or (doc.get("machine") or {}).get("virt") or "?"


def read_about(path):
    about = os.path.join(path, "about.md")
    if os.path.exists(about):
        with open(about) as f:
            return [f.read().strip(), ""]
    return []


def cell(x):
    return str(x).replace("|", "\\|").replace("\n", " ")


def md_table(columns, rows):
    out = ["| " + " | ".join(cell(c) for c in columns) + " |",
           "| " + " | ".join("---" for _ in columns) + " |"]
    for r in rows:
        out.append("| " + " | ".join(cell(c) for c in r) + " |")
    return "\n".join(out)


def verdict(doc):
    if doc is None:
        return "not measured yet"
    if doc.get("status") == "skipped":
        return "skipped"
    if doc.get("status") == "error":
        return "error"
    g = doc.get("goal") or {}
    return {True: "**met**", False: "**missed**", None: "—"}[g.get("met")]


def gnuplot_escape(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')


def draw(spec, outdir, tmp):
    """One plot spec -> outdir/<name>.png with gnuplot; returns the path or None."""
    name = spec["name"]
    png = os.path.join(outdir, name + ".png")
    lines = ['set terminal pngcairo size 900,480 font "DejaVu Sans,10"',
             'set output "%s"' % gnuplot_escape(png),
             'set title "%s"' % gnuplot_escape(spec.get("title", name)),
             'set ylabel "%s"' % gnuplot_escape(spec.get("ylabel", "")),
             "set grid ytics", "set key top left"]
    if spec.get("kind") == "lines":
        lines.append('set xlabel "%s"' % gnuplot_escape(spec.get("xlabel", "")))
        if spec.get("logy"):
            lines.append("set logscale y")
        plots = []
        for i, s in enumerate(spec["series"]):
            dat = os.path.join(tmp, "%s-%d.dat" % (name, i))
            with open(dat, "w") as f:
                for x, y in zip(s["x"], s["y"]):
                    if y is not None:
                        f.write("%s %s\n" % (x, y))
            plots.append('"%s" using 1:2 with lines lw 2 title "%s"'
                         % (gnuplot_escape(dat), gnuplot_escape(s["name"])))
        lines.append("plot " + ", ".join(plots))
    else:  # bars
        dat = os.path.join(tmp, name + ".dat")
        with open(dat, "w") as f:
            for s in spec["series"]:
                f.write('"%s" %s\n' % (s["name"].replace('"', "'"), s["y"]))
        lines += ["set style fill solid 0.7 border -1", "set boxwidth 0.6", "set yrange [0:*]",
                  "set key off", "set xtics noenhanced",
                  'plot "%s" using 0:2:xtic(1) with boxes lc rgb "#4477aa", '
                  '"" using 0:2:(sprintf("%%.5g", $2)) with labels offset 0,0.7'
                  % gnuplot_escape(dat)]
    script = os.path.join(tmp, name + ".gp")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(png):
        print("report: gnuplot failed for %s: %s" % (name, r.stderr.strip()[-300:]), file=sys.stderr)
        return None
    return png


def render_experiments(results):
    """Before/after runs: every sub-folder of the results folder holding
    B*.json from a run with VMMD_BASELINE set, and an about.md saying what
    changed between the two binaries."""
    out = []
    if not results or not os.path.isdir(results):
        return out
    subs = sorted(d for d in os.listdir(results)
                  if os.path.isdir(os.path.join(results, d)) and not d.startswith(HOST_PREFIX))
    for sub in subs:
        path = os.path.join(results, sub)
        runs = load(path)
        if not runs:
            continue
        if not out:
            out += ["## Before/after experiments", "",
                    "Each is one run of the harnesses with `VMMD_BASELINE=<old vmmd>` set, so the old and "
                    "the new binary are measured side by side in the same minute (results in "
                    "`bench/results/<experiment>/`).", ""]
        out += ["### %s" % sub, ""]
        out += read_about(path)
        for fid in sorted(runs, key=lambda x: int(x[1:])):
            d = runs[fid]
            out.append("%s, %s, git %s:" % (fid, d.get("date"), d.get("git")))
            out.append("")
            for t in d.get("tables", []):
                out += ["**%s**" % t["title"], "", md_table(t["columns"], t["rows"]), ""]
    return out


def render_hosts(fid, main, hosts, results):
    """The figure on other hosts, beside this machine's run: one column per
    host, rows joined by the comparison rows' keys (this machine's labels
    first). A run without comparison rows is named, not guessed at."""
    runs = [(tag, hosts[tag][fid]) for tag in sorted(hosts) if fid in hosts[tag]]
    if not runs:
        return []
    out = ["### %s on other hosts" % fid, ""]
    for tag, d in runs:
        out += read_about(os.path.join(results, HOST_PREFIX + tag))
        m = d.get("machine") or {}
        out += ["Host `%s`: status %s; %s; %s s; git %s; `bench/results/%s%s/%s.json`; inside: %s, %s CPUs, "
                "Linux %s, virtualization `%s`." % (tag, d.get("status"), d.get("date"), d.get("elapsed_s"),
                                                    d.get("git"), HOST_PREFIX, tag, fid, m.get("cpu"),
                                                    m.get("cpus"), m.get("kernel"), m.get("virt")), ""]
        if d.get("notes"):
            out += ["- %s" % n for n in d["notes"]] + [""]
    columns = [(host_tag(main) + " (this machine)", main)] if main else []
    columns += runs
    keys, labels, values = [], {}, {}
    for name, d in columns:
        for key, label, value in (d.get("compare") or {}).get("rows", []):
            if key not in labels:
                keys.append(key)
                labels[key] = label
            values[(name, key)] = value
    missing = [name for name, d in columns if not d.get("compare")]
    if keys:
        title = next(d["compare"]["title"] for _, d in columns if d.get("compare"))
        rows = [[labels[k]] + [values.get((name, k), "—") for name, _ in columns] for k in keys]
        out += ["**%s**" % title, "", md_table(["operation"] + ["`%s`" % name for name, _ in columns], rows), ""]
        note = next((d["compare"]["note"] for _, d in columns if (d.get("compare") or {}).get("note")), None)
        out += [note, ""] if note else []
    for name in missing:
        out += ["The `%s` run of %s has no comparison rows (a harness from before they existed): "
                "run it again to show it here." % (name, fid), ""]
    return out


def render(docs, docs_path, results=None):
    hosts = load_hosts(results)
    outdir = os.path.join(os.path.dirname(os.path.abspath(docs_path)), "perf")
    have_gnuplot = shutil.which("gnuplot") is not None
    any_doc = next(iter(sorted(docs.values(), key=lambda d: d.get("date", ""), reverse=True)), None)
    out = ["# vmmd performance", "",
           "Generated by `make bench` (`bench/run-all`, harnesses in `bench/`) from "
           "`bench/results/*.json`; do not edit by hand. The analysis at the end comes from "
           "`bench/notes.md`. What is measured and why: `../shared/BENCHMARKS.md`. Every figure is "
           "compared with a reference measured in the same run on the same machine; absolute "
           "times are context only (these machines are shared and noisy).", ""]
    if any_doc:
        m = any_doc.get("machine", {})
        revs = sorted({d.get("git") or "?" for d in docs.values()})
        dates = sorted(d.get("date", "") for d in docs.values())
        out += ["Run: %s to %s, git %s, build `%s`%s." % (
                    dates[0], dates[-1], ", ".join(revs), any_doc.get("build"),
                    " — **quick (smoke) run, not figures**" if any(d.get("quick") for d in docs.values()) else ""),
                "Machine: %s, %s CPUs, %s GiB, Linux %s, virtualization `%s`, /dev/kvm %s, %s, Python %s."
                % (m.get("cpu"), m.get("cpus"), m.get("memory_gib"), m.get("kernel"), m.get("virt"),
                   "yes" if m.get("kvm") else "no", m.get("qemu") or "no QEMU", m.get("python")), ""]

    out += ["## Goals at a glance", ""]
    rows = []
    for fid, title, goal in FIGURES:
        d = docs.get(fid)
        g = (d or {}).get("goal") or {}
        rows.append([fid, (d or {}).get("title", title), g.get("text", goal),
                     g.get("shown") or ("—" if d else PENDING.get(fid, "")), verdict(d)])
    for fid in sorted(set(docs) - {f[0] for f in FIGURES}, key=lambda x: int(x[1:])):
        d = docs[fid]
        g = d.get("goal") or {}
        rows.append([fid, d.get("title", ""), g.get("text", ""), g.get("shown", "—"), verdict(d)])
    out += [md_table(["id", "figure", "goal", "measured", "verdict"], rows), ""]

    plots_drawn = 0
    with tempfile.TemporaryDirectory(prefix="vmmbench-plot.") as tmp:
        for fid in sorted(docs, key=lambda x: int(x[1:])):
            d = docs[fid]
            out += ["## %s — %s" % (fid, d.get("title", "")), ""]
            out.append("Status: %s; %s; %s s; git %s." % (
                d.get("status"), d.get("date"), d.get("elapsed_s"), d.get("git")))
            out.append("")
            for t in d.get("tables", []):
                out += ["**%s**" % t["title"], "", md_table(t["columns"], t["rows"]), ""]
                if t.get("note"):
                    out += [t["note"], ""]
            for spec in d.get("plots", []):
                if not have_gnuplot:
                    out += ["(plot %s not drawn: gnuplot is not installed; bench/run-all installs "
                            "gnuplot-nox)" % spec["name"], ""]
                    continue
                os.makedirs(outdir, exist_ok=True)
                png = draw(spec, outdir, tmp)
                if png:
                    plots_drawn += 1
                    rel = os.path.relpath(png, os.path.dirname(os.path.abspath(docs_path)))
                    out += ["![%s](%s)" % (spec.get("title", spec["name"]), rel), ""]
            if d.get("notes"):
                out += ["Notes:", ""] + ["- %s" % n for n in d["notes"]] + [""]
            out += render_hosts(fid, d, hosts, results)
        for fid in sorted({f for runs in hosts.values() for f in runs} - set(docs), key=lambda x: int(x[1:])):
            out += ["## %s — on other hosts only" % fid, ""] + render_hosts(fid, None, hosts, results)

    out += render_experiments(results)

    pending = [(fid, why) for fid, why in PENDING.items() if fid not in docs]
    if pending:
        out += ["## Not measured yet", "",
                "A harness is a file `bench/b<N>_<what>.py` that `bench/run-all` finds by its name; "
                "it writes its JSON with `lib.run_harness` and this page renders it with no change "
                "here.", ""]
        out += ["- **%s**: %s" % (fid, why) for fid, why in pending] + [""]

    notes = os.path.join(HERE, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            out += [f.read().rstrip(), ""]
    with open(docs_path + ".tmp", "w") as f:
        f.write("\n".join(out))
    os.replace(docs_path + ".tmp", docs_path)
    return plots_drawn


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=os.path.join(ROOT, "bench", "results"))
    p.add_argument("--docs", default=os.path.join(ROOT, "docs", "PERFORMANCE.md"))
    args = p.parse_args()
    docs = load(args.results)
    n = render(docs, args.docs, args.results)
    print("report: %s from %d result(s), %d plot(s)" % (os.path.relpath(args.docs, ROOT) if
                                                        args.docs.startswith(ROOT) else args.docs, len(docs), n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
