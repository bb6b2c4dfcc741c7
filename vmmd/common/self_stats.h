/* SPDX-License-Identifier: MIT */
/*
 * A process's own figures: CPU time, resident memory, open descriptors and
 * start time, from getrusage(2) and /proc/self. vmmd reports its own in
 * vmm.stats (vmmweb's vmmd_process_* metrics), and vmmweb its own: an
 * unprivileged monitoring client cannot read them from /proc itself.
 */
#pragma once

#include <stdint.h>

struct self_stats {
	double user_s, system_s;     /* CPU time of this process (threads included) */
	uint64_t rss_bytes;          /* resident set size */
	uint64_t open_fds;           /* entries of /proc/self/fd */
	uint64_t max_fds;            /* RLIMIT_NOFILE soft limit */
	double start_time;           /* seconds since the epoch; 0 when /proc does not say */
};

/* Fill ret; a figure /proc does not give stays 0. Returns 0 or -errno (getrusage). */
int self_stats_read(struct self_stats *ret);
