// SPDX-License-Identifier: MIT
/*
 * Cases: exceptions, with and without error codes, from CPL0 and CPL3 —
 * #DE, #UD, #GP, #SS, #PF in every flavour the test pages offer (not
 * present, read-only, no-execute, supervisor-only, reserved bit), #BP,
 * #AC, and software interrupts through user, kernel, trap and not-present
 * gates. The record is the frame the kernel's handler got.
 */
#include "cpu.h"
#include "isa.h"

SNIPPET(div);
SNIPPET(idiv);
SNIPPET(ud2);
SNIPPET(load);
SNIPPET(store);
SNIPPET(load_rbp);
SNIPPET(int3);
SNIPPET(int80);
SNIPPET(int81);
SNIPPET(int82);
SNIPPET(int83);
SNIPPET(int_high);
SNIPPET(into);
SNIPPET(misaligned);
SNIPPET(ac_load);
SNIPPET(fetch);

static void rec_out(struct isa_rec *r, const struct uregs *u)
{
	r->v[0] = u->rax;
	r->v[1] = u->rdx;
	r->v[2] = u->rflags & 0xcd5;
}

static void arith_case(struct isa_rec *r)
{
	static const void *const k_snips[] = { k_div, k_idiv, k_ud2, k_into };
	static const void *const u_snips[] = { u_div, u_idiv, u_ud2, u_into };
	unsigned which = (unsigned) rng_below(ARRAY_SIZE(k_snips));
	struct uregs u;

	rand_regs(&u);
	if (rng_below(3) == 0)
		u.rcx = 0;
	else if (rng() & 1)
		u.rdx = rng_below(3);           /* small dividends mostly divide */
	r->variant = (uint16_t) which;
	if (rng() & 1)
		r->variant |= VARIANT_USER;
	run_either(k_snips[which], u_snips[which], &u, r);
	/* After a #DE nothing is defined but the frame; div leaves the status
	 * flags undefined (the syscall's R11 has them). */
	if (r->vector == ISA_NONE || r->vector == VEC_SYSCALL) {
		r->v[0] = u.rax;
		r->v[1] = u.rdx;
		if (which < 2)
			r->rflags &= ~0x8d5ull;
	}
}

/* Addresses a load, store or fetch may touch. */
static uint64_t target(unsigned *ret_which)
{
	static const uint64_t other[] = {
		0x0000800000000000ull, 0xffff7ffffffff000ull, 0x8000000000000000ull,   /* non-canonical */
		0x300000 /* free kernel RAM */, ISA_USER_DATA /* its first 256 bytes: this kind's */, ISA_USER_CODE, 0xffffff0000000000ull /* vmmd's slot 510: unmapped */,
		0x7fffffffe000ull, 0xfffffffffffff000ull,
	};
	unsigned which = (unsigned) rng_below(TP_EDIT + ARRAY_SIZE(other));

	*ret_which = which;
	if (which < TP_EDIT)
		return test_va(which) + 8 * rng_below(512);
	if (other[which - TP_EDIT] == ISA_USER_DATA)
		return ISA_USER_DATA + 8 * rng_below(32);
	return other[which - TP_EDIT] + 8 * rng_below(512);
}

static void mem_case(struct isa_rec *r)
{
	static const void *const k_snips[] = { k_load, k_store, k_fetch, k_load_rbp };
	static const void *const u_snips[] = { u_load, u_store, u_fetch, u_load_rbp };
	unsigned which = (unsigned) rng_below(ARRAY_SIZE(k_snips)), t;
	uint64_t va = target(&t);
	struct uregs u;

	rand_regs(&u);
	u.rsi = u.rdi = u.rbp = va;
	r->variant = (uint16_t) (which | t << 4);
	if (rng() & 1)
		r->variant |= VARIANT_USER;
	/* A kernel fetch runs only what can return: `ret` at TP_CODE, or a fault. */
	if (which == 2 && !(r->variant & VARIANT_USER) && t != TP_CODE && t != TP_NX && t != TP_NP &&
	    t != TP_RSVD)
		u.rsi = test_va(TP_CODE);
	/* A user fetch of a kernel page must fault before it runs: TP_CODE and
	 * TP_UCODE hold code that returns to the kernel (`ret` faults at CPL3
	 * anyway: its stack is the user's; syscall is the way back). */
	if (which == 2 && (r->variant & VARIANT_USER) &&
	    (t == TP_URW || t == TP_URO || u.rsi >> 12 == ISA_USER_DATA >> 12 || u.rsi >> 12 == ISA_USER_CODE >> 12))
		u.rsi = rng() & 1 ? test_va(TP_UCODE) : ISA_USER_CODE;   /* user code there: syscall */
	r->v[3] = u.rsi;
	run_either(k_snips[which], u_snips[which], &u, r);
	if (which != 2)
		rec_out(r, &u);
	/* A store into a pattern frame: put the pattern back (and zeros in
	 * the user data this kind owns): the next case must not see it. */
	if (which == 1 && t < TP_EDIT && r->vector == (r->variant & VARIANT_USER ? VEC_SYSCALL : ISA_NONE)) {
		uint64_t pa = (k.test_pte[t] & 0x000ffffffffff000ull) + (va & 0xfff);
		*(uint64_t *) (uintptr_t) pa = pa ^ ISA_PATTERN;
	}
	if (va >> 12 == ISA_USER_DATA >> 12)
		*(uint64_t *) (uintptr_t) va = 0;
	reset_test_pages();
}

static void int_case(struct isa_rec *r)
{
	static const void *const k_snips[] = { k_int3, k_int80, k_int81, k_int82, k_int83, k_int_high };
	static const void *const u_snips[] = { u_int3, u_int80, u_int81, u_int82, u_int83, u_int_high };
	unsigned which = (unsigned) rng_below(ARRAY_SIZE(k_snips));
	struct uregs u;

	rand_regs(&u);
	r->variant = (uint16_t) which;
	if (rng_below(3))
		r->variant |= VARIANT_USER;
	else if (which > 0 && skipped(r, SKIP_CPL0_INT))
		return;
	run_either(k_snips[which], u_snips[which], &u, r);
	r->v[0] = u.rax;
}

/* #AC: CR0.AM and RFLAGS.AC, a misaligned access from user mode. */
static void ac_case(struct isa_rec *r)
{
	uint64_t cr0 = read_cr0();
	struct uregs u;

	rand_regs(&u);
	u.rsi = test_va(TP_URO) + 8 * rng_below(511);  /* pattern data, never written */
	if (rng() & 1)
		write_cr0(cr0 | (1ull << 18));
	r->variant = VARIANT_USER | ((cr0 ^ read_cr0()) != 0);
	u.rflags = rng_status_flags();
	/* run_u keeps only the status flags: AC goes in through a user popf. */
	u.rbx = rng_status_flags() | 0x202 | (rng() & 1 ? 0x40000 : 0);
	run_u(u_ac_load, &u, r);
	write_cr0(cr0);
	rec_out(r, &u);
}

const struct isa_kind isa_kinds_exc[] = {
	{ "arith", "rax,rdx", 3, arith_case },
	{ "mem", "rax,rdx,flags,address", 8, mem_case },
	{ "int", "rax", 3, int_case },
	{ "ac", "rax,rdx,flags", 1, ac_case },
	{ NULL, NULL, 0, NULL },
};
