/* SPDX-License-Identifier: MIT */
/*
 * The daemon config file <-> struct daemon_config. Strict like vm_config.c,
 * for the same reason: "max_conections": 16 silently meaning 256 is how a
 * limit an operator believes in never applies.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/macro.h"
#include "config/daemon_config.h"
#include "config/fields.h"

#define FIELD_LEN sizeof(((struct config_error *)0)->field)

static const char *const role_names[] = {
	[DAEMON_ROLE_NONE] = "none", [DAEMON_ROLE_MONITOR] = "monitor", [DAEMON_ROLE_DEBUG] = "debug",
	[DAEMON_ROLE_ADMIN] = "admin",
};

const char *daemon_role_name(enum daemon_role role)
{
	return (unsigned) role < ELEMENTSOF(role_names) ? role_names[role] : NULL;
}

void daemon_config_init(struct daemon_config *c)
{
	*c = (struct daemon_config) {
		.others = DAEMON_ROLE_MONITOR,
		.max_vms = DAEMON_MAX_VMS_DEFAULT,
		.max_total_memory_mib = 0,
		.max_connections = DAEMON_MAX_CONNECTIONS_DEFAULT,
		.max_connections_per_user = DAEMON_PER_USER_DEFAULT,
		.admin_connections = DAEMON_ADMIN_CONNECTIONS_DEFAULT,
		.idle_timeout_s = DAEMON_IDLE_TIMEOUT_DEFAULT,
		.message_timeout_s = DAEMON_MESSAGE_TIMEOUT_DEFAULT,
		.console_buffer_kib = DAEMON_CONSOLE_KIB_DEFAULT,
		.max_message_kib = DAEMON_MESSAGE_KIB_DEFAULT,
		.inspect_per_second = DAEMON_INSPECT_RATE_DEFAULT,
		.sandbox_uid_base = DAEMON_SANDBOX_UID_BASE_DEFAULT,
		.sandbox_uid_count = DAEMON_SANDBOX_UID_COUNT_DEFAULT,
		.log_max_kib = DAEMON_LOG_KIB_DEFAULT,
		.log_rotate = DAEMON_LOG_ROTATE_DEFAULT,
		.call_timeout_s = DAEMON_CALL_TIMEOUT_DEFAULT,
		.boot_timeout_s = DAEMON_BOOT_TIMEOUT_DEFAULT,
	};
}

uint64_t daemon_config_memory_default_mib(uint64_t memtotal_kib)
{
	uint64_t mib = memtotal_kib / 1024 / DAEMON_MEMORY_SHARE_DEN * DAEMON_MEMORY_SHARE_NUM;

	return mib ? mib : 1;
}

static int get_role(struct json_object *v, const char *field, enum daemon_role *ret, struct config_error *err)
{
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);

		for (size_t i = 0; i < ELEMENTSOF(role_names); i++)
			if (strcmp(s, role_names[i]) == 0) {
				*ret = (enum daemon_role) i;
				return 0;
			}
		/* The debug role's name before monitor was split off. */
		if (strcmp(s, "read") == 0) {
			*ret = DAEMON_ROLE_DEBUG;
			return 0;
		}
	}
	return config_fail(err, field, "must be \"admin\", \"debug\", \"monitor\" or \"none\"");
}

/* --- access ---------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* The syntax of a WHO; whether the name exists is the daemon's to find out. */
static int check_who(struct json_object *v, const char *field, struct config_error *err)
{
	const char *s, *name;
	size_t n;

	int r;

	if (!json_object_is_type(v, json_type_string))
		return config_fail(err, field, "expected a string (a user name or uid, @group or @gid)");
	r = config_get_string(v, field, DAEMON_CONFIG_WHO_MAX, &s, err);
	if (r < 0)
		return r;
	n = strlen(s);
	name = s[0] == '@' ? s + 1 : s;
	if (!name[0])
		return config_fail(err, field, "expected a user name or uid, @group or @gid");
	for (const char *p = name; *p; p++)
		if (*p == '@' || *p == ':' || *p == '/' || (unsigned char) *p <= ' ')
			return config_fail(err, field, "'%c' is not allowed in a user or group name",
				    (unsigned char) *p <= ' ' ? '?' : *p);
	if (all_digits(name) && (n - (size_t) (name - s) > 10 || strtoull(name, NULL, 10) >= UINT32_MAX))
		return config_fail(err, field, "id out of range");
	return 0;
}

/* The file's lists, in the order their rules are tried (after kind). */
static const struct {
	const char *key;
	enum daemon_role role;
} access_lists[] = {
	{ "no_access", DAEMON_ROLE_NONE },
	{ "monitor", DAEMON_ROLE_MONITOR },
	{ "debug", DAEMON_ROLE_DEBUG },
	{ "read_only", DAEMON_ROLE_DEBUG },   /* debug's name before monitor was split off */
	{ "admin", DAEMON_ROLE_ADMIN },
};

static int check_list(struct json_object *access, const char *key, size_t *count, struct config_error *err)
{
	char field[FIELD_LEN];
	struct json_object *list;
	size_t i, n;
	int r;

	snprintf(field, sizeof(field), "access.%s", key);
	if (!json_object_object_get_ex(access, key, &list))
		return 0;
	if (!json_object_is_type(list, json_type_array))
		return config_fail(err, field, "expected an array of users and @groups");
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		snprintf(field, sizeof(field), "access.%s[%zu]", key, i);
		r = check_who(json_object_array_get_idx(list, i), field, err);
		if (r < 0)
			return r;
		if (++*count > DAEMON_CONFIG_MAX_RULES)
			return config_fail(err, field, "at most %d access rules in all", DAEMON_CONFIG_MAX_RULES);
	}
	return 0;
}

/* Users first, then groups; within each, the lists in access_lists order. */
static void collect_rules(struct json_object *access, struct daemon_config *c)
{
	for (int groups = 0; groups <= 1; groups++)
		for (size_t l = 0; l < ELEMENTSOF(access_lists); l++) {
			struct json_object *list;
			if (!json_object_object_get_ex(access, access_lists[l].key, &list))
				continue;
			size_t n = json_object_array_length(list);
			for (size_t i = 0; i < n; i++) {
				const char *who = json_object_get_string(json_object_array_get_idx(list, i));
				if ((who[0] == '@') != groups)
					continue;
				struct daemon_access_rule *rule = &c->rules[c->n_rules++];
				snprintf(rule->who, sizeof(rule->who), "%s", who);
				rule->role = access_lists[l].role;
				snprintf(rule->field, sizeof(rule->field), "access.%s[%zu]", access_lists[l].key, i);
			}
		}
}

static int parse_access(struct json_object *obj, struct daemon_config *c, struct config_error *err)
{
	static const char *const fields[] = { "admin", "debug", "monitor", "read_only", "no_access", "others", NULL };
	struct json_object *access, *v;
	size_t count = 0;
	int r;

	if (!json_object_object_get_ex(obj, "access", &access))
		return 0;
	if (!json_object_is_type(access, json_type_object))
		return config_fail(err, "access", "expected an object");
	r = config_check_members(access, "access", fields, err);
	if (r < 0)
		return r;
	for (size_t l = 0; l < ELEMENTSOF(access_lists); l++) {
		r = check_list(access, access_lists[l].key, &count, err);
		if (r < 0)
			return r;
	}
	collect_rules(access, c);
	if (json_object_object_get_ex(access, "others", &v)) {
		r = get_role(v, "access.others", &c->others, err);
		if (r < 0)
			return r;
		c->others_set = true;
	}
	return 0;
}

/* --- limits ------------------------------------------------------------------ */

static int parse_limits(struct json_object *obj, struct daemon_config *c, struct config_error *err)
{
	static const struct {
		const char *key;
		uint64_t min, max;
		size_t offset;
		bool wide;     /* uint64_t, else uint32_t */
	} limits[] = {
		{ "max_vms", 1, DAEMON_MAX_VMS_MAX, offsetof(struct daemon_config, max_vms), false },
		{ "max_total_memory_mib", 0, DAEMON_MAX_MEMORY_MIB_MAX,
		  offsetof(struct daemon_config, max_total_memory_mib), true },
		{ "max_connections", 1, DAEMON_MAX_CONNECTIONS_MAX,
		  offsetof(struct daemon_config, max_connections), false },
		{ "max_connections_per_user", 1, DAEMON_MAX_CONNECTIONS_MAX,
		  offsetof(struct daemon_config, max_connections_per_user), false },
		{ "admin_connections", 0, DAEMON_MAX_CONNECTIONS_MAX - 1,
		  offsetof(struct daemon_config, admin_connections), false },
		{ "idle_timeout_s", 0, DAEMON_IDLE_TIMEOUT_MAX, offsetof(struct daemon_config, idle_timeout_s), false },
		{ "message_timeout_s", 1, DAEMON_MESSAGE_TIMEOUT_MAX,
		  offsetof(struct daemon_config, message_timeout_s), false },
		{ "console_buffer_kib", DAEMON_CONSOLE_KIB_MIN, DAEMON_CONSOLE_KIB_MAX,
		  offsetof(struct daemon_config, console_buffer_kib), false },
		{ "max_message_kib", DAEMON_MESSAGE_KIB_MIN, DAEMON_MESSAGE_KIB_MAX,
		  offsetof(struct daemon_config, max_message_kib), false },
		{ "inspect_per_second", 0, DAEMON_INSPECT_RATE_MAX,
		  offsetof(struct daemon_config, inspect_per_second), false },
	};
	static const char *const fields[] = {
		"max_vms", "max_total_memory_mib", "max_connections", "max_connections_per_user",
		"admin_connections", "idle_timeout_s", "message_timeout_s", "console_buffer_kib",
		"max_message_kib", "inspect_per_second", NULL,
	};
	struct json_object *l, *v;
	char field[FIELD_LEN];
	int64_t u = 0;
	int r;

	if (!json_object_object_get_ex(obj, "limits", &l))
		return 0;
	if (!json_object_is_type(l, json_type_object))
		return config_fail(err, "limits", "expected an object");
	r = config_check_members(l, "limits", fields, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
		if (!json_object_object_get_ex(l, limits[i].key, &v))
			continue;
		snprintf(field, sizeof(field), "limits.%s", limits[i].key);
		r = config_get_int(v, field, (int64_t) limits[i].min, (int64_t) limits[i].max, &u, err);
		if (r < 0)
			return r;
		if (limits[i].offset == offsetof(struct daemon_config, max_total_memory_mib))
			c->max_total_memory_set = true;
		if (limits[i].wide)
			*(uint64_t *) ((char *) c + limits[i].offset) = (uint64_t) u;
		else
			*(uint32_t *) ((char *) c + limits[i].offset) = (uint32_t) u;
	}
	/* Slots kept for admins are taken from the total: some must be left.
	 * Not given: the default, or a quarter of a smaller total. */
	if (!json_object_object_get_ex(l, "admin_connections", NULL)) {
		if (c->admin_connections > c->max_connections / 4)
			c->admin_connections = c->max_connections / 4;
	} else if (c->admin_connections >= c->max_connections)
		return config_fail(err, "limits.admin_connections", "must be below max_connections (%" PRIu32 ")",
				   c->max_connections);
	return 0;
}

/* --- sandbox ----------------------------------------------------------------- */

/* Is [base, base + count) free of the uids Linux gives a meaning: 0, 65534 (nobody), 65535 (16-bit -1)? */
static bool uid_range_plain(uint64_t base, uint64_t count)
{
	static const uint64_t special[] = { 0, 65534, 65535 };

	for (size_t i = 0; i < ELEMENTSOF(special); i++)
		if (special[i] >= base && special[i] < base + count)
			return false;
	return true;
}

static int parse_sandbox(struct json_object *obj, struct daemon_config *c, struct config_error *err)
{
	static const char *const fields[] = { "user", "uid_base", "uid_count", NULL };
	struct json_object *sb, *v;
	int64_t base = c->sandbox_uid_base, count = c->sandbox_uid_count;
	int r;

	if (!json_object_object_get_ex(obj, "sandbox", &sb))
		return 0;
	if (!json_object_is_type(sb, json_type_object))
		return config_fail(err, "sandbox", "expected an object");
	r = config_check_members(sb, "sandbox", fields, err);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(sb, "user", &v)) {
		if (json_object_object_get_ex(sb, "uid_base", NULL) || json_object_object_get_ex(sb, "uid_count", NULL))
			return config_fail(err, "sandbox.user", "a user of its own for every worker (uid_base, uid_count) "
					   "or one user for all (user), not both");
		r = check_who(v, "sandbox.user", err);
		if (r < 0)
			return r;
		if (json_object_get_string(v)[0] == '@')
			return config_fail(err, "sandbox.user", "expected a user name or uid, not a group");
		snprintf(c->sandbox_user, sizeof(c->sandbox_user), "%s", json_object_get_string(v));
		return 0;
	}
	if (json_object_object_get_ex(sb, "uid_base", &v) &&
	    (r = config_get_int(v, "sandbox.uid_base", 1, DAEMON_SANDBOX_UID_MAX, &base, err)) < 0)
		return r;
	if (json_object_object_get_ex(sb, "uid_count", &v) &&
	    (r = config_get_int(v, "sandbox.uid_count", 1, DAEMON_SANDBOX_UID_COUNT_MAX, &count, err)) < 0)
		return r;
	if ((uint64_t) base + (uint64_t) count - 1 > DAEMON_SANDBOX_UID_MAX)
		return config_fail(err, "sandbox.uid_count", "the range must end at or below %u",
				   (unsigned) DAEMON_SANDBOX_UID_MAX);
	if (!uid_range_plain((uint64_t) base, (uint64_t) count))
		return config_fail(err, "sandbox.uid_base", "the range must not hold 0, 65534 (nobody) or 65535");
	c->sandbox_uid_base = (uint32_t) base;
	c->sandbox_uid_count = (uint32_t) count;
	return 0;
}

/* --- files, console_log, workers ------------------------------------------------ */

/* An absolute folder with no "." or ".." component and no empty one (a
 * path under it is judged by its text before it is opened). */
static bool plain_absolute(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const char *p = s; *p; ) {
		const char *end = strchrnul(p + 1, '/');
		size_t n = (size_t) (end - p - 1);
		if ((n == 0 && *end) || (n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
			return false;
		p = end;
	}
	return true;
}

/* The object obj.key: 1 with *ret, 0 when absent, or -EINVAL (not an object,
 * a member not in fields). */
static int open_section(struct json_object *obj, const char *key, const char *const *fields,
			struct json_object **ret, struct config_error *err)
{
	if (!json_object_object_get_ex(obj, key, ret))
		return 0;
	if (!json_object_is_type(*ret, json_type_object))
		return config_fail(err, key, "expected an object");
	int r = config_check_members(*ret, key, fields, err);
	return r < 0 ? r : 1;
}

static int parse_files(struct json_object *obj, struct daemon_config *c, struct config_error *err)
{
	static const char *const fields[] = { "path_dirs", NULL };
	struct json_object *files, *dirs;
	char field[FIELD_LEN];
	int r = open_section(obj, "files", fields, &files, err);

	if (r <= 0 || !json_object_object_get_ex(files, "path_dirs", &dirs))
		return r < 0 ? r : 0;
	if (!json_object_is_type(dirs, json_type_array))
		return config_fail(err, "files.path_dirs", "expected an array of folders");
	size_t n = json_object_array_length(dirs);
	if (n > DAEMON_PATH_DIRS_MAX)
		return config_fail(err, "files.path_dirs", "at most %d folders", DAEMON_PATH_DIRS_MAX);
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(dirs, i);
		snprintf(field, sizeof(field), "files.path_dirs[%zu]", i);
		const char *s;
		r = config_get_string(v, field, DAEMON_PATH_DIR_LEN, &s, err);
		if (r < 0)
			return r;
		size_t len = strlen(s);
		if (!plain_absolute(s) || strcmp(s, "/") == 0)
			return config_fail(err, field, "must be an absolute folder other than /, without . or ..");
		/* Kept without a trailing slash: "DIR/" + the rest is what is compared. */
		snprintf(c->path_dirs[i], sizeof(c->path_dirs[i]), "%.*s", (int) (len - (s[len - 1] == '/')), s);
	}
	c->n_path_dirs = n;
	return 0;
}

struct int_field {
	const char *key;
	int64_t min, max;
	size_t offset;         /* of a uint32_t in struct daemon_config */
	bool zero_ok;          /* 0 (off) is allowed below min */
};

/* An object of integer fields, each in its range. */
static int parse_int_section(struct json_object *obj, const char *section, const struct int_field *rows,
			     size_t n, const char *const *fields, struct daemon_config *c, struct config_error *err)
{
	struct json_object *o, *v;
	char field[FIELD_LEN];
	int64_t u;
	int r = open_section(obj, section, fields, &o, err);

	if (r <= 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (!json_object_object_get_ex(o, rows[i].key, &v))
			continue;
		snprintf(field, sizeof(field), "%s.%s", section, rows[i].key);
		r = config_get_int(v, field, rows[i].zero_ok ? 0 : rows[i].min, rows[i].max, &u, err);
		if (r == 0 && u != 0 && u < rows[i].min)
			r = config_fail(err, field, "must be 0 or between %" PRId64 " and %" PRId64, rows[i].min,
					rows[i].max);
		if (r < 0)
			return r;
		*(uint32_t *) ((char *) c + rows[i].offset) = (uint32_t) u;
	}
	return 0;
}

static int parse_console_log(struct json_object *obj, struct daemon_config *c, struct config_error *err)
{
	static const struct int_field rows[] = {
		{ "max_kib", DAEMON_LOG_KIB_MIN, DAEMON_LOG_KIB_MAX, offsetof(struct daemon_config, log_max_kib), true },
		{ "rotate", 0, DAEMON_LOG_ROTATE_MAX, offsetof(struct daemon_config, log_rotate), false },
	};
	static const char *const fields[] = { "max_kib", "rotate", NULL };
	return parse_int_section(obj, "console_log", rows, ELEMENTSOF(rows), fields, c, err);
}

static int parse_workers(struct json_object *obj, struct daemon_config *c, struct config_error *err)
{
	static const struct int_field rows[] = {
		{ "call_timeout_s", 1, DAEMON_TIMEOUT_MAX, offsetof(struct daemon_config, call_timeout_s), false },
		{ "boot_timeout_s", 1, DAEMON_TIMEOUT_MAX, offsetof(struct daemon_config, boot_timeout_s), false },
	};
	static const char *const fields[] = { "call_timeout_s", "boot_timeout_s", NULL };
	return parse_int_section(obj, "workers", rows, ELEMENTSOF(rows), fields, c, err);
}

int daemon_config_from_json(struct json_object *obj, struct daemon_config *ret, struct config_error *err)
{
	static const char *const top_fields[] = { "access", "limits", "sandbox", "files", "console_log", "workers",
						   NULL };
	struct config_error scratch;
	struct daemon_config c;
	int r;

	if (!err)
		err = &scratch;
	if (!json_object_is_type(obj, json_type_object))
		return config_fail(err, "", "expected an object");
	r = config_check_members(obj, "", top_fields, err);
	if (r < 0)
		return r;
	daemon_config_init(&c);
	if ((r = parse_access(obj, &c, err)) < 0 || (r = parse_limits(obj, &c, err)) < 0 ||
	    (r = parse_sandbox(obj, &c, err)) < 0 || (r = parse_files(obj, &c, err)) < 0 ||
	    (r = parse_console_log(obj, &c, err)) < 0 || (r = parse_workers(obj, &c, err)) < 0)
		return r;
	*ret = c;
	return 0;
}

/* --- the file ------------------------------------------------------------------ */

static int read_file(const char *path, char **ret, size_t *ret_len, struct config_error *err)
{
	struct stat st;
	size_t len = 0;
	char *buf;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		config_fail(err, "", "cannot open: %s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		config_fail(err, "", "cannot stat: %s", strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		config_fail(err, "", "not a regular file");
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	buf = malloc(DAEMON_CONFIG_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, DAEMON_CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			close(fd);
			free(buf);
			config_fail(err, "", "cannot read: %s", strerror(-r));
			return r;
		}
		if (n == 0)
			break;
		len += (size_t) n;
		if (len > DAEMON_CONFIG_FILE_MAX) {
			close(fd);
			free(buf);
			config_fail(err, "", "larger than %u bytes", DAEMON_CONFIG_FILE_MAX);
			return -EFBIG;
		}
	}
	close(fd);
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* "line L, column C" of byte offset off (1-based, columns in bytes). */
static void position(const char *text, size_t off, char *buf, size_t size)
{
	unsigned line = 1, col = 1;

	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	snprintf(buf, size, "line %u, column %u", line, col);
}

/* text is NUL-terminated with no NUL inside: the tokener is given the
 * terminator too, so a document that ends in a number is complete. */
static int parse_text(const char *text, size_t len, struct json_object **ret, struct config_error *err)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	char where[48];
	size_t end;

	if (strspn(text, " \t\r\n") == len)
		return config_fail(err, "", "empty file: expected a JSON object");
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);   /* no trailing commas, no text after */
	obj = json_tokener_parse_ex(tok, text, (int) len + 1);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		position(text, end, where, sizeof(where));
		return config_fail(err, "", "not valid JSON at %s: %s", where, json_tokener_error_desc(jerr));
	}
	end += strspn(text + end, " \t\r\n");
	if (end < len) {
		json_object_put(obj);
		position(text, end, where, sizeof(where));
		return config_fail(err, "", "not valid JSON at %s: text after the document", where);
	}
	*ret = obj;
	return 0;
}

int daemon_config_load(const char *path, struct daemon_config *ret, struct config_error *err)
{
	struct config_error scratch;
	struct json_object *obj = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!err)
		err = &scratch;
	r = read_file(path, &text, &len, err);
	if (r < 0)
		return r;
	if (strlen(text) != len) {
		free(text);
		return config_fail(err, "", "contains NUL bytes: not a JSON text");
	}
	r = parse_text(text, len, &obj, err);
	free(text);
	if (r < 0)
		return r;
	r = daemon_config_from_json(obj, ret, err);
	json_object_put(obj);
	return r;
}
