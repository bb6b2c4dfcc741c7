#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Pause, resume and forced stop of a running guest. The spin guest prints
forever, so its console offset is its progress counter."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, expect_error, kvm, show  # noqa: E402

INVALID_STATE = -32001


def spin_counter(d, name):
    """The last whole "spin: N" line the guest printed, or -1 (it prints a
    byte per exit: the last line may hold only part of its number yet)."""
    found = re.findall(r"spin: (\d+)\n", d.console_text(name))
    return int(found[-1]) if found else -1


def start_spin(d, name):
    r = d.run_vm(name, "spin")
    check(r.get("name") == name and r.get("state") == "running", "vm.start result: %s" % show(r))
    d.wait_progress(name)


@kvm
def test_pause_stops_progress(d):
    start_spin(d, "spin")
    d.wait_progress("spin")                      # it keeps advancing, not just a boot banner
    counter = vmmtest.wait_for(lambda: (lambda n: n >= 0 and [n])(spin_counter(d, "spin")), 15, 0.05,
                               "a whole 'spin: N' line")[0]
    r = d.call("vm.pause", {"name": "spin"})
    check(r.get("state") == "paused", "vm.pause result: %s" % show(r))
    check(d.state("spin") == "paused", "vm.info after pause: %s" % d.state("spin"))
    time.sleep(0.1)
    before = d.console_pos("spin")
    time.sleep(1.0)
    after = d.console_pos("spin")
    check(before == after, "a paused guest kept printing: console offset %d -> %d in 1 s" % (before, after))
    r = d.call("vm.resume", {"name": "spin"})
    check(r.get("state") == "running", "vm.resume result: %s" % show(r))
    # The first whole line begun after the pause (the pause may have cut
    # one short: the guest prints a byte per exit) goes on from `counter`.
    def first_line_after_pause():
        m = re.search(rb"\nspin: (\d+)\n", d.console("spin", before)[0])
        return m and [int(m.group(1))]
    later = vmmtest.wait_for(first_line_after_pause, 15, 0.05, "a whole 'spin: N' line after the resume")[0]
    check(later > counter, "after resume the counter must go on from %d (not restart), got %d" % (counter, later))
    d.call("vm.stop", {"name": "spin", "force": True})


@kvm
def test_pause_resume_idempotent(d):
    start_spin(d, "spin-idem")
    for _ in range(2):
        r = d.ctl("pause", "spin-idem")
        check(r.get("state") == "paused", "vmmctl pause (twice is fine): %s" % show(r))
    check(d.state("spin-idem") == "paused", "state after two pauses")
    for _ in range(2):
        r = d.ctl("resume", "spin-idem")
        check(r.get("state") == "running", "vmmctl resume (twice is fine): %s" % show(r))
    d.wait_progress("spin-idem")
    d.call("vm.stop", {"name": "spin-idem", "force": True})


@kvm
def test_refused_while_running(d):
    start_spin(d, "spin-busy")
    expect_error(d.rpc("vm.start", {"name": "spin-busy"}), INVALID_STATE, "InvalidState",
                 what="vm.start of a running VM")
    expect_error(d.rpc("vm.destroy", {"name": "spin-busy"}), INVALID_STATE, "InvalidState",
                 what="vm.destroy of a running VM")
    d.call("vm.pause", {"name": "spin-busy"})
    expect_error(d.rpc("vm.destroy", {"name": "spin-busy"}), INVALID_STATE, "InvalidState",
                 what="vm.destroy of a paused VM")
    check(d.state("spin-busy") == "paused", "refused calls changed the state")
    d.call("vm.stop", {"name": "spin-busy", "force": True})
    d.call("vm.destroy", {"name": "spin-busy"})


@kvm
def test_force_stop(d):
    start_spin(d, "spin-stop")
    r = d.ctl("stop", "spin-stop", "--force")
    check(isinstance(r, dict) and r.get("state") == "stopped", "vmmctl stop --force: %s" % show(r))
    inf = d.info("spin-stop")
    check(inf.get("state") == "stopped", "state after stop --force: %s" % show(inf))
    ex = inf.get("exit")
    check(isinstance(ex, dict) and ex.get("reason") == "stopped",
          "exit.reason after vm.stop must be stopped: %s" % show(inf))
    pos = d.console_pos("spin-stop")
    time.sleep(0.5)
    check(d.console_pos("spin-stop") == pos, "a stopped guest kept printing")


@kvm
def test_force_stop_paused(d):
    start_spin(d, "spin-ps")
    d.call("vm.pause", {"name": "spin-ps"})
    r = d.call("vm.stop", {"name": "spin-ps", "force": True})
    check(r.get("state") == "stopped", "vm.stop of a paused VM: %s" % show(r))
    check(d.state("spin-ps") == "stopped", "state after stopping a paused VM")


if __name__ == "__main__":
    vmmtest.main()
