#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A real Prometheus (Debian's prometheus package) on loopback scrapes
vmmweb once a second; the test asks Prometheus's HTTP API for vmmd series
and runs every query of the Grafana dashboard (packaging/grafana/) through
it, so the dashboard is built on metrics that exist and parse."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
import webtest  # noqa: E402
from vmmtest import check, fail, kvm, show  # noqa: E402

DASHBOARD = os.path.join(vmmtest.ROOT, "packaging", "grafana", "vmmd-dashboard.json")


class Prometheus:
    def __init__(self, d, target_port):
        binary = webtest.tool("prometheus", "prometheus")
        self.port = webtest.free_port()
        self.dir = os.path.join(d.tmp, "prometheus")
        os.makedirs(self.dir, exist_ok=True)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: vmmweb\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % target_port)
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def log_text(self):
        with open(os.path.join(self.dir, "log"), "rb") as f:
            return f.read().decode(errors="replace")[-2000:]

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s?%s" % (self.port, path, urllib.parse.urlencode(params))
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                return json.loads(body)
            except ValueError:
                return None   # "Service Unavailable" while it starts up
        except (urllib.error.URLError, ConnectionError):
            if self.proc.poll() is not None:
                fail("prometheus exited (%s):\n%s" % (self.proc.returncode, self.log_text()))
            return None

    def query(self, q):
        r = self.api("query", query=q)
        check(r is None or r.get("status") == "success", "query %s: %s" % (q, show(r)))
        return r["data"]["result"] if r else None

    def stop(self):
        webtest.stop_process(self.proc)
        self.log.close()


@kvm
def test_prometheus_scrapes_vmmweb(d):
    d.run_vm("prom-sh", "spin", "interval=3000000", paging="shadow")
    d.wait_progress("prom-sh")
    w = webtest.web(d)
    p = Prometheus(d, w.port)
    try:
        # The target is healthy: Prometheus parsed a scrape (it asks for OpenMetrics first).
        def target_up():
            r = p.api("targets")
            ts = (r or {}).get("data", {}).get("activeTargets", [])
            return ts and ts[0].get("health") == "up" and ts[0]
        t = vmmtest.wait_for(target_up, 30, 0.2, "Prometheus to scrape vmmweb successfully")
        check(t["lastError"] == "", "no scrape error: %s" % show(t))
        res = vmmtest.wait_for(lambda: p.query('vmmd_vm_exits_total{vm="prom-sh",reason="io"}'), 15, 0.2,
                               "Prometheus to hold a vmmd series")
        check(res[0]["metric"].get("mode") == "shadow" and float(res[0]["value"][1]) > 0,
              "vmmd_vm_exits_total for the VM: %s" % show(res))
        check(float(p.query("vmmd_up")[0]["value"][1]) == 1, "vmmd_up through Prometheus")
        # Rates need two scrapes: a trap rate appears once Prometheus has them.
        rate = vmmtest.wait_for(lambda: p.query('sum(rate(vmmd_vm_traps_total{vm="prom-sh"}[5s]))'), 15, 0.3,
                                "a trap rate")
        check(float(rate[0]["value"][1]) > 0, "the spinning shadow VM traps: %s" % show(rate))

        # Every query of the Grafana dashboard parses and runs; most have data.
        with open(DASHBOARD) as f:
            dash = json.load(f)
        exprs = [t["expr"] for panel in dash["panels"] for t in panel.get("targets", [])]
        check(len(exprs) >= 10, "the dashboard has its queries: %d" % len(exprs))
        with_data = 0
        for e in exprs:
            q = e.replace("$__rate_interval", "5s").replace("$vm", ".*")
            r = p.query(q)
            with_data += bool(r)
        check(with_data >= len(exprs) // 2, "%d of %d dashboard queries have data" % (with_data, len(exprs)))
        for needed in ("vmmd_vm_exits_total", "vmmd_vm_traps_total", "vmmd_vm_shadow_fills_total",
                       "vmmd_vm_page_table_switches_total"):
            check(any(needed in e for e in exprs), "the dashboard charts %s" % needed)
    finally:
        p.stop()
        d.call("vm.stop", {"name": "prom-sh", "force": True})


if __name__ == "__main__":
    vmmtest.main()
