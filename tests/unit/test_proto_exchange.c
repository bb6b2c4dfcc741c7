/* SPDX-License-Identifier: MIT */
/*
 * proto/exchange.c: batches, notifications, ordering, late completion; and,
 * through framer + exchange as vmmd wires them, the malformed-input corpus
 * in $TEST_CORPUS_DIR/proto (default tests/corpus/proto, run from the repo
 * root), whose expected replies are listed in its EXPECTED file.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/exchange.h"
#include "proto/framer.h"

#define MAX_SENT  16
#define MAX_CALLS 256

struct harness {
	bool async;                          /* handlers park calls in `parked` */
	size_t max_reply;                    /* rpc_exchange_start's; 0: none */
	struct rpc_call *parked[MAX_CALLS];
	size_t n_parked;
	char handled[1024];                  /* methods handled, in order, ' '-separated */
	struct json_object *sent[MAX_SENT];
	size_t n_sent;
	int released;
	int events;                          /* send/release order check */
	int sent_at, released_at;
};

static void complete(struct rpc_call *call)
{
	struct rpc_error err;

	if (strcmp(call->method, "echo") == 0)
		rpc_call_result(call, json_object_get(call->params));
	else if (strcmp(call->method, "fail") == 0) {
		struct json_object *data = json_object_new_object();

		json_object_object_add(data, "vm", json_object_new_string("demo"));
		rpc_error_set(&err, RPC_INVALID_STATE, "VM 'demo' is not running");
		rpc_call_error(call, &err, data);
	} else {
		rpc_error_set(&err, RPC_METHOD_NOT_FOUND, "no method '%s'", call->method);
		rpc_call_error(call, &err, NULL);
	}
}

static void h_handle(void *userdata, struct rpc_call *call)
{
	struct harness *h = userdata;

	if (strlen(h->handled) + strlen(call->method) + 2 < sizeof(h->handled)) {
		if (h->handled[0])
			strcat(h->handled, " ");
		strcat(h->handled, call->method);
	}
	if (h->async) {
		assert_true(h->n_parked < MAX_CALLS);
		h->parked[h->n_parked++] = call;
	} else
		complete(call);
}

static void h_send_json(struct harness *h, struct json_object *response)
{
	assert_non_null(response);
	assert_true(h->n_sent < MAX_SENT);
	h->sent[h->n_sent++] = response;
	h->sent_at = ++h->events;
}

/* The exchange's send: one line, parsed back for the checks. */
static void h_send(void *userdata, char *line, size_t len)
{
	struct harness *h = userdata;

	assert_true(len > 0 && line[len - 1] == '\n' && line[len] == '\0');
	assert_null(memchr(line, '\n', len - 1));
	h_send_json(h, json_tokener_parse(line));
	free(line);
}

static void h_release(void *userdata)
{
	struct harness *h = userdata;

	h->released++;
	h->released_at = ++h->events;
}

static const struct rpc_exchange_ops h_ops = {
	.handle = h_handle,
	.send = h_send,
	.release = h_release,
};

static void harness_reset(struct harness *h)
{
	for (size_t i = 0; i < h->n_sent; i++)
		json_object_put(h->sent[i]);
	*h = (struct harness) { .async = h->async, .max_reply = h->max_reply };
}

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

static void start(struct harness *h, const char *json)
{
	assert_int_equal(rpc_exchange_start(parse(json), &h_ops, h, h->max_reply), 0);
}

/* One reply entry as "ok" or its error code; checks the envelope on the way. */
static void describe_entry(struct json_object *r, char *buf, size_t size)
{
	struct json_object *v, *e, *data, *cls;

	assert_true(json_object_is_type(r, json_type_object));
	assert_true(json_object_object_get_ex(r, "jsonrpc", &v));
	assert_string_equal(json_object_get_string(v), "2.0");
	assert_true(json_object_object_get_ex(r, "id", NULL));
	if (json_object_object_get_ex(r, "result", NULL)) {
		assert_false(json_object_object_get_ex(r, "error", NULL));
		(void) snprintf(buf, size, "ok");
		return;
	}
	assert_true(json_object_object_get_ex(r, "error", &e));
	assert_true(json_object_object_get_ex(e, "code", &v));
	assert_true(json_object_object_get_ex(e, "data", &data));
	assert_true(json_object_object_get_ex(data, "class", &cls));
	assert_string_equal(json_object_get_string(cls), rpc_code_class(json_object_get_int(v)));
	(void) snprintf(buf, size, "%d", json_object_get_int(v));
}

/* All replies sent, as "ok", "-32600", "[ok,-32601]", ' '-separated; "none" if none. */
static void describe_sent(const struct harness *h, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < h->n_sent; i++) {
		struct json_object *r = h->sent[i];
		char entry[32];

		if (i > 0)
			len += (size_t) snprintf(buf + len, size - len, " ");
		if (json_object_is_type(r, json_type_array)) {
			len += (size_t) snprintf(buf + len, size - len, "[");
			for (size_t j = 0; j < json_object_array_length(r); j++) {
				describe_entry(json_object_array_get_idx(r, j), entry, sizeof(entry));
				len += (size_t) snprintf(buf + len, size - len, "%s%s", j ? "," : "", entry);
			}
			len += (size_t) snprintf(buf + len, size - len, "]");
		} else {
			describe_entry(r, entry, sizeof(entry));
			len += (size_t) snprintf(buf + len, size - len, "%s", entry);
		}
		assert_true(len < size);
	}
	if (h->n_sent == 0)
		(void) snprintf(buf, size, "none");
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void test_single_sync(void **state)
{
	struct harness h = { 0 };
	char d[256];

	start(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"x\":1},\"id\":\"q\"}");
	assert_int_equal(h.n_sent, 1);
	assert_int_equal(h.released, 1);
	assert_true(h.sent_at < h.released_at);
	describe_sent(&h, d, sizeof(d));
	assert_string_equal(d, "ok");
	assert_string_equal(json_object_get_string(member(h.sent[0], "id")), "q");
	assert_int_equal(json_object_get_int(member(member(h.sent[0], "result"), "x")), 1);
	harness_reset(&h);
}

static void test_single_async(void **state)
{
	struct harness h = { .async = true };

	start(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":5}");
	assert_int_equal(h.n_parked, 1);
	assert_int_equal(h.n_sent, 0);
	assert_int_equal(h.released, 0);
	assert_int_equal(json_object_get_int(h.parked[0]->id), 5);
	assert_null(h.parked[0]->params);

	complete(h.parked[0]);
	assert_int_equal(h.n_sent, 1);
	assert_int_equal(h.released, 1);
	{
		struct json_object *e = member(h.sent[0], "error"), *data = member(e, "data");

		assert_int_equal(json_object_get_int(member(e, "code")), RPC_INVALID_STATE);
		assert_string_equal(json_object_get_string(member(data, "class")), "InvalidState");
		assert_string_equal(json_object_get_string(member(data, "vm")), "demo");
		assert_int_equal(json_object_get_int(member(h.sent[0], "id")), 5);
	}
	harness_reset(&h);
}

static void test_notification(void **state)
{
	struct harness h = { 0 };

	start(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{}}");
	assert_string_equal(h.handled, "echo");
	assert_int_equal(h.n_sent, 0);
	assert_int_equal(h.released, 1);
	harness_reset(&h);

	/* Even a failing notification leaves no reply. */
	start(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}");
	assert_int_equal(h.n_sent, 0);
	assert_int_equal(h.released, 1);
	harness_reset(&h);
}

static void test_null_id_is_a_request(void **state)
{
	struct harness h = { 0 };

	start(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":null}");
	assert_int_equal(h.n_sent, 1);
	assert_null(member(h.sent[0], "id"));
	assert_null(member(h.sent[0], "result"));
	harness_reset(&h);
}

static void test_batch_mixed(void **state)
{
	struct harness h = { 0 };
	char d[256];

	start(&h, "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"n\":1},\"id\":1},"
		  " {\"jsonrpc\":\"2.0\",\"method\":\"echo\"},"
		  " 1,"
		  " {\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":\"b\"},"
		  " {\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1],\"id\":3},"
		  " {\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1]},"
		  " {\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":4,\"x\":0},"
		  " {\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":5}]");
	/* Only the valid ones reach the handler, in order. */
	assert_string_equal(h.handled, "echo echo nope fail");
	assert_int_equal(h.n_sent, 1);
	assert_int_equal(h.released, 1);
	describe_sent(&h, d, sizeof(d));
	assert_string_equal(d, "[ok,-32600,-32601,-32602,-32600,-32001]");
	{
		struct json_object *a = h.sent[0];

		assert_int_equal(json_object_get_int(member(json_object_array_get_idx(a, 0), "id")), 1);
		assert_null(member(json_object_array_get_idx(a, 1), "id"));
		assert_string_equal(json_object_get_string(member(json_object_array_get_idx(a, 2), "id")), "b");
		assert_int_equal(json_object_get_int(member(json_object_array_get_idx(a, 3), "id")), 3);
		assert_int_equal(json_object_get_int(member(json_object_array_get_idx(a, 4), "id")), 4);
		assert_int_equal(json_object_get_int(member(json_object_array_get_idx(a, 5), "id")), 5);
	}
	harness_reset(&h);
}

/* Completed last-first, from "the event loop": the reply keeps request order. */
static void test_batch_async_reverse(void **state)
{
	struct harness h = { .async = true };
	char d[256];

	start(&h, "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"n\":0},\"id\":0},"
		  " {\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":1},"
		  " {\"jsonrpc\":\"2.0\",\"method\":\"echo\"},"
		  " {\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"n\":3},\"id\":3}]");
	assert_int_equal(h.n_parked, 4);
	for (size_t i = h.n_parked; i-- > 1;) {
		complete(h.parked[i]);
		assert_int_equal(h.n_sent, 0);
		assert_int_equal(h.released, 0);
	}
	complete(h.parked[0]);
	assert_int_equal(h.n_sent, 1);
	assert_int_equal(h.released, 1);
	assert_true(h.sent_at < h.released_at);
	describe_sent(&h, d, sizeof(d));
	assert_string_equal(d, "[ok,-32601,ok]");
	for (int i = 0; i < 3; i++) {
		struct json_object *r = json_object_array_get_idx(h.sent[0], (size_t) i);

		assert_int_equal(json_object_get_int(member(r, "id")), i == 2 ? 3 : i);
	}
	harness_reset(&h);
}

static void test_complete_twice_ignored(void **state)
{
	struct harness h = { .async = true };
	struct rpc_error err;
	char d[64];

	start(&h, "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1},"
		  " {\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":2}]");
	rpc_call_result(h.parked[0], json_object_new_int(1));
	/* A buggy second completion must not count for the other call. */
	rpc_error_set(&err, RPC_INTERNAL_ERROR, "again");
	rpc_call_error(h.parked[0], &err, json_object_new_object());
	rpc_call_result(h.parked[0], json_object_new_int(2));
	assert_int_equal(h.n_sent, 0);
	rpc_call_result(h.parked[1], NULL);
	describe_sent(&h, d, sizeof(d));
	assert_string_equal(d, "[ok,ok]");
	assert_int_equal(json_object_get_int(member(json_object_array_get_idx(h.sent[0], 0), "result")), 1);
	harness_reset(&h);
}

static void test_batch_all_notifications(void **state)
{
	struct harness h = { .async = true };

	start(&h, "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\"},{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}]");
	assert_int_equal(h.n_parked, 2);
	complete(h.parked[1]);
	complete(h.parked[0]);
	assert_int_equal(h.n_sent, 0);
	assert_int_equal(h.released, 1);
	harness_reset(&h);
}

static void test_refused_whole(void **state)
{
	static const struct { const char *json; const char *want; } cases[] = {
		{ "[]", "-32600" },
		{ "42", "-32600" },
		{ "\"vm.list\"", "-32600" },
		{ "true", "-32600" },
		{ "[1]", "[-32600]" },
		{ "[[]]", "[-32600]" },
	};
	struct harness h = { 0 };
	char d[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(&h, cases[i].json);
		describe_sent(&h, d, sizeof(d));
		assert_string_equal(d, cases[i].want);
		assert_int_equal(h.released, 1);
		assert_string_equal(h.handled, "");
		harness_reset(&h);
	}

	/* The JSON text null is a message too. */
	assert_int_equal(rpc_exchange_start(NULL, &h_ops, &h, 0), 0);
	describe_sent(&h, d, sizeof(d));
	assert_string_equal(d, "-32600");
	assert_null(member(h.sent[0], "id"));
	harness_reset(&h);
}

static char *batch_of(size_t n, const char *elem)
{
	size_t le = strlen(elem);
	char *s = malloc(n * (le + 1) + 3), *p = s;

	assert_non_null(s);
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, elem, le);
		p += le;
	}
	*p++ = ']';
	*p = '\0';
	return s;
}

static void test_batch_limit(void **state)
{
	struct harness h = { 0 };
	char *s;
	struct json_object *e;

	s = batch_of(RPC_MAX_BATCH, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":7}");
	start(&h, s);
	free(s);
	assert_int_equal(h.n_sent, 1);
	assert_true(json_object_is_type(h.sent[0], json_type_array));
	assert_int_equal(json_object_array_length(h.sent[0]), RPC_MAX_BATCH);
	harness_reset(&h);

	s = batch_of(RPC_MAX_BATCH + 1, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":7}");
	start(&h, s);
	free(s);
	assert_string_equal(h.handled, "");
	assert_int_equal(h.n_sent, 1);
	assert_true(json_object_is_type(h.sent[0], json_type_object));
	e = member(h.sent[0], "error");
	assert_int_equal(json_object_get_int(member(e, "code")), RPC_RESOURCE_LIMIT);
	assert_string_equal(json_object_get_string(member(member(e, "data"), "class")), "ResourceLimit");
	assert_null(member(h.sent[0], "id"));
	assert_int_equal(h.released, 1);
	harness_reset(&h);
}

/* rpc_json_size is what rpc_serialize_line writes, or a little more. */
static void test_json_size(void **state)
{
	static const char *const docs[] = {
		"null", "true", "false", "0", "9", "10", "-1", "-10", "-12", "99", "100", "4273991680",
		"9223372036854775807", "18446744073709551615", "-9223372036854775808",
		"1.5", "1e300", "0.1000000000000000055511151231257827", "\"\"",
		"\"a\\\"b\\\\c\\n\\u0001\\u00e9/\"", "[]", "{}", "[1,[2,[3]],{\"k\":null}]",
		"{\"jsonrpc\":\"2.0\",\"result\":{\"a\":[1,2,3],\"b\":\"x\"},\"id\":\"q\"}",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct json_object *o = json_tokener_parse(docs[i]);
		size_t len, bound = rpc_json_size(o, SIZE_MAX);
		char *line = rpc_serialize_line(o, &len);

		assert_non_null(line);
		/* Over by at most: one comma per object, six per escaped '/'. */
		size_t slack = 8;

		if (bound < len - 1 || bound > len - 1 + slack)
			print_message("%s: bound %zu, serialized %zu: %s", docs[i], bound, len - 1, line);
		assert_true(bound >= len - 1);
		assert_true(bound <= len - 1 + slack);
		/* Stops early, above the limit. */
		if (len > 4)
			assert_true(rpc_json_size(o, 2) > 2);
		free(line);
		json_object_put(o);
	}
}

/*
 * Issue 14, findings 2 and 16: a reply is judged before it is built. A
 * single result over max_reply becomes the call's ResourceLimit error; a
 * batch keeps the results that fit and refuses the rest, never building
 * more than max_reply.
 */
static void test_reply_limit(void **state)
{
	struct harness h = { .max_reply = 300 };
	char big[512], d[256], *s;
	struct json_object *e;

	snprintf(big, sizeof(big), "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"s\":\"%0300d\"},"
		 "\"id\":1}", 0);
	start(&h, big);
	describe_sent(&h, d, sizeof(d));
	assert_string_equal(d, "-32004");
	e = member(h.sent[0], "error");
	assert_string_equal(json_object_get_string(member(member(e, "data"), "limit")), "reply_size");
	assert_int_equal(json_object_get_int(member(member(e, "data"), "max")), 300);
	assert_int_equal(json_object_get_int(member(h.sent[0], "id")), 1);
	harness_reset(&h);

	/* Small ones fit; errors always go in. */
	start(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"s\":1},\"id\":2}");
	describe_sent(&h, d, sizeof(d));
	assert_string_equal(d, "ok");
	harness_reset(&h);

	/* A batch of 20 results of ~55 bytes: five fit in 300. */
	s = batch_of(20, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"s\":\"0123456789\"},\"id\":7}");
	h.async = true;
	start(&h, s);
	free(s);
	for (size_t i = h.n_parked; i-- > 0; )
		complete(h.parked[i]);   /* last first: what fits is decided as calls complete */
	describe_sent(&h, d, sizeof(d));
	assert_string_equal(d, "[-32004,-32004,-32004,-32004,-32004,-32004,-32004,-32004,-32004,-32004,"
			       "-32004,-32004,-32004,-32004,-32004,ok,ok,ok,ok,ok]");
	h.async = false;
	harness_reset(&h);
}

static void test_bad_ops(void **state)
{
	static const struct rpc_exchange_ops no_send = { .handle = h_handle };

	assert_int_equal(rpc_exchange_start(parse("{}"), &no_send, NULL, 0), -EINVAL);
	assert_int_equal(rpc_exchange_start(parse("{}"), NULL, NULL, 0), -EINVAL);
}

/* --- framer + exchange, as the server wires them ------------------------ */

static int on_frame(void *userdata, enum rpc_frame_status status, struct json_object *msg,
		    const char *why)
{
	struct harness *h = userdata;
	struct rpc_error err;

	if (status != RPC_FRAME_OK) {
		rpc_framer_error(status, why, &err);
		h_send_json(h, rpc_response_error(NULL, &err, NULL));
		return 0;
	}
	return rpc_exchange_start(msg, &h_ops, h, h->max_reply);
}

static const char after_line[] =
	"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"after\":true},\"id\":\"after\"}\n";

/* Feeds the line that follows every bad input; it must get its own answer. */
static void expect_recovery(struct rpc_framer *f, struct harness *h)
{
	struct json_object *r;

	assert_int_equal(rpc_framer_feed(f, after_line, sizeof(after_line) - 1, on_frame, h), 0);
	assert_int_equal(h->n_sent, 1);
	r = h->sent[0];
	assert_string_equal(json_object_get_string(member(r, "id")), "after");
	assert_true(json_object_get_boolean(member(member(r, "result"), "after")));
	assert_int_equal(rpc_framer_pending(f), 0);
}

static void test_too_large_then_next(void **state)
{
	struct rpc_framer *f = rpc_framer_new(RPC_MAX_MESSAGE, RPC_MAX_DEPTH);
	static const char prefix[] = "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"s\":\"";
	struct harness h = { 0 };
	char d[64], *big;
	size_t n = (2u << 20) + 1;

	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, prefix, strlen(prefix));
	big[n - 1] = '\n';
	assert_int_equal(rpc_framer_feed(f, big, n, on_frame, &h), 0);
	free(big);
	describe_sent(&h, d, sizeof(d));
	assert_string_equal(d, "-32004");
	harness_reset(&h);
	expect_recovery(f, &h);
	harness_reset(&h);
	rpc_framer_free(f);
}

static char *corpus_dir(void)
{
	const char *base = getenv("TEST_CORPUS_DIR");
	char *dir;

	assert_true(asprintf(&dir, "%s/proto", base && base[0] ? base : "tests/corpus") > 0);
	return dir;
}

static char *read_file(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (!fp)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t) n + 2);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t) n, fp), (size_t) n);
	fclose(fp);
	/* A file cut short (truncated.jsonl) still ends its line, or the
	 * recovery line would be glued to it. */
	if (n == 0 || buf[n - 1] != '\n')
		buf[n++] = '\n';
	*ret_len = (size_t) n;
	return buf;
}

static void run_case(const char *dir, const char *name, const char *want, bool bytewise)
{
	struct rpc_framer *f = rpc_framer_new(RPC_MAX_MESSAGE, RPC_MAX_DEPTH);
	struct harness h = { 0 };
	char *path, *buf, got[512];
	size_t len;

	assert_non_null(f);
	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	buf = read_file(path, &len);
	if (bytewise)
		for (size_t i = 0; i < len; i++)
			assert_int_equal(rpc_framer_feed(f, buf + i, 1, on_frame, &h), 0);
	else
		assert_int_equal(rpc_framer_feed(f, buf, len, on_frame, &h), 0);
	describe_sent(&h, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("%s (%s): got '%s', want '%s'", name, bytewise ? "byte at a time" : "whole",
			 got, want);
	harness_reset(&h);
	expect_recovery(f, &h);
	harness_reset(&h);
	rpc_framer_free(f);
	free(buf);
	free(path);
}

static bool listed(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static void test_corpus(void **state)
{
	char *dir = corpus_dir(), *manifest, line[512], *names[512];
	size_t n = 0;
	struct dirent *de;
	FILE *fp;
	DIR *d;

	assert_true(asprintf(&manifest, "%s/EXPECTED", dir) > 0);
	fp = fopen(manifest, "r");
	if (!fp)
		fail_msg("cannot open %s (set TEST_CORPUS_DIR or run from the repo root): %s",
			 manifest, strerror(errno));
	while (fgets(line, sizeof(line), fp)) {
		char name[256], want[256];

		if (line[0] == '#' || line[0] == '\n')
			continue;
		/* "<file> <replies...>": the rest of the line is the expectation. */
		if (sscanf(line, "%255s %255[^\n]", name, want) != 2)
			fail_msg("bad line in %s: %s", manifest, line);
		assert_true(n < 512);
		names[n++] = strdup(name);
		run_case(dir, name, want, false);
		run_case(dir, name, want, true);
	}
	fclose(fp);
	assert_true(n >= 30);

	/* A case without an expectation would silently test nothing. */
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "EXPECTED") != 0 &&
		    !listed(names, n, de->d_name))
			fail_msg("%s/%s is not listed in EXPECTED", dir, de->d_name);
	closedir(d);

	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(manifest);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_sync),
		cmocka_unit_test(test_single_async),
		cmocka_unit_test(test_notification),
		cmocka_unit_test(test_null_id_is_a_request),
		cmocka_unit_test(test_batch_mixed),
		cmocka_unit_test(test_batch_async_reverse),
		cmocka_unit_test(test_complete_twice_ignored),
		cmocka_unit_test(test_batch_all_notifications),
		cmocka_unit_test(test_refused_whole),
		cmocka_unit_test(test_batch_limit),
		cmocka_unit_test(test_json_size),
		cmocka_unit_test(test_reply_limit),
		cmocka_unit_test(test_bad_ops),
		cmocka_unit_test(test_too_large_then_next),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
