/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/macro.h"
#include "vmmd/shadow/engine.h"
#include "vmmd/worker/guest_paging.h"
#include "vmmd/worker/inspect.h"
#include "vmmd/worker/shadow_inspect.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/xenpv_guest.h"


static struct json_object *u64(uint64_t v) { return json_object_new_uint64(v); }

struct json_object *shadow_inspect_hex(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long) v);
	return json_object_new_string(buf);
}

static struct json_object *mnemonic_counts(const struct shadow_mnemonic_count *t, unsigned n, uint64_t *ret_total)
{
	struct json_object *o = json_object_new_object();
	uint64_t total = 0;

	for (unsigned i = 0; i < n; i++) {
		json_object_object_add(o, t[i].name, u64(t[i].count));
		total += t[i].count;
	}
	if (ret_total)
		*ret_total = total;
	return o;
}

static struct json_object *hex(uint64_t v) { return shadow_inspect_hex(v); }

void shadow_inspect_stats(struct vm *vm, struct json_object *o)
{
	if (!vm->shadow)
		return;
	struct shadow_stats st;
	shadow_get_stats(vm->shadow, &st);

	struct json_object *traps = json_object_new_object(), *by_class = json_object_new_object();
	uint64_t total = 0;
	for (int c = 0; c < STRAP_MAX; c++) {
		json_object_object_add(by_class, shadow_trap_class_name(c), u64(st.traps[c]));
		total += st.traps[c];
	}
	struct json_object *by_mnemonic = mnemonic_counts(st.mnemonics, st.n_mnemonics, NULL);
	uint64_t native_total;
	struct json_object *pt_writes = mnemonic_counts(st.pt_writes, st.n_pt_writes, NULL);
	struct json_object *pt_native = mnemonic_counts(st.pt_writes_native, st.n_pt_writes_native, &native_total);
	struct json_object *by_vector = json_object_new_object();
	for (int v = 0; v < 32; v++)
		if (st.vector_counts[v]) {
			char name[8];
			snprintf(name, sizeof(name), "%d", v);
			json_object_object_add(by_vector, name, u64(st.vector_counts[v]));
		}
	json_object_object_add(traps, "total", u64(total));
	json_object_object_add(traps, "by_class", by_class);
	json_object_object_add(traps, "privileged_by_mnemonic", by_mnemonic);
	json_object_object_add(traps, "reflected_by_vector", by_vector);
	/* Writes to write-protected guest page tables: emulated, and left to
	 * the CPU after unshadowing the page (instructions vmmd does not emulate). */
	json_object_object_add(traps, "pt_write_by_mnemonic", pt_writes);
	json_object_object_add(traps, "pt_write_native", u64(native_total));
	json_object_object_add(traps, "pt_write_native_by_mnemonic", pt_native);
	/* Returns to user mode the host let through without a trap (docs/shadow.md, host quirks). */
	json_object_object_add(traps, "native_user_returns", u64(st.native_user_returns));
	json_object_object_add(o, "traps", traps);

	struct json_object *sh = json_object_new_object();
	json_object_object_add(sh, "fills", u64(st.mmu.fills));
	json_object_object_add(sh, "prefetched", u64(st.mmu.prefetched));
	json_object_object_add(sh, "updates_applied", u64(st.mmu.updates_applied));
	json_object_object_add(sh, "shared", u64(st.mmu.shared));
	json_object_object_add(sh, "flushes", u64(st.mmu.flushes));
	json_object_object_add(sh, "invlpg", u64(st.mmu.invlpg));
	json_object_object_add(sh, "write_protect_faults", u64(st.mmu.write_protect_faults));
	json_object_object_add(sh, "resyncs", u64(st.mmu.resyncs));
	json_object_object_add(sh, "unshadowed", u64(st.mmu.unshadowed));
	json_object_object_add(sh, "roots", u64(st.mmu.root_loads));
	json_object_object_add(sh, "cache_hits", u64(st.mmu.root_cache_hits));
	json_object_object_add(sh, "cache_misses", u64(st.mmu.root_cache_misses));
	json_object_object_add(sh, "guest_faults", u64(st.mmu.guest_faults));
	json_object_object_add(sh, "mmio_faults", u64(st.mmu.mmio_faults));
	json_object_object_add(sh, "pool_used", u64(st.mmu.pool_used));
	json_object_object_add(sh, "pool_pages", u64(st.mmu.pool_pages));
	json_object_object_add(sh, "pool_recycled", u64(st.mmu.pool_recycled));
	json_object_object_add(sh, "tlb_flushes", u64(st.mmu.tlb_flushes));
	json_object_object_add(sh, "zap_groups", u64(st.mmu.zap_groups));
	json_object_object_add(sh, "zaps_forced", u64(st.mmu.zaps_forced));
	json_object_object_add(sh, "zap_group_pages", u64(st.zap_group_pages));
	json_object_object_add(o, "shadow", sh);

	struct json_object *pt = json_object_new_object();
	json_object_object_add(pt, "guest", u64(st.guest_pt_switches));
	json_object_object_add(pt, "shadow", u64(st.mmu.root_loads));
	json_object_object_add(o, "pt_switches", pt);
}

/* vcpu.state in shadow mode: the guest's registers as the engine keeps them
 * and its PCB — what the guest believes, which the real CPU never holds. */
void shadow_inspect_vcpu(struct vm *vm, unsigned vcpu, struct json_object *o)
{
	const struct shadow_vcpu *sv = vm->vcpus[vcpu].shadow;
	const struct shadow_cpu *c = &sv->cpu;
	const struct shadow_pcb *p = &c->pcb;
	const struct kvm_regs *r = &c->regs;
	const struct { const char *name; uint64_t v; } gpr[] = {
		{ "rax", r->rax }, { "rbx", r->rbx }, { "rcx", r->rcx }, { "rdx", r->rdx },
		{ "rsi", r->rsi }, { "rdi", r->rdi }, { "rsp", r->rsp }, { "rbp", r->rbp },
		{ "r8", r->r8 }, { "r9", r->r9 }, { "r10", r->r10 }, { "r11", r->r11 },
		{ "r12", r->r12 }, { "r13", r->r13 }, { "r14", r->r14 }, { "r15", r->r15 },
		{ "rip", r->rip }, { "rflags", r->rflags },
	};
	struct json_object *regs = json_object_new_object();
	for (size_t i = 0; i < ELEMENTSOF(gpr); i++)
		json_object_object_add(regs, gpr[i].name, json_object_new_uint64(gpr[i].v));
	json_object_object_add(o, "regs", regs);

	/* sregs as the guest believes them: its control registers, tables and selectors. */
	struct kvm_sregs vs = { 0 };
	struct json_object *real_sregs;
	vs.cr0 = p->cr0;
	vs.cr2 = p->cr2;
	vs.cr3 = p->cr3;
	vs.cr4 = p->cr4;
	vs.efer = p->efer;
	vs.cr8 = p->tpr;
	vs.gdt = (struct kvm_dtable) { .base = p->gdtr.base, .limit = p->gdtr.limit };
	vs.idt = (struct kvm_dtable) { .base = p->idtr.base, .limit = p->idtr.limit };
	vs.cs = (struct kvm_segment) { .selector = p->cs, .type = 0xb, .present = 1, .dpl = p->vcpl, .s = 1, .l = 1 };
	vs.ss = (struct kvm_segment) { .selector = p->ss, .type = 0x3, .present = 1, .dpl = p->vcpl, .s = 1 };
	vs.ds = (struct kvm_segment) { .selector = p->ds, .present = p->ds != 0 };
	vs.es = (struct kvm_segment) { .selector = p->es, .present = p->es != 0 };
	vs.fs = (struct kvm_segment) { .selector = p->fs, .base = p->fs_base, .present = 1 };
	vs.gs = (struct kvm_segment) { .selector = p->gs, .base = p->gs_base, .present = 1 };
	vs.tr = (struct kvm_segment) { .selector = p->tr, .base = p->tss_base, .limit = p->tss_limit, .type = 0xb,
				       .present = p->tr != 0 };
	if (json_object_object_get_ex(o, "real", &real_sregs))
		json_object_object_add(o, "sregs", inspect_sregs_json(&vs));

	struct json_object *pcb = json_object_new_object();
	json_object_object_add(pcb, "paging", json_object_new_string(guest_paging_name(guest_paging_kind(p->cr0, p->cr4, p->efer))));
	json_object_object_add(pcb, "interrupts_enabled", json_object_new_boolean(p->vif));
	json_object_object_add(pcb, "idt_base", json_object_new_uint64(p->idtr.base));
	json_object_object_add(pcb, "idt_limit", json_object_new_int(p->idtr.limit));
	json_object_object_add(pcb, "page_table_base", json_object_new_uint64(p->cr3 & ~0xfffULL));
	json_object_object_add(pcb, "kernel_mode", json_object_new_boolean(p->vcpl == 0));
	json_object_object_add(pcb, "cpl", json_object_new_int(p->vcpl));
	json_object_object_add(pcb, "source", json_object_new_string("pcb"));
	json_object_object_add(pcb, "cr0", hex(p->cr0));
	json_object_object_add(pcb, "cr2", hex(p->cr2));
	json_object_object_add(pcb, "cr3", hex(p->cr3));
	json_object_object_add(pcb, "cr4", hex(p->cr4));
	json_object_object_add(pcb, "efer", hex(p->efer));
	json_object_object_add(pcb, "gdt_base", hex(p->gdtr.base));
	json_object_object_add(pcb, "gdt_limit", json_object_new_int(p->gdtr.limit));
	json_object_object_add(pcb, "tr", json_object_new_int(p->tr));
	json_object_object_add(pcb, "tss_base", hex(p->tss_base));
	json_object_object_add(pcb, "cs", json_object_new_int(p->cs));
	json_object_object_add(pcb, "ss", json_object_new_int(p->ss));
	json_object_object_add(pcb, "star", hex(p->star));
	json_object_object_add(pcb, "lstar", hex(p->lstar));
	json_object_object_add(pcb, "sfmask", hex(p->sfmask));
	json_object_object_add(pcb, "fs_base", hex(p->fs_base));
	json_object_object_add(pcb, "gs_base", hex(p->gs_base));
	json_object_object_add(pcb, "kernel_gs_base", hex(p->kernel_gs_base));
	json_object_object_add(pcb, "halted", json_object_new_boolean(p->halted));
	struct json_object *pending = json_object_new_array();
	for (unsigned v = 0; v < 256; v++)
		if (p->pending[v / 64] & (1ULL << (v % 64)))
			json_object_array_add(pending, json_object_new_int(v));
	json_object_object_add(pcb, "pending_vectors", pending);
	json_object_object_add(pcb, "shadow_root", hex(sv->root));
	json_object_object_add(pcb, "shadow_root_kind", json_object_new_string(sv->root_user ? "user" : "kernel"));
	json_object_object_add(o, "pcb", pcb);
	/* A Xen PV guest: the view Xen keeps (mode, tables, callbacks, trap table, events). */
	if (vm->xenpv)
		json_object_object_add(o, "pv", xenpv_guest_vcpu_json(vm, vcpu));

	/* Which virtualization holes this host let vmmd close (docs/shadow.md). */
	struct json_object *holes = json_object_new_object();
	json_object_object_add(holes, "cpuid_traps", json_object_new_boolean(vm->vcpus[vcpu].cpuid_faulting));
	json_object_object_add(holes, "umip", json_object_new_boolean(vm->vcpus[vcpu].umip));
	json_object_object_add(holes, "iretq_traps", json_object_new_boolean(true));
	json_object_object_add(holes, "pushf_if_virtual", json_object_new_boolean(true));
	json_object_object_add(holes, "popf_if", json_object_new_string("guest contract: sti/cli or the restore-IF hypercall"));
	json_object_object_add(o, "holes", holes);
}

struct one_mapping {
	bool found;
	struct smmu_mapping m;
};

static int take_first(void *userdata, const struct smmu_mapping *m)
{
	struct one_mapping *one = userdata;
	one->m = *m;
	one->found = true;
	return 1;
}

void shadow_inspect_translate(struct vm *vm, unsigned vcpu, uint64_t va, struct json_object *o)
{
	const struct shadow_vcpu *sv = vm->vcpus[vcpu].shadow;
	bool user = sv->cpu.pcb.vcpl == 3;
	struct one_mapping one = { 0 };
	pthread_mutex_lock(&vm->shadow->lock);
	smmu_foreach_mapping(vm->shadow->smmu, sv->cpu.pcb.cr3, user, va & ~0xfffULL, va | 0xfffULL, take_first, &one);
	pthread_mutex_unlock(&vm->shadow->lock);

	struct json_object *s = json_object_new_object();
	json_object_object_add(s, "root", json_object_new_string(user ? "user" : "kernel"));
	json_object_object_add(s, "root_machine", hex(sv->root));
	json_object_object_add(s, "present", json_object_new_boolean(one.found));
	if (one.found) {
		json_object_object_add(s, "machine", hex(one.m.mpa | (va & 0xfff)));
		json_object_object_add(s, "entry_flags", hex(one.m.flags));
		json_object_object_add(s, "guest_pte", hex(one.m.guest_pte));
	}
	/* The real CPU walks only the shadow table: a 1-D walk, one reference per level. */
	json_object_object_add(s, "references", json_object_new_int(4));
	json_object_object_add(s, "note", json_object_new_string(one.found ?
		"the hardware walks this shadow entry (1-D, 4 references); the guest walk above is vmmd's" :
		"no shadow entry yet: the next access faults and vmmd fills it from the guest walk"));
	json_object_object_add(o, "shadow", s);
}
