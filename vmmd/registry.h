/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's registry of VMs: one record per defined VM, with its
 * config, its life-cycle state, its worker (while one runs) and what the
 * last run ended with. Definitions persist in the state directory as
 * NAME.json (written durably and atomically, state_dir.h), so they survive
 * a daemon restart.
 *
 * A definition that does not load (an unreadable or empty file, a field
 * this vmmd does not know) still becomes a record, marked with its
 * `problem`: its worker may be running, and a restart must never cost a
 * guest (issue 14 finding 5). Such a record is adopted, listed and can be
 * stopped, but not started, and its file is never rewritten: vmmd keeps
 * what it could not read for whoever can.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <json-c/json.h>

#include "config/vm_config.h"
#include "config/vm_files.h"
#include "vmmd/common/console_ring.h"
#include "vmmd/common/worker_protocol.h"

#define REGISTRY_MAX_VMS 1024   /* default of registry.max_vms (limits.max_vms) */
#define REGISTRY_FILE_MAX (1u << 20)   /* a definition file read at load */

enum vm_state { VM_STATE_CREATED, VM_STATE_RUNNING, VM_STATE_PAUSED, VM_STATE_STOPPED, VM_STATE_CRASHED };
#define VM_STATE_BIT(s) (1u << (s))
#define VM_STATES_ANY   0x1fu

struct rpc_call;
struct rpc_peer;
struct worker_link;

struct vm_exit_info {
	bool valid;
	enum vm_exit_reason reason;   /* worker_protocol.h: parsed once, on receipt */
	int code;
	int64_t value;
	char message[256];
};

struct pending_reply {
	struct pending_reply *next;
	struct rpc_call *call;
};

struct vm_record {
	struct vm_record *next;
	char name[VM_NAME_MAX + 1];
	/* A record with a problem has a stand-in: its name, and memory_mib,
	 * vcpus and paging where the file's are readable, else the defaults. */
	struct vm_config *config;
	char *problem;                    /* why the definition did not load; NULL when it did */
	/* Where its files come from (file_access.h), decided at vm.create and
	 * persisted ("paths": "root" or "user", "client_files": [SLOT...]):
	 * paths named by a user are opened under files.path_dirs; a slot a
	 * client passed as a descriptor is held in files[] while this vmmd
	 * runs, and must be passed again (vm.start's files) after a restart. */
	bool paths_from_user;
	bool client_file[VM_FILE_SLOTS];
	int files[VM_FILE_SLOTS];         /* held client descriptors, -1 none */
	struct json_object *raw_config;   /* with a problem: the file's "config", if it was JSON */
	/* vm_config_to_json(config), built once at create/load (a config never
	 * changes after create) and serialized once: it carries a serializer
	 * that appends the cached text. Shared by vm.info replies and
	 * registry_save; use registry_config_json(). */
	struct json_object *config_json;
	enum vm_state state;
	struct worker_link *worker;       /* while a worker process exists */
	bool busy;                        /* a start or stop is in flight */
	struct pending_reply *on_stopped; /* vm.stop calls answered once the worker is gone */
	struct vm_exit_info exit;
	struct json_object *last_stats;   /* from the last worker.exit */
	struct timespec started;          /* CLOCK_MONOTONIC at start */
	struct console_ring console;      /* read-only map of the worker's ring */
	uint64_t console_notified;        /* console bytes already sent as events */
	bool adopt_pending;               /* loaded as running/paused: its worker may be alive */
	/* A worker was forked and has not answered its boot yet. Persisted
	 * ("starting": true) before the fork, so that a vmmd killed meanwhile
	 * is followed by one that looks for that worker (issue 14 finding 8). */
	bool starting;
	bool sandboxed;                   /* its worker runs under the seccomp filter */
	struct json_object *sandbox;      /* its worker's jail and filter (vm.info "sandbox", worker.h) */
	struct json_object *boot;         /* how its worker booted the kernel (vm.info "boot") */
	/* on_reset "restart" (worker_link.c): a worker is being started again after a guest reset */
	bool restarting;
	unsigned resets;                  /* restarts after guest resets, since the daemon started */
	unsigned resets_in_window;
	struct timespec reset_window;     /* CLOCK_MONOTONIC start of the loop guard's window */
};

struct registry {
	struct vm_record *head;
	unsigned count;
	unsigned max_vms;        /* registry_add refuses more; loading does not (REGISTRY_MAX_VMS) */
	char *state_dir;
	int dir_fd;              /* the state directory, checked (state_dir.h) */
};

const char *vm_state_name(enum vm_state s);

/* Open and check the state directory: 0, or -errno with *why saying what
 * is wrong with it (state_dir_open). */
int registry_init(struct registry *reg, const char *state_dir, const char **why);
/* Load every NAME.json, writing nothing. A file that does not load becomes
 * a record with a problem (logged); records of VMs that were running are
 * marked for adoption (worker_adopt_all). Definitions beyond max_vms are
 * loaded too: a lowered limit only stops new ones. */
int registry_load(struct registry *reg);
void registry_free(struct registry *reg);

struct vm_record *registry_find(struct registry *reg, const char *name);
/* Where a new VM's files come from: like the record's fields, with the
 * descriptors to hold (taken over by registry_add on success, -1 none). */
struct vm_files_origin {
	bool paths_from_user;
	bool client_file[VM_FILE_SLOTS];
	int files[VM_FILE_SLOTS];
};
/* Takes config and origin's descriptors (origin may be NULL: root's paths)
 * over on success. -EEXIST, -E2BIG (max_vms reached), or a save error
 * (-ENOSPC: a full disk). */
int registry_add(struct registry *reg, struct vm_config *config, struct vm_files_origin *origin,
		 struct vm_record **ret);
/* Drop the held descriptors of the slots set in `slots` (or all: NULL). */
void registry_drop_files(struct vm_record *vm, const bool *slots);
/* Remove the record and its files. */
int registry_remove(struct registry *reg, struct vm_record *vm);
/* Persist the record (config, state, exit): whole, not fsync'ing the
 * directory (registry.c save). A record with a problem is not written: 0,
 * its file stays as it is. */
int registry_save(struct registry *reg, struct vm_record *vm);

/* A new reference to the VM's cached config JSON (see config_json), or a
 * freshly built one when the cache could not be built; for a record with a
 * problem, the file's config as it was (NULL when it was not JSON). */
struct json_object *registry_config_json(struct vm_record *vm);

/* Path of a per-VM file: "<state_dir>/<name><suffix>". */
int registry_path(struct registry *reg, const char *name, const char *suffix, char *buf, size_t size);

double vm_uptime(const struct vm_record *vm);
/* An exit as vm.info, events and the state file show it: {reason, code, value, message}. */
struct json_object *vm_exit_json(const struct vm_exit_info *e);
/* The inverse, for a worker's exit report (worker.exit, its .exit file) and
 * the state file: missing members keep their zero, an unknown reason reads
 * as VM_EXIT_UNKNOWN. The strings are copied with bounds (a worker runs
 * next to a hostile guest). */
void vm_exit_from_json(struct json_object *o, struct vm_exit_info *ret);
