/* SPDX-License-Identifier: MIT */
/*
 * A 16550A UART register model (Firecracker devices/legacy/serial.rs is the
 * shape to follow): THR/RBR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR and the
 * divisor latch behind LCR.DLAB, a bounded RX FIFO, loopback mode, and the
 * interrupt logic (RX data available, THR empty) driving one IRQ line.
 * It is handed its sinks; it knows nothing of KVM, VMs or JSON.
 * Thread safety: an internal mutex; uart_io and uart_receive may be called
 * from different threads. The ops are never called with the mutex held, so
 * they may call back into the UART; they run in state-change order, possibly
 * on another caller's thread (whichever is delivering at that moment), so a
 * tx byte may reach the sink just after uart_io has returned. uart_free must
 * not race with any other call.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_REGION_SIZE  8
#define UART_RX_FIFO_SIZE 64

struct uart_ops {
	/* A byte the guest transmitted (THR write, not in loopback). */
	void (*tx)(void *userdata, uint8_t byte);
	/* Set the IRQ line level (1 raised, 0 lowered); called on changes only. */
	void (*set_irq)(void *userdata, int level);
};

struct uart16550;

/* ops is copied; ops, or either callback, may be NULL. NULL with errno set on failure. */
struct uart16550 *uart_new(const struct uart_ops *ops, void *userdata);
void uart_free(struct uart16550 *u);

/* bus_io_fn for the 8-byte register window. Accesses wider than 1 byte: -EINVAL.
 * -EBUSY only for a callback that re-enters faster than its effects drain. */
int uart_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);

/*
 * Queue host input for the guest. Returns bytes accepted (0..len, bounded by the FIFO).
 * Offering more than fits is an overrun, as on the wire: LSR.OE is set for the
 * guest. A caller that must not lose input offers at most uart_rx_room() bytes
 * and keeps the rest for later.
 */
size_t uart_receive(struct uart16550 *u, const uint8_t *buf, size_t len);

/* Room left in the RX FIFO. */
size_t uart_rx_room(struct uart16550 *u);
