/* SPDX-License-Identifier: MIT */
/*
 * Segment loads and far transfers (vmmd/shadow/emulate_seg.c) on the fake
 * CPU, against a GDT and an LDT in fake guest memory: each instruction in
 * its operand sizes, to the same and to an outer level, and each check of
 * the SDM's 64-bit-mode pseudocode that makes it fault — with the selector
 * as error code where the CPU gives one — and leaves the virtual CPU as it
 * was.
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

enum { CODE = 0x1000, GDT = 0x3000, LDT = 0x5000, DATA = 0x8000, STACK = 0x20000, USER_STACK = 0x30000 };

/* Extra descriptors in the fake GDT (fake_put_gdt fills 1..7). */
enum {
	SEL_FSBASE = 0x40,     /* data, base 0x12345678 */
	SEL_XONLY = 0x48,      /* execute-only code, DPL 3 */
	SEL_NP_DATA = 0x50,    /* data, not present */
	SEL_NP_CODE = 0x58,    /* 64-bit code, DPL 0, not present */
	SEL_LD_CODE = 0x60,    /* L and D both set */
	SEL_CONF = 0x68,       /* conforming 64-bit code, DPL 0 */
	SEL_CALLGATE = 0x70,   /* a 64-bit call gate (16 bytes) */
	SEL_LDT = 0x80,        /* the LDT's descriptor (16 bytes) */
	SEL_TSS = 0x90,        /* a TSS descriptor (16 bytes) */
	SEL_NOACC = 0xa0,      /* data, accessed bit clear */
	GDT_ENTRIES = 24,
};

static struct fake_cpu fc;
static struct emu_outcome out;

static uint64_t desc(uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
	return (limit & 0xffffULL) | (uint64_t) (base & 0xffffff) << 16 | (uint64_t) access << 40 |
	       (uint64_t) ((limit >> 16) & 0xf) << 48 | (uint64_t) (flags & 0xf) << 52 | (uint64_t) (base >> 24) << 56;
}

static int reset(void **state)
{
	fake_cpu_init(&fc);
	memset(&out, 0, sizeof(out));
	fake_put_gdt(&fc, GDT);
	fc.cpu.pcb.gdtr.limit = GDT_ENTRIES * 8 - 1;
	fake_put_desc(&fc, GDT, SEL_FSBASE / 8, desc(0x12345678, 0xfffff, 0x93, 0xc));
	fake_put_desc(&fc, GDT, SEL_XONLY / 8, desc(0, 0xfffff, 0xf9, 0xa));
	fake_put_desc(&fc, GDT, SEL_NP_DATA / 8, desc(0, 0xfffff, 0x13, 0xc));
	fake_put_desc(&fc, GDT, SEL_NP_CODE / 8, desc(0, 0xfffff, 0x1b, 0xa));
	fake_put_desc(&fc, GDT, SEL_LD_CODE / 8, desc(0, 0xfffff, 0x9b, 0xe));
	fake_put_desc(&fc, GDT, SEL_CONF / 8, desc(0, 0xfffff, 0x9f, 0xa));
	fake_put_desc(&fc, GDT, SEL_CALLGATE / 8, 0x0000ec0000081000ULL);   /* gate to 0x08:0x1000, DPL 3 */
	fake_put_desc(&fc, GDT, SEL_CALLGATE / 8 + 1, 0);
	fake_put_desc(&fc, GDT, SEL_LDT / 8, desc(LDT, 0x3f, 0x82, 0));
	fake_put_desc(&fc, GDT, SEL_LDT / 8 + 1, 0);
	fake_put_tss_desc(&fc, GDT, SEL_TSS / 8, 0x6000, 0x67, true);
	fake_put_desc(&fc, GDT, SEL_NOACC / 8, desc(0, 0xfffff, 0x92, 0xc));
	/* The LDT: entry 1 user data (0x0f with TI and RPL 3), entry 2 kernel code. */
	fake_put_desc(&fc, LDT, 1, 0x00cff3000000ffffULL);
	fake_put_desc(&fc, LDT, 2, 0x00af9b000000ffffULL);

	struct shadow_pcb *p = &fc.cpu.pcb;
	p->cr0 = X86_CR0_BOOT;
	p->cr4 = X86_CR4_PAE;
	p->efer = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	p->cs = FAKE_SEL_KCODE;
	p->ss = FAKE_SEL_KDATA;
	p->ds = p->es = FAKE_SEL_KDATA;
	fc.cpu.regs.rip = CODE;
	fc.cpu.regs.rsp = STACK - 0x100;
	return 0;
}

static void to_user(void)
{
	fc.cpu.pcb.vcpl = 3;
	fc.cpu.pcb.cs = FAKE_SEL_UCODE;
	fc.cpu.pcb.ss = fc.cpu.pcb.ds = fc.cpu.pcb.es = FAKE_SEL_UDATA;
	fc.cpu.regs.rsp = USER_STACK - 0x100;
}

#define CODE_BYTES(...) do { const uint8_t b_[] = { __VA_ARGS__ }; fake_put(&fc, CODE, b_, sizeof(b_)); } while (0)

static void emulate(unsigned vector)
{
	fc.cpu.regs.rip = CODE;
	emu_privileged(&fc.cpu, &fc.env, vector, &out);
}

/* Emulate and expect an exception with nothing changed. */
static void expect_fault(unsigned vector, uint32_t error)
{
	fc.cpu.regs.rip = CODE;
	struct shadow_cpu before = fc.cpu;
	emulate(X86_GP);
	assert_int_equal(out.status, EMU_EXCEPTION);
	assert_int_equal(out.vector, vector);
	assert_int_equal(out.error, error);
	assert_memory_equal(&fc.cpu, &before, sizeof(before));
}

static void expect_unsupported(void)
{
	fc.cpu.regs.rip = CODE;
	struct shadow_cpu before = fc.cpu;
	emulate(X86_GP);
	assert_int_equal(out.status, EMU_UNSUPPORTED);
	assert_non_null(out.reason);
	assert_memory_equal(&fc.cpu, &before, sizeof(before));
}

static void expect_done(void)
{
	emulate(X86_GP);
	assert_int_equal(out.status, EMU_DONE);
}

/* Values of `w` bytes each, pushed from the lowest address up, at rsp. */
static void put_stack(unsigned w, unsigned n, const uint64_t *v)
{
	uint8_t buf[64];
	for (unsigned i = 0; i < n; i++)
		for (unsigned b = 0; b < w; b++)
			buf[i * w + b] = v[i] >> (8 * b);
	fake_put(&fc, fc.cpu.regs.rsp, buf, n * w);
}

static uint8_t access_byte(uint16_t sel)
{
	return fc.mem[GDT + (sel & ~7u) + 5];
}

/* --- far return ------------------------------------------------------------------------ */

static void test_lret_sizes(void **state)
{
	static const struct { uint8_t code[4]; size_t len; unsigned w; uint64_t rip; } sizes[] = {
		{ { 0x48, 0xcb }, 2, 8, 0xffffffff81001000ULL },   /* lretq */
		{ { 0xcb }, 1, 4, 0x81001000 },                    /* lret: 32-bit, zero-extended */
		{ { 0x66, 0xcb }, 2, 2, 0x1000 },                  /* lretw */
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		reset(NULL);
		uint64_t v[2] = { sizes[i].rip | (sizes[i].w < 8 ? 0xdead0000ULL << 32 : 0), FAKE_SEL_KCODE };
		put_stack(sizes[i].w, 2, v);
		fake_put(&fc, CODE, sizes[i].code, sizes[i].len);
		uint64_t rsp = fc.cpu.regs.rsp;
		expect_done();
		assert_int_equal(fc.cpu.regs.rip, sizes[i].rip);
		assert_int_equal(fc.cpu.regs.rsp, rsp + 2 * sizes[i].w);
		assert_int_equal(fc.cpu.pcb.cs, FAKE_SEL_KCODE);
		assert_int_equal(fc.cpu.pcb.vcpl, 0);
		assert_false(out.cpl_changed);
	}
}

static void test_lret_imm_and_accessed(void **state)
{
	/* lretq $16 to a descriptor whose accessed bit is clear: the CPU sets it. */
	uint64_t d = fake_get64(&fc, GDT + 8) & ~(1ULL << 40);
	fake_put64(&fc, GDT + 8, d);
	uint64_t v[2] = { 0x401000, FAKE_SEL_KCODE };
	put_stack(8, 2, v);
	CODE_BYTES(0x48, 0xca, 0x10, 0x00);
	uint64_t rsp = fc.cpu.regs.rsp;
	expect_done();
	assert_int_equal(fc.cpu.regs.rsp, rsp + 32);
	assert_true(access_byte(FAKE_SEL_KCODE) & 1);
	assert_string_equal(out.mnemonic, "lretq");
}

static void test_lret_outer(void **state)
{
	/* lretq $8 from the kernel to user code: RIP, CS, 8 bytes of parameters, RSP, SS. */
	fc.cpu.pcb.fs = FAKE_SEL_KDATA;   /* DPL 0: nulled on the way out */
	fc.cpu.pcb.gs = FAKE_SEL_UDATA;   /* DPL 3: stays */
	uint64_t v[5] = { 0x401000, FAKE_SEL_UCODE, 0xaaaa, USER_STACK - 0x40, FAKE_SEL_UDATA };
	put_stack(8, 5, v);
	CODE_BYTES(0x48, 0xca, 0x08, 0x00);
	expect_done();
	assert_int_equal(fc.cpu.regs.rip, 0x401000);
	assert_int_equal(fc.cpu.regs.rsp, USER_STACK - 0x40 + 8);
	assert_int_equal(fc.cpu.pcb.cs, FAKE_SEL_UCODE);
	assert_int_equal(fc.cpu.pcb.ss, FAKE_SEL_UDATA);
	assert_int_equal(fc.cpu.pcb.vcpl, 3);
	assert_true(out.cpl_changed);
	assert_int_equal(fc.cpu.pcb.fs, 0);
	assert_int_equal(fc.cpu.pcb.gs, FAKE_SEL_UDATA);
	assert_int_equal(fc.cpu.pcb.ds, 0);   /* the kernel's DS (DPL 0) too */
}

static void test_lret_faults(void **state)
{
	static const struct { uint64_t rip, cs, rsp, ss; bool user; unsigned vector; uint32_t error; } cases[] = {
		{ 0x1000, 0, 0, 0, false, X86_GP, 0 },                                    /* null CS */
		{ 0x1000, 0x3f0, 0, 0, false, X86_GP, 0x3f0 },                            /* beyond the GDT */
		{ 0x1000, 0x0c, 0, 0, false, X86_GP, 0x0c },                              /* LDT selector, no LDT */
		{ 0x1000, FAKE_SEL_KDATA, 0, 0, false, X86_GP, FAKE_SEL_KDATA },          /* data, not code */
		{ 0x1000, FAKE_SEL_KCODE, 0, 0, true, X86_GP, FAKE_SEL_KCODE },           /* RPL < CPL */
		{ 0x1000, FAKE_SEL_UCODE & ~3, 0, 0, false, X86_GP, FAKE_SEL_UCODE & ~3 }, /* DPL 3 != RPL 0 */
		{ 0x1000, SEL_CONF | 3, 0, 0, true, X86_GP, 0 },                           /* see below */
		{ 0x1000, SEL_NP_CODE, 0, 0, false, X86_NP, SEL_NP_CODE },               /* not present */
		{ 0x1000, SEL_LD_CODE, 0, 0, false, X86_GP, SEL_LD_CODE },               /* L and D */
		{ 0x0000800000000000ULL, FAKE_SEL_KCODE, 0, 0, false, X86_GP, 0 },       /* non-canonical */
		{ 0x1000, FAKE_SEL_UCODE, 0x1000, 0, false, X86_GP, 0 },                 /* null SS to CPL3 */
		{ 0x1000, FAKE_SEL_UCODE, 0x1000, FAKE_SEL_KDATA, false, X86_GP, FAKE_SEL_KDATA }, /* SS RPL 0 */
		{ 0x1000, FAKE_SEL_UCODE, 0x1000, FAKE_SEL_UCODE, false, X86_GP, FAKE_SEL_UCODE & ~3 }, /* SS is code */
		{ 0x1000, FAKE_SEL_UCODE, 0x1000, SEL_NP_DATA | 3, false, X86_GP, SEL_NP_DATA },   /* SS DPL 0 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset(NULL);
		if (cases[i].user)
			to_user();
		uint64_t v[4] = { cases[i].rip, cases[i].cs, cases[i].rsp, cases[i].ss };
		put_stack(8, 4, v);
		CODE_BYTES(0x48, 0xcb);
		if (i == 6)
			continue;   /* conforming DPL 0 code with RPL 3 is a legal return: test_lret_conforming */
		expect_fault(cases[i].vector, cases[i].error);
	}
	/* An outer return whose SS is not present: #SS(selector). */
	reset(NULL);
	fake_put_desc(&fc, GDT, SEL_NP_DATA / 8, desc(0, 0xfffff, 0x73, 0xc));   /* DPL 3, not present */
	uint64_t v[4] = { 0x1000, FAKE_SEL_UCODE, 0x1000, SEL_NP_DATA | 3 };
	put_stack(8, 4, v);
	CODE_BYTES(0x48, 0xcb);
	expect_fault(X86_SS, SEL_NP_DATA);
	/* The return address on a page that is not present: #PF. */
	reset(NULL);
	fake_set_pages(&fc, STACK - 0x1000, 0x1000, 0);
	CODE_BYTES(0x48, 0xcb);
	expect_fault(X86_PF, 0);
	assert_int_equal(out.cr2, STACK - 0x100);
}

static void test_lret_conforming_and_unsupported(void **state)
{
	/* A conforming segment's DPL may be below the RPL: CPL becomes the RPL. */
	uint64_t v[4] = { 0x1000, SEL_CONF | 3, USER_STACK - 8, FAKE_SEL_UDATA };
	put_stack(8, 4, v);
	CODE_BYTES(0x48, 0xcb);
	expect_done();
	assert_int_equal(fc.cpu.pcb.cs, SEL_CONF | 3);
	assert_int_equal(fc.cpu.pcb.vcpl, 3);
	/* 32-bit code: shadow mode cannot run it. */
	reset(NULL);
	uint64_t w[4] = { 0x1000, FAKE_SEL_UCODE32, USER_STACK - 8, FAKE_SEL_UDATA };
	put_stack(8, 4, w);
	CODE_BYTES(0x48, 0xcb);
	expect_unsupported();
	/* CPL 1: neither. */
	reset(NULL);
	fake_put_desc(&fc, GDT, SEL_NOACC / 8, desc(0, 0xfffff, 0xbb, 0xa));   /* 64-bit code, DPL 1 */
	uint64_t x[4] = { 0x1000, SEL_NOACC | 1, USER_STACK - 8, 0 };
	put_stack(8, 4, x);
	CODE_BYTES(0x48, 0xcb);
	expect_unsupported();
}

/* --- far jmp / call ---------------------------------------------------------------------------- */

/* The far pointer at DATA: offset of w bytes, then the selector. */
static void put_far_pointer(unsigned w, uint64_t offset, uint16_t sel)
{
	uint8_t b[10];
	for (unsigned i = 0; i < w; i++)
		b[i] = offset >> (8 * i);
	b[w] = sel;
	b[w + 1] = sel >> 8;
	fake_put(&fc, DATA, b, w + 2);
	fc.cpu.regs.rbx = DATA;
}

static void test_ljmp_sizes(void **state)
{
	static const struct { uint8_t code[3]; size_t len; unsigned w; uint64_t offset, rip; } sizes[] = {
		{ { 0x48, 0xff, 0x2b }, 3, 8, 0xffffffff81002000ULL, 0xffffffff81002000ULL },   /* m16:64 */
		{ { 0xff, 0x2b }, 2, 4, 0x81002000, 0x81002000 },                               /* m16:32 */
		{ { 0x66, 0xff, 0x2b }, 3, 2, 0x2000, 0x2000 },                                 /* m16:16 */
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		reset(NULL);
		put_far_pointer(sizes[i].w, sizes[i].offset, FAKE_SEL_KCODE);
		fake_put(&fc, CODE, sizes[i].code, sizes[i].len);
		uint64_t rsp = fc.cpu.regs.rsp;
		expect_done();
		assert_string_equal(out.mnemonic, "ljmp");
		assert_int_equal(fc.cpu.regs.rip, sizes[i].rip);
		assert_int_equal(fc.cpu.regs.rsp, rsp);
		assert_int_equal(fc.cpu.pcb.cs, FAKE_SEL_KCODE);
	}
}

static void test_lcall_sizes(void **state)
{
	static const struct { uint8_t code[3]; size_t len; unsigned w; } sizes[] = {
		{ { 0x48, 0xff, 0x1b }, 3, 8 }, { { 0xff, 0x1b }, 2, 4 }, { { 0x66, 0xff, 0x1b }, 3, 2 },
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		reset(NULL);
		put_far_pointer(sizes[i].w, 0x2000, FAKE_SEL_KCODE);
		fake_put(&fc, CODE, sizes[i].code, sizes[i].len);
		uint64_t rsp = fc.cpu.regs.rsp;
		memset(fc.mem + rsp - 16, 0xee, 16);
		expect_done();
		unsigned w = sizes[i].w;
		assert_int_equal(fc.cpu.regs.rsp, rsp - 2 * w);
		uint64_t ret = 0, cs = 0;
		memcpy(&ret, fc.mem + rsp - 2 * w, w);
		memcpy(&cs, fc.mem + rsp - w, w);
		assert_int_equal(ret, CODE + sizes[i].len);
		assert_int_equal(cs, FAKE_SEL_KCODE);
		assert_int_equal(fc.cpu.regs.rip, 0x2000);
	}
	/* The stack page is not present: #PF, nothing pushed, nothing loaded. */
	reset(NULL);
	put_far_pointer(8, 0x2000, FAKE_SEL_KCODE);
	fake_set_pages(&fc, STACK - 0x1000, 0x1000, FAKE_P);
	CODE_BYTES(0x48, 0xff, 0x1b);
	expect_fault(X86_PF, 0x3);
}

static void test_ljmp_rules(void **state)
{
	/* From user mode to a conforming kernel segment: allowed, CPL stays 3. */
	to_user();
	put_far_pointer(8, 0x401000, SEL_CONF);
	CODE_BYTES(0x48, 0xff, 0x2b);
	expect_done();
	assert_int_equal(fc.cpu.pcb.cs, SEL_CONF | 3);
	assert_int_equal(fc.cpu.pcb.vcpl, 3);
	assert_false(out.cpl_changed);

	static const struct { uint16_t sel; bool user; unsigned vector; uint32_t error; } cases[] = {
		{ 0, false, X86_GP, 0 },
		{ FAKE_SEL_KCODE, true, X86_GP, FAKE_SEL_KCODE },       /* DPL 0 from CPL 3 */
		{ FAKE_SEL_UCODE, false, X86_GP, FAKE_SEL_UCODE & ~3 }, /* RPL 3 > CPL 0 */
		{ FAKE_SEL_KDATA, false, X86_GP, FAKE_SEL_KDATA },      /* data */
		{ SEL_TSS, false, X86_GP, SEL_TSS },                    /* a TSS: no task switches in IA-32e mode */
		{ SEL_NP_CODE, false, X86_NP, SEL_NP_CODE },
		{ SEL_LD_CODE, false, X86_GP, SEL_LD_CODE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset(NULL);
		if (cases[i].user)
			to_user();
		put_far_pointer(8, 0x2000, cases[i].sel);
		CODE_BYTES(0x48, 0xff, 0x2b);
		expect_fault(cases[i].vector, cases[i].error);
	}
	/* A non-canonical offset. */
	reset(NULL);
	put_far_pointer(8, 0x0000800000000000ULL, FAKE_SEL_KCODE);
	CODE_BYTES(0x48, 0xff, 0x2b);
	expect_fault(X86_GP, 0);
	/* Call gates are not run in shadow mode; 32-bit code neither. */
	reset(NULL);
	put_far_pointer(8, 0, SEL_CALLGATE);
	CODE_BYTES(0x48, 0xff, 0x1b);
	expect_unsupported();
	reset(NULL);
	to_user();
	put_far_pointer(4, 0x1000, FAKE_SEL_UCODE32);
	CODE_BYTES(0xff, 0x2b);
	expect_unsupported();
	/* A near jmp/call that faulted is the guest's own business. */
	reset(NULL);
	CODE_BYTES(0xff, 0x23);   /* jmp [rbx] */
	emulate(X86_GP);
	assert_int_equal(out.status, EMU_NOT_PRIVILEGED);
}

/* --- data segment and stack loads ---------------------------------------------------------------- */

static void test_mov_sreg(void **state)
{
	/* FS and GS take their base from the descriptor; a null selector leaves it. */
	fc.cpu.pcb.fs_base = fc.cpu.pcb.gs_base = 0x777000;
	fc.cpu.regs.rax = SEL_FSBASE;
	CODE_BYTES(0x8e, 0xe0);   /* mov fs, ax */
	expect_done();
	assert_int_equal(fc.cpu.pcb.fs, SEL_FSBASE);
	assert_int_equal(fc.cpu.pcb.fs_base, 0x12345678);
	fc.cpu.regs.rax = 0;
	CODE_BYTES(0x8e, 0xe8);   /* mov gs, ax */
	expect_done();
	assert_int_equal(fc.cpu.pcb.gs, 0);
	assert_int_equal(fc.cpu.pcb.gs_base, 0x777000);
	/* A readable code segment may go into DS; the accessed bit gets set. */
	fc.cpu.regs.rax = SEL_NOACC;
	CODE_BYTES(0x8e, 0xd8);
	expect_done();
	assert_int_equal(fc.cpu.pcb.ds, SEL_NOACC);
	assert_true(access_byte(SEL_NOACC) & 1);
	fc.cpu.regs.rax = FAKE_SEL_UCODE;
	expect_done();
	assert_int_equal(fc.cpu.pcb.ds, FAKE_SEL_UCODE);
	/* From memory, 16 bits: mov es, [rbx]. */
	fake_put(&fc, DATA, "\x23\x00\xff\xff", 4);
	fc.cpu.regs.rbx = DATA;
	CODE_BYTES(0x8e, 0x03);
	expect_done();
	assert_int_equal(fc.cpu.pcb.es, FAKE_SEL_UDATA);
	/* An LDT selector once an LDT is loaded. */
	fc.cpu.regs.rax = SEL_LDT;
	CODE_BYTES(0x0f, 0x00, 0xd0);   /* lldt ax */
	expect_done();
	assert_int_equal(fc.cpu.pcb.ldtr, SEL_LDT);
	assert_int_equal(fc.cpu.pcb.ldt_base, LDT);
	assert_int_equal(fc.cpu.pcb.ldt_limit, 0x3f);
	fc.cpu.regs.rax = 0x0f;
	CODE_BYTES(0x8e, 0xd8);
	expect_done();
	assert_int_equal(fc.cpu.pcb.ds, 0x0f);
	fc.cpu.regs.rax = 0x7f;   /* LDT entry 15: beyond its limit */
	expect_fault(X86_GP, 0x7c);
}

static void test_mov_sreg_faults(void **state)
{
	static const struct { uint8_t modrm; uint16_t sel; bool user; unsigned vector; uint32_t error; } cases[] = {
		{ 0xd8, 0x3f0, false, X86_GP, 0x3f0 },                   /* ds: beyond the GDT */
		{ 0xd8, 0x0c, false, X86_GP, 0x0c },                     /* ds: LDT selector, no LDT */
		{ 0xd8, SEL_TSS, false, X86_GP, SEL_TSS },               /* ds: a system descriptor */
		{ 0xd8, SEL_XONLY, false, X86_GP, SEL_XONLY },           /* ds: execute-only code */
		{ 0xd8, FAKE_SEL_KDATA, true, X86_GP, FAKE_SEL_KDATA },  /* ds: DPL 0 at CPL 3 */
		{ 0xd8, FAKE_SEL_UDATA & ~3, false, 0, 0 },              /* RPL 0 <= DPL 3: fine */
		{ 0xe0, SEL_NP_DATA, false, X86_NP, SEL_NP_DATA },       /* fs: not present */
		{ 0xd0, 0, true, X86_GP, 0 },                            /* ss: null at CPL 3 */
		{ 0xd0, 3, false, X86_GP, 0 },                           /* ss: null with RPL 3 at CPL 0 */
		{ 0xd0, FAKE_SEL_UDATA, false, X86_GP, FAKE_SEL_UDATA & ~3 }, /* ss: RPL 3 at CPL 0 */
		{ 0xd0, FAKE_SEL_UCODE, true, X86_GP, FAKE_SEL_UCODE & ~3 },  /* ss: code */
		{ 0xd0, FAKE_SEL_KDATA | 3, true, X86_GP, FAKE_SEL_KDATA },   /* ss: DPL 0 at CPL 3 */
		{ 0xd0, SEL_NP_DATA, false, X86_SS, SEL_NP_DATA },       /* ss: not present */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset(NULL);
		if (cases[i].user)
			to_user();
		fc.cpu.regs.rax = cases[i].sel;
		CODE_BYTES(0x8e, cases[i].modrm);
		if (cases[i].vector == 0) {
			expect_done();
			continue;
		}
		expect_fault(cases[i].vector, cases[i].error);
	}
	/* mov cs is #UD. */
	reset(NULL);
	CODE_BYTES(0x8e, 0xc8);
	emulate(X86_UD);
	assert_int_equal(out.status, EMU_EXCEPTION);
	assert_int_equal(out.vector, X86_UD);
}

static void test_accessed_bit_on_read_only_gdt(void **state)
{
	/* The CPU writes the accessed bit as a supervisor: a read-only GDT page faults. */
	fake_set_pages(&fc, GDT, 0x1000, FAKE_P);
	fc.cpu.regs.rax = SEL_NOACC;
	CODE_BYTES(0x8e, 0xd8);
	expect_fault(X86_PF, 0x3);
	/* With the bit preset (as Linux does), nothing is written. */
	fc.cpu.regs.rax = FAKE_SEL_KDATA;
	fake_set_pages(&fc, GDT, 0x1000, FAKE_P | FAKE_W);
	fake_put64(&fc, GDT + FAKE_SEL_KDATA, fake_get64(&fc, GDT + FAKE_SEL_KDATA) | 1ULL << 40);
	fake_set_pages(&fc, GDT, 0x1000, FAKE_P);
	expect_done();
	assert_int_equal(fc.cpu.pcb.ds, FAKE_SEL_KDATA);
}

static void test_pop_sreg(void **state)
{
	uint64_t v[1] = { 0xffffffffffff0000ULL | SEL_FSBASE };
	put_stack(8, 1, v);
	uint64_t rsp = fc.cpu.regs.rsp;
	CODE_BYTES(0x0f, 0xa1);   /* pop fs */
	expect_done();
	assert_string_equal(out.mnemonic, "pop fs");
	assert_int_equal(fc.cpu.pcb.fs, SEL_FSBASE);
	assert_int_equal(fc.cpu.pcb.fs_base, 0x12345678);
	assert_int_equal(fc.cpu.regs.rsp, rsp + 8);
	/* 16-bit: pop gs takes two bytes. */
	uint64_t w[1] = { FAKE_SEL_UDATA };
	put_stack(2, 1, w);
	CODE_BYTES(0x66, 0x0f, 0xa9);
	expect_done();
	assert_int_equal(fc.cpu.pcb.gs, FAKE_SEL_UDATA);
	assert_int_equal(fc.cpu.regs.rsp, rsp + 10);
	/* A bad selector: nothing popped. */
	uint64_t x[1] = { SEL_NP_DATA };
	put_stack(8, 1, x);
	CODE_BYTES(0x0f, 0xa1);
	expect_fault(X86_NP, SEL_NP_DATA);
	/* A non-canonical stack: #SS(0). */
	fc.cpu.regs.rsp = 0x0000800000000000ULL;
	expect_fault(X86_SS, 0);
	/* pop into a register or memory is not a segment load. */
	reset(NULL);
	CODE_BYTES(0x58);
	emulate(X86_GP);
	assert_int_equal(out.status, EMU_NOT_PRIVILEGED);
}

static void test_load_far_pointer(void **state)
{
	static const struct { uint8_t code[4]; size_t len; unsigned w; uint16_t sel; } forms[] = {
		{ { 0x48, 0x0f, 0xb2, 0x03 }, 4, 8, FAKE_SEL_KDATA },   /* lss rax, m16:64 */
		{ { 0x0f, 0xb4, 0x03 }, 3, 4, SEL_FSBASE },              /* lfs eax, m16:32 */
		{ { 0x66, 0x0f, 0xb5, 0x03 }, 4, 2, FAKE_SEL_UDATA },   /* lgs ax, m16:16 */
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		reset(NULL);
		fc.cpu.regs.rax = 0x1111111111111111ULL;
		put_far_pointer(forms[i].w, 0x8877665544332211ULL, forms[i].sel);
		fake_put(&fc, CODE, forms[i].code, forms[i].len);
		expect_done();
		assert_int_equal(fc.cpu.regs.rip, CODE + forms[i].len);
		uint64_t want = forms[i].w == 8 ? 0x8877665544332211ULL : forms[i].w == 4 ? 0x44332211 : 0x1111111111112211ULL;
		assert_int_equal(fc.cpu.regs.rax, want);
	}
	assert_int_equal(fc.cpu.pcb.gs, FAKE_SEL_UDATA);
	/* lss with a stack that is not writable data: #GP(selector), RAX untouched. */
	reset(NULL);
	put_far_pointer(8, 0x1234, FAKE_SEL_KCODE);
	CODE_BYTES(0x48, 0x0f, 0xb2, 0x03);
	expect_fault(X86_GP, FAKE_SEL_KCODE);
}

/* --- iret, sysret, lldt -------------------------------------------------------------------------- */

static void test_iret_sizes(void **state)
{
	static const struct { uint8_t code[2]; size_t len; unsigned w; } sizes[] = {
		{ { 0x48, 0xcf }, 2, 8 }, { { 0xcf }, 1, 4 }, { { 0x66, 0xcf }, 2, 2 },
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		reset(NULL);
		unsigned w = sizes[i].w;
		uint64_t v[5] = { 0x1234, FAKE_SEL_KCODE, X86_RFLAGS_FIXED | X86_RFLAGS_IF | 1, 0x7f00, FAKE_SEL_KDATA };
		put_stack(w, 5, v);
		fake_put(&fc, CODE, sizes[i].code, sizes[i].len);
		expect_done();
		assert_int_equal(fc.cpu.regs.rip, 0x1234);
		assert_int_equal(fc.cpu.regs.rsp, 0x7f00);   /* 64-bit mode pops SS:RSP at every size */
		assert_true(fc.cpu.pcb.vif);
		assert_int_equal(fc.cpu.regs.rflags & 1, 1);
	}
}

static void test_iret_faults(void **state)
{
	/* NT set: a task return, #GP(0) in IA-32e mode. */
	fc.cpu.regs.rflags |= X86_RFLAGS_NT;
	uint64_t v[5] = { 0x1234, FAKE_SEL_KCODE, X86_RFLAGS_FIXED, 0x7f00, FAKE_SEL_KDATA };
	put_stack(8, 5, v);
	CODE_BYTES(0x48, 0xcf);
	expect_fault(X86_GP, 0);
	/* To user mode: CS not present, SS not present. */
	reset(NULL);
	fake_put_desc(&fc, GDT, SEL_NP_CODE / 8, desc(0, 0xfffff, 0x7b, 0xa));   /* DPL 3, not present */
	uint64_t w[5] = { 0x401000, SEL_NP_CODE | 3, X86_RFLAGS_FIXED, 0x7f00, FAKE_SEL_UDATA };
	put_stack(8, 5, w);
	CODE_BYTES(0x48, 0xcf);
	expect_fault(X86_NP, SEL_NP_CODE);
	reset(NULL);
	fake_put_desc(&fc, GDT, SEL_NP_DATA / 8, desc(0, 0xfffff, 0x73, 0xc));
	uint64_t x[5] = { 0x401000, FAKE_SEL_UCODE, X86_RFLAGS_FIXED, 0x7f00, SEL_NP_DATA | 3 };
	put_stack(8, 5, x);
	CODE_BYTES(0x48, 0xcf);
	expect_fault(X86_SS, SEL_NP_DATA);
	/* To the kernel with a null SS of RPL 0: fine (64-bit mode). */
	reset(NULL);
	uint64_t y[5] = { 0x1234, FAKE_SEL_KCODE, X86_RFLAGS_FIXED, 0x7f00, 0 };
	put_stack(8, 5, y);
	CODE_BYTES(0x48, 0xcf);
	expect_done();
	assert_int_equal(fc.cpu.pcb.ss, 0);
	/* To 32-bit user code: not run in shadow mode. */
	reset(NULL);
	uint64_t z[5] = { 0x401000, FAKE_SEL_UCODE32, X86_RFLAGS_FIXED, 0x7f00, FAKE_SEL_UDATA };
	put_stack(8, 5, z);
	CODE_BYTES(0x48, 0xcf);
	expect_unsupported();
}

static void test_iret_outer_nulls_data_segments(void **state)
{
	fc.cpu.pcb.ds = FAKE_SEL_KDATA;
	fc.cpu.pcb.es = FAKE_SEL_UDATA;
	fc.cpu.pcb.fs = SEL_CONF;       /* conforming code: kept */
	fc.cpu.pcb.gs = FAKE_SEL_KCODE; /* non-conforming code, DPL 0: nulled */
	uint64_t v[5] = { 0x401000, FAKE_SEL_UCODE, X86_RFLAGS_FIXED | X86_RFLAGS_IF, 0x7f00, FAKE_SEL_UDATA };
	put_stack(8, 5, v);
	CODE_BYTES(0x48, 0xcf);
	expect_done();
	assert_int_equal(fc.cpu.pcb.vcpl, 3);
	assert_int_equal(fc.cpu.pcb.ds, 0);
	assert_int_equal(fc.cpu.pcb.es, FAKE_SEL_UDATA);
	assert_int_equal(fc.cpu.pcb.fs, SEL_CONF);
	assert_int_equal(fc.cpu.pcb.gs, 0);
}

static void test_sysret(void **state)
{
	/* sysretq with a non-canonical RCX: #GP(0) in kernel mode (Intel), nothing changed. */
	fc.cpu.pcb.star = 0x0023001000000000ULL;
	fc.cpu.regs.rcx = 0x0000800000000000ULL;
	CODE_BYTES(0x48, 0x0f, 0x07);
	expect_fault(X86_GP, 0);
	fc.cpu.regs.rcx = 0x00007fffffffe000ULL;
	expect_done();
	assert_int_equal(fc.cpu.pcb.cs, 0x33);
	assert_int_equal(fc.cpu.pcb.ss, 0x2b);
	assert_int_equal(fc.cpu.regs.rip, 0x00007fffffffe000ULL);
	/* sysretl goes to 32-bit code: not run in shadow mode. */
	reset(NULL);
	fc.cpu.pcb.star = 0x0023001000000000ULL;
	CODE_BYTES(0x0f, 0x07);
	expect_unsupported();
}

static void test_lldt(void **state)
{
	static const struct { uint16_t sel; unsigned vector; uint32_t error; } bad[] = {
		{ 0x8c, X86_GP, 0x8c },                 /* TI = 1 */
		{ FAKE_SEL_KDATA, X86_GP, FAKE_SEL_KDATA },   /* not an LDT descriptor */
		{ SEL_TSS, X86_GP, SEL_TSS },
		{ 0x3f0, X86_GP, 0x3f0 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reset(NULL);
		fc.cpu.regs.rax = bad[i].sel;
		CODE_BYTES(0x0f, 0x00, 0xd0);
		expect_fault(bad[i].vector, bad[i].error);
	}
	reset(NULL);
	fake_put_desc(&fc, GDT, SEL_LDT / 8, desc(LDT, 0x3f, 0x02, 0));   /* not present */
	fc.cpu.regs.rax = SEL_LDT;
	CODE_BYTES(0x0f, 0x00, 0xd0);
	expect_fault(X86_NP, SEL_LDT);
	/* lldt 0 unloads it; sldt reads the selector back; at CPL3 lldt is #GP(0). */
	reset(NULL);
	fc.cpu.pcb.ldtr = SEL_LDT;
	fc.cpu.regs.rax = 0;
	CODE_BYTES(0x0f, 0x00, 0xd0);
	expect_done();
	assert_int_equal(fc.cpu.pcb.ldtr, 0);
	to_user();
	fc.cpu.regs.rax = SEL_LDT;
	expect_fault(X86_GP, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_lret_sizes, reset),
		cmocka_unit_test_setup(test_lret_imm_and_accessed, reset),
		cmocka_unit_test_setup(test_lret_outer, reset),
		cmocka_unit_test_setup(test_lret_faults, reset),
		cmocka_unit_test_setup(test_lret_conforming_and_unsupported, reset),
		cmocka_unit_test_setup(test_ljmp_sizes, reset),
		cmocka_unit_test_setup(test_lcall_sizes, reset),
		cmocka_unit_test_setup(test_ljmp_rules, reset),
		cmocka_unit_test_setup(test_mov_sreg, reset),
		cmocka_unit_test_setup(test_mov_sreg_faults, reset),
		cmocka_unit_test_setup(test_accessed_bit_on_read_only_gdt, reset),
		cmocka_unit_test_setup(test_pop_sreg, reset),
		cmocka_unit_test_setup(test_load_far_pointer, reset),
		cmocka_unit_test_setup(test_iret_sizes, reset),
		cmocka_unit_test_setup(test_iret_faults, reset),
		cmocka_unit_test_setup(test_iret_outer_nulls_data_segments, reset),
		cmocka_unit_test_setup(test_sysret, reset),
		cmocka_unit_test_setup(test_lldt, reset),
	};
	return cmocka_run_group_tests_name("segments and far transfers", tests, NULL, NULL);
}
