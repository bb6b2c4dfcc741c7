/* SPDX-License-Identifier: MIT */
/*
 * VM config <-> JSON (docs/config.md). Parsing is strict on purpose: a config
 * is persisted by the daemon and outlives the request, so a typo such as
 * "memroy_mib" must be refused, not silently turned into a 64 MiB guest.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "config/fields.h"
#include "config/vm_config.h"

#define FIELD_LEN sizeof(((struct config_error *)0)->field)

static const char *const paging_names[] = {
	[VM_PAGING_HW] = "hw",
	[VM_PAGING_SHADOW] = "shadow",
};

static const char *const strategy_names[] = {
	[VM_SHADOW_CACHED] = "cached",
	[VM_SHADOW_VTLB] = "vtlb",
	[VM_SHADOW_DIRECT] = "direct",
};

static const char *const experiment_names[] = {
	[VM_EXPERIMENT_DIRECT_PAGING] = "direct-paging",
};

static const char *const zap_names[] = {
	[VM_ZAP_TARGETED] = "targeted",
	[VM_ZAP_ALL] = "all",
};

static const char *const boot_names[] = {
	[VM_BOOT_AUTO] = "auto",
	[VM_BOOT_VMMD] = "vmmd",
	[VM_BOOT_PVH] = "pvh",
	[VM_BOOT_BZIMAGE] = "bzimage",
	[VM_BOOT_XENPV] = "xen-pv",
};

static const char *const host_profile_names[] = {
	[VM_HOST_AUTO] = "auto",
	[VM_HOST_HARDWARE] = "hardware",
	[VM_HOST_EMULATED_KERNEL] = "emulated-kernel",
};

static const char *const on_reset_names[] = {
	[VM_ON_RESET_STOP] = "stop",
	[VM_ON_RESET_RESTART] = "restart",
};

static const char *const device_type_names[] = {
	[VM_DEV_VIRTIO_BLK] = "virtio-blk",
	[VM_DEV_VIRTIO_CONSOLE] = "virtio-console",
	[VM_DEV_VIRTIO_RNG] = "virtio-rng",
};


static const char *lookup_name(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : NULL;
}

const char *vm_paging_name(enum vm_paging p)
{
	return lookup_name(paging_names, ELEMENTSOF(paging_names), (unsigned) p);
}

const char *vm_strategy_name(enum vm_shadow_strategy s)
{
	return lookup_name(strategy_names, ELEMENTSOF(strategy_names), (unsigned) s);
}

const char *vm_experiment_name(enum vm_experiment e)
{
	return lookup_name(experiment_names, ELEMENTSOF(experiment_names), (unsigned) e);
}

const char *vm_zap_name(enum vm_shadow_zap z)
{
	return lookup_name(zap_names, ELEMENTSOF(zap_names), (unsigned) z);
}

const char *vm_device_type_name(enum vm_device_type t)
{
	return lookup_name(device_type_names, ELEMENTSOF(device_type_names), (unsigned) t);
}

const char *vm_boot_name(enum vm_boot b)
{
	return lookup_name(boot_names, ELEMENTSOF(boot_names), (unsigned) b);
}

const char *vm_host_profile_name(enum vm_host_profile p)
{
	return lookup_name(host_profile_names, ELEMENTSOF(host_profile_names), (unsigned) p);
}

const char *vm_on_reset_name(enum vm_on_reset r)
{
	return lookup_name(on_reset_names, ELEMENTSOF(on_reset_names), (unsigned) r);
}

static bool ascii_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* The name becomes a file name in the state directory: the first character
 * being alphanumeric rules out ".", "..", hidden files and option-like "-x". */
bool vm_name_valid(const char *name)
{
	size_t i;

	if (!name || !ascii_alnum(name[0]))
		return false;
	for (i = 1; name[i]; i++) {
		if (i >= VM_NAME_MAX)
			return false;
		if (!ascii_alnum(name[i]) && name[i] != '_' && name[i] != '.' && name[i] != '-')
			return false;
	}
	return true;
}

/* --- errors and field paths ------------------------------------------------ */


static size_t append(char *dst, size_t len, const char *s)
{
	while (*s && len + 1 < FIELD_LEN)
		dst[len++] = *s++;
	dst[len] = '\0';
	return len;
}

/* Paths only feed messages, so truncating an absurdly long key is harmless
 * (and done by hand: snprintf would make -Wformat-truncation object). */
static void path_join(char *dst, const char *prefix, const char *key)
{
	size_t len = append(dst, 0, prefix);

	if (prefix[0])
		len = append(dst, len, ".");
	append(dst, len, key);
}


/* --- typed getters: each names the field and what was expected ------------ */

static int get_int(struct json_object *v, const char *field, int64_t min, int64_t max,
		   uint32_t *ret, struct config_error *err)
{
	int64_t i;
	int r = config_get_int(v, field, min, max, &i, err);

	if (r == 0)
		*ret = (uint32_t) i;
	return r;
}

static int dup_string(const char *s, char **ret)
{
	char *copy = NULL;

	if (s && !(copy = strdup(s)))
		return -ENOMEM;
	*ret = copy;
	return 0;
}

/* An absolute path: the daemon's cwd means nothing to the client. */
static int get_path(struct json_object *v, const char *field, bool nullable,
		    char **ret, struct config_error *err)
{
	const char *s;
	int r;

	if (nullable && json_object_get_type(v) == json_type_null) {
		*ret = NULL;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return config_fail(err, field, nullable ? "expected a string or null" : "expected a string");
	r = config_get_string(v, field, VM_PATH_MAX, &s, err);
	if (r < 0)
		return r;
	if (s[0] != '/')
		return config_fail(err, field, "must be an absolute path");
	return dup_string(s, ret);
}

static int get_enum(struct json_object *v, const char *field, const char *const *names,
		    size_t n, unsigned *ret, struct config_error *err)
{
	char choices[128] = "";
	size_t len = 0;
	unsigned i;

	if (json_object_is_type(v, json_type_string))
		for (i = 0; i < n; i++)
			if (strcmp(json_object_get_string(v), names[i]) == 0) {
				*ret = i;
				return 0;
			}
	for (i = 0; i < n && len < sizeof(choices); i++)
		len += (size_t) snprintf(choices + len, sizeof(choices) - len, "%s\"%s\"",
					 i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	return config_fail(err, field, "must be %s", choices);
}

static int get_bool(struct json_object *v, const char *field, bool *ret, struct config_error *err)
{
	if (!json_object_is_type(v, json_type_boolean))
		return config_fail(err, field, "expected a boolean");
	*ret = json_object_get_boolean(v);
	return 0;
}

/* --- the schema, one step per top-level field ------------------------------ */

static int parse_name(struct json_object *obj, struct vm_config *c, struct config_error *err)
{
	struct json_object *v;
	const char *s;
	int r;

	if (!json_object_object_get_ex(obj, "name", &v))
		return config_fail(err, "name", "required");
	r = config_get_string(v, "name", SIZE_MAX, &s, err);
	if (r < 0)
		return r;
	if (!vm_name_valid(s))
		return config_fail(err, "name", "must be 1 to %d characters of [A-Za-z0-9_.-], "
			    "starting with a letter or digit", VM_NAME_MAX);
	memcpy(c->name, s, strlen(s) + 1);
	return 0;
}

static int parse_sizes(struct json_object *obj, struct vm_config *c, struct config_error *err)
{
	struct json_object *v;
	int r;

	if (json_object_object_get_ex(obj, "memory_mib", &v)) {
		r = get_int(v, "memory_mib", VM_MEMORY_MIB_MIN, VM_MEMORY_MIB_MAX, &c->memory_mib, err);
		if (r < 0)
			return r;
	}
	if (json_object_object_get_ex(obj, "vcpus", &v)) {
		r = get_int(v, "vcpus", 1, VM_VCPUS_MAX, &c->vcpus, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "experimental": names of experiments the VM opts into; before
 * parse_paging, which refuses an experiment's setting without its name. */
static int parse_experimental(struct json_object *obj, struct vm_config *c, struct config_error *err)
{
	struct json_object *list;
	char field[48];
	unsigned u;
	int r;

	if (!json_object_object_get_ex(obj, "experimental", &list))
		return 0;
	if (!json_object_is_type(list, json_type_array))
		return config_fail(err, "experimental", "expected an array of experiment names");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		snprintf(field, sizeof(field), "experimental[%zu]", i);
		r = get_enum(json_object_array_get_idx(list, i), field, experiment_names, ELEMENTSOF(experiment_names),
			     &u, err);
		if (r < 0)
			return r;
		c->experimental |= 1u << u;
	}
	return 0;
}

static int parse_paging(struct json_object *obj, struct vm_config *c, struct config_error *err)
{
	static const char *const shadow_fields[] = { "strategy", "scatter", "pool_pages", "prefetch", "zap", NULL };
	struct json_object *v, *shadow;
	unsigned u;
	int r;

	if (json_object_object_get_ex(obj, "paging", &v)) {
		r = get_enum(v, "paging", paging_names, ELEMENTSOF(paging_names), &u, err);
		if (r < 0)
			return r;
		c->paging = (enum vm_paging) u;
	}
	/* The shadow MMU keeps one current root and APs would have to start in
	 * real mode, which CPL3 cannot run: shadow mode is one vCPU. */
	if (c->paging == VM_PAGING_SHADOW && c->vcpus > 1)
		return config_fail(err, "vcpus", "shadow mode runs one vCPU (SMP needs paging \"hw\")");
	/* Accepted with paging "hw" too, so a config can switch modes by
	 * changing one field and to_json output always parses back. */
	if (!json_object_object_get_ex(obj, "shadow", &shadow))
		return 0;
	if (!json_object_is_type(shadow, json_type_object))
		return config_fail(err, "shadow", "expected an object");
	r = config_check_members(shadow, "shadow", shadow_fields, err);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(shadow, "strategy", &v)) {
		r = get_enum(v, "shadow.strategy", strategy_names, ELEMENTSOF(strategy_names), &u, err);
		if (r < 0)
			return r;
		c->strategy = (enum vm_shadow_strategy) u;
		if (c->strategy == VM_SHADOW_DIRECT && !(c->experimental & (1u << VM_EXPERIMENT_DIRECT_PAGING)))
			return config_fail(err, "shadow.strategy", "\"direct\" is an experiment: the guest's own page "
				    "tables reach memory beyond its RAM in its KVM VM; opt in with "
				    "\"experimental\": [\"direct-paging\"] (docs/shadow.md)");
	}
	if (json_object_object_get_ex(shadow, "scatter", &v)) {
		r = get_bool(v, "shadow.scatter", &c->scatter, err);
		if (r < 0)
			return r;
		if (c->scatter && c->strategy == VM_SHADOW_DIRECT)
			return config_fail(err, "shadow.scatter", "strategy \"direct\" loads the guest's own tables, "
				    "which hold guest-physical addresses: no scattered physmap");
		if (c->scatter && c->memory_mib > VM_SCATTER_MIB_MAX)
			return config_fail(err, "shadow.scatter", "a scattered physmap needs memory_mib <= 256 "
				    "(one host mapping per guest page)");
	}
	/* null (as to_json writes it) or absent: vmmd's default. */
	if (json_object_object_get_ex(shadow, "pool_pages", &v) && v) {
		r = get_int(v, "shadow.pool_pages", VM_POOL_PAGES_MIN, VM_POOL_PAGES_MAX, &c->pool_pages, err);
		if (r < 0)
			return r;
	}
	if (json_object_object_get_ex(shadow, "prefetch", &v) && v) {
		r = get_int(v, "shadow.prefetch", 1, VM_PREFETCH_MAX, &c->prefetch, err);
		if (r < 0)
			return r;
	}
	if (json_object_object_get_ex(shadow, "zap", &v)) {
		r = get_enum(v, "shadow.zap", zap_names, ELEMENTSOF(zap_names), &u, err);
		if (r < 0)
			return r;
		c->zap = (enum vm_shadow_zap) u;
	}
	return 0;
}

static int parse_boot(struct json_object *obj, struct vm_config *c, struct config_error *err)
{
	struct json_object *v;
	const char *s;
	int r;

	if (!json_object_object_get_ex(obj, "kernel", &v))
		return config_fail(err, "kernel", "required");
	r = get_path(v, "kernel", false, &c->kernel, err);
	if (r < 0)
		return r;
	unsigned u;
	if (json_object_object_get_ex(obj, "boot", &v)) {
		r = get_enum(v, "boot", boot_names, ELEMENTSOF(boot_names), &u, err);
		if (r < 0)
			return r;
		c->boot = (enum vm_boot) u;
	}
	/* These enter Linux at CPL0: shadow mode runs Linux only through the
	 * Xen PV ABI, whose kernel is written for CPL3 (and only there). */
	if ((c->boot == VM_BOOT_PVH || c->boot == VM_BOOT_BZIMAGE) && c->paging == VM_PAGING_SHADOW)
		return config_fail(err, "boot", "Linux boot (pvh, bzimage) needs paging \"hw\"; "
				   "in shadow mode Linux boots as a Xen PV guest (\"xen-pv\")");
	if (c->boot == VM_BOOT_XENPV && c->paging != VM_PAGING_SHADOW)
		return config_fail(err, "boot", "a Xen PV kernel runs in paging \"shadow\" (vmmd is its hypervisor "
				   "there); for paging \"hw\" boot the same kernel as \"pvh\" or \"bzimage\"");
	if (json_object_object_get_ex(obj, "host_profile", &v)) {
		r = get_enum(v, "host_profile", host_profile_names, ELEMENTSOF(host_profile_names), &u, err);
		if (r < 0)
			return r;
		c->host_profile = (enum vm_host_profile) u;
	}
	if (json_object_object_get_ex(obj, "on_reset", &v)) {
		r = get_enum(v, "on_reset", on_reset_names, ELEMENTSOF(on_reset_names), &u, err);
		if (r < 0)
			return r;
		c->on_reset = (enum vm_on_reset) u;
	}
	if (json_object_object_get_ex(obj, "initrd", &v)) {
		r = get_path(v, "initrd", true, &c->initrd, err);
		if (r < 0)
			return r;
	}
	if (json_object_object_get_ex(obj, "cmdline", &v)) {
		r = config_get_string(v, "cmdline", VM_CMDLINE_MAX, &s, err);
		if (r < 0)
			return r;
		free(c->cmdline);
		c->cmdline = NULL;
		return dup_string(s, &c->cmdline);
	}
	return 0;
}

static int parse_console(struct json_object *obj, struct vm_config *c, struct config_error *err)
{
	static const char *const console_fields[] = { "log", NULL };
	struct json_object *console, *v;
	int r;

	if (!json_object_object_get_ex(obj, "console", &console))
		return 0;
	if (!json_object_is_type(console, json_type_object))
		return config_fail(err, "console", "expected an object");
	r = config_check_members(console, "console", console_fields, err);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(console, "log", &v))
		return get_path(v, "console.log", true, &c->console_log, err);
	return 0;
}

static int parse_device(struct json_object *v, size_t i, struct vm_device_config *d,
			struct config_error *err)
{
	static const char *const device_fields[] = { "type", "path", "readonly", NULL };
	char prefix[FIELD_LEN], field[FIELD_LEN];
	struct json_object *m;
	unsigned u;
	int r;

	snprintf(prefix, sizeof(prefix), "devices[%zu]", i);
	if (!json_object_is_type(v, json_type_object))
		return config_fail(err, prefix, "expected an object");
	r = config_check_members(v, prefix, device_fields, err);
	if (r < 0)
		return r;

	path_join(field, prefix, "type");
	if (!json_object_object_get_ex(v, "type", &m))
		return config_fail(err, field, "required");
	r = get_enum(m, field, device_type_names, ELEMENTSOF(device_type_names), &u, err);
	if (r < 0)
		return r;
	d->type = (enum vm_device_type) u;

	/* Only a block device has a backing file; a path elsewhere is a
	 * mistake worth reporting, not something to ignore. */
	path_join(field, prefix, "path");
	if (json_object_object_get_ex(v, "path", &m)) {
		if (d->type != VM_DEV_VIRTIO_BLK)
			return config_fail(err, field, "not allowed for %s", vm_device_type_name(d->type));
		r = get_path(m, field, false, &d->path, err);
		if (r < 0)
			return r;
	} else if (d->type == VM_DEV_VIRTIO_BLK)
		return config_fail(err, field, "required for virtio-blk");

	path_join(field, prefix, "readonly");
	if (json_object_object_get_ex(v, "readonly", &m)) {
		if (d->type != VM_DEV_VIRTIO_BLK)
			return config_fail(err, field, "not allowed for %s", vm_device_type_name(d->type));
		return get_bool(m, field, &d->readonly, err);
	}
	return 0;
}

static int parse_devices(struct json_object *obj, struct vm_config *c, struct config_error *err)
{
	struct json_object *devices;
	size_t i, n;
	int r;

	if (!json_object_object_get_ex(obj, "devices", &devices))
		return 0;
	if (!json_object_is_type(devices, json_type_array))
		return config_fail(err, "devices", "expected an array");
	n = json_object_array_length(devices);
	if (n > VM_DEVICES_MAX)
		return config_fail(err, "devices", "at most %d devices", VM_DEVICES_MAX);
	for (i = 0; i < n; i++) {
		/* Counted before parsing so vm_config_free sees a half-filled path. */
		c->n_devices = i + 1;
		r = parse_device(json_object_array_get_idx(devices, i), i, &c->devices[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

typedef int (*parse_step)(struct json_object *obj, struct vm_config *c, struct config_error *err);

static const parse_step parse_steps[] = {
	parse_name, parse_sizes, parse_experimental, parse_paging, parse_boot, parse_console, parse_devices,
};

static const char *const top_fields[] = {
	"name", "memory_mib", "vcpus", "paging", "shadow", "kernel", "boot", "host_profile", "on_reset",
	"initrd", "cmdline", "console", "devices", "experimental", NULL,
};

int vm_config_from_json(struct json_object *obj, struct vm_config **ret, struct config_error *err)
{
	struct config_error scratch;
	struct vm_config *c;
	size_t i;
	int r;

	if (!err)
		err = &scratch;
	if (!json_object_is_type(obj, json_type_object))
		return config_fail(err, "", "expected an object");
	/* Unknown fields first: a misspelt field explains later "required" errors. */
	r = config_check_members(obj, "", top_fields, err);
	if (r < 0)
		return r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->memory_mib = VM_MEMORY_MIB_DEFAULT;
	c->vcpus = VM_VCPUS_DEFAULT;
	c->paging = VM_PAGING_HW;
	c->strategy = VM_SHADOW_CACHED;
	c->cmdline = strdup("");
	if (!c->cmdline) {
		r = -ENOMEM;
		goto err_config;
	}
	for (i = 0; i < ELEMENTSOF(parse_steps); i++) {
		r = parse_steps[i](obj, c, err);
		if (r < 0)
			goto err_config;
	}
	*ret = c;
	return 0;

err_config:
	vm_config_free(c);
	return r;
}

/* --- back to JSON ------------------------------------------------------------ */

/* Takes val; a NULL val is the allocation that produced it failing. */
static int add(struct json_object *o, const char *key, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(o, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

/* NULL for NULL, so a config holding an out-of-range enum or no kernel
 * (built by hand, not parsed) makes to_json fail instead of crash. */
static struct json_object *new_string(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static int add_nullable_string(struct json_object *o, const char *key, const char *s)
{
	if (!s)
		return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
	return add(o, key, json_object_new_string(s));
}

/* 0 means "vmmd's default": null. */
static int add_nullable_uint(struct json_object *o, const char *key, uint32_t v)
{
	if (!v)
		return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
	return add(o, key, json_object_new_int64(v));
}

static struct json_object *device_to_json(const struct vm_device_config *d)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (add(o, "type", new_string(vm_device_type_name(d->type))) < 0)
		goto err_object;
	if (d->type == VM_DEV_VIRTIO_BLK &&
	    (add(o, "path", new_string(d->path)) < 0 ||
	     add(o, "readonly", json_object_new_boolean(d->readonly)) < 0))
		goto err_object;
	return o;

err_object:
	json_object_put(o);
	return NULL;
}

static struct json_object *devices_to_json(const struct vm_config *c)
{
	struct json_object *a = json_object_new_array_ext((int) c->n_devices);
	struct json_object *d;
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; i < c->n_devices; i++) {
		d = device_to_json(&c->devices[i]);
		if (!d || json_object_array_add(a, d) < 0) {
			json_object_put(d);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* Always an array ([] for none), so that every config shows the field. */
static struct json_object *experimental_to_json(const struct vm_config *c)
{
	struct json_object *a = json_object_new_array();

	for (unsigned e = 0; a && e < VM_EXPERIMENT_MAX; e++)
		if ((c->experimental & (1u << e)) &&
		    json_object_array_add(a, new_string(vm_experiment_name((enum vm_experiment) e))) < 0) {
			json_object_put(a);
			return NULL;
		}
	return a;
}

struct json_object *vm_config_to_json(const struct vm_config *c)
{
	struct json_object *o = json_object_new_object();
	struct json_object *shadow = NULL, *console = NULL;

	if (!o)
		return NULL;
	if (add(o, "name", json_object_new_string(c->name)) < 0 ||
	    add(o, "memory_mib", json_object_new_int64(c->memory_mib)) < 0 ||
	    add(o, "vcpus", json_object_new_int64(c->vcpus)) < 0 ||
	    add(o, "paging", new_string(vm_paging_name(c->paging))) < 0)
		goto err_object;

	shadow = json_object_new_object();
	if (!shadow || add(shadow, "strategy", new_string(vm_strategy_name(c->strategy))) < 0 ||
	    add(shadow, "scatter", json_object_new_boolean(c->scatter)) < 0 ||
	    add_nullable_uint(shadow, "pool_pages", c->pool_pages) < 0 ||
	    add_nullable_uint(shadow, "prefetch", c->prefetch) < 0 ||
	    add(shadow, "zap", new_string(vm_zap_name(c->zap))) < 0)
		goto err_shadow;
	if (add(o, "shadow", shadow) < 0)
		goto err_object;  /* add() already dropped shadow */

	if (add(o, "kernel", new_string(c->kernel)) < 0 ||
	    add(o, "boot", new_string(vm_boot_name(c->boot))) < 0 ||
	    add(o, "host_profile", new_string(vm_host_profile_name(c->host_profile))) < 0 ||
	    add(o, "on_reset", new_string(vm_on_reset_name(c->on_reset))) < 0 ||
	    add_nullable_string(o, "initrd", c->initrd) < 0 ||
	    add(o, "cmdline", json_object_new_string(c->cmdline ? c->cmdline : "")) < 0)
		goto err_object;

	console = json_object_new_object();
	if (!console || add_nullable_string(console, "log", c->console_log) < 0)
		goto err_console;
	if (add(o, "console", console) < 0 ||
	    add(o, "devices", devices_to_json(c)) < 0 ||
	    add(o, "experimental", experimental_to_json(c)) < 0)
		goto err_object;
	return o;

err_console:
	json_object_put(console);
	goto err_object;
err_shadow:
	json_object_put(shadow);
err_object:
	json_object_put(o);
	return NULL;
}

/* --- ownership --------------------------------------------------------------- */

void vm_config_free(struct vm_config *c)
{
	size_t i;

	if (!c)
		return;
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->console_log);
	for (i = 0; i < c->n_devices && i < VM_DEVICES_MAX; i++)
		free(c->devices[i].path);
	free(c);
}

struct vm_config *vm_config_dup(const struct vm_config *c)
{
	struct vm_config *copy;
	size_t i;

	if (!c)
		return NULL;
	copy = malloc(sizeof(*copy));
	if (!copy)
		return NULL;
	/* Scalars by value; every pointer is cleared first so that freeing a
	 * half-made copy never frees the original's strings. */
	*copy = *c;
	copy->kernel = copy->initrd = copy->cmdline = copy->console_log = NULL;
	for (i = 0; i < VM_DEVICES_MAX; i++)
		copy->devices[i].path = NULL;

	if (dup_string(c->kernel, &copy->kernel) < 0 ||
	    dup_string(c->initrd, &copy->initrd) < 0 ||
	    dup_string(c->cmdline, &copy->cmdline) < 0 ||
	    dup_string(c->console_log, &copy->console_log) < 0)
		goto err_copy;
	for (i = 0; i < c->n_devices && i < VM_DEVICES_MAX; i++)
		if (dup_string(c->devices[i].path, &copy->devices[i].path) < 0)
			goto err_copy;
	return copy;

err_copy:
	vm_config_free(copy);
	return NULL;
}

/* --- relative paths, for clients ------------------------------------------- */

struct resolver {
	const char *base;
	int base_len;            /* without trailing slashes: "/" joins as "" */
	bool apply;              /* first pass only checks, so obj is untouched on error */
	struct config_error *err;
};

static int resolve_one(struct json_object *v, const char *field, const struct resolver *rs)
{
	char buf[VM_PATH_MAX + 1];
	const char *rel;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return 0;
	rel = json_object_get_string(v);
	n = (size_t) json_object_get_string_len(v);
	/* Absolute, empty and NUL-carrying values are from_json's to judge. */
	if (n == 0 || rel[0] == '/' || strlen(rel) != n)
		return 0;
	while (rel[0] == '.' && rel[1] == '/') {
		rel += 2;
		while (rel[0] == '/')
			rel++;
	}
	if ((size_t) rs->base_len + 1 + strlen(rel) > VM_PATH_MAX)
		return config_fail(rs->err, field, "must be at most %d bytes long once made absolute",
			    VM_PATH_MAX);
	if (!rs->apply)
		return 0;
	snprintf(buf, sizeof(buf), "%.*s/%s", rs->base_len, rs->base, rel);
	return json_object_set_string(v, buf) == 1 ? 0 : -ENOMEM;
}

static int resolve_all(struct json_object *obj, const struct resolver *rs)
{
	char field[FIELD_LEN];
	struct json_object *v, *sub, *path;
	size_t i, n;
	int r;

	if (json_object_object_get_ex(obj, "kernel", &v) && (r = resolve_one(v, "kernel", rs)) < 0)
		return r;
	if (json_object_object_get_ex(obj, "initrd", &v) && (r = resolve_one(v, "initrd", rs)) < 0)
		return r;
	if (json_object_object_get_ex(obj, "console", &sub) &&
	    json_object_is_type(sub, json_type_object) &&
	    json_object_object_get_ex(sub, "log", &v) &&
	    (r = resolve_one(v, "console.log", rs)) < 0)
		return r;
	if (!json_object_object_get_ex(obj, "devices", &sub) ||
	    !json_object_is_type(sub, json_type_array))
		return 0;
	n = json_object_array_length(sub);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(sub, i);
		if (!json_object_is_type(v, json_type_object) ||
		    !json_object_object_get_ex(v, "path", &path))
			continue;
		snprintf(field, sizeof(field), "devices[%zu].path", i);
		r = resolve_one(path, field, rs);
		if (r < 0)
			return r;
	}
	return 0;
}

int vm_config_resolve_paths(struct json_object *obj, const char *base_dir, struct config_error *err)
{
	struct config_error scratch;
	struct resolver rs = { .base = base_dir, .err = err ? err : &scratch };
	size_t len;
	int r;

	if (!base_dir || base_dir[0] != '/')
		return config_fail(rs.err, "", "base directory must be an absolute path");
	len = strlen(base_dir);
	while (len > 0 && base_dir[len - 1] == '/')
		len--;
	if (len > VM_PATH_MAX)
		return config_fail(rs.err, "", "base directory is longer than %d bytes", VM_PATH_MAX);
	rs.base_len = (int) len;
	if (!json_object_is_type(obj, json_type_object))
		return 0;

	r = resolve_all(obj, &rs);
	if (r < 0)
		return r;
	rs.apply = true;
	return resolve_all(obj, &rs);
}
