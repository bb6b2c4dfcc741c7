/* SPDX-License-Identifier: MIT */
/*
 * `events [NAME] [--topic T ...]`: subscribe and print each notification as
 * one line (human, or compact JSON with --json) until vmmd goes away or we
 * are interrupted. Lines are flushed one by one so a pipe sees them live.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "vmmctl/output.h"
#include "vmmctl/vmmctl.h"

#define TOPICS_MAX 8

static const char *const default_topics[] = { "state", "console", "fault", "stats" };

struct events {
	bool json;
	int error;     /* stdout failed: stop */
};

static void on_event(void *userdata, struct json_object *msg)
{
	struct events *ev = userdata;
	char *line;

	if (ev->error || strcmp(json_lookup_str(msg, "method", ""), "event") != 0)
		return;
	if (format_event_line(json_lookup(msg, "params"), ev->json, &line) < 0)
		return;
	if (printf("%s\n", line) < 0 || fflush(stdout) != 0)
		ev->error = errno ? -errno : -EIO;
	free(line);
}

static int cmd_events(struct ctl *ctl, const struct cmd_args *args)
{
	const char *topics[TOPICS_MAX];
	size_t n_topics = cmd_args_get_all(args, "--topic", topics, TOPICS_MAX);
	struct json_object *params, *array, *res;
	struct events ev = { .json = ctl->json };
	int r;

	if (n_topics > TOPICS_MAX)
		return ctl_usage_error(ctl, "events: at most %d --topic options", TOPICS_MAX);
	if (n_topics == 0) {
		n_topics = ELEMENTSOF(default_topics);
		memcpy(topics, default_topics, sizeof(default_topics));
	}

	params = json_object_new_object();
	array = json_object_new_array();
	if (!params || !array || json_object_object_add(params, "topics", array) < 0) {
		json_object_put(params);
		json_object_put(array);
		return ctl_oom();
	}
	/* vmmd checks the topic names: it knows which exist. */
	for (size_t i = 0; i < n_topics; i++)
		if (json_object_array_add(array, json_object_new_string(topics[i])) < 0) {
			json_object_put(params);
			return ctl_oom();
		}
	if (args->argc > 0 &&
	    json_object_object_add(params, "name", json_object_new_string(args->argv[0])) < 0) {
		json_object_put(params);
		return ctl_oom();
	}

	r = ctl_connect(ctl);
	if (r < 0) {
		json_object_put(params);
		return r;
	}
	rpc_client_on_notify(ctl->client, on_event, &ev);
	r = ctl_call(ctl, "events.subscribe", params, &res);
	if (r < 0)
		return r;
	json_object_put(res);

	while (!ev.error) {
		r = rpc_client_wait(ctl->client, -1);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			ctl_error("connection to vmmd at %s %s", ctl->socket_path,
				  r == -ECONNRESET ? "closed" : strerror(-r));
			return r;
		}
	}
	if (ev.error != -EPIPE)
		ctl_error("cannot write to stdout: %s", strerror(-ev.error));
	return ev.error;
}

static const struct cmd_option events_options[] = {
	{ .name = "--topic", .has_arg = true },
	{}
};

const struct cmd_entry cmd_events_entry = {
	.name = "events",
	.usage = "[NAME] [--topic T ...]",
	.summary = "print events (state, console, fault, stats) as lines",
	.max_args = 1,
	.options = events_options,
	.exec = cmd_events,
};
