/* SPDX-License-Identifier: MIT */
/*
 * ELF64 loader for vmmd's own guests: every PT_LOAD segment is copied to
 * its p_paddr (and its bss zeroed). The image comes from a user-supplied
 * file, so each header field is checked before it is used: sizes, offsets,
 * overlaps with vmmd's reserved low memory, and overflow of every sum.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vmmd/worker/guest_memory.h"

#define ELF_MAX_FILE   (256u << 20)
#define ELF_MAX_PHDRS  64

struct elf_info {
	uint64_t entry;
	uint64_t lowest;    /* lowest loaded guest-physical address */
	uint64_t highest;   /* one past the highest loaded byte */
	unsigned segments;
};

/*
 * Load an in-memory image. Segments must lie within [min_paddr, mem->size).
 * Returns 0, or -ENOEXEC (not an x86-64 ELF64 executable), -EINVAL (a bad
 * header field; *why names it), -ERANGE (a segment outside allowed memory).
 */
int elf_load_image(const uint8_t *image, size_t size, struct guest_memory *mem,
		   uint64_t min_paddr, struct elf_info *ret, const char **why);

/* Read path (at most ELF_MAX_FILE bytes) and load it. */
int elf_load_file(const char *path, struct guest_memory *mem, uint64_t min_paddr,
		  struct elf_info *ret, const char **why);
