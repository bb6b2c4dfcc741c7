/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/vm_config.h"
#include "proto/rpc.h"
#include "vmmctl/config_file.h"

/* Reads up to max + 1 bytes so that "too large" is told apart from "exactly max". */
static int read_bounded(int fd, size_t max, char **ret, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int r = -errno;
			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t) n;
		if (len > max) {
			free(buf);
			return -EFBIG;
		}
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int config_file_load(const char *path, struct json_object **ret, char *errbuf, size_t errlen)
{
	bool is_stdin = strcmp(path, "-") == 0;
	struct json_tokener *tok;
	struct json_object *obj;
	char *text = NULL;
	size_t len = 0;
	int fd, r;

	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(-r));
		return r;
	}
	r = read_bounded(fd, CONFIG_FILE_MAX, &text, &len);
	if (!is_stdin)
		close(fd);
	if (r == -EFBIG) {
		snprintf(errbuf, errlen, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
		return r;
	}
	if (r < 0) {
		snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(-r));
		return r;
	}

	tok = json_tokener_new_ex(RPC_MAX_DEPTH);
	if (!tok) {
		free(text);
		return -ENOMEM;
	}
	obj = json_tokener_parse_ex(tok, text, (int) len);
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue) {
		snprintf(errbuf, errlen, "%s: not valid JSON: unexpected end of file", path);
		r = -EINVAL;
	} else if (!obj) {
		snprintf(errbuf, errlen, "%s: not valid JSON: %s", path,
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		r = -EINVAL;
	} else {
		/* Only whitespace may follow the document. */
		size_t end = json_tokener_get_parse_end(tok);

		while (end < len && strchr(" \t\r\n", text[end]))
			end++;
		if (end < len) {
			snprintf(errbuf, errlen, "%s: trailing data after the JSON object", path);
			r = -EINVAL;
		} else if (!json_object_is_type(obj, json_type_object)) {
			snprintf(errbuf, errlen, "%s: not a JSON object", path);
			r = -EINVAL;
		}
	}
	json_tokener_free(tok);
	free(text);
	if (r < 0) {
		json_object_put(obj);
		return r;
	}
	*ret = obj;
	return 0;
}

int config_file_prepare(const char *path, const char *name, const char *base_dir,
			struct json_object **ret, char *errbuf, size_t errlen)
{
	struct config_error cerr = {};
	struct json_object *obj;
	int r;

	r = config_file_load(path, &obj, errbuf, errlen);
	if (r < 0)
		return r;

	if (name) {
		struct json_object *s = json_object_new_string(name);

		if (!s || json_object_object_add(obj, "name", s) < 0) {
			json_object_put(s);
			json_object_put(obj);
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
		json_object_put(obj);
		return r;
	}
	*ret = obj;
	return 0;
}
