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
#include "vmmd/state_dir.h"

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

int registry_init(struct registry *reg, const char *state_dir, const char **why)
{
	memset(reg, 0, sizeof(*reg));
	reg->max_vms = REGISTRY_MAX_VMS;
	reg->dir_fd = -EBADF;
	int r = state_dir_open(state_dir, &reg->dir_fd, why);
	if (r < 0)
		return r;
	reg->state_dir = strdup(state_dir);
	if (!reg->state_dir) {
		reg->dir_fd = safe_close(reg->dir_fd);
		*why = "out of memory";
		return -ENOMEM;
	}
	return 0;
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
	if (vm->problem)
		return json_object_get(vm->raw_config);
	if (vm->config_json)
		return json_object_get(vm->config_json);
	return vm_config_to_json(vm->config);
}

/*
 * A definition is written durably when it is created (the rename and the
 * directory fsync'ed); a change of state (starting, running, stopped, its
 * exit) is written whole (the file fsync'ed before its rename) but the
 * directory is not: a power cut may leave the previous state, which the
 * next load handles like any stale one (its workers died with the
 * machine), never an empty file. Two fsyncs fewer per start (~10 ms here).
 */
static int save(struct registry *reg, struct vm_record *vm, bool durable)
{
	if (vm->problem)
		return 0;   /* what we could not read is kept as it is */
	char file[VM_NAME_MAX + 8];
	snprintf(file, sizeof(file), "%s.json", vm->name);
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	json_object_object_add(o, "config", registry_config_json(vm));
	json_object_object_add(o, "state", json_object_new_string(vm_state_name(vm->state)));
	struct json_object *exit = vm_exit_json(&vm->exit);
	if (exit)
		json_object_object_add(o, "exit", exit);
	if (vm->starting)
		json_object_object_add(o, "starting", json_object_new_boolean(true));
	json_object_object_add(o, "paths", json_object_new_string(vm->paths_from_user ? "user" : "root"));
	struct json_object *client = json_object_new_array();
	char name[VM_FILE_NAME_MAX];
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		if (vm->client_file[i])
			json_object_array_add(client, json_object_new_string(vm_file_slot_name(i, name)));
	json_object_object_add(o, "client_files", client);
	size_t len;
	const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PRETTY, &len);
	if (!text)
		return -ENOMEM;
	_cleanup_free_ char *line = malloc(len + 1);
	if (!line)
		return -ENOMEM;
	memcpy(line, text, len);
	line[len] = '\n';
	return state_file_write(reg->dir_fd, file, line, len + 1, durable);
}

int registry_save(struct registry *reg, struct vm_record *vm)
{
	return save(reg, vm, false);
}

void registry_drop_files(struct vm_record *vm, const bool *slots)
{
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		if (!slots || slots[i])
			vm->files[i] = safe_close(vm->files[i]);
}

/* A new record for config (taken over on success), written first (durably) when `write`. */
static int add_record(struct registry *reg, struct vm_config *config, struct vm_files_origin *origin,
		      bool limited, bool write, struct vm_record **ret)
{
	if (registry_find(reg, config->name))
		return -EEXIST;
	if (limited && reg->count >= reg->max_vms)
		return -E2BIG;   /* not ENOSPC: that is a full disk */
	struct vm_record *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	snprintf(vm->name, sizeof(vm->name), "%s", config->name);
	vm->config = config;
	vm->config_json = config_json_cached(config);
	vm->state = VM_STATE_CREATED;
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		vm->files[i] = -EBADF;
	if (origin) {
		vm->paths_from_user = origin->paths_from_user;
		memcpy(vm->client_file, origin->client_file, sizeof(vm->client_file));
	}
	int r = write ? save(reg, vm, true) : 0;
	if (r < 0) {
		json_object_put(vm->config_json);
		free(vm);
		return r;
	}
	for (int i = 0; origin && i < VM_FILE_SLOTS; i++)
		vm->files[i] = TAKE_FD(origin->files[i]);
	vm->next = reg->head;
	reg->head = vm;
	reg->count++;
	*ret = vm;
	return 0;
}

int registry_add(struct registry *reg, struct vm_config *config, struct vm_files_origin *origin,
		 struct vm_record **ret)
{
	return add_record(reg, config, origin, true, true, ret);
}

static void record_free(struct vm_record *vm)
{
	registry_drop_files(vm, NULL);
	vm_config_free(vm->config);
	free(vm->problem);
	json_object_put(vm->raw_config);
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
		char file[VM_NAME_MAX + 16];
		snprintf(file, sizeof(file), "%s.json", vm->name);
		if (unlinkat(reg->dir_fd, file, 0) < 0 && errno != ENOENT)
			log_warning_errno(-errno, "Failed to remove %s/%s, ignoring: %m", reg->state_dir, file);
		else
			(void) fsync(reg->dir_fd);
		snprintf(file, sizeof(file), "%s.console", vm->name);
		(void) unlinkat(reg->dir_fd, file, 0);
		record_free(vm);
		return 0;
	}
	return -ENOENT;
}

/* A stand-in config for a definition that does not load: what vm.list
 * shows and memory accounting counts, from the file where it can be read. */
static struct vm_config *placeholder_config(const char *name, struct json_object *raw)
{
	static const char *const kept[] = { "memory_mib", "vcpus", "paging" };
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct vm_config *config = NULL;
	struct json_object *v;

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "kernel", json_object_new_string("/"));
	for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
		if (!json_object_object_get_ex(raw, kept[i], &v))
			continue;
		json_object_object_add(o, kept[i], json_object_get(v));
		if (vm_config_from_json(o, &config, NULL) < 0)
			json_object_object_del(o, kept[i]);   /* out of range, wrong type: the default */
		vm_config_free(config);
		config = NULL;
	}
	(void) vm_config_from_json(o, &config, NULL);
	return config;
}

/* Fill a loaded record's state and exit from the file. */
static void read_state(struct vm_record *vm, struct json_object *o)
{
	struct json_object *state, *exit;

	if (json_object_object_get_ex(o, "state", &state) && json_object_is_type(state, json_type_string)) {
		int s = state_from_name(json_object_get_string(state));
		vm->state = s < 0 ? VM_STATE_CREATED : (enum vm_state) s;
	}
	if (json_object_object_get_ex(o, "exit", &exit) && json_object_is_type(exit, json_type_object))
		vm_exit_from_json(exit, &vm->exit);
	vm->starting = json_object_object_get_ex(o, "starting", &state) && json_object_get_boolean(state);
	/* Older files have neither: an admin's paths then, opened as root. */
	vm->paths_from_user = json_object_object_get_ex(o, "paths", &state) &&
			      json_object_is_type(state, json_type_string) &&
			      strcmp(json_object_get_string(state), "root") != 0;
	struct json_object *client;
	if (json_object_object_get_ex(o, "client_files", &client) && json_object_is_type(client, json_type_array))
		for (size_t i = 0; i < json_object_array_length(client); i++) {
			int slot = vm_file_slot_from_name(json_object_get_string(json_object_array_get_idx(client, i)));
			if (slot >= 0)
				vm->client_file[slot] = true;
		}
}

/* Parse a definition file: its document, or NULL with *problem set. */
static struct json_object *parse_definition(const char *text, size_t len, char *problem, size_t size)
{
	if (len == 0) {
		snprintf(problem, size, "the definition file is empty");
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new();
	if (!tok) {
		snprintf(problem, size, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *o = json_tokener_parse_ex(tok, text, (int) len + 1);   /* the NUL ends a number */
	enum json_tokener_error e = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (e != json_tokener_success) {
		snprintf(problem, size, "the definition file is not valid JSON: %s", json_tokener_error_desc(e));
		json_object_put(o);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(problem, size, "the definition file is not a JSON object");
		json_object_put(o);
		return NULL;
	}
	return o;
}

/*
 * One NAME.json. Whatever is wrong with it, the VM gets a record (with a
 * problem): its worker may be running. Only a name that cannot be a VM's
 * is skipped (-EINVAL).
 */
static int load_one(struct registry *reg, const char *file)
{
	char name[VM_NAME_MAX + 1], problem[256] = "";
	size_t n = strlen(file) - 5;
	if (n > VM_NAME_MAX)
		return -EINVAL;
	snprintf(name, sizeof(name), "%.*s", (int) n, file);
	if (!vm_name_valid(name))
		return -EINVAL;

	_cleanup_free_ char *text = NULL;
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct json_object *raw = NULL;
	struct vm_config *config = NULL;
	size_t len = 0;
	int r = state_file_read(reg->dir_fd, file, REGISTRY_FILE_MAX, &text, &len);
	if (r < 0)
		snprintf(problem, sizeof(problem), "cannot read the definition file: %s",
			 r == -EINVAL ? "not a regular file" : strerror(-r));
	else if ((o = parse_definition(text, len, problem, sizeof(problem)))) {
		struct config_error err = { "", "" };
		if (!json_object_object_get_ex(o, "config", &raw))
			snprintf(problem, sizeof(problem), "the definition file has no config");
		else if (vm_config_from_json(raw, &config, &err) < 0)
			snprintf(problem, sizeof(problem), "the definition does not load: config%s%s: %s",
				 err.field[0] ? "." : "", err.field, err.message);
		else if (strcmp(config->name, name) != 0)
			snprintf(problem, sizeof(problem), "the definition in %s names VM '%s'", file, config->name);
	}
	if (problem[0]) {
		vm_config_free(config);
		config = placeholder_config(name, json_object_is_type(raw, json_type_object) ? raw : NULL);
		if (!config)
			return -ENOMEM;
	}

	struct vm_record *vm = NULL;
	r = add_record(reg, config, NULL, false, false, &vm);   /* what exists stays, whatever max_vms says now */
	if (r < 0) {
		vm_config_free(config);
		return r;
	}
	if (o)
		read_state(vm, o);
	if (problem[0]) {
		vm->problem = strdup(problem);
		vm->raw_config = json_object_get(raw);
		json_object_put(vm->config_json);
		vm->config_json = NULL;
		log_warning("VM %s: %s; keeping %s/%s as it is", name, problem, reg->state_dir, file);
	}
	/* Its worker may still run, waiting to be adopted (worker_adopt_all);
	 * where the file cannot say, look. */
	if (vm->problem || vm->starting || vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED)
		vm->adopt_pending = true;
	char console[4096];
	if (registry_path(reg, vm->name, ".console", console, sizeof(console)) == 0)
		(void) console_ring_open(console, &vm->console);
	return 0;
}

int registry_load(struct registry *reg)
{
	int fd = fcntl(reg->dir_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);   /* the duplicate shares its offset */
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0 || de->d_name[0] == '.')
			continue;
		int r = load_one(reg, de->d_name);
		if (r == -EINVAL)
			log_warning("Skipping %s/%s: not a VM's name", reg->state_dir, de->d_name);
		else if (r < 0)
			log_warning_errno(r, "Skipping %s/%s: %m", reg->state_dir, de->d_name);
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
	if (reg->state_dir)   /* else never opened (a zeroed registry's 0 is not ours) */
		reg->dir_fd = safe_close(reg->dir_fd);
	free(reg->state_dir);
	reg->state_dir = NULL;
}
