// SPDX-License-Identifier: MIT
/*
 * Every port access is a VM exit (~25 us on the slow host), so the UART is
 * set up with as few writes as possible and '\n' is sent as is (no "\r\n"):
 * vmmd's console log and QEMU's -serial stdio both take it verbatim.
 */
#include "abi/bootinfo.h"
#include "io.h"
#include "serial.h"

#define COM1     VMM_PORT_COM1
#define UART_THR 0      /* transmit holding register (DLAB=0) */
#define UART_DLL 0      /* divisor latch low (DLAB=1) */
#define UART_IER 1      /* interrupt enable (DLAB=0) */
#define UART_DLM 1      /* divisor latch high (DLAB=1) */
#define UART_LCR 3
#define UART_LSR 5
#define LCR_8N1  0x03
#define LCR_DLAB 0x80
#define LSR_THRE 0x20   /* transmit holding register empty */

void serial_init(void)
{
	outb(COM1 + UART_IER, 0);               /* polled: no interrupts */
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);               /* 115200 baud */
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
}

void serial_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		cpu_relax();
	outb(COM1 + UART_THR, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
	while (n--)
		serial_putc(*s++);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}
