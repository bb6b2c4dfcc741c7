/* SPDX-License-Identifier: MIT */
/*
 * Differences the isa differential suite (tests/e2e/test_isa.py) found
 * between shadow mode and hw mode / QEMU, each pinned on the fake CPU:
 *  - IA32_FMASK keeps all 64 bits (KVM and QEMU do; vmmd refused bits 63:32);
 *  - the real RFLAGS in virtual kernel mode has AC clear, the virtual one
 *    keeps it (a user's AC followed the kernel into its code and, on a
 *    host that runs CPL3 with CR0.AM set, the kernel took #AC).
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
#include "vmmd/shadow/engine.h"

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

static void test_ac_in_kernel_mode(void **state)
{
	struct shadow_vcpu sv;

	memset(&sv, 0, sizeof(sv));
	/* Kernel mode with the user's AC (an exception frame keeps it). */
	sv.cpu.pcb.vcpl = 0;
	sv.cpu.regs.rflags = X86_RFLAGS_FIXED | X86_RFLAGS_AC | X86_RFLAGS_CF | (3ULL << 12);
	sv.cpu.pcb.vif = true;
	uint64_t real = shadow_real_rflags(&sv);
	assert_int_equal(real, X86_RFLAGS_FIXED | X86_RFLAGS_CF | X86_RFLAGS_IF);
	/* Back from the guest: AC is the virtual one again, IF the real one's. */
	shadow_take_rflags(&sv, real & ~X86_RFLAGS_IF);
	assert_true(sv.cpu.regs.rflags & X86_RFLAGS_AC);
	assert_false(sv.cpu.pcb.vif);
	/* User mode runs with its AC and gives it back as it is. */
	sv.cpu.pcb.vcpl = 3;
	assert_true(shadow_real_rflags(&sv) & X86_RFLAGS_AC);
	shadow_take_rflags(&sv, X86_RFLAGS_FIXED | X86_RFLAGS_IF);
	assert_false(sv.cpu.regs.rflags & X86_RFLAGS_AC);
	assert_true(sv.cpu.pcb.vif);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmask_64_bits),
		cmocka_unit_test(test_ac_in_kernel_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
