#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""KVM's paravirtual interface as vmmd offers it (guests/kvmpv.c): the
guest reads CPUID 0x40000001 and makes each hypercall a Linux with
KVM_GUEST would make for the features it is offered (KICK_CPU, SEND_IPI,
SCHED_YIELD). Where KVM emulates guest CPL0 (pvm hosts) a hypercall never
completes, so the emulated-kernel host profile hides those features, and
kvm-clock, with which a 2-vCPU Linux spent all its time in its tick there
(vmmd/worker/host_profile.c): the test Linux with 2 vCPUs once hung at its
first PV IPI while bringing up CPU 1. Seconds, where the Linux boot that
found it takes minutes."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, kvm, show  # noqa: E402

PV_UNHALT, PV_SEND_IPI, PV_SCHED_YIELD, HC_MAP_GPA_RANGE = 7, 11, 13, 16
CLOCKSOURCE, CLOCKSOURCE2, CLOCKSOURCE_STABLE = 0, 3, 24
HYPERCALLS = (1 << PV_UNHALT) | (1 << PV_SEND_IPI) | (1 << PV_SCHED_YIELD) | (1 << HC_MAP_GPA_RANGE)
HIDDEN = HYPERCALLS | (1 << CLOCKSOURCE) | (1 << CLOCKSOURCE2) | (1 << CLOCKSOURCE_STABLE)
CALLS = {PV_UNHALT: "KVM_HC_KICK_CPU", PV_SEND_IPI: "KVM_HC_SEND_IPI", PV_SCHED_YIELD: "KVM_HC_SCHED_YIELD"}


def run_kvmpv(d, name, cmdline="", **fields):
    d.run_vm(name, "kvmpv", cmdline, **fields)
    inf = d.wait_state(name, ("stopped", "crashed"), 20.0)
    text = d.console_text(name)
    check(inf["state"] == "stopped" and inf["exit"]["reason"] == "debug-exit" and inf["exit"]["code"] == 1,
          "%s ended through debug-exit 0: %s %s" % (name, show(inf["exit"]), show(text)))
    m = re.search(r"kvmpv: signature '(\w*)' features 0x([0-9a-f]+)", text)
    check(m, "%s printed what it was offered: %s" % (name, show(text)))
    return m.group(1), int(m.group(2), 16), text


@kvm
def test_offered_hypercalls_complete(d):
    """With the host's own profile: every hypercall feature offered works
    (on VT-x/AMD-V all of them; on pvm none is offered)."""
    sig, features, text = run_kvmpv(d, "pv")
    check(sig == "KVMKVMKVM", "KVM's signature: %s" % sig)
    if d.call("vmm.version")["host"]["virt"] not in ("vmx", "svm"):
        check(features & HIDDEN == 0, "no hypercall feature, no kvm-clock where KVM emulates CPL0: %#x" % features)
    offered = [CALLS[b] for b in sorted(CALLS) if features & (1 << b)]
    for call in offered:
        check(re.search(r"kvmpv: %s returned -?\d+" % call, text), "%s completed: %s" % (call, show(text)))
    check("kvmpv: done %d hypercalls" % len(offered) in text, "all offered calls made: %s" % show(text))


@kvm
def test_host_profile_decides(d):
    """The profile alone decides, on any host: emulated-kernel hides exactly
    the hypercall features and kvm-clock, hardware shows what KVM supports."""
    _, hw, _ = run_kvmpv(d, "pvhw", "calls=0", host_profile="hardware")
    _, emu, _ = run_kvmpv(d, "pvemu", "calls=0", host_profile="emulated-kernel")
    check(hw & (1 << PV_SEND_IPI), "KVM offers PV_SEND_IPI (Linux 4.19+) with the hardware profile: %#x" % hw)
    check(hw & (1 << CLOCKSOURCE2), "KVM offers kvm-clock with the hardware profile: %#x" % hw)
    check(emu == hw & ~HIDDEN, "emulated-kernel hides the hypercall features and kvm-clock only: %#x vs %#x"
          % (emu, hw))


if __name__ == "__main__":
    vmmtest.main()
