#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The worker sandbox: once its VM runs, each worker lives under a seccomp
filter; a forbidden system call kills that worker only (the VM is recorded
as crashed) while the daemon and the other VMs go on."""

import os
import sys

os.environ["VMMD_TEST_HOOKS"] = "1"   # the worker performs a forbidden syscall on SIGUSR2
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, kvm, show  # noqa: E402


def seccomp_mode(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return -1


@kvm
def test_workers_are_filtered(d):
    # spin's loop runs natively in shadow mode but, on a host without VT-x,
    # emulated at CPL0 in hw mode: there a tenth of the loop prints as often.
    for name, interval, fields in (("sb-hw", 300000, {}), ("sb-shadow", 3000000, {"paging": "shadow"})):
        d.run_vm(name, "spin", "interval=%d" % interval, **fields)
        d.wait_progress(name)
        info = d.info(name)
        if info.get("sandboxed") is False and "san" in os.path.basename(vmmtest.B):
            raise vmmtest.Skip("sanitizer build: workers run without the seccomp filter (their runtime needs more)")
        check(info.get("sandboxed") is True, "vm.info must say the worker is sandboxed: %s" % show(info))
        pid = info["pid"]
        check(seccomp_mode(pid) == 2, "worker %d of %s must run under a seccomp filter" % (pid, name))
        # The filter must not get in the way of what vmmd does with a running VM.
        d.call("vm.pause", {"name": name})
        d.call("vcpu.state", {"name": name})
        d.call("vm.resume", {"name": name})
        d.call("stats.get", {"name": name})
        d.wait_progress(name)
        d.call("vm.stop", {"name": name, "force": True})


@kvm
def test_forbidden_syscall_kills_only_that_worker(d):
    d.run_vm("victim", "spin", "interval=3000000", paging="shadow")
    d.run_vm("bystander", "spin")
    d.wait_progress("victim")
    d.wait_progress("bystander")
    if d.info("victim").get("sandboxed") is False and "san" in os.path.basename(vmmtest.B):
        raise vmmtest.Skip("sanitizer build: workers run without the seccomp filter")
    os.kill(d.info("victim")["pid"], 12)   # SIGUSR2: the test hook's forbidden mkdirat
    d.wait_state("victim", ("crashed",), timeout=30)
    exit_ = d.info("victim").get("exit") or {}
    check(exit_.get("reason") == "worker-killed" and "31" in exit_.get("message", ""),
          "a forbidden syscall ends the worker with SIGSYS (31): %s" % show(exit_))
    d.wait_progress("bystander")
    check(d.state("bystander") == "running", "the other VM keeps running")
    d.call("vm.stop", {"name": "bystander", "force": True})


if __name__ == "__main__":
    vmmtest.main()
