/* SPDX-License-Identifier: MIT */
/*
 * Differences the isa differential suite (tests/e2e/test_isa.py) found
 * between shadow mode and hw mode / QEMU, each pinned on the fake CPU:
 *  - IA32_FMASK keeps all 64 bits (KVM and QEMU do; vmmd refused bits 63:32);
 *  - the real RFLAGS in virtual kernel mode has AC clear, the virtual one
 *    keeps it (a user's AC followed the kernel into its code and, on a
 *    host that runs CPL3 with CR0.AM set, the kernel took #AC);
 *  - an access the guest's tables do not map, in the host's reserved hole
 *    (PVM: 0xffff800000000000-0xffff87ffffffffff, a reserved-bit #PF
 *    whatever the shadow entry), is the guest's own #PF; the VM ended.
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

/* --- the host's hole -------------------------------------------------------------------- */

#define HOLE_GUEST_BYTES (2ULL << 20)
#define HOLE_POOL_PAGES  32
#define HOLE_VA          0xffff800000000000ULL

static struct {
	unsigned calls, vector;
	uint32_t error;
	uint64_t cr2;
} seen;

static enum shadow_action record_exception(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector,
					   bool has_error, uint32_t error, uint64_t cr2)
{
	seen.calls++;
	seen.vector = vector;
	seen.error = error;
	seen.cr2 = cr2;
	return SHADOW_RESUME;
}

static void test_host_hole_unmapped_is_guest_pf(void **state)
{
	static const struct shadow_guest_ops ops = { .exception = record_exception };
	struct machine_memory mm = { .size = shadow_machine_bytes(HOLE_GUEST_BYTES, 0, HOLE_POOL_PAGES) };
	struct bus *bus = bus_new();
	static struct shadow_vm svm;
	static struct shadow_vcpu sv;

	mm.host = calloc(1, mm.size);
	assert_non_null(mm.host);
	struct shadow_vm_config cfg = {
		.guest_bytes = HOLE_GUEST_BYTES, .pool_pages = HOLE_POOL_PAGES, .strategy = SMMU_CACHED, .bus = bus,
	};
	assert_int_equal(shadow_vm_init(&svm, mm, &cfg), 0);
	/* PML4 at 0x1000: slot 0 maps the first GiB; the hole's slot 256 is empty. */
	uint64_t *pml4 = (uint64_t *) (mm.host + 0x1000), *pdpt = (uint64_t *) (mm.host + 0x2000);
	pml4[0] = 0x2000 | X86_PTE_P | X86_PTE_W | X86_PTE_U;
	pdpt[0] = X86_PTE_P | X86_PTE_W | X86_PTE_U | X86_PTE_PS;
	shadow_vcpu_init_boot(&sv, &svm, 0, HOLE_VA, 0x8000, 0);
	sv.ops = &ops;
	sv.cpu.pcb.cr3 = 0x1000;
	sv.cpu.pcb.efer |= X86_EFER_NXE;
	sv.root_stale = true;
	shadow_update_root(&sv);

	/* A kernel fetch there: the host says reserved bit; the guest gets
	 * not-present, supervisor, instruction fetch. */
	seen.calls = 0;
	enum shadow_action a = shadow_handle_trap(&sv, X86_PF, X86_PF_RSVD | X86_PF_PROT | X86_PF_USER | X86_PF_INSTR,
						  HOLE_VA);
	assert_int_equal(a, SHADOW_RESUME);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.vector, X86_PF);
	assert_int_equal(seen.error, X86_PF_INSTR);
	assert_int_equal(seen.cr2, HOLE_VA);

	/* A user write: not-present, user, write. */
	sv.cpu.pcb.vcpl = 3;
	sv.cpu.regs.rip = 0x3000;
	a = shadow_handle_trap(&sv, X86_PF, X86_PF_RSVD | X86_PF_PROT | X86_PF_USER | X86_PF_WRITE, HOLE_VA + 8);
	assert_int_equal(a, SHADOW_RESUME);
	assert_int_equal(seen.calls, 2);
	assert_int_equal(seen.error, X86_PF_USER | X86_PF_WRITE);
	assert_int_equal(seen.cr2, HOLE_VA + 8);

	/* Where the guest maps it, the host refuses what the guest may do: the VM ends. */
	pml4[256] = 0x2000 | X86_PTE_P | X86_PTE_W | X86_PTE_U;
	a = shadow_handle_trap(&sv, X86_PF, X86_PF_RSVD | X86_PF_PROT | X86_PF_USER | X86_PF_WRITE, HOLE_VA + 8);
	assert_int_equal(a, SHADOW_HOST_REFUSED);
	assert_int_equal(seen.calls, 2);
	assert_non_null(strstr(sv.fail_message, "reserves guest-virtual"));

	shadow_vm_destroy(&svm);
	bus_free(bus);
	free(mm.host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmask_64_bits),
		cmocka_unit_test(test_ac_in_kernel_mode),
		cmocka_unit_test(test_host_hole_unmapped_is_guest_pf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
