/* SPDX-License-Identifier: MIT */
/*
 * mov to/from the debug registers on the virtual CPU (vmmd/shadow/debugreg.c
 * through emulate.c), on the fake CPU. Found by the isa differential suite:
 * a kernel's `mov %rax, %dr7` was #GP in shadow mode.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/shadow_fake_cpu.h"
#include "vmmd/shadow/debugreg.h"
#include "vmmd/shadow/emulate.h"

#define CODE 0x1000

static struct fake_cpu fc;
static struct emu_outcome out;

static void run(unsigned cpl, const uint8_t *code, size_t len)
{
	fc.cpu.pcb.vcpl = cpl;
	fc.cpu.regs.rip = CODE;
	fake_put(&fc, CODE, code, len);
	emu_privileged(&fc.cpu, &fc.env, X86_GP, &out);
}

#define RUN(cpl, ...) do { const uint8_t b_[] = { __VA_ARGS__ }; run(cpl, b_, sizeof(b_)); } while (0)

static int reset(void **state)
{
	fake_cpu_init(&fc);
	fc.cpu.pcb.cr4 = X86_CR4_PAE;
	debugreg_reset(&fc.cpu.pcb);
	return 0;
}

static void test_dr7_round_trip(void **state)
{
	fc.cpu.regs.rax = 0xffffdfff;               /* reserved bits 12, 14, 15 read 0, bit 10 reads 1; no GD */
	RUN(0, 0x0f, 0x23, 0xf8);                   /* mov %rax, %dr7 */
	assert_int_equal(out.status, EMU_DONE);
	assert_string_equal(out.mnemonic, "mov dr7");
	assert_int_equal(fc.cpu.regs.rip, CODE + 3);
	RUN(0, 0x0f, 0x21, 0xfb);                   /* mov %dr7, %rbx */
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rbx, 0xffff0fffULL);
	/* Bits 63:32 of DR6/DR7: #GP(0), nothing changes. */
	fc.cpu.regs.rax = 1ULL << 32;
	RUN(0, 0x0f, 0x23, 0xf8);
	assert_int_equal(out.status, EMU_EXCEPTION);
	assert_int_equal(out.vector, X86_GP);
	assert_int_equal(fc.cpu.pcb.dr7, 0xffff0fffULL);
	assert_int_equal(fc.cpu.regs.rip, CODE);
}

static void test_dr0_dr6_and_aliases(void **state)
{
	uint64_t v;

	fc.cpu.regs.rcx = 0xdead0000beefULL;
	RUN(0, 0x0f, 0x23, 0xc1);                   /* mov %rcx, %dr0 */
	assert_int_equal(fc.cpu.pcb.dr[0], 0xdead0000beefULL);
	fc.cpu.regs.rax = 0;
	RUN(0, 0x0f, 0x23, 0xf0);                   /* mov %rax, %dr6 */
	assert_int_equal(debugreg_read(&fc.cpu.pcb, 6, &v), 0);
	assert_int_equal(v, 0xffff0ff0ULL);
	/* DR4/DR5 are DR6/DR7 without CR4.DE, #UD with it. */
	RUN(0, 0x0f, 0x21, 0xea);                   /* mov %dr5, %rdx */
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rdx, 0x400);
	fc.cpu.pcb.cr4 |= X86_CR4_DE;
	RUN(0, 0x0f, 0x21, 0xea);
	assert_int_equal(out.status, EMU_EXCEPTION);
	assert_int_equal(out.vector, X86_UD);
}

/* DR7.GD: the next mov DRn is a #DB fault; DR6.BD tells why, GD is gone. */
static void test_general_detect(void **state)
{
	fc.cpu.regs.rax = 0x2400;
	RUN(0, 0x0f, 0x23, 0xf8);                   /* mov %rax, %dr7: sets GD */
	assert_int_equal(out.status, EMU_DONE);
	RUN(0, 0x0f, 0x21, 0xfb);                   /* mov %dr7, %rbx */
	assert_int_equal(out.status, EMU_EXCEPTION);
	assert_int_equal(out.vector, X86_DB);
	assert_false(out.has_error);
	assert_int_equal(fc.cpu.regs.rip, CODE);
	assert_true(fc.cpu.pcb.dr6 & (1u << 13));
	assert_int_equal(fc.cpu.pcb.dr7, 0x400);
	RUN(0, 0x0f, 0x21, 0xfb);                   /* GD cleared: the read works */
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rbx, 0x400);
	/* #GP at CPL3 comes before it. */
	fc.cpu.pcb.dr7 |= 1u << 13;
	RUN(3, 0x0f, 0x21, 0xfb);
	assert_int_equal(out.vector, X86_GP);
}

static void test_cpl3_gp(void **state)
{
	fc.cpu.regs.rax = 0x401;
	RUN(3, 0x0f, 0x23, 0xf8);
	assert_int_equal(out.status, EMU_EXCEPTION);
	assert_int_equal(out.vector, X86_GP);
	assert_int_equal(out.error, 0);
	assert_int_equal(fc.cpu.pcb.dr7, 0x400);
	RUN(3, 0x0f, 0x21, 0xc0);                   /* mov %dr0, %rax */
	assert_int_equal(out.vector, X86_GP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_dr7_round_trip, reset),
		cmocka_unit_test_setup(test_dr0_dr6_and_aliases, reset),
		cmocka_unit_test_setup(test_general_detect, reset),
		cmocka_unit_test_setup(test_cpl3_gp, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
