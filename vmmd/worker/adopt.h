/* SPDX-License-Identifier: MIT */
/*
 * Outliving the supervisor (libvirt's behaviour with QEMU): a worker whose
 * VM runs keeps a control socket of its own (<state>/<name>.ctl) and, when
 * its supervisor goes away, keeps the guest running and waits there for the
 * next supervisor to connect and adopt it. One supervisor at a time: a
 * second connection is closed at once.
 *
 * It also keeps an exit-report file (<state>/<name>.exit), opened at boot
 * and written when the guest ends, so a supervisor that was away when that
 * happened still learns why.
 */
#pragma once

#include <event2/event.h>
#include <event2/listener.h>

typedef void (*adopt_fn)(void *userdata, int fd);

struct adopt_socket {
	struct evconnlistener *listener;
	adopt_fn on_connect;
	void *userdata;
};

/* Listen on path (replacing a stale socket), mode 0600. 0 or -errno. */
int adopt_listen(struct event_base *base, const char *path, adopt_fn fn, void *userdata,
		 struct adopt_socket *ret);
void adopt_close(struct adopt_socket *a);
