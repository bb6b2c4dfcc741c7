/* SPDX-License-Identifier: MIT */
/*
 * The daemon's own config file (`vmmd --config FILE`, docs/operations.md):
 * who may use the socket, and the limits on what clients and guests may
 * make vmmd hold. Parsed like a VM config (vm_config.h): defaults for what
 * is absent, unknown fields refused, every error naming its field.
 *
 *   { "access": { "admin": [WHO...], "debug": [WHO...], "monitor": [WHO...],
 *                 "no_access": [WHO...], "read_only": [WHO...] (= debug),
 *                 "others": "admin|debug|monitor|none" },
 *     "limits": { "max_vms", "max_total_memory_mib", "max_connections",
 *                 "max_connections_per_user", "admin_connections",
 *                 "idle_timeout_s", "message_timeout_s",
 *                 "console_buffer_kib", "max_message_kib",
 *                 "inspect_per_second" },
 *     "sandbox": { "user": NAME } | { "uid_base", "uid_count" },
 *     "files": { "path_dirs": [DIR...] },
 *     "console_log": { "max_kib", "rotate" },
 *     "workers": { "call_timeout_s", "boot_timeout_s" } }
 *
 * WHO is checked for its syntax only (a user name or uid, "@group" or
 * "@gid"); the daemon resolves names to ids (access.h), so this room needs
 * no user database.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "config/vm_config.h"   /* struct config_error */

#define DAEMON_CONFIG_FILE_MAX        (1u << 20)  /* bytes of a config file read */
#define DAEMON_CONFIG_MAX_RULES       32          /* = ACCESS_MAX_RULES */
#define DAEMON_CONFIG_WHO_MAX         255

#define DAEMON_MAX_VMS_DEFAULT        1024
#define DAEMON_MAX_VMS_MAX            65536
#define DAEMON_MAX_MEMORY_MIB_MAX     (UINT64_C(1) << 30)  /* 1 PiB; 0 = unlimited */
/* Not given: this share of the host's memory (the daemon reads MemTotal). */
#define DAEMON_MEMORY_SHARE_NUM       3
#define DAEMON_MEMORY_SHARE_DEN       4
#define DAEMON_MAX_CONNECTIONS_DEFAULT 256
#define DAEMON_MAX_CONNECTIONS_MAX    65536
#define DAEMON_PER_USER_DEFAULT       32          /* connections of one non-admin uid */
#define DAEMON_ADMIN_CONNECTIONS_DEFAULT 8        /* of max_connections, kept for admins */
#define DAEMON_IDLE_TIMEOUT_DEFAULT   900         /* s; 0 = never */
#define DAEMON_IDLE_TIMEOUT_MAX       86400
#define DAEMON_MESSAGE_TIMEOUT_DEFAULT 30         /* s from a message's first byte to its newline */
#define DAEMON_MESSAGE_TIMEOUT_MAX    3600
#define DAEMON_CONSOLE_KIB_DEFAULT    64
#define DAEMON_CONSOLE_KIB_MIN        4
#define DAEMON_CONSOLE_KIB_MAX        16384       /* = CONSOLE_RING_MAX */
#define DAEMON_MESSAGE_KIB_DEFAULT    1024        /* API.md: 1 MiB */
#define DAEMON_MESSAGE_KIB_MIN        64
#define DAEMON_MESSAGE_KIB_MAX        8192        /* below the peer's junk cut-off (rpc_peer.h) */
#define DAEMON_INSPECT_RATE_DEFAULT   20          /* calls a second per connection below admin */
#define DAEMON_INSPECT_RATE_MAX       100000      /* 0 = unlimited */

/* The users workers run as (vmmd/sandbox_user.h): by default one of its own
 * per worker, from 65536 uids above systemd's container ranges, in its
 * "unused" stretch below 2^31 (systemd's docs/UIDS-GIDS.md). */
#define DAEMON_SANDBOX_UID_BASE_DEFAULT  UINT32_C(1879048192)   /* 0x70000000 */
#define DAEMON_SANDBOX_UID_COUNT_DEFAULT 65536
#define DAEMON_SANDBOX_UID_MAX           UINT32_C(2147483647)   /* past it: trouble (setfsuid, devpts) */
#define DAEMON_SANDBOX_UID_COUNT_MAX     (1u << 24)

#define DAEMON_PATH_DIRS_MAX          8           /* files.path_dirs */
#define DAEMON_PATH_DIR_LEN           1023
#define DAEMON_LOG_KIB_DEFAULT        16384       /* console_log.max_kib: 16 MiB per file */
#define DAEMON_LOG_KIB_MIN            4
#define DAEMON_LOG_KIB_MAX            (16u << 20) /* 16 GiB; 0 = no cap */
#define DAEMON_LOG_ROTATE_DEFAULT     1
#define DAEMON_LOG_ROTATE_MAX         9           /* = VM_LOG_ROTATE_MAX */
#define DAEMON_CALL_TIMEOUT_DEFAULT   30          /* workers.call_timeout_s */
#define DAEMON_BOOT_TIMEOUT_DEFAULT   120         /* workers.boot_timeout_s */
#define DAEMON_TIMEOUT_MAX            3600

/* Values match enum access_role (vmmd/access.h). */
enum daemon_role { DAEMON_ROLE_NONE = 0, DAEMON_ROLE_MONITOR = 1, DAEMON_ROLE_DEBUG = 2, DAEMON_ROLE_ADMIN = 3 };

struct daemon_access_rule {
	char who[DAEMON_CONFIG_WHO_MAX + 1];  /* "alice", "1000", "@vmm", "@998" */
	enum daemon_role role;
	char field[64];                       /* where it came from: "access.admin[1]" */
};

struct daemon_config {
	/*
	 * In the order they are to be tried: rules naming a user before rules
	 * naming a group, and within each, no_access before monitor before
	 * debug (and read_only, its old name) before admin (the more
	 * restrictive wins), each list in file order.
	 */
	struct daemon_access_rule rules[DAEMON_CONFIG_MAX_RULES];
	size_t n_rules;
	bool others_set;                 /* "others" given; else the daemon's default */
	enum daemon_role others;
	uint32_t max_vms;                /* default 1024 */
	uint64_t max_total_memory_mib;   /* of running and paused VMs; 0 = unlimited */
	bool max_total_memory_set;       /* given; else the daemon makes it a share of MemTotal */
	uint32_t max_connections;        /* default 256 */
	uint32_t max_connections_per_user; /* of one uid that is not admin, default 32 */
	uint32_t admin_connections;      /* of max_connections only admins may take: default 8, at
					  * most a quarter of max_connections unless given */
	uint32_t idle_timeout_s;         /* a silent connection with nothing going on is closed; 0 = never */
	uint32_t message_timeout_s;      /* a message started must end within this, default 30 */
	uint32_t console_buffer_kib;     /* per VM, default 64 */
	uint32_t max_message_kib;        /* per API message, default 1024 */
	uint32_t inspect_per_second;     /* calls that hold a guest's vCPU, per connection below admin; 0 = unlimited */
	char sandbox_user[DAEMON_CONFIG_WHO_MAX + 1];  /* "": a uid of its own per worker, from the range below */
	uint32_t sandbox_uid_base;       /* default DAEMON_SANDBOX_UID_BASE_DEFAULT */
	uint32_t sandbox_uid_count;      /* default DAEMON_SANDBOX_UID_COUNT_DEFAULT */
	/* Folders in which vmmd opens the files a non-root admin names by path
	 * (docs/operations.md "File access"): absolute, without "." or "..". */
	char path_dirs[DAEMON_PATH_DIRS_MAX][DAEMON_PATH_DIR_LEN + 1];
	size_t n_path_dirs;
	uint32_t log_max_kib;            /* console.log's cap per file, default 16 MiB; 0: none */
	uint32_t log_rotate;             /* previous parts kept (NAME.1 ...), default 1 */
	uint32_t call_timeout_s;         /* a call to a worker, default 30 */
	uint32_t boot_timeout_s;         /* a worker's boot, default 120 */
};

/* The defaults, as with an empty file. */
void daemon_config_init(struct daemon_config *c);
/* max_total_memory_mib's default for a host of memtotal_kib:
 * DAEMON_MEMORY_SHARE_NUM/DEN of it, at least 1 MiB. */
uint64_t daemon_config_memory_default_mib(uint64_t memtotal_kib);
/* 0, or -EINVAL with err filled (err->field "" when obj is not an object).
 * ret is written only on success. */
int daemon_config_from_json(struct json_object *obj, struct daemon_config *ret, struct config_error *err);
/*
 * Read and parse a file. -EINVAL with err filled for a file that is not
 * valid JSON (field "", message with the line and column) or not a valid
 * config; -errno (err->message says so, field "") when it cannot be read;
 * -EFBIG over DAEMON_CONFIG_FILE_MAX.
 */
int daemon_config_load(const char *path, struct daemon_config *ret, struct config_error *err);

/* "none", "monitor", "debug", "admin". */
const char *daemon_role_name(enum daemon_role role);
