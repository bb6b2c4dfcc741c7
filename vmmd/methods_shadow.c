/* SPDX-License-Identifier: MIT */
/* mmu.shadow: the shadow roots and mappings vmmd built (answered by the worker). */
#include <stdio.h>
#include <string.h>

#include "vmmd/common/worker_protocol.h"
#include "vmmd/methods.h"

void method_mmu_shadow(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	const char *root = param_string(call->params, "root", "all");
	if (strcmp(root, "all") != 0 && strcmp(root, "kernel") != 0 && strcmp(root, "user") != 0) {
		rpc_call_errorf(call, RPC_INVALID_PARAMS, "root", "root must be kernel, user or all");
		return;
	}
	if (vm->config->paging != VM_PAGING_SHADOW) {
		rpc_call_errorf(call, RPC_UNSUPPORTED, NULL,
				"mmu.shadow: VM '%s' runs in hw mode (KVM's paging, not vmmd's)", vm->name);
		return;
	}
	method_forward(call, vm, WORKER_METHOD_MMU_SHADOW);
}
