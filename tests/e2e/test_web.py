#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmmweb (issue 15) against a real vmmd and real guests: /metrics in
Prometheus text (checked by promtool) and OpenMetrics, one batched call
per scrape, /api for the read-only methods, /events as Server-Sent
Events, the monitor role being enough (and the debug views saying they
need more), reconnecting after vmmd restarts, and
bad input: unknown paths, other methods, oversized, slow and too many
requests, foreign Host headers."""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
import webtest  # noqa: E402
from vmmtest import check, kvm, show  # noqa: E402
from webtest import metric_samples, sample  # noqa: E402

SHADOW_VM, HW_VM = "wsh", "whw"


def two_vms(d):
    """A shadow-mode and an hw-mode VM, running and printing slowly."""
    if d.rpc("vm.info", {"name": SHADOW_VM}).get("error"):
        d.run_vm(SHADOW_VM, "spin", "interval=3000000", paging="shadow")
        d.run_vm(HW_VM, "spin", "interval=3000000")
        d.wait_progress(SHADOW_VM)


@kvm
def test_metrics_pass_promtool(d):
    """A scrape is valid exposition text (promtool check metrics, from the
    prometheus package) with the per-VM and daemon families the issue names."""
    two_vms(d)
    w = webtest.web(d)
    status, headers, body = w.get("/metrics")
    check(status == 200, "GET /metrics: %d %s" % (status, body[:300]))
    check(headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8", "content type: %s" % headers)
    text = body.decode()
    promtool = webtest.tool("promtool", "prometheus")
    p = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    check(p.returncode == 0, "promtool check metrics failed (%d):\n%s%s" % (p.returncode, p.stdout.decode(),
                                                                          p.stderr.decode()))
    s = metric_samples(text)
    sh = {"vm": SHADOW_VM, "mode": "shadow"}
    hw = {"vm": HW_VM, "mode": "hw"}
    check(sample(s, "vmmd_up") == 1, "vmmd_up is 1")
    for labels in (sh, hw):
        check(sample(s, "vmmd_vm_state", state="running", **labels) == 1, "running state of %s" % labels)
        check(sample(s, "vmmd_vm_state", state="paused", **labels) == 0, "paused state 0 of %s" % labels)
        check((sample(s, "vmmd_vm_uptime_seconds", **labels) or 0) > 0, "uptime of %s" % labels)
        check(sample(s, "vmmd_vm_vcpus", **labels) == 1, "vcpus of %s" % labels)
        check(sample(s, "vmmd_vm_memory_bytes", **labels) == 16 << 20 or
              (sample(s, "vmmd_vm_memory_bytes", **labels) or 0) > 0, "memory of %s" % labels)
        check((sample(s, "vmmd_vm_exits_total", reason="io", **labels) or 0) > 0, "io exits of %s" % labels)
        check((sample(s, "vmmd_vm_device_accesses_total", device="uart16550", op="write", **labels) or 0) > 0,
              "COM1 writes of %s" % labels)
        check(sample(s, "vmmd_vm_injected_interrupts_total", kind="nmi", **labels) == 0, "injected nmi of %s" % labels)
    # Shadow mode's own counters; hw mode has none (KVM's MMU does not report to vmmd).
    check((sample(s, "vmmd_vm_traps_total", **{"class": "privileged"}, **sh) or 0) > 0, "privileged traps: %s" %
          [k for k in s if k[0] == "vmmd_vm_traps_total"])
    check((sample(s, "vmmd_vm_privileged_instructions_total", mnemonic="out", **sh) or 0) > 0, "out instructions")
    check((sample(s, "vmmd_vm_shadow_fills_total", **sh) or 0) > 0, "shadow fills")
    for name in ("vmmd_vm_shadow_flushes_total", "vmmd_vm_shadow_write_protect_faults_total",
                 "vmmd_vm_shadow_root_cache_hits_total", "vmmd_vm_shadow_root_cache_misses_total"):
        check(sample(s, name, **sh) is not None, "%s of the shadow VM" % name)
    check(sample(s, "vmmd_vm_page_table_switches_total", kind="shadow", **sh) is not None, "pt switches (shadow)")
    check(sample(s, "vmmd_vm_page_table_switches_total", kind="guest", **sh) is not None, "pt switches (guest)")
    check(sample(s, "vmmd_vm_traps_total", **hw) is None, "no traps for the hw VM")
    # The daemon: VMs by state, connections, its own CPU and memory.
    check(sample(s, "vmmd_vms", state="running") == 2, "vmmd_vms running")
    check((sample(s, "vmmd_connections") or 0) >= 1, "vmmd_connections counts vmmweb's")
    check((sample(s, "vmmd_process_cpu_seconds_total") or 0) > 0, "vmmd's CPU time")
    check((sample(s, "vmmd_process_resident_memory_bytes") or 0) > 1 << 20, "vmmd's RSS")
    check(sample(s, "vmmd_process_start_time_seconds") > 1e9, "vmmd's start time")
    # Conventions: every family has HELP and TYPE, counters end in _total.
    types = dict(l.split()[2:4] for l in text.splitlines() if l.startswith("# TYPE "))
    helps = {l.split()[2] for l in text.splitlines() if l.startswith("# HELP ")}
    check(set(types) == helps, "HELP and TYPE for the same families")
    for name, t in types.items():
        check(name.startswith(("vmmd_", "vmmweb_")), "prefix of %s" % name)
        check((t == "counter") == name.endswith("_total"), "%s is a %s: _total on counters only" % (name, t))


@kvm
def test_one_batch_per_scrape(d):
    """Once vmmweb knows the VMs, a scrape is one JSON-RPC batch to vmmd,
    however many VMs (vmmweb counts what it sends)."""
    two_vms(d)
    w = webtest.web(d)
    w.get("/metrics")   # learns the VMs
    before = metric_samples(w.text("/metrics"))
    after = metric_samples(w.text("/metrics"))
    check(sample(after, "vmmweb_scrape_batches") == 1, "the last scrape sent one batch: %s" %
          sample(after, "vmmweb_scrape_batches"))
    sent = sample(after, "vmmweb_vmmd_batches_total") - sample(before, "vmmweb_vmmd_batches_total")
    check(sent == 1, "one batch between two scrapes, not %s" % sent)
    grew = sample(after, "vmmweb_vmmd_requests_total") - sample(before, "vmmweb_vmmd_requests_total")
    check(grew == 4, "the batch holds vmm.stats, vm.list and a stats.get per VM: %s requests" % grew)
    check(sample(after, "vmmd_vm_exits_total", vm=SHADOW_VM, reason="io") >=
          sample(before, "vmmd_vm_exits_total", vm=SHADOW_VM, reason="io"), "counters do not go back")


@kvm
def test_openmetrics_by_accept(d):
    two_vms(d)
    w = webtest.web(d)
    status, headers, body = w.get("/metrics", headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"})
    text = body.decode()
    check(status == 200 and headers["content-type"].startswith("application/openmetrics-text; version=1.0.0"),
          "OpenMetrics when asked: %s" % headers)
    check(text.endswith("# EOF\n"), "OpenMetrics ends with # EOF")
    check("# TYPE vmmd_vm_exits counter\n" in text and "vmmd_vm_exits_total{" in text,
          "families named without _total, samples with it")
    check("# UNIT vmmd_process_resident_memory_bytes bytes\n" in text, "units on base-unit families")


@kvm
def test_api_maps_read_only_methods(d):
    two_vms(d)
    w = webtest.web(d)
    listed = w.json("/api/")["methods"]
    for m in ("vm.list", "vm.info", "stats.get", "mmu.shadow", "mmu.translate", "vcpu.state", "vm.console.read"):
        check(m in listed, "/api/ lists %s: %s" % (m, listed))
    for m in ("vm.stop", "vm.pause", "mem.read", "vcpu.regs.set", "irq.inject"):
        check(m not in listed, "/api/ must not offer %s" % m)
    names = {v["name"] for v in w.json("/api/vm.list")["vms"]}
    check({SHADOW_VM, HW_VM} <= names, "vm.list: %s" % names)
    st = w.json("/api/stats.get?name=%s" % SHADOW_VM)
    check(st["mode"] == "shadow" and st["traps"]["total"] > 0, "stats.get: %s" % show(st))
    tr = w.json("/api/mmu.translate?name=%s&addr=0x100000&vcpu=0" % SHADOW_VM)
    check(tr["mapped"] and tr["physical"] == 0x100000 and len(tr["walk"]) >= 2, "mmu.translate: %s" % show(tr))
    sh = w.json("/api/mmu.shadow?name=%s&root=kernel&limit=4" % SHADOW_VM)
    check(sh["roots"] and all(r["kind"] == "kernel" for r in sh["roots"]), "mmu.shadow: %s" % show(sh))
    # Errors keep vmmd's class, with an HTTP status that fits it.
    e = w.json("/api/stats.get?name=nosuch", want=404)["error"]
    check(e["data"]["class"] == "NoSuchVm", "NoSuchVm: %s" % e)
    e = w.json("/api/mmu.translate?name=%s&addr=12ab" % SHADOW_VM, want=400)["error"]
    check(e["data"]["class"] == "InvalidParams" and e["data"]["field"] == "addr", "a bad integer: %s" % e)
    e = w.json("/api/vm.list?bogus=1", want=400)["error"]
    check(e["data"]["class"] == "InvalidParams" and "bogus" in json.dumps(e), "unknown parameter: %s" % e)
    e = w.json("/api/mmu.shadow?name=%s" % HW_VM, want=501)["error"]
    check(e["data"]["class"] == "Unsupported", "mmu.shadow in hw mode: %s" % e)
    for path in ("/api/vm.stop?name=%s" % SHADOW_VM, "/api/mem.read?name=x&addr=0&len=1", "/api/nope"):
        e = w.json(path, want=404)["error"]
        check(e["data"]["class"] == "MethodNotFound", "%s: %s" % (path, e))
    check(d.state(SHADOW_VM) == "running", "nothing stopped the VM")
    status, headers, body = w.request("/api/vm.list", method="HEAD")
    check(status == 200 and body == b"", "HEAD: %d %r" % (status, body))


def read_sse(sock, until, timeout):
    """Events {event, data, id} from a raw SSE socket until until(events) or timeout."""
    buf, events, deadline = b"", [], time.monotonic() + timeout
    while time.monotonic() < deadline and not until(events):
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
        # Chunked transfer: drop the size lines, keep the payload lines.
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            ev = {}
            for line in block.decode(errors="replace").split("\n"):
                line = line.rstrip("\r")
                if ":" in line and not line.startswith(":"):
                    k, v = line.split(":", 1)
                    ev[k.strip()] = v.strip()
            if "event" in ev:
                events.append(ev)
    return events


@kvm
def test_events_stream(d):
    """/events relays vmmd's state and stats events for one VM; vmmweb
    subscribes to stats only while a stream wants them."""
    two_vms(d)
    w = webtest.web(d)
    s = socket.create_connection(("127.0.0.1", w.port), timeout=10)
    s.sendall(b"GET /events?vm=%s&topic=state&topic=stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % SHADOW_VM.encode())
    evs = read_sse(s, lambda e: sum(1 for x in e if x["event"] == "stats") >= 2, 10)
    check(any(e["event"] == "vmmd" and json.loads(e["data"]) == {"connected": True} for e in evs),
          "the stream says vmmd is connected: %s" % show(evs))
    stats = [json.loads(e["data"]) for e in evs if e["event"] == "stats"]
    check(len(stats) >= 2, "stats events every second: %s" % show(evs))
    check(all(p["vm"] == SHADOW_VM for p in stats), "only the VM asked for: %s" % [p["vm"] for p in stats])
    check(stats[-1]["data"]["traps"]["total"] >= stats[0]["data"]["traps"]["total"] and
          isinstance(stats[0]["timestamp"], float), "stats data is stats.get's: %s" % show(stats[0]))
    check(sample(metric_samples(w.text("/metrics")), "vmmd_event_subscribers", topic="stats") == 1,
          "vmmweb subscribed to stats for its stream")
    d.call("vm.pause", {"name": SHADOW_VM})
    try:
        evs = read_sse(s, lambda e: any(x["event"] == "state" for x in e), 10)
        st = [json.loads(e["data"]) for e in evs if e["event"] == "state"]
        check(st and st[0]["data"]["state"] == "paused" and st[0]["data"]["previous"] == "running",
              "the pause arrives as a state event: %s" % show(evs))
    finally:
        d.call("vm.resume", {"name": SHADOW_VM})
    s.close()
    vmmtest.wait_for(lambda: sample(metric_samples(w.text("/metrics")), "vmmd_event_subscribers", topic="stats") == 0,
                     5, 0.1, "vmmweb to drop its stats subscription once the stream closed")
    status, _, body = w.get("/events?topic=bogus")
    check(status == 400, "an unknown topic is refused: %d %s" % (status, body))


def test_bad_requests(d):
    """Unknown paths 404, other methods 405, bodies 413, oversized headers
    refused; a slow request and an idle connection are closed at the
    deadline; connections over the limit are closed at once."""
    w = webtest.Web(d, "--request-timeout", "1", "--max-connections", "4")
    try:
        w.wait_ready()
        for path in ("/nope", "/static/../web/main.c", "/static/.hidden.js", "/static/notes.txt",
                     "/api/../../etc/passwd", "/metrics/x", "/%2e%2e/etc/passwd"):
            status, _, _ = w.get(path)
            check(status == 404, "GET %s: 404, got %d" % (path, status))
        status, headers, _ = w.request("/metrics", method="POST")
        check(status == 405 and headers.get("allow") == "GET, HEAD", "POST: %d %s" % (status, headers))
        status, _, _ = w.request("/metrics", method="POST", body=b"x" * 100)
        check(status == 413, "a body: 413, got %d" % status)
        s = socket.create_connection(("127.0.0.1", w.port), timeout=5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        reply = s.recv(200)
        check(reply.startswith(b"HTTP/1.1 4"), "oversized headers refused: %r" % reply[:60])
        s.close()

        # A header trickled one line a fifth of a second: evhttp's per-read
        # timeout never trips, the guard's deadline does.
        s = socket.create_connection(("127.0.0.1", w.port), timeout=5)
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        t0, closed = time.monotonic(), None
        while time.monotonic() - t0 < 6:
            try:
                s.sendall(b"X-Slow: 1\r\n")
                s.settimeout(0.2)
                if s.recv(100) == b"":
                    closed = time.monotonic() - t0
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = time.monotonic() - t0
                break
        s.close()
        check(closed is not None and closed < 4, "a trickled request is closed at its 1 s deadline (%s)" % closed)

        s = metric_samples(w.text("/metrics"))
        check(sample(s, "vmmweb_http_request_timeouts_total") >= 1, "timeouts counted")
        check(w.alive(), "vmmweb survived")
    finally:
        w.stop()

    # Four idle connections fill the limit; a fifth is closed at once. A
    # vmmweb of its own, whose idle connections outlive any wait here (the
    # one above closes them after 1 s), and the fifth comes only once
    # vmmweb has accepted the four (not after a guess at how long that takes).
    w = webtest.Web(d, "--request-timeout", "60", "--max-connections", "4")
    try:
        w.wait_ready()
        idle = [socket.create_connection(("127.0.0.1", w.port), timeout=5) for _ in range(4)]
        ports = [c.getsockname()[1] for c in idle]
        vmmtest.wait_for(lambda: accepted(w.port, ports), 10, 0.02, "vmmweb to accept the four idle connections")
        extra = socket.create_connection(("127.0.0.1", w.port), timeout=5)
        extra.settimeout(2)
        try:
            got = extra.recv(10)
        except (socket.timeout, ConnectionResetError):
            got = None
        check(got == b"", "the connection over the limit is closed at once: %r" % got)
        for c in idle + [extra]:
            c.close()
        vmmtest.wait_for(lambda: w.get("/healthz")[0] == 200, 5, 0.1, "vmmweb to serve again")
        s = metric_samples(w.text("/metrics"))
        check(sample(s, "vmmweb_http_refused_connections_total") >= 1, "refusals counted")
        check(w.alive(), "vmmweb survived")
    finally:
        w.stop()


def accepted(server_port, client_ports):
    """True once the server has accepted each of these connections to it
    (127.0.0.1): in /proc/net/tcp one still in the listen queue has no
    socket yet, so its inode is 0."""
    waiting = set(client_ports)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote, inode = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16), int(fields[9])
            if local == server_port and remote in waiting and inode != 0:
                waiting.discard(remote)
    return not waiting


def test_host_header(d):
    """On loopback only a Host naming this machine is served (a page on
    another site cannot DNS-rebind onto the dashboard's JSON)."""
    w = webtest.web(d)
    status, _, body = w.get("/api/vm.list", headers={"Host": "attacker.example"})
    check(status == 403, "foreign Host: 403, got %d %s" % (status, body))
    for host in ("localhost:%d" % w.port, "127.0.0.1", "[::1]:1"):
        check(w.get("/healthz", headers={"Host": host})[0] == 200, "Host %s served" % host)
    w2 = webtest.Web(d, "--any-host")
    try:
        w2.wait_ready()
        check(w2.get("/healthz", headers={"Host": "attacker.example"})[0] == 200, "--any-host serves any Host")
    finally:
        w2.stop()


def test_unix_socket_listen(d):
    path = os.path.join(d.tmp, "web.sock")
    w = webtest.Web(d, "--listen-unix", path)
    try:
        vmmtest.wait_for(lambda: os.path.exists(path), 5, 0.02, "vmmweb's socket")
        check(oct(os.stat(path).st_mode & 0o777) == "0o660", "the socket is 0660")

        def get():
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                c = s.recv(4096)
                if not c:
                    break
                data += c
            s.close()
            return data
        vmmtest.wait_for(lambda: get().startswith(b"HTTP/1.0 200") or get().startswith(b"HTTP/1.1 200"), 10, 0.1,
                         "/healthz over the Unix socket")
    finally:
        w.stop()


def test_monitor_role_is_enough(d):
    """vmmweb needs only vmmd's `monitor` role for its metrics, list and
    charts: run as nobody (monitor is vmmd's default for others), it scrapes
    and serves /api. Its debug views (registers, walks, shadow tables,
    console) it refuses itself, 403 PermissionDenied naming the debug role,
    and /api/ lists what its role may not call (the page greys those tabs
    out and says why). vm.info comes without the command line."""
    if d.rpc("vm.info", {"name": "wsecret"}).get("error"):
        d.create("wsecret", "hello", "password=hunter2")
    w = webtest.web_as(d, 65534)
    try:
        w.wait_ready()
        s = metric_samples(w.text("/metrics"))
        check(sample(s, "vmmd_up") == 1 and sample(s, "vmmd_process_cpu_seconds_total") is not None,
              "a monitor-role vmmweb scrapes vmmd (vmm.stats, vm.list, stats.get)")
        check(w.get("/")[0] == 200, "and serves the page")
        api = w.json("/api/")
        check(api.get("role") == "monitor" and "vm.list" in api["methods"] and "vm.info" in api["methods"] and
              "vcpu.state" not in api["methods"] and api.get("needs", {}).get("vcpu.state") == "debug" and
              set(api["needs"]) == {"vcpu.state", "mmu.translate", "mmu.guest", "mmu.shadow", "bus.map",
                                    "vm.console.read"},
              "/api/ says vmmweb's role and what it needs for the rest: %s" % show(api))
        for path in ("/api/vcpu.state?name=wsecret", "/api/vm.console.read?name=wsecret", "/api/mmu.shadow?name=x"):
            status, _, body = w.get(path)
            err = json.loads(body).get("error", {})
            check(status == 403 and err.get("data", {}).get("class") == "PermissionDenied" and
                  "needs the debug role" in err.get("message", "") and "monitor" in err["message"],
                  "GET %s as monitor: 403 naming the role: %d %s" % (path, status, body[:300]))
        status, _, body = w.get("/events?topic=console")
        check(status == 403 and b"debug" in body, "console events need debug: %d %s" % (status, body[:200]))
        info = w.json("/api/vm.info?name=wsecret")
        check(info["config"]["cmdline"] is None and b"hunter2" not in json.dumps(info).encode() and
              info["hidden"]["role"] == "debug", "vm.info through a monitor vmmweb: no cmdline: %s" % show(info))
    finally:
        w.stop()
    d.call("vm.destroy", {"name": "wsecret"})


def test_vmmd_restart(d):
    """vmmweb outlives vmmd: down, /healthz is 503 and vmmd_up 0; back, it reconnects."""
    w = webtest.web(d)
    d.terminate()
    vmmtest.wait_for(lambda: w.get("/healthz")[0] == 503, 10, 0.05, "/healthz to say vmmd is gone")
    s = metric_samples(w.text("/metrics"))
    check(sample(s, "vmmd_up") == 0 and sample(s, "vmmd_vms", state="running") is None,
          "vmmd_up 0 and no vmmd figures while it is away")
    d.start()
    w.wait_ready(15)
    check(sample(metric_samples(w.text("/metrics")), "vmmd_up") == 1, "vmmd_up 1 again")
    check(w.alive(), "vmmweb survived")


def test_vmmweb_exits_cleanly(d):
    """The file's vmmweb ends with status 0 on SIGTERM (with SANITIZE=...: no leak, no error found)."""
    w = webtest.web(d)
    check(w.get("/metrics")[0] == 200, "still serving")
    w.stop()


if __name__ == "__main__":
    vmmtest.main()
