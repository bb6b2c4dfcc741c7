/* SPDX-License-Identifier: MIT */
/*
 * `console NAME [--follow]`: the guest's console bytes, raw, on stdout.
 *
 * Following subscribes to the VM's "state" and "console" events before it
 * reads the history, so no byte falls between the two; bytes are placed by
 * their absolute offset, which makes overlap between history and events
 * harmless and turns a gap into one more vm.console.read. stdin goes to the
 * guest (raw mode on a terminal, where Ctrl-] detaches). It ends when the VM
 * leaves running/paused for stopped or crashed.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup_json.h"
#include "base/macro.h"
#include "proto/base64.h"
#include "vmmctl/output.h"
#include "vmmctl/vmmctl.h"

#define CONSOLE_READ_MAX  65536   /* vm.console.read's default chunk */
#define DETACH_KEY        0x1d    /* Ctrl-] as in telnet and virsh */

struct follow {
	struct ctl *ctl;
	const char *name;
	uint64_t offset;             /* next console byte stdout has not seen */
	int last_byte;               /* last byte written, -1 before any */
	bool gap;                    /* an event skipped ahead: fetch the gap with vm.console.read */
	bool ended;                  /* the VM stopped or crashed */
	char state[16];
	struct json_object *exit;    /* the exit that ended it, when known; owned */
	int write_error;             /* stdout failed (e.g. EPIPE): stop quietly */
};

static volatile sig_atomic_t quit_requested;

static void on_quit_signal(int sig)
{
	quit_requested = 1;
}

static int write_stdout(struct follow *fw, const unsigned char *p, size_t len)
{
	if (len == 0 || fw->write_error)
		return fw->write_error;
	if (fwrite(p, 1, len, stdout) != len || fflush(stdout) != 0) {
		fw->write_error = errno ? -errno : -EIO;
		return fw->write_error;
	}
	fw->last_byte = p[len - 1];
	return 0;
}

/* A reader that went away (| head) is not worth a message; other failures are. */
static int report_write_error(const struct follow *fw, int r)
{
	if (r < 0 && r == fw->write_error && r != -EPIPE)
		ctl_error("cannot write to stdout: %s", strerror(-r));
	return r;
}

/*
 * Bytes [begin, begin+len) of the console stream. What stdout has already
 * seen is skipped. A chunk that starts past fw->offset is printed when it
 * came from vm.console.read (the bytes between were dropped by the worker's
 * ring and are gone), but only noted as a gap when it came from an event,
 * since vm.console.read can still fetch what lies between.
 */
static int emit(struct follow *fw, uint64_t begin, const unsigned char *p, size_t len, bool from_read)
{
	uint64_t end = begin + len;

	if (end <= fw->offset)
		return 0;
	if (begin > fw->offset && !from_read) {
		fw->gap = true;
		return 0;
	}
	if (begin < fw->offset) {
		p += fw->offset - begin;
		len -= (size_t) (fw->offset - begin);
	}
	fw->offset = end;
	return write_stdout(fw, p, len);
}

/* vm.console.read from fw->offset until it returns nothing more. */
static int read_history(struct follow *fw)
{
	for (;;) {
		_cleanup_(json_object_putp) struct json_object *params = ctl_params_name(fw->name), *res = NULL;
		_cleanup_free_ unsigned char *bytes = NULL;
		size_t len;
		int64_t next;
		int r;

		if (!params ||
		    json_object_object_add(params, "offset", json_object_new_int64((int64_t) fw->offset)) < 0 ||
		    json_object_object_add(params, "max", json_object_new_int(CONSOLE_READ_MAX)) < 0)
			return ctl_oom();
		r = ctl_call(fw->ctl, "vm.console.read", TAKE_PTR(params), &res);
		if (r < 0)
			return r;

		next = json_object_get_int64(json_lookup(res, "offset"));
		r = json_lookup_bytes(res, "data", &bytes, &len);
		if (r == -ENOMEM)
			return ctl_oom();
		if (r < 0 || next < 0 || (uint64_t) next < len) {
			ctl_error("vm.console.read: malformed reply from vmmd");
			return -EBADMSG;
		}
		/* The reply's offset is the one after its data, so the data began len before. */
		r = emit(fw, (uint64_t) next - len, bytes, len, true);
		if (r < 0)
			return r;
		if (len == 0)
			return 0;
	}
}

static bool state_is_final(const char *state)
{
	return strcmp(state, "stopped") == 0 || strcmp(state, "crashed") == 0;
}

static void set_ended(struct follow *fw, const char *state, struct json_object *exit)
{
	fw->ended = true;
	snprintf(fw->state, sizeof(fw->state), "%s", state);
	if (exit && !fw->exit)
		fw->exit = json_object_get(exit);
}

/* Runs inside rpc_client_call/wait: no calls from here, only printing and flags. */
static void on_event(void *userdata, struct json_object *msg)
{
	struct follow *fw = userdata;
	struct json_object *params = json_lookup(msg, "params");
	const char *type = json_lookup_str(params, "type", "");
	struct json_object *data = json_lookup(params, "data");

	if (strcmp(json_lookup_str(msg, "method", ""), "event") != 0 ||
	    strcmp(json_lookup_str(params, "vm", ""), fw->name) != 0)
		return;

	if (strcmp(type, "console") == 0) {
		struct json_object *off = json_lookup(data, "offset");
		unsigned char *bytes;
		size_t len;

		if (!off || json_object_get_int64(off) < 0 ||
		    json_lookup_bytes(data, "data", &bytes, &len) < 0) {
			fw->gap = true;   /* unreadable or no memory: let vm.console.read fill in */
			return;
		}
		emit(fw, (uint64_t) json_object_get_int64(off), bytes, len, false);
		free(bytes);
	} else if (strcmp(type, "state") == 0) {
		const char *state = json_lookup_str(data, "state", "");

		if (state_is_final(state))
			set_ended(fw, state, json_lookup(data, "exit"));
	}
}

static int subscribe(struct follow *fw)
{
	_cleanup_(json_object_putp) struct json_object *params = ctl_params_name(fw->name), *res = NULL;
	_cleanup_(json_object_putp) struct json_object *topics = json_object_new_array();

	if (!params || !topics ||
	    json_object_array_add(topics, json_object_new_string("state")) < 0 ||
	    json_object_array_add(topics, json_object_new_string("console")) < 0 ||
	    json_object_object_add(params, "topics", TAKE_PTR(topics)) < 0)
		return ctl_oom();
	return ctl_call(fw->ctl, "events.subscribe", TAKE_PTR(params), &res);
}

/* The VM's state now; a VM that already stopped ends the follow after its history. */
static int check_state(struct follow *fw)
{
	_cleanup_(json_object_putp) struct json_object *res = NULL;
	struct json_object *params = ctl_params_name(fw->name);
	const char *state;
	int r;

	if (!params)
		return ctl_oom();
	r = ctl_call(fw->ctl, "vm.info", params, &res);
	if (r < 0)
		return r;
	state = json_lookup_str(res, "state", "");
	if (state_is_final(state))
		set_ended(fw, state, json_lookup(res, "exit"));
	return 0;
}

/* Handle every message the client has buffered or can read without blocking. */
static int pump_socket(struct follow *fw)
{
	int r;

	do
		r = rpc_client_wait(fw->ctl->client, 0);
	while (r > 0);
	if (r < 0) {
		ctl_error("connection to vmmd at %s lost: %s", fw->ctl->socket_path, strerror(-r));
		return r;
	}
	return 0;
}

static int send_input(struct follow *fw, const unsigned char *p, size_t len)
{
	_cleanup_(json_object_putp) struct json_object *params = NULL, *res = NULL;
	_cleanup_free_ char *b64 = NULL;
	struct rpc_error err;
	int r;

	if (len == 0)
		return 0;
	b64 = malloc(base64_encoded_size(len));
	if (b64)
		base64_encode(p, len, b64);
	params = ctl_params_name(fw->name);
	if (!b64 || !params || json_object_object_add(params, "data", json_object_new_string(b64)) < 0)
		return ctl_oom();
	r = ctl_try_call(fw->ctl, "vm.console.write", TAKE_PTR(params), &res, &err);
	/* Typed before the guest runs or after it stopped: nobody to read it, and
	 * the state event that ends the follow is on its way. */
	if (r == -EPROTO && err.code == RPC_INVALID_STATE)
		return 0;
	if (r < 0) {
		ctl_print_call_error(fw->ctl, "vm.console.write", r, &err);
		return r;
	}
	return 0;
}

enum input_result { INPUT_MORE, INPUT_EOF, INPUT_DETACH };

/* One read of stdin forwarded to the guest. */
static int forward_input(struct follow *fw, bool tty, enum input_result *ret)
{
	unsigned char buf[4096];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	int r;

	if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
		*ret = INPUT_MORE;
		return 0;
	}
	if (n <= 0) {
		/* EOF, or a hung-up terminal (EIO): nothing more will come. */
		*ret = INPUT_EOF;
		return 0;
	}
	if (tty) {
		unsigned char *detach = memchr(buf, DETACH_KEY, (size_t) n);

		if (detach) {
			r = send_input(fw, buf, (size_t) (detach - buf));
			*ret = INPUT_DETACH;
			return r;
		}
	}
	*ret = INPUT_MORE;
	return send_input(fw, buf, (size_t) n);
}

static void print_final_status(struct follow *fw)
{
	char why[256];

	if (!isatty(STDERR_FILENO))
		return;
	if (!fw->exit) {
		/* The state event carried no exit: ask for it. */
		struct json_object *params = ctl_params_name(fw->name), *res;
		struct rpc_error err;

		if (params && ctl_try_call(fw->ctl, "vm.info", params, &res, &err) == 0) {
			struct json_object *exit = json_lookup(res, "exit");

			fw->exit = exit ? json_object_get(exit) : NULL;
			json_object_put(res);
		}
	}
	format_exit(fw->exit, why, sizeof(why));
	fprintf(stderr, "%s[vmm: %s %s: %s]\n", fw->last_byte >= 0 && fw->last_byte != '\n' ? "\n" : "",
		fw->name, fw->state, why);
}

/* Poll the socket and stdin until the VM ends, the user detaches or a signal asks us to stop. */
static int follow_loop(struct follow *fw, bool tty, bool *ret_detached)
{
	bool forwarding = true;
	int r;

	*ret_detached = false;
	while (!quit_requested) {
		struct pollfd fds[2] = {
			{ .fd = rpc_client_fd(fw->ctl->client), .events = POLLIN },
			{ .fd = forwarding ? STDIN_FILENO : -1, .events = POLLIN },
		};

		r = pump_socket(fw);
		if (r < 0)
			return r;
		if (fw->gap) {
			fw->gap = false;
			r = read_history(fw);
			if (r < 0)
				return r;
		}
		if (fw->write_error)
			return fw->write_error;
		if (fw->ended)
			return 0;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			ctl_error("poll: %s", strerror(-r));
			return r;
		}
		if (fds[1].revents) {
			enum input_result in;

			r = forward_input(fw, tty, &in);
			if (r < 0)
				return r;
			if (in == INPUT_DETACH || (in == INPUT_EOF && tty)) {
				*ret_detached = true;
				return 0;
			}
			/* Piped input ran out: keep showing output until the VM ends. */
			if (in == INPUT_EOF)
				forwarding = false;
		}
		/* fds[0] readiness is handled by pump_socket at the top. */
	}
	*ret_detached = true;
	return 0;
}

int console_follow(struct ctl *ctl, const char *name)
{
	struct follow fw = { .ctl = ctl, .name = name, .last_byte = -1 };
	bool tty = isatty(STDIN_FILENO), raw = false, detached = false;
	struct sigaction sa = { .sa_handler = on_quit_signal }, old_int, old_term, old_hup;
	struct termios saved;
	int r;

	r = ctl_connect(ctl);
	if (r < 0)
		return r;
	rpc_client_on_notify(ctl->client, on_event, &fw);

	r = subscribe(&fw);
	if (r >= 0)
		r = check_state(&fw);
	if (r >= 0)
		r = read_history(&fw);
	if (r < 0 || fw.ended)
		goto done;

	/* No SA_RESTART: poll must return so the terminal gets restored. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);

	if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;

		cfmakeraw(&t);
		/* Keep output processing: the guest's "\n" still returns the carriage. */
		t.c_oflag = saved.c_oflag;
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
		fprintf(stderr, "[vmm: attached to %s; Ctrl-] detaches]\n", name);
	}

	r = follow_loop(&fw, tty, &detached);

	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);

	if (r >= 0 && detached) {
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "%s[vmm: detached from %s]\n",
				fw.last_byte >= 0 && fw.last_byte != '\n' ? "\n" : "", name);
		goto done;
	}
	/* Output written just before the state change may still be unread. */
	if (r >= 0 && fw.ended)
		r = read_history(&fw);

done:
	if (r >= 0 && fw.ended) {
		if (!fw.write_error)
			print_final_status(&fw);
	}
	rpc_client_on_notify(ctl->client, NULL, NULL);
	json_object_put(fw.exit);
	return report_write_error(&fw, r);
}

static int cmd_console(struct ctl *ctl, const struct cmd_args *args)
{
	struct follow fw = { .ctl = ctl, .name = args->argv[0], .last_byte = -1 };

	if (cmd_args_has(args, "--follow"))
		return console_follow(ctl, args->argv[0]);
	return report_write_error(&fw, read_history(&fw));
}

static const struct cmd_option console_options[] = {
	{ .name = "--follow" },
	{}
};

const struct cmd_entry cmd_console_entry = {
	.name = "console",
	.usage = "NAME [--follow]",
	.summary = "print the console; --follow streams it, sends stdin",
	.min_args = 1, .max_args = 1,
	.options = console_options,
	.exec = cmd_console,
};
