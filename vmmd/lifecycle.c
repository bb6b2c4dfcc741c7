/* SPDX-License-Identifier: MIT */
#include "vmmd/events.h"
#include "vmmd/lifecycle.h"
#include "vmmd/common/log.h"
#include "vmmd/sd_notify.h"

void lifecycle_set_state(struct daemon *d, struct vm_record *vm, enum vm_state state)
{
	enum vm_state previous = vm->state;
	vm->state = state;
	int r = registry_save(&d->registry, vm);
	if (r < 0)
		log_warning_errno(r, "Failed to save the state of VM %s, ignoring: %m", vm->name);
	if (previous != state)
		events_emit_state(d, vm, previous);
	daemon_notify_status(d);
}

void lifecycle_reply_state(struct rpc_call *call, const struct vm_record *vm)
{
	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "name", json_object_new_string(vm->name));
	json_object_object_add(res, "state", json_object_new_string(vm_state_name(vm->state)));
	rpc_call_result(call, res);
}
