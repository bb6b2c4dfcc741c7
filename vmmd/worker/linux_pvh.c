/* SPDX-License-Identifier: MIT */
/*
 * PVH boot (xen/include/public/arch-x86/hvm/start_info.h, which Linux's
 * arch/x86/platform/pvh implements for any hypervisor): load the vmlinux
 * PT_LOAD segments at their physical addresses, describe memory, command
 * line and initrd in an hvm_start_info, and enter the PHYS32_ENTRY in
 * 32-bit protected mode with paging off and ebx pointing at it.
 */
#include <errno.h>
#include <string.h>

#include "vmmd/worker/elf_loader.h"
#include "vmmd/worker/linux_boot.h"

#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;          /* 1: has the memory map */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;       /* 0: no ACPI */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry layout");
_Static_assert(LINUX_START_INFO + sizeof(struct hvm_start_info) <= LINUX_MODLIST, "start_info overlaps");
_Static_assert(LINUX_MODLIST + sizeof(struct hvm_modlist_entry) <= LINUX_MEMMAP, "modlist overlaps");

int linux_pvh_load(struct guest_memory *mem, const struct linux_boot_params *p,
		   struct linux_boot_layout *ret, struct vm_error *err)
{
	uint32_t entry;
	if (elf_pvh_entry(p->kernel, p->kernel_size, &entry) < 0)
		return vm_error_set(err, WORKER_ERROR_KERNEL, -ENOEXEC,
				    "the kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY; build with CONFIG_PVH=y)");
	struct elf_info info;
	int r = elf_load_segments(p->kernel, p->kernel_size, mem, LINUX_HIGH_MEMORY, &info, &err->why);
	if (r < 0)
		return vm_error_kind(err, WORKER_ERROR_KERNEL, r);
	if (entry < info.lowest || entry >= info.highest)
		return vm_error_set(err, WORKER_ERROR_KERNEL, -EINVAL, "the PVH entry lies outside the loaded kernel");
	ret->kernel_start = info.lowest;
	ret->kernel_end = info.highest;
	/* PVH has no initrd_addr_max: keep it below 4 GiB for the 32-bit fields of boot_params. */
	r = linux_initrd_place(mem, p->initrd_fd, info.highest, 1ULL << 32, &ret->initrd_start,
			       &ret->initrd_size, err);
	if (r < 0)
		return r;

	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC, .version = 1,
		.cmdline_paddr = LINUX_CMDLINE,
		.memmap_paddr = LINUX_MEMMAP, .memmap_entries = (uint32_t) ret->e820_entries,
	};
	if (ret->initrd_size) {
		struct hvm_modlist_entry mod = { .paddr = ret->initrd_start, .size = ret->initrd_size };
		memcpy(guest_memory_ptr(mem, LINUX_MODLIST, sizeof(mod)), &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = LINUX_MODLIST;
	}
	for (size_t i = 0; i < ret->e820_entries; i++) {
		struct hvm_memmap_table_entry e = {
			.addr = ret->e820[i].addr, .size = ret->e820[i].size, .type = ret->e820[i].type,
		};
		memcpy(guest_memory_ptr(mem, LINUX_MEMMAP + i * sizeof(e), sizeof(e)), &e, sizeof(e));
	}
	memcpy(guest_memory_ptr(mem, LINUX_START_INFO, sizeof(si)), &si, sizeof(si));

	linux_write_gdt(mem, false);
	ret->entry = (struct vcpu_entry) {
		.mode = VCPU_ENTRY_PROTECTED32, .rip = entry, .rbx = LINUX_START_INFO,
		.rsp = LINUX_BOOT_STACK, .cs = 0x10, .ds = 0x18,
		.gdt_base = LINUX_GDT, .gdt_limit = 4 * 8 - 1,
	};
	return 0;
}
