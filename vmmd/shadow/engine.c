/* SPDX-License-Identifier: MIT */
#include <cpuid.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "abi/bootinfo.h"
#include "vmmd/shadow/debugreg.h"
#include "vmmd/shadow/emulate.h"
#include "vmmd/shadow/emulate_data.h"
#include "vmmd/shadow/engine.h"
#include "vmmd/shadow/reflect.h"
#include "x86/cpu.h"

#define SHADOW_MAX_REFILLS 64   /* the same address filled this often in a row: the host refuses it */

static const char *const class_names[STRAP_MAX] = {
	[STRAP_PRIVILEGED] = "privileged", [STRAP_PF_FILL] = "page_fault_fill",
	[STRAP_PF_GUEST] = "page_fault_guest", [STRAP_PF_MMIO] = "page_fault_mmio",
	[STRAP_PF_PT_WRITE] = "page_fault_pt_write", [STRAP_REFLECTED] = "reflected",
	[STRAP_SYSCALL] = "syscall", [STRAP_INTERRUPT] = "interrupt", [STRAP_HALT] = "halt",
	[STRAP_HYPERCALL] = "hypercall",
};

const char *shadow_trap_class_name(enum shadow_trap_class c)
{
	return c < STRAP_MAX ? class_names[c] : "unknown";
}

static void count_class(struct shadow_vm *svm, enum shadow_trap_class c)
{
	__atomic_fetch_add(&svm->traps[c], 1, __ATOMIC_RELAXED);
}

void shadow_count_trap(struct shadow_vm *svm, enum shadow_trap_class c)
{
	if (c < STRAP_MAX)
		count_class(svm, c);
}

/* One more of `name` in a table of n counters (a full table drops new names). */
static void count_in(struct shadow_vm *svm, struct shadow_mnemonic_count *t, unsigned n, const char *name)
{
	pthread_mutex_lock(&svm->mnemonic_lock);
	for (unsigned i = 0; i < n; i++) {
		if (!t[i].name[0])
			snprintf(t[i].name, sizeof(t[i].name), "%s", name);
		if (strcmp(t[i].name, name) == 0) {
			t[i].count++;
			break;
		}
	}
	pthread_mutex_unlock(&svm->mnemonic_lock);
}

static void count_mnemonic(struct shadow_vm *svm, const char *name)
{
	count_in(svm, svm->mnemonics, SHADOW_MNEMONICS_MAX, name);
}

uint64_t shadow_pool_mpa(uint64_t guest_bytes, unsigned window_pages)
{
	return guest_bytes + monitor_machine_pages(window_pages) * PAGE_SIZE_4K;
}

uint64_t shadow_machine_bytes(uint64_t guest_bytes, unsigned window_pages, unsigned pool_pages)
{
	return shadow_pool_mpa(guest_bytes, window_pages) + (uint64_t) pool_pages * PAGE_SIZE_4K;
}

/* --- the engine's view of guest memory and devices (struct shadow_env) --- */

static bool guest_wp(const struct shadow_cpu *c) { return c->pcb.cr0 & X86_CR0_WP; }
static bool guest_nxe(const struct shadow_cpu *c) { return c->pcb.efer & X86_EFER_NXE; }

/* Copy between the guest's virtual memory and buf, page by page, as the hardware would walk it. */
static int virt_copy(struct shadow_vcpu *sv, uint64_t va, void *buf, size_t len, unsigned access,
		     bool write, struct shadow_fault *fault)
{
	struct shadow_vm *svm = sv->svm;
	uint8_t *p = buf;
	while (len > 0) {
		struct gw_result w;
		int r = smmu_guest_walk(svm->smmu, sv->cpu.pcb.cr3, va, access | (write ? SHADOW_ACC_WRITE : 0),
					guest_wp(&sv->cpu), guest_nxe(&sv->cpu), true, &w);
		if (r == -EINVAL) {
			*fault = (struct shadow_fault) { .vector = X86_GP, .error = 0 };   /* non-canonical */
			return -EFAULT;
		}
		if (r < 0) {
			*fault = (struct shadow_fault) { .vector = X86_PF, .error = w.error, .cr2 = va };
			return -EFAULT;
		}
		size_t chunk = PAGE_SIZE_4K - (va & (PAGE_SIZE_4K - 1));
		if (chunk > len)
			chunk = len;
		uint8_t *host = physmap_guest_ptr(&svm->pm, &svm->mm, w.phys, chunk);
		if (!host) {
			/* The engine never touches devices through virtual memory on
			 * the guest's behalf (stacks, tables): that is a guest bug. */
			*fault = (struct shadow_fault) { .vector = X86_GP, .error = 0 };
			return -EFAULT;
		}
		if (write) {
			/* Through the MMU, so shadows of a guest page-table page follow. */
			pthread_mutex_lock(&svm->lock);
			r = smmu_pt_write(svm->smmu, w.phys, p, chunk);
			pthread_mutex_unlock(&svm->lock);
			if (r < 0)
				memcpy(host, p, chunk);
		} else {
			memcpy(p, host, chunk);
		}
		va += chunk;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

static int env_read_virt(void *ctx, uint64_t va, void *buf, size_t len, unsigned access, struct shadow_fault *f)
{
	return virt_copy(ctx, va, buf, len, access, false, f);
}

static int env_write_virt(void *ctx, uint64_t va, const void *buf, size_t len, unsigned access, struct shadow_fault *f)
{
	return virt_copy(ctx, va, (void *) buf, len, access, true, f);
}

static int env_pio(void *ctx, uint16_t port, void *data, unsigned size, bool is_write)
{
	struct shadow_vcpu *sv = ctx;
	return bus_dispatch(sv->svm->bus, BUS_PIO, port, data, size, is_write);
}

static int env_mmio(void *ctx, uint64_t gpa, void *data, unsigned size, bool is_write)
{
	struct shadow_vcpu *sv = ctx;
	return bus_dispatch(sv->svm->bus, BUS_MMIO, gpa, data, size, is_write);
}

static void env_cr3_write(void *ctx, uint64_t new_cr3)
{
	struct shadow_vcpu *sv = ctx;
	__atomic_fetch_add(&sv->svm->guest_pt_switches, 1, __ATOMIC_RELAXED);
	sv->root_stale = true;
	if (sv->svm->direct) {
		sv->svm->direct_active = true;   /* the guest's own tables from now on */
		return;
	}
	pthread_mutex_lock(&sv->svm->lock);
	smmu_guest_cr3_write(sv->svm->smmu, sv->cpu.pcb.cr3, new_cr3);
	pthread_mutex_unlock(&sv->svm->lock);
	sv->root_stale = true;
}

static void env_invlpg(void *ctx, uint64_t va)
{
	struct shadow_vcpu *sv = ctx;
	if (sv->svm->direct_active) {
		sv->tlb_flush = true;    /* the host re-syncs its shadow of the guest's tables */
		return;
	}
	pthread_mutex_lock(&sv->svm->lock);
	smmu_invlpg(sv->svm->smmu, sv->cpu.pcb.cr3, va);
	pthread_mutex_unlock(&sv->svm->lock);
}

static void env_paging_changed(void *ctx)
{
	struct shadow_vcpu *sv = ctx;
	sv->root_stale = true;
	if (sv->svm->direct_active) {
		sv->tlb_flush = true;
		return;
	}
	pthread_mutex_lock(&sv->svm->lock);
	smmu_flush_all(sv->svm->smmu);
	pthread_mutex_unlock(&sv->svm->lock);
}

static void env_count(void *ctx, const char *what)
{
	struct shadow_vcpu *sv = ctx;
	count_mnemonic(sv->svm, what);
}

/* The host's CPUID, minus what the deprivileged guest must not believe it has. */
static void env_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	__cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
	if (leaf == 1)
		out[2] |= 1u << 31;   /* "hypervisor present": the guest is virtualized */
}

static void make_env(struct shadow_vcpu *sv, struct shadow_env *env)
{
	*env = (struct shadow_env) {
		.ctx = sv, .read_virt = env_read_virt, .write_virt = env_write_virt, .pio = env_pio,
		.mmio = env_mmio, .cr3_write = env_cr3_write, .invlpg = env_invlpg,
		.paging_changed = env_paging_changed, .count = env_count,
		.cpuid = sv->ops && sv->ops->cpuid ? sv->ops->cpuid : env_cpuid,
	};
}

void shadow_vcpu_env(struct shadow_vcpu *sv, struct shadow_env *ret)
{
	make_env(sv, ret);
}

void shadow_count_mnemonic(struct shadow_vm *svm, const char *name)
{
	count_mnemonic(svm, name);
}

void shadow_guest_tlb_flush(struct shadow_vcpu *sv)
{
	/* The shadows follow every guest page-table write vmmd sees, so there
	 * is nothing to rebuild under `cached`; a virtual TLB forgets all. A
	 * flush point either way: the removals vmmd deferred are due now
	 * (docs/shadow.md, "Telling KVM"). */
	pthread_mutex_lock(&sv->svm->lock);
	smmu_guest_cr3_write(sv->svm->smmu, sv->cpu.pcb.cr3, sv->cpu.pcb.cr3);
	pthread_mutex_unlock(&sv->svm->lock);
	sv->root_stale = true;
	sv->tlb_flush = true;
}

/* --- lifecycle ------------------------------------------------------------ */

int shadow_vm_init(struct shadow_vm *svm, struct machine_memory mm, const struct shadow_vm_config *cfg)
{
	memset(svm, 0, sizeof(*svm));
	pthread_mutex_init(&svm->lock, NULL);
	pthread_mutex_init(&svm->mnemonic_lock, NULL);
	svm->mm = mm;
	svm->bus = cfg->bus;
	svm->native_user_cs = cfg->native_user_cs;
	svm->native_user_ss = cfg->native_user_ss;
	svm->direct = cfg->direct && !cfg->scatter_seed;
	svm->hc_rip_after = -1;
	uint64_t guest_pages = cfg->guest_bytes / PAGE_SIZE_4K;
	int r = physmap_init(&svm->pm, guest_pages, mm.size / PAGE_SIZE_4K, cfg->scatter_seed);
	if (r < 0)
		return r;
	r = monitor_build(&svm->mm, cfg->guest_bytes, cfg->monitor_slot ? cfg->monitor_slot : MON_SLOT_DEFAULT,
			  cfg->window_pages, &svm->mon);
	if (r < 0)
		return r;
	struct smmu_config sc = {
		.strategy = cfg->strategy,
		.pool_mpa = shadow_pool_mpa(cfg->guest_bytes, cfg->window_pages),
		.pool_pages = cfg->pool_pages,
		.monitor_pml4e = svm->mon.pml4e,
		.monitor_pml4e_kernel = svm->mon.pml4e_kernel,
		.monitor_slot = svm->mon.slot,
		.max_roots = 16,
		.phys_bits = cfg->phys_bits,
		.no_1g = cfg->no_1g,
		.user_nx_in_kernel_root = cfg->native_user_cs != 0,
		.zap_group = cfg->zap_group,
		.prefetch = cfg->prefetch ? cfg->prefetch : SHADOW_PREFETCH_DEFAULT,
	};
	return smmu_new(&svm->mm, &svm->pm, &sc, &svm->smmu);
}

void shadow_vm_destroy(struct shadow_vm *svm)
{
	if (svm->smmu)
		smmu_free(svm->smmu);
	physmap_free(&svm->pm);
	pthread_mutex_destroy(&svm->lock);
	pthread_mutex_destroy(&svm->mnemonic_lock);
}

uint64_t shadow_real_rflags(const struct shadow_vcpu *sv)
{
	uint64_t f = (sv->cpu.regs.rflags & ~(X86_RFLAGS_IF | X86_RFLAGS_IOPL)) | X86_RFLAGS_FIXED |
		     (sv->cpu.pcb.vif ? X86_RFLAGS_IF : 0);
	return sv->cpu.pcb.vcpl == 0 ? f & ~X86_RFLAGS_AC : f;
}

void shadow_take_rflags(struct shadow_vcpu *sv, uint64_t real)
{
	if (sv->cpu.pcb.vcpl == 0)
		real = (real & ~X86_RFLAGS_AC) | (sv->cpu.regs.rflags & X86_RFLAGS_AC);
	sv->cpu.regs.rflags = real;
	sv->cpu.pcb.vif = real & X86_RFLAGS_IF;
}

void shadow_update_root(struct shadow_vcpu *sv)
{
	bool user = sv->cpu.pcb.vcpl == 3;
	/* Only a real change is a shadow page-table switch (a root load). */
	if (sv->root && !sv->root_stale && sv->root_cr3 == sv->cpu.pcb.cr3 && sv->root_user == user)
		return;
	sv->root_stale = false;
	sv->root_cr3 = sv->cpu.pcb.cr3;
	uint64_t root = sv->svm->direct_active ? direct_root(sv->svm, sv->cpu.pcb.cr3) : 0;
	if (!root) {
		pthread_mutex_lock(&sv->svm->lock);
		root = smmu_load_root(sv->svm->smmu, sv->cpu.pcb.cr3, user);
		pthread_mutex_unlock(&sv->svm->lock);
	}
	sv->root = root;
	sv->root_user = user;
}

void shadow_vcpu_init_boot(struct shadow_vcpu *sv, struct shadow_vm *svm, unsigned index,
			   uint64_t entry, uint64_t stack, uint64_t arg)
{
	memset(sv, 0, sizeof(*sv));
	sv->svm = svm;
	sv->index = index;
	struct shadow_cpu *c = &sv->cpu;
	c->regs.rip = entry;
	c->regs.rsp = stack;
	c->regs.rdi = arg;
	c->regs.rflags = X86_RFLAGS_FIXED;
	/* Exactly what hw mode's boot gives the guest (vcpu.c), but virtual. */
	c->pcb.cr0 = X86_CR0_BOOT;
	c->pcb.cr4 = X86_CR4_BOOT;
	c->pcb.efer = X86_EFER_BOOT;
	c->pcb.cr3 = VMM_BOOT_PML4;
	c->pcb.gdtr = (struct shadow_dtr) { .base = VMM_BOOT_GDT, .limit = 23 };
	c->pcb.cs = 0x08;
	c->pcb.ss = c->pcb.ds = c->pcb.es = 0x10;
	c->pcb.vcpl = 0;
	c->pcb.vif = false;
	debugreg_reset(&c->pcb);
	shadow_update_root(sv);
}

/* --- the flow ----------------------------------------------------------------- */

static enum shadow_action reflect(struct shadow_vcpu *sv, const struct shadow_env *env,
				  const struct reflect_request *req, enum shadow_trap_class cls)
{
	count_class(sv->svm, cls);
	if (req->kind == REFLECT_EXCEPTION && req->vector < 32)
		__atomic_fetch_add(&sv->svm->vector_counts[req->vector], 1, __ATOMIC_RELAXED);
	if (reflect_deliver(&sv->cpu, env, req) < 0)
		return SHADOW_TRIPLE_FAULT;
	shadow_update_root(sv);
	return SHADOW_RESUME;
}

static enum shadow_action reflect_exception(struct shadow_vcpu *sv, const struct shadow_env *env,
					    unsigned vector, bool has_error, uint32_t error, uint64_t cr2)
{
	if (sv->ops && sv->ops->exception) {
		count_class(sv->svm, vector == X86_PF ? STRAP_PF_GUEST : STRAP_REFLECTED);
		if (vector < 32)
			__atomic_fetch_add(&sv->svm->vector_counts[vector], 1, __ATOMIC_RELAXED);
		return sv->ops->exception(sv, env, vector, has_error, error, cr2);
	}
	struct reflect_request req = {
		.kind = REFLECT_EXCEPTION, .vector = vector, .has_error = has_error, .error = error,
		.cr2 = cr2, .return_rip = sv->cpu.regs.rip,
	};
	return reflect(sv, env, &req, vector == X86_PF ? STRAP_PF_GUEST : STRAP_REFLECTED);
}

enum shadow_action shadow_reflect_exception(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector,
					    bool has_error, uint32_t error, uint64_t cr2)
{
	return reflect_exception(sv, env, vector, has_error, error, cr2);
}

static enum shadow_action syscall_entry(struct shadow_vcpu *sv, const struct shadow_env *env)
{
	/* Hardware already did rcx = return rip, r11 = rflags; the engine
	 * redoes the entry on the virtual CPU from the state before it. The
	 * frame's IF is after the real SFMASK (vmmd's: IF cleared); the
	 * guest's IF at the syscall is the one R11 holds. */
	sv->cpu.regs.rflags = sv->cpu.regs.r11;
	sv->cpu.pcb.vif = sv->cpu.regs.r11 & X86_RFLAGS_IF;
	uint64_t return_rip = sv->cpu.regs.rcx;
	struct reflect_request fault;
	count_class(sv->svm, STRAP_SYSCALL);
	if (reflect_syscall(&sv->cpu, env, return_rip, &fault) < 0) {
		sv->cpu.regs.rip = return_rip - 2;   /* the fault is at the syscall */
		fault.return_rip = sv->cpu.regs.rip;
		return reflect(sv, env, &fault, STRAP_REFLECTED);
	}
	shadow_update_root(sv);
	return SHADOW_RESUME;
}

/* A guest page-table page written through its write-protected mapping:
 * do it on RAM through the MMU, which re-syncs the shadows built from it. */
static int pt_page_access(void *ctx, uint64_t gpa, void *data, unsigned size, bool is_write)
{
	struct shadow_vcpu *sv = ctx;
	struct shadow_vm *svm = sv->svm;
	if (!is_write) {
		void *host = physmap_guest_ptr(&svm->pm, &svm->mm, gpa, size);
		if (!host)
			return -EFAULT;
		memcpy(data, host, size);
		return 0;
	}
	pthread_mutex_lock(&svm->lock);
	int r = smmu_pt_write(svm->smmu, gpa, data, size);
	pthread_mutex_unlock(&svm->lock);
	return r;
}

static enum shadow_action end_vm(struct shadow_vcpu *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static enum shadow_action end_vm(struct shadow_vcpu *sv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sv->fail_message, sizeof(sv->fail_message), fmt, ap);
	va_end(ap);
	return SHADOW_HOST_REFUSED;
}

/*
 * A write to a write-protected guest page table that the data emulator
 * does not handle (emulate_data.h): drop the protection and let the CPU
 * run it — never a #UD for a valid instruction. The shadows built from
 * the page go with the protection; the page is shadowed again when next
 * used as a table. Only the loaded root's own tables must stay protected
 * (and a table that maps itself is protected again by the fill the retry
 * needs): the same instruction back here for the same page, with no trap
 * elsewhere in between, means that, and the VM ends with the reason.
 */
static enum shadow_action pt_write_natively(struct shadow_vcpu *sv, uint64_t gpa, const struct emu_outcome *out)
{
	struct shadow_vm *svm = sv->svm;
	uint64_t page = gpa & ~(PAGE_SIZE_4K - 1);

	if (sv->native_rip == sv->cpu.regs.rip && sv->native_gpa == page)
		return end_vm(sv, "shadow mode: '%s' at rip %#llx writes the guest page table at %#llx, which stays "
			      "write-protected (a table of the current address space), and vmmd does not emulate it",
			      out->mnemonic, (unsigned long long) sv->cpu.regs.rip, (unsigned long long) page);
	pthread_mutex_lock(&svm->lock);
	int r = smmu_unprotect(svm->smmu, gpa);
	pthread_mutex_unlock(&svm->lock);
	if (r < 0)
		return end_vm(sv, "shadow mode: '%s' at rip %#llx writes the current top-level guest page table at %#llx, "
			      "which vmmd does not emulate", out->mnemonic, (unsigned long long) sv->cpu.regs.rip,
			      (unsigned long long) page);
	sv->native_rip = sv->cpu.regs.rip;   /* cleared by the next trap elsewhere */
	sv->native_gpa = page;
	count_in(svm, svm->pt_writes_native, SHADOW_PT_MNEMONICS_MAX, out->mnemonic);
	return SHADOW_RESUME;
}

static enum shadow_action data_fault(struct shadow_vcpu *sv, const struct shadow_env *env,
				     uint64_t va, uint64_t gpa, bool mmio)
{
	struct emu_data_target target = { .access = mmio ? env->mmio : pt_page_access, .ctx = sv };
	struct emu_outcome out;
	emu_data_access(&sv->cpu, env, va, gpa, &target, &out);
	switch (out.status) {
	case EMU_EXCEPTION:
		return reflect_exception(sv, env, out.vector, out.has_error, out.error, out.cr2);
	case EMU_NOT_EMULATED:
	case EMU_UNSUPPORTED:
		if (!mmio)
			return pt_write_natively(sv, gpa, &out);
		/* A device page cannot be handed to the CPU (KVM fails these too). */
		return end_vm(sv, "shadow mode: '%s' at rip %#llx accesses MMIO at %#llx, and vmmd does not emulate it there",
			      out.mnemonic, (unsigned long long) sv->cpu.regs.rip, (unsigned long long) gpa);
	default:
		if (!mmio)
			count_in(sv->svm, sv->svm->pt_writes, SHADOW_PT_MNEMONICS_MAX, out.mnemonic);
		return SHADOW_RESUME;
	}
}

/* PVM-style hosts reserve guest-virtual 0xffff800000000000-0xffff87ffffffffff
 * (Linux's hypervisor hole): native CPL3 accesses there fault (reserved-bit
 * or not-present) however valid the shadow entry. End the VM and say so. */
static enum shadow_action host_refused(struct shadow_vcpu *sv, uint64_t va)
{
	return end_vm(sv, "shadow mode: the host reserves guest-virtual %#llx (it keeps faulting on a valid shadow entry; "
		      "PVM hosts keep 0xffff800000000000-0xffff87ffffffffff for themselves)", (unsigned long long) va);
}

/*
 * Looking for the frame of a far return vmmd did not see: the iretq (RIP,
 * CS, RFLAGS, RSP, SS) or far return to an outer level (RIP, CS, RSP, SS)
 * the guest kernel executed natively, on its stack near where vmmd last saw
 * it, with the RIP and RSP the CPU has now and RPL-3 selectors. Nothing
 * overwrote it since: the first user instruction faulted.
 */
#define NATIVE_FRAME_WINDOW 4096   /* bytes either side of the kernel's last RSP */

struct native_frame {
	uint16_t cs, ss;
	uint64_t rflags;
	bool has_rflags;
};

static bool is_user_selector(uint64_t v)
{
	return v < 0x10000 && (v & 3) == 3 && (v & ~7ULL) != 0;
}

static bool find_native_frame(struct shadow_vcpu *sv, const struct shadow_env *env, uint64_t kernel_rsp,
			      struct native_frame *ret)
{
	uint64_t buf[2 * NATIVE_FRAME_WINDOW / 8 + 8];
	uint64_t rip = sv->cpu.regs.rip, rsp = sv->cpu.regs.rsp;
	uint64_t lo = kernel_rsp > NATIVE_FRAME_WINDOW ? (kernel_rsp - NATIVE_FRAME_WINDOW) & ~7ULL : 0;
	size_t n = sizeof(buf) / 8;
	bool readable[sizeof(buf) / PAGE_SIZE_4K + 2] = { false };

	/* The guest chose kernel_rsp: a window that wraps around 2^64 would
	 * index readable[] far out of bounds (found by tests/fuzz/fuzz_shadow.c). */
	if (lo > UINT64_MAX - sizeof(buf) || !x86_canonical(lo) || !x86_canonical(lo + sizeof(buf) - 1))
		return false;
	/* Page by page (readable[] by guest page): a hole in the window is no reason to give up. */
	for (uint64_t va = lo; va < lo + sizeof(buf);) {
		uint64_t len = PAGE_SIZE_4K - (va & (PAGE_SIZE_4K - 1));
		if (len > lo + sizeof(buf) - va)
			len = lo + sizeof(buf) - va;
		struct shadow_fault f;
		readable[(va >> 12) - (lo >> 12)] = env->read_virt(env->ctx, va, (uint8_t *) buf + (va - lo), len, 0, &f) == 0;
		va += len;
	}
	for (size_t i = 0; i + 4 < n; i++) {
		const uint64_t *w = &buf[i];
		uint64_t va = lo + i * 8;
		if (!readable[(va >> 12) - (lo >> 12)] || !readable[((va + 39) >> 12) - (lo >> 12)])
			continue;
		if (w[0] != rip || !is_user_selector(w[1]))
			continue;
		if (w[3] == rsp && is_user_selector(w[4]) && (w[2] & X86_RFLAGS_FIXED) && !(w[2] >> 22)) {
			*ret = (struct native_frame) { .cs = w[1], .ss = w[4], .rflags = w[2], .has_rflags = true };
			return true;   /* iretq */
		}
		if (w[2] == rsp && is_user_selector(w[3])) {
			*ret = (struct native_frame) { .cs = w[1], .ss = w[3] };
			return true;   /* far return to an outer level */
		}
	}
	return false;
}

/*
 * An instruction fetch from a guest-user page at virtual CPL0, on a host
 * that lets guest far transfers to user mode through (shadow_vm_config).
 * Kernel roots map user pages non-executable there, so this is either the
 * guest's first user instruction after an iretq/far return vmmd did not
 * see, or the kernel running user-accessible code itself (trapbench does,
 * with CR4.SMEP clear). PVM's frame shows neither the new CS nor the IF
 * the return loaded, so vmmd looks for the return's frame on the kernel
 * stack: found, the guest is in user mode with its selectors and IF. Not
 * found but CR4.SMEP set, the kernel could not be running this page: user
 * mode with the only 64-bit user segments the host's GDT lets a return
 * load, IF set (every OS returns to user mode with interrupts on).
 * Otherwise it is the kernel's: false, and the fill makes the page
 * executable for the kernel.
 */
static bool returned_to_user_natively(struct shadow_vcpu *sv, const struct shadow_env *env, uint32_t error,
				      uint64_t cr2, uint64_t kernel_rsp)
{
	struct shadow_vm *svm = sv->svm;
	struct shadow_pcb *p = &sv->cpu.pcb;
	struct native_frame nf = { .cs = svm->native_user_cs, .ss = svm->native_user_ss };
	struct gw_result w;

	if (!svm->native_user_cs || p->vcpl != 0 || !(error & X86_PF_INSTR) || cr2 != sv->cpu.regs.rip)
		return false;
	pthread_mutex_lock(&svm->lock);
	int r = smmu_guest_walk(svm->smmu, p->cr3, cr2, SHADOW_ACC_FETCH | SHADOW_ACC_USER, guest_wp(&sv->cpu),
				guest_nxe(&sv->cpu), false, &w);
	pthread_mutex_unlock(&svm->lock);
	if (r < 0)
		return false;   /* not user code: the kernel's own fault */
	if (!find_native_frame(sv, env, kernel_rsp, &nf) && !(p->cr4 & X86_CR4_SMEP))
		return false;
	bool vif = nf.has_rflags ? (nf.rflags & X86_RFLAGS_IF) != 0 : true;
	p->vcpl = 3;
	p->cs = nf.cs;
	p->ss = nf.ss;
	p->vif = vif;
	sv->cpu.regs.rflags = (sv->cpu.regs.rflags & ~X86_RFLAGS_IF) | (vif ? X86_RFLAGS_IF : 0);
	__atomic_fetch_add(&svm->native_user_returns, 1, __ATOMIC_RELAXED);
	shadow_update_root(sv);
	return true;
}

static enum shadow_action guest_page_fault(struct shadow_vcpu *sv, const struct shadow_env *env, uint64_t cr2,
					   uint32_t guest_error)
{
	if (sv->ops && sv->ops->guest_page_fault)
		return sv->ops->guest_page_fault(sv, env, cr2, guest_error);
	return reflect_exception(sv, env, X86_PF, true, guest_error, cr2);
}

/*
 * A reserved-bit fault: vmmd's shadow entries never set reserved bits, so
 * the host itself refuses this address (host_refused()). Where the guest's
 * own tables do not allow the access, the guest gets the #PF it would get
 * on hardware (an access to an unmapped address in the host's hole).
 */
static enum shadow_action reserved_fault(struct shadow_vcpu *sv, const struct shadow_env *env, uint32_t error,
					 uint64_t cr2)
{
	struct shadow_vm *svm = sv->svm;
	unsigned access = (error & (X86_PF_WRITE | X86_PF_INSTR)) | (sv->cpu.pcb.vcpl == 3 ? SHADOW_ACC_USER : 0);
	struct gw_result w;

	pthread_mutex_lock(&svm->lock);
	int r = smmu_guest_walk(svm->smmu, sv->cpu.pcb.cr3, cr2, access, guest_wp(&sv->cpu), guest_nxe(&sv->cpu),
				false, &w);
	pthread_mutex_unlock(&svm->lock);
	if (r < 0)
		return guest_page_fault(sv, env, cr2, w.error);
	return host_refused(sv, cr2);
}

static enum shadow_action page_fault(struct shadow_vcpu *sv, const struct shadow_env *env,
				     uint32_t error, uint64_t cr2, uint64_t kernel_rsp)
{
	struct shadow_vm *svm = sv->svm;
	struct smmu_fault f;
	if (error & X86_PF_RSVD)
		return reserved_fault(sv, env, error, cr2);
	/* Direct paging: the host filled what the guest's tables allow; what
	 * reaches vmmd is the guest's own fault (U as the virtual CPL says). */
	if (svm->direct_active)
		return reflect_exception(sv, env, X86_PF, true,
					 (error & ~X86_PF_USER) | (sv->cpu.pcb.vcpl == 3 ? X86_PF_USER : 0), cr2);
	if (returned_to_user_natively(sv, env, error, cr2, kernel_rsp))
		return SHADOW_RESUME;
	pthread_mutex_lock(&svm->lock);
	int r = smmu_page_fault(svm->smmu, sv->cpu.pcb.cr3, sv->cpu.pcb.vcpl == 3, cr2, error,
				guest_wp(&sv->cpu), guest_nxe(&sv->cpu), &f);
	pthread_mutex_unlock(&svm->lock);
	if (r < 0)
		return reflect_exception(sv, env, X86_PF, true, error, cr2);
	switch (f.kind) {
	case SMMU_FAULT_FILLED:
		count_class(svm, STRAP_PF_FILL);
		/* A fill makes the access work; the same address faulting again and
		 * again means the host will not run it (see host_refused()). */
		if (cr2 == sv->refill_va && ++sv->refills > SHADOW_MAX_REFILLS)
			return host_refused(sv, cr2);
		if (cr2 != sv->refill_va) {
			sv->refill_va = cr2;
			sv->refills = 0;
		}
		return SHADOW_RESUME;
	case SMMU_FAULT_GUEST:
		return guest_page_fault(sv, env, cr2, f.guest_error);
	case SMMU_FAULT_MMIO:
		count_class(svm, STRAP_PF_MMIO);
		return data_fault(sv, env, cr2, f.gpa, true);
	case SMMU_FAULT_PT_WRITE:
		count_class(svm, STRAP_PF_PT_WRITE);
		return data_fault(sv, env, cr2, f.gpa, false);
	}
	return SHADOW_RESUME;
}

static enum shadow_action privileged(struct shadow_vcpu *sv, const struct shadow_env *env,
				     unsigned vector, uint32_t error)
{
	struct emu_outcome out;
	emu_privileged(&sv->cpu, env, vector, &out);
	switch (out.status) {
	case EMU_DONE:
		sv->irq_shadow = out.irq_shadow;
		count_class(sv->svm, STRAP_PRIVILEGED);
		count_mnemonic(sv->svm, out.mnemonic);
		shadow_update_root(sv);
		if (!x86_canonical(sv->cpu.regs.rip)) {
			/* An iretq or sysretq that, as on AMD, returned to a
			 * non-canonical RIP (emulate_seg.c): the fetch there is
			 * #GP(0) at the new level, a fault (RF set in its frame). */
			sv->cpu.regs.rflags |= X86_RFLAGS_RF;
			return reflect_exception(sv, env, X86_GP, true, 0, 0);
		}
		return SHADOW_RESUME;
	case EMU_HALT:
		count_class(sv->svm, STRAP_HALT);
		count_mnemonic(sv->svm, out.mnemonic);
		return SHADOW_HALT;
	case EMU_EXCEPTION:
		return reflect_exception(sv, env, out.vector, out.has_error, out.error, out.cr2);
	case EMU_UNSUPPORTED:
	case EMU_NOT_EMULATED:
		return end_vm(sv, "shadow mode: '%s' at rip %#llx: vmmd cannot run %s", out.mnemonic,
			      (unsigned long long) sv->cpu.regs.rip, out.reason ? out.reason : "it");
	case EMU_NOT_PRIVILEGED:
		if (strcmp(out.mnemonic, "int") == 0) {
			/* The fault that trapped it set RF in the RFLAGS image;
			 * int n pushes the RFLAGS it ran with (RF clear: the
			 * instruction before it completed). */
			sv->cpu.regs.rflags &= ~X86_RFLAGS_RF;
			struct reflect_request req = {
				.kind = REFLECT_SOFTWARE, .vector = out.vector, .return_rip = out.next_rip,
			};
			return reflect(sv, env, &req, STRAP_SYSCALL);
		}
		return reflect_exception(sv, env, vector, x86_vector_has_error(vector), error, 0);
	}
	return SHADOW_RESUME;
}

static enum shadow_action dispatch_trap(struct shadow_vcpu *sv, unsigned vector, uint32_t error, uint64_t cr2);

static void take_tlb_flush(struct shadow_vcpu *sv)
{
	pthread_mutex_lock(&sv->svm->lock);
	if (smmu_take_tlb_flush(sv->svm->smmu))
		sv->tlb_flush = true;
	pthread_mutex_unlock(&sv->svm->lock);
}

enum shadow_action shadow_handle_trap(struct shadow_vcpu *sv, unsigned vector, uint32_t error, uint64_t cr2)
{
	/* The livelock guards count only back-to-back faults on one address,
	 * and instructions left to the CPU that come back without progress. */
	if (vector != X86_PF || cr2 != sv->refill_va)
		sv->refills = 0;
	if (sv->cpu.regs.rip != sv->native_rip)
		sv->native_rip = 0;
	enum shadow_action a = dispatch_trap(sv, vector, error, cr2);
	/* The guest flushed (or vmmd's coherence needs it) and the real TLB may
	 * hold removed entries: they must go before the guest runs again
	 * (shadow_run.c); the pool's zap groups are taken there too. */
	take_tlb_flush(sv);
	return a;
}

unsigned shadow_take_zaps(struct shadow_vm *svm, uint32_t *ret_groups, unsigned max)
{
	pthread_mutex_lock(&svm->lock);
	unsigned n = smmu_take_zaps(svm->smmu, ret_groups, max);
	pthread_mutex_unlock(&svm->lock);
	return n;
}

static enum shadow_action dispatch_trap(struct shadow_vcpu *sv, unsigned vector, uint32_t error, uint64_t cr2)
{
	struct shadow_env env;
	make_env(sv, &env);
	/* The frame's IF is what the guest has: on hosts that let popf change
	 * IF at CPL3 it is the guest's own choice, elsewhere it is ours. A
	 * guest ABI masks its events itself: its virtual IF stays on. */
	sv->cpu.pcb.vif = sv->ops || (sv->cpu.regs.rflags & X86_RFLAGS_IF);
	/* Where the guest kernel's stack was when vmmd last saw it (native returns). */
	uint64_t kernel_rsp = sv->kernel_rsp;
	if (sv->cpu.pcb.vcpl == 0)
		sv->kernel_rsp = sv->cpu.regs.rsp;

	const struct shadow_guest_ops *ops = sv->ops;
	/* Hosts where syscall stays at CPL3 fault on the supervisor LSTAR page. */
	if (vector == 256 || (vector == X86_PF && cr2 == monitor_syscall_va(&sv->svm->mon) && sv->cpu.regs.rip == cr2))
		return ops && ops->syscall ? ops->syscall(sv, &env) : syscall_entry(sv, &env);
	switch (vector) {
	case X86_PF:
		return page_fault(sv, &env, error, cr2, kernel_rsp);
	case X86_GP:
	case X86_UD:
	case X86_NP:
	case X86_SS:   /* segment loads fault with #NP or #SS too */
		if (ops && ops->privileged)
			return ops->privileged(sv, &env, vector, error);
		return privileged(sv, &env, vector, error);
	default:
		return reflect_exception(sv, &env, vector, x86_vector_has_error(vector), error, 0);
	}
}

static bool hypercall_insn_at(struct shadow_vcpu *sv, const struct shadow_env *env, uint64_t va)
{
	uint8_t b[2];
	struct shadow_fault f;

	return env->read_virt(env->ctx, va, b, 2, SHADOW_ACC_FETCH, &f) == 0 && b[0] == 0xe6 &&
	       b[1] == VMM_HYPERCALL_PORT;
}

enum shadow_action shadow_handle_hypercall_port(struct shadow_vcpu *sv, bool is_out, unsigned size, uint16_t real_cs)
{
	struct shadow_vm *svm = sv->svm;
	struct shadow_env env;
	uint64_t rip = sv->cpu.regs.rip;
	bool at, past, after, form;

	make_env(sv, &env);
	sv->cpu.pcb.vif = sv->cpu.regs.rflags & X86_RFLAGS_IF;
	sv->refills = 0;
	/* Where the host lets the guest return to user mode without a trap
	 * (native_user_cs), user code may run before vmmd has seen the return:
	 * the real CS says so, and the guest is in user mode. */
	if (svm->native_user_cs && real_cs == svm->native_user_cs && sv->cpu.pcb.vcpl == 0 &&
	    (sv->cpu.pcb.cs | 3) != svm->native_user_cs) {
		sv->cpu.pcb.vcpl = 3;
		sv->cpu.pcb.cs = svm->native_user_cs;
		sv->cpu.pcb.ss = svm->native_user_ss;
		__atomic_fetch_add(&svm->native_user_returns, 1, __ATOMIC_RELAXED);
		shadow_update_root(sv);
	}
	at = hypercall_insn_at(sv, &env, rip);
	past = hypercall_insn_at(sv, &env, rip - 2);
	/* Learnt from the guest kernel only: user code chooses the bytes
	 * around its own port access, and must not make its kernel's
	 * hypercalls #GPs for the rest of the VM's life. */
	if (svm->hc_rip_after < 0 && at != past && sv->cpu.pcb.vcpl == 0 && is_out && size == 1)
		svm->hc_rip_after = past;
	after = svm->hc_rip_after == 1;
	form = is_out && size == 1 && (after ? past : at);
	if (after && form)
		rip -= 2;
	if (sv->cpu.pcb.vcpl != 0 || !form) {
		/* What the guest's own CPU would do with the port closed: #GP(0)
		 * at the instruction (for another form on a host that leaves rip
		 * past it: past it, as vmmd cannot tell its length). */
		sv->cpu.regs.rip = rip;
		return reflect_exception(sv, &env, X86_GP, true, 0, 0);
	}
	sv->cpu.regs.rip = rip + 2;
	count_class(svm, STRAP_HYPERCALL);
	enum shadow_action a = sv->ops && sv->ops->hypercall_port ? sv->ops->hypercall_port(sv, &env)
							       : shadow_hypercall_native(sv);
	shadow_update_root(sv);
	take_tlb_flush(sv);
	return a;
}

bool shadow_deliver_interrupt(struct shadow_vcpu *sv, int vector)
{
	if (vector < 0 || !sv->cpu.pcb.vif)
		return false;
	struct shadow_env env;
	make_env(sv, &env);
	struct reflect_request req = { .kind = REFLECT_EXTERNAL, .vector = vector, .return_rip = sv->cpu.regs.rip };
	count_class(sv->svm, STRAP_INTERRUPT);
	sv->cpu.pcb.halted = false;
	if (reflect_deliver(&sv->cpu, &env, &req) < 0)
		return false;
	shadow_update_root(sv);
	return true;
}

void shadow_get_stats(struct shadow_vm *svm, struct shadow_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (int i = 0; i < STRAP_MAX; i++)
		ret->traps[i] = __atomic_load_n(&svm->traps[i], __ATOMIC_RELAXED);
	for (int i = 0; i < 32; i++)
		ret->vector_counts[i] = __atomic_load_n(&svm->vector_counts[i], __ATOMIC_RELAXED);
	ret->guest_pt_switches = __atomic_load_n(&svm->guest_pt_switches, __ATOMIC_RELAXED);
	pthread_mutex_lock(&svm->lock);
	smmu_get_stats(svm->smmu, &ret->mmu);
	ret->zap_group_pages = smmu_zap_group_pages(svm->smmu);
	pthread_mutex_unlock(&svm->lock);
	ret->native_user_returns = __atomic_load_n(&svm->native_user_returns, __ATOMIC_RELAXED);
	pthread_mutex_lock(&svm->mnemonic_lock);
	for (unsigned i = 0; i < SHADOW_MNEMONICS_MAX && svm->mnemonics[i].name[0]; i++) {
		ret->mnemonics[i] = svm->mnemonics[i];
		ret->n_mnemonics++;
	}
	for (unsigned i = 0; i < SHADOW_PT_MNEMONICS_MAX && svm->pt_writes[i].name[0]; i++)
		ret->pt_writes[ret->n_pt_writes++] = svm->pt_writes[i];
	for (unsigned i = 0; i < SHADOW_PT_MNEMONICS_MAX && svm->pt_writes_native[i].name[0]; i++)
		ret->pt_writes_native[ret->n_pt_writes_native++] = svm->pt_writes_native[i];
	pthread_mutex_unlock(&svm->mnemonic_lock);
}
