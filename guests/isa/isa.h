/* SPDX-License-Identifier: MIT */
/*
 * isa: a freestanding 64-bit guest written as for real hardware (its own
 * GDT, IDT, TSS with an I/O bitmap, page tables, syscall MSRs, user mode)
 * that runs seeded random cases over the system instructions a kernel uses
 * and records what it observes into a result log: registers, the frame an
 * exception pushed, CR2, error codes. tests/e2e/test_isa.py runs the same
 * seed in hw mode (the oracle), in shadow mode (both strategies, scattered
 * physmap) and under QEMU TCG, and compares the logs record by record.
 *
 * A case is a pure function of (seed, index): any one reruns alone with
 * `seed=S first=I count=1`. Nothing a record holds depends on the mode,
 * the loader or the path an event took to reach the kernel (the host-quirk
 * entries of lib/entry_path.h are turned into native frames first).
 *
 * Memory (the guest needs 32 MiB):
 *   1 MiB   the image (code, data, stacks)
 *   4 MiB   page tables (ISA_TABLES)
 *   5 MiB   256 pattern frames: every qword holds its address ^ ISA_PATTERN
 *   8 MiB   the log: struct isa_rec[count], at ISA_LOG (16 MiB at most)
 */
#ifndef ISA_H
#define ISA_H

#include "cpu.h"
#include "entry_path.h"
#include "guest.h"

#define ISA_TABLES      0x400000ull
#define ISA_TABLES_END  0x500000ull
#define ISA_FRAMES      0x500000ull     /* 256 pattern frames */
#define ISA_FRAMES_END  0x600000ull
#define ISA_PATTERN     0x5a5a000000000000ull
#define ISA_LOG         0x800000ull
#define ISA_LOG_END     0x1800000ull
#define ISA_MEMORY_MIN  0x2000000ull    /* 32 MiB */

/* Selectors (GDT in tables.c). STAR: syscall CS 0x08/SS 0x10, sysret base 0x18. */
#define SEL_KCODE       0x08
#define SEL_KDATA       0x10
#define SEL_UCODE32     (0x18 | 3)
#define SEL_UDATA       (0x20 | 3)
#define SEL_UCODE       (0x28 | 3)
#define SEL_TSS         0x30            /* 16 bytes */
#define SEL_DATA_NP     0x40            /* data, DPL 0, not present */
#define SEL_DATA3_BASE  0x48            /* data, DPL 3, base ISA_SEG_BASE3 */
#define SEL_DATA0_BASE  0x50            /* data, DPL 0, base ISA_SEG_BASE0 */
#define SEL_RODATA      0x58            /* data, DPL 0, read-only */
#define SEL_XCODE       0x60            /* 64-bit code, DPL 0, execute-only */
#define SEL_RCODE       0x68            /* 64-bit code, DPL 0, readable */
#define SEL_CODE_NP     0x70            /* 64-bit code, DPL 0, not present */
#define SEL_CCODE       0x78            /* 64-bit code, DPL 3, conforming */
#define SEL_LIMIT       0x80            /* the first selector past the GDT's limit */
#define ISA_SEG_BASE3   0x00123000ull
#define ISA_SEG_BASE0   0x00456000ull

/* Vectors with gates of their own besides 0-31. */
#define VEC_INT_USER    0x80            /* DPL 3 interrupt gate */
#define VEC_INT_KERNEL  0x81            /* DPL 0 interrupt gate */
#define VEC_TRAP_USER   0x82            /* DPL 3 trap gate (IF kept) */
#define VEC_NOT_PRESENT 0x83            /* a gate with P = 0 */
#define ISA_IDT_VECTORS 0x84

/* Ports: COM1's scratch register is read/write memory in every UART model;
 * the TSS's I/O bitmap lets user mode reach it and COM1's LSR, nothing else. */
#define PORT_SCRATCH    0x3ff
#define PORT_LSR        0x3fd

/* Virtual addresses. Slot 0 is the kernel's: 0-32 MiB identity with 2 MiB
 * supervisor pages, and 4 KiB test pages at ISA_TEST_VA. Slot 1 is user. */
#define ISA_TEST_VA     0x40000000ull
#define ISA_USER_BASE   0x8000000000ull
#define ISA_USER_END    0x10000000000ull
#define ISA_USER_CODE   0x8000000000ull /* the .text.user page */
#define ISA_USER_DATA   0x8000010000ull /* 4 pages, user read/write */
#define ISA_USER_STACK  0x8000020000ull /* 4 pages, top at + 16 KiB */
#define ISA_USER_PT     0x8000030000ull /* the test page table, user writable */
#define ISA_USER_STACK_TOP (ISA_USER_STACK + 0x4000)

/* Test pages: ISA_TEST_VA + 4 KiB * n, leaves of the test page table. */
enum test_page {
	TP_RW,          /* supervisor read/write */
	TP_RO,          /* supervisor read-only */
	TP_NP,          /* not present */
	TP_NX,          /* supervisor, no-execute */
	TP_URW,         /* user read/write */
	TP_URO,         /* user read-only */
	TP_UNX,         /* user, no-execute */
	TP_RSVD,        /* a reserved address bit set */
	TP_CODE,        /* supervisor, executable: `ret` everywhere */
	TP_UCODE,       /* user, executable: `syscall` everywhere */
	TP_EDIT,        /* the target of page-table edits, reset per case */
	TP_EDIT2,       /* its neighbour (cmpxchg16b writes both) */
	TP_COUNT
};

static inline uint64_t test_va(enum test_page p)
{
	return ISA_TEST_VA + 0x1000ull * p;
}

#define ISA_NONE        0xffffffffu     /* rec.vector: the case ran to its end */
#define ISA_SKIPPED     0xfffffffeu     /* rec.vector: not run on this oracle (skip=) */

#define VEC_SYSCALL     TRAP_VEC_SYSCALL

/*
 * One case's record: 192 bytes. vector..ss describe how the case ended
 * when it ended in the kernel: an exception (vector, error, the frame the
 * CPU pushed, CR2 for #PF), or a system call from user mode (vector 0x100,
 * rip = RCX, rflags = R11, cs/ss/rsp the user's). v[] holds what the case
 * observed; tests/e2e/test_isa.py names the fields per kind (isa: kinds).
 */
struct isa_rec {
	uint32_t index;
	uint16_t kind;
	uint16_t variant;
	uint32_t vector;
	uint32_t error;
	uint64_t cr2, rip, cs, rflags, rsp, ss;
	uint64_t v[16];
};
_Static_assert(sizeof(struct isa_rec) == 192, "the record layout is test_isa.py's");

/* --- the kernel (main.c, entry.S) ------------------------------------------ */

struct isa_kernel {
	struct entry_paths paths;
	struct trapframe last;          /* the frame of the last trap a case took */
	uint64_t last_cr2;
	uint64_t *pml4;
	uint64_t *test_pt;              /* the leaves of the test pages */
	uint64_t *pd_kernel;            /* 2 MiB identity pages */
	uint64_t test_pte[TP_COUNT];    /* their initial entries */
	uint64_t gdt[SEL_LIMIT / 8];
	unsigned phys_bits;             /* CPUID MAXPHYADDR */
	unsigned skip;                  /* SKIP_* bits: command line skip=name,... */
	uint64_t user_rsp0;
};

extern struct isa_kernel k;

/* What an oracle cannot run (the command line's skip=, set by the test). */
enum {
	SKIP_CPL0_CMPXCHG16B = 1 << 0,  /* KVM's emulator (hosts that emulate CPL0) fails the VM on it */
	SKIP_CR_RESERVED = 1 << 1,     /* QEMU 7.2 TCG hangs on reserved CR0/CR3/CR4 bits */
	SKIP_FAR32 = 1 << 2,            /* QEMU 7.2 TCG: 32-bit far call/ret/jmp in long mode corrupt state;
					 * KVM's emulator cannot do lret with a 32-bit operand */
	SKIP_CPL0_INT = 1 << 3,         /* KVM's emulator cannot do int n (n != 3) */
	SKIP_IRET_BAD = 1 << 4,         /* PVM's iretq at CPL0 loads bad CS/SS selectors unchecked */
	SKIP_CPL0_FAR = 1 << 5,         /* KVM's emulator fails the VM on far returns it cannot do */
};

/* Skip this variant here? Then the record says ISA_SKIPPED. */
static inline bool skipped(struct isa_rec *r, unsigned what)
{
	if (!(k.skip & what))
		return false;
	r->vector = ISA_SKIPPED;
	return true;
}

/* Enter user mode with every general register from regs (rsp and rip and
 * rflags too), through iretq with the given CS/SS (or sysretq: RCX = rip,
 * R11 = rflags). Returns 0 when user mode trapped or made a system call,
 * 1 when the iretq/sysretq faulted in the kernel; k.last holds that frame. */
struct uregs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, cs, rflags, rsp, ss;
};
int run_user(const struct uregs *r);
int run_user_sysret(const struct uregs *r);
__noreturn void isa_user_return(void);
uint64_t user_va(const void *label);    /* a .text.user label at ISA_USER_CODE */

/* Kernel-mode faults resume here (0: a fault in the kernel is fatal). */
extern uint64_t isa_recover;

/*
 * Run a kernel snippet (snippets.S, k_NAME) with every general register and
 * the status flags and DF from regs; afterwards regs holds the registers
 * and RFLAGS as the snippet (or the fault that ended it) left them.
 * Returns 0, or 1 when it faulted (k.last: the frame).
 */
int ktry(const void *snippet, struct uregs *regs);

/* ktry with only rax set, its outcome ignored: to put back state with an
 * instruction a broken implementation may refuse (the case still ends). */
void kdo(const void *snippet, uint64_t rax);

/* The kernel (k_) and user (u_) copies of a snippet. */
#define SNIPPET(name) extern char k_##name[], u_##name[]

/* Fill the record's ending from k.last (and k.last_cr2). */
void rec_trap(struct isa_rec *r);

/* Random general registers (rsp aside) and status flags. */
void rand_regs(struct uregs *u);
/* A snippet at CPL0 (ktry): records the fault, if any; 1 when it faulted. */
int run_k(const void *k_snippet, struct uregs *u, struct isa_rec *r);
/* A snippet at CPL3 with u's registers (rflags: the status flags and DF;
 * IF is set), on the user stack; records how it ended (a system call, or
 * a fault) and leaves the registers of that moment in u. */
void run_u(const void *u_snippet, struct uregs *u, struct isa_rec *r);
/* Either, by the record's CPL bit (variant & VARIANT_USER). */
#define VARIANT_USER 0x8000
int run_either(const void *k_snippet, const void *u_snippet, struct uregs *u, struct isa_rec *r);

/* The random source: xorshift64*, seeded per case. */
void rng_seed(uint64_t seed, uint64_t index);
uint64_t rng(void);
uint64_t rng_below(uint64_t n);
uint64_t rng_pick(const uint64_t *values, size_t n);
#define RNG_PICK(a) rng_pick((a), ARRAY_SIZE(a))

/* Random values a register or an operand gets. */
uint64_t rng_value(void);
/* Status flags (CF PF AF ZF SF OF) and DF, random. */
uint64_t rng_status_flags(void);

/* Restore the test page table to its initial state and flush it. */
void reset_test_pages(void);

/* --- the cases ---------------------------------------------------------------- */

struct isa_kind {
	const char *name;
	const char *fields;             /* names of v[0..], comma-separated */
	unsigned weight;
	void (*run)(struct isa_rec *r);
};

/* Each cases_*.c file exports its kinds (terminated by a NULL name). */
extern const struct isa_kind isa_kinds_cpu[];
extern const struct isa_kind isa_kinds_exc[];
extern const struct isa_kind isa_kinds_mode[];
extern const struct isa_kind isa_kinds_pt[];

#endif
