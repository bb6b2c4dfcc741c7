/* SPDX-License-Identifier: MIT */
/*
 * The Xen PV loader (vmmd/xenpv/notes.c, kernel_image.c, builder.c) on
 * kernels built in memory: an ELF vmlinux with Xen notes (and hostile
 * variants of it), bzImages whose payload is that ELF compressed with xz,
 * gzip, zstd and lz4 (by the same libraries vmmd uses, so a format mismatch
 * shows; lz4 in the kernel's legacy frame, built here as `lz4 -l` does), and the start of day the builder writes: start_info, the p2m,
 * the bootstrap tables, walked with the x86 room's page walker.
 */
#include <elf.h>
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include <cmocka.h>

#include "vmmd/xenpv/builder.h"
#include "vmmd/xenpv/kernel_image.h"
#include "vmmd/xenpv/notes.h"
#include "x86/guest_walk.h"

#define VIRT_BASE 0xffffffff80000000ULL
#define PADDR     0x100000ULL
#define ENTRY     (VIRT_BASE + PADDR + 0x40)
#define ELF_SIZE  0x3000

struct note_spec {
	uint32_t type;
	const void *desc;
	uint32_t len;
};

/* An ELF64 executable: one PT_LOAD at PADDR (vaddr VIRT_BASE + PADDR), one PT_NOTE with the notes given. */
static size_t make_elf(uint8_t *buf, const struct note_spec *notes, size_t n)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph[2] = { 0 };
	size_t off = 0x1000, notes_len = 0;

	memset(buf, 0, ELF_SIZE);
	for (size_t i = 0; i < n; i++) {
		Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = notes[i].len, .n_type = notes[i].type };
		memcpy(buf + off + notes_len, &nh, sizeof(nh));
		memcpy(buf + off + notes_len + sizeof(nh), "Xen", 4);
		memcpy(buf + off + notes_len + sizeof(nh) + 4, notes[i].desc, notes[i].len);
		notes_len += sizeof(nh) + 4 + ((notes[i].len + 3) & ~3u);
	}
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_entry = PADDR;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 2;
	ph[0] = (Elf64_Phdr) { .p_type = PT_LOAD, .p_offset = 0x2000, .p_vaddr = VIRT_BASE + PADDR, .p_paddr = PADDR,
			       .p_filesz = 0x1000, .p_memsz = 0x10000 };
	ph[1] = (Elf64_Phdr) { .p_type = PT_NOTE, .p_offset = off, .p_filesz = notes_len };
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), ph, sizeof(ph));
	return ELF_SIZE;
}

static const uint64_t virt_base = VIRT_BASE, entry = ENTRY;

static size_t linux_like_elf(uint8_t *buf, const char *features)
{
	const struct note_spec n[] = {
		{ XPV_NOTE_GUEST_OS, "linux", 6 }, { XPV_NOTE_XEN_VERSION, "xen-3.0", 8 },
		{ XPV_NOTE_VIRT_BASE, &virt_base, 8 }, { XPV_NOTE_ENTRY, &entry, 8 },
		{ XPV_NOTE_LOADER, "generic", 8 }, { XPV_NOTE_PAE_MODE, "yes", 4 },
		{ XPV_NOTE_FEATURES, features, (uint32_t) strlen(features) + 1 }, { XPV_NOTE_MOD_START_PFN, "\1\0\0\0", 4 },
	};
	return make_elf(buf, n, sizeof(n) / sizeof(n[0]));
}

/* --- notes -------------------------------------------------------------------------- */

static void test_notes_of_a_pv_kernel(void **state)
{
	uint8_t elf[ELF_SIZE];
	struct xpv_notes n;
	const char *why = NULL;

	size_t size = linux_like_elf(elf, "!writable_page_tables|pae_pgdir_above_4gb");
	assert_int_equal(xpv_notes_parse(elf, size, &n), 0);
	assert_int_equal(n.count, 8);
	assert_true(n.has_entry && n.has_virt_base);
	assert_int_equal(n.entry, ENTRY);
	assert_int_equal(n.virt_base, VIRT_BASE);
	assert_true(n.mod_start_pfn);
	assert_string_equal(n.guest_os, "linux");
	assert_int_equal(xpv_notes_check(&n, &why), 0);
	assert_true(xpv_notes_is_pv(elf, size));
}

static void test_notes_refusals(void **state)
{
	uint8_t elf[ELF_SIZE];
	struct xpv_notes n;
	const char *why = NULL;

	/* No notes at all: not a PV kernel. */
	size_t size = make_elf(elf, NULL, 0);
	assert_int_equal(xpv_notes_parse(elf, size, &n), 0);
	assert_int_equal(xpv_notes_check(&n, &why), -ENOEXEC);
	assert_non_null(strstr(why, "CONFIG_XEN_PV"));
	assert_false(xpv_notes_is_pv(elf, size));

	/* A required feature vmmd does not offer. */
	size = linux_like_elf(elf, "!auto_translated_physmap|writable_page_tables");
	assert_int_equal(xpv_notes_parse(elf, size, &n), 0);
	assert_int_equal(xpv_notes_check(&n, &why), -EINVAL);
	assert_non_null(strstr(why, "auto_translated_physmap"));

	/* Notes without ENTRY (a PVH-only kernel has PHYS32_ENTRY alone). */
	const uint32_t phys32 = 0x1000850;
	const struct note_spec pvh[] = { { XPV_NOTE_PHYS32_ENTRY, &phys32, 4 } };
	size = make_elf(elf, pvh, 1);
	assert_int_equal(xpv_notes_parse(elf, size, &n), 0);
	assert_true(n.has_phys32_entry);
	assert_int_equal(n.phys32_entry, phys32);   /* what the worker's PVH loader enters at */
	assert_int_equal(xpv_notes_check(&n, &why), -EINVAL);
	assert_false(xpv_notes_is_pv(elf, size));
	/* A PHYS32_ENTRY too short for its address is no PVH entry. */
	const struct note_spec short_pvh[] = { { XPV_NOTE_PHYS32_ENTRY, &phys32, 2 } };
	size = make_elf(elf, short_pvh, 1);
	assert_int_equal(xpv_notes_parse(elf, size, &n), 0);
	assert_false(n.has_phys32_entry);

	/* A 32-bit (non-PAE) layout, and pre-3.0 PADDR_OFFSET. */
	const uint64_t off = 0x1000;
	const struct note_spec old[] = {
		{ XPV_NOTE_XEN_VERSION, "xen-3.0", 8 }, { XPV_NOTE_VIRT_BASE, &virt_base, 8 }, { XPV_NOTE_ENTRY, &entry, 8 },
		{ XPV_NOTE_PADDR_OFFSET, &off, 8 },
	};
	size = make_elf(elf, old, 4);
	assert_int_equal(xpv_notes_parse(elf, size, &n), 0);
	assert_int_equal(xpv_notes_check(&n, &why), -EINVAL);
	assert_non_null(strstr(why, "PADDR_OFFSET"));
}

static void test_notes_hostile_elf(void **state)
{
	uint8_t elf[ELF_SIZE];
	struct xpv_notes n;
	size_t size = linux_like_elf(elf, "");

	/* Truncated inside the program headers, a bad class, a note whose size runs off the segment. */
	assert_int_equal(xpv_notes_parse(elf, 80, &n), -ENOEXEC);
	elf[EI_CLASS] = ELFCLASS32;
	assert_int_equal(xpv_notes_parse(elf, size, &n), -ENOEXEC);
	elf[EI_CLASS] = ELFCLASS64;
	Elf64_Nhdr nh;
	memcpy(&nh, elf + 0x1000, sizeof(nh));
	nh.n_descsz = 0xfffffff0u;
	memcpy(elf + 0x1000, &nh, sizeof(nh));
	assert_int_equal(xpv_notes_parse(elf, size, &n), 0);
	assert_int_equal(n.count, 0);   /* the walk stops at the bad note */
	/* A long string is cut, never overrun. */
	char longos[200];
	memset(longos, 'x', sizeof(longos) - 1);
	longos[sizeof(longos) - 1] = 0;
	const struct note_spec big[] = { { XPV_NOTE_GUEST_OS, longos, sizeof(longos) } };
	size = make_elf(elf, big, 1);
	assert_int_equal(xpv_notes_parse(elf, size, &n), 0);
	assert_int_equal(strlen(n.guest_os), sizeof(n.guest_os) - 1);
}

/* --- kernel images ------------------------------------------------------------------------ */

#define SETUP_SECTS 1
#define PAYLOAD_AT  ((SETUP_SECTS + 1) * 512 + 0x10)

/* A bzImage whose payload (at PAYLOAD_AT) is `payload`, then the kernel's
 * 4-byte trailer: the size it unpacks to. */
static uint8_t *make_bzimage(const uint8_t *payload, size_t len, uint32_t unpacked, size_t *ret_size)
{
	size_t size = PAYLOAD_AT + len + 4;
	uint8_t *b = calloc(1, size);
	uint16_t v16;
	uint32_t v32;

	b[0x1f1] = SETUP_SECTS;
	v16 = 0xaa55;
	memcpy(b + 0x1fe, &v16, 2);
	memcpy(b + 0x202, "HdrS", 4);
	v16 = 0x020f;
	memcpy(b + 0x206, &v16, 2);
	v32 = 0x10;
	memcpy(b + 0x248, &v32, 4);
	v32 = (uint32_t) len + 4;   /* the kernel's payload ends with a 4-byte size */
	memcpy(b + 0x24c, &v32, 4);
	memcpy(b + PAYLOAD_AT, payload, len);
	memcpy(b + PAYLOAD_AT + len, &unpacked, 4);
	*ret_size = size;
	return b;
}

static size_t xz(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t pos = 0;
	assert_int_equal(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, in, len, out, &pos, cap), LZMA_OK);
	return pos;
}

static size_t gz(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream z = { 0 };
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *) in;
	z.avail_in = (uInt) len;
	z.next_out = out;
	z.avail_out = (uInt) cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t n = z.total_out;
	deflateEnd(&z);
	return n;
}

static size_t zst(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t n = ZSTD_compress(out, cap, in, len, 3);
	assert_false(ZSTD_isError(n));
	return n;
}

#define LZ4_BLOCK (8u << 20)   /* lz4 -l's block: 8 MiB unpacked */

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* The lz4 legacy frame, as `lz4 -l` writes it: the magic, then per 8 MiB
 * of input a u32 compressed size and the block. */
static size_t lz4_legacy(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t pos = 4;
	put32(out, 0x184c2102);
	for (size_t done = 0; done < len; done += LZ4_BLOCK) {
		size_t chunk = len - done < LZ4_BLOCK ? len - done : LZ4_BLOCK;
		assert_true(pos + 4 <= cap);
		int n = LZ4_compress_default((const char *) in + done, (char *) out + pos + 4, (int) chunk,
					     (int) (cap - pos - 4));
		assert_true(n > 0);
		put32(out + pos, (uint32_t) n);
		pos += 4 + (size_t) n;
	}
	return pos;
}

static void check_unpacks(size_t (*compress)(const uint8_t *, size_t, uint8_t *, size_t), const char *name)
{
	uint8_t elf[ELF_SIZE], packed[2 * ELF_SIZE];
	size_t elf_size = linux_like_elf(elf, ""), size, out_size;
	size_t n = compress(elf, elf_size, packed, sizeof(packed));
	uint8_t *bz = make_bzimage(packed, n, (uint32_t) elf_size, &size);
	const uint8_t *out;
	bool owned;
	const char *why = NULL;

	assert_string_equal(xpv_payload_format(bz + PAYLOAD_AT, n), name);
	assert_int_equal(xpv_kernel_elf(bz, size, 1 << 20, &out, &out_size, &owned, &why), 0);
	assert_true(owned);
	assert_int_equal(out_size, elf_size);
	assert_memory_equal(out, elf, elf_size);
	free((void *) out);

	/* Bounded: the same payload with a 1 KiB limit is refused. */
	assert_int_equal(xpv_kernel_elf(bz, size, 1024, &out, &out_size, &owned, &why), -EFBIG);
	/* Truncated: half the payload. */
	uint32_t half = (uint32_t) n / 2;
	memcpy(bz + 0x24c, &half, 4);
	assert_int_equal(xpv_kernel_elf(bz, size, 1 << 20, &out, &out_size, &owned, &why), -EINVAL);
	assert_non_null(strstr(why, "corrupt or truncated"));
	free(bz);
}

static void test_bzimage_xz(void **state) { check_unpacks(xz, "xz"); }
static void test_bzimage_gzip(void **state) { check_unpacks(gz, "gzip"); }
static void test_bzimage_zstd(void **state) { check_unpacks(zst, "zstd"); }
static void test_bzimage_lz4(void **state) { check_unpacks(lz4_legacy, "lz4"); }

/* The Linux tier's kernel is an lz4 bzImage: its vmlinux spans several
 * 8 MiB blocks, and `lz4 -l` output may hold a second magic (concatenated
 * streams). Each block is unpacked on its own; the size trailer must match. */
static void test_bzimage_lz4_blocks(void **state)
{
	size_t elf_size = 2 * LZ4_BLOCK + 0x3000, cap = LZ4_compressBound((int) elf_size) + 64, size, out_size;
	uint8_t *elf = malloc(elf_size), *packed = malloc(cap);
	const uint8_t *out;
	bool owned;
	const char *why = NULL;

	linux_like_elf(elf, "");
	for (size_t i = ELF_SIZE; i < elf_size; i++)
		elf[i] = (uint8_t) (i * 2654435761u >> 13);   /* not all zeros: real blocks */
	/* Two streams: the first 8 MiB, then the rest behind a second magic. */
	size_t n = lz4_legacy(elf, LZ4_BLOCK, packed, cap);
	n += lz4_legacy(elf + LZ4_BLOCK, elf_size - LZ4_BLOCK, packed + n, cap - n);
	uint8_t *bz = make_bzimage(packed, n, (uint32_t) elf_size, &size);
	assert_int_equal(xpv_kernel_elf(bz, size, 64u << 20, &out, &out_size, &owned, &why), 0);
	assert_true(owned);
	assert_int_equal(out_size, elf_size);
	assert_memory_equal(out, elf, elf_size);
	free((void *) out);

	/* Bounded mid-stream: room for the first block, not the second. */
	assert_int_equal(xpv_kernel_elf(bz, size, LZ4_BLOCK + 4096, &out, &out_size, &owned, &why), -EFBIG);
	/* A trailer that disagrees with what the blocks unpacked to. */
	put32(bz + PAYLOAD_AT + n, (uint32_t) elf_size - 1);
	assert_int_equal(xpv_kernel_elf(bz, size, 64u << 20, &out, &out_size, &owned, &why), -EINVAL);
	assert_non_null(strstr(why, "corrupt or truncated"));
	put32(bz + PAYLOAD_AT + n, (uint32_t) elf_size);
	/* A block size larger than any 8 MiB block compresses to. */
	put32(bz + PAYLOAD_AT + 4, (uint32_t) LZ4_compressBound(LZ4_BLOCK) + 1);
	assert_int_equal(xpv_kernel_elf(bz, size, 64u << 20, &out, &out_size, &owned, &why), -EINVAL);
	/* A zero-sized block, and a corrupt one (its first token promises more than follows). */
	put32(bz + PAYLOAD_AT + 4, 0);
	assert_int_equal(xpv_kernel_elf(bz, size, 64u << 20, &out, &out_size, &owned, &why), -EINVAL);
	put32(bz + PAYLOAD_AT + 4, 1);
	bz[PAYLOAD_AT + 8] = 0xf0;
	assert_int_equal(xpv_kernel_elf(bz, size, 64u << 20, &out, &out_size, &owned, &why), -EINVAL);
	free(bz);
	free(packed);
	free(elf);
}

static void test_kernel_image_refusals(void **state)
{
	uint8_t elf[ELF_SIZE];
	size_t elf_size = linux_like_elf(elf, ""), size, out_size;
	const uint8_t *out;
	bool owned;
	const char *why = NULL;

	/* An ELF is used as it is. */
	assert_int_equal(xpv_kernel_elf(elf, elf_size, 1 << 20, &out, &out_size, &owned, &why), 0);
	assert_false(owned);
	assert_ptr_equal(out, elf);
	/* Neither ELF nor bzImage. */
	uint8_t junk[0x400] = { 1, 2, 3 };
	assert_int_equal(xpv_kernel_elf(junk, sizeof(junk), 1 << 20, &out, &out_size, &owned, &why), -ENOEXEC);
	/* bzip2, a format vmmd does not unpack: named as such, with what to do. */
	const uint8_t bzip2[] = { 'B', 'Z', 'h', '9', 0, 0, 0, 0, 0, 0 };
	uint8_t *bz = make_bzimage(bzip2, sizeof(bzip2), 0, &size);
	assert_int_equal(xpv_kernel_elf(bz, size, 1 << 20, &out, &out_size, &owned, &why), -EOPNOTSUPP);
	assert_non_null(strstr(why, "xz, gzip, zstd and lz4"));
	assert_non_null(strstr(why, "vmlinux"));
	/* No known magic at all. */
	bz[PAYLOAD_AT] = 'Q';
	assert_int_equal(xpv_kernel_elf(bz, size, 1 << 20, &out, &out_size, &owned, &why), -EOPNOTSUPP);
	assert_non_null(strstr(why, "no known compression magic"));
	/* A payload that runs past the file. */
	uint32_t huge = 0x7fffffff;
	memcpy(bz + 0x24c, &huge, 4);
	assert_int_equal(xpv_kernel_elf(bz, size, 1 << 20, &out, &out_size, &owned, &why), -EINVAL);
	assert_non_null(strstr(why, "outside the file"));
	/* Protocol too old to name a payload. */
	uint16_t old = 0x0206;
	memcpy(bz + 0x206, &old, 2);
	assert_int_equal(xpv_kernel_elf(bz, size, 1 << 20, &out, &out_size, &owned, &why), -ENOEXEC);
	free(bz);
	/* A gzip payload that is not an ELF. */
	uint8_t text[64] = "not an elf at all", packed[256];
	size_t n = gz(text, sizeof(text), packed, sizeof(packed));
	bz = make_bzimage(packed, n, sizeof(text), &size);
	assert_int_equal(xpv_kernel_elf(bz, size, 1 << 20, &out, &out_size, &owned, &why), -ENOEXEC);
	free(bz);
}

/* --- the builder ---------------------------------------------------------------------------- */

#define NR_PAGES 8191ULL   /* 32 MiB guest, the last frame for shared_info */

static int read_entry(void *opaque, uint64_t paddr, uint64_t *ret)
{
	if (paddr + 8 > NR_PAGES * 4096)
		return -EFAULT;
	memcpy(ret, (uint8_t *) opaque + paddr, 8);
	return 0;
}

static void test_builder_start_of_day(void **state)
{
	uint8_t *guest = calloc(1, (NR_PAGES + 1) * 4096);
	struct xpv_image img = { .virt_base = VIRT_BASE, .kernel_end = PADDR + 0x10000, .entry = ENTRY };
	struct xpv_layout l;
	struct xpv_entry e;
	const char *why = NULL;

	assert_int_equal(xpv_layout_plan(NR_PAGES, &img, 5000, &l, &why), 0);
	assert_int_equal(l.p2m_pfn, (PADDR + 0x10000) / 4096);
	assert_int_equal(l.p2m_pages, (NR_PAGES * 8 + 4095) / 4096);
	assert_int_equal(l.start_info_pfn, l.p2m_pfn + l.p2m_pages);
	assert_int_equal(l.mapped_pages % 1024, 0);                /* rounded to 4 MiB */
	assert_int_equal(l.nr_pt_frames, 3 + l.mapped_pages / 512);  /* L4, L3, L2, one L1 per 2 MiB */
	assert_int_equal(l.initrd_pfn, l.mapped_pages);
	assert_int_equal(xpv_build(guest, &l, &img, "console=hvc0", &e, &why), 0);

	struct xen_start_info si;
	memcpy(&si, guest + l.start_info_pfn * 4096, sizeof(si));
	assert_string_equal(si.magic, "xen-3.0-x86_64");
	assert_int_equal(si.nr_pages, NR_PAGES);
	assert_int_equal(si.shared_info, NR_PAGES * 4096);
	assert_int_equal(si.flags, XEN_SIF_MOD_START_PFN);
	assert_int_equal(si.store_evtchn, 0);
	assert_int_equal(si.console.domU.mfn, l.console_pfn);
	assert_int_equal(si.console.domU.evtchn, XPV_CONSOLE_PORT);
	assert_int_equal(si.pt_base, VIRT_BASE + l.pt_pfn * 4096);
	assert_int_equal(si.mfn_list, VIRT_BASE + l.p2m_pfn * 4096);
	assert_int_equal(si.mod_start, l.initrd_pfn);
	assert_int_equal(si.mod_len, 5000);
	assert_string_equal(si.cmd_line, "console=hvc0");
	uint64_t p2m_last;
	memcpy(&p2m_last, guest + l.p2m_pfn * 4096 + (NR_PAGES - 1) * 8, 8);
	assert_int_equal(p2m_last, NR_PAGES - 1);

	/* The entry state of XENPV.md 2.2. */
	assert_int_equal(e.rip, ENTRY);
	assert_int_equal(e.rsi, VIRT_BASE + l.start_info_pfn * 4096);
	assert_int_equal(e.rsp, VIRT_BASE + (l.stack_pfn + 1) * 4096);
	assert_int_equal(e.cr3, l.pt_pfn * 4096);

	/* The bootstrap tables: virtual = VIRT_BASE + physical, 4 KiB pages,
	 * writable except the tables themselves, nothing past the mapping. */
	struct gw_memory mem = { .read = read_entry, .opaque = guest };
	struct gw_result r;
	assert_int_equal(gw_translate(&mem, e.cr3, ENTRY, NULL, &r), 0);
	assert_int_equal(r.phys, ENTRY - VIRT_BASE);
	assert_int_equal(r.page_size, 4096);
	assert_true(r.writable);
	assert_int_equal(gw_translate(&mem, e.cr3, VIRT_BASE + l.pt_pfn * 4096 + 8, NULL, &r), 0);
	assert_false(r.writable);
	assert_int_equal(gw_translate(&mem, e.cr3, VIRT_BASE + l.mapped_pages * 4096, NULL, &r), -EFAULT);
	assert_int_equal(gw_translate(&mem, e.cr3, VIRT_BASE + (l.mapped_pages - 1) * 4096, NULL, &r), 0);
	free(guest);
}

static void test_builder_refusals(void **state)
{
	uint8_t *guest = calloc(1, (NR_PAGES + 1) * 4096);
	struct xpv_image img = { .virt_base = VIRT_BASE, .kernel_end = PADDR + 0x10000, .entry = ENTRY };
	struct xpv_layout l;
	struct xpv_entry e;
	const char *why = NULL;
	char cmdline[1100];

	/* An initrd that does not fit, a kernel past 1 GiB, too little memory. */
	assert_int_equal(xpv_layout_plan(NR_PAGES, &img, NR_PAGES * 4096, &l, &why), -ENOSPC);
	assert_non_null(strstr(why, "raise memory_mib"));
	img.kernel_end = 1ULL << 30;
	assert_int_equal(xpv_layout_plan(NR_PAGES, &img, 0, &l, &why), -ERANGE);
	img.kernel_end = PADDR + 0x10000;
	assert_int_equal(xpv_layout_plan(256, &img, 0, &l, &why), -ENOSPC);
	/* A command line longer than start_info holds. */
	assert_int_equal(xpv_layout_plan(NR_PAGES, &img, 0, &l, &why), 0);
	memset(cmdline, 'a', sizeof(cmdline) - 1);
	cmdline[sizeof(cmdline) - 1] = 0;
	assert_int_equal(xpv_build(guest, &l, &img, cmdline, &e, &why), -E2BIG);
	/* A hypercall page outside the kernel. */
	img.hypercall_page = VIRT_BASE + 0x10000000;
	assert_int_equal(xpv_build(guest, &l, &img, "", &e, &why), -ERANGE);
	/* Inside it: Xen's ring-3 stubs (slot 17: mov $17,%eax; syscall). */
	img.hypercall_page = VIRT_BASE + PADDR + 0x1000;
	assert_int_equal(xpv_build(guest, &l, &img, "", &e, &why), 0);
	const uint8_t *slot17 = guest + PADDR + 0x1000 + 17 * 32;
	const uint8_t want[] = { 0x51, 0x41, 0x53, 0xb8, 17, 0, 0, 0, 0x0f, 0x05 };
	assert_memory_equal(slot17, want, sizeof(want));
	free(guest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notes_of_a_pv_kernel),
		cmocka_unit_test(test_notes_refusals),
		cmocka_unit_test(test_notes_hostile_elf),
		cmocka_unit_test(test_bzimage_xz),
		cmocka_unit_test(test_bzimage_gzip),
		cmocka_unit_test(test_bzimage_zstd),
		cmocka_unit_test(test_bzimage_lz4),
		cmocka_unit_test(test_bzimage_lz4_blocks),
		cmocka_unit_test(test_kernel_image_refusals),
		cmocka_unit_test(test_builder_start_of_day),
		cmocka_unit_test(test_builder_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
