/* SPDX-License-Identifier: MIT */
/*
 * rpc_peer_call_batch: one array out, one array back in any order, each
 * result delivered in request order; a close fails every call; an array
 * of responses nobody asked for is not answered (JSON-RPC 2.0: a response
 * never is; issue 14, finding 2), and the connection goes on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmmd/common/rpc_peer.h"
#include "tests/unit/rpc_peer_pair.h"

struct fixture {
	struct peer_pair pp;            /* the raw end plays the other side */
	int calls;
	size_t n;
	char got[4][64];              /* per slot: the result or "error CODE" */
};

static void on_closed(void *userdata, struct rpc_peer *peer, int error) {}
static const struct rpc_peer_ops ops = { .closed = on_closed };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	peer_pair_open(&f->pp, &ops, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	peer_pair_close(&f->pp);
	free(f);
	return 0;
}

static void on_batch(void *userdata, size_t n, struct json_object *const *results, const struct rpc_error *errs)
{
	struct fixture *f = userdata;
	f->calls++;
	f->n = n;
	for (size_t i = 0; i < n && i < 4; i++) {
		if (errs[i].code)
			snprintf(f->got[i], sizeof(f->got[i]), "error %d", errs[i].code);
		else
			snprintf(f->got[i], sizeof(f->got[i]), "%s",
				 json_object_to_json_string_ext(results[i], JSON_C_TO_STRING_PLAIN));
	}
}

/* What the peer sent, as one parsed line. */
static struct json_object *read_line(struct fixture *f)
{
	char buf[4096];
	ssize_t n = read(f->pp.other, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strchr(buf, '\n'));
	return json_tokener_parse(buf);
}

static void write_line(struct fixture *f, const char *line)
{
	assert_int_equal(write(f->pp.other, line, strlen(line)), (ssize_t) strlen(line));
}

static void test_batch_in_order(void **state)
{
	struct fixture *f = *state;
	const char *methods[3] = { "vm.list", "stats.get", "stats.get" };
	struct json_object *params[3] = { NULL, json_object_new_object(), json_object_new_object() };
	json_object_object_add(params[1], "name", json_object_new_string("a"));
	json_object_object_add(params[2], "name", json_object_new_string("b"));
	assert_int_equal(rpc_peer_call_batch(f->pp.peer, 3, methods, params, on_batch, f), 0);

	struct json_object *sent = read_line(f);
	assert_true(json_object_is_type(sent, json_type_array));
	assert_int_equal(json_object_array_length(sent), 3);
	int64_t id0 = json_object_get_int64(json_object_object_get(json_object_array_get_idx(sent, 0), "id"));
	assert_string_equal(json_object_get_string(json_object_object_get(json_object_array_get_idx(sent, 2), "method")),
			    "stats.get");
	json_object_put(sent);

	/* Backwards, one error, as vmmd may complete them. */
	char reply[512];
	snprintf(reply, sizeof(reply),
		 "[{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":\"B\"},"
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-32000,\"message\":\"no VM\"}},"
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"vms\":[]}}]\n",
		 (long long) id0 + 2, (long long) id0 + 1, (long long) id0);
	write_line(f, reply);
	event_base_loop(f->pp.base, EVLOOP_ONCE);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->n, 3);
	assert_string_equal(f->got[0], "{\"vms\":[]}");
	assert_string_equal(f->got[1], "error -32000");
	assert_string_equal(f->got[2], "\"B\"");
}

static void test_missing_member_and_close(void **state)
{
	struct fixture *f = *state;
	const char *methods[2] = { "a", "b" };
	struct json_object *params[2] = { NULL, NULL };
	assert_int_equal(rpc_peer_call_batch(f->pp.peer, 2, methods, params, on_batch, f), 0);
	struct json_object *sent = read_line(f);
	int64_t id0 = json_object_get_int64(json_object_object_get(json_object_array_get_idx(sent, 0), "id"));
	json_object_put(sent);
	char reply[256];
	snprintf(reply, sizeof(reply), "[{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":1}]\n", (long long) id0);
	write_line(f, reply);
	event_base_loop(f->pp.base, EVLOOP_ONCE);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->got[0], "1");
	assert_string_equal(f->got[1], "error -32603");

	/* A batch still waiting when the connection ends: every call fails. */
	struct json_object *p2[2] = { NULL, NULL };
	assert_int_equal(rpc_peer_call_batch(f->pp.peer, 2, methods, p2, on_batch, f), 0);
	rpc_peer_close(f->pp.peer, 0);
	assert_int_equal(f->calls, 2);
	assert_string_equal(f->got[0], "error -32603");
	assert_string_equal(f->got[1], "error -32603");
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	const char *methods[1] = { "a" };
	struct json_object *params[1] = { NULL };
	assert_int_equal(rpc_peer_call_batch(f->pp.peer, 0, methods, params, on_batch, f), -EINVAL);
	/* params are taken over even when refused: nothing leaks under ASan. */
	struct json_object *p2[1] = { json_object_new_object() };
	rpc_peer_close(f->pp.peer, 0);
	assert_int_equal(rpc_peer_call_batch(f->pp.peer, 1, methods, p2, on_batch, f), -EPIPE);
	assert_int_equal(f->calls, 0);
}

static void test_unasked_array_is_not_answered(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	write_line(f, "[{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":1},{\"jsonrpc\":\"2.0\",\"id\":null,"
		   "\"error\":{\"code\":-32700,\"message\":\"x\"}}]\n");
	for (int i = 0; i < 5; i++)
		event_base_loop(f->pp.base, EVLOOP_NONBLOCK);
	assert_true(recv(f->pp.other, buf, sizeof(buf), MSG_DONTWAIT) < 0 && errno == EAGAIN);
	/* A request after it is answered: the connection goes on. */
	write_line(f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}]\n");
	event_base_loop(f->pp.base, EVLOOP_ONCE);
	struct json_object *back = read_line(f);
	assert_true(json_object_is_type(back, json_type_array));
	assert_int_equal(json_object_get_int(json_object_object_get(
		json_object_object_get(json_object_array_get_idx(back, 0), "error"), "code")), -32601);
	json_object_put(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_member_and_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unasked_array_is_not_answered, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
