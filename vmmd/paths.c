/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmmd/paths.h"

static int fmt(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s%s", a, b);
	return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

int paths_default_socket(char *buf, size_t size)
{
	const char *env = getenv("VMMD_SOCKET");
	if (env && *env)
		return fmt(buf, size, env, "");
	if (geteuid() == 0)
		return fmt(buf, size, "/run/vmmd/vmmd.sock", "");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (!xdg || *xdg != '/')
		return -ENXIO;   /* no per-user runtime dir: the caller must say --socket */
	return fmt(buf, size, xdg, "/vmmd/vmmd.sock");
}

int paths_default_state_dir(char *buf, size_t size)
{
	if (geteuid() == 0)
		return fmt(buf, size, "/var/lib/vmmd", "");
	const char *xdg = getenv("XDG_STATE_HOME");
	if (xdg && *xdg == '/')
		return fmt(buf, size, xdg, "/vmmd");
	const char *home = getenv("HOME");
	if (!home || *home != '/')
		return -ENXIO;
	return fmt(buf, size, home, "/.local/state/vmmd");
}

int paths_mkdir_p(const char *path, unsigned mode)
{
	char buf[4096];
	if (fmt(buf, sizeof(buf), path, "") < 0)
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
