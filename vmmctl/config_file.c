/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup_json.h"
#include "base/macro.h"
#include "config/vm_config.h"
#include "proto/rpc.h"
#include "vmmctl/config_file.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_tokener *, json_tokener_free)

/* Reads up to max + 1 bytes so that "too large" is told apart from "exactly max". */
static int read_bounded(int fd, size_t max, char **ret, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > max)
				return -EFBIG;
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t) n;
		if (len > max)
			return -EFBIG;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* Parse text as one JSON object, with only whitespace after it. */
static int parse_object(const char *path, const char *text, size_t len, struct json_object **ret,
			char *errbuf, size_t errlen)
{
	_cleanup_(json_tokener_freep) struct json_tokener *tok = json_tokener_new_ex(RPC_MAX_DEPTH);
	_cleanup_(json_object_putp) struct json_object *obj = NULL;
	size_t end;

	if (!tok)
		return -ENOMEM;
	obj = json_tokener_parse_ex(tok, text, (int) len);
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue) {
		snprintf(errbuf, errlen, "%s: not valid JSON: unexpected end of file", path);
		return -EINVAL;
	}
	if (!obj) {
		snprintf(errbuf, errlen, "%s: not valid JSON: %s", path,
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		return -EINVAL;
	}
	end = json_tokener_get_parse_end(tok);
	while (end < len && strchr(" \t\r\n", text[end]))
		end++;
	if (end < len) {
		snprintf(errbuf, errlen, "%s: trailing data after the JSON object", path);
		return -EINVAL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(errbuf, errlen, "%s: not a JSON object", path);
		return -EINVAL;
	}
	*ret = TAKE_PTR(obj);
	return 0;
}

int config_file_load(const char *path, struct json_object **ret, char *errbuf, size_t errlen)
{
	bool is_stdin = strcmp(path, "-") == 0;
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	if (!is_stdin) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			r = -errno;
			snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(-r));
			return r;
		}
	}
	r = read_bounded(is_stdin ? STDIN_FILENO : fd, CONFIG_FILE_MAX, &text, &len);
	if (r == -EFBIG) {
		snprintf(errbuf, errlen, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
		return r;
	}
	if (r < 0) {
		snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	return parse_object(path, text, len, ret, errbuf, errlen);
}

int config_file_prepare(const char *path, const char *name, const char *base_dir,
			struct json_object **ret, char *errbuf, size_t errlen)
{
	_cleanup_(json_object_putp) struct json_object *obj = NULL;
	struct config_error cerr = {};
	int r;

	r = config_file_load(path, &obj, errbuf, errlen);
	if (r < 0)
		return r;

	if (name) {
		struct json_object *s = json_object_new_string(name);

		if (!s || json_object_object_add(obj, "name", s) < 0) {
			json_object_put(s);
			return -ENOMEM;
		}
	}

	r = vm_config_resolve_paths(obj, base_dir, &cerr);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(errbuf, errlen, "out of memory");
		else
			snprintf(errbuf, errlen, "%s: %s%s%s", path, cerr.field,
				 cerr.field[0] ? ": " : "", cerr.message);
		return r;
	}
	*ret = TAKE_PTR(obj);
	return 0;
}
