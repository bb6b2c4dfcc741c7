/* SPDX-License-Identifier: MIT */
/*
 * The users workers run as (the worker's jail, vmmd/worker/jail.h). When
 * vmmd runs as root each worker leaves root for a user of its own, picked
 * here and passed in worker.boot (Firecracker's jailer takes --uid/--gid
 * the same way): by default a uid of its own per running worker from a
 * range that no account uses (sandbox.uid_base, sandbox.uid_count in the
 * daemon config; gid = uid), so no worker may signal, trace or share
 * anything with another by being the same user; or one configured user
 * for all (sandbox.user). A VM prefers the same uid each run (a hash of
 * the state directory and its name, so two vmmds on one host rarely meet)
 * and takes the next free one when another worker holds that.
 *
 * Not root: the workers stay the supervisor's user (there is no other to
 * become), and the jail still takes their capabilities and file system.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct daemon_config;

struct sandbox_users {
	bool change;            /* workers change user (vmmd is root) */
	bool fixed;             /* sandbox.user: everyone the same */
	uid_t uid;              /* fixed */
	gid_t gid;
	uint32_t base, count;   /* otherwise: the range */
};

/* From the config; as root, a named user is resolved now (-ENOENT when
 * there is none, -EPERM for root itself). */
int sandbox_users_init(struct sandbox_users *s, const struct daemon_config *c, bool root);

/* Which of a VM's uids to try first. */
uint64_t sandbox_user_hash(const char *state_dir, const char *vm_name);

typedef bool (*sandbox_uid_in_use_fn)(void *userdata, uid_t uid);

/* The user for a new worker: the first uid from the VM's preferred one on
 * that in_use says is free. 0, or -EUSERS when every uid of the range is
 * taken. Only with s->change. */
int sandbox_user_pick(const struct sandbox_users *s, uint64_t hash, sandbox_uid_in_use_fn in_use, void *userdata,
		      uid_t *ret_uid, gid_t *ret_gid);
