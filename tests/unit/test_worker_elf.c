/* SPDX-License-Identifier: MIT */
/*
 * vmmd/worker/elf_loader: ELF64 images built in memory, loaded into a
 * calloc'd guest memory with guard bytes on both sides. Every corrupt
 * image must fail with its documented error, name why, leave *ret alone
 * and never write outside guest memory.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "abi/bootinfo.h"
#include "vmmd/worker/elf_loader.h"

#define MEM_SIZE    (4u << 20)
#define GUARD       4096
#define GUARD_BYTE  0x5a
#define FILL_BYTE   0xcc

#define IMG_SIZE    0x3000
#define SEG0_OFF    0x1000
#define SEG0_VADDR  0x400000ULL
#define SEG0_PADDR  0x100000ULL
#define SEG0_SIZE   0x80
#define SEG1_OFF    0x2000
#define SEG1_VADDR  0x402000ULL
#define SEG1_PADDR  0x102000ULL
#define SEG1_FILESZ 0x10
#define SEG1_MEMSZ  0x3000
#define ENTRY_VADDR (SEG0_VADDR + 0x10)
#define ENTRY_PADDR (SEG0_PADDR + 0x10)

struct mem {
	uint8_t *buf;           /* GUARD + MEM_SIZE + GUARD */
	struct guest_memory gm;
};

static void mem_new(struct mem *m)
{
	m->buf = calloc(1, GUARD + MEM_SIZE + GUARD);
	assert_non_null(m->buf);
	memset(m->buf, GUARD_BYTE, GUARD);
	memset(m->buf + GUARD, FILL_BYTE, MEM_SIZE);
	memset(m->buf + GUARD + MEM_SIZE, GUARD_BYTE, GUARD);
	m->gm.host = m->buf + GUARD;
	m->gm.size = MEM_SIZE;
}

static void assert_guards_intact(const struct mem *m)
{
	for (size_t i = 0; i < GUARD; i++) {
		if (m->buf[i] != GUARD_BYTE || m->buf[GUARD + MEM_SIZE + i] != GUARD_BYTE)
			fail_msg("guard byte %zu overwritten", i);
	}
}

static void assert_memory_untouched(const struct mem *m)
{
	for (size_t i = 0; i < MEM_SIZE; i++) {
		if (m->gm.host[i] != FILL_BYTE)
			fail_msg("guest byte 0x%zx written by a failed load", i);
	}
}

static void mem_free(struct mem *m)
{
	assert_guards_intact(m);
	free(m->buf);
	m->buf = NULL;
}

static Elf64_Ehdr *ehdr(uint8_t *img)
{
	return (Elf64_Ehdr *) img;
}

static Elf64_Phdr *phdr(uint8_t *img, unsigned i)
{
	return (Elf64_Phdr *) (img + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

/*
 * A good image: PT_LOAD text at vaddr 0x400000 -> paddr 0x100000, PT_LOAD
 * data+bss at 0x402000 -> 0x102000, a PT_NOTE and an empty PT_LOAD that
 * must both be ignored. Payload bytes are position-dependent patterns.
 */
static void build_image(uint8_t img[IMG_SIZE])
{
	memset(img, 0, IMG_SIZE);
	Elf64_Ehdr *eh = ehdr(img);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = ENTRY_VADDR;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 4;

	*phdr(img, 0) = (Elf64_Phdr) {
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = SEG0_OFF,
		.p_vaddr = SEG0_VADDR, .p_paddr = SEG0_PADDR,
		.p_filesz = SEG0_SIZE, .p_memsz = SEG0_SIZE, .p_align = 0x1000,
	};
	*phdr(img, 1) = (Elf64_Phdr) {
		.p_type = PT_NOTE, .p_flags = PF_R, .p_offset = SEG0_OFF,
		.p_vaddr = 0x10000, .p_paddr = 0x10000, .p_filesz = 8, .p_memsz = 8,
	};
	*phdr(img, 2) = (Elf64_Phdr) {
		.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = SEG1_OFF,
		.p_vaddr = SEG1_VADDR, .p_paddr = SEG1_PADDR,
		.p_filesz = SEG1_FILESZ, .p_memsz = SEG1_MEMSZ, .p_align = 0x1000,
	};
	/* Empty PT_LOAD at an address that would be refused if it were used. */
	*phdr(img, 3) = (Elf64_Phdr) {
		.p_type = PT_LOAD, .p_offset = 0, .p_vaddr = 0, .p_paddr = 0,
		.p_filesz = 0, .p_memsz = 0,
	};
	for (unsigned i = 0; i < SEG0_SIZE; i++)
		img[SEG0_OFF + i] = 0x10 + i;
	for (unsigned i = 0; i < SEG1_FILESZ; i++)
		img[SEG1_OFF + i] = 0xa0 + i;
	/* Bytes after SEG1's filesz in the file: must not be copied (bss). */
	memset(img + SEG1_OFF + SEG1_FILESZ, 0xee, IMG_SIZE - SEG1_OFF - SEG1_FILESZ);
}

static void assert_good_load(const struct mem *m, const struct elf_info *info)
{
	assert_int_equal(info->entry, ENTRY_PADDR);
	assert_int_equal(info->lowest, SEG0_PADDR);
	assert_int_equal(info->highest, SEG1_PADDR + SEG1_MEMSZ);
	assert_int_equal(info->segments, 2);

	const uint8_t *g = m->gm.host;
	for (unsigned i = 0; i < SEG0_SIZE; i++)
		assert_int_equal(g[SEG0_PADDR + i], 0x10 + i);
	for (unsigned i = 0; i < SEG1_FILESZ; i++)
		assert_int_equal(g[SEG1_PADDR + i], 0xa0 + i);
	for (unsigned i = SEG1_FILESZ; i < SEG1_MEMSZ; i++) {
		if (g[SEG1_PADDR + i] != 0)
			fail_msg("bss byte 0x%x not zeroed: 0x%02x", i, g[SEG1_PADDR + i]);
	}
	/* Nothing else written: below, between and after the segments. */
	for (uint64_t a = 0; a < MEM_SIZE; a++) {
		bool in0 = a >= SEG0_PADDR && a < SEG0_PADDR + SEG0_SIZE;
		bool in1 = a >= SEG1_PADDR && a < SEG1_PADDR + SEG1_MEMSZ;
		if (!in0 && !in1 && g[a] != FILL_BYTE)
			fail_msg("byte 0x%llx outside the segments written", (unsigned long long) a);
	}
	assert_guards_intact(m);
}

static void test_good_image(void **state)
{
	static uint8_t img[IMG_SIZE];
	struct mem m;
	struct elf_info info = { 0 };
	const char *why = NULL;

	build_image(img);
	mem_new(&m);
	assert_int_equal(elf_load_image(img, IMG_SIZE, &m.gm, VMM_LOAD_MIN, &info, &why), 0);
	assert_good_load(&m, &info);
	mem_free(&m);
}

static void test_good_image_null_why(void **state)
{
	static uint8_t img[IMG_SIZE];
	struct mem m;
	struct elf_info info = { 0 };

	build_image(img);
	mem_new(&m);
	assert_int_equal(elf_load_image(img, IMG_SIZE, &m.gm, VMM_LOAD_MIN, &info, NULL), 0);
	assert_good_load(&m, &info);
	/* A failure with why == NULL must not crash either. */
	ehdr(img)->e_machine = EM_386;
	assert_int_equal(elf_load_image(img, IMG_SIZE, &m.gm, VMM_LOAD_MIN, &info, NULL), -ENOEXEC);
	mem_free(&m);
}

/* The image need not be aligned: the loader copies headers before use. */
static void test_unaligned_image(void **state)
{
	static uint8_t storage[IMG_SIZE + 1];
	static uint8_t img[IMG_SIZE];
	struct mem m;
	struct elf_info info = { 0 };
	const char *why = NULL;

	build_image(img);
	memcpy(storage + 1, img, IMG_SIZE);
	mem_new(&m);
	assert_int_equal(elf_load_image(storage + 1, IMG_SIZE, &m.gm, VMM_LOAD_MIN, &info, &why), 0);
	assert_good_load(&m, &info);
	mem_free(&m);
}

/* Entry in the second segment; vaddr == paddr (how our guests are linked). */
static void test_entry_in_second_segment(void **state)
{
	static uint8_t img[IMG_SIZE];
	struct mem m;
	struct elf_info info = { 0 };
	const char *why = NULL;

	build_image(img);
	ehdr(img)->e_entry = SEG1_VADDR + SEG1_MEMSZ - 1;   /* last byte, in bss */
	mem_new(&m);
	assert_int_equal(elf_load_image(img, IMG_SIZE, &m.gm, VMM_LOAD_MIN, &info, &why), 0);
	assert_int_equal(info.entry, SEG1_PADDR + SEG1_MEMSZ - 1);
	mem_free(&m);
}

/* Limits that are allowed: ELF_MAX_PHDRS headers, a segment ending exactly at the end of memory. */
static void test_accepted_limits(void **state)
{
	static uint8_t img[IMG_SIZE];
	struct mem m;
	struct elf_info info = { 0 };
	const char *why = NULL;

	/* 64 + 64 * 56 bytes still end before the payload; extra headers are PT_NULL. */
	_Static_assert(sizeof(Elf64_Ehdr) + ELF_MAX_PHDRS * sizeof(Elf64_Phdr) <= SEG0_OFF,
		       "phdr table overlaps the payload");
	build_image(img);
	ehdr(img)->e_phnum = ELF_MAX_PHDRS;
	mem_new(&m);
	assert_int_equal(elf_load_image(img, IMG_SIZE, &m.gm, VMM_LOAD_MIN, &info, &why), 0);
	assert_int_equal(info.segments, 2);
	mem_free(&m);

	build_image(img);
	phdr(img, 2)->p_paddr = MEM_SIZE - SEG1_MEMSZ;
	mem_new(&m);
	assert_int_equal(elf_load_image(img, IMG_SIZE, &m.gm, VMM_LOAD_MIN, &info, &why), 0);
	assert_int_equal(info.highest, MEM_SIZE);
	assert_int_equal(m.gm.host[MEM_SIZE - 1], 0);
	mem_free(&m);

	/* A segment starting exactly at min_paddr. */
	build_image(img);
	mem_new(&m);
	assert_int_equal(elf_load_image(img, IMG_SIZE, &m.gm, SEG0_PADDR, &info, &why), 0);
	mem_free(&m);
}

/* --- corrupt images ------------------------------------------------------ */

struct bad_case {
	const char *name;
	void (*mutate)(uint8_t *img);
	size_t size;            /* 0: IMG_SIZE */
	int error;
	const char *why;        /* substring of *why */
	bool touches_memory;    /* a segment before the bad one was loaded */
};

static void m_magic(uint8_t *img) { ehdr(img)->e_ident[EI_MAG1] = 'X'; }
static void m_class32(uint8_t *img) { ehdr(img)->e_ident[EI_CLASS] = ELFCLASS32; }
static void m_big_endian(uint8_t *img) { ehdr(img)->e_ident[EI_DATA] = ELFDATA2MSB; }
static void m_machine(uint8_t *img) { ehdr(img)->e_machine = EM_386; }
static void m_dyn(uint8_t *img) { ehdr(img)->e_type = ET_DYN; }
static void m_rel(uint8_t *img) { ehdr(img)->e_type = ET_REL; }
static void m_phentsize(uint8_t *img) { ehdr(img)->e_phentsize = sizeof(Elf32_Phdr); }
static void m_phnum0(uint8_t *img) { ehdr(img)->e_phnum = 0; }
static void m_phnum_max(uint8_t *img) { ehdr(img)->e_phnum = ELF_MAX_PHDRS + 1; }
static void m_phnum_ffff(uint8_t *img) { ehdr(img)->e_phnum = 0xffff; }
static void m_phoff_end(uint8_t *img) { ehdr(img)->e_phoff = IMG_SIZE; }
static void m_phoff_beyond(uint8_t *img) { ehdr(img)->e_phoff = IMG_SIZE + 0x1000; }
static void m_phoff_partial(uint8_t *img) { ehdr(img)->e_phoff = IMG_SIZE - sizeof(Elf64_Phdr); }
static void m_phoff_overflow(uint8_t *img) { ehdr(img)->e_phoff = UINT64_MAX - 8; }
static void m_filesz_gt_memsz(uint8_t *img) { phdr(img, 0)->p_memsz = SEG0_SIZE - 1; }

static void m_data_beyond(uint8_t *img)
{
	phdr(img, 0)->p_offset = IMG_SIZE - 0x10;
}

static void m_offset_beyond(uint8_t *img)
{
	phdr(img, 0)->p_offset = IMG_SIZE + 1;
	phdr(img, 0)->p_filesz = 0;
}

static void m_offset_overflow(uint8_t *img)
{
	phdr(img, 0)->p_offset = UINT64_MAX - 0x10;   /* offset + filesz wraps to 0x6f */
}

static void m_filesz_huge(uint8_t *img)
{
	phdr(img, 0)->p_filesz = UINT64_MAX;
	phdr(img, 0)->p_memsz = UINT64_MAX;
}

static void m_below_min(uint8_t *img) { phdr(img, 0)->p_paddr = VMM_LOAD_MIN - 0x1000; }
static void m_zero_paddr(uint8_t *img) { phdr(img, 0)->p_paddr = 0; }

static void m_beyond_mem(uint8_t *img)
{
	phdr(img, 0)->p_paddr = MEM_SIZE - SEG0_SIZE / 2;
}

static void m_at_mem_end(uint8_t *img) { phdr(img, 0)->p_paddr = MEM_SIZE; }

static void m_bss_beyond_mem(uint8_t *img)
{
	phdr(img, 0)->p_memsz = MEM_SIZE;   /* 0x100000 + 4 MiB > 4 MiB */
}

static void m_second_beyond_mem(uint8_t *img)
{
	phdr(img, 2)->p_paddr = MEM_SIZE - 0x1000;
}

static void m_paddr_overflow(uint8_t *img)
{
	phdr(img, 0)->p_paddr = UINT64_MAX - 0x10;
}

static void m_memsz_overflow(uint8_t *img)
{
	/* p_paddr + p_memsz wraps to exactly 0 */
	phdr(img, 0)->p_memsz = 0 - SEG0_PADDR;
}

static void m_no_load(uint8_t *img)
{
	phdr(img, 0)->p_type = PT_NOTE;
	phdr(img, 2)->p_type = PT_DYNAMIC;
}

static void m_only_empty_load(uint8_t *img)
{
	phdr(img, 0)->p_memsz = phdr(img, 0)->p_filesz = 0;
	phdr(img, 2)->p_memsz = phdr(img, 2)->p_filesz = 0;
}

static void m_entry_paddr(uint8_t *img) { ehdr(img)->e_entry = ENTRY_PADDR; }
static void m_entry_gap(uint8_t *img) { ehdr(img)->e_entry = SEG0_VADDR + SEG0_SIZE; }
static void m_entry_past_end(uint8_t *img) { ehdr(img)->e_entry = SEG1_VADDR + SEG1_MEMSZ; }
static void m_entry_zero(uint8_t *img) { ehdr(img)->e_entry = 0; }
static void m_entry_max(uint8_t *img) { ehdr(img)->e_entry = UINT64_MAX; }

static const struct bad_case bad_cases[] = {
	{ "empty file", NULL, 1, -ENOEXEC, "not an ELF", false },
	{ "short file", NULL, sizeof(Elf64_Ehdr) - 1, -ENOEXEC, "not an ELF", false },
	{ "bad magic", m_magic, 0, -ENOEXEC, "not an ELF", false },
	{ "ELFCLASS32", m_class32, 0, -ENOEXEC, "ELF64", false },
	{ "big-endian", m_big_endian, 0, -ENOEXEC, "little-endian", false },
	{ "EM_386", m_machine, 0, -ENOEXEC, "x86-64", false },
	{ "ET_DYN", m_dyn, 0, -ENOEXEC, "ET_EXEC", false },
	{ "ET_REL", m_rel, 0, -ENOEXEC, "ET_EXEC", false },
	{ "e_phentsize 32", m_phentsize, 0, -EINVAL, "e_phentsize", false },
	{ "e_phnum 0", m_phnum0, 0, -EINVAL, "e_phnum", false },
	{ "e_phnum max+1", m_phnum_max, 0, -EINVAL, "e_phnum", false },
	{ "e_phnum 0xffff", m_phnum_ffff, 0, -EINVAL, "e_phnum", false },
	{ "e_phoff at end", m_phoff_end, 0, -EINVAL, "program headers", false },
	{ "e_phoff beyond", m_phoff_beyond, 0, -EINVAL, "program headers", false },
	{ "phdrs cross end", m_phoff_partial, 0, -EINVAL, "program headers", false },
	{ "e_phoff overflow", m_phoff_overflow, 0, -EINVAL, "program headers", false },
	{ "phdrs cut by size", NULL, sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr) + 1, -EINVAL,
	  "program headers", false },
	{ "filesz > memsz", m_filesz_gt_memsz, 0, -EINVAL, "p_filesz > p_memsz", false },
	{ "data beyond file", m_data_beyond, 0, -EINVAL, "outside the file", false },
	{ "offset beyond file", m_offset_beyond, 0, -EINVAL, "outside the file", false },
	{ "offset overflow", m_offset_overflow, 0, -EINVAL, "outside the file", false },
	{ "filesz UINT64_MAX", m_filesz_huge, 0, -EINVAL, "outside the file", false },
	{ "data cut by size", NULL, SEG0_OFF + SEG0_SIZE - 1, -EINVAL, "outside the file", false },
	{ "paddr below min", m_below_min, 0, -ERANGE, "below", false },
	{ "paddr 0", m_zero_paddr, 0, -ERANGE, "below", false },
	{ "crosses mem end", m_beyond_mem, 0, -ERANGE, "beyond guest memory", false },
	{ "at mem end", m_at_mem_end, 0, -ERANGE, "beyond guest memory", false },
	{ "bss beyond mem", m_bss_beyond_mem, 0, -ERANGE, "beyond guest memory", false },
	{ "2nd beyond mem", m_second_beyond_mem, 0, -ERANGE, "beyond guest memory", true },
	{ "paddr overflow", m_paddr_overflow, 0, -ERANGE, "beyond guest memory", false },
	{ "paddr+memsz wraps", m_memsz_overflow, 0, -ERANGE, "beyond guest memory", false },
	{ "no PT_LOAD", m_no_load, 0, -EINVAL, "no PT_LOAD", false },
	{ "only empty PT_LOAD", m_only_empty_load, 0, -EINVAL, "no PT_LOAD", false },
	{ "entry is paddr", m_entry_paddr, 0, -EINVAL, "entry", true },
	{ "entry in gap", m_entry_gap, 0, -EINVAL, "entry", true },
	{ "entry past end", m_entry_past_end, 0, -EINVAL, "entry", true },
	{ "entry 0", m_entry_zero, 0, -EINVAL, "entry", true },
	{ "entry max", m_entry_max, 0, -EINVAL, "entry", true },
};

static void test_corrupt_images(void **state)
{
	static uint8_t img[IMG_SIZE];

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct mem m;
		struct elf_info info = { .entry = 0xdead, .lowest = 1, .highest = 2, .segments = 99 };
		const char *why = NULL;
		size_t size = c->size ? c->size : IMG_SIZE;
		if (c->size == 1)   /* "empty file" */
			size = 0;

		build_image(img);
		if (c->mutate)
			c->mutate(img);
		mem_new(&m);
		/* A heap copy of exactly `size` bytes: ASan catches any read past it. */
		uint8_t *copy = malloc(size ? size : 1);
		assert_non_null(copy);
		memcpy(copy, img, size);
		int r = elf_load_image(copy, size, &m.gm, VMM_LOAD_MIN, &info, &why);
		free(copy);
		if (r != c->error)
			fail_msg("%s: returned %d, want %d (why: %s)", c->name, r, c->error,
				 why ? why : "(null)");
		if (!why || !strstr(why, c->why))
			fail_msg("%s: why is \"%s\", want it to mention \"%s\"", c->name,
				 why ? why : "(null)", c->why);
		if (info.entry != 0xdead || info.lowest != 1 || info.highest != 2 || info.segments != 99)
			fail_msg("%s: *ret written on failure", c->name);
		assert_guards_intact(&m);
		if (!c->touches_memory)
			assert_memory_untouched(&m);
		mem_free(&m);
	}
}

/* Memory smaller than min_paddr: every segment is outside it. */
static void test_tiny_memory(void **state)
{
	static uint8_t img[IMG_SIZE];
	struct mem m;
	struct elf_info info = { 0 };
	const char *why = NULL;

	build_image(img);
	mem_new(&m);
	m.gm.size = SEG0_PADDR;   /* memory ends where the image starts */
	assert_int_equal(elf_load_image(img, IMG_SIZE, &m.gm, VMM_LOAD_MIN, &info, &why), -ERANGE);
	assert_non_null(why);
	m.gm.size = MEM_SIZE;
	assert_memory_untouched(&m);
	mem_free(&m);
}

/* --- elf_load_fd ----------------------------------------------------------- */

/* What the worker does with the kernel descriptor it is given: opened here. */
static int elf_load_path(const char *path, struct guest_memory *mem, uint64_t min_paddr, struct elf_info *ret,
			 const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = elf_load_fd(fd, mem, min_paddr, ret, why);
	close(fd);
	return r;
}

static char tmpdir[] = "/tmp/vmmd-test-elf-XXXXXX";

static int make_tmpdir(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	static const char *const files[] = { "good.elf", "empty.elf", "huge.elf" };
	char path[128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		(void) unlink(path);
	}
	return rmdir(tmpdir);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_file_missing(void **state)
{
	struct mem m;
	struct elf_info info = { .segments = 99 };
	const char *why = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/no-such-kernel.elf", tmpdir);
	mem_new(&m);
	assert_int_equal(elf_load_path(path, &m.gm, VMM_LOAD_MIN, &info, &why), -ENOENT);
	/* No descriptor at all: said so. */
	assert_int_equal(elf_load_fd(-1, &m.gm, VMM_LOAD_MIN, &info, &why), -EBADF);
	assert_non_null(why);
	assert_int_equal(info.segments, 99);
	assert_int_equal(elf_load_fd(-1, &m.gm, VMM_LOAD_MIN, &info, NULL), -EBADF);
	assert_memory_untouched(&m);
	mem_free(&m);
}

static void test_file_directory(void **state)
{
	struct mem m;
	struct elf_info info = { .segments = 99 };
	const char *why = NULL;

	mem_new(&m);
	assert_int_equal(elf_load_path(tmpdir, &m.gm, VMM_LOAD_MIN, &info, &why), -EINVAL);
	assert_non_null(why);
	assert_non_null(strstr(why, "regular file"));
	assert_int_equal(info.segments, 99);
	assert_memory_untouched(&m);
	mem_free(&m);
}

static void test_file_empty_and_too_big(void **state)
{
	struct mem m;
	struct elf_info info = { 0 };
	const char *why = NULL;
	char path[128];

	mem_new(&m);
	snprintf(path, sizeof(path), "%s/empty.elf", tmpdir);
	write_file(path, "", 0);
	assert_int_equal(elf_load_path(path, &m.gm, VMM_LOAD_MIN, &info, &why), -ENOEXEC);
	assert_non_null(why);

	/* Sparse: costs no disk. */
	snprintf(path, sizeof(path), "%s/huge.elf", tmpdir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t) ELF_MAX_FILE + 1), 0);
	close(fd);
	why = NULL;
	assert_int_equal(elf_load_path(path, &m.gm, VMM_LOAD_MIN, &info, &why), -EFBIG);
	assert_non_null(why);
	assert_memory_untouched(&m);
	mem_free(&m);
}

static void test_file_good_and_corrupt(void **state)
{
	static uint8_t img[IMG_SIZE];
	struct mem m;
	struct elf_info info = { 0 };
	const char *why = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/good.elf", tmpdir);
	build_image(img);
	write_file(path, img, IMG_SIZE);
	mem_new(&m);
	assert_int_equal(elf_load_path(path, &m.gm, VMM_LOAD_MIN, &info, &why), 0);
	assert_good_load(&m, &info);
	mem_free(&m);

	m_phnum_max(img);
	write_file(path, img, IMG_SIZE);
	mem_new(&m);
	assert_int_equal(elf_load_path(path, &m.gm, VMM_LOAD_MIN, &info, &why), -EINVAL);
	assert_non_null(strstr(why, "e_phnum"));
	mem_free(&m);
}

static void test_file_real_guest(void **state)
{
	/* $B's guest (tests/run-all sets B), else the default build's. */
	const char *b = getenv("B");
	char path[512];
	snprintf(path, sizeof(path), "%s/guests/hello.elf", b && *b ? b : "build");
	if (access(path, R_OK) != 0)
		snprintf(path, sizeof(path), "build/guests/hello.elf");
	if (access(path, R_OK) != 0) {
		print_message("guests/hello.elf not built; skipping\n");
		skip();
	}

	struct mem m;
	struct elf_info info = { 0 };
	const char *why = NULL;

	mem_new(&m);
	int r = elf_load_path(path, &m.gm, VMM_LOAD_MIN, &info, &why);
	if (r != 0)
		fail_msg("%s: %d (%s)", path, r, why ? why : "(null)");
	assert_true(info.segments >= 1);
	assert_true(info.lowest >= VMM_LOAD_MIN);
	assert_true(info.lowest < info.highest);
	assert_true(info.highest <= MEM_SIZE);
	assert_true(info.entry >= info.lowest && info.entry < info.highest);
	/* Below the load area nothing was written. */
	for (size_t i = 0; i < VMM_LOAD_MIN; i++) {
		if (m.gm.host[i] != FILL_BYTE)
			fail_msg("byte 0x%zx below VMM_LOAD_MIN written", i);
	}
	/* The entry's first byte came from the file, not the fill pattern... usually;
	 * at least the loaded range is not all fill bytes. */
	size_t changed = 0;
	for (uint64_t a = info.lowest; a < info.highest; a++)
		changed += m.gm.host[a] != FILL_BYTE;
	assert_true(changed > 0);
	mem_free(&m);

	/* The same guest does not fit if memory ends below its highest byte. */
	mem_new(&m);
	m.gm.size = info.highest - 1;
	assert_int_equal(elf_load_path(path, &m.gm, VMM_LOAD_MIN, &info, &why), -ERANGE);
	m.gm.size = MEM_SIZE;
	mem_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_image),
		cmocka_unit_test(test_good_image_null_why),
		cmocka_unit_test(test_unaligned_image),
		cmocka_unit_test(test_entry_in_second_segment),
		cmocka_unit_test(test_accepted_limits),
		cmocka_unit_test(test_corrupt_images),
		cmocka_unit_test(test_tiny_memory),
		cmocka_unit_test(test_file_missing),
		cmocka_unit_test(test_file_directory),
		cmocka_unit_test(test_file_empty_and_too_big),
		cmocka_unit_test(test_file_good_and_corrupt),
		cmocka_unit_test(test_file_real_guest),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
