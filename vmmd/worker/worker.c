/* SPDX-License-Identifier: MIT */
/* The worker process: its arguments, its loop, the channel to its supervisor and the exit report. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup_json.h"
#include "base/macro.h"
#include "config/vm_config.h"
#include "vmmd/common/log.h"
#include "vmmd/common/worker_protocol.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/worker.h"

#define CONSOLE_NOTIFY_DELAY_US 5000

struct worker_args {
	const char *name;
	int channel;            /* the supervisor's end of the socketpair, fd >= 3 */
};

static const struct rpc_peer_ops worker_peer_ops;

/* Is a supervisor listening right now? (None while we wait to be adopted.) */
static bool have_supervisor(const struct worker *w)
{
	return w->peer && rpc_peer_is_open(w->peer);
}

/* Leave the loop once what we queued for the supervisor is written. */
static void leave(struct worker *w)
{
	int r;

	w->exiting = true;
	r = have_supervisor(w) ? rpc_peer_flush_and_close(w->peer, 1000) : 0;
	if (r < 0)
		log_warning_errno(r, "Failed to flush the channel: %m");
	event_base_loopbreak(w->base);
}

static void on_leave_soon(evutil_socket_t fd, short what, void *userdata)
{
	leave(userdata);
}

/* Leave from inside a call's handler: its reply is queued only once the
 * handler returns (proto/exchange.c), so flushing now would lose it. */
void worker_leave_after_reply(struct worker *w)
{
	static const struct timeval now = { 0, 0 };

	w->exiting = true;
	if (event_base_once(w->base, -1, EV_TIMEOUT, on_leave_soon, w, &now) < 0)
		leave(w);
}

static void report_exit(struct worker *w)
{
	_cleanup_(json_object_putp) struct json_object *p = json_object_new_object();
	struct vm_exit e;
	int r;

	vm_get_exit(w->vm, &e);
	json_object_object_add(p, "reason", json_object_new_string(vm_exit_reason_name(e.reason)));
	json_object_object_add(p, "code", json_object_new_int(e.code));
	json_object_object_add(p, "value", json_object_new_int64(e.value));
	json_object_object_add(p, "message", json_object_new_string(e.message));
	json_object_object_add(p, "vcpu", json_object_new_int(e.vcpu));
	json_object_object_add(p, "console_total", json_object_new_uint64(console_ring_total(&w->vm->console)));
	json_object_object_add(p, "stats", worker_stats_json(w->vm));
	/* First to the file, which outlives us and our supervisor's absence. */
	if (w->exit_report_fd >= 0) {
		const char *text = json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN);
		ssize_t k = pwrite(w->exit_report_fd, text, strlen(text), 0);
		(void) k;
	}
	r = have_supervisor(w) ? rpc_peer_notify(w->peer, WORKER_NOTIFY_EXIT, json_object_get(p)) : -ENOTCONN;
	if (r < 0)
		log_warning_errno(r, "Failed to report the exit to a supervisor (the exit file has it): %m");
	log_info("Guest ended: %s (%s)", vm_exit_reason_name(e.reason), e.message);
}

/* Tell the supervisor how far the console got: one message per burst, not per byte. */
static void notify_console(struct worker *w)
{
	uint64_t total = console_ring_total(&w->vm->console);
	struct json_object *p;

	if (total == w->console_sent || !have_supervisor(w) || w->quiet)
		return;
	p = json_object_new_object();
	json_object_object_add(p, "offset", json_object_new_uint64(total));
	(void) rpc_peer_notify(w->peer, WORKER_NOTIFY_CONSOLE, p);
	w->console_sent = total;
}

static void on_console_timer(evutil_socket_t fd, short what, void *userdata)
{
	notify_console(userdata);
}

static void on_wake(evutil_socket_t fd, short what, void *userdata)
{
	struct worker *w = userdata;
	struct vm_exit e;
	uint64_t n;
	ssize_t k = read(fd, &n, sizeof(n));

	(void) k;
	if (__atomic_exchange_n(&w->vm->console_dirty, false, __ATOMIC_ACQ_REL) &&
	    !evtimer_pending(w->console_ev, NULL)) {
		struct timeval tv = { 0, CONSOLE_NOTIFY_DELAY_US };
		evtimer_add(w->console_ev, &tv);
	}
	if (w->exiting || !vm_get_exit(w->vm, &e))
		return;
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

int worker_watch_vm(struct worker *w)
{
	w->wake_ev = event_new(w->base, w->vm->wake_fd, EV_READ | EV_PERSIST, on_wake, w);
	w->console_ev = evtimer_new(w->base, on_console_timer, w);
	if (!w->wake_ev || !w->console_ev)
		return -ENOMEM;
	return event_add(w->wake_ev, NULL) < 0 ? -EIO : 0;
}

static void worker_handle(void *userdata, struct rpc_peer *peer, struct rpc_call *call)
{
	struct worker *w = userdata;
	w->quiet = false;
	worker_dispatch(w, call);
}

static void stop_guest(struct worker *w, const char *why)
{
	struct vm_exit e = { .reason = VM_EXIT_STOPPED, .vcpu = -1 };

	snprintf(e.message, sizeof(e.message), "%s", why);
	vm_request_exit(w->vm, &e);
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
	if (w->vm)
		stop_guest(w, "the supervisor closed the channel");
	event_base_loopbreak(w->base);
}

static const struct rpc_peer_ops worker_peer_ops = {
	.handle = worker_handle,
	.closed = worker_closed,
};

/* The channel, with its limits on our side: replies bounded by what the
 * supervisor reads (an oversized mmu.shadow becomes ResourceLimit), and no
 * reading while they back up. */
static int open_channel(struct worker *w, int fd)
{
	struct rpc_peer_limits l;
	int r = rpc_peer_new(w->base, fd, &worker_peer_ops, w, &w->peer);

	if (r < 0)
		return r;
	rpc_peer_channel_limits(&l, true);
	return rpc_peer_set_limits(w->peer, &l);
}

/* A new supervisor connected to our control socket: it is our channel now. */
void worker_on_adopt(void *userdata, int fd)
{
	struct worker *w = userdata;
	int r;

	/* A supervisor that died while we were stopped is still our channel
	 * until we read its end; the one asking now is the live one. */
	if (have_supervisor(w) && !w->exiting) {
		struct pollfd p = { .fd = rpc_peer_fd(w->peer), .events = POLLRDHUP };
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			rpc_peer_close(w->peer, 0);
	}
	if (have_supervisor(w) || w->exiting) {
		safe_close(fd);   /* one supervisor at a time */
		return;
	}
	if (w->peer)
		rpc_peer_unref(w->peer);
	w->peer = NULL;
	r = open_channel(w, fd);
	if (r < 0) {
		log_warning_errno(r, "Failed to take the adopting supervisor's connection: %m");
		return;
	}
	w->console_sent = 0;   /* let the new supervisor catch up, once it has spoken */
	w->quiet = true;
	log_notice("Adopted by a new supervisor");
}

static pid_t hook_other_pid;   /* the supervisor, for the signal hook */

/* Test hooks: SIGUSR2 makes a system call the filter forbids, SIGWINCH
 * signals another process (with signal 0); each must be SIGSYS. */
static void forbidden_syscall(int sig)
{
	if (sig == SIGWINCH)
		(void) syscall(SYS_tgkill, hook_other_pid, hook_other_pid, 0);
	else
		(void) syscall(SYS_mkdirat, AT_FDCWD, "/", 0);
}

/* 1: run; -EINVAL: a usage error (logged). */
static int parse_argv(int argc, char **argv, struct worker_args *ret)
{
	static const struct option options[] = {
		{ "worker", no_argument, NULL, 'W' },
		{ "name", required_argument, NULL, 'n' },
		{ "channel-fd", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 's' },
		{}
	};
	struct worker_args args = { .name = "?", .channel = -1 };
	char *end;
	int c, r;

	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (c) {
		case 'W':
			break;
		case 'n':
			args.name = optarg;
			break;
		case 's':
			break;   /* informational (ps); the supervisor passes every path in worker.boot */
		case 'c':
			errno = 0;
			long fd = strtol(optarg, &end, 10);
			args.channel = errno || *end || fd < 3 || fd > INT32_MAX ? -1 : (int) fd;
			break;
		case 'l':
			r = log_parse_level(optarg);
			if (r > 0)
				log_set_level(r);
			break;
		default:
			return -EINVAL;
		}
	}
	char ident[96];
	snprintf(ident, sizeof(ident), "worker[%s]", args.name);
	log_set_ident(ident);
	if (args.channel < 3) {
		log_error("--channel-fd N (N >= 3) is required");
		return -EINVAL;
	}
	*ret = args;
	return 1;
}

/* Tear down whatever exists (a half-built worker too). */
static void worker_free(struct worker *w)
{
	if (w->vm) {
		stop_guest(w, "worker shutting down");
		vm_destroy(w->vm);
	}
	if (w->peer) {
		rpc_peer_close(w->peer, 0);
		rpc_peer_unref(w->peer);
	}
	adopt_close(&w->adopt);
	w->exit_report_fd = safe_close(w->exit_report_fd);
	vm_config_free(w->config);
	if (w->wake_ev)
		event_free(w->wake_ev);
	if (w->console_ev)
		event_free(w->console_ev);
	if (w->base)
		event_base_free(w->base);
}

static int run(const struct worker_args *args)
{
	struct worker w = { .exit_report_fd = -EBADF };
	int r;

	/* PR_SET_PDEATHSIG stays as the supervisor set it (SIGKILL) until we
	 * can be adopted (worker_boot.c). */
	signal(SIGPIPE, SIG_IGN);
	/* Tests prove the sandbox by asking for forbidden system calls (SIGUSR2, SIGWINCH). */
	if (secure_getenv("VMMD_TEST_HOOKS")) {
		hook_other_pid = getppid();
		signal(SIGUSR2, forbidden_syscall);
		signal(SIGWINCH, forbidden_syscall);
	}
	r = vcpu_signal_setup();
	if (r < 0)
		return log_error_errno(r, "Failed to install the vCPU kick handler: %m");
	w.base = event_base_new();
	if (!w.base)
		return log_error_errno(-ENOMEM, "Failed to create the event loop: %m");
	r = open_channel(&w, args->channel);
	if (r < 0) {
		worker_free(&w);
		return log_error_errno(r, "Failed to set up the channel: %m");
	}

	/* The VM's wake event is added by worker.boot, once its eventfd exists. */
	event_base_dispatch(w.base);

	r = w.error;
	worker_free(&w);
	return r;
}

int worker_main(int argc, char **argv)
{
	struct worker_args args;
	int r = parse_argv(argc, argv, &args);

	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	r = run(&args);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
