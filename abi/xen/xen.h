/* SPDX-License-Identifier: MIT */
/*
 * The Xen PV guest ABI (x86-64) that vmmd implements for a stock Linux
 * kernel in shadow mode: hypercall numbers, start-of-day structures and the
 * shared pages. Written for vmmd from the public interface as Linux 6.1
 * uses it (include/xen/interface/) and ../shared/XENPV.md; every layout is
 * pinned by a _Static_assert against XENPV.md's Appendix A, because the
 * guest reads these bytes and a silent shift would be a wrong boot, not a
 * compile error.
 *
 * Hypercall argument structures are in abi/xen/ops.h.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* --- hypercall numbers (xen.h) -------------------------------------------- */
#define XEN_HC_set_trap_table        0
#define XEN_HC_mmu_update            1
#define XEN_HC_set_gdt               2
#define XEN_HC_stack_switch          3
#define XEN_HC_set_callbacks         4
#define XEN_HC_fpu_taskswitch        5
#define XEN_HC_sched_op_compat       6
#define XEN_HC_platform_op           7
#define XEN_HC_set_debugreg          8
#define XEN_HC_get_debugreg          9
#define XEN_HC_update_descriptor    10
#define XEN_HC_memory_op            12
#define XEN_HC_multicall            13
#define XEN_HC_update_va_mapping    14
#define XEN_HC_set_timer_op         15
#define XEN_HC_event_channel_op_compat 16
#define XEN_HC_xen_version          17
#define XEN_HC_console_io           18
#define XEN_HC_physdev_op_compat    19
#define XEN_HC_grant_table_op       20
#define XEN_HC_vm_assist            21
#define XEN_HC_update_va_mapping_otherdomain 22
#define XEN_HC_iret                 23
#define XEN_HC_vcpu_op              24
#define XEN_HC_set_segment_base     25
#define XEN_HC_mmuext_op            26
#define XEN_HC_xsm_op               27
#define XEN_HC_nmi_op               28
#define XEN_HC_sched_op             29
#define XEN_HC_callback_op          30
#define XEN_HC_xenoprof_op          31
#define XEN_HC_event_channel_op     32
#define XEN_HC_physdev_op           33
#define XEN_HC_hvm_op               34
#define XEN_HC_sysctl               35
#define XEN_HC_domctl               36
#define XEN_HC_kexec_op             37
#define XEN_HC_tmem_op              38
#define XEN_HC_xenpmu_op            40
#define XEN_HC_dm_op                41
#define XEN_HC_MAX                  64   /* numbers at or above: -ENOSYS, counted as one bucket */

/* Xen's errno values are Linux's; the guest sees them negated in RAX. */

/* --- virtual IRQs -------------------------------------------------------------- */
#define XEN_VIRQ_TIMER      0
#define XEN_VIRQ_DEBUG      1
#define XEN_VIRQ_CONSOLE    2
#define XEN_NR_VIRQS       24

/* --- mmu_update / mmuext_op / update_va_mapping -------------------------------- */
#define XEN_MMU_NORMAL_PT_UPDATE       0
#define XEN_MMU_MACHPHYS_UPDATE        1
#define XEN_MMU_PT_UPDATE_PRESERVE_AD  2
#define XEN_MMU_PT_UPDATE_NO_TRANSLATE 3

#define XEN_MMUEXT_PIN_L1_TABLE      0
#define XEN_MMUEXT_PIN_L2_TABLE      1
#define XEN_MMUEXT_PIN_L3_TABLE      2
#define XEN_MMUEXT_PIN_L4_TABLE      3
#define XEN_MMUEXT_UNPIN_TABLE       4
#define XEN_MMUEXT_NEW_BASEPTR       5
#define XEN_MMUEXT_TLB_FLUSH_LOCAL   6
#define XEN_MMUEXT_INVLPG_LOCAL      7
#define XEN_MMUEXT_TLB_FLUSH_MULTI   8
#define XEN_MMUEXT_INVLPG_MULTI      9
#define XEN_MMUEXT_TLB_FLUSH_ALL    10
#define XEN_MMUEXT_INVLPG_ALL       11
#define XEN_MMUEXT_FLUSH_CACHE      12
#define XEN_MMUEXT_SET_LDT          13
#define XEN_MMUEXT_NEW_USER_BASEPTR 15
#define XEN_MMUEXT_CLEAR_PAGE       16
#define XEN_MMUEXT_COPY_PAGE        17
#define XEN_MMUEXT_FLUSH_CACHE_GLOBAL 18
#define XEN_MMUEXT_MARK_SUPER       19
#define XEN_MMUEXT_UNMARK_SUPER     20
#define XEN_MMUEXT_MAX              21

#define XEN_UVMF_NONE           0
#define XEN_UVMF_TLB_FLUSH      1
#define XEN_UVMF_INVLPG         2
#define XEN_UVMF_FLUSHTYPE_MASK 3
#define XEN_UVMF_ALL            4

#define XEN_VMASST_CMD_enable                0
#define XEN_VMASST_CMD_disable               1
#define XEN_VMASST_TYPE_4gb_segments         0
#define XEN_VMASST_TYPE_writable_pagetables  2
#define XEN_VMASST_TYPE_pae_extended_cr3     3
#define XEN_VMASST_TYPE_runstate_update_flag 5

#define XEN_DOMID_SELF 0x7ff0u

/* --- start_info ---------------------------------------------------------------- */
#define XEN_START_INFO_MAGIC "xen-3.0-x86_64"
#define XEN_MAX_GUEST_CMDLINE 1024
#define XEN_SIF_PRIVILEGED     (1u << 0)
#define XEN_SIF_INITDOMAIN     (1u << 1)
#define XEN_SIF_MOD_START_PFN  (1u << 3)

struct xen_start_info {
	char magic[32];
	uint64_t nr_pages;
	uint64_t shared_info;        /* machine address of shared_info */
	uint32_t flags;
	uint32_t pad0;
	uint64_t store_mfn;
	uint32_t store_evtchn;
	uint32_t pad1;
	union {
		struct {
			uint64_t mfn;
			uint32_t evtchn;
			uint32_t pad;
		} domU;
		struct {
			uint32_t info_off, info_size;
		} dom0;
	} console;
	uint64_t pt_base;            /* virtual address of the bootstrap L4 */
	uint64_t nr_pt_frames;
	uint64_t mfn_list;           /* virtual address of the p2m list */
	uint64_t mod_start;          /* initrd: pfn with SIF_MOD_START_PFN */
	uint64_t mod_len;
	char cmd_line[XEN_MAX_GUEST_CMDLINE];
	uint64_t first_p2m_pfn;
	uint64_t nr_p2m_frames;
};

/* --- shared_info and vcpu_info -------------------------------------------------- */
#define XEN_LEGACY_MAX_VCPUS 32
#define XEN_NR_EVENT_CHANNELS 4096   /* 2-level ABI: 64 words of 64 bits */

struct xen_vcpu_time_info {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad1[2];
};
#define XEN_PVCLOCK_TSC_STABLE_BIT (1u << 0)

struct xen_vcpu_info {
	uint8_t evtchn_upcall_pending;
	uint8_t evtchn_upcall_mask;
	uint8_t pad0[6];
	uint64_t evtchn_pending_sel;
	struct {
		uint64_t cr2;
		uint64_t pad;
	} arch;
	struct xen_vcpu_time_info time;
};

struct xen_shared_info {
	struct xen_vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];
	uint64_t evtchn_pending[64];
	uint64_t evtchn_mask[64];
	uint32_t wc_version;
	uint32_t wc_sec;
	uint32_t wc_nsec;
	uint32_t wc_sec_hi;
	struct {
		uint64_t max_pfn;
		uint64_t pfn_to_mfn_frame_list_list;
		uint64_t nmi_reason;
		uint64_t p2m_cr3;
		uint64_t p2m_vaddr;
		uint64_t p2m_generation;
	} arch;
};

/* --- the console ring (io/console.h) ------------------------------------------------ */
#define XEN_CONS_IN_SIZE  1024
#define XEN_CONS_OUT_SIZE 2048
struct xen_cons_interface {
	char in[XEN_CONS_IN_SIZE];
	char out[XEN_CONS_OUT_SIZE];
	uint32_t in_cons, in_prod;
	uint32_t out_cons, out_prod;
};

/* --- selectors and the iret frame ---------------------------------------------------- */
#define XEN_FLAT_KERNEL_CS64 0xe033
#define XEN_FLAT_KERNEL_SS64 0xe02b
#define XEN_FLAT_USER_CS32   0xe023
#define XEN_FLAT_USER_CS64   0xe033
#define XEN_HYPERVISOR_VIRT_START 0xffff800000000000ULL
#define XEN_VGCF_in_syscall  (1u << 8)

/* HYPERVISOR_iret's argument, at the guest's RSP. */
struct xen_iret_context {
	uint64_t rax, r11, rcx, flags, rip, cs, rflags, rsp, ss;
};

/* --- Appendix A of XENPV.md, checked ---------------------------------------------------- */
_Static_assert(sizeof(struct xen_start_info) == 1168, "start_info size");
_Static_assert(offsetof(struct xen_start_info, nr_pages) == 32, "start_info.nr_pages");
_Static_assert(offsetof(struct xen_start_info, shared_info) == 40, "start_info.shared_info");
_Static_assert(offsetof(struct xen_start_info, flags) == 48, "start_info.flags");
_Static_assert(offsetof(struct xen_start_info, store_mfn) == 56, "start_info.store_mfn");
_Static_assert(offsetof(struct xen_start_info, store_evtchn) == 64, "start_info.store_evtchn");
_Static_assert(offsetof(struct xen_start_info, console.domU.mfn) == 72, "start_info.console.domU.mfn");
_Static_assert(offsetof(struct xen_start_info, console.domU.evtchn) == 80, "start_info.console.domU.evtchn");
_Static_assert(offsetof(struct xen_start_info, pt_base) == 88, "start_info.pt_base");
_Static_assert(offsetof(struct xen_start_info, nr_pt_frames) == 96, "start_info.nr_pt_frames");
_Static_assert(offsetof(struct xen_start_info, mfn_list) == 104, "start_info.mfn_list");
_Static_assert(offsetof(struct xen_start_info, mod_start) == 112, "start_info.mod_start");
_Static_assert(offsetof(struct xen_start_info, mod_len) == 120, "start_info.mod_len");
_Static_assert(offsetof(struct xen_start_info, cmd_line) == 128, "start_info.cmd_line");
_Static_assert(offsetof(struct xen_start_info, first_p2m_pfn) == 1152, "start_info.first_p2m_pfn");
_Static_assert(offsetof(struct xen_start_info, nr_p2m_frames) == 1160, "start_info.nr_p2m_frames");

_Static_assert(sizeof(struct xen_vcpu_time_info) == 32, "vcpu_time_info size");
_Static_assert(offsetof(struct xen_vcpu_time_info, tsc_timestamp) == 8, "time.tsc_timestamp");
_Static_assert(offsetof(struct xen_vcpu_time_info, system_time) == 16, "time.system_time");
_Static_assert(offsetof(struct xen_vcpu_time_info, tsc_to_system_mul) == 24, "time.tsc_to_system_mul");
_Static_assert(offsetof(struct xen_vcpu_time_info, tsc_shift) == 28, "time.tsc_shift");
_Static_assert(offsetof(struct xen_vcpu_time_info, flags) == 29, "time.flags");

_Static_assert(sizeof(struct xen_vcpu_info) == 64, "vcpu_info size");
_Static_assert(offsetof(struct xen_vcpu_info, evtchn_upcall_mask) == 1, "vcpu_info.evtchn_upcall_mask");
_Static_assert(offsetof(struct xen_vcpu_info, evtchn_pending_sel) == 8, "vcpu_info.evtchn_pending_sel");
_Static_assert(offsetof(struct xen_vcpu_info, arch.cr2) == 16, "vcpu_info.arch.cr2");
_Static_assert(offsetof(struct xen_vcpu_info, time) == 32, "vcpu_info.time");

_Static_assert(sizeof(struct xen_shared_info) == 3136, "shared_info size");
_Static_assert(offsetof(struct xen_shared_info, evtchn_pending) == 2048, "shared_info.evtchn_pending");
_Static_assert(offsetof(struct xen_shared_info, evtchn_mask) == 2560, "shared_info.evtchn_mask");
_Static_assert(offsetof(struct xen_shared_info, wc_version) == 3072, "shared_info.wc");
_Static_assert(offsetof(struct xen_shared_info, wc_sec_hi) == 3084, "shared_info.wc_sec_hi");
_Static_assert(offsetof(struct xen_shared_info, arch.max_pfn) == 3088, "shared_info.arch.max_pfn");
_Static_assert(offsetof(struct xen_shared_info, arch.p2m_cr3) == 3112, "shared_info.arch.p2m_cr3");

_Static_assert(sizeof(struct xen_cons_interface) == 3088, "xencons_interface size");
_Static_assert(offsetof(struct xen_cons_interface, out) == 1024, "xencons.out");
_Static_assert(offsetof(struct xen_cons_interface, in_cons) == 3072, "xencons.in_cons");
_Static_assert(offsetof(struct xen_cons_interface, out_prod) == 3084, "xencons.out_prod");

_Static_assert(sizeof(struct xen_iret_context) == 72, "iret_context size");
_Static_assert(offsetof(struct xen_iret_context, rip) == 32, "iret_context.rip");
_Static_assert(offsetof(struct xen_iret_context, ss) == 64, "iret_context.ss");
