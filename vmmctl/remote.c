/* SPDX-License-Identifier: MIT */
/*
 * vmmctl --connect ssh://...: run ssh with `vmmctl bridge` on the other
 * side and talk JSON-RPC through it, over a socket pair that stands in for
 * vmmd's socket. Every command works unchanged; roles are the remote
 * user's, as vmmd sees the bridge's credentials.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmmctl/ssh_url.h"
#include "vmmctl/vmmctl.h"

int remote_connect(struct ctl *ctl, const char *url)
{
	struct ssh_url u;
	char why[128], buf[4096];
	char *argv[SSH_ARGV_MAX];
	int sv[2], r;

	if (ssh_url_parse(url, &u, why, sizeof(why)) < 0) {
		ctl->usage_error = true;
		ctl_error("--connect %s: %s (ssh://[user@]host[:port][/path/to/socket])", url, why);
		return -EINVAL;
	}
	if (ssh_url_argv(&u, getenv("VMMCTL_SSH"), getenv("VMMCTL_REMOTE"), buf, sizeof(buf), argv) < 0) {
		ctl_error("--connect %s: the ssh command line is too long", url);
		return -E2BIG;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		ctl_error("--connect: socketpair: %s", strerror(-r));
		return r;
	}
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		ctl_error("--connect: fork: %s", strerror(-r));
		return r;
	}
	if (pid == 0) {
		/* ssh's stdin and stdout are our end of the pair; stderr stays the
		 * user's, so ssh can ask for a password and say what went wrong. */
		if (dup2(sv[1], STDIN_FILENO) < 0 || dup2(sv[1], STDOUT_FILENO) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "vmmctl: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	r = rpc_client_from_fd(sv[0], &ctl->client);
	if (r < 0) {
		close(sv[0]);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return ctl_oom();
	}
	ctl->remote_pid = pid;
	ctl->socket_path = url;   /* what messages name */
	return 0;
}

int remote_finish(struct ctl *ctl, int result)
{
	int status;
	if (ctl->remote_pid <= 0)
		return result;
	/* Our end is closed: ssh sees EOF, the bridge ends, and so does ssh. */
	for (int i = 0; i < 100; i++) {
		pid_t p = waitpid(ctl->remote_pid, &status, WNOHANG);
		if (p == ctl->remote_pid) {
			ctl->remote_pid = 0;
			if (result < 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0)
				ctl_error("ssh exited with status %d (%s)", WEXITSTATUS(status),
					  WEXITSTATUS(status) == 255 ? "ssh itself failed" :
					  WEXITSTATUS(status) == 127 ? "vmmctl not found on the remote host; set VMMCTL_REMOTE" :
					  "the remote vmmctl bridge failed");
			return result;
		}
		if (p < 0 && errno != EINTR)
			break;
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(ctl->remote_pid, SIGTERM);
	waitpid(ctl->remote_pid, NULL, 0);
	ctl->remote_pid = 0;
	return result;
}
