/* SPDX-License-Identifier: MIT */
/* vmmd/state_dir.c: the state directory's checks, durable replacement, bounded reads. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/macro.h"
#include "vmmd/state_dir.h"

struct fixture {
	char dir[64];
	int fd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *why = NULL;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_state_dir.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(state_dir_open(f->dir, &f->fd, &why), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	close(f->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_write_then_read(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	assert_int_equal(state_file_write(f->fd, "a.json", "{\"x\":1}\n", 8, true), 0);
	assert_int_equal(state_file_write(f->fd, "a.json", "{}\n", 3, false), 0);   /* replaced whole */
	assert_int_equal(state_file_read(f->fd, "a.json", 100, &text, &len), 0);
	assert_int_equal(len, 3);
	assert_string_equal(text, "{}\n");
	assert_int_equal(faccessat(f->fd, "a.json.tmp", F_OK, 0), -1);   /* nothing left over */
	free(TAKE_PTR(text));
	assert_int_equal(state_file_read(f->fd, "a.json", 2, &text, &len), -EFBIG);
	assert_int_equal(state_file_read(f->fd, "none.json", 100, &text, &len), -ENOENT);
}

/* A link where the temporary file goes is removed, not followed; a link as
 * the file itself is not read. */
static void test_links(void **state)
{
	struct fixture *f = *state;
	char target[96], tmp[96];
	_cleanup_free_ char *text = NULL;
	size_t len;

	snprintf(target, sizeof(target), "%s/target", f->dir);
	snprintf(tmp, sizeof(tmp), "%s/b.json.tmp", f->dir);
	int fd = open(target, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_int_equal(symlink(target, tmp), 0);
	assert_int_equal(state_file_write(f->fd, "b.json", "new", 3, true), 0);
	assert_int_equal(state_file_read(f->fd, "target", 100, &text, &len), 0);
	assert_string_equal(text, "precious");
	assert_int_equal(symlinkat("target", f->fd, "c.json"), 0);
	assert_int_equal(state_file_read(f->fd, "c.json", 100, &text, &len), -ELOOP);
}

static void test_unsafe_dirs(void **state)
{
	struct fixture *f = *state;
	const char *why = NULL;
	int fd = -1;

	assert_int_equal(chmod(f->dir, 0770), 0);
	assert_int_equal(state_dir_open(f->dir, &fd, &why), -EACCES);
	assert_non_null(why);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(state_dir_open(f->dir, &fd, &why), 0);
	close(fd);
	if (geteuid() == 0) {
		assert_int_equal(chown(f->dir, 65534, 65534), 0);
		assert_int_equal(state_dir_open(f->dir, &fd, &why), -EPERM);
		assert_int_equal(chown(f->dir, 0, 0), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_then_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_dirs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
