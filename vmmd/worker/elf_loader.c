/* SPDX-License-Identifier: MIT */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmmd/worker/elf_loader.h"
#include "vmmd/worker/image_file.h"
#include "vmmd/xenpv/notes.h"

#define FAIL(r, msg) do { *why = (msg); return (r); } while (0)

static int check_header(const Elf64_Ehdr *eh, size_t size, const char **why)
{
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		FAIL(-ENOEXEC, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		FAIL(-ENOEXEC, "not a little-endian ELF64 file");
	if (eh->e_machine != EM_X86_64)
		FAIL(-ENOEXEC, "not an x86-64 ELF file");
	if (eh->e_type != ET_EXEC)
		FAIL(-ENOEXEC, "not an executable ELF file (ET_EXEC)");
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		FAIL(-EINVAL, "bad e_phentsize");
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS)
		FAIL(-EINVAL, "bad e_phnum");
	if (eh->e_phoff > size || (uint64_t) eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff)
		FAIL(-EINVAL, "program headers outside the file");
	return 0;
}

int elf_load_segments(const uint8_t *image, size_t size, struct guest_memory *mem,
		      uint64_t min_paddr, struct elf_info *ret, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	/* Copy the header: the image may be unaligned. */
	Elf64_Ehdr eh;
	if (size < sizeof(eh))
		FAIL(-ENOEXEC, "not an ELF file");
	memcpy(&eh, image, sizeof(eh));
	int r = check_header(&eh, size, why);
	if (r < 0)
		return r;

	struct elf_info info = { .entry = eh.e_entry, .lowest = UINT64_MAX };
	bool entry_inside = false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, image + eh.e_phoff + (uint64_t) i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz)
			FAIL(-EINVAL, "segment with p_filesz > p_memsz");
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			FAIL(-EINVAL, "segment data outside the file");
		if (ph.p_paddr < min_paddr)
			FAIL(-ERANGE, "segment below the load area (vmmd owns low memory)");
		uint8_t *dst = guest_memory_ptr(mem, ph.p_paddr, ph.p_memsz);
		if (!dst)
			FAIL(-ERANGE, "segment beyond guest memory");
		memcpy(dst, image + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr < info.lowest)
			info.lowest = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > info.highest)
			info.highest = ph.p_paddr + ph.p_memsz;
		/* Entry is a virtual address; our guests are identity-linked (vaddr == paddr). */
		if (eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz) {
			entry_inside = true;
			info.entry = ph.p_paddr + (eh.e_entry - ph.p_vaddr);
		}
		info.segments++;
	}
	if (info.segments == 0)
		FAIL(-EINVAL, "no PT_LOAD segment");
	info.entry_loaded = entry_inside;
	*ret = info;
	return 0;
}

int elf_load_image(const uint8_t *image, size_t size, struct guest_memory *mem,
		   uint64_t min_paddr, struct elf_info *ret, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	struct elf_info info;
	int r = elf_load_segments(image, size, mem, min_paddr, &info, why);
	if (r < 0)
		return r;
	if (!info.entry_loaded)
		FAIL(-EINVAL, "entry point outside every loaded segment");
	*ret = info;
	return 0;
}

bool elf_entry_is_loaded(const uint8_t *image, size_t size)
{
	Elf64_Ehdr eh;
	const char *why;
	if (size < sizeof(eh))
		return false;
	memcpy(&eh, image, sizeof(eh));
	if (check_header(&eh, size, &why) < 0)
		return false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, image + eh.e_phoff + (uint64_t) i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz)
			return true;
	}
	return false;
}

int elf_pvh_entry(const uint8_t *image, size_t size, uint32_t *ret_entry)
{
	Elf64_Ehdr eh;
	struct xpv_notes notes;
	const char *why;
	if (size < sizeof(eh))
		return -ENOEXEC;
	memcpy(&eh, image, sizeof(eh));
	if (check_header(&eh, size, &why) < 0 || xpv_notes_parse(image, size, &notes) < 0)
		return -ENOEXEC;
	/* XEN_ELFNOTE_PHYS32_ENTRY: a Xen note, walked where the others are. */
	if (!notes.has_phys32_entry)
		return -ENOENT;
	*ret_entry = notes.phys32_entry;
	return 0;
}

int elf_load_fd(int fd, struct guest_memory *mem, uint64_t min_paddr, struct elf_info *ret, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	uint8_t *buf;
	size_t size;
	int r = image_file_read_kernel(fd, ELF_MAX_FILE, &buf, &size, why);
	if (r < 0)
		return r;
	r = elf_load_image(buf, size, mem, min_paddr, ret, why);
	free(buf);
	return r;
}
