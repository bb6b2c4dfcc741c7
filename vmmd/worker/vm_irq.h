/* SPDX-License-Identifier: MIT */
/*
 * Interrupts into a VM, whatever its mode (kvmtool's kvm__irq_line): the
 * callers (the UART, irq.inject) say what to raise; these calls choose the
 * path. hw mode goes through KVM's in-kernel irqchip (PIC, IOAPIC, one
 * LAPIC per vCPU), the way real hardware would:
 *   a line    KVM_IRQ_LINE(_STATUS): GSI N on the PIC and IOAPIC pin N; the
 *             guest's own routing decides the vector
 *   a vector  KVM_SIGNAL_MSI: a fixed-delivery, edge MSI to the LAPIC of the
 *             vCPU (KVM_INTERRUPT is only for VMs without an in-kernel irqchip)
 *   an NMI    KVM_NMI on the vCPU (what QEMU's `nmi` does with an in-kernel
 *             irqchip): queued, taken when the vCPU next runs
 * Shadow mode has no in-kernel irqchip: lines go to vmmd's PIC model
 * (shadow_platform.h), vectors and the NMI are queued in the guest PCB and
 * reflected by the engine once the virtual IF allows (for the NMI too, a
 * documented simplification).
 */
#pragma once

#include <stdbool.h>

struct vm;
struct vcpu;

#define VM_IRQ_LINES        24     /* GSIs with a PIC and/or IOAPIC pin (hw mode) */
#define VM_IRQ_LINES_SHADOW 16     /* shadow mode: a PIC pair */
#define VM_IRQ_VECTOR_MIN   32     /* 0..31 are exceptions */
#define VM_IRQ_VECTOR_MAX   255

/* What an injection did, for the caller to report. */
struct vm_irq_result {
	const char *via;        /* "KVM_IRQ_LINE", "vmmd PIC", "KVM_SIGNAL_MSI", "virtual IDT", "KVM_NMI" */
	int status;             /* hw: KVM's answer (lines: > 0 latched, 0 coalesced, < 0 masked) */
	bool delivered;         /* a chip or LAPIC took it */
	bool pending;           /* queued for the vCPU, delivered when it next can */
};

/* The number of interrupt lines of the VM's mode. */
unsigned vm_irq_lines(const struct vm *vm);
/* Set line irq to level (devices: the UART's output). 0, -EINVAL for a line
 * the mode does not have, or -errno from KVM. ret may be NULL. */
int vm_irq_line(struct vm *vm, unsigned irq, int level, struct vm_irq_result *ret);
/* An edge on line irq: raise, then lower it (kvmtool's kvm__irq_trigger). */
int vm_irq_trigger(struct vm *vm, unsigned irq, struct vm_irq_result *ret);
/* A fixed interrupt with this vector to one vCPU. -EINVAL outside 32..255
 * or for a vCPU the VM does not have. */
int vm_irq_vector(struct vm *vm, unsigned vcpu, unsigned vector, struct vm_irq_result *ret);
/* An NMI to one vCPU. hw mode holds that vCPU still for the vCPU ioctl
 * (vm_hold_vcpu): -ESHUTDOWN when the VM is stopping, -ETIMEDOUT when it
 * did not park in time. */
int vm_irq_nmi(struct vm *vm, unsigned vcpu, struct vm_irq_result *ret);
