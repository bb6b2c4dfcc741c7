/* SPDX-License-Identifier: MIT */
/*
 * What the supervisor's two files about one worker share, and nothing
 * else includes: worker_link.c (spawn, the channel, the end of a
 * worker's life) and worker_adopt.c (adopting a live worker after a
 * supervisor restart, through its control socket).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/event.h>

#include "vmmd/daemon.h"
#include "vmmd/common/rpc_peer.h"

/* A call waiting for one of the worker's RPC_CHANNEL_MAX_CALLS slots. */
struct link_call {
	struct link_call *next;
	struct link_call *next_sent;   /* while at the worker */
	uint64_t owner;
	uint64_t tag;                  /* start tag: calls go out in tag order */
	const char *method;
	struct json_object *params;
	rpc_reply_fn fn;
	void *userdata;
	struct worker_link *link;
	struct event *timer;           /* its deadline: workers.call_timeout_s */
	bool sent;                     /* at the worker (else waiting) */
	bool expired;                  /* the caller had its timeout error */
};

struct worker_link {
	struct daemon *daemon;
	struct vm_record *vm;
	pid_t pid;
	uid_t uid;                     /* the user it runs as (sandbox_user.h), 0: unknown or unchanged */
	uint64_t memory_max;           /* memory.max of its cgroup (worker_cgroup.h), 0: none */
	struct rpc_peer *peer;
	unsigned at_worker;            /* calls sent, not answered */
	struct link_call *sent;        /* those calls */
	struct link_call *waiting;     /* by tag, then arrival */
	uint64_t vtime;                /* tag of the last call sent */
	struct rpc_call *start_call;   /* until the boot reply */
	struct event *boot_timer;      /* workers.boot_timeout_s: then the start fails and the worker dies */
	struct event *stop_timer;
	bool booted;
	bool channel_closed;
	bool reaped;
	bool force_killed;
	bool adopted;                  /* not our child: death seen through a pidfd, status unknown */
	struct event *pidfd_ev;
	int wait_status;
	struct vm_exit_info reported;  /* from worker.exit */
	struct json_object *stats;
};

/* The channel's handlers: notifications from the worker, its close. */
extern const struct rpc_peer_ops link_ops;
/* The channel's limits (mem.read replies carry up to 1 MiB as base64). */
void link_set_limits(struct worker_link *w);
/* SIGKILL the worker (through its pidfd when adopted). */
void link_kill(struct worker_link *w);
/* Once the channel has closed and the worker has been reaped: decide the
 * VM's final state and free w. */
void link_finish(struct worker_link *w);
/* What worker.boot's or worker.info's answer says of the worker (its uid). */
void link_read_worker_facts(struct vm_record *vm, struct json_object *facts);
/* The VM's worker is gone: remove its cgroup. */
void link_forget_cgroup(struct daemon *d, struct vm_record *vm);

/* worker_adopt.c: the report a worker left when its guest ended while no
 * supervisor ran (NAME.exit) into vm->exit; false when there is none. */
bool worker_read_exit_file(struct daemon *d, struct vm_record *vm);
