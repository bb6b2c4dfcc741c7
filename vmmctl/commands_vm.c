/* SPDX-License-Identifier: MIT */
/*
 * VM lifecycle commands: create, run (create + start [+ console]), start,
 * pause, resume, stop, destroy.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmmctl/config_file.h"
#include "vmmctl/files.h"
#include "vmmctl/json_util.h"
#include "vmmctl/output.h"
#include "vmmctl/vmmctl.h"

/* With --json the result as it came; otherwise "NAME: STATE" (or `fallback_state`). */
static void print_name_state(const struct ctl *ctl, struct json_object *result,
			     const char *fallback_state)
{
	if (ctl->json) {
		print_json(stdout, result);
		return;
	}
	printf("%s: %s\n", json_lookup_str(result, "name", "?"),
	       json_lookup_str(result, "state", fallback_state));
}

/* vm.create from the config file in argv[0]; its result in *ret_result. */
static int create_from_file(struct ctl *ctl, const struct cmd_args *args,
			    struct json_object **ret_result)
{
	struct json_object *config, *params;
	char cwd[PATH_MAX];
	char why[512];
	int r;

	if (!getcwd(cwd, sizeof(cwd))) {
		r = -errno;
		ctl_error("cannot get the current directory: %s", strerror(-r));
		return r;
	}
	r = config_file_prepare(args->argv[0], cmd_args_get(args, "--name"), cwd,
				&config, why, sizeof(why));
	if (r == -ENOMEM)
		return ctl_oom();
	if (r < 0) {
		ctl_error("%s", why);
		return r;
	}

	params = json_object_new_object();
	if (!params || json_object_object_add(params, "config", config) < 0) {
		json_object_put(params);
		json_object_put(config);
		return ctl_oom();
	}
	/* The files, opened as this user (files.h); not over --connect: they
	 * are the remote host's, and descriptors do not cross ssh. */
	struct ctl_files files = { .n = 0 };
	if (ctl->remote_pid <= 0) {
		r = ctl_files_open(config, NULL, params, &files, why, sizeof(why));
		if (r < 0) {
			json_object_put(params);
			ctl_error("%s: %s", args->argv[0], why);
			return r;
		}
	}
	r = ctl_call_fds(ctl, "vm.create", params, files.fd, files.n, ret_result);
	ctl_files_close(&files);
	return r;
}

static int cmd_create(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *res;
	int r;

	r = create_from_file(ctl, args, &res);
	if (r < 0)
		return r;
	print_name_state(ctl, res, "created");
	json_object_put(res);
	return 0;
}

static int cmd_run(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *created, *started, *params;
	bool console = cmd_args_has(args, "--console");
	char *name;
	int r;

	r = create_from_file(ctl, args, &created);
	if (r < 0)
		return r;
	name = strdup(json_lookup_str(created, "name", ""));
	json_object_put(created);
	if (!name)
		return ctl_oom();

	params = ctl_params_name(name);
	if (!params) {
		free(name);
		return ctl_oom();
	}
	r = ctl_call(ctl, "vm.start", params, &started);
	if (r < 0) {
		ctl_error("%s was created but not started", name);
		free(name);
		return r;
	}
	/* With --console stdout carries the guest's bytes only. */
	if (!console)
		print_name_state(ctl, started, "running");
	json_object_put(started);

	if (console)
		r = console_follow(ctl, name);
	free(name);
	return r;
}

/* start, pause, resume and destroy take a name and nothing else. */
static int simple_vm_call(struct ctl *ctl, const char *method, const char *name,
			  const char *fallback_state)
{
	struct json_object *params = ctl_params_name(name), *res;
	int r;

	if (!params)
		return ctl_oom();
	r = ctl_call(ctl, method, params, &res);
	if (r < 0)
		return r;
	print_name_state(ctl, res, fallback_state);
	json_object_put(res);
	return 0;
}

/*
 * The files vmmd needs again to start name: those a client passed that it
 * no longer holds (after a restart, vm.info's files says "needed"), opened
 * now as this user into params. Nothing when vmmd has them, or over
 * --connect.
 */
static int files_for_start(struct ctl *ctl, const char *name, struct json_object *params, struct ctl_files *ret)
{
	struct json_object *info = NULL, *files, *q = ctl_params_name(name);
	struct rpc_error err;
	bool want[VM_FILE_SLOTS] = { false }, any = false;
	char why[512];
	int r;

	ret->n = 0;
	if (ctl->remote_pid > 0 || !q)
		return q ? 0 : ctl_oom();
	r = ctl_try_call(ctl, "vm.info", q, &info, &err);
	if (r < 0)
		return ctl->client ? 0 : r;   /* vm.start says what is wrong; not connected: said */
	files = json_lookup(info, "files");
	if (json_object_is_type(files, json_type_object)) {
		json_object_object_foreach(files, field, how) {
			int slot = vm_file_slot_from_name(field);
			if (slot >= 0 && strcmp(json_object_get_string(how), "needed") == 0)
				any = want[slot] = true;
		}
	}
	want[VM_FILE_LOG_PART] = want[VM_FILE_CONSOLE_LOG];
	r = any ? ctl_files_open(json_lookup(info, "config"), want, params, ret, why, sizeof(why)) : 0;
	if (r < 0)
		ctl_error("%s: %s", name, why);
	json_object_put(info);
	return r;
}

static int cmd_start(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *params = ctl_params_name(args->argv[0]), *res;
	struct ctl_files files;
	int r;

	if (!params)
		return ctl_oom();
	r = files_for_start(ctl, args->argv[0], params, &files);
	if (r < 0) {
		json_object_put(params);
		return r;
	}
	r = ctl_call_fds(ctl, "vm.start", params, files.fd, files.n, &res);
	ctl_files_close(&files);
	if (r < 0)
		return r;
	print_name_state(ctl, res, "running");
	json_object_put(res);
	return 0;
}

static int cmd_pause(struct ctl *ctl, const struct cmd_args *args)
{
	return simple_vm_call(ctl, "vm.pause", args->argv[0], "paused");
}

static int cmd_resume(struct ctl *ctl, const struct cmd_args *args)
{
	return simple_vm_call(ctl, "vm.resume", args->argv[0], "running");
}

static int cmd_destroy(struct ctl *ctl, const struct cmd_args *args)
{
	/* vm.destroy's result has no state; "destroyed" says what happened. */
	return simple_vm_call(ctl, "vm.destroy", args->argv[0], "destroyed");
}

static int cmd_stop(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *params = ctl_params_name(args->argv[0]), *res;
	int r;

	if (!params)
		return ctl_oom();
	if (json_object_object_add(params, "force",
				   json_object_new_boolean(cmd_args_has(args, "--force"))) < 0) {
		json_object_put(params);
		return ctl_oom();
	}
	r = ctl_call(ctl, "vm.stop", params, &res);
	if (r < 0)
		return r;
	print_name_state(ctl, res, "stopped");
	json_object_put(res);
	return 0;
}

static const struct cmd_option name_option[] = {
	{ .name = "--name", .has_arg = true },
	{}
};

static const struct cmd_option run_options[] = {
	{ .name = "--name", .has_arg = true },
	{ .name = "--console" },
	{}
};

static const struct cmd_option stop_options[] = {
	{ .name = "--force" },
	{}
};

const struct cmd_entry cmd_create_entry = {
	.name = "create",
	.usage = "CONFIG.json [--name NAME]",
	.summary = "define a VM from a config file (\"-\": stdin)",
	.min_args = 1, .max_args = 1,
	.options = name_option,
	.exec = cmd_create,
};

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.usage = "CONFIG.json [--name NAME] [--console]",
	.summary = "create and start a VM; --console then follows its console",
	.min_args = 1, .max_args = 1,
	.options = run_options,
	.exec = cmd_run,
};

const struct cmd_entry cmd_start_entry = {
	.name = "start",
	.usage = "NAME",
	.summary = "start a created or stopped VM",
	.min_args = 1, .max_args = 1,
	.exec = cmd_start,
};

const struct cmd_entry cmd_pause_entry = {
	.name = "pause",
	.usage = "NAME",
	.summary = "pause a running VM",
	.min_args = 1, .max_args = 1,
	.exec = cmd_pause,
};

const struct cmd_entry cmd_resume_entry = {
	.name = "resume",
	.usage = "NAME",
	.summary = "resume a paused VM",
	.min_args = 1, .max_args = 1,
	.exec = cmd_resume,
};

const struct cmd_entry cmd_stop_entry = {
	.name = "stop",
	.usage = "NAME [--force]",
	.summary = "stop a running or paused VM",
	.min_args = 1, .max_args = 1,
	.options = stop_options,
	.exec = cmd_stop,
};

const struct cmd_entry cmd_destroy_entry = {
	.name = "destroy",
	.usage = "NAME",
	.summary = "forget a stopped VM",
	.min_args = 1, .max_args = 1,
	.exec = cmd_destroy,
};

