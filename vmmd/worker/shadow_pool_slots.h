/* SPDX-License-Identifier: MIT */
/*
 * The shadow page-table pool as KVM memory slots, so vmmd can make KVM forget
 * what it derived from pool pages vmmd changed behind its back (a "zap":
 * delete and re-add a slot; docs/shadow.md, "Telling KVM").
 *
 * Targeted, where the host lets vmmd disable KVM_X86_QUIRK_SLOT_ZAP_ALL
 * (KVM_CAP_DISABLE_QUIRKS2) and has enough memory slots: the pool is cut into
 * groups of `group_pages` pages, one slot each, registered the first time
 * the shadow MMU uses one of their pages, and deleting a slot makes KVM drop
 * only what it derived from that slot. Elsewhere the pool is one slot and
 * every zap makes KVM drop everything (the quirk's behaviour).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct pool_slots {
	int vm_fd;
	uint64_t gpa;            /* machine address of the pool */
	uint8_t *host;
	unsigned pages;
	unsigned group_pages, nr_groups;
	unsigned first_slot;     /* KVM slot of group 0 */
	bool targeted;
	uint64_t *registered;    /* [nr_groups] bits: the group's slot exists */
	uint32_t *due;           /* [nr_groups]: scratch for shadow_take_zaps */
};

#define POOL_SLOTS_GROUP_PAGES 1   /* pool pages per slot where zaps are targeted: one (zapbench, B15) */

/* Set up the pool at machine address gpa (host view `host`, `pages` pages)
 * starting at KVM slot first_slot. want_group: pages per slot if targeted
 * zaps are possible (0: never try). *why says what failed. */
int pool_slots_init(struct pool_slots *ps, int vm_fd, uint64_t gpa, void *host, unsigned pages,
		    unsigned first_slot, unsigned want_group, const char **why);
void pool_slots_free(struct pool_slots *ps);

/* Make KVM forget groups[0..n) (registering those never used before).
 * *ret_zaps counts the slots deleted and re-added. 0 or -errno. */
int pool_slots_zap(struct pool_slots *ps, const uint32_t *groups, unsigned n, unsigned *ret_zaps);
