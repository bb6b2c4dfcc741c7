/* SPDX-License-Identifier: MIT */
/*
 * vmmctl [--socket PATH | --connect URL] [--json] [--help] COMMAND ...
 *
 * Global options end at the first word that is not one (the command), so a
 * command's own options never clash with them. Each command checks its
 * positionals and options against its table entry before anything is sent.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmctl/socket_path.h"
#include "vmmctl/vmmctl.h"

/* In the order --help lists them. */
static const struct cmd_entry *const commands[] = {
	&cmd_version_entry,
	&cmd_create_entry,
	&cmd_run_entry,
	&cmd_start_entry,
	&cmd_pause_entry,
	&cmd_resume_entry,
	&cmd_stop_entry,
	&cmd_destroy_entry,
	&cmd_list_entry,
	&cmd_info_entry,
	&cmd_console_entry,
	&cmd_events_entry,
	&cmd_shadow_entry,
	&cmd_regs_entry,
	&cmd_mem_entry,
	&cmd_translate_entry,
	&cmd_maps_entry,
	&cmd_irq_entry,
	&cmd_bus_entry,
	&cmd_stats_entry,
	&cmd_top_entry,
	&cmd_call_entry,
	&cmd_bridge_entry,
};

#define USAGE_LINE "usage: vmmctl [--socket PATH | --connect ssh://[USER@]HOST[:PORT][/SOCKET]] [--json] [--help] COMMAND ...\n"

/* After a usage error: the short form, not a screenful. */
static void usage_short(void)
{
	fputs(USAGE_LINE "Run 'vmmctl --help' for the list of commands.\n", stderr);
}

static void usage(FILE *f)
{
	fputs(USAGE_LINE "\n"
	      "  --socket PATH   vmmd's socket (default: $VMMD_SOCKET, else\n"
	      "                  " VMMD_SYSTEM_SOCKET " as root, else\n"
	      "                  $XDG_RUNTIME_DIR/vmmd/vmmd.sock)\n"
	      "  --connect URL   ssh://[USER@]HOST[:PORT][/SOCKET]: vmmd on another machine,\n"
	      "                  through `vmmctl bridge` there ($VMMCTL_SSH, $VMMCTL_REMOTE)\n"
	      "  --json          print results as JSON\n\n"
	      "commands:\n", f);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		char line[128];

		snprintf(line, sizeof(line), "%s %s", commands[i]->name, commands[i]->usage);
		/* Long usages get the summary on a line of its own. */
		if (strlen(line) > 32)
			fprintf(f, "  %s\n  %-32s %s\n", line, "", commands[i]->summary);
		else
			fprintf(f, "  %-32s %s\n", line, commands[i]->summary);
	}
	fputs("\nexit status: 0 ok, 1 error (RPC, connection, input file), 2 usage\n", f);
}

static const struct cmd_entry *find_command(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

/* Where vmmd is: a local socket (--socket, or the default) or, through ssh, another machine. */
struct target {
	const char *socket;
	const char *connect_url;
};

/*
 * Global options, the command and its arguments into ctl, args and ret.
 * 1: run the command; 0: done (help); -EINVAL: a usage error (reported).
 */
static int parse_argv(int argc, char **argv, struct ctl *ctl, struct cmd_args *args, struct target *ret)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json",   no_argument,       NULL, 'j' },
		{ "connect", required_argument, NULL, 'c' },
		{ "help",   no_argument,       NULL, 'h' },
		{}
	};
	struct target t = {};
	char why[160];
	int c, r;

	/* "+": stop at the command word; ":": report missing values ourselves. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			t.socket = optarg;
			break;
		case 'j':
			ctl->json = true;
			break;
		case 'c':
			t.connect_url = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "vmmctl: option '%s' needs a value\n", argv[optind - 1]);
			usage_short();
			return -EINVAL;
		default:
			fprintf(stderr, "vmmctl: unknown option '%s'\n", argv[optind - 1]);
			usage_short();
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		fputs("vmmctl: no command given\n", stderr);
		usage_short();
		return -EINVAL;
	}
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return 0;
	}

	ctl->cmd = find_command(argv[optind]);
	if (!ctl->cmd) {
		fprintf(stderr, "vmmctl: unknown command '%s'\n", argv[optind]);
		usage_short();
		return -EINVAL;
	}
	r = cmd_args_parse(ctl->cmd->options, ctl->cmd->min_args, ctl->cmd->max_args,
			   argc - optind - 1, argv + optind + 1, args, why, sizeof(why));
	if (r < 0)
		return ctl_usage_error(ctl, "%s: %s", ctl->cmd->name, why);
	if (args->json)
		ctl->json = true;
	if (args->socket)
		t.socket = args->socket;
	if (args->help) {
		printf("usage: vmmctl %s %s\n  %s\n", ctl->cmd->name, ctl->cmd->usage, ctl->cmd->summary);
		return 0;
	}
	/* A socket to reach through ssh is the remote vmmctl's to resolve. */
	if (t.connect_url && t.socket)
		return ctl_usage_error(ctl, "--socket and --connect exclude each other: put the remote socket in the URL");
	*ret = t;
	return 1;
}

/* Reach vmmd and run the command: 0 or a negative errno (reported). */
static int run(struct ctl *ctl, const struct cmd_args *args, const struct target *t)
{
	_cleanup_free_ char *socket_path = NULL;
	int r;

	if (t->connect_url) {
		r = remote_connect(ctl, t->connect_url);
		if (r < 0)
			return r;
	} else {
		r = socket_path_resolve(t->socket, getenv("VMMD_SOCKET"), getenv("XDG_RUNTIME_DIR"),
					geteuid(), &socket_path);
		if (r == -ENOENT) {
			fputs("vmmctl: XDG_RUNTIME_DIR is not set; use --socket PATH or VMMD_SOCKET\n", stderr);
			return r;
		}
		if (r < 0)
			return ctl_oom();
		ctl->socket_path = socket_path;
	}

	/* A vmmd that goes away while we write to it must give us EPIPE and a
	 * message, not a silent death; a closed stdout is noticed at fflush. */
	signal(SIGPIPE, SIG_IGN);

	r = ctl->cmd->exec(ctl, args);
	rpc_client_free(ctl->client);
	ctl->client = NULL;
	r = remote_finish(ctl, r);
	ctl->socket_path = NULL;
	if (fflush(stdout) != 0 && r >= 0) {
		r = -errno;
		/* A reader that stopped early (| head) is not worth a message. */
		if (r != -EPIPE)
			ctl_error("cannot write output: %s", strerror(-r));
	}
	return r;
}

int main(int argc, char **argv)
{
	struct ctl ctl = {};
	struct cmd_args args;
	struct target target = {};
	int r;

	r = parse_argv(argc, argv, &ctl, &args, &target);
	if (r <= 0)
		return r < 0 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
	r = run(&ctl, &args, &target);
	if (r < 0)
		return ctl.usage_error ? CTL_EXIT_USAGE : CTL_EXIT_FAILURE;
	return CTL_EXIT_OK;
}
