/* SPDX-License-Identifier: MIT */
/*
 * The Xen ELF notes of a PV kernel (xen/include/public/elfnote.h; XENPV.md
 * 1.3): how a domain builder knows where to enter the kernel (ENTRY, not
 * e_entry), where the kernel is linked (VIRT_BASE), what it requires of the
 * hypervisor (FEATURES with '!'), and whether the initrd may be given as a
 * frame number (MOD_START_PFN). The image comes from the user: every note
 * is bounds-checked, strings are copied bounded, and a kernel whose notes
 * ask for more than vmmd offers is refused with the reason.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XPV_NOTE_ENTRY          1
#define XPV_NOTE_HYPERCALL_PAGE 2
#define XPV_NOTE_VIRT_BASE      3
#define XPV_NOTE_PADDR_OFFSET   4
#define XPV_NOTE_XEN_VERSION    5
#define XPV_NOTE_GUEST_OS       6
#define XPV_NOTE_GUEST_VERSION  7
#define XPV_NOTE_LOADER         8
#define XPV_NOTE_PAE_MODE       9
#define XPV_NOTE_FEATURES      10
#define XPV_NOTE_HV_START_LOW  12
#define XPV_NOTE_MOD_START_PFN 16
#define XPV_NOTE_PHYS32_ENTRY  18

struct xpv_notes {
	unsigned count;               /* Xen notes seen */
	char guest_os[16], xen_version[16], loader[16], pae_mode[16];
	char features[256];
	bool has_entry, has_virt_base, has_hypercall_page;
	uint64_t entry, virt_base, paddr_offset, hypercall_page, hv_start_low;
	bool mod_start_pfn;
	bool has_phys32_entry;        /* PVH as well: hw mode can boot it too */
	uint32_t phys32_entry;        /* PVH's 32-bit physical entry (elf_pvh_entry) */
};

/* Collect the notes of an ELF64 image: 0 (count may be 0), -ENOEXEC when
 * it is not an x86-64 ELF64 executable. The one walk of a kernel's Xen
 * notes: the worker's PVH loader takes its entry from here too. */
int xpv_notes_parse(const uint8_t *image, size_t size, struct xpv_notes *ret);

/* What vmmd requires of a PV kernel: 0, or -ENOEXEC / -EINVAL with *why. */
int xpv_notes_check(const struct xpv_notes *n, const char **why);

/* For boot "auto": an ELF whose notes say it is a Xen PV kernel. */
bool xpv_notes_is_pv(const uint8_t *image, size_t size);
