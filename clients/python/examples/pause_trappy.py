#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Pause every VM whose trap rate exceeds a threshold.

    pause_trappy.py [--connect SOCKET|ssh://...] [--threshold TRAPS_PER_S]
                    [--interval SECONDS] [--dry-run]

Samples stats.get of every running VM twice, `interval` seconds apart (one
batched call each time), and pauses those whose shadow-mode traps per
second exceed the threshold (hw-mode VMs do not trap to vmmd: their rate
is 0). Pausing needs the admin role. Prints one line per VM.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import vmmd  # noqa: E402


def traps_of(stats):
    traps = stats.get("traps") if isinstance(stats, dict) else None
    return traps.get("total", 0) if traps else 0


def sample(c, names):
    results = c.batch([("stats.get", {"name": n}) for n in names])
    return {n: traps_of(r) for n, r in zip(names, results) if not isinstance(r, vmmd.VmmdError)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--connect", help="vmmd's socket or ssh://[user@]host[/socket] (default: the local socket)")
    p.add_argument("--threshold", type=float, default=10000.0, help="traps per second (default 10000)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between the two samples (default 2)")
    p.add_argument("--dry-run", action="store_true", help="say what would be paused, pause nothing")
    a = p.parse_args()
    paused = 0
    with vmmd.connect(a.connect) as c:
        running = [vm.name for vm in c.list() if vm.state == "running"]
        if not running:
            print("no running VMs")
            return 0
        t0, before = time.monotonic(), sample(c, running)
        time.sleep(a.interval)
        t1, after = time.monotonic(), sample(c, running)
        for name in running:
            if name not in before or name not in after:
                continue   # stopped or destroyed meanwhile
            rate = (after[name] - before[name]) / (t1 - t0)
            verdict = "ok"
            if rate > a.threshold:
                if a.dry_run:
                    verdict = "would pause"
                else:
                    try:
                        c.pause(name)
                        verdict = "paused"
                        paused += 1
                    except vmmd.InvalidState as e:
                        verdict = "not paused (%s)" % e.message
            print("%-24s %12.0f traps/s  %s" % (name, rate, verdict))
    return 0 if paused >= 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except vmmd.VmmdError as e:
        print("pause_trappy: %s" % e, file=sys.stderr)
        sys.exit(1)
