/* SPDX-License-Identifier: MIT */
/* web/prom.c: families grouped, names checked, label values escaped, both formats, Accept. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "web/prom.h"

static char *render(struct prom_set *s, enum prom_format f)
{
	char *text;
	size_t len;
	assert_int_equal(prom_render(s, f, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

static void test_grouped_text(void **state)
{
	struct prom_set *s = prom_set_new();
	struct prom_labels a = { 0 }, b = { 0 };
	prom_labels_push(&a, "vm", "a");
	prom_labels_push(&b, "vm", "b");
	/* Interleaved adds come out grouped by family, in first-seen order. */
	assert_int_equal(prom_add_u64(s, "vmmd_vm_exits", PROM_COUNTER, "Exits", NULL, &a, NULL, 1), 0);
	assert_int_equal(prom_add_u64(s, "vmmd_vm_vcpus", PROM_GAUGE, "vCPUs", NULL, &a, NULL, 2), 0);
	assert_int_equal(prom_add_u64(s, "vmmd_vm_exits", PROM_COUNTER, "Exits", NULL, &b, NULL, 18446744073709551615ull), 0);
	assert_int_equal(prom_add_double(s, "vmmd_vm_vcpus", PROM_GAUGE, "vCPUs", NULL, &b, NULL, 0.5), 0);
	assert_int_equal(prom_set_families(s), 2);
	assert_int_equal(prom_set_samples(s), 4);
	char *t = render(s, PROM_TEXT);
	assert_string_equal(t,
		"# HELP vmmd_vm_exits_total Exits\n"
		"# TYPE vmmd_vm_exits_total counter\n"
		"vmmd_vm_exits_total{vm=\"a\"} 1\n"
		"vmmd_vm_exits_total{vm=\"b\"} 18446744073709551615\n"
		"# HELP vmmd_vm_vcpus vCPUs\n"
		"# TYPE vmmd_vm_vcpus gauge\n"
		"vmmd_vm_vcpus{vm=\"a\"} 2\n"
		"vmmd_vm_vcpus{vm=\"b\"} 0.5\n");
	free(t);
	prom_set_free(s);
}

static void test_openmetrics(void **state)
{
	struct prom_set *s = prom_set_new();
	assert_int_equal(prom_add_double(s, "vmmd_process_cpu_seconds", PROM_COUNTER, "CPU \"time\"", "seconds",
					 NULL, NULL, 1.25), 0);
	char *t = render(s, PROM_OPENMETRICS);
	assert_string_equal(t,
		"# TYPE vmmd_process_cpu_seconds counter\n"
		"# UNIT vmmd_process_cpu_seconds seconds\n"
		"# HELP vmmd_process_cpu_seconds CPU \\\"time\\\"\n"
		"vmmd_process_cpu_seconds_total 1.25\n"
		"# EOF\n");
	free(t);
	prom_set_free(s);
}

static void test_escaping(void **state)
{
	struct prom_set *s = prom_set_new();
	struct prom_labels l = { 0 };
	prom_labels_push(&l, "vm", "a\"b\\c\nd</script>");
	assert_int_equal(prom_add_u64(s, "x", PROM_GAUGE, "help\\with\nnewline", NULL, &l, NULL, 7), 0);
	char *t = render(s, PROM_TEXT);
	assert_string_equal(t,
		"# HELP x help\\\\with\\nnewline\n"
		"# TYPE x gauge\n"
		"x{vm=\"a\\\"b\\\\c\\nd</script>\"} 7\n");
	free(t);
	prom_set_free(s);
}

/* Frozen labels render as the same text as labels rendered per sample. */
static void test_frozen_labels(void **state)
{
	struct prom_set *s = prom_set_new(), *other = prom_set_new();
	struct prom_labels vm = { 0 }, extra = { 0 }, bad = { 0 };
	prom_labels_push(&vm, "vm", "a\"b\\c");
	prom_labels_push(&vm, "mode", "shadow");
	prom_labels_push(&extra, "reason", "hlt");
	assert_int_equal(prom_add_u64(s, "plain", PROM_GAUGE, "", NULL, &vm, &extra, 1), 0);
	assert_int_equal(prom_labels_freeze(s, &vm), 0);
	assert_int_equal(vm.frozen, 2);
	assert_int_equal(prom_add_u64(s, "frozen", PROM_GAUGE, "", NULL, &vm, &extra, 1), 0);
	assert_int_equal(prom_add_u64(s, "alone", PROM_GAUGE, "", NULL, &vm, NULL, 2), 0);
	/* A copy that pushes more keeps the frozen text for its first labels. */
	struct prom_labels dev = vm;
	prom_labels_push(&dev, "device", "uart");
	assert_int_equal(prom_add_u64(s, "more", PROM_GAUGE, "", NULL, &dev, &extra, 3), 0);
	/* Frozen in another set: rendered afresh there. */
	assert_int_equal(prom_add_u64(other, "elsewhere", PROM_GAUGE, "", NULL, &vm, NULL, 4), 0);
	char *t = render(s, PROM_TEXT);
	assert_string_equal(t,
		"# HELP plain \n# TYPE plain gauge\n"
		"plain{vm=\"a\\\"b\\\\c\",mode=\"shadow\",reason=\"hlt\"} 1\n"
		"# HELP frozen \n# TYPE frozen gauge\n"
		"frozen{vm=\"a\\\"b\\\\c\",mode=\"shadow\",reason=\"hlt\"} 1\n"
		"# HELP alone \n# TYPE alone gauge\n"
		"alone{vm=\"a\\\"b\\\\c\",mode=\"shadow\"} 2\n"
		"# HELP more \n# TYPE more gauge\n"
		"more{vm=\"a\\\"b\\\\c\",mode=\"shadow\",device=\"uart\",reason=\"hlt\"} 3\n");
	free(t);
	t = render(other, PROM_TEXT);
	assert_non_null(strstr(t, "elsewhere{vm=\"a\\\"b\\\\c\",mode=\"shadow\"} 4\n"));
	free(t);
	/* A bad label is not frozen, and still refused per sample. */
	prom_labels_push(&bad, "1vm", "x");
	assert_int_equal(prom_labels_freeze(s, &bad), -EINVAL);
	assert_int_equal(bad.frozen, 0);
	assert_int_equal(prom_add_u64(s, "plain", PROM_GAUGE, "", NULL, &bad, NULL, 1), -EINVAL);
	prom_set_free(other);
	prom_set_free(s);
}

static void test_refusals(void **state)
{
	struct prom_set *s = prom_set_new();
	struct prom_labels bad = { 0 }, reserved = { 0 }, full = { 0 };
	prom_labels_push(&bad, "1vm", "x");
	prom_labels_push(&reserved, "__name__", "x");
	assert_int_equal(prom_add_u64(s, "9lives", PROM_GAUGE, "", NULL, NULL, NULL, 1), -EINVAL);
	assert_int_equal(prom_add_u64(s, "has-dash", PROM_GAUGE, "", NULL, NULL, NULL, 1), -EINVAL);
	assert_int_equal(prom_add_u64(s, "ok", PROM_GAUGE, "", NULL, &bad, NULL, 1), -EINVAL);
	assert_int_equal(prom_add_u64(s, "ok", PROM_GAUGE, "", NULL, &reserved, NULL, 1), -EINVAL);
	assert_int_equal(prom_add_u64(s, "ok", PROM_GAUGE, "", NULL, NULL, NULL, 1), 0);
	/* One family, one type. */
	assert_int_equal(prom_add_u64(s, "ok", PROM_COUNTER, "", NULL, NULL, NULL, 1), -EINVAL);
	for (int i = 0; i < PROM_MAX_LABELS; i++)
		assert_int_equal(prom_labels_push(&full, "l", "v"), 0);
	assert_int_equal(prom_labels_push(&full, "l", "v"), -E2BIG);
	assert_int_equal(prom_add_u64(s, "ok", PROM_GAUGE, "", NULL, &full, &bad, 1), -EINVAL);
	prom_set_free(s);
}

static void test_many_families(void **state)
{
	/* Past the first hash growths, every family is still found, once. */
	struct prom_set *s = prom_set_new();
	char name[32];
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 500; i++) {
			snprintf(name, sizeof(name), "f_%d", i);
			assert_int_equal(prom_add_u64(s, name, PROM_GAUGE, "", NULL, NULL, NULL, (uint64_t) i), 0);
		}
	assert_int_equal(prom_set_families(s), 500);
	assert_int_equal(prom_set_samples(s), 1000);
	prom_set_free(s);
}

static void test_values(void **state)
{
	struct prom_set *s = prom_set_new();
	prom_add_double(s, "a", PROM_GAUGE, "", NULL, NULL, NULL, 0.1);
	prom_add_double(s, "b", PROM_GAUGE, "", NULL, NULL, NULL, 1.0 / 0.0);
	prom_add_double(s, "c", PROM_GAUGE, "", NULL, NULL, NULL, 0.0 / 0.0);
	char *t = render(s, PROM_TEXT);
	assert_non_null(strstr(t, "\na 0.1\n"));
	assert_non_null(strstr(t, "\nb +Inf\n"));
	assert_non_null(strstr(t, "\nc NaN\n"));
	free(t);
	prom_set_free(s);
}

static void test_accept(void **state)
{
	assert_int_equal(prom_format_from_accept(NULL), PROM_TEXT);
	assert_int_equal(prom_format_from_accept("*/*"), PROM_TEXT);
	assert_int_equal(prom_format_from_accept("text/plain"), PROM_TEXT);
	/* What Prometheus 2.x sends. */
	assert_int_equal(prom_format_from_accept("application/openmetrics-text;version=1.0.0,"
		"application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
		PROM_OPENMETRICS);
	assert_int_equal(prom_format_from_accept("text/plain;q=1, application/openmetrics-text;q=0.3"), PROM_TEXT);
	assert_int_equal(prom_format_from_accept("application/openmetrics-text;q=0"), PROM_TEXT);
	assert_int_equal(prom_format_from_accept("Application/OpenMetrics-Text"), PROM_OPENMETRICS);
}

static void test_sanitize(void **state)
{
	char out[8];
	prom_sanitize("a.b-c/d", out, sizeof(out));
	assert_string_equal(out, "a_b_c_d");
	prom_sanitize("0123456789", out, sizeof(out));
	assert_string_equal(out, "0123456");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grouped_text),
		cmocka_unit_test(test_openmetrics),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_frozen_labels),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_many_families),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_sanitize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
