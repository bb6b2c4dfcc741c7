/* SPDX-License-Identifier: MIT */
/*
 * One vCPU: its KVM fd, the shared kvm_run page, and the thread that runs
 * KVM_RUN and dispatches each exit synchronously (DESIGN.md process model).
 * Kick = set kvm_run->immediate_exit and signal the thread, so a vCPU that
 * is about to enter the guest returns at once instead of missing the kick.
 */
#pragma once

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmmd/worker/emulation_fallback.h"

struct vm;

enum vcpu_stat {
	VCPU_STAT_IO, VCPU_STAT_MMIO, VCPU_STAT_HLT, VCPU_STAT_SHUTDOWN,
	VCPU_STAT_INTR, VCPU_STAT_IRQ_WINDOW, VCPU_STAT_EMULATION_FAILURE,
	VCPU_STAT_FAIL_ENTRY, VCPU_STAT_SYSTEM_EVENT, VCPU_STAT_OTHER, VCPU_STAT_POOL_ZAP,
	VCPU_STAT_MAX
};

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	/* Under vm->lock: holds on this vCPU alone (vm_hold_vcpu), and whether
	 * its thread is parked in vcpu_wait_runnable (for a pause or a hold). */
	unsigned hold;
	bool parked;
	uint64_t stats[VCPU_STAT_MAX];   /* atomic counters */
	uint64_t emulated[EMULATED_MAX]; /* atomic: instructions vmmd finished for KVM */
	/* shadow mode (shadow_run.c) */
	struct shadow_vcpu *shadow;
	int kick_fd;                     /* eventfd: wakes an emulated hlt */
	bool shadow_state_fresh;
	bool cpuid_faulting, umip;
};

#define VCPU_KICK_SIGNAL SIGUSR1

const char *vcpu_stat_name(enum vcpu_stat s);

/* Create the KVM vCPU and map its run page. */
int vcpu_init(struct vcpu *v, struct vm *vm, unsigned index);
/* KVM's supported CPUID (what every vCPU is given): *ret to free(). 0 or -errno. */
int vcpu_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **ret);
/* How the boot vCPU starts: vmmd's own guests and bzImage in 64-bit mode
 * with paging on; PVH in 32-bit protected mode with paging off. The
 * selectors index a GDT the loader wrote at gdt_base (flat segments). */
struct vcpu_entry {
	enum { VCPU_ENTRY_LONG, VCPU_ENTRY_PROTECTED32 } mode;
	uint64_t rip, rsp, rdi, rsi, rbx;
	uint16_t cs, ds;
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint64_t cr3;        /* long mode only */
};

int vcpu_set_entry(struct vcpu *v, const struct vcpu_entry *e);
/* The vCPU's state through KVM, for inspection; the vCPU must be out of
 * KVM_RUN (vm_hold). In shadow mode these are the real CPU's, not the
 * guest's (shadow_inspect.h has the guest's view). 0 or -errno. */
int vcpu_get_regs(struct vcpu *v, struct kvm_regs *ret);
int vcpu_set_regs(struct vcpu *v, const struct kvm_regs *regs);
int vcpu_get_sregs(struct vcpu *v, struct kvm_sregs *ret);
int vcpu_get_mp_state(struct vcpu *v, uint32_t *ret);
/* The CPUID table the vCPU was given (KVM_GET_CPUID2); free() it. */
int vcpu_get_cpuid(struct vcpu *v, struct kvm_cpuid2 **ret);
/* Queue an NMI (hw mode, KVM_NMI); the vCPU must be out of KVM_RUN. */
int vcpu_nmi(struct vcpu *v);
int vcpu_start_thread(struct vcpu *v);
void vcpu_kick(struct vcpu *v);
/* For the shadow loop: park while paused or held (false once stopping), count, handle a non-trap exit. */
bool vcpu_wait_runnable(struct vcpu *v);
void vcpu_count(struct vcpu *v, enum vcpu_stat s);
bool vcpu_handle_exit(struct vcpu *v);
void vcpu_cleanup(struct vcpu *v);
/* Install the (empty) kick signal handler once per process. */
int vcpu_signal_setup(void);
