/* SPDX-License-Identifier: MIT */
/*
 * The PC's cascaded pair of 8259A programmable interrupt controllers as one
 * model: the master at ports 0x20-0x21 (IRQ 0-7), the slave at 0xa0-0xa1
 * (IRQ 8-15) with its INT output wired to the master's IR2, and the ELCR
 * edge/level register pair at 0x4d0-0x4d1. Semantics follow QEMU's i8259.c
 * and KVM's arch/x86/kvm/i8259.c (what Linux and every PC OS are tested
 * against): ICW1-ICW4, OCW1 (IMR), OCW2 (non-specific/specific EOI, rotate),
 * OCW3 (IRR/ISR read, poll, special mask), auto-EOI (with rotate),
 * special fully nested mode, edge- and level-triggered lines, spurious
 * IRQ 7 / IRQ 15.
 *
 * vmmd uses it in shadow mode only (hw mode has KVM's in-kernel PIC); the
 * shadow engine is the CPU side: it asks pic_pending_vector() whether the
 * INT output is up, and runs the INTA cycle with pic_acknowledge() when it
 * delivers the interrupt. It knows nothing of KVM, VMs or JSON.
 *
 * Reset state (power-on, as KVM's): both chips uninitialized, IMR 0 (all
 * lines unmasked), vector base 0, ELCR 0 (all edge-triggered).
 *
 * Thread safety: an internal mutex; every function may be called from any
 * thread. The notify callback is never called with the mutex held, so it
 * may call back into the PIC (e.g. acknowledge at once). pic_free must not
 * race with any other call.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PIC_LINES         16
#define PIC_REGION_SIZE   2     /* each chip's window: 0x20-0x21, 0xa0-0xa1 */
#define PIC_ELCR_SIZE     2     /* 0x4d0 (master), 0x4d1 (slave) */
#define PIC_MASTER_BASE   0x20
#define PIC_SLAVE_BASE    0xa0
#define PIC_ELCR_BASE     0x4d0
#define PIC_CASCADE_LINE  2

struct pic_ops {
	/*
	 * The INT output (to the CPU) went from low to high: a vCPU sleeping in
	 * hlt or running guest code should come and look (pic_pending_vector).
	 * A hint, not a level: by the time it runs the request may be gone.
	 */
	void (*notify)(void *userdata);
};

/* One chip's registers, for inspection and tests. */
struct pic_chip_state {
	uint8_t irr, isr, imr;
	uint8_t vector_base;    /* ICW2 & 0xf8 */
	uint8_t elcr;           /* 1 = level-triggered */
	uint8_t priority_add;   /* the lowest-priority line is (priority_add + 7) & 7 */
	bool initialized;       /* ICW1..ICW4 sequence completed at least once */
	bool auto_eoi;
	bool special_mask;
	bool special_fully_nested;
};

struct pic_state {
	struct pic_chip_state chip[2];  /* [0] master, [1] slave */
	bool output;                    /* the master's INT output */
	uint64_t spurious;              /* INTA cycles that returned a spurious 7/15 */
	uint64_t acknowledged;          /* INTA cycles, spurious included */
};

struct pic8259;

/* ops is copied; ops and notify may be NULL. NULL with errno set on failure. */
struct pic8259 *pic_new(const struct pic_ops *ops, void *userdata);
void pic_free(struct pic8259 *pic);

/* Back to the power-on state (ELCR cleared too). Input levels are kept: a
 * line held high must go low and high again to request. No notify. */
void pic_reset(struct pic8259 *pic);

/*
 * Drive input line 0-15 (8-15 are the slave's IR0-7) to level 0 or 1.
 * Edge-triggered lines latch a request on a 0->1 change; level-triggered
 * ones (ELCR) request while high. Line 2 is the cascade input: it can be
 * driven, but the slave's output is ORed into it. -EINVAL for a bad line.
 */
int pic_set_irq(struct pic8259 *pic, unsigned line, int level);

/*
 * The vector an INTA cycle would return now, without acknowledging; -1
 * while the INT output is low (nothing unmasked is requested above the
 * priority of what is in service).
 */
int pic_pending_vector(struct pic8259 *pic);

/*
 * The INTA cycle: the highest-priority request moves from IRR to ISR
 * (unless auto-EOI) and its vector is returned. With the output low, or
 * when the master chose the cascade line but the slave has nothing, the
 * spurious vector (base + 7 of that chip) is returned and no ISR bit is
 * set on that chip (the master's ISR2 is set in the cascade case, as on
 * hardware, so the guest's EOI to the master balances it).
 */
int pic_acknowledge(struct pic8259 *pic);

/* bus_io_fn for the master's and the slave's 2-port windows, and for the
 * 2-port ELCR window. Accesses wider than 1 byte: -EINVAL. */
int pic_master_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
int pic_slave_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
int pic_elcr_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);

/* A consistent snapshot of both chips. */
void pic_get_state(struct pic8259 *pic, struct pic_state *ret_state);
