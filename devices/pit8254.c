/* SPDX-License-Identifier: MIT */
/*
 * 8254 PIT. A channel is a reload value and the clock time its count
 * started (load_ns): everything else (the counter, OUT, channel 0's next
 * event) is computed from the ticks elapsed since, d = (now - load_ns) *
 * 1193182 / 1e9, as in QEMU and KVM. OUT follows the Intel 8254 datasheet
 * (QEMU and KVM invert it in modes 1 and 2, which no guest can see through
 * IRQ 0 but port 0x61 and read-back status would show).
 *
 * Counts are kept in the counting base: binary 1..65536 (a written 0 is
 * 65536), BCD 1..10000 (0 is 10000); BCD counts are converted on write and
 * the counter re-encoded on read.
 *
 * IRQ 0 effects go through the same small ordered queue as the UART's
 * (uart16550.c): queued under the mutex, delivered by whichever thread finds
 * nobody delivering, the mutex dropped around each set_irq call.
 */
#include "devices/pit8254.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000ull

/* Access modes (control word bits 5-4) and read/write byte states. */
enum { RW_LATCH = 0, RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };

#define CW_BCD          0x01
#define CW_CHANNEL(v)   ((v) >> 6)
#define CW_ACCESS(v)    (((v) >> 4) & 3)
#define CW_READBACK     3
#define RB_NO_COUNT     0x20    /* read-back: do not latch the count */
#define RB_NO_STATUS    0x10    /* read-back: do not latch the status */
#define ST_OUT          0x80
#define ST_NULL_COUNT   0x40

#define P61_GATE2       0x01
#define P61_SPEAKER     0x02
#define P61_WRITABLE    0x0f
#define P61_REFRESH     0x10
#define P61_OUT2        0x20
#define REFRESH_NS      15085   /* the DRAM refresh bit toggles every ~15 us */

/* One op queues at most: a catch-up pulse (2) and a new resting level (1). */
#define OP_MAX_EFFECTS  3
#define QUEUE_SIZE      16

struct channel {
	uint8_t mode;
	uint8_t access;         /* RW_LSB, RW_MSB, RW_WORD0; 0 never programmed */
	uint8_t read_state, write_state;
	uint8_t write_lsb;
	bool bcd;
	bool gate;
	bool loaded;            /* a full count was written since the control word */
	bool counting;          /* loaded and (modes 1, 5) triggered */
	bool null_count;
	uint32_t reload;
	uint64_t load_ns;
	uint8_t latch_state;    /* RW_LSB/RW_MSB/RW_WORD0 while a count is latched, else 0 */
	uint16_t latched;
	bool status_latched;
	uint8_t status;
	uint64_t events_done;   /* channel 0: events since load_ns already delivered */
};

struct pit8254 {
	struct pit_ops ops;
	void *userdata;
	pthread_mutex_t lock;
	pthread_cond_t queue_room;

	struct channel ch[PIT_CHANNELS];
	uint8_t port61;         /* the writable bits */
	bool irq_level;         /* as of the last queued set_irq */
	struct pit_stats stats;

	uint8_t queue[QUEUE_SIZE];
	unsigned q_head, q_count;
	bool draining;
	pthread_t drainer;
};

/* --- effect queue (as in uart16550.c) ----------------------------------------- */

static void queue_level(struct pit8254 *p, bool level)
{
	if (level == p->irq_level)
		return;
	p->irq_level = level;
	if (level)
		p->stats.irqs++;
	if (!p->ops.set_irq || p->q_count == QUEUE_SIZE)
		return;
	p->queue[(p->q_head + p->q_count) % QUEUE_SIZE] = level;
	p->q_count++;
}

static int lock_for_op(struct pit8254 *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->q_count > QUEUE_SIZE - OP_MAX_EFFECTS) {
		if (pthread_equal(p->drainer, pthread_self())) {
			pthread_mutex_unlock(&p->lock);
			return -EBUSY;
		}
		pthread_cond_wait(&p->queue_room, &p->lock);
	}
	return 0;
}

static void unlock_and_deliver(struct pit8254 *p)
{
	if (p->draining || p->q_count == 0) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->draining = true;
	p->drainer = pthread_self();
	while (p->q_count > 0) {
		uint8_t level = p->queue[p->q_head];

		p->q_head = (p->q_head + 1) % QUEUE_SIZE;
		p->q_count--;
		pthread_cond_broadcast(&p->queue_room);
		pthread_mutex_unlock(&p->lock);
		p->ops.set_irq(p->userdata, level);
		pthread_mutex_lock(&p->lock);
	}
	p->draining = false;
	pthread_mutex_unlock(&p->lock);
}

/* --- counting ---------------------------------------------------------------- */

static uint32_t modulus(const struct channel *c)
{
	return c->bcd ? 10000 : 65536;
}

static uint64_t ticks_since(const struct channel *c, uint64_t now)
{
	if (now <= c->load_ns)
		return 0;
	return (uint64_t) ((unsigned __int128) (now - c->load_ns) * PIT_FREQ_HZ / NS_PER_S);
}

/* The first clock time at which ticks_since() reaches `ticks`. */
static uint64_t time_of_tick(const struct channel *c, uint64_t ticks)
{
	unsigned __int128 ns = ((unsigned __int128) ticks * NS_PER_S + PIT_FREQ_HZ - 1) / PIT_FREQ_HZ;

	return c->load_ns + (uint64_t) ns;
}

/* The counting element's value (in the counting base, 0..modulus-1). */
static uint32_t counter_value(const struct channel *c, uint64_t now)
{
	uint32_t m = modulus(c);
	uint64_t d;

	if (!c->counting)
		return c->reload % m;
	d = ticks_since(c, now);
	switch (c->mode) {
	case 2:
		return (c->reload - d % c->reload) % m;
	case 3:
		/* decrements by two; odd counts are approximated, as in QEMU */
		return (c->reload - (2 * d) % c->reload) % m;
	default:        /* 0, 1, 4, 5: down to 0, then wraps around */
		return (uint32_t) ((c->reload + m - d % m) % m);
	}
}

static bool out_level(const struct channel *c, uint64_t now)
{
	uint64_t d;

	if (!c->counting)
		return c->mode != 0 || !c->access;
	d = ticks_since(c, now);
	switch (c->mode) {
	case 0:         /* low until terminal count, then high */
	case 1:         /* low from the trigger to terminal count */
		return d >= c->reload;
	case 2:         /* low for the one clock when the count is 1 */
		return d % c->reload != c->reload - 1;
	case 3:         /* high for the first half of each period */
		return d % c->reload < (c->reload + 1) / 2;
	default:        /* 4, 5: low for the one clock after terminal count */
		return d != c->reload;
	}
}

/* Channel 0 events (IRQ 0 rising edges) that have happened by tick d. */
static uint64_t events_by(const struct channel *c, uint64_t d)
{
	switch (c->mode) {
	case 0:
		return d >= c->reload;
	case 2:
	case 3:
		return d / c->reload;
	case 4:
		return d >= (uint64_t) c->reload + 1;
	default:        /* 1, 5: never triggered on channel 0 */
		return 0;
	}
}

/* The tick of channel 0's event number k (1-based), or 0 if there is none. */
static uint64_t event_tick(const struct channel *c, uint64_t k)
{
	switch (c->mode) {
	case 0:
		return k == 1 ? c->reload : 0;
	case 2:
	case 3:
		return k * c->reload;
	case 4:
		return k == 1 ? (uint64_t) c->reload + 1 : 0;
	default:
		return 0;
	}
}

/* Deliver channel 0's events up to now. Mutex held. */
static void catch_up(struct pit8254 *p, uint64_t now)
{
	struct channel *c = &p->ch[0];
	uint64_t n, fresh;

	if (!c->counting)
		return;
	n = events_by(c, ticks_since(c, now));
	if (n <= c->events_done)
		return;
	fresh = n - c->events_done;
	c->events_done = n;
	p->stats.ticks += fresh;
	p->stats.coalesced += fresh - 1;
	if (c->mode == 0) {
		queue_level(p, true);           /* OUT stays high */
	} else {
		queue_level(p, true);
		queue_level(p, false);
	}
}

/* IRQ 0's level between events: OUT in mode 0, low (after pulses) otherwise. */
static void settle_irq0(struct pit8254 *p, uint64_t now)
{
	const struct channel *c = &p->ch[0];

	queue_level(p, c->mode == 0 ? out_level(c, now) : false);
}

/* --- programming --------------------------------------------------------------- */

static uint32_t bcd_to_bin(uint32_t v)
{
	return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

static uint16_t bin_to_bcd(uint32_t v)
{
	return (uint16_t) (((v / 1000) % 10) << 12 | ((v / 100) % 10) << 8 | ((v / 10) % 10) << 4 | (v % 10));
}

static void start_counting(struct channel *c, uint64_t now)
{
	c->counting = true;
	c->null_count = false;
	c->load_ns = now;
	c->events_done = 0;
}

static void load_count(struct pit8254 *p, unsigned idx, uint32_t raw, uint64_t now)
{
	struct channel *c = &p->ch[idx];
	uint32_t v = c->bcd ? bcd_to_bin(raw) : raw;

	c->reload = v ? v : modulus(c);
	c->loaded = true;
	/* Modes 1 and 5 wait for a gate rising edge; the others start now. */
	if (c->mode == 1 || c->mode == 5) {
		c->counting = false;
		c->null_count = true;
	} else {
		start_counting(c, now);
	}
	if (idx == 0)
		settle_irq0(p, now);
}

static void latch_count(struct channel *c, uint64_t now)
{
	uint32_t v;

	if (c->latch_state || !c->access)
		return;         /* a second latch before the read is ignored */
	v = counter_value(c, now);
	c->latched = c->bcd ? bin_to_bcd(v) : (uint16_t) v;
	c->latch_state = c->access;
}

static void latch_status(struct channel *c, uint64_t now)
{
	if (c->status_latched)
		return;
	c->status = (out_level(c, now) ? ST_OUT : 0) | (c->null_count ? ST_NULL_COUNT : 0) |
		    (uint8_t) (c->access << 4) | (uint8_t) (c->mode << 1) | (c->bcd ? CW_BCD : 0);
	c->status_latched = true;
}

static void write_control(struct pit8254 *p, uint8_t v, uint64_t now)
{
	unsigned idx = CW_CHANNEL(v), i;
	struct channel *c;

	if (idx == CW_READBACK) {
		for (i = 0; i < PIT_CHANNELS; i++) {
			if (!(v & (2u << i)))
				continue;
			if (!(v & RB_NO_COUNT))
				latch_count(&p->ch[i], now);
			if (!(v & RB_NO_STATUS))
				latch_status(&p->ch[i], now);
		}
		return;
	}
	c = &p->ch[idx];
	if (CW_ACCESS(v) == RW_LATCH) {
		latch_count(c, now);
		return;
	}
	/* A control word resets the channel's control logic: counting stops
	 * until a count is written, OUT goes to its initial level. */
	c->access = CW_ACCESS(v);
	c->read_state = c->access;
	c->write_state = c->access;
	c->mode = (v >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;   /* 6 and 7 are 2 and 3 */
	c->bcd = v & CW_BCD;
	c->loaded = false;
	c->counting = false;
	c->null_count = true;
	c->latch_state = 0;
	c->status_latched = false;
	if (idx == 0)
		settle_irq0(p, now);
}

static void write_counter(struct pit8254 *p, unsigned idx, uint8_t v, uint64_t now)
{
	struct channel *c = &p->ch[idx];

	switch (c->write_state) {
	case RW_LSB:
		load_count(p, idx, v, now);
		break;
	case RW_MSB:
		load_count(p, idx, (uint32_t) v << 8, now);
		break;
	case RW_WORD0:
		c->write_lsb = v;
		c->write_state = RW_WORD1;
		break;
	case RW_WORD1:
		load_count(p, idx, c->write_lsb | (uint32_t) v << 8, now);
		c->write_state = RW_WORD0;
		break;
	default:        /* never programmed: the write goes nowhere */
		break;
	}
}

static uint8_t read_counter(struct channel *c, uint64_t now)
{
	uint32_t v;
	uint16_t count;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	switch (c->latch_state) {
	case RW_LSB:
		c->latch_state = 0;
		return c->latched & 0xff;
	case RW_MSB:
		c->latch_state = 0;
		return c->latched >> 8;
	case RW_WORD0:
		c->latch_state = RW_MSB;
		return c->latched & 0xff;
	}
	v = counter_value(c, now);
	count = c->bcd ? bin_to_bcd(v) : (uint16_t) v;
	switch (c->read_state) {
	case RW_LSB:
		return count & 0xff;
	case RW_MSB:
		return count >> 8;
	case RW_WORD0:
		c->read_state = RW_WORD1;
		return count & 0xff;
	case RW_WORD1:
		c->read_state = RW_WORD0;
		return count >> 8;
	default:        /* never programmed */
		return 0;
	}
}

static void set_gate(struct channel *c, bool gate, uint64_t now)
{
	bool rising = gate && !c->gate;

	c->gate = gate;
	if (!rising || !c->loaded)
		return;
	switch (c->mode) {
	case 1:
	case 2:
	case 3:
	case 5:
		start_counting(c, now);         /* (re)trigger */
		break;
	default:        /* 0, 4: gate only enables counting; not modelled */
		break;
	}
}

/* --- API ------------------------------------------------------------------------ */

struct pit8254 *pit_new(const struct pit_ops *ops, void *userdata)
{
	struct pit8254 *p;
	unsigned i;

	if (!ops || !ops->now_ns) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (pthread_mutex_init(&p->lock, NULL) != 0)
		goto err_free;
	if (pthread_cond_init(&p->queue_room, NULL) != 0)
		goto err_mutex;
	p->ops = *ops;
	p->userdata = userdata;
	for (i = 0; i < PIT_CHANNELS; i++) {
		p->ch[i].reload = 65536;
		p->ch[i].gate = i != 2;         /* channel 2's gate is port 0x61 bit 0 */
	}
	return p;

err_mutex:
	pthread_mutex_destroy(&p->lock);
err_free:
	free(p);
	errno = ENOMEM;
	return NULL;
}

void pit_free(struct pit8254 *p)
{
	if (!p)
		return;
	pthread_cond_destroy(&p->queue_room);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int pit_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct pit8254 *p = opaque;
	uint64_t now;
	int r;

	if (!p || !data || size != 1 || offset >= PIT_REGION_SIZE)
		return -EINVAL;
	r = lock_for_op(p);
	if (r < 0)
		return r;
	now = p->ops.now_ns(p->userdata);
	catch_up(p, now);
	if (offset == 3) {
		if (is_write)
			write_control(p, data[0], now);
		else
			data[0] = 0xff; /* the control register cannot be read */
	} else if (is_write) {
		write_counter(p, offset, data[0], now);
	} else {
		data[0] = read_counter(&p->ch[offset], now);
	}
	unlock_and_deliver(p);
	return 0;
}

int pit_port61_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct pit8254 *p = opaque;
	uint64_t now;
	int r;

	if (!p || !data || size != 1 || offset >= PIT_PORT61_SIZE)
		return -EINVAL;
	r = lock_for_op(p);
	if (r < 0)
		return r;
	now = p->ops.now_ns(p->userdata);
	catch_up(p, now);
	if (is_write) {
		p->port61 = data[0] & P61_WRITABLE;
		set_gate(&p->ch[2], data[0] & P61_GATE2, now);
	} else {
		data[0] = (p->port61 & P61_WRITABLE) |
			  ((now / REFRESH_NS) & 1 ? P61_REFRESH : 0) |
			  (out_level(&p->ch[2], now) ? P61_OUT2 : 0);
	}
	unlock_and_deliver(p);
	return 0;
}

uint64_t pit_next_deadline_ns(struct pit8254 *p)
{
	const struct channel *c;
	uint64_t tick, when = 0;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	c = &p->ch[0];
	if (c->counting) {
		tick = event_tick(c, c->events_done + 1);
		if (tick)
			when = time_of_tick(c, tick);
	}
	pthread_mutex_unlock(&p->lock);
	return when;
}

void pit_advance(struct pit8254 *p)
{
	if (!p || lock_for_op(p) < 0)
		return;         /* re-entered from set_irq: the outer call delivers */
	catch_up(p, p->ops.now_ns(p->userdata));
	unlock_and_deliver(p);
}

void pit_get_channel(struct pit8254 *p, unsigned idx, struct pit_channel_state *ret)
{
	const struct channel *c;
	uint64_t now;

	if (!p || !ret || idx >= PIT_CHANNELS)
		return;
	pthread_mutex_lock(&p->lock);
	c = &p->ch[idx];
	now = p->ops.now_ns(p->userdata);
	*ret = (struct pit_channel_state) {
		.mode = c->mode, .access = c->access, .bcd = c->bcd, .gate = c->gate,
		.counting = c->counting, .out = out_level(c, now), .reload = c->reload,
		.counter = (uint16_t) counter_value(c, now),
	};
	pthread_mutex_unlock(&p->lock);
}

void pit_get_stats(struct pit8254 *p, struct pit_stats *ret)
{
	if (!p || !ret)
		return;
	pthread_mutex_lock(&p->lock);
	*ret = p->stats;
	pthread_mutex_unlock(&p->lock);
}
