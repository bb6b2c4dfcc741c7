/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "vmmd/xenpv/builder.h"
#include "vmmd/xenpv/xenpv_priv.h"
#include "x86/cpu.h"
#include "x86/guest_walk.h"

#define FAIL(r, msg) do { *why = (msg); return (r); } while (0)

#define PAGE            4096ULL
#define PADDING         (512ULL << 10)
#define ROUND           (4ULL << 20)
#define L2_SPAN         (2ULL << 20)       /* one L1 maps 2 MiB */
#define MAPPING_MAX     (1ULL << 30)       /* one L2 */
/* libxenguest's flags: upper levels P|RW|A|D|U, leaves P|RW|A. vmmd also
 * sets D on the leaves (hardware would set it for free; here each first
 * write to a page would otherwise be a trap). */
#define UPPER_PROT      (X86_PTE_P | X86_PTE_W | X86_PTE_A | X86_PTE_D | X86_PTE_U)
#define LEAF_PROT       (X86_PTE_P | X86_PTE_W | X86_PTE_A | X86_PTE_D)

static uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

int xpv_layout_plan(uint64_t nr_pages, const struct xpv_image *img, uint64_t initrd_size,
		    struct xpv_layout *ret, const char **why)
{
	struct xpv_layout l = { .nr_pages = nr_pages };

	if (img->kernel_end == 0 || img->kernel_end > MAPPING_MAX)
		FAIL(-ERANGE, "the kernel image ends above 1 GiB, past what one bootstrap L2 maps");
	uint64_t pfn = round_up(img->kernel_end, PAGE) / PAGE;
	l.p2m_pfn = pfn;
	l.p2m_pages = round_up(nr_pages * 8, PAGE) / PAGE;
	pfn += l.p2m_pages;
	l.start_info_pfn = pfn++;
	l.store_pfn = pfn++;
	l.console_pfn = pfn++;
	l.pt_pfn = pfn;
	/* The tables map themselves: find the fixed point of their count. */
	uint64_t n = 4;
	for (int i = 0; i < 8; i++) {
		uint64_t end = round_up((l.pt_pfn + n + 1) * PAGE + PADDING, ROUND);
		uint64_t want = 3 + end / L2_SPAN;
		if (want == n)
			break;
		n = want;
	}
	l.nr_pt_frames = n;
	l.stack_pfn = l.pt_pfn + n;
	uint64_t end = round_up((l.stack_pfn + 1) * PAGE + PADDING, ROUND);
	if (end > MAPPING_MAX)
		FAIL(-ERANGE, "the kernel and its start-of-day pages need more than 1 GiB of bootstrap mapping");
	l.mapped_pages = end / PAGE;
	if (3 + end / L2_SPAN != n)
		FAIL(-ERANGE, "internal: the bootstrap table count did not settle");
	l.initrd_pfn = l.mapped_pages;
	l.initrd_size = initrd_size;
	if (l.mapped_pages > nr_pages || round_up(initrd_size, PAGE) / PAGE > nr_pages - l.mapped_pages)
		FAIL(-ENOSPC, "the kernel, its start-of-day pages and the initrd do not fit (raise memory_mib)");
	*ret = l;
	return 0;
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void write_tables(uint8_t *guest, const struct xpv_layout *l)
{
	uint8_t *l4 = guest + l->pt_pfn * PAGE, *l3 = l4 + PAGE, *l2 = l3 + PAGE, *l1 = l2 + PAGE;
	uint64_t n_l1 = l->nr_pt_frames - 3;

	memset(l4, 0, l->nr_pt_frames * PAGE);
	put64(l4 + 511 * 8, (l->pt_pfn + 1) * PAGE | UPPER_PROT);   /* 0xffffffff80000000: L4 511 ... */
	put64(l3 + 510 * 8, (l->pt_pfn + 2) * PAGE | UPPER_PROT);   /* ... L3 510 */
	for (uint64_t i = 0; i < n_l1; i++)
		put64(l2 + i * 8, (l->pt_pfn + 3 + i) * PAGE | UPPER_PROT);
	for (uint64_t pfn = 0; pfn < l->mapped_pages; pfn++) {
		bool table = pfn >= l->pt_pfn && pfn < l->pt_pfn + l->nr_pt_frames;
		put64(l1 + pfn * 8, pfn * PAGE | (table ? LEAF_PROT & ~X86_PTE_W : LEAF_PROT));
	}
}

/* Xen's ring-3 stubs (pv_ring3_init_hypercall_page), for kernels that
 * still call through a hypercall page: slot i is
 * push %rcx; push %r11; mov $i,%eax; syscall; pop %r11; pop %rcx; ret,
 * and the iret slot (23) jumps in without the pops. */
static void write_hypercall_page(uint8_t *page)
{
	memset(page, 0xcc, PAGE);
	for (unsigned i = 0; i < PAGE / 32; i++) {
		uint8_t *s = page + i * 32;
		if (i == 23) {
			static const uint8_t iret[] = { 0x51, 0x41, 0x53, 0x50, 0xb8, 23, 0, 0, 0, 0x0f, 0x05 };
			memcpy(s, iret, sizeof(iret));
			continue;
		}
		uint8_t stub[] = { 0x51, 0x41, 0x53, 0xb8, (uint8_t) i, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3 };
		memcpy(s, stub, sizeof(stub));
	}
}

int xpv_build(uint8_t *guest, const struct xpv_layout *l, const struct xpv_image *img, const char *cmdline,
	      struct xpv_entry *ret, const char **why)
{
	size_t cmdline_len = strlen(cmdline);

	if (cmdline_len >= XEN_MAX_GUEST_CMDLINE)
		FAIL(-E2BIG, "the kernel command line is longer than a PV kernel takes (1023 bytes)");
	if (img->hypercall_page) {
		uint64_t hp = img->hypercall_page - img->virt_base;
		if (img->hypercall_page < img->virt_base || hp % PAGE || hp >= img->kernel_end)
			FAIL(-ERANGE, "the kernel's HYPERCALL_PAGE note points outside the kernel");
		write_hypercall_page(guest + hp);
	}
	memset(guest + l->p2m_pfn * PAGE, 0, (l->stack_pfn + 1 - l->p2m_pfn) * PAGE);
	uint64_t *p2m = (uint64_t *) (guest + l->p2m_pfn * PAGE);
	for (uint64_t pfn = 0; pfn < l->nr_pages; pfn++)
		p2m[pfn] = pfn;

	struct xen_start_info si = {
		.nr_pages = l->nr_pages,
		.shared_info = l->nr_pages * PAGE,
		.flags = l->initrd_size ? XEN_SIF_MOD_START_PFN : 0,
		.store_mfn = l->store_pfn,
		.store_evtchn = 0,
		.console.domU = { .mfn = l->console_pfn, .evtchn = XPV_CONSOLE_PORT },
		.pt_base = img->virt_base + l->pt_pfn * PAGE,
		.nr_pt_frames = l->nr_pt_frames,
		.mfn_list = img->virt_base + l->p2m_pfn * PAGE,
		.mod_start = l->initrd_size ? l->initrd_pfn : 0,
		.mod_len = l->initrd_size,
	};
	memcpy(si.magic, XEN_START_INFO_MAGIC, sizeof(XEN_START_INFO_MAGIC));
	memcpy(si.cmd_line, cmdline, cmdline_len + 1);
	memcpy(guest + l->start_info_pfn * PAGE, &si, sizeof(si));

	write_tables(guest, l);
	*ret = (struct xpv_entry) {
		.rip = img->entry,
		.rsp = img->virt_base + (l->stack_pfn + 1) * PAGE,
		.rsi = img->virt_base + l->start_info_pfn * PAGE,
		.cr3 = l->pt_pfn * PAGE,
	};
	return 0;
}

void xpv_build_adopt(struct xpv_domain *d, const struct xpv_layout *l)
{
	d->console_gpa = l->console_pfn * PAGE;
	xpv_pt_mark(d, l->pt_pfn, 4);
}
