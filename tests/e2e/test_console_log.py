#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VM's console on disk (issue 14 findings 6 and 7): the console ring
in the state directory is allocated when it is created, so a state
filesystem that fills up later never kills a running guest (SIGBUS on a
page of a sparse shared file), and starting a VM on a full one is refused
with an error; console.log is capped and rotated by the daemon config's
`console_log` (max_kib, rotate), written away from the vCPU threads. KVM;
root for tmpfs."""

import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, expect_error, kvm, show, wait_for  # noqa: E402

RESOURCE_LIMIT = -32004
FAST_SPIN = "interval=1000"   # shadow mode: as fast as the serial port goes


@kvm
def test_full_state_fs_never_kills_a_guest(d):
    other = vmmtest.Daemon()
    try:
        cfg = os.path.join(other.tmp, "vmmd.json")
        with open(cfg, "w") as f:
            json.dump({"limits": {"console_buffer_kib": 16}}, f)
        with vmmtest.tmpfs(other.state_dir, 512):
            other.start(["--config", cfg])
            other.run_vm("chatty", "spin", FAST_SPIN, paging="shadow")
            other.create("late", "spin", FAST_SPIN, paging="shadow")
            filler = vmmtest.fill_fs(other.state_dir)
            # Past the ring's 16 KiB: every page of it has been written since the disk filled.
            info = wait_for(lambda: (lambda i: i if i["console_bytes"] > 24 << 10 or i["state"] != "running"
                                     else None)(other.info("chatty")), 60, 0.1, "the guest to print 24 KiB")
            check(info["state"] == "running" and info.get("exit") is None,
                  "a full state filesystem ended the guest: %s" % show(info))
            # A create or a start now is refused with an error, not a crash later.
            err = expect_error(other.rpc("vm.create", {"config": vmmtest.guest_config("later", "hello")}),
                               RESOURCE_LIMIT, "ResourceLimit", what="vm.create on a full state filesystem")
            check("No space left on device" in err["message"], "the refusal should say why: %s" % show(err))
            os.truncate(filler, max(0, os.path.getsize(filler) - 8192))   # room for a definition, not a ring
            err = expect_error(other.rpc("vm.start", {"name": "late"}), RESOURCE_LIMIT, "ResourceLimit",
                               what="vm.start on a full state filesystem")
            check("No space left on device" in err["message"], "the refusal should say why: %s" % show(err))
            late = wait_for(lambda: (lambda i: i if i.get("pid") is None else None)(other.info("late")), 10, 0.05,
                            "the worker of the refused VM to leave")
            check(late["state"] != "running", "the refused VM runs: %s" % show(late))
            check(other.info("chatty")["state"] == "running", "the running VM stopped")
            other.call("vm.stop", {"name": "chatty", "force": True})
            other.stop()
    finally:
        other.stop()
        shutil.rmtree(other.tmp, ignore_errors=True)


def spin_numbers(text):
    return [int(n) for n in re.findall(r"^spin: (\d+)$", text, re.M)]


def settle(d, name, base, rotate):
    """Wait until the log's thread has written all the paused guest printed:
    the log, read across its parts, ends as the console does (a pause in
    the writes proves nothing on a loaded host)."""
    total = d.info(name)["console_bytes"]
    tail = d.console(name, max(0, total - 64), 64)[0]
    parts = ["%s.%d" % (base, i) for i in range(rotate, 0, -1)] + [base]

    def written():
        data = b""
        for p in parts:
            try:
                with open(p, "rb") as f:
                    data += f.read()
            except FileNotFoundError:
                if p == base:
                    return False   # rotated, the new part not yet made
        return data.endswith(tail)
    check(tail, "the paused guest's console is empty")
    wait_for(written, 10, 0.05, "the log of %s to end as its console does (%s)" % (name, show(tail)))


def check_rotated(d, name, base, cap_kib, rotate):
    """The log and its parts: each within the cap, no part past `rotate`,
    and together the newest output in order with no gap."""
    parts = ["%s.%d" % (base, i) for i in range(rotate, 0, -1)] + [base]
    text = ""
    for p in parts:
        check(os.path.exists(p), "%s is missing" % p)
        size = os.path.getsize(p)
        check(size <= cap_kib << 10, "%s: %d bytes, over the %d KiB cap" % (p, size, cap_kib))
        with open(p, errors="replace") as f:
            text += f.read()
    check(not os.path.exists("%s.%d" % (base, rotate + 1)), "%s.%d exists with rotate %d" % (base, rotate + 1, rotate))
    # The guest prints through the UART a byte at a time: the pause may cut
    # its last line short ("spin: 23" of 2363), which is no gap.
    nums = spin_numbers(text[:text.rfind("\n") + 1])
    check(len(nums) > 100 and nums == list(range(nums[0], nums[0] + len(nums))),
          "the rotated parts of %s are not the output in order without a gap: %s ... %s" % (name, nums[:5], nums[-5:]))
    check("did not reach this log" not in text, "the log lost output: %s" % show(text[-300:]))


@kvm
def test_console_log_cap_and_rotation(d):
    """console_log {max_kib 8, rotate 2}: the log never passes 8 KiB, the two
    previous parts are NAME.1 and NAME.2 (NAME.3 never exists), and the
    three together are the newest output, in order, with no gap. A log
    vmmctl passes as a descriptor rotates through the part it passes, NAME.1."""
    other = vmmtest.Daemon()
    try:
        cfg = os.path.join(other.tmp, "vmmd.json")
        with open(cfg, "w") as f:
            json.dump({"console_log": {"max_kib": 8, "rotate": 2}}, f)
        other.start(["--config", cfg])
        log = os.path.join(other.tmp, "path.log")
        other.run_vm("bypath", "spin", FAST_SPIN, paging="shadow", console={"log": log})
        wait_for(lambda: other.info("bypath")["console_bytes"] > 40 << 10, 60, 0.1, "the guest to print 40 KiB")
        other.call("vm.pause", {"name": "bypath"})
        settle(other, "bypath", log, 2)
        check_rotated(other, "bypath", log, 8, 2)
        other.call("vm.stop", {"name": "bypath", "force": True})

        ctl_log = os.path.join(other.tmp, "ctl.log")
        other.ctl("run", other.config_file("byctl", "spin", FAST_SPIN, paging="shadow", console={"log": ctl_log}))
        check(other.info("byctl")["files"].get("console.log") == "held", "vmmctl passed the log: %s"
              % show(other.info("byctl")["files"]))
        wait_for(lambda: other.info("byctl")["console_bytes"] > 24 << 10, 60, 0.1, "the guest to print 24 KiB")
        other.call("vm.pause", {"name": "byctl"})
        settle(other, "byctl", ctl_log, 1)
        check_rotated(other, "byctl", ctl_log, 8, 1)
        other.call("vm.stop", {"name": "byctl", "force": True})
    finally:
        other.stop()


if __name__ == "__main__":
    vmmtest.main()
