/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/macro.h"
#include "web/listen.h"

int listen_parse(const char *spec, char *addr, size_t addr_len, uint16_t *port)
{
	const char *colon, *host = spec;
	size_t host_len;
	if (!spec)
		return -EINVAL;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		host = spec + 1;
		host_len = (size_t) (end - host);
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || memchr(spec, ':', (size_t) (colon - spec)))
			return -EINVAL;   /* IPv6 needs brackets */
		host_len = (size_t) (colon - spec);
	}
	if (host_len == 0 || host_len >= addr_len)
		return -EINVAL;
	memcpy(addr, host, host_len);
	addr[host_len] = '\0';
	struct in6_addr a6;
	struct in_addr a4;
	if (inet_pton(spec[0] == '[' ? AF_INET6 : AF_INET, addr, spec[0] == '[' ? (void *) &a6 : (void *) &a4) != 1)
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (errno || !colon[1] || *end || p > 65535 || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	*port = (uint16_t) p;
	return 0;
}

bool listen_is_loopback(const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int listen_tcp(struct evhttp *http, const char *spec, uint16_t *ret_port)
{
	char addr[64];
	uint16_t port;
	int r = listen_parse(spec, addr, sizeof(addr), &port);
	if (r < 0)
		return r;
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, addr, port);
	if (!bs)
		return errno ? -errno : -EADDRNOTAVAIL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *) &ss, &len) == 0)
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port :
			     ((struct sockaddr_in *) &ss)->sin_port);
	*ret_port = port;
	return 0;
}

int listen_unix(struct evhttp *http, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX }, tmp = { .sun_family = AF_UNIX };
	/* Room for the temporary name's suffix too (".new.<pid>"). */
	if (strlen(path) + 16 >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.new.%d", path, (int) getpid());

	/* A socket nobody answers on is a dead vmmweb's: replace it. */
	_cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	if (connect(probe, (struct sockaddr *) &sa, sizeof(sa)) == 0)
		return -EADDRINUSE;
	probe = safe_close(probe);

	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Bound and listening under a temporary name, then renamed: the path
	 * appears only once connecting to it works, so a client that waits
	 * for the file never meets ECONNREFUSED between bind and listen. */
	(void) unlink(tmp.sun_path);
	mode_t old = umask(0117);   /* 0660: owner and group (a reverse proxy's) */
	int r = bind(fd, (struct sockaddr *) &tmp, sizeof(tmp));
	umask(old);
	if (r < 0 || listen(fd, 128) < 0 || rename(tmp.sun_path, path) < 0) {
		r = -errno;
		(void) unlink(tmp.sun_path);
		return r;
	}
	if (!evhttp_accept_socket_with_handle(http, fd)) {
		(void) unlink(path);
		return -ENOMEM;
	}
	TAKE_FD(fd);   /* evhttp's now: it closes it with the bound socket */
	return 0;
}
