// SPDX-License-Identifier: MIT
#include "boot.h"
#include "cmdline.h"
#include "io.h"
#include "printf.h"
#include "serial.h"
#include "string.h"

/*
 * The command line is copied into the guest's own memory: vmmd's low
 * memory (below VMM_LOAD_MIN) is not the guest's to keep. .noinit is not
 * zeroed at boot (zeroing 4 KiB costs ~2 ms of emulated CPL0 code on the
 * slow host), so the copy is always NUL-terminated explicitly.
 */
static char cmdline_buf[VMM_BOOT_CMDLINE_MAX] __attribute__((section(".noinit.cmdline")));
static struct guest_boot boot;

/* Everything below 4 GiB is identity-mapped, nothing above is. */
static bool mapped(uint64_t paddr, uint64_t len)
{
	return paddr && len <= (1ULL << 32) && paddr <= (1ULL << 32) - len;
}

static void copy_cmdline(uint64_t paddr, uint64_t max)
{
	const char *src = (const char *)(uintptr_t)paddr;
	size_t n = 0;

	if (max > sizeof(cmdline_buf) - 1)
		max = sizeof(cmdline_buf) - 1;
	if (mapped(paddr, max))
		while (n < max && src[n])
			n++;
	if (n)
		memcpy(cmdline_buf, src, n);
	cmdline_buf[n] = '\0';
}

/* vmmd's contract (abi/bootinfo.h). Treat the block as untrusted input. */
static bool vmmd_parse(struct guest_boot *b, uint64_t paddr)
{
	const struct vmm_boot_info *bi = (const struct vmm_boot_info *)(uintptr_t)paddr;

	if (!mapped(paddr, sizeof(*bi)) || (paddr & 7))
		return false;
	if (bi->magic != VMM_BOOT_MAGIC || bi->version < 1 ||
	    bi->size < offsetof(struct vmm_boot_info, reserved))
		return false;
	b->memory_bytes = bi->memory_bytes;
	b->vcpus = bi->vcpus;
	b->mode = bi->mode;
	copy_cmdline(bi->cmdline, bi->cmdline_len);
	return true;
}

void guest_start(uint64_t info_paddr, uint32_t loader)
{
	bool ok;

	serial_init();
	boot.loader = loader;
	boot.info_paddr = info_paddr;
	boot.vcpus = 1;
	boot.mode = VMM_BOOT_MODE_HW;
	cmdline_buf[0] = '\0';
	if (loader == GUEST_LOADER_PVH)
		ok = pvh_parse(&boot, info_paddr, cmdline_buf, sizeof(cmdline_buf));
	else
		ok = vmmd_parse(&boot, info_paddr);
	boot.cmdline = cmdline_buf;
	cmdline_set(cmdline_buf);

	if (!ok) {
		printf("guest: bad boot info at 0x%llx from %s\n",
		       (unsigned long long)info_paddr,
		       loader == GUEST_LOADER_PVH ? "PVH" : "vmmd");
		vmm_exit(GUEST_EXIT_BAD_BOOT);
	}
	guest_main(&boot);
	vmm_exit(0);
}

const struct guest_boot *guest_boot(void)
{
	return &boot;
}

const char *guest_mode_name(uint32_t mode)
{
	switch (mode) {
	case VMM_BOOT_MODE_HW:
		return "hw";
	case VMM_BOOT_MODE_SHADOW:
		return "shadow";
	default:
		return "unknown";
	}
}

void halt_forever(void)
{
	for (;;) {
		cli();
		hlt();
	}
}

void vmm_exit(int code)
{
	outl(VMM_PORT_DEBUG_EXIT, (uint32_t)code);
	halt_forever();
}
