/* SPDX-License-Identifier: MIT */
/*
 * 16550A register model. Interrupt behaviour follows QEMU's serial.c, which is
 * what Linux's 8250 driver is tested against: THR-empty is a latched
 * "pending" flag raised whenever the transmitter empties and cleared by
 * reading IIR while it is the reported source or by writing THR; enabling
 * IER.ETBEI re-samples it (Linux's UART_BUG_THRE probe depends on that).
 * A THR write transmits at once, so with ETBEI the line drops and rises again
 * around the byte: an edge-triggered PIC sees a fresh interrupt per byte.
 *
 * The IRQ line is not gated by MCR.OUT2 (QEMU does not either), so guests
 * that work under QEMU work here. FCR's RX trigger level is stored but not
 * used: RX data available is reported as soon as one byte is queued, and the
 * RX FIFO keeps UART_RX_FIFO_SIZE bytes whether or not FIFOs are enabled.
 *
 * Callbacks are never called with the mutex held: a sink may call back into
 * the UART (an echoing console, a set_irq that looks at device state). State
 * changes append their effects (a transmitted byte, a new line level) to a
 * small ordered queue under the mutex; the thread that finds nobody draining
 * delivers the queue, dropping the mutex around each callback. Effects thus
 * reach the sinks in the order the state changed even when vCPU threads and
 * the console thread race, and the last level given to set_irq is always the
 * model's level. A thread that would overfill the queue waits for the drainer,
 * which throttles a guest to the speed of the tx sink.
 */
#include "devices/uart16550.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

enum uart_reg {
	REG_RBR_THR = 0,        /* DLL with LCR.DLAB */
	REG_IER = 1,            /* DLM with LCR.DLAB */
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_ERBFI 0x01          /* RX data available */
#define IER_ETBEI 0x02          /* THR empty */
#define IER_ELSI  0x04          /* receiver line status */
#define IER_EDSSI 0x08          /* modem status */
#define IER_MASK  0x0f

#define IIR_MSI          0x00
#define IIR_NO_INT       0x01
#define IIR_THRI         0x02
#define IIR_RDI          0x04
#define IIR_RLSI         0x06
#define IIR_FIFO_ENABLED 0xc0

#define FCR_FE     0x01
#define FCR_RFR    0x02         /* clear RX FIFO */
#define FCR_XFR    0x04         /* clear TX FIFO */
#define FCR_STORED 0xc9         /* FE, DMA mode, RX trigger level */

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR     0x01
#define LSR_OE     0x02
#define LSR_PE     0x04
#define LSR_FE     0x08
#define LSR_BI     0x10
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS    0x10
#define MSR_DSR    0x20
#define MSR_RI     0x40
#define MSR_DCD    0x80

/* 9600 baud from the PC's 1.8432 MHz clock, as firmware leaves it. */
#define DEFAULT_DIVISOR 12

/* One register access or one uart_receive queues at most 3 effects: a THR
 * write may lower the line, transmit, and raise it again. */
#define OP_MAX_EFFECTS 3
#define QUEUE_SIZE     32

struct uart_effect {
	bool is_irq;
	uint8_t value;          /* the byte, or the line level */
};

struct uart16550 {
	struct uart_ops ops;    /* our own copy: the caller's may go away */
	void *userdata;

	pthread_mutex_t lock;
	pthread_cond_t queue_room;

	uint8_t dll, dlm, ier, fcr, lcr, mcr, lsr, msr, scr;
	bool thr_pending;
	bool irq_level;         /* the level as of the last queued set_irq */

	uint8_t rx[UART_RX_FIFO_SIZE];
	unsigned rx_head, rx_count;

	struct uart_effect queue[QUEUE_SIZE];
	unsigned q_head, q_count;
	bool draining;          /* q_count > 0 implies draining */
	pthread_t drainer;
};

struct uart16550 *uart_new(const struct uart_ops *ops, void *userdata)
{
	struct uart16550 *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	if (pthread_mutex_init(&u->lock, NULL) != 0)
		goto err_free;
	if (pthread_cond_init(&u->queue_room, NULL) != 0)
		goto err_mutex;

	if (ops)
		u->ops = *ops;
	u->userdata = userdata;
	u->dll = DEFAULT_DIVISOR;
	u->lcr = 0x03;          /* 8N1 */
	u->mcr = MCR_OUT2;
	u->lsr = LSR_THRE | LSR_TEMT;
	/* No cable to model: report a present, ready peer, or Linux's 8250
	 * driver waits for carrier and CTS. */
	u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	return u;

err_mutex:
	pthread_mutex_destroy(&u->lock);
err_free:
	free(u);
	errno = ENOMEM;
	return NULL;
}

void uart_free(struct uart16550 *u)
{
	if (!u)
		return;
	pthread_cond_destroy(&u->queue_room);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* --- effect queue ---------------------------------------------------------- */

static void queue_push(struct uart16550 *u, bool is_irq, uint8_t value)
{
	/* lock_for_op() reserved OP_MAX_EFFECTS slots, so this always fits. */
	if (u->q_count == QUEUE_SIZE)
		return;
	u->queue[(u->q_head + u->q_count) % QUEUE_SIZE] =
		(struct uart_effect) { .is_irq = is_irq, .value = value };
	u->q_count++;
}

/* Takes the mutex with room in the queue for one operation's effects. */
static int lock_for_op(struct uart16550 *u)
{
	pthread_mutex_lock(&u->lock);
	while (u->q_count > QUEUE_SIZE - OP_MAX_EFFECTS) {
		/* A callback re-entering over and over would wait for itself. */
		if (pthread_equal(u->drainer, pthread_self())) {
			pthread_mutex_unlock(&u->lock);
			return -EBUSY;
		}
		pthread_cond_wait(&u->queue_room, &u->lock);
	}
	return 0;
}

/* Delivers queued effects unless another call is already doing so (another
 * thread, or this one further up the stack), then drops the mutex. */
static void unlock_and_deliver(struct uart16550 *u)
{
	if (u->draining || u->q_count == 0) {
		pthread_mutex_unlock(&u->lock);
		return;
	}

	u->draining = true;
	u->drainer = pthread_self();
	while (u->q_count > 0) {
		struct uart_effect e = u->queue[u->q_head];

		u->q_head = (u->q_head + 1) % QUEUE_SIZE;
		u->q_count--;
		pthread_cond_broadcast(&u->queue_room);
		pthread_mutex_unlock(&u->lock);
		if (e.is_irq)
			u->ops.set_irq(u->userdata, e.value);
		else
			u->ops.tx(u->userdata, e.value);
		pthread_mutex_lock(&u->lock);
	}
	u->draining = false;
	pthread_mutex_unlock(&u->lock);
}

/* --- interrupt logic ------------------------------------------------------- */

/* The highest-priority pending source, as IIR bits 0-3. */
static uint8_t pending_source(const struct uart16550 *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr & LSR_ERRORS))
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && (u->lsr & LSR_DR))
		return IIR_RDI;
	if ((u->ier & IER_ETBEI) && u->thr_pending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

static void update_irq(struct uart16550 *u)
{
	bool level = pending_source(u) != IIR_NO_INT;

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	if (u->ops.set_irq)
		queue_push(u, true, level);
}

/* --- receive path ---------------------------------------------------------- */

/* One character arriving at the receiver; an overrun when the FIFO is full
 * (the character is lost, the FIFO keeps its contents, as on a 16550A). */
static bool rx_push(struct uart16550 *u, uint8_t byte)
{
	if (u->rx_count == UART_RX_FIFO_SIZE) {
		u->lsr |= LSR_OE;
		return false;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_RX_FIFO_SIZE] = byte;
	u->rx_count++;
	u->lsr |= LSR_DR;
	return true;
}

static uint8_t rx_pop(struct uart16550 *u)
{
	uint8_t byte;

	if (u->rx_count == 0)
		return 0;
	byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_RX_FIFO_SIZE;
	u->rx_count--;
	if (u->rx_count == 0)
		u->lsr &= ~LSR_DR;
	return byte;
}

static void rx_clear(struct uart16550 *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
	u->lsr &= ~(LSR_DR | LSR_BI);
}

/* --- modem lines ----------------------------------------------------------- */

/* Sets MSR's status bits and the delta bits their change implies. */
static void msr_set_status(struct uart16550 *u, uint8_t status)
{
	uint8_t old = u->msr;
	uint8_t delta = 0;

	if ((old ^ status) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((old ^ status) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(status & MSR_RI))
		delta |= MSR_TERI;      /* trailing edge only */
	if ((old ^ status) & MSR_DCD)
		delta |= MSR_DDCD;
	u->msr = status | (old & MSR_DELTAS) | delta;
}

/* In loopback the modem outputs are wired back to the inputs. */
static uint8_t msr_status_from_mcr(uint8_t mcr)
{
	uint8_t status = 0;

	if (!(mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	if (mcr & MCR_DTR)
		status |= MSR_DSR;
	if (mcr & MCR_RTS)
		status |= MSR_CTS;
	if (mcr & MCR_OUT1)
		status |= MSR_RI;
	if (mcr & MCR_OUT2)
		status |= MSR_DCD;
	return status;
}

/* --- registers ------------------------------------------------------------- */

static void write_thr(struct uart16550 *u, uint8_t byte)
{
	u->thr_pending = false;
	u->lsr &= ~(LSR_THRE | LSR_TEMT);
	update_irq(u);

	if (u->mcr & MCR_LOOP)
		rx_push(u, byte);
	else if (u->ops.tx)
		queue_push(u, false, byte);

	/* Sent at once: the transmitter is empty again. */
	u->lsr |= LSR_THRE | LSR_TEMT;
	u->thr_pending = true;
	update_irq(u);
}

static void write_ier(struct uart16550 *u, uint8_t value)
{
	uint8_t changed = (u->ier ^ value) & IER_MASK;

	u->ier = value & IER_MASK;
	if (changed & IER_ETBEI)
		u->thr_pending = (u->ier & IER_ETBEI) && (u->lsr & LSR_THRE);
	update_irq(u);
}

static void write_fcr(struct uart16550 *u, uint8_t value)
{
	/* Switching FIFOs on or off empties them. */
	if ((value ^ u->fcr) & FCR_FE)
		value |= FCR_RFR | FCR_XFR;
	if (value & FCR_RFR)
		rx_clear(u);
	if (value & FCR_XFR) {
		/* Nothing is ever held in the TX FIFO; it is already empty. */
		u->lsr |= LSR_THRE | LSR_TEMT;
		u->thr_pending = true;
	}
	u->fcr = value & FCR_STORED;
	update_irq(u);
}

static void write_mcr(struct uart16550 *u, uint8_t value)
{
	u->mcr = value & MCR_MASK;
	msr_set_status(u, msr_status_from_mcr(u->mcr));
	update_irq(u);
}

static void write_reg(struct uart16550 *u, unsigned reg, uint8_t value)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR:
		if (dlab)
			u->dll = value;
		else
			write_thr(u, value);
		break;
	case REG_IER:
		if (dlab)
			u->dlm = value;
		else
			write_ier(u, value);
		break;
	case REG_IIR_FCR:
		write_fcr(u, value);
		break;
	case REG_LCR:
		u->lcr = value;
		break;
	case REG_MCR:
		write_mcr(u, value);
		break;
	case REG_SCR:
		u->scr = value;
		break;
	default:
		/* LSR and MSR are read-only (writes are for factory test). */
		break;
	}
}

static uint8_t read_iir(struct uart16550 *u)
{
	uint8_t source = pending_source(u);

	/* Reading IIR acknowledges THR empty, and only when it is the source
	 * reported: a higher-priority source hides it and it stays pending. */
	if (source == IIR_THRI) {
		u->thr_pending = false;
		update_irq(u);
	}
	return source | ((u->fcr & FCR_FE) ? IIR_FIFO_ENABLED : 0);
}

static uint8_t read_reg(struct uart16550 *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t value;

	switch (reg) {
	case REG_RBR_THR:
		if (dlab)
			return u->dll;
		value = rx_pop(u);
		update_irq(u);
		return value;
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR_FCR:
		return read_iir(u);
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		value = u->lsr;
		u->lsr &= ~LSR_ERRORS;
		update_irq(u);
		return value;
	case REG_MSR:
		value = u->msr;
		u->msr &= ~MSR_DELTAS;
		update_irq(u);
		return value;
	case REG_SCR:
		return u->scr;
	}
	return 0xff;
}

int uart_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct uart16550 *u = opaque;
	int r;

	if (!u || !data || size != 1 || offset >= UART_REGION_SIZE)
		return -EINVAL;

	r = lock_for_op(u);
	if (r < 0)
		return r;
	if (is_write)
		write_reg(u, offset, data[0]);
	else
		data[0] = read_reg(u, offset);
	unlock_and_deliver(u);
	return 0;
}

size_t uart_receive(struct uart16550 *u, const uint8_t *buf, size_t len)
{
	size_t accepted = 0;

	if (!u || (!buf && len > 0))
		return 0;
	if (lock_for_op(u) < 0)
		return 0;
	while (accepted < len && rx_push(u, buf[accepted]))
		accepted++;
	update_irq(u);
	unlock_and_deliver(u);
	return accepted;
}

size_t uart_rx_room(struct uart16550 *u)
{
	size_t room;

	if (!u)
		return 0;
	pthread_mutex_lock(&u->lock);
	room = UART_RX_FIFO_SIZE - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return room;
}
