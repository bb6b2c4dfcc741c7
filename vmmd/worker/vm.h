/* SPDX-License-Identifier: MIT */
/*
 * A VM inside its worker, in either mode: the KVM VM fd, guest memory, the
 * device bus with its models, one thread per vCPU running KVM_RUN, and in
 * shadow mode the engine and its interrupt platform.
 *
 * Run states and who moves them: the control loop asks for RUNNING, PAUSED
 * or STOPPING; vCPU threads park while PAUSED and leave on STOPPING; a vCPU
 * that sees the guest end (debug-exit, triple fault, emulation failure)
 * records the exit once and moves the VM to STOPPING itself, then wakes the
 * control loop through `wake_fd` (an eventfd) so it can report and exit.
 */
#pragma once

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/vm_config.h"
#include "config/vm_files.h"
#include "devices/bus.h"
#include "devices/cmos_rtc.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/uart16550.h"
#include "devices/vmm_info.h"
#include "vmmd/common/console_ring.h"
#include "vmmd/common/worker_protocol.h"
#include "vmmd/worker/console_log.h"
#include "vmmd/worker/guest_memory.h"
#include "vmmd/worker/linux_boot.h"
#include "vmmd/worker/shadow_pool_slots.h"
#include "vmmd/worker/vcpu.h"
#include "vmmd/worker/vm_error.h"
#include "vmmd/worker/virtio_devices.h"

enum vm_run_state { VM_RUN_RUNNING, VM_RUN_PAUSED, VM_RUN_STOPPING };

struct vm_exit {
	enum vm_exit_reason reason;
	int code;          /* debug-exit: (value << 1) | 1 */
	uint32_t value;    /* debug-exit: the value written */
	int vcpu;          /* which vCPU saw it, -1 if none */
	char message[256];
};

struct shadow_vm;
struct shadow_platform;
struct xenpv_guest;

struct vm {
	const struct vm_config *config;
	/* The descriptors the VM's files came as (worker.boot's files, by slot;
	 * -1 none): the worker opens no path of the user's. The loaders read
	 * the kernel and initrd and close them; the disks and the console log
	 * are taken by their devices. */
	int files[VM_FILE_SLOTS];
	int kvm_fd;
	int vm_fd;
	int run_mmap_size;
	struct guest_memory mem;
	struct bus *bus;
	struct uart16550 *uart;
	struct debug_exit debug_exit;
	struct i8042 kbc;       /* reset through the keyboard controller */
	struct cmos_rtc rtc;    /* wall-clock time at boot */
	struct vmm_info info_page;
	struct console_ring console;
	struct console_log log;          /* console.log, fed from the ring by its own thread */
	pthread_mutex_t console_lock;   /* one writer of the ring at a time */

	unsigned n_vcpus;
	struct vcpu *vcpus;

	pthread_mutex_t lock;   /* guards run_state, parked, exit */
	pthread_cond_t cond;
	enum vm_run_state run_state;
	unsigned parked;
	struct vm_exit exit;
	int wake_fd;            /* eventfd: exit recorded or console output */
	bool console_dirty;     /* atomic: output since the loop last looked */
	/* shadow mode: machine memory (guest frames + monitor + pool) and the engine */
	struct shadow_vm *shadow;
	struct shadow_platform *platform;   /* userspace PIC + PIT (shadow_platform.h) */
	struct xenpv_guest *xenpv;          /* a Xen PV guest in shadow mode (xenpv_guest.h), else NULL */
	uint8_t *machine_host;
	uint64_t machine_size;
	uint8_t *guest_view;    /* scattered physmap: guest-physical view of machine memory */
	struct pool_slots pool_slots;   /* the shadow pool's KVM slots (shadow_pool_slots.h) */
	enum vm_boot boot;      /* resolved: never VM_BOOT_AUTO once built */
	char *boot_cmdline;     /* what the guest got: config cmdline plus vmmd's words (Linux) */
	enum vm_host_profile host_profile;   /* resolved: CPUID (every VM), command line (Linux) */
	struct linux_boot_layout linux_layout;   /* where the kernel and initrd went (Linux) */
	struct virtio_devices virtio;
	size_t n_virtio;
	char *virtio_cmdline[VM_DEVICES_MAX];   /* "virtio_mmio.device=..." per device (linux_boot.h) */
	uint64_t irqs_injected[3];  /* atomic: irq.inject by kind (inspect.h INSPECT_IRQ_*) */
	int tdp_levels;         /* KVM's nested tables (EPT/NPT): their levels, 0 without */
	const char *tdp_via;    /* "ept" or "npt" when tdp_levels > 0 */
};

/* Guest console output (UART or virtio console): the ring, the log file, a wake-up. */
void vm_console_output(struct vm *vm, const uint8_t *buf, size_t len);
/* How the kernel was booted, for vm.info "boot": loader, command line, placements. */
struct json_object *vm_boot_json(const struct vm *vm);

/* The console's files: the ring at path keeps size bytes (console_ring.h);
 * `resume` appends to the one there (a restart after a guest reset); the
 * log is capped at log_max_bytes (0: no cap, console_log.h). */
struct vm_console_params {
	const char *path;
	size_t size;
	bool resume;
	uint64_t log_max_bytes;
};

/* Build everything and load the kernel; does not start vCPUs. files (VM_FILE_SLOTS
 * descriptors by slot, -1 for none) are taken over, each left -1, also on failure.
 * On failure err says what failed: its kind for the client's error class, its why
 * for people (vm_error.h). */
int vm_create(const struct vm_config *config, int *files, const struct vm_console_params *console,
	      struct vm **ret, struct vm_error *err);
int vm_start(struct vm *vm);
/* Park every vCPU (waits until they are parked, bounded). Idempotent. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
/*
 * vCPUs held still for a look or a vCPU ioctl (KVM answers a vCPU's
 * ioctls only between its KVM_RUNs). Either every vCPU (vm_hold: paused
 * by us and resumed by vm_release, or already paused by the user and left
 * paused), or one (vm_hold_vcpu: only that vCPU is kicked and parks, the
 * others run on: what reading one vCPU's registers or paging needs).
 */
struct vm_hold {
	bool resume;     /* vm_hold paused a running VM: vm_release resumes it */
	bool held;       /* vm_hold_vcpu holds vcpu: vm_release lets it go */
	int vcpu;        /* -1: every vCPU */
	bool paused;     /* the VM was paused by the user when held */
};
/* Park every vCPU unless already parked. -ESHUTDOWN when the VM is stopping,
 * -ETIMEDOUT when the vCPUs did not park in time (the VM is left as it was). */
int vm_hold(struct vm *vm, struct vm_hold *h);
/* Park vCPU i alone (i < n_vcpus); the same errors. Holds nest and mix with
 * pause and resume: the vCPU runs again once nothing holds or pauses it. */
int vm_hold_vcpu(struct vm *vm, unsigned i, struct vm_hold *h);
void vm_release(struct vm *vm, struct vm_hold *h);
/* Record an exit (first one wins) and make every vCPU leave. Safe from any thread. */
void vm_request_exit(struct vm *vm, const struct vm_exit *exit);
/* Join the vCPU threads (after an exit was requested) and free everything. */
void vm_destroy(struct vm *vm);
/* Snapshot of the recorded exit; returns false while none. */
bool vm_get_exit(struct vm *vm, struct vm_exit *ret);
