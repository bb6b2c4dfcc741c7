/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "vmmd/worker/elf_loader.h"
#include "vmmd/worker/image_file.h"
#include "vmmd/worker/linux_boot.h"
#include "vmmd/worker/mptable.h"

#define PAGE_SIZE 0x1000ULL
#define BZIMAGE_HDRS_OFFSET 0x202

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }

enum vm_boot linux_boot_detect(const uint8_t *image, size_t size)
{
	if (size >= BZIMAGE_HDRS_OFFSET + 4 && memcmp(image + BZIMAGE_HDRS_OFFSET, "HdrS", 4) == 0)
		return VM_BOOT_BZIMAGE;
	/* Our own guests carry a PVH note too (for QEMU), but their e_entry
	 * lies in a loaded segment; a vmlinux's is physical while its segments
	 * are linked at virtual addresses, so only PVH can enter it. */
	uint32_t pvh_entry;
	if (elf_pvh_entry(image, size, &pvh_entry) == 0 && !elf_entry_is_loaded(image, size))
		return VM_BOOT_PVH;
	return VM_BOOT_VMMD;
}

size_t linux_e820_build(uint64_t memory_size, struct e820_entry *out, size_t max)
{
	const struct e820_entry map[] = {
		{ 0, LINUX_EBDA, E820_RAM },
		{ LINUX_EBDA, LINUX_HIGH_MEMORY - LINUX_EBDA, E820_RESERVED },
		{ LINUX_HIGH_MEMORY, memory_size - LINUX_HIGH_MEMORY, E820_RAM },
	};
	size_t n = 0;
	for (size_t i = 0; i < ELEMENTSOF(map) && n < max; i++)
		out[n++] = map[i];
	return n;
}

void linux_write_gdt(struct guest_memory *mem, bool code64)
{
	uint8_t *gdt = guest_memory_ptr(mem, LINUX_GDT, 4 * 8);
	memset(gdt, 0, 4 * 8);
	put64(gdt + 0x10, code64 ? 0x00af9a000000ffffULL : 0x00cf9a000000ffffULL);
	put64(gdt + 0x18, 0x00cf92000000ffffULL);
}

int linux_initrd_place(struct guest_memory *mem, int fd, uint64_t floor, uint64_t limit,
		       uint64_t *ret_start, uint64_t *ret_size, struct vm_error *err)
{
	*ret_start = *ret_size = 0;
	if (fd < 0)
		return 0;
	uint64_t size;
	int r = image_file_size(fd, LINUX_INITRD_MAX, &size, &err->why);
	if (r < 0)
		return vm_error_set(err, WORKER_ERROR_INITRD, r, r == -EFBIG ? "initrd larger than 1 GiB" :
				    r == -EINVAL ? "initrd is not a regular file" : "cannot read the initrd");
	uint64_t top = mem->size < limit ? mem->size : limit;
	floor = (floor + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (size > top || ((top - size) & ~(PAGE_SIZE - 1)) < floor)
		return vm_error_set(err, WORKER_ERROR_INITRD, -ERANGE,
				    "the initrd does not fit between the kernel and the end of memory (raise memory_mib)");
	uint64_t start = (top - size) & ~(PAGE_SIZE - 1);
	void *dst = guest_memory_ptr(mem, start, size ? size : 1);
	if (!dst)
		return vm_error_set(err, WORKER_ERROR_INITRD, -ERANGE, "the initrd does not fit in guest memory");
	r = vm_error_kind(err, WORKER_ERROR_INITRD, image_file_read_into(fd, dst, size, &err->why));
	if (r < 0)
		return r;
	*ret_start = start;
	*ret_size = size;
	return 0;
}

char *linux_cmdline_compose(const char *user, const char *profile_extra, const char *const *devices,
			    size_t n_devices)
{
	size_t len = strlen(user) + strlen(profile_extra) + 2;
	for (size_t i = 0; i < n_devices; i++)
		len += strlen(devices[i]) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	char *p = s;
	p += sprintf(p, "%s", user);
	if (*profile_extra)
		p += sprintf(p, "%s%s", p == s ? "" : " ", profile_extra);
	for (size_t i = 0; i < n_devices; i++)
		p += sprintf(p, "%s%s", p == s ? "" : " ", devices[i]);
	return s;
}

int linux_boot_load(struct guest_memory *mem, const struct linux_boot_params *p,
		    struct linux_boot_layout *ret, struct vm_error *err)
{
	memset(ret, 0, sizeof(*ret));
	/* Below 1 MiB plus what the kernel needs: refuse tiny VMs with a reason. */
	if (mem->size < 32ULL << 20)
		return vm_error_set(err, WORKER_ERROR_KERNEL, -ERANGE, "Linux needs memory_mib >= 32");
	uint8_t *low = guest_memory_ptr(mem, 0, LINUX_HIGH_MEMORY);
	memset(low, 0, LINUX_HIGH_MEMORY);
	if (strlen(p->cmdline) >= LINUX_CMDLINE_MAX)
		return vm_error_set(err, WORKER_ERROR_KERNEL, -E2BIG,
				    "the kernel command line is longer than Linux takes (2047 bytes)");
	memcpy(low + LINUX_CMDLINE, p->cmdline, strlen(p->cmdline) + 1);
	ret->e820_entries = linux_e820_build(mem->size, ret->e820, LINUX_E820_MAX);

	int r;
	if (p->kind == VM_BOOT_PVH)
		r = linux_pvh_load(mem, p, ret, err);
	else if (p->kind == VM_BOOT_BZIMAGE)
		r = linux_bzimage_load(mem, p, ret, err);
	else
		r = vm_error_set(err, WORKER_ERROR_INTERNAL, -EINVAL, "not a Linux boot kind");
	if (r < 0)
		return r;
	r = mptable_write(mem, LINUX_EBDA, p->vcpus);
	if (r < 0)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, r, "cannot write the MP table");
	return 0;
}
