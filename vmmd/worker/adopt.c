/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmd/worker/adopt.h"

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr, int len, void *userdata)
{
	struct adopt_socket *a = userdata;
	a->on_connect(a->userdata, fd);
}

int adopt_listen(struct event_base *base, const char *path, adopt_fn fn, void *userdata,
		 struct adopt_socket *ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void) unlink(path);   /* a previous run's; its worker is gone (we are this VM's only one) */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 4) < 0)
		return -errno;
	ret->on_connect = fn;
	ret->userdata = userdata;
	ret->listener = evconnlistener_new(base, on_accept, ret, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!ret->listener)
		return -ENOMEM;
	fd = -EBADF;   /* the listener closes it (LEV_OPT_CLOSE_ON_FREE) */
	return 0;
}

void adopt_close(struct adopt_socket *a)
{
	if (a->listener)
		evconnlistener_free(a->listener);
	a->listener = NULL;
}
