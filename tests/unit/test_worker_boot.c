/* SPDX-License-Identifier: MIT */
/*
 * vmmd/worker/boot (the 64-bit boot contract of abi/bootinfo.h) and
 * vmmd/worker/guest_memory: the tables are checked the way the CPU and the
 * guest would read them, in a calloc'd guest memory with guard bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/vm_config.h"
#include "abi/bootinfo.h"
#include "vmmd/worker/boot.h"
#include "vmmd/worker/guest_memory.h"

#define MEM_SIZE    (4u << 20)
#define GUARD       4096
#define GUARD_BYTE  0x5a
#define FILL_BYTE   0xcc

#define PTE_P       (1ULL << 0)
#define PTE_W       (1ULL << 1)
#define PTE_U       (1ULL << 2)
#define PTE_PS      (1ULL << 7)
#define PTE_NX      (1ULL << 63)
#define ADDR_MASK   0x000ffffffffff000ULL

struct mem {
	uint8_t *buf;           /* GUARD + size + GUARD */
	size_t size;
	struct guest_memory gm;
};

static void mem_new(struct mem *m, size_t size)
{
	m->size = size;
	m->buf = malloc(GUARD + size + GUARD);
	assert_non_null(m->buf);
	memset(m->buf, GUARD_BYTE, GUARD);
	memset(m->buf + GUARD, FILL_BYTE, size);
	memset(m->buf + GUARD + size, GUARD_BYTE, GUARD);
	m->gm.host = m->buf + GUARD;
	m->gm.size = size;
}

static void assert_guards_intact(const struct mem *m)
{
	for (size_t i = 0; i < GUARD; i++) {
		if (m->buf[i] != GUARD_BYTE || m->buf[GUARD + m->size + i] != GUARD_BYTE)
			fail_msg("guard byte %zu overwritten", i);
	}
}

/* Nothing at or above `from` was written. */
static void assert_untouched_from(const struct mem *m, uint64_t from)
{
	for (uint64_t a = from; a < m->size; a++) {
		if (m->gm.host[a] != FILL_BYTE)
			fail_msg("byte 0x%llx written", (unsigned long long) a);
	}
	assert_guards_intact(m);
}

static void mem_free(struct mem *m)
{
	assert_guards_intact(m);
	free(m->buf);
	m->buf = NULL;
}

static uint64_t get64(const struct mem *m, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, m->gm.host + gpa, sizeof(v));
	return v;
}

static void config_init(struct vm_config *c, const char *cmdline)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "boot-test");
	c->memory_mib = MEM_SIZE >> 20;
	c->vcpus = 1;
	c->paging = VM_PAGING_HW;
	c->cmdline = (char *) cmdline;
}

static struct vmm_boot_info read_info(const struct mem *m)
{
	struct vmm_boot_info info;
	memcpy(&info, m->gm.host + VMM_BOOT_INFO, sizeof(info));
	return info;
}

/*
 * A 4-level walk as the CPU does it (CR3 = VMM_BOOT_PML4): every level must
 * be present, writable, supervisor-only and executable; the leaf is a 2 MiB
 * page in the PD. Returns false when the address is not mapped.
 */
static bool walk(const struct mem *m, uint64_t va, uint64_t *pa)
{
	uint64_t table = VMM_BOOT_PML4;
	static const unsigned shifts[] = { 39, 30, 21 };

	for (unsigned level = 0; level < 3; level++) {
		uint64_t idx = (va >> shifts[level]) & 511;
		uint64_t e = get64(m, table + idx * 8);
		if (!(e & PTE_P))
			return false;
		assert_true(e & PTE_W);
		assert_false(e & PTE_U);
		assert_false(e & PTE_NX);
		if (level < 2) {
			assert_false(e & PTE_PS);   /* no 512 GiB / 1 GiB pages */
			table = e & ADDR_MASK;
			/* Every table lies in vmmd's low memory. */
			assert_true(table < VMM_LOAD_MIN);
			assert_int_equal(table & 0xfff, 0);
		} else {
			assert_true(e & PTE_PS);
			*pa = (e & ADDR_MASK & ~0x1fffffULL) | (va & 0x1fffff);
			return true;
		}
	}
	return false;
}

static void test_boot_info(void **state)
{
	static const char cmdline[] = "console=ttyS0 quiet selftest=1";
	struct vm_config c;
	struct mem m;

	config_init(&c, cmdline);
	c.vcpus = 3;
	c.paging = VM_PAGING_SHADOW;
	mem_new(&m, MEM_SIZE);
	assert_int_equal(boot_write_tables(&m.gm, &c), 0);

	struct vmm_boot_info info = read_info(&m);
	assert_int_equal(info.magic, VMM_BOOT_MAGIC);
	assert_memory_equal(m.gm.host + VMM_BOOT_INFO, "VMMDBOOT", 8);
	assert_int_equal(info.version, VMM_BOOT_VERSION);
	assert_int_equal(info.size, sizeof(struct vmm_boot_info));
	assert_int_equal(info.memory_bytes, MEM_SIZE);
	assert_int_equal(info.vcpus, 3);
	assert_int_equal(info.mode, VMM_BOOT_MODE_SHADOW);
	assert_int_equal(info.cmdline, VMM_BOOT_CMDLINE);
	assert_int_equal(info.cmdline_len, strlen(cmdline));
	assert_int_equal(info.reserved, 0);
	assert_string_equal((const char *) m.gm.host + info.cmdline, cmdline);
	assert_int_equal(m.gm.host[info.cmdline + info.cmdline_len], '\0');
	/* Boot info and command line do not overlap each other or the tables. */
	assert_true(VMM_BOOT_INFO + sizeof(info) <= VMM_BOOT_CMDLINE);
	assert_true(VMM_BOOT_PD + 4 * 0x1000 <= VMM_BOOT_INFO);
	assert_true(VMM_BOOT_CMDLINE + VMM_BOOT_CMDLINE_MAX <= VMM_BOOT_STACK_TOP);

	/* Everything is below the load area; the rest is the guest's. */
	assert_untouched_from(&m, VMM_LOAD_MIN);
	mem_free(&m);

	/* hw paging, one vCPU, an empty command line. */
	config_init(&c, "");
	mem_new(&m, MEM_SIZE);
	assert_int_equal(boot_write_tables(&m.gm, &c), 0);
	info = read_info(&m);
	assert_int_equal(info.mode, VMM_BOOT_MODE_HW);
	assert_int_equal(info.vcpus, 1);
	assert_int_equal(info.cmdline_len, 0);
	assert_int_equal(m.gm.host[VMM_BOOT_CMDLINE], '\0');
	mem_free(&m);
}

static void test_low_memory_cleared(void **state)
{
	struct vm_config c;
	struct mem m;

	config_init(&c, "x");
	mem_new(&m, MEM_SIZE);   /* low memory starts as 0xcc garbage */
	assert_int_equal(boot_write_tables(&m.gm, &c), 0);
	/* Unused PML4 / PDPT entries must not be left as garbage "present" entries. */
	for (unsigned i = 1; i < 512; i++)
		assert_int_equal(get64(&m, VMM_BOOT_PML4 + i * 8), 0);
	for (unsigned i = 4; i < 512; i++)
		assert_int_equal(get64(&m, VMM_BOOT_PDPT + i * 8), 0);
	/* Page 0, the GDT's tail, the stack and the rest of low memory are zero. */
	for (uint64_t a = 0; a < VMM_BOOT_GDT; a++)
		assert_int_equal(m.gm.host[a], 0);
	for (uint64_t a = VMM_BOOT_GDT + 0x18; a < VMM_BOOT_PML4; a++)
		assert_int_equal(m.gm.host[a], 0);
	for (uint64_t a = VMM_BOOT_CMDLINE + 2; a < VMM_LOAD_MIN; a++) {
		if (m.gm.host[a] != 0)
			fail_msg("low byte 0x%llx not cleared", (unsigned long long) a);
	}
	assert_untouched_from(&m, VMM_LOAD_MIN);
	mem_free(&m);
}

static void test_identity_map(void **state)
{
	static const uint64_t addrs[] = {
		0, 0x1000, 0x1fffff, 0x200000, 0x201234, VMM_LOAD_MIN, 0x3fffffff,
		0x40000000, 0x12345678, 0xbfffffff, 0xc0000000, 0xfee00000, 0xfee000f0,
		0xfffff000, 0xffffffff,
	};
	struct vm_config c;
	struct mem m;
	uint64_t pa;

	config_init(&c, "");
	mem_new(&m, MEM_SIZE);
	assert_int_equal(boot_write_tables(&m.gm, &c), 0);

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		if (!walk(&m, addrs[i], &pa))
			fail_msg("0x%llx not mapped", (unsigned long long) addrs[i]);
		if (pa != addrs[i])
			fail_msg("0x%llx maps to 0x%llx", (unsigned long long) addrs[i],
				 (unsigned long long) pa);
	}
	/* Every one of the 2048 2 MiB pages, by its start and last byte. */
	for (uint64_t page = 0; page < 2048; page++) {
		uint64_t va = page << 21;
		assert_true(walk(&m, va, &pa));
		assert_int_equal(pa, va);
		assert_true(walk(&m, va + 0x1fffff, &pa));
		assert_int_equal(pa, va + 0x1fffff);
	}
	/* Exactly 4 GiB: the next byte and higher PML4 slots are unmapped. */
	assert_false(walk(&m, 0x100000000ULL, &pa));
	assert_false(walk(&m, 0x7fffffffffULL, &pa));
	assert_false(walk(&m, 1ULL << 39, &pa));
	assert_false(walk(&m, 0xffff800000000000ULL, &pa));
	mem_free(&m);
}

struct descriptor {
	uint32_t base, limit;
	uint8_t access;         /* P DPL S Type */
	bool g, db, l;
};

static struct descriptor decode(uint64_t d)
{
	return (struct descriptor) {
		.limit = (uint32_t) ((d & 0xffff) | ((d >> 32) & 0xf0000)),
		.base = (uint32_t) (((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000)),
		.access = (uint8_t) (d >> 40),
		.l = (d >> 53) & 1,
		.db = (d >> 54) & 1,
		.g = (d >> 55) & 1,
	};
}

static void test_gdt(void **state)
{
	struct vm_config c;
	struct mem m;

	config_init(&c, "");
	mem_new(&m, MEM_SIZE);
	assert_int_equal(boot_write_tables(&m.gm, &c), 0);

	assert_int_equal(get64(&m, VMM_BOOT_GDT), 0);   /* null descriptor */

	struct descriptor code = decode(get64(&m, VMM_BOOT_GDT + 0x08));
	assert_int_equal(code.access & 0x80, 0x80);     /* present */
	assert_int_equal(code.access & 0x60, 0);        /* DPL 0 */
	assert_int_equal(code.access & 0x10, 0x10);     /* code/data, not system */
	assert_int_equal(code.access & 0x08, 0x08);     /* executable */
	assert_int_equal(code.access & 0x02, 0x02);     /* readable */
	assert_true(code.l);                            /* 64-bit */
	assert_false(code.db);                          /* L=1 requires D=0 */
	assert_int_equal(code.base, 0);

	struct descriptor data = decode(get64(&m, VMM_BOOT_GDT + 0x10));
	assert_int_equal(data.access & 0x80, 0x80);
	assert_int_equal(data.access & 0x60, 0);
	assert_int_equal(data.access & 0x10, 0x10);
	assert_int_equal(data.access & 0x08, 0);        /* data */
	assert_int_equal(data.access & 0x02, 0x02);     /* writable */
	assert_false(data.l);
	assert_true(data.db);
	assert_true(data.g);
	assert_int_equal(data.base, 0);
	assert_int_equal(data.limit, 0xfffff);          /* flat 4 GiB */
	mem_free(&m);
}

static void test_memory_too_small(void **state)
{
	static const size_t sizes[] = { 0, 0x1000, VMM_BOOT_CMDLINE, VMM_LOAD_MIN - 0x1000,
					VMM_LOAD_MIN - 1 };
	struct vm_config c;
	struct mem m;

	config_init(&c, "console=ttyS0");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		mem_new(&m, sizes[i]);
		int r = boot_write_tables(&m.gm, &c);
		if (r != -ERANGE)
			fail_msg("memory 0x%zx: %d, want -ERANGE", sizes[i], r);
		assert_untouched_from(&m, 0);   /* nothing written at all */
		mem_free(&m);
	}

	/* Exactly VMM_LOAD_MIN is enough. */
	mem_new(&m, VMM_LOAD_MIN);
	assert_int_equal(boot_write_tables(&m.gm, &c), 0);
	assert_int_equal(read_info(&m).memory_bytes, VMM_LOAD_MIN);
	mem_free(&m);
}

static void test_cmdline_limits(void **state)
{
	static char longest[VMM_BOOT_CMDLINE_MAX];
	static char too_long[VMM_BOOT_CMDLINE_MAX + 1];
	struct vm_config c;
	struct mem m;

	/* VMM_BOOT_CMDLINE_MAX - 1 characters fit, with their NUL. */
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	config_init(&c, longest);
	mem_new(&m, MEM_SIZE);
	assert_int_equal(boot_write_tables(&m.gm, &c), 0);
	assert_int_equal(read_info(&m).cmdline_len, VMM_BOOT_CMDLINE_MAX - 1);
	assert_string_equal((const char *) m.gm.host + VMM_BOOT_CMDLINE, longest);
	assert_int_equal(m.gm.host[VMM_BOOT_CMDLINE + VMM_BOOT_CMDLINE_MAX - 1], '\0');
	assert_int_equal(m.gm.host[VMM_BOOT_CMDLINE + VMM_BOOT_CMDLINE_MAX], 0);
	assert_untouched_from(&m, VMM_LOAD_MIN);
	mem_free(&m);

	/* VMM_BOOT_CMDLINE_MAX characters do not. */
	memset(too_long, 'b', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	config_init(&c, too_long);
	mem_new(&m, MEM_SIZE);
	assert_int_equal(boot_write_tables(&m.gm, &c), -E2BIG);
	/* Not a byte of it past the command-line area, and no boot info claiming it. */
	assert_int_equal(m.gm.host[VMM_BOOT_CMDLINE + VMM_BOOT_CMDLINE_MAX], 0);
	assert_int_not_equal(read_info(&m).magic, VMM_BOOT_MAGIC);
	assert_untouched_from(&m, VMM_LOAD_MIN);
	mem_free(&m);

	/* The config layer's limit agrees with the boot ABI's. */
	assert_true(VM_CMDLINE_MAX < VMM_BOOT_CMDLINE_MAX);
}

/* boot_write_tables on memory from guest_memory_map, as the worker does it. */
static void test_mapped_memory(void **state)
{
	struct guest_memory gm = { 0 };
	struct vm_config c;

	config_init(&c, "root=none");
	assert_int_equal(guest_memory_map(64u << 20, &gm), 0);
	assert_int_equal(boot_write_tables(&gm, &c), 0);
	struct vmm_boot_info info;
	memcpy(&info, gm.host + VMM_BOOT_INFO, sizeof(info));
	assert_int_equal(info.memory_bytes, 64u << 20);
	guest_memory_unmap(&gm);
	assert_null(gm.host);
	assert_int_equal(gm.size, 0);
	guest_memory_unmap(&gm);   /* twice is harmless */
}

/* --- guest_memory -------------------------------------------------------- */

static void test_guest_memory_ptr_bounds(void **state)
{
	static uint8_t backing[0x10000];
	const struct guest_memory m = { .host = backing, .size = sizeof(backing) };
	const uint64_t size = sizeof(backing);

	assert_ptr_equal(guest_memory_ptr(&m, 0, size), backing);
	assert_ptr_equal(guest_memory_ptr(&m, 0, 0), backing);
	assert_ptr_equal(guest_memory_ptr(&m, 0x1234, 1), backing + 0x1234);
	/* Exact end. */
	assert_ptr_equal(guest_memory_ptr(&m, size - 8, 8), backing + size - 8);
	assert_ptr_equal(guest_memory_ptr(&m, size - 1, 1), backing + size - 1);
	assert_null(guest_memory_ptr(&m, size - 8, 9));
	assert_null(guest_memory_ptr(&m, 0, size + 1));
	/* len 0 at the end is an empty range, inside; one past it is not. */
	assert_ptr_equal(guest_memory_ptr(&m, size, 0), backing + size);
	assert_null(guest_memory_ptr(&m, size, 1));
	assert_null(guest_memory_ptr(&m, size + 1, 0));
	/* gpa + len overflows 64 bits. */
	assert_null(guest_memory_ptr(&m, 1, UINT64_MAX));
	assert_null(guest_memory_ptr(&m, 0x8000, UINT64_MAX - 0x7fff));   /* wraps to 0 */
	assert_null(guest_memory_ptr(&m, 0x8000, 0 - 0x8000ULL + 0x10));   /* wraps to 0x10 */
	assert_null(guest_memory_ptr(&m, UINT64_MAX, 1));
	assert_null(guest_memory_ptr(&m, UINT64_MAX, 0));
	assert_null(guest_memory_ptr(&m, UINT64_MAX - 0xf, 0x20));
	assert_null(guest_memory_ptr(&m, 0, UINT64_MAX));

	/* Empty memory: only (0, 0). */
	const struct guest_memory empty = { .host = backing, .size = 0 };
	assert_ptr_equal(guest_memory_ptr(&empty, 0, 0), backing);
	assert_null(guest_memory_ptr(&empty, 0, 1));
	assert_null(guest_memory_ptr(&empty, 1, 0));
}

static void test_guest_memory_map_sizes(void **state)
{
	struct guest_memory gm = { 0 };

	assert_int_equal(guest_memory_map(0, &gm), -EINVAL);
	assert_int_equal(guest_memory_map(0x1001, &gm), -EINVAL);
	assert_int_equal(guest_memory_map(0x800, &gm), -EINVAL);
	assert_int_equal(guest_memory_map(GUEST_MEMORY_MAX + 0x1000, &gm), -EINVAL);
	assert_int_equal(guest_memory_map(UINT64_MAX & ~0xfffULL, &gm), -EINVAL);
	assert_null(gm.host);

	assert_int_equal(guest_memory_map(0x200000, &gm), 0);
	assert_non_null(gm.host);
	assert_int_equal(gm.size, 0x200000);
	/* Zeroed and writable at both ends. */
	assert_int_equal(gm.host[0], 0);
	assert_int_equal(gm.host[0x1fffff], 0);
	gm.host[0] = 1;
	gm.host[0x1fffff] = 2;
	assert_ptr_equal(guest_memory_ptr(&gm, 0x1fffff, 1), gm.host + 0x1fffff);
	assert_null(guest_memory_ptr(&gm, 0x1fffff, 2));
	guest_memory_unmap(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_info),
		cmocka_unit_test(test_low_memory_cleared),
		cmocka_unit_test(test_identity_map),
		cmocka_unit_test(test_gdt),
		cmocka_unit_test(test_memory_too_small),
		cmocka_unit_test(test_cmdline_limits),
		cmocka_unit_test(test_mapped_memory),
		cmocka_unit_test(test_guest_memory_ptr_bounds),
		cmocka_unit_test(test_guest_memory_map_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
