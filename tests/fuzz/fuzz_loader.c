/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a kernel image from the user, through the loaders that
 * run in the worker as root before its sandbox (vmmd/worker/elf_loader.c,
 * linux_boot.c, linux_pvh.c, linux_bzimage.c, mptable.c). Byte 0 picks the
 * path, the rest is the image:
 *   0  vmmd's own ELF (elf_load_image above 1 MiB, elf_entry_is_loaded,
 *      elf_pvh_entry), as a guest's kernel;
 *   1  linux_boot_detect, then linux_boot_load as what it detected;
 *   2  linux_boot_load as PVH, 3 as bzImage, whatever the file is.
 * Guest memory is 32 MiB (the least Linux gets). Checked on every input:
 * a refusal is one of the documented errors with a reason; on success
 * every address reported lies in guest memory (the kernel, the loaded
 * segments, the e820 map within bounds), and ASan sees every byte written.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmmd/worker/elf_loader.h"
#include "vmmd/worker/linux_boot.h"
#include "tests/fuzz/fuzz_check.h"

#define LD_MEMORY (32ull << 20)

#define ld_assert(cond, ...) FUZZ_CHECK("fuzz_loader", cond, __VA_ARGS__)

static struct guest_memory ld_mem;

static void ld_check_refusal(int r, const char *why, bool is_linux)
{
	/* elf_loader.h: -ENOEXEC, -EINVAL, -ERANGE; linux_boot.h adds the
	 * kernel's own limits (-E2BIG, -EFBIG) and a missing note (-ENOENT). */
	ld_assert(r == -ENOEXEC || r == -EINVAL || r == -ERANGE || (is_linux && (r == -E2BIG || r == -EFBIG ||
		  r == -ENOENT)), "unexpected error %d (%s)", r, why ? why : "no reason");
	ld_assert(why && why[0], "a refusal (%d) without a reason", r);
}

static void ld_elf(const uint8_t *img, size_t size)
{
	struct elf_info info;
	const char *why = NULL;
	uint32_t pvh;

	int r = elf_load_image(img, size, &ld_mem, 0x100000, &info, &why);
	if (r < 0)
		ld_check_refusal(r, why, false);
	else {
		ld_assert(info.lowest >= 0x100000 && info.lowest <= info.highest && info.highest <= LD_MEMORY,
			  "segments at [0x%llx, 0x%llx)", (unsigned long long) info.lowest,
			  (unsigned long long) info.highest);
		ld_assert(info.segments >= 1 && info.segments <= ELF_MAX_PHDRS, "%u segments", info.segments);
		ld_assert(!info.entry_loaded || (info.entry >= info.lowest && info.entry < info.highest),
			  "a loaded entry 0x%llx outside the segments", (unsigned long long) info.entry);
	}
	(void) elf_entry_is_loaded(img, size);
	r = elf_pvh_entry(img, size, &pvh);
	ld_assert(r == 0 || r == -ENOEXEC || r == -ENOENT, "elf_pvh_entry: %d", r);
}

static void ld_linux(const uint8_t *img, size_t size, int kind)
{
	struct linux_boot_layout layout;
	struct vm_error err = { .kind = WORKER_ERROR_MAX };
	struct linux_boot_params p = {
		.kind = kind, .kernel = img, .kernel_size = size, .initrd_fd = -1 /* none */,
		.cmdline = "console=ttyS0", .vcpus = 2,
	};

	int r = linux_boot_load(&ld_mem, &p, &layout, &err);
	if (r < 0) {
		ld_check_refusal(r, err.why, true);
		/* The step that failed names the culprit: the kernel, or what it asks of memory. */
		ld_assert(err.kind == WORKER_ERROR_KERNEL || err.kind == WORKER_ERROR_MEMORY,
			  "a refusal (%d, %s) blaming kind %d", r, err.why, (int) err.kind);
		return;
	}
	ld_assert(layout.kernel_start < layout.kernel_end && layout.kernel_end <= LD_MEMORY,
		  "kernel at [0x%llx, 0x%llx)", (unsigned long long) layout.kernel_start,
		  (unsigned long long) layout.kernel_end);
	ld_assert(layout.initrd_size == 0, "an initrd from nowhere");
	ld_assert(layout.e820_entries >= 1 && layout.e820_entries <= LINUX_E820_MAX, "%zu e820 entries",
		  layout.e820_entries);
	for (size_t i = 0; i < layout.e820_entries; i++)
		ld_assert(layout.e820[i].addr + layout.e820[i].size <= LD_MEMORY &&
			  layout.e820[i].addr + layout.e820[i].size >= layout.e820[i].addr, "e820 entry %zu", i);
	ld_assert(layout.entry.rip < LD_MEMORY, "entry 0x%llx outside memory", (unsigned long long) layout.entry.rip);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ld_mem.host) {
		ld_assert(guest_memory_map(LD_MEMORY, &ld_mem) == 0, "cannot map guest memory");
		ld_assert(ld_mem.size == LD_MEMORY, "guest memory of %llu bytes", (unsigned long long) ld_mem.size);
	}
	if (size < 1)
		return 0;
	/* A copy of its own size: ASan sees any read past the image. */
	size_t n = size - 1;
	uint8_t *img = malloc(n ? n : 1);
	ld_assert(img, "out of memory");
	memcpy(img, data + 1, n);
	switch (data[0] % 4) {
	case 0:
		ld_elf(img, n);
		break;
	case 1: {
		enum vm_boot kind = linux_boot_detect(img, n);
		if (kind == VM_BOOT_PVH || kind == VM_BOOT_BZIMAGE)
			ld_linux(img, n, kind);
		else
			ld_elf(img, n);
		break;
	}
	case 2:
		ld_linux(img, n, VM_BOOT_PVH);
		break;
	default:
		ld_linux(img, n, VM_BOOT_BZIMAGE);
		break;
	}
	free(img);
	return 0;
}
