#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Linux tier (make check-linux): boot the kernel, initramfs and disk
that scripts/build-linux-guest made in $B/linux under a real vmmd, and read
the kernel's own log on the console for what vmmd gave it: the command
line, the e820 map, the MP table, the initrd, the virtio block device with
its size and partition, the rng, and "Run /init". Where the host has
VT-x/AMD-V (real, or emulated by make check-nested), init also runs a
busybox shell (fork+exec, a pipeline) and powers off; where KVM emulates
guest CPL0 (PVM, this project's machines), init dies at its first syscall
(DESIGN.md host quirks) and the panic's reboot ends the VM through the
i8042 reset. Each boot takes minutes on such a host."""

import os
import re
import shutil
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import vmmtest  # noqa: E402
from vmmtest import check, kvm, show, wait_for  # noqa: E402

LINUX = os.path.join(vmmtest.B, "linux")
BOOT_TIMEOUT = 600.0     # seconds to "Run /init"; about 150 s on an emulating host
END_TIMEOUT = 120.0


def artifact(name):
    path = os.path.join(LINUX, name)
    check(os.path.exists(path), "%s missing: run scripts/build-linux-guest (make check-linux does)" % path)
    return path


def linux_config(d, name, kernel, cmdline, **fields):
    # Where user code enters the kernel as on hardware, the initramfs with a
    # shell; on PVM (syscall stays at CPL3) the tiny one.
    initrd = "initramfs-busybox.cpio.gz" if vmmtest.user_mode_runs(d) else "initramfs.cpio.gz"
    cfg = {"name": name, "memory_mib": 128, "kernel": kernel if kernel.startswith("/") else artifact(kernel),
           "initrd": artifact(initrd), "cmdline": cmdline}
    cfg.update(fields)
    return cfg


def write_config(d, cfg):
    import json
    path = os.path.join(d.tmp, cfg["name"] + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path


def boot_until_init(d, name):
    t0 = time.monotonic()
    wait_for(lambda: "Run /init as init process" in d.console_text(name) or d.state(name) != "running",
             BOOT_TIMEOUT, 1.0, "%s to reach init" % name)
    text = d.console_text(name)
    check("Run /init as init process" in text, "%s did not reach init (state %s, exit %s): %s"
          % (name, d.state(name), show(d.info(name).get("exit")), show(text[-3000:], 3000)))
    return text, time.monotonic() - t0


def wait_end(d, name):
    """Where user mode works (VT-x/AMD-V, emulated or not) init's shell
    forks and execs (uname), runs a pipeline, and init powers off through
    debug-exit; on PVM init dies at its first syscall, the kernel panics and
    panic=-1 reboots through the i8042."""
    try:
        d.wait_state(name, ["stopped", "crashed"], END_TIMEOUT)
    except vmmtest.Failure as e:
        vmmtest.fail("%s; the console ends with: %s" % (e, show(d.console_text(name)[-1500:], 4000)))
    text = d.console_text(name)
    exit_ = d.info(name)["exit"]
    if vmmtest.user_mode_runs(d):
        check("vmmd-init: shell says 42" in text, "the shell command ran: %s" % show(text[-2000:], 2000))
        check(re.search(r"^\d+\.\d+\.\d+\S*\r?$", text, re.M), "uname -r ran (fork+exec): %s"
              % show(text[-1500:], 4000))
        check("vmmd-init: pipeline counted 3 words" in text, "the pipeline ran: %s" % show(text[-2000:], 2000))
        check(exit_["reason"] == "debug-exit" and exit_["code"] == 1, "init powered off: %s" % show(exit_))
    else:
        check("Attempted to kill init" in text, "init died at its first syscall: %s" % show(text[-2000:], 2000))
        check(exit_["reason"] == "guest-reset" and "keyboard controller" in exit_["message"],
              "the panic's reboot reset the VM through the i8042: %s" % show(exit_))
    return text


@kvm
def test_bzimage_with_devices(d):
    disk = os.path.join(d.tmp, "disk.img")
    shutil.copy(artifact("disk.img"), disk)
    cmdline = "console=ttyS0 reboot=k panic=-1 vmmd.test=bzimage"
    cfg = linux_config(d, "lx", "bzImage", cmdline,
                       devices=[{"type": "virtio-blk", "path": disk}, {"type": "virtio-rng"}])
    out = d.ctl("run", write_config(d, cfg), json=False)
    check("running" in out, "vmmctl run: %s" % show(out))

    # The disk is this VM's now: a second writer is refused, by name, and nothing else changes.
    other = dict(cfg, name="lx-second", devices=[{"type": "virtio-blk", "path": disk}])
    d.call("vm.create", {"config": other})
    r = d.rpc("vm.start", {"name": "lx-second"})
    check("error" in r and "in use by another VM" in r["error"]["message"], "second writer: %s" % show(r))
    check(d.state("lx") == "running", "the first VM still runs")

    text, took = boot_until_init(d, "lx")
    print("bzImage: Run /init after %.0f s" % took)
    line = re.search(r"Kernel command line: (.*)", text)
    check(line and line.group(1).startswith(cmdline), "command line as given: %s" % show(line and line.group(0)))
    check("virtio_mmio.device=512@0xd0000000:5 virtio_mmio.device=512@0xd0001000:6" in line.group(1),
          "the devices are announced: %s" % line.group(1))
    check(("clearcpuid=" in line.group(1)) == vmmtest.host_has(d, "cpl0-emulation-failures"),
          "host profile for a %s host: %s" % (vmmtest.host_kind(d), line.group(1)))
    for want in ("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
                 "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved",
                 "BIOS-e820: [mem 0x0000000000100000-0x0000000007ffffff] usable",
                 "MPTABLE: OEM ID: VMMD",
                 "Unpacking initramfs...",
                 "virtio_blk virtio0: [vda] 8192 512-byte logical blocks (4.19 MB/4.00 MiB)",
                 " vda: vda1"):
        check(want in text, "console lacks %r: %s" % (want, show(text[-4000:], 4000)))
    check(re.search(r"Freeing initrd memory: \d+K", text), "the initrd was freed")
    check("Unable to read current time from RTC" not in text, "the CMOS RTC gave the time")

    boot = d.info("lx")["boot"]
    check(boot["kind"] == "bzimage" and boot["cmdline"] == line.group(1).strip()
          and boot["initrd_size"] > 0 and boot["kernel_start"] == 0x1000000,
          "vm.info boot names what the kernel got: %s" % show(boot))
    st = d.call("stats.get", {"name": "lx"})
    blk, rng = st["devices"]
    check(blk["type"] == "virtio-blk" and blk["sectors"] == 8192 and blk["requests"] > 0
          and blk["bytes_written"] >= 512 and blk["interrupts"] > 0 and blk["errors"] == 0,
          "virtio-blk served the partition scan: %s" % show(blk))
    check(rng["type"] == "virtio-rng" and rng["requests"] > 0 and rng["errors"] == 0,
          "virtio-rng was read: %s" % show(rng))
    if vmmtest.host_has(d, "cpl0-emulation-failures"):
        check(st["emulated"]["int3"] > 0 and st["emulated"]["total"] == st["exits"]["emulation_failure"],
              "int3 at CPL0 was finished by vmmd's fallback: %s / %s" % (show(st["emulated"]), show(st["exits"])))
    wait_end(d, "lx")


@kvm
def test_pvh_vmlinux_two_vcpus(d):
    cmdline = "console=ttyS0 reboot=k panic=-1 vmmd.test=pvh"
    cfg = linux_config(d, "pvh", "vmlinux", cmdline, vcpus=2, devices=[{"type": "virtio-console"}])
    d.call("vm.create", {"config": cfg})
    d.start_vm("pvh")
    text, took = boot_until_init(d, "pvh")
    print("PVH vmlinux with 2 vCPUs: Run /init after %.0f s" % took)
    check("smp: Brought up 1 node, 2 CPUs" in text, "both vCPUs came up from the MP table: %s"
          % show(re.findall(r".*smp.*", text)))
    check("Kernel command line: " + cmdline in text, "PVH command line")
    check(re.search(r"Freeing initrd memory: \d+K", text), "PVH module = the initrd")
    # The virtio console was probed: the driver posted receive buffers (a notification).
    con = d.call("stats.get", {"name": "pvh"})["devices"][0]
    check(con["type"] == "virtio-console" and con["notifications"] > 0 and con["errors"] == 0
          and not con["needs_reset"], "virtio-console probed: %s" % show(con))
    wait_end(d, "pvh")


@kvm
def test_linux_refusals(d):
    # Shadow mode runs Linux only as a Xen PV kernel. The test kernel is one
    # (CONFIG_XEN_PV): boot "auto" unpacks its lz4 payload, finds the Xen
    # notes and boots it so (tests/linux/test_xenpv.py). The same bzImage
    # with a payload vmmd cannot unpack (bzip2's magic) is refused, saying
    # what shadow mode needs and what to do instead.
    with open(artifact("bzImage"), "rb") as f:
        bz = bytearray(f.read())
    payload = ((bz[0x1f1] or 4) + 1) * 512 + struct.unpack_from("<I", bz, 0x248)[0]
    check(bz[payload:payload + 4] == b"\x02\x21\x4c\x18", "the test kernel's payload is lz4 (legacy frame)")
    bz[payload:payload + 4] = b"BZh9"
    bzip2 = os.path.join(d.tmp, "bzip2-bzImage")
    with open(bzip2, "wb") as f:
        f.write(bz)
    cfg = linux_config(d, "lx-shadow", bzip2, "console=ttyS0", paging="shadow")
    d.call("vm.create", {"config": cfg})
    r = d.rpc("vm.start", {"name": "lx-shadow"})
    check("error" in r and "Xen PV" in r["error"]["message"] and 'paging "hw"' in r["error"]["message"],
          "shadow refused: %s" % show(r))
    # Too little memory for Linux.
    cfg = linux_config(d, "lx-small", "bzImage", "console=ttyS0", memory_mib=16)
    d.call("vm.create", {"config": cfg})
    r = d.rpc("vm.start", {"name": "lx-small"})
    check("error" in r and "memory_mib >= 32" in r["error"]["message"], "small refused: %s" % show(r))
    # A truncated bzImage: the header is there, the kernel is not.
    cut = os.path.join(d.tmp, "cut-bzImage")
    with open(artifact("bzImage"), "rb") as f, open(cut, "wb") as g:
        g.write(f.read(256 * 1024))
    cfg = linux_config(d, "lx-cut", cut, "")
    d.call("vm.create", {"config": cfg})
    r = d.rpc("vm.start", {"name": "lx-cut"})
    check("error" in r and "truncated" in r["error"]["message"], "truncated refused: %s" % show(r))
    check(d.call("vm.list") is not None, "the daemon serves on")


if __name__ == "__main__":
    vmmtest.main()
