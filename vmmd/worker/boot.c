/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "abi/bootinfo.h"
#include "vmmd/worker/boot.h"
#include "x86/cpu.h"

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }

void boot_write_identity_map(uint8_t *low, uint64_t pml4, uint64_t pdpt, uint64_t pd)
{
	put64(low + pml4, pdpt | X86_PTE_P | X86_PTE_W);
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t table = pd + i * 0x1000;
		put64(low + pdpt + i * 8, table | X86_PTE_P | X86_PTE_W);
		for (uint64_t j = 0; j < 512; j++)
			put64(low + table + j * 8, ((i << 30) | (j << 21)) | X86_PTE_P | X86_PTE_W | X86_PTE_PS);
	}
}

int boot_write_tables(struct guest_memory *mem, const struct vm_config *config)
{
	uint8_t *low = guest_memory_ptr(mem, 0, VMM_LOAD_MIN);
	if (!low)
		return -ERANGE;
	memset(low, 0, VMM_LOAD_MIN);

	/* GDT: null, 64-bit code at 0x08, flat data at 0x10 (what vcpu.c loads). */
	put64(low + VMM_BOOT_GDT + 0x08, X86_DESC_CODE64_RING0);
	put64(low + VMM_BOOT_GDT + 0x10, X86_DESC_DATA_RING0);

	boot_write_identity_map(low, VMM_BOOT_PML4, VMM_BOOT_PDPT, VMM_BOOT_PD);

	size_t cmdline_len = strlen(config->cmdline);
	if (cmdline_len >= VMM_BOOT_CMDLINE_MAX)
		return -E2BIG;
	memcpy(low + VMM_BOOT_CMDLINE, config->cmdline, cmdline_len + 1);

	struct vmm_boot_info info = {
		.magic = VMM_BOOT_MAGIC,
		.version = VMM_BOOT_VERSION,
		.size = sizeof(info),
		.memory_bytes = mem->size,
		.vcpus = config->vcpus,
		.mode = config->paging == VM_PAGING_SHADOW ? VMM_BOOT_MODE_SHADOW : VMM_BOOT_MODE_HW,
		.cmdline = VMM_BOOT_CMDLINE,
		.cmdline_len = cmdline_len,
	};
	memcpy(low + VMM_BOOT_INFO, &info, sizeof(info));
	return 0;
}
