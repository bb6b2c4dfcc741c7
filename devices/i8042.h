/* SPDX-License-Identifier: MIT */
/*
 * The part of the PC keyboard controller (Intel 8042) that guests use to
 * reset the machine: Linux's reboot=k writes 0xfe to the command port 0x64,
 * and older code pulses the reset line through the output port (0xd1 with
 * bit 0 clear). Enough of the controller is there for a driver's probe to
 * succeed quickly — status, self-test, interface tests, the command byte —
 * but no keyboard or mouse is attached: bytes written to the devices get no
 * answer (a driver then times out on them, as with nothing plugged in).
 * Two one-byte regions, so 0x61 (system control port B, the PIT's) stays free.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define I8042_PORT_DATA   0x60
#define I8042_PORT_CMD    0x64

struct i8042 {
	void (*on_reset)(void *userdata);
	void *userdata;
	uint8_t ctr;           /* controller command byte */
	uint8_t outp;          /* output port */
	uint8_t out;           /* byte waiting in the output buffer */
	bool out_full;
	uint8_t pending_cmd;   /* command whose data byte comes through port 0x60, 0 when none */
	uint64_t resets;
};

void i8042_init(struct i8042 *kbc, void (*on_reset)(void *userdata), void *userdata);
/* bus_io_fn for the one-byte regions at I8042_PORT_DATA and I8042_PORT_CMD;
 * opaque is a struct i8042. Other sizes: -EINVAL. */
int i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
int i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
