// SPDX-License-Identifier: MIT
/*
 * Cases: control registers, MSRs, descriptor-table registers, swapgs, cpuid,
 * port I/O, invlpg and the other privileged instructions, at CPL0 and (where
 * the instruction exists there) at CPL3, where each must raise #GP(0) or
 * work as the architecture says. Every case puts back what it changed.
 */
#include "cpu.h"
#include "isa.h"

SNIPPET(cr0_write);
SNIPPET(cr4_write);
SNIPPET(cr3_write);
SNIPPET(cr8_write);
SNIPPET(cr2_write);
SNIPPET(cr0_read);
SNIPPET(dr7_write);
SNIPPET(dr0_write);
SNIPPET(rdmsr);
SNIPPET(wrmsr);
SNIPPET(lgdt);
SNIPPET(lidt);
SNIPPET(sgdt);
SNIPPET(sidt);
SNIPPET(str);
SNIPPET(sldt);
SNIPPET(smsw);
SNIPPET(lmsw);
SNIPPET(clts);
SNIPPET(ltr);
SNIPPET(lldt);
SNIPPET(swapgs);
SNIPPET(cpuid);
SNIPPET(invlpg);
SNIPPET(wbinvd);
SNIPPET(hlt);
SNIPPET(cli);
SNIPPET(sti);
SNIPPET(outb_inb);
SNIPPET(inb);
SNIPPET(rep_outsb);
SNIPPET(rep_insb);
SNIPPET(outsb);
SNIPPET(inb_imm);

#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)

static bool user_variant(struct isa_rec *r, unsigned one_in)
{
	if (rng_below(one_in) == 0)
		r->variant |= VARIANT_USER;
	return r->variant & VARIANT_USER;
}

/* --- control registers --------------------------------------------------------- */

static void cr0_case(struct isa_rec *r)
{
	static const uint64_t toggles[] = { CR0_MP, CR0_EM, CR0_TS, CR0_NE, CR0_WP, CR0_AM, CR0_ET };
	static const uint64_t bad[] = { CR0_NW, CR0_PG, 1ull << 32, 1ull << 63, 1ull << 0 /* PE */ };
	uint64_t cr0 = read_cr0(), v = cr0;
	struct uregs u;

	rand_regs(&u);
	for (unsigned n = 1 + rng_below(3); n; n--)
		v ^= RNG_PICK(toggles);
	if (rng_below(5) == 0) {
		v ^= RNG_PICK(bad);
		if (skipped(r, SKIP_CR_RESERVED))
			return;
	}
	if (rng_below(8) == 0)
		v |= rng() & 0x1ffc0ull;        /* reserved bits 6-15: ignored */
	u.rax = v;
	r->v[0] = v;
	run_either(k_cr0_write, u_cr0_write, &u, r);
	r->v[1] = u.rbx;
	write_cr0(cr0);
	r->v[2] = read_cr0();
}

static void cr4_case(struct isa_rec *r)
{
	/* Bits every oracle has (not CPUID-dependent): TSD DE PSE MCE PGE PCE OSFXSR OSXMMEXCPT. */
	static const uint64_t toggles[] = { 1 << 2, 1 << 3, 1 << 4, 1 << 6, 1 << 7, 1 << 8, 1 << 9, 1 << 10 };
	static const uint64_t bad[] = { 1ull << 5 /* PAE */, 1ull << 12 /* LA57 */, 1ull << 31, 1ull << 40,
					1ull << 63, 1ull << 15 };
	uint64_t cr4 = read_cr4(), v = cr4;
	struct uregs u;

	rand_regs(&u);
	for (unsigned n = 1 + rng_below(3); n; n--)
		v ^= RNG_PICK(toggles);
	if (rng_below(4) == 0) {
		v ^= RNG_PICK(bad);
		if (skipped(r, SKIP_CR_RESERVED))
			return;
	}
	u.rax = v;
	r->v[0] = v;
	run_either(k_cr4_write, u_cr4_write, &u, r);
	r->v[1] = u.rbx;
	write_cr4(cr4);
	r->v[2] = read_cr4();
}

static void cr3_case(struct isa_rec *r)
{
	uint64_t cr3 = read_cr3(), v = cr3 | (rng() & 0x18);   /* PWT, PCD */
	struct uregs u;

	rand_regs(&u);
	if (rng_below(3) == 0)
		v |= rng() & 0xfe7;             /* ignored without PCIDE */
	if (rng_below(6) == 0) {
		v |= 1ull << (52 + rng_below(11));   /* reserved: above MAXPHYADDR 52 */
		if (skipped(r, SKIP_CR_RESERVED))
			return;
	}
	u.rax = v;
	u.rsi = test_va(TP_RW) + 8 * rng_below(512);
	r->v[0] = v;
	run_either(k_cr3_write, u_cr3_write, &u, r);
	r->v[1] = u.rbx;
	r->v[2] = u.rcx;
	write_cr3(cr3);
}

static void cr8_case(struct isa_rec *r)
{
	struct uregs u;

	rand_regs(&u);
	u.rax = rng_below(4) ? rng_below(16) : rng_value();
	r->v[0] = u.rax;
	run_either(k_cr8_write, u_cr8_write, &u, r);
	r->v[1] = u.rbx;
	__asm__ volatile("mov %0, %%cr8" : : "r"(0ull));
}

static void cr2_case(struct isa_rec *r)
{
	struct uregs u;

	rand_regs(&u);
	r->v[0] = u.rax;
	run_either(k_cr2_write, u_cr2_write, &u, r);
	r->v[1] = u.rbx;
}

static void dr_case(struct isa_rec *r)
{
	struct uregs u;
	bool dr7 = rng() & 1;

	rand_regs(&u);
	r->variant |= dr7;
	/* DR7: no breakpoint enabled (L0-3/G0-3 clear: vmmd arms none, a hole
	 * docs/shadow.md names), LE/GE, the RW/LEN fields, GD (the next mov
	 * DRn is #DB) now and then; bits 63:32 are reserved (#GP). */
	if (dr7)
		u.rax = rng_below(5) ? (rng() & 0xffff2300) | 0x400 : rng_value() & ~0xffull;
	r->v[0] = u.rax;
	run_either(dr7 ? k_dr7_write : k_dr0_write, dr7 ? u_dr7_write : u_dr0_write, &u, r);
	r->v[1] = u.rbx;
	kdo(k_dr7_write, 0x400);
}

/* --- MSRs ------------------------------------------------------------------------ */

#define MSR_FS_BASE        0xc0000100
#define MSR_GS_BASE        0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_CSTAR          0xc0000083

static const uint64_t msrs[] = {
	MSR_EFER, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_FMASK, MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE,
	0x40001234, 0xdeadbeef,
};

static uint64_t msr_value(uint64_t msr, uint64_t old)
{
	switch (msr) {
	case MSR_EFER:
		switch (rng_below(6)) {
		case 0:
			return old ^ 1;                          /* SCE */
		case 1:
			return old ^ (1ull << 11);               /* NXE */
		case 2:
			return old ^ (1ull << 8);                /* LME while paging: #GP */
		case 3:
			return old ^ (1ull << (16 + rng_below(48)));   /* reserved */
		case 4:
			return old ^ (1ull << 10);               /* LMA: read-only */
		default:
			return old;
		}
	case MSR_FMASK:
		return rng() & (rng_below(4) ? 0xffffffffull : ~0ull);
	default:
		return rng_value();
	}
}

static void msr_case(struct isa_rec *r)
{
	uint64_t msr = RNG_PICK(msrs);
	uint64_t saved[] = {
		rdmsr(MSR_EFER), rdmsr(MSR_STAR), rdmsr(MSR_LSTAR), rdmsr(MSR_CSTAR), rdmsr(MSR_FMASK),
		rdmsr(MSR_FS_BASE), rdmsr(MSR_GS_BASE), rdmsr(MSR_KERNEL_GS_BASE),
	};
	bool write = rng() & 1;
	struct uregs u;

	rand_regs(&u);
	u.rcx = msr | (rng() & 0xffffffff00000000ull);          /* ECX only */
	if (write) {
		uint64_t v = msr_value(msr, msr == MSR_EFER ? saved[0] : 0);
		u.rax = (uint32_t) v | (rng() & 0xffffffff00000000ull);
		u.rdx = v >> 32;
		r->v[0] = v;
	}
	r->variant |= write;
	run_either(write ? k_wrmsr : k_rdmsr, write ? u_wrmsr : u_rdmsr, &u, r);
	r->v[1] = u.rax;
	r->v[2] = u.rdx;
	r->v[3] = msr;
	for (unsigned i = 0; i < ARRAY_SIZE(saved); i++)
		wrmsr((uint32_t) msrs[i], saved[i]);
}

/* --- descriptor-table registers ------------------------------------------------- */

struct __packed dtr {
	uint16_t limit;
	uint64_t base;
};

static void dtr_case(struct isa_rec *r)
{
	struct dtr *in = (struct dtr *) (uintptr_t) (ISA_USER_DATA + 0x100);
	struct dtr *out = (struct dtr *) (uintptr_t) (ISA_USER_DATA + 0x200);
	struct dtr gdt, idt;
	unsigned which = (unsigned) rng_below(4);
	static const void *const k_snips[] = { k_lgdt, k_lidt, k_sgdt, k_sidt };
	static const void *const u_snips[] = { u_lgdt, u_lidt, u_sgdt, u_sidt };
	struct uregs u;

	__asm__ volatile("sgdt %0" : "=m"(gdt));
	__asm__ volatile("sidt %0" : "=m"(idt));
	rand_regs(&u);
	in->limit = (uint16_t) rng();
	in->base = rng_below(3) ? 0x100000 + (rng() & 0xffff0) : rng_value();
	out->limit = 0x5555;
	out->base = 0x5555555555555555ull;
	u.rsi = (uint64_t) (uintptr_t) in;
	u.rdi = (uint64_t) (uintptr_t) out;
	r->variant |= which;
	user_variant(r, 3);
	r->v[0] = in->base;
	r->v[1] = in->limit;
	run_either(k_snips[which], u_snips[which], &u, r);
	r->v[2] = out->base;
	r->v[3] = out->limit;
	/* Put them back before anything can fault. */
	__asm__ volatile("lgdt %0" : : "m"(gdt));
	__asm__ volatile("lidt %0" : : "m"(idt));
}

/* str, sldt, smsw, lmsw, clts, ltr, lldt, wbinvd, hlt, cli, sti. */
static void misc_case(struct isa_rec *r)
{
	static const void *const k_snips[] = { k_str, k_sldt, k_smsw, k_lmsw, k_clts, k_ltr, k_lldt, k_wbinvd,
					       k_cr0_read };
	static const void *const u_snips[] = { u_str, u_sldt, u_smsw, u_lmsw, u_clts, u_ltr, u_lldt, u_wbinvd,
					       u_cr0_read, u_hlt, u_cli, u_sti };
	static const uint64_t sels[] = { 0, SEL_TSS, SEL_KDATA, SEL_KCODE, SEL_LIMIT, SEL_LIMIT + 8, 0xfffc, 4 };
	uint64_t cr0 = read_cr0();
	unsigned which;
	struct uregs u;

	rand_regs(&u);
	if (user_variant(r, 2))
		which = (unsigned) rng_below(ARRAY_SIZE(u_snips));
	else
		which = (unsigned) rng_below(ARRAY_SIZE(k_snips));
	r->variant |= which;
	if (which == 5 || which == 6)
		u.rax = RNG_PICK(sels) | (rng() & 3);
	else if (which == 3)
		u.rax = rng() & 0xf;                            /* lmsw: PE MP EM TS */
	r->v[0] = u.rax;
	if (which == 4)
		write_cr0(cr0 | CR0_TS);
	run_either(k_snips[which < ARRAY_SIZE(k_snips) ? which : 0], u_snips[which], &u, r);
	r->v[1] = u.rbx;
	write_cr0(cr0);
	kdo(k_lldt, 0);
	if (which == 5) {
		/* Where an ltr worked (QEMU takes a null selector), TR is another:
		 * load ours again (its busy bit cleared first). */
		k.gdt[SEL_TSS / 8] &= ~(2ull << 40);
		__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
	}
}

static void swapgs_case(struct isa_rec *r)
{
	uint64_t gs = rng_value(), kgs = rng_value();
	struct uregs u;

	if (!(((int64_t) gs << 16 >> 16) == (int64_t) gs))
		gs = 0x1000;
	if (!(((int64_t) kgs << 16 >> 16) == (int64_t) kgs))
		kgs = 0x2000;
	rand_regs(&u);
	wrmsr(MSR_GS_BASE, gs);
	wrmsr(MSR_KERNEL_GS_BASE, kgs);
	user_variant(r, 3);
	r->v[0] = gs;
	r->v[1] = kgs;
	run_either(k_swapgs, u_swapgs, &u, r);
	r->v[2] = rdmsr(MSR_GS_BASE);
	r->v[3] = rdmsr(MSR_KERNEL_GS_BASE);
	wrmsr(MSR_GS_BASE, 0);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
}

static void cpuid_case(struct isa_rec *r)
{
	/* Leaf 1 EDX: FPU TSC MSR PAE CX8 APIC SEP PGE CMOV FXSR SSE SSE2;
	 * leaf 0x80000001 EDX: SYSCALL NX LM. What every oracle has. */
	static const uint64_t leaves[] = { 1, 0x80000001 };
	static const uint32_t edx_mask[] = { 0x0600a271, 0x20100800 };
	unsigned which = (unsigned) rng_below(2);
	struct uregs u;

	rand_regs(&u);
	u.rax = leaves[which] | (rng() & 0xffffffff00000000ull);
	r->variant |= which;
	user_variant(r, 2);
	run_either(k_cpuid, u_cpuid, &u, r);
	r->v[0] = u.rdx & edx_mask[which];
	r->v[1] = u.rax >> 32;                  /* zeroed */
	r->v[2] = u.rbx >> 32;
	r->v[3] = u.rcx >> 32;
	r->v[4] = u.rdx >> 32;
}

/* --- port I/O ------------------------------------------------------------------------ */

static void pio_case(struct isa_rec *r)
{
	static const void *const k_snips[] = { k_outb_inb, k_inb, k_rep_outsb, k_rep_insb, k_outsb, k_inb_imm };
	static const void *const u_snips[] = { u_outb_inb, u_inb, u_rep_outsb, u_rep_insb, u_outsb, u_inb_imm };
	static const uint64_t ports[] = { PORT_SCRATCH, PORT_SCRATCH, PORT_LSR, 0x400, 0xffff };
	uint8_t *buf = (uint8_t *) (uintptr_t) (ISA_USER_DATA + 0x400);
	unsigned which = (unsigned) rng_below(ARRAY_SIZE(k_snips));
	struct uregs u;

	rand_regs(&u);
	outb(PORT_SCRATCH, 0x5a);               /* device state from earlier cases: gone */
	for (unsigned i = 0; i < 16; i++)
		buf[i] = (uint8_t) rng();
	u.rdx = RNG_PICK(ports) | (rng() & 0xffffffffffff0000ull);
	u.rsi = (uint64_t) (uintptr_t) buf + rng_below(8);
	u.rdi = (uint64_t) (uintptr_t) buf + rng_below(8);
	u.rcx = rng_below(6);
	u.rflags &= ~0x400ull;                  /* DF: forward */
	r->variant |= which;
	user_variant(r, 2);
	if (which == 0 || which == 2 || which == 4)
		u.rdx = (u.rdx & ~0xffffull) | PORT_SCRATCH;   /* writes go to the scratch register only */
	r->v[0] = u.rdx & 0xffff;
	run_either(k_snips[which], u_snips[which], &u, r);
	r->v[1] = u.rax;
	r->v[2] = u.rcx;
	r->v[3] = u.rsi - (uint64_t) (uintptr_t) buf;
	r->v[4] = u.rdi - (uint64_t) (uintptr_t) buf;
	r->v[5] = ((const uint64_t *) buf)[0];
	r->v[6] = ((const uint64_t *) buf)[1];
	r->v[7] = inb(PORT_SCRATCH);
}

static void invlpg_case(struct isa_rec *r)
{
	volatile uint64_t *t = (volatile uint64_t *) (uintptr_t) test_va(TP_EDIT);
	uint64_t before, after;
	struct uregs u;

	rand_regs(&u);
	before = *t;                            /* in the TLB now */
	k.test_pt[TP_EDIT] = (ISA_FRAMES + 0x1000ull * (130 + rng_below(8))) | 0x7;
	u.rsi = rng_below(4) ? test_va(TP_EDIT) + rng_below(4096) : rng_value();
	user_variant(r, 4);
	run_either(k_invlpg, u_invlpg, &u, r);
	if (!(r->variant & VARIANT_USER) && r->vector == ISA_NONE && u.rsi >> 12 == test_va(TP_EDIT) >> 12) {
		after = *t;                     /* flushed: the new frame */
		r->v[1] = after;
	}
	r->v[0] = before;
	r->v[2] = u.rsi;
	reset_test_pages();
}

const struct isa_kind isa_kinds_cpu[] = {
	{ "cr0", "value,read_back,restored", 3, cr0_case },
	{ "cr4", "value,read_back,restored", 3, cr4_case },
	{ "cr3", "value,read_back,loaded", 2, cr3_case },
	{ "cr8", "value,read_back", 1, cr8_case },
	{ "cr2", "value,read_back", 1, cr2_case },
	{ "dr", "value,read_back", 1, dr_case },
	{ "msr", "value,rax,rdx,msr", 4, msr_case },
	{ "dtr", "base,limit,stored_base,stored_limit", 3, dtr_case },
	{ "misc", "rax,rbx", 3, misc_case },
	{ "swapgs", "gs_base,kernel_gs_base,gs_base_after,kernel_gs_base_after", 2, swapgs_case },
	{ "cpuid", "edx_bits,rax_hi,rbx_hi,rcx_hi,rdx_hi", 1, cpuid_case },
	{ "pio", "port,rax,rcx,rsi_off,rdi_off,buf0,buf1,scratch", 3, pio_case },
	{ "invlpg", "before,after,address", 2, invlpg_case },
	{ NULL, NULL, 0, NULL },
};
