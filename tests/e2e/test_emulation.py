#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmmd's emulation fallback (docs/linux.md): the emufail guest runs int3,
stac and clac at CPL0, which KVM's emulator gives up on where it emulates
guest kernel code (pvm hosts); vmmd finishes them, counts them, and the
guest sees hardware behaviour: its #BP handler gets the next RIP, AC
follows stac/clac. popcnt is not emulated: the VM crashes with the RIP,
the instruction bytes and the mnemonic in vm.info. On VT-x/AMD-V hosts all
of it runs natively and nothing is counted."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, kvm, show  # noqa: E402

def emulates_cpl0(d):
    """Where KVM emulates guest kernel code and gives up on some of it (PVM)."""
    return vmmtest.host_has(d, "cpl0-emulation-failures")


@kvm
def test_int3_stac_clac_finished(d):
    d.run_vm("ef", "emufail")
    inf = d.wait_state("ef", ("stopped", "crashed"))
    text = d.console_text("ef")
    check("emufail: int3 -> #BP handler saw the next rip" in text, "int3: %s" % show(text))
    check("emufail: stac -> AC set, clac -> AC clear" in text, "stac/clac: %s" % show(text))
    check(inf["state"] == "stopped" and inf["exit"]["reason"] == "debug-exit" and inf["exit"]["code"] == 1,
          "clean exit: %s" % show(inf["exit"]))
    em = inf["stats"]["emulated"]
    if not emulates_cpl0(d):
        check(em["total"] == 0, "nothing to finish on a VT-x/AMD-V host: %s" % show(em))
    else:
        check(em == {"int3": 1, "clac": 1, "stac": 1, "total": 3}, "each counted once: %s" % show(em))
        check(inf["stats"]["exits"]["emulation_failure"] == 3, "three failures: %s" % show(inf["stats"]["exits"]))
    out = d.ctl("stats", "ef", json=False)
    check("emulated by vmmd" in out, "vmmctl stats shows them: %s" % out)


@kvm
def test_unemulated_instruction_crashes_with_its_bytes(d):
    d.run_vm("ef2", "emufail", cmdline="fail=1")
    inf = d.wait_state("ef2", ("stopped", "crashed"))
    text = d.console_text("ef2")
    if not emulates_cpl0(d):
        check("popcnt ran natively" in text and inf["state"] == "stopped", "native popcnt: %s" % show(inf))
        return
    check(inf["state"] == "crashed" and inf["exit"]["reason"] == "emulation-failure", "crashed: %s" % show(inf))
    msg = inf["exit"]["message"]
    check("rip 0x" in msg and "(popcnt)" in msg, "RIP and mnemonic: %s" % msg)
    # popcnt r64, r64 is f3 REX.W 0f b8 modrm: the five bytes and no more.
    check(": f3 48 0f b8 " in msg and len(msg.split(":")[1].split("(")[0].split()) == 5,
          "the instruction's bytes: %s" % msg)
    check("popcnt next" in text and "ran natively" not in text, "stopped at popcnt: %s" % show(text))
    check(inf["stats"]["emulated"]["total"] == 3, "the others were still finished: %s" % show(inf["stats"]))


if __name__ == "__main__":
    vmmtest.main()
