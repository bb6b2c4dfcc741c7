/* SPDX-License-Identifier: MIT */
#include <asm/kvm_para.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abi/bootinfo.h"
#include "base/macro.h"
#include "vmmd/worker/emulation_fallback.h"
#include "vmmd/worker/host_profile.h"
#include "vmmd/common/log.h"
#include "vmmd/worker/shadow_run.h"
#include "vmmd/worker/vcpu.h"
#include "vmmd/worker/vm.h"
#include "x86/cpu.h"

static const char *const stat_names[VCPU_STAT_MAX] = {
	[VCPU_STAT_IO] = "io", [VCPU_STAT_MMIO] = "mmio", [VCPU_STAT_HLT] = "hlt",
	[VCPU_STAT_SHUTDOWN] = "shutdown", [VCPU_STAT_INTR] = "intr",
	[VCPU_STAT_IRQ_WINDOW] = "irq_window", [VCPU_STAT_EMULATION_FAILURE] = "emulation_failure",
	[VCPU_STAT_FAIL_ENTRY] = "fail_entry", [VCPU_STAT_SYSTEM_EVENT] = "system_event",
	[VCPU_STAT_OTHER] = "other", [VCPU_STAT_POOL_ZAP] = "shadow_pool_zap",
};

const char *vcpu_stat_name(enum vcpu_stat s)
{
	return s < VCPU_STAT_MAX ? stat_names[s] : "unknown";
}

void vcpu_count(struct vcpu *v, enum vcpu_stat s)
{
	__atomic_fetch_add(&v->stats[s], 1, __ATOMIC_RELAXED);
}

static void on_kick(int sig) { (void) sig; }

int vcpu_signal_setup(void)
{
	/* No SA_RESTART: the point of the kick is that KVM_RUN returns EINTR. */
	struct sigaction sa = { .sa_handler = on_kick };
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **ret)
{
	unsigned n = 256;
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = n;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		int r = -errno;
		free(cpuid);
		return r;
	}
	*ret = cpuid;
	return 0;
}

/* The guest sees the host's supported CPUID, with its own APIC ID per vCPU
 * and without the KVM features its host profile hides (host_profile.h);
 * KVM also checks EFER.LME against it, so long mode needs this. */
static int set_cpuid(struct vcpu *v)
{
	struct kvm_cpuid2 *cpuid;
	int r = vcpu_supported_cpuid(v->vm->kvm_fd, &cpuid);
	if (r < 0)
		return r;
	for (unsigned i = 0; r == 0 && i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffff) | (v->index << 24);
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = v->index;
		else if (e->function == KVM_CPUID_FEATURES)
			e->eax &= ~host_profile_kvm_features_hidden(v->vm->host_profile);
	}
	if (r == 0 && ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0)
		r = -errno;
	free(cpuid);
	return r;
}

int vcpu_init(struct vcpu *v, struct vm *vm, unsigned index)
{
	v->vm = vm;
	v->index = index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long) index);
	if (v->fd < 0) {
		v->fd = -1;
		return -errno;
	}
	void *run = mmap(NULL, vm->run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED)
		return -errno;
	v->run = run;
	return set_cpuid(v);
}

/* --- state, for inspection: the vCPU must be out of KVM_RUN (vm_hold_vcpu) ----- */

int vcpu_get_regs(struct vcpu *v, struct kvm_regs *ret)
{
	return ioctl(v->fd, KVM_GET_REGS, ret) < 0 ? -errno : 0;
}

int vcpu_set_regs(struct vcpu *v, const struct kvm_regs *regs)
{
	return ioctl(v->fd, KVM_SET_REGS, regs) < 0 ? -errno : 0;
}

int vcpu_get_sregs(struct vcpu *v, struct kvm_sregs *ret)
{
	return ioctl(v->fd, KVM_GET_SREGS, ret) < 0 ? -errno : 0;
}

int vcpu_get_mp_state(struct vcpu *v, uint32_t *ret)
{
	struct kvm_mp_state mp;

	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0)
		return -errno;
	*ret = mp.mp_state;
	return 0;
}

int vcpu_get_cpuid(struct vcpu *v, struct kvm_cpuid2 **ret)
{
	unsigned n = 256;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));

	if (!c)
		return -ENOMEM;
	c->nent = n;
	if (ioctl(v->fd, KVM_GET_CPUID2, c) < 0) {
		int r = -errno;
		free(c);
		return r;
	}
	if (c->nent > n)
		c->nent = n;
	*ret = c;
	return 0;
}

int vcpu_nmi(struct vcpu *v)
{
	return ioctl(v->fd, KVM_NMI) < 0 ? -errno : 0;
}

int vcpu_set_entry(struct vcpu *v, const struct vcpu_entry *e)
{
	struct kvm_sregs sregs;
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	bool long_mode = e->mode == VCPU_ENTRY_LONG;
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = e->cs, .type = 0xb,
		.present = 1, .dpl = 0, .db = !long_mode, .s = 1, .l = long_mode, .g = 1,
	};
	struct kvm_segment data = code;
	data.selector = e->ds;
	data.type = 0x3;
	data.l = 0;
	data.db = 1;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.gdt.base = e->gdt_base;
	sregs.gdt.limit = e->gdt_limit;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;   /* until the guest loads its own IDT, any exception triple-faults */
	if (long_mode) {
		sregs.cr3 = e->cr3;
		sregs.cr4 = X86_CR4_BOOT;
		sregs.cr0 = X86_CR0_BOOT;
		sregs.efer = X86_EFER_BOOT;
	} else {
		/* PVH: protected mode, paging off (Xen's HVM direct boot ABI). */
		sregs.cr3 = 0;
		sregs.cr4 = 0;
		sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
		sregs.efer = 0;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	struct kvm_regs regs = { .rip = e->rip, .rsp = e->rsp, .rdi = e->rdi, .rsi = e->rsi,
				 .rbx = e->rbx, .rflags = X86_RFLAGS_FIXED };
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	/* data_offset comes from KVM, but stay inside the run page anyway. */
	uint64_t len = (uint64_t) run->io.size * run->io.count;
	if (run->io.data_offset >= (uint64_t) v->vm->run_mmap_size ||
	    len > (uint64_t) v->vm->run_mmap_size - run->io.data_offset)
		return;
	uint8_t *data = (uint8_t *) run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	for (uint32_t i = 0; i < run->io.count; i++)
		(void) bus_dispatch(v->vm->bus, BUS_PIO, run->io.port, data + i * run->io.size,
				    run->io.size, is_write);
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	if (run->mmio.len > sizeof(run->mmio.data))
		return;
	(void) bus_dispatch(v->vm->bus, BUS_MMIO, run->mmio.phys_addr, run->mmio.data,
			    run->mmio.len, run->mmio.is_write);
}

static void fail(struct vcpu *v, enum vm_exit_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct vcpu *v, enum vm_exit_reason reason, const char *fmt, ...)
{
	struct vm_exit e = { .reason = reason, .vcpu = v->index };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	vm_request_exit(v->vm, &e);
}

/* Returns false when the vCPU must stop: KVM's emulator gave up and vmmd's
 * fallback (emulation_fallback.h) could not finish the instruction either. */
static bool emulation_failure(struct vcpu *v)
{
	char msg[sizeof(((struct vm_exit *) 0)->message)];
	vcpu_count(v, VCPU_STAT_EMULATION_FAILURE);
	if (emulation_fallback(v, msg, sizeof(msg)) == 0)
		return true;
	fail(v, VM_EXIT_EMULATION_FAILURE, "%s", msg);
	return false;
}

/* Returns false when the vCPU must leave its loop. */
bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_count(v, VCPU_STAT_IO);
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_count(v, VCPU_STAT_MMIO);
		handle_mmio(v);
		return true;
	case KVM_EXIT_HLT:
		/* With the in-kernel irqchip KVM sleeps on hlt itself; this only
		 * comes from a guest that halts with nothing to wake it. */
		vcpu_count(v, VCPU_STAT_HLT);
		fail(v, VM_EXIT_INTERNAL_ERROR, "vCPU %u halted with no way to wake up", v->index);
		return false;
	case KVM_EXIT_SHUTDOWN:
		vcpu_count(v, VCPU_STAT_SHUTDOWN);
		fail(v, VM_EXIT_TRIPLE_FAULT, "triple fault on vCPU %u", v->index);
		return false;
	case KVM_EXIT_INTR:
		vcpu_count(v, VCPU_STAT_INTR);
		return true;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		vcpu_count(v, VCPU_STAT_IRQ_WINDOW);
		return true;
	case KVM_EXIT_FAIL_ENTRY:
		vcpu_count(v, VCPU_STAT_FAIL_ENTRY);
		fail(v, VM_EXIT_INTERNAL_ERROR, "KVM failed to enter the guest: hardware reason 0x%llx",
		     (unsigned long long) run->fail_entry.hardware_entry_failure_reason);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_count(v, VCPU_STAT_SYSTEM_EVENT);
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			fail(v, VM_EXIT_GUEST_RESET, "the guest requested a reset");
		else
			fail(v, VM_EXIT_STOPPED, "the guest powered off");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
			return emulation_failure(v);
		vcpu_count(v, VCPU_STAT_OTHER);
		fail(v, VM_EXIT_INTERNAL_ERROR, "KVM internal error, suberror %u", run->internal.suberror);
		return false;
	default:
		vcpu_count(v, VCPU_STAT_OTHER);
		fail(v, VM_EXIT_INTERNAL_ERROR, "unhandled KVM exit reason %u", run->exit_reason);
		return false;
	}
}

/* Park while paused, or while inspection holds this vCPU alone; false once the VM is stopping. */
bool vcpu_wait_runnable(struct vcpu *v)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->lock);
	while (vm->run_state == VM_RUN_PAUSED || (v->hold && vm->run_state == VM_RUN_RUNNING)) {
		vm->parked++;
		v->parked = true;
		pthread_cond_broadcast(&vm->cond);
		pthread_cond_wait(&vm->cond, &vm->lock);
		v->parked = false;
		vm->parked--;
	}
	bool go = vm->run_state == VM_RUN_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	return go;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	if (v->shadow) {
		shadow_run_loop(v);
		return NULL;
	}
	while (vcpu_wait_runnable(v)) {
		int r = ioctl(v->fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* A kick: clear it and look at the run state again. */
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELAXED);
				vcpu_count(v, VCPU_STAT_INTR);
				continue;
			}
			fail(v, VM_EXIT_INTERNAL_ERROR, "KVM_RUN failed on vCPU %u: %s", v->index, strerror(errno));
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	return NULL;
}

int vcpu_start_thread(struct vcpu *v)
{
	/* vCPU threads take no process signals but the kick. */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = -pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		v->thread_started = true;
		char name[16];
		snprintf(name, sizeof(name), "vcpu%u", v->index);
		pthread_setname_np(v->thread, name);
	}
	return r;
}

void vcpu_kick(struct vcpu *v)
{
	if (v->kick_fd >= 0) {
		/* Durable, unlike the signal: a shadow vCPU about to sleep in an
		 * emulated hlt sees it even if the signal came just before. */
		uint64_t one = 1;
		ssize_t k = write(v->kick_fd, &one, sizeof(one));
		(void) k;
	}
	if (!v->run || !v->thread_started)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_cleanup(struct vcpu *v)
{
	free(v->shadow);
	v->shadow = NULL;
	v->kick_fd = safe_close(v->kick_fd);
	if (v->run)
		munmap(v->run, v->vm->run_mmap_size);
	v->run = NULL;
	v->fd = safe_close(v->fd);
}
