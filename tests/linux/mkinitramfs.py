#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write a gzip'd newc cpio initramfs (the format the kernel unpacks,
Documentation/driver-api/early-userspace/buffer-format.rst) from
NAME=SOURCE arguments; SOURCE "dir" makes a directory, "->TARGET" a
symlink, anything else is a file copied with mode 0755."""
import gzip
import os
import sys


def entry(name, mode, data, ino):
    hdr = "070701" + "".join("%08x" % v for v in (
        ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0))
    out = hdr.encode() + name.encode() + b"\0"
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: mkinitramfs.py OUT.cpio.gz NAME=SOURCE...")
    body = b""
    for ino, arg in enumerate(sys.argv[2:], start=1):
        name, _, src = arg.partition("=")
        if src == "dir":
            body += entry(name, 0o040755, b"", ino)
        elif src.startswith("->"):
            body += entry(name, 0o120777, src[2:].encode(), ino)
        else:
            with open(src, "rb") as f:
                body += entry(name, 0o100755, f.read(), ino)
    body += entry("TRAILER!!!", 0, b"", 0)
    with gzip.open(sys.argv[1], "wb", compresslevel=9) as f:
        f.write(body)


main()
