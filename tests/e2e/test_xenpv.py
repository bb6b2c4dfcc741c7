#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Xen PV refusals, in seconds (the boots themselves are the Linux tier,
tests/linux/test_xenpv.py): kernels made here in a few hundred bytes.

- shadow mode with a Linux that has no Xen PV entry (a PVH-only vmlinux)
  explains itself and says what to do;
- a Xen PV kernel that requires a feature vmmd lacks names the feature;
- a bzImage whose payload vmmd does not unpack (bzip2) says so, and with
  boot "auto" also that shadow mode needs a Xen PV kernel;
- boot "xen-pv" with paging "hw", and virtio devices for a PV guest, are
  refused with the field named;
- vmmd's own guests in shadow mode still boot (boot "auto" tells them apart)."""

import os
import struct
import sys

import vmmtest
from vmmtest import check, expect_error, kvm, show

CONFIG_INVALID = -32007
VIRT_BASE = 0xffffffff80000000
PADDR = 0x1000000


def note(ntype, desc):
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", 4, len(desc), ntype) + b"Xen\0" + pad(desc)


def elf(notes):
    """An ELF64 x86-64 executable: one PT_LOAD at PADDR (linked at VIRT_BASE + PADDR), one PT_NOTE."""
    blob = b"".join(notes)
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + b"\0" * 9, 2, 62, 1, PADDR, 64, 0, 0, 64,
                       56, 2, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0x1000, VIRT_BASE + PADDR, PADDR, 0x1000, 0x1000, 0x1000)
    pnote = struct.pack("<IIQQQQQQ", 4, 4, 0x800, 0, 0, len(blob), len(blob), 4)
    data = ehdr + load + pnote
    data += b"\0" * (0x800 - len(data)) + blob
    data += b"\0" * (0x1000 - len(data)) + b"\xf4" * 0x1000   # the "kernel": hlt
    return data


def pv_notes(features=b""):
    return [note(6, b"linux\0"), note(5, b"xen-3.0\0"), note(3, struct.pack("<Q", VIRT_BASE)),
            note(1, struct.pack("<Q", VIRT_BASE + PADDR)), note(8, b"generic\0"), note(10, features + b"\0")]


def write(d, name, data):
    path = os.path.join(d.tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def start_refused(d, name, kernel, **fields):
    cfg = {"name": name, "kernel": kernel, "paging": "shadow", "memory_mib": 64}
    cfg.update(fields)
    d.call("vm.create", {"config": cfg})
    err = expect_error(d.rpc("vm.start", {"name": name}), CONFIG_INVALID, "ConfigInvalid",
                       what="starting %s" % name)
    check(d.state(name) == "created", "a refused start leaves the VM created")
    return err


@kvm
def test_linux_without_pv_is_refused_in_shadow_mode(d):
    pvh_only = write(d, "pvh-vmlinux", elf([note(18, struct.pack("<I", PADDR))]))
    err = start_refused(d, "nopv", pvh_only)
    check("Xen PV" in err["message"] and "CONFIG_XEN_PV" in err["message"] and 'paging "hw"' in err["message"]
          and err["data"].get("field") == "kernel", "says what the kernel lacks and what to do: %s" % show(err))


@kvm
def test_required_feature_is_named(d):
    kernel = write(d, "needs-hvm", elf(pv_notes(b"!auto_translated_physmap|writable_page_tables")))
    err = start_refused(d, "hvmonly", kernel)
    check("auto_translated_physmap" in err["message"], "names the feature: %s" % show(err))


@kvm
def test_unpackable_bzimage_is_named(d):
    bz = bytearray(0x800)
    bz[0x1f1] = 1
    bz[0x1fe:0x200] = b"\x55\xaa"
    bz[0x202:0x206] = b"HdrS"
    bz[0x206:0x208] = struct.pack("<H", 0x020f)
    bz[0x248:0x24c] = struct.pack("<I", 0)
    bz[0x24c:0x250] = struct.pack("<I", 0x100)
    bz[0x400:0x404] = b"BZh9"   # bzip2: Linux can, vmmd does not
    path = write(d, "bzip2-bzImage", bytes(bz))
    err = start_refused(d, "bzip2", path, boot="xen-pv")
    check("xz, gzip, zstd and lz4" in err["message"] and err["data"].get("field") == "kernel",
          "names what vmmd unpacks: %s" % show(err))
    # Not asked for Xen PV: first what shadow mode needs, then what to do.
    err = start_refused(d, "bzip2-auto", path)
    check("Xen PV" in err["message"] and "xz, gzip, zstd and lz4" in err["message"]
          and 'paging "hw"' in err["message"], "auto says shadow mode needs Xen PV: %s" % show(err))


def test_xen_pv_needs_shadow_and_no_devices(d):
    kernel = write(d, "pv", elf(pv_notes()))
    err = expect_error(d.rpc("vm.create", {"config": {"name": "pvhw", "kernel": kernel, "boot": "xen-pv"}}),
                       CONFIG_INVALID, "ConfigInvalid", what="xen-pv in hw mode")
    check(err["data"].get("field") == "boot" and "shadow" in err["message"], "says shadow: %s" % show(err))
    if vmmtest.kvm_problem():
        return
    disk = write(d, "disk.img", b"\0" * 4096)
    err = start_refused(d, "pvdev", kernel, devices=[{"type": "virtio-blk", "path": disk}])
    check(err["data"].get("field") == "devices", "names the devices: %s" % show(err))


@kvm
def test_own_guests_still_boot_in_shadow_mode(d):
    d.run_vm("hello", "hello", paging="shadow")
    inf = d.wait_state("hello", ("stopped", "crashed"))
    check(inf["exit"]["reason"] == "debug-exit" and inf["boot"]["kind"] == "vmmd", "hello in shadow mode: %s" % show(inf))


if __name__ == "__main__":
    vmmtest.main()
