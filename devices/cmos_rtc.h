/* SPDX-License-Identifier: MIT */
/*
 * The PC's CMOS real-time clock (MC146818) at ports 0x70 (index; bit 7
 * masks NMI) and 0x71 (data), so a guest reads the wall-clock time at boot
 * (Linux's mach_get_cmos_time) instead of starting in 1970. The time is the
 * host's UTC plus an offset the guest sets by writing the clock (with SET in
 * status B, as hardware wants); date and time registers follow status B's
 * binary/BCD and 12/24-hour bits. The other 114 bytes are plain CMOS RAM.
 * No periodic or alarm interrupts: status C always reads 0.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CMOS_PORT_INDEX 0x70
#define CMOS_PORT_DATA  0x71

struct cmos_rtc {
	time_t (*now)(void *userdata);   /* host UTC seconds; NULL: time(NULL) */
	void *userdata;
	uint8_t index;
	uint8_t ram[128];                /* registers 0x0a.. and CMOS RAM */
	int64_t offset;                  /* guest time - host time, seconds */
	struct tm set;                   /* the clock the guest is writing (SET) */
};

void cmos_rtc_init(struct cmos_rtc *rtc, time_t (*now)(void *userdata), void *userdata);
/* bus_io_fn for the two-port region at CMOS_PORT_INDEX; opaque is a struct cmos_rtc. */
int cmos_rtc_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
