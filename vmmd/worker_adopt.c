/* SPDX-License-Identifier: MIT */
/*
 * Adopting live workers after a supervisor restart (DESIGN.md "Workers
 * outlive a supervisor restart", libvirt's behaviour with QEMU): each
 * worker keeps a control socket NAME.ctl in the state directory
 * (vmmd/worker/adopt.c listens there); a restarted supervisor connects to
 * it, learns the worker's pid from the socket's credentials, watches it
 * through a pidfd (it is not our child), and asks worker.info who it is.
 * A guest that ended meanwhile left NAME.exit. Control sockets of VMs
 * with no definition are asked to stop.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup_json.h"
#include "base/macro.h"
#include "vmmd/lifecycle.h"
#include "vmmd/common/log.h"
#include "vmmd/common/worker_protocol.h"
#include "vmmd/worker_adopt.h"
#include "vmmd/worker_link.h"
#include "vmmd/worker_link_internal.h"

static void on_pidfd(evutil_socket_t fd, short what, void *userdata)
{
	struct worker_link *w = userdata;
	w->reaped = true;
	link_finish(w);
}

/* The guest ended while no supervisor was there: its worker left a report. */
bool worker_read_exit_file(struct daemon *d, struct vm_record *vm)
{
	char path[4096];
	if (registry_path(&d->registry, vm->name, ".exit", path, sizeof(path)) < 0)
		return false;
	_cleanup_(json_object_putp) struct json_object *o = json_object_from_file(path);
	struct vm_exit_info *e = &vm->exit;
	struct json_object *v;

	if (!o)
		return false;
	vm_exit_from_json(o, e);
	size_t len = strlen(e->message);
	snprintf(e->message + len, sizeof(e->message) - len, " (while no supervisor was running)");
	if (json_object_object_get_ex(o, "stats", &v)) {
		json_object_put(vm->last_stats);
		vm->last_stats = json_object_get(v);
	}
	(void) unlink(path);
	return true;
}

/* The answer to worker.info on an adoption: from now on the worker is the VM's. */
static void adopt_reply(void *userdata, struct json_object *info, const struct rpc_error *err)
{
	struct worker_link *w = userdata;
	struct daemon *d = w->daemon;
	struct vm_record *vm = w->vm;
	struct json_object *v;

	if (err) {
		/* Closed (link_finish() decides from the pidfd and the exit file), or a
		 * worker that will not say: it stays pending, vm.stop ends it. */
		if (rpc_peer_is_open(w->peer))
			log_warning("VM %s: its worker (pid %d) refused to be adopted: %s", vm->name, (int) w->pid,
				    err->message);
		return;
	}
	bool paused = json_object_object_get_ex(info, "state", &v) && json_object_is_type(v, json_type_string) &&
		      strcmp(json_object_get_string(v), "paused") == 0;
	double uptime = json_object_object_get_ex(info, "uptime_s", &v) ? json_object_get_double(v) : 0;
	/* Its cgroup, made by the vmmd that started it (its limit is there, unknown to us). */
	if (worker_cgroup_exists(&d->cgroups, vm->name))
		w->memory_max = UINT64_MAX;
	link_read_worker_facts(vm, info);   /* with the link (vm->worker): it records the worker's uid */
	w->booted = true;
	clock_gettime(CLOCK_MONOTONIC, &vm->started);
	vm->started.tv_sec -= (time_t) uptime;
	char console[4096];
	if (!vm->console.hdr && registry_path(&d->registry, vm->name, ".console", console, sizeof(console)) == 0)
		(void) console_ring_open(console, &vm->console);
	vm->console_notified = vm->console.hdr ? console_ring_total(&vm->console) : 0;
	log_info("VM %s: adopted its running worker (pid %d)", vm->name, (int) w->pid);
	lifecycle_set_state(d, vm, paused ? VM_STATE_PAUSED : VM_STATE_RUNNING);
}

/*
 * Connect to the worker's control socket and ask who it is, without
 * waiting: a worker that does not answer (stopped with SIGSTOP, say) must
 * hold up neither vmmd's start nor the other VMs (issue 14 finding 9). The
 * socket's peer credentials say its pid at once; until worker.info answers
 * the VM keeps its recorded state, vm.list names the wait as its problem,
 * and vm.stop --force ends the worker through its pidfd.
 */
static int adopt_one(struct daemon *d, struct vm_record *vm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r = registry_path(&d->registry, vm->name, ".ctl", sa.sun_path, sizeof(sa.sun_path));
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), pidfd = -EBADF;
	_cleanup_free_ struct worker_link *w = NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
		return -errno;   /* EAGAIN: a worker that accepts nothing, with a full backlog */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (cred.pid <= 0)
		return -EBADE;
	pidfd = (int) syscall(SYS_pidfd_open, cred.pid, 0);
	if (pidfd < 0)
		return -errno;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct worker_link) { .daemon = d, .vm = vm, .pid = cred.pid, .adopted = true };
	r = rpc_peer_new(d->base, TAKE_FD(fd), &link_ops, w, &w->peer);
	if (r < 0)
		return r;
	link_set_limits(w);
	/* Not our child: its death comes as the pidfd turning readable. */
	w->pidfd_ev = event_new(d->base, pidfd, EV_READ, on_pidfd, w);
	if (!w->pidfd_ev || event_add(w->pidfd_ev, NULL) < 0) {
		if (w->pidfd_ev)
			event_free(w->pidfd_ev);
		rpc_peer_unref(w->peer);
		return -ENOMEM;
	}
	pidfd = -EBADF;   /* link_finish() closes it with the event */
	r = rpc_peer_call(w->peer, WORKER_METHOD_INFO, NULL, adopt_reply, w);
	vm->worker = TAKE_PTR(w);   /* link_finish() frees it from now on */
	if (r < 0)
		link_kill(vm->worker);
	return 0;
}

const char *worker_problem(const struct vm_record *vm, char *buf, size_t size)
{
	const struct worker_link *w = vm->worker;
	if (!w || w->booted || !w->adopted)
		return NULL;
	snprintf(buf, size, "its worker (pid %d) has not answered since vmmd started: it is adopted once it does "
		 "(is it stopped?); vm.stop --force ends it", (int) w->pid);
	return buf;
}

/* A control socket whose VM has no definition any more (deleted while no
 * supervisor ran): nobody can ever adopt that worker, so stop its guest. */
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

static void stop_orphans(struct daemon *d)
{
	_cleanup_(closedirp) DIR *dir = opendir(d->registry.state_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".ctl") != 0 || n - 4 > VM_NAME_MAX)
			continue;
		char name[VM_NAME_MAX + 1];
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(name, sizeof(name), "%.*s", (int) (n - 4), de->d_name);
		if (registry_find(&d->registry, name) ||
		    registry_path(&d->registry, name, ".ctl", sa.sun_path, sizeof(sa.sun_path)) < 0)
			continue;
		/* Asked, not waited for: a worker that does not answer must not
		 * hold up vmmd's start (it reads the request when it runs again). */
		static const char stop[] = "{\"jsonrpc\":\"2.0\",\"method\":\"" WORKER_METHOD_STOP "\",\"id\":1}\n";
		_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
		    send(fd, stop, sizeof(stop) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t) sizeof(stop) - 1)
			log_notice("Asked the worker of %s, a VM that no longer has a definition, to stop", name);
		(void) unlink(sa.sun_path);
	}
}

void worker_adopt_all(struct daemon *d)
{
	for (struct vm_record *vm = d->registry.head; vm; vm = vm->next) {
		if (!vm->adopt_pending)
			continue;
		vm->adopt_pending = false;
		/* A record with a problem is looked for whatever its file said. */
		bool was_live = vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED || vm->starting;
		bool was_starting = vm->starting;
		vm->starting = false;
		int r = adopt_one(d, vm);
		if (r == 0) {
			log_debug("VM %s: adopting its worker (pid %d)", vm->name, (int) vm->worker->pid);
			if (!was_starting)
				continue;
		} else if (r == -EAGAIN) {
			log_warning("VM %s: its control socket accepts no connection (its worker is stopped?): "
				    "left as it was", vm->name);
			continue;
		} else if (!was_live) {
			continue;
		} else {
			if (worker_read_exit_file(d, vm)) {
				vm->state = vm_exit_reason_is_clean(vm->exit.reason) ? VM_STATE_STOPPED : VM_STATE_CRASHED;
			} else {
				vm->state = VM_STATE_CRASHED;
				vm->exit = (struct vm_exit_info) { .valid = true, .reason = VM_EXIT_DAEMON_RESTART };
				snprintf(vm->exit.message, sizeof(vm->exit.message), "the daemon restarted %sand the VM's "
					 "worker was gone (%s)", was_starting ? "while the VM was starting " : "", strerror(-r));
			}
			log_info("VM %s: not adopted: %s (%s)", vm->name, vm_exit_reason_name(vm->exit.reason),
				 vm->exit.message);
			link_forget_cgroup(d, vm);   /* its worker is gone: so is what held its cgroup */
		}
		r = registry_save(&d->registry, vm);
		if (r < 0)
			log_warning_errno(r, "Failed to save VM %s, ignoring: %m", vm->name);
	}
	stop_orphans(d);
}
