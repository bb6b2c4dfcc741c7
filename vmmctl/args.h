/* SPDX-License-Identifier: MIT */
/*
 * The arguments of one vmmctl command: positionals plus the command's own
 * long options (`--name NAME`, `--name=NAME`, `--force`), in any order.
 * `--` ends the options. Pure and allocation-free: the result borrows argv.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CMD_ARGS_MAX     8     /* positionals any command takes */
#define CMD_VALUES_MAX   16    /* option occurrences on one command line */

struct cmd_option {
	const char *name;      /* with its dashes: "--name" */
	bool has_arg;
};

struct cmd_optval {
	const struct cmd_option *opt;
	const char *value;     /* NULL for flags */
};

struct cmd_args {
	int argc;
	const char *argv[CMD_ARGS_MAX];
	size_t n_values;
	struct cmd_optval values[CMD_VALUES_MAX];
	bool help;             /* -h/--help was given: the caller prints usage */
	/* The global options are also accepted after the command
	 * (`vmmctl list --json`), as users type them. */
	bool json;
	const char *socket;
};

/*
 * Parse argv[0..argc) (the words after the command name) against options,
 * an array ended by an entry with .name NULL (options may be NULL).
 * Returns 0, or -EINVAL with a one-line reason in errbuf (unknown option,
 * missing value, too few or too many arguments). With -h/--help anywhere
 * before `--` it returns 0 with ret->help set and does not check counts.
 */
int cmd_args_parse(const struct cmd_option *options, int min_args, int max_args,
		   int argc, char *const *argv, struct cmd_args *ret,
		   char *errbuf, size_t errlen);

/* Whether the option was given at least once. */
bool cmd_args_has(const struct cmd_args *a, const char *name);
/* The value of its last occurrence, or NULL. */
const char *cmd_args_get(const struct cmd_args *a, const char *name);
/* Values of every occurrence, in order, up to max; returns how many were given. */
size_t cmd_args_get_all(const struct cmd_args *a, const char *name, const char **values, size_t max);
