/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmmctl/ssh_url.h"

static int bad(char *why, size_t len, const char *msg)
{
	snprintf(why, len, "%s", msg);
	return -EINVAL;
}

/* Copy [s, s+n) into dst of size len; false when it does not fit or is empty. */
static int copy(char *dst, size_t len, const char *s, size_t n)
{
	if (n == 0 || n >= len)
		return 0;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 1;
}

/* Characters a user or host may not hold: nothing ssh could take for an option or a shell word. */
static int clean(const char *s)
{
	if (s[0] == '-')
		return 0;
	for (; *s; s++)
		if ((unsigned char) *s <= ' ' || strchr("'\"`$\\;&|<>()*?!~#%", *s))
			return 0;
	return 1;
}

int ssh_url_parse(const char *url, struct ssh_url *ret, char *why, size_t why_len)
{
	static const char scheme[] = "ssh://";
	struct ssh_url u = { 0 };
	if (!url || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return bad(why, why_len, "the URL must start with ssh://");
	if (strlen(url) >= SSH_URL_MAX)
		return bad(why, why_len, "the URL is too long");
	const char *p = url + sizeof(scheme) - 1;
	const char *slash = strchr(p, '/');
	const char *end = slash ? slash : p + strlen(p);
	const char *at = memchr(p, '@', (size_t) (end - p));
	if (at) {
		if (!copy(u.user, sizeof(u.user), p, (size_t) (at - p)))
			return bad(why, why_len, "empty or too long user name");
		p = at + 1;
	}
	const char *port = NULL;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t) (end - p));
		if (!close || !copy(u.host, sizeof(u.host), p + 1, (size_t) (close - p - 1)))
			return bad(why, why_len, "bad [IPv6] host");
		if (close + 1 < end && close[1] != ':')
			return bad(why, why_len, "junk after the [IPv6] host");
		port = close + 1 < end ? close + 2 : NULL;
	} else {
		const char *colon = memchr(p, ':', (size_t) (end - p));
		if (!copy(u.host, sizeof(u.host), p, (size_t) ((colon ? colon : end) - p)))
			return bad(why, why_len, "no host");
		port = colon ? colon + 1 : NULL;
	}
	if (port) {
		size_t n = (size_t) (end - port);
		if (!copy(u.port, sizeof(u.port), port, n) || strspn(u.port, "0123456789") != n || n > 5)
			return bad(why, why_len, "the port must be a number");
	}
	if (slash && slash[1] && !copy(u.path, sizeof(u.path), slash, strlen(slash)))
		return bad(why, why_len, "the socket path is too long");
	if (!clean(u.host) || (u.user[0] && !clean(u.user)) || strchr(u.host, '/'))
		return bad(why, why_len, "the user or host holds characters ssh would misread");
	*ret = u;
	return 0;
}

/* Append s (n bytes) to buf at *off; the start, or NULL when full. */
static char *put(char *buf, size_t len, size_t *off, const char *s, size_t n)
{
	if (*off + n + 1 > len)
		return NULL;
	char *start = buf + *off;
	memcpy(start, s, n);
	start[n] = '\0';
	*off += n + 1;
	return start;
}

/* One word for a POSIX shell: '...', each ' as '\''. */
static int quote(const char *w, char *out, size_t len, size_t *used)
{
	size_t o = *used;
	if (o + 1 >= len)
		return -E2BIG;
	out[o++] = '\'';
	for (; *w; w++) {
		const char *piece = *w == '\'' ? "'\\''" : NULL;
		size_t n = piece ? 4 : 1;
		if (o + n + 2 >= len)
			return -E2BIG;
		if (piece)
			memcpy(out + o, piece, n);
		else
			out[o] = *w;
		o += n;
	}
	out[o++] = '\'';
	out[o] = '\0';
	*used = o;
	return 0;
}

int ssh_url_argv(const struct ssh_url *u, const char *ssh_command, const char *remote_vmmctl,
		 char *buf, size_t buf_len, char **argv)
{
	size_t off = 0, n = 0;
	const char *cmd = ssh_command && ssh_command[0] ? ssh_command : "ssh";
	const char *remote = remote_vmmctl && remote_vmmctl[0] ? remote_vmmctl : "vmmctl";
	for (const char *p = cmd; *p;) {
		size_t skip = strspn(p, " \t"), word;
		p += skip;
		word = strcspn(p, " \t");
		if (!word)
			break;
		if (n + 1 >= SSH_ARGV_MAX || !(argv[n++] = put(buf, buf_len, &off, p, word)))
			return -E2BIG;
		p += word;
	}
	const char *opts[][2] = { { "-p", u->port }, { "-l", u->user } };
	for (size_t i = 0; i < 2; i++) {
		if (!opts[i][1][0])
			continue;
		if (n + 2 >= SSH_ARGV_MAX || !(argv[n++] = put(buf, buf_len, &off, opts[i][0], 2)) ||
		    !(argv[n++] = put(buf, buf_len, &off, opts[i][1], strlen(opts[i][1]))))
			return -E2BIG;
	}
	if (n + 4 >= SSH_ARGV_MAX || !(argv[n++] = put(buf, buf_len, &off, "--", 2)) ||
	    !(argv[n++] = put(buf, buf_len, &off, u->host, strlen(u->host))))
		return -E2BIG;
	/* ssh hands the remote command to the user's shell as one string. */
	char *line = buf + off;
	size_t used = 0, room = buf_len - off;
	const char *words[4] = { remote, u->path[0] ? "--socket" : NULL, u->path[0] ? u->path : NULL, "bridge" };
	for (size_t i = 0; i < 4; i++) {
		if (!words[i])
			continue;
		if (used && used + 1 < room)
			line[used++] = ' ';
		if (quote(words[i], line, room, &used) < 0)
			return -E2BIG;
	}
	argv[n++] = line;
	argv[n] = NULL;
	return 0;
}
