// SPDX-License-Identifier: MIT
/*
 * PVH boot (QEMU -kernel): turn Xen's struct hvm_start_info into a
 * struct guest_boot. Layout from Xen's public arch-x86/hvm/start_info.h.
 *
 * PVH has no vCPU count, so it is taken from the ACPI MADT (enabled local
 * APIC / x2APIC entries) when the loader passes an RSDP; 1 otherwise.
 * Every table is read bytewise through bounds-checked helpers: nothing
 * above 4 GiB is mapped, and a malformed table must not fault.
 */
#include "boot.h"
#include "string.h"

#define HVM_START_MAGIC   0x336ec578
#define HVM_MEMMAP_RAM    1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;       /* 0: up to rsdp_paddr; 1: adds the memmap */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr; /* offset 24 */
	uint64_t rsdp_paddr;    /* offset 32 */
	uint64_t memmap_paddr;  /* offset 40, version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(offsetof(struct hvm_start_info, cmdline_paddr) == 24, "hvm_start_info layout");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "hvm_memmap_entry layout");

#define FOUR_GIB (1ULL << 32)
#define ACPI_MAX_TABLE (1u << 20)   /* sanity limit for a table's length */

static bool in_map(uint64_t paddr, uint64_t len)
{
	return paddr && len <= FOUR_GIB && paddr <= FOUR_GIB - len;
}

static uint32_t rd32(uint64_t paddr)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)paddr;

	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(uint64_t paddr)
{
	return rd32(paddr) | (uint64_t)rd32(paddr + 4) << 32;
}

static uint8_t rd8(uint64_t paddr)
{
	return *(const uint8_t *)(uintptr_t)paddr;
}

/* A system description table with this signature, or 0. */
static uint64_t acpi_table(uint64_t paddr, const char *sig, uint32_t *ret_len)
{
	uint32_t len;

	if (!in_map(paddr, 36) || memcmp((const void *)(uintptr_t)paddr, sig, 4))
		return 0;
	len = rd32(paddr + 4);
	if (len < 36 || len > ACPI_MAX_TABLE || !in_map(paddr, len))
		return 0;
	*ret_len = len;
	return paddr;
}

static uint32_t madt_count_cpus(uint64_t madt, uint32_t len)
{
	uint32_t off = 44, cpus = 0;

	while (off + 2 <= len) {
		uint8_t type = rd8(madt + off), elen = rd8(madt + off + 1);

		if (elen < 2 || off + elen > len)
			break;
		if (type == 0 && elen >= 8 && (rd32(madt + off + 4) & 1))
			cpus++;         /* processor local APIC, enabled */
		else if (type == 9 && elen >= 16 && (rd32(madt + off + 8) & 1))
			cpus++;         /* processor local x2APIC, enabled */
		off += elen;
	}
	return cpus;
}

static uint32_t acpi_cpus(uint64_t rsdp)
{
	uint64_t sdt;
	uint32_t len = 0, esize, off;
	bool xsdt;

	if (!in_map(rsdp, 36) || memcmp((const void *)(uintptr_t)rsdp, "RSD PTR ", 8))
		return 0;
	xsdt = rd8(rsdp + 15) >= 2 && rd64(rsdp + 24);
	if (xsdt)
		sdt = acpi_table(rd64(rsdp + 24), "XSDT", &len);
	else
		sdt = acpi_table(rd32(rsdp + 16), "RSDT", &len);
	if (!sdt)
		return 0;
	esize = xsdt ? 8 : 4;
	for (off = 36; off + esize <= len; off += esize) {
		uint64_t t = xsdt ? rd64(sdt + off) : rd32(sdt + off);
		uint32_t tlen = 0;

		if (acpi_table(t, "APIC", &tlen))
			return madt_count_cpus(t, tlen);
	}
	return 0;
}

static uint64_t memmap_top(uint64_t paddr, uint32_t entries)
{
	uint64_t top = 0;
	uint32_t i;

	if (entries > 4096 || !in_map(paddr, (uint64_t)entries * sizeof(struct hvm_memmap_entry)))
		return 0;
	for (i = 0; i < entries; i++) {
		uint64_t e = paddr + (uint64_t)i * sizeof(struct hvm_memmap_entry);
		uint64_t addr = rd64(e), size = rd64(e + 8);

		if (rd32(e + 16) == HVM_MEMMAP_RAM && addr + size > top && addr + size > addr)
			top = addr + size;
	}
	return top;
}

bool pvh_parse(struct guest_boot *b, uint64_t paddr, char *cmdline_buf, size_t size)
{
	const struct hvm_start_info *si = (const struct hvm_start_info *)(uintptr_t)paddr;
	uint32_t cpus;
	size_t n = 0;

	if (!in_map(paddr, offsetof(struct hvm_start_info, memmap_paddr)) || si->magic != HVM_START_MAGIC)
		return false;

	if (si->cmdline_paddr && in_map(si->cmdline_paddr, size)) {
		const char *src = (const char *)(uintptr_t)si->cmdline_paddr;

		while (n + 1 < size && src[n])
			n++;
		memcpy(cmdline_buf, src, n);
	}
	cmdline_buf[n] = '\0';

	if (si->version >= 1 && in_map(paddr, sizeof(*si)))
		b->memory_bytes = memmap_top(si->memmap_paddr, si->memmap_entries);
	cpus = acpi_cpus(si->rsdp_paddr);
	b->vcpus = cpus ? cpus : 1;
	b->mode = VMM_BOOT_MODE_HW;
	return true;
}
