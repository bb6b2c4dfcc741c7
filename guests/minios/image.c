// SPDX-License-Identifier: MIT
/*
 * minios: the built-in image table and the program loader.
 *
 * Each user program (guests/minios/user/NAME.c) is linked on its own at
 * USER_BASE, stripped, and embedded in the kernel image by a generated
 * images.S (the Makefile's minios block: `.incbin`, 4 KiB aligned and
 * padded), which also emits minios_images[], {name, start, end} per
 * program and a NULL name at the end.
 *
 * Loading maps each PT_LOAD's pages into the new process: read-only pages
 * straight from the embedded copy (the frames are the kernel image's; every
 * process running the program shares them, as text pages are shared from a
 * page cache), writable pages as fresh copies, .bss as zeroed pages.
 */
#include "minios.h"

struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

#define PT_LOAD 1
#define PF_W    2

extern const struct image minios_images[];

const struct image *image_find(const char *name, size_t len)
{
	const struct image *im;

	for (im = minios_images; im->name; im++)
		if (strlen(im->name) == len && !strncmp(im->name, name, len))
			return im;
	return NULL;
}

size_t image_names(char *buf, size_t size)
{
	const struct image *im;
	size_t n = 0;

	for (im = minios_images; im->name; im++)
		n += snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, "%s%s",
			      n ? " " : "", im->name);
	return n < size ? n : size ? size - 1 : 0;
}

static int load_segment(struct proc *p, const struct image *im, const struct elf64_phdr *ph)
{
	uint64_t va, file_end = ph->vaddr + ph->filesz, mem_end = ph->vaddr + ph->memsz;
	int r;

	for (va = align_down(ph->vaddr, PAGE_SIZE); va < mem_end; va += PAGE_SIZE) {
		uint64_t off = va - ph->vaddr + ph->offset;     /* page-aligned, see image_load */

		if (!(ph->flags & PF_W) && mem_end == file_end) {
			r = vm_map(p, va, (uint64_t) (uintptr_t) (im->start + off), PTE_U, false);
		} else {
			uint64_t pa = page_alloc(), from = va > ph->vaddr ? va : ph->vaddr;
			uint64_t to = va + PAGE_SIZE < file_end ? va + PAGE_SIZE : file_end;

			if (!pa)
				return -E_NOMEM;
			if (to > from)
				page_copy(pa + (from - va), im->start + (from - ph->vaddr + ph->offset), to - from);
			r = vm_map(p, va, pa, PTE_U | (ph->flags & PF_W ? PTE_W : 0), true);
			if (r < 0)
				page_free(pa);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int image_load(struct proc *p, const struct image *im, uint64_t *entry)
{
	const struct elf64_ehdr *eh = (const struct elf64_ehdr *) im->start;
	uint64_t size = (uint64_t) (im->end - im->start);
	unsigned i;
	int r;

	if (size < sizeof(*eh) || memcmp(eh->ident, "\177ELF\2\1", 6) || eh->phentsize != sizeof(struct elf64_phdr) ||
	    eh->phoff > size || (uint64_t) eh->phnum * sizeof(struct elf64_phdr) > size - eh->phoff)
		return -E_INVAL;
	for (i = 0; i < eh->phnum; i++) {
		const struct elf64_phdr *ph = (const struct elf64_phdr *) (im->start + eh->phoff) + i;

		if (ph->type != PT_LOAD || !ph->memsz)
			continue;
		if (ph->filesz > ph->memsz || ph->offset > size || ph->filesz > size - ph->offset ||
		    ph->vaddr < USER_BASE || ph->memsz > USER_IMAGE_END - USER_BASE ||
		    ph->vaddr > USER_IMAGE_END - ph->memsz || ((ph->vaddr - ph->offset) & (PAGE_SIZE - 1)))
			return -E_INVAL;
		r = load_segment(p, im, ph);
		if (r < 0)
			return r;
	}
	*entry = eh->entry;
	return 0;
}
