#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B14: a Prometheus scrape of vmmweb's /metrics with 100 VMs, and the
latency of events from vmmd to a browser.

N idle VMs (guests/idle.c: `sti; hlt`, no exits; half hw, half shadow) run
under one vmmd with one vmmweb. Then:

  - scrape: GET /metrics on one keep-alive connection, as Prometheus does,
    `scrapes` times: wall time p50/p99, bytes and samples, and the CPU each
    process spent per scrape (vmmd, its N workers, vmmweb; utime+stime
    from /proc over all scrapes). vmmweb sends one JSON-RPC batch per
    scrape (checked from its own vmmweb_vmmd_batches_total).
  - reference: one vm.list call straight to vmmd (BENCHMARKS.md's baseline),
    and the same stats.get for every VM sent as N separate calls on one
    connection: what a scraper without batching would cost vmmd.
  - events: a client of /events?topic=stats receives vmmd's stats event of
    every VM each second; the latency is the arrival time minus the
    event's `timestamp` (stamped by vmmd when it emits, same clock). Once
    through a raw socket client, and once in headless Chromium with an
    EventSource (what the dashboard does), when chromium and
    python3-selenium are installed.

Goal (BENCHMARKS.md B14): ≤ 20 ms per scrape with one batched call.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

FULL = {"n": 100, "scrapes": 200, "reference_rounds": 20, "events_s": 5.0, "browser_s": 6.0, "memory_mib": 16}
QUICK = {"n": 4, "scrapes": 10, "reference_rounds": 3, "events_s": 2.5, "browser_s": 0, "memory_mib": 16}
GOAL_MS = 20.0
VMMWEB = os.path.join(lib.B, "vmmweb")


class Vmmweb:
    def __init__(self, sock, tmp):
        self.log_path = os.path.join(tmp, "vmmweb.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([VMMWEB, "--socket", sock, "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        self.port = None
        while self.port is None:
            m = re.search(r"Listening on http://127\.0\.0\.1:(\d+)/", lib._read(self.log_path))
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None or time.monotonic() > deadline:
                raise lib.BenchError("vmmweb did not start: %s" % lib._read(self.log_path)[-500:])
            else:
                time.sleep(0.02)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()


def scrape_once(conn):
    conn.request("GET", "/metrics")
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise lib.BenchError("GET /metrics: %d %s" % (r.status, body[:200]))
    return body


def sample_value(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def sse_latency(port, seconds, want):
    """Arrival minus vmmd's timestamp of each stats event, in ms."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /events?topic=stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    lat, buf, end = [], b"", time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            break
        now = time.time()
        if not chunk:
            break
        buf += chunk
        for m in re.finditer(rb'data: (\{"vm":.*?"timestamp":([0-9.]+)\})', buf):
            lat.append((now - float(m.group(2))) * 1e3)
        buf = buf[buf.rfind(b"\n\n") + 2:] if b"\n\n" in buf else buf
    s.close()
    if len(lat) < want:
        raise lib.BenchError("only %d stats events in %.1f s (expected at least %d)" % (len(lat), seconds, want))
    return lat


BROWSER_JS = """
const done = arguments[arguments.length - 1];
const lat = [];
const es = new EventSource('/events?topic=stats');
es.addEventListener('stats', (e) => {
  const now = Date.now() / 1000;
  const m = /"timestamp":([0-9.]+)\\}$/.exec(e.data);
  if (m) lat.push((now - parseFloat(m[1])) * 1000);
});
setTimeout(() => { es.close(); done(lat); }, arguments[0] * 1000);
"""


def browser_latency(port, seconds, tmp):
    """The same in headless Chromium's EventSource; None without it."""
    try:
        sys.path.append("/usr/lib/python3/dist-packages")
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "python3-selenium is not installed"
    for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.access(tool, os.X_OK):
            return None, "%s is not installed" % tool
    o = webdriver.ChromeOptions()
    for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--user-data-dir=" + os.path.join(tmp, "chrome")]:
        o.add_argument(a)
    o.binary_location = "/usr/bin/chromium"
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    try:
        drv.set_script_timeout(seconds + 10)
        drv.get("http://127.0.0.1:%d/healthz" % port)
        return drv.execute_async_script(BROWSER_JS, seconds), None
    finally:
        drv.quit()


def body(res, args):
    cfg = res.config(FULL, QUICK)
    if res.skip_without_kvm():
        return
    lib.require_guest("idle")
    if not os.access(VMMWEB, os.X_OK):
        raise lib.BenchError("%s is not built (make all)" % VMMWEB)
    n = cfg["n"]
    hz = os.sysconf("SC_CLK_TCK")
    with lib.Vmmd() as vmmd:
        c = vmmd.connect()
        names, pids = [], []
        t0 = time.monotonic()
        for i in range(n):
            name = "b14-%03d" % i
            c.rpc("vm.create", {"config": {"name": name, "kernel": lib.guest_elf("idle"), "memory_mib": cfg["memory_mib"],
                                           "vcpus": 1, "paging": "shadow" if i % 2 else "hw", "cmdline": ""}})
            c.rpc("vm.start", {"name": name})
            names.append(name)
        for name in names:
            inf = vmmd.info(name)
            if inf.get("state") != "running":
                raise lib.BenchError("%s is %s" % (name, inf.get("state")))
            pids.append(inf["pid"])
        lib.log("  %d VMs running after %.1f s" % (n, time.monotonic() - t0))
        web = Vmmweb(vmmd.sock, vmmd.tmp)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
            for _ in range(3):            # vmmweb learns the VMs; warm caches
                text = scrape_once(conn).decode()
            batches0 = sample_value(text, "vmmweb_vmmd_batches_total")
            procs = [vmmd.pid, web.proc.pid] + pids
            cpu0 = [lib.cpu_ticks(p) or 0 for p in procs]
            lat, size = [], 0
            w0 = time.perf_counter()
            for _ in range(cfg["scrapes"]):
                t = time.perf_counter()
                body_ = scrape_once(conn)
                lat.append((time.perf_counter() - t) * 1e3)
                size = len(body_)
            wall = time.perf_counter() - w0
            cpu1 = [lib.cpu_ticks(p) or 0 for p in procs]
            text = scrape_once(conn).decode()
            batches = sample_value(text, "vmmweb_vmmd_batches_total") - batches0 - 1
            samples = sum(1 for l in text.splitlines() if l and not l.startswith("#"))
            per = lambda a, b: (b - a) / hz / cfg["scrapes"] * 1e3   # noqa: E731  ms of CPU per scrape
            cpu = {"vmmd": per(cpu0[0], cpu1[0]), "vmmweb": per(cpu0[1], cpu1[1]),
                   "workers": sum(per(a, b) for a, b in zip(cpu0[2:], cpu1[2:]))}
            st = lib.stats(lat)

            # References: vm.list; N single stats.get calls on one connection.
            ref_list, ref_single = [], []
            for _ in range(cfg["reference_rounds"]):
                t = time.perf_counter()
                c.rpc("vm.list")
                ref_list.append((time.perf_counter() - t) * 1e3)
            v0 = lib.cpu_ticks(vmmd.pid)
            for _ in range(cfg["reference_rounds"]):
                t = time.perf_counter()
                for name in names:
                    c.rpc("stats.get", {"name": name})
                ref_single.append((time.perf_counter() - t) * 1e3)
            single_cpu = (lib.cpu_ticks(vmmd.pid) - v0) / hz / cfg["reference_rounds"] * 1e3

            # Events: every VM's stats event each second, to a raw client and to a browser.
            ev = sse_latency(web.port, cfg["events_s"], want=n)
            br, why_not = (None, "quick run") if not cfg["browser_s"] else browser_latency(web.port, cfg["browser_s"], vmmd.tmp)
        finally:
            web.stop()

    res.doc["data"].update({"scrape_ms": lat, "cpu_ms_per_scrape": cpu, "bytes": size, "samples": samples,
                            "batches_per_scrape": batches / cfg["scrapes"], "vm_list_ms": ref_list,
                            "single_calls_ms": ref_single, "single_calls_vmmd_cpu_ms": single_cpu,
                            "sse_ms": lib.stats(ev), "browser_ms": lib.stats(br) if br else None})
    ls, ss = lib.stats(ref_list), lib.stats(ref_single)
    res.table("GET /metrics with %d VMs (%d hw, %d shadow), %d scrapes on one connection" % (n, n - n // 2, n // 2,
                                                                                            cfg["scrapes"]),
              ["what", "p50 ms", "p99 ms", "mean ms", "notes"],
              [["scrape, wall", lib.fmt_ms(st["p50"]), lib.fmt_ms(st["p99"]), lib.fmt_ms(st["mean"]),
                "%d bytes, %d samples, %.2f batches to vmmd per scrape, %.0f scrapes/s"
                % (size, samples, batches / cfg["scrapes"], cfg["scrapes"] / wall)],
               ["vmmd CPU per scrape", "", "", lib.fmt_ms(cpu["vmmd"]), "the supervisor: batch in, N worker calls, batch out"],
               ["workers' CPU per scrape", "", "", lib.fmt_ms(cpu["workers"]), "all %d: one stats.get each" % n],
               ["vmmweb CPU per scrape", "", "", lib.fmt_ms(cpu["vmmweb"]), "JSON in, exposition text out"],
               ["reference: vm.list", lib.fmt_ms(ls["p50"]), lib.fmt_ms(ls["p99"]), lib.fmt_ms(ls["mean"]),
                "one call straight to vmmd (BENCHMARKS.md's baseline)"],
               ["reference: %d stats.get, one call each" % n, lib.fmt_ms(ss["p50"]), lib.fmt_ms(ss["p99"]),
                lib.fmt_ms(ss["mean"]), "vmmd CPU %.2f ms per round: what an unbatched scraper costs" % single_cpu]])
    rows = [["raw socket client", len(ev), lib.fmt_ms(lib.stats(ev)["p50"]), lib.fmt_ms(lib.stats(ev)["p99"]),
             lib.fmt_ms(max(ev))]]
    if br:
        b = lib.stats(br)
        rows.append(["headless Chromium EventSource", len(br), lib.fmt_ms(b["p50"]), lib.fmt_ms(b["p99"]),
                     lib.fmt_ms(max(br))])
    else:
        res.note("browser latency not measured: %s" % why_not)
    res.table("Events to the browser: stats events of %d VMs over /events, arrival minus vmmd's timestamp" % n,
              ["client", "events", "p50 ms", "p99 ms", "max ms"], rows,
              note="vmmd emits a stats event per VM each second (stats topic); vmmweb relays each as one "
                   "Server-Sent Event. The browser's clock is the host's (same machine).")
    met = st["p50"] <= GOAL_MS and abs(batches / cfg["scrapes"] - 1.0) < 1e-9
    res.goal("≤ %.0f ms per scrape with %d VMs, one batched call" % (GOAL_MS, n), met, st["p50"], GOAL_MS,
             "%s ms p50 (%s p99), %.2f batches/scrape, vmmd %s CPU-ms/scrape"
             % (lib.fmt_ms(st["p50"]), lib.fmt_ms(st["p99"]), batches / cfg["scrapes"], lib.fmt_ms(cpu["vmmd"])))


if __name__ == "__main__":
    lib.run_harness("B14", "metrics scrape with 100 VMs, and events to the browser", body)
