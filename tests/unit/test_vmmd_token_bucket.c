/* SPDX-License-Identifier: MIT */
/* vmmd/token_bucket.c: the pacing of calls that hold a guest's vCPUs (issue 14, finding 14). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmmd/token_bucket.h"

#define MS 1000000ull

static void test_burst_then_rate(void **state)
{
	struct token_bucket b = { 0 };
	uint64_t t = 5000 * MS;
	unsigned wait = 0;

	/* A quiet client may make `rate` calls at once... */
	for (int i = 0; i < 20; i++)
		assert_true(token_bucket_take(&b, 20, t, &wait));
	/* ...then one every 1/rate s: the next in 50 ms. */
	assert_false(token_bucket_take(&b, 20, t, &wait));
	assert_int_equal(wait, 51);
	assert_false(token_bucket_take(&b, 20, t + 25 * MS, &wait));
	assert_true(wait >= 25 && wait <= 26);
	assert_true(token_bucket_take(&b, 20, t + 50 * MS, &wait));
	assert_false(token_bucket_take(&b, 20, t + 50 * MS, NULL));

	/* A thousand calls in one second: at most rate + burst pass. */
	int passed = 0;
	for (int i = 0; i < 1000; i++)
		passed += token_bucket_take(&b, 20, t + 1000 * MS + (uint64_t) i * MS, NULL);
	assert_true(passed >= 20 && passed <= 41);

	/* A long pause refills to the burst, never more. */
	passed = 0;
	for (int i = 0; i < 100; i++)
		passed += token_bucket_take(&b, 20, t + 3600000 * MS, NULL);
	assert_int_equal(passed, 20);
}

static void test_unlimited_and_clock(void **state)
{
	struct token_bucket b = { 0 };

	for (int i = 0; i < 100000; i++)
		assert_true(token_bucket_take(&b, 0, 1, NULL));
	/* A clock that seems to go back adds nothing. */
	b = (struct token_bucket) { 0 };
	assert_true(token_bucket_take(&b, 1, 10 * MS, NULL));
	assert_false(token_bucket_take(&b, 1, 5 * MS, NULL));
	assert_false(token_bucket_take(&b, 1, 10 * MS, NULL));
	assert_true(token_bucket_take(&b, 1, 1011 * MS, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_unlimited_and_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
