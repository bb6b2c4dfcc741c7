/* SPDX-License-Identifier: MIT */
/* base/macro.h: the cleanup attributes really release, TAKE_* really hand over. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup_json.h"
#include "base/macro.h"

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_safe_close(void **state)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	errno = 42;
	assert_int_equal(safe_close(fd), -EBADF);
	assert_int_equal(errno, 42);   /* kept: callers report the error they had */
	assert_false(fd_open(fd));
	/* "No fd" in both spellings is no error and touches nothing. */
	assert_int_equal(safe_close(-1), -EBADF);
	assert_int_equal(safe_close(-EBADF), -EBADF);
	/* fd 0 is an fd like any other (the bug `fd > 0` makes). */
	int saved = dup(0);
	assert_true(saved >= 0);
	assert_int_equal(safe_close(0), -EBADF);
	assert_false(fd_open(0));
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
}

static int scoped_open(bool keep, int *ret)
{
	_cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*ret = fd;
	if (!keep)
		return -EIO;   /* the cleanup closes it */
	return TAKE_FD(fd);
}

static void test_cleanup_close_and_take_fd(void **state)
{
	int seen = -1;

	assert_int_equal(scoped_open(false, &seen), -EIO);
	assert_false(fd_open(seen));
	int fd = scoped_open(true, &seen);
	assert_int_equal(fd, seen);
	assert_true(fd_open(fd));
	close(fd);
}

static void test_take_ptr(void **state)
{
	_cleanup_free_ char *p = strdup("x");
	char *q;

	assert_non_null(p);
	q = TAKE_PTR(p);
	assert_null(p);
	assert_string_equal(q, "x");
	free(q);
}

static int json_seen_freed;

static void note_free(struct json_object *o, void *userdata)
{
	json_seen_freed++;
}

static void scoped_json(void)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	_cleanup_(json_object_putp) struct json_object *none = NULL;   /* NULL: nothing to do */

	json_object_set_userdata(o, NULL, note_free);
}

static void test_json_cleanup(void **state)
{
	json_seen_freed = 0;
	scoped_json();
	assert_int_equal(json_seen_freed, 1);
}

static void test_elementsof(void **state)
{
	static const int a[7];
	struct { char c[3]; } s;

	assert_int_equal(ELEMENTSOF(a), 7);
	assert_int_equal(ELEMENTSOF(s.c), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_safe_close),
		cmocka_unit_test(test_cleanup_close_and_take_fd),
		cmocka_unit_test(test_take_ptr),
		cmocka_unit_test(test_json_cleanup),
		cmocka_unit_test(test_elementsof),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
