/* SPDX-License-Identifier: MIT */
/*
 * Descriptors with messages (proto/fds.h, rpc_peer_accept_fds and
 * rpc_peer_take_fd): a message takes as many as its params.files name,
 * in arrival order, also in a batch and when two messages come in one
 * read; what its handler does not take is closed; a peer that does not
 * accept them closes them at once; more than may wait ends the
 * connection. The sender is proto/client.c's rpc_client_call_fds where a
 * reply is awaited, else a raw sendmsg.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "proto/fds.h"
#include "vmmd/common/rpc_peer.h"
#include "tests/unit/rpc_peer_pair.h"

struct fixture {
	struct peer_pair pp;            /* the raw end plays the other side */
	bool closed;
	int taken[8];          /* what the handler took, by the index it was asked for */
	size_t n_taken;
	int take[8];           /* indexes the handler takes */
	size_t n_take;
};

static void on_handle(void *userdata, struct rpc_peer *peer, struct rpc_call *call)
{
	struct fixture *f = userdata;
	for (size_t i = 0; i < f->n_take && f->n_taken < 8; i++)
		f->taken[f->n_taken++] = rpc_peer_take_fd(peer, (size_t) f->take[i]);
	rpc_call_result(call, NULL);
}

static void on_closed(void *userdata, struct rpc_peer *peer, int error)
{
	struct fixture *f = userdata;
	f->closed = true;
}

static const struct rpc_peer_ops ops = { .handle = on_handle, .closed = on_closed };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	peer_pair_open(&f->pp, &ops, f);
	rpc_peer_accept_fds(f->pp.peer, true);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	peer_pair_close(&f->pp);
	for (size_t i = 0; i < f->n_taken; i++)
		if (f->taken[i] >= 0)
			close(f->taken[i]);
	free(f);
	return 0;
}

static void send_with(struct fixture *f, const char *text, const int *fds, size_t n)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 80)];
	} control;
	struct iovec iov = { .iov_base = (void *) text, .iov_len = strlen(text) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	}
	assert_int_equal(sendmsg(f->pp.other, &mh, 0), (ssize_t) strlen(text));
}

static void run(struct fixture *f)
{
	for (int i = 0; i < 4; i++)
		event_base_loop(f->pp.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* A pipe: the write end is sent; reading the read end says whether every copy of it is closed. */
struct probe {
	int r, w;
	ino_t ino;
};

static struct probe probe_new(void)
{
	struct probe p;
	int fds[2];
	struct stat st;
	assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	p.r = fds[0];
	p.w = fds[1];
	assert_int_equal(fstat(p.w, &st), 0);
	p.ino = st.st_ino;
	return p;
}

/* After the sender dropped its copy: is any other copy of the write end left? */
static bool probe_held(struct probe *p)
{
	char c;
	if (p->w >= 0)
		p->w = (close(p->w), -1);
	return read(p->r, &c, 1) < 0 && errno == EAGAIN;   /* EOF (0) once the last copy is gone */
}

static ino_t ino_of(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static void test_taken_in_order_and_the_rest_closed(void **state)
{
	struct fixture *f = *state;
	struct probe a = probe_new(), b = probe_new(), c = probe_new();
	int fds[3] = { a.w, b.w, c.w };

	/* Three arrive; the message names 0 and 2 ("1" unused: still its own). */
	f->take[0] = 2;
	f->take[1] = 0;
	f->take[2] = 0;   /* taken twice: the second time -EBADF */
	f->n_take = 3;
	send_with(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"files\":{\"x\":2,\"y\":0}}}\n", fds, 3);
	run(f);
	assert_int_equal(f->n_taken, 3);
	assert_int_equal(ino_of(f->taken[0]), c.ino);
	assert_int_equal(ino_of(f->taken[1]), a.ino);
	assert_int_equal(f->taken[2], -EBADF);
	assert_true(probe_held(&a));
	assert_false(probe_held(&b));   /* counted with the message, not taken: closed */
	assert_true(probe_held(&c));
	close(a.r);
	close(b.r);
	close(c.r);
}

/* Two messages in one read, each with its own: each takes its own, even
 * when the first names none and the second's came before the first's end. */
static void test_two_messages(void **state)
{
	struct fixture *f = *state;
	struct probe a = probe_new(), b = probe_new();

	f->take[0] = 0;
	f->n_take = 1;
	send_with(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"files\":{\"k\":0}}}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\",\"params\":{}}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"m\",\"params\":{\"files\":{\"k\":0}}", &a.w, 1);
	send_with(f, "}\n", &b.w, 1);
	run(f);
	assert_int_equal(f->n_taken, 3);
	assert_int_equal(ino_of(f->taken[0]), a.ino);
	assert_int_equal(f->taken[1], -EBADF);   /* the one between named none */
	assert_int_equal(ino_of(f->taken[2]), b.ino);
	close(a.r);
	close(b.r);
	close(a.w);
	close(b.w);
}

/* A peer that takes none closes what comes at once; too many waiting ends the connection. */
static void test_refused_and_bounded(void **state)
{
	struct fixture *f = *state;
	struct probe a = probe_new();
	int many[80];

	rpc_peer_accept_fds(f->pp.peer, false);
	f->take[0] = 0;
	f->n_take = 1;
	send_with(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"files\":{\"k\":0}}}\n", &a.w, 1);
	run(f);
	assert_int_equal(f->taken[0], -EBADF);
	assert_false(probe_held(&a));
	close(a.r);

	rpc_peer_accept_fds(f->pp.peer, true);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(null >= 0);
	for (int i = 0; i < 80; i++)
		many[i] = null;
	for (int i = 0; i < 3 && !f->closed; i++) {
		send_with(f, " ", many, RPC_MAX_FDS);   /* whitespace: no message takes them */
		run(f);
	}
	assert_true(f->closed);
	close(null);
}

static void test_message_count(void **state)
{
	struct json_object *m = json_tokener_parse("[{\"params\":{\"files\":{\"a\":1}}},{\"params\":{\"files\":"
						   "{\"b\":4,\"c\":\"7\",\"d\":99,\"e\":-1}}},{\"params\":{}},3]");
	assert_int_equal(rpc_message_fd_count(m), 5);
	json_object_put(m);
	m = json_tokener_parse("{\"params\":{\"files\":{}}}");
	assert_int_equal(rpc_message_fd_count(m), 0);
	json_object_put(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_taken_in_order_and_the_rest_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_and_bounded, setup, teardown),
		cmocka_unit_test(test_message_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
