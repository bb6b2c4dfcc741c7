/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmd/access.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

static const char *const role_names[] = {
	[ACCESS_NONE] = "none", [ACCESS_MONITOR] = "monitor", [ACCESS_DEBUG] = "debug", [ACCESS_ADMIN] = "admin",
};

int access_role_from_name(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(role_names); i++)
		if (strcmp(name, role_names[i]) == 0)
			return (int) i;
	/* Command lines and configs written before monitor was split off. */
	if (strcmp(name, "read") == 0)
		return ACCESS_DEBUG;
	return -EINVAL;
}

const char *access_role_name(enum access_role role)
{
	return (unsigned) role < ELEMENTSOF(role_names) ? role_names[role] : "?";
}

void access_policy_init(struct access_policy *p)
{
	*p = (struct access_policy) { .others = ACCESS_MONITOR, .self_uid = geteuid() };
}

/* A decimal id below the "-1" that means "no id". */
static int parse_id(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v >= UINT_MAX)
		return -EINVAL;
	*ret = (unsigned) v;
	return 0;
}

/* getpwnam/getgrnam found nothing: "not found" unless the lookup itself failed. */
static int lookup_error(void)
{
	return errno == EIO || errno == ENOMEM || errno == EMFILE || errno == ENFILE ? -errno : -ENOENT;
}

int access_policy_add(struct access_policy *p, const char *spec, enum access_role role)
{
	struct access_rule rule = { .role = role };
	const char *name = spec;

	if (!spec || role > ACCESS_ADMIN)
		return -EINVAL;
	if (name[0] == '@') {
		rule.is_group = true;
		name++;
	}
	if (!name[0])
		return -EINVAL;
	if (parse_id(name, &rule.id) < 0) {
		/* A name: resolved now, so a typo fails at start-up, not at the first client. */
		errno = 0;
		if (rule.is_group) {
			struct group *g = getgrnam(name);
			if (!g)
				return lookup_error();
			rule.id = g->gr_gid;
		} else {
			struct passwd *pw = getpwnam(name);
			if (!pw)
				return lookup_error();
			rule.id = pw->pw_uid;
		}
	}
	if (p->n_rules >= ACCESS_MAX_RULES)
		return -E2BIG;
	p->rules[p->n_rules++] = rule;
	return 0;
}

int access_peer_get(int fd, struct access_peer *ret)
{
	struct access_peer peer = { 0 };
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (len != sizeof(cred))
		return -EIO;
	peer.pid = cred.pid;
	peer.uid = cred.uid;
	peer.gid = cred.gid;
	/* Supplementary groups (Linux 4.13). With more than fit, the kernel
	 * says ERANGE and how many there are: ask again with that (issue 14,
	 * finding 12: ignoring them let a member of a refused group in). */
	len = 64 * sizeof(gid_t);
	for (int tries = 0; tries < 4; tries++) {
		gid_t *groups = realloc(peer.groups, len ? len : sizeof(gid_t));
		if (!groups) {
			free(peer.groups);
			return -ENOMEM;
		}
		peer.groups = groups;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, peer.groups, &len) == 0) {
			peer.n_groups = len / sizeof(gid_t);
			*ret = peer;
			return 0;
		}
		if (errno != ERANGE || len > ACCESS_MAX_GROUPS * sizeof(gid_t))
			break;
	}
	free(peer.groups);
	peer.groups = NULL;
	peer.groups_unknown = true;
	*ret = peer;
	return 0;
}

void access_peer_done(struct access_peer *peer)
{
	free(peer->groups);
	peer->groups = NULL;
	peer->n_groups = 0;
}

static bool peer_in_group(const struct access_peer *peer, unsigned gid)
{
	if (peer->gid == gid)
		return true;
	for (size_t i = 0; i < peer->n_groups; i++)
		if (peer->groups[i] == gid)
			return true;
	return false;
}

enum access_role access_role_of(const struct access_policy *p, const struct access_peer *peer)
{
	if (peer->uid == 0 || peer->uid == p->self_uid)
		return ACCESS_ADMIN;
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct access_rule *r = &p->rules[i];
		if (r->is_group && peer->groups_unknown && peer->gid != r->id)
			return ACCESS_NONE;   /* member or not, we cannot tell: no access rather than more */
		if (r->is_group ? peer_in_group(peer, r->id) : peer->uid == r->id)
			return r->role;
	}
	return p->others;
}
