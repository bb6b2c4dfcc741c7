/* SPDX-License-Identifier: MIT */
/*
 * 8259A pair. Per chip the state is QEMU's (i8259_common.h): IRR, ISR, IMR,
 * the last input levels (for edge detection), a rotating priority base
 * (priority_add: the line with the highest priority), the ICW sequence
 * state and the OCW3 read select / poll / special mask bits.
 *
 * Priority: line (priority_add + k) & 7 has rank k, 0 highest. A chip
 * requests an interrupt when the best unmasked IRR bit ranks above the best
 * ISR bit (in special mask mode masked ISR bits do not block; in special
 * fully nested mode the master's ISR2 does not block the slave's higher
 * requests). The slave's resulting output is the master's IR2 input, re-
 * evaluated after every change to either chip.
 *
 * notify runs after the mutex is dropped, once per 0->1 change of the
 * master's output seen by the call that made it. It carries no level, so
 * calls from racing threads need no ordering.
 */
#include "devices/pic8259.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { MASTER = 0, SLAVE = 1 };

/* ICW1 */
#define ICW1_IC4   0x01         /* ICW4 follows */
#define ICW1_SNGL  0x02         /* single (no ICW3) */
#define ICW1_INIT  0x10
/* ICW4 */
#define ICW4_AEOI  0x02
#define ICW4_SFNM  0x10
/* OCW3 (bit 3 set, bit 4 clear) */
#define OCW3_SEL   0x08
#define OCW3_RIS   0x01         /* read ISR (else IRR) */
#define OCW3_RR    0x02         /* RIS is valid */
#define OCW3_P     0x04         /* poll */
#define OCW3_SMM   0x20         /* special mask on (with ESMM) */
#define OCW3_ESMM  0x40

/* Lines whose ELCR bit can be set: not IRQ 0, 1, 2, 8, 13 (PIIX/ICH). */
static const uint8_t elcr_mask[2] = { 0xf8, 0xde };

enum init_step { INIT_NONE = 0, INIT_ICW2, INIT_ICW3, INIT_ICW4 };

struct chip {
	uint8_t irr, isr, imr;
	uint8_t last_level;     /* input levels, for edge detection */
	uint8_t elcr;
	uint8_t vector_base;
	uint8_t priority_add;
	enum init_step init;
	bool icw4_needed, single;
	bool initialized;
	bool read_isr;
	bool poll;
	bool special_mask;
	bool auto_eoi, rotate_on_aeoi;
	bool special_fully_nested;
};

struct pic8259 {
	struct pic_ops ops;
	void *userdata;
	pthread_mutex_t lock;

	struct chip c[2];
	uint8_t ext_line2;      /* the level driven on line 2 by pic_set_irq */
	bool output;
	uint64_t spurious, acknowledged;
};

/* --- priority ---------------------------------------------------------------- */

/* Rank (0 best) of the best line in mask, or 8 for none. */
static int best_rank(const struct chip *c, uint8_t mask)
{
	int rank;

	if (!mask)
		return 8;
	for (rank = 0; !(mask & (1u << ((rank + c->priority_add) & 7))); rank++)
		;
	return rank;
}

/* The line this chip would present to INTA now, or -1. */
static int chip_request(const struct chip *c, bool is_master)
{
	uint8_t in_service = c->isr;
	int rank = best_rank(c, c->irr & ~c->imr);

	if (rank == 8)
		return -1;
	if (c->special_mask)
		in_service &= ~c->imr;
	if (c->special_fully_nested && is_master)
		in_service &= ~(1u << PIC_CASCADE_LINE);
	if (rank >= best_rank(c, in_service))
		return -1;
	return (rank + c->priority_add) & 7;
}

/* --- input lines ------------------------------------------------------------- */

static void chip_set_line(struct chip *c, unsigned line, int level)
{
	uint8_t bit = 1u << line;

	if (c->elcr & bit) {
		if (level)
			c->irr |= bit;
		else
			c->irr &= ~bit;
	} else if (level && !(c->last_level & bit)) {
		c->irr |= bit;
	}
	if (level)
		c->last_level |= bit;
	else
		c->last_level &= ~bit;
}

/*
 * Re-evaluate the cascade and the output. Returns true when the master's
 * output rose (the caller notifies once the mutex is dropped).
 */
static bool update(struct pic8259 *p)
{
	int slave_out = chip_request(&p->c[SLAVE], false) >= 0;
	bool was = p->output;

	chip_set_line(&p->c[MASTER], PIC_CASCADE_LINE, slave_out || p->ext_line2);
	p->output = chip_request(&p->c[MASTER], true) >= 0;
	return p->output && !was;
}

static void unlock_and_notify(struct pic8259 *p, bool rose)
{
	pthread_mutex_unlock(&p->lock);
	if (rose && p->ops.notify)
		p->ops.notify(p->userdata);
}

/* --- INTA ------------------------------------------------------------------- */

static void chip_intack(struct chip *c, unsigned line)
{
	uint8_t bit = 1u << line;

	if (c->auto_eoi) {
		if (c->rotate_on_aeoi)
			c->priority_add = (line + 1) & 7;
	} else {
		c->isr |= bit;
	}
	/* A level-triggered request stays until the device drops the line. */
	if (!(c->elcr & bit))
		c->irr &= ~bit;
}

/* The vector of an INTA cycle; with ack, also performs it. Mutex held. */
static int inta(struct pic8259 *p, bool ack)
{
	struct chip *m = &p->c[MASTER], *s = &p->c[SLAVE];
	int line = chip_request(m, true), sline;
	int vector;

	if (line < 0) {
		if (!ack)
			return -1;
		p->spurious++;
		vector = m->vector_base + 7;
	} else if (line == PIC_CASCADE_LINE && !m->single) {
		sline = chip_request(s, false);
		if (sline >= 0) {
			vector = s->vector_base + sline;
			if (ack)
				chip_intack(s, sline);
		} else {
			vector = s->vector_base + 7;
			if (ack)
				p->spurious++;
		}
		if (ack)
			chip_intack(m, line);
	} else {
		vector = m->vector_base + line;
		if (ack)
			chip_intack(m, line);
	}
	if (ack)
		p->acknowledged++;
	return vector;
}

/* --- registers -------------------------------------------------------------- */

/*
 * The state an ICW1 leaves (QEMU pic_reset_common): IMR, ISR, edge requests,
 * priority and modes cleared; ELCR and the requests of level-triggered lines
 * survive, and so do the input levels, so a line held high must go low and
 * high again to request (the datasheet's "edge sense circuit is reset").
 */
static void chip_init_reset(struct chip *c)
{
	uint8_t elcr = c->elcr, irr = c->irr & c->elcr, level = c->last_level;
	bool initialized = c->initialized;

	memset(c, 0, sizeof(*c));
	c->elcr = elcr;
	c->irr = irr;
	c->last_level = level;
	c->initialized = initialized;
}

static void write_ocw2(struct chip *c, uint8_t v)
{
	unsigned cmd = v >> 5, line = v & 7;
	int rank;

	switch (cmd) {
	case 0:         /* rotate in auto-EOI mode: clear */
	case 4:         /* rotate in auto-EOI mode: set */
		c->rotate_on_aeoi = cmd == 4;
		break;
	case 1:         /* non-specific EOI */
	case 5:         /* rotate on non-specific EOI */
		rank = best_rank(c, c->isr);
		if (rank == 8)
			break;
		line = (rank + c->priority_add) & 7;
		c->isr &= ~(1u << line);
		if (cmd == 5)
			c->priority_add = (line + 1) & 7;
		break;
	case 3:         /* specific EOI */
		c->isr &= ~(1u << line);
		break;
	case 6:         /* set priority: line becomes the lowest */
		c->priority_add = (line + 1) & 7;
		break;
	case 7:         /* rotate on specific EOI */
		c->isr &= ~(1u << line);
		c->priority_add = (line + 1) & 7;
		break;
	default:        /* 2: no operation */
		break;
	}
}

static void write_cmd(struct chip *c, uint8_t v)
{
	if (v & ICW1_INIT) {
		/* ICW1. LTIM (bit 3) is ignored, as on the PIIX: ELCR decides. */
		chip_init_reset(c);
		c->init = INIT_ICW2;
		c->icw4_needed = v & ICW1_IC4;
		c->single = v & ICW1_SNGL;
	} else if (v & OCW3_SEL) {
		if (v & OCW3_P)
			c->poll = true;
		if (v & OCW3_RR)
			c->read_isr = v & OCW3_RIS;
		if (v & OCW3_ESMM)
			c->special_mask = v & OCW3_SMM;
	} else {
		write_ocw2(c, v);
	}
}

static void write_data(struct chip *c, uint8_t v)
{
	switch (c->init) {
	case INIT_NONE:
		c->imr = v;     /* OCW1 */
		break;
	case INIT_ICW2:
		c->vector_base = v & 0xf8;
		if (!c->single) {
			c->init = INIT_ICW3;
		} else if (c->icw4_needed) {
			c->init = INIT_ICW4;
		} else {
			c->init = INIT_NONE;
			c->initialized = true;
		}
		break;
	case INIT_ICW3:
		/* Cascade wiring is fixed (slave on IR2): nothing to keep. */
		if (c->icw4_needed) {
			c->init = INIT_ICW4;
		} else {
			c->init = INIT_NONE;
			c->initialized = true;
		}
		break;
	case INIT_ICW4:
		/* uPM (bit 0, 8086 mode) is assumed; buffered mode is irrelevant. */
		c->auto_eoi = v & ICW4_AEOI;
		c->special_fully_nested = v & ICW4_SFNM;
		c->init = INIT_NONE;
		c->initialized = true;
		break;
	}
}

/* OCW3 poll: an INTA cycle on this chip alone, answered as 0x80 | line. */
static uint8_t poll_read(struct pic8259 *p, int which)
{
	struct chip *c = &p->c[which];
	int line = chip_request(c, which == MASTER);

	c->poll = false;
	if (line < 0)
		return 0;
	chip_intack(c, line);
	return 0x80 | line;
}

static int chip_io(struct pic8259 *p, int which, uint64_t offset, uint8_t *data, unsigned size,
		   bool is_write)
{
	struct chip *c;
	bool rose;

	if (!p || !data || size != 1 || offset >= PIC_REGION_SIZE)
		return -EINVAL;
	c = &p->c[which];
	pthread_mutex_lock(&p->lock);
	if (is_write) {
		if (offset == 0)
			write_cmd(c, data[0]);
		else
			write_data(c, data[0]);
	} else if (c->poll) {
		data[0] = poll_read(p, which);
	} else if (offset == 0) {
		data[0] = c->read_isr ? c->isr : c->irr;
	} else {
		data[0] = c->imr;
	}
	rose = update(p);
	unlock_and_notify(p, rose);
	return 0;
}

int pic_master_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	return chip_io(opaque, MASTER, offset, data, size, is_write);
}

int pic_slave_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	return chip_io(opaque, SLAVE, offset, data, size, is_write);
}

int pic_elcr_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct pic8259 *p = opaque;
	struct chip *c;
	bool rose;

	if (!p || !data || size != 1 || offset >= PIC_ELCR_SIZE)
		return -EINVAL;
	c = &p->c[offset];
	pthread_mutex_lock(&p->lock);
	if (is_write) {
		c->elcr = data[0] & elcr_mask[offset];
		/* A line switched to level mode requests while high; one switched
		 * to edge mode keeps what it latched. */
		c->irr |= c->elcr & c->last_level;
	} else {
		data[0] = c->elcr;
	}
	rose = update(p);
	unlock_and_notify(p, rose);
	return 0;
}

/* --- API -------------------------------------------------------------------- */

struct pic8259 *pic_new(const struct pic_ops *ops, void *userdata)
{
	struct pic8259 *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	if (ops)
		p->ops = *ops;
	p->userdata = userdata;
	return p;
}

void pic_free(struct pic8259 *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void pic_reset(struct pic8259 *p)
{
	int i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < 2; i++) {
		p->c[i].elcr = 0;
		chip_init_reset(&p->c[i]);
		p->c[i].irr = 0;
		p->c[i].initialized = false;
	}
	/* Inputs keep their levels: a line held high is not a new edge. */
	p->output = false;
	(void) update(p);
	/* Reset is not an event the CPU is waiting for: no notify. */
	pthread_mutex_unlock(&p->lock);
}

int pic_set_irq(struct pic8259 *p, unsigned line, int level)
{
	bool rose;

	if (!p || line >= PIC_LINES)
		return -EINVAL;
	level = !!level;
	pthread_mutex_lock(&p->lock);
	if (line == PIC_CASCADE_LINE)
		p->ext_line2 = level;
	else if (line < 8)
		chip_set_line(&p->c[MASTER], line, level);
	else
		chip_set_line(&p->c[SLAVE], line - 8, level);
	rose = update(p);
	unlock_and_notify(p, rose);
	return 0;
}

int pic_pending_vector(struct pic8259 *p)
{
	int vector;

	if (!p)
		return -1;
	pthread_mutex_lock(&p->lock);
	vector = inta(p, false);
	pthread_mutex_unlock(&p->lock);
	return vector;
}

int pic_acknowledge(struct pic8259 *p)
{
	int vector;
	bool rose;

	if (!p)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	vector = inta(p, true);
	rose = update(p);
	unlock_and_notify(p, rose);
	return vector;
}

void pic_get_state(struct pic8259 *p, struct pic_state *ret)
{
	int i;

	if (!p || !ret)
		return;
	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < 2; i++) {
		const struct chip *c = &p->c[i];

		ret->chip[i] = (struct pic_chip_state) {
			.irr = c->irr, .isr = c->isr, .imr = c->imr,
			.vector_base = c->vector_base, .elcr = c->elcr,
			.priority_add = c->priority_add, .initialized = c->initialized,
			.auto_eoi = c->auto_eoi, .special_mask = c->special_mask,
			.special_fully_nested = c->special_fully_nested,
		};
	}
	ret->output = p->output;
	ret->spurious = p->spurious;
	ret->acknowledged = p->acknowledged;
	pthread_mutex_unlock(&p->lock);
}
