// SPDX-License-Identifier: MIT
/*
 * isa's kernel: boot, traps, the random source, the case loop and the log
 * (see isa.h). Command line:
 *
 *   seed=S     the seed (default 1)
 *   first=I    the first case index (default 0)
 *   count=N    cases to run (default 1000)
 *   kind=NAME  run only cases of this kind (others are skipped, not run)
 *   skip=A,B   variants an oracle cannot run (isa.h, SKIP_*): their
 *              records say ISA_SKIPPED
 *   trace      print each case's index and kind before it runs
 *   dump       print every record in hex and exit through the debug-exit
 *              port (QEMU); without it the guest prints a summary and
 *              halts, and the test reads the log with mem.read
 */
#include "cpu.h"
#include "cpu_tables.h"
#include "isa.h"

#define ISA_EXIT_FAIL 99

struct isa_kernel k;
static bool k_trace;

extern char trap_entry_stubs[], isa_stubs[], syscall_entry[], trap_stack_top[], df_stack_top[];
extern char user_text_start[], user_text_end[];

static struct tss_io {
	struct tss64 tss;
	uint8_t iomap[0x400 / 8 + 1];   /* ports 0-0x3ff, then the all-ones byte */
} __packed tss_io __attribute__((aligned(16)));
static struct idt_gate idt[ISA_IDT_VECTORS] __attribute__((aligned(16)));

static __noreturn __printf(1, 2) void fail(const char *fmt, ...)
{
	va_list ap;

	printf("isa: FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	vmm_exit(ISA_EXIT_FAIL);
}

/* --- the random source ------------------------------------------------------ */

static uint64_t rng_state;

void rng_seed(uint64_t seed, uint64_t index)
{
	/* splitmix64 of (seed, index): every case its own stream. */
	uint64_t z = seed * 0x9e3779b97f4a7c15ull + index * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	rng_state = (z ^ (z >> 31)) | 1;
}

uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

uint64_t rng_below(uint64_t n)
{
	return n ? rng() % n : 0;
}

uint64_t rng_pick(const uint64_t *values, size_t n)
{
	return values[rng_below(n)];
}

uint64_t rng_value(void)
{
	static const uint64_t edges[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
		0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 0x00007fffffffffffull, 0xffff800000000000ull,
	};
	switch (rng_below(4)) {
	case 0:
		return RNG_PICK(edges);
	case 1:
		return rng() & 0xff;
	default:
		return rng();
	}
}

uint64_t rng_status_flags(void)
{
	/* CF PF AF ZF SF DF OF */
	return rng() & 0xcd5;
}

/* --- descriptor tables ---------------------------------------------------------- */

static uint64_t desc(uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
	return (limit & 0xffff) | (uint64_t) (base & 0xffffff) << 16 | (uint64_t) access << 40 |
	       (uint64_t) ((limit >> 16) & 0xf) << 48 | (uint64_t) (flags & 0xf) << 52 |
	       (uint64_t) (base >> 24) << 56;
}

static void setup_tables(void)
{
	uint64_t *g = k.gdt;

	/* The CPU state this kernel runs in, whatever the loader left: PE MP ET
	 * NE WP PG; PAE; SCE NXE (LME/LMA as they are: long mode). */
	write_cr0(0x80010033);
	write_cr4(0x20);
	g[SEL_KCODE / 8] = GDT_KERNEL_CODE64;
	g[SEL_KDATA / 8] = GDT_KERNEL_DATA;
	g[0x18 / 8] = GDT_USER_CODE32;
	g[0x20 / 8] = GDT_USER_DATA;
	g[0x28 / 8] = GDT_USER_CODE64;
	g[SEL_DATA_NP / 8] = desc(0, 0xfffff, 0x12, 0xc);             /* P = 0 */
	g[SEL_DATA3_BASE / 8] = desc(ISA_SEG_BASE3, 0xfffff, 0xf2, 0xc);
	g[SEL_DATA0_BASE / 8] = desc(ISA_SEG_BASE0, 0xfffff, 0x92, 0xc);
	g[SEL_RODATA / 8] = desc(0, 0xfffff, 0x90, 0xc);
	g[SEL_XCODE / 8] = desc(0, 0xfffff, 0x98, 0xa);
	g[SEL_RCODE / 8] = desc(0, 0xfffff, 0x9a, 0xa);
	g[SEL_CODE_NP / 8] = desc(0, 0xfffff, 0x1a, 0xa);
	g[SEL_CCODE / 8] = desc(0, 0xfffff, 0xfe, 0xa);

	tss_io.tss.rsp[0] = (uint64_t) (uintptr_t) trap_stack_top;
	tss_io.tss.ist[0] = (uint64_t) (uintptr_t) df_stack_top;   /* IST1: #DF */
	memset(tss_io.iomap, 0xff, sizeof(tss_io.iomap));
	tss_io.iomap[PORT_SCRATCH / 8] &= (uint8_t) ~(1u << (PORT_SCRATCH % 8));
	tss_io.iomap[PORT_LSR / 8] &= (uint8_t) ~(1u << (PORT_LSR % 8));

	idt_set_stubs(idt, 32, trap_entry_stubs);
	idt[8].ist = 1;
	idt_set_gate(idt, VEC_INT_USER, isa_stubs, 3);
	idt_set_gate(idt, VEC_INT_KERNEL, isa_stubs + 16, 0);
	idt_set_gate(idt, VEC_TRAP_USER, isa_stubs + 32, 3);
	idt[VEC_TRAP_USER].attr |= 1;                                   /* trap gate */
	idt_set_gate(idt, VEC_NOT_PRESENT, isa_stubs + 48, 3);
	idt[VEC_NOT_PRESENT].attr &= 0x7f;
	idt_set_gate(idt, 3, trap_entry_stubs + 16 * 3, 3);             /* int3 from user mode */
	idt_set_gate(idt, 4, trap_entry_stubs + 16 * 4, 3);
	idt_load(idt, sizeof(idt));
	/* gdt_load points the descriptor at the whole struct: the bitmap too. */
	gdt_load(g, sizeof(k.gdt), SEL_TSS, &tss_io.tss, sizeof(tss_io), read_rflags());

	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE | (1ull << 11));     /* NXE */
	wrmsr(MSR_STAR, (uint64_t) 0x18 << 48 | (uint64_t) SEL_KCODE << 32);
	wrmsr(MSR_LSTAR, (uint64_t) (uintptr_t) syscall_entry);
	wrmsr(MSR_FMASK, 0x47700);
	/* Nothing may interrupt user mode (it runs with IF set): mask both 8259s. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

/* --- page tables ---------------------------------------------------------------- */

#define PTE_P   0x001ull
#define PTE_W   0x002ull
#define PTE_U   0x004ull
#define PTE_PS  0x080ull
#define PTE_NX  (1ull << 63)

static uint64_t tables_next = ISA_TABLES;

static uint64_t *alloc_table(void)
{
	uint64_t *p = (uint64_t *) (uintptr_t) tables_next;
	uint64_t n = 512;
	void *d = p;

	if (tables_next >= ISA_TABLES_END)
		fail("out of page-table memory");
	tables_next += 4096;
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ull) : "memory");
	return p;
}

static uint64_t *table_at(uint64_t *t, unsigned i, uint64_t flags)
{
	if (!(t[i] & PTE_P))
		t[i] = (uint64_t) (uintptr_t) alloc_table() | PTE_P | PTE_W | flags;
	return (uint64_t *) (uintptr_t) (t[i] & 0x000ffffffffff000ull);
}

static uint64_t *leaf(uint64_t va, uint64_t flags)
{
	uint64_t *t = table_at(k.pml4, (va >> 39) & 511, flags);

	t = table_at(t, (va >> 30) & 511, flags);
	t = table_at(t, (va >> 21) & 511, flags);
	return &t[(va >> 12) & 511];
}

static uint64_t frame(unsigned n)
{
	return ISA_FRAMES + 0x1000ull * n;
}

static void fill(uint64_t pa, uint64_t len, uint8_t byte)
{
	void *d = (void *) (uintptr_t) pa;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(len) : "a"(byte) : "memory");
}

static void setup_paging(const struct guest_boot *b)
{
	uint64_t *pdpt, *pd, user = (uint64_t) (uintptr_t) user_text_start;
	uint32_t a = 0x80000008, bx, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(bx), "+c"(c), "=d"(d));
	k.phys_bits = a & 0xff;
	k.pml4 = alloc_table();
	/* Kernel half: 0-32 MiB identity, 2 MiB supervisor pages. The upper
	 * levels carry U for the user test pages below them. */
	pdpt = table_at(k.pml4, 0, PTE_U);
	pd = table_at(pdpt, 0, PTE_U);
	for (unsigned i = 0; i < ISA_MEMORY_MIN >> 21; i++)
		pd[i] = (uint64_t) i << 21 | PTE_P | PTE_W | PTE_PS;
	k.pd_kernel = pd;

	/* Pattern frames: each qword is its own address ^ ISA_PATTERN. Only
	 * the frames test pages map (0-15, 128-191): every store here is an
	 * emulated instruction in hw mode on some hosts. */
	for (uint64_t *q = (uint64_t *) (uintptr_t) frame(0); q < (uint64_t *) (uintptr_t) frame(16); q++)
		*q = (uint64_t) (uintptr_t) q ^ ISA_PATTERN;
	for (uint64_t *q = (uint64_t *) (uintptr_t) frame(128); q < (uint64_t *) (uintptr_t) frame(192); q++)
		*q = (uint64_t) (uintptr_t) q ^ ISA_PATTERN;
	fill(frame(8), 4096, 0xc3);                                     /* ret */
	for (uint64_t *q = (uint64_t *) (uintptr_t) frame(9); q < (uint64_t *) (uintptr_t) frame(10); q++)
		*q = 0x050f050f050f050full;                             /* syscall */

	k.test_pte[TP_RW] = frame(0) | PTE_P | PTE_W;
	k.test_pte[TP_RO] = frame(1) | PTE_P;
	k.test_pte[TP_NP] = frame(2) | PTE_W;
	k.test_pte[TP_NX] = frame(3) | PTE_P | PTE_W | PTE_NX;
	k.test_pte[TP_URW] = frame(4) | PTE_P | PTE_W | PTE_U;
	k.test_pte[TP_URO] = frame(5) | PTE_P | PTE_U;
	k.test_pte[TP_UNX] = frame(6) | PTE_P | PTE_W | PTE_U | PTE_NX;
	k.test_pte[TP_RSVD] = frame(7) | PTE_P | PTE_W | PTE_U | (k.phys_bits < 52 ? 1ull << 51 : 0);
	k.test_pte[TP_CODE] = frame(8) | PTE_P;
	k.test_pte[TP_UCODE] = frame(9) | PTE_P | PTE_U;
	k.test_pte[TP_EDIT] = frame(128) | PTE_P | PTE_W | PTE_U;
	k.test_pte[TP_EDIT2] = frame(129) | PTE_P | PTE_W | PTE_U;
	k.test_pt = leaf(ISA_TEST_VA, PTE_U) - ((ISA_TEST_VA >> 12) & 511);

	/* User half: the user text, data, a stack, the test page table. */
	for (uint64_t off = 0; user + off < (uint64_t) (uintptr_t) user_text_end; off += 4096)
		*leaf(ISA_USER_CODE + off, PTE_U) = (user + off) | PTE_P | PTE_U;
	for (unsigned i = 0; i < 4; i++) {
		*leaf(ISA_USER_DATA + 0x1000ull * i, PTE_U) = frame(16 + i) | PTE_P | PTE_W | PTE_U;
		*leaf(ISA_USER_STACK + 0x1000ull * i, PTE_U) = frame(24 + i) | PTE_P | PTE_W | PTE_U;
	}
	*leaf(ISA_USER_PT, PTE_U) = (uint64_t) (uintptr_t) k.test_pt | PTE_P | PTE_W | PTE_U;
	reset_test_pages();
	if (b->memory_bytes < ISA_MEMORY_MIN)
		fail("needs %llu MiB of memory, has %llu", ISA_MEMORY_MIN >> 20,
		     (unsigned long long) (b->memory_bytes >> 20));
	write_cr3((uint64_t) (uintptr_t) k.pml4);
}

void reset_test_pages(void)
{
	for (unsigned i = 0; i < TP_COUNT; i++) {
		if (k.test_pt[i] != k.test_pte[i]) {
			k.test_pt[i] = k.test_pte[i];
			invlpg(test_va(i));
		}
	}
}

uint64_t user_va(const void *label)
{
	return ISA_USER_CODE + (uint64_t) ((const char *) label - user_text_start);
}

/* --- traps -------------------------------------------------------------------------- */

void trap(struct trapframe *tf);

void trap(struct trapframe *tf)
{
	entry_paths_recognise(&k.paths, tf);
	if (trap_from_user(tf)) {
		isa_recover = 0;
		k.last = *tf;
		k.last_cr2 = tf->vector == TRAP_VEC_PF ? read_cr2() : 0;
		isa_user_return();
	}
	if (isa_recover && tf->vector != 8) {
		if (k_trace)
			printf("isa:   trap %llu err 0x%llx rip 0x%llx cs 0x%llx\n", (unsigned long long) tf->vector,
			       (unsigned long long) tf->err, (unsigned long long) tf->rip, (unsigned long long) tf->cs);
		k.last = *tf;
		k.last_cr2 = tf->vector == TRAP_VEC_PF ? read_cr2() : 0;
		tf->rip = isa_recover;
		isa_recover = 0;
		return;
	}
	fail("unexpected exception %llu in kernel mode: err=0x%llx rip=0x%llx cr2=0x%llx rsp=0x%llx",
	     (unsigned long long) tf->vector, (unsigned long long) tf->err, (unsigned long long) tf->rip,
	     (unsigned long long) read_cr2(), (unsigned long long) tf->rsp);
}

void rec_trap(struct isa_rec *r)
{
	const struct trapframe *tf = &k.last;

	r->vector = (uint32_t) tf->vector;
	r->error = (uint32_t) tf->err;
	r->cr2 = k.last_cr2;
	r->rip = tf->rip;
	r->cs = tf->cs;
	r->rflags = tf->rflags;
	r->rsp = tf->rsp;
	r->ss = tf->ss;
}

void rand_regs(struct uregs *u)
{
	uint64_t *g = &u->rax;

	for (int i = 0; i < 15; i++)
		g[i] = rng_value();
	u->rflags = rng_status_flags();
}

int run_k(const void *k_snippet, struct uregs *u, struct isa_rec *r)
{
	int faulted = ktry(k_snippet, u);
	if (k_trace)
		printf("isa:   ktry -> %d, last vector %llu\n", faulted, (unsigned long long) k.last.vector);

	if (faulted)
		rec_trap(r);
	/* pushf at CPL0 shows real state in shadow mode (docs/shadow.md, the
	 * guest contract): IF (PVM hosts read 1) and AC (the kernel runs with
	 * the real AC clear). The kernel keeps IF = 0 and does not use AC. */
	u->rflags &= ~0x40200ull;
	return faulted;
}

void run_u(const void *u_snippet, struct uregs *u, struct isa_rec *r)
{
	const struct trapframe *tf = &k.last;

	u->rip = user_va(u_snippet);
	u->cs = SEL_UCODE;
	u->ss = SEL_UDATA;
	u->rsp = ISA_USER_STACK_TOP;
	u->rflags = (u->rflags & 0xcd5) | 0x202;
	if (run_user(u))
		fail("iretq to user mode faulted: vector %llu error 0x%llx", (unsigned long long) tf->vector,
		     (unsigned long long) tf->err);
	rec_trap(r);
	*u = (struct uregs) {
		.rax = tf->rax, .rbx = tf->rbx, .rcx = tf->rcx, .rdx = tf->rdx, .rsi = tf->rsi, .rdi = tf->rdi,
		.rbp = tf->rbp, .r8 = tf->r8, .r9 = tf->r9, .r10 = tf->r10, .r11 = tf->r11, .r12 = tf->r12,
		.r13 = tf->r13, .r14 = tf->r14, .r15 = tf->r15,
		.rip = tf->rip, .cs = tf->cs, .rflags = tf->rflags, .rsp = tf->rsp, .ss = tf->ss,
	};
}

void kdo(const void *snippet, uint64_t rax)
{
	struct uregs u = { .rax = rax };

	(void) ktry(snippet, &u);
}

int run_either(const void *k_snippet, const void *u_snippet, struct uregs *u, struct isa_rec *r)
{
	if (r->variant & VARIANT_USER) {
		run_u(u_snippet, u, r);
		return r->vector != VEC_SYSCALL;
	}
	return run_k(k_snippet, u, r);
}

extern char u_probe[];

/* Which way do syscall and int 0x80 from user mode reach the kernel here? */
static void probe_entry_paths(void)
{
	struct uregs u = { .rip = user_va(u_probe), .cs = SEL_UCODE, .rflags = 0x202,
			   .rsp = ISA_USER_STACK_TOP, .ss = SEL_UDATA };

	k.paths.lstar = (uint64_t) (uintptr_t) syscall_entry;
	k.paths.user_base = ISA_USER_BASE;
	k.paths.user_end = ISA_USER_END;
	k.paths.user_cs = SEL_UCODE;
	k.paths.user_ss = SEL_UDATA;
	k.paths.probing = true;
	for (int i = 0; i < 2; i++) {
		run_user(&u);
		u.rip = k.last.rip;
	}
	k.paths.probing = false;
	if (k.paths.syscall_path == ENTRY_PATH_UNKNOWN || k.paths.int80_path == ENTRY_PATH_UNKNOWN)
		fail("entry probe: syscall path %s, int 0x80 path %s (last vector %llu at 0x%llx)",
		     entry_path_name(k.paths.syscall_path), entry_path_name(k.paths.int80_path),
		     (unsigned long long) k.last.vector, (unsigned long long) k.last.rip);
}

/* --- the case loop ---------------------------------------------------------------------- */

static const struct isa_kind *const kind_tables[] = {
	isa_kinds_cpu, isa_kinds_exc, isa_kinds_mode, isa_kinds_pt,
};

#define MAX_KINDS 64
static const struct isa_kind *kinds[MAX_KINDS];
static unsigned n_kinds, total_weight;

static void collect_kinds(void)
{
	for (size_t t = 0; t < ARRAY_SIZE(kind_tables); t++)
		for (const struct isa_kind *kd = kind_tables[t]; kd->name; kd++) {
			if (n_kinds == MAX_KINDS)
				fail("too many kinds");
			kinds[n_kinds++] = kd;
			total_weight += kd->weight;
		}
}

static unsigned pick_kind(void)
{
	uint64_t w = rng_below(total_weight);

	for (unsigned i = 0; i < n_kinds; i++) {
		if (w < kinds[i]->weight)
			return i;
		w -= kinds[i]->weight;
	}
	return 0;
}

/* The kinds and their fields, for the test to name what differs. */
static void print_kinds(void)
{
	for (unsigned i = 0; i < n_kinds; i++)
		printf("isa: kind %u %s %s\n", i, kinds[i]->name, kinds[i]->fields);
}

/* A checksum of the log for the done line (the test reads the log itself):
 * cheap, since hw mode here emulates every kernel instruction. */
static uint64_t checksum(const uint64_t *q, size_t n)
{
	uint64_t sum = 0;

	while (n--)
		sum = (sum << 7 | sum >> 57) ^ *q++;
	return sum;
}

static void dump(const struct isa_rec *log, uint64_t n)
{
	static const char hex[] = "0123456789abcdef";
	char line[2 * sizeof(struct isa_rec) + 8];

	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *p = (const uint8_t *) &log[i];
		size_t o = 0;
		line[o++] = 'R';
		line[o++] = ' ';
		for (size_t j = 0; j < sizeof(struct isa_rec); j++) {
			line[o++] = hex[p[j] >> 4];
			line[o++] = hex[p[j] & 15];
		}
		line[o++] = '\n';
		serial_write(line, o);
	}
}

static unsigned parse_skip(void)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "cpl0_cmpxchg16b", SKIP_CPL0_CMPXCHG16B }, { "cr_reserved", SKIP_CR_RESERVED },
		{ "far32", SKIP_FAR32 }, { "cpl0_int", SKIP_CPL0_INT },
		{ "iret_bad", SKIP_IRET_BAD }, { "cpl0_far", SKIP_CPL0_FAR },
	};
	char buf[128], *p = buf;
	unsigned bits = 0;

	if (!cmdline_str("skip", buf, sizeof(buf)))
		return 0;
	while (*p) {
		char *e = p;
		while (*e && *e != ',')
			e++;
		size_t n = (size_t) (e - p);
		size_t i;
		for (i = 0; i < ARRAY_SIZE(names); i++)
			if (strlen(names[i].name) == n && memcmp(names[i].name, p, n) == 0)
				break;
		if (i == ARRAY_SIZE(names))
			fail("skip=: unknown name '%.*s'", (int) n, p);
		bits |= names[i].bit;
		p = *e ? e + 1 : e;
	}
	return bits;
}

void guest_main(const struct guest_boot *b)
{
	uint64_t seed = (uint64_t) cmdline_int("seed", 1);
	uint64_t first = (uint64_t) cmdline_int("first", 0);
	uint64_t count = (uint64_t) cmdline_int("count", 1000);
	struct isa_rec *log = (struct isa_rec *) (uintptr_t) ISA_LOG;
	char only[32] = "";

	if ((uint64_t) (uintptr_t) &k >= ISA_TABLES || (uint64_t) (uintptr_t) user_text_end >= ISA_TABLES)
		fail("the image overlaps the page tables");
	if (count > (ISA_LOG_END - ISA_LOG) / sizeof(struct isa_rec))
		fail("count=%llu: the log holds %llu", (unsigned long long) count,
		     (unsigned long long) ((ISA_LOG_END - ISA_LOG) / sizeof(struct isa_rec)));
	cmdline_str("kind", only, sizeof(only));
	k.skip = parse_skip();
	bool trace = k_trace = cmdline_has("trace");
	collect_kinds();
	setup_tables();
	setup_paging(b);
	probe_entry_paths();
	print_kinds();
	printf("isa: seed %llu, cases %llu-%llu\n", (unsigned long long) seed, (unsigned long long) first,
	       (unsigned long long) (first + count - 1));

	for (uint64_t i = 0; i < count; i++) {
		struct isa_rec *r = &log[i];
		*r = (struct isa_rec) { 0 };
		rng_seed(seed, first + i);
		unsigned kd = pick_kind();
		r->index = (uint32_t) (first + i);
		r->kind = (uint16_t) kd;
		r->vector = ISA_NONE;
		if (only[0] && strcmp(only, kinds[kd]->name) != 0)
			continue;
		if (trace)
			printf("isa: case %llu %s\n", (unsigned long long) (first + i), kinds[kd]->name);
		kinds[kd]->run(r);
		if (trace)
			printf("isa:   variant 0x%x vector 0x%x error 0x%x rip 0x%llx v0 0x%llx v1 0x%llx\n", r->variant,
			       r->vector, r->error, (unsigned long long) r->rip, (unsigned long long) r->v[0],
			       (unsigned long long) r->v[1]);
	}

	printf("isa: done: %llu records of %u bytes at 0x%llx, checksum 0x%016llx\n", (unsigned long long) count,
	       (unsigned) sizeof(struct isa_rec), ISA_LOG,
	       (unsigned long long) checksum((const uint64_t *) log, count * sizeof(struct isa_rec) / 8));
	if (cmdline_has("dump")) {
		dump(log, count);
		printf("isa: end of dump\n");
		vmm_exit(0);
	}
	halt_forever();
}
