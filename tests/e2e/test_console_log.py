#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VM's console on disk (issue 14 findings 6 and 7): the console ring
in the state directory is allocated when it is created, so a state
filesystem that fills up later never kills a running guest (SIGBUS on a
page of a sparse shared file), and starting a VM on a full one is refused
with an error. KVM; root for tmpfs."""

import json
import os
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


if __name__ == "__main__":
    vmmtest.main()
