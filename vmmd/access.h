/* SPDX-License-Identifier: MIT */
/*
 * Who may do what on the control socket (API.md: PermissionDenied). Each
 * connection gets a role from its peer's credentials (SO_PEERCRED, and
 * SO_PEERGROUPS for supplementary groups) when it is accepted; each method
 * needs a role, a column of the method table (methods.c). The roles are
 * ordered, each may do what the ones below it may:
 *
 *   monitor  what a dashboard needs and nothing of the guest's own: the VM
 *            list, vm.info without command lines, counters, state, fault
 *            and stats events, the daemon's version and figures;
 *   debug    what a debugger reads (the old `read` role): command lines,
 *            console output and console events, vCPU registers, page
 *            tables, the bus map;
 *   admin    everything: creating a VM makes vmmd (often root) open any
 *            file as its kernel, so admin is as good as vmmd's own user.
 *
 * The policy: root and vmmd's own user are always admin; then the first
 * rule that matches the peer (a user or uid, or a group or gid the peer is
 * in) gives its role; anyone else gets `others` (default monitor).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

enum access_role { ACCESS_NONE = 0, ACCESS_MONITOR = 1, ACCESS_DEBUG = 2, ACCESS_ADMIN = 3 };

#define ACCESS_MAX_RULES  32
#define ACCESS_MAX_GROUPS 65536   /* NGROUPS_MAX: every supplementary group is looked at */

struct access_rule {
	bool is_group;
	unsigned id;                 /* uid or gid */
	enum access_role role;
};

struct access_policy {
	struct access_rule rules[ACCESS_MAX_RULES];
	size_t n_rules;
	enum access_role others;
	uid_t self_uid;              /* vmmd's euid: always admin */
};

/* The peer of a connection, as the kernel reports it. */
struct access_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t *groups;               /* supplementary groups (access_peer_get allocates them) */
	size_t n_groups;
	bool groups_unknown;         /* they could not be read: group rules cannot be judged */
};

/* others = monitor, no rules, self_uid = geteuid(). */
void access_policy_init(struct access_policy *p);
/*
 * Add a rule from "USER", "UID", "@GROUP" or "@GID". -EINVAL for a bad
 * spec or role, -ENOENT for an unknown user or group, -E2BIG when full.
 */
int access_policy_add(struct access_policy *p, const char *spec, enum access_role role);

/* "none", "monitor", "debug", "admin" <-> the enum, and "read", the debug
 * role's name before monitor was split off; -EINVAL for other names. */
int access_role_from_name(const char *name);
const char *access_role_name(enum access_role role);

/*
 * Credentials of the process at the other end of a Unix socket, with all
 * its supplementary groups (SO_PEERGROUPS, asked again with the size the
 * kernel reports when there are many). Groups that cannot be read at all
 * set groups_unknown. Free with access_peer_done.
 */
int access_peer_get(int fd, struct access_peer *ret);
void access_peer_done(struct access_peer *peer);
/* With groups_unknown, the first group rule the primary group does not
 * decide gives no access: a rule refusing a group must not fail open. */
enum access_role access_role_of(const struct access_policy *p, const struct access_peer *peer);

