/* SPDX-License-Identifier: MIT */
/*
 * vmmd/worker/linux_boot.c, linux_bzimage.c, linux_pvh.c, mptable.c:
 * kernels built in memory (a bzImage setup header with a fake
 * protected-mode kernel, a vmlinux-like ELF with a PVH note), loaded into a
 * 64 MiB calloc'd guest memory. Checks what a kernel reads at entry: the
 * zero page or hvm_start_info, e820, command line, initrd, page tables, the
 * MP table; and that every bad header is refused with its reason.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmmd/worker/linux_boot.h"
#include "vmmd/worker/mptable.h"

#define MEM_SIZE   (64ULL << 20)
#define PM_SIZE    0x800
#define SETUP_SIZE 0x400   /* setup_sects = 1 */
#define LOAD_ADDR  0x1000000ULL
#define INIT_SIZE  0x200000u

static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

struct fixture {
	struct guest_memory mem;
	uint8_t bz[SETUP_SIZE + PM_SIZE];
	char initrd_path[64];
	int initrd_fd;    /* what the worker is handed */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->mem.host = calloc(1, MEM_SIZE);
	f->mem.size = MEM_SIZE;
	uint8_t *b = f->bz;
	b[0x1f1] = 1;                       /* setup_sects */
	wr16(b + 0x1fe, 0xaa55);
	b[0x201] = 0x270 - 0x202;           /* header length */
	memcpy(b + 0x202, "HdrS", 4);
	wr16(b + 0x206, 0x020f);
	b[0x211] = 0x01;                    /* LOADED_HIGH */
	wr32(b + 0x22c, 0x7fffffff);        /* initrd_addr_max */
	wr32(b + 0x230, 0x200000);          /* kernel_alignment */
	b[0x234] = 1;
	wr16(b + 0x236, 0x1);               /* XLF_KERNEL_64 */
	wr32(b + 0x238, 2047);              /* cmdline_size */
	wr64(b + 0x258, LOAD_ADDR);         /* pref_address */
	wr32(b + 0x260, INIT_SIZE);
	wr32(b + 0x1f4, PM_SIZE / 16);       /* syssize */
	for (unsigned i = 0; i < PM_SIZE; i++)
		b[SETUP_SIZE + i] = (uint8_t) (i * 7 + 1);
	snprintf(f->initrd_path, sizeof(f->initrd_path), "/tmp/vmmd-test-initrd-XXXXXX");
	int fd = mkstemp(f->initrd_path);
	assert_true(fd >= 0);
	uint8_t data[5000];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t) (i ^ 0x5a);
	assert_int_equal(write(fd, data, sizeof(data)), sizeof(data));
	f->initrd_fd = fd;   /* read with pread from 0: the offset left here does not matter */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	unlink(f->initrd_path);
	close(f->initrd_fd);
	free(f->mem.host);
	free(f);
	return 0;
}

static struct linux_boot_params bz_params(struct fixture *f, const char *cmdline)
{
	return (struct linux_boot_params) {
		.kind = VM_BOOT_BZIMAGE, .kernel = f->bz, .kernel_size = sizeof(f->bz),
		.initrd_fd = f->initrd_fd, .cmdline = cmdline, .vcpus = 2,
	};
}

static void test_bzimage_zero_page(void **state)
{
	struct fixture *f = *state;
	struct linux_boot_params p = bz_params(f, "console=ttyS0 quiet");
	struct linux_boot_layout l;
	struct vm_error err = { 0 };
	assert_int_equal(linux_boot_load(&f->mem, &p, &l, &err), 0);

	/* The 64-bit entry: load address + 0x200, rsi = zero page, identity map. */
	assert_int_equal(l.entry.mode, VCPU_ENTRY_LONG);
	assert_int_equal(l.entry.rip, LOAD_ADDR + 0x200);
	assert_int_equal(l.entry.rsi, LINUX_BOOT_PARAMS);
	assert_int_equal(l.entry.cs, 0x10);
	assert_int_equal(l.entry.ds, 0x18);
	assert_int_equal(l.entry.cr3, LINUX_PML4);
	const uint8_t *m = f->mem.host;
	assert_int_equal(rd64(m + LINUX_GDT + 0x10), 0x00af9a000000ffffULL);
	assert_int_equal(rd64(m + LINUX_PML4) & ~0xfffULL, LINUX_PDPT);
	assert_int_equal(rd64(m + LINUX_PD + 8 * 8), (8ULL << 21) | 0x83);   /* 16 MiB: P W PS */

	/* The protected-mode kernel is at its preferred address. */
	assert_memory_equal(m + LOAD_ADDR, f->bz + SETUP_SIZE, PM_SIZE);
	assert_int_equal(l.kernel_start, LOAD_ADDR);
	assert_int_equal(l.kernel_end, LOAD_ADDR + INIT_SIZE);

	const uint8_t *bp = m + LINUX_BOOT_PARAMS;
	assert_memory_equal(bp + 0x202, "HdrS", 4);
	assert_int_equal(bp[0x210], 0xff);                     /* type_of_loader */
	assert_int_equal(rd32(bp + 0x228), LINUX_CMDLINE);
	assert_string_equal((const char *) m + LINUX_CMDLINE, "console=ttyS0 quiet");

	/* Initrd: page-aligned at the top of memory, all of it, named in the zero page. */
	assert_int_equal(l.initrd_size, 5000);
	assert_int_equal(l.initrd_start, (MEM_SIZE - 5000) & ~0xfffULL);
	assert_int_equal(rd32(bp + 0x218), l.initrd_start);
	assert_int_equal(rd32(bp + 0x21c), 5000);
	for (unsigned i = 0; i < 5000; i++)
		assert_int_equal(m[l.initrd_start + i], (uint8_t) (i ^ 0x5a));

	/* e820: RAM below the EBDA, reserved up to 1 MiB, RAM to the end. */
	assert_int_equal(bp[0x1e8], 3);
	const uint8_t *e = bp + 0x2d0;
	assert_int_equal(rd64(e), 0);
	assert_int_equal(rd64(e + 8), LINUX_EBDA);
	assert_int_equal(rd32(e + 16), E820_RAM);
	assert_int_equal(rd32(e + 20 + 16), E820_RESERVED);
	assert_int_equal(rd64(e + 40), 0x100000);
	assert_int_equal(rd64(e + 40 + 8), MEM_SIZE - 0x100000);
	assert_int_equal(rd32(e + 40 + 16), E820_RAM);
}

static void test_bzimage_bad_headers(void **state)
{
	struct fixture *f = *state;
	static const struct {
		size_t off;
		unsigned width;
		uint64_t value;
		int err;
		const char *why_has;
	} cases[] = {
		{ 0x1fe, 2, 0x1234, -ENOEXEC, "not a bzImage" },
		{ 0x206, 2, 0x020b, -ENOEXEC, "older than 2.12" },
		{ 0x236, 2, 0x0, -ENOEXEC, "32-bit kernel" },
		{ 0x211, 1, 0x0, -ENOEXEC, "zImage" },
		{ 0x1f1, 1, 60, -EINVAL, "no protected-mode kernel" },
		{ 0x201, 1, 0x10, -EINVAL, "header length" },
		{ 0x230, 4, 0x300000, -EINVAL, "power of two" },
		{ 0x258, 8, 0x1001000, -EINVAL, "pref_address" },
		{ 0x258, 8, 0x80000, -EINVAL, "pref_address" },
		{ 0x260, 4, 0x100, -EINVAL, "init_size smaller" },
		{ 0x260, 4, 0x4000000, -ERANGE, "does not fit" },
		{ 0x238, 4, 5, -E2BIG, "cmdline_size" },
		{ 0x1f4, 4, PM_SIZE / 16 + 1, -EINVAL, "truncated" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t saved[8];
		memcpy(saved, f->bz + cases[i].off, 8);
		memcpy(f->bz + cases[i].off, &cases[i].value, cases[i].width);
		struct linux_boot_params p = bz_params(f, "console=ttyS0");
		struct linux_boot_layout l;
		struct vm_error err = { 0 };
		int r = linux_boot_load(&f->mem, &p, &l, &err);
		if (r != cases[i].err || !err.why || !strstr(err.why, cases[i].why_has) ||
		    err.kind != WORKER_ERROR_KERNEL)
			fail_msg("case %zu: got %d (%s, %s), want %d (%s, kernel)", i, r, err.why ? err.why : "-",
				 worker_error_name(err.kind), cases[i].err, cases[i].why_has);
		memcpy(f->bz + cases[i].off, saved, 8);
	}
}

static void test_initrd_and_cmdline_limits(void **state)
{
	struct fixture *f = *state;
	struct linux_boot_layout l;
	struct vm_error err = { 0 };
	/* initrd_addr_max below the kernel's end: nowhere to put it. */
	wr32(f->bz + 0x22c, LOAD_ADDR + INIT_SIZE);
	struct linux_boot_params p = bz_params(f, "");
	assert_int_equal(linux_boot_load(&f->mem, &p, &l, &err), -ERANGE);
	assert_int_equal(err.kind, WORKER_ERROR_INITRD);   /* the initrd's to fix, not the kernel's */
	assert_non_null(strstr(err.why, "initrd"));
	/* initrd_addr_max caps the placement. */
	wr32(f->bz + 0x22c, 0x2ffffff);
	assert_int_equal(linux_boot_load(&f->mem, &p, &l, &err), 0);
	assert_int_equal(l.initrd_start, (0x3000000 - 5000) & ~0xfffULL);
	/* An initrd that is no regular file names itself. */
	int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
	assert_true(dir >= 0);
	p.initrd_fd = dir;
	assert_int_equal(linux_boot_load(&f->mem, &p, &l, &err), -EINVAL);
	assert_int_equal(err.kind, WORKER_ERROR_INITRD);
	assert_non_null(strstr(err.why, "initrd"));
	close(dir);
	/* No initrd at all is fine. */
	p.initrd_fd = -1;
	assert_int_equal(linux_boot_load(&f->mem, &p, &l, &err), 0);
	assert_int_equal(l.initrd_size, 0);
	assert_int_equal(rd32(f->mem.host + LINUX_BOOT_PARAMS + 0x21c), 0);
	/* Past Linux's COMMAND_LINE_SIZE. */
	char *long_line = malloc(LINUX_CMDLINE_MAX + 1);
	memset(long_line, 'x', LINUX_CMDLINE_MAX);
	long_line[LINUX_CMDLINE_MAX] = 0;
	p.cmdline = long_line;
	assert_int_equal(linux_boot_load(&f->mem, &p, &l, &err), -E2BIG);
	assert_int_equal(err.kind, WORKER_ERROR_KERNEL);
	free(long_line);
	/* Too little memory for Linux at all. */
	struct guest_memory small = { f->mem.host, 16ULL << 20 };
	p.cmdline = "";
	assert_int_equal(linux_boot_load(&small, &p, &l, &err), -ERANGE);
}

/* A vmlinux-like ELF: one PT_LOAD linked high, loaded at 16 MiB, and a PT_NOTE. */
static size_t make_vmlinux(uint8_t *img, size_t cap, bool with_note, uint64_t e_entry)
{
	memset(img, 0, cap);
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT, .e_entry = e_entry,
		.e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 2,
	};
	memcpy(img, &eh, sizeof(eh));
	Elf64_Phdr load = { .p_type = PT_LOAD, .p_offset = 0x1000, .p_vaddr = 0xffffffff81000000ULL,
			    .p_paddr = LOAD_ADDR, .p_filesz = 0x100, .p_memsz = 0x2000, .p_align = 0x1000 };
	Elf64_Phdr note = { .p_type = with_note ? PT_NOTE : PT_NULL, .p_offset = 0x800, .p_filesz = 24 };
	memcpy(img + eh.e_phoff, &load, sizeof(load));
	memcpy(img + eh.e_phoff + sizeof(load), &note, sizeof(note));
	Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = 8, .n_type = 18 };
	memcpy(img + 0x800, &nh, sizeof(nh));
	memcpy(img + 0x800 + sizeof(nh), "Xen", 4);
	wr64(img + 0x800 + sizeof(nh) + 4, LOAD_ADDR + 0x40);
	for (unsigned i = 0; i < 0x100; i++)
		img[0x1000 + i] = (uint8_t) i;
	return 0x1100;
}

static void test_pvh_start_info(void **state)
{
	struct fixture *f = *state;
	static uint8_t img[0x1100];
	size_t size = make_vmlinux(img, sizeof(img), true, LOAD_ADDR);
	assert_int_equal(linux_boot_detect(img, size), VM_BOOT_PVH);
	struct linux_boot_params p = {
		.kind = VM_BOOT_PVH, .kernel = img, .kernel_size = size,
		.initrd_fd = f->initrd_fd, .cmdline = "console=ttyS0", .vcpus = 1,
	};
	struct linux_boot_layout l;
	struct vm_error err = { 0 };
	assert_int_equal(linux_boot_load(&f->mem, &p, &l, &err), 0);
	assert_int_equal(l.entry.mode, VCPU_ENTRY_PROTECTED32);
	assert_int_equal(l.entry.rip, LOAD_ADDR + 0x40);
	assert_int_equal(l.entry.rbx, LINUX_START_INFO);
	const uint8_t *m = f->mem.host;
	assert_int_equal(rd64(m + LINUX_GDT + 0x10), 0x00cf9a000000ffffULL);   /* 32-bit code */
	assert_memory_equal(m + LOAD_ADDR, img + 0x1000, 0x100);
	const uint8_t *si = m + LINUX_START_INFO;
	assert_int_equal(rd32(si), 0x336ec578);
	assert_int_equal(rd32(si + 4), 1);                    /* version */
	assert_int_equal(rd32(si + 12), 1);                   /* nr_modules */
	assert_int_equal(rd64(si + 16), LINUX_MODLIST);
	assert_int_equal(rd64(si + 24), LINUX_CMDLINE);
	assert_int_equal(rd64(si + 40), LINUX_MEMMAP);
	assert_int_equal(rd32(si + 48), 3);
	assert_int_equal(rd64(m + LINUX_MODLIST), l.initrd_start);
	assert_int_equal(rd64(m + LINUX_MODLIST + 8), 5000);
	assert_int_equal(rd64(m + LINUX_MEMMAP + 2 * 24), 0x100000);
	assert_int_equal(rd32(m + LINUX_MEMMAP + 2 * 24 + 16), E820_RAM);
	/* The initrd sits above the kernel, below 4 GiB. */
	assert_true(l.initrd_start >= LOAD_ADDR + 0x2000);

	/* No note: refused by name. */
	size = make_vmlinux(img, sizeof(img), false, LOAD_ADDR);
	p.kernel_size = size;
	assert_int_equal(linux_boot_load(&f->mem, &p, &l, &err), -ENOEXEC);
	assert_int_equal(err.kind, WORKER_ERROR_KERNEL);
	assert_non_null(strstr(err.why, "PVH"));
}

static void test_detect(void **state)
{
	struct fixture *f = *state;
	static uint8_t img[0x1100];
	assert_int_equal(linux_boot_detect(f->bz, sizeof(f->bz)), VM_BOOT_BZIMAGE);
	/* e_entry inside the loaded segment: one of vmmd's own guests, even with the note. */
	size_t size = make_vmlinux(img, sizeof(img), true, 0xffffffff81000010ULL);
	assert_int_equal(linux_boot_detect(img, size), VM_BOOT_VMMD);
	uint8_t junk[64] = { 1, 2, 3 };
	assert_int_equal(linux_boot_detect(junk, sizeof(junk)), VM_BOOT_VMMD);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static void test_mptable(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(mptable_write(&f->mem, LINUX_EBDA, 4), 0);
	const uint8_t *mpf = f->mem.host + LINUX_EBDA;
	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(sum(mpf, 16), 0);
	uint32_t table = rd32(mpf + 4);
	assert_int_equal(table, LINUX_EBDA + 16);
	const uint8_t *t = f->mem.host + table;
	assert_memory_equal(t, "PCMP", 4);
	uint16_t len, count;
	memcpy(&len, t + 4, 2);
	memcpy(&count, t + 34, 2);
	assert_int_equal(sum(t, len), 0);
	assert_int_equal(count, 4 + 1 + 1 + 24 + 2);   /* CPUs, bus, IOAPIC, pins, LINT0/1 */
	assert_true(LINUX_EBDA + 16 + len <= 0x100000);
	assert_int_equal(16 + len, mptable_size(4));
	/* CPU entries: APIC IDs 0..3, the first one the BSP. */
	const uint8_t *cpu = t + 44;
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(cpu[i * 20], 0);
		assert_int_equal(cpu[i * 20 + 1], i);
		assert_int_equal(cpu[i * 20 + 3], i == 0 ? 3 : 1);
	}
	/* The IOAPIC's ID follows the CPUs'. */
	const uint8_t *ioapic = cpu + 4 * 20 + 8;
	assert_int_equal(ioapic[0], 2);
	assert_int_equal(ioapic[1], 4);
	assert_int_equal(rd32(ioapic + 4), MPTABLE_IOAPIC_BASE);
	assert_int_equal(mptable_write(&f->mem, LINUX_EBDA, 0), -EINVAL);
	assert_int_equal(mptable_write(&f->mem, LINUX_EBDA, MPTABLE_MAX_CPUS + 1), -EINVAL);
	assert_int_equal(mptable_write(&f->mem, 0xfff00, 64), -ERANGE);
}

static void test_cmdline_compose(void **state)
{
	(void) state;
	const char *dev[] = { "virtio_mmio.device=512@0xd0000000:5", "virtio_mmio.device=512@0xd0001000:6" };
	char *s = linux_cmdline_compose("console=ttyS0", "clearcpuid=avx", dev, 2);
	assert_string_equal(s, "console=ttyS0 clearcpuid=avx virtio_mmio.device=512@0xd0000000:5 "
			       "virtio_mmio.device=512@0xd0001000:6");
	free(s);
	s = linux_cmdline_compose("", "", dev, 1);
	assert_string_equal(s, "virtio_mmio.device=512@0xd0000000:5");
	free(s);
	s = linux_cmdline_compose("", "", NULL, 0);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bzimage_zero_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bzimage_bad_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_and_cmdline_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pvh_start_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mptable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_compose, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
