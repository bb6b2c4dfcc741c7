/* SPDX-License-Identifier: MIT */
/* The virtual debug registers (see debugreg.h). */
#include <errno.h>

#include "vmmd/shadow/debugreg.h"
#include "x86/cpu.h"

void debugreg_reset(struct shadow_pcb *p)
{
	p->dr6 = X86_DR6_FIXED_1;
	p->dr7 = X86_DR7_FIXED_1;
}

/* DR4 and DR5 are DR6 and DR7 unless CR4.DE makes them #UD. */
static int resolve(const struct shadow_pcb *p, unsigned n, unsigned *ret)
{
	if (n > 7)
		return -EINVAL;
	if (n == 4 || n == 5) {
		if (p->cr4 & X86_CR4_DE)
			return -ENOSYS;
		n += 2;
	}
	*ret = n;
	return 0;
}

int debugreg_write(struct shadow_pcb *p, unsigned n, uint64_t value)
{
	int r = resolve(p, n, &n);
	if (r < 0)
		return r;
	if (n < 4) {
		p->dr[n] = value;
		return 0;
	}
	if (value >> 32)
		return -EINVAL;
	if (n == 6)
		p->dr6 = (value & X86_DR6_VOLATILE) | X86_DR6_FIXED_1;
	else
		p->dr7 = (value & X86_DR7_VOLATILE) | X86_DR7_FIXED_1;
	return 0;
}

int debugreg_read(const struct shadow_pcb *p, unsigned n, uint64_t *ret)
{
	int r = resolve(p, n, &n);
	if (r < 0)
		return r;
	*ret = n < 4 ? p->dr[n] : n == 6 ? p->dr6 : p->dr7;
	return 0;
}
