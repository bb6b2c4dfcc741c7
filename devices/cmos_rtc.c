/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "devices/cmos_rtc.h"

#define REG_SECONDS  0x00
#define REG_MINUTES  0x02
#define REG_HOURS    0x04
#define REG_WEEKDAY  0x06
#define REG_DAY      0x07
#define REG_MONTH    0x08
#define REG_YEAR     0x09
#define REG_A        0x0a
#define REG_B        0x0b
#define REG_C        0x0c
#define REG_D        0x0d
#define REG_CENTURY  0x32

#define B_SET        0x80   /* guest is setting the clock: updates stop */
#define B_BINARY     0x04   /* DM: binary instead of BCD */
#define B_24H        0x02
#define D_VRT        0x80   /* valid RAM and time */
#define HOUR_PM      0x80

/*
 * Calendar arithmetic of our own (H. Hinnant's days_from_civil): glibc's
 * gmtime_r and timegm read /etc/localtime on first use, which the worker's
 * seccomp filter forbids once the guest runs.
 */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned) (y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
}

static void utc_tm(int64_t t, struct tm *tm)
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t secs = t - days * 86400;
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned) (z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = (int64_t) yoe + era * 400 + (m <= 2);
	*tm = (struct tm) {
		.tm_sec = (int) (secs % 60), .tm_min = (int) (secs / 60 % 60), .tm_hour = (int) (secs / 3600),
		.tm_mday = (int) (doy - (153 * mp + 2) / 5 + 1), .tm_mon = (int) m - 1, .tm_year = (int) (y - 1900),
		.tm_wday = (int) ((days % 7 + 11) % 7),   /* 1970-01-01 was a Thursday (4) */
	};
}

/* Fields as the guest wrote them may be out of range: clamp, never fail. */
static int64_t utc_seconds(const struct tm *tm)
{
	unsigned m = tm->tm_mon >= 0 && tm->tm_mon < 12 ? (unsigned) tm->tm_mon + 1 : 1;
	unsigned d = tm->tm_mday >= 1 && tm->tm_mday <= 31 ? (unsigned) tm->tm_mday : 1;
	return days_from_civil((int64_t) tm->tm_year + 1900, m, d) * 86400 + (int64_t) tm->tm_hour * 3600 +
	       (int64_t) tm->tm_min * 60 + tm->tm_sec;
}

static time_t host_now(const struct cmos_rtc *rtc)
{
	return rtc->now ? rtc->now(rtc->userdata) : time(NULL);
}

void cmos_rtc_init(struct cmos_rtc *rtc, time_t (*now)(void *userdata), void *userdata)
{
	memset(rtc, 0, sizeof(*rtc));
	rtc->now = now;
	rtc->userdata = userdata;
	rtc->ram[REG_A] = 0x26;           /* 32.768 kHz divider, 1024 Hz rate; UIP never set */
	rtc->ram[REG_B] = B_24H;          /* BCD, 24-hour, as PC firmware leaves it */
	rtc->ram[REG_D] = D_VRT;
}

/*
 * While SET is on the guest writes any byte to any clock register, so what
 * is read back can be out of its field's range: a month 0, a year before
 * 1900, hence a negative one. BCD has room for 0..99: wrap into it (found
 * by tests/fuzz/fuzz_devices.c: a negative value shifted left).
 */
static uint8_t encode(const struct cmos_rtc *rtc, int v)
{
	if (rtc->ram[REG_B] & B_BINARY)
		return (uint8_t) v;
	v %= 100;
	if (v < 0)
		v += 100;
	return (uint8_t) (((v / 10) << 4) | (v % 10));
}

static int decode(const struct cmos_rtc *rtc, uint8_t v)
{
	return rtc->ram[REG_B] & B_BINARY ? v : (v >> 4) * 10 + (v & 0x0f);
}

static struct tm guest_tm(const struct cmos_rtc *rtc)
{
	if (rtc->ram[REG_B] & B_SET)
		return rtc->set;
	struct tm tm;
	utc_tm((int64_t) host_now(rtc) + rtc->offset, &tm);
	return tm;
}

static uint8_t read_clock(const struct cmos_rtc *rtc, uint8_t reg)
{
	struct tm tm = guest_tm(rtc);
	switch (reg) {
	case REG_SECONDS: return encode(rtc, tm.tm_sec);
	case REG_MINUTES: return encode(rtc, tm.tm_min);
	case REG_HOURS:
		if (rtc->ram[REG_B] & B_24H)
			return encode(rtc, tm.tm_hour);
		return (uint8_t) (encode(rtc, tm.tm_hour % 12 ? tm.tm_hour % 12 : 12) | (tm.tm_hour >= 12 ? HOUR_PM : 0));
	case REG_WEEKDAY: return encode(rtc, tm.tm_wday + 1);
	case REG_DAY: return encode(rtc, tm.tm_mday);
	case REG_MONTH: return encode(rtc, tm.tm_mon + 1);
	case REG_YEAR: return encode(rtc, tm.tm_year % 100);
	default: return encode(rtc, (tm.tm_year + 1900) / 100);   /* REG_CENTURY */
	}
}

/* A write to a clock register while SET is on edits the pending time. */
static void write_clock(struct cmos_rtc *rtc, uint8_t reg, uint8_t v)
{
	struct tm *tm = &rtc->set;
	int n = decode(rtc, reg == REG_HOURS ? (uint8_t) (v & ~HOUR_PM) : v);
	switch (reg) {
	case REG_SECONDS: tm->tm_sec = n; break;
	case REG_MINUTES: tm->tm_min = n; break;
	case REG_HOURS:
		if (!(rtc->ram[REG_B] & B_24H))
			n = n % 12 + (v & HOUR_PM ? 12 : 0);
		tm->tm_hour = n;
		break;
	case REG_DAY: tm->tm_mday = n; break;
	case REG_MONTH: tm->tm_mon = n - 1; break;
	case REG_YEAR: tm->tm_year = (tm->tm_year + 1900) / 100 * 100 + n - 1900; break;
	case REG_CENTURY: tm->tm_year = n * 100 + (tm->tm_year + 1900) % 100 - 1900; break;
	default: break;   /* the weekday follows from the date */
	}
}

static bool is_clock(uint8_t reg)
{
	return reg <= REG_YEAR || reg == REG_CENTURY;
}

static void write_b(struct cmos_rtc *rtc, uint8_t v)
{
	bool was_set = rtc->ram[REG_B] & B_SET;
	if (!was_set && (v & B_SET))
		rtc->set = guest_tm(rtc);            /* freeze the clock for editing */
	rtc->ram[REG_B] = v;
	if (was_set && !(v & B_SET))
		rtc->offset = utc_seconds(&rtc->set) - (int64_t) host_now(rtc);
}

int cmos_rtc_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct cmos_rtc *rtc = opaque;
	if (!rtc || !data || size != 1 || offset > 1)
		return -EINVAL;
	if (offset == 0) {
		if (is_write)
			rtc->index = *data & 0x7f;       /* bit 7 is the NMI mask, not an address */
		else
			*data = 0xff;                    /* the index port is write-only */
		return 0;
	}
	uint8_t reg = rtc->index;
	if (!is_write) {
		if (is_clock(reg) && reg != 1 && reg != 3 && reg != 5)
			*data = read_clock(rtc, reg);
		else if (reg == REG_C)
			*data = 0;
		else
			*data = rtc->ram[reg];
		return 0;
	}
	if (reg == REG_B)
		write_b(rtc, *data);
	else if (is_clock(reg) && (rtc->ram[REG_B] & B_SET))
		write_clock(rtc, reg, *data);
	else if (reg == REG_A)
		rtc->ram[REG_A] = *data & 0x7f;      /* UIP is read-only */
	else if (reg != REG_C && reg != REG_D && !is_clock(reg))
		rtc->ram[reg] = *data;
	return 0;
}
