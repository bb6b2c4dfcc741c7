/* SPDX-License-Identifier: MIT */
/*
 * Trap-and-emulate (vmmd/shadow/emulate.c) on a fake CPU and fake memory:
 * instruction bytes are placed in fake guest memory at RIP and emulated.
 * One table holds every emulated instruction; each row runs at virtual
 * CPL0 (emulated, checked by the row's own check) and, for privileged ones,
 * at virtual CPL3 (the guest's own #GP(0), with the virtual CPU untouched).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/shadow_fake_cpu.h"
#include "vmmd/shadow/emulate.h"

enum {
	CODE = 0x1000, GDT = 0x3000, IDT = 0x4000, TSS = 0x5000, DATA = 0x8000, DATA2 = 0x10000,
	STACK = 0x20000, DEV_GPA = 0xfee00000,
};

static struct fake_cpu fc;
static struct emu_outcome out;

#define CR0_BOOT (X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG)

static int reset(void **state)
{
	fake_cpu_init(&fc);
	memset(&out, 0, sizeof(out));
	struct shadow_pcb *p = &fc.cpu.pcb;
	p->cr0 = CR0_BOOT;
	p->cr4 = X86_CR4_PAE;
	p->efer = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	p->cs = 0x08;
	p->ss = 0x10;
	fake_put_gdt(&fc, GDT);
	p->idtr = (struct shadow_dtr) { .base = IDT, .limit = 0xfff };
	fc.cpu.regs.rip = CODE;
	fc.cpu.regs.rsp = STACK;
	return 0;
}

static void place(const uint8_t *code, size_t len)
{
	fake_put(&fc, fc.cpu.regs.rip, code, len);
}

static void emulate(void)
{
	emu_privileged(&fc.cpu, &fc.env, X86_GP, &out);
}

#define CODE_BYTES(...) do { const uint8_t b_[] = { __VA_ARGS__ }; place(b_, sizeof(b_)); } while (0)

static void assert_exception(unsigned vector, uint32_t error)
{
	assert_int_equal(out.status, EMU_EXCEPTION);
	assert_int_equal(out.vector, vector);
	assert_int_equal(out.error, error);
	assert_int_equal(out.has_error, x86_vector_has_error(vector));
}

/* --- the table ------------------------------------------------------------- */

struct priv_case {
	const char *name;
	uint8_t code[15];
	size_t len;
	const char *mnemonic;
	enum emu_status status;   /* at CPL0 */
	bool jumps;               /* sets RIP itself */
	bool cpl3_gp;             /* privileged: #GP(0) at virtual CPL3 */
	void (*setup)(struct shadow_cpu *c);
	void (*check)(struct shadow_cpu *c);
};

#define BYTES(...) .code = { __VA_ARGS__ }, .len = sizeof((uint8_t[]) { __VA_ARGS__ })

static void set_if(struct shadow_cpu *c) { c->pcb.vif = true; c->regs.rflags |= X86_RFLAGS_IF; }
static void chk_cli(struct shadow_cpu *c) { assert_false(c->pcb.vif); assert_false(c->regs.rflags & X86_RFLAGS_IF); }
static void chk_sti(struct shadow_cpu *c)
{
	assert_true(c->pcb.vif);
	assert_true(c->regs.rflags & X86_RFLAGS_IF);
	assert_true(out.irq_shadow);
}
static void chk_hlt(struct shadow_cpu *c) { assert_true(c->pcb.halted); }

static void set_cr0(struct shadow_cpu *c) { c->regs.rax = CR0_BOOT & ~X86_CR0_WP; }
static void chk_cr0(struct shadow_cpu *c)
{
	assert_int_equal(c->pcb.cr0, CR0_BOOT & ~X86_CR0_WP);
	assert_int_equal(fc.paging_changes, 1);
}
static void set_rax_junk(struct shadow_cpu *c) { c->regs.rax = 0xa5a5a5a5a5a5a5a5ULL; c->pcb.cr2 = 0xfffff00012345678ULL; c->pcb.tpr = 9; }
static void chk_rax_cr0(struct shadow_cpu *c) { assert_int_equal(c->regs.rax, CR0_BOOT); }
static void set_cr2(struct shadow_cpu *c) { c->regs.rax = 0xdead0123; }
static void chk_cr2(struct shadow_cpu *c) { assert_int_equal(c->pcb.cr2, 0xdead0123); }
static void chk_rax_cr2(struct shadow_cpu *c) { assert_int_equal(c->regs.rax, 0xfffff00012345678ULL); }
static void set_cr3(struct shadow_cpu *c) { c->pcb.cr3 = 0x9000; c->regs.rax = 0xa018; }
static void chk_cr3(struct shadow_cpu *c)
{
	assert_int_equal(fc.cr3_writes, 1);
	assert_int_equal(fc.last_cr3, 0xa018);
	assert_int_equal(fc.last_cr3_old, 0x9000);   /* the callback sees the old CR3 */
	assert_int_equal(c->pcb.cr3, 0xa018);
}
static void chk_rax_cr3(struct shadow_cpu *c) { assert_int_equal(c->regs.rax, 0x9000); assert_int_equal(fc.cr3_writes, 0); }
static void set_cr4(struct shadow_cpu *c) { c->regs.rax = X86_CR4_PAE | X86_CR4_PGE; }
static void chk_cr4(struct shadow_cpu *c)
{
	assert_int_equal(c->pcb.cr4, X86_CR4_PAE | X86_CR4_PGE);
	assert_int_equal(fc.paging_changes, 1);
}
static void chk_rax_cr4(struct shadow_cpu *c) { assert_int_equal(c->regs.rax, X86_CR4_PAE); }
static void set_cr8(struct shadow_cpu *c) { c->regs.rax = 5; }
static void chk_cr8(struct shadow_cpu *c) { assert_int_equal(c->pcb.tpr, 5); }
static void chk_rax_cr8(struct shadow_cpu *c) { assert_int_equal(c->regs.rax, 9); }

static void set_dtr_operand(struct shadow_cpu *c)
{
	const uint8_t m[10] = { 0x34, 0x12, 0x00, 0x10, 0x00, 0x00, 0x00, 0x80, 0xff, 0xff };
	c->regs.rax = DATA;
	fake_put(&fc, DATA, m, sizeof(m));
}
static void chk_lgdt(struct shadow_cpu *c)
{
	assert_int_equal(c->pcb.gdtr.limit, 0x1234);
	assert_int_equal(c->pcb.gdtr.base, 0xffff800000001000ULL);
}
static void chk_lidt(struct shadow_cpu *c)
{
	assert_int_equal(c->pcb.idtr.limit, 0x1234);
	assert_int_equal(c->pcb.idtr.base, 0xffff800000001000ULL);
}
static void set_sdtr(struct shadow_cpu *c)
{
	c->regs.rax = DATA;
	c->pcb.gdtr = (struct shadow_dtr) { .base = 0xffff800000002000ULL, .limit = 0x57 };
	c->pcb.idtr = (struct shadow_dtr) { .base = 0xffff800000003000ULL, .limit = 0xfff };
	memset(fc.mem + DATA, 0xee, 16);
}
static void chk_sgdt(struct shadow_cpu *c)
{
	const uint8_t want[11] = { 0x57, 0, 0, 0x20, 0, 0, 0, 0x80, 0xff, 0xff, 0xee };
	assert_memory_equal(fc.mem + DATA, want, sizeof(want));
}
static void chk_sidt(struct shadow_cpu *c)
{
	const uint8_t want[11] = { 0xff, 0x0f, 0, 0x30, 0, 0, 0, 0x80, 0xff, 0xff, 0xee };
	assert_memory_equal(fc.mem + DATA, want, sizeof(want));
}
static void set_tr(struct shadow_cpu *c) { c->pcb.tr = 0x40; c->regs.rax = ~0ULL; }
static void chk_str_reg(struct shadow_cpu *c) { assert_int_equal(c->regs.rax, 0x40); }   /* r32: zero-extended */
static void set_tr_mem(struct shadow_cpu *c) { c->pcb.tr = 0x1240; c->regs.rax = DATA; memset(fc.mem + DATA, 0xee, 4); }
static void chk_str_mem(struct shadow_cpu *c)
{
	const uint8_t want[3] = { 0x40, 0x12, 0xee };
	assert_memory_equal(fc.mem + DATA, want, 3);
}
static void chk_sldt(struct shadow_cpu *c) { assert_int_equal(c->regs.rax, 0); }
static void chk_smsw(struct shadow_cpu *c) { assert_int_equal(c->regs.rax, CR0_BOOT & 0xffffffff); }
static void set_lmsw(struct shadow_cpu *c) { c->regs.rax = 0xfff0 | X86_CR0_TS | X86_CR0_MP; }
static void chk_lmsw(struct shadow_cpu *c)
{
	assert_int_equal(c->pcb.cr0, CR0_BOOT | X86_CR0_TS);   /* PE stays: lmsw cannot clear it */
}
static void set_ltr(struct shadow_cpu *c)
{
	fake_put_tss_desc(&fc, GDT, 4, 0xffff800000005000ULL, 0x67, true);
	c->regs.rax = 0x20;
}
static void chk_ltr(struct shadow_cpu *c)
{
	assert_int_equal(c->pcb.tr, 0x20);
	assert_int_equal(c->pcb.tss_base, 0xffff800000005000ULL);
	assert_int_equal(c->pcb.tss_limit, 0x67);
	assert_int_equal(fc.mem[GDT + 0x20 + 5], 0x8b);   /* marked busy in the guest's GDT */
}
static void set_invlpg(struct shadow_cpu *c) { c->regs.rax = 0x7000; c->regs.rbx = 0x10; }
static void chk_invlpg(struct shadow_cpu *c)
{
	assert_int_equal(fc.invlpgs, 1);
	assert_int_equal(fc.last_invlpg, 0x7000 + 2 * 0x10 + 8);
}
static void set_rdmsr(struct shadow_cpu *c)
{
	c->regs.rcx = X86_MSR_LSTAR;
	c->pcb.lstar = 0xffffffff81000010ULL;
	c->regs.rax = c->regs.rdx = ~0ULL;
}
static void chk_rdmsr(struct shadow_cpu *c)
{
	assert_int_equal(c->regs.rax, 0x81000010);
	assert_int_equal(c->regs.rdx, 0xffffffff);
}
static void set_wrmsr(struct shadow_cpu *c)
{
	c->regs.rcx = X86_MSR_STAR;
	c->regs.rdx = 0xffffffff00230010ULL;   /* upper halves ignored */
	c->regs.rax = 0xffffffff00000000ULL;
}
static void chk_wrmsr(struct shadow_cpu *c) { assert_int_equal(c->pcb.star, 0x0023001000000000ULL); }

static void chk_pio(unsigned i, uint16_t port, unsigned size, bool is_write, uint32_t value)
{
	assert_true(fc.n_pio > i);
	assert_int_equal(fc.pio[i].port, port);
	assert_int_equal(fc.pio[i].size, size);
	assert_int_equal(fc.pio[i].is_write, is_write);
	assert_int_equal(fc.pio[i].value, value);
}
static void set_in(struct shadow_cpu *c)
{
	c->regs.rdx = 0xffff03f8;
	c->regs.rax = 0x1111111111111111ULL;
	fc.in_value = 0xcafe8041;
}
static void chk_in_al(struct shadow_cpu *c)
{
	chk_pio(0, 0x3f8, 1, false, 0xcafe8041);
	assert_int_equal(c->regs.rax, 0x1111111111111141ULL);
}
static void chk_in_ax(struct shadow_cpu *c)
{
	chk_pio(0, 0x3f8, 2, false, 0xcafe8041);
	assert_int_equal(c->regs.rax, 0x1111111111118041ULL);
}
static void chk_in_eax_imm(struct shadow_cpu *c)
{
	chk_pio(0, 0x60, 4, false, 0xcafe8041);
	assert_int_equal(c->regs.rax, 0xcafe8041);   /* 32-bit: upper half zeroed */
}
static void set_out(struct shadow_cpu *c) { c->regs.rdx = 0x3f8; c->regs.rax = 0x12345678; }
static void chk_out_al(struct shadow_cpu *c) { chk_pio(0, 0x3f8, 1, true, 0x78); }
static void chk_out_imm(struct shadow_cpu *c) { chk_pio(0, 0x80, 4, true, 0x12345678); }
static void set_insd(struct shadow_cpu *c) { c->regs.rdx = 0x1f0; c->regs.rdi = DATA; fc.in_value = 0xa1b2c3d4; }
static void chk_insd(struct shadow_cpu *c)
{
	chk_pio(0, 0x1f0, 4, false, 0xa1b2c3d4);
	assert_int_equal(fake_get64(&fc, DATA) & 0xffffffff, 0xa1b2c3d4);
	assert_int_equal(c->regs.rdi, DATA + 4);
}
static void set_outsb(struct shadow_cpu *c)
{
	c->regs.rdx = 0x3f8;
	c->regs.rsi = DATA;
	c->regs.rcx = 3;
	fake_put(&fc, DATA, "abc", 3);
}
static void chk_outsb(struct shadow_cpu *c)
{
	assert_int_equal(fc.n_pio, 3);
	chk_pio(0, 0x3f8, 1, true, 'a');
	chk_pio(2, 0x3f8, 1, true, 'c');
	assert_int_equal(c->regs.rcx, 0);
	assert_int_equal(c->regs.rsi, DATA + 3);
}

static void put_frame(uint64_t rip, uint64_t cs, uint64_t rflags, uint64_t rsp, uint64_t ss)
{
	uint64_t f[5] = { rip, cs, rflags, rsp, ss };
	fake_put(&fc, fc.cpu.regs.rsp, f, sizeof(f));
}
static void set_iret_kernel(struct shadow_cpu *c)
{
	c->regs.rsp = STACK - 0x100;
	/* IOPL 3, RF, and reserved bit 15 in the frame. */
	put_frame(0xffff800000001234ULL, 0x08,
		  X86_RFLAGS_IF | X86_RFLAGS_IOPL | X86_RFLAGS_RF | (1 << 15) | 1 | X86_RFLAGS_FIXED, 0x1f000, 0x10);
}
static void chk_iret_kernel(struct shadow_cpu *c)
{
	assert_int_equal(c->regs.rip, 0xffff800000001234ULL);
	assert_int_equal(c->regs.rsp, 0x1f000);
	assert_int_equal(c->pcb.cs, 0x08);
	assert_int_equal(c->pcb.ss, 0x10);
	assert_int_equal(c->pcb.vcpl, 0);
	assert_false(out.cpl_changed);
	assert_true(c->pcb.vif);
	/* IOPL forced 0, RF loaded, reserved bit 15 dropped. */
	assert_int_equal(c->regs.rflags, X86_RFLAGS_IF | X86_RFLAGS_RF | 1 | X86_RFLAGS_FIXED);
}
static void set_iret_user(struct shadow_cpu *c)
{
	c->regs.rsp = STACK - 0x100;
	put_frame(0x400000, 0x2b, X86_RFLAGS_IF | X86_RFLAGS_FIXED | X86_RFLAGS_VM, 0x7fff0000, 0x23);
}
static void chk_iret_user(struct shadow_cpu *c)
{
	assert_int_equal(c->regs.rip, 0x400000);
	assert_int_equal(c->regs.rsp, 0x7fff0000);
	assert_int_equal(c->pcb.cs, 0x2b);
	assert_int_equal(c->pcb.ss, 0x23);
	assert_int_equal(c->pcb.vcpl, 3);
	assert_true(out.cpl_changed);
	assert_true(c->pcb.vif);
	assert_int_equal(c->regs.rflags, X86_RFLAGS_IF | X86_RFLAGS_FIXED);   /* never VM */
}
static void set_sysret(struct shadow_cpu *c)
{
	c->regs.rcx = 0x400123;
	c->regs.r11 = X86_RFLAGS_IF | X86_RFLAGS_FIXED | 1 | X86_RFLAGS_RF;
	c->pcb.star = 0x0010000800000000ULL;
}
static void chk_sysret(struct shadow_cpu *c)
{
	assert_int_equal(c->regs.rip, 0x400123);
	assert_int_equal(c->pcb.cs, 0x23);   /* STAR[63:48] + 16, RPL 3 */
	assert_int_equal(c->pcb.ss, 0x1b);   /* STAR[63:48] + 8, RPL 3 */
	assert_int_equal(c->pcb.vcpl, 3);
	assert_true(out.cpl_changed);
	assert_true(c->pcb.vif);
	assert_int_equal(c->regs.rflags, X86_RFLAGS_IF | X86_RFLAGS_FIXED | 1);   /* RF cleared */
}
static void set_swapgs(struct shadow_cpu *c) { c->pcb.gs_base = 0x1111; c->pcb.kernel_gs_base = 0xffff800000002222ULL; }
static void chk_swapgs(struct shadow_cpu *c)
{
	assert_int_equal(c->pcb.gs_base, 0xffff800000002222ULL);
	assert_int_equal(c->pcb.kernel_gs_base, 0x1111);
}
static void set_cpuid(struct shadow_cpu *c) { c->regs.rax = 0xffffffff00000007ULL; c->regs.rcx = 1; c->regs.rbx = ~0ULL; }
static void chk_cpuid(struct shadow_cpu *c)
{
	assert_int_equal(c->regs.rax, 7);
	assert_int_equal(c->regs.rbx, 1);
	assert_int_equal(c->regs.rcx, 0x6b6d6d76);
	assert_int_equal(c->regs.rdx, 0xfffffff8);
}
static void chk_nothing(struct shadow_cpu *c)
{
	assert_int_equal(fc.n_pio + fc.cr3_writes + fc.invlpgs + fc.paging_changes + fc.writes, 0);
}
static void set_ts(struct shadow_cpu *c) { c->pcb.cr0 |= X86_CR0_TS; }
static void chk_clts(struct shadow_cpu *c) { assert_int_equal(c->pcb.cr0, CR0_BOOT); }
static void set_sel(struct shadow_cpu *c) { c->regs.rax = 0xffff0018; }
static void chk_ds(struct shadow_cpu *c) { assert_int_equal(c->pcb.ds, 0x18); }
static void chk_es(struct shadow_cpu *c) { assert_int_equal(c->pcb.es, 0x18); }
static void chk_fs(struct shadow_cpu *c) { assert_int_equal(c->pcb.fs, 0x18); }
static void chk_gs(struct shadow_cpu *c) { assert_int_equal(c->pcb.gs, 0x18); }
static void chk_ss(struct shadow_cpu *c) { assert_int_equal(c->pcb.ss, 0x18); assert_true(out.irq_shadow); }
static void chk_int80(struct shadow_cpu *c)
{
	assert_int_equal(out.vector, 0x80);
	assert_int_equal(out.next_rip, CODE + 2);
}
static void chk_int3(struct shadow_cpu *c)
{
	assert_int_equal(out.vector, 3);
	assert_int_equal(out.next_rip, CODE + 1);
}
static void set_hc(struct shadow_cpu *c) { c->regs.rcx = SHADOW_HC_MSR; c->regs.rax = 1; c->regs.rdx = 0; }
static void chk_hc(struct shadow_cpu *c) { assert_true(c->pcb.vif); assert_true(c->regs.rflags & X86_RFLAGS_IF); }

static const struct priv_case priv_cases[] = {
	{ "cli", BYTES(0xfa), "cli", EMU_DONE, false, true, set_if, chk_cli },
	{ "sti", BYTES(0xfb), "sti", EMU_DONE, false, true, NULL, chk_sti },
	{ "hlt", BYTES(0xf4), "hlt", EMU_HALT, false, true, NULL, chk_hlt },
	{ "mov cr0, rax", BYTES(0x0f, 0x22, 0xc0), "mov cr0", EMU_DONE, false, true, set_cr0, chk_cr0 },
	{ "mov rax, cr0", BYTES(0x0f, 0x20, 0xc0), "mov from cr0", EMU_DONE, false, true, set_rax_junk, chk_rax_cr0 },
	{ "mov cr2, rax", BYTES(0x0f, 0x22, 0xd0), "mov cr2", EMU_DONE, false, true, set_cr2, chk_cr2 },
	{ "mov rax, cr2", BYTES(0x0f, 0x20, 0xd0), "mov from cr2", EMU_DONE, false, true, set_rax_junk, chk_rax_cr2 },
	{ "mov cr3, rax", BYTES(0x0f, 0x22, 0xd8), "mov cr3", EMU_DONE, false, true, set_cr3, chk_cr3 },
	{ "mov rax, cr3", BYTES(0x0f, 0x20, 0xd8), "mov from cr3", EMU_DONE, false, true, set_cr3, chk_rax_cr3 },
	{ "mov cr4, rax", BYTES(0x0f, 0x22, 0xe0), "mov cr4", EMU_DONE, false, true, set_cr4, chk_cr4 },
	{ "mov rax, cr4", BYTES(0x0f, 0x20, 0xe0), "mov from cr4", EMU_DONE, false, true, set_rax_junk, chk_rax_cr4 },
	{ "mov cr8, rax", BYTES(0x44, 0x0f, 0x22, 0xc0), "mov cr8", EMU_DONE, false, true, set_cr8, chk_cr8 },
	{ "mov rax, cr8", BYTES(0x44, 0x0f, 0x20, 0xc0), "mov from cr8", EMU_DONE, false, true, set_rax_junk, chk_rax_cr8 },
	{ "lgdt [rax]", BYTES(0x0f, 0x01, 0x10), "lgdt", EMU_DONE, false, true, set_dtr_operand, chk_lgdt },
	{ "lidt [rax]", BYTES(0x0f, 0x01, 0x18), "lidt", EMU_DONE, false, true, set_dtr_operand, chk_lidt },
	{ "sgdt [rax]", BYTES(0x0f, 0x01, 0x00), "sgdt", EMU_DONE, false, false, set_sdtr, chk_sgdt },
	{ "sidt [rax]", BYTES(0x0f, 0x01, 0x08), "sidt", EMU_DONE, false, false, set_sdtr, chk_sidt },
	{ "str eax", BYTES(0x0f, 0x00, 0xc8), "str", EMU_DONE, false, false, set_tr, chk_str_reg },
	{ "str [rax]", BYTES(0x0f, 0x00, 0x08), "str", EMU_DONE, false, false, set_tr_mem, chk_str_mem },
	{ "sldt eax", BYTES(0x0f, 0x00, 0xc0), "sldt", EMU_DONE, false, false, set_tr, chk_sldt },
	{ "smsw eax", BYTES(0x0f, 0x01, 0xe0), "smsw", EMU_DONE, false, false, set_tr, chk_smsw },
	{ "lmsw ax", BYTES(0x0f, 0x01, 0xf0), "lmsw", EMU_DONE, false, true, set_lmsw, chk_lmsw },
	{ "ltr ax", BYTES(0x0f, 0x00, 0xd8), "ltr", EMU_DONE, false, true, set_ltr, chk_ltr },
	{ "invlpg [rax+rbx*2+8]", BYTES(0x0f, 0x01, 0x7c, 0x58, 0x08), "invlpg", EMU_DONE, false, true, set_invlpg, chk_invlpg },
	{ "rdmsr", BYTES(0x0f, 0x32), "rdmsr", EMU_DONE, false, true, set_rdmsr, chk_rdmsr },
	{ "wrmsr", BYTES(0x0f, 0x30), "wrmsr", EMU_DONE, false, true, set_wrmsr, chk_wrmsr },
	{ "hypercall restore_if", BYTES(0x0f, 0x30), "hc restore_if", EMU_DONE, false, true, set_hc, chk_hc },
	{ "in al, dx", BYTES(0xec), "in", EMU_DONE, false, true, set_in, chk_in_al },
	{ "in ax, dx", BYTES(0x66, 0xed), "in", EMU_DONE, false, true, set_in, chk_in_ax },
	{ "in eax, 0x60", BYTES(0xe5, 0x60), "in", EMU_DONE, false, true, set_in, chk_in_eax_imm },
	{ "out dx, al", BYTES(0xee), "out", EMU_DONE, false, true, set_out, chk_out_al },
	{ "out 0x80, eax", BYTES(0xe7, 0x80), "out", EMU_DONE, false, true, set_out, chk_out_imm },
	{ "insd", BYTES(0x6d), "insd", EMU_DONE, false, true, set_insd, chk_insd },
	{ "rep outsb", BYTES(0xf3, 0x6e), "outsb", EMU_DONE, false, true, set_outsb, chk_outsb },
	{ "iretq to kernel", BYTES(0x48, 0xcf), "iretq", EMU_DONE, true, false, set_iret_kernel, chk_iret_kernel },
	{ "iretq to user", BYTES(0x48, 0xcf), "iretq", EMU_DONE, true, false, set_iret_user, chk_iret_user },
	{ "sysretq", BYTES(0x48, 0x0f, 0x07), "sysretq", EMU_DONE, true, true, set_sysret, chk_sysret },
	{ "swapgs", BYTES(0x0f, 0x01, 0xf8), "swapgs", EMU_DONE, false, true, set_swapgs, chk_swapgs },
	{ "cpuid", BYTES(0x0f, 0xa2), "cpuid", EMU_DONE, false, false, set_cpuid, chk_cpuid },
	{ "wbinvd", BYTES(0x0f, 0x09), "wbinvd", EMU_DONE, false, true, NULL, chk_nothing },
	{ "invd", BYTES(0x0f, 0x08), "invd", EMU_DONE, false, true, NULL, chk_nothing },
	{ "clts", BYTES(0x0f, 0x06), "clts", EMU_DONE, false, true, set_ts, chk_clts },
	{ "mov ds, ax", BYTES(0x8e, 0xd8), "mov ds", EMU_DONE, false, false, set_sel, chk_ds },
	{ "mov es, ax", BYTES(0x8e, 0xc0), "mov es", EMU_DONE, false, false, set_sel, chk_es },
	{ "mov fs, ax", BYTES(0x8e, 0xe0), "mov fs", EMU_DONE, false, false, set_sel, chk_fs },
	{ "mov gs, ax", BYTES(0x8e, 0xe8), "mov gs", EMU_DONE, false, false, set_sel, chk_gs },
	{ "mov ss, ax", BYTES(0x8e, 0xd0), "mov ss", EMU_DONE, false, false, set_sel, chk_ss },
	{ "int 0x80", BYTES(0xcd, 0x80), "int", EMU_NOT_PRIVILEGED, false, false, NULL, chk_int80 },
	{ "int3", BYTES(0xcc), "int", EMU_NOT_PRIVILEGED, false, false, NULL, chk_int3 },
};
#define N_PRIV (sizeof(priv_cases) / sizeof(priv_cases[0]))

static void run_case(const struct priv_case *pc, unsigned cpl)
{
	reset(NULL);
	fc.cpu.pcb.vcpl = cpl;
	if (pc->setup)
		pc->setup(&fc.cpu);
	place(pc->code, pc->len);
	emulate();
}

static void test_cpl0(void **state)
{
	const struct priv_case *pc = *state;

	run_case(pc, 0);
	assert_int_equal(out.status, pc->status);
	assert_string_equal(out.mnemonic, pc->mnemonic);
	assert_int_equal(out.next_rip, CODE + pc->len);
	if (pc->status == EMU_NOT_PRIVILEGED)
		assert_int_equal(fc.cpu.regs.rip, CODE);
	else if (!pc->jumps)
		assert_int_equal(fc.cpu.regs.rip, CODE + pc->len);
	pc->check(&fc.cpu);
}

static void test_cpl3_gp(void **state)
{
	const struct priv_case *pc = *state;
	struct shadow_cpu before;
	uint8_t gdt[0x80];

	reset(NULL);
	fc.cpu.pcb.vcpl = 3;
	if (pc->setup)
		pc->setup(&fc.cpu);
	place(pc->code, pc->len);
	before = fc.cpu;
	memcpy(gdt, fc.mem + GDT, sizeof(gdt));
	emulate();
	assert_exception(X86_GP, 0);
	assert_memory_equal(&fc.cpu, &before, sizeof(before));
	assert_memory_equal(fc.mem + GDT, gdt, sizeof(gdt));
	assert_int_equal(fc.n_pio + fc.cr3_writes + fc.invlpgs + fc.paging_changes + fc.writes, 0);
}

/* --- control registers, MSRs: the refusals ---------------------------------------- */

struct gp_case {
	const char *name;
	uint8_t code[15];
	size_t len;
	uint64_t rax, rcx, rdx;
	unsigned vector;
};

static const struct gp_case gp_cases[] = {
	{ "cr0 bit 32", BYTES(0x0f, 0x22, 0xc0), CR0_BOOT | (1ULL << 32), 0, 0, X86_GP },
	{ "cr0 PG without PE", BYTES(0x0f, 0x22, 0xc0), X86_CR0_PG, 0, 0, X86_GP },
	{ "cr0 clear PG in long mode", BYTES(0x0f, 0x22, 0xc0), CR0_BOOT & ~X86_CR0_PG, 0, 0, X86_GP },
	{ "cr0 NW without CD", BYTES(0x0f, 0x22, 0xc0), CR0_BOOT | X86_CR0_NW, 0, 0, X86_GP },
	{ "cr3 bit 63", BYTES(0x0f, 0x22, 0xd8), 0x8000000000001000ULL, 0, 0, X86_GP },
	{ "cr4 VMXE", BYTES(0x0f, 0x22, 0xe0), X86_CR4_PAE | (1ULL << 13), 0, 0, X86_GP },
	{ "cr4 LA57", BYTES(0x0f, 0x22, 0xe0), X86_CR4_PAE | X86_CR4_LA57, 0, 0, X86_GP },
	{ "cr4 clear PAE in long mode", BYTES(0x0f, 0x22, 0xe0), 0, 0, 0, X86_GP },
	{ "cr8 bit 4", BYTES(0x44, 0x0f, 0x22, 0xc0), 0x10, 0, 0, X86_GP },
	{ "wrmsr efer reserved", BYTES(0x0f, 0x30), 0xd01 | (1 << 12), X86_MSR_EFER, 0, X86_GP },
	{ "wrmsr efer LME off with paging", BYTES(0x0f, 0x30), 0xc01, X86_MSR_EFER, 0, X86_GP },
	{ "wrmsr lstar non-canonical", BYTES(0x0f, 0x30), 0, X86_MSR_LSTAR, 0x00008000, X86_GP },
	{ "wrmsr gs_base non-canonical", BYTES(0x0f, 0x30), 0, X86_MSR_GS_BASE, 0x00ff0000, X86_GP },
	{ "wrmsr tsc", BYTES(0x0f, 0x30), 0, X86_MSR_TSC, 0, X86_GP },
	{ "wrmsr unknown", BYTES(0x0f, 0x30), 0, 0x1b, 0, X86_GP },
	{ "rdmsr unknown", BYTES(0x0f, 0x32), 0, 0x1b, 0, X86_GP },
	{ "rdmsr unknown high", BYTES(0x0f, 0x32), 0, 0xc0000103, 0, X86_GP },
	{ "hypercall eax=2", BYTES(0x0f, 0x30), 2, SHADOW_HC_MSR, 0, X86_GP },
	{ "mov cr1 (undecodable)", BYTES(0x0f, 0x22, 0xc8), 0, 0, 0, X86_UD },
	{ "mov cr5 (undecodable)", BYTES(0x0f, 0x20, 0xe8), 0, 0, 0, X86_UD },
	{ "into in 64-bit mode", BYTES(0xce), 0, 0, 0, X86_UD },
	{ "16 prefixes", BYTES(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66),
	  0, 0, 0, X86_UD },
};
#define N_GP (sizeof(gp_cases) / sizeof(gp_cases[0]))

static void test_refused(void **state)
{
	const struct gp_case *gc = *state;
	struct shadow_cpu before;

	reset(NULL);
	fc.cpu.regs.rax = gc->rax;
	fc.cpu.regs.rcx = gc->rcx;
	fc.cpu.regs.rdx = gc->rdx;
	place(gc->code, gc->len);
	before = fc.cpu;
	emulate();
	assert_exception(gc->vector, 0);
	assert_memory_equal(&fc.cpu, &before, sizeof(before));
	assert_int_equal(fc.cr3_writes + fc.paging_changes, 0);
}

/* --- every MSR, written then read back ------------------------------------------------ */

static void msr_write(uint32_t msr, uint64_t v)
{
	fc.cpu.regs.rip = CODE;
	fc.cpu.regs.rcx = msr;
	fc.cpu.regs.rax = (uint32_t) v;
	fc.cpu.regs.rdx = v >> 32;
	CODE_BYTES(0x0f, 0x30);
	emulate();
}

static uint64_t msr_read(uint32_t msr)
{
	fc.cpu.regs.rip = CODE;
	fc.cpu.regs.rcx = msr;
	fc.cpu.regs.rax = fc.cpu.regs.rdx = 0xdeadbeefdeadbeefULL;
	CODE_BYTES(0x0f, 0x32);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rax >> 32, 0);
	assert_int_equal(fc.cpu.regs.rdx >> 32, 0);
	return fc.cpu.regs.rax | fc.cpu.regs.rdx << 32;
}

static void test_msrs(void **state)
{
	static const struct { uint32_t msr; uint64_t v; size_t off; } msrs[] = {
		{ X86_MSR_STAR, 0x0023001000000000ULL, offsetof(struct shadow_pcb, star) },
		{ X86_MSR_LSTAR, 0xffffffff81000000ULL, offsetof(struct shadow_pcb, lstar) },
		{ X86_MSR_CSTAR, 0xffffffff81000040ULL, offsetof(struct shadow_pcb, cstar) },
		{ X86_MSR_SFMASK, 0x47700, offsetof(struct shadow_pcb, sfmask) },
		{ X86_MSR_FS_BASE, 0x00007f0000001000ULL, offsetof(struct shadow_pcb, fs_base) },
		{ X86_MSR_GS_BASE, 0xffff888000000000ULL, offsetof(struct shadow_pcb, gs_base) },
		{ X86_MSR_KERNEL_GS_BASE, 0x00007f0000002000ULL, offsetof(struct shadow_pcb, kernel_gs_base) },
	};
	for (size_t i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
		msr_write(msrs[i].msr, msrs[i].v);
		assert_int_equal(out.status, EMU_DONE);
		uint64_t stored;
		memcpy(&stored, (uint8_t *) &fc.cpu.pcb + msrs[i].off, sizeof(stored));
		assert_int_equal(stored, msrs[i].v);
		assert_int_equal(msr_read(msrs[i].msr), msrs[i].v);
	}
	/* EFER: SCE and NXE writable, LMA read-only (kept), NXE change is a paging event. */
	msr_write(X86_MSR_EFER, X86_EFER_LME);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.pcb.efer, X86_EFER_LME | X86_EFER_LMA);
	assert_int_equal(fc.paging_changes, 1);
	assert_int_equal(msr_read(X86_MSR_EFER), X86_EFER_LME | X86_EFER_LMA);
	/* TSC reads the env's clock; the hypercall MSR reads the virtual IF. */
	assert_int_equal(msr_read(X86_MSR_TSC), 0x123456789abcULL);
	fc.cpu.pcb.vif = true;
	assert_int_equal(msr_read(SHADOW_HC_MSR), 1);
	msr_write(SHADOW_HC_MSR, 0);
	assert_int_equal(out.status, EMU_DONE);
	assert_false(fc.cpu.pcb.vif);
	assert_false(fc.cpu.regs.rflags & X86_RFLAGS_IF);
}

/* --- fetch ----------------------------------------------------------------------------- */

static void test_fetch_fault(void **state)
{
	fc.cpu.regs.rip = 0x6ffe;
	fake_set_pages(&fc, 0x7000, 4096, 0);
	/* cli at the last byte before a non-present page: no fault. */
	fc.cpu.regs.rip = 0x6fff;
	CODE_BYTES(0xfa);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rip, 0x7000);

	/* mov cr3, rax straddling into it: #PF at the second page. */
	fc.cpu.regs.rip = 0x6ffe;
	CODE_BYTES(0x0f, 0x22);
	emulate();
	assert_exception(X86_PF, SHADOW_ACC_FETCH);
	assert_int_equal(out.cr2, 0x7000);
	assert_int_equal(fc.cpu.regs.rip, 0x6ffe);
	assert_int_equal(fc.cr3_writes, 0);

	/* RIP on the non-present page itself. */
	fc.cpu.regs.rip = 0x7010;
	emulate();
	assert_exception(X86_PF, SHADOW_ACC_FETCH);
	assert_int_equal(out.cr2, 0x7010);
	assert_string_equal(out.mnemonic, "(fetch)");

	/* At virtual CPL3 from a supervisor page: protection fault, user fetch. */
	fake_set_pages(&fc, CODE, 4096, FAKE_P | FAKE_W);
	fc.cpu.pcb.vcpl = 3;
	fc.cpu.regs.rip = CODE + 4;
	emulate();
	assert_exception(X86_PF, 1 | SHADOW_ACC_USER | SHADOW_ACC_FETCH);
	assert_int_equal(out.cr2, CODE + 4);
}

static void test_not_privileged(void **state)
{
	static const struct { uint8_t code[15]; size_t len; const char *mnemonic; } cases[] = {
		{ BYTES(0x48, 0x89, 0x18), "mov" },    /* mov [rax], rbx */
		{ BYTES(0x90), "nop" },
		{ BYTES(0x0f, 0x0b), "ud2" },
		{ BYTES(0x9d), "popfq" },
		{ BYTES(0x8c, 0xd8), "mov" },          /* mov eax, ds: reads never trap */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset(NULL);
		struct shadow_cpu before;
		place(cases[i].code, cases[i].len);
		before = fc.cpu;
		emulate();
		assert_int_equal(out.status, EMU_NOT_PRIVILEGED);
		assert_string_equal(out.mnemonic, cases[i].mnemonic);
		assert_memory_equal(&fc.cpu, &before, sizeof(before));
	}
}

/* --- operands in guest memory ---------------------------------------------------------- */

static void test_lgdt_operand_fault(void **state)
{
	struct shadow_cpu before;

	fake_set_pages(&fc, DATA, 4096, 0);
	fc.cpu.regs.rax = DATA + 4090;   /* crosses into the next, present page: fault at DATA + 4090 */
	CODE_BYTES(0x0f, 0x01, 0x10);
	before = fc.cpu;
	emulate();
	assert_exception(X86_PF, 0);
	assert_int_equal(out.cr2, DATA + 4090);
	assert_memory_equal(&fc.cpu, &before, sizeof(before));

	/* Non-canonical base in the operand: #GP(0). */
	const uint8_t m[10] = { 0xff, 0, 0, 0, 0, 0, 0, 0x80, 0, 0 };
	fake_put(&fc, DATA2, m, sizeof(m));
	fc.cpu.regs.rax = DATA2;
	emulate();
	assert_exception(X86_GP, 0);
	assert_int_equal(fc.cpu.pcb.gdtr.base, GDT);

	/* Non-canonical operand address: #GP(0), no memory access. */
	fc.cpu.regs.rax = 0x0000800000000000ULL;
	unsigned reads = fc.reads;
	emulate();
	assert_exception(X86_GP, 0);
	assert_int_equal(fc.reads, reads);
}

static void test_operand_addressing(void **state)
{
	const uint8_t m[10] = { 0x21, 0x00, 0x00, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
	static const struct { const char *name; uint8_t code[15]; size_t len; } cases[] = {
		{ "lgdt [rip+0x6ff9]", BYTES(0x0f, 0x01, 0x15, 0xf9, 0x6f, 0x00, 0x00, 0x90, 0x90) },
		{ "lgdt fs:[rax]", BYTES(0x64, 0x0f, 0x01, 0x10) },
		{ "lgdt gs:[rax]", BYTES(0x65, 0x0f, 0x01, 0x10) },
		{ "lgdt [eax+0x8010] (a32, wraps)", BYTES(0x67, 0x0f, 0x01, 0x90, 0x10, 0x80, 0x00, 0x00) },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset(NULL);
		fake_put(&fc, CODE + 0x7000, m, sizeof(m));   /* rip-relative: CODE + len(7) + 0x7000 - 7 */
		fake_put(&fc, DATA, m, sizeof(m));
		fc.cpu.pcb.fs_base = DATA - 0x100;
		fc.cpu.pcb.gs_base = DATA - 0x200;
		fc.cpu.regs.rax = i == 1 ? 0x100 : i == 2 ? 0x200 : 0xfffffffffffffff0ULL;
		place(cases[i].code, cases[i].len);
		emulate();
		print_message("%s\n", cases[i].name);
		assert_int_equal(out.status, EMU_DONE);
		assert_int_equal(fc.cpu.pcb.gdtr.base, 0x7000);
		assert_int_equal(fc.cpu.pcb.gdtr.limit, 0x21);
	}
	/* fs rep outsb reads through the FS base. */
	reset(NULL);
	fc.cpu.pcb.fs_base = DATA;
	fc.cpu.regs.rsi = 0x10;
	fc.cpu.regs.rcx = 1;
	fc.cpu.regs.rdx = 0x3f8;
	fc.mem[DATA + 0x10] = 'z';
	CODE_BYTES(0x64, 0xf3, 0x6e);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	chk_pio(0, 0x3f8, 1, true, 'z');
}

static void test_ltr_refusals(void **state)
{
	static const struct { uint16_t sel; bool present; uint8_t type; unsigned vector; uint32_t error; } cases[] = {
		{ 0x0000, true, 0x09, X86_GP, 0 },      /* null */
		{ 0x0003, true, 0x09, X86_GP, 0 },      /* null with RPL */
		{ 0x0024, true, 0x09, X86_GP, 0x24 },   /* TI = 1: no LDT */
		{ 0x0080, true, 0x09, X86_GP, 0x80 },   /* beyond the GDT limit */
		{ 0x0078, true, 0x09, X86_GP, 0x78 },   /* 16-byte descriptor crosses the limit */
		{ 0x0020, false, 0x09, X86_NP, 0x20 },  /* not present */
		{ 0x0020, true, 0x0b, X86_GP, 0x20 },   /* already busy */
		{ 0x0020, true, 0x02, X86_GP, 0x20 },   /* an LDT descriptor */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset(NULL);
		fake_put_tss_desc(&fc, GDT, 4, TSS, 0x67, cases[i].present);
		fc.mem[GDT + 0x20 + 5] = (fc.mem[GDT + 0x20 + 5] & 0xe0) | cases[i].type;
		uint8_t gdt[0x80];
		memcpy(gdt, fc.mem + GDT, sizeof(gdt));
		fc.cpu.regs.rax = cases[i].sel;
		CODE_BYTES(0x0f, 0x00, 0xd8);
		emulate();
		assert_exception(cases[i].vector, cases[i].error);
		assert_int_equal(fc.cpu.pcb.tr, 0);
		assert_memory_equal(fc.mem + GDT, gdt, sizeof(gdt));
	}
}

static void test_umip(void **state)
{
	/* Without UMIP, sgdt at CPL3 works and writes as a user access. */
	fc.cpu.pcb.vcpl = 3;
	fc.cpu.regs.rax = DATA;
	fake_set_pages(&fc, DATA, 4096, FAKE_P | FAKE_W);
	CODE_BYTES(0x0f, 0x01, 0x00);
	emulate();
	assert_exception(X86_PF, 1 | SHADOW_ACC_WRITE | SHADOW_ACC_USER);
	fake_set_pages(&fc, DATA, 4096, FAKE_P | FAKE_W | FAKE_U);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fake_get64(&fc, DATA + 2), GDT);
	/* With UMIP: #GP(0). */
	fc.cpu.regs.rip = CODE;
	fc.cpu.pcb.cr4 |= X86_CR4_UMIP;
	emulate();
	assert_exception(X86_GP, 0);
	CODE_BYTES(0x0f, 0x00, 0xc8);   /* str eax */
	emulate();
	assert_exception(X86_GP, 0);
}

/* --- port I/O --------------------------------------------------------------------------------- */

static void test_pio_unclaimed(void **state)
{
	fc.fail_lo = 0x200;
	fc.fail_hi = 0x300;
	fc.cpu.regs.rdx = 0x210;
	fc.cpu.regs.rax = 0;
	CODE_BYTES(0x66, 0xed);   /* in ax, dx */
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rax, 0xffff);
	fc.cpu.regs.rip = CODE;
	CODE_BYTES(0xee);         /* out dx, al: dropped */
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rip, CODE + 1);
}

static void test_rep_outs_bounded(void **state)
{
	/* 100000 bytes: 65536 per trap, RIP stays until rcx reaches 0. */
	fc.cpu.regs.rdx = 0xe9;
	fc.cpu.regs.rsi = DATA2;
	fc.cpu.regs.rcx = 100000;
	for (unsigned i = 0; i < 100000; i++)
		fc.mem[DATA2 + i] = i;
	CODE_BYTES(0xf3, 0x6e);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.n_pio, 65536);
	assert_int_equal(fc.cpu.regs.rcx, 100000 - 65536);
	assert_int_equal(fc.cpu.regs.rsi, DATA2 + 65536);
	assert_int_equal(fc.cpu.regs.rip, CODE);
	chk_pio(63, 0xe9, 1, true, 63);
	emulate();
	assert_int_equal(fc.n_pio, 100000);
	assert_int_equal(fc.cpu.regs.rcx, 0);
	assert_int_equal(fc.cpu.regs.rip, CODE + 2);
}

static void test_rep_outs_fault_midway(void **state)
{
	/* rep outsw with the source running into a non-present page: the
	 * elements before it are done, rcx/rsi say so, RIP stays. */
	fake_set_pages(&fc, DATA + 4096, 4096, 0);
	fc.cpu.regs.rdx = 0x1f0;
	fc.cpu.regs.rsi = DATA + 4096 - 6;
	fc.cpu.regs.rcx = 10;
	CODE_BYTES(0xf3, 0x66, 0x6f);
	emulate();
	assert_exception(X86_PF, 0);
	assert_int_equal(out.cr2, DATA + 4096);
	assert_int_equal(fc.n_pio, 3);
	assert_int_equal(fc.cpu.regs.rcx, 7);
	assert_int_equal(fc.cpu.regs.rsi, DATA + 4096);
	assert_int_equal(fc.cpu.regs.rip, CODE);
}

static void test_rep_ins_backwards_addr32(void **state)
{
	/* a32 rep insb with DF = 1: edi/ecx are 32-bit (upper halves cleared). */
	fc.cpu.regs.rflags |= X86_RFLAGS_DF;
	fc.cpu.regs.rdx = 0x60;
	fc.cpu.regs.rdi = 0xffffffff00000000ULL | (DATA + 2);
	fc.cpu.regs.rcx = 0xffffffff00000003ULL;
	fc.in_value = 0x10;
	fc.in_step = 1;
	CODE_BYTES(0x67, 0xf3, 0x6c);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.mem[DATA + 2], 0x10);
	assert_int_equal(fc.mem[DATA + 1], 0x11);
	assert_int_equal(fc.mem[DATA + 0], 0x12);
	assert_int_equal(fc.cpu.regs.rdi, DATA - 1);
	assert_int_equal(fc.cpu.regs.rcx, 0);
	assert_int_equal(fc.cpu.regs.rip, CODE + 3);
}

/* --- iretq / sysretq / segment loads: refusals --------------------------------------------------- */

static void test_iret_refusals(void **state)
{
	static const struct { uint64_t rip, cs, ss; unsigned cpl; unsigned vector; uint32_t error; } cases[] = {
		{ 0x1000, 0x09, 0x10, 0, X86_GP, 0x08 },                 /* RPL 1 */
		{ 0x1000, 0x0a, 0x10, 0, X86_GP, 0x08 },                 /* RPL 2 */
		{ 0x1000, 0x00, 0x10, 0, X86_GP, 0 },                    /* null CS */
		{ 0x1000, 0x2b, 0x00, 0, X86_GP, 0 },                    /* null SS to user */
		{ 0x1000, 0x2b, 0x20, 0, X86_GP, 0x20 },                 /* SS RPL 0 to user */
		{ 0x1000, 0x08, 0x13, 0, X86_GP, 0x10 },                 /* SS RPL 3 to kernel */
		{ 0x0000800000000000ULL, 0x08, 0x10, 0, X86_GP, 0 },     /* non-canonical RIP */
		{ 0x1000, 0x08, 0x10, 3, X86_GP, 0x08 },                 /* user to kernel */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset(NULL);
		fc.cpu.pcb.vcpl = cases[i].cpl;
		fc.cpu.regs.rsp = STACK - 0x100;
		put_frame(cases[i].rip, cases[i].cs, X86_RFLAGS_FIXED, 0x1000, cases[i].ss);
		CODE_BYTES(0x48, 0xcf);
		struct shadow_cpu before = fc.cpu;
		emulate();
		assert_exception(cases[i].vector, cases[i].error);
		assert_memory_equal(&fc.cpu, &before, sizeof(before));
	}
	/* Frame on a non-present page: #PF, nothing changed. */
	reset(NULL);
	fake_set_pages(&fc, STACK - 4096, 4096, 0);
	fc.cpu.regs.rsp = STACK - 16;
	CODE_BYTES(0x48, 0xcf);
	emulate();
	assert_exception(X86_PF, 0);
	assert_int_equal(out.cr2, STACK - 16);
}

static void test_iret_user_to_user(void **state)
{
	/* At virtual CPL3 an iretq to CPL3 is legal; IF and IOPL stay (CPL > IOPL). */
	fc.cpu.pcb.vcpl = 3;
	fc.cpu.pcb.vif = true;
	fc.cpu.regs.rflags |= X86_RFLAGS_IF;
	fc.cpu.regs.rsp = STACK - 0x100;
	put_frame(0x401000, 0x2b, X86_RFLAGS_FIXED | X86_RFLAGS_IOPL | X86_RFLAGS_DF, 0x7ff000, 0x23);
	CODE_BYTES(0x48, 0xcf);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_false(out.cpl_changed);
	assert_int_equal(fc.cpu.regs.rip, 0x401000);
	assert_true(fc.cpu.pcb.vif);
	assert_int_equal(fc.cpu.regs.rflags, X86_RFLAGS_FIXED | X86_RFLAGS_IF | X86_RFLAGS_DF);
}

static void test_sysret_refusals(void **state)
{
	fc.cpu.regs.rcx = 0x400000;
	CODE_BYTES(0x48, 0x0f, 0x07);
	fc.cpu.pcb.efer &= ~X86_EFER_SCE;
	fc.cpu.pcb.vcpl = 3;
	emulate();
	assert_exception(X86_UD, 0);   /* #UD before the CPL check */
	fc.cpu.pcb.efer |= X86_EFER_SCE;
	emulate();
	assert_exception(X86_GP, 0);
	fc.cpu.pcb.vcpl = 0;
	fc.cpu.regs.rcx = 0x0000800000000000ULL;
	emulate();
	assert_exception(X86_GP, 0);
	assert_int_equal(fc.cpu.regs.rip, CODE);
	assert_int_equal(fc.cpu.pcb.vcpl, 0);
}

static void test_noncanonical_return_on_amd(void **state)
{
	/* Where CPUID says AMD, iretq and sysretq to a non-canonical RIP
	 * complete (the #GP comes at the fetch there, from the engine). */
	fc.env.cpuid = fake_cpuid_amd;
	fc.cpu.regs.rsp = STACK - 0x100;
	put_frame(0x0000800000000000ULL, 0x08, X86_RFLAGS_FIXED, 0x1f000, 0x10);
	CODE_BYTES(0x48, 0xcf);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rip, 0x0000800000000000ULL);
	assert_int_equal(fc.cpu.regs.rsp, 0x1f000);

	reset(NULL);
	fc.env.cpuid = fake_cpuid_amd;
	fc.cpu.pcb.star = 0x001b000800000000ULL;
	fc.cpu.regs.rcx = 0x0000800000000000ULL;
	CODE_BYTES(0x48, 0x0f, 0x07);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rip, 0x0000800000000000ULL);
	assert_int_equal(fc.cpu.pcb.vcpl, 3);

	/* A far return still checks at the instruction (hw mode and QEMU on AMD agree). */
	reset(NULL);
	fc.env.cpuid = fake_cpuid_amd;
	fc.cpu.regs.rsp = STACK - 0x100;
	put_frame(0x0000800000000000ULL, 0x08, 0, 0, 0);
	CODE_BYTES(0x48, 0xcb);
	emulate();
	assert_exception(X86_GP, 0);
	assert_int_equal(fc.cpu.regs.rip, CODE);
}

static void test_mov_ss_refusals(void **state)
{
	CODE_BYTES(0x8e, 0xd0);
	fc.cpu.regs.rax = 0x23;   /* RPL 3 at CPL0 */
	emulate();
	assert_exception(X86_GP, 0x20);
	fc.cpu.regs.rax = 0;      /* null SS at CPL0: fine in 64-bit mode */
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.pcb.ss, 0);
	fc.cpu.regs.rip = CODE;
	fc.cpu.pcb.vcpl = 3;
	emulate();                /* null SS at CPL3 */
	assert_exception(X86_GP, 0);
	fc.cpu.regs.rax = 0x2b;   /* user code: not a stack */
	emulate();
	assert_exception(X86_GP, 0x28);
	fc.cpu.regs.rax = 0x23;
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.pcb.ss, 0x23);
	/* mov ds, [rbx] from memory. */
	fc.cpu.regs.rip = CODE;
	fc.cpu.regs.rbx = DATA;
	fake_put(&fc, DATA, "\x33\x00", 2);
	CODE_BYTES(0x8e, 0x1b);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.pcb.ds, 0x33);
}

static void test_cr0_paging_events(void **state)
{
	/* Only paging-relevant bits are paging events. */
	fc.cpu.regs.rax = CR0_BOOT | X86_CR0_TS | X86_CR0_AM;
	CODE_BYTES(0x0f, 0x22, 0xc0);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.paging_changes, 0);
	assert_int_equal(fc.cpu.pcb.cr0, CR0_BOOT | X86_CR0_TS | X86_CR0_AM);
	/* Reserved bits 31:0 are ignored, ET reads 1. */
	fc.cpu.regs.rip = CODE;
	fc.cpu.regs.rax = (CR0_BOOT & ~X86_CR0_ET) | (1ULL << 8);
	emulate();
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.pcb.cr0, CR0_BOOT);
	/* sti when IF is already set has no interrupt shadow. */
	fc.cpu.regs.rip = CODE;
	fc.cpu.pcb.vif = true;
	CODE_BYTES(0xfb);
	emulate();
	assert_false(out.irq_shadow);
}

/* --- hostile bytes ---------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random prefixes + privileged opcodes + random bytes, random registers: the
 * emulator must neither crash (run under ASan/UBSan) nor let virtual CPL3
 * touch devices, paging or descriptor tables, nor raise its own CPL. */
static void test_random_bytes(void **state)
{
	static const uint8_t prefixes[] = { 0x66, 0x67, 0xf2, 0xf3, 0x48, 0x4f, 0x64, 0x65, 0xf0, 0x2e };
	static const uint8_t opcodes[][2] = {
		{ 0x0f, 0x01 }, { 0x0f, 0x00 }, { 0x0f, 0x20 }, { 0x0f, 0x22 }, { 0x0f, 0x30 }, { 0x0f, 0x32 },
		{ 0x0f, 0x07 }, { 0x0f, 0xa2 }, { 0xe4, 0 }, { 0xe7, 0 }, { 0xec, 0 }, { 0xef, 0 }, { 0x6c, 0 },
		{ 0x6f, 0 }, { 0xcf, 0 }, { 0x8e, 0 }, { 0xcd, 0 }, { 0xfa, 0 }, { 0xfb, 0 }, { 0xf4, 0 },
		{ 0x8b, 0 }, { 0x89, 0 }, { 0xc7, 0 }, { 0x0f, 0xb1 }, { 0xab, 0 },
		{ 0xcb, 0 }, { 0xca, 0 }, { 0xff, 0 }, { 0x0f, 0xb2 }, { 0x0f, 0xb4 }, { 0x0f, 0xa1 }, { 0x0f, 0xa9 },
	};
	for (unsigned iter = 0; iter < 20000; iter++) {
		reset(NULL);
		uint8_t code[15];
		size_t n = 0;
		unsigned np = rng() % 4;
		for (unsigned i = 0; i < np; i++)
			code[n++] = prefixes[rng() % sizeof(prefixes)];
		const uint8_t *op = opcodes[rng() % (sizeof(opcodes) / sizeof(opcodes[0]))];
		code[n++] = op[0];
		if (op[0] == 0x0f)
			code[n++] = op[1];
		while (n < sizeof(code))
			code[n++] = rng();
		uint64_t *r = (uint64_t *) &fc.cpu.regs;
		for (unsigned i = 0; i < 16; i++)
			r[i] = (rng() & 1) ? rng() : DATA + (rng() % 0x100);
		fc.cpu.regs.rcx &= 0x1ff;
		/* Half the GDT hostile: random descriptors for random selectors to name. */
		for (unsigned i = 8; i < 16; i++)
			fake_put64(&fc, GDT + i * 8, rng());
		fake_put64(&fc, STACK - 0x100 + 8 * (rng() % 5), rng() & 0xffff);
		fc.cpu.regs.rsp = (rng() & 1) ? rng() : STACK - 0x100;
		unsigned cpl = (rng() & 1) ? 3 : 0;
		fc.cpu.pcb.vcpl = cpl;
		struct shadow_pcb before = fc.cpu.pcb;
		place(code, sizeof(code));
		emulate();
		assert_true(out.status <= EMU_UNSUPPORTED && out.status != EMU_NOT_EMULATED);
		assert_true(memchr(out.mnemonic, 0, sizeof(out.mnemonic)) != NULL);
		if (out.status == EMU_EXCEPTION)
			assert_true(out.vector < 32);
		if (cpl == 3) {
			assert_int_equal(fc.cpu.pcb.vcpl, 3);
			assert_int_equal(fc.n_pio + fc.cr3_writes + fc.invlpgs + fc.paging_changes, 0);
			assert_int_equal(fc.cpu.pcb.cr0, before.cr0);
			assert_int_equal(fc.cpu.pcb.cr3, before.cr3);
			assert_int_equal(fc.cpu.pcb.cr4, before.cr4);
			assert_int_equal(fc.cpu.pcb.efer, before.efer);
			assert_int_equal(fc.cpu.pcb.lstar, before.lstar);
			assert_memory_equal(&fc.cpu.pcb.gdtr, &before.gdtr, sizeof(before.gdtr));
			assert_memory_equal(&fc.cpu.pcb.idtr, &before.idtr, sizeof(before.idtr));
			assert_int_equal(fc.cpu.pcb.vif, before.vif);
		}
		assert_true(fc.cpu.pcb.vcpl == 0 || fc.cpu.pcb.vcpl == 3);
		assert_int_equal(fc.cpu.regs.rflags & (X86_RFLAGS_IOPL | X86_RFLAGS_VM), 0);
	}
}

int main(void)
{
	static struct CMUnitTest table[2 * N_PRIV + N_GP];
	static char names[2 * N_PRIV][64];
	size_t n = 0;

	for (size_t i = 0; i < N_PRIV; i++) {
		snprintf(names[n], sizeof(names[n]), "cpl0: %s", priv_cases[i].name);
		table[n] = (struct CMUnitTest) { names[n], test_cpl0, NULL, NULL, (void *) &priv_cases[i] };
		n++;
	}
	for (size_t i = 0; i < N_PRIV; i++) {
		if (!priv_cases[i].cpl3_gp)
			continue;
		snprintf(names[n], sizeof(names[n]), "cpl3 #GP: %s", priv_cases[i].name);
		table[n] = (struct CMUnitTest) { names[n], test_cpl3_gp, NULL, NULL, (void *) &priv_cases[i] };
		n++;
	}
	for (size_t i = 0; i < N_GP; i++)
		table[n++] = (struct CMUnitTest) { gp_cases[i].name, test_refused, NULL, NULL, (void *) &gp_cases[i] };

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_msrs, reset),
		cmocka_unit_test_setup(test_fetch_fault, reset),
		cmocka_unit_test_setup(test_not_privileged, reset),
		cmocka_unit_test_setup(test_lgdt_operand_fault, reset),
		cmocka_unit_test_setup(test_operand_addressing, reset),
		cmocka_unit_test_setup(test_ltr_refusals, reset),
		cmocka_unit_test_setup(test_umip, reset),
		cmocka_unit_test_setup(test_pio_unclaimed, reset),
		cmocka_unit_test_setup(test_rep_outs_bounded, reset),
		cmocka_unit_test_setup(test_rep_outs_fault_midway, reset),
		cmocka_unit_test_setup(test_rep_ins_backwards_addr32, reset),
		cmocka_unit_test_setup(test_iret_refusals, reset),
		cmocka_unit_test_setup(test_iret_user_to_user, reset),
		cmocka_unit_test_setup(test_sysret_refusals, reset),
		cmocka_unit_test_setup(test_noncanonical_return_on_amd, reset),
		cmocka_unit_test_setup(test_mov_ss_refusals, reset),
		cmocka_unit_test_setup(test_cr0_paging_events, reset),
		cmocka_unit_test_setup(test_random_bytes, reset),
	};
	int failed = _cmocka_run_group_tests("emulate table", table, n, NULL, NULL);
	return failed + cmocka_run_group_tests_name("emulate", tests, NULL, NULL);
}
