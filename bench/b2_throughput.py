#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B2: control-plane throughput, 8 concurrent clients.

Each client is its own process (no GIL between them), with its own
connection, calling in a closed loop (one call outstanding per client) for a
fixed window that starts at the same instant for all. Calls that complete
inside the window count; a reply that is an error, has the wrong id, or a
connection that fails counts as an error. The same clients drive the echo
reference (a single-threaded selectors/epoll server, like vmmd's loop) and
vmmd (vm.info on a created VM), alternating, over several rounds.
"""

import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

FULL = {"clients": 8, "window_s": 1.0, "rounds": 11}
QUICK = {"clients": 8, "window_s": 0.2, "rounds": 1}


def client_proc(path, start_at, window, conn):
    calls = errors = 0
    try:
        c = lib.LineClient(path)
        msg_of = lambda i: lib.rpc_message("vm.info", {"name": "b2"}, i)  # noqa: E731
        # Warm the connection before the window opens.
        c.call(msg_of(0))
        while time.monotonic() < start_at:
            time.sleep(0.0005)
        end = start_at + window
        i = 0
        while True:
            i += 1
            reply = c.call(msg_of(i))
            now = time.monotonic()
            if now > end:
                break
            if lib.reply_ok(reply, i):
                calls += 1
            else:
                errors += 1
        c.close()
    except Exception as e:  # a refused/broken connection is an error of the server
        errors += 1
        conn.send((calls, errors, "%s: %s" % (type(e).__name__, e)))
        return
    conn.send((calls, errors, None))


def run_clients(path, n, window, server_pid):
    """(calls/s, errors, problems, server CPU µs per call)"""
    ctx = multiprocessing.get_context("fork")
    cpu0 = lib.cpu_ticks(server_pid)
    start_at = time.monotonic() + 0.3 + 0.02 * n
    procs = []
    for _ in range(n):
        a, b = ctx.Pipe(duplex=False)
        p = ctx.Process(target=client_proc, args=(path, start_at, window, b))
        p.start()
        procs.append((p, a))
    calls = errors = 0
    problems = []
    for p, a in procs:
        if a.poll(window + 30):
            c, e, why = a.recv()
        else:
            c, e, why = 0, 1, "client did not report"
        calls += c
        errors += e
        if why:
            problems.append(why)
        p.join(5)
        if p.is_alive():
            p.kill()
    cpu1 = lib.cpu_ticks(server_pid)
    cpu = None
    if cpu0 is not None and cpu1 is not None and calls:
        cpu = (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK") / calls * 1e6
    return calls / window, errors, problems, cpu


def body(res, args):
    cfg = res.config(FULL, QUICK)
    names = ["echo", "vmmd"] + (["vmmd-baseline"] if lib.VMMD_BASELINE else [])
    rounds = {n: [] for n in names}
    errors = {n: 0 for n in names}
    cpus = {n: [] for n in names}
    with lib.EchoServer() as echo, lib.Vmmd() as vmmd, \
            lib.Vmmd(binary=lib.VMMD_BASELINE or lib.VMMD) as base:
        vmmd.create("b2", "hello")
        base.create("b2", "hello")
        paths = {"echo": echo.sock, "vmmd": vmmd.sock, "vmmd-baseline": base.sock}
        pids = {"echo": echo.pid, "vmmd": vmmd.pid, "vmmd-baseline": base.pid}
        for r in range(cfg["rounds"]):
            for name in names:
                rate, err, problems, cpu = run_clients(paths[name], cfg["clients"], cfg["window_s"], pids[name])
                rounds[name].append(rate)
                cpus[name].append(cpu)
                errors[name] += err
                for p in problems[:3]:
                    res.note("%s round %d: %s" % (name, r + 1, p))
                lib.log("  B2 round %d %-5s %8.0f calls/s  errors %d  server cpu/call %s µs"
                        % (r + 1, name, rate, err, "%.1f" % cpu if cpu is not None else "?"))
    ratios = [lib.ratio(v, e) for v, e in zip(rounds["vmmd"], rounds["echo"])]
    summary = {name: {"calls_per_s": lib.spread_over(rounds[name]), "errors": errors[name],
                      "cpu_us_per_call": lib.spread_over(cpus[name])}
               for name in rounds}
    summary["ratio"] = lib.spread_over(ratios)
    if lib.VMMD_BASELINE:
        summary["ratio_to_baseline"] = lib.spread_over(
            [lib.ratio(v, b) for v, b in zip(rounds["vmmd"], rounds["vmmd-baseline"])])
    res.doc["data"]["rounds"] = rounds
    res.doc["data"]["cpu_us_per_call"] = cpus
    res.doc["data"]["summary"] = summary
    fmt = lambda v: "%.0f" % v  # noqa: E731
    res.table("B2: calls/s with %d concurrent clients, %.1f s window (median over %d rounds, min–max)"
              % (cfg["clients"], cfg["window_s"], cfg["rounds"]),
              ["target", "calls/s", "ratio to echo (same round)", "server CPU µs/call", "errors"],
              [["echo server (floor)", lib.fmt_spread(summary["echo"]["calls_per_s"], fmt), "1.00x",
                lib.fmt_spread(summary["echo"]["cpu_us_per_call"], lambda v: "%.1f" % v), str(errors["echo"])],
               ["vmmd vm.info (created VM)", lib.fmt_spread(summary["vmmd"]["calls_per_s"], fmt),
                lib.fmt_spread(summary["ratio"], lib.fmt_x),
                lib.fmt_spread(summary["vmmd"]["cpu_us_per_call"], lambda v: "%.1f" % v), str(errors["vmmd"])]] +
              ([["baseline vmmd (%s)" % lib.VMMD_BASELINE,
                 lib.fmt_spread(summary["vmmd-baseline"]["calls_per_s"], fmt),
                 lib.fmt_spread(lib.spread_over([lib.ratio(v, e) for v, e in zip(rounds["vmmd-baseline"],
                                                                                rounds["echo"])]), lib.fmt_x),
                 lib.fmt_spread(summary["vmmd-baseline"]["cpu_us_per_call"], lambda v: "%.1f" % v),
                 str(errors["vmmd-baseline"])]] if lib.VMMD_BASELINE else []),
              note="Clients are processes in a closed loop; on this 2-core host they compete with the "
                   "server for CPU, as they would in production.")
    series = [{"name": "echo (floor)", "y": summary["echo"]["calls_per_s"]["median"]},
              {"name": "vmmd vm.info", "y": summary["vmmd"]["calls_per_s"]["median"]}]
    if lib.VMMD_BASELINE:
        series.append({"name": "baseline vmmd", "y": summary["vmmd-baseline"]["calls_per_s"]["median"]})
    res.plot(name="b2-throughput", title="B2: calls/s, %d concurrent clients (median over rounds)" % cfg["clients"],
             kind="bars", ylabel="calls/s", series=series)
    r = summary["ratio"]["median"] if summary["ratio"] else None
    res.goal("vmmd ≥ 0.8x the echo server's calls/s, no error",
             None if r is None else (r >= 0.8 and errors["vmmd"] == 0), r, 0.8,
             None if r is None else "%s of echo (%.0f vs %.0f calls/s), %d errors" % (
                 lib.fmt_x(r), summary["vmmd"]["calls_per_s"]["median"],
                 summary["echo"]["calls_per_s"]["median"], errors["vmmd"]))


if __name__ == "__main__":
    lib.run_harness("B2", "control-plane throughput (8 concurrent clients)", body)
