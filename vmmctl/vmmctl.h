/* SPDX-License-Identifier: MIT */
/*
 * vmmctl's shared state and command table entry. Commands are one entry
 * each (tmux cmd-*.c style); main.c parses the global options, picks the
 * entry, checks its arguments and calls .exec.
 */
#pragma once

#include <stdbool.h>
#include <json-c/json.h>

#include "proto/client.h"
#include "proto/rpc.h"
#include "vmmctl/args.h"

struct ctl {
	const char *socket_path;
	bool json;                     /* --json: print results as JSON */
	struct rpc_client *client;     /* connected on first use */
	const struct cmd_entry *cmd;   /* the command being run */
	bool usage_error;              /* set by ctl_usage_error: exit status 2 */
	int remote_pid;                /* --connect: the ssh process (remote.c) */
};

struct cmd_entry {
	const char *name;
	const char *usage;             /* arguments after the name: "NAME [--force]" */
	const char *summary;           /* one line for --help */
	int min_args, max_args;        /* positionals */
	const struct cmd_option *options;   /* ended by { .name = NULL }; may be NULL */
	/* Returns 0, or a negative errno after printing what went wrong. */
	int (*exec)(struct ctl *ctl, const struct cmd_args *args);
};

/* Exit statuses (API.md "vmmctl"). */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILURE = 1,          /* RPC error, connection failure, bad input file */
	CTL_EXIT_USAGE = 2,
};

extern const struct cmd_entry cmd_version_entry, cmd_create_entry, cmd_run_entry,
	cmd_start_entry, cmd_pause_entry, cmd_resume_entry, cmd_stop_entry,
	cmd_destroy_entry, cmd_list_entry, cmd_info_entry, cmd_call_entry,
	cmd_console_entry, cmd_events_entry, cmd_shadow_entry, cmd_bridge_entry;

/* Introspection and control (commands_inspect.c). */
extern const struct cmd_entry cmd_regs_entry, cmd_mem_entry, cmd_translate_entry, cmd_maps_entry,
	cmd_irq_entry, cmd_bus_entry, cmd_stats_entry, cmd_top_entry;

/* Connect unless connected; prints "cannot connect to PATH: ..." on failure. */
int ctl_connect(struct ctl *ctl);
/* ctl_connect, then the call; prints "vmmctl: CLASS: message" on an RPC error
 * and a transport message otherwise. params is taken over. */
int ctl_call(struct ctl *ctl, const char *method, struct json_object *params,
	     struct json_object **ret_result);
/* The same without printing: -EPROTO with err filled for an RPC error. */
int ctl_try_call(struct ctl *ctl, const char *method, struct json_object *params,
		 struct json_object **ret_result, struct rpc_error *err);
/* ctl_call and ctl_try_call sending n descriptors with the request
 * (params.files names them; the caller keeps them). */
int ctl_call_fds(struct ctl *ctl, const char *method, struct json_object *params, const int *fds, size_t n,
		 struct json_object **ret_result);
int ctl_try_call_fds(struct ctl *ctl, const char *method, struct json_object *params, const int *fds, size_t n,
		     struct json_object **ret_result, struct rpc_error *err);
/* Print an RPC or transport error the way ctl_call does. */
void ctl_print_call_error(struct ctl *ctl, const char *method, int r, const struct rpc_error *err);

/* "vmmctl: <message>" plus the command's usage line; marks exit status 2. Returns -EINVAL. */
int ctl_usage_error(struct ctl *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "vmmctl: <message>" on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports "out of memory"; returns -ENOMEM. */
int ctl_oom(void);

/* {"name": name} — the params of most VM methods. NULL on ENOMEM. */
struct json_object *ctl_params_name(const char *name);

/* --connect ssh://...: ssh to `vmmctl bridge` there, ctl->client over it (remote.c). */
int remote_connect(struct ctl *ctl, const char *url);
/* After the command (client closed): reap ssh, saying why it failed if the command did. Returns result. */
int remote_finish(struct ctl *ctl, int result);

/* Follow a VM's console until it stops or the user detaches (console.c). */
int console_follow(struct ctl *ctl, const char *name);
