/* SPDX-License-Identifier: MIT */
/*
 * The Xen PV guest ABI on top of the shadow engine (DESIGN.md: "the patched
 * OS" interface). A stock Linux built with CONFIG_XEN_PV runs its kernel at
 * CPL3 already, masks events in a shared page instead of RFLAGS.IF, reports
 * every page-table write, and makes hypercalls with `syscall`: exactly what
 * vmmd's shadow mode can give it (../shared/XENPV.md).
 *
 * The engine stays the trap-and-emulate machine (fills, protected page
 * tables, MMIO); this layer plugs its struct shadow_guest_ops into each
 * vCPU: hypercalls where the seed reflects through LSTAR, bounce frames to
 * the kernel's registered callbacks where it reflects through the IDT, and
 * Xen's policy for CPUID, MSRs and control registers.
 *
 * Files, one job each:
 *   domain.c      the per-VM and per-vCPU state, the ops table, stats
 *   hypercall.c   the dispatch table, multicall, counting
 *   hc_mmu.c      mmu_update, update_va_mapping, mmuext_op, page-table frames
 *   ptwr.c        the writable-page-tables assist (native PTE writes)
 *   hc_cpu.c      trap table, callbacks, stacks, segments, GDT, debug regs
 *   hc_info.c     xen_version, memory_op, console_io, physdev_op, vm_assist
 *   hc_sched.c    sched_op, vcpu_op, set_timer_op
 *   bounce.c      bounce frames, the kernel/user toggle, iret, exceptions
 *   events.c      2-level event channels, VIRQs, upcall delivery
 *   time.c        pvclock (vcpu_time_info), wallclock, timer deadlines
 *   console.c     the start_info console ring (hvc0)
 *   cpuid.c       the PV CPUID policy (also for the forced-emulation prefix)
 *   priv.c        privileged instructions: MSRs, CRs, cli/sti, iretq, ...
 *   notes.c, kernel_image.c, builder.c   the loader (start of day)
 *
 * Threads: one vCPU thread runs every hypercall; the worker's timer thread
 * and control loop raise events (xpv_raise_virq, xpv_console_input), which
 * touch only the shared pages with atomic operations and a port lookup.
 * Every value the guest gives is distrusted: counts are bounded, pointers
 * are read through the guest's own page tables, bad ones get an error code.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/xen/ops.h"
#include "abi/xen/xen.h"
#include "vmmd/shadow/engine.h"

#define XPV_PORTS            64     /* event channels a guest may hold (Linux uses < 20 with 1 vCPU) */
#define XPV_CONSOLE_PORT     1      /* pre-bound to the console ring (start_info.console.domU.evtchn) */
#define XPV_SUBOPS           32     /* sub-ops counted per hypercall; higher ones share the last bucket */
#define XPV_UNKNOWN_MAX      32     /* distinct unknown hypercalls/sub-ops remembered (first use) */
#define XPV_MULTICALL_MAX    4096   /* entries per multicall (Linux batches at most 32) */
#define XPV_BATCH_MAX        4096   /* entries per mmu_update / mmuext_op call */
#define XPV_VERSION          0x00040011u   /* "Xen 4.17" */

/* What the layer asks of the worker, from the vCPU thread. */
struct xpv_sink {
	void *ctx;
	/* Guest console output (console_io and the hvc0 ring). */
	void (*console)(void *ctx, const uint8_t *buf, size_t len);
	/* SCHEDOP_shutdown: reason XEN_SHUTDOWN_*; the VM ends. */
	void (*shutdown)(void *ctx, unsigned reason);
	/* The single-shot timer moved (deadline in guest system time, 0 = none). */
	void (*timer_changed)(void *ctx);
	/* First use of an unknown hypercall or sub-op ("memory_op/27"), for the log. */
	void (*unknown)(void *ctx, const char *what);
};

enum xpv_port_type { XPV_PORT_FREE, XPV_PORT_RESERVED, XPV_PORT_UNBOUND, XPV_PORT_VIRQ, XPV_PORT_IPI,
		     XPV_PORT_CONSOLE };

struct xpv_port {
	uint8_t type;    /* enum xpv_port_type */
	uint8_t virq;
};

struct xpv_unknown {
	unsigned hc, subop;   /* subop UINT32_MAX: the hypercall itself */
	uint64_t count;
};

/* stats.get "hypercalls" and "events" (API.md). */
struct xpv_stats {
	uint64_t hypercalls[XEN_HC_MAX + 1];          /* [XEN_HC_MAX]: numbers beyond */
	uint64_t subops[XEN_HC_MAX][XPV_SUBOPS];
	uint64_t multicall_entries;
	unsigned n_unknown;
	struct xpv_unknown unknown[XPV_UNKNOWN_MAX];
	/* events */
	uint64_t upcalls;                             /* event callbacks entered */
	uint64_t raised_virq[XEN_NR_VIRQS];
	uint64_t raised_console, raised_ipi;
	uint64_t blocks, polls;
	/* kernel/user and the page-table assist */
	uint64_t syscalls, irets, bounces, failsafe, ptwr, ptwr_refused, cpuid, msr;
};

struct xpv_domain {
	struct shadow_vm *svm;
	uint64_t nr_pages;            /* guest RAM pages (the shared_info frame is the one after them) */
	uint64_t shared_info_gpa;
	uint64_t console_gpa;         /* the hvc0 ring page */
	uint64_t m2p_va;              /* where the guest reads the machine-to-physical table */
	uint64_t m2p_entries;
	uint8_t *pt_level;            /* per frame: 0, or the page-table level (1..4) Linux uses it at */
	struct xpv_sink sink;

	pthread_mutex_t lock;         /* ports; stats.unknown */
	struct xpv_port ports[XPV_PORTS];
	uint32_t virq_port[XEN_NR_VIRQS];    /* atomic; 0 = unbound */
	uint64_t vcpu0_info_gpa;             /* atomic: where vCPU 0's vcpu_info is (events go there) */

	/* time (time.c): guest TSC = host TSC + tsc_offset */
	int64_t tsc_offset;
	uint64_t tsc_hz;
	uint64_t tsc0;                /* guest TSC at system time 0 */
	uint32_t tsc_mul;
	int8_t tsc_shift;
	bool tsc_stable;
	uint64_t wall0_ns;            /* UTC at system time 0 */

	struct xpv_stats stats;       /* counters: atomic */
};

struct xpv_trap {
	uint8_t flags;                /* XEN_TI_DPL, XEN_TI_IF */
	uint16_t cs;
	uint64_t address;             /* 0: none */
};

struct xpv_callback {
	uint16_t flags;               /* XEN_CALLBACKF_mask_events */
	uint64_t address;
};

/* What a hypercall leaves for the end of its trap (reset per hypercall). */
struct xpv_after {
	bool no_result;      /* iret: RAX and the whole frame come from the guest */
	bool halt;           /* SCHEDOP_block/poll: sleep until an event */
	bool end;            /* the VM ends: fail says why */
};

struct xpv_vcpu {
	struct xpv_domain *dom;
	struct shadow_vcpu *sv;
	unsigned id;
	bool kernel_mode;             /* Xen's TF_kernel_mode: which of the two tables is loaded */
	uint64_t kernel_cr3, user_cr3;   /* guest frames of the two L4s (MMUEXT_NEW_*BASEPTR); 0: none */
	uint64_t kernel_ss, kernel_sp;   /* stack_switch: where a bounce from user mode lands */
	struct xpv_trap trap[256];
	struct xpv_callback callback[XEN_CALLBACKTYPE_MAX];
	uint64_t vcpu_info_gpa;       /* shared_info's slot, or where register_vcpu_info moved it */
	uint64_t runstate_va;
	uint64_t gdt_frames[16];
	unsigned gdt_ents;
	uint64_t ldt_base;
	unsigned ldt_ents;
	unsigned iopl;
	uint64_t iobitmap_va;
	unsigned iobitmap_ports;
	uint16_t gs_sel_user;
	uint64_t debugreg[8];
	bool fpu_ts;
	uint64_t timer_deadline;      /* atomic: guest system time (ns), 0 = disarmed */
	struct xpv_after after;
	char fail[200];               /* why the VM ends (SHADOW_HOST_REFUSED) */
};

/* --- life cycle ---------------------------------------------------------------- */

struct xpv_domain_config {
	uint64_t nr_pages;            /* guest RAM pages; the shared_info frame follows them */
	uint64_t tsc_hz;              /* the vCPU's TSC rate (KVM_GET_TSC_KHZ) */
	int64_t tsc_offset;           /* guest TSC - host TSC */
	bool tsc_stable;              /* host TSC constant and non-stop */
	struct xpv_sink sink;
};

/* svm must have been built with window_pages = xpv_window_pages(nr_pages + 1)
 * and monitor slot MON_SLOT_XENPV: the M2P goes into the monitor's window. */
unsigned xpv_window_pages(uint64_t guest_pages);
int xpv_domain_init(struct xpv_domain *d, struct shadow_vm *svm, const struct xpv_domain_config *cfg);
/* The guest TSC, once the vCPU exists: rate, offset from the host's, stability. */
void xpv_domain_set_tsc(struct xpv_domain *d, uint64_t hz, int64_t offset, bool stable);
void xpv_domain_destroy(struct xpv_domain *d);

/* The boot vCPU's start-of-day state (XENPV.md 2.2), hooked into sv. */
struct xpv_entry {
	uint64_t rip, rsp, rsi;       /* startup_xen, the boot stack, start_info */
	uint64_t cr3;                 /* the bootstrap L4's frame address */
};
void xpv_vcpu_init(struct xpv_vcpu *v, struct xpv_domain *d, struct shadow_vcpu *sv, unsigned id,
		   const struct xpv_entry *e);

/* --- from the run loop ------------------------------------------------------------ */

/* Is an event deliverable (upcall pending and not masked)? Any thread. */
bool xpv_event_pending(struct xpv_vcpu *v);
/* Before resuming: enter the event callback if an event is deliverable.
 * True when the guest state changed (the guest is now in its callback);
 * false with v->fail set when the frame could not be written (the VM ends). */
bool xpv_deliver_events(struct xpv_vcpu *v, bool *ret_failed);
/* The single-shot timer: its deadline in host CLOCK_MONOTONIC ns (0 = none),
 * and what to do when it passes (raises VIRQ_TIMER). Any thread. */
uint64_t xpv_timer_deadline_host(struct xpv_vcpu *v);
void xpv_timer_fire(struct xpv_vcpu *v);

/* Raise a VIRQ (timer, debug) on vCPU 0. Any thread; the caller kicks the vCPU. */
void xpv_raise_virq(struct xpv_domain *d, unsigned virq);
/* Console input for hvc0: bytes accepted (the ring holds 1 KiB). Any thread; the caller kicks. */
size_t xpv_console_input(struct xpv_domain *d, const uint8_t *buf, size_t len);

/* Guest system time now (ns since boot), as the guest computes it. */
uint64_t xpv_now_ns(const struct xpv_domain *d);

/* The vCPU's vcpu_info (64 bytes in one page, checked at registration), or NULL. */
struct xen_vcpu_info *xpv_vcpu_info(struct xpv_vcpu *v);
struct xen_shared_info *xpv_shared_info(struct xpv_domain *d);

/* Snapshots for stats.get and vcpu.state (no JSON here). */
void xpv_get_stats(struct xpv_domain *d, struct xpv_stats *ret);
const char *xpv_hypercall_name(unsigned hc);
const char *xpv_subop_name(unsigned hc, unsigned subop);   /* NULL: not named */
