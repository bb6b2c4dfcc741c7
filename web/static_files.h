/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's files: GET / is index.html, GET /static/NAME a file of
 * the static folder (one path component of [A-Za-z0-9._-], not starting
 * with a dot, so no request reaches outside it), and /static/chart.js
 * Debian's libjs-chart.js build. Types by extension; anything else 404.
 */
#pragma once

#include <event2/http.h>

struct web;

void static_handle(struct web *w, struct evhttp_request *req, const char *name);

/* Whether name may be served from the static folder. */
int static_name_ok(const char *name);
/* The Content-Type for a file name, or NULL when vmmweb serves no such type. */
const char *static_content_type(const char *name);
