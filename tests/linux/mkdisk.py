#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write a raw disk image of SIZE MiB with an MBR partition table holding
one Linux partition from sector 2048 to the end, so the guest kernel logs
"vda: vda1" when virtio-blk works; the partition starts with a marker."""
import struct
import sys


def main():
    path, mib = sys.argv[1], int(sys.argv[2])
    sectors = mib * 2048
    mbr = bytearray(512)
    # Partition 1: not bootable, type 0x83, LBA start 2048, LBA count; CHS unused (0xfe/0xff).
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff", 2048, sectors - 2048)
    mbr[510:512] = b"\x55\xaa"
    with open(path, "wb") as f:
        f.write(mbr)
        f.seek(2048 * 512)
        f.write(b"vmmd test partition\n")
        f.truncate(sectors * 512)


main()
