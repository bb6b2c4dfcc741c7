/* SPDX-License-Identifier: MIT */
/* vCPU state (registers, segments, control registers, the guest PCB) and the dispatch of inspect.h's methods. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/macro.h"
#include "vmmd/shadow/engine.h"
#include "vmmd/worker/inspect.h"
#include "vmmd/worker/shadow_inspect.h"
#include "vmmd/worker/vm.h"
#include "x86/cpu.h"
#include "x86/cpuid.h"

/* --- holding the vCPUs still ------------------------------------------------- */

int inspect_hold(struct vm *vm, struct inspect_hold *h)
{
	pthread_mutex_lock(&vm->lock);
	enum vm_run_state s = vm->run_state;
	pthread_mutex_unlock(&vm->lock);
	h->resume = false;
	if (s == VM_RUN_STOPPING)
		return -ESHUTDOWN;
	/* Also when paused: vm_pause returns at once once every vCPU is parked. */
	int r = vm_pause(vm);
	if (r < 0) {
		if (s == VM_RUN_RUNNING)
			(void) vm_resume(vm);
		return r;
	}
	h->resume = s == VM_RUN_RUNNING;
	return 0;
}

void inspect_release(struct vm *vm, struct inspect_hold *h)
{
	if (h->resume)
		(void) vm_resume(vm);
	h->resume = false;
}

int inspect_hold_error(int r, struct rpc_error *err)
{
	return worker_error_set(err, WORKER_ERROR_STATE, NULL, "%s", r == -ESHUTDOWN ? "the VM is stopping" :
				"the vCPUs did not stop in time");
}

/* --- parameters -------------------------------------------------------------- */

void inspect_fail(struct rpc_call *call, const struct rpc_error *err)
{
	rpc_call_error(call, err, NULL);
}

int inspect_param_u64(struct json_object *params, const char *name, bool required, uint64_t dflt,
		      uint64_t *ret, struct rpc_error *err)
{
	struct json_object *v;
	if (!params || !json_object_object_get_ex(params, name, &v)) {
		if (required)
			return rpc_error_set_field(err, RPC_INVALID_PARAMS, name, "missing parameter '%s'", name);
		*ret = dflt;
		return 0;
	}
	/* json-c keeps integers above INT64_MAX as uint64 (get_int64 then saturates). */
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return rpc_error_set_field(err, RPC_INVALID_PARAMS, name,
					   "parameter '%s' must be an integer in [0, 2^64)", name);
	*ret = json_object_get_uint64(v);
	return 0;
}

int inspect_param_vcpu(struct vm *vm, struct json_object *params, unsigned *ret, struct rpc_error *err)
{
	uint64_t v;
	int r = inspect_param_u64(params, "vcpu", false, 0, &v, err);
	if (r < 0)
		return r;
	if (v >= vm->n_vcpus)
		return rpc_error_set_field(err, RPC_INVALID_PARAMS, "vcpu", "vcpu %llu out of range: the VM has %u",
					   (unsigned long long) v, vm->n_vcpus);
	*ret = (unsigned) v;
	return 0;
}

/* --- pure formatting ---------------------------------------------------------- */

static const struct {
	const char *name;
	size_t offset;
} reg_table[] = {
#define R(n) { #n, offsetof(struct kvm_regs, n) }
	R(rax), R(rbx), R(rcx), R(rdx), R(rsi), R(rdi), R(rsp), R(rbp),
	R(r8), R(r9), R(r10), R(r11), R(r12), R(r13), R(r14), R(r15),
	R(rip), R(rflags),
#undef R
};

#define N_REGS (ELEMENTSOF(reg_table))

static uint64_t *reg_ptr(struct kvm_regs *regs, size_t i)
{
	return (uint64_t *) ((char *) regs + reg_table[i].offset);
}

struct json_object *inspect_regs_json(const struct kvm_regs *regs)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < N_REGS; i++)
		json_object_object_add(o, reg_table[i].name,
				       json_object_new_uint64(*reg_ptr((struct kvm_regs *) regs, i)));
	return o;
}

int inspect_regs_apply(struct json_object *obj, struct kvm_regs *regs, struct rpc_error *err)
{
	if (!obj || !json_object_is_type(obj, json_type_object))
		return rpc_error_set_field(err, RPC_INVALID_PARAMS, "regs", "regs must be an object");
	struct kvm_regs copy = *regs;
	size_t n = 0;
	json_object_object_foreach(obj, key, val) {
		size_t i = 0;
		char field[64];
		snprintf(field, sizeof(field), "regs.%.40s", key);
		while (i < N_REGS && strcmp(reg_table[i].name, key) != 0)
			i++;
		if (i == N_REGS)
			return rpc_error_set_field(err, RPC_INVALID_PARAMS, field,
						   "unknown register '%.40s' (rax..r15, rip, rflags)", key);
		if (!json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0)
			return rpc_error_set_field(err, RPC_INVALID_PARAMS, field,
						   "register '%.40s' must be an integer in [0, 2^64)", key);
		*reg_ptr(&copy, i) = json_object_get_uint64(val);
		n++;
	}
	if (n == 0)
		return rpc_error_set_field(err, RPC_INVALID_PARAMS, "regs", "regs names no register");
	*regs = copy;
	return 0;
}

static struct json_object *segment_json(const struct kvm_segment *s)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "selector", json_object_new_int(s->selector));
	json_object_object_add(o, "base", json_object_new_uint64(s->base));
	json_object_object_add(o, "limit", json_object_new_uint64(s->limit));
	json_object_object_add(o, "type", json_object_new_int(s->type));
	json_object_object_add(o, "dpl", json_object_new_int(s->dpl));
	json_object_object_add(o, "present", json_object_new_boolean(s->present));
	json_object_object_add(o, "s", json_object_new_boolean(s->s));
	json_object_object_add(o, "l", json_object_new_boolean(s->l));
	json_object_object_add(o, "db", json_object_new_boolean(s->db));
	json_object_object_add(o, "g", json_object_new_boolean(s->g));
	json_object_object_add(o, "avl", json_object_new_boolean(s->avl));
	json_object_object_add(o, "unusable", json_object_new_boolean(s->unusable));
	return o;
}

static struct json_object *dtable_json(const struct kvm_dtable *d)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "base", json_object_new_uint64(d->base));
	json_object_object_add(o, "limit", json_object_new_int(d->limit));
	return o;
}

struct json_object *inspect_sregs_json(const struct kvm_sregs *s)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "cr0", json_object_new_uint64(s->cr0));
	json_object_object_add(o, "cr2", json_object_new_uint64(s->cr2));
	json_object_object_add(o, "cr3", json_object_new_uint64(s->cr3));
	json_object_object_add(o, "cr4", json_object_new_uint64(s->cr4));
	json_object_object_add(o, "cr8", json_object_new_uint64(s->cr8));
	json_object_object_add(o, "efer", json_object_new_uint64(s->efer));
	json_object_object_add(o, "apic_base", json_object_new_uint64(s->apic_base));
	json_object_object_add(o, "cs", segment_json(&s->cs));
	json_object_object_add(o, "ds", segment_json(&s->ds));
	json_object_object_add(o, "es", segment_json(&s->es));
	json_object_object_add(o, "fs", segment_json(&s->fs));
	json_object_object_add(o, "gs", segment_json(&s->gs));
	json_object_object_add(o, "ss", segment_json(&s->ss));
	json_object_object_add(o, "tr", segment_json(&s->tr));
	json_object_object_add(o, "ldt", segment_json(&s->ldt));
	json_object_object_add(o, "gdt", dtable_json(&s->gdt));
	json_object_object_add(o, "idt", dtable_json(&s->idt));
	return o;
}

const char *inspect_paging_kind(const struct inspect_paging *p)
{
	if (!(p->cr0 & X86_CR0_PG))
		return "none";
	if (!(p->cr4 & X86_CR4_PAE))
		return "32-bit";
	if (!(p->efer & X86_EFER_LMA))
		return "pae";
	return p->cr4 & X86_CR4_LA57 ? "5-level" : "4-level";
}

void inspect_walk_config(const struct inspect_paging *p, struct gw_config *ret)
{
	*ret = (struct gw_config) { .phys_bits = p->phys_bits, .nxe = (p->efer & X86_EFER_NXE) != 0, .no_1g = p->no_1g };
}

struct json_object *inspect_pcb_json(const struct kvm_regs *regs, const struct kvm_sregs *sregs)
{
	/* CPL: 0 in real mode, else SS.DPL (what KVM itself uses). */
	unsigned cpl = (sregs->cr0 & X86_CR0_PE) ? sregs->ss.dpl : 0;
	struct inspect_paging p = { sregs->cr0, sregs->cr3, sregs->cr4, sregs->efer };
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "interrupts_enabled", json_object_new_boolean(regs->rflags & X86_RFLAGS_IF));
	json_object_object_add(o, "idt_base", json_object_new_uint64(sregs->idt.base));
	json_object_object_add(o, "idt_limit", json_object_new_int(sregs->idt.limit));
	json_object_object_add(o, "page_table_base", json_object_new_uint64(sregs->cr3 & X86_CR3_ADDR));
	json_object_object_add(o, "paging", json_object_new_string(inspect_paging_kind(&p)));
	json_object_object_add(o, "kernel_mode", json_object_new_boolean(cpl == 0));
	json_object_object_add(o, "cpl", json_object_new_int(cpl));
	/* hw mode: the guest's view is the vCPU's real state. Shadow mode reads its PCB. */
	json_object_object_add(o, "source", json_object_new_string("vcpu"));
	return o;
}

struct json_object *inspect_pte_flags_json(uint64_t entry, int level)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} bits[] = {
		{ X86_PTE_P, "P" }, { X86_PTE_W, "W" }, { X86_PTE_U, "U" }, { X86_PTE_PWT, "PWT" },
		{ X86_PTE_PCD, "PCD" }, { X86_PTE_A, "A" }, { X86_PTE_D, "D" }, { X86_PTE_PS, "PS" },
		{ X86_PTE_G, "G" }, { X86_PTE_NX, "NX" },
	};
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < ELEMENTSOF(bits); i++) {
		const char *name = bits[i].name;
		if (!(entry & bits[i].bit))
			continue;
		if (bits[i].bit == X86_PTE_PS && level == 1)
			name = "PAT";   /* bit 7 of a PTE */
		json_object_array_add(a, json_object_new_string(name));
	}
	return a;
}

unsigned inspect_refs_1d(unsigned guest_levels)
{
	return guest_levels;
}

unsigned inspect_refs_2d(unsigned guest_levels, unsigned nested_levels, bool complete)
{
	/* Each guest entry sits at a guest-physical address the nested tables
	 * must translate first (nested_levels reads) before it is read (1);
	 * the final guest-physical address is translated once more. 4 x 4: 24. */
	return guest_levels * (nested_levels + 1) + (complete ? nested_levels : 0);
}

void inspect_rights(bool user, bool writable, bool nx, char out[5])
{
	out[0] = user ? 'u' : 's';
	out[1] = 'r';
	out[2] = writable ? 'w' : '-';
	out[3] = nx ? '-' : 'x';
	out[4] = '\0';
}

/* --- KVM --------------------------------------------------------------------- */

/* MAXPHYADDR and PDPE1GB from the CPUID the vCPU was given (vcpu.c: KVM's supported set). */
static void cpuid_facts(int fd, struct inspect_paging *p)
{
	unsigned n = 256;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
	struct gw_config facts;
	p->phys_bits = INSPECT_PHYS_BITS;
	p->no_1g = false;
	if (!c)
		return;
	c->nent = n;
	if (ioctl(fd, KVM_GET_CPUID2, c) == 0) {
		x86_cpuid_paging(c->entries, c->nent < n ? c->nent : n, &facts);
		p->phys_bits = facts.phys_bits;
		p->no_1g = facts.no_1g;
	}
	free(c);
}

int inspect_get_paging(struct vm *vm, unsigned vcpu, struct inspect_paging *ret)
{
	struct kvm_sregs s;
	int fd = vm->vcpus[vcpu].fd;
	/* Shadow mode: the real CR3 is a shadow root; the guest's walk starts from
	 * the engine's virtual CR0/CR3/CR4/EFER, which belong here (issue 4). */
	if (vm->shadow) {
		const struct shadow_pcb *p = &vm->vcpus[vcpu].shadow->cpu.pcb;
		*ret = (struct inspect_paging) { p->cr0, p->cr3, p->cr4, p->efer };
	} else {
		if (ioctl(fd, KVM_GET_SREGS, &s) < 0)
			return -errno;
		*ret = (struct inspect_paging) { s.cr0, s.cr3, s.cr4, s.efer };
	}
	cpuid_facts(fd, ret);
	return 0;
}

int inspect_paging_error(int r, unsigned vcpu, struct rpc_error *err)
{
	if (r == -EOPNOTSUPP)
		return rpc_error_set(err, RPC_UNSUPPORTED, "walking the guest's page tables in shadow mode "
				     "needs the shadow engine's guest CR3 (not wired yet)");
	return rpc_error_set(err, RPC_INTERNAL_ERROR, "reading vCPU %u failed: %s", vcpu, strerror(-r));
}

static const char *mp_state_name(uint32_t s)
{
	static const char *const names[] = {
		[KVM_MP_STATE_RUNNABLE] = "runnable", [KVM_MP_STATE_UNINITIALIZED] = "uninitialized",
		[KVM_MP_STATE_INIT_RECEIVED] = "init-received", [KVM_MP_STATE_HALTED] = "halted",
		[KVM_MP_STATE_SIPI_RECEIVED] = "sipi-received",
	};
	return s < ELEMENTSOF(names) && names[s] ? names[s] : "other";
}

void inspect_vcpu_state(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct inspect_hold h;
	unsigned i;
	int r;
	if (inspect_param_vcpu(vm, call->params, &i, &err) < 0)
		goto fail;
	r = inspect_hold(vm, &h);
	if (r < 0) {
		inspect_hold_error(r, &err);
		goto fail;
	}
	bool was_running = h.resume;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_mp_state mp = { 0 };
	int fd = vm->vcpus[i].fd;
	if (ioctl(fd, KVM_GET_REGS, &regs) < 0 || ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		r = -errno;
	else if (ioctl(fd, KVM_GET_MP_STATE, &mp) < 0)
		mp.mp_state = ~0u;
	inspect_release(vm, &h);
	if (r < 0) {
		rpc_error_set(&err, RPC_INTERNAL_ERROR, "reading vCPU %u failed: %s", i, strerror(-r));
		goto fail;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "vcpu", json_object_new_int(i));
	json_object_object_add(o, "mode", json_object_new_string(vm_paging_name(vm->config->paging)));
	/* Whether it was read while the VM was paused by the user (else paused for the read). */
	json_object_object_add(o, "paused", json_object_new_boolean(!was_running));
	json_object_object_add(o, "mp_state", json_object_new_string(mp_state_name(mp.mp_state)));
	json_object_object_add(o, "regs", inspect_regs_json(&regs));
	json_object_object_add(o, "sregs", inspect_sregs_json(&sregs));
	if (vm->shadow) {
		/* The guest's view is the PCB and the engine's registers; the real
		 * CPU (CPL3, monitor GDT/IDT, shadow root) is shown apart. */
		json_object_object_add(o, "real", json_object_new_object());
		struct json_object *real;
		json_object_object_get_ex(o, "real", &real);
		json_object_object_add(real, "regs", json_object_get(json_object_object_get(o, "regs")));
		json_object_object_add(real, "sregs", json_object_get(json_object_object_get(o, "sregs")));
		shadow_inspect_vcpu(vm, i, o);
	} else {
		json_object_object_add(o, "pcb", inspect_pcb_json(&regs, &sregs));
	}
	rpc_call_result(call, o);
	return;
fail:
	inspect_fail(call, &err);
}

void inspect_vcpu_regs_set(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct json_object *want = NULL;
	struct inspect_hold h;
	struct kvm_regs regs;
	unsigned i;
	int r;
	if (inspect_param_vcpu(vm, call->params, &i, &err) < 0)
		goto fail;
	if (!call->params || !json_object_object_get_ex(call->params, "regs", &want)) {
		rpc_error_set_field(&err, RPC_INVALID_PARAMS, "regs", "missing parameter 'regs'");
		goto fail;
	}
	pthread_mutex_lock(&vm->lock);
	bool paused = vm->run_state == VM_RUN_PAUSED;
	pthread_mutex_unlock(&vm->lock);
	if (!paused) {
		rpc_error_set(&err, RPC_INVALID_STATE, "vcpu.regs.set needs a paused VM (vm.pause first)");
		goto fail;
	}
	r = inspect_hold(vm, &h);   /* paused: makes sure every vCPU is parked */
	if (r < 0) {
		inspect_hold_error(r, &err);
		goto fail;
	}
	int fd = vm->vcpus[i].fd;
	if (ioctl(fd, KVM_GET_REGS, &regs) < 0) {
		r = -errno;
	} else if (inspect_regs_apply(want, &regs, &err) < 0) {
		inspect_release(vm, &h);
		goto fail;
	} else if (ioctl(fd, KVM_SET_REGS, &regs) < 0 || ioctl(fd, KVM_GET_REGS, &regs) < 0) {
		r = -errno;
	}
	inspect_release(vm, &h);
	if (r < 0) {
		rpc_error_set(&err, RPC_INTERNAL_ERROR, "setting vCPU %u's registers failed: %s", i, strerror(-r));
		goto fail;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "vcpu", json_object_new_int(i));
	json_object_object_add(o, "regs", inspect_regs_json(&regs));
	rpc_call_result(call, o);
	return;
fail:
	inspect_fail(call, &err);
}

void inspect_stats_extend(struct vm *vm, struct json_object *o)
{
	struct json_object *injected = json_object_new_object();
	static const char *const kinds[INSPECT_IRQ_KINDS] = { "irq", "vector", "nmi" };
	uint64_t total = 0;
	for (int k = 0; k < INSPECT_IRQ_KINDS; k++) {
		uint64_t n = vm ? __atomic_load_n(&vm->irqs_injected[k], __ATOMIC_RELAXED) : 0;
		json_object_object_add(injected, kinds[k], json_object_new_uint64(n));
		total += n;
	}
	struct json_object *irqs = json_object_new_object();
	json_object_object_add(irqs, "injected", injected);
	json_object_object_add(irqs, "total", json_object_new_uint64(total));
	json_object_object_add(o, "irqs", irqs);
	inspect_bus_stats(vm, o);
	json_object_object_add(o, "mode", json_object_new_string(vm ? vm_paging_name(vm->config->paging) : "hw"));
	/* Shadow-mode counters, null in hw mode (API.md lists them); shadow mode fills them in after this. */
	json_object_object_add(o, "traps", NULL);
	json_object_object_add(o, "shadow", NULL);
	json_object_object_add(o, "pt_switches", NULL);
}
