/* SPDX-License-Identifier: MIT */
/*
 * Why building a VM failed, filled at the point of failure: the step that
 * fails knows whether the kernel, the initrd, a device or the host is to
 * blame, so nobody classifies the message afterwards. The kind travels to
 * the supervisor and decides the client's error class (worker_protocol.h);
 * why is for people and may be reworded freely.
 */
#pragma once

#include "vmmd/common/worker_protocol.h"

struct vm_error {
	enum worker_error kind;
	const char *why;         /* a static string */
};

/* Record the failure and return r, for `return vm_error_set(err, KIND, r, "...");`. */
static inline int vm_error_set(struct vm_error *err, enum worker_error kind, int r, const char *why)
{
	err->kind = kind;
	err->why = why;
	return r;
}

/* After a helper that only says why (`const char **why`): name the kind if it failed. */
static inline int vm_error_kind(struct vm_error *err, enum worker_error kind, int r)
{
	if (r < 0)
		err->kind = kind;
	return r;
}
