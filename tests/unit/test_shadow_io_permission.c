/* SPDX-License-Identifier: MIT */
/*
 * Port I/O at virtual CPL3 through the guest's TSS I/O bitmap
 * (vmmd/shadow/io_permission.c and emulate.c's in/out/ins/outs), on the fake
 * CPU. Found by the isa differential suite: user-mode `rep outsb` to a port
 * the bitmap grants ran in hw mode and got #GP(0) in shadow mode.
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
#include "vmmd/shadow/io_permission.h"

enum { CODE = 0x1000, TSS = 0x6000, BITMAP = 104, DATA = 0x8000 };

static struct fake_cpu fc;
static struct emu_outcome out;

/* A TSS whose bitmap grants ports 0x3f8-0x3ff and 0x61, up to port 0x400. */
static int reset(void **state)
{
	uint8_t map[0x400 / 8 + 1];

	fake_cpu_init(&fc);
	memset(map, 0xff, sizeof(map));
	map[0x3f8 / 8] = 0;
	map[0x61 / 8] &= (uint8_t) ~(1u << 1);
	fake_put(&fc, TSS + 102, &(uint16_t) { BITMAP }, 2);
	fake_put(&fc, TSS + BITMAP, map, sizeof(map));
	fc.cpu.pcb.tr = 0x30;
	fc.cpu.pcb.tss_base = TSS;
	fc.cpu.pcb.tss_limit = BITMAP + sizeof(map) - 1;
	fc.cpu.pcb.vcpl = 3;
	return 0;
}

static int permitted(uint16_t port, unsigned size)
{
	struct shadow_fault f;
	return io_permitted(&fc.cpu, &fc.env, port, size, &f);
}

static void test_bitmap(void **state)
{
	assert_int_equal(permitted(0x3f8, 1), 0);
	assert_int_equal(permitted(0x3fc, 4), 0);
	assert_int_equal(permitted(0x61, 1), 0);
	assert_int_equal(permitted(0x60, 1), -EPERM);
	assert_int_equal(permitted(0x60, 2), -EPERM);   /* 0x60 is not granted, 0x61 is */
	assert_int_equal(permitted(0x3ff, 2), -EPERM);  /* 0x400: past the bitmap's ports */
	assert_int_equal(permitted(0x3f7, 2), -EPERM);
	/* Ports whose bytes lie past the TSS limit. */
	assert_int_equal(permitted(0x400, 1), -EPERM);
	assert_int_equal(permitted(0xffff, 1), -EPERM);
	/* CPL0 may do anything; no TSS or a TSS too short for the map base: nothing. */
	fc.cpu.pcb.vcpl = 0;
	assert_int_equal(permitted(0x60, 4), 0);
	fc.cpu.pcb.vcpl = 3;
	fc.cpu.pcb.tss_limit = 102;
	assert_int_equal(permitted(0x3f8, 1), -EPERM);
	fc.cpu.pcb.tr = 0;
	fc.cpu.pcb.tss_limit = 0xffff;
	assert_int_equal(permitted(0x3f8, 1), -EPERM);
}

static void test_tss_fault(void **state)
{
	struct shadow_fault f;

	fake_set_pages(&fc, TSS, 4096, 0);            /* not present */
	assert_int_equal(io_permitted(&fc.cpu, &fc.env, 0x3f8, 1, &f), -EFAULT);
	assert_int_equal(f.vector, X86_PF);
	assert_int_equal(f.cr2, TSS + 102);
	assert_int_equal(f.error & X86_PF_USER, 0);   /* an implicit supervisor access */
}

static void run(const uint8_t *code, size_t len)
{
	fc.cpu.regs.rip = CODE;
	fake_put(&fc, CODE, code, len);
	emu_privileged(&fc.cpu, &fc.env, X86_GP, &out);
}

#define RUN(...) do { const uint8_t b_[] = { __VA_ARGS__ }; run(b_, sizeof(b_)); } while (0)

static void test_user_port_io(void **state)
{
	fc.cpu.regs.rdx = 0x3ff;
	fc.cpu.regs.rax = 0x5a;
	RUN(0xee);                                     /* out %al, %dx */
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.n_pio, 1);
	assert_int_equal(fc.cpu.regs.rip, CODE + 1);
	/* rep outsb: the whole string, one permission check. */
	fake_put(&fc, DATA, "abc", 3);
	fc.cpu.regs.rsi = DATA;
	fc.cpu.regs.rcx = 3;
	RUN(0xf3, 0x6e);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.n_pio, 4);
	assert_int_equal(fc.pio[3].value, 'c');
	/* A port the bitmap refuses: #GP(0) and nothing done. */
	fc.cpu.regs.rdx = 0x60;
	RUN(0xec);                                     /* in %dx, %al */
	assert_int_equal(out.status, EMU_EXCEPTION);
	assert_int_equal(out.vector, X86_GP);
	assert_int_equal(out.error, 0);
	assert_int_equal(fc.n_pio, 4);
	RUN(0xe4, 0x61);                               /* in $0x61, %al: granted */
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.n_pio, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_bitmap, reset),
		cmocka_unit_test_setup(test_tss_fault, reset),
		cmocka_unit_test_setup(test_user_port_io, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
