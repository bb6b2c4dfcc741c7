/* SPDX-License-Identifier: MIT */
/*
 * ELF64 loader for vmmd's own guests: every PT_LOAD segment is copied to
 * its p_paddr (and its bss zeroed). The image comes from a user-supplied
 * file, so each header field is checked before it is used: sizes, offsets,
 * overlaps with vmmd's reserved low memory, and overflow of every sum.
 */
#pragma once

#include <stdbool.h>
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
	bool entry_loaded;  /* e_entry lies in a loaded segment (vmmd's own guests) */
};

/* Copy the PT_LOAD segments as elf_load_image does, without asking where
 * e_entry points (a Linux vmlinux's e_entry is not a loaded address). */
int elf_load_segments(const uint8_t *image, size_t size, struct guest_memory *mem,
		      uint64_t min_paddr, struct elf_info *ret, const char **why);

/* Whether e_entry lies in a PT_LOAD segment (false for a malformed file). */
bool elf_entry_is_loaded(const uint8_t *image, size_t size);

/* The PVH entry: the Xen PHYS32_ENTRY note's 32-bit physical address.
 * 0, -ENOEXEC (not an ELF64 executable), -ENOENT (no such note). */
int elf_pvh_entry(const uint8_t *image, size_t size, uint32_t *ret_entry);

/*
 * Load an in-memory image. Segments must lie within [min_paddr, mem->size).
 * Returns 0, or -ENOEXEC (not an x86-64 ELF64 executable), -EINVAL (a bad
 * header field; *why names it), -ERANGE (a segment outside allowed memory).
 */
int elf_load_image(const uint8_t *image, size_t size, struct guest_memory *mem,
		   uint64_t min_paddr, struct elf_info *ret, const char **why);

/* Read fd (at most ELF_MAX_FILE bytes, image_file.h) and load it. */
int elf_load_fd(int fd, struct guest_memory *mem, uint64_t min_paddr, struct elf_info *ret, const char **why);
