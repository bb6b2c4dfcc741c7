/* SPDX-License-Identifier: MIT */
/*
 * The routes (web.h) and the checks every request passes first: GET or
 * HEAD only (evhttp answers 405 to the rest), a Host header naming this
 * machine when vmmweb listens on loopback only (a web page elsewhere
 * cannot use DNS rebinding to read the dashboard's JSON), and the
 * connection guard's bookkeeping.
 */
#pragma once

#include <stdbool.h>

struct web;

/* Install the routes on w->http (after w's parts exist). */
void server_routes(struct web *w);

/* Whether a Host header value names a loopback address ("localhost",
 * 127.0.0.0/8, [::1]; any port). */
bool server_host_is_loopback(const char *host);
