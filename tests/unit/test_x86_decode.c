/* SPDX-License-Identifier: MIT */
/* Pure decoding and general-register access (x86/decode.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "x86/decode.h"

static void test_decode(void **state)
{
	struct x86_insn in;
	/* lock btrq $63, 0x10(%rip) */
	static const uint8_t btr[] = { 0xf0, 0x48, 0x0f, 0xba, 0x35, 0x10, 0x00, 0x00, 0x00, 0x3f };
	assert_int_equal(x86_decode(btr, sizeof(btr), 0x1000, &in), 0);
	assert_int_equal(in.d.mnemonic, ZYDIS_MNEMONIC_BTR);
	assert_int_equal(in.next_rip, 0x1000 + sizeof(btr));
	assert_true(in.d.attributes & ZYDIS_ATTRIB_HAS_LOCK);
	assert_true(x86_mem_is_rip_relative(x86_operand(&in, 0)));
	assert_int_equal(x86_operand(&in, 0)->size, 64);
	/* Truncated: -EAGAIN, so a fetch knows to read on; garbage: -EILSEQ. */
	assert_int_equal(x86_decode(btr, 4, 0x1000, &in), -EAGAIN);
	static const uint8_t bad[] = { 0x0f, 0xff };   /* ud0 without its ModRM */
	assert_true(x86_decode(bad, sizeof(bad), 0, &in) < 0);
	static const uint8_t lock_mov[] = { 0xf0, 0x48, 0x89, 0x07 };   /* lock on mov: #UD */
	assert_int_equal(x86_decode(lock_mov, sizeof(lock_mov), 0, &in), -EILSEQ);
	/* 16 bytes of prefixes are more than an instruction may have. */
	uint8_t longest[16];
	for (int i = 0; i < 15; i++)
		longest[i] = 0x66;
	longest[15] = 0x90;
	assert_int_equal(x86_decode(longest, sizeof(longest), 0, &in), -EILSEQ);
	/* A bounded operand index. */
	static const uint8_t nop[] = { 0x90 };
	assert_int_equal(x86_decode(nop, 1, 0, &in), 0);
	assert_null(x86_operand(&in, ZYDIS_MAX_OPERAND_COUNT));
}

static void test_gpr(void **state)
{
	struct kvm_regs r = { .rax = 0x1122334455667788ULL, .rbx = ~0ULL };
	uint64_t v;

	assert_int_equal(x86_gpr_read(&r, ZYDIS_REGISTER_AH, &v), 0);
	assert_int_equal(v, 0x77);
	assert_int_equal(x86_gpr_read(&r, ZYDIS_REGISTER_EAX, &v), 0);
	assert_int_equal(v, 0x55667788);
	/* 8- and 16-bit writes merge, 32-bit zero-extends, 64-bit replaces. */
	assert_int_equal(x86_gpr_write(&r, ZYDIS_REGISTER_BH, 0x1ab), 0);
	assert_int_equal(r.rbx, 0xffffffffffffabffULL);
	assert_int_equal(x86_gpr_write(&r, ZYDIS_REGISTER_BX, 0x1234), 0);
	assert_int_equal(r.rbx, 0xffffffffffff1234ULL);
	assert_int_equal(x86_gpr_write(&r, ZYDIS_REGISTER_EBX, 0x1ffffffffULL), 0);
	assert_int_equal(r.rbx, 0xffffffffULL);
	assert_int_equal(x86_gpr_write(&r, ZYDIS_REGISTER_R15, 5), 0);
	assert_int_equal(r.r15, 5);
	/* Not general registers. */
	assert_int_equal(x86_gpr_read(&r, ZYDIS_REGISTER_CR3, &v), -EINVAL);
	assert_int_equal(x86_gpr_write(&r, ZYDIS_REGISTER_RIP, 0), -EINVAL);
	assert_int_equal(x86_gpr_size(ZYDIS_REGISTER_SIL), 1);
	assert_int_equal(x86_gpr_size(ZYDIS_REGISTER_DS), 0);
	assert_int_equal(x86_sign_extend(0x80, 1), 0xffffffffffffff80ULL);
	assert_int_equal(x86_sign_extend(0x7fff, 2), 0x7fff);
	assert_int_equal(x86_size_mask(4), 0xffffffffULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_gpr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
