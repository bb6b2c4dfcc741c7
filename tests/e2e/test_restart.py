#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Restart survival: VMs keep running when the supervisor dies or is
restarted, and the next supervisor re-adopts every live worker — state,
console and control carry on; a worker that died meanwhile is reported."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, kvm, show  # noqa: E402


@kvm
def test_workers_survive_and_are_adopted(d):
    d.run_vm("keep-hw", "spin")
    d.run_vm("keep-sh", "spin", "interval=3000000", paging="shadow")
    d.wait_progress("keep-hw")
    d.wait_progress("keep-sh")
    d.call("vm.pause", {"name": "keep-hw"})
    pids = {n: d.info(n)["pid"] for n in ("keep-hw", "keep-sh")}
    before = d.console("keep-sh")[1]
    for sig in (signal.SIGKILL, signal.SIGTERM):   # a crash, then an orderly restart
        d.kill_supervisor(sig)
        for n, pid in pids.items():
            check(os.path.exists("/proc/%d" % pid), "worker of %s must outlive its supervisor (%s)" % (n, sig))
        d.start()
        for n, pid in pids.items():
            info = d.info(n)
            check(info.get("pid") == pid, "%s must be adopted, same worker: %s" % (n, show(info)))
        check(d.state("keep-hw") == "paused", "a paused VM stays paused across the restart")
        check(d.state("keep-sh") == "running", "a running VM stays running")
    d.wait_progress("keep-sh")
    after = d.console("keep-sh")[1]
    check(after > before, "the console history carries on (%d -> %d)" % (before, after))
    d.call("vm.resume", {"name": "keep-hw"})
    d.wait_progress("keep-hw")
    r = d.call("vm.stop", {"name": "keep-sh"})
    check(r.get("state") == "stopped", "an adopted VM stops on request: %s" % show(r))
    d.call("vm.stop", {"name": "keep-hw", "force": True})
    check(d.state("keep-hw") == "stopped", "an adopted VM can be force-stopped")


@kvm
def test_worker_gone_while_away(d):
    d.run_vm("lost", "spin", "interval=3000000", paging="shadow")
    d.wait_progress("lost")
    pid = d.info("lost")["pid"]
    d.kill_supervisor()
    os.kill(pid, signal.SIGKILL)
    vmmtest.wait_for(lambda: not os.path.exists("/proc/%d/exe" % pid) or
                     open("/proc/%d/stat" % pid).read().split()[2] == "Z", 10, 0.05, "worker to die")
    d.start()
    info = d.info("lost")
    check(info.get("state") == "crashed" and (info.get("exit") or {}).get("reason") == "daemon-restart",
          "a worker gone while no supervisor ran is a crash, said so: %s" % show(info))
    check(d.console_text("lost"), "its console history is still readable")


@kvm
def test_adopted_worker_dies(d):
    d.run_vm("later", "spin", "interval=3000000", paging="shadow")
    d.wait_progress("later")
    pid = d.info("later")["pid"]
    d.kill_supervisor()
    d.start()
    check(d.info("later").get("pid") == pid, "adopted")
    os.kill(pid, signal.SIGKILL)
    d.wait_state("later", ("crashed",), timeout=15)
    check((d.info("later").get("exit") or {}).get("reason") == "worker-gone",
          "an adopted worker's death is seen through its pidfd: %s" % show(d.info("later")))


@kvm
def test_orphan_worker_is_stopped(d):
    """A running VM whose definition vanished while no supervisor ran can
    never be adopted: the next supervisor stops its guest."""
    d.run_vm("orphan", "spin", "interval=3000000", paging="shadow")
    d.wait_progress("orphan")
    pid = d.info("orphan")["pid"]
    d.kill_supervisor()
    os.unlink(os.path.join(d.state_dir, "orphan.json"))
    d.start()
    vmmtest.wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                     open("/proc/%d/stat" % pid).read().split()[2] == "Z", 15, 0.05, "the orphan worker to end")
    names = [v["name"] for v in d.call("vm.list", {}).get("vms", [])]
    check("orphan" not in names, "the orphan is not listed: %s" % names)


if __name__ == "__main__":
    vmmtest.main()
