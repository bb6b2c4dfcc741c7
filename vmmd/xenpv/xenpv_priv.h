/* SPDX-License-Identifier: MIT */
/*
 * Internals of the Xen PV layer, shared by its files only (see xenpv.h for
 * which file does what).
 *
 * A hypercall handler gets the vCPU and the five argument registers and
 * returns what goes into RAX: 0 or a positive value, or a negative errno
 * the guest sees as -ERRNO (Xen's error numbers are Linux's). Guest
 * pointers are guest-virtual addresses in the current (kernel) tables and
 * are read and written only through xpv_copy_from/to_guest, which fail
 * with -EFAULT on anything the guest could not touch itself.
 */
#pragma once

#include <errno.h>

#include "vmmd/xenpv/xenpv.h"

#define XPV_PAGE 4096ULL

static inline struct xpv_vcpu *xpv_of(struct shadow_vcpu *sv) { return sv->guest; }

/* --- guest memory ------------------------------------------------------------------ */

/* Host pointer to [gpa, gpa + len) within one page of guest RAM or the
 * shared_info frame; NULL outside. */
void *xpv_gpa_ptr(struct xpv_domain *d, uint64_t gpa, size_t len);
/* Copy through the current tables, as a supervisor access. 0 or -EFAULT. */
int xpv_copy_from_guest(struct xpv_vcpu *v, uint64_t va, void *buf, size_t len);
int xpv_copy_to_guest(struct xpv_vcpu *v, uint64_t va, const void *buf, size_t len);

/* --- hypercalls (hypercall.c, one file per group) ---------------------------------------- */

typedef long (*xpv_hc_fn)(struct xpv_vcpu *v, const uint64_t a[5]);

/* Count sub-op `subop` of hypercall hc; `known` false counts it as unknown (first use: logged). */
void xpv_count_subop(struct xpv_vcpu *v, unsigned hc, unsigned subop, bool known);
/* Run one hypercall (from the syscall trap or a multicall entry). */
long xpv_hypercall_run(struct xpv_vcpu *v, unsigned hc, const uint64_t a[5], bool in_multicall);

long xpv_hc_mmu_update(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_update_va_mapping(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_mmuext_op(struct xpv_vcpu *v, const uint64_t a[5]);

long xpv_hc_set_trap_table(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_set_gdt(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_stack_switch(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_set_callbacks(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_fpu_taskswitch(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_set_debugreg(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_get_debugreg(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_update_descriptor(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_set_segment_base(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_callback_op(struct xpv_vcpu *v, const uint64_t a[5]);

long xpv_hc_xen_version(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_console_io(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_memory_op(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_physdev_op(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_vm_assist(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_grant_table_op(struct xpv_vcpu *v, const uint64_t a[5]);

long xpv_hc_sched_op(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_vcpu_op(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_set_timer_op(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_event_channel_op(struct xpv_vcpu *v, const uint64_t a[5]);
long xpv_hc_iret(struct xpv_vcpu *v, const uint64_t a[5]);


/* The engine hooks (struct shadow_guest_ops, domain.c). */
enum shadow_action xpv_on_syscall(struct shadow_vcpu *sv, const struct shadow_env *env);
enum shadow_action xpv_ptwr_fault(struct shadow_vcpu *sv, const struct shadow_env *env, uint64_t va, uint32_t error);

/* --- the guest's page tables (hc_mmu.c) -------------------------------------------------- */

/* Write one page-table entry on the guest's behalf: the RAM copy and every
 * shadow built from it; keeps the page-table frame marks (ptwr). */
int xpv_pte_write(struct xpv_vcpu *v, uint64_t gpa, uint64_t val);
/* Mark a frame tree as page tables at `level` (pin, bootstrap), or unmark. */
void xpv_pt_mark(struct xpv_domain *d, uint64_t gfn, unsigned level);
void xpv_pt_unmark(struct xpv_domain *d, uint64_t gfn);
/* Load the kernel or user table as the current one (after a base pointer change or a toggle). */
void xpv_load_tables(struct xpv_vcpu *v);

/* --- bounce frames, the toggle, exceptions (bounce.c) --------------------------------------------- */

/* Enter the kernel at `target` with a Xen bounce frame: from user mode on
 * kernel_sp after the toggle, from kernel mode on the current stack. ec:
 * the error code to push, or NULL; mask: set the event mask. 0, or -EFAULT
 * when the frame cannot be written (v->fail says so: the VM ends). */
int xpv_bounce(struct xpv_vcpu *v, uint64_t target, bool mask, const uint32_t *ec);
/* Deliver exception `vector` through the trap table (#PF: cr2 into vcpu_info). */
enum shadow_action xpv_exception(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector,
				 bool has_error, uint32_t error, uint64_t cr2);
/* A software interrupt (int n, int3) at regs.rip, next_rip after it: the trap gate's DPL decides. */
enum shadow_action xpv_soft_interrupt(struct xpv_vcpu *v, unsigned vector, uint64_t next_rip);
/* The user's syscall instruction: the syscall callback. */
enum shadow_action xpv_syscall_callback(struct xpv_vcpu *v);
/* End the VM: v->fail = message. Returns SHADOW_HOST_REFUSED. */
enum shadow_action xpv_fail(struct xpv_vcpu *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- events (events.c) ----------------------------------------------------------------------- */

/* Raise a port (Xen's evtchn_2l_set_pending): true if the vCPU should look. */
bool xpv_port_raise(struct xpv_domain *d, unsigned port);
/* The guest sent on a port (EVTCHNOP_send). */
void xpv_port_send(struct xpv_vcpu *v, unsigned port);
void xpv_ports_init(struct xpv_domain *d);

/* --- time (time.c), console (console.c), cpuid (cpuid.c), privileged (priv.c) ---------------------- */

void xpv_time_init(struct xpv_domain *d);
/* Write vcpu_time_info into v's vcpu_info (and shared_info's slot for vCPU 0). */
void xpv_time_publish(struct xpv_vcpu *v);
uint64_t xpv_guest_tsc(const struct xpv_domain *d);
void xpv_console_flush(struct xpv_domain *d);
void xpv_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
/* The policy on the host's values, for tests. */
void xpv_cpuid_policy(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
enum shadow_action xpv_privileged(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector,
				  uint32_t error);
