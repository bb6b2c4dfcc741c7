/* SPDX-License-Identifier: MIT */
/*
 * Replays the fuzzing corpus and every crash the fuzzers found
 * (tests/fuzz/corpus/{proto,config,virtio,peer,loader,devices,daemon_config,shadow},
 * tests/fuzz/regressions/{...})
 * through the libFuzzer targets themselves, built here with the normal
 * compiler and without libFuzzer: a regression aborts, and this test with
 * it, naming the file first. Run from the repo root, or set TEST_FUZZ_DIR.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define LLVMFuzzerTestOneInput fuzz_proto_one
#include "tests/fuzz/fuzz_proto.c"
#undef LLVMFuzzerTestOneInput
#undef fuzz_assert

#define LLVMFuzzerTestOneInput fuzz_config_one
#include "tests/fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_virtio_one
#include "tests/fuzz/fuzz_virtio.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_peer_one
#include "tests/fuzz/fuzz_peer.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_loader_one
#include "tests/fuzz/fuzz_loader.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_devices_one
#include "tests/fuzz/fuzz_devices.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_daemon_config_one
#include "tests/fuzz/fuzz_daemon_config.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_shadow_one
#define take fuzz_shadow_take
#include "tests/fuzz/fuzz_shadow.c"
#undef take
#undef LLVMFuzzerTestOneInput

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static const char *fuzz_dir(void)
{
	const char *base = getenv("TEST_FUZZ_DIR");
	return base && base[0] ? base : "tests/fuzz";
}

static uint8_t *slurp(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!fp)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t) n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t) n, fp), (size_t) n);
	fclose(fp);
	*ret_len = (size_t) n;
	return buf;
}

/* Every regular file in DIR/sub through fn; returns how many. */
static size_t replay_dir(const char *sub, fuzz_fn fn)
{
	char dir[512], path[1024];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", fuzz_dir(), sub);
	d = opendir(dir);
	if (!d)
		fail_msg("cannot open %s (run from the repo root or set TEST_FUZZ_DIR): %s",
			 dir, strerror(errno));
	while ((de = readdir(d))) {
		size_t len;
		uint8_t *data;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		/* Named before the run: a regression aborts the whole program. */
		fprintf(stderr, "replay %s\n", path);
		data = slurp(path, &len);
		assert_int_equal(fn(data, len), 0);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

static void test_proto_corpus(void **state)
{
	assert_true(replay_dir("corpus/proto", fuzz_proto_one) >= 20);
}

static void test_config_corpus(void **state)
{
	assert_true(replay_dir("corpus/config", fuzz_config_one) >= 5);
}

static void test_virtio_corpus(void **state)
{
	assert_true(replay_dir("corpus/virtio", fuzz_virtio_one) >= 5);
}

/*
 * Every crash a fuzzer found, once fixed, through its target: of these three
 * targets only proto has found any (size-limit-vs-parse-error,
 * number-split-minus, number-no-fraction-digits), and the count may only
 * grow. The config and virtio folders are replayed too, so a crash copied
 * there runs from then on without a change here; the newer targets'
 * regressions (devices, peer) are replayed by test_new_targets.
 */
static void test_regressions(void **state)
{
	size_t n = replay_dir("regressions/proto", fuzz_proto_one);

	n += replay_dir("regressions/config", fuzz_config_one);
	n += replay_dir("regressions/virtio", fuzz_virtio_one);
	assert_true(n >= 3);
}

/* Each newer target: its seeds (at least a few) and every regression. */
static void test_new_targets(void **state)
{
	static const struct { const char *name; fuzz_fn fn; size_t min_seeds, min_regressions; } targets[] = {
		{ "peer", fuzz_peer_one, 4, 0 },
		{ "loader", fuzz_loader_one, 4, 0 },
		{ "devices", fuzz_devices_one, 4, 0 },
		{ "daemon_config", fuzz_daemon_config_one, 4, 0 },
		{ "shadow", fuzz_shadow_one, 10, 1 },   /* native-frame-window-wraps */
	};
	char sub[64];

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		snprintf(sub, sizeof(sub), "corpus/%s", targets[i].name);
		assert_true(replay_dir(sub, targets[i].fn) >= targets[i].min_seeds);
		snprintf(sub, sizeof(sub), "regressions/%s", targets[i].name);
		assert_true(replay_dir(sub, targets[i].fn) >= targets[i].min_regressions);
	}
}

/* The targets on inputs that need no file: empty, and every byte alone. */
static void test_tiny_inputs(void **state)
{
	assert_int_equal(fuzz_proto_one((const uint8_t *) "", 0), 0);
	assert_int_equal(fuzz_config_one((const uint8_t *) "", 0), 0);
	for (unsigned b = 0; b < 256; b++) {
		uint8_t c = (uint8_t) b;
		assert_int_equal(fuzz_proto_one(&c, 1), 0);
		assert_int_equal(fuzz_config_one(&c, 1), 0);
		assert_int_equal(fuzz_virtio_one(&c, 1), 0);
		assert_int_equal(fuzz_loader_one(&c, 1), 0);
		assert_int_equal(fuzz_devices_one(&c, 1), 0);
		assert_int_equal(fuzz_shadow_one(&c, 1), 0);
	}
	assert_int_equal(fuzz_peer_one((const uint8_t *) "", 0), 0);
	assert_int_equal(fuzz_daemon_config_one((const uint8_t *) "", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_corpus),
		cmocka_unit_test(test_config_corpus),
		cmocka_unit_test(test_virtio_corpus),
		cmocka_unit_test(test_regressions),
		cmocka_unit_test(test_new_targets),
		cmocka_unit_test(test_tiny_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
