#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""B5: density, N idle minios VMs of 16 MiB under one vmmd.

The guest is minios (guests/minios/) with an empty script: it boots, its
shell prints the prompt and blocks in read() on the console, and the
kernel idles in `sti; hlt` with its timer stopped (pit.c runs the 8254
only while something is runnable or asleep), so an idle minios makes no
exit at all. For each paging mode a fresh vmmd ramps N through the steps
(10, 50, 100, 200, ...), starting the missing VMs each step, and at each
step:

  - waits until every VM printed its prompt ("minios$ ") and checks that
    all are alive: vm.list says running, every worker pid exists, every
    vm.info answers with live stats (the worker hop);
  - API latency: p50/p99 of vm.list and of vm.info on a random VM, from one
    client, while the N VMs run;
  - CPU: utime+stime of the supervisor and all workers over a window, in %
    of one core, and the host's busy share;
  - memory: workers' PSS (with and without guest RAM), the supervisor's
    PSS, and the host's MemAvailable drop since before the first VM (this
    includes KVM's kernel memory, which no PSS shows);
  - threads and fds of the supervisor and the workers.

It stops early when something fails (a start error, a VM not ready in
time, a dead worker, an API error) or when the mode's time budget is
spent, then stops and destroys every VM. The limit on N is projected from
the per-VM costs against this host's limits (memory, pid_max/threads-max,
the supervisor's RLIMIT_NOFILE, REGISTRY_MAX_VMS, CPU) and reported with
what was observed.

Reference: the same step at N = 200 (one step, each mode) with
guests/idle.c (an IDT whose vectors return, then `sti; hlt` forever), the
smallest guest there is: what minios itself adds per VM.
"""

import os
import random
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

# Steps past the goal's N look for the limit: 1025 is one more than the
# registry holds (REGISTRY_MAX_VMS), so a ramp that gets there stops on it.
# A mode's ramp stops before a step it would not finish within budget_s
# (projected from the last step), so B5 stays within a few minutes.
FULL = {"steps": [10, 50, 100, 200, 400, 700, 1024, 1025], "goal_n": 200, "modes": ["hw", "shadow"],
        "api_calls": 1000, "api_cap_s": 3.0, "cpu_window_s": 2.0, "ready_timeout_s": 60, "budget_s": 90,
        "memory_mib": 16, "settle_s": 1.0, "guest": "minios", "reference": {"guest": "idle", "steps": [200]}}
QUICK = {"steps": [2, 4], "goal_n": 4, "modes": ["hw", "shadow"], "api_calls": 30, "api_cap_s": 1.0,
         "cpu_window_s": 0.3, "ready_timeout_s": 30, "budget_s": 60, "memory_mib": 16, "settle_s": 0.1,
         "guest": "minios", "reference": {"guest": "idle", "steps": [2]}}
# What each guest prints once it is up and idle (within its first 128 bytes).
READY = {"minios": b"minios$ ", "idle": b"idle: ready"}
REGISTRY_MAX_VMS = 1024          # vmmd/registry.h
API_P99_GOAL_MS = 20.0


def host_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, rest = line.split(":", 1)
            out[k] = int(rest.split()[0])
    return out


def status_field(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def soft_nofile(pid):
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def read_int(path, default=None):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError):
        return default


def timed_calls(c, method, params_of, n, cap_s):
    """n calls, or fewer (at least 50) when they take more than cap_s."""
    lat = []
    t_end = time.monotonic() + cap_s
    for i in range(n):
        if i >= 50 and time.monotonic() > t_end:
            break
        t0 = time.perf_counter()
        c.rpc(method, params_of(i))
        lat.append((time.perf_counter() - t0) * 1e3)
    return lat


def measure_step(vmmd, c, names, pids, cfg, mem0):
    """Everything about the N running VMs; raises BenchError when one is not alive."""
    # Liveness: the list, the pids, and a live vm.info (worker hop) per VM.
    listed = {v["name"]: v["state"] for v in c.rpc("vm.list")["vms"]}
    bad = [n for n in names if listed.get(n) != "running"]
    if bad:
        raise lib.BenchError("%d VM(s) not running: %s" % (len(bad), ", ".join(
            "%s=%s" % (n, listed.get(n)) for n in bad[:5])))
    dead = [n for n in names if not alive(pids[n])]
    if dead:
        raise lib.BenchError("worker(s) gone: %s" % ", ".join(dead[:5]))
    sweep = []
    for n in names:
        t0 = time.perf_counter()
        inf = c.rpc("vm.info", {"name": n})
        sweep.append((time.perf_counter() - t0) * 1e3)
        if not inf.get("stats"):
            raise lib.BenchError("vm.info %s has no live stats" % n)
    # API latency while they run.
    rnd = random.Random(len(names))
    lat_list = timed_calls(c, "vm.list", lambda i: None, cfg["api_calls"], cfg["api_cap_s"])
    lat_info = timed_calls(c, "vm.info", lambda i: {"name": rnd.choice(names)}, cfg["api_calls"], cfg["api_cap_s"])
    # CPU over a window.
    procs = [vmmd.pid] + [pids[n] for n in names]
    t0 = [lib.cpu_ticks(p) or 0 for p in procs]
    h0 = host_busy()
    w0 = time.monotonic()
    time.sleep(cfg["cpu_window_s"])
    dt = time.monotonic() - w0
    t1 = [lib.cpu_ticks(p) or 0 for p in procs]
    h1 = host_busy()
    hz = os.sysconf("SC_CLK_TCK")
    sup_cpu = (t1[0] - t0[0]) / hz / dt * 100
    workers_cpu = sum(b - a for a, b in zip(t0[1:], t1[1:])) / hz / dt * 100
    host_busy_pct = (h1[0] - h0[0]) / max(1, h1[1] - h0[1]) * 100
    # Memory.
    guest_bytes = cfg["memory_mib"] << 20
    wm = [lib.memory_of(pids[n], guest_bytes) for n in names]
    sup = lib.memory_of(vmmd.pid)
    mem1 = meminfo()
    threads = sum(status_field(pids[n], "Threads") or 0 for n in names)
    worker_fds = sum(fd_count(pids[n]) or 0 for n in names)
    n = len(names)
    return {
        "n": n,
        "api_ms": {"vm.list": lib.stats(lat_list), "vm.info": lib.stats(lat_info),
                   "vm.info sweep": lib.stats(sweep)},
        "cpu_pct": {"supervisor": sup_cpu, "workers": workers_cpu, "per_vm": workers_cpu / n,
                    "host_busy": host_busy_pct, "window_s": dt},
        "memory_mib": {
            "workers_pss_total": sum(m["pss"] for m in wm) / 1024,
            "workers_pss_excl_guest_total": sum(m["pss_excl_guest"] for m in wm) / 1024,
            "worker_pss_excl_guest_per_vm": sum(m["pss_excl_guest"] for m in wm) / 1024 / n,
            "guest_ram_resident_per_vm": sum((m["guest_ram"] or {}).get("rss", 0) for m in wm) / 1024 / n,
            "supervisor_pss": sup["pss"] / 1024,
            "host_used_delta": (mem0["MemAvailable"] - mem1["MemAvailable"]) / 1024,
            "host_used_delta_per_vm": (mem0["MemAvailable"] - mem1["MemAvailable"]) / 1024 / n,
            "host_available": mem1["MemAvailable"] / 1024,
            "host_kernel_slab_delta": (mem1.get("Slab", 0) - mem0.get("Slab", 0)) / 1024,
            "host_page_tables_delta": (mem1.get("PageTables", 0) - mem0.get("PageTables", 0)) / 1024,
        },
        "threads": {"workers_total": threads, "per_vm": threads / n,
                    "supervisor": status_field(vmmd.pid, "Threads")},
        "fds": {"supervisor": fd_count(vmmd.pid), "workers_total": worker_fds, "per_vm_worker": worker_fds / n},
    }


def pipelined(c, method, names, extra=None, timeout=120.0):
    """Send one request per VM without waiting, then read every reply (errors ignored)."""
    ids = set()
    for n in names:
        c.next_id += 1
        ids.add(c.next_id)
        params = {"name": n}
        params.update(extra or {})
        c.send(lib.rpc_message(method, params, c.next_id))
    old = c.sock.gettimeout()
    c.sock.settimeout(timeout)
    try:
        while ids:
            ids.discard(c.recv_reply().get("id"))
    finally:
        c.sock.settimeout(old)


def stop_all(c, names):
    pipelined(c, "vm.stop", names, {"force": True})
    pipelined(c, "vm.destroy", names)


def ramp(res, mode, cfg, guest=None, steps=None):
    guest = guest or cfg["guest"]
    out = {"mode": mode, "guest": guest, "steps": [], "stopped_by": None, "start": []}
    t_mode = time.monotonic()
    mem0 = meminfo()
    names, pids = [], {}
    with lib.Vmmd() as vmmd:
        c = vmmd.connect()
        out["supervisor_nofile"] = soft_nofile(vmmd.pid)
        try:
            last = None     # (N, seconds) of the last step, start to end of measuring
            for target in steps or cfg["steps"]:
                spent = time.monotonic() - t_mode
                est = last[1] * target / last[0] if last else 0
                if spent + est > cfg["budget_s"]:
                    out["stopped_by"] = ("before N=%d: the time budget (%d s, %.0f spent) would not cover it "
                                         "(~%.0f s projected)" % (target, cfg["budget_s"], spent, est))
                    break
                t0 = time.perf_counter()
                new = []
                try:
                    while len(names) < target:
                        if time.monotonic() - t_mode > cfg["budget_s"]:
                            raise lib.BenchError("time budget (%d s) spent at %d VMs" % (cfg["budget_s"], len(names)))
                        name = "b5%s%s%03d" % (guest[0], mode[0], len(names))
                        try:
                            c.rpc("vm.create", {"config": {
                                "name": name, "kernel": lib.guest_elf(guest), "memory_mib": cfg["memory_mib"],
                                "vcpus": 1, "paging": mode, "cmdline": ""}})
                        except lib.BenchError as e:
                            raise lib.BenchError("VM %d: %s" % (len(names) + 1, e))
                        names.append(name)
                        try:
                            c.rpc("vm.start", {"name": name})
                        except lib.BenchError as e:
                            raise lib.BenchError("VM %d: %s" % (len(names), e))
                        new.append(name)
                    deadline = time.monotonic() + cfg["ready_timeout_s"]
                    for name in new:
                        while READY[guest] not in vmmd.console(name, 0, 128)[0]:
                            if time.monotonic() > deadline:
                                raise lib.BenchError("%s not ready in %d s" % (name, cfg["ready_timeout_s"]))
                            time.sleep(0.005)
                        pids[name] = c.rpc("vm.info", {"name": name})["pid"]
                    dt = time.perf_counter() - t0
                    out["start"].append({"n_new": len(new), "seconds": dt, "vms_per_s": len(new) / dt})
                    time.sleep(cfg["settle_s"])     # the new workers finish starting up
                    m = measure_step(vmmd, c, names, pids, cfg, mem0)
                except lib.BenchError as e:
                    out["stopped_by"] = "on the way to N=%d: %s" % (target, e)
                    lib.log("  B5 %s %s: ramp stopped on the way to N=%d: %s" % (guest, mode, target, e))
                    break
                m["start_vms_per_s"] = len(new) / dt
                m["step_s"] = time.perf_counter() - t0
                last = (m["n"], m["step_s"])
                out["steps"].append(m)
                lib.log("  B5 %s %s N=%d: started %d in %.2f s; vm.list p99 %.2f ms, vm.info p99 %.2f ms; "
                        "CPU sup %.1f%% workers %.1f%% host %.0f%%; workers PSS w/o guest %.2f MiB/VM, "
                        "host used +%.0f MiB (%.2f MiB/VM); threads/VM %.1f; sup fds %s"
                        % (guest, mode, m["n"], len(new), dt, m["api_ms"]["vm.list"]["p99"], m["api_ms"]["vm.info"]["p99"],
                           m["cpu_pct"]["supervisor"], m["cpu_pct"]["workers"], m["cpu_pct"]["host_busy"],
                           m["memory_mib"]["worker_pss_excl_guest_per_vm"], m["memory_mib"]["host_used_delta"],
                           m["memory_mib"]["host_used_delta_per_vm"], m["threads"]["per_vm"], m["fds"]["supervisor"]))
        finally:
            t = time.perf_counter()
            stop_all(c, names)
            out["teardown_s"] = time.perf_counter() - t
            left = [n for n in names if n in pids and alive(pids[n])]
            time.sleep(0.2)
            left = [n for n in left if alive(pids[n])]
            if left:
                res.note("B5 %s %s: %d worker(s) still alive after stop: %s" % (guest, mode, len(left), left[:5]))
            out["workers_left"] = len(left)
            c.close()
    out["elapsed_s"] = time.monotonic() - t_mode
    return out


def project_limit(mode_out):
    """What would stop N first on this host, from the per-VM costs at the largest N reached."""
    if not mode_out["steps"]:
        return None
    m = mode_out["steps"][-1]
    mem = meminfo()
    avail_mib = mem["MemAvailable"] / 1024 + m["memory_mib"]["host_used_delta"]   # before the VMs
    per_vm_mem = max(m["memory_mib"]["host_used_delta_per_vm"], 0.01)
    # Guest RAM is mapped but touched on demand; a guest that touches all of it costs its size.
    per_vm_mem_full = per_vm_mem - m["memory_mib"]["guest_ram_resident_per_vm"] + 16
    pid_max = read_int("/proc/sys/kernel/pid_max", 32768)
    threads_max = read_int("/proc/sys/kernel/threads-max", 10**6)
    tasks_now = len(os.listdir("/proc"))
    per_vm_threads = m["threads"]["per_vm"]
    sup_fds_per_vm = max((m["fds"]["supervisor"] - 10) / m["n"], 0.01)
    cpu_per_vm = m["cpu_pct"]["per_vm"] + m["cpu_pct"]["supervisor"] / m["n"]
    cores = os.cpu_count() or 1
    limits = {
        "memory (idle guests, %.2f MiB each as measured)" % per_vm_mem: avail_mib / per_vm_mem,
        "memory (guests touching all 16 MiB)": avail_mib / per_vm_mem_full,
        "pids/threads (pid_max %d, %.1f threads per VM)" % (pid_max, per_vm_threads):
            (min(pid_max, threads_max) - tasks_now) / per_vm_threads,
        "supervisor fds (RLIMIT_NOFILE %d, %.1f per VM)" % (mode_out["supervisor_nofile"], sup_fds_per_vm):
            mode_out["supervisor_nofile"] / sup_fds_per_vm,
        "REGISTRY_MAX_VMS": REGISTRY_MAX_VMS,
    }
    if cpu_per_vm > 0.001:
        limits["idle CPU (%.3f%% of a core per VM; all %d cores)" % (cpu_per_vm, cores)] = cores * 100 / cpu_per_vm
    first = min(limits, key=limits.get)
    return {"limits": limits, "first": first, "n": limits[first]}


def body(res, args):
    cfg = res.config(FULL, QUICK)
    if res.skip_without_kvm():
        return
    for g in (cfg["guest"], cfg["reference"]["guest"]):
        lib.require_guest(g)
    modes = {}
    for mode in cfg["modes"]:
        modes[mode] = ramp(res, mode, cfg)
        modes[mode]["projection"] = project_limit(modes[mode])
    res.doc["data"]["modes"] = modes
    reference = {}
    for mode in cfg["modes"]:
        reference[mode] = ramp(res, mode, cfg, cfg["reference"]["guest"], cfg["reference"]["steps"])
    res.doc["data"]["reference"] = reference

    rows = []
    for mode, mo in modes.items():
        for m in mo["steps"]:
            rows.append([mode, str(m["n"]), "%.1f" % m["start_vms_per_s"],
                         "%.2f / %.2f" % (m["api_ms"]["vm.list"]["p50"], m["api_ms"]["vm.list"]["p99"]),
                         "%.2f / %.2f" % (m["api_ms"]["vm.info"]["p50"], m["api_ms"]["vm.info"]["p99"]),
                         "%.1f + %.1f (host %.0f)" % (m["cpu_pct"]["supervisor"], m["cpu_pct"]["workers"],
                                                      m["cpu_pct"]["host_busy"]),
                         "%.0f (%.2f/VM)" % (m["memory_mib"]["workers_pss_excl_guest_total"],
                                             m["memory_mib"]["worker_pss_excl_guest_per_vm"]),
                         "%.0f" % m["memory_mib"]["workers_pss_total"],
                         "%.0f (%.2f/VM)" % (m["memory_mib"]["host_used_delta"],
                                             m["memory_mib"]["host_used_delta_per_vm"]),
                         "%d (%.1f/VM)" % (m["threads"]["workers_total"], m["threads"]["per_vm"]),
                         str(m["fds"]["supervisor"])])
    res.table("B5: N idle %s VMs of %d MiB, all alive at every step" % (cfg["guest"], cfg["memory_mib"]),
              ["mode", "N", "start VMs/s", "vm.list p50/p99 ms", "vm.info p50/p99 ms",
               "CPU % of a core: supervisor + workers (host busy %)", "workers PSS w/o guest RAM MiB",
               "workers PSS MiB", "host memory used MiB", "worker threads", "supervisor fds"], rows,
              note="Latencies from one client while the VMs idle (vm.info asks the VM's worker). Host "
                   "memory is the MemAvailable drop since before the first VM: it includes KVM's kernel "
                   "memory per VM, which no PSS shows.")
    crow = []
    for mode in cfg["modes"]:
        for mo in (modes[mode], reference[mode]):
            for m in mo["steps"]:
                if m["n"] not in cfg["reference"]["steps"]:
                    continue
                crow.append([mode, mo["guest"], str(m["n"]), "%.1f" % m["start_vms_per_s"],
                             "%.2f" % m["memory_mib"]["host_used_delta_per_vm"],
                             "%.2f" % m["memory_mib"]["worker_pss_excl_guest_per_vm"],
                             "%.2f" % m["memory_mib"]["guest_ram_resident_per_vm"],
                             "%.3f" % m["cpu_pct"]["per_vm"], "%.1f" % m["threads"]["per_vm"],
                             "%.2f / %.2f" % (m["api_ms"]["vm.info"]["p99"], m["api_ms"]["vm.list"]["p99"])])
            if not mo["steps"]:
                crow.append([mode, mo["guest"], "—", "stopped %s" % mo["stopped_by"]] + ["—"] * 6)
    if crow:
        res.table("B5: what minios adds per VM, against the smallest guest (guests/idle.c), same N",
                  ["mode", "guest", "N", "start VMs/s", "host memory MiB/VM", "worker PSS w/o guest MiB/VM",
                   "guest RAM resident MiB/VM", "workers CPU % of a core per VM", "threads/VM",
                   "vm.info / vm.list p99 ms"], crow,
                  note="Each row is its own vmmd (the minios row is the ramp's step at that N, the idle row a "
                       "separate run straight to N).")
    prow = []
    for mode, mo in modes.items():
        p = mo["projection"]
        if not p:
            continue
        for k, v in sorted(p["limits"].items(), key=lambda kv: kv[1]):
            prow.append([mode, k, "%.0f" % v, "**first**" if k == p["first"] else ""])
    if prow:
        res.table("B5: what limits N on this host (projected from the per-VM costs at the largest N)",
                  ["mode", "resource", "N at which it runs out", ""], prow)
    for mode, mo in list(modes.items()) + list(reference.items()):
        if mo["stopped_by"] and mo is modes.get(mode):
            res.note("%s %s: the ramp stopped %s" % (mo["guest"], mode, mo["stopped_by"]))
        elif mo["stopped_by"]:
            res.note("%s %s (reference): stopped %s" % (mo["guest"], mode, mo["stopped_by"]))
        res.note("%s %s: %.0f s in all, teardown of %d VMs %.1f s" % (
            mo["guest"], mode, mo["elapsed_s"], mo["steps"][-1]["n"] if mo["steps"] else 0, mo["teardown_s"]))
    # Goal: N = goal_n in every mode, all alive, API p99 < 20 ms up to that N.
    want = cfg["goal_n"]
    reached = {mode: (mo["steps"][-1]["n"] if mo["steps"] else 0) for mode, mo in modes.items()}
    p99 = max((max(m["api_ms"]["vm.list"]["p99"], m["api_ms"]["vm.info"]["p99"])
               for mo in modes.values() for m in mo["steps"] if m["n"] <= want), default=None)
    met = all(v >= want for v in reached.values()) and p99 is not None and p99 < API_P99_GOAL_MS
    res.goal("N = %d idle %s VMs on 2 cores / 24 GiB, all alive, API p99 < %.0f ms"
             % (want, cfg["guest"], API_P99_GOAL_MS), met,
             {"reached": reached, "api_p99_ms": p99}, {"n": want, "api_p99_ms": API_P99_GOAL_MS},
             "worst API p99 %.1f ms up to N=%d; largest N reached: %s" % (
                 p99 or 0, want, ", ".join("%s %d" % kv for kv in reached.items())))
    series = []
    for mode, mo in modes.items():
        if mo["steps"]:
            series.append({"name": "%s vm.info p99" % mode, "x": [m["n"] for m in mo["steps"]],
                           "y": [m["api_ms"]["vm.info"]["p99"] for m in mo["steps"]]})
            series.append({"name": "%s vm.list p99" % mode, "x": [m["n"] for m in mo["steps"]],
                           "y": [m["api_ms"]["vm.list"]["p99"] for m in mo["steps"]]})
    if series:
        res.plot(name="b5-density", title="B5: API p99 with N idle %s VMs" % cfg["guest"], kind="lines",
                 xlabel="N idle %s VMs" % cfg["guest"],
                 ylabel="ms", series=series)


if __name__ == "__main__":
    lib.run_harness("B5", "density: N idle minios VMs", body)
