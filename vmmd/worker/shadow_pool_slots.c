/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "vmmd/shadow/bitmap.h"
#include "vmmd/worker/shadow_pool_slots.h"

/* Not in every distribution's <asm/kvm.h> yet (Linux 6.12). */
#ifndef KVM_X86_QUIRK_SLOT_ZAP_ALL
#define KVM_X86_QUIRK_SLOT_ZAP_ALL (1 << 7)
#endif

#define PAGE_BYTES 4096ULL

static int set_slot(const struct pool_slots *ps, unsigned g, bool present)
{
	uint64_t first = (uint64_t) g * ps->group_pages, n = ps->pages - first;

	if (n > ps->group_pages)
		n = ps->group_pages;
	struct kvm_userspace_memory_region region = {
		.slot = ps->first_slot + g,
		.guest_phys_addr = ps->gpa + first * PAGE_BYTES,
		.memory_size = present ? n * PAGE_BYTES : 0,
		.userspace_addr = (uint64_t) (uintptr_t) (ps->host + first * PAGE_BYTES),
	};
	return ioctl(ps->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? -errno : 0;
}

/* Can this VM zap one slot without zapping everything, with room for
 * nr_slots more slots? Disables the quirk if so (one-way, per VM). */
static bool enable_targeted(int vm_fd, unsigned first_slot, unsigned nr_slots)
{
	int quirks = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS2);
	int max_slots = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);

	if (quirks <= 0 || !(quirks & KVM_X86_QUIRK_SLOT_ZAP_ALL) || max_slots <= 0 ||
	    (uint64_t) first_slot + nr_slots > (uint64_t) max_slots)
		return false;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_DISABLE_QUIRKS2, .args = { KVM_X86_QUIRK_SLOT_ZAP_ALL } };
	return ioctl(vm_fd, KVM_ENABLE_CAP, &cap) == 0;
}

int pool_slots_init(struct pool_slots *ps, int vm_fd, uint64_t gpa, void *host, unsigned pages,
		    unsigned first_slot, unsigned want_group, const char **why)
{
	*ps = (struct pool_slots) { .vm_fd = vm_fd, .gpa = gpa, .host = host, .pages = pages, .first_slot = first_slot };
	if (want_group && want_group < pages &&
	    enable_targeted(vm_fd, first_slot, (pages + want_group - 1) / want_group)) {
		ps->targeted = true;
		ps->group_pages = want_group;
	} else {
		ps->group_pages = pages;
	}
	ps->nr_groups = (pages + ps->group_pages - 1) / ps->group_pages;
	ps->registered = calloc(BITMAP_WORDS(ps->nr_groups), sizeof(uint64_t));
	ps->due = calloc(ps->nr_groups, sizeof(*ps->due));
	if (!ps->registered || !ps->due) {
		*why = "out of memory";
		return -ENOMEM;
	}
	return 0;
}

void pool_slots_free(struct pool_slots *ps)
{
	free(ps->registered);
	free(ps->due);
	ps->registered = NULL;
	ps->due = NULL;
}

int pool_slots_zap(struct pool_slots *ps, const uint32_t *groups, unsigned n, unsigned *ret_zaps)
{
	unsigned zaps = 0;
	int r = 0;

	for (unsigned k = 0; k < n && r == 0; k++) {
		unsigned g = groups[k];
		if (g >= ps->nr_groups)
			return -EINVAL;
		if (bitmap_test(ps->registered, g)) {
			r = set_slot(ps, g, false);
			zaps++;
		}
		if (r == 0)
			r = set_slot(ps, g, true);
		if (r == 0)
			bitmap_set(ps->registered, g);
	}
	*ret_zaps = zaps;
	return r;
}
