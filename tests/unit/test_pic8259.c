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

#include "devices/pic8259.h"

struct fixture {
	struct pic8259 *pic;
	unsigned notifies;
	bool ack_in_notify;     /* notify calls back into the PIC */
	int acked_in_notify;
};

static void on_notify(void *userdata)
{
	struct fixture *f = userdata;

	__atomic_add_fetch(&f->notifies, 1, __ATOMIC_SEQ_CST);
	if (f->ack_in_notify)
		f->acked_in_notify = pic_acknowledge(f->pic);
}

static const struct pic_ops ops = { .notify = on_notify };

/* Port-addressed access, as the bus would dispatch it. */
static int io(struct pic8259 *p, uint16_t port, uint8_t *v, bool is_write)
{
	if ((port & ~1) == PIC_MASTER_BASE)
		return pic_master_io(p, port & 1, v, 1, is_write);
	if ((port & ~1) == PIC_SLAVE_BASE)
		return pic_slave_io(p, port & 1, v, 1, is_write);
	if ((port & ~1) == PIC_ELCR_BASE)
		return pic_elcr_io(p, port & 1, v, 1, is_write);
	fail_msg("no PIC port 0x%x", port);
	return -1;
}

static void wr(struct pic8259 *p, uint16_t port, uint8_t v)
{
	assert_int_equal(io(p, port, &v, true), 0);
}

static uint8_t rd(struct pic8259 *p, uint16_t port)
{
	uint8_t v = 0x5a;

	assert_int_equal(io(p, port, &v, false), 0);
	return v;
}

/* Linux's init_8259A(): vectors 0x20 / 0x28, slave on IR2, 8086 mode. */
static void init_linux(struct pic8259 *p, uint8_t icw4_master, uint8_t icw4_slave)
{
	wr(p, 0x20, 0x11);
	wr(p, 0x21, 0x20);
	wr(p, 0x21, 0x04);
	wr(p, 0x21, icw4_master);
	wr(p, 0xa0, 0x11);
	wr(p, 0xa1, 0x28);
	wr(p, 0xa1, 0x02);
	wr(p, 0xa1, icw4_slave);
}

static struct pic_state st(struct pic8259 *p)
{
	struct pic_state s;

	pic_get_state(p, &s);
	return s;
}

static void raise_pulse(struct pic8259 *p, unsigned line)
{
	assert_int_equal(pic_set_irq(p, line, 1), 0);
	assert_int_equal(pic_set_irq(p, line, 0), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->pic = pic_new(&ops, f);
	assert_non_null(f->pic);
	*state = f;
	return 0;
}

static int setup_linux(void **state)
{
	struct fixture *f;

	setup(state);
	f = *state;
	init_linux(f->pic, 0x01, 0x01);
	f->notifies = 0;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pic_free(f->pic);
	free(f);
	return 0;
}

/* --- tests ------------------------------------------------------------------ */

static void test_reset_state(void **state)
{
	struct fixture *f = *state;
	struct pic_state s = st(f->pic);

	assert_false(s.output);
	assert_false(s.chip[0].initialized);
	assert_int_equal(s.chip[0].imr, 0);
	assert_int_equal(s.chip[1].imr, 0);
	assert_int_equal(rd(f->pic, 0x21), 0);
	assert_int_equal(rd(f->pic, 0x20), 0);          /* IRR */
	assert_int_equal(pic_pending_vector(f->pic), -1);
	/* INTA with nothing requested: spurious IRQ 7 of an uninitialized base */
	assert_int_equal(pic_acknowledge(f->pic), 7);
	s = st(f->pic);
	assert_int_equal(s.spurious, 1);
	assert_int_equal(s.chip[0].isr, 0);
	/* unprogrammed lines still request (vector base 0), as on a real PC */
	raise_pulse(f->pic, 1);
	assert_int_equal(pic_pending_vector(f->pic), 1);
	assert_int_equal(f->notifies, 1);
}

static void test_init_sequence(void **state)
{
	struct fixture *f = *state;
	struct pic_state s;

	wr(f->pic, 0x21, 0xff);
	init_linux(f->pic, 0x01, 0x01);
	s = st(f->pic);
	assert_true(s.chip[0].initialized && s.chip[1].initialized);
	assert_int_equal(s.chip[0].vector_base, 0x20);
	assert_int_equal(s.chip[1].vector_base, 0x28);
	assert_int_equal(s.chip[0].imr, 0);             /* ICW1 cleared the mask */
	assert_false(s.chip[0].auto_eoi);
	/* after the sequence, the data port is OCW1 again */
	wr(f->pic, 0x21, 0xfb);
	wr(f->pic, 0xa1, 0xff);
	assert_int_equal(rd(f->pic, 0x21), 0xfb);
	assert_int_equal(rd(f->pic, 0xa1), 0xff);
	/* ICW2 keeps only the vector's top 5 bits */
	wr(f->pic, 0x20, 0x11);
	wr(f->pic, 0x21, 0x37);
	wr(f->pic, 0x21, 0x04);
	wr(f->pic, 0x21, 0x01);
	assert_int_equal(st(f->pic).chip[0].vector_base, 0x30);
}

static void test_init_without_icw4_and_single(void **state)
{
	struct fixture *f = *state;
	struct pic_state s;

	/* ICW1 without IC4: ICW2, ICW3, then OCW1 */
	wr(f->pic, 0x20, 0x10);
	wr(f->pic, 0x21, 0x40);
	wr(f->pic, 0x21, 0x04);
	wr(f->pic, 0x21, 0x12);
	s = st(f->pic);
	assert_true(s.chip[0].initialized);
	assert_int_equal(s.chip[0].vector_base, 0x40);
	assert_int_equal(s.chip[0].imr, 0x12);
	/* single mode with IC4: ICW2, ICW4 (no ICW3) */
	wr(f->pic, 0xa0, 0x13);
	wr(f->pic, 0xa1, 0x50);
	wr(f->pic, 0xa1, 0x03);                         /* AEOI */
	wr(f->pic, 0xa1, 0x44);
	s = st(f->pic);
	assert_int_equal(s.chip[1].vector_base, 0x50);
	assert_true(s.chip[1].auto_eoi);
	assert_int_equal(s.chip[1].imr, 0x44);
	/* single mode, no IC4: ICW2 only */
	wr(f->pic, 0x20, 0x12);
	wr(f->pic, 0x21, 0x60);
	wr(f->pic, 0x21, 0x01);
	assert_int_equal(st(f->pic).chip[0].imr, 0x01);
}

static void test_edge_request_ack_eoi(void **state)
{
	struct fixture *f = *state;
	struct pic_state s;

	assert_int_equal(pic_set_irq(f->pic, 0, 1), 0);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(pic_pending_vector(f->pic), 0x20);
	assert_int_equal(pic_pending_vector(f->pic), 0x20);    /* not acknowledged */
	/* holding the line high is not a second edge */
	assert_int_equal(pic_set_irq(f->pic, 0, 1), 0);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(pic_acknowledge(f->pic), 0x20);
	s = st(f->pic);
	assert_int_equal(s.chip[0].isr, 0x01);
	assert_int_equal(s.chip[0].irr, 0x00);
	assert_false(s.output);
	/* a new edge while in service is latched but waits for the EOI */
	assert_int_equal(pic_set_irq(f->pic, 0, 0), 0);
	assert_int_equal(pic_set_irq(f->pic, 0, 1), 0);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	assert_int_equal(st(f->pic).chip[0].irr, 0x01);
	wr(f->pic, 0x20, 0x20);                         /* non-specific EOI */
	assert_int_equal(st(f->pic).chip[0].isr, 0);
	assert_int_equal(pic_pending_vector(f->pic), 0x20);
	assert_int_equal(f->notifies, 2);
	/* a request that goes away before INTA stays latched (edge) */
	assert_int_equal(pic_acknowledge(f->pic), 0x20);
	wr(f->pic, 0x20, 0x20);
	raise_pulse(f->pic, 4);
	assert_int_equal(pic_pending_vector(f->pic), 0x24);
	assert_int_equal(pic_acknowledge(f->pic), 0x24);
	assert_int_equal(st(f->pic).acknowledged, 3);
	assert_int_equal(st(f->pic).spurious, 0);
}

static void test_priority_and_nesting(void **state)
{
	struct fixture *f = *state;
	struct pic_state s;

	raise_pulse(f->pic, 5);
	raise_pulse(f->pic, 3);
	assert_int_equal(pic_acknowledge(f->pic), 0x23);
	/* 5 ranks below 3, which is in service */
	assert_int_equal(pic_pending_vector(f->pic), -1);
	/* 1 ranks above: nests */
	raise_pulse(f->pic, 1);
	assert_int_equal(pic_acknowledge(f->pic), 0x21);
	s = st(f->pic);
	assert_int_equal(s.chip[0].isr, 0x0a);
	/* the non-specific EOI ends the highest in service: 1 */
	wr(f->pic, 0x20, 0x20);
	assert_int_equal(st(f->pic).chip[0].isr, 0x08);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	wr(f->pic, 0x20, 0x20);
	assert_int_equal(pic_acknowledge(f->pic), 0x25);
	wr(f->pic, 0x20, 0x20);
	/* an EOI with nothing in service is harmless */
	wr(f->pic, 0x20, 0x20);
	s = st(f->pic);
	assert_int_equal(s.chip[0].isr, 0);
	assert_int_equal(s.chip[0].irr, 0);
}

static void test_mask(void **state)
{
	struct fixture *f = *state;

	wr(f->pic, 0x21, 0x01);
	raise_pulse(f->pic, 0);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	assert_int_equal(f->notifies, 0);
	wr(f->pic, 0x20, 0x0a);                         /* OCW3: read IRR */
	assert_int_equal(rd(f->pic, 0x20), 0x01);       /* requested while masked */
	raise_pulse(f->pic, 6);
	assert_int_equal(pic_pending_vector(f->pic), 0x26);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(pic_acknowledge(f->pic), 0x26);
	wr(f->pic, 0x20, 0x20);
	wr(f->pic, 0x21, 0x00);                         /* unmask: it fires now */
	assert_int_equal(f->notifies, 2);
	assert_int_equal(pic_acknowledge(f->pic), 0x20);
	/* masking the cascade line hides the whole slave */
	wr(f->pic, 0x20, 0x20);
	wr(f->pic, 0x21, 0x04);
	raise_pulse(f->pic, 12);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	wr(f->pic, 0x21, 0x00);
	assert_int_equal(pic_pending_vector(f->pic), 0x2c);
	/* a line masked on the slave alone */
	assert_int_equal(pic_acknowledge(f->pic), 0x2c);
	wr(f->pic, 0xa0, 0x20);
	wr(f->pic, 0x20, 0x20);
	wr(f->pic, 0xa1, 0x10);
	raise_pulse(f->pic, 12);
	assert_int_equal(pic_pending_vector(f->pic), -1);
}

static void test_read_irr_isr_imr(void **state)
{
	struct fixture *f = *state;

	raise_pulse(f->pic, 3);
	raise_pulse(f->pic, 7);
	assert_int_equal(rd(f->pic, 0x20), 0x88);       /* IRR after ICW1 */
	assert_int_equal(pic_acknowledge(f->pic), 0x23);
	wr(f->pic, 0x20, 0x0b);                         /* read ISR */
	assert_int_equal(rd(f->pic, 0x20), 0x08);
	assert_int_equal(rd(f->pic, 0x20), 0x08);       /* the selection sticks */
	wr(f->pic, 0x20, 0x08);                         /* OCW3 without RR: no change */
	assert_int_equal(rd(f->pic, 0x20), 0x08);
	wr(f->pic, 0x20, 0x0a);
	assert_int_equal(rd(f->pic, 0x20), 0x80);
	wr(f->pic, 0x21, 0xa5);
	assert_int_equal(rd(f->pic, 0x21), 0xa5);
	/* ICW1 goes back to reading IRR */
	wr(f->pic, 0x20, 0x0b);
	init_linux(f->pic, 0x01, 0x01);
	raise_pulse(f->pic, 5);
	assert_int_equal(rd(f->pic, 0x20), 0x20);
}

static void test_cascade(void **state)
{
	struct fixture *f = *state;
	struct pic_state s;

	assert_int_equal(pic_set_irq(f->pic, 10, 1), 0);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(pic_pending_vector(f->pic), 0x2a);
	assert_int_equal(pic_acknowledge(f->pic), 0x2a);
	s = st(f->pic);
	assert_int_equal(s.chip[1].isr, 0x04);
	assert_int_equal(s.chip[0].isr, 0x04);          /* the cascade line is in service */
	assert_int_equal(s.chip[0].irr, 0x00);
	/* IRQ 8-15 rank between IRQ 1 and IRQ 3 */
	raise_pulse(f->pic, 3);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	raise_pulse(f->pic, 1);
	assert_int_equal(pic_pending_vector(f->pic), 0x21);
	assert_int_equal(pic_acknowledge(f->pic), 0x21);
	wr(f->pic, 0x20, 0x20);                         /* ends 1 */
	/* Linux's order: EOI the slave, then the master */
	wr(f->pic, 0xa0, 0x20);
	wr(f->pic, 0x20, 0x20);
	s = st(f->pic);
	assert_int_equal(s.chip[0].isr, 0);
	assert_int_equal(s.chip[1].isr, 0);
	assert_int_equal(pic_acknowledge(f->pic), 0x23);
	wr(f->pic, 0x20, 0x20);
	/* two slave requests: both come out through IR2 in slave priority */
	assert_int_equal(pic_set_irq(f->pic, 10, 0), 0);
	raise_pulse(f->pic, 14);
	raise_pulse(f->pic, 9);
	assert_int_equal(pic_acknowledge(f->pic), 0x29);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	wr(f->pic, 0xa0, 0x20);
	wr(f->pic, 0x20, 0x20);
	assert_int_equal(pic_acknowledge(f->pic), 0x2e);
	wr(f->pic, 0xa0, 0x20);
	wr(f->pic, 0x20, 0x20);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	assert_int_equal(st(f->pic).spurious, 0);
}

static void test_specific_eoi_and_rotation(void **state)
{
	struct fixture *f = *state;
	struct pic_state s;

	raise_pulse(f->pic, 6);
	raise_pulse(f->pic, 4);
	assert_int_equal(pic_acknowledge(f->pic), 0x24);
	raise_pulse(f->pic, 1);
	assert_int_equal(pic_acknowledge(f->pic), 0x21);
	/* specific EOI of the lower one */
	wr(f->pic, 0x20, 0x60 | 4);
	assert_int_equal(st(f->pic).chip[0].isr, 0x02);
	wr(f->pic, 0x20, 0x60 | 1);
	assert_int_equal(pic_acknowledge(f->pic), 0x26);
	/* rotate on non-specific EOI: 6 becomes the lowest priority */
	wr(f->pic, 0x20, 0xa0);
	s = st(f->pic);
	assert_int_equal(s.chip[0].isr, 0);
	assert_int_equal(s.chip[0].priority_add, 7);
	raise_pulse(f->pic, 6);
	raise_pulse(f->pic, 7);
	raise_pulse(f->pic, 0);
	assert_int_equal(pic_acknowledge(f->pic), 0x27);   /* 7 is now the highest */
	/* set priority: 0 becomes the lowest, so 1 the highest */
	wr(f->pic, 0x20, 0xc0 | 0);
	assert_int_equal(st(f->pic).chip[0].priority_add, 1);
	/* 7 in service ranks 6 now; 0 (rank 7) and 6 (rank 5): 6 nests */
	assert_int_equal(pic_acknowledge(f->pic), 0x26);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	/* rotate on specific EOI */
	wr(f->pic, 0x20, 0xe0 | 6);
	s = st(f->pic);
	assert_int_equal(s.chip[0].isr, 0x80);
	assert_int_equal(s.chip[0].priority_add, 7);
	wr(f->pic, 0x20, 0x60 | 7);
	assert_int_equal(pic_acknowledge(f->pic), 0x20);
	/* OCW2 no-op */
	wr(f->pic, 0x20, 0x40);
	assert_int_equal(st(f->pic).chip[0].isr, 0x01);
}

static void test_auto_eoi(void **state)
{
	struct fixture *f = *state;
	struct pic_state s;

	init_linux(f->pic, 0x03, 0x03);
	raise_pulse(f->pic, 3);
	assert_int_equal(pic_acknowledge(f->pic), 0x23);
	s = st(f->pic);
	assert_true(s.chip[0].auto_eoi);
	assert_int_equal(s.chip[0].isr, 0);
	/* a lower-priority request is not blocked: nothing is in service */
	raise_pulse(f->pic, 5);
	assert_int_equal(pic_acknowledge(f->pic), 0x25);
	raise_pulse(f->pic, 11);
	assert_int_equal(pic_acknowledge(f->pic), 0x2b);
	s = st(f->pic);
	assert_int_equal(s.chip[0].isr | s.chip[1].isr, 0);
	/* rotate in auto-EOI mode */
	wr(f->pic, 0x20, 0x80);
	raise_pulse(f->pic, 4);
	assert_int_equal(pic_acknowledge(f->pic), 0x24);
	assert_int_equal(st(f->pic).chip[0].priority_add, 5);
	raise_pulse(f->pic, 4);
	raise_pulse(f->pic, 6);
	assert_int_equal(pic_acknowledge(f->pic), 0x26);
	wr(f->pic, 0x20, 0x00);                         /* rotate off */
	assert_int_equal(pic_acknowledge(f->pic), 0x24);
	assert_int_equal(st(f->pic).chip[0].priority_add, 7);
}

static void test_poll(void **state)
{
	struct fixture *f = *state;

	wr(f->pic, 0x20, 0x0c);
	assert_int_equal(rd(f->pic, 0x20), 0x00);       /* nothing: 0 */
	raise_pulse(f->pic, 5);
	wr(f->pic, 0x20, 0x0c);
	assert_int_equal(rd(f->pic, 0x21), 0x85);       /* either port answers */
	assert_int_equal(st(f->pic).chip[0].isr, 0x20);
	assert_int_equal(rd(f->pic, 0x21), 0x00);       /* poll is one-shot: IMR */
	wr(f->pic, 0x20, 0x20);
	raise_pulse(f->pic, 13);
	wr(f->pic, 0xa0, 0x0c);
	assert_int_equal(rd(f->pic, 0xa0), 0x85);
	assert_int_equal(st(f->pic).chip[1].isr, 0x20);
}

static void test_level_triggered(void **state)
{
	struct fixture *f = *state;

	wr(f->pic, 0x4d0, 0xff);
	wr(f->pic, 0x4d1, 0xff);
	assert_int_equal(rd(f->pic, 0x4d0), 0xf8);      /* IRQ 0, 1, 2 are always edge */
	assert_int_equal(rd(f->pic, 0x4d1), 0xde);      /* IRQ 8, 13 too */
	wr(f->pic, 0x4d0, 0x08);
	wr(f->pic, 0x4d1, 0x08);
	assert_int_equal(pic_set_irq(f->pic, 3, 1), 0);
	assert_int_equal(pic_acknowledge(f->pic), 0x23);
	assert_int_equal(st(f->pic).chip[0].irr, 0x08); /* still requested */
	wr(f->pic, 0x20, 0x20);
	assert_int_equal(pic_pending_vector(f->pic), 0x23);    /* again, the line is high */
	assert_int_equal(pic_set_irq(f->pic, 3, 0), 0);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	/* slave level line */
	assert_int_equal(pic_set_irq(f->pic, 11, 1), 0);
	assert_int_equal(pic_acknowledge(f->pic), 0x2b);
	assert_int_equal(pic_set_irq(f->pic, 11, 0), 0);
	wr(f->pic, 0xa0, 0x20);
	wr(f->pic, 0x20, 0x20);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	/* switching a high line to level mode requests at once */
	assert_int_equal(pic_set_irq(f->pic, 5, 1), 0);
	assert_int_equal(pic_acknowledge(f->pic), 0x25);
	wr(f->pic, 0x20, 0x20);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	wr(f->pic, 0x4d0, 0x28);
	assert_int_equal(pic_pending_vector(f->pic), 0x25);
}

static void test_spurious(void **state)
{
	struct fixture *f = *state;
	struct pic_state s;

	wr(f->pic, 0x4d0, 0x08);
	wr(f->pic, 0x4d1, 0x08);
	/* master: a level request that goes away before INTA */
	assert_int_equal(pic_set_irq(f->pic, 3, 1), 0);
	assert_int_equal(pic_pending_vector(f->pic), 0x23);
	assert_int_equal(pic_set_irq(f->pic, 3, 0), 0);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	assert_int_equal(pic_acknowledge(f->pic), 0x27);
	s = st(f->pic);
	assert_int_equal(s.spurious, 1);
	assert_int_equal(s.chip[0].isr, 0);             /* IRQ 7 is not in service */
	/* slave: IR2 latched the edge, then the slave's request vanished */
	assert_int_equal(pic_set_irq(f->pic, 11, 1), 0);
	assert_int_equal(pic_set_irq(f->pic, 11, 0), 0);
	assert_int_equal(pic_pending_vector(f->pic), 0x2f);
	assert_int_equal(pic_acknowledge(f->pic), 0x2f);
	s = st(f->pic);
	assert_int_equal(s.spurious, 2);
	assert_int_equal(s.chip[1].isr, 0);
	assert_int_equal(s.chip[0].isr, 0x04);          /* the master must still get its EOI */
	wr(f->pic, 0x20, 0x20);
	assert_int_equal(st(f->pic).chip[0].isr, 0);
	assert_int_equal(st(f->pic).acknowledged, 2);
}

static void test_special_mask(void **state)
{
	struct fixture *f = *state;

	raise_pulse(f->pic, 3);
	assert_int_equal(pic_acknowledge(f->pic), 0x23);
	raise_pulse(f->pic, 5);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	/* mask the line in service and enter special mask mode: lower
	 * priorities are enabled */
	wr(f->pic, 0x21, 0x08);
	wr(f->pic, 0x20, 0x68);
	assert_true(st(f->pic).chip[0].special_mask);
	assert_int_equal(pic_pending_vector(f->pic), 0x25);
	assert_int_equal(pic_acknowledge(f->pic), 0x25);
	wr(f->pic, 0x20, 0x60 | 5);
	wr(f->pic, 0x20, 0x48);                         /* special mask off */
	assert_false(st(f->pic).chip[0].special_mask);
	raise_pulse(f->pic, 6);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	wr(f->pic, 0x20, 0x60 | 3);
	assert_int_equal(pic_pending_vector(f->pic), 0x26);
}

static void test_special_fully_nested(void **state)
{
	struct fixture *f = *state;

	init_linux(f->pic, 0x11, 0x01);
	assert_true(st(f->pic).chip[0].special_fully_nested);
	raise_pulse(f->pic, 12);
	assert_int_equal(pic_acknowledge(f->pic), 0x2c);
	/* a higher-priority slave request gets through the master's ISR2 */
	raise_pulse(f->pic, 9);
	assert_int_equal(pic_pending_vector(f->pic), 0x29);
	assert_int_equal(pic_acknowledge(f->pic), 0x29);
	/* a lower one does not (the slave's own ISR blocks it) */
	raise_pulse(f->pic, 15);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	/* without SFNM the master's ISR2 blocks even higher slave requests */
	init_linux(f->pic, 0x01, 0x01);
	raise_pulse(f->pic, 12);
	assert_int_equal(pic_acknowledge(f->pic), 0x2c);
	raise_pulse(f->pic, 9);
	assert_int_equal(pic_pending_vector(f->pic), -1);
}

static void test_icw1_resets_edge_sense(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(pic_set_irq(f->pic, 4, 1), 0);
	init_linux(f->pic, 0x01, 0x01);
	/* the request was cleared and the line held high is not a new edge */
	assert_int_equal(pic_pending_vector(f->pic), -1);
	assert_int_equal(pic_set_irq(f->pic, 4, 1), 0);
	assert_int_equal(pic_pending_vector(f->pic), -1);
	raise_pulse(f->pic, 4);
	assert_int_equal(pic_set_irq(f->pic, 4, 1), 0);
	assert_int_equal(pic_pending_vector(f->pic), 0x24);
	/* ICW1 also clears ISR and the mask */
	assert_int_equal(pic_acknowledge(f->pic), 0x24);
	wr(f->pic, 0x21, 0xff);
	init_linux(f->pic, 0x01, 0x01);
	assert_int_equal(st(f->pic).chip[0].isr, 0);
	assert_int_equal(st(f->pic).chip[0].imr, 0);
}

static void test_pic_reset(void **state)
{
	struct fixture *f = *state;
	struct pic_state s;

	wr(f->pic, 0x4d0, 0x20);
	raise_pulse(f->pic, 3);
	assert_int_equal(pic_acknowledge(f->pic), 0x23);
	wr(f->pic, 0x21, 0x0f);
	pic_reset(f->pic);
	s = st(f->pic);
	assert_false(s.chip[0].initialized);
	assert_int_equal(s.chip[0].isr, 0);
	assert_int_equal(s.chip[0].irr, 0);
	assert_int_equal(s.chip[0].imr, 0);
	assert_int_equal(s.chip[0].elcr, 0);
	assert_int_equal(s.chip[0].vector_base, 0);
	assert_false(s.output);
	assert_int_equal(pic_pending_vector(f->pic), -1);
}

static void test_line2_and_bad_args(void **state)
{
	struct fixture *f = *state;
	uint8_t v[2] = { 0, 0 };

	/* driving line 2 directly requests IR2 (ORed with the slave's output):
	 * an INTA then finds nothing on the slave */
	raise_pulse(f->pic, 2);
	assert_int_equal(pic_pending_vector(f->pic), 0x2f);
	assert_int_equal(pic_set_irq(f->pic, 16, 1), -EINVAL);
	assert_int_equal(pic_set_irq(NULL, 1, 1), -EINVAL);
	assert_int_equal(pic_master_io(f->pic, 0, v, 2, false), -EINVAL);
	assert_int_equal(pic_master_io(f->pic, 2, v, 1, false), -EINVAL);
	assert_int_equal(pic_slave_io(f->pic, 0, NULL, 1, false), -EINVAL);
	assert_int_equal(pic_slave_io(NULL, 0, v, 1, false), -EINVAL);
	assert_int_equal(pic_elcr_io(f->pic, 2, v, 1, true), -EINVAL);
	assert_int_equal(pic_elcr_io(f->pic, 0, v, 4, true), -EINVAL);
	assert_int_equal(pic_pending_vector(NULL), -1);
	assert_int_equal(pic_acknowledge(NULL), -EINVAL);
	pic_get_state(NULL, NULL);
	pic_reset(NULL);
	pic_free(NULL);
}

static void test_notify_reentrant(void **state)
{
	struct fixture *f = *state;

	f->ack_in_notify = true;
	f->acked_in_notify = -1;
	raise_pulse(f->pic, 6);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(f->acked_in_notify, 0x26);
	assert_int_equal(st(f->pic).chip[0].isr, 0x40);
	/* the EOI from a port write also notifies once the next one is up */
	f->ack_in_notify = false;
	raise_pulse(f->pic, 7);
	assert_int_equal(f->notifies, 1);
	wr(f->pic, 0x20, 0x20);
	assert_int_equal(f->notifies, 2);
}

static void test_hostile_sweep(void **state)
{
	struct fixture *f = *state;
	static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };
	unsigned seed = 1, i;

	/* Any sequence of writes, reads, requests and INTAs keeps the model
	 * sane: vectors come from the programmed bases, state stays 8-bit. */
	for (i = 0; i < 200000; i++) {
		uint16_t port = ports[((seed = seed * 1103515245 + 12345) >> 16) % 6];
		uint8_t v = (uint8_t) ((seed = seed * 1103515245 + 12345) >> 16);
		int vec;

		switch ((seed >> 8) % 5) {
		case 0:
			wr(f->pic, port, v);
			break;
		case 1:
			(void) rd(f->pic, port);
			break;
		case 2:
			assert_int_equal(pic_set_irq(f->pic, v & 15, (v >> 4) & 1), 0);
			break;
		case 3:
			vec = pic_acknowledge(f->pic);
			assert_true(vec >= 0 && vec <= 0xff);
			break;
		default:
			vec = pic_pending_vector(f->pic);
			assert_true(vec >= -1 && vec <= 0xff);
			break;
		}
	}
}

#define THREADS 4
#define ROUNDS  20000

static unsigned raisers_done;

static void *raiser(void *arg)
{
	struct fixture *f = arg;
	unsigned i;

	for (i = 0; i < ROUNDS; i++) {
		unsigned line = (i % 2) ? 3 + (i % 5) : 8 + (i % 8);

		pic_set_irq(f->pic, line, 1);
		pic_set_irq(f->pic, line, 0);
	}
	__atomic_add_fetch(&raisers_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* The CPU side: INTA and EOI one pending interrupt; false if none. */
static bool service_one(struct fixture *f)
{
	int vec;

	if (pic_pending_vector(f->pic) < 0)
		return false;
	vec = pic_acknowledge(f->pic);
	/* IRQ 7 / 15 are raised too, so a spurious vector is a valid answer */
	assert_true(vec >= 0x20 && vec < 0x30);
	if (vec >= 0x28)
		wr(f->pic, 0xa0, 0x20);
	wr(f->pic, 0x20, 0x20);
	return true;
}

static void test_concurrent(void **state)
{
	struct fixture *f = *state;
	pthread_t t[THREADS];
	unsigned i, acks = 0;
	struct pic_state s;

	raisers_done = 0;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, raiser, f), 0);
	while (__atomic_load_n(&raisers_done, __ATOMIC_SEQ_CST) < THREADS)
		acks += service_one(f);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	while (service_one(f))
		acks++;
	/* everything drained, nothing left requested or in service */
	s = st(f->pic);
	assert_int_equal(s.chip[0].isr | s.chip[1].isr, 0);
	assert_int_equal(s.chip[0].irr | s.chip[1].irr, 0);
	assert_false(s.output);
	assert_true(acks > 0);
	assert_true(f->notifies > 0);
}

static void test_null_ops(void **state)
{
	struct pic8259 *p = pic_new(NULL, NULL);

	assert_non_null(p);
	init_linux(p, 0x01, 0x01);
	raise_pulse(p, 0);
	assert_int_equal(pic_acknowledge(p), 0x20);
	pic_free(p);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define L(name) cmocka_unit_test_setup_teardown(name, setup_linux, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reset_state),
		T(test_init_sequence),
		T(test_init_without_icw4_and_single),
		L(test_edge_request_ack_eoi),
		L(test_priority_and_nesting),
		L(test_mask),
		L(test_read_irr_isr_imr),
		L(test_cascade),
		L(test_specific_eoi_and_rotation),
		L(test_auto_eoi),
		L(test_poll),
		L(test_level_triggered),
		L(test_spurious),
		L(test_special_mask),
		L(test_special_fully_nested),
		L(test_icw1_resets_edge_sense),
		L(test_pic_reset),
		L(test_line2_and_bad_args),
		L(test_notify_reentrant),
		L(test_hostile_sweep),
		L(test_concurrent),
		cmocka_unit_test(test_null_ops),
	};
#undef T
#undef L

	/* A notify deadlocking on the PIC's mutex fails the run, not hangs it. */
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
