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

#define DR6_BD (1ULL << 13)
#define DR7_GD (1ULL << 13)

/* DR4 and DR5 are DR6 and DR7 unless CR4.DE makes them #UD; then general
 * detect (SDM 18.2.4: #UD before #DB, as KVM orders them). */
static int resolve(struct shadow_pcb *p, unsigned n, unsigned *ret)
{
	if (n > 7)
		return -EINVAL;
	if (n == 4 || n == 5) {
		if (p->cr4 & X86_CR4_DE)
			return -ENOSYS;
		n += 2;
	}
	if (p->dr7 & DR7_GD) {
		p->dr6 |= DR6_BD;
		p->dr7 &= ~DR7_GD;
		return -EAGAIN;
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

int debugreg_read(struct shadow_pcb *p, unsigned n, uint64_t *ret)
{
	int r = resolve(p, n, &n);
	if (r < 0)
		return r;
	*ret = n < 4 ? p->dr[n] : n == 6 ? p->dr6 : p->dr7;
	return 0;
}
