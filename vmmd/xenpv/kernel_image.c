/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "vmmd/xenpv/kernel_image.h"

#define FAIL(r, msg) do { *why = (msg); return (r); } while (0)

#define HDR_SETUP_SECTS    0x1f1
#define HDR_BOOT_FLAG      0x1fe
#define HDR_HEADER         0x202
#define HDR_VERSION        0x206
#define HDR_PAYLOAD_OFFSET 0x248
#define HDR_PAYLOAD_LENGTH 0x24c
#define PROTOCOL_PAYLOAD   0x0208   /* payload_offset/length exist from 2.08 */
#define OUT_FIRST          (16u << 20)
/* lz4 -l (the kernel's lz4 legacy frame, lib/decompress_unlz4.c): the magic,
 * then blocks of a u32 compressed size and the data, each unpacking to at
 * most 8 MiB; another magic may start a concatenated stream. */
#define LZ4_LEGACY_MAGIC   0x184c2102u
#define LZ4_LEGACY_BLOCK   (8u << 20)

static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* A growing output buffer, never past max. */
struct out {
	uint8_t *buf;
	size_t len, cap, max;
};

static int out_grow(struct out *o)
{
	if (o->cap >= o->max)
		return -EFBIG;
	size_t cap = o->cap ? o->cap * 2 : OUT_FIRST;
	if (cap > o->max)
		cap = o->max;
	uint8_t *b = realloc(o->buf, cap);
	if (!b)
		return -ENOMEM;
	o->buf = b;
	o->cap = cap;
	return 0;
}

static int unxz(const uint8_t *in, size_t len, struct out *o)
{
	lzma_stream s = LZMA_STREAM_INIT;
	/* One stream: the kernel's payload ends in a 4-byte size trailer. */
	if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
		return -ENOMEM;
	s.next_in = in;
	s.avail_in = len;
	int r = 0;
	for (;;) {
		if (o->len == o->cap && (r = out_grow(o)) < 0)
			break;
		s.next_out = o->buf + o->len;
		s.avail_out = o->cap - o->len;
		lzma_ret lr = lzma_code(&s, LZMA_FINISH);
		o->len = o->cap - s.avail_out;
		if (lr == LZMA_STREAM_END)
			break;
		if (lr != LZMA_OK) {
			r = lr == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
	}
	lzma_end(&s);
	return r;
}

static int gunzip(const uint8_t *in, size_t len, struct out *o)
{
	z_stream z = { 0 };
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *) in;
	z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt) len;
	int r = 0;
	for (;;) {
		if (o->len == o->cap && (r = out_grow(o)) < 0)
			break;
		size_t room = o->cap - o->len;
		z.next_out = o->buf + o->len;
		z.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt) room;
		int zr = inflate(&z, Z_NO_FLUSH);
		o->len += (room > UINT32_MAX ? UINT32_MAX : room) - z.avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0)) {
			r = -EINVAL;
			break;
		}
	}
	inflateEnd(&z);
	return r;
}

/* Room for one lz4 legacy block at the end of o, or all that max allows. */
static int out_room(struct out *o, size_t want)
{
	while (o->cap - o->len < want && o->cap < o->max) {
		int r = out_grow(o);
		if (r < 0)
			return r;
	}
	return 0;
}

static int unlz4(const uint8_t *in, size_t len, struct out *o)
{
	size_t pos = 4;   /* the magic, matched by the caller */
	while (pos < len) {
		if (len - pos < 4)
			return -EINVAL;
		uint32_t n = get32(in + pos);
		pos += 4;
		if (n == LZ4_LEGACY_MAGIC)
			continue;
		/* A bzImage's payload ends in a 4-byte trailer, the unpacked size
		 * (the kernel's size_append), not a block: no data follows it. */
		if (pos == len)
			return n == o->len ? 0 : -EINVAL;
		if (n == 0 || n > (uint32_t) LZ4_compressBound(LZ4_LEGACY_BLOCK) || n > len - pos)
			return -EINVAL;
		int r = out_room(o, LZ4_LEGACY_BLOCK);
		if (r < 0)
			return r;
		size_t room = o->cap - o->len;
		bool limited = room < LZ4_LEGACY_BLOCK;   /* max cuts this block short */
		int got = LZ4_decompress_safe((const char *) in + pos, (char *) o->buf + o->len, (int) n,
					      (int) (limited ? room : LZ4_LEGACY_BLOCK));
		if (got < 0)
			return limited ? -EFBIG : -EINVAL;
		o->len += (size_t) got;
		pos += n;
	}
	return 0;
}

static int unzstd(const uint8_t *in, size_t len, struct out *o)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	if (!d)
		return -ENOMEM;
	ZSTD_initDStream(d);
	ZSTD_inBuffer ib = { in, len, 0 };
	int r = 0;
	for (;;) {
		if (o->len == o->cap && (r = out_grow(o)) < 0)
			break;
		ZSTD_outBuffer ob = { o->buf, o->cap, o->len };
		size_t zr = ZSTD_decompressStream(d, &ob, &ib);
		o->len = ob.pos;
		if (ZSTD_isError(zr)) {
			r = -EINVAL;
			break;
		}
		if (zr == 0)
			break;   /* the frame is complete */
		if (ib.pos == ib.size && ob.pos < ob.size) {
			r = -EINVAL;   /* truncated */
			break;
		}
	}
	ZSTD_freeDStream(d);
	return r;
}

/* The formats a payload may start with; decode is NULL where vmmd does not unpack it. */
static const struct payload_format {
	const char *name;
	uint8_t magic[6];
	unsigned len;
	int (*decode)(const uint8_t *in, size_t len, struct out *o);
} formats[] = {
	{ "xz", { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, 6, unxz },
	{ "gzip", { 0x1f, 0x8b }, 2, gunzip },
	{ "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4, unzstd },
	{ "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4, unlz4 },   /* LZ4_LEGACY_MAGIC */
	{ "bzip2", { 'B', 'Z', 'h' }, 3, NULL },
	{ "lzo", { 0x89, 'L', 'Z', 'O' }, 4, NULL },
	{ "lzma", { 0x5d, 0x00, 0x00 }, 3, NULL },
};

static const struct payload_format *payload_format(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (len >= formats[i].len && memcmp(p, formats[i].magic, formats[i].len) == 0)
			return &formats[i];
	return NULL;
}

const char *xpv_payload_format(const uint8_t *p, size_t len)
{
	const struct payload_format *f = payload_format(p, len);
	return f ? f->name : NULL;
}

int xpv_kernel_elf(const uint8_t *image, size_t size, size_t max_out, const uint8_t **ret_elf, size_t *ret_size,
		   bool *ret_owned, const char **why)
{
	if (size >= 4 && memcmp(image, "\177ELF", 4) == 0) {
		*ret_elf = image;
		*ret_size = size;
		*ret_owned = false;
		return 0;
	}
	if (size < 0x250 || get16(image + HDR_BOOT_FLAG) != 0xaa55 || memcmp(image + HDR_HEADER, "HdrS", 4) != 0)
		FAIL(-ENOEXEC, "the kernel is neither an ELF vmlinux nor a bzImage");
	if (get16(image + HDR_VERSION) < PROTOCOL_PAYLOAD)
		FAIL(-ENOEXEC, "bzImage boot protocol older than 2.08 names no payload");
	unsigned sects = image[HDR_SETUP_SECTS] ? image[HDR_SETUP_SECTS] : 4;
	uint64_t start = (uint64_t) (sects + 1) * 512 + get32(image + HDR_PAYLOAD_OFFSET);
	uint64_t len = get32(image + HDR_PAYLOAD_LENGTH);
	if (start > size || len > size - start || len < 8)
		FAIL(-EINVAL, "the kernel bzImage's payload lies outside the file (truncated?)");
	const struct payload_format *fmt = payload_format(image + start, len);
	if (!fmt || !fmt->decode)
		FAIL(-EOPNOTSUPP, fmt ? "the kernel bzImage's payload is compressed with a format vmmd does not unpack "
				       "(xz, gzip, zstd and lz4 are; give the ELF vmlinux instead)"
				     : "the kernel bzImage's payload has no known compression magic");
	struct out o = { .max = max_out };
	int r = fmt->decode(image + start, len, &o);
	if (r == 0 && (o.len < 4 || memcmp(o.buf, "\177ELF", 4) != 0))
		r = -ENOEXEC;
	if (r < 0) {
		free(o.buf);
		*why = r == -EFBIG ? "the kernel bzImage's payload unpacks to more than vmmd accepts"
		       : r == -ENOMEM ? "out of memory unpacking the bzImage's payload"
		       : r == -ENOEXEC ? "the kernel bzImage's payload is not an ELF vmlinux"
				       : "the kernel bzImage's payload is corrupt or truncated";
		return r;
	}
	*ret_elf = o.buf;
	*ret_size = o.len;
	*ret_owned = true;
	return 0;
}
