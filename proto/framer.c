/* SPDX-License-Identifier: MIT */
/*
 * Newline-delimited JSON framing. Bytes are never buffered here: each chunk
 * of the current line goes straight into json-c's streaming tokener, so the
 * memory a peer can make us hold is bounded by max_message (what the tokener
 * keeps of the line), the value budget (the objects json-c builds from it)
 * and an oversized line costs nothing while it is skipped.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/framer.h"
#include "proto/rpc.h"

enum framer_state {
	LINE_START,    /* only whitespace so far: a blank line is ignored */
	LINE_PARSING,  /* the tokener has the line's value in progress */
	LINE_DONE,     /* value complete; only whitespace may follow */
	LINE_SKIP,     /* error reported; drop bytes up to the newline */
};

/*
 * Strict UTF-8 (RFC 3629: no overlongs, surrogates or code points past
 * U+10FFFF), carried across chunk boundaries. json-c's own
 * JSON_TOKENER_VALIDATE_UTF8 forgets a partial sequence at the end of a
 * chunk (0.16 rejects a valid "é" fed a byte at a time) and accepts
 * surrogates, so it cannot be used here.
 */
struct utf8_state {
	uint8_t need;      /* continuation bytes still expected */
	uint8_t lo, hi;    /* range allowed for the next continuation byte */
};

/*
 * Numbers, checked against RFC 8259's grammar outside strings. json-c's
 * tokener cannot be trusted with them: when a chunk ends inside a number it
 * takes "2" + "-3]" as 2 and drops the rest (a line that fails whole parses
 * in pieces), and it takes "1." and "1.e5" anywhere (tests/fuzz/fuzz_proto.c
 * found the first; tests/fuzz/regressions/proto/number-split-*).
 */
enum number_state {
	NUM_NONE,      /* not in a number */
	NUM_MINUS,     /* "-" */
	NUM_ZERO,      /* "0" or "-0": no more integer digits */
	NUM_INT,       /* "12" */
	NUM_DOT,       /* "1." */
	NUM_FRAC,      /* "1.5" */
	NUM_E,         /* "1e" */
	NUM_ESIGN,     /* "1e-" */
	NUM_EXP,       /* "1e5" */
};

struct lex_state {
	bool in_string;
	bool escape;       /* after a backslash in a string */
	uint8_t number;    /* enum number_state */
	uint8_t uhex;      /* hex digits of a \uXXXX escape still to come */
	bool unul;         /* the \u escape's digits so far are all 0 */
};

enum lex_result {
	LEX_OK,
	LEX_BAD_NUMBER,
	LEX_NUL,           /* \u0000 in a string */
};

struct rpc_framer {
	struct json_tokener *tok;
	size_t max_message;
	size_t line_len;   /* bytes of the current line, newline excluded */
	enum framer_state state;
	struct utf8_state utf8;
	struct lex_state lex;
	struct json_object *value;  /* complete value waiting for its newline */
	size_t max_cost;   /* value budget: what json-c may allocate for one line */
	size_t cost;       /* estimated so far for the current line */
	size_t last_cost;  /* of the line just delivered */
	char why[80];
};

static bool is_ws(char c)
{
	/* JSON's whitespace; json-c's isspace() would also take \f and \v. */
	return c == ' ' || c == '\t' || c == '\r';
}

static bool all_ws(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_ws(p[i]))
			return false;
	return true;
}

/*
 * Also refuses raw control characters: JSON allows none outside whitespace,
 * and json-c would let them into strings (and treats NUL as end of input).
 */
static bool utf8_feed(struct utf8_state *u, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t) p[i];

		if (u->need > 0) {
			if (b < u->lo || b > u->hi)
				return false;
			u->need--;
			u->lo = 0x80;
			u->hi = 0xbf;
			continue;
		}
		/* Printable ASCII, nearly every byte of a message: nothing to
		 * check (lo and hi are set below before any lead byte). */
		if (b >= 0x20 && b < 0x80)
			continue;
		u->lo = 0x80;
		u->hi = 0xbf;
		if (b < 0x20) {
			if (b != '\t' && b != '\r')
				return false;
		} else if (b >= 0xc2 && b <= 0xdf)
			u->need = 1;
		else if (b >= 0xe0 && b <= 0xef) {
			u->need = 2;
			if (b == 0xe0)
				u->lo = 0xa0;     /* overlong */
			else if (b == 0xed)
				u->hi = 0x9f;     /* surrogates */
		} else if (b >= 0xf0 && b <= 0xf4) {
			u->need = 3;
			if (b == 0xf0)
				u->lo = 0x90;     /* overlong */
			else if (b == 0xf4)
				u->hi = 0x8f;     /* past U+10FFFF */
		} else
			return false;
	}
	return true;
}

static bool number_complete(uint8_t state)
{
	return state == NUM_ZERO || state == NUM_INT || state == NUM_FRAC || state == NUM_EXP;
}

/* One more byte of a number: false if it cannot continue one. */
static bool number_step(uint8_t *state, char c)
{
	bool digit = c >= '0' && c <= '9';

	switch (*state) {
	case NUM_MINUS:
		if (!digit)
			return false;
		*state = c == '0' ? NUM_ZERO : NUM_INT;
		return true;
	case NUM_ZERO:
	case NUM_INT:
		if (digit && *state == NUM_INT)
			return true;
		if (c == '.')
			return *state = NUM_DOT, true;
		if (c == 'e' || c == 'E')
			return *state = NUM_E, true;
		return false;
	case NUM_DOT:
	case NUM_FRAC:
		if (digit)
			return *state = NUM_FRAC, true;
		if (c == 'e' || c == 'E')
			return *state == NUM_FRAC ? (*state = NUM_E, true) : false;
		return false;
	case NUM_E:
		if (c == '+' || c == '-')
			return *state = NUM_ESIGN, true;
		/* fall through */
	case NUM_ESIGN:
	case NUM_EXP:
		if (digit)
			return *state = NUM_EXP, true;
		return false;
	default:
		return false;
	}
}

/* What json-c allocates for a value starting with c (framer.h), 0 if none starts. */
static size_t value_cost(char c)
{
	switch (c) {
	case '{':
		return RPC_COST_OBJECT;
	case '[':
		return RPC_COST_ARRAY;
	case '"': case '-': case 't': case 'f': case 'n':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return RPC_COST_VALUE;
	default:
		return 0;
	}
}

/*
 * Follows strings, checks every number and refuses \u0000, across chunks,
 * and adds what json-c will allocate for each value to *cost. Stops before
 * the byte whose value would take *cost past max_cost, returning its
 * offset in *ret_fit (n when all fit). Other faults are json-c's to find:
 * this only has to agree with it about where strings are, which valid JSON
 * makes plain (a value inside a bad line may be charged twice or not at
 * all; the line fails either way).
 */
static enum lex_result lex_feed(struct lex_state *l, const char *p, size_t n, size_t *cost,
				size_t max_cost, size_t *ret_fit)
{
	*ret_fit = n;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (l->in_string) {
			if (l->uhex == 0 && !l->escape) {
				/* A string's plain bytes: on to its next quote or backslash. */
				while (c != '"' && c != '\\' && ++i < n)
					c = p[i];
				if (i == n)
					break;
			}
			if (l->uhex > 0) {
				l->unul &= c == '0';
				if (--l->uhex == 0 && l->unul)
					return LEX_NUL;
			} else if (l->escape) {
				l->escape = false;
				if (c == 'u') {
					l->uhex = 4;
					l->unul = true;
				}
			} else if (c == '\\')
				l->escape = true;
			else if (c == '"')
				l->in_string = false;
			continue;
		}
		if (l->number != NUM_NONE) {
			if (number_step(&l->number, c))
				continue;
			/* c ends the number, which must be complete, and cannot
			 * be a number character itself ("1-", "0.5.3", "01"). */
			if (!number_complete(l->number) || (c >= '0' && c <= '9') ||
			    c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')
				return LEX_BAD_NUMBER;
			l->number = NUM_NONE;
		}
		size_t k = value_cost(c);
		if (k > max_cost - *cost) {
			*ret_fit = i;
			return LEX_OK;
		}
		*cost += k;
		if (c == '"')
			l->in_string = true;
		else if (c == '-')
			l->number = NUM_MINUS;
		else if (c == '0')
			l->number = NUM_ZERO;
		else if (c >= '1' && c <= '9')
			l->number = NUM_INT;
	}
	return LEX_OK;
}

/* json-c reads NaN and Infinity even in strict mode, and 1e400 becomes inf;
 * none has a JSON spelling, so they could not be echoed back either. */
static bool all_finite(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!all_finite(json_object_array_get_idx(o, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(o, key, val) {
			(void) key;
			if (!all_finite(val))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

struct rpc_framer *rpc_framer_new(size_t max_message, int max_depth)
{
	struct rpc_framer *f;

	/* json_tokener_parse_ex takes an int length. */
	if (max_message == 0 || max_message > INT_MAX || max_depth < 1) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->tok = json_tokener_new_ex(max_depth);
	if (!f->tok) {
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	/* Strict: no comments, single quotes or trailing commas. Trailing bytes
	 * are allowed by json-c because we check them ourselves, per line. */
	json_tokener_set_flags(f->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	f->max_message = max_message;
	f->max_cost = RPC_VALUE_BUDGET(max_message);
	f->state = LINE_START;
	return f;
}

void rpc_framer_set_value_budget(struct rpc_framer *f, size_t bytes)
{
	f->max_cost = bytes;
}

size_t rpc_framer_last_cost(const struct rpc_framer *f)
{
	return f->last_cost;
}

bool rpc_framer_in_line(const struct rpc_framer *f)
{
	return f->state != LINE_START;
}

void rpc_framer_free(struct rpc_framer *f)
{
	if (!f)
		return;
	json_object_put(f->value);
	json_tokener_free(f->tok);
	free(f);
}

size_t rpc_framer_pending(const struct rpc_framer *f)
{
	return f->state == LINE_SKIP ? 0 : f->line_len;
}

static void framer_reset_line(struct rpc_framer *f)
{
	json_tokener_reset(f->tok);
	json_object_put(f->value);
	f->value = NULL;
	f->line_len = 0;
	f->cost = 0;
	f->utf8 = (struct utf8_state) { 0 };
	f->lex = (struct lex_state) { 0 };
	f->state = LINE_START;
}

/*
 * Report the line as bad, once. Mid-line, skip what is left of it; at its
 * newline, start the next one. Resets now rather than at the newline, which
 * frees what the tokener holds.
 */
static int framer_fail(struct rpc_framer *f, enum rpc_frame_status status, const char *why,
		       rpc_frame_fn fn, void *userdata, bool at_newline)
{
	framer_reset_line(f);
	if (!at_newline)
		f->state = LINE_SKIP;
	return fn(userdata, status, NULL, why);
}

static int framer_tokener_fail(struct rpc_framer *f, rpc_frame_fn fn, void *userdata,
			       bool at_newline)
{
	enum json_tokener_error e = json_tokener_get_error(f->tok);

	(void) snprintf(f->why, sizeof(f->why), "%s", json_tokener_error_desc(e));
	return framer_fail(f, RPC_FRAME_PARSE_ERROR, f->why, fn, userdata, at_newline);
}

/* A piece of the current line, without its newline. */
static int framer_segment(struct rpc_framer *f, const char *p, size_t n,
			  rpc_frame_fn fn, void *userdata)
{
	struct json_object *obj;
	struct lex_state lex;
	enum lex_result lexed;
	size_t end, fit, cost;

	if (f->state == LINE_SKIP || n == 0)
		return 0;

	/* Both limits judge the bytes before them first, so that the first
	 * fault in the line wins wherever the chunks end: a line malformed
	 * before the limit is a parse error fed whole or a byte at a time
	 * (found by tests/fuzz/fuzz_proto.c). */
	if (n > f->max_message - f->line_len) {
		int r = framer_segment(f, p, f->max_message - f->line_len, fn, userdata);
		if (r < 0 || f->state == LINE_SKIP)
			return r;
		(void) snprintf(f->why, sizeof(f->why), "message longer than %zu bytes", f->max_message);
		return framer_fail(f, RPC_FRAME_TOO_LARGE, f->why, fn, userdata, false);
	}
	/* Where the value budget runs out, if in this piece: the lexer runs on
	 * a copy of its state (a lexical fault ends it: reported below, after
	 * the UTF-8 check, as the earlier fault in a line wins). When the whole
	 * piece fits, that run is the line's: the copy is kept, not lexed
	 * again (lexing every byte twice showed in bench B14's profiles). */
	lex = f->lex;
	cost = f->cost;
	lexed = lex_feed(&lex, p, n, &cost, f->max_cost, &fit);
	if (fit < n) {
		int r = framer_segment(f, p, fit, fn, userdata);
		if (r < 0 || f->state == LINE_SKIP)
			return r;
		(void) snprintf(f->why, sizeof(f->why), "message holds too many JSON values "
				"(more than %zu bytes of objects to build)", f->max_cost);
		return framer_fail(f, RPC_FRAME_TOO_LARGE, f->why, fn, userdata, false);
	}
	f->line_len += n;

	if (!utf8_feed(&f->utf8, p, n))
		return framer_fail(f, RPC_FRAME_PARSE_ERROR, "invalid UTF-8 or control character",
				   fn, userdata, false);
	f->lex = lex;
	f->cost = cost;
	switch (lexed) {
	case LEX_OK:
		break;
	case LEX_BAD_NUMBER:
		return framer_fail(f, RPC_FRAME_PARSE_ERROR, "malformed number", fn, userdata, false);
	case LEX_NUL:
		/* json-c would keep it, and C strings would end there: "spin\u0000x"
		 * would be read as "spin" by every check and as more by no one. */
		return framer_fail(f, RPC_FRAME_PARSE_ERROR, "\\u0000 (NUL) in a string is not accepted",
				   fn, userdata, false);
	}

	if (f->state == LINE_START) {
		while (n > 0 && is_ws(*p))
			p++, n--;
		if (n == 0)
			return 0;
		f->state = LINE_PARSING;
	}

	if (f->state == LINE_PARSING) {
		obj = json_tokener_parse_ex(f->tok, p, (int) n);
		switch (json_tokener_get_error(f->tok)) {
		case json_tokener_continue:
			return 0;
		case json_tokener_success:
			break;
		default:
			return framer_tokener_fail(f, fn, userdata, false);
		}
		f->value = obj;   /* may be NULL: the JSON text "null" */
		f->state = LINE_DONE;
		end = json_tokener_get_parse_end(f->tok);
		p += end;
		n -= end;
	}

	/* One JSON text per line: "{} {}" is as malformed as "{} x". */
	if (!all_ws(p, n))
		return framer_fail(f, RPC_FRAME_PARSE_ERROR, "unexpected data after the JSON value",
				   fn, userdata, false);
	return 0;
}

static int framer_end_line(struct rpc_framer *f, rpc_frame_fn fn, void *userdata)
{
	struct json_object *obj;

	switch (f->state) {
	case LINE_START:
	case LINE_SKIP:
		framer_reset_line(f);
		return 0;
	case LINE_PARSING:
		if (f->utf8.need > 0)
			return framer_fail(f, RPC_FRAME_PARSE_ERROR, "invalid UTF-8 or control character",
					   fn, userdata, true);
		if (f->lex.number != NUM_NONE && !number_complete(f->lex.number))
			return framer_fail(f, RPC_FRAME_PARSE_ERROR, "malformed number", fn, userdata, true);
		/* A top-level number or literal ends only at a delimiter, and the
		 * newline is ours, not json-c's: hand it a space in its stead. If
		 * the value is still incomplete, the line was cut short. */
		obj = json_tokener_parse_ex(f->tok, " ", 1);
		switch (json_tokener_get_error(f->tok)) {
		case json_tokener_success:
			f->value = obj;
			break;
		case json_tokener_continue:
			return framer_fail(f, RPC_FRAME_PARSE_ERROR, "incomplete JSON value at end of line",
					   fn, userdata, true);
		default:
			return framer_tokener_fail(f, fn, userdata, true);
		}
		break;
	case LINE_DONE:
		break;
	}

	if (!all_finite(f->value))
		return framer_fail(f, RPC_FRAME_PARSE_ERROR, "number out of range", fn, userdata, true);

	obj = f->value;
	f->value = NULL;
	f->last_cost = f->line_len + f->cost;
	framer_reset_line(f);
	return fn(userdata, RPC_FRAME_OK, obj, NULL);
}

int rpc_framer_feed(struct rpc_framer *f, const char *buf, size_t len,
		    rpc_frame_fn fn, void *userdata)
{
	while (len > 0) {
		const char *nl = memchr(buf, '\n', len);
		size_t seg = nl ? (size_t) (nl - buf) : len;
		int r;

		r = framer_segment(f, buf, seg, fn, userdata);
		if (r < 0)
			return r;
		if (!nl)
			break;
		r = framer_end_line(f, fn, userdata);
		if (r < 0)
			return r;
		buf += seg + 1;
		len -= seg + 1;
	}
	return 0;
}

int rpc_framer_error(enum rpc_frame_status status, const char *why, struct rpc_error *err)
{
	if (status == RPC_FRAME_TOO_LARGE)
		return rpc_error_set(err, RPC_RESOURCE_LIMIT, "%s", why ? why : "message too large");
	return rpc_error_set(err, RPC_PARSE_ERROR, "parse error: %s", why ? why : "malformed JSON");
}
