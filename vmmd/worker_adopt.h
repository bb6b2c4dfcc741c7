/* SPDX-License-Identifier: MIT */
/*
 * Adopting the workers a previous supervisor started (worker_adopt.c):
 * after a restart, each VM whose worker may still run is looked for at
 * its control socket and taken over without waiting for it.
 */
#pragma once

#include <stddef.h>

#include "vmmd/daemon.h"

/* After loading the registry: re-adopt every worker still running from a
 * previous supervisor, else record why not. Waits for nothing: a worker
 * is adopted when it answers (worker_problem says it has not yet). */
void worker_adopt_all(struct daemon *d);
/* Why vm's worker is not fully ours, for vm.list's problem (in buf), or NULL. */
const char *worker_problem(const struct vm_record *vm, char *buf, size_t size);
