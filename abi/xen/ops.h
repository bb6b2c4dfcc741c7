/* SPDX-License-Identifier: MIT */
/*
 * Xen PV hypercall sub-operations and their argument structures (x86-64),
 * as Linux 6.1 passes them (see abi/xen/xen.h for the rest of the ABI).
 * Layouts are pinned against XENPV.md's Appendix A.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* --- hypercall table entries ----------------------------------------------------- */
struct xen_mmu_update {
	uint64_t ptr;     /* machine address of the entry; low 2 bits: XEN_MMU_* type */
	uint64_t val;
};

struct xen_mmuext_op {
	uint32_t cmd;
	uint32_t pad;
	uint64_t arg1;    /* mfn or linear address */
	uint64_t arg2;    /* nr_ents, vcpumask pointer or src_mfn */
};

struct xen_multicall_entry {
	uint64_t op;
	uint64_t result;
	uint64_t args[6];
};

/* set_trap_table: a list ending at address == 0. */
struct xen_trap_info {
	uint8_t vector;
	uint8_t flags;    /* bits 0-1: DPL; bit 2: clear the event mask on entry (an interrupt gate) */
	uint16_t cs;
	uint32_t pad;
	uint64_t address;
};
#define XEN_TI_DPL(flags)  ((flags) & 3)
#define XEN_TI_IF          (1u << 2)

/* --- callback_op ---------------------------------------------------------------------- */
#define XEN_CALLBACKOP_register   0
#define XEN_CALLBACKOP_unregister 1
#define XEN_CALLBACKTYPE_event    0
#define XEN_CALLBACKTYPE_failsafe 1
#define XEN_CALLBACKTYPE_syscall  2
#define XEN_CALLBACKTYPE_nmi      4
#define XEN_CALLBACKTYPE_sysenter 5
#define XEN_CALLBACKTYPE_syscall32 7
#define XEN_CALLBACKTYPE_MAX      8
#define XEN_CALLBACKF_mask_events (1u << 0)

struct xen_callback_register {
	uint16_t type;
	uint16_t flags;
	uint32_t pad;
	uint64_t address;
};

/* --- xen_version --------------------------------------------------------------------- */
#define XEN_XENVER_version             0
#define XEN_XENVER_extraversion        1
#define XEN_XENVER_compile_info        2
#define XEN_XENVER_capabilities        3
#define XEN_XENVER_changeset           4
#define XEN_XENVER_platform_parameters 5
#define XEN_XENVER_get_features        6
#define XEN_XENVER_pagesize            7
#define XEN_XENVER_guest_handle        8
#define XEN_XENVER_commandline         9
#define XEN_XENVER_build_id           10
#define XEN_XENVER_MAX                11

#define XEN_FEAT_writable_page_tables     0
#define XEN_FEAT_pae_pgdir_above_4gb      4
#define XEN_FEAT_mmu_pt_update_preserve_ad 5
#define XEN_FEAT_highmem_assist           6
#define XEN_FEAT_gnttab_map_avail_bits    7

struct xen_feature_info {
	uint32_t submap_idx;
	uint32_t submap;
};

/* --- console_io ------------------------------------------------------------------------- */
#define XEN_CONSOLEIO_write 0
#define XEN_CONSOLEIO_read  1

/* --- memory_op ----------------------------------------------------------------------------- */
#define XEN_XENMEM_increase_reservation  0
#define XEN_XENMEM_decrease_reservation  1
#define XEN_XENMEM_maximum_ram_page      2
#define XEN_XENMEM_current_reservation   3
#define XEN_XENMEM_maximum_reservation   4
#define XEN_XENMEM_populate_physmap      6
#define XEN_XENMEM_add_to_physmap        7
#define XEN_XENMEM_memory_map            9
#define XEN_XENMEM_exchange             11
#define XEN_XENMEM_machphys_mapping     12
#define XEN_XENMEM_acquire_resource     28
#define XEN_XENMEM_MAX                  32

struct xen_machphys_mapping {
	uint64_t v_start, v_end;
	uint64_t max_mfn;
};

struct xen_memory_map {
	uint32_t nr_entries;
	uint32_t pad;
	uint64_t buffer;     /* guest pointer to e820 entries */
};

struct xen_e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

/* --- vcpu_op ---------------------------------------------------------------------------------- */
#define XEN_VCPUOP_initialise                      0
#define XEN_VCPUOP_up                              1
#define XEN_VCPUOP_down                            2
#define XEN_VCPUOP_is_up                           3
#define XEN_VCPUOP_get_runstate_info               4
#define XEN_VCPUOP_register_runstate_memory_area   5
#define XEN_VCPUOP_set_periodic_timer              6
#define XEN_VCPUOP_stop_periodic_timer             7
#define XEN_VCPUOP_set_singleshot_timer            8
#define XEN_VCPUOP_stop_singleshot_timer           9
#define XEN_VCPUOP_register_vcpu_info             10
#define XEN_VCPUOP_send_nmi                       11
#define XEN_VCPUOP_get_physid                     12
#define XEN_VCPUOP_register_vcpu_time_memory_area 13
#define XEN_VCPUOP_MAX                            14

#define XEN_VCPU_SSHOTTMR_future (1u << 0)

struct xen_vcpu_register_vcpu_info {
	uint64_t mfn;
	uint32_t offset;
	uint32_t rsvd;
};

struct xen_vcpu_set_singleshot_timer {
	uint64_t timeout_abs_ns;
	uint32_t flags;
	uint32_t pad;
};

#define XEN_RUNSTATE_running  0
struct xen_vcpu_runstate_info {
	int32_t state;
	uint32_t pad;
	uint64_t state_entry_time;
	uint64_t time[4];
};

/* --- sched_op ------------------------------------------------------------------------------------ */
#define XEN_SCHEDOP_yield         0
#define XEN_SCHEDOP_block         1
#define XEN_SCHEDOP_shutdown      2
#define XEN_SCHEDOP_poll          3
#define XEN_SCHEDOP_remote_shutdown 4
#define XEN_SCHEDOP_shutdown_code 5
#define XEN_SCHEDOP_watchdog      6
#define XEN_SCHEDOP_MAX           8

#define XEN_SHUTDOWN_poweroff 0
#define XEN_SHUTDOWN_reboot   1
#define XEN_SHUTDOWN_suspend  2
#define XEN_SHUTDOWN_crash    3
#define XEN_SHUTDOWN_watchdog 4

struct xen_sched_poll {
	uint64_t ports;      /* guest pointer to u32 ports */
	uint32_t nr_ports;
	uint32_t pad;
	uint64_t timeout;
};

/* --- event_channel_op ------------------------------------------------------------------------------ */
#define XEN_EVTCHNOP_bind_interdomain 0
#define XEN_EVTCHNOP_bind_virq        1
#define XEN_EVTCHNOP_bind_pirq        2
#define XEN_EVTCHNOP_close            3
#define XEN_EVTCHNOP_send             4
#define XEN_EVTCHNOP_status           5
#define XEN_EVTCHNOP_alloc_unbound    6
#define XEN_EVTCHNOP_bind_ipi         7
#define XEN_EVTCHNOP_bind_vcpu        8
#define XEN_EVTCHNOP_unmask           9
#define XEN_EVTCHNOP_reset           10
#define XEN_EVTCHNOP_init_control    11
#define XEN_EVTCHNOP_expand_array    12
#define XEN_EVTCHNOP_set_priority    13
#define XEN_EVTCHNOP_MAX             14

#define XEN_EVTCHNSTAT_closed       0
#define XEN_EVTCHNSTAT_unbound      1
#define XEN_EVTCHNSTAT_interdomain  2
#define XEN_EVTCHNSTAT_virq         4
#define XEN_EVTCHNSTAT_ipi          5

struct xen_evtchn_bind_virq {
	uint32_t virq, vcpu;
	uint32_t port;      /* OUT */
};

struct xen_evtchn_bind_ipi {
	uint32_t vcpu;
	uint32_t port;      /* OUT */
};

struct xen_evtchn_alloc_unbound {
	uint16_t dom, remote_dom;
	uint32_t port;      /* OUT */
};

struct xen_evtchn_status {
	uint16_t dom;
	uint16_t pad;
	uint32_t port;
	uint32_t status;    /* OUT */
	uint32_t vcpu;      /* OUT */
	union {
		struct { uint16_t dom; } unbound;
		struct { uint16_t dom; uint16_t pad; uint32_t port; } interdomain;
		uint32_t pirq;
		uint32_t virq;
	} u;
};

struct xen_evtchn_bind_vcpu {
	uint32_t port, vcpu;
};

/* --- physdev_op -------------------------------------------------------------------------------------- */
#define XEN_PHYSDEVOP_irq_status_query 5
#define XEN_PHYSDEVOP_set_iopl         6
#define XEN_PHYSDEVOP_set_iobitmap     7
#define XEN_PHYSDEVOP_pirq_eoi_gmfn_v2 28
#define XEN_PHYSDEVOP_MAX              32

struct xen_physdev_set_iobitmap {
	uint64_t bitmap;    /* guest pointer */
	uint32_t nr_ports;
	uint32_t pad;
};

/* --- set_segment_base ------------------------------------------------------------------------------------ */
#define XEN_SEGBASE_FS          0
#define XEN_SEGBASE_GS_USER     1
#define XEN_SEGBASE_GS_KERNEL   2
#define XEN_SEGBASE_GS_USER_SEL 3

/* --- Appendix A of XENPV.md, checked ----------------------------------------------------------------------- */
_Static_assert(sizeof(struct xen_mmu_update) == 16, "mmu_update size");
_Static_assert(sizeof(struct xen_mmuext_op) == 24, "mmuext_op size");
_Static_assert(offsetof(struct xen_mmuext_op, arg1) == 8 && offsetof(struct xen_mmuext_op, arg2) == 16, "mmuext_op args");
_Static_assert(sizeof(struct xen_multicall_entry) == 64, "multicall_entry size");
_Static_assert(offsetof(struct xen_multicall_entry, args) == 16, "multicall_entry.args");
_Static_assert(sizeof(struct xen_trap_info) == 16, "trap_info size");
_Static_assert(offsetof(struct xen_trap_info, cs) == 2 && offsetof(struct xen_trap_info, address) == 8, "trap_info");
_Static_assert(sizeof(struct xen_callback_register) == 16, "callback_register size");
_Static_assert(offsetof(struct xen_callback_register, flags) == 2, "callback_register.flags");
_Static_assert(offsetof(struct xen_callback_register, address) == 8, "callback_register.address");
_Static_assert(sizeof(struct xen_vcpu_register_vcpu_info) == 16, "register_vcpu_info size");
_Static_assert(offsetof(struct xen_vcpu_register_vcpu_info, offset) == 8, "register_vcpu_info.offset");
_Static_assert(sizeof(struct xen_vcpu_set_singleshot_timer) == 16, "set_singleshot_timer size");
_Static_assert(offsetof(struct xen_vcpu_set_singleshot_timer, flags) == 8, "set_singleshot_timer.flags");
_Static_assert(sizeof(struct xen_vcpu_runstate_info) == 48, "vcpu_runstate_info size");
_Static_assert(offsetof(struct xen_vcpu_runstate_info, state_entry_time) == 8, "runstate.state_entry_time");
_Static_assert(offsetof(struct xen_vcpu_runstate_info, time) == 16, "runstate.time");
_Static_assert(sizeof(struct xen_feature_info) == 8, "xen_feature_info size");
_Static_assert(sizeof(struct xen_machphys_mapping) == 24, "machphys_mapping size");
_Static_assert(sizeof(struct xen_memory_map) == 16, "memory_map size");
_Static_assert(offsetof(struct xen_memory_map, buffer) == 8, "memory_map.buffer");
_Static_assert(sizeof(struct xen_e820_entry) == 20, "e820 entry size");
_Static_assert(sizeof(struct xen_sched_poll) == 24, "sched_poll size");
_Static_assert(offsetof(struct xen_sched_poll, nr_ports) == 8 && offsetof(struct xen_sched_poll, timeout) == 16,
	       "sched_poll");
_Static_assert(sizeof(struct xen_physdev_set_iobitmap) == 16, "physdev_set_iobitmap size");
_Static_assert(offsetof(struct xen_physdev_set_iobitmap, nr_ports) == 8, "physdev_set_iobitmap.nr_ports");
_Static_assert(sizeof(struct xen_evtchn_status) == 24, "evtchn_status size");
_Static_assert(offsetof(struct xen_evtchn_status, status) == 8 && offsetof(struct xen_evtchn_status, u) == 16,
	       "evtchn_status");
