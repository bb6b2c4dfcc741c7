/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's shared context: the event loop, the VM registry, the
 * listening socket, and the clients subscribed to events. It never touches
 * KVM: everything VM-side happens in the workers (worker_link.h).
 */
#pragma once

#include <stdbool.h>
#include <event2/event.h>

#include "config/daemon_config.h"
#include "vmmd/access.h"
#include "vmmd/registry.h"
#include "vmmd/sandbox_user.h"
#include "vmmd/worker_cgroup.h"
#include "vmmd/token_bucket.h"
#include "vmmd/common/rpc_peer.h"

struct client;

/*
 * Event priorities (libevent: when several events are ready, the lower
 * number runs first). The workers' channels and admins' connections come
 * before everyone else's, so an admin's call and its worker's answer are
 * not queued behind what hostile read clients keep the loop busy with.
 */
enum daemon_priority {
	DAEMON_PRIO_ADMIN = 0,     /* admin connections, worker channels */
	DAEMON_PRIO_DEFAULT = 1,   /* the listener, signals, timers */
	DAEMON_PRIO_CLIENT = 2,    /* other connections */
	DAEMON_PRIORITIES
};

struct daemon {
	struct event_base *base;
	struct registry registry;
	struct event *listener;      /* the control socket: accepting (server.c) */
	struct event *sigchld_ev, *sigterm_ev, *sigint_ev;
	char *socket_path;
	char *self_exe;              /* what workers are exec'd from */
	struct client *clients;      /* every open connection */
	unsigned n_clients;
	struct rpc_output_budget output_budget;  /* non-admin connections' queued output (server.h) */
	struct connect_rate {        /* new connections per user (server.c) */
		uid_t uid;
		uint64_t at_ms;      /* 0: unused */
		double tokens;
	} connect_rates[32];         /* CLIENT_RATE_USERS */
	struct event *sweep_ev;      /* idle and message timeouts, while there are clients */
	const char *log_level_name;
	bool quitting;
	struct event *stats_ev;      /* the `stats` event timer (stats_events.h) */
	/* systemd notification state (sd_notify.h) */
	struct event *watchdog_ev;   /* WATCHDOG=1 timer, when systemd wants one */
	bool notify_ready;           /* READY=1 sent: STATUS= updates may follow */
	char notify_status[96];      /* the last STATUS= text sent */
	struct access_policy access; /* roles of clients (access.h) */
	/* --config FILE's limits, or their defaults (daemon_config.h); its
	 * access rules are in `access`, max_vms in registry.max_vms. */
	struct daemon_config config;
	struct sandbox_users sandbox;  /* who the workers become (sandbox_user.h) */
	struct worker_cgroups cgroups; /* where the workers' cgroups go, if anywhere (worker_cgroup.h) */
};

/* A client connection and what it subscribed to (events.h). */
struct client {
	struct client *next;
	struct daemon *daemon;
	struct rpc_peer *peer;
	unsigned topics;             /* EVENT_TOPIC_* bits */
	char vm_filter[VM_NAME_MAX + 1]; /* "" = every VM */
	enum access_role role;       /* from the peer's credentials at accept (access.h) */
	uid_t uid;                   /* the peer's uid, for messages */
	struct token_bucket inspect_bucket;  /* calls that hold the guest's vCPUs (methods.c) */
};
