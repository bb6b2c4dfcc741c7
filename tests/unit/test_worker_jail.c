/* SPDX-License-Identifier: MIT */
/*
 * vmmd/worker/jail.c on the real kernel (issue 14, finding 13): each case
 * forks a child that enters the jail the way a worker does, looks at what
 * it can still see and do, and reports through a pipe. Each way to the
 * mount namespace is taken in turn: as root with CAP_SYS_ADMIN, as root
 * without it (vmmd's systemd unit: a user namespace after the change of
 * user), as a user that is not root (no change of user), and with
 * namespaces refused (a seccomp filter of the caller's): the worker runs
 * on with the host's file system, says why, and has still left root.
 * Needs root (skips with 77 otherwise).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmmd/worker/jail.h"

#define JAIL_UID 1879048192u   /* the default range's first (config/daemon_config.h) */
#define OTHER_UID 1879048193u

/* What the child saw, once jailed. */
struct seen {
	int r;
	struct jail_state st;
	uid_t ruid, euid, suid;
	bool root_empty;         /* "/" lists nothing but . and .. */
	int open_passwd;         /* errno of opening /etc/passwd, 0 if it opened */
	int mkdir_root;          /* errno of mkdir("/x") */
	int kill_init;           /* errno of kill(1, 0) */
	bool nnp;
	bool caps_zero;          /* capget: effective, permitted, inheritable all 0 */
	int setuid_back;         /* errno of setuid(0) */
};

enum prep { PREP_NONE, PREP_NO_SYS_ADMIN, PREP_NOT_ROOT, PREP_NO_NAMESPACES, PREP_THREAD };

static bool root_empty(void)
{
	DIR *d = opendir("/");
	struct dirent *e;
	int n = 0;

	if (!d)
		return false;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n == 0;
}

static void *sleeper(void *unused)
{
	for (;;)
		pause();
	return NULL;
}

static void prepare(enum prep p)
{
	pthread_t t;

	if (p == PREP_NO_SYS_ADMIN) {
		/* As systemd's unit leaves vmmd: root, no CAP_SYS_ADMIN anywhere. */
		struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct d[2];

		prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0);
		syscall(SYS_capget, &h, d);
		d[0].effective &= ~(1u << CAP_SYS_ADMIN);
		d[0].permitted &= ~(1u << CAP_SYS_ADMIN);
		syscall(SYS_capset, &h, d);
	} else if (p == PREP_NOT_ROOT) {
		/* vmmd run by a user: the worker is that user from the start. */
		if (setresgid(OTHER_UID, OTHER_UID, OTHER_UID) < 0 || setresuid(OTHER_UID, OTHER_UID, OTHER_UID) < 0)
			_exit(3);
	} else if (p == PREP_THREAD) {
		/* A caller that started a thread first (a device's, a log writer's). */
		if (pthread_create(&t, NULL, sleeper, NULL) != 0)
			_exit(5);
	} else if (p == PREP_NO_NAMESPACES) {
		/* A caller that allows no namespaces (a host policy, a container's filter). */
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

		seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0);
		if (seccomp_load(ctx) < 0)
			_exit(4);
		seccomp_release(ctx);
	}
}

static struct seen run_jailed(enum prep p, const struct jail_config *c)
{
	struct seen s;
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct d[2];

		memset(&s, 0, sizeof(s));
		close(fds[0]);
		prepare(p);
		s.r = jail_enter(c, &s.st);
		getresuid(&s.ruid, &s.euid, &s.suid);
		s.root_empty = root_empty();
		s.open_passwd = open("/etc/passwd", O_RDONLY | O_CLOEXEC) < 0 ? errno : 0;
		s.mkdir_root = mkdir("/x", 0700) < 0 ? errno : 0;
		s.kill_init = kill(1, 0) < 0 ? errno : 0;
		s.nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
		s.caps_zero = syscall(SYS_capget, &h, d) == 0 && !d[0].effective && !d[0].permitted &&
			      !d[0].inheritable && !d[1].effective && !d[1].permitted && !d[1].inheritable;
		s.setuid_back = setuid(0) < 0 ? errno : 0;
		if (write(fds[1], &s, sizeof(s)) != sizeof(s))
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	memset(&s, 0, sizeof(s));
	assert_int_equal(read(fds[0], &s, sizeof(s)), (ssize_t) sizeof(s));
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return s;
}

/* What holds in every case: no capabilities, no way back to root, no_new_privs, init out of reach. */
static void check_common(const struct seen *s, uid_t uid)
{
	assert_int_equal(s->r, 0);
	assert_true(s->ruid == uid && s->euid == uid && s->suid == uid);
	assert_int_equal(s->st.uid, uid);
	assert_true(s->st.caps_dropped);
	assert_true(s->caps_zero);
	assert_true(s->nnp);
	/* EPERM; in our own user namespace uid 0 has no mapping at all: EINVAL. */
	assert_true(s->setuid_back == EPERM || (s->st.user_ns && s->setuid_back == EINVAL));
	assert_int_equal(s->kill_init, EPERM);
}

static void check_private_root(const struct seen *s)
{
	assert_true(s->st.mount_ns);
	assert_string_equal(s->st.why, "");
	assert_true(s->root_empty);
	assert_int_equal(s->open_passwd, ENOENT);
	assert_int_equal(s->mkdir_root, EROFS);
}

static void test_root_with_sys_admin(void **state)
{
	struct jail_config c = { .change_user = true, .uid = JAIL_UID, .gid = JAIL_UID };
	struct seen s = run_jailed(PREP_NONE, &c);

	check_common(&s, JAIL_UID);
	check_private_root(&s);
	assert_true(s.st.user_changed);
	assert_false(s.st.user_ns);
}

static void test_root_without_sys_admin(void **state)
{
	struct jail_config c = { .change_user = true, .uid = JAIL_UID, .gid = JAIL_UID };
	struct seen s = run_jailed(PREP_NO_SYS_ADMIN, &c);

	check_common(&s, JAIL_UID);
	check_private_root(&s);
	assert_true(s.st.user_ns);   /* the second way: our own user namespace */
}

static void test_not_root(void **state)
{
	struct jail_config c = { .change_user = false };
	struct seen s = run_jailed(PREP_NOT_ROOT, &c);

	check_common(&s, OTHER_UID);
	check_private_root(&s);
	assert_false(s.st.user_changed);
	assert_true(s.st.user_ns);
}

static void test_no_namespaces(void **state)
{
	struct jail_config c = { .change_user = true, .uid = JAIL_UID, .gid = JAIL_UID };
	struct seen s = run_jailed(PREP_NO_NAMESPACES, &c);

	/* The host's file system stays in view, and the state says why; root is gone all the same. */
	check_common(&s, JAIL_UID);
	assert_false(s.st.mount_ns);
	assert_false(s.root_empty);
	assert_non_null(strstr(s.st.why, "unshare(CLONE_NEWNS)"));
	assert_non_null(strstr(s.st.why, "Operation not permitted"));
}

static void test_second_thread(void **state)
{
	struct jail_config c = { .change_user = true, .uid = JAIL_UID, .gid = JAIL_UID };
	struct seen s = run_jailed(PREP_THREAD, &c);

	/* No namespace: the sleeping thread would keep the host's mount
	 * namespace. The user and capabilities go all the same. */
	check_common(&s, JAIL_UID);
	assert_false(s.st.mount_ns);
	assert_false(s.root_empty);
	assert_non_null(strstr(s.st.why, "2 threads run already"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_with_sys_admin),
		cmocka_unit_test(test_root_without_sys_admin),
		cmocka_unit_test(test_not_root),
		cmocka_unit_test(test_no_namespaces),
		cmocka_unit_test(test_second_thread),
	};

	if (geteuid() != 0) {
		printf("SKIP: needs root, to leave it\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
