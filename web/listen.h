/* SPDX-License-Identifier: MIT */
/*
 * Where vmmweb listens: --listen ADDR:PORT (IPv4, or [IPv6]:PORT; port 0
 * picks a free one, and the log says which) or --listen-unix PATH.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <event2/http.h>

#define WEB_DEFAULT_LISTEN "127.0.0.1:9120"

/* "127.0.0.1:9120" -> "127.0.0.1", 9120; "[::1]:80" -> "::1", 80. 0 or -EINVAL. */
int listen_parse(const char *spec, char *addr, size_t addr_len, uint16_t *port);
/* Whether a numeric address is loopback (127.0.0.0/8, ::1). */
bool listen_is_loopback(const char *addr);

/* Bind spec on http. Returns 0 with the bound port (for port 0) or -errno. */
int listen_tcp(struct evhttp *http, const char *spec, uint16_t *ret_port);
/* A Unix socket at path (mode 0660; a stale one is replaced). 0 or -errno. */
int listen_unix(struct evhttp *http, const char *path);
