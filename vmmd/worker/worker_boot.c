/* SPDX-License-Identifier: MIT */
/*
 * worker.boot {config, files, console, console_size?, console_continue?, log_max_kib?,
 *              exit_report?, control?, sandbox? {uid, gid}}:
 * build the VM from the files handed over (vm_create: a failure names its
 * kind, vm_error.h), open what outlives the supervisor (the exit report,
 * the control socket, adopt.h): from then on the worker opens nothing by
 * path. Then the jail (jail.h: the user the supervisor picked, no
 * capabilities, an empty root), while the worker has one thread; then its
 * vCPUs and devices start, and the seccomp filter goes on (sandbox.h):
 * from then on the worker makes only the system calls running the guest
 * needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base/macro.h"
#include "config/vm_config.h"
#include "config/vm_files.h"
#include "vmmd/common/log.h"
#include "vmmd/worker/sandbox.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/worker.h"

/* The console ring's size (limits.console_buffer_kib); absent: the default. */
static int console_size_param(struct json_object *params, size_t *ret, struct rpc_error *err)
{
	struct json_object *v;
	int64_t n;

	*ret = CONSOLE_RING_DEFAULT;
	if (!json_object_object_get_ex(params, "console_size", &v))
		return 0;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || n < CONSOLE_RING_MIN || n > CONSOLE_RING_MAX)
		return worker_error_set(err, WORKER_ERROR_PARAMS, "console_size",
					"console_size must be between %u and %u", CONSOLE_RING_MIN, CONSOLE_RING_MAX);
	*ret = (size_t) n;
	return 0;
}

/*
 * files {SLOT: FD}: the descriptors the supervisor placed in our table
 * before exec (config/vm_files.h names), each taken into ret (VM_FILE_SLOTS,
 * -1 for none). An unknown slot, or a number that is no open descriptor of
 * ours above the channel, is refused: nothing else crosses the exec.
 */
static int files_param(struct json_object *params, int *ret, struct rpc_error *err)
{
	struct json_object *files;

	for (int i = 0; i < VM_FILE_SLOTS; i++)
		ret[i] = -EBADF;
	if (!json_object_object_get_ex(params, "files", &files))
		return 0;
	if (!json_object_is_type(files, json_type_object))
		return worker_error_set(err, WORKER_ERROR_PARAMS, "files", "files must be an object");
	json_object_object_foreach(files, name, v) {
		int slot = vm_file_slot_from_name(name);
		int64_t fd = json_object_get_int64(v);
		if (slot < 0 || !json_object_is_type(v, json_type_int) || fd <= 3 || fd > INT32_MAX ||
		    ret[slot] >= 0 || fcntl((int) fd, F_GETFD) < 0)
			return worker_error_set(err, WORKER_ERROR_PARAMS, "files", "files.%s: not a descriptor "
						"handed over", name);
		ret[slot] = (int) fd;
		(void) fcntl((int) fd, F_SETFD, FD_CLOEXEC);   /* ours alone from now on */
	}
	return 0;
}

static void close_files(int *files)
{
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		files[i] = safe_close(files[i]);
}

static const char *string_param(struct json_object *params, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(params, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* What outlives a supervisor: the exit report file and the control socket.
 * Neither is needed to run the guest, so failing to open them is a warning. */
static void open_survival(struct worker *w, struct json_object *params)
{
	const char *path = string_param(params, "exit_report");
	int r;

	if (path) {
		w->exit_report_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (w->exit_report_fd < 0)
			log_warning_errno(-errno, "Failed to open the exit report file, ignoring: %m");
	}
	path = string_param(params, "control");
	if (path) {
		r = adopt_listen(w->base, path, worker_on_adopt, w, &w->adopt);
		if (r < 0)
			log_warning_errno(r, "Failed to open the control socket, the VM will not survive a supervisor restart: %m");
		/* Adoptable now: outlive the supervisor (restart survival). Until
		 * here the supervisor's death kills us (worker_link.c child_exec). */
		else if (prctl(PR_SET_PDEATHSIG, 0) < 0)
			log_warning_errno(-errno, "Failed to outlive the supervisor, ignoring: %m");
	}
}

/* Which user the supervisor picked for us: 0 with *ret filled, or 0 and
 * no change of user when it gave none (it is not root). */
static int sandbox_param(struct json_object *params, struct jail_config *ret, struct rpc_error *err)
{
	struct json_object *sb, *v;
	int64_t id[2];
	static const char *const keys[] = { "uid", "gid" };

	*ret = (struct jail_config) { 0 };
	if (!json_object_object_get_ex(params, "sandbox", &sb))
		return 0;
	for (size_t i = 0; i < 2; i++) {
		if (!json_object_object_get_ex(sb, keys[i], &v) || !json_object_is_type(v, json_type_int) ||
		    (id[i] = json_object_get_int64(v)) <= 0 || id[i] >= UINT32_MAX)
			return worker_error_set(err, WORKER_ERROR_PARAMS, "sandbox", "sandbox needs uid and gid above 0");
	}
	*ret = (struct jail_config) { .change_user = true, .uid = (uid_t) id[0], .gid = (gid_t) id[1] };
	return 0;
}

/* Only a test environment may run without the sandbox (secure_getenv: never for a setuid caller). */
static bool sandbox_wanted(void)
{
	if (secure_getenv("VMMD_NO_SANDBOX")) {
		log_warning("VMMD_NO_SANDBOX is set: running as we were started, without the jail or the seccomp filter");
		return false;
	}
	if (sandbox_supported() < 0) {
		log_warning("A sanitizer build: running without the jail or the seccomp filter (its runtime needs them)");
		return false;
	}
	return true;
}

/* Everything is open, no thread runs yet: the jail. Failing to leave root
 * is fatal; a missing namespace is logged and the worker goes on. */
static int jail_on(struct worker *w, const struct jail_config *jc)
{
	struct jail_state *j = &w->jail;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = jail_enter(jc, j);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	if (r < 0)
		return log_error_errno(r, "Failed to become uid %u: %m", (unsigned) jc->uid);
	if (j->why[0])
		log_warning("Jail: %s%s, running on without it (%s)", !j->mount_ns ? "no mount namespace of its own" :
			    "incomplete", j->caps_dropped ? "" : ", capabilities left", j->why);
	/* Its cost is part of every VM start (bench B3, docs/PERFORMANCE.md): said here. */
	log_info("Jail: uid %u gid %u%s, %s, %s%s (%.2f ms)", (unsigned) j->uid, (unsigned) j->gid,
		 j->user_changed ? "" : " (the supervisor's own)", j->caps_dropped ? "no capabilities" : "CAPABILITIES LEFT",
		 j->mount_ns ? "an empty read-only root" : "the host's file system",
		 j->user_ns ? " (own user namespace)" : "",
		 (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	return 0;
}

/* Threads running too: the filter. */
static bool filter_on(void)
{
	int r = sandbox_apply();

	if (r < 0) {
		log_warning_errno(r, "Failed to install the seccomp filter, running without it: %m");
		return false;
	}
	return true;
}

struct json_object *worker_sandbox_json(const struct worker *w)
{
	const struct jail_state *j = &w->jail;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "seccomp", json_object_new_boolean(w->sandboxed));
	json_object_object_add(o, "uid", json_object_new_int64(j->uid));
	json_object_object_add(o, "gid", json_object_new_int64(j->gid));
	json_object_object_add(o, "user_changed", json_object_new_boolean(j->user_changed));
	json_object_object_add(o, "no_capabilities", json_object_new_boolean(j->caps_dropped));
	json_object_object_add(o, "private_root", json_object_new_boolean(j->mount_ns));
	json_object_object_add(o, "user_namespace", json_object_new_boolean(j->user_ns));
	json_object_object_add(o, "missing", j->why[0] ? json_object_new_string(j->why) : NULL);
	return o;
}

void worker_boot(struct worker *w, struct vm *unused, struct rpc_call *call)
{
	struct json_object *params = call->params, *config_json, *res;
	struct config_error cerr = { 0 };
	struct rpc_error err = { 0 };
	struct vm_error verr;
	const char *console;
	size_t console_size;
	int files[VM_FILE_SLOTS];
	int r;

	if (w->vm || w->config) {
		worker_fail(call, WORKER_ERROR_STATE, "already booted");
		return;
	}
	console = params ? string_param(params, "console") : NULL;
	if (!console || !json_object_object_get_ex(params, "config", &config_json)) {
		worker_fail(call, WORKER_ERROR_PARAMS, "worker.boot needs config and console");
		return;
	}
	struct jail_config jc;
	/* files first: it sets every slot, so there is always something to close. */
	if (files_param(params, files, &err) < 0 || console_size_param(params, &console_size, &err) < 0 ||
	    sandbox_param(params, &jc, &err) < 0) {
		close_files(files);
		rpc_call_error(call, &err, NULL);
		return;
	}
	r = vm_config_from_json(config_json, &w->config, &cerr);
	if (r < 0) {
		close_files(files);
		worker_error_set(&err, WORKER_ERROR_CONFIG, cerr.field, "%s: %s", cerr.field, cerr.message);
		rpc_call_error(call, &err, NULL);
		w->error = r;
		worker_leave_after_reply(w);   /* the supervisor starts a new worker for a new config */
		return;
	}

	/* Tests of the boot deadline and of vm.stop --force while booting:
	 * this VM's worker stops itself here (SIGSTOP), as one stuck would. */
	const char *hang = secure_getenv("VMMD_TEST_HOOKS") ? secure_getenv("VMMD_TEST_STOP_BOOT") : NULL;
	if (hang && strcmp(hang, w->config->name) == 0)
		raise(SIGSTOP);

	struct json_object *v;
	bool console_continue = json_object_object_get_ex(params, "console_continue", &v) &&
				json_object_get_boolean(v);
	struct vm_console_params cp = {
		.path = console, .size = console_size, .resume = console_continue,
		.log_max_bytes = json_object_object_get_ex(params, "log_max_kib", &v) ?
				 (uint64_t) json_object_get_int64(v) << 10 : 0,
	};
	r = vm_create(w->config, files, &cp, &w->vm, &verr);
	if (r < 0) {
		worker_error_set(&err, verr.kind, NULL, "%s: %s", verr.why, strerror(-r));
		log_error("Failed to build the VM: %s: %s", verr.why, strerror(-r));
		rpc_call_error(call, &err, NULL);
		w->error = r;
		worker_leave_after_reply(w);   /* nothing to run */
		return;
	}

	r = worker_watch_vm(w);
	if (r < 0) {
		worker_fail(call, WORKER_ERROR_INTERNAL, "cannot watch the VM: %s", strerror(-r));
		w->error = r;
		worker_leave_after_reply(w);
		return;
	}
	open_survival(w, params);
	bool sandbox = sandbox_wanted();
	w->jail = (struct jail_state) { .uid = getuid(), .gid = getgid() };
	if (sandbox && (r = jail_on(w, &jc)) < 0) {
		worker_fail(call, WORKER_ERROR_INTERNAL, "cannot leave root for uid %u: %s", (unsigned) jc.uid, strerror(-r));
		w->error = r;
		worker_leave_after_reply(w);
		return;
	}
	r = vm_start(w->vm);
	if (r < 0) {
		/* vm_start recorded an exit: the loop reports it and leaves. */
		worker_fail(call, WORKER_ERROR_INTERNAL, "cannot start the vCPU threads: %s", strerror(-r));
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &w->booted);
	w->sandboxed = sandbox && filter_on();

	res = json_object_new_object();
	json_object_object_add(res, "pid", json_object_new_int(getpid()));
	json_object_object_add(res, "sandboxed", json_object_new_boolean(w->sandboxed));
	json_object_object_add(res, "sandbox", worker_sandbox_json(w));
	json_object_object_add(res, "boot", vm_boot_json(w->vm));
	rpc_call_result(call, res);
}
