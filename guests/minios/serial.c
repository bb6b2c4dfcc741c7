// SPDX-License-Identifier: MIT
/*
 * minios: the console, COM1 (16550A at 0x3f8, IRQ 4).
 *
 * Output is polled, but in bursts: with the FIFOs on, THRE means "transmit
 * FIFO empty", so up to 16 bytes go out with one `rep outsb` per LSR check.
 * Every port access is a VM exit in hw mode and a trap in shadow mode, so a
 * 48-byte line costs 6 of them instead of 96.
 *
 * Input is the seed's "keyboard": the UART raises IRQ 4 when a byte
 * arrives, console_irq() moves everything it holds into a ring and wakes
 * the process blocked in read(), if any. No echo: the shell echoes what it
 * reads.
 */
#include "minios.h"

#define COM1      VMM_PORT_COM1
#define UART_RBR  0
#define UART_THR  0
#define UART_IER  1
#define UART_FCR  2
#define UART_LSR  5
#define LSR_DR    0x01
#define LSR_THRE  0x20
#define FIFO_SIZE 16
#define RING_SIZE 512

static char ring[RING_SIZE];
static unsigned ring_head, ring_count;

void console_init(void)
{
	outb(COM1 + UART_FCR, 0x07);    /* FIFOs on, both cleared */
	outb(COM1 + UART_IER, 0x01);    /* interrupt when a byte is received */
}

void console_write(const char *s, size_t n)
{
	while (n) {
		size_t chunk = n < FIFO_SIZE ? n : FIFO_SIZE;

		n -= chunk;
		while (!(inb(COM1 + UART_LSR) & LSR_THRE))
			cpu_relax();
		__asm__ volatile("rep outsb" : "+S"(s), "+c"(chunk) : "d"((uint16_t) COM1 + UART_THR) : "memory");
	}
}

int kprintf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int) sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	console_write(buf, (size_t) n);
	return n;
}

void console_irq(void)
{
	bool got = false;

	while (inb(COM1 + UART_LSR) & LSR_DR) {
		char c = (char) inb(COM1 + UART_RBR);

		if (ring_count < RING_SIZE) {
			ring[(ring_head + ring_count) % RING_SIZE] = c;
			ring_count++;
		}
		got = true;
	}
	if (got)
		proc_wake_reader();
}

bool console_empty(void)
{
	return ring_count == 0;
}

size_t console_read(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n && ring_count; i++) {
		buf[i] = ring[ring_head];
		ring_head = (ring_head + 1) % RING_SIZE;
		ring_count--;
	}
	return i;
}
