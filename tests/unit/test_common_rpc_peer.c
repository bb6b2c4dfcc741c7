/* SPDX-License-Identifier: MIT */
/*
 * vmmd/common/rpc_peer: two peers on one event loop, or one peer and a raw
 * socket playing the other end, for what issue 14 found: peers answering
 * each other's errors for ever (finding 2), a flood that grew the output
 * until the channel was dropped instead of the flooder waiting (finding 1),
 * and output held without bound (finding 16).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmmd/common/log.h"
#include "vmmd/common/rpc_peer.h"
#include "tests/unit/rpc_peer_pair.h"

#define MAX_PARKED 4096

/* One peer's side: what its handler saw and how it answers. */
struct side {
	struct rpc_peer *peer;
	bool park;                       /* keep calls for later */
	struct rpc_call *parked[MAX_PARKED];
	size_t n_parked;
	unsigned handled;
	size_t result_size;              /* answer with a string this long */
	bool closed;
	int close_error;
	int64_t last_id;                 /* of the last call handled (ordering) */
	bool out_of_order;
};

static void side_handle(void *userdata, struct rpc_peer *peer, struct rpc_call *call)
{
	struct side *s = userdata;

	s->handled++;
	if (json_object_is_type(call->id, json_type_int)) {
		int64_t id = json_object_get_int64(call->id);

		s->out_of_order |= id != s->last_id + 1;
		s->last_id = id;
	}
	if (s->park && s->n_parked < MAX_PARKED) {
		s->parked[s->n_parked++] = call;
		return;
	}
	if (s->result_size) {
		char *big = malloc(s->result_size + 1);

		assert_non_null(big);
		memset(big, 'x', s->result_size);
		big[s->result_size] = '\0';
		rpc_call_result(call, json_object_new_string(big));
		free(big);
		return;
	}
	rpc_call_result(call, json_object_new_int(1));
}

static void side_closed(void *userdata, struct rpc_peer *peer, int error)
{
	struct side *s = userdata;

	s->closed = true;
	s->close_error = error;
}

static const struct rpc_peer_ops side_ops = { .handle = side_handle, .closed = side_closed };

struct fixture {
	struct event_base *base;
	int raw;                         /* the other end, when it is a plain socket */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->base = event_base_new();
	f->raw = -1;
	log_set_level(LOG_LVL_ERR);
	*state = f;
	/* Two peers answering each other's errors (finding 2) never leave one
	 * non-blocking turn of the loop: end the test by SIGALRM rather than
	 * hang until run-all's timeout. */
	alarm(30);
	return f->base ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	alarm(0);
	if (f->raw >= 0)
		close(f->raw);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Run the loop until nothing is ready, at most `rounds` times; returns the rounds run. */
static int spin(struct fixture *f, int rounds)
{
	int i;

	for (i = 0; i < rounds; i++)
		if (event_base_loop(f->base, EVLOOP_NONBLOCK) != 0)
			break;
	return i;
}

/* A peer on one end of a socketpair; the other end is returned. */
static int peer_on_pair(struct fixture *f, struct side *s, const struct rpc_peer_limits *l)
{
	int other = peer_on_socketpair(f->base, &side_ops, s, &s->peer);

	if (l)
		assert_int_equal(rpc_peer_set_limits(s->peer, l), 0);
	return other;
}

static void side_free(struct side *s)
{
	for (size_t i = 0; i < s->n_parked; i++)
		rpc_call_result(s->parked[i], NULL);
	s->n_parked = 0;
	peer_drop(&s->peer);
}

/* Everything the raw end can read now, kept in buf (NUL-terminated) as far as it fits. */
static size_t drain(int fd, char *buf, size_t size)
{
	char scratch[65536];
	size_t got = 0;
	ssize_t n;

	while ((n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT)) > 0) {
		if (buf && got < size - 1) {
			size_t k = (size_t) n < size - 1 - got ? (size_t) n : size - 1 - got;

			memcpy(buf + got, scratch, k);
		}
		got += (size_t) n;
	}
	if (buf)
		buf[got < size - 1 ? got : size - 1] = '\0';
	return got;
}

static void send_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		s += n;
		len -= (size_t) n;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* --- finding 2: responses are never answered ------------------------------- */

static void test_response_not_answered(void **state)
{
	struct fixture *f = *state;
	struct side s = { 0 };
	char buf[4096];
	static const char responses[] =
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"parse error\"},\"id\":null}\n"
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"x\"},\"id\":\"q\"}\n"
		"{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":99}\n"
		"{\"jsonrpc\":\"2.0\",\"result\":null}\n"
		"{\"result\":[1],\"error\":{},\"id\":[1]}\n";

	f->raw = peer_on_pair(f, &s, NULL);
	send_all(f->raw, responses, sizeof(responses) - 1);
	spin(f, 20);
	assert_int_equal(drain(f->raw, buf, sizeof(buf)), 0);
	assert_int_equal(s.handled, 0);
	/* A request still gets its answer, and a message that is neither is
	 * still an Invalid Request (JSON-RPC 2.0 section 5 examples). */
	send_str(f->raw, "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1}\n{\"foo\":1}\n");
	spin(f, 20);
	drain(f->raw, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"result\":1"));
	assert_non_null(strstr(buf, "-32600"));
	assert_true(rpc_peer_is_open(s.peer));
	side_free(&s);
}

struct reply {
	bool done;
	int code;
	size_t len;
};

static void on_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct reply *r = userdata;

	r->done = true;
	r->code = err ? err->code : 0;
	r->len = result ? (size_t) json_object_get_string_len(result) : 0;
}

/* Lines both peers have read so far (a loop never stops adding to it). */
static uint64_t lines_in(struct side *a, struct side *b)
{
	struct rpc_peer_state sa, sb;

	rpc_peer_get_state(a->peer, &sa);
	rpc_peer_get_state(b->peer, &sb);
	return sa.lines_in + sb.lines_in;
}

/*
 * The loop: a worker's reply over the supervisor's message limit.
 * The supervisor's framer refused it and answered with an error (id null),
 * which the worker answered, and so on for ever. Now the worker's reply
 * limit turns the result into the call's ResourceLimit error, and neither
 * side answers a response.
 */
static void test_oversized_reply_no_loop(void **state)
{
	struct fixture *f = *state;
	struct side sup = { 0 }, wrk = { .result_size = 8192 };
	struct rpc_peer_limits ls, lw;
	struct reply r = { 0 };
	int sv[2];
	uint64_t before;

	rpc_peer_limits_init(&ls);
	ls.max_message = 4096;
	rpc_peer_limits_init(&lw);
	lw.max_message = 4096;
	lw.max_reply = 4096;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(rpc_peer_new(f->base, sv[0], &side_ops, &sup, &sup.peer), 0);
	assert_int_equal(rpc_peer_new(f->base, sv[1], &side_ops, &wrk, &wrk.peer), 0);
	assert_int_equal(rpc_peer_set_limits(sup.peer, &ls), 0);
	assert_int_equal(rpc_peer_set_limits(wrk.peer, &lw), 0);

	assert_int_equal(rpc_peer_call(sup.peer, "worker.mmu.shadow", NULL, on_reply, &r), 0);
	spin(f, 50);
	assert_true(r.done);
	assert_int_equal(r.code, RPC_RESOURCE_LIMIT);
	/* Quiet afterwards: nobody answers anybody. */
	before = lines_in(&sup, &wrk);
	spin(f, 200);
	assert_int_equal(lines_in(&sup, &wrk), before);
	assert_int_equal(before, 2);   /* the call and its answer */
	assert_int_equal(sup.handled, 0);
	assert_int_equal(wrk.handled, 1);

	/* Even without the worker's limit (an older worker): the supervisor's
	 * framer refuses the line, and the worker drops the error it sends. */
	lw.max_reply = 0;
	assert_int_equal(rpc_peer_set_limits(wrk.peer, &lw), 0);
	r = (struct reply) { 0 };
	assert_int_equal(rpc_peer_call(sup.peer, "worker.mmu.shadow", NULL, on_reply, &r), 0);
	spin(f, 100);
	before = lines_in(&sup, &wrk);
	spin(f, 200);
	assert_int_equal(lines_in(&sup, &wrk), before);
	assert_true(before <= 5);   /* call, refused reply, the refusal: no more */
	assert_int_equal(wrk.handled, 2);
	assert_int_equal(sup.handled, 0);
	side_free(&sup);
	side_free(&wrk);
}

/* --- finding 1: the flooder waits ---------------------------------------------- */

static char *requests(unsigned n, unsigned first_id, size_t *ret_len)
{
	size_t cap = (size_t) n * 64 + 1, len = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	for (unsigned i = 0; i < n; i++)
		len += (size_t) snprintf(s + len, cap - len,
					 "{\"jsonrpc\":\"2.0\",\"method\":\"vcpu.state\",\"id\":%u}\n", first_id + i);
	*ret_len = len;
	return s;
}

static void test_calls_in_flight_pause_reading(void **state)
{
	struct fixture *f = *state;
	struct side s = { .park = true };
	struct rpc_peer_limits l;
	struct rpc_peer_state st;
	size_t len;
	char *flood = requests(2000, 1, &len);

	rpc_peer_limits_init(&l);
	l.max_calls = 8;
	f->raw = peer_on_pair(f, &s, &l);
	send_all(f->raw, flood, len);   /* 2000 x ~48 bytes: fits the socket buffers */
	spin(f, 100);
	/* Eight handled, the rest waits: held from the read, or in the socket. */
	assert_int_equal(s.handled, 8);
	rpc_peer_get_state(s.peer, &st);
	assert_false(st.reading);
	assert_int_equal(st.calls, 8);
	assert_true(st.held > 0);

	/* Answering lets the rest in, in order, eight at a time. */
	for (int round = 0; round < 1000 && s.handled < 2000; round++) {
		for (size_t i = 0; i < s.n_parked; i++)
			rpc_call_result(s.parked[i], NULL);
		s.n_parked = 0;
		spin(f, 5);
		drain(f->raw, NULL, 0);
		rpc_peer_get_state(s.peer, &st);
		assert_true(st.calls <= 8);
	}
	assert_int_equal(s.handled, 2000);
	assert_false(s.out_of_order);
	assert_true(rpc_peer_is_open(s.peer));
	free(flood);
	side_free(&s);
}

/* A client that sends and never reads: reading stops at pause_output, and
 * the output never grows past it by more than one reply. */
static void test_output_pause_reading(void **state)
{
	struct fixture *f = *state;
	struct side s = { .result_size = 1000 };
	struct rpc_peer_limits l;
	struct rpc_peer_state st;
	size_t len;
	char *flood = requests(3000, 1, &len);
	int small = 4096;

	rpc_peer_limits_init(&l);
	l.pause_output = 64 << 10;
	f->raw = peer_on_pair(f, &s, &l);
	assert_int_equal(setsockopt(rpc_peer_fd(s.peer), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	send_all(f->raw, flood, len);
	spin(f, 200);
	rpc_peer_get_state(s.peer, &st);
	assert_false(st.reading);
	assert_true(st.queued >= l.pause_output);
	assert_true(st.queued < l.pause_output + 2048);
	assert_true(s.handled < 3000);
	assert_true(rpc_peer_is_open(s.peer));
	/* Reading the replies lets every request through. */
	for (int round = 0; round < 2000 && s.handled < 3000; round++) {
		drain(f->raw, NULL, 0);
		spin(f, 3);
	}
	assert_int_equal(s.handled, 3000);
	free(flood);
	side_free(&s);
}

/* --- finding 16: output budgets ------------------------------------------------ */

static void test_max_output_drops_later(void **state)
{
	struct fixture *f = *state;
	struct side s = { 0 };
	struct rpc_peer_limits l;
	int small = 4096;
	char big[2048];

	rpc_peer_limits_init(&l);
	l.max_output = 32 << 10;
	f->raw = peer_on_pair(f, &s, &l);
	assert_int_equal(setsockopt(rpc_peer_fd(s.peer), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	int r = 0;
	for (int i = 0; i < 200 && r == 0; i++)
		r = rpc_peer_notify(s.peer, "event", json_object_new_string(big));
	assert_int_equal(r, -ENOBUFS);
	/* Closed from the loop, not under the sender (who may be walking a list). */
	assert_false(s.closed);
	spin(f, 5);
	assert_true(s.closed);
	assert_int_equal(s.close_error, -ENOBUFS);
	side_free(&s);
}

static void test_shared_budget(void **state)
{
	struct fixture *f = *state;
	struct side a = { 0 }, b = { 0 };
	struct rpc_output_budget budget = { .max = 48 << 10 };
	struct rpc_peer_limits l;
	int small = 4096, ra = 0, rb = 0;
	char big[2048];

	rpc_peer_limits_init(&l);
	l.budget = &budget;
	int fa = peer_on_pair(f, &a, &l), fb = peer_on_pair(f, &b, &l);
	assert_int_equal(setsockopt(rpc_peer_fd(a.peer), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(rpc_peer_fd(b.peer), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 100 && ra == 0 && rb == 0; i++) {
		ra = rpc_peer_notify(a.peer, "event", json_object_new_string(big));
		rb = rpc_peer_notify(b.peer, "event", json_object_new_string(big));
	}
	/* Together they passed 48 KiB (each alone would be allowed 8 MiB). */
	assert_true(ra == -ENOBUFS || rb == -ENOBUFS);
	assert_true(budget.used <= budget.max);
	spin(f, 5);
	assert_true(a.closed || b.closed);
	side_free(&a);
	side_free(&b);
	assert_int_equal(budget.used, 0);
	close(fa);
	close(fb);
}

/* --- idle and partial lines: the state the server's timeouts read ---------------- */

static void test_state_in_line(void **state)
{
	struct fixture *f = *state;
	struct side s = { 0 };
	struct rpc_peer_state st;
	char buf[256];

	f->raw = peer_on_pair(f, &s, NULL);
	rpc_peer_get_state(s.peer, &st);
	assert_false(st.in_line);
	assert_true(st.last_input_ms <= rpc_peer_now_ms());
	send_str(f->raw, "{\"jsonrpc\":");
	spin(f, 10);
	rpc_peer_get_state(s.peer, &st);
	assert_true(st.in_line);
	send_str(f->raw, "\"2.0\",\"method\":\"x\",\"id\":1}\n");
	spin(f, 10);
	rpc_peer_get_state(s.peer, &st);
	assert_false(st.in_line);
	assert_int_equal(st.calls, 0);
	drain(f->raw, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"id\":1"));
	side_free(&s);
}

/* --- the other end's last words survive a failed write ---------------------- */

/* What a supervisor's channel saw: the methods the worker sent, in order. */
struct listener {
	char methods[4][32];
	int n;
	bool closed;
	int close_error;
};

static void listener_handle(void *userdata, struct rpc_peer *peer, struct rpc_call *call)
{
	struct listener *l = userdata;

	if (l->n < 4)
		snprintf(l->methods[l->n++], sizeof(l->methods[0]), "%s", call->method);
	rpc_call_result(call, NULL);
}

static void listener_closed(void *userdata, struct rpc_peer *peer, int error)
{
	struct listener *l = userdata;

	l->closed = true;
	l->close_error = error;
}

static const struct rpc_peer_ops listener_ops = { .handle = listener_handle, .closed = listener_closed };

/* A peer whose other end wrote `words` and is gone. */
static struct rpc_peer *peer_after_last_words(struct fixture *f, struct listener *l, const char *words)
{
	struct rpc_peer *p;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(rpc_peer_new(f->base, sv[0], &listener_ops, l, &p), 0);
	spin(f, 5);   /* settled: no read is pending when the words arrive */
	send_str(sv[1], words);
	close(sv[1]);
	return p;
}

/* A worker reports its guest's end and exits; at that moment the
 * supervisor asks it something: the write fails (EPIPE), and the report,
 * already in the socket, must still be handled before the peer closes. */
static void test_last_words_survive_a_failed_write(void **state)
{
	struct fixture *f = *state;
	struct listener l = { 0 };
	struct reply rep = { 0 };
	struct rpc_peer *p = peer_after_last_words(f, &l,
		"{\"jsonrpc\":\"2.0\",\"method\":\"worker.console\",\"params\":{\"offset\":7}}\n"
		"{\"jsonrpc\":\"2.0\",\"method\":\"worker.exit\",\"params\":{\"reason\":\"triple-fault\"}}\n");

	/* Sent before the loop ever read: EPIPE, the call fails at the close. */
	assert_int_equal(rpc_peer_call(p, "worker.info", NULL, on_reply, &rep), 0);
	for (int i = 0; i < 100 && !l.closed; i++)
		spin(f, 1);
	assert_true(l.closed);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.methods[0], "worker.console");
	assert_string_equal(l.methods[1], "worker.exit");
	assert_true(rep.done && rep.code != 0);
	rpc_peer_unref(p);
}

/* The ordinary end: EOF after the last message, nothing lost either. */
static void test_eof_after_the_last_message(void **state)
{
	struct fixture *f = *state;
	struct listener l = { 0 };
	struct rpc_peer *p = peer_after_last_words(f, &l, "{\"jsonrpc\":\"2.0\",\"method\":\"worker.exit\",\"params\":{}}\n");

	for (int i = 0; i < 100 && !l.closed; i++)
		spin(f, 1);
	assert_true(l.closed);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.methods[0], "worker.exit");
	assert_int_equal(l.close_error, 0);
	rpc_peer_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_response_not_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_reply_no_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_calls_in_flight_pause_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_pause_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_output_drops_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_in_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_words_survive_a_failed_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_after_the_last_message, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
