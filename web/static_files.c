/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/buffer.h>

#include "vmmd/common/log.h"
#include "web/http_reply.h"
#include "web/static_files.h"
#include "web/web.h"

#define STATIC_MAX_FILE (8u << 20)

static const struct {
	const char *ext, *type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".json", "application/json" },
};

const char *static_content_type(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t e = strlen(types[i].ext);
		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return NULL;
}

int static_name_ok(const char *name)
{
	if (!name[0] || name[0] == '.' || strlen(name) > 64)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return static_content_type(name) != NULL;
}

static void send_file(struct evhttp_request *req, const char *path, const char *type, int cacheable)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX_FILE) {
		if (fd >= 0)
			close(fd);
		else if (errno != ENOENT)
			log_warning_errno(-errno, "Cannot open %s: %m", path);
		http_reply_not_found(req);
		return;
	}
	struct evbuffer *body = evbuffer_new();
	http_common_headers(req, type, cacheable);
	/* evbuffer_add_file owns fd from here, also on failure. */
	if (!body || evbuffer_add_file(body, fd, 0, st.st_size) < 0) {
		if (!body)
			close(fd);
		if (body)
			evbuffer_free(body);
		http_reply_error(req, 503, RPC_INTERNAL_ERROR, "cannot read the file", NULL);
		return;
	}
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
}

void static_handle(struct web *w, struct evhttp_request *req, const char *name)
{
	char path[4096];
	if (strcmp(name, "chart.js") == 0) {
		send_file(req, w->chartjs, static_content_type(name), 1);
		return;
	}
	if (!static_name_ok(name) ||
	    snprintf(path, sizeof(path), "%s/%s", w->static_dir, name) >= (int) sizeof(path)) {
		http_reply_not_found(req);
		return;
	}
	/* Not cached: after an upgrade the page and its scripts must match each other and the API. */
	send_file(req, path, static_content_type(name), 0);
}
