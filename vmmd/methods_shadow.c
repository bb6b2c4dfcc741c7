/* SPDX-License-Identifier: MIT */
/* mmu.shadow: the shadow roots and mappings vmmd built (answered by the worker). */
#include <stdio.h>
#include <string.h>

#include "vmmd/methods.h"
#include "vmmd/worker_link.h"

static void relay_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct rpc_call *call = userdata;
	if (err)
		rpc_call_error(call, err, NULL);
	else
		rpc_call_result(call, json_object_get(result));
}

void method_mmu_shadow(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	const char *root = param_string(call->params, "root", "all");
	if (strcmp(root, "all") != 0 && strcmp(root, "kernel") != 0 && strcmp(root, "user") != 0) {
		struct rpc_error err = { 0 };
		rpc_error_set(&err, RPC_INVALID_PARAMS, "root must be kernel, user or all");
		snprintf(err.field, sizeof(err.field), "root");
		rpc_call_error(call, &err, NULL);
		return;
	}
	if (vm->config->paging != VM_PAGING_SHADOW) {
		reply_error(call, RPC_UNSUPPORTED, "mmu.shadow: VM '%s' runs in hw mode (KVM's paging, not vmmd's)",
			    vm->name);
		return;
	}
	/* The worker gets the checked params minus the name (a copy: the call's are borrowed). */
	struct json_object *params = json_object_new_object();
	json_object_object_foreach(call->params, key, val)
		if (strcmp(key, "name") != 0)
			json_object_object_add(params, key, json_object_get(val));
	if (worker_call(vm, "worker.mmu.shadow", params, relay_reply, call) < 0)
		reply_error(call, RPC_INVALID_STATE, "the worker of '%s' is not reachable", vm->name);
}
