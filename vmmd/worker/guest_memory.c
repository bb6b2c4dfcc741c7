/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/mman.h>

#include "vmmd/worker/guest_memory.h"

int guest_memory_map(uint64_t size, struct guest_memory *ret)
{
	if (size == 0 || size > GUEST_MEMORY_MAX || (size & 0xfff))
		return -EINVAL;
	/* NORESERVE: a 64 MiB guest that touches 1 MiB costs 1 MiB (density, B5). */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	(void) madvise(p, size, MADV_MERGEABLE);
	ret->host = p;
	ret->size = size;
	return 0;
}

void guest_memory_unmap(struct guest_memory *m)
{
	if (m->host)
		munmap(m->host, m->size);
	m->host = NULL;
	m->size = 0;
}

void *guest_memory_ptr(const struct guest_memory *m, uint64_t gpa, uint64_t len)
{
	if (gpa > m->size || len > m->size - gpa)
		return NULL;
	return m->host + gpa;
}
