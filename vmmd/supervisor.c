/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "vmmd/common/host_probe.h"
#include "vmmd/common/log.h"
#include "vmmd/paths.h"
#include "vmmd/sd_notify.h"
#include "vmmd/server.h"
#include "vmmd/stats_events.h"
#include "vmmd/supervisor.h"
#include "vmmd/worker_adopt.h"
#include "vmmd/worker_link.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: vmmd [--config FILE] [--socket PATH] [--state-dir DIR] [--log-level LEVEL]\n"
		   "\n"
		   "Hosts VMs, one worker process each, controlled over JSON-RPC 2.0 on a Unix socket.\n"
		   "  --config FILE      daemon config (JSON): access rules and limits; the options\n"
		   "                     below take precedence (docs/operations.md)\n"
		   "  --socket PATH      control socket (default: $VMMD_SOCKET, /run/vmmd/vmmd.sock as root,\n"
		   "                     else $XDG_RUNTIME_DIR/vmmd/vmmd.sock); ignored under socket activation\n"
		   "  --state-dir DIR    where VM definitions persist (default /var/lib/vmmd as root,\n"
		   "                     else $XDG_STATE_HOME/vmmd)\n"
		   "  --log-level LEVEL  error, warning, notice, info (default) or debug\n"
		   "  --admin WHO        clients of user WHO (name or uid; @GROUP or @GID: members)\n"
		   "                     may call every method (root and vmmd's own user always may)\n"
		   "  --debug WHO        clients of WHO may look into guests: command lines, console,\n"
		   "                     registers, page tables (--read-only WHO: the same, old name)\n"
		   "  --monitor WHO      clients of WHO may only list, count and watch (no guest data)\n"
		   "  --no-access WHO    clients of WHO are refused\n"
		   "  --others ROLE      role of everyone else: none, monitor (default), debug or admin\n"
		   "                     (the first --admin/--debug/--monitor/--no-access that matches\n"
		   "                     wins, before the config file's rules)\n");
}

/* The options that add an access rule, by their getopt letter. */
static const struct {
	int opt;
	const char *name;
	enum access_role role;
} access_options[] = {
	{ 'A', "--admin", ACCESS_ADMIN },
	{ 'D', "--debug", ACCESS_DEBUG },
	{ 'R', "--read-only", ACCESS_DEBUG },   /* debug's name before monitor was split off */
	{ 'M', "--monitor", ACCESS_MONITOR },
	{ 'N', "--no-access", ACCESS_NONE },
};

/* --admin, --debug, --read-only, --monitor, --no-access, --others; 0 or a usage error (logged). */
static int parse_access_option(struct access_policy *p, int opt, const char *arg)
{
	size_t i;
	int r;

	if (opt == 'o') {
		r = access_role_from_name(arg);
		if (r < 0) {
			fprintf(stderr, "vmmd: --others takes none, monitor, debug or admin, not '%s'\n", arg);
			return r;
		}
		p->others = (enum access_role) r;
		return 0;
	}
	for (i = 0; access_options[i].opt != opt; i++)
		;
	r = access_policy_add(p, arg, access_options[i].role);
	if (r < 0)
		fprintf(stderr, "vmmd: %s '%s': %s\n", access_options[i].name, arg, r == -ENOENT ? "no such user or group" :
			r == -E2BIG ? "too many access rules" : strerror(-r));
	return r;
}

/* The config file's roles are access.h's, number for number. */
_Static_assert(DAEMON_ROLE_NONE == (int) ACCESS_NONE && DAEMON_ROLE_MONITOR == (int) ACCESS_MONITOR &&
	       DAEMON_ROLE_DEBUG == (int) ACCESS_DEBUG && DAEMON_ROLE_ADMIN == (int) ACCESS_ADMIN,
	       "enum daemon_role matches enum access_role");

/*
 * --config FILE: the limits into *cfg, the file's access rules appended to
 * *access after the command line's (which are tried first), its "others"
 * unless --others was given. Errors are logged as "FILE: field: why".
 */
static int load_config(const char *path, struct daemon_config *cfg, struct access_policy *access, bool others_given)
{
	struct config_error err = { "", "" };
	int r = daemon_config_load(path, cfg, &err);
	if (r < 0) {
		if (!err.message[0])
			snprintf(err.message, sizeof(err.message), "%s", strerror(-r));
		log_error("%s: %s%s%s", path, err.field, err.field[0] ? ": " : "", err.message);
		return r;
	}
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct daemon_access_rule *rule = &cfg->rules[i];
		r = access_policy_add(access, rule->who, (enum access_role) rule->role);
		if (r < 0) {
			log_error("%s: %s: '%s': %s", path, rule->field, rule->who,
				  r == -ENOENT ? "no such user or group" :
				  r == -E2BIG ? "too many access rules with the command line's" : strerror(-r));
			return r;
		}
	}
	if (!others_given && cfg->others_set)
		access->others = (enum access_role) cfg->others;
	log_debug("Config %s: %zu access rules, others %s; limits: %u VMs, %" PRIu64 " MiB guest memory "
		  "(0: unlimited), %u connections (%u per user, %u for admins), idle %u s, message %u s, "
		  "%u KiB console, %u KiB messages",
		  path, cfg->n_rules, access_role_name(access->others), cfg->max_vms, cfg->max_total_memory_mib,
		  cfg->max_connections, cfg->max_connections_per_user, cfg->admin_connections,
		  cfg->idle_timeout_s, cfg->message_timeout_s, cfg->console_buffer_kib, cfg->max_message_kib);
	return 0;
}

/* limits.max_total_memory_mib not given: a share of the host's memory, so
 * guests (mapped MAP_NORESERVE) cannot together promise more than it has. */
static void memory_limit_default(struct daemon_config *c)
{
	uint64_t kib;
	int r;

	if (c->max_total_memory_set)
		return;
	r = host_memory_kib(&kib);
	if (r < 0) {
		log_warning_errno(r, "Cannot read the host's memory size, guest memory stays unlimited: %m");
		return;
	}
	c->max_total_memory_mib = daemon_config_memory_default_mib(kib);
	log_info("Guest memory limit: %" PRIu64 " MiB, %d/%d of the host's %" PRIu64 " MiB (limits.max_total_memory_mib)",
		 c->max_total_memory_mib, DAEMON_MEMORY_SHARE_NUM, DAEMON_MEMORY_SHARE_DEN, kib / 1024);
}

static void on_sigchld(evutil_socket_t sig, short what, void *userdata)
{
	worker_reap_all(userdata);
}

static void on_quit(evutil_socket_t sig, short what, void *userdata)
{
	struct daemon *d = userdata;
	log_info("Received %s, shutting down", strsignal(sig));
	d->quitting = true;
	event_base_loopbreak(d->base);
}

/* A socket handed over by systemd (socket activation), or -1. */
static int activation_fd(void)
{
	int n = sd_listen_fds(1);
	if (n <= 0)
		return -1;
	if (n > 1)
		log_warning("Got %d sockets from systemd; using the first", n);
	return SD_LISTEN_FDS_START;
}

/* What the command line says; paths filled with their defaults by parse_argv. */
struct supervisor_args {
	char socket_path[PATH_MAX];
	char state_dir[PATH_MAX];
	const char *level_name;
	const char *config_path;
	bool others_given;
	struct access_policy access;
};

/* 1: run; 0: done (--help); -EINVAL: a usage error (reported). */
static int parse_argv(int argc, char **argv, struct supervisor_args *args)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "admin", required_argument, NULL, 'A' },
		{ "read-only", required_argument, NULL, 'R' },
		{ "debug", required_argument, NULL, 'D' },
		{ "monitor", required_argument, NULL, 'M' },
		{ "no-access", required_argument, NULL, 'N' },
		{ "others", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, r;

	*args = (struct supervisor_args) { .level_name = "info" };
	access_policy_init(&args->access);
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 's':
			snprintf(args->socket_path, sizeof(args->socket_path), "%s", optarg);
			break;
		case 'd':
			snprintf(args->state_dir, sizeof(args->state_dir), "%s", optarg);
			break;
		case 'l':
			r = log_parse_level(optarg);
			if (r < 0) {
				fprintf(stderr, "vmmd: unknown log level '%s'\n", optarg);
				return -EINVAL;
			}
			log_set_level(r);
			args->level_name = optarg;
			break;
		case 'A': case 'D': case 'R': case 'M': case 'N': case 'o':
			if (parse_access_option(&args->access, c, optarg) < 0)
				return -EINVAL;
			args->others_given |= c == 'o';
			break;
		case 'c':
			args->config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 1;
}

/* The config file, then the paths the options did not give. Errors are logged. */
static int load_settings(struct supervisor_args *args, struct daemon_config *config)
{
	int r;

	daemon_config_init(config);
	if (args->config_path) {
		r = load_config(args->config_path, config, &args->access, args->others_given);
		if (r < 0)
			return r;
	}
	if (!args->socket_path[0]) {
		r = paths_default_socket(args->socket_path, sizeof(args->socket_path));
		if (r < 0)
			return log_error_errno(r, "No default socket path (set XDG_RUNTIME_DIR or use --socket): %m");
	}
	if (!args->state_dir[0]) {
		r = paths_default_state_dir(args->state_dir, sizeof(args->state_dir));
		if (r < 0)
			return log_error_errno(r, "No default state directory (use --state-dir): %m");
	}
	r = paths_mkdir_p(args->state_dir, 0750);
	if (r < 0)
		return log_error_errno(r, "Failed to create state directory %s: %m", args->state_dir);
	return 0;
}

/* The workers' cgroups where systemd delegates vmmd one (worker_cgroup.h). */
static void cgroups_setup(struct daemon *d)
{
	char why[512] = "";
	int r = worker_cgroups_init(&d->cgroups, why, sizeof(why));

	if (r < 0)
		log_notice("Workers get no cgroup of their own, so no memory limit each (max_total_memory_mib still "
			   "holds): %s", why);
	else
		log_info("Workers' cgroups: %s/vm-NAME, memory.max = memory_mib + %d MiB + the console buffer",
			 d->cgroups.root, WORKER_MEMORY_OVERHEAD_MIB);
}

static struct event *add_signal(struct daemon *d, int sig, event_callback_fn fn)
{
	struct event *ev = evsignal_new(d->base, sig, fn, d);

	if (ev && event_add(ev, NULL) < 0) {
		event_free(ev);
		ev = NULL;
	}
	return ev;
}

/* Everything the daemon needs before it serves: the loop, the registry,
 * the socket, the adopted workers, the signals. Errors are logged; what was
 * set up stays in d for daemon_free. */
static int daemon_setup(struct daemon *d, struct supervisor_args *args, int listen_fd)
{
	int r;

	d->base = event_base_new();
	if (!d->base || event_base_priority_init(d->base, DAEMON_PRIORITIES) < 0)
		return log_error_errno(-ENOMEM, "Failed to create the event loop: %m");
	const char *why = NULL;
	r = registry_init(&d->registry, args->state_dir, &why);
	if (r < 0)
		return log_error_errno(r, "State directory %s: %s, refusing it: %m", args->state_dir, why);
	d->registry.max_vms = d->config.max_vms;
	r = registry_load(&d->registry);
	if (r < 0)
		return log_error_errno(r, "Failed to load VM definitions from %s: %m", args->state_dir);
	if (d->registry.count > d->registry.max_vms)
		log_warning("%u VM definitions, more than limits.max_vms (%u): no new VM can be created",
			    d->registry.count, d->registry.max_vms);
	r = server_listen(d, args->socket_path, listen_fd);
	if (r == -EADDRINUSE)
		return log_error_errno(r, "Another vmmd serves %s", args->socket_path);
	if (r < 0)
		return log_error_errno(r, "Failed to listen on %s: %m", args->socket_path);
	cgroups_setup(d);
	/* Only once we own the socket: a second daemon must not touch the first's workers. */
	worker_adopt_all(d);

	d->sigchld_ev = add_signal(d, SIGCHLD, on_sigchld);
	d->sigterm_ev = add_signal(d, SIGTERM, on_quit);
	d->sigint_ev = add_signal(d, SIGINT, on_quit);
	if (!d->sigchld_ev || !d->sigterm_ev || !d->sigint_ev)
		return log_error_errno(-ENOMEM, "Failed to watch signals: %m");
	return 0;
}

/* Tear down whatever daemon_setup built (all of it, or part). Workers are
 * not stopped: their guests keep running and the next supervisor adopts
 * them (restart survival). vm.stop stops a VM. */
static void daemon_free(struct daemon *d, int listen_fd)
{
	/* Already stopping: a second SIGTERM/SIGINT (systemd, an impatient user)
	 * must not cut the clean-up short. Freeing libevent's signal events puts
	 * back the default action, so ignore the signals only after that. */
	if (d->sigterm_ev)
		event_free(d->sigterm_ev);
	if (d->sigint_ev)
		event_free(d->sigint_ev);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (d->listener) {
		daemon_notify_stopping(d);
		server_close(d);
		if (listen_fd < 0)
			(void) unlink(d->socket_path);
	}
	if (d->sigchld_ev)
		event_free(d->sigchld_ev);
	stats_events_free(d);
	registry_free(&d->registry);
	worker_cgroups_close(&d->cgroups);
	if (d->base)
		event_base_free(d->base);
}

static int run(struct supervisor_args *args)
{
	struct daemon d = { .log_level_name = args->level_name, .socket_path = args->socket_path,
			    .output_budget = { .max = CLIENTS_OUTPUT_BUDGET },
			    .cgroups.root_fd = -EBADF };
	char self[PATH_MAX];
	ssize_t n;
	int listen_fd, r;

	r = load_settings(args, &d.config);
	if (r < 0)
		return r;
	d.access = args->access;
	memory_limit_default(&d.config);
	r = sandbox_users_init(&d.sandbox, &d.config, geteuid() == 0);
	if (r < 0)
		return log_error_errno(r, "sandbox.user '%s': %s", d.config.sandbox_user,
				       r == -ENOENT ? "no such user" : "the workers must not run as root");
	if (!d.sandbox.change)
		log_info("Not root: workers keep uid %u (the jail still takes their capabilities and file system)",
			 (unsigned) geteuid());
	else if (d.sandbox.fixed)
		log_info("Workers run as uid %u gid %u (sandbox.user)", (unsigned) d.sandbox.uid, (unsigned) d.sandbox.gid);
	else
		log_info("Workers run as users of their own from uid %u (%u of them)", (unsigned) d.sandbox.base,
			 (unsigned) d.sandbox.count);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return log_error_errno(-errno, "Failed to find our own binary: %m");
	self[n] = '\0';
	d.self_exe = self;
	signal(SIGPIPE, SIG_IGN);
	/* Every VM definition may hold a client's files (up to 28 descriptors,
	 * config/vm_files.h): take what the hard limit allows (no select() here). */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		(void) setrlimit(RLIMIT_NOFILE, &nofile);
	}

	listen_fd = activation_fd();
	r = daemon_setup(&d, args, listen_fd);
	if (r == 0) {
		log_info("Listening on %s%s, state in %s, %u VM definitions", listen_fd >= 0 ? "fd from systemd for " : "",
			 args->socket_path, args->state_dir, d.registry.count);
		daemon_notify_ready(&d);
		event_base_dispatch(d.base);
	}
	daemon_free(&d, listen_fd);
	return r;
}

int supervisor_main(int argc, char **argv)
{
	struct supervisor_args args;
	int r = parse_argv(argc, argv, &args);

	if (r <= 0)
		return r < 0 ? 2 : 0;   /* 2: a usage error, as vmmctl's */
	r = run(&args);
	return r < 0 ? 1 : 0;
}
