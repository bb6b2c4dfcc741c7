/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio_console.h"
#include "tests/unit/virtio_guest.h"

#define RX VIRTIO_CONSOLE_QUEUE_RX
#define TX VIRTIO_CONSOLE_QUEUE_TX
#define OUT_MAX (256u << 10)

struct fixture {
	struct vg g;
	struct virtio_console *con;
	uint8_t out[OUT_MAX];           /* everything tx delivered */
	size_t out_len;
	unsigned tx_calls;
	bool echo;                      /* tx feeds its bytes back as input */
};

static void sink_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct fixture *f = opaque;

	assert_true(f->out_len + len <= OUT_MAX);
	memcpy(f->out + f->out_len, buf, len);
	f->out_len += len;
	f->tx_calls++;
	if (f->echo)
		assert_int_equal(virtio_console_input(f->con, buf, len), (int) len);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	vg_init(&f->g);
	if (virtio_console_new(&f->g.env, sink_tx, f, &f->con) < 0)
		return -1;
	f->g.t = virtio_console_mmio(f->con);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_console_free(f->con);
	vg_fini(&f->g);
	free(f);
	return 0;
}

/* Guest memory holding text. */
static uint64_t text(struct vg *g, const char *s)
{
	uint64_t gpa = vg_alloc(g, (uint32_t) strlen(s));

	memcpy(vg_host(g, gpa), s, strlen(s));
	return gpa;
}

/* Posts n receive buffers of len bytes each; returns the first one's gpa
 * (they are consecutive, 16-aligned). */
static uint64_t post_rx(struct vg *g, unsigned n, uint32_t len)
{
	uint64_t first = 0;

	for (unsigned i = 0; i < n; i++) {
		struct vg_buf b = { vg_alloc(g, len), len, true };

		if (i == 0)
			first = b.gpa;
		vg_add_chain(g, RX, &b, 1);
	}
	vg_kick(g, RX);
	return first;
}

static uint32_t used_len(struct vg *g, unsigned q, uint16_t i)
{
	uint32_t id, len;

	vg_used(g, q, i, &id, &len);
	return len;
}

static void test_identity(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;

	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	assert_int_equal(virtio_mmio_num_queues(g->t), 2);
	vg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES), 0x10000000);   /* no SIZE, no MULTIPORT */
	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_CONFIG + 8), 0);
	assert_int_equal(virtio_console_rx_room(f->con), VIRTIO_CONSOLE_RX_BUF);
}

static void test_tx(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	struct vg_buf two[] = { { text(g, "hello"), 5, false }, { text(g, " world"), 6, false } };
	struct vg_buf one = { text(g, "!\n"), 2, false };

	vg_start(g, 64);
	vg_add_chain(g, TX, two, 2);
	vg_add_chain(g, TX, &one, 1);
	vg_kick(g, TX);
	assert_int_equal(f->out_len, 13);
	assert_memory_equal(f->out, "hello world!\n", 13);
	assert_int_equal(vg_used_idx(g, TX), 2);
	assert_int_equal(used_len(g, TX, 0), 0);
	assert_int_equal(g->irqs, 1);
	assert_int_equal(vg_stats(g).bytes_read, 13);
	assert_int_equal(vg_stats(g).requests, 2);
}

static void test_rx_into_posted(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t bufs;

	vg_start(g, 64);
	bufs = post_rx(g, 2, 8);
	assert_int_equal(vg_used_idx(g, RX), 0);        /* nothing to say yet */
	assert_int_equal(g->irqs, 0);
	assert_int_equal(virtio_console_input(f->con, (const uint8_t *) "abcdefghij", 10), 10);
	assert_int_equal(vg_used_idx(g, RX), 2);
	assert_int_equal(used_len(g, RX, 0), 8);
	assert_int_equal(used_len(g, RX, 1), 2);
	assert_memory_equal(vg_host(g, bufs), "abcdefgh", 8);
	assert_memory_equal(vg_host(g, bufs + 16), "ij", 2);
	assert_int_equal(g->irqs, 1);
	assert_int_equal(virtio_console_rx_room(f->con), VIRTIO_CONSOLE_RX_BUF);
	assert_int_equal(vg_stats(g).bytes_written, 10);
	assert_int_equal(virtio_console_input(f->con, NULL, 0), 0);
	assert_int_equal(virtio_console_input(f->con, NULL, 1), -EINVAL);
	assert_int_equal(virtio_console_input(NULL, (const uint8_t *) "x", 1), -EINVAL);
}

static void test_rx_buffered(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint8_t in[5000];
	uint64_t bufs;

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t) (i * 13 + 1);
	/* before the driver is even there */
	assert_int_equal(virtio_console_input(f->con, in, 3000), 3000);
	vg_start(g, 64);
	assert_int_equal(virtio_console_input(f->con, in + 3000, 2000), VIRTIO_CONSOLE_RX_BUF - 3000);
	assert_int_equal(virtio_console_rx_room(f->con), 0);
	assert_int_equal(virtio_console_input(f->con, in, 1), 0);
	assert_int_equal(vg_used_idx(g, RX), 0);

	/* the guest posts 4 pages: everything buffered arrives, in order */
	bufs = post_rx(g, 4, 1024);
	assert_int_equal(vg_used_idx(g, RX), 4);
	for (uint16_t i = 0; i < 4; i++)
		assert_int_equal(used_len(g, RX, i), 1024);
	assert_memory_equal(vg_host(g, bufs), in, VIRTIO_CONSOLE_RX_BUF);
	assert_int_equal(virtio_console_rx_room(f->con), VIRTIO_CONSOLE_RX_BUF);
	assert_int_equal(g->irqs, 1);
}

static void test_rx_more_than_buffer(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint8_t in[10000];
	uint64_t bufs;

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t) (i * 31 + 7);
	vg_start(g, 64);
	bufs = post_rx(g, 3, 4096);
	/* posted buffers take 12 KiB; the input does not need the 4 KiB buffer to fit */
	assert_int_equal(virtio_console_input(f->con, in, sizeof(in)), sizeof(in));
	assert_int_equal(vg_used_idx(g, RX), 3);
	assert_int_equal(used_len(g, RX, 2), 10000 - 8192);
	assert_memory_equal(vg_host(g, bufs), in, sizeof(in));
}

static void test_reset_keeps_input(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t buf;

	vg_start(g, 64);
	assert_int_equal(virtio_console_input(f->con, (const uint8_t *) "xyz", 3), 3);
	vg_wr(g, VIRTIO_MMIO_STATUS, 0);
	vg_start(g, 64);
	buf = post_rx(g, 1, 16);
	assert_int_equal(vg_used_idx(g, RX), 1);
	assert_int_equal(used_len(g, RX, 0), 3);
	assert_memory_equal(vg_host(g, buf), "xyz", 3);
}

static void test_echo(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	struct vg_buf b = { text(g, "ping"), 4, false };
	uint64_t buf;

	f->echo = true;
	vg_start(g, 64);
	buf = post_rx(g, 1, 16);
	vg_add_chain(g, TX, &b, 1);
	vg_kick(g, TX);         /* tx comes back into the device: no deadlock */
	assert_int_equal(f->out_len, 4);
	assert_int_equal(vg_used_idx(g, RX), 1);
	assert_memory_equal(vg_host(g, buf), "ping", 4);
}

static void test_tx_large(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t a = vg_alloc(g, 60000), b = vg_alloc(g, 10000), c = vg_alloc(g, 70000);
	struct vg_buf ba = { a, 60000, false }, bb = { b, 10000, false }, bc = { c, 70000, false };

	for (unsigned i = 0; i < 60000; i++)
		((uint8_t *) vg_host(g, a))[i] = (uint8_t) i;
	memset(vg_host(g, b), 'b', 10000);
	memset(vg_host(g, c), 'c', 70000);
	vg_start(g, 64);
	/* the second does not fit beside the first: it waits for the first's delivery */
	vg_add_chain(g, TX, &ba, 1);
	vg_add_chain(g, TX, &bb, 1);
	vg_kick(g, TX);
	assert_int_equal(vg_used_idx(g, TX), 2);
	assert_int_equal(f->out_len, 70000);
	assert_int_equal(f->tx_calls, 2);
	assert_memory_equal(f->out, vg_host(g, a), 60000);
	assert_int_equal(f->out[60000], 'b');
	assert_int_equal(f->out[69999], 'b');
	assert_int_equal(vg_stats(g).request_errors, 0);

	/* one buffer over the limit is cut, and counted */
	vg_add_chain(g, TX, &bc, 1);
	vg_kick(g, TX);
	assert_int_equal(vg_used_idx(g, TX), 3);
	assert_int_equal(f->out_len, 70000 + VIRTIO_CONSOLE_TX_BUF);
	assert_int_equal(f->out[f->out_len - 1], 'c');
	assert_int_equal(vg_stats(g).request_errors, 1);
	assert_int_equal(vg_stats(g).bytes_read, 70000 + VIRTIO_CONSOLE_TX_BUF);
}

static void test_tx_no_sink(void **state)
{
	struct vg g;
	struct virtio_console *con;
	struct vg_buf b;

	vg_init(&g);
	assert_int_equal(virtio_console_new(&g.env, NULL, NULL, &con), 0);
	g.t = virtio_console_mmio(con);
	b = (struct vg_buf) { text(&g, "dropped"), 7, false };
	vg_start(&g, 16);
	vg_add_chain(&g, TX, &b, 1);
	vg_kick(&g, TX);
	assert_int_equal(vg_used_idx(&g, TX), 1);
	virtio_console_free(con);
	virtio_console_free(NULL);
	assert_int_equal(virtio_console_new(NULL, NULL, NULL, &con), -EINVAL);
	vg_fini(&g);
}

/* Guest output from one thread while the host types from another. */
struct typist {
	struct fixture *f;
	unsigned sent;
};

static void *type_loop(void *arg)
{
	struct typist *t = arg;
	uint8_t c = 'k';

	while (t->sent < 3000) {
		int r = virtio_console_input(t->f->con, &c, 1);

		assert_true(r == 0 || r == 1);
		t->sent += (unsigned) r;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	struct typist t = { .f = f };
	pthread_t thread;
	uint64_t rx = vg_alloc(g, 64 * 64);
	uint64_t msg = text(g, "0123456789");
	unsigned received = 0;
	uint16_t seen = 0;

	vg_start(g, 64);
	for (unsigned i = 0; i < 64; i++) {
		struct vg_buf b = { rx + 64 * i, 64, true };

		vg_add_chain(g, RX, &b, 1);
	}
	vg_kick(g, RX);
	assert_int_equal(pthread_create(&thread, NULL, type_loop, &t), 0);
	for (unsigned i = 0; i < 500 || received < 3000; i++) {
		struct vg_buf b = { msg, 10, false };

		if (i < 500) {
			while ((uint16_t) (g->q[TX].avail_idx - vg_used_idx(g, TX)) >= 32)
				;
			vg_add_chain(g, TX, &b, 1);
			vg_kick(g, TX);
		}
		/* recycle what the device filled */
		while (seen != vg_used_idx(g, RX)) {
			uint32_t id, len;

			vg_used(g, RX, seen, &id, &len);
			received += len;
			seen++;
			vg_publish(g, RX, (uint16_t) id);   /* same descriptor, same buffer */
			vg_kick(g, RX);
		}
	}
	pthread_join(thread, NULL);
	assert_int_equal(received, 3000);
	assert_int_equal(f->out_len, 5000);
	assert_memory_equal(f->out + 4990, "0123456789", 10);
	assert_int_equal(vg_stats(g).errors, 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_identity),
		T(test_tx),
		T(test_rx_into_posted),
		T(test_rx_buffered),
		T(test_rx_more_than_buffer),
		T(test_reset_keeps_input),
		T(test_echo),
		T(test_tx_large),
		cmocka_unit_test(test_tx_no_sink),
		T(test_concurrent),
	};
#undef T

	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
