/* SPDX-License-Identifier: MIT */
/*
 * What every parsed daemon config must satisfy, shared by fuzz_config.c and
 * fuzz_daemon_config.c: a refusal is -EINVAL and names a reason; an
 * accepted config has every limit in range and at most
 * DAEMON_CONFIG_MAX_RULES well-formed rules, users before groups.
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/daemon_config.h"
#include "tests/fuzz/fuzz_check.h"

#define dc_assert(cond, ...) FUZZ_CHECK("daemon config", cond, __VA_ARGS__)

static inline void daemon_config_check_error(int r, const struct config_error *err)
{
	dc_assert(r == -EINVAL || r == -EFBIG, "unexpected error %d", r);
	dc_assert(memchr(err->field, '\0', sizeof(err->field)), "err.field not terminated");
	dc_assert(memchr(err->message, '\0', sizeof(err->message)), "err.message not terminated");
	dc_assert(err->message[0], "a refusal without a message (field '%s')", err->field);
}

static inline void daemon_config_check_valid(const struct daemon_config *c)
{
	dc_assert(c->max_vms >= 1 && c->max_vms <= DAEMON_MAX_VMS_MAX, "max_vms %u", c->max_vms);
	dc_assert(c->max_total_memory_mib <= DAEMON_MAX_MEMORY_MIB_MAX, "max_total_memory_mib out of range");
	dc_assert(c->max_connections >= 1 && c->max_connections <= DAEMON_MAX_CONNECTIONS_MAX, "max_connections");
	dc_assert(c->max_connections_per_user >= 1 && c->max_connections_per_user <= DAEMON_MAX_CONNECTIONS_MAX,
		  "max_connections_per_user %u", c->max_connections_per_user);
	dc_assert(c->admin_connections < c->max_connections, "admin_connections %u of %u: none left for others",
		  c->admin_connections, c->max_connections);
	dc_assert(c->idle_timeout_s <= DAEMON_IDLE_TIMEOUT_MAX, "idle_timeout_s %u", c->idle_timeout_s);
	dc_assert(c->message_timeout_s >= 1 && c->message_timeout_s <= DAEMON_MESSAGE_TIMEOUT_MAX,
		  "message_timeout_s %u", c->message_timeout_s);
	dc_assert(c->console_buffer_kib >= DAEMON_CONSOLE_KIB_MIN && c->console_buffer_kib <= DAEMON_CONSOLE_KIB_MAX,
		  "console_buffer_kib %u", c->console_buffer_kib);
	dc_assert(c->max_message_kib >= DAEMON_MESSAGE_KIB_MIN && c->max_message_kib <= DAEMON_MESSAGE_KIB_MAX,
		  "max_message_kib %u", c->max_message_kib);
	dc_assert(daemon_role_name(c->others), "others %d", (int) c->others);
	dc_assert(c->n_rules <= DAEMON_CONFIG_MAX_RULES, "%zu rules", c->n_rules);
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct daemon_access_rule *rule = &c->rules[i];
		dc_assert(memchr(rule->who, '\0', sizeof(rule->who)), "rule %zu: who not terminated", i);
		dc_assert(rule->who[0] && (rule->who[0] != '@' || rule->who[1]), "rule %zu: empty who", i);
		dc_assert(daemon_role_name(rule->role), "rule %zu: role %d", i, (int) rule->role);
		dc_assert(memchr(rule->field, '\0', sizeof(rule->field)) && rule->field[0], "rule %zu: field", i);
		/* users before groups */
		dc_assert(i == 0 || rule->who[0] == '@' || c->rules[i - 1].who[0] != '@', "rule %zu: a user after a group", i);
	}
}

/* daemon_config_from_json on obj, whatever it is, and the checks above. */
static inline void daemon_config_check(struct json_object *obj)
{
	struct config_error err = { "", "" };
	struct daemon_config c;
	int r = daemon_config_from_json(obj, &c, &err);

	if (r < 0)
		daemon_config_check_error(r, &err);
	else
		daemon_config_check_valid(&c);
}
