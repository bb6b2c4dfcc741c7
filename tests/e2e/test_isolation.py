#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One VM's failure stays its own (DESIGN.md "Process model"): a guest that
triple-faults or a worker that is killed makes only that VM crashed; other
VMs keep running and the daemon keeps answering."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, kvm, show  # noqa: E402


def daemon_answers(d):
    check(d.call("vmm.version").get("api") == 1, "vmm.version after the crash")
    return {vm["name"]: vm["state"] for vm in d.call("vm.list")["vms"]}


@kvm
def test_triple_fault_is_contained(d):
    d.run_vm("spin-iso", "spin")
    d.wait_progress("spin-iso")
    d.run_vm("triple", "triple")
    inf = d.wait_state("triple", ("crashed", "stopped"))
    check(inf.get("state") == "crashed", "a triple-faulting guest must end crashed: %s" % show(inf))
    ex = inf.get("exit")
    check(isinstance(ex, dict) and ex.get("reason") == "triple-fault",
          "exit.reason must be triple-fault: %s" % show(inf))
    check("triple: faulting now" in d.console_text("triple"),
          "the triple guest's console lacks 'triple: faulting now': %s" % show(d.console_text("triple")))
    check(d.state("spin-iso") == "running", "the other VM stopped running: %s" % show(d.info("spin-iso")))
    d.wait_progress("spin-iso")
    states = daemon_answers(d)
    check(states.get("triple") == "crashed" and states.get("spin-iso") == "running",
          "vm.list after the triple fault: %s" % show(states))
    d.call("vm.stop", {"name": "spin-iso", "force": True})


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@kvm
def test_killed_worker_is_contained(d):
    d.run_vm("victim", "spin")
    d.run_vm("bystander", "spin")
    d.wait_progress("victim")
    d.wait_progress("bystander")
    pid = d.info("victim").get("pid")
    other = d.info("bystander").get("pid")
    check(isinstance(pid, int) and pid > 1, "vm.info of a running VM needs its worker's pid: %s" % show(pid))
    check(pid != d.pid, "the worker must be its own process, not vmmd (pid %d)" % pid)
    check(pid != other, "two VMs share one worker (pid %d)" % pid)
    check(pid_alive(pid), "worker pid %d from vm.info is not a live process" % pid)
    os.kill(pid, signal.SIGKILL)
    inf = d.wait_state("victim", ("crashed", "stopped"), timeout=10)
    check(inf.get("state") == "crashed", "a VM whose worker was killed must be crashed: %s" % show(inf))
    ex = inf.get("exit") or {}
    check(ex.get("reason") == "worker-killed", "exit.reason must be worker-killed: %s" % show(inf))
    msg = str(ex.get("message", ""))
    check("KILL" in msg.upper() or "9" in msg, "exit.message must name the signal: %s" % show(ex))
    check(d.state("bystander") == "running", "the other VM is no longer running")
    d.wait_progress("bystander")
    states = daemon_answers(d)
    check(states.get("victim") == "crashed", "vm.list after the kill: %s" % show(states))

    # a crashed VM can be started again
    r = d.start_vm("victim")
    check(r.get("state") == "running", "vm.start of a crashed VM: %s" % show(r))
    d.wait_progress("victim")
    check(d.info("victim").get("pid") != pid, "the restarted VM reports the dead worker's pid")
    for name in ("victim", "bystander"):
        d.call("vm.stop", {"name": name, "force": True})


if __name__ == "__main__":
    vmmtest.main()
