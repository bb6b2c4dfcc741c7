/* SPDX-License-Identifier: MIT */
/* vCPU state (registers, segments, control registers, the guest PCB) and what inspect*.c share. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "vmmd/worker/guest_paging.h"
#include "vmmd/worker/inspect.h"
#include "vmmd/worker/shadow_inspect.h"
#include "vmmd/worker/vm.h"
#include "x86/cpu.h"

/* --- holding the vCPUs still ------------------------------------------------- */

int inspect_hold(struct vm *vm, int vcpu, struct vm_hold *h, struct rpc_error *err)
{
	int r = vcpu < 0 ? vm_hold(vm, h) : vm_hold_vcpu(vm, (unsigned) vcpu, h);

	if (r < 0)
		inspect_hold_error(r, err);
	return r;
}

int inspect_hold_error(int r, struct rpc_error *err)
{
	return worker_error_set(err, WORKER_ERROR_STATE, NULL, "%s", r == -ESHUTDOWN ? "the VM is stopping" :
				"the vCPUs did not stop in time");
}

/* --- parameters -------------------------------------------------------------- */

int inspect_param_u64(struct json_object *params, const char *name, bool required, uint64_t dflt,
		      uint64_t *ret, struct rpc_error *err)
{
	struct json_object *v;
	if (!params || !json_object_object_get_ex(params, name, &v)) {
		if (required)
			return worker_error_set(err, WORKER_ERROR_PARAMS, name, "missing parameter '%s'", name);
		*ret = dflt;
		return 0;
	}
	/* json-c keeps integers above INT64_MAX as uint64 (get_int64 then saturates). */
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return worker_error_set(err, WORKER_ERROR_PARAMS, name,
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
		return worker_error_set(err, WORKER_ERROR_PARAMS, "vcpu", "vcpu %llu out of range: the VM has %u",
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
		return worker_error_set(err, WORKER_ERROR_PARAMS, "regs", "regs must be an object");
	struct kvm_regs copy = *regs;
	size_t n = 0;
	json_object_object_foreach(obj, key, val) {
		size_t i = 0;
		char field[64];
		snprintf(field, sizeof(field), "regs.%.40s", key);
		while (i < N_REGS && strcmp(reg_table[i].name, key) != 0)
			i++;
		if (i == N_REGS)
			return worker_error_set(err, WORKER_ERROR_PARAMS, field,
						   "unknown register '%.40s' (rax..r15, rip, rflags)", key);
		if (!json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0)
			return worker_error_set(err, WORKER_ERROR_PARAMS, field,
						   "register '%.40s' must be an integer in [0, 2^64)", key);
		*reg_ptr(&copy, i) = json_object_get_uint64(val);
		n++;
	}
	if (n == 0)
		return worker_error_set(err, WORKER_ERROR_PARAMS, "regs", "regs names no register");
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

struct json_object *inspect_pcb_json(const struct kvm_regs *regs, const struct kvm_sregs *sregs)
{
	/* CPL: 0 in real mode, else SS.DPL (what KVM itself uses). */
	unsigned cpl = (sregs->cr0 & X86_CR0_PE) ? sregs->ss.dpl : 0;
	enum guest_paging_kind paging = guest_paging_kind(sregs->cr0, sregs->cr4, sregs->efer);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "interrupts_enabled", json_object_new_boolean(regs->rflags & X86_RFLAGS_IF));
	json_object_object_add(o, "idt_base", json_object_new_uint64(sregs->idt.base));
	json_object_object_add(o, "idt_limit", json_object_new_int(sregs->idt.limit));
	json_object_object_add(o, "page_table_base", json_object_new_uint64(sregs->cr3 & X86_CR3_ADDR));
	json_object_object_add(o, "paging", json_object_new_string(guest_paging_name(paging)));
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

/* --- vCPU state ---------------------------------------------------------------- */

int inspect_vcpu_error(int r, unsigned vcpu, struct rpc_error *err)
{
	return worker_error_set(err, WORKER_ERROR_INTERNAL, NULL, "reading vCPU %u failed: %s", vcpu, strerror(-r));
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

/* The real registers of one vCPU, read while it alone is held still: the
 * others run on (a read of vCPU 0 costs vCPU 1 nothing). */
struct vcpu_snapshot {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t mp_state;
	bool paused;            /* paused by the user, not just for the read */
};

static int snapshot(struct vm *vm, unsigned i, struct vcpu_snapshot *ret, struct rpc_error *err)
{
	struct vm_hold h;
	int r = inspect_hold(vm, (int) i, &h, err);

	if (r < 0)
		return r;
	ret->paused = h.paused;
	r = vcpu_get_regs(&vm->vcpus[i], &ret->regs);
	if (r == 0)
		r = vcpu_get_sregs(&vm->vcpus[i], &ret->sregs);
	if (r == 0 && vcpu_get_mp_state(&vm->vcpus[i], &ret->mp_state) < 0)
		ret->mp_state = ~0u;
	vm_release(vm, &h);
	return r < 0 ? inspect_vcpu_error(r, i, err) : 0;
}

void inspect_vcpu_state(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct vcpu_snapshot snap;
	struct json_object *o;
	unsigned i;

	if (inspect_param_vcpu(vm, call->params, &i, &err) < 0 || snapshot(vm, i, &snap, &err) < 0) {
		rpc_call_error(call, &err, NULL);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "vcpu", json_object_new_int(i));
	json_object_object_add(o, "mode", json_object_new_string(vm_paging_name(vm->config->paging)));
	/* Whether it was read while the VM was paused by the user (else paused for the read). */
	json_object_object_add(o, "paused", json_object_new_boolean(snap.paused));
	json_object_object_add(o, "mp_state", json_object_new_string(mp_state_name(snap.mp_state)));
	json_object_object_add(o, "regs", inspect_regs_json(&snap.regs));
	json_object_object_add(o, "sregs", inspect_sregs_json(&snap.sregs));
	if (vm->shadow) {
		/* The guest's view is the PCB and the engine's registers; the real
		 * CPU (CPL3, monitor GDT/IDT, shadow root) is shown apart. */
		struct json_object *real = json_object_new_object();

		json_object_object_add(real, "regs", inspect_regs_json(&snap.regs));
		json_object_object_add(real, "sregs", inspect_sregs_json(&snap.sregs));
		json_object_object_add(o, "real", real);
		shadow_inspect_vcpu(vm, i, o);
	} else {
		json_object_object_add(o, "pcb", inspect_pcb_json(&snap.regs, &snap.sregs));
	}
	rpc_call_result(call, o);
}

/* Apply want to the vCPU's registers and read them back; the VM is paused. */
static int set_regs(struct vm *vm, unsigned i, struct json_object *want, struct kvm_regs *ret,
		    struct rpc_error *err)
{
	struct vcpu *v = &vm->vcpus[i];
	struct vm_hold h;
	int r = inspect_hold(vm, -1, &h, err);   /* paused: makes sure every vCPU is parked */

	if (r < 0)
		return r;
	r = vcpu_get_regs(v, ret);
	if (r == 0 && inspect_regs_apply(want, ret, err) < 0)
		r = -EINVAL;   /* err says which register */
	else if (r == 0 && (r = vcpu_set_regs(v, ret)) == 0)
		r = vcpu_get_regs(v, ret);
	vm_release(vm, &h);
	if (r < 0 && r != -EINVAL)
		return worker_error_set(err, WORKER_ERROR_INTERNAL, NULL, "setting vCPU %u's registers failed: %s",
					i, strerror(-r));
	return r;
}

void inspect_vcpu_regs_set(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct json_object *want = NULL, *o;
	struct kvm_regs regs;
	bool paused;
	unsigned i;

	if (inspect_param_vcpu(vm, call->params, &i, &err) < 0)
		goto fail;
	if (!call->params || !json_object_object_get_ex(call->params, "regs", &want)) {
		worker_error_set(&err, WORKER_ERROR_PARAMS, "regs", "missing parameter 'regs'");
		goto fail;
	}
	pthread_mutex_lock(&vm->lock);
	paused = vm->run_state == VM_RUN_PAUSED;
	pthread_mutex_unlock(&vm->lock);
	if (!paused) {
		worker_error_set(&err, WORKER_ERROR_STATE, NULL, "vcpu.regs.set needs a paused VM (vm.pause first)");
		goto fail;
	}
	if (set_regs(vm, i, want, &regs, &err) < 0)
		goto fail;
	o = json_object_new_object();
	json_object_object_add(o, "vcpu", json_object_new_int(i));
	json_object_object_add(o, "regs", inspect_regs_json(&regs));
	rpc_call_result(call, o);
	return;
fail:
	rpc_call_error(call, &err, NULL);
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
