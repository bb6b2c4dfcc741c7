/* SPDX-License-Identifier: MIT */
/*
 * Reflection (vmmd/shadow/reflect.c) on a fake CPU and fake memory: gates
 * and a TSS in fake guest memory, frames checked byte for byte, nested
 * faults escalated like the hardware (#DF, triple fault), and a
 * syscall/sysretq round trip through reflect.c and emulate.c.
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
#include "vmmd/shadow/reflect.h"

enum {
	CODE = 0x1000, GDT = 0x3000, IDT = 0x4000, TSS = 0x5000,
	RSP0 = 0x1f000, IST1 = 0x1c000, IST2 = 0x1b000,
	USER_RIP = 0x30000, USER_RSP = 0x7fff1238,
};
#define HANDLER(v) (0xffffffff81000000ULL + (v) * 0x100)
#define USER_FLAGS (X86_RFLAGS_IF | X86_RFLAGS_FIXED | 1 /* CF */)

static struct fake_cpu fc;

static void gate(unsigned vector, unsigned type, unsigned dpl, bool present, unsigned ist)
{
	fake_put_gate(&fc, IDT, vector, HANDLER(vector), 0x08, type, dpl, present, ist);
}

/* The guest's user mode, with a kernel IDT (all vectors: present interrupt
 * gates, DPL 0) and a TSS (rsp0, IST1, IST2). */
static int reset(void **state)
{
	fake_cpu_init(&fc);
	fake_put_gdt(&fc, GDT);   /* iretq checks the selectors it loads */
	struct shadow_pcb *p = &fc.cpu.pcb;
	p->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_WP;
	p->efer = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA;
	p->idtr = (struct shadow_dtr) { .base = IDT, .limit = 0xfff };
	p->tr = 0x20;
	p->tss_base = TSS;
	p->tss_limit = 0x67;
	p->vcpl = 3;
	p->cs = 0x2b;
	p->ss = 0x23;
	p->vif = true;
	fc.cpu.regs.rip = USER_RIP;
	fc.cpu.regs.rsp = USER_RSP;
	fc.cpu.regs.rflags = USER_FLAGS;
	fake_put64(&fc, TSS + 4, RSP0);
	fake_put64(&fc, TSS + 36, IST1);
	fake_put64(&fc, TSS + 44, IST2);
	for (unsigned v = 0; v < 256; v++)
		gate(v, 0x0e, 0, true, 0);
	return 0;
}

static struct reflect_request exc(unsigned vector, uint32_t error)
{
	return (struct reflect_request) {
		.kind = REFLECT_EXCEPTION, .vector = vector, .has_error = x86_vector_has_error(vector),
		.error = error, .return_rip = fc.cpu.regs.rip,
	};
}

static int deliver(struct reflect_request req)
{
	return reflect_deliver(&fc.cpu, &fc.env, &req);
}

/* The frame at `at`, lowest address first, byte for byte. */
static void assert_frame(uint64_t at, const uint64_t *slots, unsigned n)
{
	uint8_t want[6 * 8];
	for (unsigned i = 0; i < n; i++)
		for (unsigned b = 0; b < 8; b++)
			want[i * 8 + b] = slots[i] >> (8 * b);
	assert_memory_equal(fc.mem + at, want, n * 8);
}

static void assert_in_handler(unsigned vector, uint64_t rsp)
{
	assert_int_equal(fc.cpu.regs.rip, HANDLER(vector));
	assert_int_equal(fc.cpu.regs.rsp, rsp);
	assert_int_equal(fc.cpu.pcb.vcpl, 0);
	assert_int_equal(fc.cpu.pcb.cs, 0x08);
}

static void test_exception_from_user(void **state)
{
	assert_int_equal(deliver(exc(X86_GP, 0x18)), 0);
	assert_in_handler(X86_GP, RSP0 - 48);
	const uint64_t frame[] = { 0x18, USER_RIP, 0x2b, USER_FLAGS, USER_RSP, 0x23 };
	assert_frame(RSP0 - 48, frame, 6);
	assert_int_equal(fc.cpu.pcb.ss, 0);               /* null SS on the privilege change */
	assert_false(fc.cpu.pcb.vif);                     /* interrupt gate */
	assert_int_equal(fc.cpu.regs.rflags, X86_RFLAGS_FIXED | 1);
	/* Only the frame was written, as a supervisor access. */
	assert_int_equal(fc.writes, 1);
	assert_int_equal(fake_get64(&fc, RSP0 - 56), 0);
	assert_int_equal(fake_get64(&fc, RSP0), 0);
}

static void test_from_kernel_no_switch(void **state)
{
	fc.cpu.pcb.vcpl = 0;
	fc.cpu.pcb.cs = 0x08;
	fc.cpu.pcb.ss = 0x10;
	fc.cpu.regs.rip = 0xffffffff81234567ULL;
	fc.cpu.regs.rsp = 0x1a808;                         /* aligned down to 0x1a800 */
	gate(0x20, 0x0f, 0, true, 0);
	struct reflect_request req = { .kind = REFLECT_EXTERNAL, .vector = 0x20, .return_rip = fc.cpu.regs.rip };
	assert_int_equal(deliver(req), 0);
	assert_in_handler(0x20, 0x1a800 - 40);
	const uint64_t frame[] = { 0xffffffff81234567ULL, 0x08, USER_FLAGS, 0x1a808, 0x10 };
	assert_frame(0x1a800 - 40, frame, 5);
	assert_int_equal(fc.cpu.pcb.ss, 0x10);            /* no privilege change: SS stays */
	assert_true(fc.cpu.pcb.vif);                      /* trap gate */
	assert_true(fc.cpu.regs.rflags & X86_RFLAGS_IF);
}

static void test_gate_if_and_flags(void **state)
{
	static const struct { unsigned type; bool vif_after; } cases[] = { { 0x0e, false }, { 0x0f, true } };
	for (size_t i = 0; i < 2; i++) {
		reset(NULL);
		gate(0x30, cases[i].type, 0, true, 0);
		fc.cpu.regs.rflags |= X86_RFLAGS_TF | X86_RFLAGS_NT | X86_RFLAGS_RF | X86_RFLAGS_AC;
		struct reflect_request req = { .kind = REFLECT_EXTERNAL, .vector = 0x30, .return_rip = USER_RIP };
		assert_int_equal(deliver(req), 0);
		assert_int_equal(fc.cpu.pcb.vif, cases[i].vif_after);
		assert_int_equal(!!(fc.cpu.regs.rflags & X86_RFLAGS_IF), cases[i].vif_after);
		/* TF, NT, RF cleared; the rest (CF, AC) kept. */
		assert_int_equal(fc.cpu.regs.rflags & ~X86_RFLAGS_IF, X86_RFLAGS_FIXED | 1 | X86_RFLAGS_AC);
		/* The frame's RFLAGS is the interrupted one, IF = vif. */
		assert_int_equal(fake_get64(&fc, RSP0 - 40 + 16),
				 USER_FLAGS | X86_RFLAGS_TF | X86_RFLAGS_NT | X86_RFLAGS_RF | X86_RFLAGS_AC);
	}
}

static void test_error_code_push(void **state)
{
	static const struct { enum reflect_kind kind; unsigned vector; bool has_error; unsigned slots; } cases[] = {
		{ REFLECT_EXCEPTION, X86_PF, true, 6 },
		{ REFLECT_EXCEPTION, X86_DE, false, 5 },
		{ REFLECT_SOFTWARE, X86_PF, false, 5 },     /* int 14 pushes no error code */
		{ REFLECT_EXTERNAL, X86_GP, true, 5 },      /* nor does an interrupt on vector 13 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset(NULL);
		gate(cases[i].vector, 0x0e, 3, true, 0);
		struct reflect_request req = {
			.kind = cases[i].kind, .vector = cases[i].vector, .has_error = cases[i].has_error,
			.error = 0x7, .return_rip = USER_RIP,
		};
		assert_int_equal(deliver(req), 0);
		assert_in_handler(cases[i].vector, RSP0 - 8 * cases[i].slots);
		assert_int_equal(fake_get64(&fc, RSP0 - 8 * cases[i].slots), cases[i].slots == 6 ? 7 : USER_RIP);
	}
}

static void test_int_dpl(void **state)
{
	/* int 0x80 from user through a DPL-0 gate: #GP(0x80*8+2), reported at the int. */
	struct reflect_request req = { .kind = REFLECT_SOFTWARE, .vector = 0x80, .return_rip = USER_RIP + 2 };
	assert_int_equal(deliver(req), 0);
	assert_in_handler(X86_GP, RSP0 - 48);
	const uint64_t frame[] = { 0x80 * 8 + 2, USER_RIP, 0x2b, USER_FLAGS, USER_RSP, 0x23 };
	assert_frame(RSP0 - 48, frame, 6);

	/* Through a DPL-3 gate: delivered, returning after the int. */
	reset(NULL);
	gate(0x80, 0x0f, 3, true, 0);
	assert_int_equal(deliver(req), 0);
	assert_in_handler(0x80, RSP0 - 40);
	const uint64_t frame2[] = { USER_RIP + 2, 0x2b, USER_FLAGS, USER_RSP, 0x23 };
	assert_frame(RSP0 - 40, frame2, 5);
	assert_true(fc.cpu.pcb.vif);

	/* Exceptions and interrupts ignore the gate's DPL. */
	reset(NULL);
	assert_int_equal(deliver(exc(X86_DE, 0)), 0);
	assert_in_handler(X86_DE, RSP0 - 40);
}

static void test_not_present_gate(void **state)
{
	gate(0x21, 0x0e, 0, false, 0);
	struct reflect_request req = { .kind = REFLECT_EXTERNAL, .vector = 0x21, .return_rip = USER_RIP };
	assert_int_equal(deliver(req), 0);
	/* A benign event's nested #NP is delivered as such (no #DF); EXT = 1. */
	assert_in_handler(X86_NP, RSP0 - 48);
	assert_int_equal(fake_get64(&fc, RSP0 - 48), 0x21 * 8 + 2 + 1);
}

static void test_bad_gate_and_limit(void **state)
{
	gate(0x22, 0x0c, 0, true, 0);   /* a call gate: not allowed in the IDT */
	struct reflect_request req = { .kind = REFLECT_EXTERNAL, .vector = 0x22, .return_rip = USER_RIP };
	assert_int_equal(deliver(req), 0);
	assert_in_handler(X86_GP, RSP0 - 48);
	assert_int_equal(fake_get64(&fc, RSP0 - 48), 0x22 * 8 + 3);

	/* The whole 16-byte gate must lie within the IDT limit. */
	static const uint16_t limits[] = { 32 * 16 - 1, 0x30 * 16, 0x30 * 16 + 14 };
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		reset(NULL);
		fc.cpu.pcb.idtr.limit = limits[i];
		req.vector = 0x30;
		assert_int_equal(deliver(req), 0);
		assert_in_handler(X86_GP, RSP0 - 48);
		assert_int_equal(fake_get64(&fc, RSP0 - 48), 0x30 * 8 + 3);
	}
	reset(NULL);
	fc.cpu.pcb.idtr.limit = 0x30 * 16 + 15;
	assert_int_equal(deliver(req), 0);
	assert_in_handler(0x30, RSP0 - 40);
}

static void test_ist(void **state)
{
	fc.cpu.pcb.vcpl = 0;
	fc.cpu.pcb.cs = 0x08;
	fc.cpu.pcb.ss = 0x10;
	fc.cpu.regs.rsp = 0x1a000;
	gate(X86_NMI, 0x0e, 0, true, 2);
	assert_int_equal(deliver(exc(X86_NMI, 0)), 0);
	assert_in_handler(X86_NMI, IST2 - 40);
	assert_int_equal(fake_get64(&fc, IST2 - 40 + 24), 0x1a000);   /* the interrupted RSP */
	assert_int_equal(fc.cpu.pcb.ss, 0x10);

	/* An IST slot beyond the TSS limit: #TS(TR | EXT), delivered on the current stack. */
	reset(NULL);
	fc.cpu.pcb.vcpl = 0;
	fc.cpu.pcb.cs = 0x08;
	fc.cpu.regs.rsp = 0x1a000;
	fc.cpu.pcb.tss_limit = 43;   /* rsp0 and IST1 only */
	gate(X86_NMI, 0x0e, 0, true, 2);
	assert_int_equal(deliver(exc(X86_NMI, 0)), 0);
	assert_in_handler(X86_TS, 0x1a000 - 48);
	assert_int_equal(fake_get64(&fc, 0x1a000 - 48), 0x21);
}

static void test_pf_while_pushing_df(void **state)
{
	/* #PF from user; rsp0's page is not present: a second #PF, so #DF,
	 * which has its own IST stack. CR2 is the second fault's address. */
	fake_set_pages(&fc, RSP0 - 4096, 4096, 0);
	gate(X86_DF, 0x0e, 0, true, 1);
	struct reflect_request req = exc(X86_PF, 0x6);
	req.cr2 = 0x1234;
	assert_int_equal(deliver(req), 0);
	assert_in_handler(X86_DF, IST1 - 48);
	const uint64_t frame[] = { 0, USER_RIP, 0x2b, USER_FLAGS, USER_RSP, 0x23 };
	assert_frame(IST1 - 48, frame, 6);
	assert_int_equal(fc.cpu.pcb.cr2, RSP0 - 48);
}

static void test_contributory_then_pf_is_serial(void **state)
{
	/* #GP whose IST stack is not mapped: the nested #PF is delivered, not #DF. */
	fake_set_pages(&fc, IST2 - 4096, 4096, 0);
	gate(X86_GP, 0x0e, 0, true, 2);
	assert_int_equal(deliver(exc(X86_GP, 0)), 0);
	assert_in_handler(X86_PF, RSP0 - 48);
	assert_int_equal(fake_get64(&fc, RSP0 - 48), SHADOW_ACC_WRITE);   /* supervisor write, not present */
	assert_int_equal(fc.cpu.pcb.cr2, IST2 - 48);
}

static void test_contributory_twice_df(void **state)
{
	gate(X86_GP, 0x0e, 0, false, 0);
	assert_int_equal(deliver(exc(X86_GP, 0)), 0);
	assert_in_handler(X86_DF, RSP0 - 48);
	assert_int_equal(fake_get64(&fc, RSP0 - 48), 0);
}

static void test_pf_then_contributory_df(void **state)
{
	/* #PF whose gate is not present: #NP after #PF is a double fault. */
	gate(X86_PF, 0x0e, 0, false, 0);
	struct reflect_request req = exc(X86_PF, 0x4);
	req.cr2 = 0x5000;
	assert_int_equal(deliver(req), 0);
	assert_in_handler(X86_DF, RSP0 - 48);
	assert_int_equal(fc.cpu.pcb.cr2, 0x5000);
}

static void test_triple_fault(void **state)
{
	gate(X86_GP, 0x0e, 0, false, 0);
	gate(X86_DF, 0x0e, 0, false, 0);
	struct shadow_cpu before = fc.cpu;
	assert_int_equal(deliver(exc(X86_GP, 0)), -EFAULT);
	assert_memory_equal(&fc.cpu, &before, sizeof(before));

	/* From user with no usable TSS: every delivery faults. */
	reset(NULL);
	fc.cpu.pcb.tss_limit = 0;
	assert_int_equal(deliver(exc(X86_UD, 0)), -EFAULT);
	assert_int_equal(fc.cpu.pcb.vcpl, 3);
	assert_int_equal(fc.cpu.regs.rip, USER_RIP);
}

static void test_pf_sets_cr2_and_wakes(void **state)
{
	fc.cpu.pcb.halted = true;
	struct reflect_request req = exc(X86_PF, 0x7);
	req.cr2 = 0xdeadbeef;
	assert_int_equal(deliver(req), 0);
	assert_int_equal(fc.cpu.pcb.cr2, 0xdeadbeef);
	assert_false(fc.cpu.pcb.halted);
	assert_int_equal(fake_get64(&fc, RSP0 - 48), 7);
}

static void test_syscall_sysret_round_trip(void **state)
{
	struct shadow_pcb *p = &fc.cpu.pcb;
	struct reflect_request fault;
	struct emu_outcome out;

	p->star = 0x0010000800000000ULL;
	p->lstar = CODE;
	p->sfmask = X86_RFLAGS_IF | X86_RFLAGS_TF | X86_RFLAGS_DF | X86_RFLAGS_AC;
	/* Real IF is 0 here but the virtual IF is 1: r11 carries the virtual one; RF is dropped. */
	fc.cpu.regs.rflags = (USER_FLAGS & ~X86_RFLAGS_IF) | X86_RFLAGS_DF | X86_RFLAGS_RF;
	fc.cpu.regs.rax = 39;
	assert_int_equal(reflect_syscall(&fc.cpu, &fc.env, USER_RIP + 2, &fault), 0);
	assert_int_equal(fc.cpu.regs.rip, CODE);
	assert_int_equal(fc.cpu.regs.rcx, USER_RIP + 2);
	assert_int_equal(fc.cpu.regs.r11, USER_FLAGS | X86_RFLAGS_DF);
	assert_int_equal(fc.cpu.regs.rflags, X86_RFLAGS_FIXED | 1);
	assert_false(p->vif);
	assert_int_equal(p->vcpl, 0);
	assert_int_equal(p->cs, 0x08);
	assert_int_equal(p->ss, 0x10);
	assert_int_equal(fc.cpu.regs.rsp, USER_RSP);   /* syscall does not switch stacks */
	assert_int_equal(fc.writes, 0);

	/* The kernel returns with sysretq. */
	fake_put(&fc, CODE, "\x48\x0f\x07", 3);
	emu_privileged(&fc.cpu, &fc.env, X86_GP, &out);
	assert_int_equal(out.status, EMU_DONE);
	assert_true(out.cpl_changed);
	assert_int_equal(fc.cpu.regs.rip, USER_RIP + 2);
	assert_int_equal(fc.cpu.regs.rflags, USER_FLAGS | X86_RFLAGS_DF);
	assert_true(p->vif);
	assert_int_equal(p->vcpl, 3);
	assert_int_equal(p->cs, 0x23);
	assert_int_equal(p->ss, 0x1b);
}

static void test_syscall_from_kernel(void **state)
{
	struct reflect_request fault;

	fc.cpu.pcb.vcpl = 0;
	fc.cpu.pcb.star = 0x0010000800000000ULL;
	fc.cpu.pcb.lstar = 0xffffffff81000800ULL;
	assert_int_equal(reflect_syscall(&fc.cpu, &fc.env, 0xffffffff81001002ULL, &fault), 0);
	assert_int_equal(fc.cpu.regs.rip, 0xffffffff81000800ULL);
	assert_int_equal(fc.cpu.regs.rcx, 0xffffffff81001002ULL);
	assert_true(fc.cpu.pcb.vif);   /* SFMASK 0 */
	assert_int_equal(fc.cpu.pcb.vcpl, 0);
}

static void test_syscall_without_sce(void **state)
{
	struct reflect_request fault;

	fc.cpu.pcb.efer &= ~X86_EFER_SCE;
	struct shadow_cpu before = fc.cpu;
	assert_int_equal(reflect_syscall(&fc.cpu, &fc.env, USER_RIP + 2, &fault), -EFAULT);
	assert_int_equal(fault.kind, REFLECT_EXCEPTION);
	assert_int_equal(fault.vector, X86_UD);
	assert_false(fault.has_error);
	assert_int_equal(fault.return_rip, USER_RIP);
	assert_memory_equal(&fc.cpu, &before, sizeof(before));
}

static void test_int_via_emulator(void **state)
{
	/* emulate.c reports int n; reflect delivers it as the engine does. */
	struct emu_outcome out;
	gate(0x80, 0x0e, 3, true, 0);
	fake_put(&fc, USER_RIP, "\xcd\x80", 2);
	emu_privileged(&fc.cpu, &fc.env, X86_UD, &out);
	assert_int_equal(out.status, EMU_NOT_PRIVILEGED);
	assert_string_equal(out.mnemonic, "int");
	struct reflect_request req = { .kind = REFLECT_SOFTWARE, .vector = out.vector, .return_rip = out.next_rip };
	assert_int_equal(deliver(req), 0);
	assert_in_handler(0x80, RSP0 - 40);
	assert_int_equal(fake_get64(&fc, RSP0 - 40), USER_RIP + 2);

	/* And the handler's iretq (the frame has RPL 3 in CS) takes it back. */
	fake_put(&fc, CODE, "\x48\xcf", 2);
	fc.cpu.regs.rip = CODE;
	emu_privileged(&fc.cpu, &fc.env, X86_GP, &out);
	assert_int_equal(out.status, EMU_DONE);
	assert_true(out.cpl_changed);
	assert_int_equal(fc.cpu.regs.rip, USER_RIP + 2);
	assert_int_equal(fc.cpu.regs.rsp, USER_RSP);
	assert_int_equal(fc.cpu.regs.rflags, USER_FLAGS);
	assert_true(fc.cpu.pcb.vif);
	assert_int_equal(fc.cpu.pcb.cs, 0x2b);
	assert_int_equal(fc.cpu.pcb.ss, 0x23);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_exception_from_user, reset),
		cmocka_unit_test_setup(test_from_kernel_no_switch, reset),
		cmocka_unit_test_setup(test_gate_if_and_flags, reset),
		cmocka_unit_test_setup(test_error_code_push, reset),
		cmocka_unit_test_setup(test_int_dpl, reset),
		cmocka_unit_test_setup(test_not_present_gate, reset),
		cmocka_unit_test_setup(test_bad_gate_and_limit, reset),
		cmocka_unit_test_setup(test_ist, reset),
		cmocka_unit_test_setup(test_pf_while_pushing_df, reset),
		cmocka_unit_test_setup(test_contributory_then_pf_is_serial, reset),
		cmocka_unit_test_setup(test_contributory_twice_df, reset),
		cmocka_unit_test_setup(test_pf_then_contributory_df, reset),
		cmocka_unit_test_setup(test_triple_fault, reset),
		cmocka_unit_test_setup(test_pf_sets_cr2_and_wakes, reset),
		cmocka_unit_test_setup(test_syscall_sysret_round_trip, reset),
		cmocka_unit_test_setup(test_syscall_from_kernel, reset),
		cmocka_unit_test_setup(test_syscall_without_sce, reset),
		cmocka_unit_test_setup(test_int_via_emulator, reset),
	};
	return cmocka_run_group_tests_name("reflect", tests, NULL, NULL);
}
