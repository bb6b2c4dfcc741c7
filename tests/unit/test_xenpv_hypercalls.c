/* SPDX-License-Identifier: MIT */
/*
 * The Xen PV layer on the real shadow engine, without KVM: a PV domain of
 * 32 MiB built by vmmd/xenpv's own builder into calloc'd machine memory
 * (guest frames, the monitor in slot 509 with the M2P window, a shadow
 * pool), one vCPU at its start of day. Hypercalls are made the way a
 * kernel makes them on a PVM host: the trap is the #PF at the LSTAR stub,
 * RCX the return address. Arguments live in the bootstrap mapping (virtual
 * = VIRT_BASE + physical). Every hypercall is also given hostile
 * arguments: unmapped pointers, huge counts, frames outside RAM.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/bus.h"
#include "vmmd/xenpv/builder.h"
#include "vmmd/xenpv/xenpv_priv.h"
#include "x86/cpu.h"
#include "x86/guest_walk.h"

#define VIRT_BASE   0xffffffff80000000ULL
#define GUEST_PAGES 8192ULL
#define NR_PAGES    (GUEST_PAGES - 1)
#define POOL_PAGES  128
#define KERNEL_PA   0x100000ULL
#define RET_RIP     (VIRT_BASE + KERNEL_PA + 0x123)
#define UNMAPPED    0x0000700000000000ULL     /* no L4 entry there */

struct fixture {
	struct machine_memory mm;
	struct shadow_vm svm;
	struct bus *bus;
	struct xpv_domain d;
	struct xpv_vcpu v;
	struct shadow_vcpu sv;
	struct xpv_layout l;
	struct xpv_entry e;
	uint8_t *guest;
	uint64_t scratch;          /* a free page inside the bootstrap mapping */
	/* what the sink saw */
	char console[4096];
	size_t console_len;
	int shutdown;
	unsigned timer_changes, unknown;
};

static struct fixture *fx;

static void sink_console(void *ctx, const uint8_t *buf, size_t len)
{
	size_t room = sizeof(fx->console) - 1 - fx->console_len;
	memcpy(fx->console + fx->console_len, buf, len < room ? len : room);
	fx->console_len += len < room ? len : room;
}
static void sink_shutdown(void *ctx, unsigned reason) { fx->shutdown = (int) reason; }
static void sink_timer(void *ctx) { fx->timer_changes++; }
static void sink_unknown(void *ctx, const char *what) { fx->unknown++; }

static int setup(void **state)
{
	fx = calloc(1, sizeof(*fx));
	uint64_t guest_bytes = GUEST_PAGES * 4096;
	unsigned window = xpv_window_pages(GUEST_PAGES);
	fx->mm.size = shadow_machine_bytes(guest_bytes, window, POOL_PAGES);
	fx->mm.host = calloc(1, fx->mm.size);
	fx->guest = fx->mm.host;
	fx->bus = bus_new();
	struct shadow_vm_config cfg = {
		.guest_bytes = guest_bytes, .pool_pages = POOL_PAGES, .strategy = SMMU_CACHED, .bus = fx->bus,
		.monitor_slot = MON_SLOT_XENPV, .window_pages = window,
	};
	assert_int_equal(shadow_vm_init(&fx->svm, fx->mm, &cfg), 0);
	struct xpv_image img = { .virt_base = VIRT_BASE, .kernel_end = KERNEL_PA + 0x10000, .entry = RET_RIP };
	const char *why;
	assert_int_equal(xpv_layout_plan(NR_PAGES, &img, 0, &fx->l, &why), 0);
	assert_int_equal(xpv_build(fx->guest, &fx->l, &img, "console=hvc0", &fx->e, &why), 0);
	struct xpv_domain_config dc = {
		.nr_pages = NR_PAGES, .tsc_hz = 2000000000ULL,
		.sink = { .console = sink_console, .shutdown = sink_shutdown, .timer_changed = sink_timer,
			  .unknown = sink_unknown },
	};
	assert_int_equal(xpv_domain_init(&fx->d, &fx->svm, &dc), 0);
	xpv_build_adopt(&fx->d, &fx->l);
	xpv_vcpu_init(&fx->v, &fx->d, &fx->sv, 0, &fx->e);
	fx->scratch = VIRT_BASE + (fx->l.stack_pfn + 4) * 4096;   /* in the 512 KiB padding: mapped, writable */
	fx->shutdown = -1;
	return 0;
}

static int teardown(void **state)
{
	xpv_domain_destroy(&fx->d);
	shadow_vm_destroy(&fx->svm);
	bus_free(fx->bus);
	free(fx->mm.host);
	free(fx);
	return 0;
}

/* --- helpers ---------------------------------------------------------------------------------- */

static uint8_t *va_ptr(uint64_t va) { return fx->guest + (va - VIRT_BASE); }
static void put(uint64_t va, const void *p, size_t n) { memcpy(va_ptr(va), p, n); }
static void get(uint64_t va, void *p, size_t n) { memcpy(p, va_ptr(va), n); }

static enum shadow_action trap_syscall(void)
{
	struct kvm_regs *r = &fx->sv.cpu.regs;
	uint64_t lstar = monitor_syscall_va(&fx->svm.mon);
	r->rcx = RET_RIP;
	r->r11 = 0x246;
	r->rip = lstar;
	return shadow_handle_trap(&fx->sv, X86_PF, 0x15, lstar);
}

static long hypercall(unsigned nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct kvm_regs *r = &fx->sv.cpu.regs;
	r->rax = nr;
	r->rdi = a0;
	r->rsi = a1;
	r->rdx = a2;
	r->r10 = a3;
	r->rsp = fx->e.rsp - 64;
	enum shadow_action a = trap_syscall();
	assert_true(a == SHADOW_RESUME || a == SHADOW_HALT);
	if (nr != XEN_HC_iret)
		assert_int_equal(r->rip, RET_RIP);
	return (long) r->rax;
}

static uint64_t gpa_of(uint64_t va) { return va - VIRT_BASE; }

/* --- tests -------------------------------------------------------------------------------------- */

static void test_version_and_features(void **state)
{
	struct xen_feature_info fi = { .submap_idx = 0 };
	char extra[16];

	assert_int_equal(hypercall(XEN_HC_xen_version, XEN_XENVER_version, 0, 0, 0), XPV_VERSION);
	put(fx->scratch, &fi, sizeof(fi));
	assert_int_equal(hypercall(XEN_HC_xen_version, XEN_XENVER_get_features, fx->scratch, 0, 0), 0);
	get(fx->scratch, &fi, sizeof(fi));
	/* Linux panics without mmu_pt_update_preserve_ad and gnttab_map_avail_bits. */
	assert_true(fi.submap & (1u << XEN_FEAT_mmu_pt_update_preserve_ad));
	assert_true(fi.submap & (1u << XEN_FEAT_gnttab_map_avail_bits));
	assert_false(fi.submap & (1u << XEN_FEAT_writable_page_tables));
	assert_int_equal(hypercall(XEN_HC_xen_version, XEN_XENVER_extraversion, fx->scratch, 0, 0), 0);
	get(fx->scratch, extra, sizeof(extra));
	assert_string_equal(extra, ".0-vmmd");
	assert_int_equal(hypercall(XEN_HC_xen_version, XEN_XENVER_get_features, UNMAPPED, 0, 0), -EFAULT);
	assert_int_equal(hypercall(XEN_HC_xen_version, 99, 0, 0, 0), -EPERM);
	/* Unknown numbers: -ENOSYS, remembered once, counted each time. */
	assert_int_equal(hypercall(XEN_HC_platform_op, 0, 0, 0, 0), -ENOSYS);
	assert_int_equal(hypercall(XEN_HC_platform_op, 0, 0, 0, 0), -ENOSYS);
	assert_int_equal(hypercall(12345, 0, 0, 0, 0), -ENOSYS);
	struct xpv_stats st;
	xpv_get_stats(&fx->d, &st);
	assert_int_equal(st.hypercalls[XEN_HC_xen_version], 5);
	assert_int_equal(st.hypercalls[XEN_HC_platform_op], 2);
	assert_int_equal(st.hypercalls[XEN_HC_MAX], 1);
	assert_int_equal(st.n_unknown, 3);   /* xen_version/99, platform_op, >= XEN_HC_MAX */
	assert_int_equal(fx->unknown, 3);
	assert_int_equal(st.unknown[1].count, 2);
	assert_int_equal(st.subops[XEN_HC_xen_version][XEN_XENVER_get_features], 2);
}

static void test_memory_op(void **state)
{
	struct xen_machphys_mapping m;
	struct xen_memory_map map = { .nr_entries = 4, .buffer = fx->scratch + 256 };
	struct xen_e820_entry e;

	assert_int_equal(hypercall(XEN_HC_memory_op, XEN_XENMEM_machphys_mapping, fx->scratch, 0, 0), 0);
	get(fx->scratch, &m, sizeof(m));
	assert_int_equal(m.v_start, 0xfffffe8040000000ULL);   /* slot 509, out of the host's hole */
	assert_int_equal(m.max_mfn, NR_PAGES);
	assert_int_equal(m.v_end, m.v_start + 8 * (NR_PAGES + 1));
	/* The M2P is the identity, the shared_info frame invalid. */
	const uint64_t *m2p = monitor_window_ptr(&fx->svm.mon, &fx->svm.mm);
	assert_int_equal(m2p[1234], 1234);
	assert_int_equal(m2p[NR_PAGES], ~0ULL);

	put(fx->scratch, &map, sizeof(map));
	assert_int_equal(hypercall(XEN_HC_memory_op, XEN_XENMEM_memory_map, fx->scratch, 0, 0), 0);
	get(fx->scratch, &map, sizeof(map));
	get(fx->scratch + 256, &e, sizeof(e));
	assert_int_equal(map.nr_entries, 1);
	assert_int_equal(e.addr, 0);
	assert_int_equal(e.size, NR_PAGES * 4096);
	assert_int_equal(e.type, 1);
	map = (struct xen_memory_map) { .nr_entries = 0, .buffer = fx->scratch + 256 };
	put(fx->scratch, &map, sizeof(map));
	assert_int_equal(hypercall(XEN_HC_memory_op, XEN_XENMEM_memory_map, fx->scratch, 0, 0), -EINVAL);
	map = (struct xen_memory_map) { .nr_entries = 1, .buffer = UNMAPPED };
	put(fx->scratch, &map, sizeof(map));
	assert_int_equal(hypercall(XEN_HC_memory_op, XEN_XENMEM_memory_map, fx->scratch, 0, 0), -EFAULT);
	assert_int_equal(hypercall(XEN_HC_memory_op, XEN_XENMEM_current_reservation, 0, 0, 0), NR_PAGES);
	assert_int_equal(hypercall(XEN_HC_memory_op, XEN_XENMEM_populate_physmap, 0, 0, 0), -ENOSYS);
}

static void test_mmu_update(void **state)
{
	/* The L1 entry for a padding page of the bootstrap mapping. */
	uint64_t target = fx->scratch + 3 * 4096;
	uint64_t l1 = (fx->l.pt_pfn + 3) * 4096 + gpa_of(target) / 4096 * 8;
	struct xen_mmu_update u[2] = {
		{ .ptr = l1 | XEN_MMU_NORMAL_PT_UPDATE, .val = 0x5000 | X86_PTE_P },
		{ .ptr = 0x1000 | XEN_MMU_MACHPHYS_UPDATE, .val = 7 },
	};
	uint32_t done = 0;

	put(fx->scratch, u, sizeof(u));
	assert_int_equal(hypercall(XEN_HC_mmu_update, fx->scratch, 2, fx->scratch + 512, XEN_DOMID_SELF), 0);
	get(fx->scratch + 512, &done, sizeof(done));
	assert_int_equal(done, 2);
	uint64_t pte;
	memcpy(&pte, fx->guest + l1, 8);
	assert_int_equal(pte, 0x5000 | X86_PTE_P);

	/* PRESERVE_AD keeps what the hardware (vmmd) set. */
	pte |= X86_PTE_A | X86_PTE_D;
	memcpy(fx->guest + l1, &pte, 8);
	u[0] = (struct xen_mmu_update) { .ptr = l1 | XEN_MMU_PT_UPDATE_PRESERVE_AD, .val = 0x6000 | X86_PTE_P };
	put(fx->scratch, u, sizeof(u[0]));
	assert_int_equal(hypercall(XEN_HC_mmu_update, fx->scratch, 1, 0, XEN_DOMID_SELF), 0);
	memcpy(&pte, fx->guest + l1, 8);
	assert_int_equal(pte, 0x6000 | X86_PTE_P | X86_PTE_A | X86_PTE_D);

	/* Hostile: a table outside RAM, a mapping beyond it, a bad list, a huge count, a foreign domain. */
	u[0] = (struct xen_mmu_update) { .ptr = (GUEST_PAGES + 5) * 4096, .val = 0 };
	u[1] = (struct xen_mmu_update) { .ptr = l1, .val = (GUEST_PAGES + 5) * 4096 | X86_PTE_P };
	put(fx->scratch, u, sizeof(u));
	assert_int_equal(hypercall(XEN_HC_mmu_update, fx->scratch, 1, fx->scratch + 512, XEN_DOMID_SELF), -EINVAL);
	get(fx->scratch + 512, &done, sizeof(done));
	assert_int_equal(done, 0);
	assert_int_equal(hypercall(XEN_HC_mmu_update, fx->scratch + 16, 1, 0, XEN_DOMID_SELF), -EINVAL);
	assert_int_equal(hypercall(XEN_HC_mmu_update, UNMAPPED, 1, 0, XEN_DOMID_SELF), -EFAULT);
	assert_int_equal(hypercall(XEN_HC_mmu_update, fx->scratch, 1u << 30, 0, XEN_DOMID_SELF), -EINVAL);
	assert_int_equal(hypercall(XEN_HC_mmu_update, fx->scratch, 1, 0, 3), -ESRCH);
	u[0] = (struct xen_mmu_update) { .ptr = l1 | XEN_MMU_PT_UPDATE_NO_TRANSLATE, .val = 0 };
	put(fx->scratch, u, sizeof(u[0]));
	assert_int_equal(hypercall(XEN_HC_mmu_update, fx->scratch, 1, 0, XEN_DOMID_SELF), -EINVAL);
}

/* The shadow leaf for va in the kernel root, false when there is none. */
static int take_mapping(void *ctx, const struct smmu_mapping *m)
{
	*(struct smmu_mapping *) ctx = *m;
	return -EEXIST;   /* found: stop */
}

static bool kernel_shadow(uint64_t va, struct smmu_mapping *ret)
{
	struct smmu_mapping m;
	int r = smmu_foreach_mapping(fx->svm.smmu, fx->v.kernel_cr3, false, va, va, take_mapping, &m);

	assert_true(r == 0 || r == -EEXIST);
	if (r == -EEXIST && ret)
		*ret = m;
	return r == -EEXIST;
}

/* An update of a table vmmd shadows lands in the shadow (no fill fault
 * follows), validated as a fill would be: a hostile entry gets no mapping,
 * or no writable one. */
static void test_mmu_update_into_shadow(void **state)
{
	uint64_t near = fx->scratch + 9 * 4096, target = fx->scratch + 10 * 4096, data = fx->scratch + 11 * 4096;
	uint64_t l1 = (fx->l.pt_pfn + 3) * 4096 + gpa_of(target) / 4096 * 8, l1_frame = (fx->l.pt_pfn + 3) * 4096;
	struct smmu_mapping m;
	struct smmu_stats st;
	struct xen_mmu_update u;

	/* The kernel touches a neighbour: the bootstrap L1 is shadowed. */
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_PF, 0x4, near), SHADOW_RESUME);
	assert_true(kernel_shadow(near, NULL));
	smmu_get_stats(fx->svm.smmu, &st);

	u = (struct xen_mmu_update) { .ptr = l1, .val = gpa_of(data) | X86_PTE_P | X86_PTE_W | X86_PTE_A | X86_PTE_D };
	put(fx->scratch, &u, sizeof(u));
	assert_int_equal(hypercall(XEN_HC_mmu_update, fx->scratch, 1, 0, XEN_DOMID_SELF), 0);
	assert_true(kernel_shadow(target, &m));
	assert_int_equal(physmap_mpa_to_gpa(&fx->svm.pm, m.mpa), gpa_of(data));
	assert_true(m.flags & X86_PTE_W);
	struct smmu_stats now;
	smmu_get_stats(fx->svm.smmu, &now);
	assert_int_equal(now.updates_applied, st.updates_applied + 1);
	assert_int_equal(now.fills, st.fills);

	/* Hostile: the page table itself, writable (Xen refuses the update;
	 * vmmd maps it read-only, so every write still reaches the PV MMU). */
	assert_int_equal(hypercall(XEN_HC_update_va_mapping, target,
				   l1_frame | X86_PTE_P | X86_PTE_W | X86_PTE_A | X86_PTE_D, 0, 0), 0);
	assert_true(kernel_shadow(target, &m));
	assert_int_equal(physmap_mpa_to_gpa(&fx->svm.pm, m.mpa), l1_frame);
	assert_false(m.flags & X86_PTE_W);
	/* Hostile: past the guest's memory: refused, and nothing is mapped. */
	u.val = (GUEST_PAGES + 5) * 4096 | X86_PTE_P | X86_PTE_W | X86_PTE_A | X86_PTE_D;
	put(fx->scratch, &u, sizeof(u));
	assert_int_equal(hypercall(XEN_HC_mmu_update, fx->scratch, 1, 0, XEN_DOMID_SELF), -EINVAL);
	assert_true(kernel_shadow(target, &m));
	assert_int_equal(physmap_mpa_to_gpa(&fx->svm.pm, m.mpa), l1_frame);
	assert_false(m.flags & X86_PTE_W);
}

/* Unpinning a table drops the shadows built from it (Linux then writes the
 * table as plain memory); the loaded root stays. */
static void test_unpin_drops_shadows(void **state)
{
	uint64_t near = fx->scratch + 9 * 4096, l1_pfn = fx->l.pt_pfn + 3;
	struct xen_mmuext_op op = { .cmd = XEN_MMUEXT_UNPIN_TABLE, .arg1 = l1_pfn };
	struct smmu_stats st;

	assert_int_equal(shadow_handle_trap(&fx->sv, X86_PF, 0x4, near), SHADOW_RESUME);
	assert_true(kernel_shadow(near, NULL));
	put(fx->scratch, &op, sizeof(op));
	assert_int_equal(hypercall(XEN_HC_mmuext_op, fx->scratch, 1, 0, XEN_DOMID_SELF), 0);
	assert_int_equal(fx->d.pt_level[l1_pfn], 0);
	assert_false(kernel_shadow(near, NULL));
	smmu_get_stats(fx->svm.smmu, &st);
	assert_int_equal(st.unshadowed, 1);
	/* Still a table to the CPU: the next touch shadows it again. */
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_PF, 0x4, near), SHADOW_RESUME);
	assert_true(kernel_shadow(near, NULL));

	/* The loaded PML4: nothing goes. */
	op.arg1 = fx->l.pt_pfn;
	put(fx->scratch, &op, sizeof(op));
	assert_int_equal(hypercall(XEN_HC_mmuext_op, fx->scratch, 1, 0, XEN_DOMID_SELF), 0);
	assert_true(kernel_shadow(near, NULL));
	op.arg1 = NR_PAGES;
	put(fx->scratch, &op, sizeof(op));
	assert_int_equal(hypercall(XEN_HC_mmuext_op, fx->scratch, 1, 0, XEN_DOMID_SELF), -EINVAL);
}

static void test_update_va_mapping_and_marks(void **state)
{
	uint64_t target = fx->scratch + 5 * 4096;
	uint64_t l1 = (fx->l.pt_pfn + 3) * 4096 + gpa_of(target) / 4096 * 8;
	uint64_t pte;

	/* Make the page read-only, as Linux does before it pins a page table. */
	assert_int_equal(hypercall(XEN_HC_update_va_mapping, target, gpa_of(target) | X86_PTE_P, XEN_UVMF_INVLPG, 0), 0);
	memcpy(&pte, fx->guest + l1, 8);
	assert_int_equal(pte, gpa_of(target) | X86_PTE_P);
	/* No L1 there (user half, no L4 entry): -EINVAL. */
	assert_int_equal(hypercall(XEN_HC_update_va_mapping, 0x400000, 0, 0, 0), -EINVAL);
	assert_int_equal(hypercall(XEN_HC_update_va_mapping, 0x8000000000000000ULL, 0, 0, 0), -EINVAL);

	/* The bootstrap tables are marked as page tables (the assist's hint). */
	assert_int_equal(fx->d.pt_level[fx->l.pt_pfn], 4);
	assert_int_equal(fx->d.pt_level[fx->l.pt_pfn + 1], 3);
	assert_int_equal(fx->d.pt_level[fx->l.pt_pfn + 3], 1);
	/* Pin L1, then map it writable again (Linux freeing a page table): the mark goes. */
	struct xen_mmuext_op op = { .cmd = XEN_MMUEXT_PIN_L1_TABLE, .arg1 = gpa_of(target) / 4096 };
	put(fx->scratch, &op, sizeof(op));
	assert_int_equal(hypercall(XEN_HC_mmuext_op, fx->scratch, 1, 0, XEN_DOMID_SELF), 0);
	assert_int_equal(fx->d.pt_level[gpa_of(target) / 4096], 1);
	assert_int_equal(hypercall(XEN_HC_update_va_mapping, target, gpa_of(target) | X86_PTE_P | X86_PTE_W, 0, 0), 0);
	assert_int_equal(fx->d.pt_level[gpa_of(target) / 4096], 0);
}

static void test_mmuext_op(void **state)
{
	struct xen_mmuext_op ops[3] = {
		{ .cmd = XEN_MMUEXT_NEW_USER_BASEPTR, .arg1 = 0x300 },
		{ .cmd = XEN_MMUEXT_TLB_FLUSH_LOCAL },
		{ .cmd = XEN_MMUEXT_INVLPG_LOCAL, .arg1 = RET_RIP },
	};
	uint32_t done;

	put(fx->scratch, ops, sizeof(ops));
	assert_int_equal(hypercall(XEN_HC_mmuext_op, fx->scratch, 3, fx->scratch + 512, XEN_DOMID_SELF), 0);
	get(fx->scratch + 512, &done, sizeof(done));
	assert_int_equal(done, 3);
	assert_int_equal(fx->v.user_cr3, 0x300000);
	/* Hostile: frames beyond RAM, a non-canonical invlpg, an LDT of a million entries, an unknown op. */
	struct xen_mmuext_op bad[] = {
		{ .cmd = XEN_MMUEXT_NEW_BASEPTR, .arg1 = GUEST_PAGES + 1 },
		{ .cmd = XEN_MMUEXT_NEW_BASEPTR, .arg1 = 0 },
		{ .cmd = XEN_MMUEXT_PIN_L4_TABLE, .arg1 = 1ULL << 40 },
		{ .cmd = XEN_MMUEXT_INVLPG_LOCAL, .arg1 = 0x8000000000000000ULL },
		{ .cmd = XEN_MMUEXT_SET_LDT, .arg1 = VIRT_BASE, .arg2 = 1000000 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(fx->scratch, &bad[i], sizeof(bad[i]));
		assert_int_equal(hypercall(XEN_HC_mmuext_op, fx->scratch, 1, fx->scratch + 512, XEN_DOMID_SELF), -EINVAL);
		get(fx->scratch + 512, &done, sizeof(done));
		assert_int_equal(done, 0);
	}
	struct xen_mmuext_op unknown = { .cmd = 99 };
	put(fx->scratch, &unknown, sizeof(unknown));
	assert_int_equal(hypercall(XEN_HC_mmuext_op, fx->scratch, 1, 0, XEN_DOMID_SELF), -ENOSYS);
	assert_int_equal(hypercall(XEN_HC_mmuext_op, fx->scratch, 100000, 0, XEN_DOMID_SELF), -EINVAL);
	assert_int_equal(fx->v.kernel_cr3, fx->e.cr3);   /* untouched by the refused ones */
}

/* Xen's new_guest_cr3 reloads CR3 even for the table already loaded: a
 * NEW_BASEPTR to the same L4 is a TLB flush the guest may rely on (Linux's
 * switch_mm leaving lazy TLB mode does it), so the shadow pool's deferred
 * zaps are due after it, as after TLB_FLUSH_LOCAL. */
static void test_same_baseptr_flushes(void **state)
{
	uint64_t target = fx->scratch + 6 * 4096;
	uint32_t groups[POOL_PAGES];
	struct kvm_regs *r = &fx->sv.cpu.regs;

	/* The kernel reads target: a shadow leaf for it. */
	r->rip = RET_RIP;
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_PF, 0x4, target), SHADOW_RESUME);
	shadow_take_zaps(&fx->svm, groups, POOL_PAGES);   /* the pool's first use */
	/* Unmapped without a flush: the removal may wait for the guest's flush. */
	assert_int_equal(hypercall(XEN_HC_update_va_mapping, target, 0, 0, 0), 0);
	assert_int_equal(shadow_take_zaps(&fx->svm, groups, POOL_PAGES), 0);
	/* The same L4 loaded again: now it may not. */
	struct xen_mmuext_op op = { .cmd = XEN_MMUEXT_NEW_BASEPTR, .arg1 = fx->v.kernel_cr3 / 4096 };
	put(fx->scratch, &op, sizeof(op));
	assert_int_equal(hypercall(XEN_HC_mmuext_op, fx->scratch, 1, 0, XEN_DOMID_SELF), 0);
	assert_int_not_equal(shadow_take_zaps(&fx->svm, groups, POOL_PAGES), 0);
	assert_int_equal(fx->v.kernel_cr3, fx->e.cr3);
}

static void test_trap_table_and_callbacks(void **state)
{
	struct xen_trap_info ti[3] = {
		{ .vector = 14, .flags = 0, .cs = 0xe033, .address = VIRT_BASE + 0x1000 },
		{ .vector = 0x80, .flags = 3, .cs = 0xe033, .address = VIRT_BASE + 0x2000 },
		{ 0 },
	};
	put(fx->scratch, ti, sizeof(ti));
	assert_int_equal(hypercall(XEN_HC_set_trap_table, fx->scratch, 0, 0, 0), 0);
	assert_int_equal(fx->v.trap[14].address, VIRT_BASE + 0x1000);
	assert_int_equal(fx->v.trap[0x80].flags, 3);
	/* A list with no end (all 16-byte entries non-zero): bounded. */
	uint8_t *p = va_ptr(fx->scratch);
	for (unsigned i = 0; i < 1100 && (i + 1) * 16 <= 64 * 4096; i++) {
		struct xen_trap_info t = { .vector = (uint8_t) i, .address = VIRT_BASE + 0x1000 };
		memcpy(p + i * 16, &t, 16);
	}
	assert_int_equal(hypercall(XEN_HC_set_trap_table, fx->scratch, 0, 0, 0), -E2BIG);
	assert_int_equal(hypercall(XEN_HC_set_trap_table, UNMAPPED, 0, 0, 0), -EFAULT);
	assert_int_equal(hypercall(XEN_HC_set_trap_table, 0, 0, 0, 0), 0);   /* NULL: clear */
	assert_int_equal(fx->v.trap[14].address, 0);

	struct xen_callback_register cb = { .type = XEN_CALLBACKTYPE_event, .address = VIRT_BASE + 0x3000 };
	put(fx->scratch, &cb, sizeof(cb));
	assert_int_equal(hypercall(XEN_HC_callback_op, XEN_CALLBACKOP_register, fx->scratch, 0, 0), 0);
	assert_int_equal(fx->v.callback[XEN_CALLBACKTYPE_event].address, VIRT_BASE + 0x3000);
	cb = (struct xen_callback_register) { .type = 6, .address = VIRT_BASE };
	put(fx->scratch, &cb, sizeof(cb));
	assert_int_equal(hypercall(XEN_HC_callback_op, XEN_CALLBACKOP_register, fx->scratch, 0, 0), -EINVAL);
	cb = (struct xen_callback_register) { .type = XEN_CALLBACKTYPE_syscall, .address = 0x800000000000ULL };
	put(fx->scratch, &cb, sizeof(cb));
	assert_int_equal(hypercall(XEN_HC_callback_op, XEN_CALLBACKOP_register, fx->scratch, 0, 0), -EINVAL);
	assert_int_equal(hypercall(XEN_HC_stack_switch, 0xe02b, 0xffffc90000004000ULL, 0, 0), 0);
	assert_int_equal(fx->v.kernel_sp, 0xffffc90000004000ULL);
	assert_int_equal(hypercall(XEN_HC_set_segment_base, XEN_SEGBASE_GS_KERNEL, 0xffff888000100000ULL, 0, 0), 0);
	assert_int_equal(fx->sv.cpu.pcb.gs_base, 0xffff888000100000ULL);
	assert_int_equal(hypercall(XEN_HC_set_segment_base, XEN_SEGBASE_FS, 0x800000000000ULL, 0, 0), -EINVAL);
	assert_int_equal(hypercall(XEN_HC_set_segment_base, 9, 0, 0, 0), -EINVAL);
	/* Counted by selector (B11: AMD's per-switch GS loads), 9 as unknown. */
	struct xpv_stats st;
	xpv_get_stats(&fx->d, &st);
	assert_int_equal(st.subops[XEN_HC_set_segment_base][XEN_SEGBASE_GS_KERNEL], 1);
	assert_int_equal(st.subops[XEN_HC_set_segment_base][XEN_SEGBASE_FS], 1);
	assert_string_equal(xpv_subop_name(XEN_HC_set_segment_base, XEN_SEGBASE_GS_USER_SEL), "gs_user_sel");
	assert_int_equal(fx->unknown, 1);
}

/* An event on a bound VIRQ reaches the callback with Xen's frame, masked. */
static void test_events_and_upcall(void **state)
{
	struct xen_evtchn_bind_virq b = { .virq = XEN_VIRQ_TIMER, .vcpu = 0 };
	struct xen_callback_register cb = { .type = XEN_CALLBACKTYPE_event, .address = VIRT_BASE + 0x3000 };
	struct xen_vcpu_info *vi = xpv_vcpu_info(&fx->v);
	struct xen_shared_info *si = xpv_shared_info(&fx->d);
	bool failed;

	put(fx->scratch, &cb, sizeof(cb));
	assert_int_equal(hypercall(XEN_HC_callback_op, XEN_CALLBACKOP_register, fx->scratch, 0, 0), 0);
	put(fx->scratch, &b, sizeof(b));
	assert_int_equal(hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_bind_virq, fx->scratch, 0, 0), 0);
	get(fx->scratch, &b, sizeof(b));
	assert_int_equal(b.port, 2);   /* 1 is the console's */
	assert_int_equal(hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_bind_virq, fx->scratch, 0, 0), -EEXIST);
	b = (struct xen_evtchn_bind_virq) { .virq = 200 };
	put(fx->scratch, &b, sizeof(b));
	assert_int_equal(hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_bind_virq, fx->scratch, 0, 0), -EINVAL);

	/* Raised while the vCPU masks events: pending, not deliverable. */
	assert_int_equal(vi->evtchn_upcall_mask, 1);
	xpv_raise_virq(&fx->d, XEN_VIRQ_TIMER);
	assert_int_equal(si->evtchn_pending[0], 1u << 2);
	assert_int_equal(vi->evtchn_pending_sel, 1);
	assert_int_equal(vi->evtchn_upcall_pending, 1);
	assert_false(xpv_event_pending(&fx->v));
	assert_false(xpv_deliver_events(&fx->v, &failed));

	/* Unmasked: the callback runs, with RCX, R11, RIP, CS|mask<<32, RFLAGS, RSP, SS on the stack. */
	vi->evtchn_upcall_mask = 0;
	struct kvm_regs *r = &fx->sv.cpu.regs;
	uint64_t rip = RET_RIP + 0x10, rsp = fx->e.rsp - 0x108;   /* not 16-byte aligned */
	r->rip = rip;
	r->rsp = rsp;
	r->rcx = 0x1111;
	r->r11 = 0x2222;
	r->rflags = 0x202 | (1ULL << 8);   /* TF: cleared on entry */
	assert_true(xpv_event_pending(&fx->v));
	assert_true(xpv_deliver_events(&fx->v, &failed));
	assert_false(failed);
	assert_int_equal(r->rip, VIRT_BASE + 0x3000);
	assert_int_equal(vi->evtchn_upcall_mask, 1);
	assert_int_equal(r->rsp, (rsp & ~15ULL) - 7 * 8);
	uint64_t f[7];
	get(r->rsp, f, sizeof(f));
	assert_int_equal(f[0], 0x1111);
	assert_int_equal(f[1], 0x2222);
	assert_int_equal(f[2], rip);
	assert_int_equal(f[3], 0xe030);                /* kernel context: RPL 0, saved mask 0 */
	assert_int_equal(f[4] & X86_RFLAGS_IF, X86_RFLAGS_IF);
	assert_int_equal(f[5], rsp);
	assert_int_equal(f[6], XEN_FLAT_KERNEL_SS64);
	assert_false(r->rflags & (1ULL << 8));

	/* Unmask through the hypercall: a pending, masked port comes back. */
	si->evtchn_mask[0] |= 1u << 2;
	vi->evtchn_pending_sel = 0;
	vi->evtchn_upcall_pending = 0;
	uint32_t port = 2;
	put(fx->scratch, &port, sizeof(port));
	assert_int_equal(hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_unmask, fx->scratch, 0, 0), 0);
	assert_int_equal(si->evtchn_mask[0] & (1u << 2), 0);
	assert_int_equal(vi->evtchn_upcall_pending, 1);
	port = XPV_PORTS;
	put(fx->scratch, &port, sizeof(port));
	assert_int_equal(hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_unmask, fx->scratch, 0, 0), -EINVAL);
	assert_int_equal(hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_send, UNMAPPED, 0, 0), -EFAULT);
	assert_int_equal(hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_init_control, 0, 0, 0), -ENOSYS);

	/* Ports run out, bounded. */
	struct xen_evtchn_bind_ipi ipi = { .vcpu = 0 };
	long rr = 0;
	for (int i = 0; i < XPV_PORTS + 2 && rr >= 0; i++) {
		put(fx->scratch, &ipi, sizeof(ipi));
		rr = hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_bind_ipi, fx->scratch, 0, 0);
	}
	assert_int_equal(rr, -ENOSPC);
}

static void test_iret(void **state)
{
	struct kvm_regs *r = &fx->sv.cpu.regs;
	uint64_t rsp = fx->e.rsp - 0x200;
	struct xen_iret_context f = {
		.rax = 77, .r11 = 0x246, .rcx = 0x99, .rip = RET_RIP + 0x40, .cs = 0xe030 | (1ULL << 32),
		.rflags = 0x3202, .rsp = rsp + 0x100, .ss = 0xe02b,
	};
	struct xen_vcpu_info *vi = xpv_vcpu_info(&fx->v);

	put(rsp, &f, sizeof(f));
	r->rax = XEN_HC_iret;
	r->rsp = rsp;
	assert_int_equal(trap_syscall(), SHADOW_RESUME);
	assert_int_equal(r->rip, RET_RIP + 0x40);
	assert_int_equal(r->rax, 77);
	assert_int_equal(r->rcx, 0x99);
	assert_int_equal(r->rsp, rsp + 0x100);
	assert_int_equal(r->rflags & X86_RFLAGS_IOPL, 0);      /* never the guest's IOPL */
	assert_int_equal(vi->evtchn_upcall_mask, 0);           /* IF set in the frame: events on */
	assert_true(fx->v.kernel_mode);                        /* RPL 0: back into the kernel */
	assert_int_equal(fx->sv.cpu.pcb.cs, 0xe033);

	/* To user mode without a user page table: the VM ends. */
	f.cs = 0x33;
	put(rsp, &f, sizeof(f));
	r->rax = XEN_HC_iret;
	r->rsp = rsp;
	assert_int_equal(trap_syscall(), SHADOW_HOST_REFUSED);
	assert_non_null(strstr(fx->sv.fail_message, "user page table"));

	/* With one: user mode, the user's GS base, the user table loaded. */
	fx->v.user_cr3 = fx->e.cr3;
	fx->sv.cpu.pcb.gs_base = 0xaaaa;          /* the kernel's */
	fx->sv.cpu.pcb.kernel_gs_base = 0xbbbb;   /* the user's, inactive */
	fx->v.after.end = false;
	put(rsp, &f, sizeof(f));
	r->rax = XEN_HC_iret;
	r->rsp = rsp;
	assert_int_equal(trap_syscall(), SHADOW_RESUME);
	assert_false(fx->v.kernel_mode);
	assert_int_equal(fx->sv.cpu.pcb.vcpl, 3);
	assert_int_equal(fx->sv.cpu.pcb.gs_base, 0xbbbb);
	assert_int_equal(fx->sv.cpu.pcb.cs, 0x33);

	/* The user's syscall: the syscall callback, back in kernel mode on kernel_sp. */
	fx->v.callback[XEN_CALLBACKTYPE_syscall] = (struct xpv_callback) {
		.flags = XEN_CALLBACKF_mask_events, .address = VIRT_BASE + 0x4000 };
	fx->v.kernel_sp = fx->e.rsp - 0x400;
	r->rsp = 0x7fff0000;
	assert_int_equal(trap_syscall(), SHADOW_RESUME);
	assert_true(fx->v.kernel_mode);
	assert_int_equal(fx->sv.cpu.pcb.gs_base, 0xaaaa);
	assert_int_equal(r->rip, VIRT_BASE + 0x4000);
	assert_int_equal(vi->evtchn_upcall_mask, 1);
	uint64_t frame[7];
	get(r->rsp, frame, sizeof(frame));
	assert_int_equal(frame[2], RET_RIP);   /* the user's return address */
	assert_int_equal(frame[3], 0x33);      /* user context: RPL 3 */
	assert_int_equal(frame[5], 0x7fff0000);
	/* An unreadable iret frame ends the VM. */
	r->rax = XEN_HC_iret;
	r->rsp = UNMAPPED;
	assert_int_equal(trap_syscall(), SHADOW_HOST_REFUSED);
}

static void test_multicall(void **state)
{
	struct xen_multicall_entry m[3] = {
		{ .op = XEN_HC_xen_version, .args = { XEN_XENVER_version } },
		{ .op = XEN_HC_stack_switch, .args = { 0xe02b, 0xffffc90000008000ULL } },
		{ .op = XEN_HC_multicall, .args = { 0, 0 } },   /* nested: refused */
	};

	put(fx->scratch, m, sizeof(m));
	assert_int_equal(hypercall(XEN_HC_multicall, fx->scratch, 3, 0, 0), 0);
	get(fx->scratch, m, sizeof(m));
	assert_int_equal(m[0].result, XPV_VERSION);
	assert_int_equal(m[1].result, 0);
	assert_int_equal((long) m[2].result, -EINVAL);
	assert_int_equal(fx->v.kernel_sp, 0xffffc90000008000ULL);
	assert_int_equal(hypercall(XEN_HC_multicall, fx->scratch, XPV_MULTICALL_MAX + 1, 0, 0), -EINVAL);
	assert_int_equal(hypercall(XEN_HC_multicall, UNMAPPED, 1, 0, 0), -EFAULT);
}

static void test_console(void **state)
{
	const char msg[] = "mapping kernel into physical memory\n";

	put(fx->scratch, msg, sizeof(msg) - 1);
	assert_int_equal(hypercall(XEN_HC_console_io, XEN_CONSOLEIO_write, sizeof(msg) - 1, fx->scratch, 0), 0);
	assert_int_equal(fx->console_len, sizeof(msg) - 1);
	assert_memory_equal(fx->console, msg, sizeof(msg) - 1);
	assert_int_equal(hypercall(XEN_HC_console_io, XEN_CONSOLEIO_write, 100, UNMAPPED, 0), -EFAULT);

	/* hvc0: the out ring, then a send on the console port. */
	struct xen_cons_interface *c = (void *) (fx->guest + fx->l.console_pfn * 4096);
	fx->console_len = 0;
	c->out_cons = 0xfffffffe;   /* indices wrap */
	memcpy(&c->out[(0xfffffffeu) & 2047], "hi", 2);
	memcpy(&c->out[0], "!\n", 2);
	c->out_prod = 2;
	uint32_t port = XPV_CONSOLE_PORT;
	put(fx->scratch, &port, sizeof(port));
	assert_int_equal(hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_send, fx->scratch, 0, 0), 0);
	assert_int_equal(fx->console_len, 4);
	assert_memory_equal(fx->console, "hi!\n", 4);
	assert_int_equal(c->out_cons, 2);
	/* A producer a whole ring ahead: dropped, not overread. */
	c->out_prod = c->out_cons + 5000;
	assert_int_equal(hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_send, fx->scratch, 0, 0), 0);
	assert_int_equal(fx->console_len, 4);
	assert_int_equal(c->out_cons, c->out_prod);

	/* Input: at most the 1 KiB ring, raising the port. */
	uint8_t in[1500];
	memset(in, 'x', sizeof(in));
	assert_int_equal(xpv_console_input(&fx->d, in, sizeof(in)), 1024);
	assert_int_equal(xpv_console_input(&fx->d, in, 10), 0);
	assert_int_equal(c->in_prod - c->in_cons, 1024);
	assert_true(xpv_shared_info(&fx->d)->evtchn_pending[0] & (1u << XPV_CONSOLE_PORT));
	c->in_cons = c->in_prod - 5000;   /* the guest broke its ring */
	assert_int_equal(xpv_console_input(&fx->d, in, 10), 0);
}

static void test_sched_and_vcpu_op(void **state)
{
	struct xen_vcpu_info *vi = xpv_vcpu_info(&fx->v);
	uint32_t reason = XEN_SHUTDOWN_poweroff;

	/* block: events on; nothing pending, so the vCPU sleeps. */
	struct kvm_regs *r = &fx->sv.cpu.regs;
	r->rax = XEN_HC_sched_op;
	r->rdi = XEN_SCHEDOP_block;
	assert_int_equal(trap_syscall(), SHADOW_HALT);
	assert_int_equal(vi->evtchn_upcall_mask, 0);

	put(fx->scratch, &reason, sizeof(reason));
	assert_int_equal(hypercall(XEN_HC_sched_op, XEN_SCHEDOP_shutdown, fx->scratch, 0, 0), 0);
	assert_int_equal(fx->shutdown, XEN_SHUTDOWN_poweroff);
	assert_int_equal(hypercall(XEN_HC_sched_op, XEN_SCHEDOP_shutdown, UNMAPPED, 0, 0), -EFAULT);
	reason = XEN_SHUTDOWN_suspend;
	put(fx->scratch, &reason, sizeof(reason));
	assert_int_equal(hypercall(XEN_HC_sched_op, XEN_SCHEDOP_shutdown, fx->scratch, 0, 0), -ENOSYS);

	assert_int_equal(hypercall(XEN_HC_vcpu_op, XEN_VCPUOP_is_up, 0, 0, 0), 1);
	assert_int_equal(hypercall(XEN_HC_vcpu_op, XEN_VCPUOP_is_up, 1, 0, 0), -ENOENT);
	/* register_vcpu_info: a slot crossing its page is refused; a good one moves the state. */
	struct xen_vcpu_register_vcpu_info rv = { .mfn = gpa_of(fx->scratch) / 4096 + 1, .offset = 4090 };
	put(fx->scratch, &rv, sizeof(rv));
	assert_int_equal(hypercall(XEN_HC_vcpu_op, XEN_VCPUOP_register_vcpu_info, 0, fx->scratch, 0), -EINVAL);
	rv.offset = 0x40;
	rv.mfn = GUEST_PAGES + 3;
	put(fx->scratch, &rv, sizeof(rv));
	assert_int_equal(hypercall(XEN_HC_vcpu_op, XEN_VCPUOP_register_vcpu_info, 0, fx->scratch, 0), -EINVAL);
	rv.mfn = gpa_of(fx->scratch) / 4096 + 1;
	put(fx->scratch, &rv, sizeof(rv));
	vi->evtchn_upcall_mask = 1;
	assert_int_equal(hypercall(XEN_HC_vcpu_op, XEN_VCPUOP_register_vcpu_info, 0, fx->scratch, 0), 0);
	struct xen_vcpu_info *moved = xpv_vcpu_info(&fx->v);
	assert_ptr_equal(moved, fx->guest + rv.mfn * 4096 + 0x40);
	assert_int_equal(moved->evtchn_upcall_mask, 1);
	assert_int_equal(moved->time.tsc_to_system_mul, vi->time.tsc_to_system_mul);
	assert_int_equal(moved->time.version % 2, 0);

	/* The single-shot timer: a past deadline with "future" is -ETIME; a future one arms. */
	struct xen_vcpu_set_singleshot_timer t = { .timeout_abs_ns = 1, .flags = XEN_VCPU_SSHOTTMR_future };
	put(fx->scratch, &t, sizeof(t));
	assert_int_equal(hypercall(XEN_HC_vcpu_op, XEN_VCPUOP_set_singleshot_timer, 0, fx->scratch, 0), -62);
	t = (struct xen_vcpu_set_singleshot_timer) { .timeout_abs_ns = xpv_now_ns(&fx->d) + 1000000000ULL };
	put(fx->scratch, &t, sizeof(t));
	unsigned before = fx->timer_changes;
	assert_int_equal(hypercall(XEN_HC_vcpu_op, XEN_VCPUOP_set_singleshot_timer, 0, fx->scratch, 0), 0);
	assert_int_equal(fx->v.timer_deadline, t.timeout_abs_ns);
	assert_int_equal(fx->timer_changes, before + 1);
	assert_int_equal(hypercall(XEN_HC_vcpu_op, XEN_VCPUOP_stop_singleshot_timer, 0, 0, 0), 0);
	assert_int_equal(fx->v.timer_deadline, 0);
	assert_int_equal(hypercall(XEN_HC_vcpu_op, XEN_VCPUOP_register_vcpu_time_memory_area, 0, 0, 0), -ENOSYS);
}

/* A native write to a read-only page table (ptwr): emulated on RAM. A
 * native write to a read-only page that is not one: the guest's #PF. */
static void test_writable_pagetable_assist(void **state)
{
	uint64_t table = fx->scratch + 6 * 4096, data = fx->scratch + 7 * 4096;
	uint64_t code = fx->scratch + 8 * 4096;
	const uint8_t mov_rax_to_rdi[] = { 0x48, 0x89, 0x07 };   /* mov %rax, (%rdi) */
	struct kvm_regs *r = &fx->sv.cpu.regs;

	/* Linux's way: make both read-only, pin the one that is a page table. */
	assert_int_equal(hypercall(XEN_HC_update_va_mapping, table, gpa_of(table) | X86_PTE_P, XEN_UVMF_INVLPG, 0), 0);
	assert_int_equal(hypercall(XEN_HC_update_va_mapping, data, gpa_of(data) | X86_PTE_P, XEN_UVMF_INVLPG, 0), 0);
	struct xen_mmuext_op pin = { .cmd = XEN_MMUEXT_PIN_L1_TABLE, .arg1 = gpa_of(table) / 4096 };
	put(fx->scratch, &pin, sizeof(pin));
	assert_int_equal(hypercall(XEN_HC_mmuext_op, fx->scratch, 1, 0, XEN_DOMID_SELF), 0);
	struct xen_trap_info ti[2] = { { .vector = 14, .cs = 0xe033, .address = VIRT_BASE + 0x5000 }, { 0 } };
	put(fx->scratch, ti, sizeof(ti));
	assert_int_equal(hypercall(XEN_HC_set_trap_table, fx->scratch, 0, 0, 0), 0);
	put(code, mov_rax_to_rdi, sizeof(mov_rax_to_rdi));

	r->rip = code;
	r->rax = gpa_of(data) | X86_PTE_P;
	r->rdi = table + 8 * 3;
	r->rsp = fx->e.rsp - 0x300;
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_PF, 0x7 /* P W U */, table + 24), SHADOW_RESUME);
	uint64_t v;
	get(table + 24, &v, 8);
	assert_int_equal(v, gpa_of(data) | X86_PTE_P);
	assert_int_equal(r->rip, code + sizeof(mov_rax_to_rdi));
	assert_int_equal(fx->d.stats.ptwr, 1);

	/* An entry the PV MMU refuses (a frame past the guest's memory): the
	 * instruction is undone and faults as the guest wrote it. */
	r->rip = code;
	r->rax = 0x1234567000 | X86_PTE_P;
	uint64_t rsp0 = r->rsp;
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_PF, 0x7, table + 24), SHADOW_RESUME);
	get(table + 24, &v, 8);
	assert_int_equal(v, gpa_of(data) | X86_PTE_P);
	assert_int_equal(r->rip, VIRT_BASE + 0x5000);
	assert_int_equal(fx->d.stats.ptwr_refused, 1);
	r->rsp = rsp0;

	r->rip = code;
	r->rdi = data;
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_PF, 0x7, data), SHADOW_RESUME);
	get(data, &v, 8);
	assert_int_equal(v, 0);
	assert_int_equal(r->rip, VIRT_BASE + 0x5000);           /* the guest's #PF handler */
	assert_int_equal(xpv_vcpu_info(&fx->v)->arch.cr2, data);
	uint64_t f[8];
	get(r->rsp, f, sizeof(f));
	assert_int_equal(f[2], 0x3);                            /* P|W, no U: kernel mode */
	assert_int_equal(f[3], code);
}

static void test_cpuid_policy(void **state)
{
	uint32_t out[4];

	memset(out, 0xff, sizeof(out));
	xpv_cpuid_policy(0x40000000, 0, out);
	assert_int_equal(out[0], 0x40000002);
	assert_memory_equal(&out[1], "XenVMMXenVMM", 12);
	memset(out, 0xff, sizeof(out));
	xpv_cpuid_policy(0x40000100, 0, out);   /* Linux scans in 0x100 steps */
	assert_int_equal(out[0] | out[1] | out[2] | out[3], 0);
	memset(out, 0xff, sizeof(out));
	xpv_cpuid_policy(1, 0, out);
	assert_true(out[2] & (1u << 31));                            /* hypervisor */
	assert_false(out[2] & ((1u << 26) | (1u << 27) | (1u << 28)));   /* no XSAVE, OSXSAVE, AVX */
	assert_false(out[3] & ((1u << 9) | (1u << 13) | (1u << 3)));     /* no APIC, PGE, PSE */
	assert_int_equal(out[1] >> 24, 0);
	memset(out, 0xff, sizeof(out));
	xpv_cpuid_policy(7, 0, out);
	assert_false(out[1] & 1u);                                   /* no FSGSBASE */
	assert_false(out[1] & (1u << 5));                            /* no AVX2 */
	memset(out, 0xff, sizeof(out));
	xpv_cpuid_policy(0xd, 0, out);
	assert_int_equal(out[0] | out[1] | out[2] | out[3], 0);
	memset(out, 0xff, sizeof(out));
	xpv_cpuid_policy(0x80000001, 0, out);
	assert_false(out[3] & (1u << 26));                           /* no 1 GiB pages */
}

/* The forced-emulation prefix (xen_cpuid): ud2; "xen"; cpuid, 7 bytes. */
static void test_forced_emulation_cpuid(void **state)
{
	const uint8_t insn[] = { 0x0f, 0x0b, 'x', 'e', 'n', 0x0f, 0xa2 };
	uint64_t code = fx->scratch + 9 * 4096;
	struct kvm_regs *r = &fx->sv.cpu.regs;

	put(code, insn, sizeof(insn));
	r->rip = code;
	r->rax = 0x40000000;
	r->rcx = 0;
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_UD, 0, 0), SHADOW_RESUME);
	assert_int_equal(r->rip, code + 7);
	assert_int_equal(r->rbx, 0x566e6558);
	/* A plain ud2 with no trap table entry ends the VM, saying why. */
	const uint8_t ud2[] = { 0x0f, 0x0b, 0x90 };
	put(code, ud2, sizeof(ud2));
	r->rip = code;
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_UD, 0, 0), SHADOW_HOST_REFUSED);
	assert_non_null(strstr(fx->sv.fail_message, "unhandled exception 6"));
}

static int port_f4(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	uint32_t *seen = opaque;
	if (is_write)
		*seen = data[0];
	else
		data[0] = 0x5a;
	return 0;
}

/* User-mode in/out: allowed where the ioperm bitmap (set_iobitmap) clears
 * the port's bit, the guest's #GP elsewhere. */
static void test_user_port_io(void **state)
{
	uint32_t seen = 0;
	uint8_t bitmap[0x20];
	uint64_t code = fx->scratch + 10 * 4096, bm = fx->scratch + 11 * 4096;
	const uint8_t out_f4[] = { 0xe6, 0xf4 }, in_f4[] = { 0xe4, 0xf4 }, out_f5[] = { 0xe6, 0xf5 };
	struct kvm_regs *r = &fx->sv.cpu.regs;

	assert_int_equal(bus_register(fx->bus, BUS_PIO, 0xf4, 2, "test", port_f4, &seen), 0);
	memset(bitmap, 0xff, sizeof(bitmap));
	bitmap[0xf4 / 8] &= (uint8_t) ~(1u << (0xf4 % 8));   /* 0xf4 allowed, 0xf5 not */
	put(bm, bitmap, sizeof(bitmap));
	struct xen_physdev_set_iobitmap b = { .bitmap = bm, .nr_ports = 0x100 };
	put(fx->scratch, &b, sizeof(b));
	assert_int_equal(hypercall(XEN_HC_physdev_op, XEN_PHYSDEVOP_set_iobitmap, fx->scratch, 0, 0), 0);
	b.nr_ports = 1u << 20;
	put(fx->scratch, &b, sizeof(b));
	assert_int_equal(hypercall(XEN_HC_physdev_op, XEN_PHYSDEVOP_set_iobitmap, fx->scratch, 0, 0), -EINVAL);
	struct xen_trap_info ti[2] = { { .vector = 13, .cs = 0xe033, .address = VIRT_BASE + 0x6000 }, { 0 } };
	put(fx->scratch, ti, sizeof(ti));
	assert_int_equal(hypercall(XEN_HC_set_trap_table, fx->scratch, 0, 0, 0), 0);

	/* User mode (the kernel's tables serve as the user's here: the code is
	 * the kernel's, so vmmd reads the bitmap and fetches in kernel mode). */
	put(code, out_f4, 2);
	put(code + 2, in_f4, 2);
	put(code + 4, out_f5, 2);
	fx->v.kernel_mode = false;
	r->rip = code;
	r->rax = 0x37;
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_GP, 0, 0), SHADOW_RESUME);
	assert_int_equal(seen, 0x37);
	assert_int_equal(r->rip, code + 2);
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_GP, 0, 0), SHADOW_RESUME);
	assert_int_equal(r->rax & 0xff, 0x5a);
	assert_int_equal(r->rip, code + 4);
	/* Port 0xf5's bit is set: the guest's own #GP, in its kernel. */
	r->rsp = fx->e.rsp - 0x500;
	fx->v.kernel_sp = fx->e.rsp - 0x100;
	fx->v.user_cr3 = fx->e.cr3;
	assert_int_equal(shadow_handle_trap(&fx->sv, X86_GP, 0, 0), SHADOW_RESUME);
	assert_int_equal(r->rip, VIRT_BASE + 0x6000);
	assert_true(fx->v.kernel_mode);
}

/* Whether a port exit leaves rip at or past the out is learnt once per VM,
 * from a hypercall of the guest's kernel: guest user code, which can place
 * any bytes around its own port access, must not teach it (here: a
 * one-byte out %al,%dx followed by the hypercall's bytes, on a host that
 * leaves rip past the out), or the kernel's hypercalls become #GPs. */
static void test_hypercall_port_learnt_from_kernel(void **state)
{
	uint64_t code = fx->scratch + 10 * 4096, kcode = fx->scratch + 12 * 4096;
	const uint8_t user_bytes[] = { 0xee, 0xe6, VMM_HYPERCALL_PORT }, kernel_bytes[] = { 0xe6, VMM_HYPERCALL_PORT, 0x90, 0x90 };
	struct kvm_regs *r = &fx->sv.cpu.regs;

	struct xen_trap_info ti[2] = { { .vector = 13, .cs = 0xe033, .address = VIRT_BASE + 0x6000 }, { 0 } };
	put(fx->scratch, ti, sizeof(ti));
	assert_int_equal(hypercall(XEN_HC_set_trap_table, fx->scratch, 0, 0, 0), 0);
	put(code, user_bytes, sizeof(user_bytes));
	put(kcode, kernel_bytes, sizeof(kernel_bytes));

	/* User mode: its port access is its kernel's #GP. */
	fx->v.kernel_mode = false;
	fx->sv.cpu.pcb.vcpl = 3;
	fx->v.user_cr3 = fx->e.cr3;
	fx->v.kernel_sp = fx->e.rsp - 0x100;
	r->rsp = fx->e.rsp - 0x500;
	r->rip = code + 1;
	assert_int_equal(shadow_handle_hypercall_port(&fx->sv, true, 1, 0), SHADOW_RESUME);
	assert_int_equal(r->rip, VIRT_BASE + 0x6000);
	assert_true(fx->v.kernel_mode);

	/* The kernel's hypercall, rip past the out: served, not a #GP. */
	fx->sv.cpu.pcb.vcpl = 0;
	r->rip = kcode + 2;
	r->rax = VMM_HC_RESTORE_IF;
	r->rdi = 1;
	assert_int_equal(shadow_handle_hypercall_port(&fx->sv, true, 1, 0), SHADOW_RESUME);
	assert_int_equal(r->rip, kcode + 2);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_version_and_features), T(test_memory_op), T(test_mmu_update), T(test_mmu_update_into_shadow), T(test_unpin_drops_shadows), T(test_update_va_mapping_and_marks),
		T(test_mmuext_op), T(test_same_baseptr_flushes), T(test_trap_table_and_callbacks), T(test_events_and_upcall), T(test_iret),
		T(test_multicall), T(test_console), T(test_sched_and_vcpu_op), T(test_writable_pagetable_assist),
		T(test_cpuid_policy), T(test_forced_emulation_cpuid), T(test_user_port_io),
		T(test_hypercall_port_learnt_from_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
