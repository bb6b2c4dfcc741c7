/* SPDX-License-Identifier: MIT */
/*
 * The direct-paging spike (XENPV.md 9.1 #3, design (C); strategy "direct"):
 * the real CR3 is the guest's own PML4 and the host's own shadow MMU (KVM
 * without EPT/NPT) shadows the guest's tables, so a first touch costs a
 * fault inside the host kernel, not an exit to vmmd. vmmd only puts the
 * monitor's PML4 entry into the guest's table (its slot is vmmd's by the
 * guest contract) before the table is first used as a root: a write from
 * vmmd's side is invisible to a host that already shadows the page.
 *
 * An experiment, not a mode to run guests in: no kernel/user separation
 * (one root), the guest's kernel must map itself U=1, guest user code can
 * reach guest kernel memory, and the host must see every write to a live
 * table (the guest's own native writes are; vmmd's own, such as the A/D
 * bits its page walks set, are not).
 */
#include "vmmd/shadow/engine.h"
#include "x86/cpu.h"

uint64_t direct_root(struct shadow_vm *svm, uint64_t guest_cr3)
{
	uint64_t gpa = guest_cr3 & X86_CR3_ADDR;
	uint64_t *l4 = physmap_guest_ptr(&svm->pm, &svm->mm, gpa, PAGE_SIZE_4K);

	if (!l4)
		return 0;   /* a CR3 outside RAM: the shadow MMU says what the guest gets */
	if (__atomic_load_n(&l4[svm->mon.slot], __ATOMIC_RELAXED) != svm->mon.pml4e)
		__atomic_store_n(&l4[svm->mon.slot], svm->mon.pml4e, __ATOMIC_RELEASE);
	return physmap_gpa_to_mpa(&svm->pm, gpa);
}
