/* SPDX-License-Identifier: MIT */
/*
 * vmmd/worker/console_log.c: console.log from the ring, on a thread of its
 * own. The writer of the ring (a vCPU) never waits for the log, however
 * slow it is; the log keeps its cap and rotates through its parts; what
 * the ring dropped before the log got it is said in the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmmd/worker/console_log.h"

struct fixture {
	char dir[64];
	struct console_ring ring;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[96];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_console_log.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/ring", f->dir);
	assert_int_equal(console_ring_create(path, 4096, &f->ring), 0);
	signal(SIGPIPE, SIG_IGN);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	console_ring_close(&f->ring);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int open_file(struct fixture *f, const char *name)
{
	char path[96];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	return fd;
}

static size_t read_all(int fd, char *buf, size_t max)
{
	ssize_t n = pread(fd, buf, max, 0);
	assert_true(n >= 0);
	return (size_t) n;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Lines "NNNN\n" appended a few at a time, as a guest prints: the log and
 * its two parts each stay within 100 bytes and hold the newest lines, in
 * order. */
static void test_cap_and_rotation(void **state)
{
	struct fixture *f = *state;
	struct console_log l;
	int log = open_file(f, "log"), parts[2] = { open_file(f, "log.1"), open_file(f, "log.2") };
	int keep[3] = { dup(log), dup(parts[0]), dup(parts[1]) };

	assert_int_equal(console_log_start(&l, &f->ring, log, parts, 2, 100), 0);
	assert_int_equal(console_log_run(&l), 0);
	char line[8];
	for (int i = 0; i < 200; i++) {
		snprintf(line, sizeof(line), "%04d\n", i);
		console_ring_append(&f->ring, (const uint8_t *) line, 5);
		console_log_notify(&l);
		if (i % 16 == 0)
			usleep(1000);   /* let it rotate mid-stream too */
	}
	assert_true(console_log_stop(&l, 2000));
	assert_true(l.rotations >= 3);

	char text[400] = "", buf[200];
	for (int i = 2; i >= 0; i--) {
		size_t n = read_all(keep[i], buf, sizeof(buf) - 1);
		assert_true(n <= 100);
		buf[n] = '\0';
		strcat(text, buf);
		close(keep[i]);
	}
	/* Whole lines (the cap is a multiple of 5 here): the last 60 or so, in order, ending at 0199. */
	size_t len = strlen(text);
	assert_true(len >= 200 && len % 5 == 0);
	int first = atoi(text);
	for (size_t at = 0; at < len; at += 5) {
		snprintf(line, sizeof(line), "%04d\n", first + (int) (at / 5));
		assert_memory_equal(text + at, line, 5);
	}
	assert_string_equal(text + len - 5, "0199\n");
}

/* A log that takes nothing (a full pipe): appending and notifying still
 * return at once; stop gives up on the stuck thread after its timeout;
 * once the log moves again the thread says what the ring dropped. */
static void test_never_blocks_and_says_what_was_lost(void **state)
{
	struct fixture *f = *state;
	struct console_log l;
	int pipefd[2];
	static char chunk[65536];

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	int flags = fcntl(pipefd[1], F_GETFL);
	assert_int_equal(fcntl(pipefd[1], F_SETFL, flags | O_NONBLOCK), 0);
	while (write(pipefd[1], chunk, sizeof(chunk)) > 0)
		;   /* full */
	assert_int_equal(fcntl(pipefd[1], F_SETFL, flags), 0);
	assert_int_equal(console_log_start(&l, &f->ring, pipefd[1], NULL, 0, 0), 0);
	assert_int_equal(console_log_run(&l), 0);

	double t0 = now();
	for (int i = 0; i < 20000; i++) {
		console_ring_append(&f->ring, (const uint8_t *) "x", 1);
		console_log_notify(&l);
	}
	assert_true(now() - t0 < 1.0);   /* the vCPU's side never waited for the log */
	usleep(50 * 1000);               /* the thread is in its write, stuck */
	t0 = now();
	assert_false(console_log_stop(&l, 100));
	assert_true(now() - t0 < 1.0);

	/* Empty the pipe: the thread finishes its write, then finds the ring
	 * 4 KiB long after 20000 bytes: the rest did not reach the log. */
	size_t got = 0;
	char *all = malloc(1 << 20);
	assert_non_null(all);
	flags = fcntl(pipefd[0], F_GETFL);
	assert_int_equal(fcntl(pipefd[0], F_SETFL, flags | O_NONBLOCK), 0);
	for (double end = now() + 5; now() < end; ) {
		ssize_t n = read(pipefd[0], all + got, (1 << 20) - got - 1);
		if (n > 0)
			got += (size_t) n;
		else
			usleep(10000);
		all[got] = '\0';
		if (got > sizeof(chunk) && memmem(all, got, "did not reach this log", 22))
			break;
	}
	assert_non_null(memmem(all, got, "did not reach this log", 22));
	pthread_join(l.thread, NULL);
	close(pipefd[0]);
	close(pipefd[1]);
	free(l.buf);
	close(l.wake_fd);
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cap_and_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_blocks_and_says_what_was_lost, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
