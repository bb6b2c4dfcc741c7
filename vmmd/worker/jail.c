/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/macro.h"
#include "base/write_file.h"
#include "vmmd/worker/jail.h"

#define CAP_MAX 64   /* past CAP_LAST_CAP of any kernel: PR_CAPBSET_* say EINVAL there */

/* Where the empty root is mounted before pivot_root makes it /: any
 * directory will do (the mount is the new namespace's alone). */
static const char *const root_mount_points[] = { "/tmp", "/run", "/mnt", "/var/tmp" };

/* How many threads the process has (the entries of /proc/self/task); 0
 * when that cannot be read. */
static unsigned thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ret->why gets "what: strerror" appended (several steps may each add one). */
static void note(struct jail_state *ret, const char *what, int r)
{
	size_t len = strlen(ret->why);

	snprintf(ret->why + len, sizeof(ret->why) - len, "%s%s: %s", len ? "; " : "", what, strerror(-r));
}

/* In a new mount namespace: an empty, read-only tmpfs becomes / and the
 * old root goes (pivot_root(".", ".") then detaching what is stacked on
 * it, pivot_root(2)). 0, or -errno with *ret_step naming the step. */
static int make_root(const char **ret_step)
{
	const char *at = NULL;
	struct stat st;

	*ret_step = "making the mounts private";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	for (size_t i = 0; !at && i < ELEMENTSOF(root_mount_points); i++)
		if (stat(root_mount_points[i], &st) == 0 && S_ISDIR(st.st_mode))
			at = root_mount_points[i];
	*ret_step = "finding a directory to mount the root on";
	if (!at)
		return -ENOENT;
	*ret_step = "mounting the empty root";
	if (mount("vmmd-worker", at, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=16,mode=0555") < 0)
		return -errno;
	*ret_step = "pivot_root";
	if (chdir(at) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return -errno;
	*ret_step = "detaching the old root";
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return -errno;
	*ret_step = "making the root read-only";
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -errno;
	return 0;
}

/* Empty the bounding set (needs CAP_SETPCAP: as root, or in our own user
 * namespace; elsewhere the set is whatever the caller's was). */
static void drop_bounding_set(void)
{
	for (unsigned long cap = 0; cap < CAP_MAX; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;
}

/* Effective, permitted, inheritable and ambient: empty. */
static int clear_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

	(void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* Effective, permitted, inheritable and ambient: none. (The bounding set
 * only limits what an exec could gain, which no_new_privs and the filter
 * rule out; jail_enter empties it too where it may.) */
static bool caps_empty(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(d); i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return false;
	for (unsigned long cap = 0; cap < CAP_MAX; cap++) {
		int a = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
		if (a < 0)
			break;
		if (a > 0)
			return false;
	}
	return true;
}

/* No supplementary groups, then gid, then uid: all three of each. As root
 * without SECBIT_KEEP_CAPS the kernel clears every capability set but the
 * bounding one when the last uid 0 goes. */
static int change_user(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;

	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid)
		return -EPERM;
	return 0;
}

/* A user namespace mapping only our own uid and gid onto themselves, and a
 * mount namespace it owns, with the empty root. */
static int enter_user_ns(struct jail_state *ret)
{
	char map[64];
	const char *step = "unshare(CLONE_NEWUSER|CLONE_NEWNS)";
	int r = 0;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		r = -errno;
	/* /proc/self's files are root's while we are not dumpable (after a uid
	 * change): ours again for as long as it takes to write the maps. */
	if (r == 0) {
		step = "writing the uid and gid maps";
		(void) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned) ret->uid, (unsigned) ret->uid);
		r = write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny", 0);
		if (r == 0 || r == -ENOENT)   /* before Linux 3.19 there is no setgroups file */
			r = write_file_at(AT_FDCWD, "/proc/self/uid_map", map, 0);
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned) ret->gid, (unsigned) ret->gid);
		if (r == 0)
			r = write_file_at(AT_FDCWD, "/proc/self/gid_map", map, 0);
		(void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	if (r == 0)
		r = make_root(&step);
	if (r < 0) {
		note(ret, step, r);
		(void) chdir("/");
		return r;
	}
	ret->user_ns = ret->mount_ns = true;
	return 0;
}

/* As root with CAP_SYS_ADMIN: a mount namespace of our own with the empty root. */
static int enter_mount_ns(struct jail_state *ret)
{
	const char *step;
	int r;

	if (unshare(CLONE_NEWNS) < 0) {
		r = -errno;
		note(ret, "unshare(CLONE_NEWNS)", r);
		return r;
	}
	r = make_root(&step);
	if (r < 0) {
		note(ret, step, r);
		(void) chdir("/");
	}
	return r;
}

int jail_enter(const struct jail_config *c, struct jail_state *ret)
{
	struct jail_state s = { .uid = getuid(), .gid = getgid() };
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		note(&s, "no_new_privs", -errno);
	/* A namespace is entered by the calling thread alone: another thread
	 * would keep the host's mount namespace (CLONE_NEWNS), or make the
	 * user namespace fail (CLONE_NEWUSER). Neither is tried then, and
	 * `why` names the caller's mistake; the user and capabilities still go. */
	unsigned threads = thread_count();
	bool namespaces = threads <= 1;
	if (!namespaces) {
		size_t len = strlen(s.why);
		snprintf(s.why + len, sizeof(s.why) - len, "%s%u threads run already: the mount namespace needs one",
			 len ? "; " : "", threads);
	}
	size_t keep = strlen(s.why);   /* what the mount namespace's first way says is moot if the second works */
	if (c->change_user) {
		/* Root with CAP_SYS_ADMIN: a plain mount namespace, built while we may. */
		if (namespaces)
			s.mount_ns = enter_mount_ns(&s) == 0;
		drop_bounding_set();
		r = change_user(c->uid, c->gid);
		if (r < 0)
			return r;
		s.uid = c->uid;
		s.gid = c->gid;
		s.user_changed = true;
	}
	if (namespaces && !s.mount_ns && enter_user_ns(&s) == 0) {
		s.why[keep] = '\0';
		drop_bounding_set();
	}
	r = clear_caps();
	if (r < 0)
		note(&s, "clearing capabilities", r);
	s.caps_dropped = caps_empty();
	*ret = s;
	return 0;
}
