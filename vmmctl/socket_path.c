/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmctl/socket_path.h"

static bool is_set(const char *s)
{
	return s && *s;
}

int socket_path_resolve(const char *option, const char *env_socket,
			const char *xdg_runtime_dir, uid_t euid, char **ret)
{
	char *p;

	if (is_set(option))
		p = strdup(option);
	else if (is_set(env_socket))
		p = strdup(env_socket);
	else if (euid == 0)
		p = strdup(VMMD_SYSTEM_SOCKET);
	else if (is_set(xdg_runtime_dir) && xdg_runtime_dir[0] == '/') {
		/* The XDG spec says a relative value must be ignored. */
		if (asprintf(&p, "%s/vmmd/vmmd.sock", xdg_runtime_dir) < 0)
			p = NULL;
	} else
		return -ENOENT;

	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}
