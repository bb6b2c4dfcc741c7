/* SPDX-License-Identifier: MIT */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmmd/xenpv/notes.h"

#define FAIL(r, msg) do { *why = (msg); return (r); } while (0)

/* Xen features vmmd gives a PV guest (a required one outside this set refuses the kernel). */
static const char *const offered[] = {
	"writable_page_tables", "pae_pgdir_above_4gb", "mmu_pt_update_preserve_ad", "highmem_assist",
	"gnttab_map_avail_bits",
};

static uint64_t number(const uint8_t *p, uint32_t len)
{
	uint64_t v = 0;
	if (len == 4) {
		uint32_t v32;
		memcpy(&v32, p, 4);
		v = v32;
	} else if (len == 8) {
		memcpy(&v, p, 8);
	}
	return v;
}

static void string(char *dst, size_t cap, const uint8_t *p, uint32_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;
	memcpy(dst, p, n);
	dst[n] = 0;
}

static void take(struct xpv_notes *n, uint32_t type, const uint8_t *d, uint32_t len)
{
	n->count++;
	switch (type) {
	case XPV_NOTE_ENTRY: n->entry = number(d, len); n->has_entry = true; break;
	case XPV_NOTE_HYPERCALL_PAGE: n->hypercall_page = number(d, len); n->has_hypercall_page = true; break;
	case XPV_NOTE_VIRT_BASE: n->virt_base = number(d, len); n->has_virt_base = true; break;
	case XPV_NOTE_PADDR_OFFSET: n->paddr_offset = number(d, len); break;
	case XPV_NOTE_XEN_VERSION: string(n->xen_version, sizeof(n->xen_version), d, len); break;
	case XPV_NOTE_GUEST_OS: string(n->guest_os, sizeof(n->guest_os), d, len); break;
	case XPV_NOTE_LOADER: string(n->loader, sizeof(n->loader), d, len); break;
	case XPV_NOTE_PAE_MODE: string(n->pae_mode, sizeof(n->pae_mode), d, len); break;
	case XPV_NOTE_FEATURES: string(n->features, sizeof(n->features), d, len); break;
	case XPV_NOTE_HV_START_LOW: n->hv_start_low = number(d, len); break;
	case XPV_NOTE_MOD_START_PFN: n->mod_start_pfn = number(d, len) != 0; break;
	case XPV_NOTE_PHYS32_ENTRY:
		if (len >= 4) {   /* a 32-bit physical address */
			memcpy(&n->phys32_entry, d, 4);
			n->has_phys32_entry = true;
		}
		break;
	default: break;
	}
}

int xpv_notes_parse(const uint8_t *image, size_t size, struct xpv_notes *ret)
{
	Elf64_Ehdr eh;

	memset(ret, 0, sizeof(*ret));
	if (size < sizeof(eh))
		return -ENOEXEC;
	memcpy(&eh, image, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 64 || eh.e_phoff > size ||
	    (uint64_t) eh.e_phnum * sizeof(Elf64_Phdr) > size - eh.e_phoff)
		return -ENOEXEC;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, image + eh.e_phoff + (uint64_t) i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE || ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			continue;
		uint64_t off = ph.p_offset, end = ph.p_offset + ph.p_filesz;
		while (end - off >= sizeof(Elf64_Nhdr)) {
			Elf64_Nhdr nh;
			memcpy(&nh, image + off, sizeof(nh));
			uint64_t name = off + sizeof(nh);
			uint64_t desc = name + (((uint64_t) nh.n_namesz + 3) & ~3ULL);
			uint64_t next = desc + (((uint64_t) nh.n_descsz + 3) & ~3ULL);
			if (desc > end || next > end)
				break;
			if (nh.n_namesz == 4 && memcmp(image + name, "Xen", 4) == 0)
				take(ret, nh.n_type, image + desc, nh.n_descsz);
			off = next;
		}
	}
	return 0;
}

bool xpv_notes_is_pv(const uint8_t *image, size_t size)
{
	struct xpv_notes n;
	return xpv_notes_parse(image, size, &n) == 0 && n.has_entry && n.has_virt_base &&
	       strcmp(n.xen_version, "xen-3.0") == 0;
}

static bool is_offered(const char *feature, size_t len)
{
	for (size_t i = 0; i < sizeof(offered) / sizeof(offered[0]); i++)
		if (strlen(offered[i]) == len && strncmp(offered[i], feature, len) == 0)
			return true;
	return false;
}

/* FEATURES is "a|!b|c": '!' marks what the kernel cannot run without. */
static int check_features(const char *features, const char **why)
{
	static char msg[160];

	for (const char *p = features; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t) (bar - p) : strlen(p);
		if (len > 1 && p[0] == '!' && !is_offered(p + 1, len - 1)) {
			snprintf(msg, sizeof(msg), "the kernel requires the Xen feature %.*s, which vmmd does not offer",
				 (int) (len - 1), p + 1);
			*why = msg;
			return -EINVAL;
		}
		p += len + (bar ? 1 : 0);
	}
	return 0;
}

int xpv_notes_check(const struct xpv_notes *n, const char **why)
{
	if (n->count == 0)
		FAIL(-ENOEXEC, "not a Xen PV kernel: it has no Xen ELF notes (build Linux with CONFIG_XEN_PV=y)");
	if (strcmp(n->xen_version, "xen-3.0") != 0)
		FAIL(-EINVAL, "the kernel's Xen notes ask for a Xen ABI other than xen-3.0");
	if (!n->has_entry)
		FAIL(-EINVAL, "the kernel's Xen notes have no ENTRY (startup_xen)");
	if (!n->has_virt_base)
		FAIL(-EINVAL, "the kernel's Xen notes have no VIRT_BASE");
	if (n->paddr_offset != 0)
		FAIL(-EINVAL, "the kernel's Xen notes give a PADDR_OFFSET (pre-3.0 layout), which vmmd does not load");
	if (n->loader[0] && strcmp(n->loader, "generic") != 0)
		FAIL(-EINVAL, "the kernel's Xen notes ask for a loader other than \"generic\"");
	if (n->pae_mode[0] && strcmp(n->pae_mode, "yes") != 0 && strcmp(n->pae_mode, "bimodal") != 0)
		FAIL(-EINVAL, "the kernel's Xen notes ask for a non-PAE (32-bit) layout");
	return check_features(n->features, why);
}
