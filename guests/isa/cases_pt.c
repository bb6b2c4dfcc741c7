// SPDX-License-Identifier: MIT
/*
 * Cases: edits of a live page-table entry through every instruction that
 * can write memory — mov (64/32/8 bits, immediate), movs and stos with and
 * without rep, xchg, cmpxchg, cmpxchg8b, cmpxchg16b (locked or not), add,
 * sub, and, or, xor, inc, dec, not, neg, adc, sbb, xadd, bts/btr/btc with a
 * register or an immediate, setcc, and push/call with the stack on the
 * page-table page — from CPL0 (through the kernel's identity map) and from
 * CPL3 (through a user alias of the same table). The entry maps the test
 * page TP_EDIT; before the edit the page is read, so the table is in use
 * (a shadow MMU write-protects it). Afterwards the case records both
 * entries, the registers and flags the instruction left, then flushes the
 * page and reads through it: the new mapping, or the fault it gives.
 *
 * Operands keep the entries pointing into the pattern frames (or far
 * enough out that nothing is read through them), so every oracle reads the
 * same bytes.
 */
#include "cpu.h"
#include "isa.h"

enum operands {
	OP_VALUE,       /* rax: a whole entry */
	OP_BYTE,        /* rax: a flag byte */
	OP_SOURCE,      /* rsi: entries to copy, rcx: 1-2 */
	OP_STORE_REP,   /* rax: an entry, rcx: 1-2 */
	OP_CMPXCHG,     /* rax: expected (the entry or not), rbx: new */
	OP_CMPXCHG8B,   /* edx:eax expected, ecx:ebx new */
	OP_CMPXCHG16B,  /* rdx:rax expected, rcx:rbx new (both entries) */
	OP_ADD,         /* rax: a small addend */
	OP_MASK_AND,    /* rax: clears a few safe bits */
	OP_MASK,        /* rax: a few safe bits */
	OP_BIT,         /* rax: a bit number, 0-127 */
	OP_NONE,
	OP_STACK,       /* rax: an entry; rdi: the entry + 8 (the stack top) */
};

#define EDIT(name, ops) { #name, k_pt_##name, u_pt_##name, ops }
#define DECL(name) extern char k_pt_##name[], u_pt_##name[]
DECL(mov); DECL(mov32); DECL(mov8); DECL(mov_imm); DECL(movsq); DECL(rep_movsq); DECL(stosq);
DECL(rep_stosq); DECL(stosl); DECL(stosb); DECL(xchg); DECL(cmpxchg); DECL(lock_cmpxchg);
DECL(cmpxchg8b); DECL(lock_cmpxchg8b); DECL(cmpxchg16b); DECL(lock_cmpxchg16b); DECL(add); DECL(sub);
DECL(and); DECL(or); DECL(xor); DECL(lock_add); DECL(lock_and); DECL(lock_or); DECL(lock_xor);
DECL(add_imm); DECL(and_imm); DECL(or_imm8); DECL(inc); DECL(dec); DECL(lock_inc); DECL(not); DECL(neg);
DECL(adc); DECL(sbb); DECL(bts); DECL(btr); DECL(btc); DECL(lock_bts); DECL(lock_btr); DECL(bts_imm);
DECL(btr_imm); DECL(btc_imm); DECL(lock_btr_imm); DECL(setc); DECL(setz); DECL(push); DECL(call);
DECL(xadd);

static const struct edit {
	const char *name;
	const void *k, *u;
	enum operands ops;
} edits[] = {
	EDIT(mov, OP_VALUE), EDIT(mov32, OP_VALUE), EDIT(mov8, OP_BYTE), EDIT(mov_imm, OP_NONE),
	EDIT(movsq, OP_SOURCE), EDIT(rep_movsq, OP_SOURCE), EDIT(stosq, OP_VALUE), EDIT(rep_stosq, OP_STORE_REP),
	EDIT(stosl, OP_VALUE), EDIT(stosb, OP_BYTE), EDIT(xchg, OP_VALUE), EDIT(cmpxchg, OP_CMPXCHG),
	EDIT(lock_cmpxchg, OP_CMPXCHG), EDIT(cmpxchg8b, OP_CMPXCHG8B), EDIT(lock_cmpxchg8b, OP_CMPXCHG8B),
	EDIT(cmpxchg16b, OP_CMPXCHG16B), EDIT(lock_cmpxchg16b, OP_CMPXCHG16B), EDIT(add, OP_ADD),
	EDIT(sub, OP_ADD), EDIT(and, OP_MASK_AND), EDIT(or, OP_MASK), EDIT(xor, OP_MASK),
	EDIT(lock_add, OP_ADD), EDIT(lock_and, OP_MASK_AND), EDIT(lock_or, OP_MASK), EDIT(lock_xor, OP_MASK),
	EDIT(add_imm, OP_NONE), EDIT(and_imm, OP_NONE), EDIT(or_imm8, OP_NONE), EDIT(inc, OP_NONE),
	EDIT(dec, OP_NONE), EDIT(lock_inc, OP_NONE), EDIT(not, OP_NONE), EDIT(neg, OP_NONE), EDIT(adc, OP_ADD),
	EDIT(sbb, OP_ADD), EDIT(bts, OP_BIT), EDIT(btr, OP_BIT), EDIT(btc, OP_BIT), EDIT(lock_bts, OP_BIT),
	EDIT(lock_btr, OP_BIT), EDIT(bts_imm, OP_NONE), EDIT(btr_imm, OP_NONE), EDIT(btc_imm, OP_NONE),
	EDIT(lock_btr_imm, OP_NONE), EDIT(setc, OP_NONE), EDIT(setz, OP_NONE), EDIT(push, OP_STACK),
	EDIT(call, OP_STACK), EDIT(xadd, OP_ADD),
};

#define PTE_P    0x1ull
#define PTE_ADDR 0x000ffffffffff000ull
/* Bits an entry may carry here: flags, ignored bits, NX; the address of a
 * pattern frame comes on top. Bit 51 (reserved where MAXPHYADDR < 52) now
 * and then. */
#define SAFE_FLAGS (0xfffull | 0x7ff0000000000000ull | (1ull << 63))
#define SAFE_ADDR  0x3f000ull          /* 64 frames from ISA_FRAMES + 512 KiB */

static uint64_t frame_pte(void)
{
	uint64_t e = ISA_FRAMES + 0x80000 + (rng() & SAFE_ADDR);

	e |= rng() & SAFE_FLAGS & ~(rng() & 0x8000000000000ffeull);   /* fewer flags, mostly */
	if (rng_below(4))
		e |= PTE_P;
	if (rng_below(16) == 0)
		e |= 1ull << 51;
	return e;
}

static uint64_t safe_mask(void)
{
	uint64_t m = 0;

	for (unsigned n = 1 + rng_below(3); n; n--) {
		unsigned b = (unsigned) rng_below(32);
		m |= 1ull << (b < 18 ? b : b + 34);     /* bits 0-17, 52-63 */
	}
	if (rng_below(16) == 0)
		m |= 1ull << 51;
	return m;
}

static uint64_t bit_number(void)
{
	uint64_t b = rng_below(32);

	b = b < 18 ? b : b + 34;
	return b + (rng() & 1 ? 64 : 0);
}

/* Would reading through this entry touch memory outside the pattern frames
 * and the image that differs between oracles (or a device)? Then the read
 * is skipped. Bit 51 is reserved on every oracle here: that read faults. */
static bool read_safe(uint64_t e)
{
	return !(e & PTE_P) || (e & 0x0007fffffe000000ull) == 0 || ((e & (1ull << 51)) && k.phys_bits < 52);
}

#define READ_SKIPPED  0x5c1bbedull
#define READ_FAULTED  0xfa17ull

SNIPPET(load);

/* Flush and read through a test page: the value, or the fault it gives. */
static uint64_t read_through(enum test_page p, uint64_t off)
{
	struct uregs u = { .rsi = test_va(p) + off };
	struct isa_rec scratch;

	if (!read_safe(k.test_pt[p]))
		return READ_SKIPPED;
	invlpg(test_va(p));
	if (run_k(k_load, &u, &scratch))
		return READ_FAULTED << 48 | (uint64_t) scratch.vector << 32 | scratch.error;
	return u.rax;
}

static void pt_edit_case(struct isa_rec *r)
{
	unsigned which = (unsigned) rng_below(ARRAY_SIZE(edits));
	const struct edit *e = &edits[which];
	uint64_t *src = (uint64_t *) (uintptr_t) (ISA_USER_DATA + 0xa00);
	uint64_t pte_va;
	struct uregs u;
	bool user = rng() & 1;

	rand_regs(&u);
	k.test_pt[TP_EDIT] = (frame_pte() | PTE_P) & ~(1ull << 51);
	k.test_pt[TP_EDIT2] = (frame_pte() | PTE_P) & ~(1ull << 51);
	invlpg(test_va(TP_EDIT));
	invlpg(test_va(TP_EDIT2));
	(void) read_through(TP_EDIT, 0);        /* the table is in use now */
	pte_va = user ? ISA_USER_PT : (uint64_t) (uintptr_t) k.test_pt;
	pte_va += 8 * TP_EDIT;
	u.rdi = pte_va;
	switch (e->ops) {
	case OP_VALUE:
	case OP_STACK:
		u.rax = frame_pte();
		if (e->ops == OP_STACK)
			u.rdi += 8;
		break;
	case OP_BYTE:
		u.rax = rng();
		break;
	case OP_SOURCE:
		src[0] = frame_pte();
		src[1] = frame_pte();
		src[2] = frame_pte();
		u.rsi = (uint64_t) (uintptr_t) (src + 1);
		u.rcx = 1 + rng_below(2);
		break;
	case OP_STORE_REP:
		u.rax = frame_pte();
		u.rcx = 1 + rng_below(2);
		break;
	case OP_CMPXCHG:
		u.rax = rng() & 1 ? k.test_pt[TP_EDIT] : frame_pte();
		u.rbx = frame_pte();
		break;
	case OP_CMPXCHG8B:
		if (rng() & 1) {
			u.rax = (uint32_t) k.test_pt[TP_EDIT];
			u.rdx = k.test_pt[TP_EDIT] >> 32;
		}
		u.rbx = frame_pte();
		u.rcx = u.rbx >> 32 | (rng() & 0xffffffff00000000ull);
		break;
	case OP_CMPXCHG16B:
		if (rng() & 1) {
			u.rax = k.test_pt[TP_EDIT];
			u.rdx = rng_below(4) ? k.test_pt[TP_EDIT2] : frame_pte();
		}
		u.rbx = frame_pte();
		u.rcx = frame_pte();
		break;
	case OP_ADD:
		u.rax = rng() & 0x3ffff;
		break;
	case OP_MASK_AND:
		u.rax = ~safe_mask();
		break;
	case OP_MASK:
		u.rax = safe_mask();
		break;
	case OP_BIT:
		u.rax = bit_number();
		break;
	case OP_NONE:
		break;
	}
	r->variant = (uint16_t) which | (user ? VARIANT_USER : 0);
	r->v[8] = k.test_pt[TP_EDIT];
	r->v[9] = k.test_pt[TP_EDIT2];
	r->v[10] = u.rax;
	if (!user && e->ops == OP_CMPXCHG16B && skipped(r, SKIP_CPL0_CMPXCHG16B)) {
		reset_test_pages();
		return;
	}
	run_either(e->k, e->u, &u, r);
	r->v[0] = k.test_pt[TP_EDIT];
	r->v[1] = k.test_pt[TP_EDIT2];
	r->v[2] = u.rax;
	r->v[3] = u.rdx;
	r->v[4] = (user ? u.r11 : u.rflags) & 0xcd5;
	r->v[5] = read_through(TP_EDIT, 8 * rng_below(512));
	r->v[6] = k.test_pt[TP_EDIT];   /* A (and D) as the read left them */
	r->v[7] = read_through(TP_EDIT2, 0);
	r->v[11] = k.test_pt[TP_EDIT2];
	r->v[12] = u.rbx;
	r->v[13] = u.rcx;
	r->v[14] = u.rsi;
	r->v[15] = u.rdi - pte_va;
	reset_test_pages();
}

const struct isa_kind isa_kinds_pt[] = {
	{ "pt_edit", "pte,pte2,rax,rdx,flags,read,pte_after_read,read2,pte_before,pte2_before,rax_before,"
		     "pte2_after_read,rbx,rcx,rsi,rdi_moved", 10, pt_edit_case },
	{ NULL, NULL, 0, NULL },
};
