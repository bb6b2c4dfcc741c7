/* SPDX-License-Identifier: MIT */
/*
 * Introspection and control of running VMs: regs, mem, translate, maps,
 * irq, bus, stats (docs/introspection.md). Human output by default, the
 * method's result as is with --json.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "vmmctl/inspect_format.h"
#include "vmmctl/output.h"
#include "vmmctl/vmmctl.h"

#define KV_WIDTH 18
#define SECTION_WIDTH 26   /* stats' sections: "    page_fault_pt_write:" fits */

static const struct cmd_option vcpu_option[] = {
	{ .name = "--vcpu", .has_arg = true },
	{}
};

static const struct cmd_option mem_options[] = {
	{ .name = "--vcpu", .has_arg = true },
	{ .name = "--virtual" },
	{ .name = "--physical" },
	{}
};

static const struct cmd_option maps_options[] = {
	{ .name = "--vcpu", .has_arg = true },
	{ .name = "--from", .has_arg = true },
	{ .name = "--to", .has_arg = true },
	{ .name = "--limit", .has_arg = true },
	{}
};

static const struct cmd_option irq_options[] = {
	{ .name = "--vcpu", .has_arg = true },
	{ .name = "--vector", .has_arg = true },
	{ .name = "--nmi" },
	{}
};

/* A number argument or option value; a usage error names it. */
static int number(struct ctl *ctl, const char *what, const char *s, uint64_t *ret)
{
	if (parse_u64(s, ret) < 0)
		return ctl_usage_error(ctl, "%s: %s must be a number (decimal or 0x hex), not '%s'",
				       ctl->cmd->name, what, s);
	return 0;
}

/* {"name": NAME} plus "vcpu" when --vcpu was given. */
static int base_params(struct ctl *ctl, const struct cmd_args *args, struct json_object **ret)
{
	const char *vcpu = cmd_args_get(args, "--vcpu");
	struct json_object *p = ctl_params_name(args->argv[0]);
	uint64_t n;

	if (!p)
		return ctl_oom();
	if (vcpu) {
		int r = number(ctl, "--vcpu", vcpu, &n);

		if (r == 0 && n > INT32_MAX)
			r = ctl_usage_error(ctl, "%s: --vcpu is too large", ctl->cmd->name);
		if (r < 0) {
			json_object_put(p);
			return r;
		}
		json_object_object_add(p, "vcpu", json_object_new_int64((int64_t) n));
	}
	*ret = p;
	return 0;
}

/* Call, then print JSON (--json) or hand the result to human(). */
static int run(struct ctl *ctl, const char *method, struct json_object *params,
	       void (*human)(struct json_object *res, const struct cmd_args *args), const struct cmd_args *args)
{
	struct json_object *res;
	int r = ctl_call(ctl, method, params, &res);

	if (r < 0)
		return r;
	if (ctl->json)
		print_json(stdout, res);
	else
		human(res, args);
	json_object_put(res);
	return 0;
}

/* --- regs ------------------------------------------------------------------------ */

static void print_segment(const char *name, struct json_object *s)
{
	char flags[32] = "";

	if (!s)
		return;
	snprintf(flags, sizeof(flags), "%s%s%s%s", json_object_get_boolean(json_lookup(s, "l")) ? " L" : "",
		 json_object_get_boolean(json_lookup(s, "db")) ? " D/B" : "",
		 json_object_get_boolean(json_lookup(s, "present")) ? "" : " not-present",
		 json_object_get_boolean(json_lookup(s, "unusable")) ? " unusable" : "");
	printf("%-4s sel 0x%04llx  base 0x%016llx  limit 0x%08llx  type 0x%llx  dpl %llu%s\n", name,
	       (unsigned long long) json_lookup_u64(s, "selector"), (unsigned long long) json_lookup_u64(s, "base"),
	       (unsigned long long) json_lookup_u64(s, "limit"), (unsigned long long) json_lookup_u64(s, "type"),
	       (unsigned long long) json_lookup_u64(s, "dpl"), flags);
}

static void regs_human(struct json_object *res, const struct cmd_args *args)
{
	static const char *const gprs[] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
					    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	static const char *const segs[] = { "cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt" };
	struct json_object *regs = json_lookup(res, "regs"), *sregs = json_lookup(res, "sregs");
	struct json_object *pcb = json_lookup(res, "pcb");
	uint64_t rflags = json_lookup_u64(regs, "rflags");

	printf("vcpu %llu (%s mode, %s%s)\n", (unsigned long long) json_lookup_u64(res, "vcpu"),
	       json_lookup_str(res, "mode", "?"), json_lookup_str(res, "mp_state", "?"),
	       json_object_get_boolean(json_lookup(res, "paused")) ? ", VM paused" : "");
	for (size_t i = 0; i < ELEMENTSOF(gprs); i++)
		printf("%-3s %016llx%s", gprs[i], (unsigned long long) json_lookup_u64(regs, gprs[i]), i % 4 == 3 ? "\n" : "  ");
	printf("rip %016llx  rflags %016llx [%s%s%s%s%s]\n", (unsigned long long) json_lookup_u64(regs, "rip"),
	       (unsigned long long) rflags, rflags & 0x200 ? "IF" : "if", rflags & 0x40 ? " ZF" : "",
	       rflags & 0x1 ? " CF" : "", rflags & 0x80 ? " SF" : "", (rflags >> 12) & 3 ? " IOPL>0" : "");
	printf("cr0 %016llx  cr2 %016llx  cr3 %016llx  cr4 %016llx\n",
	       (unsigned long long) json_lookup_u64(sregs, "cr0"), (unsigned long long) json_lookup_u64(sregs, "cr2"),
	       (unsigned long long) json_lookup_u64(sregs, "cr3"), (unsigned long long) json_lookup_u64(sregs, "cr4"));
	printf("cr8 %016llx  efer %016llx  apic_base %016llx\n", (unsigned long long) json_lookup_u64(sregs, "cr8"),
	       (unsigned long long) json_lookup_u64(sregs, "efer"), (unsigned long long) json_lookup_u64(sregs, "apic_base"));
	for (size_t i = 0; i < ELEMENTSOF(segs); i++)
		print_segment(segs[i], json_lookup(sregs, segs[i]));
	printf("gdt  base 0x%016llx  limit 0x%04llx\n", (unsigned long long) json_lookup_u64(sregs, "gdt.base"),
	       (unsigned long long) json_lookup_u64(sregs, "gdt.limit"));
	printf("idt  base 0x%016llx  limit 0x%04llx\n", (unsigned long long) json_lookup_u64(sregs, "idt.base"),
	       (unsigned long long) json_lookup_u64(sregs, "idt.limit"));
	if (pcb)
		printf("pcb  interrupts %s, kernel mode %s (cpl %llu), idt 0x%llx, page tables 0x%llx (%s paging), from %s\n",
		       json_object_get_boolean(json_lookup(pcb, "interrupts_enabled")) ? "enabled" : "disabled",
		       json_object_get_boolean(json_lookup(pcb, "kernel_mode")) ? "yes" : "no",
		       (unsigned long long) json_lookup_u64(pcb, "cpl"), (unsigned long long) json_lookup_u64(pcb, "idt_base"),
		       (unsigned long long) json_lookup_u64(pcb, "page_table_base"), json_lookup_str(pcb, "paging", "?"),
		       json_lookup_str(pcb, "source", "?"));
}

static int cmd_regs(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *p;
	int r = base_params(ctl, args, &p);

	return r < 0 ? r : run(ctl, "vcpu.state", p, regs_human, args);
}

/* --- mem ------------------------------------------------------------------------- */

static void mem_human(struct json_object *res, const struct cmd_args *args)
{
	unsigned char *buf;
	size_t len;

	if (json_lookup_bytes(res, "data", &buf, &len) < 0) {
		ctl_error("mem.read: the result has no readable data");
		return;
	}
	hexdump(stdout, json_lookup_u64(res, "addr"), buf, len);
	free(buf);
}

static int cmd_mem(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *p;
	uint64_t addr, len;
	int r;

	if (number(ctl, "ADDR", args->argv[1], &addr) < 0 || number(ctl, "LEN", args->argv[2], &len) < 0)
		return -EINVAL;
	if (len > INT64_MAX)
		return ctl_usage_error(ctl, "mem: LEN is too large");
	if (cmd_args_has(args, "--virtual") && cmd_args_has(args, "--physical"))
		return ctl_usage_error(ctl, "mem: --virtual and --physical exclude each other");
	r = base_params(ctl, args, &p);
	if (r < 0)
		return r;
	json_object_object_add(p, "addr", json_object_new_uint64(addr));
	json_object_object_add(p, "len", json_object_new_int64((int64_t) len));
	json_object_object_add(p, "space", json_object_new_string(cmd_args_has(args, "--virtual") ? "virtual" : "physical"));
	return run(ctl, "mem.read", p, mem_human, args);
}

/* --- translate --------------------------------------------------------------------- */

/* hw mode on EPT/NPT: the 2-D walk as measured on this host (nested_walk.h). */
static void translate_nested_human(struct json_object *n, struct json_object *physical)
{
	struct json_object *steps = json_lookup(n, "steps"), *kvm = json_lookup(n, "kvm_translate");
	size_t ns = json_object_is_type(steps, json_type_array) ? json_object_array_length(steps) : 0;
	char via[8];

	snprintf(via, sizeof(via), "%s", json_lookup_str(n, "via", "?"));
	for (char *c = via; *c; c++)
		*c = (char) toupper((unsigned char) *c);
	printf("on this host: %s, %llu-level nested tables", via, (unsigned long long) json_lookup_u64(n, "levels"));
	if (json_lookup(n, "leaves"))
		printf("; KVM's leaves %llu x 4 KiB, %llu x 2 MiB, %llu x 1 GiB",
		       (unsigned long long) json_lookup_u64(n, "leaves.4k"), (unsigned long long) json_lookup_u64(n, "leaves.2m"),
		       (unsigned long long) json_lookup_u64(n, "leaves.1g"));
	putchar('\n');
	for (size_t i = 0; i < ns; i++) {
		struct json_object *s = json_object_array_get_idx(steps, i);
		bool page = strcmp(json_lookup_str(s, "reads", ""), "page") == 0;
		char refs[32];

		if (json_lookup(s, "nested_refs"))
			snprintf(refs, sizeof(refs), "%llu", (unsigned long long) json_lookup_u64(s, "nested_refs"));
		else
			snprintf(refs, sizeof(refs), "%llu-%llu", (unsigned long long) json_lookup_u64(s, "nested_refs_min"),
				 (unsigned long long) json_lookup_u64(s, "nested_refs_max"));
		printf("  %-10s  physical 0x%016llx  %s nested%s\n", json_lookup_str(s, "reads", "?"),
		       (unsigned long long) json_lookup_u64(s, "physical"), refs, page ? "" : " + 1");
	}
	if (json_object_get_boolean(json_lookup(n, "exact")))
		printf("2-D walk on this host: %llu references", (unsigned long long) json_lookup_u64(n, "total"));
	else
		printf("2-D walk on this host: %llu to %llu references (large nested leaves: which addresses they cover is not visible)",
		       (unsigned long long) json_lookup_u64(n, "total_min"), (unsigned long long) json_lookup_u64(n, "total_max"));
	if (!kvm)
		printf("; KVM_TRANSLATE finds no page\n");
	else if (physical && json_lookup_u64(n, "kvm_translate") == (uint64_t) json_object_get_uint64(physical))
		printf("; KVM_TRANSLATE agrees\n");
	else
		printf("; KVM_TRANSLATE says 0x%llx\n", (unsigned long long) json_lookup_u64(n, "kvm_translate"));
}

static void translate_human(struct json_object *res, const struct cmd_args *args)
{
	struct json_object *walk = json_lookup(res, "walk"), *fault = json_lookup(res, "fault");
	size_t n = json_object_is_type(walk, json_type_array) ? json_object_array_length(walk) : 0;
	char size[32];

	printf("virtual   0x%016llx  (vcpu %llu, cr3 0x%llx, %s paging)\n", (unsigned long long) json_lookup_u64(res, "virtual"),
	       (unsigned long long) json_lookup_u64(res, "vcpu"), (unsigned long long) json_lookup_u64(res, "cr3"),
	       json_lookup_str(res, "paging", "?"));
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(walk, i), *flags = json_lookup(s, "flags");
		size_t nf = json_object_is_type(flags, json_type_array) ? json_object_array_length(flags) : 0;

		printf("  %-4s  table 0x%09llx [%3llu]  ", json_lookup_str(s, "name", "?"),
		       (unsigned long long) json_lookup_u64(s, "table"), (unsigned long long) json_lookup_u64(s, "index"));
		if (json_lookup(s, "entry")) {
			printf("entry 0x%016llx ", (unsigned long long) json_lookup_u64(s, "entry"));
			for (size_t k = 0; k < nf; k++)
				printf(" %s", json_object_get_string(json_object_array_get_idx(flags, k)));
		} else {
			printf("entry unreadable (outside guest memory)");
		}
		putchar('\n');
	}
	if (fault) {
		printf("not mapped: %s at level %llu\n", json_lookup_str(fault, "reason", "?"),
		       (unsigned long long) json_lookup_u64(fault, "level"));
	} else {
		if (json_lookup(res, "page_size")) {
			format_size(json_lookup_u64(res, "page_size"), size, sizeof(size));
			printf("page      %s, rights %s\n", size, json_lookup_str(res, "rights", "?"));
		}
		printf("physical  0x%016llx\n", (unsigned long long) json_lookup_u64(res, "physical"));
		if (json_lookup(res, "machine"))
			printf("machine   0x%016llx\n", (unsigned long long) json_lookup_u64(res, "machine"));
		else
			printf("machine   -  (no RAM behind this physical address)\n");
	}
	printf("memory references for this walk: %llu (shadow tables or native), %llu (nested paging, %llu-level host tables)\n",
	       (unsigned long long) json_lookup_u64(res, "references.shadow_or_native"),
	       (unsigned long long) json_lookup_u64(res, "references.nested_2d"),
	       (unsigned long long) json_lookup_u64(res, "references.nested_levels"));
	struct json_object *nested = json_lookup(res, "references.nested");
	if (nested)
		translate_nested_human(nested, json_lookup(res, "physical"));
	struct json_object *sh = json_lookup(res, "shadow");
	if (sh) {
		/* Shadow mode: what the real CPU walks instead of the guest's tables. */
		if (json_object_get_boolean(json_lookup(sh, "present")))
			printf("shadow    %s root %s: entry -> machine %s (flags %s, from guest PTE %s), %d references\n",
			       json_lookup_str(sh, "root", "?"), json_lookup_str(sh, "root_machine", "?"),
			       json_lookup_str(sh, "machine", "?"), json_lookup_str(sh, "entry_flags", "?"),
			       json_lookup_str(sh, "guest_pte", "?"), json_object_get_int(json_lookup(sh, "references")));
		else
			printf("shadow    %s root %s: no entry yet (the next access faults and vmmd fills it)\n",
			       json_lookup_str(sh, "root", "?"), json_lookup_str(sh, "root_machine", "?"));
	}
}

static int cmd_translate(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *p;
	uint64_t addr;
	int r;

	if (number(ctl, "ADDR", args->argv[1], &addr) < 0)
		return -EINVAL;
	r = base_params(ctl, args, &p);
	if (r < 0)
		return r;
	json_object_object_add(p, "addr", json_object_new_uint64(addr));
	return run(ctl, "mmu.translate", p, translate_human, args);
}

/* --- maps (mmu.guest) ------------------------------------------------------------------ */

static void maps_human(struct json_object *res, const struct cmd_args *args)
{
	struct json_object *ranges = json_lookup(res, "ranges");
	size_t n = json_object_is_type(ranges, json_type_array) ? json_object_array_length(ranges) : 0;

	if (strcmp(json_lookup_str(res, "paging", "?"), "none") == 0)
		printf("paging is off: virtual = physical\n");
	for (size_t i = 0; i < n; i++) {
		struct json_object *g = json_object_array_get_idx(ranges, i);
		uint64_t v = json_lookup_u64(g, "virtual"), sz = json_lookup_u64(g, "size");
		char size[32];

		format_size(sz, size, sizeof(size));
		/* QEMU's `info mem`: start-end size rights, plus where it lands. */
		printf("%016llx-%016llx %016llx %s -> %016llx  (%s)\n", (unsigned long long) v,
		       (unsigned long long) (v + sz), (unsigned long long) sz, json_lookup_str(g, "flags", "?"),
		       (unsigned long long) json_lookup_u64(g, "physical"), size);
	}
	if (json_object_get_boolean(json_lookup(res, "truncated")))
		printf("... more: continue with --from 0x%llx\n", (unsigned long long) json_lookup_u64(res, "next"));
}

static int cmd_maps(struct ctl *ctl, const struct cmd_args *args)
{
	static const char *const opts[] = { "--from", "--to", "--limit" };
	struct json_object *p;
	uint64_t v;
	int r = base_params(ctl, args, &p);

	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(opts); i++) {
		const char *s = cmd_args_get(args, opts[i]);

		if (!s)
			continue;
		if (number(ctl, opts[i], s, &v) < 0) {
			json_object_put(p);
			return -EINVAL;
		}
		json_object_object_add(p, opts[i] + 2, json_object_new_uint64(v));
	}
	return run(ctl, "mmu.guest", p, maps_human, args);
}

/* --- irq ---------------------------------------------------------------------------- */

static void irq_human(struct json_object *res, const struct cmd_args *args)
{
	const char *kind = json_lookup_str(res, "kind", "?");
	char what[64];

	if (strcmp(kind, "irq") == 0)
		snprintf(what, sizeof(what), "irq %llu", (unsigned long long) json_lookup_u64(res, "irq"));
	else if (strcmp(kind, "vector") == 0)
		snprintf(what, sizeof(what), "vector 0x%llx to vcpu %llu", (unsigned long long) json_lookup_u64(res, "vector"),
			 (unsigned long long) json_lookup_u64(res, "vcpu"));
	else
		snprintf(what, sizeof(what), "nmi to vcpu %llu", (unsigned long long) json_lookup_u64(res, "vcpu"));
	printf("%s: %s (%s)\n", what,
	       json_object_get_boolean(json_lookup(res, "delivered")) ? "delivered" :
	       json_object_get_boolean(json_lookup(res, "pending")) ? "pending" : "not accepted",
	       json_lookup_str(res, "via", "?"));
}

static int cmd_irq(struct ctl *ctl, const struct cmd_args *args)
{
	const char *vector = cmd_args_get(args, "--vector");
	bool nmi = cmd_args_has(args, "--nmi");
	struct json_object *p;
	uint64_t v;
	int r;

	if ((args->argc > 1) + !!vector + nmi != 1)
		return ctl_usage_error(ctl, "irq: give exactly one of IRQ, --vector V and --nmi");
	if (args->argc > 1 && number(ctl, "IRQ", args->argv[1], &v) < 0)
		return -EINVAL;
	if (vector && number(ctl, "--vector", vector, &v) < 0)
		return -EINVAL;
	r = base_params(ctl, args, &p);
	if (r < 0)
		return r;
	if (nmi)
		json_object_object_add(p, "nmi", json_object_new_boolean(true));
	else
		json_object_object_add(p, vector ? "vector" : "irq", json_object_new_uint64(v));
	return run(ctl, "irq.inject", p, irq_human, args);
}

/* --- bus ------------------------------------------------------------------------------- */

static void bus_space(struct table *t, const char *space, struct json_object *list)
{
	size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *g = json_object_array_get_idx(list, i);
		char base[24], size[24], reads[24], writes[24];
		const char *row[7];

		snprintf(base, sizeof(base), "0x%llx", (unsigned long long) json_lookup_u64(g, "base"));
		snprintf(size, sizeof(size), "0x%llx", (unsigned long long) json_lookup_u64(g, "size"));
		format_value(json_lookup(g, "reads"), reads, sizeof(reads));
		format_value(json_lookup(g, "writes"), writes, sizeof(writes));
		row[0] = space;
		row[1] = base;
		row[2] = size;
		row[3] = json_lookup_str(g, "device", "?");
		row[4] = json_lookup_str(g, "handler", "?");
		row[5] = reads;
		row[6] = writes;
		(void) table_add_row(t, row);
	}
}

static void bus_human(struct json_object *res, const struct cmd_args *args)
{
	static const char *const header[] = { "SPACE", "BASE", "SIZE", "DEVICE", "HANDLER", "READS", "WRITES" };
	struct table t;

	if (table_init(&t, 7, header) < 0) {
		ctl_oom();
		return;
	}
	bus_space(&t, "pio", json_lookup(res, "pio"));
	bus_space(&t, "mmio", json_lookup(res, "mmio"));
	table_print(&t, stdout);
	table_done(&t);
	printf("unclaimed accesses: pio %llu, mmio %llu\n", (unsigned long long) json_lookup_u64(res, "misses.pio"),
	       (unsigned long long) json_lookup_u64(res, "misses.mmio"));
}

static int cmd_bus(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *p = ctl_params_name(args->argv[0]);

	return p ? run(ctl, "bus.map", p, bus_human, args) : ctl_oom();
}

/* --- stats -------------------------------------------------------------------------------- */

/* "12 (io 10, intr 2)": the non-zero counters of an object. */
static void counters_line(struct json_object *counts, uint64_t total, char *buf, size_t len)
{
	size_t off = (size_t) snprintf(buf, len, "%llu", (unsigned long long) total);
	const char *sep = " (";

	if (json_object_is_type(counts, json_type_object)) {
		json_object_object_foreach(counts, key, val) {
			if (off >= len || json_object_get_uint64(val) == 0)
				continue;
			off += (size_t) snprintf(buf + off, len - off, "%s%s %llu", sep, key,
						 (unsigned long long) json_object_get_uint64(val));
			sep = ", ";
		}
	}
	if (off < len && strcmp(sep, ", ") == 0)
		snprintf(buf + off, len - off, ")");
}

static uint64_t sum(struct json_object *counts)
{
	uint64_t n = 0;

	if (json_object_is_type(counts, json_type_object)) {
		json_object_object_foreach(counts, key, val) {
			(void) key;
			n += json_object_get_uint64(val);
		}
	}
	return n;
}

/* "bus accesses: 16588 (uart16550@0x3f8 16588)": vmmd's device models that were used. */
static void print_bus(struct json_object *bus, char *line, size_t len)
{
	struct json_object *regions = json_lookup(bus, "regions");
	size_t n = json_object_is_type(regions, json_type_array) ? json_object_array_length(regions) : 0, off;
	uint64_t total = 0;
	if (!bus)
		return;
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(regions, i);
		total += json_lookup_u64(r, "reads") + json_lookup_u64(r, "writes");
	}
	off = (size_t) snprintf(line, len, "%llu", (unsigned long long) total);
	const char *sep = " (";
	for (size_t i = 0; i < n && off < len; i++) {
		struct json_object *r = json_object_array_get_idx(regions, i);
		uint64_t k = json_lookup_u64(r, "reads") + json_lookup_u64(r, "writes");
		if (!k)
			continue;
		off += (size_t) snprintf(line + off, len - off, "%s%s@0x%llx %llu", sep, json_lookup_str(r, "device", "?"),
					 (unsigned long long) json_lookup_u64(r, "base"), (unsigned long long) k);
		sep = ", ";
	}
	if (off < len && strcmp(sep, ", ") == 0)
		snprintf(line + off, len - off, ")");
	print_kv(stdout, KV_WIDTH, "bus accesses", line);
}

/* A nested object as an aligned section: "name:" then a line per member,
 * objects of their own indented further, empty ones as "-". */
static void print_section(const char *name, struct json_object *obj, int depth)
{
	char key[80], value[64];
	snprintf(key, sizeof(key), "%*s%s", depth * 2, "", name);
	if (!json_object_is_type(obj, json_type_object)) {
		format_value(obj, value, sizeof(value));
		print_kv(stdout, SECTION_WIDTH, key, value);
		return;
	}
	if (json_object_object_length(obj) == 0 || depth > 3) {
		print_kv(stdout, SECTION_WIDTH, key, "-");
		return;
	}
	/* A total goes on the section's own line. */
	struct json_object *total = json_lookup(obj, "total");
	if (total && json_object_is_type(total, json_type_int)) {
		format_value(total, value, sizeof(value));
		print_kv(stdout, SECTION_WIDTH, key, value);
	} else {
		print_kv(stdout, SECTION_WIDTH, key, "");
	}
	json_object_object_foreach(obj, k, v)
		if (!(total && strcmp(k, "total") == 0))
			print_section(k, v, depth + 1);
}

static void stats_human(struct json_object *res, const struct cmd_args *args)
{
	struct json_object *vcpus = json_lookup(res, "vcpus");
	size_t n = json_object_is_type(vcpus, json_type_array) ? json_object_array_length(vcpus) : 0;
	char line[512], key[32];

	print_kv(stdout, KV_WIDTH, "mode", json_lookup_str(res, "mode", "-"));
	if (!json_object_get_boolean(json_lookup(res, "live")))
		print_kv(stdout, KV_WIDTH, "counters", "from the last run (no worker now)");
	counters_line(json_lookup(res, "exits"), json_lookup_u64(res, "exits_total"), line, sizeof(line));
	print_kv(stdout, KV_WIDTH, "exits", line);
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vcpus, i);

		snprintf(key, sizeof(key), "  vcpu %zu", i);
		counters_line(v, sum(v), line, sizeof(line));
		print_kv(stdout, KV_WIDTH, key, line);
	}
	counters_line(json_lookup(res, "irqs.injected"), json_lookup_u64(res, "irqs.total"), line, sizeof(line));
	print_kv(stdout, KV_WIDTH, "irqs injected", line);
	if (json_lookup(res, "emulated")) {
		/* "total" is a counter of its own: show the per-instruction ones. */
		struct json_object *em = json_lookup(res, "emulated"), *per = json_object_new_object();
		json_object_object_foreach(em, k, v)
			if (strcmp(k, "total") != 0)
				json_object_object_add(per, k, json_object_get(v));
		counters_line(per, json_lookup_u64(res, "emulated.total"), line, sizeof(line));
		json_object_put(per);
		print_kv(stdout, KV_WIDTH, "emulated by vmmd", line);
	}
	struct json_object *devs = json_lookup(res, "devices");
	size_t ndev = json_object_is_type(devs, json_type_array) ? json_object_array_length(devs) : 0;
	for (size_t i = 0; i < ndev; i++) {
		struct json_object *dv = json_object_array_get_idx(devs, i);
		snprintf(key, sizeof(key), "device %zu", i);
		snprintf(line, sizeof(line), "%s at 0x%llx irq %llu: %llu requests, %llu notifications, "
			 "%llu interrupts, %llu B from the guest, %llu B to it, %llu errors",
			 json_lookup_str(dv, "type", "?"), (unsigned long long) json_lookup_u64(dv, "base"),
			 (unsigned long long) json_lookup_u64(dv, "irq"), (unsigned long long) json_lookup_u64(dv, "requests"),
			 (unsigned long long) json_lookup_u64(dv, "notifications"),
			 (unsigned long long) json_lookup_u64(dv, "interrupts"), (unsigned long long) json_lookup_u64(dv, "bytes_read"),
			 (unsigned long long) json_lookup_u64(dv, "bytes_written"),
			 (unsigned long long) (json_lookup_u64(dv, "errors") + json_lookup_u64(dv, "request_errors")));
		print_kv(stdout, KV_WIDTH, key, line);
	}
	print_bus(json_lookup(res, "bus"), line, sizeof(line));
	/* The nested counters (traps, shadow, pt_switches, and whatever vmmd
	 * adds: xenpv's hypercalls and events) as sections, one counter a line. */
	static const char *const flat[] = { "mode", "live", "exits", "exits_total", "vcpus", "irqs", "emulated",
					    "devices", "bus", NULL };
	json_object_object_foreach(res, member, val) {
		size_t i = 0;
		while (flat[i] && strcmp(flat[i], member) != 0)
			i++;
		if (flat[i])
			continue;
		if (!val) {
			print_kv(stdout, KV_WIDTH, member, "- (shadow mode only)");
			continue;
		}
		print_section(member, val, 0);
	}
}

static int cmd_stats(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *p = ctl_params_name(args->argv[0]);

	return p ? run(ctl, "stats.get", p, stats_human, args) : ctl_oom();
}

const struct cmd_entry cmd_regs_entry = {
	.name = "regs",
	.usage = "NAME [--vcpu N]",
	.summary = "show a vCPU's registers and the guest's PCB view",
	.min_args = 1, .max_args = 1,
	.options = vcpu_option,
	.exec = cmd_regs,
};

const struct cmd_entry cmd_mem_entry = {
	.name = "mem",
	.usage = "NAME ADDR LEN [--virtual] [--vcpu N]",
	.summary = "hex dump of guest memory (physical, or virtual through the vCPU's page tables)",
	.min_args = 3, .max_args = 3,
	.options = mem_options,
	.exec = cmd_mem,
};

const struct cmd_entry cmd_translate_entry = {
	.name = "translate",
	.usage = "NAME ADDR [--vcpu N]",
	.summary = "walk the guest's page tables for a virtual address, level by level",
	.min_args = 2, .max_args = 2,
	.options = vcpu_option,
	.exec = cmd_translate,
};

const struct cmd_entry cmd_maps_entry = {
	.name = "maps",
	.usage = "NAME [--vcpu N] [--from A] [--to A] [--limit N]",
	.summary = "the guest's page-table mappings as ranges (mmu.guest)",
	.min_args = 1, .max_args = 1,
	.options = maps_options,
	.exec = cmd_maps,
};

const struct cmd_entry cmd_irq_entry = {
	.name = "irq",
	.usage = "NAME (IRQ | --vector V | --nmi) [--vcpu N]",
	.summary = "inject an IRQ line edge, a vector (MSI) or an NMI",
	.min_args = 1, .max_args = 2,
	.options = irq_options,
	.exec = cmd_irq,
};

const struct cmd_entry cmd_bus_entry = {
	.name = "bus",
	.usage = "NAME",
	.summary = "PIO and MMIO regions with their devices and access counts",
	.min_args = 1, .max_args = 1,
	.exec = cmd_bus,
};

const struct cmd_entry cmd_stats_entry = {
	.name = "stats",
	.usage = "NAME",
	.summary = "exit and interrupt counters, total and per vCPU",
	.min_args = 1, .max_args = 1,
	.exec = cmd_stats,
};
