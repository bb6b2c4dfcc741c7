/* SPDX-License-Identifier: MIT */
/*
 * --connect ssh://[user@]host[:port][/path/to/socket] (API.md): the parts
 * of the URL, and the ssh command line that runs `vmmctl bridge` on the
 * host (libvirt's qemu+ssh:// and virt-ssh-helper, one relay per
 * connection). Pure, so the parsing and quoting are unit-testable.
 */
#pragma once

#include <stddef.h>

#define SSH_URL_MAX 1024
#define SSH_ARGV_MAX 40

struct ssh_url {
	char user[64];      /* "" when not given: ssh's own default */
	char host[256];     /* a name, an IPv4 address, or an IPv6 address without brackets */
	char port[8];       /* "" when not given */
	char path[512];     /* the remote socket, "" for the remote vmmctl's default */
};

/* 0, or -EINVAL with a short reason in why. */
int ssh_url_parse(const char *url, struct ssh_url *ret, char *why, size_t why_len);

/*
 * The argv to exec: ssh_command split on blanks (VMMCTL_SSH, default
 * "ssh"; options such as -i KEY or -F CONFIG go there), then -p PORT,
 * -l USER, "--", HOST, and the remote command: remote_vmmctl (VMMCTL_REMOTE,
 * default "vmmctl") [--socket PATH] bridge, each word single-quoted for
 * the remote shell. Strings are written into buf; argv ends with NULL.
 * Returns 0, or -E2BIG when buf or SSH_ARGV_MAX is too small.
 */
int ssh_url_argv(const struct ssh_url *u, const char *ssh_command, const char *remote_vmmctl,
		 char *buf, size_t buf_len, char **argv);
