/* SPDX-License-Identifier: MIT */
/*
 * devices/i8042: the reset paths guests use (command 0xfe, output port with
 * the reset line low, pulse commands) and the probe answers a driver needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/i8042.h"

static int resets_seen;
static void on_reset(void *userdata) { (void) userdata; resets_seen++; }

static uint8_t in(struct i8042 *k, bool cmd_port)
{
	uint8_t v = 0;
	assert_int_equal((cmd_port ? i8042_cmd_io : i8042_data_io)(k, 0, &v, 1, false), 0);
	return v;
}

static void out(struct i8042 *k, bool cmd_port, uint8_t v)
{
	assert_int_equal((cmd_port ? i8042_cmd_io : i8042_data_io)(k, 0, &v, 1, true), 0);
}

static void test_reset_paths(void **state)
{
	(void) state;
	struct i8042 k;
	i8042_init(&k, on_reset, NULL);
	resets_seen = 0;
	out(&k, true, 0xfe);                  /* Linux reboot=k */
	assert_int_equal(resets_seen, 1);
	out(&k, true, 0xd1);                  /* write output port ... */
	assert_int_equal(in(&k, true) & 0x08, 0x08);
	out(&k, false, 0x03);                 /* ... reset line high: nothing */
	assert_int_equal(resets_seen, 1);
	out(&k, true, 0xd1);
	out(&k, false, 0x02);                 /* reset line low */
	assert_int_equal(resets_seen, 2);
	out(&k, true, 0xf1);                  /* pulse without bit 0: no reset */
	assert_int_equal(resets_seen, 2);
	out(&k, true, 0xf0);
	assert_int_equal(resets_seen, 3);
	assert_int_equal(k.resets, 3);
}

static void test_probe_answers(void **state)
{
	(void) state;
	struct i8042 k;
	i8042_init(&k, NULL, NULL);
	assert_int_equal(in(&k, true), 0x14);          /* idle, self-test passed, not key-locked */
	out(&k, true, 0xaa);
	assert_int_equal(in(&k, true) & 0x01, 0x01);   /* output buffer full */
	assert_int_equal(in(&k, false), 0x55);
	assert_int_equal(in(&k, true) & 0x01, 0);
	out(&k, true, 0x60);
	out(&k, false, 0x47);
	out(&k, true, 0x20);
	assert_int_equal(in(&k, false), 0x47);
	out(&k, true, 0xa9);                           /* no mouse port */
	assert_int_equal(in(&k, false), 0xff);
	out(&k, true, 0xfe);                           /* no callback: counted, no crash */
	assert_int_equal(k.resets, 1);
	uint8_t wide[2] = { 0 };
	assert_int_equal(i8042_cmd_io(&k, 0, wide, 2, false), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_paths),
		cmocka_unit_test(test_probe_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
