/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "config/daemon_config.h"
#include "vmmd/sandbox_user.h"

int sandbox_users_init(struct sandbox_users *s, const struct daemon_config *c, bool root)
{
	*s = (struct sandbox_users) { .change = root, .base = c->sandbox_uid_base, .count = c->sandbox_uid_count };
	if (!root || !c->sandbox_user[0])
		return 0;
	char *end;
	errno = 0;
	unsigned long id = strtoul(c->sandbox_user, &end, 10);
	struct passwd *pw = NULL;
	if (c->sandbox_user[0] >= '0' && c->sandbox_user[0] <= '9' && !*end && !errno && id < UINT_MAX) {
		pw = getpwuid((uid_t) id);
		s->uid = (uid_t) id;
		s->gid = pw ? pw->pw_gid : (gid_t) id;   /* a bare uid: its number as its group too */
	} else {
		pw = getpwnam(c->sandbox_user);
		if (!pw)
			return -ENOENT;
		s->uid = pw->pw_uid;
		s->gid = pw->pw_gid;
	}
	if (s->uid == 0 || s->gid == 0)
		return -EPERM;
	s->fixed = true;
	return 0;
}

uint64_t sandbox_user_hash(const char *state_dir, const char *vm_name)
{
	uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a */

	for (const char *p = state_dir; *p; p++)
		h = (h ^ (unsigned char) *p) * 0x100000001b3ull;
	h = (h ^ '/') * 0x100000001b3ull;
	for (const char *p = vm_name; *p; p++)
		h = (h ^ (unsigned char) *p) * 0x100000001b3ull;
	return h;
}

int sandbox_user_pick(const struct sandbox_users *s, uint64_t hash, sandbox_uid_in_use_fn in_use, void *userdata,
		      uid_t *ret_uid, gid_t *ret_gid)
{
	if (s->fixed) {
		*ret_uid = s->uid;
		*ret_gid = s->gid;
		return 0;
	}
	for (uint32_t i = 0; i < s->count; i++) {
		uid_t uid = s->base + (uint32_t) ((hash + i) % s->count);
		if (!in_use(userdata, uid)) {
			*ret_uid = uid;
			*ret_gid = (gid_t) uid;
			return 0;
		}
	}
	return -EUSERS;
}
