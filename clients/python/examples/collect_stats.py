#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Collect stats from several hosts: one table (or JSON lines) of every VM.

    collect_stats.py [--json] WHERE [WHERE ...]

WHERE is a socket path, ssh://[user@]host[:port][/socket], or "local". For
example, three hosts:

    collect_stats.py local ssh://ops@host2 ssh://ops@host3:2222/run/vmmd/vmmd.sock

Each host costs two calls: vm.list, then one batch of stats.get. A host
that cannot be reached is reported and skipped; the exit status is 1 then.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import vmmd  # noqa: E402


def host_rows(where):
    with vmmd.connect(None if where == "local" else where) as c:
        vms = c.list()
        stats = c.batch([("stats.get", {"name": vm.name}) for vm in vms])
    for vm, st in zip(vms, stats):
        ok = not isinstance(st, vmmd.VmmdError)
        traps = st.get("traps") if ok else None
        shadow = st.get("shadow") if ok else None
        yield {"host": where, "vm": vm.name, "state": vm.state, "mode": vm.paging,
               "uptime_s": round(vm.uptime_s, 1),
               "exits": st.get("exits_total") if ok else None,
               "traps": traps.get("total") if traps else None,
               "fills": shadow.get("fills") if shadow else None,
               "pt_switches": (st.get("pt_switches") or {}).get("guest") if ok else None}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="one JSON object per VM")
    p.add_argument("where", nargs="+", help='socket path, ssh:// URL or "local"')
    a = p.parse_args()
    rc = 0
    cols = ["host", "vm", "state", "mode", "uptime_s", "exits", "traps", "fills", "pt_switches"]
    if not a.json:
        print("  ".join("%-14s" % c for c in cols))
    for where in a.where:
        try:
            for row in host_rows(where):
                if a.json:
                    print(json.dumps(row))
                else:
                    print("  ".join("%-14s" % ("-" if row[c] is None else row[c]) for c in cols))
        except vmmd.VmmdError as e:
            print("collect_stats: %s: %s" % (where, e), file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
