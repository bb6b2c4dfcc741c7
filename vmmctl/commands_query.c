/* SPDX-License-Identifier: MIT */
/*
 * Commands that only ask: version, list, info, and the raw `call` escape
 * hatch for scripts and tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/vm_config.h"
#include "vmmctl/output.h"
#include "vmmctl/vmmctl.h"

#define KV_WIDTH 13

static int cmd_version(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *res, *v;
	char buf[256];
	int r;

	r = ctl_call(ctl, "vmm.version", NULL, &res);
	if (r < 0)
		return r;
	if (ctl->json) {
		print_json(stdout, res);
		json_object_put(res);
		return 0;
	}

	print_kv(stdout, KV_WIDTH, "version", json_lookup_str(res, "version", "?"));
	format_value(json_lookup(res, "api"), buf, sizeof(buf));
	print_kv(stdout, KV_WIDTH, "api", buf);

	v = json_lookup(res, "kvm.api_version");
	if (json_object_is_type(json_lookup(res, "kvm.available"), json_type_boolean) &&
	    !json_object_get_boolean(json_lookup(res, "kvm.available")))
		print_kv(stdout, KV_WIDTH, "kvm", "unavailable");
	else if (v) {
		char api[64];

		format_value(v, api, sizeof(api));
		snprintf(buf, sizeof(buf), "available (API %s)", api);
		print_kv(stdout, KV_WIDTH, "kvm", buf);
	}
	else
		print_kv(stdout, KV_WIDTH, "kvm", "-");

	print_kv(stdout, KV_WIDTH, "host virt", json_lookup_str(res, "host.virt", "-"));
	format_value(json_lookup(res, "host.tdp"), buf, sizeof(buf));
	v = json_lookup(res, "host.tdp_levels");
	if (json_object_is_type(v, json_type_int)) {
		size_t off = strlen(buf);
		snprintf(buf + off, sizeof(buf) - off, " (%d-level nested tables)", json_object_get_int(v));
	}
	print_kv(stdout, KV_WIDTH, "host tdp", buf);
	/* The host is itself a VM: under what (TCGTCGTCGTCG: QEMU's emulator). */
	print_kv(stdout, KV_WIDTH, "host runs on", json_lookup_str(res, "host.hypervisor", "bare metal"));

	v = json_lookup(res, "paging_modes");
	if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v), off = 0;

		buf[0] = '\0';
		for (size_t i = 0; i < n && off < sizeof(buf); i++) {
			char mode[32];

			format_value(json_object_array_get_idx(v, i), mode, sizeof(mode));
			off += (size_t) snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? ", " : "", mode);
		}
		print_kv(stdout, KV_WIDTH, "paging modes", n ? buf : "-");
	} else
		print_kv(stdout, KV_WIDTH, "paging modes", "-");
	print_kv(stdout, KV_WIDTH, "socket", ctl->socket_path);

	json_object_put(res);
	return 0;
}

static int cmd_list(struct ctl *ctl, const struct cmd_args *args)
{
	static const char *const header[] = { "NAME", "STATE", "PAGING", "VCPUS", "MEM", "UPTIME" };
	struct json_object *res, *vms;
	struct table t;
	size_t n;
	int r;

	r = ctl_call(ctl, "vm.list", NULL, &res);
	if (r < 0)
		return r;
	if (ctl->json) {
		print_json(stdout, res);
		json_object_put(res);
		return 0;
	}

	r = table_init(&t, 6, header);
	vms = json_lookup(res, "vms");
	n = json_object_is_type(vms, json_type_array) ? json_object_array_length(vms) : 0;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i);
		const char *state = json_lookup_str(vm, "state", "?");
		struct json_object *up = json_lookup(vm, "uptime_s");
		char vcpus[32], mem[32], uptime[32];
		const char *row[6];

		format_value(json_lookup(vm, "vcpus"), vcpus, sizeof(vcpus));
		format_mib(json_object_get_int64(json_lookup(vm, "memory_mib")), mem, sizeof(mem));
		/* Only a VM with a live worker has an uptime worth showing. */
		if (up && (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0))
			format_uptime(json_object_get_double(up), uptime, sizeof(uptime));
		else
			snprintf(uptime, sizeof(uptime), "-");
		row[0] = json_lookup_str(vm, "name", "?");
		row[1] = state;
		row[2] = json_lookup_str(vm, "paging", "-");
		row[3] = vcpus;
		row[4] = mem;
		row[5] = uptime;
		r = table_add_row(&t, row);
	}
	if (r >= 0)
		table_print(&t, stdout);
	table_done(&t);
	/* A definition vmmd could not load: its VM is listed, and why. */
	for (size_t i = 0; r >= 0 && i < n; i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i);
		const char *problem = json_lookup_str(vm, "problem", NULL);
		if (problem)
			printf("%s: %s\n", json_lookup_str(vm, "name", "?"), problem);
	}
	json_object_put(res);
	return r < 0 ? ctl_oom() : 0;
}

/* "label: total (name n, name n, ...)" from a total and an object of counters. */
static void print_info_counters(const char *label, struct json_object *total, struct json_object *by)
{
	char *line = NULL, buf[64];
	size_t size = 0;
	FILE *f;

	if (!by && !total)
		return;
	f = open_memstream(&line, &size);
	if (!f)
		return;
	format_value(total, buf, sizeof(buf));
	fputs(buf, f);
	if (json_object_is_type(by, json_type_object) && json_object_object_length(by) > 0) {
		const char *sep = " (";

		json_object_object_foreach(by, name, count) {
			format_value(count, buf, sizeof(buf));
			fprintf(f, "%s%s %s", sep, name, buf);
			sep = ", ";
		}
		fputc(')', f);
	}
	if (fclose(f) == 0)
		print_kv(stdout, KV_WIDTH, label, line);
	free(line);
}

static void print_info_exits(struct json_object *stats)
{
	print_info_counters("exits", json_lookup(stats, "exits_total"), json_lookup(stats, "exits"));
	/* Shadow mode: traps by class, and page-table writes vmmd left to the CPU (docs/shadow.md). */
	if (json_lookup(stats, "traps")) {
		print_info_counters("traps", json_lookup(stats, "traps.total"), json_lookup(stats, "traps.by_class"));
		print_info_counters("pt unshadowed", json_lookup(stats, "traps.pt_write_native"),
				    json_lookup(stats, "traps.pt_write_native_by_mnemonic"));
	}
}

static void print_info_devices(struct json_object *devices)
{
	size_t n = json_object_is_type(devices, json_type_array) ? json_object_array_length(devices) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *d = json_object_array_get_idx(devices, i);
		struct json_object *ro = json_lookup(d, "readonly");
		const char *path = json_lookup_str(d, "path", NULL);

		char line[VM_PATH_MAX + 64];

		snprintf(line, sizeof(line), "%s%s%s%s", json_lookup_str(d, "type", "?"),
			 path ? " " : "", path ? path : "",
			 ro && json_object_get_boolean(ro) ? " (read-only)" : "");
		print_kv(stdout, KV_WIDTH, "device", line);
	}
}

static int cmd_info(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *params = ctl_params_name(args->argv[0]), *res, *config, *exit;
	const char *state, *paging;
	char buf[256];
	int r;

	if (!params)
		return ctl_oom();
	r = ctl_call(ctl, "vm.info", params, &res);
	if (r < 0)
		return r;
	if (ctl->json) {
		print_json(stdout, res);
		json_object_put(res);
		return 0;
	}

	config = json_lookup(res, "config");
	state = json_lookup_str(res, "state", "?");
	print_kv(stdout, KV_WIDTH, "name", json_lookup_str(res, "name", args->argv[0]));
	print_kv(stdout, KV_WIDTH, "state", state);
	if (json_lookup_str(res, "problem", NULL))
		print_kv(stdout, KV_WIDTH, "problem", json_lookup_str(res, "problem", ""));
	format_value(json_lookup(res, "pid"), buf, sizeof(buf));
	print_kv(stdout, KV_WIDTH, "pid", buf);
	if (json_lookup(res, "uptime_s") &&
	    (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0))
		format_uptime(json_object_get_double(json_lookup(res, "uptime_s")), buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "-");
	print_kv(stdout, KV_WIDTH, "uptime", buf);

	paging = json_lookup_str(config, "paging", "-");
	if (strcmp(paging, "shadow") == 0) {
		snprintf(buf, sizeof(buf), "shadow (%s)", json_lookup_str(config, "shadow.strategy", "?"));
		print_kv(stdout, KV_WIDTH, "paging", buf);
	}
	else
		print_kv(stdout, KV_WIDTH, "paging", paging);
	format_value(json_lookup(config, "vcpus"), buf, sizeof(buf));
	print_kv(stdout, KV_WIDTH, "vcpus", buf);
	if (json_lookup(config, "memory_mib"))
		format_mib(json_object_get_int64(json_lookup(config, "memory_mib")), buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "-");
	print_kv(stdout, KV_WIDTH, "memory", buf);
	print_kv(stdout, KV_WIDTH, "kernel", json_lookup_str(config, "kernel", "-"));
	print_kv(stdout, KV_WIDTH, "initrd", json_lookup_str(config, "initrd", "-"));
	/* vmmd leaves the command lines out below the debug role: they often carry secrets. */
	const char *hidden = json_lookup(res, "hidden") ? "(hidden: needs the debug role)" : "";
	print_kv(stdout, KV_WIDTH, "cmdline", json_lookup_str(config, "cmdline", hidden));
	struct json_object *boot = json_lookup(res, "boot");
	if (boot) {
		/* What the last boot gave the kernel: vmmd adds words for Linux. */
		const char *profile = json_lookup_str(boot, "host_profile", NULL);
		snprintf(buf, sizeof(buf), "%s%s%s", json_lookup_str(boot, "kind", "?"),
			 profile ? ", host profile " : "", profile ? profile : "");
		print_kv(stdout, KV_WIDTH, "boot", buf);
		print_kv(stdout, KV_WIDTH, "kernel got", json_lookup_str(boot, "cmdline", hidden));
	}
	if (json_lookup_u64(res, "resets") > 0) {
		snprintf(buf, sizeof(buf), "%llu (on_reset \"%s\")", (unsigned long long) json_lookup_u64(res, "resets"),
			 json_lookup_str(config, "on_reset", "?"));
		print_kv(stdout, KV_WIDTH, "resets", buf);
	}
	print_kv(stdout, KV_WIDTH, "console log", json_lookup_str(config, "console.log", "-"));
	print_info_devices(json_lookup(config, "devices"));

	exit = json_lookup(res, "exit");
	if (exit) {
		print_kv(stdout, KV_WIDTH, "exit reason", json_lookup_str(exit, "reason", "-"));
		format_value(json_lookup(exit, "code"), buf, sizeof(buf));
		print_kv(stdout, KV_WIDTH, "exit code", buf);
		if (json_lookup_str(exit, "message", NULL))
			print_kv(stdout, KV_WIDTH, "exit message", json_lookup_str(exit, "message", ""));
	}
	print_info_exits(json_lookup(res, "stats"));

	json_object_put(res);
	return 0;
}

static int cmd_call(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *params = NULL, *res;
	int r;

	if (args->argc > 1) {
		enum json_tokener_error jerr;

		params = json_tokener_parse_verbose(args->argv[1], &jerr);
		if (!params && jerr != json_tokener_success)
			return ctl_usage_error(ctl, "call: JSON-PARAMS: %s", json_tokener_error_desc(jerr));
		if (params && !json_object_is_type(params, json_type_object)) {
			json_object_put(params);
			return ctl_usage_error(ctl, "call: JSON-PARAMS must be an object");
		}
	}
	r = ctl_call(ctl, args->argv[0], params, &res);
	if (r < 0)
		return r;
	print_json(stdout, res);
	json_object_put(res);
	return 0;
}

const struct cmd_entry cmd_version_entry = {
	.name = "version",
	.usage = "",
	.summary = "show vmmd's version and the host's virtualization support",
	.exec = cmd_version,
};

const struct cmd_entry cmd_list_entry = {
	.name = "list",
	.usage = "",
	.summary = "list VMs",
	.exec = cmd_list,
};

const struct cmd_entry cmd_info_entry = {
	.name = "info",
	.usage = "NAME",
	.summary = "show a VM's config, state, exit and exit counts",
	.min_args = 1, .max_args = 1,
	.exec = cmd_info,
};

const struct cmd_entry cmd_call_entry = {
	.name = "call",
	.usage = "METHOD [JSON-PARAMS]",
	.summary = "call any method and print its raw JSON result",
	.min_args = 1, .max_args = 2,
	.exec = cmd_call,
};
