/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk against a temporary 4 MiB image (sparse; its first 64 sectors
 * hold a pattern), with requests laid out the way Linux's virtio_blk lays
 * them out (header, data, status descriptors) and some other legal layouts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio_blk.h"
#include "tests/unit/virtio_guest.h"

#define IMAGE_SIZE (4u << 20)
#define CAPACITY   (IMAGE_SIZE / 512)

struct fixture {
	struct vg g;
	int fd;
	struct virtio_blk *blk;
};

static uint8_t pattern(uint64_t offset)
{
	return (uint8_t) (offset * 7 + offset / 512);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[] = "/tmp/vmmd-test-blk-XXXXXX";
	uint8_t sector[512];

	if (!f)
		return -1;
	f->fd = mkstemp(path);
	if (f->fd < 0)
		return -1;
	unlink(path);
	if (ftruncate(f->fd, IMAGE_SIZE) < 0)
		return -1;
	for (uint64_t s = 0; s < 64; s++) {
		for (unsigned i = 0; i < 512; i++)
			sector[i] = pattern(s * 512 + i);
		if (pwrite(f->fd, sector, 512, (off_t) (s * 512)) != 512)
			return -1;
	}
	vg_init(&f->g);
	if (virtio_blk_new(&f->g.env, f->fd, false, &f->blk) < 0)
		return -1;
	f->g.t = virtio_blk_mmio(f->blk);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_blk_free(f->blk);
	close(f->fd);
	vg_fini(&f->g);
	free(f);
	return 0;
}

static uint64_t header(struct vg *g, uint32_t type, uint64_t sector)
{
	uint64_t gpa = vg_alloc(g, 16);
	uint8_t *h = vg_host(g, gpa);

	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	return gpa;
}

/* Posts bufs as one chain, kicks, and returns the status byte at
 * status_gpa; the used length goes to *ret_len. */
static uint8_t run(struct fixture *f, const struct vg_buf *bufs, unsigned n, uint64_t status_gpa,
		   uint32_t *ret_len)
{
	struct vg *g = &f->g;
	uint16_t before = vg_used_idx(g, 0);
	uint16_t head = vg_add_chain(g, 0, bufs, n);
	uint32_t id;

	*(uint8_t *) vg_host(g, status_gpa) = 0xee;
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), (uint16_t) (before + 1));
	vg_used(g, 0, before, &id, ret_len);
	assert_int_equal(id, head);
	return *(uint8_t *) vg_host(g, status_gpa);
}

/* Linux's layout: header, one data buffer (may be empty), status. */
static uint8_t request(struct fixture *f, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		       uint32_t *ret_used)
{
	struct vg *g = &f->g;
	uint64_t status = vg_alloc(g, 1);
	bool write = type != VIRTIO_BLK_T_OUT;
	struct vg_buf bufs[3];
	unsigned n = 0;

	bufs[n++] = (struct vg_buf) { header(g, type, sector), 16, false };
	if (len > 0)
		bufs[n++] = (struct vg_buf) { data, len, write };
	bufs[n++] = (struct vg_buf) { status, 1, true };
	return run(f, bufs, n, status, ret_used);
}

static void test_identity_and_config(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint8_t data[8];
	uint64_t cap;

	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	assert_int_equal(virtio_mmio_num_queues(g->t), 1);
	assert_int_equal(virtio_blk_capacity(f->blk), CAPACITY);
	vg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES), 0x10000206);  /* INDIRECT, FLUSH, SEG_MAX, SIZE_MAX */
	vg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES), 1);

	/* capacity as one 8-byte read and as Linux's two 4-byte reads */
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_CONFIG, data, 8, false), 0);
	memcpy(&cap, data, 8);
	assert_int_equal(cap, CAPACITY);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_CONFIG), CAPACITY);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_CONFIG + 4), 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_CONFIG + 8), 4096);     /* size_max */
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_CONFIG + 12), 254);     /* seg_max */
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_CONFIG + 1, data, 1, false), 0);
	assert_int_equal(data[0], CAPACITY >> 8);
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_CONFIG + 12, data, 2, false), 0);
	assert_int_equal(data[0], 254);
	assert_int_equal(data[1], 0);

	/* beyond the 36-byte config space, or straddling its end: zeros */
	memset(data, 0x5a, sizeof(data));
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_CONFIG + 36, data, 4, false), 0);
	assert_int_equal(data[0], 0);
	memset(data, 0x5a, sizeof(data));
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_CONFIG + 32, data, 8, false), 0);
	assert_int_equal(data[0], 0);
	assert_int_equal(data[7], 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_SIZE - 4), 0);
	/* the config space is not writable */
	vg_wr(g, VIRTIO_MMIO_CONFIG, 1);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_CONFIG), CAPACITY);
}

static void test_read(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t a = vg_alloc(g, 512), b = vg_alloc(g, 512), status = vg_alloc(g, 1);
	struct vg_buf bufs[] = {
		{ header(g, VIRTIO_BLK_T_IN, 2), 16, false },
		{ a, 512, true }, { b, 512, true }, { status, 1, true },
	};
	uint32_t used;

	vg_start(g, 128);
	assert_int_equal(run(f, bufs, 4, status, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1025);
	for (unsigned i = 0; i < 512; i++) {
		assert_int_equal(((uint8_t *) vg_host(g, a))[i], pattern(1024 + i));
		assert_int_equal(((uint8_t *) vg_host(g, b))[i], pattern(1536 + i));
	}
	struct virtio_mmio_stats s = vg_stats(g);
	assert_int_equal(s.bytes_written, 1024);
	assert_int_equal(s.bytes_read, 0);
	assert_int_equal(s.requests, 1);
	assert_int_equal(s.request_errors, 0);
	assert_int_equal(g->irqs, 1);
}

static void test_write(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t data = vg_alloc(g, 1024);
	uint8_t back[1024];
	uint32_t used;

	memset(vg_host(g, data), 0x5c, 512);
	memset((uint8_t *) vg_host(g, data) + 512, 0xc5, 512);
	vg_start(g, 128);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 5, data, 1024, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	assert_int_equal(pread(f->fd, back, sizeof(back), 5 * 512), (ssize_t) sizeof(back));
	assert_memory_equal(back, vg_host(g, data), sizeof(back));
	/* the neighbours are untouched */
	assert_int_equal(pread(f->fd, back, 1, 5 * 512 - 1), 1);
	assert_int_equal(back[0], pattern(5 * 512 - 1));
	assert_int_equal(pread(f->fd, back, 1, 7 * 512), 1);
	assert_int_equal(back[0], pattern(7 * 512));
	assert_int_equal(vg_stats(g).bytes_read, 1024);
	/* and reads see it */
	uint64_t rd = vg_alloc(g, 512);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 6, rd, 512, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(((uint8_t *) vg_host(g, rd))[0], 0xc5);
}

static void test_flush(void **state)
{
	struct fixture *f = *state;
	uint32_t used;

	vg_start(&f->g, 128);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
}

static void test_get_id(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t id = vg_alloc(g, 20), small = vg_alloc(g, 8);
	const uint8_t expect[20] = "vmmd-blk";
	uint32_t used;

	memset(vg_host(g, id), 0xff, 20);
	memset(vg_host(g, small), 0xff, 8);
	vg_start(g, 128);
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, id, 20, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	assert_memory_equal(vg_host(g, id), expect, 20);
	/* a short buffer gets what fits */
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, small, 4, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 5);
	assert_memory_equal(vg_host(g, small), "vmmd\xff", 5);
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	struct virtio_blk *ro;
	uint64_t data = vg_alloc(g, 512);
	uint8_t back;
	uint32_t used;

	assert_int_equal(virtio_blk_new(&g->env, f->fd, true, &ro), 0);
	g->t = virtio_blk_mmio(ro);
	vg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES), 0x10000226);   /* + RO */
	vg_start(g, 128);
	memset(vg_host(g, data), 0x11, 512);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 0, data, 512, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(used, 1);
	assert_int_equal(pread(f->fd, &back, 1, 0), 1);
	assert_int_equal(back, pattern(0));
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, data, 512, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(((uint8_t *) vg_host(g, data))[3], pattern(3));
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(vg_stats(g).request_errors, 1);
	assert_int_equal(vg_stats(g).bytes_read, 0);
	virtio_blk_free(ro);
	g->t = virtio_blk_mmio(f->blk);
}

static void test_out_of_range(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t data = vg_alloc(g, 1024);
	uint32_t used;

	vg_start(g, 128);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, CAPACITY - 1, data, 512, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 513);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, CAPACITY, data, 512, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(used, 1);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, CAPACITY - 1, data, 1024, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, CAPACITY, data, 512, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, ~0ULL, data, 512, &used), VIRTIO_BLK_S_IOERR);
	/* sector * 512 would wrap to a small offset */
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 1ULL << 55, data, 512, &used), VIRTIO_BLK_S_IOERR);
	/* not whole sectors */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, data, 100, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 0, data, 513, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(vg_stats(g).request_errors, 7);
	assert_false(vg_stats(g).needs_reset);
	/* the image is as it was */
	uint8_t back;
	assert_int_equal(pread(f->fd, &back, 1, 0), 1);
	assert_int_equal(back, pattern(0));
}

static void test_request_cap(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t data = vg_alloc(g, VIRTIO_BLK_MAX_REQUEST + 512);
	uint32_t used;

	vg_start(g, 128);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, data, VIRTIO_BLK_MAX_REQUEST, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, VIRTIO_BLK_MAX_REQUEST + 1);
	assert_int_equal(((uint8_t *) vg_host(g, data))[64 * 512 - 1], pattern(64 * 512 - 1));
	assert_int_equal(((uint8_t *) vg_host(g, data))[64 * 512], 0);          /* the sparse part */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, data, VIRTIO_BLK_MAX_REQUEST + 512, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 0, data, VIRTIO_BLK_MAX_REQUEST + 512, &used),
			 VIRTIO_BLK_S_IOERR);
}

static void test_unsupported(void **state)
{
	struct fixture *f = *state;
	uint64_t data = vg_alloc(&f->g, 512);
	uint32_t used;

	vg_start(&f->g, 128);
	assert_int_equal(request(f, 11, 0, data, 512, &used), VIRTIO_BLK_S_UNSUPP);   /* DISCARD */
	assert_int_equal(used, 1);
	assert_int_equal(request(f, 0xffffffff, 0, 0, 0, &used), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(vg_stats(&f->g).request_errors, 2);
}

static void test_any_layout(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t hdr = header(g, VIRTIO_BLK_T_IN, 3);
	uint64_t a = vg_alloc(g, 300), b = vg_alloc(g, 725);
	/* header in two pieces; the status shares the last data buffer */
	struct vg_buf bufs[] = {
		{ hdr, 10, false }, { hdr + 10, 6, false }, { a, 300, true }, { b, 725, true },
	};
	uint32_t used;

	vg_start(g, 128);
	assert_int_equal(run(f, bufs, 4, b + 724, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1025);
	assert_int_equal(((uint8_t *) vg_host(g, a))[0], pattern(3 * 512));
	assert_int_equal(((uint8_t *) vg_host(g, a))[299], pattern(3 * 512 + 299));
	assert_int_equal(((uint8_t *) vg_host(g, b))[0], pattern(3 * 512 + 300));
	assert_int_equal(((uint8_t *) vg_host(g, b))[723], pattern(3 * 512 + 1023));
}

static void test_indirect(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t status = vg_alloc(g, 1);
	struct vg_buf bufs[VIRTIO_BLK_SEG_MAX + 2];
	unsigned n = 0;
	uint32_t id, len;

	/* Linux with SEG_MAX: header, 254 segments of SIZE_MAX, status, in one table */
	bufs[n++] = (struct vg_buf) { header(g, VIRTIO_BLK_T_IN, 0), 16, false };
	for (unsigned i = 0; i < VIRTIO_BLK_SEG_MAX; i++)
		bufs[n++] = (struct vg_buf) { vg_alloc(g, VIRTIO_BLK_SIZE_MAX), VIRTIO_BLK_SIZE_MAX, true };
	bufs[n++] = (struct vg_buf) { status, 1, true };
	vg_start(g, 128);
	vg_add_indirect(g, 0, bufs, n);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 1);
	vg_used(g, 0, 0, &id, &len);
	assert_int_equal(len, VIRTIO_BLK_SEG_MAX * VIRTIO_BLK_SIZE_MAX + 1);
	assert_int_equal(*(uint8_t *) vg_host(g, status), VIRTIO_BLK_S_OK);
	assert_int_equal(((uint8_t *) vg_host(g, bufs[8].gpa))[5], pattern(7 * 4096 + 5));
}

static void test_no_status(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	struct vg_buf b = { header(g, VIRTIO_BLK_T_FLUSH, 0), 16, false };

	vg_start(g, 128);
	vg_add_chain(g, 0, &b, 1);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x4f);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(vg_stats(g).errors, 1);
}

static void test_short_header(void **state)
{
	struct fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t status = vg_alloc(g, 1);
	struct vg_buf bufs[] = { { header(g, VIRTIO_BLK_T_FLUSH, 0), 15, false }, { status, 1, true } };

	vg_start(g, 128);
	vg_add_chain(g, 0, bufs, 2);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 0);
	assert_true(vg_stats(g).needs_reset);
	assert_int_equal(g->irqs, 1);
}

static void test_new_refuses(void **state)
{
	struct fixture *f = *state;
	struct virtio_blk *b = NULL;
	int pipefd[2];

	assert_int_equal(virtio_blk_new(&f->g.env, -1, false, &b), -EINVAL);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(virtio_blk_new(&f->g.env, pipefd[0], false, &b), -ESPIPE);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_null(b);
	virtio_blk_free(NULL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_identity_and_config),
		T(test_read),
		T(test_write),
		T(test_flush),
		T(test_get_id),
		T(test_readonly),
		T(test_out_of_range),
		T(test_request_cap),
		T(test_unsupported),
		T(test_any_layout),
		T(test_indirect),
		T(test_no_status),
		T(test_short_header),
		T(test_new_refuses),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
