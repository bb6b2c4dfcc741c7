/* SPDX-License-Identifier: MIT */
/*
 * Booting a Xen PV kernel in shadow mode (docs/xenpv.md; XENPV.md 1-2):
 * the ELF (a vmlinux, or unpacked from a bzImage), its Xen notes, the
 * segments at their physical addresses, the initrd after the bootstrap
 * mapping by frame number, then the PV builder's start of day.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmmd/common/log.h"
#include "vmmd/worker/elf_loader.h"
#include "vmmd/worker/image_file.h"
#include "vmmd/worker/linux_boot.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/xenpv_guest.h"
#include "vmmd/xenpv/kernel_image.h"
#include "vmmd/xenpv/notes.h"

#define PV_ELF_MAX (256u << 20)
/* What vmmd adds to a PV kernel's command line (vm.info shows it), both
 * because it gives one vCPU: nr_cpus=1 (else Linux asks VCPUOP_is_up for
 * each of NR_CPUS=8192 possible CPUs, a trap each) and noreplace-smp (else
 * a uniprocessor kernel rewrites each of its lock prefixes with text_poke,
 * thousands of page-table switches: minutes here). */
#define PV_CMDLINE_EXTRA "nr_cpus=1 noreplace-smp"

static void drop_elf(struct xenpv_guest *g)
{
	if (g->elf_owned)
		free((void *) g->elf);
	g->elf = NULL;
	g->elf_size = 0;
	g->elf_owned = false;
}

int xenpv_boot_resolve(struct vm *vm, const uint8_t *image, size_t size, const char **why)
{
	enum vm_boot asked = vm->config->boot;
	bool is_bzimage = linux_boot_detect(image, size) == VM_BOOT_BZIMAGE;

	/* vmmd's own guests are ELF files without Xen PV notes. */
	if (asked == VM_BOOT_VMMD || (asked == VM_BOOT_AUTO && !is_bzimage && !xpv_notes_is_pv(image, size) &&
				      linux_boot_detect(image, size) == VM_BOOT_VMMD)) {
		vm->boot = VM_BOOT_VMMD;
		return 0;
	}
	const uint8_t *elf;
	size_t elf_size;
	bool owned;
	int r = xpv_kernel_elf(image, size, PV_ELF_MAX, &elf, &elf_size, &owned, why);
	/* Asked for nothing in particular, the user learns first what shadow mode needs. */
	if (r == -EOPNOTSUPP && asked == VM_BOOT_AUTO)
		*why = "shadow mode runs Linux only as a Xen PV kernel (CONFIG_XEN_PV=y), and vmmd cannot unpack this "
		       "bzImage's payload to look for one (it unpacks xz, gzip, zstd and lz4): give the kernel's ELF "
		       "vmlinux, or boot it with paging \"hw\"";
	if (r < 0)
		return r;
	struct xpv_notes notes;
	/* A PVH-only vmlinux has a Xen note too (PHYS32_ENTRY), but no ENTRY. */
	if (xpv_notes_parse(elf, elf_size, &notes) < 0 || !notes.has_entry) {
		if (owned)
			free((void *) elf);
		*why = "this kernel is not a Xen PV kernel (no Xen ENTRY note): shadow mode runs Linux only as a "
		       "Xen PV guest (CONFIG_XEN_PV=y, e.g. Debian's stock kernel); boot a Linux without it with "
		       "paging \"hw\"";
		return -ENOEXEC;
	}
	r = xpv_notes_check(&notes, why);
	if (r < 0) {
		if (owned)
			free((void *) elf);
		return r;
	}
	struct xenpv_guest *g = calloc(1, sizeof(*g));
	if (!g) {
		if (owned)
			free((void *) elf);
		return -ENOMEM;
	}
	g->rearm_fd = -1;
	g->elf = elf;
	g->elf_size = elf_size;
	g->elf_owned = owned;
	vm->xenpv = g;
	vm->boot = VM_BOOT_XENPV;
	return 0;
}

int xenpv_boot_load(struct vm *vm, struct vm_error *err)
{
	struct xenpv_guest *g = vm->xenpv;
	uint64_t guest_pages = vm->mem.size / 4096;
	struct xpv_notes notes;
	struct elf_info info;

	xpv_notes_parse(g->elf, g->elf_size, &notes);
	/* The last guest frame is shared_info's: the kernel's RAM ends before it. */
	struct guest_memory ram = { .host = vm->mem.host, .size = vm->mem.size - 4096 };
	int r = elf_load_segments(g->elf, g->elf_size, &ram, 0, &info, &err->why);
	drop_elf(g);
	if (r < 0)
		return vm_error_kind(err, WORKER_ERROR_KERNEL, r);
	if (notes.entry < notes.virt_base || notes.entry - notes.virt_base < info.lowest ||
	    notes.entry - notes.virt_base >= info.highest)
		return vm_error_set(err, WORKER_ERROR_KERNEL, -EINVAL,
				    "the kernel's Xen ENTRY note lies outside its loaded segments");
	uint64_t initrd_size = 0;
	if (vm->files[VM_FILE_INITRD] >= 0) {
		r = image_file_size(vm->files[VM_FILE_INITRD], LINUX_INITRD_MAX, &initrd_size, &err->why);
		if (r < 0)
			return vm_error_set(err, WORKER_ERROR_INITRD, r,
					    r == -EFBIG ? "initrd larger than 1 GiB" : "cannot read the initrd");
	}
	struct xpv_image img = {
		.virt_base = notes.virt_base, .kernel_end = info.highest, .entry = notes.entry,
		.hypercall_page = notes.has_hypercall_page ? notes.hypercall_page : 0,
	};
	/* What does not fit (-ENOSPC) is memory_mib's to change. */
	r = xpv_layout_plan(guest_pages - 1, &img, initrd_size, &g->layout, &err->why);
	if (r < 0)
		return vm_error_kind(err, r == -ENOSPC ? WORKER_ERROR_MEMORY : WORKER_ERROR_KERNEL, r);
	if (initrd_size) {
		r = image_file_read_into(vm->files[VM_FILE_INITRD], vm->mem.host + g->layout.initrd_pfn * 4096, initrd_size,
					 &err->why);
		if (r < 0)
			return vm_error_kind(err, WORKER_ERROR_INITRD, r);
	}
	char *cmdline = linux_cmdline_compose(vm->config->cmdline, PV_CMDLINE_EXTRA, NULL, 0);
	if (!cmdline)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, -ENOMEM, "out of memory");
	r = xpv_build(vm->mem.host, &g->layout, &img, cmdline, &g->entry, &err->why);
	free(vm->boot_cmdline);
	vm->boot_cmdline = cmdline;
	if (r < 0)
		return vm_error_kind(err, WORKER_ERROR_KERNEL, r);

	struct xpv_domain_config dc = { .nr_pages = guest_pages - 1 };
	xenpv_guest_sink(vm, &dc.sink);
	r = xpv_domain_init(&g->dom, vm->shadow, &dc);
	if (r < 0)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, r, "cannot set up the Xen PV domain");
	xpv_build_adopt(&g->dom, &g->layout);
	vm->linux_layout = (struct linux_boot_layout) {
		.kernel_start = info.lowest, .kernel_end = info.highest,
		.initrd_start = initrd_size ? g->layout.initrd_pfn * 4096 : 0, .initrd_size = initrd_size,
	};
	log_info("Xen PV kernel: segments 0x%llx-0x%llx, entry %#llx, start_info at pfn %#llx, %llu bootstrap "
		 "tables, initrd %llu bytes at pfn %#llx", (unsigned long long) info.lowest,
		 (unsigned long long) info.highest, (unsigned long long) notes.entry,
		 (unsigned long long) g->layout.start_info_pfn, (unsigned long long) g->layout.nr_pt_frames,
		 (unsigned long long) initrd_size, (unsigned long long) g->layout.initrd_pfn);
	return 0;
}
