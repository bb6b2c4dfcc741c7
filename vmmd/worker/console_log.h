/* SPDX-License-Identifier: MIT */
/*
 * console.log, written by a thread of its own from the console ring
 * (issue 14 finding 7). The guest's output reaches the ring from a vCPU
 * thread (the UART) or the virtio I/O thread; a log on a slow or hung
 * disk must never hold either of them, so they only flag that there is
 * more (console_log_notify: an atomic flag and, on its first set, one
 * eventfd write) and this thread copies from the ring to the file. What
 * the ring dropped before the thread got to it (it fell a whole ring
 * behind) is said in the log, not silently skipped.
 *
 * The log is capped (console_log.max_kib of the daemon config): once the
 * next bytes would pass the cap, it is rotated. With previous parts
 * (console.log.1 ... .N, descriptors like the log's own) each part takes
 * the one before it, .1 takes the log, and the log starts empty; without
 * them (or when the log's descriptor cannot be read) the log is only
 * emptied. Everything works on descriptors (the worker opens no path):
 * parts are copied, and emptied with ftruncate, the log appended
 * (O_APPEND), so each file stays within the cap and, read from .N to the
 * log, they are the newest output in order.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/vm_files.h"
#include "vmmd/common/console_ring.h"

struct console_log {
	int fd;                           /* the log; -1: none */
	int parts[VM_LOG_ROTATE_MAX];     /* console.log.1 ...; -1 past n_parts */
	unsigned n_parts;
	uint64_t max_bytes;               /* 0: no cap */
	const struct console_ring *ring;
	int wake_fd;                      /* eventfd */
	bool pending;                     /* atomic: output since the thread last looked */
	bool stop;                        /* atomic */
	bool started;
	pthread_t thread;
	uint8_t *buf;                     /* two chunks: what is copied from the ring, and between parts */
	/* the thread's */
	uint64_t written;                 /* ring offset up to which the log has it */
	uint64_t size;                    /* bytes in the log now */
	uint64_t rotations, lost;         /* for tests and stats */
};

/* No log yet: what console_log_stop may be called on. */
void console_log_init(struct console_log *l);
/* Take fd and parts (n of them, each taken, -1 entries ignored) for ring,
 * from what it holds now on: everything but the thread. fd < 0: no log
 * (run, notify and stop do nothing). 0 or -errno (all closed then). */
int console_log_start(struct console_log *l, const struct console_ring *ring, int fd, int *parts, unsigned n,
		      uint64_t max_bytes);
/* Start the thread. Apart from console_log_start because the worker
 * enters its jail (unshare, capset, pivot_root: per thread, or refused
 * to a process with several) between building the VM and starting it:
 * a thread started before would keep root's capabilities and the host's
 * file system. 0 or -errno (console_log_stop still closes all). */
int console_log_run(struct console_log *l);
/* More output is in the ring: never blocks (any thread). */
void console_log_notify(struct console_log *l);
/* Write out what the ring holds, waiting up to timeout_ms for the thread,
 * then close everything. false when the thread is stuck in a write: it is
 * left to the process's exit, and the ring must stay mapped for it. */
bool console_log_stop(struct console_log *l, int timeout_ms);
