/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmd/worker/console_log.h"

#define CHUNK (64u << 10)

/* All of it: the log is ours alone (regular files do not write short but at a full disk). */
static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		p += k;
		n -= (size_t) k;
	}
	return 0;
}

/* out := in (out is appended to: it is emptied first). */
static int copy_file(uint8_t *buf, int in, int out)
{
	off_t at = 0;

	if (ftruncate(out, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t k = pread(in, buf, CHUNK, at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return 0;
		int r = write_all(out, buf, (size_t) k);
		if (r < 0)
			return r;
		at += k;
	}
}

/* The log reached its cap: shift the parts, .1 takes the log, the log starts empty. */
static void rotate(struct console_log *l)
{
	int flags = fcntl(l->fd, F_GETFL);
	bool readable = flags >= 0 && (flags & O_ACCMODE) == O_RDWR;

	for (unsigned i = readable ? l->n_parts : 0; i > 0; i--)
		(void) copy_file(l->buf + CHUNK, i > 1 ? l->parts[i - 2] : l->fd, l->parts[i - 1]);
	(void) ftruncate(l->fd, 0);   /* a full disk: nothing more to lose */
	l->size = 0;
	l->rotations++;
}

/* Append to the log within its cap, rotating as it fills. */
static void log_write(struct console_log *l, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t room = n;
		if (l->max_bytes) {
			if (l->size >= l->max_bytes)
				rotate(l);
			if (room > l->max_bytes - l->size)
				room = (size_t) (l->max_bytes - l->size);
		}
		if (write_all(l->fd, p, room) < 0)
			return;   /* a full disk: the ring still has it */
		l->size += room;
		p += room;
		n -= room;
	}
}

/* Copy what the ring holds past `written` into the log. */
static void drain(struct console_log *l)
{
	uint8_t *buf = l->buf;

	for (;;) {
		uint64_t start;
		size_t n = console_ring_read(l->ring, l->written, buf, CHUNK, &start);
		if (start > l->written) {
			char note[96];
			int len = snprintf(note, sizeof(note), "\n[vmmd: %" PRIu64 " bytes of console output did not "
					   "reach this log]\n", start - l->written);
			l->lost += start - l->written;
			log_write(l, (const uint8_t *) note, (size_t) len);
		}
		l->written = start + n;
		if (n == 0)
			return;
		log_write(l, buf, n);
	}
}

static void *log_thread(void *arg)
{
	struct console_log *l = arg;

	for (;;) {
		uint64_t v;
		ssize_t k = read(l->wake_fd, &v, sizeof(v));
		(void) k;
		bool stop = __atomic_load_n(&l->stop, __ATOMIC_ACQUIRE);
		__atomic_store_n(&l->pending, false, __ATOMIC_RELEASE);
		drain(l);
		if (stop)
			return NULL;
	}
}

static void close_all(struct console_log *l)
{
	l->fd = safe_close(l->fd);
	for (unsigned i = 0; i < VM_LOG_ROTATE_MAX; i++)
		l->parts[i] = safe_close(l->parts[i]);
	l->wake_fd = safe_close(l->wake_fd);
	free(l->buf);
	l->buf = NULL;
}

void console_log_init(struct console_log *l)
{
	*l = (struct console_log) { .fd = -EBADF, .wake_fd = -EBADF };
	for (unsigned i = 0; i < VM_LOG_ROTATE_MAX; i++)
		l->parts[i] = -EBADF;
}

int console_log_start(struct console_log *l, const struct console_ring *ring, int fd, int *parts, unsigned n,
		      uint64_t max_bytes)
{
	struct stat st;

	console_log_init(l);
	l->fd = fd;
	l->max_bytes = max_bytes;
	l->ring = ring;
	for (unsigned i = 0; i < n && i < VM_LOG_ROTATE_MAX; i++)
		if (parts[i] >= 0)
			l->parts[l->n_parts++] = TAKE_FD(parts[i]);
	for (unsigned i = 0; i < n; i++)
		parts[i] = safe_close(parts[i]);
	if (fd < 0)
		return 0;
	/* Appended, so an emptied log starts at 0 again (whoever opened it). */
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_APPEND) < 0 || fstat(fd, &st) < 0) {
		int r = -errno;
		close_all(l);
		return r;
	}
	l->size = (uint64_t) st.st_size;
	l->written = console_ring_total(ring);   /* a restart's history is in the log already */
	l->buf = malloc(2 * CHUNK);
	l->wake_fd = eventfd(0, EFD_CLOEXEC);
	int r = !l->buf ? -ENOMEM : l->wake_fd < 0 ? -errno : 0;
	if (r < 0)
		close_all(l);
	return r;
}

int console_log_run(struct console_log *l)
{
	if (l->fd < 0 || l->started)
		return 0;
	int r = -pthread_create(&l->thread, NULL, log_thread, l);
	if (r < 0)
		return r;
	l->started = true;
	console_log_notify(l);   /* whatever the ring got meanwhile */
	return 0;
}

void console_log_notify(struct console_log *l)
{
	if (!l->started || __atomic_exchange_n(&l->pending, true, __ATOMIC_ACQ_REL))
		return;
	uint64_t one = 1;
	ssize_t k = write(l->wake_fd, &one, sizeof(one));
	(void) k;   /* a saturated counter still wakes the thread */
}

bool console_log_stop(struct console_log *l, int timeout_ms)
{
	if (l->started) {
		struct timespec deadline;
		uint64_t one = 1;

		__atomic_store_n(&l->stop, true, __ATOMIC_RELEASE);
		ssize_t k = write(l->wake_fd, &one, sizeof(one));
		(void) k;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		l->started = false;
		if (pthread_timedjoin_np(l->thread, NULL, &deadline) != 0)
			return false;   /* stuck in a write: what it uses must stay valid */
	}
	close_all(l);
	return true;
}
