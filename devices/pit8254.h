/* SPDX-License-Identifier: MIT */
/*
 * The PC's 8254 programmable interval timer: three 16-bit down-counters
 * clocked at 1.193182 MHz behind ports 0x40-0x43, channel 0's output wired
 * to IRQ 0, channel 2's gate and output on port 0x61 (with the speaker
 * enable, and the refresh toggle bit that delay loops poll). Semantics
 * follow QEMU's i8254.c and KVM's arch/x86/kvm/i8254.c: modes 0-5, binary
 * and BCD counting, lobyte/hibyte/lohi access, the counter latch command,
 * the read-back command (count and status).
 *
 * There is no thread and no timer inside: time comes from the now_ns
 * callback (any monotonic nanosecond clock; a fake one in tests), counter
 * reads are computed from it, and the owner drives channel 0's interrupts:
 * arm a timer for pit_next_deadline_ns(), and when it fires call
 * pit_advance(), which delivers what has elapsed up to now. Port accesses
 * catch up first as well, so a late timer never loses an interrupt, it
 * only delays it.
 *
 * IRQ 0 (modelled as KVM does, for an edge-triggered PIC): in mode 0 the
 * line follows OUT (low after programming, high from terminal count until
 * the channel is reprogrammed); in modes 2, 3 and 4 each period (mode 4:
 * the one strobe) is a pulse, line up then down. Periods that elapsed
 * between two pit_advance calls are coalesced into one pulse and counted
 * (pit_stats.coalesced). Modes 1 and 5 wait for a gate rising edge, which
 * channel 0 (gate tied high) never sees: they never fire.
 *
 * Power-on state (as KVM's, not a BIOS's): no channel programmed, so
 * nothing fires until the guest writes a control word and a count.
 * Channels 0 and 1 have their gate tied high, channel 2's is port 0x61
 * bit 0 (initially low). Gate low pauses nothing in modes 0 and 4 (a
 * simplification); in modes 1, 2, 3 and 5 a rising edge (re)starts the count.
 *
 * Thread safety: an internal mutex. now_ns is called with it held (it must
 * not call into the PIT). set_irq is never called with it held and sees
 * the levels in the order the model changed them, possibly on another
 * caller's thread; it may call into the PIT. pit_free must not race with
 * any other call.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PIT_FREQ_HZ        1193182u
#define PIT_CHANNELS       3
#define PIT_REGION_SIZE    4        /* 0x40-0x43 */
#define PIT_BASE           0x40
#define PIT_PORT61         0x61
#define PIT_PORT61_SIZE    1

struct pit_ops {
	/* A monotonic clock in nanoseconds (required). */
	uint64_t (*now_ns)(void *userdata);
	/* Set the IRQ 0 line (1 raised, 0 lowered); called on changes only. */
	void (*set_irq)(void *userdata, int level);
};

struct pit_channel_state {
	uint8_t mode;           /* 0-5 */
	uint8_t access;         /* 1 lobyte, 2 hibyte, 3 lobyte then hibyte; 0 never programmed */
	bool bcd;
	bool gate;
	bool counting;          /* a count was loaded (modes 1 and 5: and triggered) */
	bool out;               /* OUT now */
	uint32_t reload;        /* the count in effect: 1..65536 (BCD: 1..10000) */
	uint16_t counter;       /* what a latch would read now (binary, before BCD encoding) */
};

struct pit_stats {
	uint64_t ticks;         /* channel 0 events (periods, terminal counts) that elapsed */
	uint64_t irqs;          /* IRQ 0 rising edges delivered */
	uint64_t coalesced;     /* events merged into an earlier one: ticks - irqs */
};

struct pit8254;

/* ops is copied; ops->now_ns is required, set_irq may be NULL.
 * NULL with errno set (EINVAL, ENOMEM) on failure. */
struct pit8254 *pit_new(const struct pit_ops *ops, void *userdata);
void pit_free(struct pit8254 *pit);

/* bus_io_fn for 0x40-0x43 and for port 0x61. Accesses wider than 1 byte:
 * -EINVAL. -EBUSY only for a set_irq that re-enters faster than its effects
 * drain. */
int pit_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
int pit_port61_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);

/*
 * The clock time (now_ns's scale) at which channel 0 next raises IRQ 0 (the
 * next period or terminal count), or 0 if it never will as programmed. A
 * time already past means pit_advance() has work to do now.
 */
uint64_t pit_next_deadline_ns(struct pit8254 *pit);

/* Deliver channel 0's events up to now_ns(): at most one IRQ 0 edge, the
 * rest counted as coalesced. */
void pit_advance(struct pit8254 *pit);

/* Inspection (counter and OUT computed at now_ns()). */
void pit_get_channel(struct pit8254 *pit, unsigned channel, struct pit_channel_state *ret_state);
void pit_get_stats(struct pit8254 *pit, struct pit_stats *ret_stats);
