/* SPDX-License-Identifier: MIT */
/* Integer ALU operations on the host CPU (see emulate_alu.h). */
#include "vmmd/shadow/emulate_alu.h"
#include "x86/cpu.h"

#define STATUS (X86_RFLAGS_CF | X86_RFLAGS_PF | X86_RFLAGS_AF | X86_RFLAGS_ZF | X86_RFLAGS_SF | X86_RFLAGS_OF)

/* Load the flags, run the instruction, read the flags back. vmmd is
 * built with the red zone, so step below it before pushing. */
#define FLAGS_IN  "lea -128(%%rsp), %%rsp\n\tpushq %[f]\n\tpopfq\n\t"
#define FLAGS_OUT "\n\tpushfq\n\tpopq %[f]\n\tlea 128(%%rsp), %%rsp"

#define RUN2(text) __asm__ volatile(FLAGS_IN text FLAGS_OUT : [d] "+r"(d), [f] "+r"(f) : [s] "r"(s) : "cc")
#define RUNC(text) __asm__ volatile(FLAGS_IN text FLAGS_OUT : [d] "+r"(d), [f] "+r"(f) : [s] "c"(s) : "cc")
#define RUN1(text) __asm__ volatile(FLAGS_IN text FLAGS_OUT : [d] "+r"(d), [f] "+r"(f) : : "cc")
#define RUNX(text) \
	__asm__ volatile(FLAGS_IN text FLAGS_OUT : [d] "+r"(d), [f] "+r"(f), [a] "+a"(a) : [s] "r"(s) : "cc")

#define SIZED(RUN, b, w, l, q) \
	do { \
		switch (size) { \
		case 1: RUN(b); break; \
		case 2: RUN(w); break; \
		case 4: RUN(l); break; \
		default: RUN(q); break; \
		} \
	} while (0)

/* Bit tests have no byte form. */
#define SIZED16(RUN, w, l, q) \
	do { \
		switch (size) { \
		case 2: RUN(w); break; \
		case 4: RUN(l); break; \
		default: RUN(q); break; \
		} \
	} while (0)

#define OP2(i)  SIZED(RUN2, i "b %b[s], %b[d]", i "w %w[s], %w[d]", i "l %k[s], %k[d]", i "q %q[s], %q[d]")
#define OP1(i)  SIZED(RUN1, i "b %b[d]", i "w %w[d]", i "l %k[d]", i "q %q[d]")
#define OPC(i)  SIZED(RUNC, i "b %%cl, %b[d]", i "w %%cl, %w[d]", i "l %%cl, %k[d]", i "q %%cl, %q[d]")
#define OPBT(i) SIZED16(RUN2, i "w %w[s], %w[d]", i "l %k[s], %k[d]", i "q %q[s], %q[d]")

uint64_t emu_alu(enum emu_alu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t *rflags)
{
	uint64_t d = dst, s = src, f = (*rflags & STATUS) | X86_RFLAGS_FIXED;

	switch (op) {
	case EMU_ALU_ADD: OP2("add"); break;
	case EMU_ALU_OR: OP2("or"); break;
	case EMU_ALU_ADC: OP2("adc"); break;
	case EMU_ALU_SBB: OP2("sbb"); break;
	case EMU_ALU_AND: OP2("and"); break;
	case EMU_ALU_SUB: OP2("sub"); break;
	case EMU_ALU_XOR: OP2("xor"); break;
	case EMU_ALU_CMP: OP2("cmp"); break;
	case EMU_ALU_TEST: OP2("test"); break;
	case EMU_ALU_INC: OP1("inc"); break;
	case EMU_ALU_DEC: OP1("dec"); break;
	case EMU_ALU_NOT: OP1("not"); break;
	case EMU_ALU_NEG: OP1("neg"); break;
	case EMU_ALU_BT: OPBT("bt"); break;
	case EMU_ALU_BTS: OPBT("bts"); break;
	case EMU_ALU_BTR: OPBT("btr"); break;
	case EMU_ALU_BTC: OPBT("btc"); break;
	case EMU_ALU_ROL: OPC("rol"); break;
	case EMU_ALU_ROR: OPC("ror"); break;
	case EMU_ALU_RCL: OPC("rcl"); break;
	case EMU_ALU_RCR: OPC("rcr"); break;
	case EMU_ALU_SHL: OPC("shl"); break;
	case EMU_ALU_SHR: OPC("shr"); break;
	case EMU_ALU_SAR: OPC("sar"); break;
	default:
		return dst;
	}
	*rflags = (*rflags & ~STATUS) | (f & STATUS);
	return d & (size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1);
}

uint64_t emu_alu_cmpxchg(unsigned size, uint64_t dst, uint64_t src, uint64_t *acc, uint64_t *rflags)
{
	uint64_t d = dst, s = src, a = *acc, f = (*rflags & STATUS) | X86_RFLAGS_FIXED;
	uint64_t mask = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;

	SIZED(RUNX, "cmpxchgb %b[s], %b[d]", "cmpxchgw %w[s], %w[d]", "cmpxchgl %k[s], %k[d]", "cmpxchgq %q[s], %q[d]");
	*rflags = (*rflags & ~STATUS) | (f & STATUS);
	*acc = a & mask;
	return d & mask;
}

bool emu_condition(unsigned cc, uint64_t f)
{
	bool cf = f & X86_RFLAGS_CF, zf = f & X86_RFLAGS_ZF, sf = f & X86_RFLAGS_SF, of = f & X86_RFLAGS_OF;
	bool pf = f & X86_RFLAGS_PF, r;

	switch ((cc >> 1) & 7) {
	case 0: r = of; break;                   /* O */
	case 1: r = cf; break;                   /* B */
	case 2: r = zf; break;                   /* E */
	case 3: r = cf || zf; break;             /* BE */
	case 4: r = sf; break;                   /* S */
	case 5: r = pf; break;                   /* P */
	case 6: r = sf != of; break;             /* L */
	default: r = zf || sf != of; break;      /* LE */
	}
	return (cc & 1) ? !r : r;
}
