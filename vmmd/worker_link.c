/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup_json.h"
#include "base/macro.h"
#include "proto/base64.h"
#include "vmmd/events.h"
#include "vmmd/lifecycle.h"
#include "vmmd/common/log.h"
#include "vmmd/common/worker_protocol.h"
#include "vmmd/start_files.h"
#include "vmmd/worker_link.h"
#include "vmmd/worker_link_internal.h"

pid_t worker_pid(const struct vm_record *vm)
{
	return vm->worker ? vm->worker->pid : 0;
}

/* Decide what the run ended with when the worker did not say (it was killed or crashed). */
static void exit_from_status(struct worker_link *w, struct vm_exit_info *e)
{
	*e = (struct vm_exit_info) { .valid = true };
	if (w->force_killed) {
		e->reason = VM_EXIT_STOPPED;
		snprintf(e->message, sizeof(e->message), "forced stop: the worker was killed");
	} else if (w->adopted) {
		e->reason = VM_EXIT_WORKER_GONE;
		snprintf(e->message, sizeof(e->message),
			 "the adopted worker ended without a report (not our child: no exit status)");
	} else if (WIFSIGNALED(w->wait_status)) {
		int sig = WTERMSIG(w->wait_status);
		e->reason = VM_EXIT_WORKER_KILLED;
		snprintf(e->message, sizeof(e->message), "the worker was killed by signal %d (%s)",
			 sig, strsignal(sig));
		e->code = 128 + sig;
	} else {
		e->reason = VM_EXIT_WORKER_CRASHED;
		snprintf(e->message, sizeof(e->message), "the worker exited with status %d without a report",
			 WEXITSTATUS(w->wait_status));
		e->code = WEXITSTATUS(w->wait_status);
	}
}

#define RESET_RESTART_MAX 3    /* restarts allowed within RESET_WINDOW_S */
#define RESET_WINDOW_S    60

/* Boot again after a guest reset? Only when the config asks, nobody waits
 * for the VM to stop, and it is not looping (a guest that resets right away
 * forever would otherwise keep a core busy restarting workers). */
static bool restart_after_reset(struct vm_record *vm, struct worker_link *w)
{
	if (!w->booted || !w->reported.valid || w->force_killed || vm->on_stopped ||
	    vm->exit.reason != VM_EXIT_GUEST_RESET || vm->config->on_reset != VM_ON_RESET_RESTART)
		return false;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (vm->reset_window.tv_sec == 0 || now.tv_sec - vm->reset_window.tv_sec >= RESET_WINDOW_S) {
		vm->reset_window = now;
		vm->resets_in_window = 0;
	}
	if (vm->resets_in_window >= RESET_RESTART_MAX) {
		size_t len = strlen(vm->exit.message);
		snprintf(vm->exit.message + len, sizeof(vm->exit.message) - len,
			 "; reset loop: %d restarts within %d s, so it stays stopped", RESET_RESTART_MAX, RESET_WINDOW_S);
		return false;
	}
	vm->resets_in_window++;
	vm->resets++;
	return true;
}

/* The worker is gone: so goes its cgroup. */
void link_forget_cgroup(struct daemon *d, struct vm_record *vm)
{
	int r = worker_cgroup_remove(&d->cgroups, vm->name);

	if (r < 0 && r != -ENOENT && r != -EBADF)
		log_warning_errno(r, "Failed to remove the cgroup of %s's worker, ignoring: %m", vm->name);
}

/* Put a new worker in a cgroup of its own, where vmmd has a delegated one. */
static void enter_cgroup(struct daemon *d, struct vm_record *vm, struct worker_link *w)
{
	uint64_t max = worker_cgroup_memory_max(vm->config->memory_mib, (uint64_t) d->config.console_buffer_kib << 10);
	int r;

	if (d->cgroups.root_fd < 0)
		return;
	r = worker_cgroup_enter(&d->cgroups, vm->name, max, w->pid);
	if (r < 0) {
		log_warning_errno(r, "Failed to put the worker of %s in a cgroup of its own, it runs without a memory "
				  "limit: %m", vm->name);
		link_forget_cgroup(d, vm);
		return;
	}
	w->memory_max = max;
}

struct json_object *worker_cgroup_json(const struct daemon *d, const struct vm_record *vm)
{
	struct json_object *o;
	char path[PATH_MAX + VM_NAME_MAX + 8];

	if (!vm->worker || !vm->worker->memory_max)
		return NULL;
	o = json_object_new_object();
	snprintf(path, sizeof(path), "%s/vm-%s", d->cgroups.root, vm->name);
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "memory_max", vm->worker->memory_max == UINT64_MAX ? NULL :
			       json_object_new_uint64(vm->worker->memory_max));
	return o;
}

void link_finish(struct worker_link *w)
{
	struct daemon *d = w->daemon;
	struct vm_record *vm = w->vm;
	if (!w->channel_closed || !w->reaped)
		return;

	vm->worker = NULL;
	vm->busy = false;
	vm->starting = false;   /* saved below with the state, or on its own */
	/* A disk lock lives on the open file, which a held descriptor shares:
	 * let go of it with the worker, for the next VM that wants the disk. */
	for (int i = VM_FILE_DISK; i < VM_FILE_SLOTS; i++)
		if (vm->files[i] >= 0)
			(void) flock(vm->files[i], LOCK_UN);
	bool restart = false;
	if (w->start_call) {
		struct rpc_error err = { 0 };
		rpc_error_set(&err, RPC_INTERNAL_ERROR, "the worker for %s died while booting", vm->name);
		rpc_call_error(w->start_call, &err, NULL);
		w->start_call = NULL;
	}
	if (w->booted) {
		if (w->reported.valid && !w->force_killed)
			vm->exit = w->reported;
		else
			exit_from_status(w, &vm->exit);
		json_object_put(vm->last_stats);
		vm->last_stats = w->stats;
		w->stats = NULL;
		restart = restart_after_reset(vm, w);
		if (restart) {
			log_info("VM %s reset itself: booting it again (restart %u)", vm->name, vm->resets);
			if (events_wanted(d, EVENT_TOPIC_STATE, vm->name))
				events_emit(d, EVENT_TOPIC_STATE, vm->name, "reset", vm_exit_json(&vm->exit));
		} else {
			bool clean = vm_exit_reason_is_clean(vm->exit.reason);

			log_info("VM %s ended: %s (%s)", vm->name, vm_exit_reason_name(vm->exit.reason), vm->exit.message);
			lifecycle_set_state(d, vm, clean ? VM_STATE_STOPPED : VM_STATE_CRASHED);
			if (!clean && events_wanted(d, EVENT_TOPIC_FAULT, vm->name))
				events_emit(d, EVENT_TOPIC_FAULT, vm->name, "crash", vm_exit_json(&vm->exit));
		}
	} else if (w->adopted) {
		/* It ended before it answered its adoption (stopped, then killed?). */
		if (!worker_read_exit_file(d, vm)) {
			vm->exit = (struct vm_exit_info) { .valid = true, .reason = VM_EXIT_WORKER_GONE };
			snprintf(vm->exit.message, sizeof(vm->exit.message), w->force_killed ?
				 "forced stop: the worker was killed before it answered its adoption" :
				 "the worker ended before it answered its adoption");
		}
		log_info("VM %s ended: %s (%s)", vm->name, vm_exit_reason_name(vm->exit.reason), vm->exit.message);
		lifecycle_set_state(d, vm, vm_exit_reason_is_clean(vm->exit.reason) || w->force_killed ?
				    VM_STATE_STOPPED : VM_STATE_CRASHED);
	} else if (vm->restarting) {
		/* The worker for a restart never booted: the VM is not running after all. */
		vm->restarting = false;
		log_info("VM %s could not boot again after its reset: %s", vm->name, vm->exit.message);
		lifecycle_set_state(d, vm, VM_STATE_CRASHED);
	} else {
		int r = registry_save(&d->registry, vm);   /* no longer starting */
		if (r < 0)
			log_warning_errno(r, "Failed to save VM %s, ignoring: %m", vm->name);
	}
	while (vm->on_stopped) {
		struct pending_reply *p = vm->on_stopped;
		vm->on_stopped = p->next;
		lifecycle_reply_state(p->call, vm);
		free(p);
	}
	if (w->stop_timer)
		event_free(w->stop_timer);
	if (w->boot_timer)
		event_free(w->boot_timer);
	if (w->pidfd_ev) {
		close(event_get_fd(w->pidfd_ev));
		event_free(w->pidfd_ev);
	}
	char path[4096];
	if (registry_path(&d->registry, vm->name, ".ctl", path, sizeof(path)) == 0)
		(void) unlink(path);
	if (registry_path(&d->registry, vm->name, ".exit", path, sizeof(path)) == 0)
		(void) unlink(path);
	if (w->memory_max)
		link_forget_cgroup(d, vm);
	json_object_put(w->stats);
	rpc_peer_unref(w->peer);
	free(w);
	if (restart) {
		vm->restarting = true;
		struct rpc_error err = { 0 };
		int r = worker_spawn(d, vm, NULL, &err);
		if (r < 0) {
			vm->restarting = false;
			log_warning("Failed to boot VM %s again after its reset: %s", vm->name, err.message);
			snprintf(vm->exit.message, sizeof(vm->exit.message), "the guest reset; booting it again failed: %.200s",
				 err.message);
			lifecycle_set_state(d, vm, VM_STATE_CRASHED);
		}
	}
}

/* --- the channel ----------------------------------------------------------- */

static void console_to_events(struct daemon *d, struct vm_record *vm, uint64_t offset)
{
	if (!vm->console.hdr || !events_wanted(d, EVENT_TOPIC_CONSOLE, vm->name)) {
		vm->console_notified = offset;
		return;
	}
	static uint8_t buf[CONSOLE_RING_DEFAULT];
	while (vm->console_notified < offset) {
		uint64_t start;
		size_t n = console_ring_read(&vm->console, vm->console_notified, buf, sizeof(buf), &start);
		if (n == 0)
			break;
		char *b64 = malloc(base64_encoded_size(n));
		if (!b64)
			break;
		base64_encode(buf, n, b64);
		struct json_object *data = json_object_new_object();
		json_object_object_add(data, "data", json_object_new_string(b64));
		json_object_object_add(data, "offset", json_object_new_uint64(start));
		free(b64);
		events_emit(d, EVENT_TOPIC_CONSOLE, vm->name, "console", data);
		vm->console_notified = start + n;
	}
}

static void read_exit_report(struct worker_link *w, struct json_object *p)
{
	struct json_object *v;

	vm_exit_from_json(p, &w->reported);
	if (json_object_object_get_ex(p, "stats", &v)) {
		json_object_put(w->stats);
		w->stats = json_object_get(v);
	}
	if (json_object_object_get_ex(p, "console_total", &v))
		console_to_events(w->daemon, w->vm, json_object_get_uint64(v));
}

static void link_handle(void *userdata, struct rpc_peer *peer, struct rpc_call *call)
{
	struct worker_link *w = userdata;
	struct json_object *v;
	if (strcmp(call->method, WORKER_NOTIFY_CONSOLE) == 0 && call->params &&
	    json_object_object_get_ex(call->params, "offset", &v))
		console_to_events(w->daemon, w->vm, json_object_get_uint64(v));
	else if (strcmp(call->method, WORKER_NOTIFY_EXIT) == 0 && call->params)
		read_exit_report(w, call->params);
	rpc_call_result(call, NULL);   /* notifications: nothing is sent */
}

/* The channel is gone: what still waits will never be sent. Failed as
 * rpc_peer_close fails the calls in flight (kind "gone"), which callers
 * read as "the VM ended". */
/* What a late answer to a call the worker did carry out still changes. */
static const struct {
	const char *method;
	enum vm_state state;
} late_states[] = {
	{ WORKER_METHOD_PAUSE, VM_STATE_PAUSED },
	{ WORKER_METHOD_RESUME, VM_STATE_RUNNING },
};

/* A call is over: its caller gets the answer, unless it had its timeout
 * already; then only a pause or resume the worker did sets the VM's state,
 * so vmmd's view follows the worker's. Frees c. */
static void call_finish(struct worker_link *w, struct link_call *c, struct json_object *result,
			const struct rpc_error *err)
{
	if (!c->expired)
		c->fn(c->userdata, result, err);
	else if (!err && !w->channel_closed)
		for (size_t i = 0; i < ELEMENTSOF(late_states); i++)
			if (strcmp(c->method, late_states[i].method) == 0 &&
			    (w->vm->state == VM_STATE_RUNNING || w->vm->state == VM_STATE_PAUSED)) {
				log_info("VM %s: its worker answered %s late; it is %s", w->vm->name, c->method,
					 vm_state_name(late_states[i].state));
				lifecycle_set_state(w->daemon, w->vm, late_states[i].state);
			}
	if (c->timer)
		event_free(c->timer);
	free(c);
}

static void fail_waiting(struct worker_link *w)
{
	struct rpc_error err = { 0 };
	worker_error_set(&err, WORKER_ERROR_GONE, NULL, "connection closed before the reply");
	while (w->waiting) {
		struct link_call *c = w->waiting;
		w->waiting = c->next;
		json_object_put(c->params);
		call_finish(w, c, NULL, &err);
	}
}

static void link_closed(void *userdata, struct rpc_peer *peer, int error)
{
	struct worker_link *w = userdata;
	w->channel_closed = true;
	fail_waiting(w);
	link_finish(w);
}

const struct rpc_peer_ops link_ops = { .handle = link_handle, .closed = link_closed };

void link_set_limits(struct worker_link *w)
{
	struct rpc_peer_limits l;
	rpc_peer_channel_limits(&l, false);
	if (rpc_peer_set_limits(w->peer, &l) < 0)
		log_warning("VM %s: cannot set its channel's limits, keeping the defaults", w->vm->name);
	(void) rpc_peer_set_priority(w->peer, DAEMON_PRIO_ADMIN);
}

/* What a worker says of its VM, in worker.boot's result and worker.info:
 * its sandbox, and how it booted the kernel (vm.info). */
void link_read_worker_facts(struct vm_record *vm, struct json_object *facts)
{
	struct json_object *v;
	vm->sandboxed = json_object_object_get_ex(facts, "sandboxed", &v) && json_object_get_boolean(v);
	json_object_put(vm->boot);
	vm->boot = json_object_object_get_ex(facts, "boot", &v) ? json_object_get(v) : NULL;
	json_object_put(vm->sandbox);
	vm->sandbox = json_object_object_get_ex(facts, "sandbox", &v) ? json_object_get(v) : NULL;
	if (vm->worker && vm->sandbox && json_object_object_get_ex(vm->sandbox, "user_changed", &v) &&
	    json_object_get_boolean(v) && json_object_object_get_ex(vm->sandbox, "uid", &v))
		vm->worker->uid = (uid_t) json_object_get_int64(v);
}

/* Is uid some other live worker's (sandbox_user_pick)? */
static bool uid_in_use(void *userdata, uid_t uid)
{
	struct daemon *d = userdata;
	for (const struct vm_record *vm = d->registry.head; vm; vm = vm->next)
		if (vm->worker && vm->worker->uid == uid)
			return true;
	return false;
}

/* worker.boot's sandbox {uid, gid}: the user the worker becomes, or NULL
 * when it keeps ours (we are not root). */
static int pick_user(struct daemon *d, struct vm_record *vm, struct json_object **ret)
{
	uid_t uid;
	gid_t gid;
	int r;

	*ret = NULL;
	if (!d->sandbox.change)
		return 0;
	r = sandbox_user_pick(&d->sandbox, sandbox_user_hash(d->registry.state_dir, vm->name), uid_in_use, d,
			      &uid, &gid);
	if (r < 0)
		return r;
	vm->worker->uid = uid;
	*ret = json_object_new_object();
	json_object_object_add(*ret, "uid", json_object_new_int64(uid));
	json_object_object_add(*ret, "gid", json_object_new_int64(gid));
	return 0;
}

static void boot_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct worker_link *w = userdata;
	struct daemon *d = w->daemon;
	struct vm_record *vm = w->vm;
	if (w->boot_timer)
		evtimer_del(w->boot_timer);
	if (w->force_killed)
		return;   /* too late (boot deadline, vm.stop --force): link_finish() answers the start */
	struct rpc_call *call = w->start_call;
	w->start_call = NULL;
	vm->starting = false;   /* saved with the state, or when the worker is gone (finish) */
	if (err) {
		/* The VM keeps its state; the worker leaves by itself. */
		if (call)
			rpc_call_error(call, err, NULL);
		if (vm->restarting) {
			vm->exit.reason = VM_EXIT_GUEST_RESET;
			snprintf(vm->exit.message, sizeof(vm->exit.message),
				 "the guest reset; booting it again failed: %.200s", err->message);
		}
		return;
	}
	w->booted = true;
	link_read_worker_facts(vm, result);
	vm->exit = (struct vm_exit_info) { 0 };
	clock_gettime(CLOCK_MONOTONIC, &vm->started);
	char path[4096];
	console_ring_close(&vm->console);
	vm->console_notified = 0;
	if (registry_path(&d->registry, vm->name, ".console", path, sizeof(path)) == 0) {
		int r = console_ring_open(path, &vm->console);
		if (r < 0)
			log_warning_errno(r, "Failed to map the console of %s, ignoring: %m", vm->name);
	}
	if (vm->restarting) {
		/* The history goes on: only what the new boot prints is news. */
		vm->console_notified = vm->console.hdr ? console_ring_total(&vm->console) : 0;
		vm->restarting = false;
	}
	lifecycle_set_state(d, vm, VM_STATE_RUNNING);
	vm->busy = false;
	log_info("VM %s running (worker pid %d)", vm->name, (int) w->pid);
	if (call)
		lifecycle_reply_state(call, vm);
}

/* The child: the channel becomes fd 3 and the VM's files 4, 5, ... in slot
 * order (worker.boot's files names them so), nothing else crosses the exec. */
static void child_exec(struct daemon *d, struct vm_record *vm, int fd, pid_t supervisor, const int *fds)
{
	/* Until it can be adopted, a worker dies with us: one we could not
	 * tell about its boot would run on unseen (the worker clears this
	 * once its control socket listens). If we died already, so does it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != supervisor)
		_exit(127);
	int src[1 + VM_FILE_SLOTS], n = 0;
	src[n++] = fd;
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		if (fds[i] >= 0)
			src[n++] = fds[i];
	/* Out of the way first: one may sit where another must go. */
	for (int i = 0; i < n; i++)
		if ((src[i] = fcntl(src[i], F_DUPFD, 3 + n)) < 0)
			_exit(127);
	for (int i = 0; i < n; i++)
		if (dup2(src[i], 3 + i) < 0)
			_exit(127);
	close_range(3 + n, ~0U, 0);
	setsid();
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char *argv[] = {
		(char *) "vmmd-worker", (char *) "--worker", (char *) "--name", vm->name,
		(char *) "--channel-fd", (char *) "3", (char *) "--log-level", (char *) d->log_level_name,
		/* Names its daemon in ps, and lets tools find a state dir's workers. */
		(char *) "--state-dir", d->registry.state_dir, NULL
	};
	execv(d->self_exe, argv);
	_exit(127);
}

/* SIGKILL the worker: through its pidfd when it is not our child (an
 * adopted one: its pid may be reused once it is gone), else by pid. */
void link_kill(struct worker_link *w)
{
	w->force_killed = true;
	if (w->pidfd_ev)
		(void) syscall(SYS_pidfd_send_signal, event_get_fd(w->pidfd_ev), SIGKILL, NULL, 0);
	else
		kill(w->pid, SIGKILL);
}

/* The boot deadline passed: the start fails now, whatever the worker does
 * (a FIFO to read, a disk that hangs, a stopped process), and it is killed. */
static void on_boot_timeout(evutil_socket_t fd, short what, void *userdata)
{
	struct worker_link *w = userdata;
	unsigned s = w->daemon->config.boot_timeout_s;

	if (w->booted)
		return;
	log_warning("VM %s: its worker (pid %d) did not boot within %u s; killing it", w->vm->name, (int) w->pid, s);
	if (w->start_call) {
		struct rpc_error err = { 0 };
		worker_error_set(&err, WORKER_ERROR_TIMEOUT, NULL, "the worker of '%s' did not boot within %u s "
				 "(workers.boot_timeout_s)", w->vm->name, s);
		rpc_call_error(w->start_call, &err, NULL);
		w->start_call = NULL;
	}
	link_kill(w);
}

static int spawn(struct daemon *d, struct vm_record *vm, struct rpc_call *start_call, const int *fds)
{
	char console[4096];
	int r = registry_path(&d->registry, vm->name, ".console", console, sizeof(console));
	if (r < 0)
		return r;
	/* A fresh file, never the one the previous run's map still shows;
	 * except after a guest reset, where the worker appends to it. */
	console_ring_close(&vm->console);
	if (!vm->restarting)
		(void) unlink(console);

	_cleanup_close_pair_ int sv[2] = { -EBADF, -EBADF };
	_cleanup_free_ struct worker_link *w = NULL;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->boot_timer = evtimer_new(d->base, on_boot_timeout, w);
	if (!w->boot_timer)
		return -ENOMEM;
	/* On disk before the fork: a vmmd killed before the boot reply leaves
	 * the next one a VM to look for (worker_adopt_all), never a worker it
	 * does not know of that a second vm.start would duplicate. */
	vm->starting = true;
	r = registry_save(&d->registry, vm);
	pid_t self = getpid();
	pid = r < 0 ? -1 : fork();
	if (pid < 0) {
		if (r == 0)
			r = -errno;
		vm->starting = false;
		(void) registry_save(&d->registry, vm);
		event_free(w->boot_timer);
		return r;
	}
	if (pid == 0)
		child_exec(d, vm, sv[1], self, fds);
	sv[1] = safe_close(sv[1]);

	w->daemon = d;
	w->vm = vm;
	w->pid = pid;
	/* Before worker.boot: the guest's memory is charged to the worker's cgroup from its first page. */
	enter_cgroup(d, vm, w);
	r = rpc_peer_new(d->base, TAKE_FD(sv[0]), &link_ops, w, &w->peer);
	if (r < 0) {
		kill(pid, SIGKILL);
		/* It will be reaped by SIGCHLD with no link: nothing else to do. */
		vm->starting = false;
		(void) registry_save(&d->registry, vm);
		event_free(w->boot_timer);
		return r;
	}
	/* mem.read answers carry up to 1 MiB of guest memory as base64 (~1.4 MB). */
	link_set_limits(w);
	struct timeval deadline = { d->config.boot_timeout_s, 0 };
	(void) evtimer_add(w->boot_timer, &deadline);
	w->start_call = start_call;
	vm->worker = TAKE_PTR(w);   /* link_finish() frees it from now on */
	vm->busy = true;

	struct json_object *params = json_object_new_object();
	json_object_object_add(params, "config", vm_config_to_json(vm->config));
	json_object_object_add(params, "console", json_object_new_string(console));
	json_object_object_add(params, "console_size",
			       json_object_new_int64((int64_t) d->config.console_buffer_kib << 10));
	if (vm->restarting)
		json_object_object_add(params, "console_continue", json_object_new_boolean(true));
	struct json_object *sandbox;
	r = pick_user(d, vm, &sandbox);
	if (r < 0) {
		json_object_put(params);
		vm->worker->start_call = NULL;
		worker_stop(vm, true);
		return r;
	}
	if (sandbox)
		json_object_object_add(params, "sandbox", sandbox);
	json_object_object_add(params, "log_max_kib", json_object_new_int64(d->config.log_max_kib));
	struct json_object *files = json_object_new_object();
	char name[VM_FILE_NAME_MAX];
	for (int i = 0, at = 4; i < VM_FILE_SLOTS; i++)
		if (fds[i] >= 0)
			json_object_object_add(files, vm_file_slot_name(i, name), json_object_new_int(at++));
	json_object_object_add(params, "files", files);
	char path[4096];
	if (registry_path(&d->registry, vm->name, ".ctl", path, sizeof(path)) == 0)
		json_object_object_add(params, "control", json_object_new_string(path));
	if (registry_path(&d->registry, vm->name, ".exit", path, sizeof(path)) == 0) {
		(void) unlink(path);   /* a previous run's */
		json_object_object_add(params, "exit_report", json_object_new_string(path));
	}
	r = rpc_peer_call(vm->worker->peer, WORKER_METHOD_BOOT, params, boot_reply, vm->worker);
	if (r < 0) {
		vm->worker->start_call = NULL;
		worker_stop(vm, true);
		return r;
	}
	return 0;
}

int worker_spawn(struct daemon *d, struct vm_record *vm, struct rpc_call *start_call, struct rpc_error *err)
{
	int fds[VM_FILE_SLOTS];
	int r = start_files_prepare(d, vm, fds, err);
	if (r < 0)
		return r;
	r = spawn(d, vm, start_call, fds);
	start_files_close(fds);   /* the worker has its copies */
	if (r == -ENOSPC || r == -EDQUOT)   /* the state directory: nothing is started unrecorded */
		rpc_error_set(err, RPC_RESOURCE_LIMIT, "cannot start '%s': %s (the state directory)", vm->name,
			      strerror(-r));
	else if (r < 0)
		rpc_error_set(err, RPC_INTERNAL_ERROR, "cannot start a worker for '%s': %s", vm->name, strerror(-r));
	return r;
}

static void link_dispatch(struct worker_link *w);

static void link_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct link_call *c = userdata;
	struct worker_link *w = c->link;
	for (struct link_call **pp = &w->sent; *pp; pp = &(*pp)->next_sent)
		if (*pp == c) {
			*pp = c->next_sent;
			break;
		}
	w->at_worker--;
	call_finish(w, c, result, err);
	if (!w->channel_closed && rpc_peer_is_open(w->peer))
		link_dispatch(w);   /* else link_closed fails what waits */
}

static unsigned owner_at_worker(const struct worker_link *w, uint64_t owner)
{
	unsigned n = 0;
	for (const struct link_call *c = w->sent; c; c = c->next_sent)
		n += c->owner == owner;
	return n;
}

/*
 * Send waiting calls, in tag order, while the worker has room; an owner
 * with RPC_CHANNEL_OWNER_CALLS at the worker already waits its turn, so
 * what anyone else asks waits at most for those (one user's slow calls,
 * mmu.shadow pages, cannot fill every slot).
 */
static void link_dispatch(struct worker_link *w)
{
	struct link_call **pp = &w->waiting;
	while (*pp && w->at_worker < RPC_CHANNEL_MAX_CALLS) {
		struct link_call *c = *pp;
		if (owner_at_worker(w, c->owner) >= RPC_CHANNEL_OWNER_CALLS) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		if (c->tag > w->vtime)
			w->vtime = c->tag;
		c->sent = true;
		int r = rpc_peer_call(w->peer, c->method, c->params, link_reply, c);
		if (r < 0) {
			struct rpc_error err = { 0 };
			worker_error_set(&err, WORKER_ERROR_GONE, NULL, "the worker is not reachable: %s", strerror(-r));
			call_finish(w, c, NULL, &err);
			continue;
		}
		c->next_sent = w->sent;
		w->sent = c;
		w->at_worker++;
	}
}

/*
 * Start-time fair queueing with unit costs: a call is tagged one past the
 * later of the last tag sent and its owner's last tag still waiting, and
 * calls go out in tag order. An owner with a hundred calls waiting holds
 * tags far ahead; a newcomer's call is tagged next and goes out after at
 * most one call of each other owner. An admin's call is tagged with the
 * last tag sent itself, below every other waiting call's: it goes first
 * (after other admins' calls), so what hostile users queue never delays it.
 */
static void link_enqueue(struct worker_link *w, struct link_call *c)
{
	uint64_t last = w->vtime;
	for (struct link_call *o = w->waiting; o && !(c->owner & WORKER_OWNER_ADMIN); o = o->next)
		if (o->owner == c->owner && o->tag > last)
			last = o->tag;
	c->tag = c->owner & WORKER_OWNER_ADMIN ? w->vtime : last + 1;
	struct link_call **pp = &w->waiting;
	while (*pp && (*pp)->tag <= c->tag)
		pp = &(*pp)->next;
	c->next = *pp;
	*pp = c;
}

/*
 * A call's deadline passed (workers.call_timeout_s, issue 14 finding 9): a
 * worker that does not answer (stopped, hung) costs its caller an error
 * now, not a wait for ever. A call still waiting its turn is dropped; one
 * at the worker stays pending on the channel (rpc_peer answers every call
 * once, also when it closes) and its late answer is dropped, but for a
 * pause or resume that did happen (call_finish).
 */
static void on_call_timeout(evutil_socket_t fd, short what, void *userdata)
{
	struct link_call *c = userdata;
	struct worker_link *w = c->link;
	struct rpc_error err = { 0 };

	log_warning("VM %s: its worker (pid %d) did not answer %s within %u s", w->vm->name, (int) w->pid, c->method,
		    w->daemon->config.call_timeout_s);
	worker_error_set(&err, WORKER_ERROR_TIMEOUT, NULL, "the worker of '%s' did not answer %s within %u s "
			 "(workers.call_timeout_s): is it stopped?", w->vm->name, c->method,
			 w->daemon->config.call_timeout_s);
	if (c->sent) {
		c->expired = true;
		c->fn(c->userdata, NULL, &err);
		return;
	}
	for (struct link_call **pp = &w->waiting; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	json_object_put(c->params);
	call_finish(w, c, NULL, &err);
}

int worker_call_from(struct vm_record *vm, uint64_t owner, const char *method, struct json_object *params,
		     rpc_reply_fn fn, void *userdata)
{
	struct worker_link *w = vm->worker;
	if (!w || !w->booted || w->channel_closed || !rpc_peer_is_open(w->peer)) {
		json_object_put(params);
		return w && w->booted ? -EPIPE : -ESRCH;
	}
	struct link_call *c = calloc(1, sizeof(*c));
	if (!c) {
		json_object_put(params);
		return -ENOMEM;
	}
	*c = (struct link_call) { .owner = owner, .method = method, .params = params, .fn = fn,
				  .userdata = userdata, .link = w };
	struct timeval deadline = { w->daemon->config.call_timeout_s, 0 };
	c->timer = evtimer_new(w->daemon->base, on_call_timeout, c);
	if (!c->timer || evtimer_add(c->timer, &deadline) < 0) {
		if (c->timer)
			event_free(c->timer);
		free(c);
		json_object_put(params);
		return -ENOMEM;
	}
	link_enqueue(w, c);
	link_dispatch(w);
	return 0;
}

int worker_call(struct vm_record *vm, const char *method, struct json_object *params,
		rpc_reply_fn fn, void *userdata)
{
	return worker_call_from(vm, 0, method, params, fn, userdata);
}

static void on_stop_grace(evutil_socket_t fd, short what, void *userdata)
{
	struct worker_link *w = userdata;
	log_warning("VM %s did not stop within %d ms; killing its worker", w->vm->name, WORKER_STOP_GRACE_MS);
	link_kill(w);
}

static void ignore_reply(void *userdata, struct json_object *result, const struct rpc_error *err) {}

void worker_stop(struct vm_record *vm, bool force)
{
	struct worker_link *w = vm->worker;
	if (!w)
		return;
	vm->busy = true;
	if (force || !w->booted) {
		link_kill(w);
		return;
	}
	(void) rpc_peer_call(w->peer, WORKER_METHOD_STOP, NULL, ignore_reply, NULL);
	if (!w->stop_timer) {
		w->stop_timer = evtimer_new(w->daemon->base, on_stop_grace, w);
		struct timeval tv = { WORKER_STOP_GRACE_MS / 1000, (WORKER_STOP_GRACE_MS % 1000) * 1000 };
		if (w->stop_timer)
			evtimer_add(w->stop_timer, &tv);
	}
}

void worker_reap_all(struct daemon *d)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		for (struct vm_record *vm = d->registry.head; vm; vm = vm->next) {
			struct worker_link *w = vm->worker;
			if (!w || w->pid != pid)
				continue;
			w->reaped = true;
			w->wait_status = status;
			/* A dead worker's channel can still hold its last words: read them first. */
			if (!w->channel_closed)
				break;
			link_finish(w);
			break;
		}
	}
}
