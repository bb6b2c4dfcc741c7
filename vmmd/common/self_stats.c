/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vmmd/common/self_stats.h"

static double tv_s(struct timeval tv)
{
	return (double) tv.tv_sec + tv.tv_usec / 1e6;
}

static uint64_t rss_bytes(void)
{
	unsigned long long size, resident;
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return 0;
	int n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	return n == 2 ? (uint64_t) resident * (uint64_t) sysconf(_SC_PAGESIZE) : 0;
}

static uint64_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	uint64_t n = 0;
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0;   /* less the one opendir holds */
}

/* Boot time (btime of /proc/stat) plus field 22 of /proc/self/stat (start
 * time in clock ticks after boot), as proc(5) defines them. */
static double start_time(void)
{
	char buf[1024];
	unsigned long long btime = 0, ticks = 0;
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	f = fopen("/proc/self/stat", "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields count from the last ')'. */
	const char *p = strrchr(buf, ')');
	if (!p || !btime)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &ticks) != 1)
		return 0;
	long hz = sysconf(_SC_CLK_TCK);
	return hz > 0 ? (double) btime + (double) ticks / (double) hz : 0;
}

int self_stats_read(struct self_stats *ret)
{
	struct rusage ru;
	struct rlimit rl;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -errno;
	*ret = (struct self_stats) {
		.user_s = tv_s(ru.ru_utime),
		.system_s = tv_s(ru.ru_stime),
		.rss_bytes = rss_bytes(),
		.open_fds = open_fds(),
		.max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t) rl.rlim_cur : 0,
		.start_time = start_time(),
	};
	return 0;
}
