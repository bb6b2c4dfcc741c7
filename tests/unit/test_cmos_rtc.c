/* SPDX-License-Identifier: MIT */
/*
 * devices/cmos_rtc: the wall clock a guest reads at boot, in BCD and
 * binary, 24- and 12-hour; setting it moves the guest's clock, not the
 * host's; CMOS RAM keeps what is written; bad accesses are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/cmos_rtc.h"

static time_t fake_now = 1764082983;   /* 2025-11-25 15:03:03 UTC, a Tuesday */
static time_t now(void *userdata) { (void) userdata; return fake_now; }

static uint8_t rd(struct cmos_rtc *r, uint8_t reg)
{
	uint8_t v = reg | 0x80;   /* with the NMI mask bit, as Linux writes it */
	assert_int_equal(cmos_rtc_io(r, 0, &v, 1, true), 0);
	assert_int_equal(cmos_rtc_io(r, 1, &v, 1, false), 0);
	return v;
}

static void wr(struct cmos_rtc *r, uint8_t reg, uint8_t val)
{
	assert_int_equal(cmos_rtc_io(r, 0, &reg, 1, true), 0);
	assert_int_equal(cmos_rtc_io(r, 1, &val, 1, true), 0);
}

static void test_reads_host_time_bcd(void **state)
{
	(void) state;
	struct cmos_rtc r;
	cmos_rtc_init(&r, now, NULL);
	assert_int_equal(rd(&r, 0x00), 0x03);
	assert_int_equal(rd(&r, 0x02), 0x03);
	assert_int_equal(rd(&r, 0x04), 0x15);
	assert_int_equal(rd(&r, 0x06), 0x03);   /* Tuesday = 3 (Sunday = 1) */
	assert_int_equal(rd(&r, 0x07), 0x25);
	assert_int_equal(rd(&r, 0x08), 0x11);
	assert_int_equal(rd(&r, 0x09), 0x25);
	assert_int_equal(rd(&r, 0x32), 0x20);
	assert_int_equal(rd(&r, 0x0a) & 0x80, 0);   /* no update in progress */
	assert_int_equal(rd(&r, 0x0d), 0x80);       /* valid */
}

static void test_binary_and_12_hour(void **state)
{
	(void) state;
	struct cmos_rtc r;
	cmos_rtc_init(&r, now, NULL);
	wr(&r, 0x0b, 0x04);                          /* binary, 12-hour */
	assert_int_equal(rd(&r, 0x04), 0x80 | 3);    /* 3 PM */
	assert_int_equal(rd(&r, 0x07), 25);
	assert_int_equal(rd(&r, 0x09), 25);
}

static void test_guest_sets_its_clock(void **state)
{
	(void) state;
	struct cmos_rtc r;
	cmos_rtc_init(&r, now, NULL);
	wr(&r, 0x0b, 0x82);                          /* SET, BCD, 24h */
	wr(&r, 0x09, 0x30);                          /* 2030 */
	wr(&r, 0x04, 0x08);
	wr(&r, 0x0b, 0x02);                          /* run again */
	assert_int_equal(rd(&r, 0x09), 0x30);
	assert_int_equal(rd(&r, 0x04), 0x08);
	assert_int_equal(rd(&r, 0x02), 0x03);        /* untouched fields kept */
	fake_now += 61;                              /* and it keeps running */
	assert_int_equal(rd(&r, 0x02), 0x04);
	assert_int_equal(rd(&r, 0x00), 0x04);
	fake_now -= 61;
	/* Clock writes without SET change nothing. */
	wr(&r, 0x09, 0x99);
	assert_int_equal(rd(&r, 0x09), 0x30);
}

/* A guest's nonsense while SET is on reads back as valid BCD (fuzz_devices:
 * century 00 made the year negative, and its BCD encoding undefined). */
static void test_nonsense_clock_reads_bcd(void **state)
{
	(void) state;
	struct cmos_rtc r;
	cmos_rtc_init(&r, now, NULL);
	wr(&r, 0x0b, 0x82);                          /* SET, BCD, 24h */
	wr(&r, 0x32, 0x00);                          /* century 00: the year 0025, tm_year -1875 */
	wr(&r, 0x08, 0x00);                          /* month 0 */
	for (uint8_t reg = 0; reg <= 0x09; reg++) {
		uint8_t v = rd(&r, reg);
		assert_true((v & 0x0f) <= 9 && (v >> 4) <= 9);
	}
	assert_int_equal(rd(&r, 0x09), 0x25);
	assert_int_equal(rd(&r, 0x32), 0x00);
	wr(&r, 0x32, 0xff);                          /* not BCD at all: 165 */
	assert_int_equal(rd(&r, 0x32), 0x65);
}

static void test_ram_and_bad_access(void **state)
{
	(void) state;
	struct cmos_rtc r;
	cmos_rtc_init(&r, now, NULL);
	wr(&r, 0x40, 0xab);
	assert_int_equal(rd(&r, 0x40), 0xab);
	wr(&r, 0x0c, 0xff);
	assert_int_equal(rd(&r, 0x0c), 0);
	wr(&r, 0x0d, 0x00);
	assert_int_equal(rd(&r, 0x0d), 0x80);
	uint8_t v[2] = { 0 };
	assert_int_equal(cmos_rtc_io(&r, 1, v, 2, false), -22);
	assert_int_equal(cmos_rtc_io(&r, 2, v, 1, false), -22);
}

/* The calendar arithmetic against known dates: leap days, centuries, 1970. */
static void test_calendar(void **state)
{
	(void) state;
	static const struct { time_t t; uint8_t year, month, day, wday, hour; } dates[] = {
		{ 0, 0x70, 0x01, 0x01, 5, 0x00 },                 /* Thursday */
		{ 951782400, 0x00, 0x02, 0x29, 3, 0x00 },         /* 2000-02-29 Tuesday */
		{ 4107542399, 0x00, 0x02, 0x28, 1, 0x23 },        /* 2100-02-28 23:59:59 Sunday */
		{ 4107542400, 0x00, 0x03, 0x01, 2, 0x00 },        /* 2100 has no Feb 29 */
	};
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		time_t saved = fake_now;
		fake_now = dates[i].t;
		struct cmos_rtc r;
		cmos_rtc_init(&r, now, NULL);
		assert_int_equal(rd(&r, 0x09), dates[i].year);
		assert_int_equal(rd(&r, 0x08), dates[i].month);
		assert_int_equal(rd(&r, 0x07), dates[i].day);
		assert_int_equal(rd(&r, 0x06), dates[i].wday);
		assert_int_equal(rd(&r, 0x04), dates[i].hour);
		fake_now = saved;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_host_time_bcd),
		cmocka_unit_test(test_binary_and_12_hour),
		cmocka_unit_test(test_guest_sets_its_clock),
		cmocka_unit_test(test_nonsense_clock_reads_bcd),
		cmocka_unit_test(test_ram_and_bad_access),
		cmocka_unit_test(test_calendar),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
