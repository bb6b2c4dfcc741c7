/* SPDX-License-Identifier: MIT */
/*
 * bzImage boot (Documentation/x86/boot.rst, protocol 2.12 and later): check
 * the setup header, copy the protected-mode kernel to its preferred address,
 * fill a zero page (boot_params) with the header, the e820 map, the command
 * line and the initrd, and enter the 64-bit entry (load address + 0x200)
 * with an identity map, __BOOT_CS/__BOOT_DS flat segments and rsi = the
 * zero page. Every header field read from the file is bounds-checked; the
 * placements respect init_size, initrd_addr_max and cmdline_size.
 */
#include <errno.h>
#include <string.h>

#include "vmmd/worker/boot.h"
#include "vmmd/worker/linux_boot.h"

/* Offsets in the file and in boot_params (the setup header sits at 0x1f1 in both). */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define HDR_START            0x1f1
#define HDR_SETUP_SECTS      0x1f1
#define HDR_SYSSIZE          0x1f4
#define HDR_BOOT_FLAG        0x1fe
#define HDR_JUMP             0x200
#define HDR_HEADER           0x202
#define HDR_VERSION          0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS        0x211
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE      0x234
#define HDR_XLOADFLAGS       0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_HARDWARE_SUBARCH 0x23c
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE        0x260
#define HDR_KNOWN_END        0x270   /* end of the 2.15 header: nothing past it is copied */
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128
#define BP_SIZE              0x1000

#define LOADFLAG_LOADED_HIGH 0x01
#define XLF_KERNEL_64        0x01
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x02
#define LOADER_UNDEFINED     0xff
#define PROTOCOL_MIN         0x020c   /* 2.12: xloadflags, so the 64-bit entry is announced */
#define ENTRY_64_OFFSET      0x200

static uint8_t get8(const uint8_t *p, size_t off) { return p[off]; }
static uint16_t get16(const uint8_t *p, size_t off) { uint16_t v; memcpy(&v, p + off, 2); return v; }
static uint32_t get32(const uint8_t *p, size_t off) { uint32_t v; memcpy(&v, p + off, 4); return v; }
static uint64_t get64(const uint8_t *p, size_t off) { uint64_t v; memcpy(&v, p + off, 8); return v; }
static void put16(uint8_t *p, size_t off, uint16_t v) { memcpy(p + off, &v, 2); }
static void put32(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(uint8_t *p, size_t off, uint64_t v) { memcpy(p + off, &v, 8); }

#define FAIL(r, msg) return vm_error_set(err, WORKER_ERROR_KERNEL, (r), (msg))

struct bzimage {
	uint16_t version;
	uint64_t setup_size;     /* bytes before the protected-mode kernel */
	uint64_t header_end;     /* one past the setup header's last byte */
	uint64_t load_addr;
	uint64_t init_size;
};

static int check_header(const uint8_t *img, size_t size, uint64_t mem_size, struct bzimage *bz,
			struct vm_error *err)
{
	if (size < 0x400 || get16(img, HDR_BOOT_FLAG) != 0xaa55 || memcmp(img + HDR_HEADER, "HdrS", 4) != 0)
		FAIL(-ENOEXEC, "not a bzImage (no boot flag or HdrS header)");
	bz->version = get16(img, HDR_VERSION);
	if (bz->version < PROTOCOL_MIN)
		FAIL(-ENOEXEC, "bzImage boot protocol older than 2.12 (no 64-bit entry)");
	if (!(get16(img, HDR_XLOADFLAGS) & XLF_KERNEL_64))
		FAIL(-ENOEXEC, "bzImage without a 64-bit entry (XLF_KERNEL_64): a 32-bit kernel");
	if (!(get8(img, HDR_LOADFLAGS) & LOADFLAG_LOADED_HIGH))
		FAIL(-ENOEXEC, "zImage (loaded low) is not supported");
	unsigned sects = get8(img, HDR_SETUP_SECTS);
	bz->setup_size = (uint64_t) ((sects ? sects : 4) + 1) * 512;
	bz->header_end = HDR_HEADER + get8(img, HDR_JUMP + 1);
	if (bz->header_end > bz->setup_size || bz->header_end < HDR_INIT_SIZE + 4)
		FAIL(-EINVAL, "bzImage setup header length out of range");
	if (bz->setup_size >= size)
		FAIL(-EINVAL, "bzImage has no protected-mode kernel after its setup sectors");

	uint64_t align = get32(img, HDR_KERNEL_ALIGNMENT);
	bz->load_addr = get64(img, HDR_PREF_ADDRESS);
	bz->init_size = get32(img, HDR_INIT_SIZE);
	if (align == 0 || (align & (align - 1)) || align > (1u << 30))
		FAIL(-EINVAL, "bzImage kernel_alignment is not a power of two up to 1 GiB");
	if (bz->load_addr < LINUX_HIGH_MEMORY || (bz->load_addr & (align - 1)))
		FAIL(-EINVAL, "bzImage pref_address below 1 MiB or not aligned to kernel_alignment");
	uint64_t pm_size = size - bz->setup_size;
	if (pm_size < (uint64_t) get32(img, HDR_SYSSIZE) * 16)
		FAIL(-EINVAL, "bzImage is truncated (shorter than its syssize)");
	if (bz->init_size < pm_size)
		FAIL(-EINVAL, "bzImage init_size smaller than the kernel itself");
	if (bz->load_addr > mem_size || bz->init_size > mem_size - bz->load_addr)
		FAIL(-ERANGE, "the kernel does not fit in guest memory at its load address (raise memory_mib)");
	return 0;
}

int linux_bzimage_load(struct guest_memory *mem, const struct linux_boot_params *p,
		       struct linux_boot_layout *ret, struct vm_error *err)
{
	const uint8_t *img = p->kernel;
	struct bzimage bz;
	int r = check_header(img, p->kernel_size, mem->size, &bz, err);
	if (r < 0)
		return r;
	size_t cmdline_len = strlen(p->cmdline);
	uint32_t cmdline_size = get32(img, HDR_CMDLINE_SIZE);
	if (cmdline_len > cmdline_size)
		FAIL(-E2BIG, "the command line is longer than this kernel's cmdline_size");

	uint64_t pm_size = p->kernel_size - bz.setup_size;
	memcpy(guest_memory_ptr(mem, bz.load_addr, pm_size), img + bz.setup_size, pm_size);
	ret->kernel_start = bz.load_addr;
	ret->kernel_end = bz.load_addr + bz.init_size;

	uint64_t initrd_limit = (uint64_t) get32(img, HDR_INITRD_ADDR_MAX) + 1;
	if (get16(img, HDR_XLOADFLAGS) & XLF_CAN_BE_LOADED_ABOVE_4G)
		initrd_limit = UINT64_MAX;
	r = linux_initrd_place(mem, p->initrd_fd, ret->kernel_end, initrd_limit, &ret->initrd_start,
			       &ret->initrd_size, err);
	if (r < 0)
		return r;

	/* The zero page: the file's setup header, then what a boot loader fills in. */
	uint8_t *bp = guest_memory_ptr(mem, LINUX_BOOT_PARAMS, BP_SIZE);
	memset(bp, 0, BP_SIZE);
	uint64_t hdr_end = bz.header_end < HDR_KNOWN_END ? bz.header_end : HDR_KNOWN_END;
	memcpy(bp + HDR_START, img + HDR_START, hdr_end - HDR_START);
	bp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	put32(bp, HDR_HARDWARE_SUBARCH, 0);   /* a PC */
	put32(bp, HDR_CMD_LINE_PTR, (uint32_t) LINUX_CMDLINE);
	put32(bp, BP_EXT_CMD_LINE_PTR, 0);
	put32(bp, HDR_RAMDISK_IMAGE, (uint32_t) ret->initrd_start);
	put32(bp, HDR_RAMDISK_SIZE, (uint32_t) ret->initrd_size);
	put32(bp, BP_EXT_RAMDISK_IMAGE, (uint32_t) (ret->initrd_start >> 32));
	put32(bp, BP_EXT_RAMDISK_SIZE, (uint32_t) (ret->initrd_size >> 32));
	if (ret->e820_entries > BP_E820_MAX)
		FAIL(-E2BIG, "too many e820 entries");
	bp[BP_E820_ENTRIES] = (uint8_t) ret->e820_entries;
	for (size_t i = 0; i < ret->e820_entries; i++) {
		uint8_t *e = bp + BP_E820_TABLE + i * 20;
		put64(e, 0, ret->e820[i].addr);
		put64(e, 8, ret->e820[i].size);
		put32(e, 16, ret->e820[i].type);
	}
	put16(bp, 0x1fa, 0xffff);   /* vid_mode: "normal" (the 64-bit entry ignores video anyway) */

	boot_write_identity_map(guest_memory_ptr(mem, 0, LINUX_HIGH_MEMORY), LINUX_PML4, LINUX_PDPT, LINUX_PD);
	linux_write_gdt(mem, true);
	ret->entry = (struct vcpu_entry) {
		.mode = VCPU_ENTRY_LONG, .rip = bz.load_addr + ENTRY_64_OFFSET, .rsi = LINUX_BOOT_PARAMS,
		.rsp = LINUX_BOOT_STACK, .cs = 0x10, .ds = 0x18,
		.gdt_base = LINUX_GDT, .gdt_limit = 4 * 8 - 1, .cr3 = LINUX_PML4,
	};
	return 0;
}
