/* SPDX-License-Identifier: MIT */
/*
 * The two-dimensional walk behind mmu.translate on a host with nested
 * paging (EPT/NPT): every guest-physical address the guest's walk reads
 * (each table entry, then the page itself) goes through KVM's nested
 * tables first. Those tables live in the host kernel, out of vmmd's reach,
 * so the count is put together from what vmmd can measure:
 *
 *  - the guest's walk: the entries vmmd read and at which guest-physical
 *    addresses, where it stopped (a large page, a fault);
 *  - KVM's own walk of the same address (KVM_TRANSLATE), which must agree;
 *  - the depth of the nested tables, from the host (host_probe.h);
 *  - the sizes of the nested leaves KVM mapped for this VM, from its binary
 *    statistics (pages_4k, pages_2m, pages_1g). With 4 KiB leaves only,
 *    every nested walk reads every level: the count is exact. With larger
 *    ones a nested walk may end one or two levels early, and which
 *    addresses they cover is not visible: the total becomes a range.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "x86/guest_walk.h"

struct nested_leaves {
	bool known;               /* KVM offers the statistics */
	uint64_t n_4k, n_2m, n_1g;
};

/* KVM's leaf counts for the VM (KVM_GET_STATS_FD); ret->known false if KVM
 * has no such statistics. Negative errno on a failed read. */
int nested_leaves_read(int vm_fd, struct nested_leaves *ret);

/* The references a 2-D walk of w makes through `levels`-level nested
 * tables: *ret_min and *ret_max differ only where large leaves exist. */
void nested_walk_count(const struct gw_result *w, bool complete, int levels, const struct nested_leaves *l,
		       unsigned *ret_min, unsigned *ret_max);

/* mmu.translate's references.nested object (docs/api-shapes.md). kvm_gpa:
 * KVM_TRANSLATE's answer for the same address, or -1 when it has none. */
struct json_object *nested_walk_json(const struct gw_result *w, bool complete, int levels, const char *via,
				     const struct nested_leaves *l, int64_t kvm_gpa);
