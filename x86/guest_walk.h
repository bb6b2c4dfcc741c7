/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 4-level page walk, done in software over a guest's page tables:
 * the one walker of vmmd. The worker uses it for inspection (mmu.translate,
 * mem.read/write with space=virtual, mmu.guest); the shadow MMU uses it for
 * every guest walk the CPU would do (filling shadows, the engine's accesses
 * on the guest's behalf), with the access checks, #PF error codes and
 * accessed/dirty updates of the hardware — as Xen's guest_walk_tables and
 * KVM's walk_addr_generic do.
 *
 * The walker knows nothing about KVM or the physmap: it is given a root
 * (CR3), a reader for 8-byte table entries by physical address and, to set
 * A/D bits, an atomic OR. Table contents are guest-controlled and hostile:
 * every table address is checked by the reader, reserved bits are refused
 * with one rule for every caller, and the range enumeration has a budget on
 * entries visited.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "x86/cpu.h"

#define GW_LEVELS       4          /* PML4 = 4, PDPT = 3, PD = 2, PT = 1 */

/* Reads the little-endian 8-byte entry at physical address paddr (8-aligned).
 * Returns 0, or a negative errno when paddr is not backed by memory. */
typedef int (*gw_read_fn)(void *opaque, uint64_t paddr, uint64_t *ret);

/* Atomically ORs bits into the entry at paddr, as the CPU's locked update of
 * A and D does, and returns the entry after it in *ret. 0 or a negative errno. */
typedef int (*gw_set_bits_fn)(void *opaque, uint64_t paddr, uint64_t bits, uint64_t *ret);

struct gw_memory {
	gw_read_fn read;
	gw_set_bits_fn set_bits;    /* NULL: the walk never writes (inspection) */
	void *opaque;
};

/* What the walk needs to know about the CPU. */
struct gw_config {
	unsigned phys_bits;     /* MAXPHYADDR (36..52): entry address bits at or above it are reserved */
	bool nxe;               /* EFER.NXE: without it bit 63 (NX) is reserved */
	bool no_1g;             /* CPUID lacks PDPE1GB: PS in a PDPT entry is reserved */
	bool wp;                /* CR0.WP: supervisor writes to read-only pages fault */
};

/* Kinds of access for gw_walk: the #PF error code's bits. 0 is a supervisor
 * read (also what an implicit supervisor access at CPL3 is: IDT, TSS, GDT). */
#define GW_ACC_WRITE  X86_PF_WRITE
#define GW_ACC_USER   X86_PF_USER
#define GW_ACC_FETCH  X86_PF_INSTR

enum gw_fault {
	GW_OK = 0,
	GW_NOT_PRESENT,     /* an entry with P = 0 */
	GW_RESERVED,        /* reserved bits set (PS in a PML4E or, without 1 GiB pages, a PDPTE;
					 * address bits above phys_bits; NX without NXE) */
	GW_BAD_TABLE,       /* a table (or CR3) outside memory: the reader refused it */
	GW_NON_CANONICAL,   /* bits 63..47 of the address are not all equal */
	GW_PROTECTION,      /* mapped, but the access is not allowed (U, W, NX of the path) */
};

struct gw_step {
	int level;          /* 4..1 */
	uint64_t table;     /* physical address of the table */
	unsigned index;     /* 0..511 */
	uint64_t entry;     /* the entry as read (0 when the read failed) */
};

struct gw_result {
	uint64_t virt;
	uint64_t phys;          /* valid when fault == GW_OK */
	uint64_t page_size;     /* 4 KiB, 2 MiB or 1 GiB when mapped */
	bool writable, user, nx;    /* effective rights: W and U of every level, NX of any */
	int n_steps;            /* entries read (or tried), 1..4 */
	struct gw_step steps[GW_LEVELS];
	enum gw_fault fault;
	int fault_level;        /* level where the walk stopped, 0 if none */
	uint32_t error;         /* with a fault: the #PF error code the access gets */
};

const char *gw_fault_name(enum gw_fault f);
/* Bits 12..phys_bits-1 of an entry, the address it points to. */
uint64_t gw_entry_addr(uint64_t entry, unsigned phys_bits);

/*
 * The CPU's walk for one access at virt (access: GW_ACC_* bits) through the
 * tables rooted at cr3 (cfg NULL: 52 bits, NXE, WP, 1 GiB pages):
 *  - at each level, P, then the reserved bits (address bits at or above
 *    MAXPHYADDR, NX without EFER.NXE, PS in a PML4E or, without 1 GiB pages,
 *    a PDPTE, the low address bits of a 2 MiB / 1 GiB page; bit 12 is PAT);
 *  - then the rights of the whole path: U and W of every level, NX of any
 *    (a supervisor write to a read-only page faults only with cfg->wp;
 *    CR4.SMEP/SMAP are not modelled);
 *  - with set_ad and mem->set_bits, once the access is allowed: A in every
 *    entry used and D in the leaf for a write, each with one atomic OR, and
 *    ret->steps hold the entries as updated (nothing is set for a fault).
 * A table the reader refuses is a not-present fault at that level.
 * Returns 0; -EFAULT with ret->fault and ret->error (P, W, U, RSVD, and I/D
 * for a fetch with NXE); -EINVAL when virt is not canonical (#GP, not #PF).
 * ret is always filled.
 */
int gw_walk(const struct gw_memory *mem, uint64_t cr3, uint64_t virt, unsigned access,
	    const struct gw_config *cfg, bool set_ad, struct gw_result *ret);

/* Where a step's entry lives. */
static inline uint64_t gw_step_addr(const struct gw_step *s)
{
	return s->table + 8ULL * s->index;
}

/*
 * Translate virt for inspection: gw_walk as a supervisor read, writing
 * nothing. Returns 0 when mapped, -EFAULT when not (ret says where the walk
 * stopped), -EINVAL when virt is not canonical. ret is always filled.
 */
int gw_translate(const struct gw_memory *mem, uint64_t cr3, uint64_t virt, const struct gw_config *cfg,
		 struct gw_result *ret);

/* One coalesced mapping of mmu.guest. */
struct gw_range {
	uint64_t virt;
	uint64_t phys;
	uint64_t size;
	bool writable, user, nx;
};

/* Called for each range, in virtual-address order; return < 0 to stop. */
typedef int (*gw_range_fn)(void *opaque, const struct gw_range *r);

struct gw_enum_result {
	uint64_t ranges;        /* ranges reported */
	uint64_t entries;       /* entries read */
	bool truncated;         /* stopped by max_ranges, max_entries or the callback */
	uint64_t next;          /* with truncated: where to continue (from) */
};

/*
 * Every mapping of [from, to] (inclusive, canonical addresses; the hole
 * between the halves is skipped), with virtually and physically contiguous
 * pages of equal rights merged (QEMU's `info mem`). Stops after max_ranges
 * ranges or max_entries entries read. Tables the reader refuses and entries
 * with reserved bits are skipped (they map nothing). Returns 0 or -EINVAL
 * (from > to).
 */
int gw_enumerate(const struct gw_memory *mem, uint64_t cr3, uint64_t from, uint64_t to,
		 const struct gw_config *cfg, uint64_t max_ranges, uint64_t max_entries,
		 gw_range_fn fn, void *opaque, struct gw_enum_result *ret);
