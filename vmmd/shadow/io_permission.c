/* SPDX-License-Identifier: MIT */
/* The TSS I/O bitmap check (see io_permission.h). */
#include <errno.h>

#include "vmmd/shadow/io_permission.h"

#define TSS_IOMAP_BASE 102      /* offset of the 16-bit I/O map base in a 64-bit TSS */

/* An implicit supervisor read of the guest's TSS (it may be anywhere). */
static int tss_read(const struct shadow_cpu *cpu, const struct shadow_env *env, uint32_t off, uint16_t *ret,
		    struct shadow_fault *ret_fault)
{
	uint8_t b[2];
	*ret_fault = (struct shadow_fault) { .vector = X86_PF, .error = 0, .cr2 = cpu->pcb.tss_base + off };
	if (env->read_virt(env->ctx, cpu->pcb.tss_base + off, b, sizeof(b), 0, ret_fault) < 0)
		return -EFAULT;
	*ret = (uint16_t) (b[0] | b[1] << 8);
	return 0;
}

int io_permitted(const struct shadow_cpu *cpu, const struct shadow_env *env, uint16_t port, unsigned size,
		 struct shadow_fault *ret_fault)
{
	const struct shadow_pcb *p = &cpu->pcb;
	uint16_t base, bits;

	if (p->vcpl == 0)
		return 0;
	if (size < 1 || size > 4 || (p->tr & ~3u) == 0 || p->tss_limit < TSS_IOMAP_BASE + 1)
		return -EPERM;
	if (tss_read(cpu, env, TSS_IOMAP_BASE, &base, ret_fault) < 0)
		return -EFAULT;
	/* The CPU reads the two bytes that hold the port's bits: both must lie
	 * within the TSS limit. */
	uint32_t off = (uint32_t) base + port / 8;
	if (off + 1 > p->tss_limit)
		return -EPERM;
	if (tss_read(cpu, env, off, &bits, ret_fault) < 0)
		return -EFAULT;
	uint16_t want = (uint16_t) (((1u << size) - 1) << (port & 7));
	return (bits & want) ? -EPERM : 0;
}
