/* SPDX-License-Identifier: MIT */
/*
 * The physmap: guest-physical frame <-> machine frame, identity or a
 * deterministic permutation of the first guest_pages machine frames.
 * Every lookup is bounds-checked in both directions: guest page-table
 * contents (hence gpas) are hostile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmmd/shadow/physmap.h"

/* splitmix64: a small, good, seedable generator; the permutation must be
 * the same for the same seed on every run (so failures reproduce). */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int physmap_init(struct physmap *pm, uint64_t guest_pages, uint64_t machine_pages, uint64_t scatter_seed)
{
	uint32_t *to_machine, *to_guest;

	if (!pm || guest_pages == 0 || guest_pages > machine_pages)
		return -EINVAL;
	/* to_guest stores pfn + 1 in 32 bits. */
	if (machine_pages >= UINT32_MAX)
		return -E2BIG;

	to_machine = calloc(guest_pages, sizeof(*to_machine));
	to_guest = calloc(machine_pages, sizeof(*to_guest));
	if (!to_machine || !to_guest) {
		free(to_machine);
		free(to_guest);
		return -ENOMEM;
	}

	for (uint64_t i = 0; i < guest_pages; i++)
		to_machine[i] = (uint32_t) i;
	if (scatter_seed) {
		uint64_t state = scatter_seed;
		/* Fisher-Yates; the tiny modulo bias does not matter here. */
		for (uint64_t i = guest_pages - 1; i > 0; i--) {
			uint64_t j = splitmix64(&state) % (i + 1);
			uint32_t t = to_machine[i];
			to_machine[i] = to_machine[j];
			to_machine[j] = t;
		}
	}
	for (uint64_t i = 0; i < guest_pages; i++)
		to_guest[to_machine[i]] = (uint32_t) (i + 1);

	*pm = (struct physmap) {
		.guest_pages = guest_pages,
		.to_machine = to_machine,
		.to_guest = to_guest,
		.machine_pages = machine_pages,
	};
	return 0;
}

void physmap_free(struct physmap *pm)
{
	if (!pm)
		return;
	free(pm->to_machine);
	free(pm->to_guest);
	*pm = (struct physmap) { 0 };
}

uint64_t physmap_gpa_to_mpa(const struct physmap *pm, uint64_t gpa)
{
	uint64_t gfn = gpa / PAGE_SIZE_4K;

	if (!pm->to_machine || gfn >= pm->guest_pages)
		return UINT64_MAX;
	return (uint64_t) pm->to_machine[gfn] * PAGE_SIZE_4K + (gpa % PAGE_SIZE_4K);
}

uint64_t physmap_mpa_to_gpa(const struct physmap *pm, uint64_t mpa)
{
	uint64_t mfn = mpa / PAGE_SIZE_4K;

	if (!pm->to_guest || mfn >= pm->machine_pages || pm->to_guest[mfn] == 0)
		return UINT64_MAX;
	return (uint64_t) (pm->to_guest[mfn] - 1) * PAGE_SIZE_4K + (mpa % PAGE_SIZE_4K);
}

void *machine_ptr(const struct machine_memory *mm, uint64_t mpa, size_t len)
{
	if (!mm->host || mpa > mm->size || len > mm->size - mpa)
		return NULL;
	return mm->host + mpa;
}

void *physmap_guest_ptr(const struct physmap *pm, const struct machine_memory *mm, uint64_t gpa, size_t len)
{
	uint64_t mpa;

	/* Frames are not contiguous in machine memory: never cross a page. */
	if (len > PAGE_SIZE_4K - gpa % PAGE_SIZE_4K)
		return NULL;
	mpa = physmap_gpa_to_mpa(pm, gpa);
	if (mpa == UINT64_MAX)
		return NULL;
	return machine_ptr(mm, mpa, len);
}
