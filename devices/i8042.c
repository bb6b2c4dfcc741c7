/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "devices/i8042.h"

#define STATUS_OBF      0x01   /* output buffer full */
#define STATUS_SYS      0x04   /* system flag: passed self-test */
#define STATUS_CMD      0x08   /* last write was to the command port */
#define STATUS_UNLOCKED 0x10   /* keyboard not inhibited by the key lock */
#define CMD_READ_CTR    0x20
#define CMD_WRITE_CTR   0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE  0xa8
#define CMD_AUX_TEST    0xa9
#define CMD_SELF_TEST   0xaa
#define CMD_KBD_TEST    0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE  0xae
#define CMD_READ_OUTP   0xd0
#define CMD_WRITE_OUTP  0xd1
#define CMD_RESET       0xfe
#define OUTP_RESET_LINE 0x01   /* 0 = reset asserted */
#define OUTP_A20        0x02

void i8042_init(struct i8042 *kbc, void (*on_reset)(void *userdata), void *userdata)
{
	*kbc = (struct i8042) { .on_reset = on_reset, .userdata = userdata,
				.ctr = 0x45, .outp = OUTP_RESET_LINE | OUTP_A20 };
}

static void reply(struct i8042 *kbc, uint8_t byte)
{
	kbc->out = byte;
	kbc->out_full = true;
}

static void reset(struct i8042 *kbc)
{
	kbc->resets++;
	if (kbc->on_reset)
		kbc->on_reset(kbc->userdata);
}

static void command(struct i8042 *kbc, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR: reply(kbc, kbc->ctr); break;
	case CMD_READ_OUTP: reply(kbc, kbc->outp); break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP: kbc->pending_cmd = cmd; break;
	case CMD_SELF_TEST: reply(kbc, 0x55); break;
	case CMD_KBD_TEST: reply(kbc, 0x00); break;
	case CMD_AUX_TEST: reply(kbc, 0xff); break;   /* no mouse port: the test fails */
	case CMD_AUX_DISABLE: kbc->ctr |= 0x20; break;
	case CMD_AUX_ENABLE: kbc->ctr &= ~0x20; break;
	case CMD_KBD_DISABLE: kbc->ctr |= 0x10; break;
	case CMD_KBD_ENABLE: kbc->ctr &= ~0x10; break;
	case CMD_RESET: reset(kbc); break;
	default:
		/* 0xf0-0xff pulse output-port lines; bit 0 of the low nibble is the reset line. */
		if (cmd >= 0xf0 && !(cmd & 0x01))
			reset(kbc);
		break;
	}
}

static void data_write(struct i8042 *kbc, uint8_t byte)
{
	uint8_t cmd = kbc->pending_cmd;
	kbc->pending_cmd = 0;
	if (cmd == CMD_WRITE_CTR) {
		kbc->ctr = byte;
	} else if (cmd == CMD_WRITE_OUTP) {
		kbc->outp = byte;
		if (!(byte & OUTP_RESET_LINE))
			reset(kbc);
	}
	/* Anything else is for the keyboard, and none is attached. */
}

int i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct i8042 *kbc = opaque;
	(void) offset;
	if (!kbc || !data || size != 1)
		return -EINVAL;
	if (is_write) {
		data_write(kbc, *data);
	} else {
		*data = kbc->out;
		kbc->out_full = false;
	}
	return 0;
}

int i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct i8042 *kbc = opaque;
	(void) offset;
	if (!kbc || !data || size != 1)
		return -EINVAL;
	if (is_write)
		command(kbc, *data);
	else
		*data = STATUS_SYS | STATUS_UNLOCKED | (kbc->out_full ? STATUS_OBF : 0) | (kbc->pending_cmd ? STATUS_CMD : 0);
	return 0;
}
