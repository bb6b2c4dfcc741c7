/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: rpc_peers wired together on one event loop, as the
 * supervisor and a worker are (issue 14, findings 1 and 2 lived here), and
 * a peer fed raw bytes by a client that may stop reading.
 *
 *   sup <-> wrk   the channel: sup with the supervisor's channel limits, wrk
 *                 with the worker's, both shrunk (512-byte messages) so every
 *                 limit is reached
 *   cli -> srv    srv a client connection with the server's limits, shrunk;
 *                 cli a raw socket
 *
 * The input is a list of ops, [op] [arg] and for raw input its bytes:
 * calls either way on the channel (the callee answers at once with a
 * result of some size, an error, a notification first, or parks the call
 * to complete later, in any order), raw bytes from the client, the client
 * reading its replies or not, loop turns. Checked:
 *   - every call's reply callback runs exactly once (at the latest when the
 *     peers close), and a result never exceeds the callee's max_reply;
 *   - nothing loops: the lines read in all stay within a bound linear in
 *     the input (two peers answering each other's errors never end);
 *   - the limits hold: calls in flight at most max_calls plus one batch,
 *     output queued at most max_output, input held at most one read;
 *   - every line the client reads is one JSON value (a fresh framer).
 * ASan and LSan find the rest (a peer or an exchange left behind).
 *
 * tests/unit/test_fuzz_replay.c includes this file to replay the corpus and
 * the regression inputs in every normal `make check`.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "proto/framer.h"
#include "vmmd/common/log.h"
#include "vmmd/common/rpc_peer.h"
#include "tests/fuzz/fuzz_check.h"

#define peer_assert(cond, ...) FUZZ_CHECK("fuzz_peer", cond, __VA_ARGS__)

#define PEER_MSG      512     /* max_message of every peer here: small, so results pass it */
#define PEER_PARKED   64
#define PEER_CALLS    256

struct peer_side {
	const char *name;
	struct rpc_peer *peer;
	struct rpc_call *parked[PEER_PARKED];
	size_t n_parked;
	unsigned handled;
	bool closed;
};

/* One call of ours: its callback must run once. */
struct peer_call {
	unsigned replies;
	size_t max_result;   /* the callee's max_reply: a result may not be longer */
};

struct peer_world {
	struct event_base *base;
	struct peer_side sup, wrk, srv;
	int cli;                       /* the raw client's socket */
	bool cli_reads;
	struct rpc_framer *cli_framer; /* checks what the client reads */
	struct peer_call calls[PEER_CALLS];
	unsigned n_calls;
	uint64_t ops;
};

/* The answer a callee gives, from the method's first letter and length:
 * "r" + n: a result of n*16 bytes; "e": an error; "n": a notification to
 * the caller first; "p": parked. */
static void peer_answer(struct peer_world *w, struct peer_side *s, struct rpc_call *call)
{
	const char *m = call->method;
	size_t len = strlen(m);
	struct rpc_error err = { 0 };

	switch (m[0]) {
	case 'p':
		if (s->n_parked < PEER_PARKED) {
			s->parked[s->n_parked++] = call;
			return;
		}
		break;
	case 'e':
		rpc_error_set(&err, RPC_INVALID_STATE, "no: %s", m);
		rpc_call_error(call, &err, json_object_get(call->params));
		return;
	case 'n':
		(void) rpc_peer_notify(s->peer, "note", json_object_new_int((int) len));
		break;
	default:
		break;
	}
	size_t n = (m[0] == 'r' ? len : 1) * 4;
	char *big = malloc(n + 1);
	peer_assert(big, "out of memory");
	memset(big, 'v', n);
	big[n] = '\0';
	rpc_call_result(call, json_object_new_string(big));
	free(big);
	(void) w;
}

static struct peer_world *peer_w;   /* the handlers' world (one run at a time) */

static void peer_handle(void *userdata, struct rpc_peer *peer, struct rpc_call *call)
{
	struct peer_side *s = userdata;
	s->handled++;
	peer_answer(peer_w, s, call);
}

static void peer_closed(void *userdata, struct rpc_peer *peer, int error)
{
	struct peer_side *s = userdata;
	(void) peer;
	(void) error;
	s->closed = true;
	/* A closed peer's parked calls still complete (replies are dropped). */
	for (size_t i = 0; i < s->n_parked; i++)
		rpc_call_result(s->parked[i], NULL);
	s->n_parked = 0;
}

static const struct rpc_peer_ops peer_ops = { .handle = peer_handle, .closed = peer_closed };

static void peer_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct peer_call *c = userdata;
	c->replies++;
	peer_assert(c->replies == 1, "a call answered %u times", c->replies);
	if (!err && json_object_is_type(result, json_type_string) && c->max_result)
		peer_assert((size_t) json_object_get_string_len(result) <= c->max_result,
			    "a result of %d bytes passed the callee's reply limit of %zu",
			    json_object_get_string_len(result), c->max_result);
	if (err)
		peer_assert(err->code != 0, "an error without a code");
}

static int peer_cli_line(void *userdata, enum rpc_frame_status status, struct json_object *msg, const char *why)
{
	(void) userdata;
	peer_assert(status == RPC_FRAME_OK, "the client read a line that is not JSON: %s", why);
	json_object_put(msg);
	return 0;
}

static void peer_cli_read(struct peer_world *w)
{
	char buf[65536];
	ssize_t n;
	while ((n = recv(w->cli, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		peer_assert(rpc_framer_feed(w->cli_framer, buf, (size_t) n, peer_cli_line, NULL) == 0, "framer");
}

static void peer_check_limits(struct peer_side *s, const struct rpc_peer_limits *l)
{
	struct rpc_peer_state st;
	if (!s->peer || s->closed)
		return;
	rpc_peer_get_state(s->peer, &st);
	peer_assert(!l->max_calls || st.calls <= l->max_calls + RPC_MAX_BATCH, "%s: %u calls in flight",
		    s->name, st.calls);
	peer_assert(st.queued <= l->max_output, "%s: %zu bytes queued", s->name, st.queued);
	peer_assert(st.held <= (64u << 10), "%s: %zu bytes held", s->name, st.held);
}

static void peer_turn(struct peer_world *w, int rounds)
{
	for (int i = 0; i < rounds; i++)
		event_base_loop(w->base, EVLOOP_NONBLOCK);
	if (w->cli_reads)
		peer_cli_read(w);
}

/* Lines all peers have read so far. */
static uint64_t peer_lines(struct peer_world *w)
{
	struct peer_side *sides[] = { &w->sup, &w->wrk, &w->srv };
	uint64_t lines = 0;
	for (size_t k = 0; k < 3; k++) {
		struct rpc_peer_state st;
		if (!sides[k]->peer)
			continue;
		rpc_peer_get_state(sides[k]->peer, &st);
		lines += st.lines_in;
	}
	return lines;
}

/* Nothing left to happen: every open peer reads, holds no input, has no
 * output queued, nothing unread in its socket and nothing parked; the
 * client has nothing unread. */
static bool peer_quiet(struct peer_world *w)
{
	struct peer_side *sides[] = { &w->sup, &w->wrk, &w->srv };
	char c;
	for (size_t k = 0; k < 3; k++) {
		struct rpc_peer_state st;
		if (sides[k]->n_parked)
			return false;
		if (!sides[k]->peer || !rpc_peer_is_open(sides[k]->peer))
			continue;
		rpc_peer_get_state(sides[k]->peer, &st);
		if (st.held || st.queued || !st.reading ||
		    recv(rpc_peer_fd(sides[k]->peer), &c, 1, MSG_DONTWAIT | MSG_PEEK) > 0)
			return false;
	}
	return recv(w->cli, &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0;
}

static void peer_call_on(struct peer_world *w, struct peer_side *from, struct peer_side *to, size_t to_max_reply,
			 uint8_t arg)
{
	static const char *const methods[] = { "r", "rr", "rrrrrrrr", "e", "n", "p", "x" };
	char method[160];
	const char *base = methods[arg % (sizeof(methods) / sizeof(methods[0]))];
	size_t reps = base[0] == 'r' ? (size_t) (arg >> 3) * 5 + 1 : 1;   /* results up to 640 bytes */

	if (w->n_calls >= PEER_CALLS || from->closed)
		return;
	snprintf(method, sizeof(method), "%s", base);
	for (size_t i = strlen(method); base[0] == 'r' && i < reps && i + 1 < sizeof(method); i++)
		method[i] = 'r', method[i + 1] = '\0';
	struct peer_call *c = &w->calls[w->n_calls++];
	c->max_result = to_max_reply;
	if (rpc_peer_call(from->peer, method, json_object_new_object(), peer_reply, c) < 0)
		c->replies = 1;   /* refused now: no callback will come */
	(void) to;
}

static void peer_complete_parked(struct peer_side *s, uint8_t arg)
{
	while (s->n_parked > 0 && arg-- > 0) {
		/* From either end: completion order is free. */
		size_t i = (arg & 1) ? 0 : s->n_parked - 1;
		struct rpc_call *call = s->parked[i];
		memmove(&s->parked[i], &s->parked[i + 1], (s->n_parked - i - 1) * sizeof(s->parked[0]));
		s->n_parked--;
		rpc_call_result(call, json_object_new_int(i));
	}
}

static void peer_side_close(struct peer_side *s)
{
	if (!s->peer)
		return;
	rpc_peer_close(s->peer, 0);
	rpc_peer_unref(s->peer);
	s->peer = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer_world w = { .sup.name = "sup", .wrk.name = "wrk", .srv.name = "srv", .cli = -1 };
	struct rpc_peer_limits ls, lw, lc;
	int ch[2], cs[2];

	log_set_level(LOG_LVL_ERR);
	peer_w = &w;
	w.base = event_base_new();
	w.cli_framer = rpc_framer_new(PEER_MSG * 4, RPC_MAX_DEPTH + 2);
	peer_assert(w.base && w.cli_framer, "out of memory");
	peer_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch) == 0, "socketpair");
	peer_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) == 0, "socketpair");
	peer_assert(rpc_peer_new(w.base, ch[0], &peer_ops, &w.sup, &w.sup.peer) == 0, "peer");
	peer_assert(rpc_peer_new(w.base, ch[1], &peer_ops, &w.wrk, &w.wrk.peer) == 0, "peer");
	peer_assert(rpc_peer_new(w.base, cs[0], &peer_ops, &w.srv, &w.srv.peer) == 0, "peer");
	w.cli = cs[1];

	/* The channel's limits and a client's, shrunk. */
	rpc_peer_channel_limits(&ls, false);
	rpc_peer_channel_limits(&lw, true);
	ls.max_message = lw.max_message = PEER_MSG;
	lw.max_reply = PEER_MSG;
	lw.pause_output = 1024;
	lw.max_output = 2 * PEER_MSG + 1024;
	rpc_peer_limits_init(&lc);
	lc.max_message = PEER_MSG;
	lc.max_calls = 4;
	lc.max_inflight = 2048;
	lc.pause_output = 512;
	lc.max_output = 4096;
	lc.max_reply = lc.max_output - lc.pause_output;
	peer_assert(rpc_peer_set_limits(w.sup.peer, &ls) == 0 && rpc_peer_set_limits(w.wrk.peer, &lw) == 0 &&
		    rpc_peer_set_limits(w.srv.peer, &lc) == 0, "limits");
	int small = 4096;
	(void) setsockopt(cs[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));

	for (size_t i = 0; i + 2 <= size; ) {
		uint8_t op = data[i], arg = data[i + 1];
		i += 2;
		w.ops++;
		switch (op % 8) {
		case 0:
			peer_call_on(&w, &w.sup, &w.wrk, PEER_MSG, arg);
			break;
		case 1:
			peer_call_on(&w, &w.wrk, &w.sup, 0, arg);
			break;
		case 2:
			peer_complete_parked(op & 8 ? &w.sup : &w.wrk, arg);
			break;
		case 3:
			peer_complete_parked(&w.srv, arg);
			break;
		case 4: {   /* raw bytes from the client: arg of them */
			size_t n = arg < size - i ? arg : size - i;
			if (n && send(w.cli, data + i, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				n = 0;   /* full: the client waits, as back-pressure wants */
			i += n;
			break;
		}
		case 5:
			w.cli_reads = arg & 1;
			break;
		case 6:
			if (!w.sup.closed && arg == 0xff)
				peer_side_close(&w.sup);   /* a worker's supervisor goes away mid-call */
			break;
		default:
			peer_turn(&w, 1 + arg % 8);
			break;
		}
		peer_check_limits(&w.sup, &ls);
		peer_check_limits(&w.wrk, &lw);
		peer_check_limits(&w.srv, &lc);
	}

	/* Settle: read everything and finish what is parked until nothing is
	 * left anywhere (no peer holds input, has output queued or is paused,
	 * nothing parked, the client has read all); a drain takes a few turns
	 * (flush, wake, read). Then further turns must change nothing. */
	w.cli_reads = true;
	uint64_t lines = peer_lines(&w), before;
	int round;
	for (round = 0; round < 256 && !peer_quiet(&w); round++) {
		peer_complete_parked(&w.sup, 255);
		peer_complete_parked(&w.wrk, 255);
		peer_complete_parked(&w.srv, 255);
		peer_turn(&w, 1);
	}
	peer_assert(peer_quiet(&w), "nothing drains: a peer stays paused or keeps output after %d turns", round);
	lines = peer_lines(&w);
	/* Each op makes at most a few lines (a call, its notification, its
	 * answer, a refusal); raw input at most one per byte it carried. */
	peer_assert(lines <= 8 * w.ops + size + 16, "%llu lines for %llu ops: something answers answers",
		    (unsigned long long) lines, (unsigned long long) w.ops);
	before = lines;
	peer_turn(&w, 4);
	lines = peer_lines(&w);
	peer_assert(lines == before, "still talking after everything was answered: %llu more lines",
		    (unsigned long long) (lines - before));

	peer_side_close(&w.sup);
	peer_side_close(&w.wrk);
	peer_side_close(&w.srv);
	for (unsigned k = 0; k < w.n_calls; k++)
		peer_assert(w.calls[k].replies == 1, "call %u answered %u times", k, w.calls[k].replies);
	close(w.cli);
	rpc_framer_free(w.cli_framer);
	event_base_free(w.base);
	peer_w = NULL;
	return 0;
}
