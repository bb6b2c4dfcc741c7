/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "config/vm_config.h"
#include "proto/base64.h"
#include "vmmd/common/log.h"
#include "vmmd/common/rpc_peer.h"
#include "vmmd/worker/adopt.h"
#include "vmmd/worker/inspect.h"
#include "vmmd/worker/sandbox.h"
#include "vmmd/worker/shadow_inspect.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/worker.h"

#define CONSOLE_WRITE_MAX 4096
#define CONSOLE_NOTIFY_DELAY_US 5000

struct worker {
	struct event_base *base;
	struct rpc_peer *peer;
	struct event *wake_ev;
	struct vm_config *config;
	struct vm *vm;
	uint64_t console_sent;
	struct event *console_ev;   /* coalesces console notifications */
	int status;
	bool exiting;
	bool sandboxed;
	struct adopt_socket adopt;  /* where the next supervisor finds us (adopt.h) */
	int exit_report_fd;         /* <state>/<name>.exit, opened at boot */
	struct timespec booted;
};

static const struct rpc_peer_ops worker_peer_ops;
static void on_adopt(void *userdata, int fd);

/* Is a supervisor listening right now? (None while we wait to be adopted.) */
static bool have_supervisor(const struct worker *w)
{
	return w->peer && rpc_peer_is_open(w->peer);
}

static struct json_object *stats_json(struct vm *vm)
{
	struct json_object *exits = json_object_new_object();
	struct json_object *per_vcpu = json_object_new_array();
	uint64_t total = 0;
	uint64_t sums[VCPU_STAT_MAX] = { 0 };
	for (unsigned i = 0; vm && i < vm->n_vcpus; i++) {
		struct json_object *one = json_object_new_object();
		for (int s = 0; s < VCPU_STAT_MAX; s++) {
			uint64_t n = __atomic_load_n(&vm->vcpus[i].stats[s], __ATOMIC_RELAXED);
			sums[s] += n;
			json_object_object_add(one, vcpu_stat_name(s), json_object_new_uint64(n));
		}
		json_object_array_add(per_vcpu, one);
	}
	for (int s = 0; s < VCPU_STAT_MAX; s++) {
		json_object_object_add(exits, vcpu_stat_name(s), json_object_new_uint64(sums[s]));
		total += sums[s];
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "exits", exits);
	json_object_object_add(o, "exits_total", json_object_new_uint64(total));
	json_object_object_add(o, "vcpus", per_vcpu);
	struct json_object *emulated = json_object_new_object();
	uint64_t emulated_total = 0;
	for (int k = 0; k < EMULATED_MAX; k++) {
		uint64_t n = 0;
		for (unsigned i = 0; vm && i < vm->n_vcpus; i++)
			n += __atomic_load_n(&vm->vcpus[i].emulated[k], __ATOMIC_RELAXED);
		json_object_object_add(emulated, emulated_insn_name(k), json_object_new_uint64(n));
		emulated_total += n;
	}
	json_object_object_add(emulated, "total", json_object_new_uint64(emulated_total));
	/* Instructions KVM gave up on and vmmd finished (emulation_fallback.h). */
	json_object_object_add(o, "emulated", emulated);
	json_object_object_add(o, "devices", virtio_devices_stats(vm));
	inspect_stats_extend(vm, o);
	shadow_inspect_stats(vm, o);   /* shadow mode: traps, shadow MMU, pt switches */
	return o;
}

static void on_wake(evutil_socket_t fd, short what, void *userdata);
static void on_console_timer(evutil_socket_t fd, short what, void *userdata);

/* Leave the loop once what we queued for the supervisor is written. */
static void leave(struct worker *w)
{
	w->exiting = true;
	int r = have_supervisor(w) ? rpc_peer_flush_and_close(w->peer, 1000) : 0;
	if (r < 0)
		log_warning_errno(r, "Failed to flush the channel: %m");
	event_base_loopbreak(w->base);
}

static void on_leave_soon(evutil_socket_t fd, short what, void *userdata)
{
	(void) fd;
	(void) what;
	leave(userdata);
}

/* Leave from inside a call's handler: its reply is queued only once the
 * handler returns (proto/exchange.c), so flushing now would lose it. */
static void leave_after_reply(struct worker *w)
{
	static const struct timeval now = { 0, 0 };
	w->exiting = true;
	if (event_base_once(w->base, -1, EV_TIMEOUT, on_leave_soon, w, &now) < 0)
		leave(w);
}

static void fail_call(struct rpc_call *call, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_call(struct rpc_call *call, int code, const char *fmt, ...)
{
	struct rpc_error err = { .code = code };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	rpc_call_error(call, &err, NULL);
}

static void handle_boot(struct worker *w, struct rpc_call *call)
{
	struct json_object *config_json, *console;
	if (w->vm) {
		fail_call(call, RPC_INVALID_STATE, "%s", "already booted");
		return;
	}
	if (!call->params || !json_object_object_get_ex(call->params, "config", &config_json) ||
	    !json_object_object_get_ex(call->params, "console", &console) ||
	    !json_object_is_type(console, json_type_string)) {
		fail_call(call, RPC_INVALID_PARAMS, "%s", "worker.boot needs config and console");
		return;
	}
	/* The console ring's size (limits.console_buffer_kib); absent: the default. */
	size_t console_size = CONSOLE_RING_DEFAULT;
	struct json_object *v;
	if (json_object_object_get_ex(call->params, "console_size", &v)) {
		int64_t n = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || n < CONSOLE_RING_MIN || n > CONSOLE_RING_MAX) {
			fail_call(call, RPC_INVALID_PARAMS, "console_size must be between %u and %u",
				  CONSOLE_RING_MIN, CONSOLE_RING_MAX);
			return;
		}
		console_size = (size_t) n;
	}
	struct config_error cerr = { 0 };
	int r = vm_config_from_json(config_json, &w->config, &cerr);
	if (r < 0) {
		struct rpc_error err = { 0 };
		worker_error_set(&err, WORKER_ERROR_CONFIG, cerr.field, "%s: %s", cerr.field, cerr.message);
		rpc_call_error(call, &err, NULL);
		return;
	}
	struct vm_error verr;
	bool console_continue = json_object_object_get_ex(call->params, "console_continue", &v) &&
				json_object_get_boolean(v);
	r = vm_create(w->config, json_object_get_string(console), console_size, console_continue, &w->vm, &verr);
	if (r < 0) {
		struct rpc_error err = { 0 };
		worker_error_set(&err, verr.kind, NULL, "%s: %s", verr.why, strerror(-r));
		log_error("Failed to build the VM: %s: %s", verr.why, strerror(-r));
		rpc_call_error(call, &err, NULL);
		w->status = EXIT_FAILURE;
		leave_after_reply(w);   /* nothing to run */
		return;
	}
	w->wake_ev = event_new(w->base, w->vm->wake_fd, EV_READ | EV_PERSIST, on_wake, w);
	w->console_ev = evtimer_new(w->base, on_console_timer, w);
	if (!w->wake_ev || !w->console_ev || event_add(w->wake_ev, NULL) < 0) {
		fail_call(call, RPC_INTERNAL_ERROR, "%s", "cannot watch the VM");
		leave_after_reply(w);
		return;
	}
	r = vm_start(w->vm);
	if (r < 0) {
		fail_call(call, RPC_INTERNAL_ERROR, "%s", "cannot start the vCPU threads");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &w->booted);
	if (json_object_object_get_ex(call->params, "exit_report", &v) && json_object_is_type(v, json_type_string)) {
		w->exit_report_fd = open(json_object_get_string(v), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (w->exit_report_fd < 0)
			log_warning_errno(-errno, "Failed to open the exit report file, ignoring: %m");
	}
	if (json_object_object_get_ex(call->params, "control", &v) && json_object_is_type(v, json_type_string)) {
		r = adopt_listen(w->base, json_object_get_string(v), on_adopt, w, &w->adopt);
		if (r < 0)
			log_warning_errno(r, "Failed to open the control socket, the VM will not survive a supervisor restart: %m");
	}
	/* Everything is open and running: from here on, the sandbox. */
	bool sandboxed = false;
	if (getenv("VMMD_NO_SANDBOX"))
		log_warning("VMMD_NO_SANDBOX is set: running without the seccomp filter");
	else if ((r = sandbox_apply()) < 0)
		log_warning_errno(r, "Failed to install the seccomp filter, running without it: %m");
	else
		sandboxed = true;
	w->sandboxed = sandboxed;
	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "pid", json_object_new_int(getpid()));
	json_object_object_add(res, "sandboxed", json_object_new_boolean(sandboxed));
	json_object_object_add(res, "boot", vm_boot_json(w->vm));
	rpc_call_result(call, res);
}

static void reply_state(struct rpc_call *call, const char *state)
{
	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "state", json_object_new_string(state));
	rpc_call_result(call, res);
}

static void handle_console_write(struct worker *w, struct rpc_call *call)
{
	struct json_object *data;
	if (!call->params || !json_object_object_get_ex(call->params, "data", &data) ||
	    !json_object_is_type(data, json_type_string)) {
		fail_call(call, RPC_INVALID_PARAMS, "%s", "data must be a base64 string");
		return;
	}
	uint8_t buf[CONSOLE_WRITE_MAX];
	long n = base64_decode(json_object_get_string(data), buf, sizeof(buf));
	if (n < 0) {
		fail_call(call, n == -ENOSPC ? RPC_RESOURCE_LIMIT : RPC_INVALID_PARAMS, "%s",
			  n == -ENOSPC ? "at most 4096 bytes per write" : "data is not valid base64");
		return;
	}
	/* A guest with a virtio console reads its input there (console=hvc0). */
	int vr = virtio_devices_console_input(w->vm, buf, n);
	size_t written = vr >= 0 ? (size_t) vr : uart_receive(w->vm->uart, buf, n);
	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "written", json_object_new_uint64(written));
	rpc_call_result(call, res);
}

static void worker_handle(void *userdata, struct rpc_peer *peer, struct rpc_call *call)
{
	struct worker *w = userdata;
	const char *m = call->method;
	if (strcmp(m, "worker.boot") == 0) {
		handle_boot(w, call);
		return;
	}
	if (!w->vm) {
		fail_call(call, RPC_INVALID_STATE, "%s", "not booted");
		return;
	}
	if (strcmp(m, "worker.pause") == 0) {
		int r = vm_pause(w->vm);
		if (r < 0)
			fail_call(call, RPC_INVALID_STATE, "%s", r == -ESHUTDOWN ? "the VM is stopping" :
				  "vCPUs did not stop in time");
		else
			reply_state(call, "paused");
	} else if (strcmp(m, "worker.resume") == 0) {
		if (vm_resume(w->vm) < 0)
			fail_call(call, RPC_INVALID_STATE, "%s", "the VM is stopping");
		else
			reply_state(call, "running");
	} else if (strcmp(m, "worker.stop") == 0) {
		struct vm_exit e = { .reason = VM_EXIT_STOPPED, .vcpu = -1 };
		snprintf(e.message, sizeof(e.message), "stopped by request");
		vm_request_exit(w->vm, &e);
		reply_state(call, "stopping");
	} else if (strcmp(m, "worker.stats") == 0) {
		rpc_call_result(call, stats_json(w->vm));
	} else if (strcmp(m, "worker.console.write") == 0) {
		handle_console_write(w, call);
	} else if (strcmp(m, "worker.info") == 0) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		pthread_mutex_lock(&w->vm->lock);
		bool paused = w->vm->run_state == VM_RUN_PAUSED;
		pthread_mutex_unlock(&w->vm->lock);
		struct json_object *res = json_object_new_object();
		json_object_object_add(res, "pid", json_object_new_int(getpid()));
		json_object_object_add(res, "state", json_object_new_string(paused ? "paused" : "running"));
		json_object_object_add(res, "uptime_s", json_object_new_double(
			(now.tv_sec - w->booted.tv_sec) + (now.tv_nsec - w->booted.tv_nsec) / 1e9));
		json_object_object_add(res, "sandboxed", json_object_new_boolean(w->sandboxed));
		json_object_object_add(res, "boot", vm_boot_json(w->vm));
		rpc_call_result(call, res);
	} else if (strcmp(m, "worker.mmu.shadow") == 0) {
		shadow_inspect_mmu(w->vm, call);
	} else if (inspect_handle(w->vm, call)) {
		/* introspection and control (inspect.h) */
	} else {
		fail_call(call, RPC_METHOD_NOT_FOUND, "method '%s' not found", m);
	}
}

static void report_exit(struct worker *w)
{
	struct vm_exit e;
	vm_get_exit(w->vm, &e);
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "reason", json_object_new_string(vm_exit_reason_name(e.reason)));
	json_object_object_add(p, "code", json_object_new_int(e.code));
	json_object_object_add(p, "value", json_object_new_int64(e.value));
	json_object_object_add(p, "message", json_object_new_string(e.message));
	json_object_object_add(p, "vcpu", json_object_new_int(e.vcpu));
	json_object_object_add(p, "console_total", json_object_new_uint64(console_ring_total(&w->vm->console)));
	json_object_object_add(p, "stats", stats_json(w->vm));
	/* First to the file, which outlives us and our supervisor's absence. */
	if (w->exit_report_fd >= 0) {
		const char *text = json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN);
		ssize_t k = pwrite(w->exit_report_fd, text, strlen(text), 0);
		(void) k;
	}
	int r = have_supervisor(w) ? rpc_peer_notify(w->peer, "worker.exit", json_object_get(p)) : -ENOTCONN;
	json_object_put(p);
	if (r < 0)
		log_warning_errno(r, "Failed to report the exit to a supervisor (the exit file has it): %m");
	log_info("Guest ended: %s (%s)", vm_exit_reason_name(e.reason), e.message);
}

/* Tell the supervisor how far the console got: one message per burst, not per byte. */
static void notify_console(struct worker *w)
{
	uint64_t total = console_ring_total(&w->vm->console);
	if (total == w->console_sent || !have_supervisor(w))
		return;
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "offset", json_object_new_uint64(total));
	(void) rpc_peer_notify(w->peer, "worker.console", p);
	w->console_sent = total;
}

static void on_console_timer(evutil_socket_t fd, short what, void *userdata)
{
	notify_console(userdata);
}

static void on_wake(evutil_socket_t fd, short what, void *userdata)
{
	struct worker *w = userdata;
	uint64_t n;
	ssize_t k = read(fd, &n, sizeof(n));
	(void) k;
	if (__atomic_exchange_n(&w->vm->console_dirty, false, __ATOMIC_ACQ_REL) &&
	    !evtimer_pending(w->console_ev, NULL)) {
		struct timeval tv = { 0, CONSOLE_NOTIFY_DELAY_US };
		evtimer_add(w->console_ev, &tv);
	}
	struct vm_exit e;
	if (!w->exiting && vm_get_exit(w->vm, &e)) {
		/* Join the vCPUs first so the stats we report are final. */
		for (unsigned i = 0; i < w->vm->n_vcpus; i++)
			if (w->vm->vcpus[i].thread_started) {
				pthread_join(w->vm->vcpus[i].thread, NULL);
				w->vm->vcpus[i].thread_started = false;
			}
		notify_console(w);
		report_exit(w);
		leave(w);
	}
}

static void worker_closed(void *userdata, struct rpc_peer *peer, int error)
{
	struct worker *w = userdata;
	if (w->vm && !w->exiting && w->adopt.listener) {
		/* The supervisor died or restarts: the guest goes on (restart survival). */
		log_notice("The supervisor went away; the guest keeps running until one adopts it");
		if (w->peer == peer) {
			rpc_peer_unref(w->peer);
			w->peer = NULL;
		}
		return;
	}
	if (!w->exiting)
		log_warning("The supervisor went away; stopping the guest");
	if (w->vm) {
		struct vm_exit e = { .reason = VM_EXIT_STOPPED, .vcpu = -1 };
		snprintf(e.message, sizeof(e.message), "the supervisor closed the channel");
		vm_request_exit(w->vm, &e);
	}
	event_base_loopbreak(w->base);
}

static const struct rpc_peer_ops worker_peer_ops = {
	.handle = worker_handle,
	.closed = worker_closed,
};

/* A new supervisor connected to our control socket: it is our channel now. */
static void on_adopt(void *userdata, int fd)
{
	struct worker *w = userdata;
	if (have_supervisor(w) || w->exiting) {
		close(fd);   /* one supervisor at a time */
		return;
	}
	if (w->peer)
		rpc_peer_unref(w->peer);
	w->peer = NULL;
	int r = rpc_peer_new(w->base, fd, &worker_peer_ops, w, &w->peer);
	if (r < 0) {
		log_warning_errno(r, "Failed to take the adopting supervisor's connection: %m");
		return;
	}
	rpc_peer_set_max_message(w->peer, 4u << 20);
	w->console_sent = 0;   /* let the new supervisor catch up */
	log_notice("Adopted by a new supervisor");
}

static void forbidden_syscall(int sig)
{
	(void) sig;
	(void) syscall(SYS_mkdirat, AT_FDCWD, "/", 0);   /* not in the filter: SIGSYS */
}

int worker_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "worker", no_argument, NULL, 'W' },
		{ "name", required_argument, NULL, 'n' },
		{ "channel-fd", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 's' },
		{}
	};
	const char *name = "?";
	int channel = -1, c;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (c) {
		case 'W': break;
		case 'n': name = optarg; break;
		case 's': break;   /* informational (ps); the supervisor passes every path in worker.boot */
		case 'c': channel = atoi(optarg); break;
		case 'l': if (log_parse_level(optarg) > 0) log_set_level(log_parse_level(optarg)); break;
		default: return EXIT_FAILURE;
		}
	}
	char ident[96];
	snprintf(ident, sizeof(ident), "worker[%s]", name);
	log_set_ident(ident);
	if (channel < 3) {
		log_error("--channel-fd is required");
		return EXIT_FAILURE;
	}
	/* If the supervisor dies without closing the channel (it can't), we still learn of it. */
	prctl(PR_SET_PDEATHSIG, 0);
	signal(SIGPIPE, SIG_IGN);
	/* Tests prove the sandbox by asking for a forbidden system call (SIGUSR2). */
	if (getenv("VMMD_TEST_HOOKS"))
		signal(SIGUSR2, forbidden_syscall);
	int r = vcpu_signal_setup();
	if (r < 0)
		return log_error_errno(r, "Failed to install the vCPU kick handler: %m"), EXIT_FAILURE;

	struct worker w = { .status = EXIT_SUCCESS, .exit_report_fd = -1 };
	w.base = event_base_new();
	if (!w.base)
		return EXIT_FAILURE;
	r = rpc_peer_new(w.base, channel, &worker_peer_ops, &w, &w.peer);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the channel: %m"), EXIT_FAILURE;
	rpc_peer_set_max_message(w.peer, 4u << 20);   /* mem.write data (worker_link.h WORKER_MAX_MESSAGE) */

	/* The VM's wake event is added by worker.boot, once its eventfd exists. */
	event_base_dispatch(w.base);

	if (w.vm) {
		struct vm_exit e = { .reason = VM_EXIT_STOPPED, .vcpu = -1 };
		snprintf(e.message, sizeof(e.message), "worker shutting down");
		vm_request_exit(w.vm, &e);
		vm_destroy(w.vm);
	}
	if (w.peer) {
		rpc_peer_close(w.peer, 0);
		rpc_peer_unref(w.peer);
	}
	adopt_close(&w.adopt);
	if (w.exit_report_fd >= 0)
		close(w.exit_report_fd);
	vm_config_free(w.config);
	if (w.wake_ev)
		event_free(w.wake_ev);
	if (w.console_ev)
		event_free(w.console_ev);
	event_base_free(w.base);
	return w.status;
}
