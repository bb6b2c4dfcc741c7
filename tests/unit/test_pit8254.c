/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/pit8254.h"

#define NS_PER_S 1000000000ull
#define LOG_MAX  4096

/* A fake clock and a recording IRQ 0 line. */
struct fixture {
	struct pit8254 *pit;
	uint64_t now;           /* atomic: read by now_ns */
	pthread_mutex_t lock;
	int level;
	uint8_t log[LOG_MAX];
	unsigned n;
	unsigned rises, same_level_calls;
	bool reenter;
};

static uint64_t fake_now(void *userdata)
{
	struct fixture *f = userdata;

	return __atomic_load_n(&f->now, __ATOMIC_SEQ_CST);
}

static void fake_set_irq(void *userdata, int level)
{
	struct fixture *f = userdata;
	uint8_t v;

	pthread_mutex_lock(&f->lock);
	if (level == f->level)
		f->same_level_calls++;
	if (level && !f->level)
		f->rises++;
	f->level = level;
	if (f->n < LOG_MAX)
		f->log[f->n++] = (uint8_t) level;
	pthread_mutex_unlock(&f->lock);
	if (f->reenter) {
		/* an engine that looks at the timer from the interrupt path */
		pit_advance(f->pit);
		(void) pit_next_deadline_ns(f->pit);
		assert_int_equal(pit_io(f->pit, 0, &v, 1, false), 0);
	}
}

static const struct pit_ops ops = { .now_ns = fake_now, .set_irq = fake_set_irq };

static void set_now(struct fixture *f, uint64_t t)
{
	__atomic_store_n(&f->now, t, __ATOMIC_SEQ_CST);
}

static void wr(struct fixture *f, unsigned port, uint8_t v)
{
	if (port == 0x61)
		assert_int_equal(pit_port61_io(f->pit, 0, &v, 1, true), 0);
	else
		assert_int_equal(pit_io(f->pit, port - 0x40, &v, 1, true), 0);
}

static uint8_t rd(struct fixture *f, unsigned port)
{
	uint8_t v = 0x5a;

	if (port == 0x61)
		assert_int_equal(pit_port61_io(f->pit, 0, &v, 1, false), 0);
	else
		assert_int_equal(pit_io(f->pit, port - 0x40, &v, 1, false), 0);
	return v;
}

/* Control word for channel ch, lobyte/hibyte access, then the count. */
static void program(struct fixture *f, unsigned ch, unsigned mode, uint16_t count)
{
	wr(f, 0x43, (uint8_t) (ch << 6 | 0x30 | mode << 1));
	wr(f, 0x40 + ch, count & 0xff);
	wr(f, 0x40 + ch, count >> 8);
}

static uint16_t latch_read(struct fixture *f, unsigned ch)
{
	uint16_t lo;

	wr(f, 0x43, (uint8_t) (ch << 6));
	lo = rd(f, 0x40 + ch);
	return lo | rd(f, 0x40 + ch) << 8;
}

/* The clock time of tick t after t0: the first ns at which t ticks elapsed. */
static uint64_t at_tick(uint64_t t0, uint64_t t)
{
	return t0 + (t * NS_PER_S + PIT_FREQ_HZ - 1) / PIT_FREQ_HZ;
}

static struct pit_stats stats(struct fixture *f)
{
	struct pit_stats s;

	pit_get_stats(f->pit, &s);
	return s;
}

static struct pit_channel_state chan(struct fixture *f, unsigned ch)
{
	struct pit_channel_state s;

	pit_get_channel(f->pit, ch, &s);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	pthread_mutex_init(&f->lock, NULL);
	f->now = 1000 * NS_PER_S;       /* not 0: a clock that started long ago */
	f->pit = pit_new(&ops, f);
	assert_non_null(f->pit);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pit_free(f->pit);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

/* --- tests -------------------------------------------------------------------- */

static void test_power_on(void **state)
{
	struct fixture *f = *state;
	struct pit_stats s;

	assert_int_equal(pit_next_deadline_ns(f->pit), 0);
	set_now(f, f->now + NS_PER_S);
	pit_advance(f->pit);
	s = stats(f);
	assert_int_equal(s.ticks, 0);
	assert_int_equal(f->n, 0);
	assert_int_equal(rd(f, 0x40), 0);               /* unprogrammed */
	assert_int_equal(rd(f, 0x43), 0xff);            /* the control port is write-only */
	assert_int_equal(rd(f, 0x61) & 0x01, 0);        /* channel 2 gate starts low */
	assert_true(chan(f, 0).gate);
	assert_false(chan(f, 2).gate);
	assert_false(chan(f, 0).counting);
}

static void test_mode2_periodic(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now, dl;
	struct pit_stats s;

	program(f, 0, 2, 11932);                        /* Linux: HZ=100 */
	dl = pit_next_deadline_ns(f->pit);
	assert_int_equal(dl, at_tick(t0, 11932));
	assert_true(dl - t0 > 9999000 && dl - t0 < 10001000);
	/* 1 ns early: nothing */
	set_now(f, dl - 1);
	pit_advance(f->pit);
	assert_int_equal(f->n, 0);
	set_now(f, dl);
	pit_advance(f->pit);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->log[0], 1);
	assert_int_equal(f->log[1], 0);
	assert_int_equal(pit_next_deadline_ns(f->pit), at_tick(t0, 2 * 11932));
	/* the same instant again: nothing more */
	pit_advance(f->pit);
	assert_int_equal(f->n, 2);
	/* a late timer: five more periods coalesce into one pulse */
	set_now(f, at_tick(t0, 6 * 11932) + 5);
	pit_advance(f->pit);
	assert_int_equal(f->n, 4);
	s = stats(f);
	assert_int_equal(s.ticks, 6);
	assert_int_equal(s.irqs, 2);
	assert_int_equal(s.coalesced, 4);
	assert_int_equal(pit_next_deadline_ns(f->pit), at_tick(t0, 7 * 11932));
	assert_int_equal(f->same_level_calls, 0);
	assert_int_equal(f->level, 0);
}

static void test_counter_and_latch(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;

	program(f, 0, 2, 10000);
	assert_int_equal(latch_read(f, 0), 10000);
	set_now(f, at_tick(t0, 100));
	assert_int_equal(latch_read(f, 0), 9900);
	/* it reloads after each period */
	set_now(f, at_tick(t0, 10000 + 1));
	assert_int_equal(latch_read(f, 0), 9999);
	/* a latch freezes the value until read; a second latch is ignored */
	set_now(f, at_tick(t0, 10000 + 500));
	wr(f, 0x43, 0x00);
	set_now(f, at_tick(t0, 10000 + 900));
	wr(f, 0x43, 0x00);
	assert_int_equal(rd(f, 0x40), (9500 & 0xff));
	set_now(f, at_tick(t0, 10000 + 1000));
	assert_int_equal(rd(f, 0x40), 9500 >> 8);
	/* an unlatched lo/hi read follows the clock, byte by byte */
	set_now(f, at_tick(t0, 10000 + 2000));
	assert_int_equal(rd(f, 0x40), 8000 & 0xff);
	assert_int_equal(rd(f, 0x40), 8000 >> 8);
	/* a latched read interleaved with the unlatched sequence keeps its own
	 * byte order (the read state is separate) */
	assert_int_equal(rd(f, 0x40), 8000 & 0xff);
	wr(f, 0x43, 0x00);
	assert_int_equal(rd(f, 0x40), 8000 & 0xff);
	assert_int_equal(rd(f, 0x40), 8000 >> 8);
	assert_int_equal(rd(f, 0x40), 8000 >> 8);       /* the unlatched hibyte */
	assert_int_equal(chan(f, 0).counter, 8000);
}

static void test_mode0_one_shot(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;
	struct pit_stats s;

	wr(f, 0x43, 0x30);
	assert_false(chan(f, 0).out);
	wr(f, 0x40, 1000 & 0xff);
	wr(f, 0x40, 1000 >> 8);
	assert_int_equal(pit_next_deadline_ns(f->pit), at_tick(t0, 1000));
	set_now(f, at_tick(t0, 999));
	pit_advance(f->pit);
	assert_int_equal(f->level, 0);
	assert_int_equal(latch_read(f, 0), 1);
	set_now(f, at_tick(t0, 1000));
	pit_advance(f->pit);
	assert_int_equal(f->level, 1);                  /* OUT high, and it stays */
	assert_int_equal(f->n, 1);
	assert_int_equal(pit_next_deadline_ns(f->pit), 0);
	/* the counter keeps going down past 0 and wraps */
	set_now(f, at_tick(t0, 1003));
	assert_int_equal(latch_read(f, 0), 0xfffd);
	set_now(f, at_tick(t0, 50000));
	pit_advance(f->pit);
	assert_int_equal(f->n, 1);
	assert_true(chan(f, 0).out);
	s = stats(f);
	assert_int_equal(s.ticks, 1);
	assert_int_equal(s.irqs, 1);
	/* a new control word drops OUT; a new count re-arms */
	wr(f, 0x43, 0x30);
	assert_int_equal(f->level, 0);
	assert_int_equal(pit_next_deadline_ns(f->pit), 0);
	t0 = f->now;
	wr(f, 0x40, 10);
	wr(f, 0x40, 0);
	assert_int_equal(pit_next_deadline_ns(f->pit), at_tick(t0, 10));
	/* a count of 0 is 65536 */
	wr(f, 0x40, 0);
	wr(f, 0x40, 0);
	assert_int_equal(chan(f, 0).reload, 65536);
	assert_int_equal(latch_read(f, 0), 0);
	assert_int_equal(pit_next_deadline_ns(f->pit), at_tick(t0, 65536));
	assert_int_equal(f->same_level_calls, 0);
}

static void test_mode3_square_wave(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;
	uint8_t status;

	program(f, 0, 3, 1000);
	assert_int_equal(chan(f, 0).mode, 3);
	/* counts down by two */
	set_now(f, at_tick(t0, 100));
	assert_int_equal(latch_read(f, 0), 800);
	/* OUT high for the first half, low for the second (read-back status) */
	wr(f, 0x43, 0xe2);
	status = rd(f, 0x40);
	assert_int_equal(status & 0x80, 0x80);
	assert_int_equal(status & 0x3f, 0x36);          /* lohi, mode 3, binary */
	set_now(f, at_tick(t0, 600));
	wr(f, 0x43, 0xe2);
	assert_int_equal(rd(f, 0x40) & 0x80, 0);
	/* one pulse per period */
	set_now(f, at_tick(t0, 1000));
	pit_advance(f->pit);
	assert_int_equal(f->n, 2);
	assert_int_equal(pit_next_deadline_ns(f->pit), at_tick(t0, 2000));
	set_now(f, at_tick(t0, 2000));
	pit_advance(f->pit);
	assert_int_equal(f->n, 4);
	assert_int_equal(stats(f).coalesced, 0);
	/* mode 7 is mode 3 */
	wr(f, 0x43, 0x3e);
	assert_int_equal(chan(f, 0).mode, 3);
	wr(f, 0x43, 0x3c);
	assert_int_equal(chan(f, 0).mode, 2);
}

static void test_mode4_strobe(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;

	program(f, 0, 4, 500);
	assert_true(chan(f, 0).out);
	assert_int_equal(pit_next_deadline_ns(f->pit), at_tick(t0, 501));
	set_now(f, at_tick(t0, 500));
	assert_false(chan(f, 0).out);                   /* the one-clock strobe */
	pit_advance(f->pit);
	assert_int_equal(f->n, 0);
	set_now(f, at_tick(t0, 501));
	assert_true(chan(f, 0).out);
	pit_advance(f->pit);
	assert_int_equal(f->n, 2);
	assert_int_equal(pit_next_deadline_ns(f->pit), 0);
	set_now(f, at_tick(t0, 100000));
	pit_advance(f->pit);
	assert_int_equal(f->n, 2);
}

static void test_modes_1_5_need_a_trigger(void **state)
{
	struct fixture *f = *state;
	uint64_t t0;

	/* channel 0's gate is tied high: no rising edge, never fires */
	program(f, 0, 1, 100);
	assert_int_equal(pit_next_deadline_ns(f->pit), 0);
	set_now(f, f->now + NS_PER_S);
	pit_advance(f->pit);
	assert_int_equal(f->n, 0);
	program(f, 0, 5, 100);
	assert_int_equal(pit_next_deadline_ns(f->pit), 0);
	assert_false(chan(f, 0).counting);
	/* channel 2, mode 1: the gate's rising edge starts the one-shot */
	program(f, 2, 1, 300);
	assert_int_equal(rd(f, 0x61) & 0x20, 0x20);     /* OUT high before the trigger */
	wr(f, 0x43, 0xe8);                              /* read-back status of channel 2 */
	assert_int_equal(rd(f, 0x42) & 0x40, 0x40);     /* null count: not loaded yet */
	t0 = f->now;
	wr(f, 0x61, 0x01);
	assert_true(chan(f, 2).counting);
	set_now(f, at_tick(t0, 10));
	assert_int_equal(rd(f, 0x61) & 0x20, 0);        /* low while counting */
	assert_int_equal(latch_read(f, 2), 290);
	set_now(f, at_tick(t0, 300));
	assert_int_equal(rd(f, 0x61) & 0x20, 0x20);
	/* retrigger: gate low then high again */
	wr(f, 0x61, 0x00);
	wr(f, 0x61, 0x01);
	assert_int_equal(rd(f, 0x61) & 0x20, 0);
	assert_int_equal(f->n, 0);                      /* channel 2 is not IRQ 0 */
}

static void test_access_modes(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;

	/* lobyte only */
	wr(f, 0x43, 0x14);                              /* ch0, LSB, mode 2 */
	wr(f, 0x40, 200);
	assert_int_equal(chan(f, 0).reload, 200);
	set_now(f, at_tick(t0, 50));
	assert_int_equal(rd(f, 0x40), 150);
	assert_int_equal(rd(f, 0x40), 150);
	/* hibyte only */
	t0 = f->now;
	wr(f, 0x43, 0x24);
	wr(f, 0x40, 0x12);
	assert_int_equal(chan(f, 0).reload, 0x1200);
	set_now(f, at_tick(t0, 0x100));
	assert_int_equal(rd(f, 0x40), 0x11);
	wr(f, 0x43, 0x00);                              /* latch in MSB mode: one byte */
	assert_int_equal(rd(f, 0x40), 0x11);
	/* lohi: a half-written count does not load */
	t0 = f->now;
	wr(f, 0x43, 0x34);
	wr(f, 0x40, 0x34);
	assert_false(chan(f, 0).counting);
	wr(f, 0x40, 0x12);
	assert_true(chan(f, 0).counting);
	assert_int_equal(chan(f, 0).reload, 0x1234);
	/* channels are independent */
	program(f, 1, 2, 7000);
	program(f, 2, 0, 3000);
	assert_int_equal(chan(f, 0).reload, 0x1234);
	assert_int_equal(chan(f, 1).reload, 7000);
	assert_int_equal(chan(f, 2).reload, 3000);
	assert_int_equal(pit_next_deadline_ns(f->pit), at_tick(t0, 0x1234));
}

static void test_read_back(void **state)
{
	struct fixture *f = *state;
	uint64_t t0;
	uint8_t st;

	wr(f, 0x43, 0x34);                              /* ch0 lohi mode 2 */
	wr(f, 0x43, 0xe2);                              /* status only */
	st = rd(f, 0x40);
	assert_int_equal(st, 0x80 | 0x40 | 0x34);       /* OUT high, null count */
	t0 = f->now;
	wr(f, 0x40, 0x00);
	wr(f, 0x40, 0x10);
	set_now(f, at_tick(t0, 0x100));
	/* count and status of channels 0 and 2: status comes first */
	program(f, 2, 0, 0x2000);
	wr(f, 0x43, 0xca);                              /* 11 0 0 101 0 */
	st = rd(f, 0x40);
	assert_int_equal(st, 0x80 | 0x34);
	assert_int_equal(rd(f, 0x40), 0x00);
	assert_int_equal(rd(f, 0x40), 0x0f);
	assert_int_equal(rd(f, 0x42), 0x30);            /* OUT low, mode 0, lohi */
	assert_int_equal(rd(f, 0x42), 0x00);
	assert_int_equal(rd(f, 0x42), 0x20);
	/* count only */
	set_now(f, at_tick(t0, 0x200));
	wr(f, 0x43, 0xd2);
	assert_int_equal(rd(f, 0x40), 0x00);
	assert_int_equal(rd(f, 0x40), 0x0e);
	/* a second status latch before the read is ignored */
	wr(f, 0x43, 0xe2);
	wr(f, 0x43, 0x74);                              /* ch1: control word, mode 2 */
	wr(f, 0x43, 0xe2);
	assert_int_equal(rd(f, 0x40), 0x80 | 0x34);
	wr(f, 0x43, 0xe4);
	assert_int_equal(rd(f, 0x41), 0x80 | 0x40 | 0x34);
}

static void test_bcd(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;

	wr(f, 0x43, 0x35);                              /* ch0 lohi mode 2 BCD */
	wr(f, 0x40, 0x00);
	wr(f, 0x40, 0x10);                              /* 1000 decimal */
	assert_int_equal(chan(f, 0).reload, 1000);
	assert_int_equal(pit_next_deadline_ns(f->pit), at_tick(t0, 1000));
	set_now(f, at_tick(t0, 1));
	assert_int_equal(latch_read(f, 0), 0x0999);
	set_now(f, at_tick(t0, 1000 + 766));
	assert_int_equal(latch_read(f, 0), 0x0234);
	/* 0 is 10000 in BCD */
	t0 = f->now;
	wr(f, 0x40, 0);
	wr(f, 0x40, 0);
	assert_int_equal(chan(f, 0).reload, 10000);
	assert_int_equal(latch_read(f, 0), 0x0000);
	set_now(f, at_tick(t0, 1));
	assert_int_equal(latch_read(f, 0), 0x9999);
	wr(f, 0x43, 0xe2);
	assert_int_equal(rd(f, 0x40) & 0x01, 0x01);
}

static void test_port61(void **state)
{
	struct fixture *f = *state;
	uint64_t t0;
	unsigned polls = 0;
	uint8_t v, first;

	/* Linux's pit_calibrate_tsc(): gate on, speaker off, channel 2 mode 0,
	 * then poll OUT2 */
	wr(f, 0x61, (rd(f, 0x61) & ~0x02) | 0x01);
	assert_int_equal(rd(f, 0x61) & 0x03, 0x01);
	t0 = f->now;
	wr(f, 0x43, 0xb0);
	wr(f, 0x42, 11932 & 0xff);
	wr(f, 0x42, 11932 >> 8);
	while (!(rd(f, 0x61) & 0x20)) {
		set_now(f, f->now + 100000);
		polls++;
		assert_true(polls < 1000);
	}
	/* 10 ms in 100 us steps */
	assert_true(f->now - t0 >= 10000000 - 100000 && f->now - t0 <= 10000000 + 100000);
	/* the refresh bit toggles with time */
	first = rd(f, 0x61) & 0x10;
	set_now(f, f->now + 15085);
	v = rd(f, 0x61) & 0x10;
	assert_int_not_equal(first, v);
	/* writable bits are 0-3 only */
	wr(f, 0x61, 0xff);
	assert_int_equal(rd(f, 0x61) & 0xcf, 0x0f);
	/* mode 2 on channel 2: a gate rising edge restarts the count */
	wr(f, 0x61, 0x01);
	program(f, 2, 2, 1000);
	set_now(f, f->now + 400000);
	assert_true(latch_read(f, 2) < 600);
	wr(f, 0x61, 0x00);
	wr(f, 0x61, 0x01);
	assert_int_equal(latch_read(f, 2), 1000);
	assert_int_equal(f->n, 0);
}

static void test_port_access_catches_up(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;

	program(f, 0, 2, 1000);
	/* nobody called pit_advance, but the guest touched the PIT */
	set_now(f, at_tick(t0, 3500));
	(void) rd(f, 0x40);
	assert_int_equal(f->n, 2);
	assert_int_equal(stats(f).ticks, 3);
	/* reprogramming delivers what elapsed under the old count first */
	set_now(f, at_tick(t0, 4000));
	program(f, 0, 2, 50000);
	assert_int_equal(stats(f).ticks, 4);
	assert_int_equal(pit_next_deadline_ns(f->pit), at_tick(f->now, 50000));
}

static void test_deadline_sweep(void **state)
{
	struct fixture *f = *state;
	unsigned seed = 7, i;

	/* For any count and start time, the deadline is the first nanosecond
	 * at which the event has happened: advancing 1 ns before it delivers
	 * nothing, at it exactly one event. */
	for (i = 0; i < 3000; i++) {
		uint16_t count = (uint16_t) ((seed = seed * 1103515245 + 12345) >> 8);
		uint64_t dl, ticks;

		set_now(f, f->now + ((seed = seed * 1103515245 + 12345) >> 12));
		program(f, 0, 2, count);
		ticks = stats(f).ticks;
		dl = pit_next_deadline_ns(f->pit);
		assert_true(dl > f->now);
		set_now(f, dl - 1);
		pit_advance(f->pit);
		assert_int_equal(stats(f).ticks, ticks);
		set_now(f, dl);
		pit_advance(f->pit);
		assert_int_equal(stats(f).ticks, ticks + 1);
		assert_true(pit_next_deadline_ns(f->pit) > dl);
	}
	assert_int_equal(f->same_level_calls, 0);
}

static void test_bad_args(void **state)
{
	struct fixture *f = *state;
	static const struct pit_ops no_clock = { .set_irq = fake_set_irq };
	struct pit_channel_state cs;
	uint8_t v[2] = { 0, 0 };

	assert_int_equal(pit_io(f->pit, 0, v, 2, false), -EINVAL);
	assert_int_equal(pit_io(f->pit, 4, v, 1, false), -EINVAL);
	assert_int_equal(pit_io(f->pit, 0, NULL, 1, false), -EINVAL);
	assert_int_equal(pit_io(NULL, 0, v, 1, false), -EINVAL);
	assert_int_equal(pit_port61_io(f->pit, 1, v, 1, false), -EINVAL);
	assert_int_equal(pit_port61_io(f->pit, 0, v, 4, true), -EINVAL);
	errno = 0;
	assert_null(pit_new(&no_clock, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(pit_new(NULL, NULL));
	assert_int_equal(pit_next_deadline_ns(NULL), 0);
	pit_advance(NULL);
	memset(&cs, 0x77, sizeof(cs));
	pit_get_channel(f->pit, 3, &cs);
	assert_int_equal(cs.mode, 0x77);                /* untouched */
	pit_get_stats(NULL, NULL);
	pit_free(NULL);
	/* writes to an unprogrammed channel's data port go nowhere */
	wr(f, 0x41, 0x12);
	assert_false(chan(f, 1).counting);
}

static void test_hostile_sweep(void **state)
{
	struct fixture *f = *state;
	unsigned seed = 3, i;

	/* Any sequence of port accesses and clock steps keeps the model sane:
	 * the IRQ line alternates, the deadline is 0 or in the future after an
	 * advance, ticks = irqs + coalesced. */
	for (i = 0; i < 200000; i++) {
		unsigned r = (seed = seed * 1103515245 + 12345) >> 8;
		uint8_t v = (uint8_t) (r >> 8);
		uint64_t dl;
		struct pit_stats s;

		switch (r % 6) {
		case 0:
			wr(f, 0x40 + (r >> 4) % 4, v);
			break;
		case 1:
			(void) rd(f, 0x40 + (r >> 4) % 4);
			break;
		case 2:
			wr(f, 0x61, v);
			(void) rd(f, 0x61);
			break;
		case 3:
			set_now(f, f->now + (r >> 10));
			break;
		default:
			pit_advance(f->pit);
			dl = pit_next_deadline_ns(f->pit);
			assert_true(dl == 0 || dl > f->now);
			s = stats(f);
			assert_int_equal(s.ticks, s.irqs + s.coalesced);
			break;
		}
	}
	assert_int_equal(f->same_level_calls, 0);
	assert_int_equal(f->rises, stats(f).irqs);
}

static void test_reentrant_set_irq(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;
	unsigned i;

	f->reenter = true;
	program(f, 0, 2, 100);
	for (i = 1; i <= 50; i++) {
		set_now(f, at_tick(t0, i * 100));
		pit_advance(f->pit);
	}
	assert_int_equal(stats(f).irqs, 50);
	assert_int_equal(f->rises, 50);
	assert_int_equal(f->same_level_calls, 0);
	assert_int_equal(f->level, 0);
}

#define READERS 3
#define STEPS   20000

static unsigned clock_done;

static void *reader(void *arg)
{
	struct fixture *f = arg;
	uint8_t v;

	while (!__atomic_load_n(&clock_done, __ATOMIC_SEQ_CST)) {
		assert_int_equal(pit_io(f->pit, 0, &v, 1, false), 0);
		pit_advance(f->pit);
		(void) pit_next_deadline_ns(f->pit);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct fixture *f = *state;
	pthread_t t[READERS];
	unsigned i;
	struct pit_stats s;

	clock_done = 0;
	program(f, 0, 2, 100);
	for (i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, f), 0);
	for (i = 0; i < STEPS; i++) {
		__atomic_add_fetch(&f->now, 30000, __ATOMIC_SEQ_CST);
		pit_advance(f->pit);
	}
	__atomic_store_n(&clock_done, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < READERS; i++)
		pthread_join(t[i], NULL);
	pit_advance(f->pit);
	s = stats(f);
	/* every period was accounted for exactly once, and the line's levels
	 * reached the sink in order: strictly alternating */
	assert_int_equal(s.ticks, (uint64_t) STEPS * 30000 * PIT_FREQ_HZ / NS_PER_S / 100);
	assert_int_equal(s.ticks, s.irqs + s.coalesced);
	assert_int_equal(f->rises, s.irqs);
	assert_int_equal(f->same_level_calls, 0);
	assert_int_equal(f->level, 0);
}

static void test_no_set_irq(void **state)
{
	static const struct pit_ops clock_only = { .now_ns = fake_now };
	struct fixture f = { .now = 5 };
	struct pit8254 *p = pit_new(&clock_only, &f);
	uint8_t v;

	assert_non_null(p);
	v = 0x34;
	assert_int_equal(pit_io(p, 3, &v, 1, true), 0);
	v = 10;
	assert_int_equal(pit_io(p, 0, &v, 1, true), 0);
	v = 0;
	assert_int_equal(pit_io(p, 0, &v, 1, true), 0);
	f.now = NS_PER_S;
	pit_advance(p);
	pit_free(p);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_power_on),
		T(test_mode2_periodic),
		T(test_counter_and_latch),
		T(test_mode0_one_shot),
		T(test_mode3_square_wave),
		T(test_mode4_strobe),
		T(test_modes_1_5_need_a_trigger),
		T(test_access_modes),
		T(test_read_back),
		T(test_bcd),
		T(test_port61),
		T(test_port_access_catches_up),
		T(test_deadline_sweep),
		T(test_bad_args),
		T(test_hostile_sweep),
		T(test_reentrant_set_irq),
		T(test_concurrent),
		cmocka_unit_test(test_no_set_irq),
	};
#undef T

	/* A set_irq deadlocking on the PIT's mutex fails the run, not hangs it. */
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
