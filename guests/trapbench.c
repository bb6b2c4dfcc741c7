// SPDX-License-Identifier: MIT
/*
 * trapbench: the guest behind benchmarks B6 (shadow trap cost) and B9
 * (CPU-bound loop), bench/b6_trap.py and bench/b9_cpu.py.
 *
 * It loads its own GDT (kernel code/data, user data/code64, a TSS with
 * rsp0) and IDT (exceptions 0-31), and one page table mapping the first
 * 1 GiB with 2 MiB pages that user mode may touch, so the same code runs
 * in guest kernel mode and guest user mode. Then it times operations with
 * rdtsc and prints one line per measurement:
 *
 *   trapbench: begin NAME
 *   trapbench: result NAME n=N cycles=C
 *
 * (the harness also times the gap between the two lines by the console
 * events' arrival) and ends with "trapbench: done" and exit code 0.
 *
 * Command line: bench=trap|loop (default trap), n=N operations, kn=N for
 * work the guest kernel does in hw mode (default 200: KVM emulates guest
 * CPL0 code on a host without VT-x, ~1000x slower), reps=R, fill=F pages
 * (shadow mode, first repetition only).
 *
 *   bench=trap, hw mode
 *     floor        N x `outb %al, $0x80` in user mode, allowed by IOPL 3 and
 *                  by the TSS I/O bitmap, which opens port 0x80 (KVM without
 *                  VT-x, PVM, forces IOPL 0 in guest user mode: the bitmap
 *                  is what lets it through there). Every one is a
 *                  KVM_EXIT_IO to vmmd's bus (port 0x80 is unclaimed) and
 *                  back, nothing else: the raw exit floor
 *     kernel-out   kn x the same in guest kernel mode (emulated CPL0 here)
 *   bench=trap, shadow mode (the kernel runs at real CPL3, IOPL 0)
 *     trap-out     N x `outb %al, $0x80` in guest kernel mode: #GP, the
 *                  monitor's stub exits to vmmd, which decodes and emulates
 *                  the out on its bus, and re-enters: a full shadow trap
 *     trap-cli     N x `cli` in guest kernel mode: a trap without the bus
 *     hc-port      N x vmmd's hypercall through its port (`out %al, $0xef`,
 *                  open in the monitor's I/O bitmap: a plain port exit)
 *     hc-msr       N x the same hypercall through `wrmsr` (a #GP trap)
 *     syscall      N x `syscall` in guest kernel mode to a handler that
 *                  jumps back: one trap (the #PF at the monitor's LSTAR on
 *                  this host), the path a Xen PV hypercall takes
 *     fill         fill=F (default 64) x a read of a fresh 4 KiB page of
 *                  guest memory above the image, through the identity map:
 *                  mapped by the guest (2 MiB pages), so no guest #PF, but
 *                  not yet in vmmd's shadow: each read is a shadow miss
 *                  that vmmd fills (one fill each where shadow.prefetch is
 *                  1). Each page was first read untimed through an alias
 *                  at 0x8000000000 with tables of its own, so the host has
 *                  already allocated and mapped the frame and the timed
 *                  read costs the fill, not the host's first touch. F is
 *                  capped at the pages there are; the result line says how
 *                  many were read.
 *   and checks that the hypercall port from guest user mode is a #GP.
 *   bench=loop, both modes
 *     loop-user    N iterations of bench_loop() (guests/lib/bench_loop.h)
 *                  in guest user mode
 *     loop-kernel  the same in guest kernel mode (kn iterations in hw mode)
 *
 * User mode returns to the kernel with `hlt`: #GP at CPL3 in both modes
 * (in shadow mode vmmd reflects it to this IDT). Shadow-mode guest contract
 * (guests/README.md): CS/SS reloaded with iretq only, no popf, "from user
 * mode" read from the trap frame's CS, nothing in PML4 slot 510.
 */
#include "bench_loop.h"
#include "cpu.h"
#include "cpu_tables.h"
#include "guest.h"

/* GDT selectors, after KERNEL_CS 0x08 and KERNEL_DS 0x10 (lib/cpu_tables.h). */
#define USER_DS      (0x18 | 3)
#define USER_CS      (0x20 | 3)
#define TSS_SEL      0x28

#define RFLAGS_FIXED 0x2
#define RFLAGS_IOPL3 0x3000

#define PTE_P        0x001ull
#define PTE_W        0x002ull
#define PTE_U        0x004ull
#define PTE_PS       0x080ull

#define VEC_GP       13

#define PAGE_4K      0x1000ull
#define PAGE_2M      0x200000ull
#define ALIAS        0x8000000000ull   /* PML4 slot 1: the fill phase's alias of 0-1 GiB */
#define TRAPBENCH_PORT 0x80     /* unclaimed on vmmd's bus in both modes */

#define STR_(x) #x
#define STR(x) STR_(x)

enum op { OP_OUT, OP_CLI, OP_LOOP, OP_HC_PORT, OP_HC_MSR, OP_SYSCALL };

/* What user mode is asked to do and what it measured (user-accessible). */
static volatile struct {
	uint64_t op, n, cycles, check;
} job;

static uint64_t gdt[7] __attribute__((aligned(16))) = {
	0, GDT_KERNEL_CODE64, GDT_KERNEL_DATA, GDT_USER_DATA, GDT_USER_CODE64,
	0, 0,                   /* 0x28 TSS */
};
static struct idt_gate idt[32] __attribute__((aligned(16)));
/* The TSS and its I/O bitmap, which opens TRAPBENCH_PORT only. */
static struct __packed {
	struct tss64 t;
	uint8_t iomap[(TRAPBENCH_PORT >> 3) + 1];
	uint8_t iomap_end;
} tss __attribute__((aligned(16)));
/* Not zeroed at boot (CPL0 stores are emulated in hw mode): filled below. */
static uint64_t pml4[512] __attribute__((aligned(4096), section(".noinit.trapbench")));
static uint64_t pdpt[512] __attribute__((aligned(4096), section(".noinit.trapbench")));
static uint64_t pd[512] __attribute__((aligned(4096), section(".noinit.trapbench")));
/* The alias's own tables: sharing pdpt would share its shadow too. */
static uint64_t alias_pdpt[512] __attribute__((aligned(4096), section(".noinit.trapbench")));
static uint64_t alias_pd[512] __attribute__((aligned(4096), section(".noinit.trapbench")));
static uint8_t trap_stack[8192] __attribute__((aligned(16), section(".noinit.trapbench")));
static uint8_t user_stack[8192] __attribute__((aligned(16), section(".noinit.trapbench")));

uint64_t kernel_rsp;
int run_user(uint64_t rip, uint64_t rsp, uint64_t rflags);
__noreturn void kernel_fault(uint64_t vector, uint64_t err, uint64_t rip);
__noreturn void user_main(void);
extern const char trap_stubs[];
extern const char __image_end[];

/*
 * 32 stubs, 16 bytes apart: push 0 where the CPU pushes no error code,
 * push the vector. A trap from user mode (CS in the frame has RPL 3) ends
 * run_user() with the vector as its value; one from kernel mode is fatal.
 */
__asm__(
	"	.text\n"
	"	.balign 16\n"
	"trap_stubs:\n"
	"	.set vec, 0\n"
	"	.rept 32\n"
	"	.balign 16\n"
	"	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)\n"
	"	.else\n"
	"	pushq $0\n"
	"	.endif\n"
	"	pushq $vec\n"
	"	jmp trap_common\n"
	"	.set vec, vec + 1\n"
	"	.endr\n"
	"trap_common:\n"
	"	testb $3, 24(%rsp)\n"           /* vector, error, rip, cs */
	"	jz 1f\n"
	"	movq (%rsp), %rax\n"
	"	movq kernel_rsp(%rip), %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbp\n"
	"	popq %rbx\n"
	"	ret\n"
	"1:	movq (%rsp), %rdi\n"
	"	movq 8(%rsp), %rsi\n"
	"	movq 16(%rsp), %rdx\n"
	"	andq $-16, %rsp\n"
	"	call kernel_fault\n"

	/* int run_user(rip, rsp, rflags): enter user mode with iretq. */
	"	.globl run_user\n"
	"run_user:\n"
	"	pushq %rbx\n"
	"	pushq %rbp\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, kernel_rsp(%rip)\n"
	"	pushq $" STR(USER_DS) "\n"
	"	pushq %rsi\n"
	"	pushq %rdx\n"
	"	pushq $" STR(USER_CS) "\n"
	"	pushq %rdi\n"
	"	iretq\n");

__noreturn void kernel_fault(uint64_t vector, uint64_t err, uint64_t rip)
{
	printf("trapbench: FAIL: exception %llu in kernel mode, error 0x%llx, rip 0x%llx\n",
	       (unsigned long long) vector, (unsigned long long) err, (unsigned long long) rip);
	vmm_exit(3);
}

/* --- the measured operations (run in either mode) ------------------------ */

static void ops_out(uint64_t n)
{
	__asm__ volatile("1: outb %%al, $" STR(TRAPBENCH_PORT) "\n\t"
			 "dec %0\n\t"
			 "jnz 1b"
			 : "+r"(n) : "a"(0) : "cc", "memory");
}

static void ops_cli(uint64_t n)
{
	__asm__ volatile("1: cli\n\t"
			 "dec %0\n\t"
			 "jnz 1b"
			 : "+r"(n) : : "cc", "memory");
}

/* vmmd's hypercall "restore IF" with IF = 0 (unchanged: the kernel runs
 * with interrupts off), through the hypercall port or through the MSR. */
static void ops_hc_port(uint64_t n)
{
	__asm__ volatile("1: xor %%eax, %%eax\n\t"
			 "outb %%al, $" STR(VMM_PORT_HYPERCALL) "\n\t"
			 "dec %0\n\t"
			 "jnz 1b"
			 : "+r"(n) : "D"(0) : "rax", "cc", "memory");
}

static void ops_hc_msr(uint64_t n)
{
	__asm__ volatile("1: xor %%eax, %%eax\n\t"
			 "wrmsr\n\t"
			 "dec %0\n\t"
			 "jnz 1b"
			 : "+r"(n) : "c"(VMM_MSR_HYPERCALL), "d"(0) : "rax", "cc", "memory");
}

/* syscall from guest kernel mode to a handler that jumps straight back:
 * one trap (on hosts where syscall stays at CPL3, the #PF at the monitor's
 * LSTAR page) and its reflection, no sysret. */
static void ops_syscall(uint64_t n)
{
	__asm__ volatile("1: syscall\n\t"
			 "dec %0\n\t"
			 "jnz 1b"
			 : "+r"(n) : : "rcx", "r11", "cc", "memory");
}

__asm__(".text\n"
	"syscall_back:\n"
	"	jmp *%rcx\n");
extern const char syscall_back[];

/* One read of each of n pages from base on: the fill phase's touch. */
static void touch_pages(uint64_t base, uint64_t n)
{
	__asm__ volatile("1: movb (%0), %%al\n\t"
			 "add $" STR(PAGE_4K) ", %0\n\t"
			 "dec %1\n\t"
			 "jnz 1b"
			 : "+r"(base), "+r"(n) : : "rax", "cc", "memory");
}

static uint64_t timed(uint64_t op, uint64_t n)
{
	uint64_t t0 = bench_rdtsc();

	switch (op) {
	case OP_OUT:
		ops_out(n);
		break;
	case OP_CLI:
		ops_cli(n);
		break;
	case OP_HC_PORT:
		ops_hc_port(n);
		break;
	case OP_HC_MSR:
		ops_hc_msr(n);
		break;
	case OP_SYSCALL:
		ops_syscall(n);
		break;
	default:
		job.check = bench_loop(n);
		break;
	}
	return bench_rdtsc() - t0;
}

__noreturn void user_main(void)
{
	job.cycles = timed(job.op, job.n);
	for (;;)
		__asm__ volatile("hlt");        /* #GP: back to run_user's caller */
}

/* --- set-up ----------------------------------------------------------------- */

static void fill(uint64_t *table, uint64_t v)
{
	uint64_t n = 512;
	void *d = table;

	/* 512 stores, not 4096: CPL0 code is emulated on some hosts */
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(v) : "memory");
}

/* 0-1 GiB identity, 2 MiB pages, user-accessible (no protection wanted);
 * with alias, the same again at ALIAS through tables of its own (shadow
 * mode only: in hw mode these stores are emulated and nothing uses it). */
static void build_page_table(bool alias)
{
	unsigned i;

	fill(pml4, 0);
	fill(pdpt, 0);
	pml4[0] = (uint64_t) (uintptr_t) pdpt | PTE_P | PTE_W | PTE_U;
	pdpt[0] = (uint64_t) (uintptr_t) pd | PTE_P | PTE_W | PTE_U;
	for (i = 0; i < 512; i++)
		pd[i] = (uint64_t) i << 21 | PTE_P | PTE_W | PTE_U | PTE_PS;
	if (alias) {
		fill(alias_pdpt, 0);
		pml4[ALIAS >> 39] = (uint64_t) (uintptr_t) alias_pdpt | PTE_P | PTE_W | PTE_U;
		alias_pdpt[0] = (uint64_t) (uintptr_t) alias_pd | PTE_P | PTE_W | PTE_U;
		for (i = 0; i < 512; i++)
			alias_pd[i] = pd[i];
	}
	write_cr3((uint64_t) (uintptr_t) pml4);
}

static void setup_cpu(bool shadow)
{
	unsigned v;

	tss.t.rsp[0] = (uint64_t) (uintptr_t) (trap_stack + sizeof(trap_stack));
	for (v = 0; v < sizeof(tss.iomap); v++)
		tss.iomap[v] = 0xff;
	tss.iomap[TRAPBENCH_PORT >> 3] &= (uint8_t) ~(1u << (TRAPBENCH_PORT & 7));
	tss.iomap_end = 0xff;
	idt_set_stubs(idt, 32, trap_stubs);
	wrmsr(MSR_STAR, (uint64_t) 0x08 << 32);      /* syscall: kernel CS 0x08, SS 0x10 */
	wrmsr(MSR_LSTAR, (uint64_t) (uintptr_t) syscall_back);
	wrmsr(MSR_FMASK, 0);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	idt_load(idt, sizeof(idt));
	gdt_load(gdt, sizeof(gdt), TSS_SEL, &tss.t, sizeof(tss), RFLAGS_FIXED);
	build_page_table(shadow);
}

/* --- measurements ------------------------------------------------------------- */

static void measure(const char *name, bool user, uint64_t op, uint64_t n, uint64_t rflags)
{
	uint64_t cycles;

	if (!n)
		n = 1;
	printf("trapbench: begin %s\n", name);
	if (user) {
		int r;

		job.op = op;
		job.n = n;
		job.cycles = 0;
		r = run_user((uint64_t) (uintptr_t) user_main,
			     (uint64_t) (uintptr_t) (user_stack + sizeof(user_stack)) - 8, rflags);
		if (r != VEC_GP || !job.cycles) {
			printf("trapbench: FAIL: %s: user mode ended with vector %d before it finished\n", name, r);
			vmm_exit(4);
		}
		cycles = job.cycles;
	} else {
		cycles = timed(op, n);
	}
	printf("trapbench: result %s n=%llu cycles=%llu\n", name, (unsigned long long) n,
	       (unsigned long long) cycles);
}

/* The hypercall port is open in the monitor's I/O bitmap for guest kernel
 * code only: from guest user mode the `out` must be a #GP. */
static void hypercall_from_user(void)
{
	int r;

	job.op = OP_HC_PORT;
	job.n = 1;
	job.cycles = 0;
	r = run_user((uint64_t) (uintptr_t) user_main, (uint64_t) (uintptr_t) (user_stack + sizeof(user_stack)) - 8,
		     RFLAGS_FIXED);
	if (r != VEC_GP || job.cycles) {
		printf("trapbench: FAIL: a hypercall from user mode ended with vector %d\n", r);
		vmm_exit(5);
	}
	printf("trapbench: hypercall from user mode: #GP\n");
}

/* The fill phase (see the top): pages from the first 2 MiB boundary above
 * the image to the top of RAM below 1 GiB, at most `want` of them. */
static void measure_fill(const struct guest_boot *b, long want)
{
	uint64_t base = ((uint64_t) (uintptr_t) __image_end + PAGE_2M - 1) & ~(PAGE_2M - 1);
	uint64_t top = b->memory_bytes < (512 * PAGE_2M) ? b->memory_bytes : 512 * PAGE_2M;
	uint64_t n = top > base ? (top - base) / PAGE_4K : 0, cycles;

	if (want < 1)
		return;
	if ((uint64_t) want < n)
		n = (uint64_t) want;
	if (!n) {
		printf("trapbench: FAIL: fill: no memory above the image (%llu bytes)\n",
		       (unsigned long long) b->memory_bytes);
		vmm_exit(6);
	}
	touch_pages(ALIAS + base, n);
	printf("trapbench: begin fill\n");
	{
		uint64_t t0 = bench_rdtsc();

		touch_pages(base, n);
		cycles = bench_rdtsc() - t0;
	}
	printf("trapbench: result fill n=%llu cycles=%llu\n", (unsigned long long) n, (unsigned long long) cycles);
}

void guest_main(const struct guest_boot *b)
{
	bool shadow = b->mode == VMM_BOOT_MODE_SHADOW;
	long n = cmdline_int("n", 20000), kn = cmdline_int("kn", 200), reps = cmdline_int("reps", 1);
	long fill_pages = cmdline_int("fill", 64);
	char what[16] = "trap";
	long r;

	cmdline_str("bench", what, sizeof(what));
	if (n < 1)
		n = 1;
	if (shadow)
		kn = n;         /* the guest kernel runs natively (at real CPL3) */
	setup_cpu(shadow);
	printf("trapbench: mode=%s bench=%s n=%ld kn=%ld reps=%ld fill=%ld\n", guest_mode_name(b->mode), what, n,
	       kn, reps, fill_pages);
	for (r = 0; r < reps; r++) {
		if (strcmp(what, "loop") == 0) {
			measure("loop-user", true, OP_LOOP, n, RFLAGS_FIXED);
			measure("loop-kernel", false, OP_LOOP, kn, 0);
		} else if (!shadow) {
			measure("floor", true, OP_OUT, n, RFLAGS_FIXED | RFLAGS_IOPL3);
			measure("kernel-out", false, OP_OUT, kn, 0);
		} else {
			measure("trap-out", false, OP_OUT, n, 0);
			measure("trap-cli", false, OP_CLI, n, 0);
			measure("hc-port", false, OP_HC_PORT, n, 0);
			measure("hc-msr", false, OP_HC_MSR, n, 0);
			measure("syscall", false, OP_SYSCALL, n, 0);
			if (r == 0)
				measure_fill(b, fill_pages);   /* fresh pages once only */
			hypercall_from_user();
		}
	}
	printf("trapbench: done\n");
	vmm_exit(0);
}
