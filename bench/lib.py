# SPDX-License-Identifier: MIT
"""Shared pieces of vmmd's benchmark harnesses (python3 stdlib only).

- LineClient: one newline-delimited JSON connection over a Unix socket. The
  same class, and the same timed loop (LineClient.call), measures vmmd
  (JSON-RPC 2.0), the echo reference and QEMU's QMP: only the message built
  around the method differs (see rpc_message / qmp_message).
- EchoServer: the floor, a trivial single-threaded (selectors) echo server
  on a Unix socket, run in its own process like vmmd.
- Vmmd: a real $B/vmmd on a temporary socket and state directory.
- Qemu: qemu-system-x86_64 -M microvm -enable-kvm, with a QMP socket.
- stats(): median, p50/p99, IQR, min/max; spread_over(): the same over the
  per-round figures of repeated runs.
- Result: one figure's JSON (bench/results/<id>.json) with machine facts,
  date and git revision, and the tables/plots the report renders.

Every harness takes --quick (a smoke run: a few iterations, seconds in
total) and --out PATH (where its JSON goes).
"""

import argparse
import base64
import datetime
import json
import math
import os
import platform
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
B = os.path.join(ROOT, os.environ.get("B", "build"))
VMMD = os.environ.get("VMMD") or os.path.join(B, "vmmd")
# Another vmmd binary to measure beside VMMD in the same run (before/after a
# change): B1 and B2 add it as a target when set.
VMMD_BASELINE = os.environ.get("VMMD_BASELINE")
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
# "-cpu host"/"max" abort in QEMU on hosts without VT-x/AMD-V; qemu64 boots the
# test guests everywhere.
QEMU_CPU = os.environ.get("QEMU_CPU", "qemu64")

sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import vmmdproc  # noqa: E402
from vmmtest import HOST_QUIRKS  # noqa: E402  (the hosts' named quirks, one table)

RPC_TIMEOUT = 30.0


class BenchError(Exception):
    """A harness could not measure what it should (message says why)."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def guest_elf(name):
    return os.path.join(B, "guests", name + ".elf")


def require_guest(name):
    """Raise unless $B/guests/<name>.elf is built."""
    if not os.path.exists(guest_elf(name)):
        raise BenchError("%s is not built (make all)" % guest_elf(name))


# --- host facts ---------------------------------------------------------------

kvm_problem = vmmdproc.kvm_problem


def qemu_problem():
    """None when QEMU looks runnable, else why not."""
    if not shutil.which(QEMU):
        return "%s is not installed (bench/run-all installs Debian's qemu-system-x86)" % QEMU
    return kvm_problem()


def _read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def _cmd(args, default=None):
    try:
        p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return default
    return p.stdout.strip() if p.returncode == 0 else default


def machine_facts():
    cpu = ""
    flags = []
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name") and not cpu:
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = line.split(":", 1)[1].split()
    mem_kib = 0
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    virt = "vmx" if "vmx" in flags else "svm" if "svm" in flags else "none"
    if virt == "none" and os.path.exists("/sys/module/kvm_pvm"):
        virt = "pvm"
    qemu_version = None
    if shutil.which(QEMU):
        out = _cmd([QEMU, "--version"], "")
        qemu_version = out.splitlines()[0] if out else None
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "virt": virt,
        "kvm": kvm_problem() is None,
        "python": platform.python_version(),
        "qemu": qemu_version,
        "loadavg": _read("/proc/loadavg").split()[:3],
    }


def git_revision():
    rev = _cmd(["git", "rev-parse", "--short=12", "HEAD"], None)
    if rev is None:
        # No git where the run is (make bench-nested's machine): the
        # revision tests/nested/run wrote beside the tree it copied in.
        return _read(os.path.join(ROOT, "git-revision")).strip() or None
    # diff-index does not refresh the index (read-only, unlike git status).
    p = subprocess.run(["git", "diff-index", "--quiet", "HEAD", "--"], cwd=ROOT,
                       capture_output=True)
    return rev + ("-dirty" if p.returncode == 1 else "")


# --- statistics ---------------------------------------------------------------

def percentile(sorted_xs, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_xs:
        return None
    if len(sorted_xs) == 1:
        return sorted_xs[0]
    pos = (len(sorted_xs) - 1) * q / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def stats(xs):
    """Summary of one sample: n, min, p25, p50 (= median), p75, p90, p99, max, mean, iqr."""
    s = sorted(xs)
    if not s:
        return {"n": 0}
    out = {"n": len(s), "min": s[0], "max": s[-1], "mean": sum(s) / len(s)}
    for q in (25, 50, 75, 90, 99):
        out["p%d" % q] = percentile(s, q)
    out["median"] = out["p50"]
    out["iqr"] = out["p75"] - out["p25"]
    return out


def spread_over(values):
    """Median and spread of one figure over repeated runs (rounds)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    s = sorted(vals)
    return {"median": percentile(s, 50), "min": s[0], "max": s[-1],
            "iqr": percentile(s, 75) - percentile(s, 25), "runs": len(s), "values": vals}


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


# --- one JSON line connection ---------------------------------------------------

class LineClient:
    """Newline-delimited JSON over a Unix stream socket.

    call() is the measured path for all three servers: encode, sendall, read
    up to the reply's newline, decode; notifications/events (messages with
    no id) that arrive first are kept in self.notifications."""

    def __init__(self, path, timeout=RPC_TIMEOUT):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 0
        self.notifications = []

    def close(self):
        self.sock.close()

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def recv_line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                return line
            chunk = self.sock.recv(262144)
            if not chunk:
                raise BenchError("the server closed the connection")
            self.buf += chunk

    def recv(self):
        return json.loads(self.recv_line())

    def recv_reply(self):
        while True:
            msg = self.recv()
            if isinstance(msg, dict) and "id" not in msg:
                self.notifications.append(msg)
                continue
            return msg

    def call(self, obj):
        """Send one request object (with its "id"); return the reply object."""
        self.sock.sendall(json.dumps(obj).encode() + b"\n")
        return self.recv_reply()

    def wait_notification(self, timeout):
        """The next notification (queued or new), or None after timeout s."""
        if self.notifications:
            return self.notifications.pop(0)
        deadline = time.monotonic() + timeout
        old = self.sock.gettimeout()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
                try:
                    msg = self.recv()
                except socket.timeout:
                    return None
                if isinstance(msg, dict) and "id" not in msg:
                    return msg
        finally:
            self.sock.settimeout(old)


def rpc_message(method, params, id):
    msg = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        msg["params"] = params
    return msg


def qmp_message(command, arguments, id):
    msg = {"execute": command, "id": id}
    if arguments is not None:
        msg["arguments"] = arguments
    return msg


def reply_ok(reply, id):
    """True when reply answers id without an error (JSON-RPC or QMP)."""
    return (isinstance(reply, dict) and reply.get("id") == id and "error" not in reply
            and ("result" in reply or "return" in reply or "echo" in reply or "method" in reply))


class RpcClient(LineClient):
    """JSON-RPC 2.0 convenience on top of LineClient (not on the timed path)."""

    def rpc(self, method, params=None):
        self.next_id += 1
        reply = self.call(rpc_message(method, params, self.next_id))
        if not isinstance(reply, dict) or reply.get("id") != self.next_id:
            raise BenchError("bad reply to %s: %r" % (method, reply))
        if "error" in reply:
            raise BenchError("%s failed: %s" % (method, json.dumps(reply["error"])))
        return reply["result"]


# --- the echo floor -------------------------------------------------------------

def _echo_serve(path, ready_fd):
    """Echo every byte back, single-threaded on epoll like vmmd's event loop."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(128)
    srv.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    os.write(ready_fd, b"r")
    os.close(ready_fd)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is srv:
                try:
                    c, _ = srv.accept()
                except BlockingIOError:
                    continue
                c.setblocking(True)   # replies are tiny: sendall never waits long
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(262144)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                continue
            try:
                s.sendall(data)
            except OSError:
                sel.unregister(s)
                s.close()


class EchoServer:
    """The floor of the harness: a trivial echo server in its own process."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="vmmbench-echo.")
        self.sock = os.path.join(self.tmp, "echo.sock")
        self.pid = None

    def start(self):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _echo_serve(self.sock, w)
            finally:
                os._exit(0)
        os.close(w)
        self.pid = pid
        if os.read(r, 1) != b"r":
            raise BenchError("the echo server did not start")
        os.close(r)
        return self

    def stop(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- vmmd -----------------------------------------------------------------------

class Vmmd:
    """$B/vmmd on a temporary socket and state directory, in its own session
    (started and ended by tests/e2e/vmmdproc.py, as the e2e tests do)."""

    def __init__(self, extra_args=(), binary=None):
        self.binary = binary or VMMD
        self.tmp = tempfile.mkdtemp(prefix="vmmbench.")
        self.sock = os.path.join(self.tmp, "vmmd.sock")
        self.state_dir = os.path.join(self.tmp, "state")
        self.log_path = os.path.join(self.tmp, "vmmd.log")
        self.extra_args = list(extra_args)
        try:
            self.process = vmmdproc.VmmdProcess(self.binary, self.sock, self.state_dir, self.log_path)
        except vmmdproc.VmmdError as e:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise BenchError(str(e))
        self.workers = self.process.workers
        self._client = None

    def start(self, timeout=10.0):
        try:
            self.process.start(self.extra_args, timeout)
        except vmmdproc.VmmdError as e:
            raise BenchError(str(e))
        return self

    def log_tail(self, n=15):
        return self.process.log_tail(n)

    @property
    def proc(self):
        return self.process.proc

    @property
    def pid(self):
        return self.process.pid

    def connect(self):
        return RpcClient(self.sock)

    @property
    def client(self):
        if self._client is None:
            self._client = self.connect()
        return self._client

    def rpc(self, method, params=None):
        return self.client.rpc(method, params)

    def host_kind(self):
        """"pvm", "tcg-svm" (AMD-V emulated by QEMU's TCG, make bench-nested),
        "vmx", "svm" or "none": the host this vmmd runs on, as vmm.version
        reports it (tests/e2e/vmmtest.py host_kind, whose HOST_QUIRKS name
        what each host does unlike hardware)."""
        host = self.rpc("vmm.version").get("host") or {}
        kind = host.get("virt") or "none"
        if kind in ("vmx", "svm") and host.get("hypervisor") == "TCGTCGTCGTCG":
            kind = "tcg-" + kind
        return kind

    def host_has(self, quirk):
        """True when this vmmd's host shows the named quirk (HOST_QUIRKS)."""
        return quirk in HOST_QUIRKS.get(self.host_kind(), frozenset())

    def create(self, name, guest, memory_mib=16, cmdline="", **fields):
        cfg = {"name": name, "kernel": guest_elf(guest), "memory_mib": memory_mib,
               "vcpus": 1, "paging": "hw", "cmdline": cmdline}
        cfg.update(fields)
        return self.rpc("vm.create", {"config": cfg})

    def info(self, name):
        inf = self.rpc("vm.info", {"name": name})
        if isinstance(inf.get("pid"), int):
            self.workers.add(inf["pid"])
        return inf

    def wait_state(self, name, states, timeout=20.0):
        if isinstance(states, str):
            states = (states,)
        deadline = time.monotonic() + timeout
        while True:
            inf = self.info(name)
            if inf.get("state") in states:
                return inf
            if time.monotonic() > deadline:
                raise BenchError("VM %s stayed %s, waited for %s" % (name, inf.get("state"), states))
            time.sleep(0.01)

    def console(self, name, offset=0, max=65536):
        r = self.rpc("vm.console.read", {"name": name, "offset": offset, "max": max})
        return base64.b64decode(r["data"]), r["offset"]

    def stop(self):
        if self._client:
            self._client.close()
            self._client = None
        try:
            self.process.terminate(10)
        except vmmdproc.VmmdError:
            pass   # killed; its log says why
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- QEMU -----------------------------------------------------------------------

def qemu_cmd(kernel=None, memory_mib=16, qmp=None, paused=False, cmdline=None):
    """qemu-system-x86_64 -M microvm -enable-kvm, serial on stdout, debug-exit at 0xf4
    (where vmmd has it), so a guest that exits ends QEMU."""
    cmd = [QEMU, "-M", "microvm", "-enable-kvm", "-cpu", QEMU_CPU, "-m", str(memory_mib),
           "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
           "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
    if kernel:
        cmd += ["-kernel", kernel]
        if cmdline:
            cmd += ["-append", cmdline]
    if qmp:
        cmd += ["-qmp", "unix:%s,server=on,wait=off" % qmp]
    if paused:
        cmd += ["-S"]
    return cmd


class Qemu:
    """QEMU microvm with a QMP socket (a negotiated QMP connection in .qmp)."""

    def __init__(self, kernel=None, memory_mib=16, paused=True, cmdline=None):
        why = qemu_problem()
        if why:
            raise BenchError(why)
        self.tmp = tempfile.mkdtemp(prefix="vmmbench-qemu.")
        self.qmp_path = os.path.join(self.tmp, "qmp.sock")
        self.cmd = qemu_cmd(kernel, memory_mib, self.qmp_path, paused, cmdline)
        self.proc = None
        self.qmp = None

    def start(self, timeout=20.0):
        self.errlog = open(os.path.join(self.tmp, "stderr"), "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.errlog, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchError("QEMU exited at start (%d): %s" % (
                    self.proc.returncode, _read(os.path.join(self.tmp, "stderr")).strip()[-500:]))
            try:
                c = LineClient(self.qmp_path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError("QEMU did not open its QMP socket in %.0f s" % timeout)
                time.sleep(0.005)
        greeting = c.recv()
        if "QMP" not in greeting:
            raise BenchError("no QMP greeting: %r" % greeting)
        c.next_id += 1
        r = c.call(qmp_message("qmp_capabilities", None, c.next_id))
        if "return" not in r:
            raise BenchError("qmp_capabilities failed: %r" % r)
        self.qmp = c
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.qmp:
            self.qmp.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.errlog.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- /proc memory figures --------------------------------------------------------

def smaps(pid):
    """[(header fields, {Field: kB})] for each mapping of pid."""
    maps = []
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0].endswith(":") and len(parts) >= 2 and parts[-1] == "kB":
                cur[1][parts[0][:-1]] = int(parts[1])
            elif parts[0].endswith(":"):
                continue   # VmFlags, THPeligible, ...
            else:
                addr = parts[0].split("-")
                start, end = int(addr[0], 16), int(addr[1], 16)
                cur = ({"start": start, "end": end, "size": end - start, "perms": parts[1],
                        "path": parts[5] if len(parts) > 5 else ""}, {})
                maps.append(cur)
    return maps


def memory_of(pid, guest_bytes=None):
    """PSS/RSS/private of pid, in KiB, and the same without the guest RAM
    mapping: the largest anonymous mapping of at least guest_bytes
    (QEMU reserves a little more than -m for alignment)."""
    maps = smaps(pid)
    total = {"pss": 0, "rss": 0, "private": 0, "swap": 0}
    guest = None
    if guest_bytes:
        anon = [m for m in maps if m[0]["path"] == "" and m[0]["size"] >= guest_bytes]
        if anon:
            guest = min(anon, key=lambda m: m[0]["size"])
    for hdr, f in maps:
        total["pss"] += f.get("Pss", 0)
        total["rss"] += f.get("Rss", 0)
        total["private"] += f.get("Private_Clean", 0) + f.get("Private_Dirty", 0)
        total["swap"] += f.get("Swap", 0)
    out = dict(total)
    if guest is not None:
        g = guest[1]
        out["guest_ram"] = {"size_kib": guest[0]["size"] // 1024, "pss": g.get("Pss", 0),
                            "rss": g.get("Rss", 0)}
        out["pss_excl_guest"] = total["pss"] - g.get("Pss", 0)
        out["rss_excl_guest"] = total["rss"] - g.get("Rss", 0)
    else:
        out["guest_ram"] = None
        out["pss_excl_guest"] = total["pss"]
        out["rss_excl_guest"] = total["rss"]
    return out


def cpu_ticks(pid):
    """User + system CPU time of pid in clock ticks (None when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return None


def vm_rss_kib(pid):
    for line in _read("/proc/%d/status" % pid).splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


# --- results ----------------------------------------------------------------------

class Result:
    """One figure's JSON. Harnesses fill:
      goal      {"text", "met": true|false|null, "value", "limit", "shown"}
      tables    [{"title", "columns": [...], "rows": [[...], ...], "note"}]
      plots     [{"name", "title", "kind": "bars"|"lines", "ylabel", "series": ...}]
      data      anything raw (per-round figures, samples summaries)
      notes     ["..."]  (skips, caveats)
      compare   {"title", "rows": [[key, label, value], ...], "note"}: what
                report.py shows beside the other hosts' runs (compare())
    and run-all/report.py render them into docs/PERFORMANCE.md."""

    def __init__(self, id, title, args):
        self.doc = {
            "id": id, "title": title, "quick": bool(args.quick),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "git": git_revision(), "build": os.path.relpath(B, ROOT),
            "machine": machine_facts(), "status": "ok",
            "goal": None, "tables": [], "plots": [], "data": {}, "notes": [],
        }
        self.out = args.out
        self.t0 = time.monotonic()

    def config(self, full, quick):
        """The harness's quick or full configuration (as --quick says), recorded in data."""
        cfg = quick if self.doc["quick"] else full
        self.doc["data"]["config"] = cfg
        return cfg

    def skip_without_kvm(self):
        """True, with status "skipped" and a note saying why, when /dev/kvm is not usable."""
        why = kvm_problem()
        if why:
            self.doc["status"] = "skipped"
            self.note("skipped: /dev/kvm not available: %s" % why)
        return why is not None

    def note(self, text):
        log("  note: " + text)
        self.doc["notes"].append(text)

    def table(self, title, columns, rows, note=None):
        self.doc["tables"].append({"title": title, "columns": columns, "rows": rows, "note": note})

    def plot(self, **spec):
        self.doc["plots"].append(spec)

    def compare(self, title, rows, note=None):
        """The figure's rows that mean something on any host, for report.py
        to put beside the same figure measured on other hosts
        (bench/results/host-<tag>/, e.g. make bench-nested): rows
        [key, label, value], joined by key; the label comes from this
        machine's run. Ratios within one run, not times: an emulated host's
        durations say nothing about hardware."""
        self.doc["compare"] = {"title": title, "rows": rows, "note": note}

    def goal(self, text, met, value=None, limit=None, shown=None):
        """shown: the measured figure in words, for the overview table."""
        self.doc["goal"] = {"text": text, "met": met, "value": value, "limit": limit, "shown": shown}

    def write(self):
        self.doc["elapsed_s"] = round(time.monotonic() - self.t0, 2)
        if self.out:
            os.makedirs(os.path.dirname(os.path.abspath(self.out)), exist_ok=True)
            tmp = self.out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.doc, f, indent=1, sort_keys=False)
                f.write("\n")
            os.replace(tmp, self.out)
        else:
            json.dump(self.doc, sys.stdout, indent=1)
            print()


def parse_args(description, figure_id):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a smoke run: few iterations, seconds")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results", figure_id + ".json"),
                   help="where the JSON goes ('-' for stdout)")
    args = p.parse_args()
    if args.out == "-":
        args.out = None
    return args


def fmt_us(x):
    return "—" if x is None else ("%.0f" % x if x >= 100 else "%.1f" % x)


def fmt_ms(x):
    return "—" if x is None else ("%.1f" % x if x >= 10 else "%.2f" % x)


def fmt_x(x):
    return "—" if x is None else "%.2fx" % x


def fmt_spread(sp, fmt=fmt_us):
    """'median (min–max)' of a spread_over() dict."""
    if not sp:
        return "—"
    if sp["runs"] == 1:
        return fmt(sp["median"])
    return "%s (%s–%s)" % (fmt(sp["median"]), fmt(sp["min"]), fmt(sp["max"]))


def run_harness(figure_id, title, body):
    """The main of a harness: parse --quick/--out, call body(result, args),
    write the JSON. A BenchError (or any exception) is recorded as status
    "error" with its message, and the exit status is 1."""
    args = parse_args(title, figure_id)
    res = Result(figure_id, title, args)
    rc = 0
    try:
        body(res, args)
    except BenchError as e:
        res.doc["status"] = "error"
        res.note("error: %s" % e)
        rc = 1
    except Exception as e:  # a harness bug: still leave a JSON that says so
        import traceback
        traceback.print_exc()
        res.doc["status"] = "error"
        res.note("error: %s: %s" % (type(e).__name__, e))
        rc = 1
    res.write()
    sys.exit(rc)


# --- guests that measure themselves (B6, B7, B8, B9) ---------------------------------

NATIVE_SRC = os.path.join(ROOT, "bench", "native_loop.c")
# Headers a native tool includes besides its own source.
NATIVE_DEPS = {"native_loop": [os.path.join(ROOT, "guests", "lib", "bench_loop.h")]}


def native_tool(name="native_loop"):
    """$B/bench/<name>, built from bench/<name>.c with gcc -O2 when missing or
    older than its sources: native_loop (B9's loop, guests/lib/bench_loop.h,
    and the TSC calibration), native_nano (B7's host-process rows)."""
    out = os.path.join(B, "bench", name)
    src = os.path.join(ROOT, "bench", name + ".c")
    srcs = [src] + NATIVE_DEPS.get(name, [])
    if not os.path.exists(out) or any(os.path.getmtime(s) > os.path.getmtime(out) for s in srcs):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        cc = os.environ.get("CC", "gcc")
        p = subprocess.run([cc, "-O2", "-o", out + ".tmp", src], capture_output=True, text=True)
        if p.returncode != 0:
            raise BenchError("cannot build %s: %s" % (out, p.stderr.strip()[-500:]))
        os.replace(out + ".tmp", out)
    return out


def kv_line(line):
    """'k=v k2=v2 word' -> {'k': 'v', 'k2': 'v2'} (words without '=' are skipped)."""
    out = {}
    for w in line.split():
        if "=" in w:
            k, v = w.split("=", 1)
            out[k] = v
    return out


_TSC_HZ = None


def tsc_hz():
    """TSC ticks per second of this host (native_loop --tsc-hz; KVM guests
    read the same TSC rate)."""
    global _TSC_HZ
    if _TSC_HZ is None:
        p = subprocess.run([native_tool(), "--tsc-hz"], capture_output=True, text=True, timeout=30)
        hz = float(kv_line(p.stdout).get("tsc_hz", 0))
        if p.returncode != 0 or hz <= 0:
            raise BenchError("TSC calibration failed: %r" % (p.stdout + p.stderr))
        _TSC_HZ = hz
    return _TSC_HZ


def run_native_loop(n):
    p = subprocess.run([native_tool(), str(n)], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise BenchError("native_loop failed: %s" % (p.stdout + p.stderr))
    kv = kv_line(p.stdout)
    return {"n": int(kv["n"]), "cycles": int(kv["cycles"]), "ns": int(kv["ns"]), "check": kv.get("check")}


class GuestRun:
    """Run one VM to its end and keep its console with the time each piece
    arrived: the supervisor's event timestamps (CLOCK_REALTIME when the
    worker reported the bytes; the worker coalesces bursts for up to 5 ms).

    at(offset) is the time the byte at offset was first reported, so the
    wall time between two console lines is known to about ±5 ms."""

    def __init__(self, vmmd, name, guest, paging="hw", cmdline="", memory_mib=16, timeout=120.0, **fields):
        self.name = name
        ev = vmmd.connect()
        try:
            vmmd.create(name, guest, memory_mib=memory_mib, cmdline=cmdline, paging=paging, **fields)
            ev.rpc("events.subscribe", {"topics": ["console", "state"], "name": name})
            vmmd.rpc("vm.start", {"name": name})
            self.chunks = []        # (timestamp, start offset, bytes)
            deadline = time.monotonic() + timeout
            done = False
            while not done:
                left = deadline - time.monotonic()
                if left <= 0:
                    vmmd.rpc("vm.stop", {"name": name, "force": True})
                    raise BenchError("%s did not end in %.0f s" % (name, timeout))
                n = ev.wait_notification(min(left, 1.0))
                if n is None:
                    st = vmmd.info(name)["state"]
                    done = st in ("stopped", "crashed")
                    continue
                p = n.get("params") or {}
                if p.get("vm") != name:
                    continue
                data = p.get("data") or {}
                if p.get("type") == "console":
                    self.chunks.append((p.get("timestamp"), data.get("offset", 0),
                                        base64.b64decode(data.get("data", ""))))
                elif p.get("type") == "state" and data.get("state") in ("stopped", "crashed"):
                    done = True
            # Late console events (the exit report flushes the console first).
            while True:
                n = ev.wait_notification(0.05)
                if n is None:
                    break
                p = n.get("params") or {}
                if p.get("vm") == name and p.get("type") == "console":
                    d = p.get("data") or {}
                    self.chunks.append((p.get("timestamp"), d.get("offset", 0), base64.b64decode(d.get("data", ""))))
        finally:
            ev.close()
        self.info = vmmd.info(name)
        self.text = vmmd.console(name, 0, 1 << 20)[0].decode(errors="replace")
        vmmd.rpc("vm.destroy", {"name": name})

    def at(self, offset):
        for ts, start, data in self.chunks:
            if start <= offset < start + len(data):
                return ts
        return None

    def lines(self, prefix):
        """[(line, offset of its first byte, offset past its newline)] of lines starting with prefix."""
        out = []
        pos = 0
        for line in self.text.split("\n"):
            if line.startswith(prefix):
                out.append((line, pos, pos + len(line) + 1))
            pos += len(line) + 1
        return out

    def exit_ok(self):
        e = self.info.get("exit") or {}
        return self.info.get("state") == "stopped" and e.get("reason") == "debug-exit" and e.get("value") == 0


def trapbench_run(vmmd, name, paging, bench, cfg, extra="", **fields):
    """Run trapbench with bench=BENCH n=cfg["n"] kn=cfg["kn"] and the
    cmdline words `extra` to its end, fields added to the VM's config:
    (the GuestRun, trapbench_results() of it). Raises unless it exited 0."""
    run = GuestRun(vmmd, name, "trapbench", paging=paging,
                   cmdline=("bench=%s n=%d kn=%d %s" % (bench, cfg["n"], cfg["kn"], extra)).strip(), timeout=300,
                   **fields)
    if not run.exit_ok():
        raise BenchError("%s (%s) ended with %s:\n%s" % (name, paging, run.info.get("exit"), run.text[-800:]))
    return run, trapbench_results(run)


def trapbench_results(run):
    """{name: {"n", "cycles", "wall_s"}} from a trapbench console. wall_s:
    from the report of the end of 'begin NAME' to the report of the first
    byte of 'result NAME' (None when the events do not bracket it)."""
    out = {}
    begins = {}
    for line, a, b in run.lines("trapbench: "):
        words = line.split()
        if len(words) >= 3 and words[1] == "begin":
            begins[words[2]] = b - 1           # its newline
        elif len(words) >= 3 and words[1] == "result":
            name = words[2]
            kv = kv_line(line)
            t0 = run.at(begins.get(name, -1))
            t1 = run.at(a)
            wall = (t1 - t0) if (t0 is not None and t1 is not None) else None
            out.setdefault(name, []).append({"n": int(kv["n"]), "cycles": int(kv["cycles"]), "wall_s": wall})
        elif "FAIL" in line:
            raise BenchError("%s: %s" % (run.name, line))
    return out


# --- minios (B5, B7, B8) ---------------------------------------------------------------

MINIOS_PROMPT = "minios$ "


def minios_run(vmmd, name, paging, script, strategy=None, memory_mib=16, timeout=300.0, shadow=None):
    """Boot minios with `script` (';'-separated shell commands; end it with
    'exit 0' so the VM powers off), run it to its end; a GuestRun. Raises
    unless the shell exited with status 0. shadow: more shadow.* fields."""
    fields = {"shadow": dict({"strategy": strategy}, **(shadow or {}))} if strategy else {}
    run = GuestRun(vmmd, name, "minios", paging=paging, cmdline='script="%s"' % script,
                   memory_mib=memory_mib, timeout=timeout, **fields)
    if not run.exit_ok():
        raise BenchError("minios %s (%s%s) ran %r and ended with %s:\n%s" % (
            name, paging, "/" + strategy if strategy else "", script, run.info.get("exit"), run.text[-1500:]))
    return run


def minios_command_span(run, cmd):
    """(t0, t1) wall clock of one shell command of a minios run: from the
    report of the newline of its prompt line 'minios$ CMD' (printed before
    the shell spawns it) to the report of the first byte of the next prompt
    line (printed after wait() returned). Console-event timestamps: ±5 ms
    at each end. None when the events do not bracket it."""
    lines = run.lines(MINIOS_PROMPT)
    for i, (line, a, b) in enumerate(lines):
        if line == MINIOS_PROMPT + cmd and i + 1 < len(lines):
            t0, t1 = run.at(b - 1), run.at(lines[i + 1][1])
            if t0 is None or t1 is None:
                return None
            return t0, t1
    return None


_NANO_RE = None


def nanobench_rows(run):
    """{row: {"cycles": cycles/op, "n": ops}} from a minios console that ran nanobench."""
    global _NANO_RE
    import re
    if _NANO_RE is None:
        _NANO_RE = re.compile(r"^nanobench: (\S+) +(\d+) cycles/op \((\d+) ops\)$")
    out = {}
    for line in run.text.splitlines():
        m = _NANO_RE.match(line)
        if m:
            out[m.group(1)] = {"cycles": int(m.group(2)), "n": int(m.group(3))}
    return out


def flat_stats(obj, prefix=""):
    """stats.get's nested counters as {"traps.by_class.syscall": 12, ...} (numbers only)."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict):
                out.update(flat_stats(v, prefix + k + "."))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out[prefix + k] = v
    return out


def stats_delta(a, b):
    """flat_stats(b) - flat_stats(a), for every counter in either."""
    fa, fb = flat_stats(a), flat_stats(b)
    return {k: fb.get(k, 0) - fa.get(k, 0) for k in set(fa) | set(fb)}
