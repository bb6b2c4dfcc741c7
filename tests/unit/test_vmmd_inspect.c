/* SPDX-License-Identifier: MIT */
/* The pure helpers of vmmd/worker/inspect.c: register JSON both ways, the guest PCB, entry flags, walk costs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/macro.h"
#include "vmmd/worker/guest_paging.h"
#include "vmmd/worker/inspect.h"

static uint64_t get_u64(struct json_object *o, const char *key)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_uint64(v);
}

static bool get_bool(struct json_object *o, const char *key)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_boolean(v);
}

static void test_regs_json(void **state)
{
	static const char *const names[] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9",
					     "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags" };
	struct kvm_regs r;
	uint64_t *p = (uint64_t *) &r;
	for (size_t i = 0; i < sizeof(r) / 8; i++)
		p[i] = 0x1000 + i;
	r.rip = 0xffffffff80001234ULL;   /* above INT64_MAX: must stay exact */
	struct json_object *o = inspect_regs_json(&r);
	assert_int_equal(json_object_object_length(o), 18);
	for (size_t i = 0; i < 18; i++)
		assert_true(json_object_object_get_ex(o, names[i], NULL));
	assert_true(get_u64(o, "rip") == 0xffffffff80001234ULL);
	assert_int_equal(get_u64(o, "rax"), r.rax);
	assert_int_equal(get_u64(o, "r15"), r.r15);
	assert_string_equal(json_object_to_json_string(json_object_object_get(o, "rip")), "18446744071562072628");
	json_object_put(o);
}

static void test_regs_apply(void **state)
{
	struct kvm_regs r = { .rax = 1, .rip = 2 }, before;
	struct rpc_error err = { 0 };
	struct json_object *o = json_tokener_parse("{\"rax\": 18446744073709551615, \"rip\": 4096, \"r9\": 9}");
	assert_int_equal(inspect_regs_apply(o, &r, &err), 0);
	assert_true(r.rax == ~0ULL);
	assert_int_equal(r.rip, 4096);
	assert_int_equal(r.r9, 9);
	json_object_put(o);

	static const char *const bad[][2] = {
		{ "{\"rax\": 1, \"eax\": 2}", "regs.eax" },
		{ "{\"rbx\": -5}", "regs.rbx" },
		{ "{\"rbx\": \"0x10\"}", "regs.rbx" },
		{ "{\"rbx\": 1.5}", "regs.rbx" },
		{ "{}", "regs" },
		{ "[1]", "regs" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		before = r;
		memset(&err, 0, sizeof(err));
		o = json_tokener_parse(bad[i][0]);
		assert_non_null(o);
		assert_true(inspect_regs_apply(o, &r, &err) < 0);
		assert_int_equal(err.code, RPC_INVALID_PARAMS);
		assert_string_equal(err.field, bad[i][1]);
		assert_memory_equal(&r, &before, sizeof(r));   /* untouched, also when the bad key comes last */
		json_object_put(o);
	}
	assert_true(inspect_regs_apply(NULL, &r, &err) < 0);
}

static void test_pcb(void **state)
{
	struct kvm_regs regs = { .rflags = 0x202 };
	struct kvm_sregs s = { 0 };
	s.cr0 = 0x80000011;
	s.cr3 = 0x123000 | 0x18;   /* PWT|PCD bits are not part of the base */
	s.cr4 = 0x20;
	s.efer = 0x500;
	s.idt.base = 0xffff800000010000ULL;
	s.idt.limit = 0xfff;
	s.ss.dpl = 0;
	struct json_object *o = inspect_pcb_json(&regs, &s);
	assert_true(get_bool(o, "interrupts_enabled"));
	assert_true(get_bool(o, "kernel_mode"));
	assert_true(get_u64(o, "idt_base") == 0xffff800000010000ULL);
	assert_int_equal(get_u64(o, "page_table_base"), 0x123000);
	assert_string_equal(json_object_get_string(json_object_object_get(o, "paging")), "4-level");
	json_object_put(o);
	/* User mode: SS.DPL 3 in protected mode. */
	regs.rflags = 0x2;
	s.ss.dpl = 3;
	o = inspect_pcb_json(&regs, &s);
	assert_false(get_bool(o, "interrupts_enabled"));
	assert_false(get_bool(o, "kernel_mode"));
	assert_int_equal(get_u64(o, "cpl"), 3);
	json_object_put(o);
	/* Real mode is CPL 0 whatever SS says. */
	s.cr0 = 0x10;
	o = inspect_pcb_json(&regs, &s);
	assert_true(get_bool(o, "kernel_mode"));
	assert_string_equal(json_object_get_string(json_object_object_get(o, "paging")), "none");
	json_object_put(o);
}

static void test_paging_kind(void **state)
{
	static const struct {
		uint64_t cr0, cr4, efer;
		enum guest_paging_kind kind;
		const char *name;
	} cases[] = {
		{ 0x80000001, 0, 0, GUEST_PAGING_32BIT, "32-bit" },
		{ 0x80000001, 0x20, 0, GUEST_PAGING_PAE, "pae" },
		{ 0x80000001, 0x20, 0x500, GUEST_PAGING_4LEVEL, "4-level" },
		{ 0x80000001, 0x20 | 1u << 12, 0x500, GUEST_PAGING_5LEVEL, "5-level" },
		{ 1, 0x20, 0x500, GUEST_PAGING_NONE, "none" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		enum guest_paging_kind k = guest_paging_kind(cases[i].cr0, cases[i].cr4, cases[i].efer);

		assert_int_equal(k, cases[i].kind);
		assert_string_equal(guest_paging_name(k), cases[i].name);
	}
}

static void test_sregs_json(void **state)
{
	struct kvm_sregs s = { 0 };
	s.cs.selector = 8;
	s.cs.l = 1;
	s.gdt.base = 0x1000;
	s.gdt.limit = 23;
	s.cr3 = 0x2000;
	struct json_object *o = inspect_sregs_json(&s);
	static const char *const keys[] = { "cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base", "cs", "ds", "es",
					    "fs", "gs", "ss", "tr", "ldt", "gdt", "idt" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_true(json_object_object_get_ex(o, keys[i], NULL));
	struct json_object *cs = json_object_object_get(o, "cs");
	assert_int_equal(get_u64(cs, "selector"), 8);
	assert_true(get_bool(cs, "l"));
	assert_int_equal(get_u64(json_object_object_get(o, "gdt"), "limit"), 23);
	assert_int_equal(get_u64(o, "cr3"), 0x2000);
	json_object_put(o);
}

static void test_pte_flags(void **state)
{
	struct json_object *a = inspect_pte_flags_json(0x8000000000200083ULL, 2);
	assert_string_equal(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN), "[\"P\",\"W\",\"PS\",\"NX\"]");
	json_object_put(a);
	a = inspect_pte_flags_json(0x1e5, 1);   /* P U A D, bit 7 = PAT in a PTE, G */
	assert_string_equal(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN), "[\"P\",\"U\",\"A\",\"D\",\"PAT\",\"G\"]");
	json_object_put(a);
	a = inspect_pte_flags_json(0, 4);
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
}

static void test_references(void **state)
{
	/* Bhargava et al. 2008: a 4-level guest walk under 4-level nested tables makes 24 references. */
	assert_int_equal(inspect_refs_1d(4), 4);
	assert_int_equal(inspect_refs_2d(4, 4, true), 24);
	assert_int_equal(inspect_refs_2d(3, 4, true), 19);   /* 2 MiB guest page */
	assert_int_equal(inspect_refs_2d(2, 4, true), 14);   /* 1 GiB guest page */
	assert_int_equal(inspect_refs_2d(2, 4, false), 10);  /* stopped at a not-present PDPT entry */
	assert_int_equal(inspect_refs_2d(4, 5, true), 29);   /* 5-level host tables */
}

static void test_rights(void **state)
{
	char b[5];
	inspect_rights(false, true, false, b);
	assert_string_equal(b, "srwx");
	inspect_rights(true, false, true, b);
	assert_string_equal(b, "ur--");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regs_json),
		cmocka_unit_test(test_regs_apply),
		cmocka_unit_test(test_pcb),
		cmocka_unit_test(test_paging_kind),
		cmocka_unit_test(test_sregs_json),
		cmocka_unit_test(test_pte_flags),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_rights),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
