#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The state directory and the definitions in it (vmmd/registry.h, issue
14 finding 5): a definition that fails to load never costs its running
guest (its worker stays adopted, vm.list names the problem, the file is
kept as it was), a full state filesystem at a restart neither, writes go
through a temporary file created O_EXCL|O_NOFOLLOW, and vmmd refuses a
state directory that is not its own or that others may write. KVM for
the guests; root for tmpfs and chown."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import alive, check, kvm, show, wait_for  # noqa: E402

QUIET_SPIN = "interval=3000000"   # shadow mode: a line every ~0.1 s


def listed(d):
    return {v["name"]: v for v in d.call("vm.list").get("vms", [])}


def read(path):
    with open(path, "rb") as f:
        return f.read()


@kvm
def test_broken_definitions_keep_their_workers(d):
    """An empty file, a cut one and one with a field this vmmd does not
    know: each VM stays adopted and listed with its problem, its file is
    untouched, and it can still be stopped."""
    broken = {
        "empty": b"",
        "cut": None,          # the file's first half
        "future": None,       # a config field from a newer vmmd
    }
    pids = {}
    for name in broken:
        d.run_vm(name, "spin", QUIET_SPIN, paging="shadow")
        pids[name] = d.info(name)["pid"]
    d.wait_progress("future")
    d.kill_supervisor()
    for name in broken:
        path = os.path.join(d.state_dir, name + ".json")
        text = read(path)
        if name == "cut":
            broken[name] = text[:len(text) // 2]
        elif name == "future":
            doc = json.loads(text)
            doc["config"]["from_the_future"] = {"answer": 42}
            broken[name] = json.dumps(doc, indent=2).encode()
        with open(path, "wb") as f:
            f.write(broken[name])
    d.start()
    vms = listed(d)
    for name, pid in pids.items():
        check(alive(pid), "the worker of %s (pid %d) was stopped because its definition did not load%s"
              % (name, pid, d.log_tail()))
        check(name in vms, "%s is not listed: %s" % (name, show(vms)))
        check(vms[name].get("problem"), "vm.list names no problem for %s: %s" % (name, show(vms[name])))
        check(read(os.path.join(d.state_dir, name + ".json")) == broken[name],
              "the definition of %s was changed or removed" % name)
    info = wait_for(lambda: (lambda i: i if i.get("pid") == pids["future"] else None)(d.info("future")),
                    10, 0.1, "the worker of future to be adopted")
    check(info["state"] == "running" and "from_the_future" in info.get("problem", ""),
          "vm.info of a VM whose definition has an unknown field: %s" % show(info))
    d.wait_progress("future")
    for name in broken:
        r = d.call("vm.stop", {"name": name, "force": True})
        check(r.get("state") in ("stopped", "crashed"), "vm.stop of %s: %s" % (name, show(r)))
        wait_for(lambda: not alive(pids[name]), 10, 0.05, "the worker of %s to end" % name)
        check(read(os.path.join(d.state_dir, name + ".json")) == broken[name],
              "stopping %s rewrote the definition it could not read" % name)


@kvm
def test_full_state_fs_at_restart(d):
    """A state filesystem with no space left: the next vmmd adopts every
    worker all the same (loading writes nothing)."""
    other = vmmtest.Daemon()
    try:
        with vmmtest.tmpfs(other.state_dir, 512):
            other.start()
            pids = {}
            for name in ("full-a", "full-b"):
                other.run_vm(name, "spin", QUIET_SPIN, paging="shadow")
                pids[name] = other.info(name)["pid"]
            other.wait_progress("full-b")
            other.kill_supervisor()
            vmmtest.fill_fs(other.state_dir)
            other.start()
            for name, pid in pids.items():
                check(alive(pid), "the worker of %s was stopped at a restart on a full state filesystem%s"
                      % (name, other.log_tail()))
                info = wait_for(lambda: (lambda i: i if i.get("pid") == pid else None)(other.info(name)),
                                10, 0.1, "%s to be adopted" % name)
                check(info["state"] == "running", "%s after the restart: %s" % (name, show(info)))
            other.wait_progress("full-a")
            other.stop()
    finally:
        other.stop()
        shutil.rmtree(other.tmp, ignore_errors=True)


def test_temp_file_not_followed(d):
    """A symbolic link where vmmd writes its temporary file is not followed:
    the file it points to keeps its contents."""
    target = os.path.join(d.tmp, "target")
    with open(target, "w") as f:
        f.write("precious\n")
    os.symlink(target, os.path.join(d.state_dir, "victim.json.tmp"))
    r = d.rpc("vm.create", {"config": vmmtest.guest_config("victim", "hello")})
    check(read(target) == b"precious\n", "vmmd wrote its definition through a symbolic link: %r" % read(target))
    path = os.path.join(d.state_dir, "victim.json")
    if "result" in r:
        check(not os.path.islink(path) and json.loads(read(path))["config"]["name"] == "victim",
              "victim.json is not the definition: %s" % os.readlink(path) if os.path.islink(path) else path)


def test_unsafe_state_dir_refused(d):
    """A state directory others may write, or that belongs to another user,
    stops vmmd before it serves, naming the directory."""
    for what, prepare in (("writable by others", lambda p: os.chmod(p, 0o777)),
                          ("owned by another user", lambda p: os.chown(p, 65534, 65534))):
        if what.startswith("owned") and os.geteuid() != 0:
            continue
        state = os.path.join(d.tmp, "unsafe-%d" % len(what))
        os.mkdir(state, 0o750)
        prepare(state)
        sock = os.path.join(d.tmp, "unsafe.sock")
        p = subprocess.run([vmmtest.VMMD, "--socket", sock, "--state-dir", state], capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL, start_new_session=True)
        err = p.stderr.decode(errors="replace")
        check(p.returncode == 1 and state in err,
              "vmmd on a state directory %s: exit %d (want 1), stderr %r" % (what, p.returncode, err))
        check(not os.path.exists(sock), "vmmd served on a state directory %s" % what)


if __name__ == "__main__":
    vmmtest.main()
