/* SPDX-License-Identifier: MIT */
/* vmmctl's pure helpers for regs/mem/translate/maps (vmmctl/inspect_format.c), included directly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmmctl/inspect_format.h"

static void test_parse_u64(void **state)
{
	uint64_t v = 7;

	assert_int_equal(parse_u64("0x100000", &v), 0);
	assert_int_equal(v, 0x100000);
	assert_int_equal(parse_u64("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u64("0XfFfFfFfF80000000", &v), 0);
	assert_true(v == 0xffffffff80000000ULL);
	assert_int_equal(parse_u64("0xffffffffffffffff", &v), 0);
	assert_true(v == ~0ULL);
	v = 7;
	assert_int_equal(parse_u64("0x10000000000000000", &v), -EINVAL);   /* 2^64 */
	assert_int_equal(parse_u64("-1", &v), -EINVAL);
	assert_int_equal(parse_u64("+1", &v), -EINVAL);
	assert_int_equal(parse_u64(" 1", &v), -EINVAL);
	assert_int_equal(parse_u64("12k", &v), -EINVAL);
	assert_int_equal(parse_u64("0x", &v), -EINVAL);
	assert_int_equal(parse_u64("", &v), -EINVAL);
	assert_int_equal(parse_u64(NULL, &v), -EINVAL);
	assert_int_equal(v, 7);   /* untouched on failure */
}

static char *dump(uint64_t addr, const uint8_t *buf, size_t len)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	assert_non_null(f);
	hexdump(f, addr, buf, len);
	fclose(f);
	return out;
}

static void test_hexdump(void **state)
{
	uint8_t buf[20];
	char *s;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t) (0x41 + i);
	buf[1] = 0;
	buf[2] = 0x7f;
	s = dump(0x100000, buf, sizeof(buf));
	assert_string_equal(s,
		"0000000000100000  41 00 7f 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |A..DEFGHIJKLMNOP|\n"
		"0000000000100010  51 52 53 54                                       |QRST|\n");
	free(s);
	s = dump(0, buf, 0);
	assert_string_equal(s, "");
	free(s);
}

static void test_format_size(void **state)
{
	char b[32];

	format_size(4096, b, sizeof(b));
	assert_string_equal(b, "4 KiB");
	format_size(2u << 20, b, sizeof(b));
	assert_string_equal(b, "2 MiB");
	format_size(4ULL << 30, b, sizeof(b));
	assert_string_equal(b, "4 GiB");
	format_size(12288, b, sizeof(b));
	assert_string_equal(b, "12 KiB");
	format_size(5, b, sizeof(b));
	assert_string_equal(b, "5 B");
	format_size(0, b, sizeof(b));
	assert_string_equal(b, "0 B");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_hexdump),
		cmocka_unit_test(test_format_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
