/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmmd/common/host_probe.h"
#include "vmmd/common/log.h"
#include "vmmd/shadow/engine.h"
#include "vmmd/worker/shadow_platform.h"
#include "vmmd/worker/shadow_pool_slots.h"
#include "vmmd/worker/shadow_run.h"
#include "vmmd/worker/vm.h"
#include "x86/cpu.h"
#include "x86/cpuid.h"
#include "vmmd/worker/xenpv_guest.h"



/* --- setup ---------------------------------------------------------------- */

/*
 * Machine memory is one memfd when the physmap scatters guest frames: KVM
 * sees machine memory (frames permuted), while vmmd's own guest-physical
 * view — what the loader, the boot tables and inspection use — maps each
 * guest page onto its machine frame, so those paths stay simple and every
 * path that builds machine addresses (shadow entries) must translate.
 */
static int map_guest_view(struct vm *vm, int memfd, const struct physmap *pm, uint64_t guest, const char **why)
{
	uint8_t *view = mmap(NULL, guest, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (view == MAP_FAILED) {
		*why = "cannot reserve the guest-physical view";
		return -errno;
	}
	vm->guest_view = view;
	for (uint64_t gpfn = 0; gpfn < pm->guest_pages; gpfn++) {
		void *p = mmap(view + gpfn * PAGE_SIZE_4K, PAGE_SIZE_4K, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_FIXED, memfd, (off_t) pm->to_machine[gpfn] * PAGE_SIZE_4K);
		if (p == MAP_FAILED) {
			*why = "cannot map the scattered guest-physical view";
			return -errno;
		}
	}
	vm->mem = (struct guest_memory) { .host = view, .size = guest };
	return 0;
}

static void *map_machine(struct vm *vm, uint64_t machine, int *ret_memfd)
{
	*ret_memfd = -1;
	if (!vm->config->scatter)
		return mmap(NULL, machine, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int fd = memfd_create("vmmd-machine", MFD_CLOEXEC);
	if (fd < 0)
		return MAP_FAILED;
	if (ftruncate(fd, (off_t) machine) < 0) {
		close(fd);
		return MAP_FAILED;
	}
	*ret_memfd = fd;
	return mmap(NULL, machine, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

unsigned shadow_pool_pages(uint32_t memory_mib, uint32_t configured, unsigned min)
{
	uint64_t n = ((uint64_t) memory_mib << 20) / PAGE_SIZE_4K / SHADOW_POOL_RATIO;

	if (configured)
		return configured;
	if (n > SHADOW_POOL_MAX)
		n = SHADOW_POOL_MAX;
	return n < min ? min : (unsigned) n;
}

int shadow_run_setup_memory(struct vm *vm, const char **why)
{
	uint64_t guest = (uint64_t) vm->config->memory_mib << 20;
	/* A Xen PV guest: the monitor in slot 509 (Linux's espfix owns 510),
	 * the M2P in its window, and room for Linux's many address spaces. */
	bool pv = vm->boot == VM_BOOT_XENPV;
	unsigned window = pv ? xpv_window_pages(guest / PAGE_SIZE_4K) : 0;
	unsigned pool_pages = shadow_pool_pages(vm->config->memory_mib, vm->config->pool_pages,
						pv ? XENPV_POOL_PAGES : SHADOW_POOL_MIN);
	uint64_t machine = shadow_machine_bytes(guest, window, pool_pages);
	if (guest > GUEST_MEMORY_MAX) {
		*why = "memory_mib is above what shadow mode supports (3072)";
		return -EINVAL;
	}
	int memfd;
	void *host = map_machine(vm, machine, &memfd);
	if (host == MAP_FAILED) {
		int r = -errno;
		if (memfd >= 0)
			close(memfd);
		*why = "cannot map machine memory";
		return r;
	}
	vm->machine_host = host;
	vm->machine_size = machine;
	/* Identity physmap: guest-physical [0, guest) is machine [0, guest),
	 * so the loader and the boot tables write guest memory directly. */
	vm->mem = (struct guest_memory) { .host = host, .size = guest };
	/* Guest frames + monitor in slot 0; the shadow page-table pool in slots
	 * of its own, so KVM can be made to forget what it derived from pool
	 * pages vmmd changed behind its back (shadow_pool_slots.h). */
	uint64_t pool = shadow_pool_mpa(guest, window);
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = pool,
		.userspace_addr = (uint64_t) (uintptr_t) host,
	};
	int r = 0;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		*why = "KVM_SET_USER_MEMORY_REGION failed";
		r = -errno;
		goto out;
	}
	r = pool_slots_init(&vm->pool_slots, vm->vm_fd, pool, (uint8_t *) host + pool, pool_pages, 1,
			    vm->config->zap == VM_ZAP_ALL ? 0 : POOL_SLOTS_GROUP_PAGES, why);
	if (r < 0)
		goto out;
	vm->shadow = calloc(1, sizeof(*vm->shadow));
	if (!vm->shadow) {
		r = -ENOMEM;
		goto out;
	}
	/* The walk's reserved bits follow the CPUID the vCPUs get (vcpu.c). */
	struct gw_config paging = { .phys_bits = 52 };
	struct kvm_cpuid2 *cpuid;
	if (vcpu_supported_cpuid(vm->kvm_fd, &cpuid) == 0) {
		x86_cpuid_paging(cpuid->entries, cpuid->nent, &paging);
		free(cpuid);
	}
	struct shadow_vm_config cfg = {
		.guest_bytes = guest, .pool_pages = pool_pages, .zap_group = vm->pool_slots.group_pages,
		.prefetch = vm->config->prefetch,
		.phys_bits = paging.phys_bits, .no_1g = paging.no_1g,
		.monitor_slot = pv ? MON_SLOT_XENPV : MON_SLOT_DEFAULT, .window_pages = window,
		.strategy = vm->config->strategy == VM_SHADOW_VTLB ? SMMU_VTLB : SMMU_CACHED,
		.direct = vm->config->strategy == VM_SHADOW_DIRECT,
		.bus = vm->bus,
		/* Any fixed non-zero seed: the same permutation every run, so a failure reproduces. */
		.scatter_seed = vm->config->scatter ? 0x5eed5ca77e2ULL : 0,
	};
	/* PVM runs the guest's CPL3 code on the host's (Linux's) GDT: an iretq
	 * to its __USER_CS/__USER_DS does not trap there (engine.h). A Xen PV
	 * kernel returns to user mode only through its iret hypercall. */
	if (strcmp(host_facts_cached()->virt, "pvm") == 0 && !pv) {
		cfg.native_user_cs = 0x33;
		cfg.native_user_ss = 0x2b;
	}
	r = shadow_vm_init(vm->shadow, (struct machine_memory) { .host = host, .size = machine }, &cfg);
	if (r < 0) {
		*why = "cannot build the shadow engine";
		goto out;
	}
	if (memfd >= 0)
		r = map_guest_view(vm, memfd, &vm->shadow->pm, guest, why);
out:
	if (memfd >= 0)
		close(memfd);
	return r;
}

void shadow_run_destroy(struct vm *vm)
{
	if (vm->shadow) {
		shadow_vm_destroy(vm->shadow);
		free(vm->shadow);
		vm->shadow = NULL;
	}
	pool_slots_free(&vm->pool_slots);
	if (vm->guest_view)
		munmap(vm->guest_view, vm->mem.size);
	vm->guest_view = NULL;
	if (vm->machine_host)
		munmap(vm->machine_host, vm->machine_size);
	vm->machine_host = NULL;
	vm->mem = (struct guest_memory) { 0 };
}

static int set_msrs(struct vcpu *v, const struct monitor *mon)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[3];
	} m = { .hdr.nmsrs = 3, .e = {
		{ .index = X86_MSR_STAR, .data = (uint64_t) MON_SEL_CODE0 << 32 },
		{ .index = X86_MSR_LSTAR, .data = monitor_syscall_va(mon) },
		{ .index = X86_MSR_SFMASK, .data = X86_RFLAGS_TF | X86_RFLAGS_IF | X86_RFLAGS_DF |
		  X86_RFLAGS_IOPL | X86_RFLAGS_NT | X86_RFLAGS_AC },   /* the stub runs clean */
	} };
	if (ioctl(v->fd, KVM_SET_MSRS, &m) != 3)
		return -EIO;
	/* CPUID faulting, where KVM offers it: the guest's cpuid traps too. */
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} pi = { .hdr.nmsrs = 1, .e = { { .index = X86_MSR_PLATFORM_INFO, .data = 1ULL << 31 } } };
	if (ioctl(v->fd, KVM_SET_MSRS, &pi) == 1) {
		pi.e[0] = (struct kvm_msr_entry) { .index = X86_MSR_MISC_FEATURES, .data = 1 };
		if (ioctl(v->fd, KVM_SET_MSRS, &pi) == 1)
			v->cpuid_faulting = true;
	}
	return 0;
}

/* The real segment state for running the guest at CPL3 as the PCB says. */
static void real_sregs(struct kvm_sregs *s, const struct shadow_vcpu *sv)
{
	const struct shadow_pcb *p = &sv->cpu.pcb;
	s->cs = (struct kvm_segment) {
		.base = 0, .limit = 0xffffffff, .selector = (uint16_t) (p->cs | 3), .type = 0xb,
		.present = 1, .dpl = 3, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	s->ss = (struct kvm_segment) {
		.base = 0, .limit = 0xffffffff, .selector = (uint16_t) ((p->ss ? p->ss : 0x10) | 3), .type = 0x3,
		.present = 1, .dpl = 3, .db = 1, .s = 1, .l = 0, .g = 1,
	};
	s->ds = s->es = (struct kvm_segment) { .unusable = 1 };
	s->fs = (struct kvm_segment) { .base = p->fs_base, .unusable = 1 };
	s->gs = (struct kvm_segment) { .base = p->gs_base, .unusable = 1 };
	s->cr3 = sv->root;
}

int shadow_run_setup_vcpu(struct vcpu *v, uint64_t entry, uint64_t stack, uint64_t arg)
{
	struct vm *vm = v->vm;
	v->shadow = calloc(1, sizeof(*v->shadow));
	if (!v->shadow)
		return -ENOMEM;
	v->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->kick_fd < 0)
		return -errno;
	if (vm->xenpv) {
		/* A Xen PV kernel's start of day (xenpv_boot.c built it). */
		int r = xenpv_guest_setup_vcpu(v);
		if (r < 0)
			return r;
	} else {
		shadow_vcpu_init_boot(v->shadow, vm->shadow, v->index, entry, stack, arg);
	}
	if (v->index != 0)
		v->shadow->cpu.pcb.halted = true;   /* APs wait (INIT/SIPI is future work) */

	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cr0 = (1u << 0) | (1u << 1) | (1u << 4) | (1u << 5) | (1u << 16) | (1u << 31);
	s.cr4 = (1u << 5) | (1u << 9) | (1u << 10);            /* PAE OSFXSR OSXMMEXCPT */
	s.efer = (1u << 0) | (1u << 8) | (1u << 10) | (1u << 11); /* SCE LME LMA NXE */
	const struct monitor *mon = &vm->shadow->mon;
	s.gdt = (struct kvm_dtable) { .base = monitor_va(mon, MON_PAGE_GDT), .limit = MON_GDT_ENTRIES * 8 - 1 };
	s.idt = (struct kvm_dtable) { .base = monitor_va(mon, MON_PAGE_IDT), .limit = 256 * 16 - 1 };
	s.tr = (struct kvm_segment) {
		.base = monitor_va(mon, MON_PAGE_TSS), .limit = MON_TSS_LIMIT, .selector = MON_SEL_TSS, .type = 11, .present = 1,
	};
	s.ldt = (struct kvm_segment) { .unusable = 1 };
	real_sregs(&s, v->shadow);
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	/* UMIP makes sgdt/sidt/sldt/smsw/str trap at CPL3, closing that hole where KVM allows it. */
	s.cr4 |= 1u << 11;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) == 0)
		v->umip = true;
	int r = set_msrs(v, mon);
	if (r < 0)
		return r;
	struct kvm_regs regs = v->shadow->cpu.regs;
	regs.rflags = X86_RFLAGS_FIXED | (v->shadow->cpu.pcb.vif ? X86_RFLAGS_IF : 0);
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	/* EVENTS too: capture_interrupted must see an exception KVM still holds. */
	v->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
	v->shadow_state_fresh = true;
	return 0;
}

/* --- the loop ---------------------------------------------------------------- */

/*
 * Before every entry: make KVM forget the pool groups the shadow MMU says
 * are due (shadow_zap.c: removals the guest has flushed, reused pages,
 * write-protection), registering groups used for the first time. Fills
 * need nothing: KVM re-walks a not-present entry anyway.
 */
static bool sync_pool(struct vcpu *v)
{
	struct vm *vm = v->vm;
	unsigned zaps = 0;
	unsigned n = shadow_take_zaps(vm->shadow, vm->pool_slots.due, vm->pool_slots.nr_groups);
	if (n == 0)
		return true;
	int r = pool_slots_zap(&vm->pool_slots, vm->pool_slots.due, n, &zaps);
	for (unsigned k = 0; k < zaps; k++)
		vcpu_count(v, VCPU_STAT_POOL_ZAP);
	if (r < 0) {
		log_error_errno(r, "Failed to re-register the shadow pool: %m");
		return false;
	}
	return true;
}

static void write_back(struct vcpu *v)
{
	struct kvm_sync_regs *s = &v->run->s.regs;
	const struct shadow_vcpu *sv = v->shadow;
	s->regs = sv->cpu.regs;
	s->regs.rflags = shadow_real_rflags(sv);
	real_sregs(&s->sregs, sv);
	if (v->shadow->tlb_flush) {
		/* Toggling CR4.PGE flushes the whole TLB (SDM 4.10.4.1), and KVM
		 * resets its MMU context on the change; the shadow tables use no
		 * global pages, so PGE's value itself does not matter. */
		s->sregs.cr4 ^= 1ULL << 7;
		v->shadow->tlb_flush = false;
	}
	v->run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
}

static void end_vm(struct vcpu *v, enum vm_exit_reason reason, const char *message)
{
	struct vm_exit e = { .reason = reason, .vcpu = v->index };
	snprintf(e.message, sizeof(e.message), "%s", message);
	vm_request_exit(v->vm, &e);
}

/* Exit at a monitor stub: rebuild the guest's registers from the synced
 * registers (GPRs are the guest's) and the CPU's frame on the monitor stack. */
static bool capture_trap(struct vcpu *v, int *ret_vector, uint32_t *ret_error, uint64_t *ret_cr2)
{
	struct kvm_sync_regs *s = &v->run->s.regs;
	struct shadow_vcpu *sv = v->shadow;
	int vector = monitor_stub_vector(&v->vm->shadow->mon, s->regs.rip);
	if (vector < 0)
		return false;
	uint64_t rip = sv->cpu.regs.rip, rsp = sv->cpu.regs.rsp, rflags = sv->cpu.regs.rflags;
	sv->cpu.regs = s->regs;
	sv->cpu.regs.rflags = rflags;
	shadow_take_rflags(sv, s->regs.rflags);
	*ret_error = 0;
	*ret_cr2 = s->sregs.cr2;
	if (vector == 256) {
		/* Native syscall (VT-x/AMD-V): rcx/r11 hold rip/rflags, rsp is the guest's. */
		*ret_vector = 256;
		return true;
	}
	bool has_error = x86_vector_has_error(vector);
	uint64_t *frame = monitor_ptr(&v->vm->shadow->mon, &v->vm->shadow->mm, s->regs.rsp, 6 * 8);
	if (!frame)
		return false;
	unsigned i = 0;
	if (has_error)
		*ret_error = (uint32_t) frame[i++];
	sv->cpu.regs.rip = frame[i];
	uint64_t cs = frame[i + 1];
	shadow_take_rflags(sv, frame[i + 2]);
	sv->cpu.regs.rsp = frame[i + 3];
	if ((cs & 3) != 3) {
		/* The monitor itself faulted: a vmmd bug, not the guest's. */
		log_error("vCPU %u: exception %d inside the monitor at %#llx (guest was at %#llx/%#llx)",
			  v->index, vector, (unsigned long long) frame[i], (unsigned long long) rip,
			  (unsigned long long) rsp);
		return false;
	}
	*ret_vector = vector;
	return true;
}

/* After a kick the guest is either in its own code (take its state) or
 * between a fault and the stub's exit (leave it: the exit comes next).
 * A fault KVM has recognised but not yet delivered leaves RIP on the
 * faulting instruction: changing RIP now would deliver that exception at
 * the new RIP (the guest's PV event callback, say), so that state is not
 * ours to take either. */
static bool capture_interrupted(struct vcpu *v)
{
	struct kvm_sync_regs *s = &v->run->s.regs;
	if (monitor_contains(&v->vm->shadow->mon, s->regs.rip) || (s->sregs.cs.selector & 3) != 3)
		return false;
	if (s->events.exception.injected || s->events.exception.pending || s->events.nmi.injected ||
	    s->events.interrupt.injected)
		return false;
	uint64_t rflags = v->shadow->cpu.regs.rflags;
	v->shadow->cpu.regs = s->regs;
	v->shadow->cpu.regs.rflags = rflags;
	shadow_take_rflags(v->shadow, s->regs.rflags);
	return true;
}

/* The engine's copy of the registers is the vCPU's only at these points:
 * after a trap was handled, or after a kick found the guest in its code. */

/* Anything for the guest to take: a raw vector (irq.inject) or the PIC's
 * output; for a Xen PV guest, an event its mask lets through. */
static bool interrupt_pending(struct vcpu *v)
{
	if (v->vm->xenpv)
		return xenpv_guest_pending(v);
	return pcb_highest_pending(&v->shadow->cpu.pcb) >= 0 || shadow_platform_pending(v->vm);
}

static bool try_deliver(struct vcpu *v)
{
	struct shadow_vcpu *sv = v->shadow;
	if (v->vm->xenpv) {
		bool failed;
		bool delivered = xenpv_guest_deliver(v, &failed);
		if (failed)
			end_vm(v, VM_EXIT_INTERNAL_ERROR, sv->fail_message);
		return delivered;
	}
	if (!sv->cpu.pcb.vif || sv->irq_shadow)
		return false;
	int vector = pcb_highest_pending(&sv->cpu.pcb);
	if (vector >= 0)
		pcb_clear_pending(&sv->cpu.pcb, vector);
	else if (v->index == 0)
		vector = shadow_platform_take_vector(v->vm);   /* INTA */
	if (vector < 0)
		return false;
	if (!shadow_deliver_interrupt(sv, vector)) {
		end_vm(v, VM_EXIT_TRIPLE_FAULT, "triple fault delivering a virtual interrupt");
		return false;
	}
	return true;
}

/* Emulated hlt: sleep until a virtual interrupt is pending, the VM is
 * paused or stopped, or inspection holds this vCPU (vm_hold_vcpu). */
static void halt_wait(struct vcpu *v)
{
	struct shadow_vcpu *sv = v->shadow;
	while (sv->cpu.pcb.halted && !interrupt_pending(v) &&
	       __atomic_load_n(&v->vm->run_state, __ATOMIC_ACQUIRE) == VM_RUN_RUNNING &&
	       !__atomic_load_n(&v->hold, __ATOMIC_ACQUIRE)) {
		/* Every wake-up (interrupt, pause, stop) writes kick_fd (vcpu_kick
		 * does too), so an idle VM sleeps here without polling (bench B5). */
		struct pollfd pfd = { .fd = v->kick_fd, .events = POLLIN };
		if (poll(&pfd, 1, -1) > 0) {
			uint64_t n;
			ssize_t k = read(v->kick_fd, &n, sizeof(n));
			(void) k;
		}
	}
}

void shadow_run_raise(struct vcpu *v, unsigned vector)
{
	pcb_set_pending(&v->shadow->cpu.pcb, vector);
	vcpu_kick(v);   /* writes kick_fd too, so an emulated hlt wakes */
}

/* What the engine decided: false when the vCPU must stop. */
static bool act(struct vcpu *v, enum shadow_action a)
{
	switch (a) {
	case SHADOW_RESUME:
		break;
	case SHADOW_HALT:
		v->shadow->cpu.pcb.halted = true;
		break;
	case SHADOW_TRIPLE_FAULT:
		end_vm(v, VM_EXIT_TRIPLE_FAULT, "triple fault (an exception could not be delivered to the guest)");
		return false;
	case SHADOW_HOST_REFUSED:
		end_vm(v, VM_EXIT_INTERNAL_ERROR, v->shadow->fail_message);
		return false;
	}
	return true;
}

/* One trap: returns false when the vCPU must stop. */
static bool handle_trap(struct vcpu *v)
{
	int vector;
	uint32_t error;
	uint64_t cr2;
	if (!capture_trap(v, &vector, &error, &cr2)) {
		end_vm(v, VM_EXIT_INTERNAL_ERROR, "shadow mode: a trap vmmd could not read (monitor fault)");
		return false;
	}
	if (!act(v, shadow_handle_trap(v->shadow, vector, error, cr2)))
		return false;
	write_back(v);
	return true;
}

/* A port exit at the hypercall port: straight from the guest's code at real
 * CPL3, so the synced registers are all the guest's (no monitor frame). */
static bool handle_hypercall(struct vcpu *v)
{
	struct shadow_vcpu *sv = v->shadow;
	const struct kvm_run *run = v->run;

	sv->cpu.regs = run->s.regs.regs;
	if (!act(v, shadow_handle_hypercall_port(sv, run->io.direction == KVM_EXIT_IO_OUT, run->io.size,
						 run->s.regs.sregs.cs.selector)))
		return false;
	write_back(v);
	return true;
}

void shadow_run_loop(struct vcpu *v)
{
	struct shadow_vcpu *sv = v->shadow;
	for (;;) {
		if (!vcpu_wait_runnable(v))
			return;
		if (sv->cpu.pcb.halted) {
			halt_wait(v);
			if (!interrupt_pending(v) || !sv->cpu.pcb.vif)
				continue;   /* paused, held, stopping, or nothing deliverable yet */
			sv->cpu.pcb.halted = false;
		}
		if (v->shadow_state_fresh && try_deliver(v))
			write_back(v);
		sv->irq_shadow = false;   /* the instruction after sti/mov ss runs first */
		if (!sync_pool(v)) {
			end_vm(v, VM_EXIT_INTERNAL_ERROR, "shadow mode: cannot re-register the shadow pool with KVM");
			return;
		}
		int r = ioctl(v->fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno != EINTR && errno != EAGAIN) {
				end_vm(v, VM_EXIT_INTERNAL_ERROR, "KVM_RUN failed in shadow mode");
				return;
			}
			__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELAXED);
			vcpu_count(v, VCPU_STAT_INTR);
			v->run->kvm_dirty_regs = 0;
			v->shadow_state_fresh = capture_interrupted(v);
			continue;
		}
		v->run->kvm_dirty_regs = 0;
		struct kvm_run *run = v->run;
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == VMM_MONITOR_PORT) {
			vcpu_count(v, VCPU_STAT_IO);
			if (!handle_trap(v))
				return;
			v->shadow_state_fresh = true;
			continue;
		}
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == VMM_HYPERCALL_PORT) {
			vcpu_count(v, VCPU_STAT_IO);
			if (!handle_hypercall(v))
				return;
			v->shadow_state_fresh = true;
			continue;
		}
		if (!vcpu_handle_exit(v))
			return;
	}
}
