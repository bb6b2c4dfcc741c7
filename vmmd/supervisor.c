/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "vmmd/common/log.h"
#include "vmmd/paths.h"
#include "vmmd/sd_notify.h"
#include "vmmd/server.h"
#include "vmmd/stats_events.h"
#include "vmmd/supervisor.h"
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
		   "  --read-only WHO    clients of WHO may only call the read-only methods\n"
		   "  --no-access WHO    clients of WHO are refused\n"
		   "  --others ROLE      role of everyone else: none, read (default) or admin\n"
		   "                     (the first --admin/--read-only/--no-access that matches wins,\n"
		   "                     before the config file's rules)\n");
}

/* --admin, --read-only, --no-access, --others; 0 or a usage error (logged). */
static int parse_access_option(struct access_policy *p, int opt, const char *arg)
{
	int r;
	if (opt == 'o') {
		r = access_role_from_name(arg);
		if (r < 0) {
			fprintf(stderr, "vmmd: --others takes none, read or admin, not '%s'\n", arg);
			return r;
		}
		p->others = (enum access_role) r;
		return 0;
	}
	r = access_policy_add(p, arg, opt == 'A' ? ACCESS_ADMIN : opt == 'R' ? ACCESS_READ : ACCESS_NONE);
	if (r < 0)
		fprintf(stderr, "vmmd: %s '%s': %s\n", opt == 'A' ? "--admin" : opt == 'R' ? "--read-only" :
			"--no-access", arg, r == -ENOENT ? "no such user or group" :
			r == -E2BIG ? "too many access rules" : strerror(-r));
	return r;
}

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
		return log_error("%s: %s%s%s", path, err.field, err.field[0] ? ": " : "", err.message), r;
	}
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct daemon_access_rule *rule = &cfg->rules[i];
		r = access_policy_add(access, rule->who, (enum access_role) rule->role);
		if (r < 0)
			return log_error("%s: %s: '%s': %s", path, rule->field, rule->who,
					 r == -ENOENT ? "no such user or group" :
					 r == -E2BIG ? "too many access rules with the command line's" :
					 strerror(-r)), r;
	}
	if (!others_given && cfg->others_set)
		access->others = (enum access_role) cfg->others;
	log_debug("Config %s: %zu access rules, others %s; limits: %u VMs, %" PRIu64 " MiB guest memory "
		  "(0: unlimited), %u connections, %u KiB console, %u KiB messages",
		  path, cfg->n_rules, access_role_name(access->others), cfg->max_vms, cfg->max_total_memory_mib,
		  cfg->max_connections, cfg->console_buffer_kib, cfg->max_message_kib);
	return 0;
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

int supervisor_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "admin", required_argument, NULL, 'A' },
		{ "read-only", required_argument, NULL, 'R' },
		{ "no-access", required_argument, NULL, 'N' },
		{ "others", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct access_policy access;
	access_policy_init(&access);
	char socket_path[PATH_MAX] = "", state_dir[PATH_MAX] = "";
	const char *level_name = "info", *config_path = NULL;
	bool others_given = false;
	int c, r;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 's': snprintf(socket_path, sizeof(socket_path), "%s", optarg); break;
		case 'd': snprintf(state_dir, sizeof(state_dir), "%s", optarg); break;
		case 'l':
			r = log_parse_level(optarg);
			if (r < 0) {
				fprintf(stderr, "vmmd: unknown log level '%s'\n", optarg);
				return 2;
			}
			log_set_level(r);
			level_name = optarg;
			break;
		case 'A': case 'R': case 'N': case 'o':
			if (parse_access_option(&access, c, optarg) < 0)
				return 2;
			others_given |= c == 'o';
			break;
		case 'c': config_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	struct daemon_config config;
	daemon_config_init(&config);
	if (config_path && load_config(config_path, &config, &access, others_given) < 0)
		return 1;
	if (!socket_path[0] && (r = paths_default_socket(socket_path, sizeof(socket_path))) < 0)
		return log_error_errno(r, "No default socket path (set XDG_RUNTIME_DIR or use --socket): %m"), 1;
	if (!state_dir[0] && (r = paths_default_state_dir(state_dir, sizeof(state_dir))) < 0)
		return log_error_errno(r, "No default state directory (use --state-dir): %m"), 1;
	if ((r = paths_mkdir_p(state_dir, 0750)) < 0)
		return log_error_errno(r, "Failed to create state directory %s: %m", state_dir), 1;

	signal(SIGPIPE, SIG_IGN);
	struct daemon d = { .log_level_name = level_name, .socket_path = socket_path, .access = access,
			    .config = config };
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return log_error_errno(-errno, "Failed to find our own binary: %m"), 1;
	self[n] = '\0';
	d.self_exe = self;
	d.base = event_base_new();
	if (!d.base)
		return log_error("Failed to create the event loop"), 1;
	if ((r = registry_init(&d.registry, state_dir)) < 0)
		return log_error_errno(r, "Failed to set up the VM registry: %m"), 1;
	d.registry.max_vms = config.max_vms;
	if ((r = registry_load(&d.registry)) < 0)
		return log_error_errno(r, "Failed to load VM definitions from %s: %m", state_dir), 1;
	if (d.registry.count > d.registry.max_vms)
		log_warning("%u VM definitions, more than limits.max_vms (%u): no new VM can be created",
			    d.registry.count, d.registry.max_vms);

	int afd = activation_fd();
	r = server_listen(&d, socket_path, afd);
	if (r < 0)
		return log_error_errno(r, r == -EADDRINUSE ? "Another vmmd serves %s" :
				       "Failed to listen on %s: %m", socket_path), 1;
	/* Only once we own the socket: a second daemon must not touch the first's workers. */
	worker_adopt_all(&d);

	d.sigchld_ev = evsignal_new(d.base, SIGCHLD, on_sigchld, &d);
	d.sigterm_ev = evsignal_new(d.base, SIGTERM, on_quit, &d);
	d.sigint_ev = evsignal_new(d.base, SIGINT, on_quit, &d);
	event_add(d.sigchld_ev, NULL);
	event_add(d.sigterm_ev, NULL);
	event_add(d.sigint_ev, NULL);

	log_info("Listening on %s%s, state in %s, %u VM definitions", afd >= 0 ? "fd from systemd for " : "",
		 socket_path, state_dir, d.registry.count);
	daemon_notify_ready(&d);
	event_base_dispatch(d.base);

	/* Already stopping: a second SIGTERM/SIGINT (systemd, an impatient user)
	 * must not cut the clean-up short. Freeing libevent's signal events puts
	 * back the default action, so ignore the signals only after that. */
	event_free(d.sigterm_ev);
	event_free(d.sigint_ev);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	daemon_notify_stopping(&d);
	server_close(&d);
	/* Workers are not stopped: their guests keep running and the next
	 * supervisor adopts them (restart survival). vm.stop stops a VM. */
	if (afd < 0)
		(void) unlink(socket_path);
	event_free(d.sigchld_ev);
	stats_events_free(&d);
	registry_free(&d.registry);
	event_base_free(d.base);
	return 0;
}
