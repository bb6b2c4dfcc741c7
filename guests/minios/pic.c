// SPDX-License-Identifier: MIT
/*
 * minios: the two 8259 PICs, remapped to vectors 0x20-0x2f (0-31 are the
 * CPU's exceptions). The master runs in auto-EOI mode: the in-service bit
 * clears as the CPU takes the interrupt, so a handler owes the PIC no EOI
 * write (one VM exit or trap less per interrupt). Only IRQ 0 (the 8254) and
 * IRQ 4 (COM1) are unmasked. In hw mode these are KVM's in-kernel PICs; in
 * shadow mode vmmd's models (devices/pic8259.c).
 */
#include "minios.h"

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xa0
#define PIC2_DATA 0xa1

void pic_init(void)
{
	outb(PIC1_CMD, 0x11);                   /* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, IRQ_BASE);              /* ICW2: vector bases */
	outb(PIC2_DATA, IRQ_BASE + 8);
	outb(PIC1_DATA, 0x04);                  /* ICW3: slave on IRQ 2 */
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x03);                  /* ICW4: 8086 mode, auto-EOI */
	outb(PIC2_DATA, 0x01);                  /* ICW4: 8086 mode */
	outb(PIC1_DATA, (uint8_t) ~(1u << IRQ_TIMER | 1u << IRQ_COM1));
	outb(PIC2_DATA, 0xff);
}
