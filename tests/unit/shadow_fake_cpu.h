/* SPDX-License-Identifier: MIT */
/*
 * A fake CPU and fake guest memory for the shadow engine's unit tests
 * (emulate.c, reflect.c): a struct shadow_cpu plus a struct shadow_env whose
 * callbacks work on a flat guest memory where virtual == physical, with
 * per-page present/writable/user/no-execute bits checked like a page walk,
 * a port bus that records every access, a fixed CPUID, and counters for
 * every paging callback.
 *
 * Linked into every unit test binary (tests/unit/ support files are): it
 * uses only the shadow headers' types, no library function and no KVM.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmmd/shadow/vcpu_model.h"

#define FAKE_MEM_SIZE   (256u * 1024)
#define FAKE_PAGES      (FAKE_MEM_SIZE / 4096)
#define FAKE_PIO_LOG    64

/* Page bits: default for every page is P | W | U. */
#define FAKE_P   0x1u
#define FAKE_W   0x2u
#define FAKE_U   0x4u
#define FAKE_NX  0x8u

struct fake_pio {
	uint16_t port;
	unsigned size;
	bool is_write;
	uint32_t value;
};

struct fake_cpu {
	struct shadow_cpu cpu;
	struct shadow_env env;
	uint8_t mem[FAKE_MEM_SIZE];
	uint8_t page[FAKE_PAGES];

	/* Port bus: reads return in_value, then in_value + in_step, ...;
	 * ports in [fail_lo, fail_hi) fail with -ENODEV. */
	uint32_t in_value, in_step;
	uint16_t fail_lo, fail_hi;
	struct fake_pio pio[FAKE_PIO_LOG];
	unsigned n_pio;

	/* Counters. */
	unsigned reads, writes, fetches, faults;
	unsigned cr3_writes, invlpgs, paging_changes, counts;
	uint64_t last_cr3, last_cr3_old, last_invlpg;
	struct shadow_fault last_fault;
	/* Fail the Nth write_virt from now (1 = the next one); 0 = never. */
	unsigned fail_write_after;
};

/* Zero everything, mark all pages P|W|U, wire the env to this fake. */
void fake_cpu_init(struct fake_cpu *f);

/* Set the page bits of [va, va + len). */
void fake_set_pages(struct fake_cpu *f, uint64_t va, uint64_t len, uint8_t bits);

/* Direct (unchecked) access to fake memory, for setting up and checking. */
void fake_put(struct fake_cpu *f, uint64_t va, const void *bytes, size_t len);
void fake_get(const struct fake_cpu *f, uint64_t va, void *bytes, size_t len);
void fake_put64(struct fake_cpu *f, uint64_t va, uint64_t v);
uint64_t fake_get64(const struct fake_cpu *f, uint64_t va);

/* Build a 64-bit interrupt/trap gate at idt[vector]. */
void fake_put_gate(struct fake_cpu *f, uint64_t idt, unsigned vector, uint64_t target, uint16_t sel,
		   unsigned type, unsigned dpl, bool present, unsigned ist);

/* Build an available 64-bit TSS descriptor at gdt + index * 8. */
void fake_put_tss_desc(struct fake_cpu *f, uint64_t gdt, unsigned index, uint64_t base, uint32_t limit,
		       bool present);

/* A flat GDT at gdt, loaded into pcb.gdtr (limit: 16 entries): kernel code64
 * 0x08, kernel data 0x10 and 0x18, user data 0x20, user code64 0x28, user
 * data 0x30, user code32 0x38 (FAKE_SEL_*). */
#define FAKE_SEL_KCODE   0x08
#define FAKE_SEL_KDATA   0x10
#define FAKE_SEL_UDATA   0x23
#define FAKE_SEL_UCODE   0x2b
#define FAKE_SEL_UCODE32 0x3b
void fake_put_gdt(struct fake_cpu *f, uint64_t gdt);
/* An 8-byte code/data descriptor at gdt + index * 8. */
void fake_put_desc(struct fake_cpu *f, uint64_t gdt, unsigned index, uint64_t desc);

/* The fake CPUID: out = { leaf, subleaf, 0x6b6d6d76 ("vmmk"), leaf ^ 0xffffffff }. */
void fake_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
/* An AMD CPU's: leaf 0 names "AuthenticAMD" (EBX, EDX, ECX), all else 0. */
void fake_cpuid_amd(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
