// SPDX-License-Identifier: MIT
/*
 * Cases: changes of privilege and of segment — iretq and sysretq in every
 * direction (kernel to kernel, kernel to user, user to user), syscall,
 * far returns, jumps and calls through m16:32/m16:64, and segment loads
 * (mov, pop, lss/lfs/lgs) with good and bad selectors, from both CPLs.
 */
#include "cpu.h"
#include "isa.h"

SNIPPET(pushf);
SNIPPET(syscall_only);
SNIPPET(iret_same);
SNIPPET(mov_ds);
SNIPPET(mov_es);
SNIPPET(mov_fs);
SNIPPET(mov_gs);
SNIPPET(mov_ss);
SNIPPET(pop_fs);
SNIPPET(pop_gs);
SNIPPET(lfs);
SNIPPET(lgs);
SNIPPET(lss);
extern char k_lretq[], k_lretl[], k_ljmpq[], k_ljmpl[], k_lcallq[], k_lcalll[], k_seg_restore[];

#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101

#define RFLAGS_TF   0x100ull
#define RFLAGS_IF   0x200ull
#define RFLAGS_DF   0x400ull
#define RFLAGS_IOPL 0x3000ull
#define RFLAGS_NT   0x4000ull
#define RFLAGS_AC   0x40000ull

/* Flags a frame may ask for: status, DF, AC, IF, IOPL, NT (never TF: no #DB here). */
static uint64_t frame_flags(void)
{
	uint64_t f = rng_status_flags() | 0x2;

	if (rng() & 1)
		f |= RFLAGS_IF;
	if (rng_below(4) == 0)
		f |= RFLAGS_AC;
	if (rng_below(6) == 0)
		f |= rng() & RFLAGS_IOPL;
	if (rng_below(8) == 0)
		f |= RFLAGS_NT;
	return f;
}

static uint64_t canonical(uint64_t v)
{
	return (uint64_t) ((int64_t) (v << 16) >> 16);
}

/* --- kernel to user: iretq or sysretq into user code that reports its RFLAGS ------ */

static void enter_user_case(struct isa_rec *r)
{
	static const uint64_t cs[] = { SEL_UCODE, SEL_UCODE, SEL_UCODE, SEL_KCODE | 3, SEL_KCODE, 0x3,
				       SEL_CODE_NP | 3, SEL_CCODE | 3, SEL_LIMIT | 3, SEL_UDATA };
	static const uint64_t ss[] = { SEL_UDATA, SEL_UDATA, SEL_UDATA, 0, 3, SEL_KDATA | 3, SEL_KDATA,
				       SEL_DATA3_BASE | 3, SEL_DATA_NP | 3, SEL_RODATA | 3, SEL_UCODE };
	bool sysret = rng_below(3) == 0;
	struct uregs u;

	rand_regs(&u);
	u.rflags = frame_flags();
	u.rsp = ISA_USER_STACK_TOP - 8 * rng_below(16);
	u.rip = user_va(rng() & 1 ? u_pushf : u_syscall_only);
	if (rng_below(8) == 0)
		u.rip = rng_below(2) ? canonical(rng()) | 0x800000000000ull : rng_value();
	r->variant = sysret;
	if (sysret) {
		r->v[0] = u.rip;
		r->v[1] = u.rflags;
		if (run_user_sysret(&u)) {
			rec_trap(r);
			return;
		}
	} else {
		u.cs = RNG_PICK(cs);
		u.ss = RNG_PICK(ss);
		if ((u.cs != SEL_UCODE || u.ss != SEL_UDATA) && skipped(r, SKIP_IRET_BAD))
			return;
		r->v[0] = u.rip;
		r->v[1] = u.rflags;
		r->v[2] = u.cs;
		r->v[3] = u.ss;
		if (run_user(&u)) {
			rec_trap(r);
			return;
		}
	}
	rec_trap(r);
	/* What user mode saw: pushf's RFLAGS (u_pushf), the registers kept. */
	r->v[4] = k.last.rax;
	r->v[5] = k.last.rbx ^ u.rbx;
	r->v[6] = k.last.r12 ^ u.r12;
	r->v[7] = k.last.rdx ^ u.rdx;
}

/* --- the same level: iretq inside the kernel, or inside user mode ----------------- */

static void iret_same_case(struct isa_rec *r)
{
	static const uint64_t k_cs[] = { SEL_KCODE, SEL_KCODE, SEL_RCODE, SEL_XCODE, SEL_CODE_NP, SEL_KDATA, 0,
					 SEL_LIMIT, SEL_CCODE, SEL_UCODE & ~3ull };
	static const uint64_t k_ss[] = { SEL_KDATA, SEL_KDATA, 0, SEL_RODATA, SEL_DATA_NP, SEL_DATA0_BASE,
					 SEL_UDATA & ~3ull, SEL_KCODE, SEL_LIMIT };
	static const uint64_t u_cs[] = { SEL_UCODE, SEL_UCODE, SEL_CCODE | 3, SEL_KCODE | 3, SEL_KCODE,
					 SEL_CODE_NP | 3, SEL_LIMIT | 3, 0 };
	static const uint64_t u_ss[] = { SEL_UDATA, SEL_UDATA, SEL_DATA3_BASE | 3, 0, 3, SEL_KDATA | 3,
					 SEL_DATA_NP | 3, SEL_UCODE };
	struct uregs u;

	rand_regs(&u);
	u.rax = frame_flags();
	/* The RFLAGS the iretq runs with: NT there makes it a task return (#GP). */
	u.r8 = rng_status_flags() | 0x2 | (rng_below(8) == 0 ? RFLAGS_NT : 0);
	if (rng() & 1) {
		r->variant = VARIANT_USER;
		u.rcx = RNG_PICK(u_cs);
		u.rdx = RNG_PICK(u_ss);
		u.r8 |= RFLAGS_IF;              /* popf at CPL3 must not try to change IF */
	} else {
		u.rcx = RNG_PICK(k_cs);
		u.rdx = RNG_PICK(k_ss);
		u.rax &= ~RFLAGS_IF;            /* the kernel keeps IF = 0 */
		u.r8 &= ~RFLAGS_IF;
		if ((u.rcx != SEL_KCODE || u.rdx != SEL_KDATA) && skipped(r, SKIP_IRET_BAD))
			return;
	}
	r->v[0] = u.rax;
	r->v[1] = u.rcx;
	r->v[2] = u.rdx;
	r->v[3] = u.r8;
	run_either(k_iret_same, u_iret_same, &u, r);
	r->v[4] = u.rax;
	if (!(r->variant & VARIANT_USER))
		r->v[4] &= ~(RFLAGS_IF | RFLAGS_AC);    /* a kernel pushf: see run_k */
	if (!(r->variant & VARIANT_USER))
		ktry(k_seg_restore, &u);
}

/* --- syscall from user mode: what the kernel gets in RCX and R11 ------------------- */

static void syscall_case(struct isa_rec *r)
{
	uint64_t fmask = rdmsr(MSR_FMASK);
	struct uregs u;

	rand_regs(&u);
	/* The user's RFLAGS comes in through iretq: status, DF, AC, IF. */
	u.rflags = rng_status_flags();
	if (rng() & 1)
		wrmsr(MSR_FMASK, rng() & 0x3f7fd7);
	r->v[0] = rdmsr(MSR_FMASK);
	r->v[1] = u.rbx;
	run_u(u_syscall_only, &u, r);
	wrmsr(MSR_FMASK, fmask);
	/* rec_trap: rip = RCX, rflags = R11 (both entry paths). */
	r->v[2] = u.rbx;
	r->v[3] = u.r12;
}

/* --- far transfers in the kernel ---------------------------------------------------- */

static void far_case(struct isa_rec *r)
{
	static const void *const snips[] = { k_lretq, k_lretl, k_ljmpq, k_ljmpl, k_lcallq, k_lcalll };
	/* SEL_UCODE last: a far return to it would go to user mode, only jmp/call try it. */
	static const uint64_t cs[] = { SEL_KCODE, SEL_KCODE, SEL_RCODE, SEL_XCODE, SEL_CODE_NP, SEL_KDATA, 0,
				       SEL_LIMIT, SEL_CCODE, SEL_KCODE | 3, SEL_TSS, 4, SEL_UCODE };
	unsigned which = (unsigned) rng_below(ARRAY_SIZE(snips));
	struct uregs u;

	rand_regs(&u);
	u.rdx = cs[rng_below(ARRAY_SIZE(cs) - (which < 2))] | (rng() & 0xffffffffffff0000ull);
	u.rsi = ISA_USER_DATA + 0x800;
	u.r9 = u.r10 = 0;
	r->variant = (uint16_t) which;
	r->v[0] = u.rdx & 0xffff;
	if (((which & 1) && skipped(r, SKIP_FAR32)) || skipped(r, SKIP_CPL0_FAR))
		return;
	run_k(snips[which], &u, r);
	r->v[1] = u.r9;                 /* lcall: the pushed return address ... */
	r->v[2] = u.r10;                /* ... and CS */
	ktry(k_seg_restore, &u);
}

/* --- segment loads ------------------------------------------------------------------ */

static void seg_case(struct isa_rec *r)
{
	static const void *const k_snips[] = { k_mov_ds, k_mov_es, k_mov_fs, k_mov_gs, k_mov_ss, k_pop_fs,
					       k_pop_gs, k_lfs, k_lgs, k_lss };
	static const void *const u_snips[] = { u_mov_ds, u_mov_es, u_mov_fs, u_mov_gs, u_mov_ss, u_pop_fs,
					       u_pop_gs, u_lfs, u_lgs, u_lss };
	static const uint64_t sels[] = { 0, 1, 3, SEL_KDATA, SEL_KDATA | 3, SEL_UDATA, SEL_UDATA & ~3ull,
					 SEL_DATA_NP, SEL_DATA3_BASE | 3, SEL_DATA0_BASE, SEL_RODATA, SEL_XCODE,
					 SEL_RCODE, SEL_KCODE, SEL_CODE_NP, SEL_TSS, SEL_LIMIT, 0xfff8, 4,
					 SEL_UCODE };
	unsigned which = (unsigned) rng_below(ARRAY_SIZE(k_snips));
	uint16_t *far = (uint16_t *) (uintptr_t) (ISA_USER_DATA + 0x900);
	uint64_t sel = RNG_PICK(sels);
	struct uregs u;

	rand_regs(&u);
	wrmsr(MSR_FS_BASE, 0x1000);
	wrmsr(MSR_GS_BASE, 0x2000);
	u.rax = sel | (rng() & 0xffffffffffff0000ull);
	*(uint32_t *) far = 0x3000;                     /* offset, then the selector */
	far[2] = (uint16_t) sel;
	u.rsi = (uint64_t) (uintptr_t) far;
	r->variant = (uint16_t) which;
	if (rng() & 1)
		r->variant |= VARIANT_USER;
	r->v[0] = sel;
	run_either(k_snips[which], u_snips[which], &u, r);
	r->v[1] = u.rbx;
	if (!(r->variant & VARIANT_USER)) {
		/* In 64-bit mode a load of FS/GS takes the descriptor's base. */
		r->v[2] = rdmsr(MSR_FS_BASE);
		r->v[3] = rdmsr(MSR_GS_BASE);
	}
	ktry(k_seg_restore, &u);
	wrmsr(MSR_FS_BASE, 0);
	wrmsr(MSR_GS_BASE, 0);
}

const struct isa_kind isa_kinds_mode[] = {
	{ "enter_user", "frame_rip,frame_rflags,frame_cs,frame_ss,user_rflags,rbx_diff,r12_diff,rdx_diff", 5,
	  enter_user_case },
	{ "iret_same", "frame_rflags,frame_cs,frame_ss,rflags_before,rflags_after", 4, iret_same_case },
	{ "syscall", "fmask,rbx,rbx_after,r12_after", 3, syscall_case },
	{ "far", "cs,pushed_rip,pushed_cs", 3, far_case },
	{ "seg", "selector,rbx,fs_base,gs_base", 4, seg_case },
	{ NULL, NULL, 0, NULL },
};
