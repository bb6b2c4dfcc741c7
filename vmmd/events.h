/* SPDX-License-Identifier: MIT */
/*
 * events.subscribe: clients pick topics (and optionally one VM); the
 * supervisor pushes `event` notifications {vm, type, data, timestamp}.
 * Each topic needs a role (access.h): console output is the guest's own
 * data and needs debug, as vm.console.read does; the others, monitor.
 */
#pragma once

#include <json-c/json.h>
#include "vmmd/daemon.h"

enum event_topic {
	EVENT_TOPIC_STATE   = 1u << 0,
	EVENT_TOPIC_CONSOLE = 1u << 1,
	EVENT_TOPIC_FAULT   = 1u << 2,
	EVENT_TOPIC_STATS   = 1u << 3,
};

/* -EINVAL for an unknown topic name. */
int event_topic_from_name(const char *name);
const char *event_topic_name(enum event_topic t);
/* The role a client needs to subscribe to topic. */
enum access_role event_topic_role(enum event_topic t);
bool events_wanted(struct daemon *d, enum event_topic topic, const char *vm);
/* Send to every subscriber of topic (for vm); data is taken over. */
void events_emit(struct daemon *d, enum event_topic topic, const char *vm, const char *type,
		 struct json_object *data);
/* A state change, with the exit when the VM left running. */
void events_emit_state(struct daemon *d, struct vm_record *vm, enum vm_state previous);
