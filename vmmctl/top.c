/* SPDX-License-Identifier: MIT */
/*
 * vmmctl top [NAME] [--interval SECONDS] [--count N] [--sort KEY]: a live
 * view of every VM with its exit rate and its trap rates per class
 * (privileged instructions, shadow fills, guest page faults, hypercalls),
 * from vm.list and stats.get each interval (rates are the difference of
 * two samples). With NAME, one VM in detail: every exit reason, trap class,
 * shadow-MMU counter and the busiest privileged instructions. On a
 * terminal the screen is redrawn; otherwise (or with --count) each sample
 * is printed below the last, which suits scripts and tests. --json prints
 * one JSON document per sample.
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
#define TOP_MNEMONICS 8       /* busiest privileged instructions in the one-VM view */

/* The columns: a counter each, read from stats.get by the first path that exists. */
enum { C_EXITS, C_TRAPS, C_PRIV, C_FILLS, C_GFAULTS, C_HCALLS, C_MAX };

static const struct column {
	const char *title, *json, *sort;
	const char *paths[2];
} columns[C_MAX] = {
	[C_EXITS]   = { "EXITS/s",  "exits_per_s",        "exits",      { "exits_total" } },
	[C_TRAPS]   = { "TRAPS/s",  "traps_per_s",        "traps",      { "traps.total" } },
	[C_PRIV]    = { "PRIV/s",   "privileged_per_s",   "privileged", { "traps.by_class.privileged" } },
	[C_FILLS]   = { "FILLS/s",  "fills_per_s",        "fills",      { "shadow.fills" } },
	[C_GFAULTS] = { "GFAULT/s", "guest_faults_per_s", "faults",     { "traps.by_class.page_fault_guest" } },
	/* xenpv's hypercalls (stats.get `hypercalls`), or a trap class of that name. */
	[C_HCALLS]  = { "HCALL/s",  "hypercalls_per_s",   "hypercalls", { "hypercalls.total", "traps.by_class.hypercall" } },
};

struct sample {
	char name[64];
	char state[12], paging[8];
	uint64_t n[C_MAX];
	double rate[C_MAX];
	int has[C_MAX];           /* the VM has the counter (hw mode has no traps) */
};

static volatile sig_atomic_t top_stop;
static void on_signal(int sig) { (void) sig; top_stop = 1; }

static int sort_key = -1;     /* a column, or -1: by name */

static int by_key(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	if (sort_key >= 0 && x->rate[sort_key] != y->rate[sort_key])
		return x->rate[sort_key] < y->rate[sort_key] ? 1 : -1;   /* busiest first */
	return strcmp(x->name, y->name);
}

static const struct sample *find(const struct sample *s, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	return NULL;
}

static void read_counters(struct sample *s, struct json_object *stats)
{
	for (int c = 0; c < C_MAX; c++)
		for (int k = 0; k < 2 && columns[c].paths[k]; k++) {
			struct json_object *v = json_lookup(stats, columns[c].paths[k]);
			if (v) {
				s->n[c] = (uint64_t) json_object_get_int64(v);
				s->has[c] = 1;
				break;
			}
		}
}

static void print_table(const struct ctl *ctl, struct sample *now, size_t n, bool redraw)
{
	if (ctl->json) {
		struct json_object *out = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "name", json_object_new_string(now[i].name));
			json_object_object_add(o, "state", json_object_new_string(now[i].state));
			json_object_object_add(o, "paging", json_object_new_string(now[i].paging));
			for (int c = 0; c < C_MAX; c++)
				json_object_object_add(o, columns[c].json, json_object_new_double(now[i].rate[c]));
			json_object_array_add(out, o);
		}
		printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
		json_object_put(out);
		return;
	}
	if (redraw)
		fputs("\033[H\033[2J", stdout);
	printf("%-20s %-8s %-6s", "NAME", "STATE", "PAGING");
	for (int c = 0; c < C_MAX; c++)
		printf(" %10s", columns[c].title);
	putchar('\n');
	for (size_t i = 0; i < n; i++) {
		printf("%-20s %-8s %-6s", now[i].name, now[i].state, now[i].paging);
		for (int c = 0; c < C_MAX; c++) {
			if (now[i].has[c])
				printf(" %10.0f", now[i].rate[c]);
			else
				printf(" %10s", "-");
		}
		putchar('\n');
	}
	if (!redraw)
		putchar('\n');
}

/* Every VM: one sample; rates against prev. */
static int all_round(struct ctl *ctl, struct sample *prev, size_t *n_prev, double dt, bool redraw, bool show)
{
	struct json_object *list;
	int r = ctl_call(ctl, "vm.list", NULL, &list);
	if (r < 0)
		return r;
	struct json_object *vms = json_lookup(list, "vms");
	size_t n = vms ? json_object_array_length(vms) : 0;
	if (n > TOP_MAX_VMS)
		n = TOP_MAX_VMS;
	struct sample *now = calloc(n ? n : 1, sizeof(*now));
	if (!now) {
		json_object_put(list);
		return ctl_oom();
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i), *stats = NULL;
		const char *name = json_lookup_str(vm, "name", "?");
		snprintf(now[i].name, sizeof(now[i].name), "%s", name);
		snprintf(now[i].state, sizeof(now[i].state), "%s", json_lookup_str(vm, "state", "?"));
		snprintf(now[i].paging, sizeof(now[i].paging), "%s", json_lookup_str(vm, "paging", "-"));
		if (strcmp(now[i].state, "running") == 0 || strcmp(now[i].state, "paused") == 0) {
			struct json_object *p = ctl_params_name(name);
			struct rpc_error err;
			if (p && ctl_try_call(ctl, "stats.get", p, &stats, &err) == 0)
				read_counters(&now[i], stats);
			json_object_put(stats);
		}
		const struct sample *before = find(prev, *n_prev, name);
		for (int c = 0; c < C_MAX; c++)
			if (before && dt > 0 && now[i].n[c] >= before->n[c])
				now[i].rate[c] = (double) (now[i].n[c] - before->n[c]) / dt;
	}
	json_object_put(list);
	memcpy(prev, now, n * sizeof(*now));
	*n_prev = n;
	if (show) {
		qsort(now, n, sizeof(*now), by_key);
		print_table(ctl, now, n, redraw);
	}
	fflush(stdout);
	free(now);
	return 0;
}

/* {key: rate} of the integer members two objects share. */
static struct json_object *rates_of(struct json_object *now, struct json_object *before, double dt)
{
	struct json_object *out = json_object_new_object();
	if (!json_object_is_type(now, json_type_object) || !json_object_is_type(before, json_type_object) || dt <= 0)
		return out;
	json_object_object_foreach(now, key, val) {
		struct json_object *b;
		if (!json_object_is_type(val, json_type_int) || !json_object_object_get_ex(before, key, &b) ||
		    strcmp(key, "total") == 0 || strncmp(key, "pool_", 5) == 0)
			continue;   /* sums and the pool's gauges are not events */
		int64_t d = json_object_get_int64(val) - json_object_get_int64(b);
		json_object_object_add(out, key, json_object_new_double(d > 0 ? (double) d / dt : 0));
	}
	return out;
}

/* "name 12/s, other 3/s": the members of a rates object that moved, largest
 * first, at most max (taking them out of rates as it goes); "-" for none. */
static void rates_line(struct json_object *left, size_t max, char *buf, size_t len)
{
	size_t off = 0, shown = 0;
	buf[0] = '\0';
	while (shown < max && off < len) {
		const char *best = NULL;
		double top = -1;
		json_object_object_foreach(left, k, v)
			if (json_object_get_double(v) > 0 && json_object_get_double(v) > top) {
				top = json_object_get_double(v);
				best = k;
			}
		if (!best)
			break;
		off += (size_t) snprintf(buf + off, len - off, "%s%s %.0f/s", shown ? ", " : "", best, top);
		json_object_object_del(left, best);
		shown++;
	}
	if (!shown)
		snprintf(buf, len, "-");
}

/* One VM in detail. */
static int one_round(struct ctl *ctl, const char *name, struct json_object **prev, double dt, bool redraw, bool show)
{
	struct json_object *stats;
	int r = ctl_call(ctl, "stats.get", ctl_params_name(name), &stats);
	if (r < 0)
		return r;
	if (show) {
		static const struct { const char *path, *title, *json; size_t max; } parts[] = {
			{ "exits", "exits", "exits", 12 }, { "traps.by_class", "traps", "traps", 12 },
			{ "traps.privileged_by_mnemonic", "privileged", "privileged", TOP_MNEMONICS },
			{ "traps.reflected_by_vector", "reflected", "reflected", TOP_MNEMONICS },
			{ "shadow", "shadow MMU", "shadow", 12 }, { "pt_switches", "pt switches", "pt_switches", 2 },
			{ "hypercalls.by_number", "hypercalls", "hypercalls", TOP_MNEMONICS },
		};
		struct json_object *out = json_object_new_object();
		if (!ctl->json && redraw)
			fputs("\033[H\033[2J", stdout);
		if (!ctl->json)
			printf("%s (%s mode)%s\n", name, json_lookup_str(stats, "mode", "?"),
			       json_object_get_boolean(json_lookup(stats, "live")) ? "" : ", not running");
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			struct json_object *now = json_lookup(stats, parts[i].path), *rates;
			if (!now)
				continue;
			rates = rates_of(now, json_lookup(*prev, parts[i].path), dt);
			if (ctl->json) {
				json_object_object_add(out, parts[i].json, rates);
				continue;
			}
			char line[1024], key[32];
			rates_line(rates, parts[i].max, line, sizeof(line));
			snprintf(key, sizeof(key), "%s", parts[i].title);
			print_kv(stdout, 14, key, line);
			json_object_put(rates);
		}
		if (ctl->json) {
			json_object_object_add(out, "name", json_object_new_string(name));
			printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
		} else if (!redraw)
			putchar('\n');
		json_object_put(out);
		fflush(stdout);
	}
	json_object_put(*prev);
	*prev = stats;
	return 0;
}

static int cmd_top(struct ctl *ctl, const struct cmd_args *args)
{
	const char *iv = cmd_args_get(args, "--interval"), *cv = cmd_args_get(args, "--count");
	const char *sv = cmd_args_get(args, "--sort");
	const char *one = args->argc > 0 ? args->argv[0] : NULL;
	double interval = iv ? strtod(iv, NULL) : 1.0;
	long count = cv ? strtol(cv, NULL, 10) : 0;
	if (interval < 0.1 || interval > 3600)
		return ctl_usage_error(ctl, "top: --interval must be between 0.1 and 3600 seconds");
	if (count < 0)
		return ctl_usage_error(ctl, "top: --count must be positive");
	sort_key = -1;
	if (sv && strcmp(sv, "name") != 0) {
		for (int c = 0; c < C_MAX; c++)
			if (strcmp(sv, columns[c].sort) == 0)
				sort_key = c;
		if (sort_key < 0)
			return ctl_usage_error(ctl, "top: --sort takes name, exits, traps, privileged, fills, faults "
					       "or hypercalls, not '%s'", sv);
	}
	bool redraw = !count && !ctl->json && isatty(STDOUT_FILENO);
	struct sample *prev = one ? NULL : calloc(TOP_MAX_VMS, sizeof(*prev));
	struct json_object *prev_one = NULL;
	if (!one && !prev)
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
		bool show = i > 0 || !count;
		r = one ? one_round(ctl, one, &prev_one, dt, redraw, show)
			: all_round(ctl, prev, &n_prev, dt, redraw, show);
		if (r < 0)
			break;
		if (count && i == count)
			break;
		struct timespec ts = { (time_t) interval, (long) ((interval - (time_t) interval) * 1e9) };
		nanosleep(&ts, NULL);
	}
	free(prev);
	json_object_put(prev_one);
	return r;
}

static const struct cmd_option top_options[] = {
	{ .name = "--interval", .has_arg = true },
	{ .name = "--count", .has_arg = true },
	{ .name = "--sort", .has_arg = true },
	{ .name = NULL },
};

const struct cmd_entry cmd_top_entry = {
	.name = "top",
	.usage = "[NAME] [--interval SECONDS] [--count N] [--sort KEY]",
	.summary = "live view of VMs with exit and per-class trap rates, or one VM in detail",
	.max_args = 1,
	.options = top_options,
	.exec = cmd_top,
};
