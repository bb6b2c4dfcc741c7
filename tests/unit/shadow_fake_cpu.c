/* SPDX-License-Identifier: MIT */
/* A fake CPU, memory and port bus for the shadow engine's tests (see shadow_fake_cpu.h). */
#include <errno.h>
#include <string.h>

#include "tests/unit/shadow_fake_cpu.h"

/* May the access touch all of [va, va + len)? If not, *ret_bad is the first
 * byte it may not touch and *ret_error the #PF error code (P | W | U | I/D). */
static bool check(const struct fake_cpu *f, uint64_t va, size_t len, unsigned access, uint64_t *ret_bad,
		  uint32_t *ret_error)
{
	for (uint64_t a = va; a - va < len; a = (a | 4095) + 1) {
		uint32_t err = access & (SHADOW_ACC_WRITE | SHADOW_ACC_USER | SHADOW_ACC_FETCH);
		if (a >= FAKE_MEM_SIZE || a < va) {
			*ret_bad = a;
			*ret_error = err;
			return false;
		}
		uint8_t bits = f->page[a / 4096];
		bool ok = (bits & FAKE_P) && (!(access & SHADOW_ACC_WRITE) || (bits & FAKE_W)) &&
			  (!(access & SHADOW_ACC_USER) || (bits & FAKE_U)) &&
			  (!(access & SHADOW_ACC_FETCH) || !(bits & FAKE_NX));
		if (!ok) {
			*ret_bad = a;
			*ret_error = err | ((bits & FAKE_P) ? 1 : 0);
			return false;
		}
	}
	return true;
}

static int fail(struct fake_cpu *f, uint64_t va, uint32_t error, struct shadow_fault *fault)
{
	f->faults++;
	*fault = (struct shadow_fault) { .vector = X86_PF, .error = error, .cr2 = va };
	f->last_fault = *fault;
	return -EFAULT;
}

static int fake_read_virt(void *ctx, uint64_t va, void *buf, size_t len, unsigned access, struct shadow_fault *fault)
{
	struct fake_cpu *f = ctx;
	uint32_t err;
	uint64_t bad;
	bool ok = check(f, va, len, access, &bad, &err);

	if (access & SHADOW_ACC_FETCH)
		f->fetches++;
	else
		f->reads++;
	if (!ok)
		return fail(f, bad, err, fault);
	memcpy(buf, f->mem + va, len);
	return 0;
}

static int fake_write_virt(void *ctx, uint64_t va, const void *buf, size_t len, unsigned access,
			   struct shadow_fault *fault)
{
	struct fake_cpu *f = ctx;
	uint32_t err;
	uint64_t bad;
	bool ok = check(f, va, len, access | SHADOW_ACC_WRITE, &bad, &err);

	f->writes++;
	if (f->fail_write_after && --f->fail_write_after == 0)
		return fail(f, va, (access & SHADOW_ACC_USER) | SHADOW_ACC_WRITE, fault);
	if (!ok)
		return fail(f, bad, err, fault);
	memcpy(f->mem + va, buf, len);
	return 0;
}

static int fake_pio(void *ctx, uint16_t port, void *data, unsigned size, bool is_write)
{
	struct fake_cpu *f = ctx;
	uint32_t v = 0;

	if (port >= f->fail_lo && port < f->fail_hi)
		return -ENODEV;
	if (is_write) {
		memcpy(&v, data, size);
	} else {
		v = f->in_value;
		f->in_value += f->in_step;
		memcpy(data, &v, size);
	}
	if (f->n_pio < FAKE_PIO_LOG)
		f->pio[f->n_pio] = (struct fake_pio) { .port = port, .size = size, .is_write = is_write, .value = v };
	f->n_pio++;
	return 0;
}

static void fake_cr3_write(void *ctx, uint64_t new_cr3)
{
	struct fake_cpu *f = ctx;
	f->cr3_writes++;
	f->last_cr3 = new_cr3;
	f->last_cr3_old = f->cpu.pcb.cr3;
}

static void fake_invlpg(void *ctx, uint64_t va)
{
	struct fake_cpu *f = ctx;
	f->invlpgs++;
	f->last_invlpg = va;
}

static void fake_paging_changed(void *ctx)
{
	struct fake_cpu *f = ctx;
	f->paging_changes++;
}

static void fake_count(void *ctx, const char *what)
{
	struct fake_cpu *f = ctx;
	f->counts++;
}

static uint64_t fake_tsc(void *ctx)
{
	return 0x123456789abcULL;
}

void fake_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	out[0] = leaf;
	out[1] = subleaf;
	out[2] = 0x6b6d6d76;
	out[3] = leaf ^ 0xffffffffu;
}

void fake_cpuid_amd(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	static const char v[12] = "AuthenticAMD";

	memset(out, 0, 4 * sizeof(out[0]));
	if (leaf == 0) {
		memcpy(&out[1], v, 4);
		memcpy(&out[3], v + 4, 4);
		memcpy(&out[2], v + 8, 4);
	}
}

void fake_cpu_init(struct fake_cpu *f)
{
	memset(f, 0, sizeof(*f));
	memset(f->page, FAKE_P | FAKE_W | FAKE_U, sizeof(f->page));
	f->env = (struct shadow_env) {
		.ctx = f, .read_virt = fake_read_virt, .write_virt = fake_write_virt, .pio = fake_pio,
		.cr3_write = fake_cr3_write, .invlpg = fake_invlpg, .paging_changed = fake_paging_changed,
		.count = fake_count, .cpuid = fake_cpuid, .tsc = fake_tsc,
	};
	f->cpu.regs.rflags = X86_RFLAGS_FIXED;
}

void fake_set_pages(struct fake_cpu *f, uint64_t va, uint64_t len, uint8_t bits)
{
	for (uint64_t a = va & ~4095ULL; a < va + len && a < FAKE_MEM_SIZE; a += 4096)
		f->page[a / 4096] = bits;
}

void fake_put(struct fake_cpu *f, uint64_t va, const void *bytes, size_t len)
{
	if (va < FAKE_MEM_SIZE && len <= FAKE_MEM_SIZE - va)
		memcpy(f->mem + va, bytes, len);
}

void fake_get(const struct fake_cpu *f, uint64_t va, void *bytes, size_t len)
{
	if (va < FAKE_MEM_SIZE && len <= FAKE_MEM_SIZE - va)
		memcpy(bytes, f->mem + va, len);
	else
		memset(bytes, 0, len);
}

void fake_put64(struct fake_cpu *f, uint64_t va, uint64_t v)
{
	fake_put(f, va, &v, sizeof(v));
}

uint64_t fake_get64(const struct fake_cpu *f, uint64_t va)
{
	uint64_t v;
	fake_get(f, va, &v, sizeof(v));
	return v;
}

void fake_put_gate(struct fake_cpu *f, uint64_t idt, unsigned vector, uint64_t target, uint16_t sel,
		   unsigned type, unsigned dpl, bool present, unsigned ist)
{
	uint8_t g[16] = {
		target & 0xff, (target >> 8) & 0xff, sel & 0xff, sel >> 8, ist & 7,
		(present ? 0x80 : 0) | (dpl & 3) << 5 | (type & 0x1f), (target >> 16) & 0xff, (target >> 24) & 0xff,
		(target >> 32) & 0xff, (target >> 40) & 0xff, (target >> 48) & 0xff, (target >> 56) & 0xff,
	};
	fake_put(f, idt + vector * 16, g, sizeof(g));
}

void fake_put_tss_desc(struct fake_cpu *f, uint64_t gdt, unsigned index, uint64_t base, uint32_t limit,
		       bool present)
{
	uint8_t d[16] = {
		limit & 0xff, (limit >> 8) & 0xff, base & 0xff, (base >> 8) & 0xff, (base >> 16) & 0xff,
		(present ? 0x80 : 0) | 0x09, (limit >> 16) & 0x0f, (base >> 24) & 0xff,
		(base >> 32) & 0xff, (base >> 40) & 0xff, (base >> 48) & 0xff, (base >> 56) & 0xff,
	};
	fake_put(f, gdt + index * 8, d, sizeof(d));
}

void fake_put_desc(struct fake_cpu *f, uint64_t gdt, unsigned index, uint64_t desc)
{
	fake_put64(f, gdt + index * 8, desc);
}

void fake_put_gdt(struct fake_cpu *f, uint64_t gdt)
{
	static const uint64_t d[] = {
		0, 0x00af9a000000ffffULL, 0x00cf92000000ffffULL, 0x00cf92000000ffffULL,
		0x00cff2000000ffffULL, 0x00affa000000ffffULL, 0x00cff2000000ffffULL, 0x00cffa000000ffffULL,
	};
	for (unsigned i = 0; i < 16; i++)
		fake_put_desc(f, gdt, i, i < sizeof(d) / sizeof(d[0]) ? d[i] : 0);
	f->cpu.pcb.gdtr = (struct shadow_dtr) { .base = gdt, .limit = 16 * 8 - 1 };
}
