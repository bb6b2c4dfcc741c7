/* SPDX-License-Identifier: MIT */
/*
 * Port I/O permission for the virtual CPU (SDM vol. 1, 19.5): at virtual
 * CPL0 (CPL <= IOPL) every port; at CPL3 (the virtual IOPL is 0) only the
 * ports the guest's TSS I/O bitmap grants. The real CPU cannot check this
 * for the guest (the monitor's TSS has no bitmap, so all port I/O traps).
 */
#pragma once

#include <stdint.h>

#include "vmmd/shadow/vcpu_model.h"

/* 0 when the access of size bytes (1, 2, 4) at port is allowed; -EPERM for
 * #GP(0); -EFAULT with *ret_fault when reading the TSS faulted. */
int io_permitted(const struct shadow_cpu *cpu, const struct shadow_env *env, uint16_t port, unsigned size,
		 struct shadow_fault *ret_fault);
