/* SPDX-License-Identifier: MIT */
/*
 * vmmctl top [--interval SECONDS] [--count N]: a live view of every VM with
 * its exit and trap rates, from vm.list and stats.get each interval (rates
 * are the difference of two samples). On a terminal the screen is redrawn;
 * otherwise (or with --count) each sample is printed below the last, which
 * suits scripts and tests. --json prints one JSON document per sample.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmmctl/json_util.h"
#include "vmmctl/output.h"
#include "vmmctl/vmmctl.h"

#define TOP_MAX_VMS 1024

struct sample {
	char name[64];
	uint64_t exits, traps, fills;
};

static volatile sig_atomic_t top_stop;
static void on_signal(int sig) { (void) sig; top_stop = 1; }

static uint64_t u64_of(struct json_object *o, const char *path)
{
	struct json_object *v = json_lookup(o, path);
	return v ? (uint64_t) json_object_get_int64(v) : 0;
}

static const struct sample *find(const struct sample *s, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	return NULL;
}

static int one_round(struct ctl *ctl, struct sample *prev, size_t *n_prev, double dt, bool redraw, bool show)
{
	struct json_object *list;
	int r = ctl_call(ctl, "vm.list", NULL, &list);
	if (r < 0)
		return r;
	struct json_object *vms = json_lookup(list, "vms");
	size_t n = vms ? json_object_array_length(vms) : 0;
	struct sample *now = calloc(n ? n : 1, sizeof(*now));
	struct json_object *out = json_object_new_array();
	if (!now) {
		json_object_put(list);
		return ctl_oom();
	}
	if (show && redraw && !ctl->json)
		fputs("\033[H\033[2J", stdout);
	if (show && !ctl->json)
		printf("%-20s %-8s %-6s %12s %12s %12s\n", "NAME", "STATE", "PAGING", "EXITS/s", "TRAPS/s", "FILLS/s");
	for (size_t i = 0; i < n && i < TOP_MAX_VMS; i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i), *stats = NULL;
		const char *name = json_lookup_str(vm, "name", "?");
		const char *state = json_lookup_str(vm, "state", "?");
		snprintf(now[i].name, sizeof(now[i].name), "%s", name);
		if (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0) {
			struct json_object *p = ctl_params_name(name);
			struct rpc_error err;
			if (p && ctl_try_call(ctl, "stats.get", p, &stats, &err) == 0) {
				now[i].exits = u64_of(stats, "exits_total");
				now[i].traps = u64_of(stats, "traps.total");
				now[i].fills = u64_of(stats, "shadow.fills");
			}
		}
		const struct sample *before = find(prev, *n_prev, name);
		double ex = before && dt > 0 ? (now[i].exits - before->exits) / dt : 0;
		double tr = before && dt > 0 ? (now[i].traps - before->traps) / dt : 0;
		double fi = before && dt > 0 ? (now[i].fills - before->fills) / dt : 0;
		if (!show) {
			/* baseline sample: rates need a previous one */
		} else if (ctl->json) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "name", json_object_new_string(name));
			json_object_object_add(o, "state", json_object_new_string(state));
			json_object_object_add(o, "exits_per_s", json_object_new_double(ex));
			json_object_object_add(o, "traps_per_s", json_object_new_double(tr));
			json_object_object_add(o, "fills_per_s", json_object_new_double(fi));
			json_object_array_add(out, o);
		} else {
			printf("%-20s %-8s %-6s %12.0f %12.0f %12.0f\n", name, state,
			       json_lookup_str(vm, "paging", "-"), ex, tr, fi);
		}
		json_object_put(stats);
	}
	if (show && ctl->json)
		printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
	else if (show && !redraw)
		putchar('\n');
	fflush(stdout);
	json_object_put(out);
	json_object_put(list);
	memcpy(prev, now, (n < TOP_MAX_VMS ? n : TOP_MAX_VMS) * sizeof(*now));
	*n_prev = n < TOP_MAX_VMS ? n : TOP_MAX_VMS;
	free(now);
	return 0;
}

static int cmd_top(struct ctl *ctl, const struct cmd_args *args)
{
	const char *iv = cmd_args_get(args, "--interval"), *cv = cmd_args_get(args, "--count");
	double interval = iv ? strtod(iv, NULL) : 1.0;
	long count = cv ? strtol(cv, NULL, 10) : 0;
	if (interval < 0.1 || interval > 3600)
		return ctl_usage_error(ctl, "top: --interval must be between 0.1 and 3600 seconds");
	if (count < 0)
		return ctl_usage_error(ctl, "top: --count must be positive");
	bool redraw = !count && !ctl->json && isatty(STDOUT_FILENO);
	struct sample *prev = calloc(TOP_MAX_VMS, sizeof(*prev));
	if (!prev)
		return ctl_oom();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	size_t n_prev = 0;
	struct timespec last = { 0 }, now;
	int r = 0;
	/* One sample more than asked: the first only sets the baseline for rates. */
	for (long i = 0; !top_stop && (!count || i <= count); i++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		double dt = last.tv_sec ? (now.tv_sec - last.tv_sec) + (now.tv_nsec - last.tv_nsec) / 1e9 : 0;
		last = now;
		r = one_round(ctl, prev, &n_prev, dt, redraw, i > 0 || !count);
		if (r < 0)
			break;
		if (count && i == count)
			break;
		struct timespec ts = { (time_t) interval, (long) ((interval - (time_t) interval) * 1e9) };
		nanosleep(&ts, NULL);
	}
	free(prev);
	return r;
}

static const struct cmd_option top_options[] = {
	{ .name = "--interval", .has_arg = true },
	{ .name = "--count", .has_arg = true },
	{ .name = NULL },
};

const struct cmd_entry cmd_top_entry = {
	.name = "top",
	.usage = "[--interval SECONDS] [--count N]",
	.summary = "live view of VMs with exit, trap and shadow-fill rates",
	.max_args = 0,
	.options = top_options,
	.exec = cmd_top,
};
