#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""irq.inject and vmmctl irq against the irq guest, which prints one line
per interrupt it takes ("irq: vector 0x25 (irq 5)", "irq: vector 0x40",
"irq: nmi"): each injection must produce exactly its own line."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, expect_error, kvm, show, wait_for  # noqa: E402

INVALID_PARAMS = -32602
INVALID_STATE = -32001


def irq_lines(d, name):
    """The guest's whole "irq: " lines (it prints a byte per exit: the last
    line may not have its newline yet)."""
    text = d.console_text(name)
    text = text[:text.rfind("\n") + 1]
    return [l for l in text.splitlines() if l.startswith("irq: ") and l != "irq: ready"]


def start_irq_guest(d, name):
    d.run_vm(name, "irq")
    wait_for(lambda: "irq: ready" in d.console_text(name), 20, what="the irq guest to set up")


def inject_and_expect(d, name, params, expected, via_ctl=None):
    """Inject one interrupt; the guest must print exactly `expected` and nothing else."""
    before = irq_lines(d, name)
    if via_ctl:
        r = d.ctl("irq", name, *via_ctl)
    else:
        r = d.call("irq.inject", dict(params, name=name))
    lines = wait_for(lambda: len(irq_lines(d, name)) > len(before) and irq_lines(d, name), 10,
                     what="the guest's line for %s" % show(params or via_ctl))
    time.sleep(0.2)   # a second, unexpected interrupt would show up by now
    lines = irq_lines(d, name)
    new = lines[len(before):]
    check(new == [expected], "after injecting %s the guest printed %s, expected exactly [%r]"
          % (show(params or via_ctl), show(new), expected))
    return r


@kvm
def test_each_kind_reaches_the_guest(d):
    start_irq_guest(d, "q")
    r = inject_and_expect(d, "q", {"irq": 5}, "irq: vector 0x25 (irq 5)")
    check(r.get("kind") == "irq" and r.get("delivered") is True and r.get("via") == "KVM_IRQ_LINE",
          "irq result: %s" % show(r))
    inject_and_expect(d, "q", {"irq": 1}, "irq: vector 0x21 (irq 1)")
    inject_and_expect(d, "q", {"irq": 12}, "irq: vector 0x2c (irq 12)")   # through the slave PIC
    r = inject_and_expect(d, "q", {"vector": 0x40}, "irq: vector 0x40")
    check(r.get("kind") == "vector" and r.get("delivered") is True and r.get("via") == "KVM_SIGNAL_MSI",
          "vector result: %s" % show(r))
    # A vector in the PIC's range that did not come from the PIC: no "(irq N)".
    inject_and_expect(d, "q", {"vector": 0x25}, "irq: vector 0x25")
    r = inject_and_expect(d, "q", {"nmi": True}, "irq: nmi")
    check(r.get("kind") == "nmi" and r.get("pending") is True and r.get("via") == "KVM_NMI", "nmi result: %s" % show(r))
    # The same through vmmctl.
    inject_and_expect(d, "q", None, "irq: vector 0x23 (irq 3)", via_ctl=["3"])
    inject_and_expect(d, "q", None, "irq: vector 0xa0", via_ctl=["--vector", "0xa0"])
    inject_and_expect(d, "q", None, "irq: nmi", via_ctl=["--nmi"])
    out = d.ctl("irq", "q", "7", json=False)
    check(re.match(r"irq 7: delivered \(KVM_IRQ_LINE\)", out), "vmmctl irq human output: %s" % show(out))
    wait_for(lambda: "irq: vector 0x27 (irq 7)" in d.console_text("q"), 10, what="irq 7")
    s = d.call("stats.get", {"name": "q"})["irqs"]
    check(s == {"injected": {"irq": 5, "vector": 3, "nmi": 2}, "total": 10}, "stats.get irqs: %s" % show(s))
    check(d.state("q") == "running", "the guest survived every injection")
    d.call("vm.stop", {"name": "q", "force": True})


@kvm
def test_nmi_while_paused_waits(d):
    start_irq_guest(d, "qp")
    d.call("vm.pause", {"name": "qp"})
    r = d.call("irq.inject", {"name": "qp", "nmi": True})
    check(r.get("pending") is True, "nmi to a paused VM is pending: %s" % show(r))
    time.sleep(0.5)
    check("irq: nmi" not in d.console_text("qp"), "a paused guest took the NMI")
    check(d.state("qp") == "paused", "irq.inject must not resume a paused VM")
    d.call("vm.resume", {"name": "qp"})
    wait_for(lambda: "irq: nmi" in d.console_text("qp"), 10, what="the NMI after resume")
    d.call("vm.stop", {"name": "qp", "force": True})


@kvm
def test_bad_injections(d):
    start_irq_guest(d, "qb")
    cases = [
        ({}, None), ({"irq": 1, "vector": 0x40}, None), ({"irq": 1, "nmi": True}, None),
        ({"irq": 24}, "irq"), ({"irq": -1}, "irq"), ({"vector": 31}, "vector"), ({"vector": 256}, "vector"),
        ({"nmi": False}, "nmi"), ({"nmi": 1}, "nmi"), ({"irq": 1, "vcpu": 0}, "vcpu"),
        ({"vector": 0x40, "vcpu": 1}, "vcpu"), ({"nmi": True, "vcpu": 7}, "vcpu"), ({"irq": "1"}, "irq"),
    ]
    for params, field in cases:
        err = expect_error(d.rpc("irq.inject", dict(params, name="qb")), INVALID_PARAMS, "InvalidParams",
                           what="irq.inject %s" % show(params))
        if field:
            check(err.get("data", {}).get("field") == field, "irq.inject %s names %s: %s"
                  % (show(params), field, show(err)))
    time.sleep(0.3)
    check(irq_lines(d, "qb") == [], "refused injections reached the guest: %s" % show(irq_lines(d, "qb")))
    r = d.ctl("irq", "qb", check=False)
    check(r.rc == 2, "vmmctl irq without a kind: %r" % r)
    r = d.ctl("irq", "qb", "3", "--nmi", check=False)
    check(r.rc == 2, "vmmctl irq with two kinds: %r" % r)
    d.call("vm.stop", {"name": "qb", "force": True})
    expect_error(d.rpc("irq.inject", {"name": "qb", "nmi": True}), INVALID_STATE, "InvalidState",
                 what="NMI to a stopped VM")
    r = d.ctl("irq", "qb", "--nmi", check=False)
    check(r.rc == 1 and "InvalidState" in r.err, "vmmctl irq to a stopped VM: %r" % r)


if __name__ == "__main__":
    vmmtest.main()
