# SPDX-License-Identifier: MIT
"""What the e2e tests need to know about a guest ELF (python3 stdlib only):
its PT_LOAD segments (file bytes and where they load) and its symbols."""

import struct


class GuestElf:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
            raise ValueError("%s is not a little-endian ELF64 file" % path)
        (self.entry, phoff, shoff) = struct.unpack_from("<QQQ", d, 24)
        (phentsize, phnum, shentsize, shnum, shstrndx) = struct.unpack_from("<HHHHH", d, 54)
        self.loads = []   # (paddr, file bytes, memsz, flags)
        for i in range(phnum):
            (p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, _a) = \
                struct.unpack_from("<IIQQQQQQ", d, phoff + i * phentsize)
            if p_type == 1:
                self.loads.append((p_paddr, d[p_offset:p_offset + p_filesz], p_memsz, p_flags))
        self.symbols = {}  # name -> (value, size)
        sections = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize) for i in range(shnum)]
        for (name, sh_type, flags, addr, offset, size, link, info, align, entsize) in sections:
            if sh_type != 2:   # SHT_SYMTAB
                continue
            strtab = sections[link]
            for k in range(size // entsize):
                (st_name, st_info, st_other, st_shndx, st_value, st_size) = \
                    struct.unpack_from("<IBBHQQ", d, offset + k * entsize)
                s = d[strtab[4] + st_name:d.index(b"\0", strtab[4] + st_name)].decode()
                if s:
                    self.symbols[s] = (st_value, st_size)

    def symbol(self, name):
        if name not in self.symbols:
            raise KeyError("symbol %s is not in the guest ELF" % name)
        return self.symbols[name]

    def text_range(self):
        """[start, end) of the executable PT_LOAD."""
        for paddr, data, memsz, flags in self.loads:
            if flags & 1:
                return paddr, paddr + memsz
        raise ValueError("no executable PT_LOAD")
