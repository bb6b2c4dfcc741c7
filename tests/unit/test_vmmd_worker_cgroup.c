/* SPDX-License-Identifier: MIT */
/*
 * vmmd/worker_cgroup.c (issue 14, finding 17): finding vmmd's cgroup and
 * the cgroup2 mount from /proc's words, and taking a delegated subtree.
 * The cgroup file system is played by a folder (cgroup.controllers,
 * cgroup.subtree_control, the files the kernel would make in a new
 * cgroup; systemd's user.delegate mark as an xattr), so the decisions and
 * what is written where are checked on any host; test_sandbox.py sees the
 * fallback on a real one.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmmd/worker_cgroup.h"

static char top[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *get(const char *rel)
{
	static char buf[256];
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void dir(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

/* systemd's mark; false where the file system has no user xattrs. */
static bool mark_delegated(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	return setxattr(path, "user.delegate", "1", 1, 0) == 0;
}

static void test_parse(void **state)
{
	char buf[256];

	assert_int_equal(cgroup_parse_own("12:memory:/x\n1:name=systemd:/y\n0::/system.slice/vmmd.service/supervisor\n",
					  buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/system.slice/vmmd.service/supervisor");
	assert_int_equal(cgroup_parse_own("0::/\n", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/");
	assert_int_equal(cgroup_parse_own("4:memory:/x\n", buf, sizeof(buf)), -ENOENT);   /* cgroup v1 only */
	assert_int_equal(cgroup_parse_own("", buf, sizeof(buf)), -ENOENT);

	static const char mi[] =
		"25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw\n"
		"30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
		"31 30 0:27 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n"
		"40 30 0:28 /ns /sys/fs/cgroup/other rw - cgroup2 cgroup2 rw\n"
		"41 30 0:28 / /sys/fs/cgroup/unified rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
	assert_int_equal(cgroup_parse_mount(mi, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");   /* the whole hierarchy, not a namespaced piece */
	assert_int_equal(cgroup_parse_mount("31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw\n", buf,
					    sizeof(buf)), -ENOENT);
}

static int make_top(void **state)
{
	snprintf(top, sizeof(top), "/tmp/test_vmmd_worker_cgroup.XXXXXX");
	assert_non_null(mkdtemp(top));
	return 0;
}

static int remove_top(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_delegated(void **state)
{
	struct worker_cgroups c;
	char why[512] = "", own[128];

	/* systemd >= 254 with Delegate=yes, DelegateSubgroup=supervisor. */
	dir("svc");
	dir("svc/supervisor");
	put("svc/cgroup.controllers", "cpu io memory pids\n");
	put("svc/cgroup.subtree_control", "");
	if (!mark_delegated("svc"))
		skip();   /* no user xattrs on this file system */
	assert_int_equal(worker_cgroups_open(&c, top, "/svc/supervisor", why, sizeof(why)), 0);
	assert_true(c.root_fd >= 0);
	snprintf(own, sizeof(own), "%s/svc", top);
	assert_string_equal(c.root, own);
	assert_string_equal(get("svc/cgroup.subtree_control"), "+memory");

	/* A worker: the kernel makes a new cgroup's files; vmmd fills them in. */
	dir("svc/vm-web");
	put("svc/vm-web/memory.max", "max\n");
	put("svc/vm-web/memory.oom.group", "0\n");
	put("svc/vm-web/cgroup.procs", "");
	uint64_t max = worker_cgroup_memory_max(256, 64 << 10);
	assert_true(max == (((uint64_t) 256 + WORKER_MEMORY_OVERHEAD_MIB) << 20) + (64 << 10));
	assert_int_equal(worker_cgroup_enter(&c, "web", max, 4242), 0);
	char want[32];
	snprintf(want, sizeof(want), "%llu", (unsigned long long) max);
	assert_string_equal(get("svc/vm-web/memory.max"), want);
	assert_string_equal(get("svc/vm-web/memory.oom.group"), "1");
	assert_string_equal(get("svc/vm-web/cgroup.procs"), "4242");
	assert_true(worker_cgroup_exists(&c, "web"));
	assert_false(worker_cgroup_exists(&c, "db"));
	/* Removed once empty (the kernel's rmdir ignores its own files; a folder cannot). */
	dir("svc/vm-gone");
	assert_int_equal(worker_cgroup_remove(&c, "gone"), 0);
	assert_int_equal(worker_cgroup_remove(&c, "gone"), -ENOENT);
	/* Enabled already (a restarted vmmd): left as it is. */
	worker_cgroups_close(&c);
	put("svc/cgroup.subtree_control", "memory pids\n");
	assert_int_equal(worker_cgroups_open(&c, top, "/svc/supervisor", why, sizeof(why)), 0);
	assert_string_equal(get("svc/cgroup.subtree_control"), "memory pids\n");
	worker_cgroups_close(&c);
}

static void test_fallbacks(void **state)
{
	struct worker_cgroups c;
	char why[512];

	dir("plain");
	dir("plain/supervisor");
	dir("top");
	dir("nomem");
	dir("nomem/supervisor");
	put("nomem/cgroup.controllers", "cpu io pids\n");
	if (!mark_delegated("top") || !mark_delegated("nomem"))
		skip();
	/* Not delegated: no Delegate= in the unit, or no systemd. */
	assert_int_equal(worker_cgroups_open(&c, top, "/plain/supervisor", why, sizeof(why)), -EPERM);
	assert_int_equal(c.root_fd < 0, true);
	assert_non_null(strstr(why, "Delegate="));
	/* systemd < 254: vmmd at the top of its delegated cgroup. Enabling a
	 * controller there would keep systemd from starting it again. */
	assert_int_equal(worker_cgroups_open(&c, top, "/top", why, sizeof(why)), -EBUSY);
	assert_non_null(strstr(why, "DelegateSubgroup="));
	/* No memory controller delegated. */
	assert_int_equal(worker_cgroups_open(&c, top, "/nomem/supervisor", why, sizeof(why)), -EOPNOTSUPP);
	assert_non_null(strstr(why, "no memory controller"));
	/* The root cgroup. */
	assert_int_equal(worker_cgroups_open(&c, top, "/", why, sizeof(why)), -EPERM);
	/* No cgroup at all: a worker cgroup is refused, not made somewhere. */
	assert_int_equal(worker_cgroup_enter(&c, "web", 1, 1), -EBADF);
	assert_false(worker_cgroup_exists(&c, "web"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_delegated, make_top, remove_top),
		cmocka_unit_test_setup_teardown(test_fallbacks, make_top, remove_top),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
