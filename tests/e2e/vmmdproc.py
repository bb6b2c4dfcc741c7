# SPDX-License-Identifier: MIT
"""One vmmd process on a temporary socket and state directory, in its own
session: how the e2e tests (vmmtest.Daemon) and the benchmarks (bench/lib.py
Vmmd) start, watch and end a daemon, written once (python3 stdlib only).
Workers outlive their supervisor on purpose (restart survival), so ending
the daemon also ends every worker of its state directory."""

import os
import signal
import socket
import subprocess
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class VmmdError(Exception):
    """vmmd did not start or stop as it should (the message says why, with its log)."""


def kvm_problem():
    """None when /dev/kvm can be opened read-write, else the reason."""
    if not os.path.exists("/dev/kvm"):
        return "/dev/kvm does not exist (no KVM module or not exposed to this machine)"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return "cannot open /dev/kvm read-write: %s" % os.strerror(e.errno)
    os.close(fd)
    return None


def kill_workers_of(state_dir):
    """SIGKILL every vmmd worker whose argv names state_dir."""
    want = ("--state-dir\0%s\0" % state_dir).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"--worker\0" in cmd and want in cmd:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


class VmmdProcess:
    """binary --socket SOCK --state-dir STATE_DIR, its output appended to log_path."""

    def __init__(self, binary, sock, state_dir, log_path):
        if not os.access(binary, os.X_OK):
            raise VmmdError("%s is not built (run make all, or set B)" % binary)
        self.binary = binary
        self.sock = sock
        self.state_dir = state_dir
        self.log_path = log_path
        self.proc = None
        self.log = None
        self.workers = set()      # worker pids seen (vm.info), ended with the daemon
        self.prefix = []          # a command that execs vmmd (setpriv ...), same pid

    def start(self, extra_args=(), timeout=10.0):
        """Start it and wait until its socket accepts a connection."""
        os.makedirs(self.state_dir, exist_ok=True)
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.log = open(self.log_path, "ab")
        cmd = self.prefix + [self.binary, "--socket", self.sock, "--state-dir", self.state_dir] + list(extra_args)
        # Own session: ending it ends the workers vmmd forked too.
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise VmmdError("vmmd exited during start-up (%s)%s" % (self.exit_text(), self.log_tail()))
            if os.path.exists(self.sock):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(self.sock)
                    return self
                except OSError:
                    pass
                finally:
                    s.close()
            if time.monotonic() >= deadline:
                raise VmmdError("vmmd did not open %s within %.0f s%s" % (self.sock, timeout, self.log_tail()))
            time.sleep(0.005)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_text(self):
        rc = self.proc.returncode
        if rc is None:
            return "still running"
        if rc < 0:
            try:
                return "killed by %s" % signal.Signals(-rc).name
            except ValueError:
                return "killed by signal %d" % -rc
        return "exit status %d" % rc

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        if not text:
            return ""
        return "\n  vmmd log (last %d lines):\n    " % len(text) + "\n    ".join(text)

    def signal(self, sig, timeout=10.0):
        """Send sig to the supervisor alone (its workers live on) and wait for it."""
        self.proc.send_signal(sig)
        self.proc.wait(timeout)
        self.log.close()
        return self.proc.returncode

    def terminate(self, timeout=10.0):
        """SIGTERM and wait, then end every worker; returns the exit status
        (negative: a signal). VmmdError when it ignored SIGTERM (killed then)."""
        if self.proc is None:
            return None
        late = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                late = True
        self.kill_workers()
        if self.log:
            self.log.close()
        if late:
            raise VmmdError("vmmd did not exit within %.0f s of SIGTERM%s" % (timeout, self.log_tail()))
        return self.proc.returncode

    def kill_workers(self):
        """Whatever vmmd forked and left behind dies with its session; workers
        of this state dir (named in their argv) and those seen that left the
        session go too, as long as they are still this vmmd binary."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        kill_workers_of(self.state_dir)
        for pid in self.workers:
            try:
                if os.path.realpath("/proc/%d/exe" % pid) == os.path.realpath(self.binary):
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.workers.clear()
