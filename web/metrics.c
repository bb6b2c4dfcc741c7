/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmctl/json_util.h"
#include "web/metrics.h"

#define NAME_MAX_LEN 128
#define PATH_MAX_LEN 96

enum rule_kind {
	R_SKIP,          /* a sum of others, or not a counter */
	R_COUNTER,       /* an integer */
	R_GAUGE,         /* an integer that goes up and down */
	R_COUNTER_SET,   /* an object of integers: one sample per member, labelled */
	R_DEVICES,       /* the virtio devices */
	R_BUS,           /* {regions: [...], misses: {...}} */
};

struct rule {
	const char *path;      /* dotted, from the top of stats.get */
	enum rule_kind kind;
	const char *name;      /* family base name */
	const char *label;     /* R_COUNTER_SET: the label the member names go in */
	const char *help;
};

static const struct rule stats_rules[] = {
	{ "mode", R_SKIP }, { "live", R_SKIP }, { "exits_total", R_SKIP },
	{ "irqs.total", R_SKIP }, { "traps.total", R_SKIP }, { "emulated.total", R_SKIP },
	{ "exits", R_COUNTER_SET, "vmmd_vm_exits", "reason", "KVM exits to vmmd by reason, summed over vCPUs" },
	/* Per vCPU the same exits again: for 1-vCPU VMs a copy, at 100 VMs a
	 * tenth of the scrape. stats.get (/api) has them. */
	{ "vcpus", R_SKIP },
	{ "irqs.injected", R_COUNTER_SET, "vmmd_vm_injected_interrupts", "kind",
	  "Interrupts injected through irq.inject, by kind (irq line, vector, nmi)" },
	{ "emulated", R_COUNTER_SET, "vmmd_vm_emulated_instructions", "instruction",
	  "Instructions KVM could not emulate that vmmd finished" },
	{ "devices", R_DEVICES, "vmmd_vm_virtio", NULL, NULL },
	{ "bus", R_BUS, "vmmd_vm_device", NULL, NULL },
	{ "traps.by_class", R_COUNTER_SET, "vmmd_vm_traps", "class", "Shadow-mode traps to vmmd by class" },
	{ "traps.privileged_by_mnemonic", R_COUNTER_SET, "vmmd_vm_privileged_instructions", "mnemonic",
	  "Privileged instructions vmmd emulated in shadow mode, by mnemonic" },
	{ "traps.reflected_by_vector", R_COUNTER_SET, "vmmd_vm_reflected_exceptions", "vector",
	  "Exceptions vmmd reflected into the guest in shadow mode, by vector" },
	{ "traps.pt_write_by_mnemonic", R_COUNTER_SET, "vmmd_vm_shadow_pt_writes_emulated", "mnemonic",
	  "Guest writes to its write-protected page tables that vmmd emulated, by mnemonic" },
	{ "traps.pt_write_native_by_mnemonic", R_COUNTER_SET, "vmmd_vm_shadow_pt_writes_native", "mnemonic",
	  "Guest page-table writes vmmd let the CPU run after unprotecting the page, by mnemonic" },
	{ "shadow.fills", R_COUNTER, "vmmd_vm_shadow_fills", NULL, "Shadow page-table entries filled on a miss" },
	{ "shadow.flushes", R_COUNTER, "vmmd_vm_shadow_flushes", NULL, "Shadow page tables dropped whole" },
	{ "shadow.invlpg", R_COUNTER, "vmmd_vm_shadow_invlpg", NULL, "Guest invlpg instructions applied to the shadows" },
	{ "shadow.write_protect_faults", R_COUNTER, "vmmd_vm_shadow_write_protect_faults", NULL,
	  "Guest writes to its write-protected page-table pages" },
	{ "shadow.roots", R_COUNTER, "vmmd_vm_shadow_root_loads", NULL, "Shadow roots loaded into the real CR3" },
	{ "shadow.cache_hits", R_COUNTER, "vmmd_vm_shadow_root_cache_hits", NULL,
	  "Guest CR3 switches that found their shadow root cached" },
	{ "shadow.cache_misses", R_COUNTER, "vmmd_vm_shadow_root_cache_misses", NULL,
	  "Guest CR3 switches that had to build a shadow root" },
	{ "shadow.pool_used", R_GAUGE, "vmmd_vm_shadow_pool_used_pages", NULL, "Shadow page-table pages in use" },
	{ "shadow.pool_pages", R_GAUGE, "vmmd_vm_shadow_pool_pages", NULL, "Shadow page-table pages in the pool" },
	{ "pt_switches", R_COUNTER_SET, "vmmd_vm_page_table_switches", "kind",
	  "Page-table switches: guest CR3 writes (guest) and shadow roots loaded (shadow)" },
};

#define N_RULES (sizeof(stats_rules) / sizeof(stats_rules[0]))

static int rule_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct rule *const *) a)->path, (*(const struct rule *const *) b)->path);
}

/* Every member of every VM's stats.get is looked up here: a binary search
 * of the table sorted once, not a strcmp against each rule (a scan was a
 * tenth of vmmweb's CPU per scrape at 100 VMs, bench B14). */
static const struct rule *find_rule(const char *path)
{
	static const struct rule *sorted[N_RULES];
	static bool ready;
	if (!ready) {
		for (size_t i = 0; i < N_RULES; i++)
			sorted[i] = &stats_rules[i];
		qsort(sorted, N_RULES, sizeof(sorted[0]), rule_cmp);
		ready = true;
	}
	struct rule key = { .path = path };
	const struct rule *k = &key, *const *hit = bsearch(&k, sorted, N_RULES, sizeof(sorted[0]), rule_cmp);
	return hit ? *hit : NULL;
}

/* Whether the table names something inside path: then path is walked, not summed up by shape. */
static bool rules_below(const char *path)
{
	size_t n = strlen(path);
	for (size_t i = 0; i < N_RULES; i++)
		if (strncmp(stats_rules[i].path, path, n) == 0 && stats_rules[i].path[n] == '.')
			return true;
	return false;
}

static bool is_int(struct json_object *v)
{
	return json_object_is_type(v, json_type_int);
}

static uint64_t u64(struct json_object *v)
{
	return json_object_get_uint64(v);
}

/* "vmmd_vm_" + the path with every non-name character as '_'. */
static void generic_name(const char *path, char *out, size_t len)
{
	static const char prefix[] = "vmmd_vm_";
	if (len < sizeof(prefix))
		return;
	memcpy(out, prefix, sizeof(prefix));
	prom_sanitize(path, out + sizeof(prefix) - 1, len - (sizeof(prefix) - 1));
}

/* "0x" and v in lower-case hex, as PRIx64 writes it; out has room for 19. */
static void hex_u64(char out[static 19], uint64_t v)
{
	char tmp[16];
	size_t n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < n; i++)
		out[2 + i] = tmp[n - 1 - i];
	out[2 + n] = '\0';
}

static int counter(struct prom_set *s, const char *name, const char *help, const struct prom_labels *base,
		   const struct prom_labels *extra, uint64_t v)
{
	return prom_add_u64(s, name, PROM_COUNTER, help, NULL, base, extra, v);
}

/* An object of integers: one sample per member, the member name in `label`. */
static int counter_set(struct prom_set *s, const char *name, const char *label, const char *help,
		       const struct prom_labels *base, struct json_object *obj)
{
	bool only_total = json_object_object_length(obj) == 1 && json_object_object_get_ex(obj, "total", NULL);
	int r = 0;
	json_object_object_foreach(obj, key, val) {
		if (!is_int(val) || (strcmp(key, "total") == 0 && !only_total))
			continue;
		struct prom_labels l = { 0 };
		prom_labels_push(&l, label, key);
		r = counter(s, name, help, base, &l, u64(val));
		if (r < 0)
			break;
	}
	return r;
}

static bool all_ints(struct json_object *obj)
{
	if (json_object_object_length(obj) == 0)
		return false;
	json_object_object_foreach(obj, key, val) {
		(void) key;
		if (!is_int(val))
			return false;
	}
	return true;
}

/* Members of a virtio device entry with a name or label of their own. */
static const struct {
	const char *member, *name, *direction, *help;
} virtio_members[] = {
	{ "requests", "vmmd_vm_virtio_requests", NULL, "Requests virtio devices completed" },
	{ "bytes_read", "vmmd_vm_virtio_bytes", "from_guest", "Bytes virtio devices moved, by direction" },
	{ "bytes_written", "vmmd_vm_virtio_bytes", "to_guest", "Bytes virtio devices moved, by direction" },
	{ "base", NULL }, { "irq", NULL },
};

static int devices(struct prom_set *s, const struct prom_labels *base, struct json_object *a)
{
	size_t n = json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *dev = json_object_array_get_idx(a, i);
		char at[24], name[NAME_MAX_LEN], help[160];
		if (!json_object_is_type(dev, json_type_object))
			continue;
		hex_u64(at, json_lookup_u64(dev, "base"));
		struct prom_labels l = *base;
		prom_labels_push(&l, "device", json_lookup_str(dev, "type", "?"));
		if (prom_labels_push(&l, "base", at) < 0)
			continue;
		json_object_object_foreach(dev, key, val) {
			size_t k = 0, nk = sizeof(virtio_members) / sizeof(virtio_members[0]);
			while (k < nk && strcmp(virtio_members[k].member, key) != 0)
				k++;
			if (!is_int(val) || (k < nk && !virtio_members[k].name))
				continue;
			struct prom_labels dir = { 0 };
			int r;
			if (k < nk) {
				prom_labels_push(&dir, "direction", virtio_members[k].direction);
				r = counter(s, virtio_members[k].name, virtio_members[k].help, &l,
					    virtio_members[k].direction ? &dir : NULL, u64(val));
			} else {
				char part[64];
				prom_sanitize(key, part, sizeof(part));
				snprintf(name, sizeof(name), "vmmd_vm_virtio_%s", part);
				snprintf(help, sizeof(help), "stats.get devices[].%s of virtio devices", part);
				r = counter(s, name, help, &l, NULL, u64(val));
			}
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int bus(struct prom_set *s, const struct prom_labels *base, struct json_object *o)
{
	struct json_object *regions = json_lookup(o, "regions"), *misses = json_lookup(o, "misses");
	size_t n = json_object_is_type(regions, json_type_array) ? json_object_array_length(regions) : 0;
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct json_object *reg = json_object_array_get_idx(regions, i);
		char at[24];
		hex_u64(at, json_lookup_u64(reg, "base"));
		struct prom_labels l = *base;
		prom_labels_push(&l, "space", json_lookup_str(reg, "space", "?"));
		prom_labels_push(&l, "device", json_lookup_str(reg, "device", "?"));
		if (prom_labels_push(&l, "base", at) < 0)
			continue;
		static const char *const ops[][2] = { { "reads", "read" }, { "writes", "write" } };
		for (size_t k = 0; k < 2 && r >= 0; k++) {
			struct prom_labels op = { 0 };
			prom_labels_push(&op, "op", ops[k][1]);
			r = counter(s, "vmmd_vm_device_accesses", "Accesses to vmmd's device models, by device and kind",
				    &l, &op, json_lookup_u64(reg, ops[k][0]));
		}
		/* Errors are rare: a series only for a device that had some (absent = 0). */
		if (r >= 0 && json_lookup_u64(reg, "errors"))
			r = counter(s, "vmmd_vm_device_access_errors", "Device-model accesses whose handler failed",
				    &l, NULL, json_lookup_u64(reg, "errors"));
	}
	if (r >= 0 && json_object_is_type(misses, json_type_object))
		r = counter_set(s, "vmmd_vm_device_unclaimed_accesses", "space",
				"Port and MMIO accesses no device claimed", base, misses);
	return r;
}

static int walk(struct prom_set *s, const struct prom_labels *base, const char *prefix, struct json_object *obj,
		int depth);

static int apply(struct prom_set *s, const struct prom_labels *base, const char *path, struct json_object *val,
		 int depth)
{
	const struct rule *rule = find_rule(path);
	char name[NAME_MAX_LEN], help[160];
	if (rule) {
		switch (rule->kind) {
		case R_SKIP:
			return 0;
		case R_COUNTER:
			return is_int(val) ? counter(s, rule->name, rule->help, base, NULL, u64(val)) : 0;
		case R_GAUGE:
			return is_int(val) ? prom_add_u64(s, rule->name, PROM_GAUGE, rule->help, NULL, base, NULL, u64(val)) : 0;
		case R_COUNTER_SET:
			return json_object_is_type(val, json_type_object) ?
			       counter_set(s, rule->name, rule->label, rule->help, base, val) : 0;
		case R_DEVICES:
			return devices(s, base, val);
		case R_BUS:
			return json_object_is_type(val, json_type_object) ? bus(s, base, val) : 0;
		}
		return 0;
	}
	/* Not in the table: by shape. "a.total" names the counter of a. */
	char stem[PATH_MAX_LEN];
	size_t len = strlen(path);
	snprintf(stem, sizeof(stem), "%s", path);
	if (len > 6 && strcmp(path + len - 6, ".total") == 0)
		stem[len - 6] = '\0';
	generic_name(stem, name, sizeof(name));
	snprintf(help, sizeof(help), "stats.get %s", path);
	if (is_int(val))
		return counter(s, name, help, base, NULL, u64(val));
	if (!json_object_is_type(val, json_type_object))
		return 0;   /* strings, booleans, nulls, arrays, fractions: not counters */
	if (all_ints(val) && !rules_below(path))
		return counter_set(s, name, "key", help, base, val);
	return walk(s, base, path, val, depth + 1);
}

static int walk(struct prom_set *s, const struct prom_labels *base, const char *prefix, struct json_object *obj,
		int depth)
{
	size_t plen = strlen(prefix);
	if (depth > 4)
		return 0;   /* deeper than anything stats.get holds: not ours to guess */
	json_object_object_foreach(obj, key, val) {
		/* prefix.key, joined by hand: snprintf's parsing, once per member of
		 * every VM, was a cost of its own at 100 VMs. */
		char path[PATH_MAX_LEN];
		size_t klen = strlen(key), at = plen ? plen + 1 : 0;
		if (at + klen >= sizeof(path))
			continue;
		memcpy(path, prefix, plen);
		path[plen] = '.';
		memcpy(path + at, key, klen + 1);
		int r = apply(s, base, path, val, depth);
		if (r < 0)
			return r;
	}
	return 0;
}

/* vm and mode, rendered once for the VM's hundred-odd samples. */
static void vm_labels(struct prom_set *s, struct prom_labels *l, const char *vm, const char *mode)
{
	*l = (struct prom_labels) { 0 };
	prom_labels_push(l, "vm", vm);
	prom_labels_push(l, "mode", mode);
	(void) prom_labels_freeze(s, l);   /* else each sample renders them */
}

int metrics_add_stats(struct prom_set *s, const char *vm, const char *mode, struct json_object *stats)
{
	struct prom_labels base;
	if (!json_object_is_type(stats, json_type_object))
		return -EINVAL;
	vm_labels(s, &base, vm, mode);
	return walk(s, &base, "", stats, 0);
}

static const char *const vm_states[] = { "created", "running", "paused", "stopped", "crashed" };

int metrics_add_vm(struct prom_set *s, struct json_object *vm)
{
	struct prom_labels base;
	const char *state = json_lookup_str(vm, "state", "");
	int r = 0;
	vm_labels(s, &base, json_lookup_str(vm, "name", "?"), json_lookup_str(vm, "paging", "?"));
	for (size_t i = 0; i < sizeof(vm_states) / sizeof(vm_states[0]) && r >= 0; i++) {
		struct prom_labels l = { 0 };
		prom_labels_push(&l, "state", vm_states[i]);
		r = prom_add_u64(s, "vmmd_vm_state", PROM_GAUGE, "1 for the VM's life-cycle state, 0 for the others",
				 NULL, &base, &l, strcmp(state, vm_states[i]) == 0);
	}
	struct json_object *up = json_lookup(vm, "uptime_s");
	if (r >= 0)
		r = prom_add_double(s, "vmmd_vm_uptime_seconds", PROM_GAUGE, "Time since the VM's worker started",
				    "seconds", &base, NULL, up ? json_object_get_double(up) : 0);
	if (r >= 0)
		r = prom_add_u64(s, "vmmd_vm_vcpus", PROM_GAUGE, "The VM's vCPUs", NULL, &base, NULL,
				 json_lookup_u64(vm, "vcpus"));
	if (r >= 0)
		r = prom_add_u64(s, "vmmd_vm_memory_bytes", PROM_GAUGE, "The VM's guest memory", "bytes", &base, NULL,
				 json_lookup_u64(vm, "memory_mib") << 20);
	return r;
}

struct daemon_figure {
	const char *path, *name, *help, *unit;
	enum prom_type type;
};

static const struct daemon_figure daemon_figures[] = {
	{ "rss_bytes", "vmmd_process_resident_memory_bytes", "vmmd's resident memory", "bytes", PROM_GAUGE },
	{ "open_fds", "vmmd_process_open_fds", "vmmd's open file descriptors", NULL, PROM_GAUGE },
	{ "max_fds", "vmmd_process_max_fds", "vmmd's file descriptor limit", NULL, PROM_GAUGE },
	{ "start_time", "vmmd_process_start_time_seconds", "When vmmd started, in seconds since the epoch",
	  "seconds", PROM_GAUGE },
	{ "connections", "vmmd_connections", "Client connections to vmmd's socket", NULL, PROM_GAUGE },
	{ "max_connections", "vmmd_connections_max", "vmmd's limit on client connections", NULL, PROM_GAUGE },
	{ "vms.max", "vmmd_vms_max", "vmmd's limit on defined VMs", NULL, PROM_GAUGE },
};

int metrics_add_daemon(struct prom_set *s, struct json_object *st)
{
	int r = 0;
	struct json_object *v;
	for (size_t i = 0; i < sizeof(daemon_figures) / sizeof(daemon_figures[0]) && r >= 0; i++) {
		const struct daemon_figure *f = &daemon_figures[i];
		if ((v = json_lookup(st, f->path)))
			r = prom_add_double(s, f->name, f->type, f->help, f->unit, NULL, NULL, json_object_get_double(v));
	}
	if (r >= 0)
		r = prom_add_double(s, "vmmd_process_cpu_seconds", PROM_COUNTER, "vmmd's CPU time, user and system",
				    "seconds", NULL, NULL,
				    json_object_get_double(json_lookup(st, "cpu_seconds.user")) +
				    json_object_get_double(json_lookup(st, "cpu_seconds.system")));
	for (size_t i = 0; i < sizeof(vm_states) / sizeof(vm_states[0]) && r >= 0; i++) {
		char path[32];
		struct prom_labels l = { 0 };
		snprintf(path, sizeof(path), "vms.%s", vm_states[i]);
		prom_labels_push(&l, "state", vm_states[i]);
		r = prom_add_u64(s, "vmmd_vms", PROM_GAUGE, "VMs defined in vmmd, by state", NULL, NULL, &l,
				 json_lookup_u64(st, path));
	}
	struct json_object *subs = json_lookup(st, "subscribers");
	if (r >= 0 && json_object_is_type(subs, json_type_object)) {
		json_object_object_foreach(subs, topic, n) {
			struct prom_labels l = { 0 };
			prom_labels_push(&l, "topic", topic);
			r = prom_add_u64(s, "vmmd_event_subscribers", PROM_GAUGE, "Connections subscribed to an event topic",
					 NULL, NULL, &l, u64(n));
			if (r < 0)
				break;
		}
	}
	if (r >= 0) {
		struct prom_labels l = { 0 };
		prom_labels_push(&l, "version", json_lookup_str(st, "version", "?"));
		r = prom_add_u64(s, "vmmd_build_info", PROM_GAUGE, "vmmd's version, in the label", NULL, NULL, &l, 1);
	}
	return r;
}
