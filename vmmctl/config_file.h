/* SPDX-License-Identifier: MIT */
/*
 * A VM config as `vmmctl create/run` sends it: read from a file (or stdin
 * for "-"), renamed by --name, and with relative paths made absolute
 * against vmmctl's cwd, because vmmd runs elsewhere and refuses them.
 */
#pragma once

#include <stddef.h>
#include <json-c/json.h>

#define CONFIG_FILE_MAX (1u << 20)   /* as large as one RPC message may be */

/*
 * Read and parse path ("-" for stdin): at most CONFIG_FILE_MAX bytes, one
 * JSON object. Returns 0 with *ret, or -errno with a one-line reason in
 * errbuf (-EFBIG too large, -EINVAL not JSON or not an object, or the
 * error of open/read).
 */
int config_file_load(const char *path, struct json_object **ret, char *errbuf, size_t errlen);

/*
 * Load path, set "name" when name is not NULL, and resolve relative paths
 * against base_dir (absolute). Returns 0 with *ret or -errno with errbuf
 * filled ("FIELD: why" for path errors).
 */
int config_file_prepare(const char *path, const char *name, const char *base_dir,
			struct json_object **ret, char *errbuf, size_t errlen);
