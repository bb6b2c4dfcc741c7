// SPDX-License-Identifier: MIT
/*
 * realhw: a guest written the way one writes for real hardware, not for
 * vmmd — the four cases of issue 12, where shadow mode once differed from
 * the CPU. It keeps only the guest contract of docs/shadow.md (no popf to
 * set IF, nothing in PML4 slot 510) and otherwise does what a kernel does:
 *
 *   1. lgdt of its own GDT (Linux's layout: kernel CS 0x10, SS 0x18, user
 *      CS32 0x23, DS 0x2b, CS 0x33), then `pushq $0x10; pushq $1f; lretq`
 *      before it has any IDT, then mov to SS/DS/ES/FS/GS (FS and GS take
 *      their base from the descriptor: FS_BASE was 0x1000 before);
 *   2. a live page-table page edited the way Linux edits PTEs: `btrq $63`
 *      (the instruction, clearing NX), `lock bts`, `lock btr` with a
 *      register bit offset, `xchg`, `lock cmpxchg`, `lock and`, plain `mov`;
 *      after each an invlpg and an access that shows the new PTE in effect;
 *      then an x87 `fnstsw` into the same page (vmmd does not emulate it);
 *   3. user mode entered with iretq (CS 0x33, SS 0x2b, RFLAGS 0x202), then
 *      `syscall`: the handler checks R11.IF = 1 and RCX, returns with sysretq;
 *   4. a syscall that never returns (the kernel switches back to its own
 *      saved context), iretq to user mode again, a #DE there whose frame
 *      must carry CS 0x33, SS 0x2b and the user RSP and arrive on TSS.rsp0;
 *      then a user read of kernel memory, after the kernel itself read the
 *      user page: #PF, error code 5 (user mode is really user mode).
 *
 * Each case prints one line; the output is the same in every mode and on
 * every host except for lines that start with "realhw: host quirk", which
 * name a documented quirk of the host (DESIGN.md): here, `syscall` from
 * CPL3 on a host without VT-x stays at CPL3 and faults at the supervisor
 * LSTAR page (lib/entry_path.c turns that back into a syscall). `only=N`
 * runs case 1 (always: it sets up the CPU) and case N.
 */
#include "cpu.h"
#include "cpu_tables.h"
#include "entry_path.h"
#include "guest.h"
#include "trap_entry.h"

#define EXIT_OK     42
#define EXIT_FAIL   99

#define STR_(x) #x
#define STR(x) STR_(x)          /* constants shared with the assembly */

/* Linux's GDT layout (arch/x86/include/asm/segment.h). */
#define K_CS        0x10
#define K_SS        0x18
#define U_CS32      0x23
#define U_DS        0x2b
#define U_CS        0x33
#define TSS_SEL     0x40

#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define EFER_NXE    0x800
#define CR0_WP      0x10000
#define RFLAGS_IF   0x200
#define USER_RFLAGS 0x202
#define SYSCALL_FMASK 0x47700   /* TF IF DF NT AC, as Linux */

#define PTE_P       0x001ull
#define PTE_W       0x002ull
#define PTE_U       0x004ull
#define PTE_PS      0x080ull
#define PTE_NX      (1ull << 63)
#define PF_P        0x01
#define PF_W        0x02
#define PF_U        0x04
#define PF_I        0x10

#define KERNEL_MAP_END  0x1000000ull    /* 16 MiB identity, 2 MiB supervisor pages */
#define TEST_VA         0x40000000ull   /* case 2: the page whose PTE is edited */
#define USER_CODE_VA    0x8000000000
#define USER_STACK_VA   0x8000010000
#define USER_STACK_TOP  0x8000011000
#define KERNEL_READ_VA  0x100000        /* what user code must not read */
#define TEST_MAGIC      0x7265616c68770a00ull

#define VEC_DE      0
#define VEC_PF      14
#define VEC_SYSCALL 0x100
#define SYS_R11     1
#define SYS_EXIT    2
#define KILLED      0x1000

static uint64_t gdt[10] __attribute__((aligned(16))) = {
	0, 0x00cf9a000000ffffull /* 0x08: 32-bit kernel code, unused */, GDT_KERNEL_CODE64, GDT_KERNEL_DATA,
	GDT_USER_CODE32, GDT_USER_DATA, GDT_USER_CODE64, 0, 0, 0 /* 0x40: the TSS */,
};
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[32] __attribute__((aligned(16)));
static uint8_t trap_stack[8192] __attribute__((aligned(16)));

#define PAGE __attribute__((aligned(4096)))
static uint64_t pml4[512] PAGE, pdpt_k[512] PAGE, pd_k[512] PAGE, pd_t[512] PAGE;
static uint64_t pdpt_u[512] PAGE, pd_u[512] PAGE, pt_u[512] PAGE;
uint64_t test_pte[512] PAGE;    /* case 2's live page table (the asm names it) */
static uint8_t test_frame[4096] PAGE;
static uint8_t user_stack[4096] PAGE;

/* Shared with the assembly. */
uint64_t syscall_user_rsp, syscall_kernel_rsp;
extern char syscall_entry[], user_page[], user_case3[], user_case3_ret[], user_divide_entry[], user_divide[],
	user_read_kernel[], probe_read_insn[], probe_read_done[], probe_write_insn[], probe_write_done[];
uint64_t probe_call(uint64_t va);
uint64_t probe_read(uint64_t va);
uint64_t probe_write(uint64_t va);

static struct {
	struct entry_paths paths;
	bool armed;                     /* a kernel fault is expected (case 2) */
	struct trapframe fault;         /* the last expected or user fault */
	uint64_t fault_cr2, fault_stack;
	uint64_t r11, rcx;              /* case 3: what the syscall handler saw */
} k;

/* --- assembly: syscall entry, probes (traps and user mode: lib/trap_entry.c) ---- */

__asm__(
	".text\n"
	"	.balign 16\n"
	"syscall_entry:\n"
	"	movq %rsp, syscall_user_rsp(%rip)\n"
	"	movq syscall_kernel_rsp(%rip), %rsp\n"
	"	pushq $" STR(U_DS) "\n	pushq syscall_user_rsp(%rip)\n	pushq %r11\n"
	"	pushq $" STR(U_CS) "\n	pushq %rcx\n	pushq $0\n	pushq $" STR(VEC_SYSCALL) "\n"
	"	jmp trap_entry_common\n"

	/* Probes return 0, or 1 when the expected fault came (trap() resumes
	 * them past the access; a faulting call returns to its caller). */
	"	.globl probe_call, probe_read, probe_write\n"
	"probe_call:\n"
	"	xor %eax, %eax\n	call *%rdi\n	ret\n"
	"probe_read:\n"
	"	xor %eax, %eax\n"
	"probe_read_insn:\n"
	"	mov (%rdi), %rdx\n"
	"probe_read_done:\n"
	"	ret\n"
	"probe_write:\n"
	"	xor %eax, %eax\n"
	"probe_write_insn:\n"
	"	movq $1, 8(%rdi)\n"
	"probe_write_done:\n"
	"	ret\n");

/* User code: a page of its own, mapped at USER_CODE_VA; RIP-relative only. */
__asm__(
	".section .text.user, \"ax\", @progbits\n"
	".balign 4096\n"
	".globl user_page, user_case3, user_case3_ret, user_divide_entry, user_divide, user_read_kernel\n"
	"user_page:\n"
	"user_case3:\n"
	"	mov $" STR(SYS_R11) ", %eax\n"
	"	syscall\n"
	"user_case3_ret:\n"
	"	mov %rax, %rdi\n"
	"	mov $" STR(SYS_EXIT) ", %eax\n"
	"	syscall\n"                      /* never returns */
	"	ud2\n"
	"user_divide_entry:\n"
	"	mov $1, %eax\n	xor %edx, %edx\n	xor %ecx, %ecx\n"
	"user_divide:\n"
	"	div %rcx\n"                     /* #DE */
	"	ud2\n"
	"user_read_kernel:\n"
	"	mov " STR(KERNEL_READ_VA) ", %rax\n"   /* #PF, error code 5 */
	"	ud2\n"
	".balign 4096\n"
	".text\n");

static __noreturn __printf(1, 2) void fail(const char *fmt, ...)
{
	va_list ap;

	printf("realhw: FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	vmm_exit(EXIT_FAIL);
}

static int run_user(uint64_t rip, uint64_t rsp)
{
	return (int) run_user_mode(rip, rsp, U_CS, U_DS, USER_RFLAGS);
}

static uint64_t user_va(const char *label)
{
	return USER_CODE_VA + (uint64_t) (label - user_page);
}

/* --- traps ------------------------------------------------------------------------ */

void trap(struct trapframe *tf)
{
	entry_paths_recognise(&k.paths, tf);
	if (tf->vector == VEC_SYSCALL) {
		if (tf->rax == SYS_EXIT)
			user_return((long) tf->rdi);   /* the syscall that never returns */
		k.r11 = tf->r11;
		k.rcx = tf->rcx;
		tf->rax = 0;
		return;                         /* sysretq */
	}
	k.fault = *tf;
	k.fault_cr2 = tf->vector == VEC_PF ? read_cr2() : 0;
	k.fault_stack = (uint64_t) (uintptr_t) tf;
	if (trap_from_user(tf))
		user_return(KILLED);
	if (!k.armed || tf->vector != VEC_PF)
		fail("exception %llu in kernel mode at 0x%llx, error 0x%llx, cr2 0x%llx", (unsigned long long) tf->vector,
		     (unsigned long long) tf->rip, (unsigned long long) tf->err, (unsigned long long) k.fault_cr2);
	k.armed = false;
	tf->rax = 1;
	if (tf->rip == (uint64_t) (uintptr_t) probe_read_insn) {
		tf->rip = (uint64_t) (uintptr_t) probe_read_done;
	} else if (tf->rip == (uint64_t) (uintptr_t) probe_write_insn) {
		tf->rip = (uint64_t) (uintptr_t) probe_write_done;
	} else {
		/* A fetch fault at the called page: return to probe_call. */
		tf->rip = *(uint64_t *) (uintptr_t) tf->rsp;
		tf->rsp += 8;
	}
}

/* --- case 1: lgdt, far return, segment loads, before any IDT ------------------------- */

static void case1_far_return(void)
{
	struct __packed { uint16_t limit; uint64_t base; } g = { sizeof(gdt) - 1, (uint64_t) (uintptr_t) gdt };
	static volatile uint64_t marker = TEST_MAGIC;
	uint64_t rsp_before, rsp_after, via_fs, via_gs;

	wrmsr(MSR_FS_BASE, 0x1000);
	wrmsr(MSR_GS_BASE, 0x2000);
	__asm__ volatile("mov %%rsp, %0\n\t"
			 "lgdt %4\n\t"
			 "pushq $" STR(K_CS) "\n\t"
			 "pushq $1f\n\t"
			 "lretq\n"
			 "1:\tmov %%rsp, %1\n\t"
			 "mov $" STR(K_SS) ", %%eax\n\t"
			 "mov %%eax, %%ss\n\t"
			 "mov %%eax, %%ds\n\t"
			 "mov %%eax, %%es\n\t"
			 "mov %%eax, %%fs\n\t"
			 "mov %%eax, %%gs\n\t"
			 "mov %%fs:(%5), %2\n\t"
			 "mov %%gs:(%5), %3"
			 : "=&r"(rsp_before), "=&r"(rsp_after), "=&r"(via_fs), "=&r"(via_gs)
			 : "m"(g), "r"(&marker) : "rax", "memory");
	if (rsp_after != rsp_before)
		fail("case 1: lretq left rsp at %+lld", (long long) (rsp_after - rsp_before));
	if (via_fs != TEST_MAGIC || via_gs != TEST_MAGIC)
		fail("case 1: FS/GS bases are not the descriptor's 0 after the loads (read 0x%llx, 0x%llx)",
		     (unsigned long long) via_fs, (unsigned long long) via_gs);
	printf("realhw: case 1: lgdt, lretq to 0x10 before any IDT, mov to ss/ds/es/fs/gs: ok\n");
}

static void setup_cpu(void)
{
	uint64_t base = (uint64_t) (uintptr_t) &tss;

	tss.rsp[0] = (uint64_t) (uintptr_t) (trap_stack + sizeof(trap_stack));
	tss.iomap_base = sizeof(tss);
	syscall_kernel_rsp = tss.rsp[0];
	gdt[TSS_SEL / 8] = (sizeof(tss) - 1) | (base & 0xffffff) << 16 | 0x89ull << 40 | ((base >> 24) & 0xff) << 56;
	gdt[TSS_SEL / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
	idt_set_stubs(idt, 32, trap_entry_stubs);
	for (unsigned v = 0; v < 32; v++)
		idt[v].sel = K_CS;
	idt_load(idt, sizeof(idt));

	/* Supervisor writes honour read-only pages (case 2); not every loader sets it. */
	uint64_t cr0;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | CR0_WP));
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE | EFER_NXE);
	wrmsr(MSR_STAR, (uint64_t) U_CS32 << 48 | (uint64_t) K_CS << 32);
	wrmsr(MSR_LSTAR, (uint64_t) (uintptr_t) syscall_entry);
	wrmsr(MSR_FMASK, SYSCALL_FMASK);
	outb(0x21, 0xff);                       /* user mode runs with IF set: no 8259 interrupts */
	outb(0xa1, 0xff);

	/* Kernel: 0-16 MiB identity (supervisor), TEST_VA through test_pte.
	 * User: code and stack at PML4 slot 1. */
	pml4[0] = (uint64_t) (uintptr_t) pdpt_k | PTE_P | PTE_W;
	pdpt_k[0] = (uint64_t) (uintptr_t) pd_k | PTE_P | PTE_W;
	for (unsigned i = 0; i < KERNEL_MAP_END >> 21; i++)
		pd_k[i] = (uint64_t) i << 21 | PTE_P | PTE_W | PTE_PS;
	pdpt_k[1] = (uint64_t) (uintptr_t) pd_t | PTE_P | PTE_W;
	pd_t[0] = (uint64_t) (uintptr_t) test_pte | PTE_P | PTE_W;
	pml4[1] = (uint64_t) (uintptr_t) pdpt_u | PTE_P | PTE_W | PTE_U;
	pdpt_u[0] = (uint64_t) (uintptr_t) pd_u | PTE_P | PTE_W | PTE_U;
	pd_u[0] = (uint64_t) (uintptr_t) pt_u | PTE_P | PTE_W | PTE_U;
	pt_u[0] = (uint64_t) (uintptr_t) user_page | PTE_P | PTE_U;
	pt_u[(USER_STACK_VA >> 12) & 511] = (uint64_t) (uintptr_t) user_stack | PTE_P | PTE_W | PTE_U | PTE_NX;
	write_cr3((uint64_t) (uintptr_t) pml4);
}

/* --- case 2: PTE edits on a live page table --------------------------------------- */

#define NO_FAULT (-1)

/* After `what`, the probe must have faulted with #PF error want (or not at all). */
static void expect(const char *what, uint64_t faulted, int want)
{
	if (!faulted && want == NO_FAULT)
		return;
	if (faulted && want != NO_FAULT && k.fault.err == (uint64_t) want && k.fault_cr2 >> 12 == TEST_VA >> 12)
		return;
	if (!faulted)
		fail("case 2: after %s: no fault, expected #PF error 0x%x", what, want);
	fail("case 2: after %s: #PF error 0x%llx cr2 0x%llx, expected %s", what, (unsigned long long) k.fault.err,
	     (unsigned long long) k.fault_cr2, want == NO_FAULT ? "no fault" : "another error code");
}

static uint64_t probe(uint64_t (*fn)(uint64_t))
{
	k.armed = true;
	uint64_t r = fn(TEST_VA);
	k.armed = false;
	return r;
}

/* The PTE apart from accessed and dirty, which the CPU sets. */
static void check_pte(const char *what, uint64_t want)
{
	if ((test_pte[0] & ~0x60ull) != want)
		fail("case 2: after %s the PTE is 0x%llx, expected 0x%llx", what, (unsigned long long) test_pte[0],
		     (unsigned long long) want);
}

static void case2_pte_edits(void)
{
	uint64_t frame = (uint64_t) (uintptr_t) test_frame, old, cf, zf;

	test_frame[0] = 0xc3;                                   /* ret */
	*(volatile uint64_t *) (test_frame + 8) = TEST_MAGIC;
	test_pte[0] = frame | PTE_P | PTE_W | PTE_NX;
	invlpg(TEST_VA);
	/* Used as a page table now: with cached shadows it is write-protected. */
	if (probe(probe_read) || *(volatile uint64_t *) (uintptr_t) (TEST_VA + 8) != TEST_MAGIC)
		fail("case 2: 0x%llx does not show the test frame", (unsigned long long) TEST_VA);
	expect("the first fetch (NX)", probe(probe_call), PF_P | PF_I);

	__asm__ volatile("btrq $63, test_pte(%%rip)\n\tsetc %b0" : "=q"(cf) : : "memory", "cc");
	check_pte("btrq $63", frame | PTE_P | PTE_W);
	if (!(cf & 1))
		fail("case 2: btrq $63 must report the old NX bit in CF");
	invlpg(TEST_VA);
	expect("btrq $63", probe(probe_call), NO_FAULT);

	__asm__ volatile("lock btsq $63, test_pte(%%rip)" : : : "memory", "cc");
	check_pte("lock bts", frame | PTE_P | PTE_W | PTE_NX);
	invlpg(TEST_VA);
	expect("lock bts", probe(probe_call), PF_P | PF_I);

	__asm__ volatile("lock btrq %1, test_pte(%%rip)\n\tsetc %b0" : "=q"(cf) : "r"(63ull) : "memory", "cc");
	check_pte("lock btr %reg", frame | PTE_P | PTE_W);
	if (!(cf & 1))
		fail("case 2: lock btr must report the old NX bit in CF");
	invlpg(TEST_VA);
	expect("lock btr %reg", probe(probe_call), NO_FAULT);

	old = frame | PTE_P;
	__asm__ volatile("xchgq %0, test_pte(%%rip)" : "+r"(old) : : "memory");
	check_pte("xchg", frame | PTE_P);
	if ((old & ~0x60ull) != (frame | PTE_P | PTE_W))
		fail("case 2: xchg returned 0x%llx", (unsigned long long) old);
	invlpg(TEST_VA);
	expect("xchg (read-only)", probe(probe_write), PF_P | PF_W);

	old = frame | PTE_P;
	__asm__ volatile("lock cmpxchgq %2, test_pte(%%rip)\n\tsetz %b1"
			 : "+a"(old), "=q"(zf) : "r"(frame | PTE_P | PTE_W) : "memory", "cc");
	check_pte("lock cmpxchg", frame | PTE_P | PTE_W);
	if (!(zf & 1))
		fail("case 2: lock cmpxchg must succeed (ZF)");
	invlpg(TEST_VA);
	expect("lock cmpxchg", probe(probe_write), NO_FAULT);

	__asm__ volatile("lock andq $-2, test_pte(%%rip)" : : : "memory", "cc");
	check_pte("lock and", frame | PTE_W);
	invlpg(TEST_VA);
	expect("lock and (not present)", probe(probe_read), 0);
	__asm__ volatile("movq %0, test_pte(%%rip)" : : "r"(frame | PTE_P | PTE_W) : "memory");
	check_pte("mov", frame | PTE_P | PTE_W);
	invlpg(TEST_VA);
	expect("mov", probe(probe_read), NO_FAULT);
	/* An x87 store, which vmmd does not emulate: it must still happen. */
	test_pte[5] = 0x5a5a5a5a5a5a5a5aull;
	__asm__ volatile("fninit\n\tfnstsw test_pte+40(%%rip)" : : : "memory");
	if (test_pte[5] != 0x5a5a5a5a5a5a0000ull)
		fail("case 2: fnstsw into the page table left 0x%llx", (unsigned long long) test_pte[5]);
	printf("realhw: case 2: PTE edits on a live page table (btrq $63, lock bts, lock btr, xchg, "
	       "lock cmpxchg, lock and, mov, fnstsw): ok\n");
}

/* --- cases 3 and 4: user mode ------------------------------------------------------------ */

static void case3_syscall_flags(void)
{
	k.paths = (struct entry_paths) {
		.lstar = (uint64_t) (uintptr_t) syscall_entry, .user_base = USER_CODE_VA,
		.user_end = USER_STACK_TOP, .user_cs = U_CS, .user_ss = U_DS, .probing = true,
	};
	int r = run_user(user_va(user_case3), USER_STACK_TOP);
	k.paths.probing = false;
	if (r != 0)
		fail("case 3: the user program ended with 0x%x (vector %llu at 0x%llx)", r,
		     (unsigned long long) k.fault.vector, (unsigned long long) k.fault.rip);
	if (!(k.r11 & RFLAGS_IF) || k.rcx != user_va(user_case3_ret))
		fail("case 3: syscall from user mode (RFLAGS 0x%x): R11 0x%llx (IF must be 1), RCX 0x%llx", USER_RFLAGS,
		     (unsigned long long) k.r11, (unsigned long long) k.rcx);
	printf("realhw: case 3: syscall from user mode entered by iretq with RFLAGS 0x%x: R11.IF=1, RCX ok\n",
	       USER_RFLAGS);
	if (k.paths.syscall_path == ENTRY_PATH_FAULT)
		printf("realhw: host quirk syscall-stays-at-cpl3: syscall arrived as #PF at LSTAR\n");
}

static void expect_user_fault(const char *what, uint64_t vector, const char *rip, uint64_t err)
{
	const struct trapframe *f = &k.fault;
	uint64_t lo = (uint64_t) (uintptr_t) trap_stack, hi = lo + sizeof(trap_stack);

	if (f->vector != vector || f->rip != user_va(rip) || f->err != err)
		fail("case 4: %s: vector %llu at 0x%llx error 0x%llx, expected %llu at 0x%llx error 0x%llx", what,
		     (unsigned long long) f->vector, (unsigned long long) f->rip, (unsigned long long) f->err,
		     (unsigned long long) vector, (unsigned long long) user_va(rip), (unsigned long long) err);
	if (f->cs != U_CS || f->ss != U_DS || f->rsp != USER_STACK_TOP || !(f->rflags & RFLAGS_IF))
		fail("case 4: %s: frame cs 0x%llx ss 0x%llx rsp 0x%llx rflags 0x%llx, expected 0x%x 0x%x 0x%llx IF=1",
		     what, (unsigned long long) f->cs, (unsigned long long) f->ss, (unsigned long long) f->rsp,
		     (unsigned long long) f->rflags, U_CS, U_DS, (unsigned long long) USER_STACK_TOP);
	if (k.fault_stack < lo || k.fault_stack >= hi)
		fail("case 4: %s: the handler ran on 0x%llx, not on TSS.rsp0's stack", what,
		     (unsigned long long) k.fault_stack);
}

static void case4_mode_after_exit(void)
{
	/* Case 3's program left through SYS_EXIT, a syscall that never returned. */
	int r = run_user(user_va(user_divide_entry), USER_STACK_TOP);
	if (r != KILLED)
		fail("case 4: the dividing program ended with 0x%x", r);
	expect_user_fault("#DE", VEC_DE, user_divide, 0);

	(void) *(volatile uint64_t *) (uintptr_t) USER_CODE_VA;  /* the kernel touches the user page */
	r = run_user(user_va(user_read_kernel), USER_STACK_TOP);
	if (r != KILLED)
		fail("case 4: user code read kernel memory at 0x%x without a fault", KERNEL_READ_VA);
	expect_user_fault("#PF", VEC_PF, user_read_kernel, PF_P | PF_U);
	if (k.fault_cr2 != KERNEL_READ_VA)
		fail("case 4: #PF cr2 0x%llx", (unsigned long long) k.fault_cr2);
	printf("realhw: case 4: after a syscall that never returned, iretq to 0x%x/0x%x: user #DE and #PF "
	       "(error 5) frames carry cs 0x%x ss 0x%x, the user rsp, on TSS.rsp0: ok\n", U_CS, U_DS, U_CS, U_DS);
}

void guest_main(const struct guest_boot *b)
{
	long only = cmdline_int("only", 0);

	if (b->memory_bytes < KERNEL_MAP_END)
		fail("needs %llu MiB of memory", KERNEL_MAP_END >> 20);
	case1_far_return();
	setup_cpu();
	if (!only || only == 2)
		case2_pte_edits();
	if (!only || only == 3 || only == 4)
		case3_syscall_flags();
	if (!only || only == 4)
		case4_mode_after_exit();
	printf("realhw: all checks passed\n");
	vmm_exit(EXIT_OK);
}
