/* SPDX-License-Identifier: MIT */
/* proto/client.c against a scripted fake server on a socketpair (one thread per test). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "proto/client.h"

struct server {
	int fd;
	pthread_t thread;
	void (*script)(struct server *s);
	char *buf;             /* bytes received, not yet returned as lines */
	size_t have, size;
	int64_t ids[8];        /* ids of the requests seen, in order */
	char methods[8][32];
	size_t n_requests;
	size_t big_param;      /* length of params.s of the last request */
};

/* One request line, or false on EOF. Records its id and method. */
static bool srv_read_request(struct server *s)
{
	struct json_object *o, *v;
	char *nl;

	for (;;) {
		ssize_t n;

		nl = s->have ? memchr(s->buf, '\n', s->have) : NULL;
		if (nl)
			break;

		if (s->have == s->size) {
			s->size = s->size ? s->size * 2 : 4096;
			s->buf = realloc(s->buf, s->size);
			if (!s->buf)
				abort();
		}
		n = recv(s->fd, s->buf + s->have, s->size - s->have, 0);
		if (n <= 0)
			return false;
		s->have += (size_t) n;
	}
	*nl = '\0';
	o = json_tokener_parse(s->buf);
	if (!o)
		abort();
	if (s->n_requests < 8) {
		if (json_object_object_get_ex(o, "id", &v))
			s->ids[s->n_requests] = json_object_get_int64(v);
		else
			s->ids[s->n_requests] = -1;
		if (json_object_object_get_ex(o, "method", &v))
			snprintf(s->methods[s->n_requests], sizeof(s->methods[0]), "%s",
				 json_object_get_string(v));
		s->n_requests++;
	}
	s->big_param = 0;
	if (json_object_object_get_ex(o, "params", &v) && json_object_object_get_ex(v, "s", &v))
		s->big_param = (size_t) json_object_get_string_len(v);
	json_object_put(o);
	s->have -= (size_t) (nl + 1 - s->buf);
	memmove(s->buf, nl + 1, s->have);
	return true;
}

static void srv_write(struct server *s, const char *p)
{
	size_t n = strlen(p);

	while (n > 0) {
		ssize_t k = send(s->fd, p, n, MSG_NOSIGNAL);

		if (k <= 0)
			return;
		p += k;
		n -= (size_t) k;
	}
}

static void srv_printf(struct server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void srv_printf(struct server *s, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		abort();
	va_end(ap);
	srv_write(s, line);
	free(line);
}

static void *srv_main(void *userdata)
{
	struct server *s = userdata;

	s->script(s);
	close(s->fd);
	return NULL;
}

static struct rpc_client *start(struct server *s, void (*script)(struct server *s))
{
	struct rpc_client *c;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*s = (struct server) { .fd = sv[1], .script = script };
	assert_int_equal(rpc_client_from_fd(sv[0], &c), 0);
	assert_int_equal(rpc_client_fd(c), sv[0]);
	assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
	return c;
}

static void finish(struct server *s, struct rpc_client *c)
{
	rpc_client_free(c);   /* first: a script blocked on reading sees EOF */
	assert_int_equal(pthread_join(s->thread, NULL), 0);
	free(s->buf);
}

struct notes {
	char seen[8][64];
	size_t n;
};

static void on_notify(void *userdata, struct json_object *n)
{
	struct notes *notes = userdata;
	struct json_object *p, *v;

	assert_true(notes->n < 8);
	assert_true(json_object_object_get_ex(n, "params", &p));
	assert_true(json_object_object_get_ex(p, "seq", &v));
	snprintf(notes->seen[notes->n++], sizeof(notes->seen[0]), "%d", json_object_get_int(v));
}

#define NOTE(seq) "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"seq\":" #seq "}}\n"

/* Before the reply: a notification and a stale reply; after it, in the same
 * write, another notification that must wait for rpc_client_wait. */
static void script_result(struct server *s)
{
	if (!srv_read_request(s))
		return;
	srv_printf(s, NOTE(1) "{\"jsonrpc\":\"2.0\",\"result\":\"stale\",\"id\":99}\n"
		   "{\"jsonrpc\":\"2.0\",\"result\":{\"state\":\"running\"},\"id\":%lld}\n" NOTE(2),
		   (long long) s->ids[0]);
	if (!srv_read_request(s))
		return;
	srv_printf(s, "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":%lld}\n", (long long) s->ids[1]);
	srv_read_request(s);   /* wait for the client to go */
}

static void test_call_result(void **state)
{
	struct server s;
	struct rpc_client *c = start(&s, script_result);
	struct notes notes = { 0 };
	struct json_object *params = json_object_new_object(), *res = (void *) 1, *v;
	struct rpc_error err;

	rpc_client_on_notify(c, on_notify, &notes);
	json_object_object_add(params, "name", json_object_new_string("demo"));
	assert_int_equal(rpc_client_call(c, "vm.start", params, &res, &err), 0);
	assert_true(json_object_object_get_ex(res, "state", &v));
	assert_string_equal(json_object_get_string(v), "running");
	json_object_put(res);
	assert_int_equal(notes.n, 1);
	assert_string_equal(notes.seen[0], "1");

	/* The notification that came behind the reply. */
	assert_int_equal(rpc_client_wait(c, 0), 1);
	assert_int_equal(notes.n, 2);
	assert_string_equal(notes.seen[1], "2");
	assert_int_equal(rpc_client_wait(c, 20), 0);

	res = (void *) 1;
	assert_int_equal(rpc_client_call(c, "vm.list", NULL, &res, NULL), 0);
	assert_null(res);

	assert_int_equal(s.ids[0], 1);
	assert_int_equal(s.ids[1], 2);
	assert_string_equal(s.methods[0], "vm.start");
	assert_string_equal(s.methods[1], "vm.list");
	finish(&s, c);
}

static void script_errors(struct server *s)
{
	if (!srv_read_request(s))
		return;
	srv_printf(s, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32007,\"message\":\"vcpus must be 1..64\","
		   "\"data\":{\"class\":\"ConfigInvalid\",\"field\":\"vcpus\"}},\"id\":%lld}\n",
		   (long long) s->ids[0]);
	if (!srv_read_request(s))
		return;
	/* The server could not read the request: the error has a null id. */
	srv_write(s, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"parse error\","
		  "\"data\":{\"class\":\"ParseError\"}},\"id\":null}\n");
	if (!srv_read_request(s))
		return;
	srv_printf(s, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":\"x\"},\"id\":%lld}\n",
		   (long long) s->ids[2]);
	if (!srv_read_request(s))
		return;
	srv_printf(s, "{\"jsonrpc\":\"2.0\",\"id\":%lld}\n", (long long) s->ids[3]);
	srv_read_request(s);
}

static void test_call_errors(void **state)
{
	struct server s;
	struct rpc_client *c = start(&s, script_errors);
	struct json_object *res = (void *) 1;
	struct rpc_error err;

	assert_int_equal(rpc_client_call(c, "vm.create", NULL, &res, &err), -EPROTO);
	assert_ptr_equal(res, (void *) 1);   /* untouched */
	assert_int_equal(err.code, RPC_CONFIG_INVALID);
	assert_string_equal(err.message, "vcpus must be 1..64");
	assert_string_equal(err.field, "vcpus");

	assert_int_equal(rpc_client_call(c, "vm.list", NULL, &res, &err), -EPROTO);
	assert_int_equal(err.code, RPC_PARSE_ERROR);
	assert_string_equal(err.field, "");

	assert_int_equal(rpc_client_call(c, "vm.list", NULL, &res, &err), -EBADMSG);
	assert_int_equal(rpc_client_call(c, "vm.list", NULL, &res, &err), -EBADMSG);
	assert_true(err.message[0] != '\0');
	assert_ptr_equal(res, (void *) 1);
	finish(&s, c);
}

static void script_garbage(struct server *s)
{
	if (!srv_read_request(s))
		return;
	srv_write(s, "{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":1} trailing\n");
	srv_read_request(s);
}

static void test_malformed_reply(void **state)
{
	struct server s;
	struct rpc_client *c = start(&s, script_garbage);
	struct json_object *res = NULL;
	struct rpc_error err;

	assert_int_equal(rpc_client_call(c, "vm.list", NULL, &res, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "unreadable reply"));
	assert_null(res);
	finish(&s, c);
}

/* The reply dribbles in a byte at a time. */
static void script_slow(struct server *s)
{
	char *line;

	if (!srv_read_request(s))
		return;
	if (asprintf(&line, NOTE(7) "{\"jsonrpc\":\"2.0\",\"result\":[1,2,3],\"id\":%lld}\n",
		     (long long) s->ids[0]) < 0)
		abort();
	for (const char *p = line; *p; p++) {
		(void) send(s->fd, p, 1, MSG_NOSIGNAL);
		if ((p - line) % 16 == 0)
			usleep(100);
	}
	free(line);
	srv_read_request(s);
}

static void test_reply_in_pieces(void **state)
{
	struct server s;
	struct rpc_client *c = start(&s, script_slow);
	struct notes notes = { 0 };
	struct json_object *res = NULL;

	rpc_client_on_notify(c, on_notify, &notes);
	assert_int_equal(rpc_client_call(c, "x", NULL, &res, NULL), 0);
	assert_int_equal(json_object_array_length(res), 3);
	assert_int_equal(notes.n, 1);
	json_object_put(res);
	finish(&s, c);
}

static void script_hangup(struct server *s)
{
	srv_read_request(s);
	/* Half a reply, then EOF. */
	srv_write(s, "{\"jsonrpc\":\"2.0\",\"res");
}

static void test_eof(void **state)
{
	struct server s;
	struct rpc_client *c = start(&s, script_hangup);
	struct json_object *res = NULL;
	struct rpc_error err;

	assert_int_equal(rpc_client_call(c, "vm.list", NULL, &res, &err), -ECONNRESET);
	assert_true(err.message[0] != '\0');
	assert_int_equal(rpc_client_wait(c, -1), -ECONNRESET);
	finish(&s, c);
}

static void script_none(struct server *s)
{
	(void) s;   /* closes at once */
}

/* Writing to a closed peer is an error return, not SIGPIPE. */
static void test_write_to_closed(void **state)
{
	struct server s;
	struct rpc_client *c = start(&s, script_none);
	struct json_object *params = json_object_new_object();
	char *big = malloc(1 << 20);
	int r;

	assert_int_equal(pthread_join(s.thread, NULL), 0);
	memset(big, 'a', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	json_object_object_add(params, "s", json_object_new_string(big));
	free(big);
	r = rpc_client_call(c, "x", params, NULL, NULL);
	assert_true(r == -EPIPE || r == -ECONNRESET);
	rpc_client_free(c);
	free(s.buf);
}

static void script_big(struct server *s)
{
	if (!srv_read_request(s))
		return;
	srv_printf(s, "{\"jsonrpc\":\"2.0\",\"result\":%zu,\"id\":%lld}\n", s->big_param,
		   (long long) s->ids[0]);
	srv_read_request(s);
}

/* 3 MiB does not fit the socket buffer: the write must go in pieces. */
static void test_big_request(void **state)
{
	for (int nonblock = 0; nonblock < 2; nonblock++) {
		struct server s;
		struct rpc_client *c = start(&s, script_big);
		struct json_object *params = json_object_new_object(), *res = NULL;
		size_t n = 3u << 20;
		char *big = malloc(n + 1);

		if (nonblock)
			assert_int_equal(fcntl(rpc_client_fd(c), F_SETFL, O_NONBLOCK), 0);
		memset(big, 'b', n);
		big[n] = '\0';
		json_object_object_add(params, "s", json_object_new_string(big));
		free(big);
		assert_int_equal(rpc_client_call(c, "mem.write", params, &res, NULL), 0);
		assert_int_equal(json_object_get_int64(res), (int64_t) n);
		json_object_put(res);
		finish(&s, c);
	}
}

static void *accept_one(void *userdata)
{
	int lfd = *(int *) userdata, fd;
	struct server s = { 0 };

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	s.fd = fd;
	if (srv_read_request(&s))
		srv_printf(&s, "{\"jsonrpc\":\"2.0\",\"result\":{\"api\":1},\"id\":%lld}\n",
			   (long long) s.ids[0]);
	close(fd);
	free(s.buf);
	return NULL;
}

static void test_connect(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rpc_client *c = NULL;
	struct json_object *res = NULL, *v;
	char dir[] = "/tmp/test_proto_client.XXXXXX", path[96], longpath[200];
	pthread_t th;
	int lfd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vmmd.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(pthread_create(&th, NULL, accept_one, &lfd), 0);

	assert_int_equal(rpc_client_connect(path, &c), 0);
	assert_int_equal(rpc_client_call(c, "vmm.version", NULL, &res, NULL), 0);
	assert_true(json_object_object_get_ex(res, "api", &v));
	assert_int_equal(json_object_get_int(v), 1);
	json_object_put(res);
	rpc_client_free(c);
	assert_int_equal(pthread_join(th, NULL), 0);
	close(lfd);
	unlink(path);

	c = NULL;
	assert_int_equal(rpc_client_connect(path, &c), -ENOENT);
	assert_null(c);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(rpc_client_connect(longpath, &c), -ENAMETOOLONG);
	assert_int_equal(rpc_client_connect("", &c), -EINVAL);
	assert_null(c);
	assert_int_equal(rmdir(dir), 0);
	rpc_client_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_result),
		cmocka_unit_test(test_call_errors),
		cmocka_unit_test(test_malformed_reply),
		cmocka_unit_test(test_reply_in_pieces),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_write_to_closed),
		cmocka_unit_test(test_big_request),
		cmocka_unit_test(test_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
