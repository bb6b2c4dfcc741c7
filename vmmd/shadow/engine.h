/* SPDX-License-Identifier: MIT */
/*
 * The shadow engine: the seed's "basic hypervisor flow" for one VM, between
 * the KVM glue (vmmd/worker/shadow_run.c, which captures a trap and writes
 * the guest back) and the mechanisms — emulate.c (trap-and-emulate),
 * reflect.c (reflection), shadow_mmu.c (shadow page tables), monitor.c.
 * No KVM here: the engine is driven with a captured trap and leaves the
 * guest's next state in the shadow_vcpu, so it runs on a fake CPU in tests.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "vmmd/shadow/hypercall.h"
#include "vmmd/shadow/monitor.h"
#include "vmmd/shadow/physmap.h"
#include "vmmd/shadow/shadow_mmu.h"
#include "vmmd/shadow/vcpu_model.h"

/* Trap classes, counted (stats.get "traps"). */
enum shadow_trap_class {
	STRAP_PRIVILEGED,      /* privileged instruction emulated */
	STRAP_PF_FILL,         /* page fault: shadow miss, filled */
	STRAP_PF_GUEST,        /* page fault: the guest's own, reflected */
	STRAP_PF_MMIO,         /* page fault: device access (the seed's second kind) */
	STRAP_PF_PT_WRITE,     /* page fault: write to a write-protected guest page table */
	STRAP_REFLECTED,       /* exception reflected to the guest */
	STRAP_SYSCALL,         /* syscall / int n delivered to the guest */
	STRAP_INTERRUPT,       /* virtual device interrupt delivered */
	STRAP_HALT,            /* hlt: waited for an interrupt */
	STRAP_HYPERCALL,       /* a paravirtual hypercall: the PV layer's (vmmd/xenpv), or the port's (hypercall.h) */
	STRAP_MAX
};

#define SHADOW_MNEMONICS_MAX 48
#define SHADOW_PT_MNEMONICS_MAX 24

struct shadow_mnemonic_count {
	char name[16];
	uint64_t count;
};

struct shadow_vm {
	struct machine_memory mm;
	struct physmap pm;
	struct monitor mon;
	struct smmu *smmu;
	struct bus *bus;
	pthread_mutex_t lock;              /* serializes the smmu between vCPUs */
	uint64_t traps[STRAP_MAX];         /* atomic */
	uint64_t guest_pt_switches;        /* guest CR3 writes; atomic */
	uint64_t vector_counts[32];        /* reflected exceptions by vector; atomic */
	struct shadow_mnemonic_count mnemonics[SHADOW_MNEMONICS_MAX];
	/* Writes to write-protected guest page tables: emulated, and run
	 * natively after unshadowing (not emulated: emulate_data.h). */
	struct shadow_mnemonic_count pt_writes[SHADOW_PT_MNEMONICS_MAX];
	struct shadow_mnemonic_count pt_writes_native[SHADOW_PT_MNEMONICS_MAX];
	uint64_t native_user_returns;      /* returns to user mode vmmd found after the fact; atomic */
	uint16_t native_user_cs, native_user_ss;   /* see shadow_vm_config */
	pthread_mutex_t mnemonic_lock;
	int hc_rip_after;                  /* port exits leave rip: -1 unknown, 0 at, 1 past the out */
	/* The direct-paging spike (strategy "direct", docs/shadow.md): after the
	 * guest's first CR3 write the real CR3 is the guest's own PML4, with
	 * the monitor's entry put in; the host shadows it, vmmd does not. */
	bool direct, direct_active;
};

struct shadow_vcpu;

/*
 * A guest ABI on top of the engine (vmmd/xenpv: "the patched OS"): where
 * the seed's machine reflects through the guest's virtual IDT and LSTAR, a
 * paravirtual guest has its own entry points. Each hook replaces one
 * default; a NULL hook keeps it. The engine still fills shadow entries,
 * emulates writes to write-protected page tables and MMIO, and counts.
 * Such a guest masks its interrupts in its own ABI (Xen: vcpu_info), so its
 * virtual IF stays set and the real IF with it.
 */
struct shadow_guest_ops {
	/* `syscall` (the #PF at LSTAR on hosts where it stays at CPL3, or the
	 * native stub): registers as the CPU left them, rcx = the next RIP,
	 * r11 = RFLAGS. Default: reflect_syscall (LSTAR/STAR/SFMASK). */
	enum shadow_action (*syscall)(struct shadow_vcpu *sv, const struct shadow_env *env);
	/* #GP, #UD, #NP at regs.rip. Default: emu_privileged, then reflect. */
	enum shadow_action (*privileged)(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector,
					 uint32_t error);
	/* A #PF the guest's own tables refuse (error: what the guest would see).
	 * Default: reflect it. */
	enum shadow_action (*guest_page_fault)(struct shadow_vcpu *sv, const struct shadow_env *env, uint64_t va,
					       uint32_t error);
	/* Deliver an exception to the guest (already counted). Default: the
	 * virtual IDT (reflect_deliver). */
	enum shadow_action (*exception)(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector,
					bool has_error, uint32_t error, uint64_t cr2);
	/* CPUID as the guest may see it (ctx is the shadow_vcpu). Default: the host's, with the hypervisor bit. */
	void (*cpuid)(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
	/* `out %al, $VMM_PORT_HYPERCALL` at virtual CPL0 (hypercall.h): the
	 * guest's registers with rip past the `out`. Default: vmmd's own
	 * paravirtual interface (shadow_hypercall_native). */
	enum shadow_action (*hypercall_port)(struct shadow_vcpu *sv, const struct shadow_env *env);
};

struct shadow_vcpu {
	struct shadow_vm *svm;
	const struct shadow_guest_ops *ops;   /* NULL: the seed's machine (reflection) */
	void *guest;                          /* the guest ABI's per-vCPU state */
	unsigned index;
	struct shadow_cpu cpu;
	uint64_t root;          /* the shadow root the real CR3 must hold */
	bool root_user;
	uint64_t root_cr3;      /* the guest CR3 the root was loaded for */
	bool root_stale;        /* a CR3 write or flush: load again even if unchanged */
	bool tlb_flush;         /* shadow entries were removed: the real TLB must forget them */
	bool irq_shadow;        /* sti/mov ss just ran: no interrupt before the next instruction */
	char fail_message[200];
	uint64_t refill_va;      /* livelock guard: the last filled address ... */
	unsigned refills;        /* ... and how often in a row */
	uint64_t native_rip, native_gpa;   /* the last page-table write left to the CPU */
	uint64_t kernel_rsp;               /* RSP at the last trap in virtual kernel mode */
};

enum shadow_action {
	SHADOW_RESUME,          /* run the guest from cpu state (root may have changed) */
	SHADOW_HALT,            /* emulated hlt: wait for a virtual interrupt, then resume */
	SHADOW_TRIPLE_FAULT,    /* delivery escalated past #DF: the VM ends */
	SHADOW_HOST_REFUSED,    /* the host or shadow mode will not run this (fail_message says what): the VM ends */
};

struct shadow_vm_config {
	uint64_t guest_bytes;
	unsigned pool_pages;
	unsigned zap_group;        /* pool pages per host zap (smmu_config.zap_group) */
	unsigned prefetch;         /* entries filled per miss (smmu_config.prefetch); 0: SHADOW_PREFETCH_DEFAULT */
	bool direct;               /* the direct-paging spike (shadow_vm.direct) */
	enum smmu_strategy strategy;
	uint64_t scatter_seed;     /* 0 = identity physmap */
	struct bus *bus;
	unsigned phys_bits;        /* the guest's CPUID MAXPHYADDR (0: 52) ... */
	bool no_1g;                /* ... and no PDPE1GB: the walk's reserved bits */
	/*
	 * Hosts whose own GDT holds user segments a guest selector names (PVM:
	 * the host's Linux GDT has __USER_CS 0x33 and __USER_DS 0x2b, and the
	 * guest's CPL3 code runs on it) let a guest iretq or far return to
	 * those selectors through at real CPL3 without a trap, and report the
	 * CS vmmd loaded, not the new one. There, guest-user pages are mapped
	 * non-executable in kernel roots, and a user-mode instruction fetch at
	 * virtual CPL0 means the guest returned to user mode with these
	 * selectors (the only 64-bit user code and data segments the host's
	 * GDT lets it load). 0: the host never lets a guest far transfer
	 * through (VT-x/AMD-V: the monitor's GDT is the real one).
	 */
	uint16_t native_user_cs, native_user_ss;
	unsigned monitor_slot;     /* PML4 slot of the monitor (monitor.h MON_SLOT_*); 0 = MON_SLOT_DEFAULT */
	unsigned window_pages;     /* the monitor's read-only window for the guest kernel (monitor.h); 0: none */
};

#define SHADOW_PREFETCH_DEFAULT 8   /* as KVM's shadow MMU (PTE_PREFETCH_NUM) */

/* Machine layout for a guest of guest_bytes: its frames, the monitor (with a
 * window of window_pages), then pool_pages of shadow tables at shadow_pool_mpa(). */
uint64_t shadow_machine_bytes(uint64_t guest_bytes, unsigned window_pages, unsigned pool_pages);
uint64_t shadow_pool_mpa(uint64_t guest_bytes, unsigned window_pages);

/* mm must already map shadow_machine_bytes(); builds physmap, monitor and smmu. */
int shadow_vm_init(struct shadow_vm *svm, struct machine_memory mm, const struct shadow_vm_config *cfg);
void shadow_vm_destroy(struct shadow_vm *svm);

/* The boot vCPU's virtual state for vmmd's 64-bit boot contract (bootinfo.h). */
void shadow_vcpu_init_boot(struct shadow_vcpu *sv, struct shadow_vm *svm, unsigned index,
			   uint64_t entry, uint64_t stack, uint64_t arg);

/*
 * A trap arrived: `vector` from the monitor stub (256 = the syscall stub),
 * with the CPU's error code and the real CR2; sv->cpu.regs already holds
 * the guest's registers (rip/rsp/rflags from the exception frame).
 */
enum shadow_action shadow_handle_trap(struct shadow_vcpu *sv, unsigned vector, uint32_t error, uint64_t cr2);

/*
 * A port exit on VMM_HYPERCALL_PORT (the only port the monitor's I/O bitmap
 * opens), with the guest's registers in sv->cpu.regs as KVM left them. The
 * hypercall is exactly `out %al, $port` (e6 ef) at virtual CPL0; at virtual
 * CPL3, or in any other form, it is the guest's #GP(0), as without the
 * bitmap. KVM leaves rip at the instruction where it exits from the CPU's
 * I/O intercept (VT-x, AMD-V: it skips the instruction on the next entry
 * unless rip changed) and past it where it emulated the instruction (PVM):
 * the engine tells which by the bytes, learns it once per VM, and always
 * sets rip itself. real_cs: the CS selector the CPU ran the `out` with
 * (user code the host let return natively runs with native_user_cs).
 */
enum shadow_action shadow_handle_hypercall_port(struct shadow_vcpu *sv, bool is_out, unsigned size, uint16_t real_cs);

/* Deliver the highest pending virtual interrupt if the guest can take one
 * (vif set). Returns true if one was delivered (the guest is now in its handler). */
bool shadow_deliver_interrupt(struct shadow_vcpu *sv, int vector);

/* The direct-paging spike: the machine address of the guest's own PML4 for
 * guest_cr3, with the monitor's entry put in; 0 outside guest RAM (direct.c). */
uint64_t direct_root(struct shadow_vm *svm, uint64_t guest_cr3);

/*
 * RFLAGS between the virtual CPU and the real one. For the real CPU: IF
 * follows the virtual IF, IOPL is 0 (so cli/sti/in/out trap) and, in
 * virtual kernel mode, AC is 0: the kernel runs at real CPL3, where a host
 * that enforces alignment checks (PVM's hosts run CPL3 with CR0.AM set)
 * would raise an #AC that CPL0 code never sees. After the guest ran,
 * shadow_take_rflags makes the real value the virtual one, keeping AC in
 * virtual kernel mode (only emulated instructions change it there, as
 * popf's IF: docs/shadow.md) and setting the virtual IF from it.
 */
uint64_t shadow_real_rflags(const struct shadow_vcpu *sv);
void shadow_take_rflags(struct shadow_vcpu *sv, uint64_t real);

/* Recompute sv->root for the current virtual CPL and CR3 (a root load when it changes). */
void shadow_update_root(struct shadow_vcpu *sv);

/* For guest ABIs (struct shadow_guest_ops): the engine's view of the guest's
 * memory and devices; counts; the default exception delivery; a
 * guest-requested flush of its translations (the real TLB and whatever the
 * host derived from the shadows). */
void shadow_vcpu_env(struct shadow_vcpu *sv, struct shadow_env *ret);
void shadow_count_trap(struct shadow_vm *svm, enum shadow_trap_class c);
void shadow_count_mnemonic(struct shadow_vm *svm, const char *name);
enum shadow_action shadow_reflect_exception(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector,
					    bool has_error, uint32_t error, uint64_t cr2);
void shadow_guest_tlb_flush(struct shadow_vcpu *sv);
/* The pool's zap groups (smmu_take_zaps) the host must forget before any
 * vCPU runs the guest again; ret_groups holds up to max. */
unsigned shadow_take_zaps(struct shadow_vm *svm, uint32_t *ret_groups, unsigned max);

/* For stats.get: one JSON-free snapshot. */
struct shadow_stats {
	uint64_t traps[STRAP_MAX];
	uint64_t guest_pt_switches;
	uint64_t vector_counts[32];
	struct smmu_stats mmu;
	unsigned zap_group_pages;      /* pool pages per zap: 1 targeted .. pool_pages (all) */
	unsigned n_mnemonics;
	struct shadow_mnemonic_count mnemonics[SHADOW_MNEMONICS_MAX];
	unsigned n_pt_writes, n_pt_writes_native;
	struct shadow_mnemonic_count pt_writes[SHADOW_PT_MNEMONICS_MAX];
	struct shadow_mnemonic_count pt_writes_native[SHADOW_PT_MNEMONICS_MAX];
	uint64_t native_user_returns;
};
void shadow_get_stats(struct shadow_vm *svm, struct shadow_stats *ret);
const char *shadow_trap_class_name(enum shadow_trap_class c);
