// SPDX-License-Identifier: MIT
/*
 * pt: the paging and protection acceptance guest. Its console output must be
 * byte for byte the same in hw mode, in shadow mode (both strategies) and
 * under QEMU, so it prints no address that depends on the build and nothing
 * that depends on the path an event took to reach it.
 *
 * It builds its own GDT (kernel code/data, user code32/data/code64 in the
 * order sysret needs, a 64-bit TSS with rsp0), IDT (exceptions 0-31 and a
 * DPL3 gate for int 0x80) and two address spaces: two PML4s that share the
 * kernel's mapping (PML4 slot 0: 0-8 MiB identity, 2 MiB supervisor pages)
 * and map different user pages at the same user addresses (slot 1,
 * 0x8000000000). Then, step by step (the output shows each):
 *
 *   1. mov cr3 between the two spaces: the same user address holds different
 *      text;
 *   2. a PTE changes to another frame, invlpg, the new frame is seen;
 *   3. a kernel write to an unmapped page: its own #PF handler prints CR2 and
 *      the error code, maps the page, and the write is retried; then a
 *      kernel read through a 2 MiB entry with a reserved bit set (bit 13):
 *      #PF with RSVD and P (0x9), the handler clears the bit, the read is
 *      retried (QEMU's TCG leaves P out: docs/testing.md, host quirks);
 *   4. process 1 (space A) enters user mode with iretq and writes lines with
 *      `syscall` (the kernel returns with sysretq) and `int 0x80` (iretq),
 *      checking return values and preserved registers; exits with status 0;
 *   5. process 2 (space B) prints its page, then divides by zero: the #DE
 *      handler kills it;
 *   6. process 3 reads kernel memory from user mode: the #PF handler kills it;
 *   7. exits through the debug-exit port with code PT_EXIT_OK (42).
 *
 * Host quirk (DESIGN.md, verified with a test guest on a host without VT-x,
 * where KVM emulates CPL0): `syscall` at CPL3 jumps to LSTAR without leaving
 * CPL3 (RCX, R11 and FMASK are applied, CS stays the user's), so the
 * supervisor-only LSTAR page faults: #PF, error code 5, CR2 = RIP = LSTAR;
 * `int n` at CPL3 raises #UD at the int instruction. pt detects this once at
 * boot by running a probe process, silently, and from then on its #PF
 * handler turns "CR2 == RIP == LSTAR, from user mode" into a syscall entry
 * (RCX/R11 taken as syscall left them) and its #UD handler turns "CD 80 at
 * RIP" into int 0x80, advancing RIP past it. Both then run the same
 * dispatcher and return the same way as the native entries (sysretq /
 * iretq), so the output is identical on every host. `verbose` on the command
 * line adds one line with the paths seen (it breaks comparisons: tests
 * leave it off).
 *
 * Shadow-mode guest contract (guests/README.md): no popf to restore IF,
 * "from user mode" is read from the CS in the trap frame (never from %cs),
 * nothing in PML4 slot 510, only the privileged instructions vmmd emulates
 * (CS/SS are reloaded with iretq, never a far return or mov to %ss).
 */
#include "cpu.h"
#include "cpu_tables.h"
#include "entry_path.h"
#include "guest.h"
#include "trap_entry.h"

#define PT_EXIT_OK   42
#define PT_EXIT_FAIL 99

#define STR_(x) #x
#define STR(x) STR_(x)      /* constants shared with the assembly */

/* GDT selectors, after KERNEL_CS 0x08 and KERNEL_DS 0x10 (lib/cpu_tables.h).
 * STAR: syscall CS = 0x08, SS = 0x10; sysret CS = 0x18 + 16, SS = 0x18 + 8
 * (with RPL 3). */
#define USER_CS32   (0x18 | 3)
#define USER_DS     (0x20 | 3)
#define USER_CS     (0x28 | 3)
#define TSS_SEL     0x30
#define USER_RFLAGS 0x202     /* IF: what run_user() starts a process with */

#define RFLAGS_IF   0x200
#define RFLAGS_FIXED 0x2
/* What user code may carry across a syscall: CF PF AF ZF SF DF OF. */
#define RFLAGS_USER 0x8d5
/* Cleared on native syscall entry: TF, IF, DF, IOPL, NT, AC (Linux's). */
#define SYSCALL_FMASK 0x47700

#define PTE_P       0x001ull
#define PTE_W       0x002ull
#define PTE_U       0x004ull
#define PTE_PS      0x080ull
#define PTE_ADDR    0x000ffffffffff000ull

#define PF_P        0x1
#define PF_W        0x2
#define PF_U        0x4
#define PF_RSVD     0x8

#define VEC_DE      0
#define VEC_UD      6
#define VEC_GP      13
#define VEC_PF      14
#define VEC_INT80   0x80
#define VEC_SYSCALL 0x100       /* not a vector: marks a syscall frame */

/* Memory: the kernel maps 0-8 MiB; page tables and frames come from 4-8 MiB. */
#define KERNEL_MAP_END  0x800000ull
#define POOL_START      0x400000ull
#define POOL_END        KERNEL_MAP_END

/* User addresses: PML4 slot 1. Plain literals: the assembly uses them too. */
#define USER_BASE       0x8000000000
#define USER_END        0x10000000000
#define USER_CODE_VA    0x8000000000
#define USER_DATA_VA    0x8000010000
#define USER_STACK_VA   0x8000020000
#define USER_SWAP_VA    0x8000030000
#define KDEMAND_VA      0x40000000ull           /* kernel half, not mapped at boot */
#define KDEMAND_VALUE   0x1234abcdull
#define KRSVD_VA        0x40200000ull           /* the next 2 MiB: an entry with a reserved bit */
#define PTE_RSVD_2M     (1ull << 13)            /* bits 20:13 of a 2 MiB entry must be 0 */

/* System calls: number in rax, arguments in rdi, rsi; result in rax. */
#define SYS_WRITE   1
#define SYS_EXIT    2
#define SYS_PROBE   3
#define WRITE_MAX   256

/* What run_user() returns when a process did not exit by itself. */
#define KILLED      0x1000

/* struct trapframe (lib/entry_path.h) is pushed by the stubs below
 * (registers) and the CPU (from rip on). */
_Static_assert(VEC_SYSCALL == TRAP_VEC_SYSCALL && VEC_INT80 == TRAP_VEC_INT80,
	       "the stubs mark frames as lib/entry_path.h expects");

static uint64_t gdt[8] __attribute__((aligned(16))) = {
	0, GDT_KERNEL_CODE64, GDT_KERNEL_DATA, GDT_USER_CODE32, GDT_USER_DATA, GDT_USER_CODE64,
	0, 0,                   /* 0x30 TSS, filled in at boot */
};
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[VEC_INT80 + 1] __attribute__((aligned(16)));
static uint8_t trap_stack[8192] __attribute__((aligned(16), section(".noinit.pt")));

/* Shared with the assembly below. */
uint64_t syscall_user_rsp, syscall_kernel_rsp;
extern char trap_stub_int80[], syscall_entry[];
extern char user_page[], user_prog1[], user_prog2[], user_prog3[], user_probe[], user_divide[];

static struct {
	uint64_t pool_next;
	uint64_t *pml4[2];              /* address spaces A and B */
	uint64_t *pdpt_kernel;
	struct entry_paths paths;       /* how syscall / int 0x80 arrive here */
	uint64_t fault_rip, fault_cr2;  /* the fault that killed a process */
	uint64_t fault_err, fault_vector;
	unsigned kernel_faults_fixed;
	uint64_t *rsvd_pde;             /* the 2 MiB entry with a reserved bit */
	unsigned reserved_faults_fixed;
} k;

/* --- assembly: trap entry, syscall entry, user-mode switch -------------------- */

/* trap_entry_common, trap_entry_stubs (vectors 0-31) and run_user_mode are lib/trap_entry.c's;
 * int 0x80 and the LSTAR entry build the same frames and join trap_entry_common. */
__asm__(
	".text\n"
	"	.balign 16\n"
	"trap_stub_int80:\n"
	"	pushq $0\n	pushq $" STR(VEC_INT80) "\n	jmp trap_entry_common\n"

	/* LSTAR: entered at CPL0 with the user's rsp, rcx = return rip,
	 * r11 = rflags, IF masked; build the same frame an exception would. */
	"	.balign 16\n"
	"syscall_entry:\n"
	"	movq %rsp, syscall_user_rsp(%rip)\n"
	"	movq syscall_kernel_rsp(%rip), %rsp\n"
	"	pushq $" STR(USER_DS) "\n"
	"	pushq syscall_user_rsp(%rip)\n"
	"	pushq %r11\n"
	"	pushq $" STR(USER_CS) "\n"
	"	pushq %rcx\n"
	"	pushq $0\n"
	"	pushq $" STR(VEC_SYSCALL) "\n"
	"	jmp trap_entry_common\n");

static int run_user(uint64_t rip, uint64_t rsp)
{
	return (int) run_user_mode(rip, rsp, USER_CS, USER_DS, USER_RFLAGS);
}

/*
 * User code: one page of its own, mapped at USER_CODE_VA with the user bit
 * (and nowhere else for user mode). Everything in it is RIP-relative, so it
 * runs at that address though linked in the kernel image. Entry points sit
 * at fixed offsets (.org) so the addresses pt prints do not depend on the
 * build. Each process checks what a syscall must preserve and exits with a
 * status saying which check failed (0: none).
 */
#define USER_MAGIC 0x5ca1ab1e0ddba110
__asm__(
	".section .text.user, \"ax\", @progbits\n"
	".balign 4096\n"
	"user_page:\n"

	".macro int80\n"
	"	int $0x80\n"
	".endm\n"
	/* rdi = message, esi = length, eax = number; after: check rax, r12, r13 */
	".macro user_write msg, len, insn, status\n"
	"	lea \\msg(%rip), %rdi\n"
	"	mov $\\len, %esi\n"
	"	mov $" STR(SYS_WRITE) ", %eax\n"
	"	\\insn\n"
	"	mov $\\status, %edi\n"
	"	cmp $\\len, %rax\n"
	"	jne user_fail\n"
	"	movabs $" STR(USER_MAGIC) ", %rcx\n"
	"	cmp %rcx, %r12\n"
	"	jne user_fail\n"
	"	cmp %r13, %rsp\n"
	"	jne user_fail\n"
	".endm\n"
	/* print the text the kernel left in this space's data page */
	".macro user_show_page insn\n"
	"	user_write msg_page, msg_page_len, \\insn, 10\n"
	"	movabs $" STR(USER_DATA_VA) ", %rdi\n"
	"	mov (%rdi), %rsi\n"
	"	add $8, %rdi\n"
	"	mov $" STR(SYS_WRITE) ", %eax\n"
	"	\\insn\n"
	"	user_write msg_quote_nl, 2, \\insn, 11\n"
	".endm\n"

	"	.globl user_page, user_prog1, user_prog2, user_prog3, user_probe, user_divide\n"
	"user_prog1:\n"
	"	movabs $" STR(USER_MAGIC) ", %r12\n"
	"	mov %rsp, %r13\n"
	"	user_write msg_syscall, msg_syscall_len, syscall, 1\n"
	"	user_write msg_int80, msg_int80_len, int80, 2\n"
	"	user_show_page syscall\n"
	"	xor %edi, %edi\n"
	"user_fail:\n"
	"	mov $" STR(SYS_EXIT) ", %eax\n"
	"	syscall\n"
	"	ud2\n"

	"user_prog2:\n"
	"	movabs $" STR(USER_MAGIC) ", %r12\n"
	"	mov %rsp, %r13\n"
	"	user_show_page int80\n"
	"	mov $1, %eax\n"
	"	xor %edx, %edx\n"
	"	xor %ecx, %ecx\n"
	"	jmp user_divide\n"

	".org 0x300\n"
	"user_divide:\n"
	"	div %rcx\n"                     /* #DE */
	"	mov $20, %edi\n"
	"	jmp user_fail\n"

	".org 0x380\n"
	"user_prog3:\n"
	"	mov 0x100000, %rax\n"           /* kernel memory: #PF */
	"	mov $30, %edi\n"
	"	jmp user_fail\n"

	".org 0x400\n"
	"user_probe:\n"
	"	mov $" STR(SYS_PROBE) ", %eax\n"
	"	syscall\n"
	"	mov $" STR(SYS_PROBE) ", %eax\n"
	"	int $0x80\n"
	"	xor %edi, %edi\n"
	"	jmp user_fail\n"

	".org 0x500\n"
	"msg_syscall: .ascii \"user: hello from user mode via syscall\\n\"\n"
	"	.set msg_syscall_len, . - msg_syscall\n"
	"msg_int80: .ascii \"user: hello from user mode via int 0x80\\n\"\n"
	"	.set msg_int80_len, . - msg_int80\n"
	"msg_page: .ascii \"user: my page at " STR(USER_DATA_VA) " holds '\"\n"
	"	.set msg_page_len, . - msg_page\n"
	"msg_quote_nl: .ascii \"'\\n\"\n"
	".balign 4096\n"
	".text\n");

/* --- helpers ------------------------------------------------------------------- */

static __noreturn __printf(1, 2) void fail(const char *fmt, ...)
{
	va_list ap;

	printf("pt: FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	vmm_exit(PT_EXIT_FAIL);
}

/* --- page tables ------------------------------------------------------------- */

/* A zeroed page from the pool (identity-mapped in the kernel half). */
static uint64_t *alloc_page(void)
{
	uint64_t *p = (uint64_t *) (uintptr_t) k.pool_next;
	uint64_t n = 512;
	void *d = p;

	if (k.pool_next >= POOL_END)
		fail("out of page-table memory");
	k.pool_next += 4096;
	/* 512 stores, not 4096: CPL0 code is emulated on some hosts */
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ull) : "memory");
	return p;
}

/* The table an entry points to, creating it (intermediate entries carry
 * the user bit only where user pages hang below). */
static uint64_t *next_table(uint64_t *entry, uint64_t flags)
{
	if (!(*entry & PTE_P))
		*entry = (uint64_t) (uintptr_t) alloc_page() | PTE_P | PTE_W | (flags & PTE_U);
	return (uint64_t *) (uintptr_t) (*entry & PTE_ADDR);
}

/* The 4 KiB leaf entry for va, creating the tables above it. */
static uint64_t *leaf(uint64_t *pml4, uint64_t va, uint64_t flags)
{
	uint64_t *t = pml4;

	t = next_table(&t[(va >> 39) & 511], flags);
	t = next_table(&t[(va >> 30) & 511], flags);
	t = next_table(&t[(va >> 21) & 511], flags);
	return &t[(va >> 12) & 511];
}

static void map_page(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t flags)
{
	*leaf(pml4, va, flags) = pa | flags | PTE_P;
}

/* A user data page: a length, then text. */
static uint64_t text_page(const char *text)
{
	uint64_t *p = alloc_page();
	size_t n = strlen(text);

	p[0] = n;
	memcpy(p + 1, text, n);
	return (uint64_t) (uintptr_t) p;
}

static const char *page_text(uint64_t va)
{
	return (const char *) (uintptr_t) (va + 8);
}

static void build_address_spaces(void)
{
	uint64_t *pd, code = (uint64_t) (uintptr_t) user_page;
	unsigned i, as;

	k.pool_next = POOL_START;
	k.pml4[0] = alloc_page();
	k.pml4[1] = alloc_page();
	/* The kernel half: one PDPT shared by both spaces, 0-8 MiB identity
	 * in 2 MiB supervisor pages. */
	k.pdpt_kernel = alloc_page();
	pd = alloc_page();
	k.pdpt_kernel[0] = (uint64_t) (uintptr_t) pd | PTE_P | PTE_W;
	for (i = 0; i < KERNEL_MAP_END >> 21; i++)
		pd[i] = (uint64_t) i << 21 | PTE_P | PTE_W | PTE_PS;
	/* The user half: the same code page, a data page and a stack each. */
	for (as = 0; as < 2; as++) {
		k.pml4[as][0] = (uint64_t) (uintptr_t) k.pdpt_kernel | PTE_P | PTE_W;
		map_page(k.pml4[as], USER_CODE_VA, code, PTE_U);
		map_page(k.pml4[as], USER_DATA_VA,
			 text_page(as ? "page of process 2" : "page of process 1"), PTE_U | PTE_W);
		map_page(k.pml4[as], USER_STACK_VA, (uint64_t) (uintptr_t) alloc_page(), PTE_U | PTE_W);
	}
	map_page(k.pml4[0], USER_SWAP_VA, text_page("old frame"), PTE_U | PTE_W);
}

/* --- descriptor tables ----------------------------------------------------------- */

static void setup_cpu(void)
{
	tss.rsp[0] = (uint64_t) (uintptr_t) (trap_stack + sizeof(trap_stack));
	syscall_kernel_rsp = tss.rsp[0];
	idt_set_stubs(idt, 32, trap_entry_stubs);
	idt_set_gate(idt, VEC_INT80, trap_stub_int80, 3);
	idt_load(idt, sizeof(idt));
	gdt_load(gdt, sizeof(gdt), TSS_SEL, &tss, sizeof(tss), read_rflags());

	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	wrmsr(MSR_STAR, (uint64_t) USER_CS32 << 48 | (uint64_t) KERNEL_CS << 32);
	wrmsr(MSR_LSTAR, (uint64_t) (uintptr_t) syscall_entry);
	wrmsr(MSR_FMASK, SYSCALL_FMASK);
	/* Nothing may interrupt user mode (it runs with IF set): mask both 8259s. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

/* --- traps ------------------------------------------------------------------- */

static bool from_user(const struct trapframe *tf)
{
	return (tf->cs & 3) == 3;
}

static bool user_range(uint64_t va, uint64_t len)
{
	return va >= USER_BASE && len <= USER_END - USER_BASE && va <= USER_END - len;
}

/*
 * The host-quirk fallbacks (lib/entry_path.c): a #PF at LSTAR from user mode
 * is a syscall whose CPU work (RCX = return rip, R11 = rflags, FMASK) was
 * done; a #UD on CD 80 is an int 0x80 that did not happen yet. Both become
 * the frame the native entry would have produced.
 */
static void setup_entry_paths(void)
{
	k.paths.lstar = (uint64_t) (uintptr_t) syscall_entry;
	k.paths.user_base = USER_BASE;
	k.paths.user_end = USER_END;
	k.paths.user_cs = USER_CS;
	k.paths.user_ss = USER_DS;
}

static __noreturn void kill_process(const struct trapframe *tf)
{
	k.fault_vector = tf->vector;
	k.fault_rip = tf->rip;
	k.fault_err = tf->err;
	k.fault_cr2 = tf->vector == VEC_PF ? read_cr2() : 0;
	user_return(KILLED);
}

static void do_syscall(struct trapframe *tf)
{
	switch (tf->rax) {
	case SYS_WRITE:
		if (tf->rsi > WRITE_MAX || !user_range(tf->rdi, tf->rsi)) {
			tf->rax = (uint64_t) -14;       /* -EFAULT */
			break;
		}
		serial_write((const char *) (uintptr_t) tf->rdi, tf->rsi);
		tf->rax = tf->rsi;
		break;
	case SYS_EXIT:
		user_return((long) (tf->rdi & 0xff));
	case SYS_PROBE:
		tf->rax = 0;
		break;
	default:
		tf->rax = (uint64_t) -38;               /* -ENOSYS */
		break;
	}
}

/* A kernel-mode #PF in the demand-paged range: map a page and retry. */
static bool fix_kernel_fault(const struct trapframe *tf)
{
	uint64_t cr2 = read_cr2();

	if (tf->vector != VEC_PF || (tf->err & PF_P) || cr2 - KDEMAND_VA >= 4096)
		return false;
	printf("pt: kernel #PF: cr2=0x%llx err=0x%llx, mapping a fresh page\n",
	       (unsigned long long) cr2, (unsigned long long) tf->err);
	/* Shared kernel PDPT: both address spaces see the new page. */
	map_page(k.pml4[0], KDEMAND_VA, (uint64_t) (uintptr_t) alloc_page(), PTE_W);
	k.kernel_faults_fixed++;
	return true;
}

/* A kernel-mode #PF on the reserved bit: clear it and retry. */
static bool fix_reserved_fault(const struct trapframe *tf)
{
	uint64_t cr2 = read_cr2();

	if (tf->vector != VEC_PF || !(tf->err & PF_RSVD) || cr2 != KRSVD_VA || !k.rsvd_pde)
		return false;
	printf("pt: kernel #PF on a reserved bit: cr2=0x%llx err=0x%llx, clearing it\n",
	       (unsigned long long) cr2, (unsigned long long) tf->err);
	*k.rsvd_pde &= ~PTE_RSVD_2M;
	k.reserved_faults_fixed++;
	return true;
}

void trap(struct trapframe *tf)
{
	entry_paths_recognise(&k.paths, tf);
	if (tf->vector == VEC_SYSCALL || tf->vector == VEC_INT80) {
		if (!from_user(tf))
			fail("system call from kernel mode at 0x%llx", (unsigned long long) tf->rip);
		/* A return rip that sysretq would fault on (in ring 0, on the
		 * user's stack) kills the caller instead. */
		if (!user_range(tf->rip, 1))
			kill_process(tf);
		tf->rflags = (tf->rflags & RFLAGS_USER) | RFLAGS_IF | RFLAGS_FIXED;
		do_syscall(tf);
		return;
	}
	if (from_user(tf))
		kill_process(tf);
	if (fix_kernel_fault(tf) || fix_reserved_fault(tf))
		return;
	fail("unexpected exception %llu in kernel mode: err=0x%llx rip=0x%llx cr2=0x%llx",
	     (unsigned long long) tf->vector, (unsigned long long) tf->err,
	     (unsigned long long) tf->rip, (unsigned long long) read_cr2());
}

/* --- the steps ----------------------------------------------------------------- */

static uint64_t user_entry(const char *label)
{
	return USER_CODE_VA + (uint64_t) (label - user_page);
}

static int run_process(unsigned n, unsigned as, const char *entry)
{
	write_cr3((uint64_t) (uintptr_t) k.pml4[as]);
	if (n)
		printf("pt: process %u (address space %c): entering user mode\n", n, 'A' + as);
	return run_user(user_entry(entry), USER_STACK_VA + 4096);
}

static const char *vector_name(uint64_t v)
{
	switch (v) {
	case VEC_DE:
		return "#DE";
	case VEC_UD:
		return "#UD";
	case VEC_GP:
		return "#GP";
	case VEC_PF:
		return "#PF";
	default:
		return "exception";
	}
}

/* Killed with the expected exception at the expected place, or fail. */
static void expect_killed(unsigned n, int r, uint64_t vector, const char *where)
{
	if (r != KILLED || k.fault_vector != vector || k.fault_rip != user_entry(where))
		fail("process %u: expected %s at 0x%llx, got status 0x%x (%s at 0x%llx)", n,
		     vector_name(vector), (unsigned long long) user_entry(where), r,
		     vector_name(k.fault_vector), (unsigned long long) k.fault_rip);
	if (vector == VEC_PF)
		printf("pt: user %s at rip=0x%llx cr2=0x%llx err=0x%llx, killing process %u\n",
		       vector_name(vector), (unsigned long long) k.fault_rip,
		       (unsigned long long) k.fault_cr2, (unsigned long long) k.fault_err, n);
	else
		printf("pt: user %s at rip=0x%llx, killing process %u\n", vector_name(vector),
		       (unsigned long long) k.fault_rip, n);
}

static void show_user_page(unsigned as)
{
	write_cr3((uint64_t) (uintptr_t) k.pml4[as]);
	printf("pt: cr3 -> address space %c: 0x%llx holds '%s'\n", 'A' + as,
	       (unsigned long long) USER_DATA_VA, page_text(USER_DATA_VA));
}

static void invlpg_demo(void)
{
	char before[16];
	uint64_t *pte;

	write_cr3((uint64_t) (uintptr_t) k.pml4[0]);
	memcpy(before, page_text(USER_SWAP_VA), sizeof(before));  /* the TLB has it now */
	before[sizeof(before) - 1] = '\0';
	pte = leaf(k.pml4[0], USER_SWAP_VA, PTE_U);
	*pte = text_page("new frame") | PTE_P | PTE_W | PTE_U;
	invlpg(USER_SWAP_VA);
	printf("pt: invlpg: 0x%llx held '%s', after the PTE change it holds '%s'\n",
	       (unsigned long long) USER_SWAP_VA, before, page_text(USER_SWAP_VA));
}

static void kernel_fault_demo(void)
{
	volatile uint64_t *p = (volatile uint64_t *) (uintptr_t) KDEMAND_VA;

	*p = KDEMAND_VALUE;                     /* not mapped: #PF, fixed, retried */
	__asm__ volatile("" : : : "memory");    /* the trap handler changed k */
	if (k.kernel_faults_fixed != 1)
		fail("the kernel write did not fault once (%u)", k.kernel_faults_fixed);
	printf("pt: kernel write retried: 0x%llx holds 0x%llx\n",
	       (unsigned long long) KDEMAND_VA, (unsigned long long) *p);
}

static void reserved_fault_demo(void)
{
	/* The PD of the kernel's second GiB; entry 1 maps 2 MiB at physical 0. */
	uint64_t *pd = next_table(&k.pdpt_kernel[(KRSVD_VA >> 30) & 511], 0);

	k.rsvd_pde = &pd[(KRSVD_VA >> 21) & 511];
	*k.rsvd_pde = PTE_P | PTE_W | PTE_PS | PTE_RSVD_2M;
	(void) *(volatile uint64_t *) (uintptr_t) KRSVD_VA;   /* #PF (RSVD), fixed, retried */
	__asm__ volatile("" : : : "memory");
	if (k.reserved_faults_fixed != 1)
		fail("the read through a reserved bit did not fault once (%u)", k.reserved_faults_fixed);
	printf("pt: kernel read retried after the reserved bit was cleared\n");
}

/* Which way do syscall and int 0x80 from user mode reach the kernel here? */
static void probe_entry_paths(void)
{
	int r;

	setup_entry_paths();
	k.paths.probing = true;
	r = run_process(0, 0, user_probe);
	k.paths.probing = false;
	if (r != 0 || k.paths.syscall_path == ENTRY_PATH_UNKNOWN || k.paths.int80_path == ENTRY_PATH_UNKNOWN)
		fail("entry probe: status 0x%x, syscall path %s, int 0x80 path %s (%s at 0x%llx)", r,
		     entry_path_name(k.paths.syscall_path), entry_path_name(k.paths.int80_path),
		     vector_name(k.fault_vector),
		     (unsigned long long) k.fault_rip);
}

void guest_main(const struct guest_boot *b)
{
	int r;

	if (b->memory_bytes < KERNEL_MAP_END)
		fail("needs %llu MiB of memory, has %llu", KERNEL_MAP_END >> 20,
		     (unsigned long long) (b->memory_bytes >> 20));
	if ((uint64_t) (uintptr_t) &k >= POOL_START || (uint64_t) (uintptr_t) trap_stack >= POOL_START)
		fail("the image overlaps the page pool");

	setup_cpu();
	build_address_spaces();
	printf("pt: two address spaces: kernel 0-8 MiB shared, user pages at 0x%llx\n",
	       (unsigned long long) USER_BASE);
	show_user_page(0);
	show_user_page(1);
	invlpg_demo();
	kernel_fault_demo();
	reserved_fault_demo();
	probe_entry_paths();

	r = run_process(1, 0, user_prog1);
	if (r != 0)
		fail("process 1 exited with status %d", r);
	printf("pt: process 1 exited with status 0\n");
	r = run_process(2, 1, user_prog2);
	expect_killed(2, r, VEC_DE, user_divide);
	r = run_process(3, 0, user_prog3);
	expect_killed(3, r, VEC_PF, user_prog3);

	if (cmdline_has("verbose"))
		printf("pt: entry paths: syscall %s (%u native, %u fault), int 0x80 %s (%u native, %u fault)\n",
		       entry_path_name(k.paths.syscall_path), k.paths.syscalls[ENTRY_PATH_NATIVE],
		       k.paths.syscalls[ENTRY_PATH_FAULT], entry_path_name(k.paths.int80_path),
		       k.paths.int80s[ENTRY_PATH_NATIVE], k.paths.int80s[ENTRY_PATH_FAULT]);
	printf("pt: all checks passed\n");
	vmm_exit(PT_EXIT_OK);
}
