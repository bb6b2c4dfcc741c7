/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmmctl/args.h"

static const struct cmd_option *find_option(const struct cmd_option *options,
					    const char *word, size_t len)
{
	for (const struct cmd_option *o = options; o && o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, word, len) == 0)
			return o;
	return NULL;
}

int cmd_args_parse(const struct cmd_option *options, int min_args, int max_args,
		   int argc, char *const *argv, struct cmd_args *ret,
		   char *errbuf, size_t errlen)
{
	struct cmd_args a = {};
	bool options_done = false;
	const char *extra = NULL;    /* first positional beyond max_args */

	for (int i = 0; i < argc; i++) {
		const char *w = argv[i];

		if (!options_done && strcmp(w, "--") == 0) {
			options_done = true;
			continue;
		}
		if (!options_done && (strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0)) {
			a.help = true;
			continue;
		}
		/* A lone "-" is a positional (e.g. a config read from stdin). */
		if (options_done || w[0] != '-' || w[1] == '\0') {
			if (a.argc >= CMD_ARGS_MAX || a.argc >= max_args) {
				if (!extra)
					extra = w;
			} else
				a.argv[a.argc++] = w;
			continue;
		}

		const char *eq = strchr(w, '=');
		size_t len = eq ? (size_t) (eq - w) : strlen(w);
		if (strcmp(w, "--json") == 0) {
			a.json = true;
			continue;
		}
		if (len == 8 && strncmp(w, "--socket", 8) == 0) {
			if (eq)
				a.socket = eq + 1;
			else if (i + 1 < argc)
				a.socket = argv[++i];
			else {
				snprintf(errbuf, errlen, "option '--socket' needs a value");
				return -EINVAL;
			}
			continue;
		}
		const struct cmd_option *o = find_option(options, w, len);
		const char *value = NULL;

		if (!o || w[1] != '-') {
			snprintf(errbuf, errlen, "unknown option '%.*s'", (int) len, w);
			return -EINVAL;
		}
		if (o->has_arg) {
			if (eq)
				value = eq + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else {
				snprintf(errbuf, errlen, "option '%s' needs a value", o->name);
				return -EINVAL;
			}
		} else if (eq) {
			snprintf(errbuf, errlen, "option '%s' takes no value", o->name);
			return -EINVAL;
		}
		if (a.n_values >= CMD_VALUES_MAX) {
			snprintf(errbuf, errlen, "too many options");
			return -EINVAL;
		}
		a.values[a.n_values++] = (struct cmd_optval) { .opt = o, .value = value };
	}

	if (!a.help && extra) {
		snprintf(errbuf, errlen, "unexpected argument '%s'", extra);
		return -EINVAL;
	}
	if (!a.help && a.argc < min_args) {
		snprintf(errbuf, errlen, "missing argument");
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

bool cmd_args_has(const struct cmd_args *a, const char *name)
{
	return cmd_args_get_all(a, name, NULL, 0) > 0;
}

const char *cmd_args_get(const struct cmd_args *a, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < a->n_values; i++)
		if (strcmp(a->values[i].opt->name, name) == 0)
			v = a->values[i].value;
	return v;
}

size_t cmd_args_get_all(const struct cmd_args *a, const char *name, const char **values, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n_values; i++) {
		if (strcmp(a->values[i].opt->name, name) != 0)
			continue;
		if (n < max)
			values[n] = a->values[i].value;
		n++;
	}
	return n;
}
