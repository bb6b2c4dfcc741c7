/* SPDX-License-Identifier: MIT */
/* proto/framer.c: line framing, chunking, limits and recovery after errors. */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/framer.h"

/* What the framer reported, one entry per line, as "OK <json>" or "ERR<status>". */
struct events {
	char *ev[64];
	size_t n;
	int stop_at;       /* return -42 from this callback (1-based); 0: never */
};

static int collect(void *userdata, enum rpc_frame_status status, struct json_object *msg,
		   const char *why)
{
	struct events *e = userdata;
	char buf[256];

	assert_true(e->n < 64);
	if (status == RPC_FRAME_OK) {
		assert_null(why);
		(void) snprintf(buf, sizeof(buf), "OK %s",
				msg ? json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN) : "null");
		json_object_put(msg);
	} else {
		assert_null(msg);
		assert_non_null(why);
		assert_true(why[0] != '\0');
		(void) snprintf(buf, sizeof(buf), "ERR%d", (int) status);
	}
	e->ev[e->n++] = strdup(buf);
	if (e->stop_at && (int) e->n == e->stop_at)
		return -42;
	return 0;
}

static void events_clear(struct events *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->ev[i]);
	e->n = 0;
}

static void events_expect(struct events *e, const char *const *want, size_t n_want)
{
	for (size_t i = 0; i < e->n; i++)
		if (i >= n_want || strcmp(e->ev[i], want[i]) != 0)
			print_message("event %zu: %s\n", i, e->ev[i]);
	for (size_t i = 0; i < e->n && i < n_want; i++)
		assert_string_equal(e->ev[i], want[i]);
	assert_int_equal(e->n, n_want);
}

#define ERR_PARSE "ERR1"
#define ERR_LARGE "ERR2"

static struct rpc_framer *new_framer(void)
{
	struct rpc_framer *f = rpc_framer_new(RPC_MAX_MESSAGE, RPC_MAX_DEPTH);

	assert_non_null(f);
	return f;
}

static void feed_all(struct rpc_framer *f, const char *s, size_t len, struct events *e)
{
	assert_int_equal(rpc_framer_feed(f, s, len, collect, e), 0);
}

static void feed_str(struct rpc_framer *f, const char *s, struct events *e)
{
	feed_all(f, s, strlen(s), e);
}

/* The string s in chunks of `step` bytes. */
static void feed_steps(struct rpc_framer *f, const char *s, size_t step, struct events *e)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len; i += step)
		feed_all(f, s + i, len - i < step ? len - i : step, e);
}

/* A mixed stream: every case of the framer at least once. */
static const char stream[] =
	"{\"a\":1}\n"
	"[1,\"x\",{\"b\":[true,false,null]}]\r\n"
	"\n"
	"  \t \r\n"
	"123\n"
	" -4.5e2 \n"
	"true\n"
	"null\n"
	"\"caf\xc3\xa9 \xf0\x9f\x98\x80\"\n"
	"{} x\n"
	"{}{}\n"
	"{\"a\":\n"
	"tru\n"
	"[1,]\n"
	"{\"a\":1}//\n"
	"'s'\n"
	"\"\xc3\"\n"
	"\"\xed\xa0\x80\"\n"
	"\"a\x01\"\n"
	"NaN\n"
	"[1e400]\n"
	"\x0c{}\n"
	"  {\"last\":\"\xe2\x82\xac\"}  \n";

static const char *const stream_events[] = {
	"OK {\"a\":1}",
	"OK [1,\"x\",{\"b\":[true,false,null]}]",
	"OK 123",
	"OK -4.5e2",
	"OK true",
	"OK null",
	"OK \"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
	ERR_PARSE,      /* trailing garbage */
	ERR_PARSE,      /* two values on one line */
	ERR_PARSE,      /* cut short by the newline */
	ERR_PARSE,      /* incomplete literal */
	ERR_PARSE,      /* trailing comma */
	ERR_PARSE,      /* comment */
	ERR_PARSE,      /* single quotes */
	ERR_PARSE,      /* truncated UTF-8 */
	ERR_PARSE,      /* surrogate in UTF-8 */
	ERR_PARSE,      /* raw control character */
	ERR_PARSE,      /* NaN */
	ERR_PARSE,      /* overflows to inf */
	ERR_PARSE,      /* form feed is not JSON whitespace */
	"OK {\"last\":\"\xe2\x82\xac\"}",
};

#define N_STREAM_EVENTS (sizeof(stream_events) / sizeof(stream_events[0]))

static void test_stream_whole(void **state)
{
	struct rpc_framer *f = new_framer();
	struct events e = { 0 };

	feed_all(f, stream, sizeof(stream) - 1, &e);
	events_expect(&e, stream_events, N_STREAM_EVENTS);
	assert_int_equal(rpc_framer_pending(f), 0);
	events_clear(&e);
	rpc_framer_free(f);
}

static void test_stream_byte_at_a_time(void **state)
{
	struct rpc_framer *f = new_framer();
	struct events e = { 0 };

	for (size_t i = 0; i < sizeof(stream) - 1; i++)
		feed_all(f, stream + i, 1, &e);
	events_expect(&e, stream_events, N_STREAM_EVENTS);
	events_clear(&e);
	rpc_framer_free(f);
}

/* Every split point into two chunks gives the same lines. */
static void test_stream_every_split(void **state)
{
	for (size_t cut = 0; cut <= sizeof(stream) - 1; cut++) {
		struct rpc_framer *f = new_framer();
		struct events e = { 0 };

		feed_all(f, stream, cut, &e);
		feed_all(f, stream + cut, sizeof(stream) - 1 - cut, &e);
		events_expect(&e, stream_events, N_STREAM_EVENTS);
		events_clear(&e);
		rpc_framer_free(f);
	}
}

static void test_top_level_number_waits_for_newline(void **state)
{
	struct rpc_framer *f = new_framer();
	struct events e = { 0 };

	/* "12" could go on as "123": nothing may come out before the newline. */
	feed_str(f, "12", &e);
	assert_int_equal(e.n, 0);
	assert_int_equal(rpc_framer_pending(f), 2);
	feed_str(f, "3", &e);
	assert_int_equal(e.n, 0);
	feed_str(f, "\n", &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.ev[0], "OK 123");
	assert_int_equal(rpc_framer_pending(f), 0);
	events_clear(&e);
	rpc_framer_free(f);
}

static void test_error_reported_once_before_newline(void **state)
{
	struct rpc_framer *f = new_framer();
	struct events e = { 0 };

	feed_str(f, "{\"a\":1} garbage", &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.ev[0], ERR_PARSE);
	feed_str(f, " more garbage {{{{", &e);
	assert_int_equal(rpc_framer_pending(f), 0);
	feed_str(f, "\n{\"ok\":true}\n", &e);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.ev[1], "OK {\"ok\":true}");
	events_clear(&e);
	rpc_framer_free(f);
}

static void test_too_large_2mib(void **state)
{
	struct rpc_framer *f = new_framer();
	struct events e = { 0 };
	size_t chunk = 64 * 1024, total = 2u << 20;
	char *buf = malloc(chunk);

	assert_non_null(buf);
	memset(buf, 'a', chunk);
	feed_str(f, "{\"s\":\"", &e);
	for (size_t sent = 0; sent < total; sent += chunk) {
		feed_all(f, buf, chunk, &e);
		/* Nothing beyond the limit is held, even before the newline. */
		assert_true(rpc_framer_pending(f) <= RPC_MAX_MESSAGE);
	}
	assert_int_equal(e.n, 1);
	assert_string_equal(e.ev[0], ERR_LARGE);
	assert_int_equal(rpc_framer_pending(f), 0);
	feed_str(f, "\"}\n{\"jsonrpc\":\"2.0\",\"method\":\"vm.list\",\"id\":1}\n", &e);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.ev[1], "OK {\"jsonrpc\":\"2.0\",\"method\":\"vm.list\",\"id\":1}");
	free(buf);
	events_clear(&e);
	rpc_framer_free(f);
}

static void test_too_large_boundary(void **state)
{
	struct rpc_framer *f = rpc_framer_new(8, RPC_MAX_DEPTH);
	struct events e = { 0 };
	static const char *const want[] = {
		"OK \"123456\"", ERR_LARGE, "OK 12345678", ERR_LARGE, ERR_LARGE, "OK 1",
	};

	assert_non_null(f);
	feed_str(f, "\"123456\"\n", &e);      /* exactly 8 bytes */
	feed_str(f, "\"1234567\"\n", &e);     /* 9 */
	feed_str(f, "12345678\n", &e);
	feed_str(f, "12345678\r\n", &e);      /* the \r counts */
	for (int i = 0; i < 100; i++)         /* reported once, however long */
		feed_str(f, "         ", &e);
	feed_str(f, "\n1\n", &e);
	events_expect(&e, want, 6);
	events_clear(&e);
	rpc_framer_free(f);
}

/* The first fault in a line wins, however the line is chunked: bytes past
 * the limit do not hide a parse error before it (fuzz_proto regression
 * tests/fuzz/regressions/proto/size-limit-vs-parse-error). */
static void test_too_large_after_parse_error(void **state)
{
	static const char *const lines[] = {
		"{\"a\" 1, \"b\": \"xxxxxxxxxxxxxxxx\"}\n",   /* malformed at byte 5 */
		"\"12345\xff\"\n",                              /* bad UTF-8 at byte 7 */
		"{\"a\":1} xxxxxxxxxxxxxxxxxxxxxxx\n",           /* garbage at byte 9 */
		"\"1234567890123456\"\n",                          /* too large, well-formed */
	};
	static const char *const want[] = { ERR_PARSE, ERR_PARSE, ERR_PARSE, ERR_LARGE };

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		for (size_t step = 1; step <= strlen(lines[i]); step++) {
			struct rpc_framer *f = rpc_framer_new(10, RPC_MAX_DEPTH);
			struct events e = { 0 };
			const char *p = lines[i];

			assert_non_null(f);
			for (size_t left = strlen(p); left > 0;) {
				size_t n = left < step ? left : step;
				feed_all(f, p, n, &e);
				p += n;
				left -= n;
			}
			if (e.n != 1 || strcmp(e.ev[0], want[i]) != 0)
				fail_msg("line %zu in chunks of %zu: got %s, want %s", i, step,
					 e.n ? e.ev[0] : "nothing", want[i]);
			events_clear(&e);
			rpc_framer_free(f);
		}
}

/* Numbers follow RFC 8259 at every split: json-c alone takes "[0,2" then
 * "-3]" as [0,2] (fuzz_proto regression number-split-minus), and "1.e5". */
static void test_numbers_every_split(void **state)
{
	static const struct { const char *line, *want; } cases[] = {
		{ "[0,2-3]\n", ERR_PARSE },
		{ "[1.e5]\n", ERR_PARSE },
		{ "[1.]\n", ERR_PARSE },
		{ "1.\n", ERR_PARSE },
		{ "-\n", ERR_PARSE },
		{ "[-]\n", ERR_PARSE },
		{ "[01]\n", ERR_PARSE },
		{ "[-01]\n", ERR_PARSE },
		{ "[1e]\n", ERR_PARSE },
		{ "[1e+]\n", ERR_PARSE },
		{ "[1e5e5]\n", ERR_PARSE },
		{ "[0.5.3]\n", ERR_PARSE },
		{ "[+1]\n", ERR_PARSE },
		{ "[.5]\n", ERR_PARSE },
		{ "[1,-2,3.25e-1,0,-0,1E+2,0.0e00]\n", "OK [1,-2,3.25e-1,0,0,1E+2,0.0e00]" },
		{ "{\"a-1.\":\"0-1e\",\"\\\"1.\":-0.5}\n", "OK {\"a-1.\":\"0-1e\",\"\\\"1.\":-0.5}" },
		{ "12\n", "OK 12" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *line = cases[i].line;
		size_t len = strlen(line);

		for (size_t cut = 0; cut < len; cut++) {
			struct rpc_framer *f = new_framer();
			struct events e = { 0 };

			feed_all(f, line, cut, &e);
			feed_all(f, line + cut, len - cut, &e);
			if (e.n != 1 || strcmp(e.ev[0], cases[i].want) != 0)
				fail_msg("%s cut at %zu: got %s, want %s", line, cut,
					 e.n ? e.ev[0] : "nothing", cases[i].want);
			events_clear(&e);
			rpc_framer_free(f);
		}
	}
}

static char *nested(int depth, const char *open, const char *close, const char *inner)
{
	size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
	char *s = malloc((size_t) depth * (lo + lc) + li + 2), *p = s;

	assert_non_null(s);
	for (int i = 0; i < depth; i++)
		p = memcpy(p, open, lo), p += lo;
	p = memcpy(p, inner, li), p += li;
	for (int i = 0; i < depth; i++)
		p = memcpy(p, close, lc), p += lc;
	*p++ = '\n';
	*p = '\0';
	return s;
}

/* json-c's depth counts every value on the path, the innermost scalar too. */
static void test_depth_limit(void **state)
{
	struct rpc_framer *f = new_framer();
	struct events e = { 0 };
	static const struct { int depth; const char *open, *close, *inner; bool ok; } cases[] = {
		{ RPC_MAX_DEPTH,     "[", "]", "", true },
		{ RPC_MAX_DEPTH + 1, "[", "]", "", false },
		{ RPC_MAX_DEPTH - 1, "[", "]", "1", true },
		{ RPC_MAX_DEPTH,     "[", "]", "1", false },
		{ RPC_MAX_DEPTH - 1, "{\"a\":", "}", "0", true },
		{ RPC_MAX_DEPTH,     "{\"a\":", "}", "0", false },
		{ RPC_MAX_DEPTH - 1, "{\"a\":", "}", "{}", true },    /* 32 objects */
		{ RPC_MAX_DEPTH,     "{\"a\":", "}", "{}", false },   /* 33 */
	};
	char *s;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = nested(cases[i].depth, cases[i].open, cases[i].close, cases[i].inner);
		feed_str(f, s, &e);
		free(s);
		assert_int_equal(e.n, i + 1);
		if (cases[i].ok)
			assert_true(strncmp(e.ev[i], "OK ", 3) == 0);
		else
			assert_string_equal(e.ev[i], ERR_PARSE);
	}
	events_clear(&e);

	/* Far too deep, fed a byte at a time: still one error, then recovery. */
	s = nested(1000, "[", "]", "");
	for (size_t i = 0; s[i]; i++)
		feed_all(f, s + i, 1, &e);
	free(s);
	feed_str(f, "[]\n", &e);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.ev[0], ERR_PARSE);
	assert_string_equal(e.ev[1], "OK []");
	events_clear(&e);
	rpc_framer_free(f);
}

static void test_nul_byte(void **state)
{
	static const char in[] = "{\"a\":\"x\0y\"}\n{}\0\n12\0\n{}\n";
	struct rpc_framer *f = new_framer();
	struct events e = { 0 };
	static const char *const want[] = { ERR_PARSE, ERR_PARSE, ERR_PARSE, "OK {}" };

	feed_all(f, in, sizeof(in) - 1, &e);
	events_expect(&e, want, 4);
	events_clear(&e);
	rpc_framer_free(f);
}

/*
 * Issue 14, finding 3: a 1 MiB line of "[{},{},..." without its newline
 * made json-c build ~270 MB of objects, held while the connection lived.
 * The value budget refuses it as soon as the budget is spent, long before
 * the newline, and the framer holds nothing of it afterwards.
 */
static void test_value_budget_amplification(void **state)
{
	size_t len = RPC_MAX_MESSAGE - 2;
	char *line = malloc(len);
	struct rpc_framer *f = new_framer();
	struct events e = { 0 };
	struct mallinfo2 before, after;

	assert_non_null(line);
	line[0] = '[';
	for (size_t i = 1; i + 3 <= len; i += 3)
		memcpy(line + i, "{},", 3);
	before = mallinfo2();
	for (size_t off = 0; off < len; off += 65536)
		feed_all(f, line + off, len - off < 65536 ? len - off : 65536, &e);
	after = mallinfo2();
	/* Refused before the newline, as too large (ResourceLimit). */
	assert_int_equal(e.n, 1);
	assert_string_equal(e.ev[0], ERR_LARGE);
	assert_false(rpc_framer_pending(f));
	/* At most the budget was ever built; nothing of it is held now. */
	assert_true(after.uordblks < before.uordblks + (1u << 20));
	events_clear(&e);
	feed_str(f, "]\n{\"ok\":1}\n", &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.ev[0], "OK {\"ok\":1}");
	events_clear(&e);
	free(line);
	rpc_framer_free(f);
}

/* Within the budget a line of many values parses; one value more does not;
 * the same wherever the chunks end. */
static void test_value_budget_boundary(void **state)
{
	size_t budget = 10 * RPC_COST_OBJECT + RPC_COST_ARRAY;
	char ok[64] = "[", over[64] = "[";

	for (int i = 0; i < 10; i++)
		strcat(ok, i ? ",{}" : "{}");
	strcpy(over + 1, ok + 1);
	strcat(ok, "]\n");
	strcat(over, ",{}]\n");
	for (size_t step = 1; step <= 7; step++) {
		struct rpc_framer *f = new_framer();
		struct events e = { 0 };

		rpc_framer_set_value_budget(f, budget);
		feed_steps(f, ok, step, &e);
		feed_steps(f, over, step, &e);
		assert_int_equal(e.n, 2);
		assert_string_equal(e.ev[0], "OK [{},{},{},{},{},{},{},{},{},{}]");
		assert_string_equal(e.ev[1], ERR_LARGE);
		events_clear(&e);
		rpc_framer_free(f);
	}
}

/* A parse error before the budget runs out wins, however the line is cut. */
static void test_value_budget_after_parse_error(void **state)
{
	static const char line[] = "[{},{}},{},{},{},{}]\n";

	for (size_t step = 1; step <= sizeof(line); step++) {
		struct rpc_framer *f = new_framer();
		struct events e = { 0 };

		rpc_framer_set_value_budget(f, 3 * RPC_COST_OBJECT + RPC_COST_ARRAY);
		feed_steps(f, line, step, &e);
		assert_int_equal(e.n, 1);
		assert_string_equal(e.ev[0], ERR_PARSE);
		events_clear(&e);
		rpc_framer_free(f);
	}
}

/* Issue 14, finding 18: "spin\u0000x" was cut to "spin" by every C string
 * that read it. Refused wherever it is, however the line is cut; other
 * escapes, and a backslash before "u0000", are fine. */
static void test_escaped_nul(void **state)
{
	static const char in[] =
		"{\"name\":\"spin\\u0000x\"}\n"
		"{\"na\\u0000me\":\"spin\"}\n"
		"[\"\\u0000\"]\n"
		"[\"\\u0001\\u0010\\u1000\\u0100\"]\n"
		"[\"\\\\u0000\"]\n"
		"{}\n";
	static const char *const want[] = {
		ERR_PARSE, ERR_PARSE, ERR_PARSE,
		"OK [\"\\u0001\\u0010\xe1\x80\x80\xc4\x80\"]",
		"OK [\"\\\\u0000\"]",
		"OK {}",
	};

	for (size_t step = 1; step <= sizeof(in); step++) {
		struct rpc_framer *f = new_framer();
		struct events e = { 0 };

		feed_steps(f, in, step, &e);
		events_expect(&e, want, 6);
		events_clear(&e);
		rpc_framer_free(f);
	}
}

static void test_in_line_and_cost(void **state)
{
	struct rpc_framer *f = new_framer();
	struct events e = { 0 };

	assert_false(rpc_framer_in_line(f));
	feed_str(f, "  ", &e);
	assert_false(rpc_framer_in_line(f));
	feed_str(f, "{\"a\":", &e);
	assert_true(rpc_framer_in_line(f));
	feed_str(f, "[1,\"x\"]}\n", &e);
	assert_false(rpc_framer_in_line(f));
	assert_int_equal(rpc_framer_last_cost(f),
			 15 + RPC_COST_OBJECT + RPC_COST_ARRAY + 3 * RPC_COST_VALUE);
	feed_str(f, "x", &e);      /* a bad line is skipped to its newline: still in it */
	assert_true(rpc_framer_in_line(f));
	feed_str(f, "yz\n", &e);
	assert_false(rpc_framer_in_line(f));
	events_clear(&e);
	rpc_framer_free(f);
}

static void test_callback_stops_feed(void **state)
{
	struct rpc_framer *f = new_framer();
	struct events e = { .stop_at = 2 };

	assert_int_equal(rpc_framer_feed(f, "1\n2\n3\n", 6, collect, &e), -42);
	assert_int_equal(e.n, 2);
	events_clear(&e);
	rpc_framer_free(f);
}

static void test_pending(void **state)
{
	struct rpc_framer *f = new_framer();
	struct events e = { 0 };

	assert_int_equal(rpc_framer_pending(f), 0);
	feed_str(f, "{\"a\":", &e);
	assert_int_equal(rpc_framer_pending(f), 5);
	feed_str(f, "[1,2]", &e);
	assert_int_equal(rpc_framer_pending(f), 10);
	feed_str(f, "}\n{", &e);
	assert_int_equal(e.n, 1);
	assert_int_equal(rpc_framer_pending(f), 1);
	events_clear(&e);
	rpc_framer_free(f);   /* with a line in progress: must not leak */
}

static void test_new_invalid(void **state)
{
	errno = 0;
	assert_null(rpc_framer_new(0, 32));
	assert_int_equal(errno, EINVAL);
	assert_null(rpc_framer_new(16, 0));
	assert_null(rpc_framer_new((size_t) 1 << 40, 32));
	rpc_framer_free(NULL);
}

static void test_framer_error(void **state)
{
	struct rpc_error err;

	assert_int_equal(rpc_framer_error(RPC_FRAME_PARSE_ERROR, "boom", &err), RPC_PARSE_ERROR);
	assert_int_equal(err.code, RPC_PARSE_ERROR);
	assert_non_null(strstr(err.message, "boom"));
	assert_int_equal(rpc_framer_error(RPC_FRAME_TOO_LARGE, "too big", &err), RPC_RESOURCE_LIMIT);
	assert_int_equal(err.code, RPC_RESOURCE_LIMIT);
	assert_string_equal(rpc_code_class(err.code), "ResourceLimit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_whole),
		cmocka_unit_test(test_stream_byte_at_a_time),
		cmocka_unit_test(test_stream_every_split),
		cmocka_unit_test(test_top_level_number_waits_for_newline),
		cmocka_unit_test(test_error_reported_once_before_newline),
		cmocka_unit_test(test_too_large_2mib),
		cmocka_unit_test(test_too_large_boundary),
		cmocka_unit_test(test_too_large_after_parse_error),
		cmocka_unit_test(test_numbers_every_split),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_value_budget_amplification),
		cmocka_unit_test(test_value_budget_boundary),
		cmocka_unit_test(test_value_budget_after_parse_error),
		cmocka_unit_test(test_escaped_nul),
		cmocka_unit_test(test_in_line_and_cost),
		cmocka_unit_test(test_callback_stops_feed),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_new_invalid),
		cmocka_unit_test(test_framer_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
