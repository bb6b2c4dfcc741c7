/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/macro.h"
#include "vmmd/common/worker_protocol.h"

/* The names are protocol (the channel, the clients' data.kind): never rename. */
static const struct {
	const char *name;
	int code;
	const char *field;     /* the config field it blames, for ConfigInvalid */
} worker_errors[WORKER_ERROR_MAX] = {
	[WORKER_ERROR_INTERNAL]     = { "internal", RPC_INTERNAL_ERROR, NULL },
	[WORKER_ERROR_NO_KVM]       = { "no-kvm", RPC_UNSUPPORTED, NULL },
	[WORKER_ERROR_CONFIG]       = { "config", RPC_CONFIG_INVALID, NULL },
	[WORKER_ERROR_KERNEL]       = { "kernel", RPC_CONFIG_INVALID, "kernel" },
	[WORKER_ERROR_INITRD]       = { "initrd", RPC_CONFIG_INVALID, "initrd" },
	[WORKER_ERROR_MEMORY]       = { "memory", RPC_CONFIG_INVALID, "memory_mib" },
	[WORKER_ERROR_CONSOLE_LOG]  = { "console-log", RPC_CONFIG_INVALID, "console.log" },
	[WORKER_ERROR_DEVICE]       = { "device", RPC_CONFIG_INVALID, "devices" },
	[WORKER_ERROR_DEVICE_BUSY]  = { "device-busy", RPC_RESOURCE_LIMIT, "devices" },
	[WORKER_ERROR_PARAMS]       = { "params", RPC_INVALID_PARAMS, NULL },
	[WORKER_ERROR_STATE]        = { "state", RPC_INVALID_STATE, NULL },
	[WORKER_ERROR_NO_METHOD]    = { "no-method", RPC_METHOD_NOT_FOUND, NULL },
	[WORKER_ERROR_GUEST_ACCESS] = { "guest-access", RPC_GUEST_ACCESS, NULL },
	[WORKER_ERROR_LIMIT]        = { "limit", RPC_RESOURCE_LIMIT, NULL },
	[WORKER_ERROR_UNSUPPORTED]  = { "unsupported", RPC_UNSUPPORTED, NULL },
	/* The VM ended while a call was on its way: its state, not our failure. */
	[WORKER_ERROR_GONE]         = { "gone", RPC_INVALID_STATE, NULL },
	[WORKER_ERROR_NO_SPACE]     = { "no-space", RPC_RESOURCE_LIMIT, NULL },
	[WORKER_ERROR_TIMEOUT]      = { "timeout", RPC_INTERNAL_ERROR, NULL },
};

const char *worker_error_name(enum worker_error kind)
{
	return (unsigned) kind < ELEMENTSOF(worker_errors) ? worker_errors[kind].name : NULL;
}

int worker_error_from_name(const char *name)
{
	for (size_t i = 0; name && i < ELEMENTSOF(worker_errors); i++)
		if (strcmp(worker_errors[i].name, name) == 0)
			return (int) i;
	return -EINVAL;
}

int worker_error_code(enum worker_error kind)
{
	return (unsigned) kind < ELEMENTSOF(worker_errors) ? worker_errors[kind].code : RPC_INTERNAL_ERROR;
}

const char *worker_error_field(enum worker_error kind)
{
	return (unsigned) kind < ELEMENTSOF(worker_errors) ? worker_errors[kind].field : NULL;
}

int worker_error_set(struct rpc_error *err, enum worker_error kind, const char *field, const char *fmt, ...)
{
	char message[sizeof(err->message)];
	va_list ap;

	if ((unsigned) kind >= WORKER_ERROR_MAX)
		kind = WORKER_ERROR_INTERNAL;
	va_start(ap, fmt);
	(void) vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	rpc_error_set_field(err, worker_errors[kind].code, field ? field : worker_errors[kind].field, "%s", message);
	if (err)
		snprintf(err->kind, sizeof(err->kind), "%s", worker_errors[kind].name);
	return worker_errors[kind].code;
}

enum worker_error worker_error_of(const struct rpc_error *err)
{
	int k = worker_error_from_name(err->kind);
	return k < 0 ? WORKER_ERROR_INTERNAL : (enum worker_error) k;
}

static const struct {
	const char *name;
	bool clean;
} exit_reasons[VM_EXIT_REASON_MAX] = {
	[VM_EXIT_NONE]              = { "none", false },
	[VM_EXIT_DEBUG_EXIT]        = { "debug-exit", true },
	[VM_EXIT_STOPPED]           = { "stopped", true },
	[VM_EXIT_TRIPLE_FAULT]      = { "triple-fault", false },
	[VM_EXIT_EMULATION_FAILURE] = { "emulation-failure", false },
	[VM_EXIT_INTERNAL_ERROR]    = { "internal-error", false },
	/* A reset is the guest's own wish (Linux reboot=k, panic=-1). */
	[VM_EXIT_GUEST_RESET]       = { "guest-reset", true },
	[VM_EXIT_POWEROFF]          = { "poweroff", true },
	[VM_EXIT_GUEST_CRASH]       = { "guest-crash", false },
	[VM_EXIT_WORKER_KILLED]     = { "worker-killed", false },
	[VM_EXIT_WORKER_CRASHED]    = { "worker-crashed", false },
	[VM_EXIT_WORKER_GONE]       = { "worker-gone", false },
	[VM_EXIT_DAEMON_RESTART]    = { "daemon-restart", false },
	[VM_EXIT_UNKNOWN]           = { "unknown", false },
};

const char *vm_exit_reason_name(enum vm_exit_reason r)
{
	return (unsigned) r < ELEMENTSOF(exit_reasons) ? exit_reasons[r].name : "unknown";
}

enum vm_exit_reason vm_exit_reason_from_name(const char *name)
{
	for (size_t i = 0; name && i < ELEMENTSOF(exit_reasons); i++)
		if (strcmp(exit_reasons[i].name, name) == 0)
			return (enum vm_exit_reason) i;
	return VM_EXIT_UNKNOWN;
}

bool vm_exit_reason_is_clean(enum vm_exit_reason r)
{
	return (unsigned) r < ELEMENTSOF(exit_reasons) && exit_reasons[r].clean;
}
