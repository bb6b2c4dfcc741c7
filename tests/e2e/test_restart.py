#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Restart survival: VMs keep running when the supervisor dies or is
restarted, and the next supervisor re-adopts every live worker — state,
console and control carry on; a worker that died meanwhile is reported.
Issue 14: a supervisor killed while a VM starts leaves no worker it cannot
find (finding 8), and a stopped worker neither blocks start-up nor hangs a
call for ever (finding 9)."""

import glob
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, kvm, show, wait_for  # noqa: E402


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
            # vmmd knows the pid at its start; the adoption is done once the
            # worker has answered (until then vm.info names that problem,
            # and a call to the VM would find no worker to ask).
            seen = {}

            def adopted():
                seen.clear()
                seen.update(d.info(n))
                return seen.get("pid") == pid and not seen.get("problem")
            try:
                wait_for(adopted, 10, 0.05, "%s to be adopted" % n)
            except vmmtest.Failure:
                vmmtest.fail("%s must be adopted, same worker: %s" % (n, show(seen)))
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


def process_ended(pid):
    """True once pid is reaped, or every thread of it is a zombie: only
    then are its files (shared by its threads) closed."""
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    return False
        return True
    except (FileNotFoundError, ProcessLookupError):
        # Reaped, or one thread went away while we looked (between the open
        # and the read of its stat: ESRCH): ask again.
        return not os.path.exists("/proc/%d" % pid)


@kvm
def test_worker_gone_while_away(d):
    d.run_vm("lost", "spin", "interval=3000000", paging="shadow")
    d.wait_progress("lost")
    pid = d.info("lost")["pid"]
    d.kill_supervisor()
    os.kill(pid, signal.SIGKILL)
    # Gone or a zombie, not merely without /proc/PID/exe: an exiting
    # process loses its mm (and that link) before it closes its files, so
    # its control socket could still take the next supervisor's connection
    # (the VM then ends as worker-gone, not daemon-restart).
    vmmtest.wait_for(lambda: process_ended(pid), 10, 0.05, "worker to die")
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
    # Ended: a zombie, or gone (whoever inherited it may reap it at any
    # moment, PID 1 of check-fresh's namespace at once), so never open
    # /proc/PID/stat unguarded.
    vmmtest.wait_for(lambda: not vmmtest.alive(pid), 15, 0.05, "the orphan worker to end")
    names = [v["name"] for v in d.call("vm.list", {}).get("vms", [])]
    check("orphan" not in names, "the orphan is not listed: %s" % names)


def workers_of(d, name):
    """Pids of the live workers of VM `name` of d's state directory (by their argv)."""
    want = ("--name\0%s\0" % name).encode(), ("--state-dir\0%s\0" % d.state_dir).encode()
    pids = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                cmd = f.read()
            pid = int(path.split("/")[2])
        except (OSError, ValueError):
            continue
        if b"--worker\0" in cmd and all(w in cmd for w in want) and vmmtest.alive(pid):
            pids.append(pid)
    return pids


@kvm
def test_supervisor_killed_while_a_vm_starts(d):
    """SIGKILL of vmmd after it forked a VM's worker and before the boot
    reply: the next vmmd knows that worker (it adopts it, or the worker is
    gone), and a later vm.start never runs the VM twice (finding 8)."""
    # 64 vCPUs: a boot slow enough (~0.1 s) to catch the worker in it.
    d.create("twice", "spin", vcpus=64)
    conn = d.connect()
    conn.send({"jsonrpc": "2.0", "method": "vm.start", "params": {"name": "twice"}, "id": 1})
    deadline = time.monotonic() + 10
    child = []
    while not child:
        check(time.monotonic() < deadline, "vmmd forked no worker within 10 s of vm.start")
        child = vmmtest.children_of(d.pid)
    os.kill(child[0], signal.SIGSTOP)
    try:
        d.kill_supervisor()
    finally:
        # A worker not yet adoptable dies with vmmd (PDEATHSIG SIGKILL
        # kills it even stopped), and whoever inherits it may have reaped
        # it already (PID 1 of check-fresh's namespace does at once).
        try:
            os.kill(child[0], signal.SIGCONT)
        except ProcessLookupError:
            pass
    conn.close()
    time.sleep(1)   # let the worker boot, or die, as it will
    d.start()
    live = workers_of(d, "twice")
    info = d.info("twice")
    check(len(live) <= 1, "two workers of one VM: %s" % live)
    if live:
        check(info.get("pid") == live[0] and info["state"] == "running",
              "the worker forked before the restart (pid %d) runs but vmmd does not know it: %s"
              % (live[0], show(info)))
    else:
        check(info["state"] != "running", "no worker, yet the VM is running: %s" % show(info))
        d.start_vm("twice")
    d.wait_progress("twice")
    live = workers_of(d, "twice")
    check(live == [d.info("twice")["pid"]], "the VM runs once, on the worker vmmd knows: workers %s, vm.info %s"
          % (live, show(d.info("twice"))))
    d.call("vm.stop", {"name": "twice", "force": True})


@kvm
def test_stopped_worker_does_not_block_startup(d):
    """A worker stopped with SIGSTOP while no supervisor ran: the next vmmd
    serves at once, lists the VM with its problem, adopts the worker once it
    runs again, and the others are adopted meanwhile (finding 9)."""
    d.run_vm("frozen", "spin", "interval=3000000", paging="shadow")
    d.run_vm("thawed", "spin", "interval=3000000", paging="shadow")
    pids = {n: d.info(n)["pid"] for n in ("frozen", "thawed")}
    d.kill_supervisor()
    os.kill(pids["frozen"], signal.SIGSTOP)
    try:
        d.start()
        conn = d.connect(timeout=5)
        vms = {v["name"]: v for v in vmmtest.result_of(conn.call("vm.list"), "vm.list").get("vms", [])}
        conn.close()
        check(vms.get("frozen", {}).get("problem"),
              "vm.list should name the stopped worker's problem: %s" % show(vms))
        info = wait_for(lambda: (lambda i: i if i.get("pid") == pids["thawed"] else None)(d.info("thawed")),
                        10, 0.1, "the other VM to be adopted")
        check(info["state"] == "running", "the other VM: %s" % show(info))
        # Another restart while it is still stopped: the live supervisor's
        # connection wins over the dead one's that the worker sees first.
        d.kill_supervisor()
        d.start()
    finally:
        os.kill(pids["frozen"], signal.SIGCONT)
    info = wait_for(lambda: (lambda i: i if i.get("pid") == pids["frozen"] and not i.get("problem") else None)(
        d.info("frozen")), 20, 0.1, "the worker to be adopted once it runs again")
    check(info["state"] == "running", "adopted late: %s" % show(info))
    d.wait_progress("frozen")
    d.call("vm.stop", {"name": "frozen", "force": True})
    d.call("vm.stop", {"name": "thawed", "force": True})


@kvm
def test_call_to_stopped_worker_has_a_deadline(d):
    """Every call to a worker ends: one stopped with SIGSTOP answers with
    an error once workers.call_timeout_s has passed, and vm.stop --force
    ends it (finding 9)."""
    other = vmmtest.Daemon()
    try:
        cfg = os.path.join(other.tmp, "vmmd.json")
        with open(cfg, "w") as f:
            json.dump({"workers": {"call_timeout_s": 2}}, f)
        other.start(["--config", cfg])
        other.run_vm("late", "spin", "interval=3000000", paging="shadow")
        pid = other.info("late")["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            conn = other.connect(timeout=8)
            t0 = time.monotonic()
            err = vmmtest.expect_error(conn.call("vm.pause", {"name": "late"}), -32603, what="vm.pause of a stopped worker")
            took = time.monotonic() - t0
            check(1.5 < took < 6 and "2 s" in err["message"],
                  "the call should fail after its 2 s deadline, saying so: %.1f s, %s" % (took, show(err)))
            conn.close()
        finally:
            os.kill(pid, signal.SIGCONT)
        # The pause did happen once the worker ran again: the state follows it.
        other.wait_state("late", "paused", timeout=10)
        r = other.call("vm.resume", {"name": "late"})
        check(r.get("state") == "running", "the worker answers again once it runs: %s" % show(r))
        os.kill(pid, signal.SIGSTOP)
        r = other.call("vm.stop", {"name": "late", "force": True})
        check(r.get("state") == "stopped", "vm.stop --force of a stopped worker: %s" % show(r))
    finally:
        other.stop()


if __name__ == "__main__":
    vmmtest.main()
