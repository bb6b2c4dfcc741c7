/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/uart16550.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define LOG_MAX 8192

/* Everything the UART did to its sinks, in order: 't' + byte, or 'i' + level. */
struct sinks {
	pthread_mutex_t lock;
	char kind[LOG_MAX];
	uint8_t value[LOG_MAX];
	unsigned n;
	unsigned tx_count;
	int level;
	unsigned same_level_calls;      /* set_irq without a change: a bug */
	struct uart16550 *uart;         /* for callbacks that re-enter */
	bool reenter;
};

static void log_event(struct sinks *s, char kind, uint8_t value)
{
	pthread_mutex_lock(&s->lock);
	if (s->n < LOG_MAX) {
		s->kind[s->n] = kind;
		s->value[s->n] = value;
		s->n++;
	}
	if (kind == 't')
		s->tx_count++;
	pthread_mutex_unlock(&s->lock);
}

static void sink_tx(void *userdata, uint8_t byte)
{
	struct sinks *s = userdata;

	log_event(s, 't', byte);
	if (s->reenter) {
		/* an echoing console: looks at the UART and feeds input back */
		uint8_t lsr;
		assert_int_equal(uart_io(s->uart, LSR, &lsr, 1, false), 0);
		uart_receive(s->uart, &byte, 1);
	}
}

static void sink_set_irq(void *userdata, int level)
{
	struct sinks *s = userdata;

	pthread_mutex_lock(&s->lock);
	if (level == s->level)
		s->same_level_calls++;
	s->level = level;
	pthread_mutex_unlock(&s->lock);
	log_event(s, 'i', (uint8_t) level);
	if (s->reenter)
		(void) uart_rx_room(s->uart);
}

static const struct uart_ops ops = { .tx = sink_tx, .set_irq = sink_set_irq };

struct fixture {
	struct sinks s;
	struct uart16550 *u;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	pthread_mutex_init(&f->s.lock, NULL);
	f->u = uart_new(&ops, &f->s);
	if (!f->u)
		return -1;
	f->s.uart = f->u;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	uart_free(f->u);
	pthread_mutex_destroy(&f->s.lock);
	free(f);
	return 0;
}

static uint8_t rd(struct uart16550 *u, unsigned reg)
{
	uint8_t v = 0x5a;

	assert_int_equal(uart_io(u, reg, &v, 1, false), 0);
	return v;
}

static void wr(struct uart16550 *u, unsigned reg, uint8_t v)
{
	assert_int_equal(uart_io(u, reg, &v, 1, true), 0);
}

/* The events logged since `from`, as a string like "i1 t41 i0". */
static const char *events(struct sinks *s, unsigned from, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = from; i < s->n && off + 5 < len; i++)
		off += snprintf(buf + off, len - off, "%s%c%x", off ? " " : "", s->kind[i], s->value[i]);
	return buf;
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f->u, IER), 0);
	assert_int_equal(rd(f->u, IIR), 0x01);
	assert_int_equal(rd(f->u, LCR), 0x03);
	assert_int_equal(rd(f->u, MCR), 0x08);
	assert_int_equal(rd(f->u, LSR), 0x60);
	assert_int_equal(rd(f->u, MSR), 0xb0);
	assert_int_equal(f->s.n, 0);
	assert_int_equal(uart_rx_room(f->u), UART_RX_FIFO_SIZE);
}

static void test_divisor_latch(void **state)
{
	struct fixture *f = *state;

	wr(f->u, LCR, 0x83);
	assert_int_equal(rd(f->u, DLL), 12);    /* 9600 baud */
	assert_int_equal(rd(f->u, DLM), 0);
	wr(f->u, DLL, 0x01);
	wr(f->u, DLM, 0x02);
	assert_int_equal(rd(f->u, DLL), 0x01);
	assert_int_equal(rd(f->u, DLM), 0x02);
	/* latch writes neither transmit nor touch IER */
	assert_int_equal(f->s.n, 0);
	wr(f->u, LCR, 0x03);
	assert_int_equal(rd(f->u, IER), 0);
	wr(f->u, IER, 0xf5);
	assert_int_equal(rd(f->u, IER), 0x05);  /* bits 0-3 only */
	wr(f->u, LCR, 0x83);
	assert_int_equal(rd(f->u, DLL), 0x01);
	assert_int_equal(rd(f->u, DLM), 0x02);
	assert_int_equal(rd(f->u, LCR), 0x83);
	wr(f->u, LCR, 0x03);
	assert_int_equal(rd(f->u, IER), 0x05);
}

static void test_scratch(void **state)
{
	struct fixture *f = *state;

	wr(f->u, SCR, 0xa5);
	assert_int_equal(rd(f->u, SCR), 0xa5);
	/* LSR and MSR ignore writes */
	wr(f->u, LSR, 0x00);
	wr(f->u, MSR, 0x00);
	assert_int_equal(rd(f->u, LSR), 0x60);
	assert_int_equal(rd(f->u, MSR), 0xb0);
}

static void test_thr_to_tx(void **state)
{
	struct fixture *f = *state;
	char buf[256];

	wr(f->u, THR, 'h');
	wr(f->u, THR, 'i');
	assert_string_equal(events(&f->s, 0, buf, sizeof(buf)), "t68 t69");
	/* transmitted at once: THR and shift register empty again */
	assert_int_equal(rd(f->u, LSR) & 0x60, 0x60);
	/* no interrupt without IER */
	assert_int_equal(rd(f->u, IIR), 0x01);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;

	wr(f->u, MCR, 0x10 | 0x08 | 0x02);      /* LOOP | OUT2 | RTS */
	assert_int_equal(rd(f->u, MSR) & 0xf0, 0x90);   /* Linux autoconfig's check */
	wr(f->u, MCR, 0x1f);
	assert_int_equal(rd(f->u, MSR) & 0xf0, 0xf0);
	wr(f->u, MCR, 0x10 | 0x01);             /* DTR -> DSR */
	assert_int_equal(rd(f->u, MSR) & 0xf0, 0x20);
	wr(f->u, MCR, 0x10 | 0x04);             /* OUT1 -> RI */
	assert_int_equal(rd(f->u, MSR) & 0xf0, 0x40);

	wr(f->u, THR, 'A');
	wr(f->u, THR, 'B');
	assert_int_equal(f->s.tx_count, 0);
	assert_int_equal(rd(f->u, LSR) & 0x61, 0x61);
	assert_int_equal(rd(f->u, RBR), 'A');
	assert_int_equal(rd(f->u, RBR), 'B');
	assert_int_equal(rd(f->u, LSR) & 0x01, 0);

	wr(f->u, MCR, 0x08);
	assert_int_equal(rd(f->u, MSR) & 0xf0, 0xb0);
	wr(f->u, THR, 'C');
	assert_int_equal(f->s.tx_count, 1);
	assert_int_equal(rd(f->u, LSR) & 0x01, 0);
}

static void test_msr_deltas(void **state)
{
	struct fixture *f = *state;

	wr(f->u, MCR, 0x10 | 0x0f);             /* loopback, every output on */
	(void) rd(f->u, MSR);                   /* clears deltas */
	assert_int_equal(rd(f->u, MSR), 0xf0);
	wr(f->u, MCR, 0x10 | 0x08);             /* drop DTR, RTS, OUT1 */
	/* DCTS, DDSR and TERI (RI went away), not DDCD */
	assert_int_equal(rd(f->u, MSR), 0x80 | 0x07);
	assert_int_equal(rd(f->u, MSR), 0x80);
	wr(f->u, MCR, 0x10 | 0x0c);             /* RI rises: no TERI */
	assert_int_equal(rd(f->u, MSR), 0xc0);
}

static void test_rx_fifo_bounded(void **state)
{
	struct fixture *f = *state;
	uint8_t in[100];

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t) i;
	assert_int_equal(uart_receive(f->u, in, 10), 10);
	assert_int_equal(uart_rx_room(f->u), UART_RX_FIFO_SIZE - 10);
	/* room for what fits: no overrun */
	assert_int_equal(rd(f->u, LSR) & 0x03, 0x01);
	assert_int_equal(uart_receive(f->u, in + 10, sizeof(in) - 10), UART_RX_FIFO_SIZE - 10);
	assert_int_equal(uart_rx_room(f->u), 0);
	assert_int_equal(uart_receive(f->u, in, 1), 0);
	/* offered more than fitted: OE, cleared by reading LSR */
	assert_int_equal(rd(f->u, LSR) & 0x03, 0x03);
	assert_int_equal(rd(f->u, LSR) & 0x03, 0x01);

	for (unsigned i = 0; i < UART_RX_FIFO_SIZE; i++) {
		assert_int_equal(rd(f->u, LSR) & 0x01, 0x01);
		assert_int_equal(rd(f->u, RBR), i);
	}
	assert_int_equal(rd(f->u, LSR) & 0x01, 0);
	assert_int_equal(uart_rx_room(f->u), UART_RX_FIFO_SIZE);
	/* an empty FIFO reads as 0 and stays empty */
	assert_int_equal(rd(f->u, RBR), 0);
	assert_int_equal(rd(f->u, LSR) & 0x03, 0);
	/* the ring wraps cleanly */
	assert_int_equal(uart_receive(f->u, in, 3), 3);
	assert_int_equal(rd(f->u, RBR), 0);
	assert_int_equal(rd(f->u, RBR), 1);
	assert_int_equal(rd(f->u, RBR), 2);
	assert_int_equal(uart_receive(f->u, NULL, 0), 0);
}

static void test_loopback_overrun(void **state)
{
	struct fixture *f = *state;

	wr(f->u, MCR, 0x10);
	for (unsigned i = 0; i < UART_RX_FIFO_SIZE + 5; i++)
		wr(f->u, THR, (uint8_t) i);
	assert_int_equal(rd(f->u, LSR) & 0x03, 0x03);
	/* the FIFO kept the first bytes; the overrunning ones were lost */
	assert_int_equal(rd(f->u, RBR), 0);
	assert_int_equal(uart_rx_room(f->u), 1);
}

static void test_iir_priority(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	uint8_t byte = 'x', many[UART_RX_FIFO_SIZE + 1] = { 0 };

	wr(f->u, IER, 0x0f);
	/* THR is empty: that source shows at once and raises the line */
	assert_string_equal(events(&f->s, 0, buf, sizeof(buf)), "i1");
	assert_int_equal(f->s.level, 1);

	uart_receive(f->u, &byte, 1);
	assert_int_equal(rd(f->u, IIR), 0x04);          /* RX data over THR empty */
	uart_receive(f->u, many, sizeof(many));        /* overrun */
	assert_int_equal(rd(f->u, IIR), 0x06);          /* line status over RX data */
	assert_int_equal(rd(f->u, IIR), 0x06);          /* reading IIR does not clear it */
	(void) rd(f->u, LSR);
	assert_int_equal(rd(f->u, IIR), 0x04);
	wr(f->u, FCR, 0x01 | 0x02);                     /* enable FIFOs, clear RX */
	/* the line stayed up the whole time: no redundant set_irq */
	assert_string_equal(events(&f->s, 0, buf, sizeof(buf)), "i1");

	/* THR empty is left; reading IIR reports and acknowledges it */
	assert_int_equal(rd(f->u, IIR), 0xc2);
	assert_string_equal(events(&f->s, 0, buf, sizeof(buf)), "i1 i0");
	assert_int_equal(rd(f->u, IIR), 0xc1);

	/* modem status is the lowest priority */
	wr(f->u, MCR, 0x18);                            /* loopback: CTS/DSR drop */
	assert_int_equal(rd(f->u, IIR), 0xc0);
	wr(f->u, THR, 'y');                             /* looped back: RX data */
	assert_int_equal(rd(f->u, IIR), 0xc4);
	assert_int_equal(rd(f->u, RBR), 'y');
	assert_int_equal(rd(f->u, IIR), 0xc2);          /* THR empty again after the write */
	assert_int_equal(rd(f->u, IIR), 0xc0);          /* then modem status */
	(void) rd(f->u, MSR);
	assert_int_equal(rd(f->u, IIR), 0xc1);
	assert_int_equal(f->s.level, 0);
	assert_int_equal(f->s.same_level_calls, 0);
}

static void test_thr_empty_rearm(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	unsigned mark;

	wr(f->u, IER, 0x02);
	assert_string_equal(events(&f->s, 0, buf, sizeof(buf)), "i1");
	/* writing THR with the line up: drop, send, rise (a fresh edge) */
	wr(f->u, THR, 'a');
	assert_string_equal(events(&f->s, 1, buf, sizeof(buf)), "i0 t61 i1");
	mark = f->s.n;
	assert_int_equal(rd(f->u, IIR), 0x02);
	assert_int_equal(rd(f->u, IIR), 0x01);
	assert_string_equal(events(&f->s, mark, buf, sizeof(buf)), "i0");
	/* with the line down the write only sends and raises */
	mark = f->s.n;
	wr(f->u, THR, 'b');
	assert_string_equal(events(&f->s, mark, buf, sizeof(buf)), "t62 i1");

	/* Linux's UART_BUG_THRE probe: IER off and on again re-asserts THRE */
	assert_int_equal(rd(f->u, IIR), 0x02);
	assert_int_equal(rd(f->u, IIR), 0x01);
	wr(f->u, IER, 0x00);
	wr(f->u, IER, 0x02);
	assert_int_equal(rd(f->u, IIR), 0x02);
	assert_int_equal(f->s.same_level_calls, 0);
}

static void test_ier_masking(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	uint8_t in[2] = { 'a', 'b' };

	uart_receive(f->u, in, 2);
	assert_int_equal(rd(f->u, IIR), 0x01);
	wr(f->u, IER, 0x08 | 0x04);             /* modem + line status only */
	assert_int_equal(rd(f->u, IIR), 0x01);
	assert_int_equal(f->s.n, 0);

	wr(f->u, IER, 0x01);
	assert_int_equal(rd(f->u, IIR), 0x04);
	wr(f->u, IER, 0x00);
	assert_int_equal(rd(f->u, IIR), 0x01);
	assert_string_equal(events(&f->s, 0, buf, sizeof(buf)), "i1 i0");

	/* draining the FIFO drops the line */
	wr(f->u, IER, 0x01);
	assert_int_equal(rd(f->u, RBR), 'a');
	assert_int_equal(f->s.level, 1);
	assert_int_equal(rd(f->u, RBR), 'b');
	assert_int_equal(f->s.level, 0);
	assert_string_equal(events(&f->s, 0, buf, sizeof(buf)), "i1 i0 i1 i0");
}

static void test_fcr(void **state)
{
	struct fixture *f = *state;
	uint8_t in[3] = { 1, 2, 3 };

	wr(f->u, FCR, 0x01);
	assert_int_equal(rd(f->u, IIR), 0xc1);
	assert_int_equal(uart_receive(f->u, in, 3), 3);
	wr(f->u, FCR, 0x01);                    /* no clear bit: data stays */
	assert_int_equal(uart_rx_room(f->u), UART_RX_FIFO_SIZE - 3);
	wr(f->u, FCR, 0x01 | 0x04);             /* clear TX only */
	assert_int_equal(uart_rx_room(f->u), UART_RX_FIFO_SIZE - 3);
	wr(f->u, FCR, 0x01 | 0x02);             /* clear RX */
	assert_int_equal(uart_rx_room(f->u), UART_RX_FIFO_SIZE);
	assert_int_equal(rd(f->u, LSR) & 0x01, 0);
	assert_int_equal(rd(f->u, IIR), 0xc1);

	/* disabling FIFOs empties them too */
	assert_int_equal(uart_receive(f->u, in, 3), 3);
	wr(f->u, FCR, 0x00);
	assert_int_equal(uart_rx_room(f->u), UART_RX_FIFO_SIZE);
	assert_int_equal(rd(f->u, IIR), 0x01);
}

static void test_bad_accesses(void **state)
{
	struct fixture *f = *state;
	uint8_t data[8] = { 0 };

	for (unsigned size = 2; size <= 8; size *= 2) {
		assert_int_equal(uart_io(f->u, THR, data, size, true), -EINVAL);
		assert_int_equal(uart_io(f->u, LSR, data, size, false), -EINVAL);
	}
	assert_int_equal(uart_io(f->u, 0, data, 0, false), -EINVAL);
	assert_int_equal(uart_io(f->u, UART_REGION_SIZE, data, 1, false), -EINVAL);
	assert_int_equal(uart_io(f->u, UINT64_MAX, data, 1, true), -EINVAL);
	assert_int_equal(uart_io(NULL, 0, data, 1, false), -EINVAL);
	assert_int_equal(uart_io(f->u, 0, NULL, 1, false), -EINVAL);
	assert_int_equal(f->s.n, 0);
}

/* Every register, every value, both DLAB states: nothing breaks the model. */
static void test_hostile_sweep(void **state)
{
	struct fixture *f = *state;

	for (unsigned lcr = 0; lcr < 2; lcr++)
		for (unsigned reg = 0; reg < UART_REGION_SIZE; reg++)
			for (unsigned v = 0; v < 256; v++) {
				uint8_t data = (uint8_t) v;

				if (reg == LCR)
					data = (uint8_t) (lcr ? v | 0x80 : v & 0x7f);
				assert_int_equal(uart_io(f->u, reg, &data, 1, true), 0);
				assert_int_equal(uart_io(f->u, reg, &data, 1, false), 0);
			}
	assert_int_equal(f->s.same_level_calls, 0);
	assert_true(uart_rx_room(f->u) <= UART_RX_FIFO_SIZE);
}

static void test_reentrant_callbacks(void **state)
{
	struct fixture *f = *state;

	f->s.reenter = true;
	wr(f->u, IER, 0x03);
	wr(f->u, THR, 'e');                     /* tx echoes 'e' back as input */
	assert_int_equal(f->s.tx_count, 1);
	assert_int_equal(rd(f->u, RBR), 'e');
	assert_int_equal(rd(f->u, IIR), 0x02);
	f->s.reenter = false;
	assert_int_equal(f->s.same_level_calls, 0);
}

#define WRITERS 4
#define BYTES_PER_WRITER 5000

static void *writer(void *arg)
{
	struct fixture *f = arg;

	for (unsigned i = 0; i < BYTES_PER_WRITER; i++) {
		uint8_t v = (uint8_t) i, iir;

		uart_io(f->u, THR, &v, 1, true);
		uart_io(f->u, IIR, &iir, 1, false);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct fixture *f = arg;
	uint8_t b = 'r', v;

	for (unsigned i = 0; i < BYTES_PER_WRITER; i++) {
		uart_receive(f->u, &b, 1);
		uart_io(f->u, RBR, &v, 1, false);
		uart_io(f->u, LSR, &v, 1, false);
	}
	return NULL;
}

/* vCPUs and the console racing: every byte comes out, and the last level
 * set_irq saw is the model's own. */
static void test_concurrent(void **state)
{
	struct fixture *f = *state;
	pthread_t t[WRITERS + 1];

	wr(f->u, IER, 0x03);
	for (unsigned i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, f), 0);
	assert_int_equal(pthread_create(&t[WRITERS], NULL, reader, f), 0);
	for (unsigned i = 0; i <= WRITERS; i++)
		pthread_join(t[i], NULL);

	assert_int_equal(f->s.tx_count, WRITERS * BYTES_PER_WRITER);
	assert_int_equal(f->s.same_level_calls, 0);
	/* acknowledge everything: the line must end low */
	while (rd(f->u, LSR) & 0x01)
		(void) rd(f->u, RBR);
	(void) rd(f->u, IIR);
	assert_int_equal(rd(f->u, IIR), 0x01);
	assert_int_equal(f->s.level, 0);
}

static void test_null_ops(void **state)
{
	struct uart16550 *u = uart_new(NULL, NULL);
	uint8_t v = 'z';

	assert_non_null(u);
	assert_int_equal(uart_io(u, IER, &v, 1, true), 0);
	assert_int_equal(uart_io(u, THR, &v, 1, true), 0);
	assert_int_equal(uart_io(u, IIR, &v, 1, false), 0);
	assert_int_equal(v, 0x02);
	uart_free(u);
	uart_free(NULL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reset_state),
		T(test_divisor_latch),
		T(test_scratch),
		T(test_thr_to_tx),
		T(test_loopback),
		T(test_msr_deltas),
		T(test_rx_fifo_bounded),
		T(test_loopback_overrun),
		T(test_iir_priority),
		T(test_thr_empty_rearm),
		T(test_ier_masking),
		T(test_fcr),
		T(test_bad_accesses),
		T(test_hostile_sweep),
		T(test_reentrant_callbacks),
		T(test_concurrent),
		cmocka_unit_test(test_null_ops),
	};
#undef T

	/* A callback deadlocking on the UART's mutex fails the run, not hangs it. */
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
