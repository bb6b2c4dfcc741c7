/* SPDX-License-Identifier: MIT */
/*
 * vmmd/common/console_ring: the console history file shared between the
 * worker (writer) and the supervisor (read-only reader), in a mkdtemp dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmmd/common/console_ring.h"

#define HDR_SIZE 4096   /* console_ring.c: the header owns a page */

static char tmpdir[] = "/tmp/vmmd-test-ring-XXXXXX";
static char path[128];

static int make_tmpdir(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof(path), "%s/console", tmpdir);
	return 0;
}

static int remove_tmpdir(void **state)
{
	static const char *const names[] = { "console", "other", "link" };
	char p[160];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
		(void) unlink(p);
	}
	return rmdir(tmpdir);
}

static void append_str(struct console_ring *r, const char *s)
{
	console_ring_append(r, (const uint8_t *) s, strlen(s));
}

/* Read [offset, ...) with max bytes and compare with want, starting at want_start. */
static void expect_read(const struct console_ring *r, uint64_t offset, size_t max,
			uint64_t want_start, const char *want)
{
	uint8_t buf[256];
	uint64_t start = 0xdeadbeef;

	assert_true(max <= sizeof(buf));
	memset(buf, 0, sizeof(buf));
	size_t n = console_ring_read(r, offset, buf, max, &start);
	if (n != strlen(want) || memcmp(buf, want, n) != 0 || start != want_start)
		fail_msg("read(%llu, max %zu): got %zu bytes \"%.*s\" from %llu, want \"%s\" from %llu",
			 (unsigned long long) offset, max, n, (int) n, (const char *) buf,
			 (unsigned long long) start, want, (unsigned long long) want_start);
}

static void test_create_layout(void **state)
{
	struct console_ring r = { 0 };
	struct stat st;

	assert_int_equal(console_ring_create(path, 100, &r), 0);
	assert_non_null(r.hdr);
	assert_true(r.writable);
	assert_ptr_equal(r.data, (uint8_t *) r.hdr + HDR_SIZE);
	assert_int_equal(r.hdr->magic, CONSOLE_RING_MAGIC);
	assert_int_equal(r.hdr->capacity, 100);
	assert_int_equal(console_ring_total(&r), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, HDR_SIZE + 100);
	console_ring_close(&r);
	assert_null(r.hdr);
	assert_null(r.data);
	console_ring_close(&r);   /* closing twice is harmless */

	/* Create again truncates: total back to 0. */
	assert_int_equal(console_ring_create(path, 64, &r), 0);
	append_str(&r, "abc");
	console_ring_close(&r);
	assert_int_equal(console_ring_create(path, 64, &r), 0);
	assert_int_equal(console_ring_total(&r), 0);
	expect_read(&r, 0, 64, 0, "");
	console_ring_close(&r);
}

static void test_create_bad_capacity(void **state)
{
	struct console_ring r = { 0 };
	char other[160];

	snprintf(other, sizeof(other), "%s/other", tmpdir);
	assert_int_equal(console_ring_create(other, 0, &r), -EINVAL);
	assert_int_equal(console_ring_create(other, CONSOLE_RING_MAX + 1, &r), -EINVAL);
	assert_null(r.hdr);
	assert_int_equal(access(other, F_OK), -1);   /* nothing created */

	assert_int_equal(console_ring_create(other, CONSOLE_RING_MAX, &r), 0);
	assert_int_equal(r.hdr->capacity, CONSOLE_RING_MAX);
	console_ring_close(&r);
	assert_int_equal(unlink(other), 0);

	char missing_dir[200];
	snprintf(missing_dir, sizeof(missing_dir), "%s/no/such/dir", tmpdir);
	assert_int_equal(console_ring_create(missing_dir, 64, &r), -ENOENT);
}

static void test_append_read(void **state)
{
	struct console_ring r = { 0 };

	assert_int_equal(console_ring_create(path, 64, &r), 0);
	expect_read(&r, 0, 64, 0, "");
	append_str(&r, "hello");
	assert_int_equal(console_ring_total(&r), 5);
	append_str(&r, ", world");
	assert_int_equal(console_ring_total(&r), 12);
	console_ring_append(&r, (const uint8_t *) "ignored", 0);
	assert_int_equal(console_ring_total(&r), 12);

	expect_read(&r, 0, 64, 0, "hello, world");
	expect_read(&r, 0, 5, 0, "hello");          /* max limits */
	expect_read(&r, 7, 64, 7, "world");         /* absolute offsets */
	expect_read(&r, 3, 4, 3, "lo, ");
	expect_read(&r, 11, 64, 11, "d");
	expect_read(&r, 4, 0, 4, "");               /* max 0 */
	/* At total: nothing, and the next offset is total. */
	expect_read(&r, 12, 64, 12, "");
	/* After total (a stale client, or a ring recreated by a new worker):
	 * nothing, and *ret_start says where the stream really ends. */
	expect_read(&r, 13, 64, 12, "");
	expect_read(&r, 1000, 64, 12, "");
	expect_read(&r, UINT64_MAX, 64, 12, "");
	console_ring_close(&r);
}

static void test_wrap_around(void **state)
{
	struct console_ring r = { 0 };

	assert_int_equal(console_ring_create(path, 16, &r), 0);
	append_str(&r, "0123456789");
	append_str(&r, "abcdefghij");    /* offsets 10..19; 16..19 wrap to data[0..3] */
	assert_int_equal(console_ring_total(&r), 20);
	assert_memory_equal(r.data, "ghij456789abcdef", 16);

	/* Bytes 0..3 are gone: start moves forward to the oldest held. */
	expect_read(&r, 0, 64, 4, "456789abcdefghij");
	expect_read(&r, 3, 64, 4, "456789abcdefghij");
	expect_read(&r, 4, 64, 4, "456789abcdefghij");
	expect_read(&r, 0, 3, 4, "456");
	/* Reads that cross the physical end of the buffer. */
	expect_read(&r, 12, 64, 12, "cdefghij");
	expect_read(&r, 14, 4, 14, "efgh");
	expect_read(&r, 16, 64, 16, "ghij");
	expect_read(&r, 19, 64, 19, "j");
	expect_read(&r, 20, 64, 20, "");

	/* Exactly a full buffer, starting mid-buffer. */
	append_str(&r, "ABCDEFGHIJKLMNOP");
	assert_int_equal(console_ring_total(&r), 36);
	expect_read(&r, 0, 64, 20, "ABCDEFGHIJKLMNOP");
	expect_read(&r, 30, 64, 30, "KLMNOP");
	console_ring_close(&r);
}

static void test_append_longer_than_capacity(void **state)
{
	struct console_ring r = { 0 };
	char big[41];

	for (int i = 0; i < 40; i++)
		big[i] = 'a' + i % 26;
	big[40] = '\0';

	assert_int_equal(console_ring_create(path, 16, &r), 0);
	console_ring_append(&r, (const uint8_t *) big, 40);
	assert_int_equal(console_ring_total(&r), 40);
	expect_read(&r, 0, 64, 24, big + 24);

	/* Again from a total that is not a multiple of the capacity. */
	append_str(&r, "xyz");
	console_ring_append(&r, (const uint8_t *) big, 40);
	assert_int_equal(console_ring_total(&r), 83);
	expect_read(&r, 0, 64, 67, big + 24);
	expect_read(&r, 70, 64, 70, big + 27);
	console_ring_close(&r);

	/* Capacity 1: only the last byte. */
	assert_int_equal(console_ring_create(path, 1, &r), 0);
	append_str(&r, "hello");
	append_str(&r, "!");
	expect_read(&r, 0, 64, 5, "!");
	console_ring_close(&r);
}

static void test_open_sees_writer(void **state)
{
	struct console_ring w = { 0 }, r = { 0 };

	assert_int_equal(console_ring_create(path, 16, &w), 0);
	append_str(&w, "boot ok\n");
	assert_int_equal(console_ring_open(path, &r), 0);
	assert_false(r.writable);
	assert_int_equal(r.hdr->capacity, 16);
	assert_int_equal(console_ring_total(&r), 8);
	expect_read(&r, 0, 64, 0, "boot ok\n");

	/* The mapping is shared: later appends show up without reopening. */
	append_str(&w, "0123456789");
	assert_int_equal(console_ring_total(&r), 18);
	expect_read(&r, 0, 64, 2, "ot ok\n0123456789");

	/* The history outlives the writer (a crashed worker). */
	console_ring_close(&w);
	expect_read(&r, 10, 64, 10, "23456789");
	console_ring_close(&r);

	/* And a reader opened after the writer is gone. */
	assert_int_equal(console_ring_open(path, &r), 0);
	expect_read(&r, 0, 64, 2, "ot ok\n0123456789");
	console_ring_close(&r);
}

static void test_open_missing(void **state)
{
	struct console_ring r = { 0 };
	char p[160];

	snprintf(p, sizeof(p), "%s/other", tmpdir);
	assert_int_equal(console_ring_open(p, &r), -ENOENT);
	assert_null(r.hdr);
}

static void test_open_symlink_refused(void **state)
{
	struct console_ring w = { 0 }, r = { 0 };
	char link[160];

	assert_int_equal(console_ring_create(path, 16, &w), 0);
	console_ring_close(&w);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(console_ring_open(link, &r), -ELOOP);
	assert_int_equal(console_ring_create(link, 16, &w), -ELOOP);
	assert_null(r.hdr);
	assert_int_equal(unlink(link), 0);
}

/* Write a header (and optionally data) of our own and expect open to say -EBADMSG. */
static void expect_bad(const char *what, const struct console_ring_header *hdr, size_t hdr_len,
		       off_t file_size)
{
	struct console_ring r = { 0 };
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (hdr_len)
		assert_int_equal(pwrite(fd, hdr, hdr_len, 0), (ssize_t) hdr_len);
	assert_int_equal(ftruncate(fd, file_size), 0);
	close(fd);
	int ret = console_ring_open(path, &r);
	if (ret != -EBADMSG)
		fail_msg("%s: open returned %d, want -EBADMSG", what, ret);
	if (r.hdr)
		fail_msg("%s: mapped a bad ring", what);
}

static void test_open_rejects_bad_files(void **state)
{
	struct console_ring_header h = { .magic = CONSOLE_RING_MAGIC, .capacity = 64 };
	struct console_ring_header bad;

	expect_bad("empty file", &h, 0, 0);
	expect_bad("short header", &h, sizeof(h) - 1, sizeof(h) - 1);

	bad = h;
	bad.magic ^= 1;
	expect_bad("bad magic", &bad, sizeof(bad), HDR_SIZE + 64);
	bad = h;
	bad.magic = 0;
	expect_bad("zero magic", &bad, sizeof(bad), HDR_SIZE + 64);

	bad = h;
	bad.capacity = 0;
	expect_bad("capacity 0", &bad, sizeof(bad), HDR_SIZE + 64);
	bad = h;
	bad.capacity = CONSOLE_RING_MAX + 1ULL;
	expect_bad("capacity above max", &bad, sizeof(bad), HDR_SIZE + CONSOLE_RING_MAX + 1);
	bad = h;
	bad.capacity = UINT64_MAX;
	expect_bad("capacity UINT64_MAX", &bad, sizeof(bad), HDR_SIZE + 64);
	bad = h;
	bad.capacity = UINT64_MAX - HDR_SIZE + 1;   /* HDR_SIZE + capacity wraps to 0 */
	expect_bad("capacity wrapping the size", &bad, sizeof(bad), HDR_SIZE + 64);

	expect_bad("truncated data", &h, sizeof(h), HDR_SIZE + 63);
	expect_bad("header only", &h, sizeof(h), HDR_SIZE);
	expect_bad("header page cut", &h, sizeof(h), sizeof(h));

	/* The same header on a long-enough file is accepted (the checks above can pass). */
	struct console_ring r = { 0 };
	int fd = open(path, O_RDWR | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &h, sizeof(h), 0), (ssize_t) sizeof(h));
	assert_int_equal(ftruncate(fd, HDR_SIZE + 64), 0);
	close(fd);
	assert_int_equal(console_ring_open(path, &r), 0);
	assert_int_equal(console_ring_total(&r), 0);
	console_ring_close(&r);
}

/*
 * The ring file is shared with the worker, which runs next to the guest and
 * may scribble on the header after the supervisor validated it. The reader
 * must stay inside the mapping it made: it may return garbage bytes, but
 * never read outside the mapping or divide by a zero capacity.
 */
static void test_reader_survives_header_changes(void **state)
{
	struct console_ring w = { 0 }, r = { 0 };
	uint8_t buf[64];
	uint64_t start;

	assert_int_equal(console_ring_create(path, 4096, &w), 0);
	append_str(&w, "hello");
	assert_int_equal(console_ring_open(path, &r), 0);

	/* A capacity far beyond the mapping, with total in the middle of it. */
	w.hdr->capacity = 1ULL << 40;
	__atomic_store_n(&w.hdr->total, 1ULL << 39, __ATOMIC_RELEASE);
	size_t n = console_ring_read(&r, (1ULL << 39) - 64, buf, sizeof(buf), &start);
	assert_int_equal(n, 64);
	assert_int_equal(start, (1ULL << 39) - 64);

	/* Capacity 0. */
	w.hdr->capacity = 0;
	__atomic_store_n(&w.hdr->total, 10, __ATOMIC_RELEASE);
	n = console_ring_read(&r, 0, buf, sizeof(buf), &start);
	assert_int_equal(n, 10);
	assert_int_equal(start, 0);
	assert_memory_equal(buf, "hello", 5);

	/* A total near UINT64_MAX. */
	w.hdr->capacity = 4096;
	__atomic_store_n(&w.hdr->total, UINT64_MAX, __ATOMIC_RELEASE);
	n = console_ring_read(&r, 0, buf, sizeof(buf), &start);
	assert_int_equal(n, 64);
	assert_int_equal(start, UINT64_MAX - 4096);

	console_ring_close(&r);
	console_ring_close(&w);
}

/*
 * One writer thread appends chunks of every size while the reader reads
 * concurrently from behind the oldest byte. Each byte's value is a function
 * of its absolute offset, so every byte a read returns can be checked: a
 * read may lose bytes (start moves on) but must never return overwritten
 * ones.
 */
#define STRESS_CAP 4096

static uint8_t pattern(uint64_t off)
{
	return (uint8_t) (off * 131 + (off >> 12) * 7);
}

struct stress {
	struct console_ring *w;
	volatile bool stop;
};

static void *stress_writer(void *arg)
{
	struct stress *s = arg;
	static uint8_t chunk[2 * STRESS_CAP];
	uint64_t total = 0;
	unsigned len = 1;

	while (!s->stop) {
		for (unsigned i = 0; i < len; i++)
			chunk[i] = pattern(total + i);
		console_ring_append(s->w, chunk, len);
		total += len;
		len = len * 7 % (2 * STRESS_CAP - 1) + 1;
	}
	return NULL;
}

static void test_concurrent_reader(void **state)
{
	struct console_ring w = { 0 }, r = { 0 };
	struct stress s = { .w = &w };
	static uint8_t buf[STRESS_CAP];
	pthread_t t;

	assert_int_equal(console_ring_create(path, STRESS_CAP, &w), 0);
	assert_int_equal(console_ring_open(path, &r), 0);
	assert_int_equal(pthread_create(&t, NULL, stress_writer, &s), 0);

	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t reads = 0, bad_offset = UINT64_MAX, offset = 0;
	size_t bad_len = 0;
	do {
		/* Alternate: from far behind (always lapped) and following the stream. */
		uint64_t from = reads % 2 ? 0 : offset;
		uint64_t start;
		size_t n = console_ring_read(&r, from, buf, sizeof(buf), &start);
		if (start < from) {
			bad_offset = start;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (buf[i] != pattern(start + i)) {
				bad_offset = start + i;
				bad_len = n;
				break;
			}
		}
		if (bad_offset != UINT64_MAX)
			break;
		offset = start + n;
		reads++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - t0.tv_sec) * 1000000000LL + (now.tv_nsec - t0.tv_nsec) < 500000000LL);
	s.stop = true;
	pthread_join(t, NULL);
	console_ring_close(&r);
	console_ring_close(&w);
	if (bad_offset != UINT64_MAX)
		fail_msg("read %llu returned an overwritten byte at offset %llu (of %zu)",
			 (unsigned long long) reads, (unsigned long long) bad_offset, bad_len);
	assert_true(reads > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_layout),
		cmocka_unit_test(test_create_bad_capacity),
		cmocka_unit_test(test_append_read),
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_append_longer_than_capacity),
		cmocka_unit_test(test_open_sees_writer),
		cmocka_unit_test(test_open_missing),
		cmocka_unit_test(test_open_symlink_refused),
		cmocka_unit_test(test_open_rejects_bad_files),
		cmocka_unit_test(test_reader_survives_header_changes),
		cmocka_unit_test(test_concurrent_reader),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
