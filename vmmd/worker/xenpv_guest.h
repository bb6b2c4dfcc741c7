/* SPDX-License-Identifier: MIT */
/*
 * A Xen PV guest inside its worker (docs/xenpv.md): the glue between the
 * PV layer (vmmd/xenpv, which knows the ABI) and the worker (KVM, threads,
 * the console, the VM's exit). Two files:
 *
 *   xenpv_boot.c   which kernels are PV (boot "auto" in shadow mode), and
 *                  the start of day: the ELF out of a bzImage, the notes,
 *                  segments, initrd, start_info and bootstrap tables
 *   xenpv_guest.c  at run time: the timer thread behind VIRQ_TIMER, the
 *                  console (hvc0 and console_io into the VM's console,
 *                  input from vm.console.write), shutdown into the VM's
 *                  exit reasons, and what stats.get and vcpu.state show
 */
#pragma once

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmmd/worker/vm_error.h"
#include "vmmd/xenpv/builder.h"
#include "vmmd/xenpv/xenpv.h"

struct vm;
struct vcpu;
struct pit8254;

#define XENPV_POOL_PAGES 8192          /* 32 MiB of shadow tables: Linux keeps many address spaces */
#define XENPV_PANIC_MAX  200

struct xenpv_guest {
	struct xpv_domain dom;
	struct xpv_vcpu vcpu0;
	struct xpv_layout layout;
	struct xpv_entry entry;
	/* the kernel's ELF between resolve and load (owned: unpacked from a bzImage) */
	const uint8_t *elf;
	size_t elf_size;
	bool elf_owned;
	struct pit8254 *pit;          /* the PC timer Linux calibrates its CPU clock against (AMD: no CPUID leaf) */
	/* the timer thread */
	pthread_t timer;
	bool timer_started;
	int rearm_fd;
	bool quit;                    /* atomic */
	/* the last "Kernel panic - not syncing: ..." the console carried */
	char panic[XENPV_PANIC_MAX];
	char line[XENPV_PANIC_MAX];
	size_t line_len;
};

/* Shadow mode: is this kernel image a Xen PV kernel (boot "auto"), or what
 * does the user need to hear? Sets vm->boot (VM_BOOT_XENPV or VM_BOOT_VMMD)
 * and, for PV, keeps the ELF for xenpv_boot_load. 0, or -errno with *why
 * (a Linux kernel without the PV notes, a payload vmmd cannot unpack). */
int xenpv_boot_resolve(struct vm *vm, const uint8_t *image, size_t size, const char **why);
/* After shadow memory exists: load the kernel and build the start of day;
 * a failure names its kind (kernel, initrd, memory: vm_error.h). */
int xenpv_boot_load(struct vm *vm, struct vm_error *err);

/* The devices a PV kernel still touches on the bus: the 8254 (tsc.c's
 * PIT calibration of cpu_khz; without a PIT it spins 50,000 reads). */
int xenpv_guest_init_devices(struct vm *vm, const char **why);
/* What the PV layer may ask of this VM (console, shutdown, timer, log). */
void xenpv_guest_sink(struct vm *vm, struct xpv_sink *ret);
/* The vCPU's PV state (after shadow_run_setup_vcpu made its KVM state). */
int xenpv_guest_setup_vcpu(struct vcpu *v);
int xenpv_guest_start(struct vm *vm);
void xenpv_guest_stop(struct vm *vm);
void xenpv_guest_destroy(struct vm *vm);

/* vm.console.write: hvc0 input. Bytes accepted. */
size_t xenpv_guest_console_input(struct vm *vm, const uint8_t *buf, size_t len);

/* The shadow loop's questions. */
bool xenpv_guest_pending(struct vcpu *v);
/* Deliver an event if one is due: true when the guest state changed; *ret_failed: the VM ends. */
bool xenpv_guest_deliver(struct vcpu *v, bool *ret_failed);

/* stats.get "hypercalls" and "events"; vcpu.state's "pv". */
void xenpv_guest_stats(struct vm *vm, struct json_object *o);
struct json_object *xenpv_guest_vcpu_json(struct vm *vm, unsigned vcpu);
