/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "vmmd/common/worker_protocol.h"
#include "vmmd/events.h"
#include "vmmd/stats_events.h"
#include "vmmd/worker_link.h"

struct stats_req {
	struct daemon *daemon;
	char name[VM_NAME_MAX + 1];
};

static bool anyone_wants(struct daemon *d)
{
	for (struct client *c = d->clients; c; c = c->next)
		if (c->topics & EVENT_TOPIC_STATS)
			return true;
	return false;
}

static void stats_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct stats_req *q = userdata;
	/* The VM may have stopped or gone meanwhile: then there is nothing to say. */
	if (!err && result && registry_find(&q->daemon->registry, q->name) &&
	    events_wanted(q->daemon, EVENT_TOPIC_STATS, q->name)) {
		struct json_object *data = json_object_get(result);
		json_object_object_add(data, "interval_s", json_object_new_double(STATS_EVENT_INTERVAL_MS / 1000.0));
		events_emit(q->daemon, EVENT_TOPIC_STATS, q->name, "stats", data);
	}
	free(q);
}

static void arm(struct daemon *d)
{
	struct timeval tv = { STATS_EVENT_INTERVAL_MS / 1000, (STATS_EVENT_INTERVAL_MS % 1000) * 1000 };
	evtimer_add(d->stats_ev, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *userdata)
{
	struct daemon *d = userdata;
	if (!anyone_wants(d))
		return;   /* not re-armed: events.subscribe arms it again */
	for (struct vm_record *vm = d->registry.head; vm; vm = vm->next) {
		if ((vm->state != VM_STATE_RUNNING && vm->state != VM_STATE_PAUSED) ||
		    !events_wanted(d, EVENT_TOPIC_STATS, vm->name))
			continue;
		struct stats_req *q = calloc(1, sizeof(*q));
		if (!q)
			break;
		q->daemon = d;
		snprintf(q->name, sizeof(q->name), "%s", vm->name);
		if (worker_call(vm, WORKER_METHOD_STATS, NULL, stats_reply, q) < 0)
			free(q);
	}
	arm(d);
}

void stats_events_update(struct daemon *d)
{
	if (!anyone_wants(d))
		return;
	if (!d->stats_ev)
		d->stats_ev = evtimer_new(d->base, on_tick, d);
	if (d->stats_ev && !evtimer_pending(d->stats_ev, NULL))
		arm(d);
}

void stats_events_free(struct daemon *d)
{
	if (d->stats_ev)
		event_free(d->stats_ev);
	d->stats_ev = NULL;
}
