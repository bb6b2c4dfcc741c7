/* SPDX-License-Identifier: MIT */
/*
 * Human output: aligned tables, "key: value" lines, uptimes, sizes, exit
 * reasons and one-line events. Pure formatting over json-c objects, so it is
 * unit-testable without a daemon; nothing here talks to vmmd.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <json-c/json.h>

#include "vmmctl/json_util.h"

#define TABLE_COLS_MAX 8

/* Rows of strings printed with each column as wide as its widest cell. */
struct table {
	size_t n_cols, n_rows, cap_rows;
	char **cells;                  /* n_rows * n_cols, row-major, owned */
};

/* The header is row 0. Returns 0, -EINVAL (n_cols out of range) or -ENOMEM. */
int table_init(struct table *t, size_t n_cols, const char *const *header);
/* Copies n_cols cells; NULL cells print as "-". Returns 0 or -ENOMEM. */
int table_add_row(struct table *t, const char *const *cells);
/* Two spaces between columns, none after the last. */
void table_print(const struct table *t, FILE *f);
/* Safe on a zeroed or already-freed table. */
void table_done(struct table *t);

/* "42s", "5m03s", "2h05m", "3d04h"; "-" for negative/NaN. */
void format_uptime(double seconds, char *buf, size_t len);
/* "64MiB", "2GiB" (whole GiB only), "1536MiB". */
void format_mib(long long mib, char *buf, size_t len);
/* A JSON value as a short human string: strings bare, null "-", booleans yes/no, others compact JSON. */
void format_value(struct json_object *v, char *buf, size_t len);
/* An exit object {reason, code, message}: "debug-exit code 1", "worker-killed (SIGKILL)". */
void format_exit(struct json_object *exit, char *buf, size_t len);
/* UTC ISO-8601 with milliseconds: "2024-05-01T12:00:00.250Z". */
void format_timestamp(double epoch_s, char *buf, size_t len);

/* "key:" padded to width, a space, the value (NULL: "-") and a newline. */
void print_kv(FILE *f, int width, const char *key, const char *value);
/* One JSON document, pretty-printed, with a trailing newline. */
void print_json(FILE *f, struct json_object *obj);

/*
 * One line (no newline) for an `event` notification's params {vm, type,
 * data, timestamp}: compact JSON when json, else
 * "TIME VM TYPE DETAIL" (state: "running (was created)", console: the
 * offset and the bytes C-escaped in quotes, others compact JSON).
 * Returns 0 with a malloc'd line, -EINVAL if params is not an object, or -ENOMEM.
 */
int format_event_line(struct json_object *params, bool json, char **ret);
