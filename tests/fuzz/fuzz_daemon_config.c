/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the daemon's config file (vmmd --config FILE), read by
 * vmmd as root before it serves anyone. The input is the file's bytes:
 * daemon_config_load reads it from a memfd (size limit, NUL bytes, strict
 * JSON with the line and column of a fault) and parses it; an accepted
 * config must satisfy daemon_config_check.h, and parse the same from the
 * JSON object (daemon_config_from_json) as from the file. A refusal must
 * name a reason; nothing else may come back.
 *
 * tests/unit/test_fuzz_replay.c includes this file to replay the corpus
 * and the regression inputs in every normal `make check`.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/daemon_config.h"
#include "tests/fuzz/daemon_config_check.h"

static int dcf_fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_error err = { "", "" };
	struct daemon_config c, again;
	char path[64];

	if (dcf_fd < 0) {
		dcf_fd = memfd_create("fuzz-daemon-config", MFD_CLOEXEC);
		dc_assert(dcf_fd >= 0, "memfd_create: %s", strerror(errno));
	}
	dc_assert(ftruncate(dcf_fd, 0) == 0, "ftruncate");
	dc_assert(pwrite(dcf_fd, data, size, 0) == (ssize_t) size, "pwrite");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dcf_fd);

	int r = daemon_config_load(path, &c, &err);
	if (r < 0) {
		daemon_config_check_error(r, &err);
		return 0;
	}
	daemon_config_check_valid(&c);

	/* The file's object, parsed again from JSON, gives the same config. */
	char *text = malloc(size + 1);
	dc_assert(text, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	struct json_object *obj = json_tokener_parse(text);
	free(text);
	dc_assert(obj, "a file daemon_config_load accepted does not parse");
	dc_assert(daemon_config_from_json(obj, &again, &err) == 0, "the object is refused: %s: %s",
		  err.field, err.message);
	dc_assert(c.max_vms == again.max_vms && c.max_total_memory_mib == again.max_total_memory_mib &&
		  c.max_connections == again.max_connections &&
		  c.max_connections_per_user == again.max_connections_per_user &&
		  c.admin_connections == again.admin_connections && c.idle_timeout_s == again.idle_timeout_s &&
		  c.message_timeout_s == again.message_timeout_s && c.console_buffer_kib == again.console_buffer_kib &&
		  c.max_message_kib == again.max_message_kib && c.others_set == again.others_set &&
		  c.others == again.others && c.n_rules == again.n_rules, "file and object parse differently");
	for (size_t i = 0; i < c.n_rules; i++)
		dc_assert(strcmp(c.rules[i].who, again.rules[i].who) == 0 && c.rules[i].role == again.rules[i].role,
			  "rule %zu differs between file and object", i);
	json_object_put(obj);
	return 0;
}
