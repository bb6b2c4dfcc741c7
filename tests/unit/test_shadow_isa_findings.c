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
 *    whatever the shadow entry), is the guest's own #PF; the VM ended;
 *  - the frame of an int n vmmd delivers has RF clear (it had the RF of the
 *    #GP that trapped the int);
 *  - where CPUID names AMD, sysretq (and iretq) to a non-canonical RIP
 *    return, and the #GP(0) comes from the new level at that RIP, as hw
 *    mode and QEMU do; vmmd raised it at the sysretq, as Intel does.
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

/* A small machine: 2 MiB of guest RAM, the first GiB mapped by a 1 GiB
 * page from a PML4 at 0x1000, virtual kernel mode at HOLE_VA. */
struct machine {
	struct machine_memory mm;
	struct bus *bus;
	struct shadow_vm svm;
	struct shadow_vcpu sv;
};

static struct machine *machine_new(const struct shadow_guest_ops *ops)
{
	struct machine *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	m->mm.size = shadow_machine_bytes(HOLE_GUEST_BYTES, 0, HOLE_POOL_PAGES);
	m->mm.host = calloc(1, m->mm.size);
	assert_non_null(m->mm.host);
	m->bus = bus_new();
	struct shadow_vm_config cfg = {
		.guest_bytes = HOLE_GUEST_BYTES, .pool_pages = HOLE_POOL_PAGES, .strategy = SMMU_CACHED, .bus = m->bus,
	};
	assert_int_equal(shadow_vm_init(&m->svm, m->mm, &cfg), 0);
	uint64_t *pml4 = (uint64_t *) (m->mm.host + 0x1000), *pdpt = (uint64_t *) (m->mm.host + 0x2000);
	pml4[0] = 0x2000 | X86_PTE_P | X86_PTE_W | X86_PTE_U;
	pdpt[0] = X86_PTE_P | X86_PTE_W | X86_PTE_U | X86_PTE_PS;
	shadow_vcpu_init_boot(&m->sv, &m->svm, 0, HOLE_VA, 0x8000, 0);
	m->sv.ops = ops;
	m->sv.cpu.pcb.cr3 = 0x1000;
	m->sv.cpu.pcb.efer |= X86_EFER_NXE;
	m->sv.root_stale = true;
	shadow_update_root(&m->sv);
	return m;
}

static void machine_free(struct machine *m)
{
	shadow_vm_destroy(&m->svm);
	bus_free(m->bus);
	free(m->mm.host);
	free(m);
}

static void test_host_hole_unmapped_is_guest_pf(void **state)
{
	static const struct shadow_guest_ops ops = { .exception = record_exception };
	struct machine *m = machine_new(&ops);
	struct shadow_vcpu *sv = &m->sv;
	uint64_t *pml4 = (uint64_t *) (m->mm.host + 0x1000);

	/* The hole's PML4 slot 256 is empty. A kernel fetch there: the host
	 * says reserved bit; the guest gets not-present, supervisor, fetch. */
	seen.calls = 0;
	enum shadow_action a = shadow_handle_trap(sv, X86_PF, X86_PF_RSVD | X86_PF_PROT | X86_PF_USER | X86_PF_INSTR,
						  HOLE_VA);
	assert_int_equal(a, SHADOW_RESUME);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.vector, X86_PF);
	assert_int_equal(seen.error, X86_PF_INSTR);
	assert_int_equal(seen.cr2, HOLE_VA);

	/* A user write: not-present, user, write. */
	sv->cpu.pcb.vcpl = 3;
	sv->cpu.regs.rip = 0x3000;
	a = shadow_handle_trap(sv, X86_PF, X86_PF_RSVD | X86_PF_PROT | X86_PF_USER | X86_PF_WRITE, HOLE_VA + 8);
	assert_int_equal(a, SHADOW_RESUME);
	assert_int_equal(seen.calls, 2);
	assert_int_equal(seen.error, X86_PF_USER | X86_PF_WRITE);
	assert_int_equal(seen.cr2, HOLE_VA + 8);

	/* Where the guest maps it, the host refuses what the guest may do: the VM ends. */
	pml4[256] = 0x2000 | X86_PTE_P | X86_PTE_W | X86_PTE_U;
	a = shadow_handle_trap(sv, X86_PF, X86_PF_RSVD | X86_PF_PROT | X86_PF_USER | X86_PF_WRITE, HOLE_VA + 8);
	assert_int_equal(a, SHADOW_HOST_REFUSED);
	assert_int_equal(seen.calls, 2);
	assert_non_null(strstr(sv->fail_message, "reserves guest-virtual"));
	machine_free(m);
}

/* int n trapped (#GP at real CPL3: the image has RF set) and delivered by
 * vmmd: the frame holds the RFLAGS the int ran with, RF clear. */
static void test_int_n_frame_has_no_rf(void **state)
{
	struct machine *m = machine_new(NULL);
	struct shadow_vcpu *sv = &m->sv;
	uint8_t *ram = m->mm.host;
	static const uint8_t int81[] = { 0xcd, 0x81 };
	const uint64_t idt = 0x4000, handler = 0x5000, code = 0x3000, stack = 0x8000;

	uint8_t *g = ram + idt + 0x81 * 16;   /* interrupt gate, DPL 0, CS 0x08 */
	g[0] = handler & 0xff;
	g[1] = (handler >> 8) & 0xff;
	g[2] = 0x08;
	g[5] = 0x8e;
	sv->cpu.pcb.idtr = (struct shadow_dtr) { .base = idt, .limit = 256 * 16 - 1 };
	memcpy(ram + code, int81, sizeof(int81));
	sv->cpu.regs.rip = code;
	sv->cpu.regs.rsp = stack;
	sv->cpu.regs.rflags = X86_RFLAGS_FIXED | X86_RFLAGS_RF | X86_RFLAGS_ZF;
	enum shadow_action a = shadow_handle_trap(sv, X86_GP, 0x81 * 8 + 2, 0);
	assert_int_equal(a, SHADOW_RESUME);
	assert_int_equal(sv->cpu.regs.rip, handler);
	const uint64_t *frame = (const uint64_t *) (ram + sv->cpu.regs.rsp);
	assert_int_equal(frame[0], code + sizeof(int81));
	assert_int_equal(frame[2], X86_RFLAGS_FIXED | X86_RFLAGS_ZF);
	machine_free(m);
}

static void test_sysret_noncanonical_faults_in_user_mode_on_amd(void **state)
{
	static const struct shadow_guest_ops ops = { .exception = record_exception, .cpuid = fake_cpuid_amd };
	struct machine *m = machine_new(&ops);
	struct shadow_vcpu *sv = &m->sv;
	static const uint8_t sysretq[] = { 0x48, 0x0f, 0x07 };
	const uint64_t code = 0x3000, bad = 0x0000800000000000ULL;

	memcpy(m->mm.host + code, sysretq, sizeof(sysretq));
	sv->cpu.pcb.efer |= X86_EFER_SCE;
	sv->cpu.pcb.star = 0x001b000800000000ULL;
	sv->cpu.regs.rip = code;
	sv->cpu.regs.rcx = bad;
	sv->cpu.regs.r11 = X86_RFLAGS_FIXED | X86_RFLAGS_IF;
	seen.calls = 0;
	enum shadow_action a = shadow_handle_trap(sv, X86_GP, 0, 0);
	assert_int_equal(a, SHADOW_RESUME);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.vector, X86_GP);
	assert_int_equal(seen.error, 0);
	/* The fault is the user's: at the bad RIP, CPL3, a fault's RF set. */
	assert_int_equal(sv->cpu.regs.rip, bad);
	assert_int_equal(sv->cpu.pcb.vcpl, 3);
	assert_int_equal(sv->cpu.pcb.cs, 0x2b);
	assert_true(sv->cpu.regs.rflags & X86_RFLAGS_RF);
	machine_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmask_64_bits),
		cmocka_unit_test(test_ac_in_kernel_mode),
		cmocka_unit_test(test_host_hole_unmapped_is_guest_pf),
		cmocka_unit_test(test_int_n_frame_has_no_rf),
		cmocka_unit_test(test_sysret_noncanonical_faults_in_user_mode_on_amd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
