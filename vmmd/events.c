/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/macro.h"
#include "vmmd/events.h"

static const char *const topic_names[] = { "state", "console", "fault", "stats" };
static const enum access_role topic_roles[] = { ACCESS_MONITOR, ACCESS_DEBUG, ACCESS_MONITOR, ACCESS_MONITOR };

int event_topic_from_name(const char *name)
{
	for (unsigned i = 0; i < ELEMENTSOF(topic_names); i++)
		if (strcmp(name, topic_names[i]) == 0)
			return 1u << i;
	return -EINVAL;
}

const char *event_topic_name(enum event_topic t)
{
	for (unsigned i = 0; i < ELEMENTSOF(topic_names); i++)
		if (t == 1u << i)
			return topic_names[i];
	return "unknown";
}

enum access_role event_topic_role(enum event_topic t)
{
	for (unsigned i = 0; i < ELEMENTSOF(topic_roles); i++)
		if (t == 1u << i)
			return topic_roles[i];
	return ACCESS_ADMIN;
}

static bool client_wants(const struct client *c, enum event_topic topic, const char *vm)
{
	return (c->topics & topic) && (!c->vm_filter[0] || strcmp(c->vm_filter, vm) == 0);
}

bool events_wanted(struct daemon *d, enum event_topic topic, const char *vm)
{
	for (struct client *c = d->clients; c; c = c->next)
		if (client_wants(c, topic, vm))
			return true;
	return false;
}

void events_emit(struct daemon *d, enum event_topic topic, const char *vm, const char *type,
		 struct json_object *data)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	double ts = now.tv_sec + now.tv_nsec / 1e9;
	for (struct client *c = d->clients, *next; c; c = next) {
		next = c->next;   /* a send may drop a slow client */
		if (!client_wants(c, topic, vm))
			continue;
		struct json_object *p = json_object_new_object();
		json_object_object_add(p, "vm", json_object_new_string(vm));
		json_object_object_add(p, "type", json_object_new_string(type));
		json_object_object_add(p, "data", json_object_get(data));
		json_object_object_add(p, "timestamp", json_object_new_double(ts));
		(void) rpc_peer_notify(c->peer, "event", p);
	}
	json_object_put(data);
}

void events_emit_state(struct daemon *d, struct vm_record *vm, enum vm_state previous)
{
	if (!events_wanted(d, EVENT_TOPIC_STATE, vm->name))
		return;
	struct json_object *data = json_object_new_object();
	json_object_object_add(data, "state", json_object_new_string(vm_state_name(vm->state)));
	json_object_object_add(data, "previous", json_object_new_string(vm_state_name(previous)));
	if (vm->state == VM_STATE_STOPPED || vm->state == VM_STATE_CRASHED) {
		struct json_object *exit = vm_exit_json(&vm->exit);
		if (exit)
			json_object_object_add(data, "exit", exit);
	}
	events_emit(d, EVENT_TOPIC_STATE, vm->name, "state", data);
}
