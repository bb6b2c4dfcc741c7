/* SPDX-License-Identifier: MIT */
/*
 * The worker's jail (Firecracker's jailer, done by the worker itself once
 * it holds every descriptor it will use: KVM fds, guest memory, the
 * console ring, image and log files, its channel and control socket):
 *
 *   - a user of its own: the uid and gid the supervisor picked for this VM
 *     (vmmd/sandbox_user.h), no supplementary groups, and no capabilities
 *     in any set (effective, permitted, inheritable, ambient, bounding);
 *   - a mount namespace of its own whose root is an empty, read-only tmpfs
 *     (pivot_root): nothing of the host's file system is reachable by path;
 *   - no_new_privs.
 *
 * Two ways to the mount namespace, tried in turn: as root with
 * CAP_SYS_ADMIN, unshare(CLONE_NEWNS) before giving up root; else (vmmd
 * under its systemd unit, whose bounding set has no CAP_SYS_ADMIN, or not
 * root at all) after changing user, a user namespace that maps only that
 * user onto itself and owns the new mount namespace, whose capabilities
 * are dropped again once the root is built. Where neither is allowed
 * (user namespaces off, a seccomp filter of the caller's) the worker keeps
 * the host's view of the file system and `why` says so; the user change
 * and the seccomp filter (sandbox.h) still hold.
 *
 * Both need a process with one thread: jail_enter runs before the vCPU
 * and device threads start. Where more run, it enters neither namespace
 * (one thread would stay in the host's) and `why` says how many ran; the
 * user and capabilities still go. Library code: it does not log; the
 * caller does.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct jail_config {
	bool change_user;       /* become uid/gid (the caller is root); else keep the caller's */
	uid_t uid;
	gid_t gid;
};

struct jail_state {
	uid_t uid;              /* what the worker runs as afterwards */
	gid_t gid;
	bool user_changed;
	bool caps_dropped;      /* effective, permitted, inheritable, ambient: empty (the bounding set too where it could be) */
	bool mount_ns;          /* own mount namespace with the empty root */
	bool user_ns;           /* ... owned by a user namespace of its own */
	char why[160];          /* what is missing and why, "" when nothing is */
};

/* Enter the jail. 0 with ret filled (ret->why names a step that could
 * not be taken and was left out); -errno when changing user failed (the
 * worker must not run on as root then). */
int jail_enter(const struct jail_config *c, struct jail_state *ret);
