/* SPDX-License-Identifier: MIT */
/*
 * The interrupt platform of a shadow-mode VM. KVM's in-kernel PIC and PIT
 * deliver through the real IDT, which belongs to the monitor here, so vmmd
 * models them in userspace (devices/pic8259, devices/pit8254): devices raise
 * PIC lines, the PIC's output kicks the vCPU, and the shadow loop reflects
 * the acknowledged vector into the guest's virtual IDT when its virtual IF
 * allows (shadow_run.c). A timer thread sleeps until the PIT's next deadline
 * and advances it; a guest reprogramming the PIT wakes it to re-arm.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>

struct vm;
struct pic8259;
struct pit8254;

struct shadow_platform {
	struct pic8259 *pic;
	struct pit8254 *pit;
	pthread_t timer;
	bool timer_started;
	int rearm_fd;           /* eventfd: the PIT was programmed, or quit */
	bool quit;              /* atomic */
};

/* Create the models and register them on the VM's bus. */
int shadow_platform_init(struct vm *vm, const char **why);
int shadow_platform_start(struct vm *vm);
/* Stop the timer thread (before the vCPU threads are joined). */
void shadow_platform_stop(struct vm *vm);
void shadow_platform_destroy(struct vm *vm);
/* Raise/lower an ISA line (irq.inject, the UART). */
void shadow_platform_set_irq(struct vm *vm, unsigned line, int level);
/* The vector the PIC would deliver now, acknowledged (INTA), or -1. */
int shadow_platform_take_vector(struct vm *vm);
bool shadow_platform_pending(struct vm *vm);
