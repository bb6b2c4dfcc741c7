// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a hostile guest against the legacy platform devices of
 * shadow mode (devices/): the 16550 UART, the 8254 PIT, the two 8259 PICs
 * with their ELCR, the CMOS RTC and the i8042, wired as vmmd wires them
 * (PIT OUT0 -> IRQ 0, UART -> IRQ 4, the slave on the master's line 2).
 *
 * The input is a list of 3-byte ops: [what] [arg] [data]. `what` picks a
 * port access (read or write, 1 byte, or a wider access that must be
 * refused), a line change on the PIC, an INTA cycle, host input to the
 * UART, or time passing for the PIT (its clock is the harness's). Checked
 * after every op: the devices' own invariants (PIT irqs <= ticks, the
 * coalesced count, the UART's FIFO room, a PIC vector in range, the return
 * codes their headers promise), and by ASan/UBSan everything else.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/cmos_rtc.h"
#include "devices/i8042.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/uart16550.h"
#include "tests/fuzz/fuzz_check.h"

#define dev_assert(cond, ...) FUZZ_CHECK("fuzz_devices", cond, __VA_ARGS__)

struct dev_platform {
	struct uart16550 *uart;
	struct pit8254 *pit;
	struct pic8259 *pic;
	struct cmos_rtc rtc;
	struct i8042 kbc;
	uint64_t now_ns;
	uint64_t tx_bytes, notifies, resets;
	time_t host_time;
};

static uint64_t dev_now(void *userdata)
{
	return ((struct dev_platform *) userdata)->now_ns;
}

static void dev_pit_irq(void *userdata, int level)
{
	struct dev_platform *p = userdata;
	dev_assert(level == 0 || level == 1, "PIT IRQ level %d", level);
	dev_assert(pic_set_irq(p->pic, 0, level) == 0, "IRQ 0 refused");
}

static void dev_uart_irq(void *userdata, int level)
{
	struct dev_platform *p = userdata;
	dev_assert(level == 0 || level == 1, "UART IRQ level %d", level);
	dev_assert(pic_set_irq(p->pic, 4, level) == 0, "IRQ 4 refused");
}

static void dev_uart_tx(void *userdata, uint8_t byte)
{
	(void) byte;
	((struct dev_platform *) userdata)->tx_bytes++;
}

static void dev_pic_notify(void *userdata)
{
	((struct dev_platform *) userdata)->notifies++;
}

static void dev_kbc_reset(void *userdata)
{
	((struct dev_platform *) userdata)->resets++;
}

static time_t dev_host_time(void *userdata)
{
	return ((struct dev_platform *) userdata)->host_time;
}

typedef int (*dev_io_fn)(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);

/* Every port window of the platform. */
struct dev_window {
	dev_io_fn fn;
	unsigned size;
	int which;     /* 0 uart, 1 pit, 2 pit port 61, 3 pic master, 4 slave, 5 elcr, 6 rtc, 7 kbc data, 8 cmd */
};

static const struct dev_window dev_windows[] = {
	{ uart_io, UART_REGION_SIZE, 0 },
	{ pit_io, PIT_REGION_SIZE, 1 },
	{ pit_port61_io, PIT_PORT61_SIZE, 2 },
	{ pic_master_io, PIC_REGION_SIZE, 3 },
	{ pic_slave_io, PIC_REGION_SIZE, 4 },
	{ pic_elcr_io, PIC_ELCR_SIZE, 5 },
	{ cmos_rtc_io, 2, 6 },
	{ i8042_data_io, 1, 7 },
	{ i8042_cmd_io, 1, 8 },
};

static void *dev_opaque(struct dev_platform *p, int which)
{
	switch (which) {
	case 0: return p->uart;
	case 1: case 2: return p->pit;
	case 3: case 4: case 5: return p->pic;
	case 6: return &p->rtc;
	default: return &p->kbc;
	}
}

static void dev_check(struct dev_platform *p)
{
	struct pit_stats st;
	pit_get_stats(p->pit, &st);
	dev_assert(st.irqs <= st.ticks && st.coalesced == st.ticks - st.irqs,
		   "PIT counts: %llu ticks, %llu irqs, %llu coalesced", (unsigned long long) st.ticks,
		   (unsigned long long) st.irqs, (unsigned long long) st.coalesced);
	for (unsigned c = 0; c < PIT_CHANNELS; c++) {
		struct pit_channel_state cs;
		pit_get_channel(p->pit, c, &cs);
		dev_assert(cs.mode <= 5 && cs.access <= 3, "PIT channel %u: mode %u access %u", c, cs.mode, cs.access);
		dev_assert(!cs.counting || (cs.reload >= 1 && cs.reload <= 65536), "PIT reload %u", cs.reload);
	}
	dev_assert(uart_rx_room(p->uart) <= UART_RX_FIFO_SIZE, "UART room past its FIFO");
	int v = pic_pending_vector(p->pic);
	dev_assert(v >= -1 && v <= 255, "PIC vector %d", v);
	struct pic_state ps;
	pic_get_state(p->pic, &ps);
	dev_assert(ps.spurious <= ps.acknowledged, "PIC: more spurious INTAs than INTAs");
}

static void dev_op(struct dev_platform *p, uint8_t what, uint8_t arg, uint8_t data)
{
	unsigned kind = what % 8;
	switch (kind) {
	case 0: case 1: case 2: {   /* a port access: read, write, or too wide */
		const struct dev_window *w = &dev_windows[(what >> 3) % (sizeof(dev_windows) / sizeof(dev_windows[0]))];
		uint8_t buf[4] = { data, arg, data, arg };
		unsigned size = kind == 2 ? 2u << (arg & 1) : 1;
		int r = w->fn(dev_opaque(p, w->which), arg % w->size, buf, size, kind == 1 || (kind == 2 && (data & 1)));
		if (kind == 2)
			dev_assert(r == -EINVAL, "a %u-byte access to window %d gave %d, not -EINVAL", size, w->which, r);
		else
			dev_assert(r == 0 || r == -EBUSY, "a 1-byte access to window %d offset %u gave %d",
				   w->which, arg % w->size, r);
		break;
	}
	case 3:   /* a device drives a PIC line */
		dev_assert(pic_set_irq(p->pic, arg % PIC_LINES, data & 1) == 0, "pic_set_irq(%u)", arg % PIC_LINES);
		dev_assert(pic_set_irq(p->pic, PIC_LINES + arg, 1) == -EINVAL, "a line past 15 accepted");
		break;
	case 4: {   /* INTA */
		int v = pic_acknowledge(p->pic);
		dev_assert(v >= 0 && v <= 255, "INTA vector %d", v);
		break;
	}
	case 5: {   /* host input for the UART */
		uint8_t in[64];
		size_t n = arg % sizeof(in), room = uart_rx_room(p->uart);
		memset(in, data, n);
		size_t took = uart_receive(p->uart, in, n);
		dev_assert(took <= n && took <= room, "UART took %zu of %zu with room %zu", took, n, room);
		break;
	}
	case 6: {   /* time passes: the PIT catches up */
		uint64_t deadline = pit_next_deadline_ns(p->pit);
		if (data & 1 && deadline > p->now_ns)
			p->now_ns = deadline;   /* exactly to the next event */
		else
			p->now_ns += (uint64_t) arg << (data % 40);
		pit_advance(p->pit);
		break;
	}
	default:   /* the host clock jumps (the RTC) */
		p->host_time += (time_t) (int8_t) arg * ((time_t) 1 << (data % 32));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dev_platform p = { .now_ns = 1000000000ull, .host_time = 1700000000 };
	const struct uart_ops uops = { .tx = dev_uart_tx, .set_irq = dev_uart_irq };
	const struct pit_ops tops = { .now_ns = dev_now, .set_irq = dev_pit_irq };
	const struct pic_ops cops = { .notify = dev_pic_notify };

	p.pic = pic_new(&cops, &p);
	p.uart = uart_new(&uops, &p);
	p.pit = pit_new(&tops, &p);
	dev_assert(p.pic && p.uart && p.pit, "out of memory");
	cmos_rtc_init(&p.rtc, dev_host_time, &p);
	i8042_init(&p.kbc, dev_kbc_reset, &p);
	for (size_t i = 0; i + 3 <= size; i += 3) {
		dev_op(&p, data[i], data[i + 1], data[i + 2]);
		dev_check(&p);
	}
	pit_free(p.pit);
	uart_free(p.uart);
	pic_free(p.pic);
	return 0;
}
