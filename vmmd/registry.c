/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/printbuf.h>

#include "base/cleanup_json.h"
#include "base/macro.h"
#include "vmmd/common/log.h"
#include "vmmd/registry.h"

static const char *const state_names[] = {
	[VM_STATE_CREATED] = "created", [VM_STATE_RUNNING] = "running", [VM_STATE_PAUSED] = "paused",
	[VM_STATE_STOPPED] = "stopped", [VM_STATE_CRASHED] = "crashed",
};

const char *vm_state_name(enum vm_state s) { return state_names[s]; }

static int state_from_name(const char *s)
{
	for (unsigned i = 0; i < ELEMENTSOF(state_names); i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -EINVAL;
}

int registry_init(struct registry *reg, const char *state_dir)
{
	memset(reg, 0, sizeof(*reg));
	reg->max_vms = REGISTRY_MAX_VMS;
	reg->state_dir = strdup(state_dir);
	return reg->state_dir ? 0 : -ENOMEM;
}

int registry_path(struct registry *reg, const char *name, const char *suffix, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s%s", reg->state_dir, name, suffix);
	return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

struct vm_record *registry_find(struct registry *reg, const char *name)
{
	for (struct vm_record *vm = reg->head; vm; vm = vm->next)
		if (strcmp(vm->name, name) == 0)
			return vm;
	return NULL;
}

struct json_object *vm_exit_json(const struct vm_exit_info *e)
{
	if (!e->valid)
		return NULL;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "reason", json_object_new_string(vm_exit_reason_name(e->reason)));
	json_object_object_add(o, "code", json_object_new_int(e->code));
	if (e->reason == VM_EXIT_DEBUG_EXIT)
		json_object_object_add(o, "value", json_object_new_int64(e->value));
	json_object_object_add(o, "message", json_object_new_string(e->message));
	return o;
}

void vm_exit_from_json(struct json_object *o, struct vm_exit_info *ret)
{
	struct vm_exit_info e = { .valid = true, .reason = VM_EXIT_UNKNOWN };
	struct json_object *v;

	if (json_object_object_get_ex(o, "reason", &v))
		e.reason = vm_exit_reason_from_name(json_object_get_string(v));
	if (json_object_object_get_ex(o, "code", &v))
		e.code = json_object_get_int(v);
	if (json_object_object_get_ex(o, "value", &v))
		e.value = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "message", &v))
		snprintf(e.message, sizeof(e.message), "%s", json_object_get_string(v));
	*ret = e;
}

double vm_uptime(const struct vm_record *vm)
{
	if (vm->state != VM_STATE_RUNNING && vm->state != VM_STATE_PAUSED)
		return 0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - vm->started.tv_sec) + (now.tv_nsec - vm->started.tv_nsec) / 1e9;
}

/* The config's text, rendered once (compact, '/' unescaped, as rpc.c sends
 * replies). Used whatever the flags: inside registry_save's pretty document
 * the config stays on one line, which is still the same JSON. */
static int config_text_serializer(struct json_object *jso, struct printbuf *pb, int level, int flags)
{
	const char *text = json_object_get_userdata(jso);
	return printbuf_memappend(pb, text, (int) strlen(text));
}

static void config_text_free(struct json_object *jso, void *userdata)
{
	free(userdata);
}

static struct json_object *config_json_cached(const struct vm_config *config)
{
	struct json_object *o = vm_config_to_json(config);
	if (!o)
		return NULL;
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *copy = text ? strdup(text) : NULL;
	if (!copy)
		return o;   /* still a valid (uncached-text) object */
	json_object_set_serializer(o, config_text_serializer, copy, config_text_free);
	return o;
}

struct json_object *registry_config_json(struct vm_record *vm)
{
	if (vm->config_json)
		return json_object_get(vm->config_json);
	return vm_config_to_json(vm->config);
}

int registry_save(struct registry *reg, struct vm_record *vm)
{
	char path[4096], tmp[4096 + 8];
	int r = registry_path(reg, vm->name, ".json", path, sizeof(path));
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	json_object_object_add(o, "config", registry_config_json(vm));
	json_object_object_add(o, "state", json_object_new_string(vm_state_name(vm->state)));
	struct json_object *exit = vm_exit_json(&vm->exit);
	if (exit)
		json_object_object_add(o, "exit", exit);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		r = -errno;
	} else {
		size_t len = strlen(text);
		r = write(fd, text, len) == (ssize_t) len && write(fd, "\n", 1) == 1 ? 0 : -EIO;
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r == 0 && rename(tmp, path) < 0)
			r = -errno;
		if (r < 0)
			unlink(tmp);
	}
	return r;
}

static int add_record(struct registry *reg, struct vm_config *config, bool limited, struct vm_record **ret)
{
	if (registry_find(reg, config->name))
		return -EEXIST;
	if (limited && reg->count >= reg->max_vms)
		return -ENOSPC;
	struct vm_record *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	snprintf(vm->name, sizeof(vm->name), "%s", config->name);
	vm->config = config;
	vm->config_json = config_json_cached(config);
	vm->state = VM_STATE_CREATED;
	int r = registry_save(reg, vm);
	if (r < 0) {
		json_object_put(vm->config_json);
		free(vm);
		return r;
	}
	vm->next = reg->head;
	reg->head = vm;
	reg->count++;
	*ret = vm;
	return 0;
}

int registry_add(struct registry *reg, struct vm_config *config, struct vm_record **ret)
{
	return add_record(reg, config, true, ret);
}

static void record_free(struct vm_record *vm)
{
	vm_config_free(vm->config);
	json_object_put(vm->config_json);
	json_object_put(vm->last_stats);
	json_object_put(vm->boot);
	json_object_put(vm->sandbox);
	console_ring_close(&vm->console);
	free(vm);
}

int registry_remove(struct registry *reg, struct vm_record *vm)
{
	for (struct vm_record **pp = &reg->head; *pp; pp = &(*pp)->next) {
		if (*pp != vm)
			continue;
		*pp = vm->next;
		reg->count--;
		char path[4096];
		if (registry_path(reg, vm->name, ".json", path, sizeof(path)) == 0 && unlink(path) < 0 && errno != ENOENT)
			log_warning_errno(-errno, "Failed to remove %s, ignoring: %m", path);
		if (registry_path(reg, vm->name, ".console", path, sizeof(path)) == 0)
			(void) unlink(path);
		record_free(vm);
		return 0;
	}
	return -ENOENT;
}

static int load_one(struct registry *reg, const char *file)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", reg->state_dir, file);
	_cleanup_(json_object_putp) struct json_object *o = json_object_from_file(path);
	struct json_object *config_json, *state, *exit;
	if (!o)
		return -EBADMSG;
	struct vm_config *config = NULL;
	struct config_error err;
	struct vm_record *vm = NULL;
	if (!json_object_object_get_ex(o, "config", &config_json) ||
	    vm_config_from_json(config_json, &config, &err) < 0)
		return -EBADMSG;
	int r = add_record(reg, config, false, &vm);   /* what exists stays, whatever max_vms says now */
	if (r < 0) {
		vm_config_free(config);
		return r;
	}
	if (json_object_object_get_ex(o, "state", &state)) {
		int s = state_from_name(json_object_get_string(state));
		vm->state = s < 0 ? VM_STATE_CREATED : (enum vm_state) s;
	}
	if (json_object_object_get_ex(o, "exit", &exit))
		vm_exit_from_json(exit, &vm->exit);
	/* Its worker may still run, waiting to be adopted (worker_adopt_all). */
	if (vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED)
		vm->adopt_pending = true;
	char console[4096];
	if (registry_path(reg, vm->name, ".console", console, sizeof(console)) == 0)
		(void) console_ring_open(console, &vm->console);
	return registry_save(reg, vm);
}

int registry_load(struct registry *reg)
{
	DIR *d = opendir(reg->state_dir);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0 || de->d_name[0] == '.')
			continue;
		int r = load_one(reg, de->d_name);
		if (r < 0)
			log_warning_errno(r, "Skipping VM definition %s/%s: %m", reg->state_dir, de->d_name);
	}
	closedir(d);
	return 0;
}

void registry_free(struct registry *reg)
{
	while (reg->head) {
		struct vm_record *vm = reg->head;
		reg->head = vm->next;
		record_free(vm);
	}
	free(reg->state_dir);
	reg->state_dir = NULL;
}
