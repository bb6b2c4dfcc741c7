/* SPDX-License-Identifier: MIT */
/*
 * Differences the isa differential suite (tests/e2e/test_isa.py) found
 * between shadow mode and hw mode / QEMU, each pinned on the fake CPU:
 *  - IA32_FMASK keeps all 64 bits (KVM and QEMU do; vmmd refused bits 63:32).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/shadow_fake_cpu.h"
#include "vmmd/shadow/emulate.h"

#define CODE 0x1000

static void test_fmask_64_bits(void **state)
{
	static struct fake_cpu fc;
	struct emu_outcome out;
	static const uint8_t wrmsr[] = { 0x0f, 0x30 }, rdmsr[] = { 0x0f, 0x32 };

	fake_cpu_init(&fc);
	fc.cpu.regs.rcx = X86_MSR_SFMASK;
	fc.cpu.regs.rax = 0x47700;
	fc.cpu.regs.rdx = 0x12345678;
	fc.cpu.regs.rip = CODE;
	fake_put(&fc, CODE, wrmsr, sizeof(wrmsr));
	emu_privileged(&fc.cpu, &fc.env, X86_GP, &out);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.pcb.sfmask, 0x1234567800047700ULL);
	fc.cpu.regs.rax = fc.cpu.regs.rdx = 0;
	fc.cpu.regs.rip = CODE;
	fake_put(&fc, CODE, rdmsr, sizeof(rdmsr));
	emu_privileged(&fc.cpu, &fc.env, X86_GP, &out);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rax, 0x47700);
	assert_int_equal(fc.cpu.regs.rdx, 0x12345678);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmask_64_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
