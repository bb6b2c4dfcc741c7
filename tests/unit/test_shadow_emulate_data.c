/* SPDX-License-Identifier: MIT */
/*
 * The data emulator (vmmd/shadow/emulate_data.c) on a fake CPU and fake
 * memory, in two parts:
 *
 *   - against the host CPU: every instruction form that can write memory
 *     (and the loads MMIO needs) runs natively on host memory and through
 *     the emulator on fake memory, with the same random registers, flags
 *     and memory, and everything must come out the same: registers,
 *     RFLAGS' status bits, both memory pages. The emulator's "faulting
 *     address" is the one the host CPU reported: the target page is
 *     mapped PROT_NONE first and the SIGSEGV's address taken. So results,
 *     flags (undefined ones included) and fault addresses are the
 *     hardware's, not ours;
 *   - MMIO and refusals: a device target, exact accesses, the outcomes for
 *     what is not emulated.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "tests/unit/shadow_fake_cpu.h"
#include "vmmd/shadow/emulate_data.h"

enum {
	CODE = 0x1000, OTHER = 0x20000, TARGET = 0x21000, MMIO_VA = 0x30000, DEV_GPA = 0xfee00000,
};
#define PAGE 4096u

static struct fake_cpu fc;
static struct emu_outcome out;

static int reset(void **state)
{
	fake_cpu_init(&fc);
	memset(&out, 0, sizeof(out));
	struct shadow_pcb *p = &fc.cpu.pcb;
	p->cr0 = 0x80050033;
	p->cr4 = X86_CR4_PAE;
	p->efer = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	p->cs = 0x08;
	p->ss = 0x10;
	fc.cpu.regs.rip = CODE;
	fc.cpu.regs.rsp = OTHER + 0xf00;
	return 0;
}

static void place(const uint8_t *code, size_t len)
{
	fake_put(&fc, fc.cpu.regs.rip, code, len);
}

#define BYTES(...) .code = { __VA_ARGS__ }, .len = sizeof((uint8_t[]) { __VA_ARGS__ })
#define CODE_BYTES(...) do { const uint8_t b_[] = { __VA_ARGS__ }; place(b_, sizeof(b_)); } while (0)

static void assert_exception(unsigned vector, uint32_t error)
{
	assert_int_equal(out.status, EMU_EXCEPTION);
	assert_int_equal(out.vector, vector);
	assert_int_equal(out.error, error);
}

/* --- a target over fake memory: counts accesses ------------------------------------- */

struct ram_target {
	unsigned reads, writes, last_size;
	uint64_t last_gpa;
};
static struct ram_target ram;

/* The target page in fake memory (gpa == va there). */
static int ram_access(void *ctx, uint64_t gpa, void *data, unsigned size, bool is_write)
{
	struct ram_target *t = ctx;
	assert_true(gpa >= TARGET && gpa + size <= TARGET + PAGE);
	t->last_gpa = gpa;
	t->last_size = size;
	if (is_write) {
		t->writes++;
		memcpy(fc.mem + gpa, data, size);
	} else {
		t->reads++;
		memcpy(data, fc.mem + gpa, size);
	}
	return 0;
}

static const struct emu_data_target ram_target = { .access = ram_access, .ctx = &ram };

/* --- the host CPU's side ------------------------------------------------------------------------
 *
 * native_run(regs, insn) loads every general register and RFLAGS from a
 * struct kvm_regs (RSP too: the stack may be the target page), jumps to the
 * instruction, which is followed by `jmp native_back`, and stores them all
 * back. Each case is one instruction in .text.native_cases between
 * nc_NAME and nc_NAME_end: the very bytes the emulator gets.
 */
__asm__(".text\n"
	".globl native_run, native_back\n"
	"native_run:\n"
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	mov %rsp, nat_host_rsp(%rip)\n"
	"	mov %rdi, nat_state(%rip)\n"
	"	mov %rsi, nat_insn(%rip)\n"
	"	pushq 136(%rdi)\n"
	"	popfq\n"
	"	mov 0(%rdi), %rax\n	mov 8(%rdi), %rbx\n	mov 16(%rdi), %rcx\n	mov 24(%rdi), %rdx\n"
	"	mov 32(%rdi), %rsi\n	mov 56(%rdi), %rbp\n	mov 64(%rdi), %r8\n	mov 72(%rdi), %r9\n"
	"	mov 80(%rdi), %r10\n	mov 88(%rdi), %r11\n	mov 96(%rdi), %r12\n	mov 104(%rdi), %r13\n"
	"	mov 112(%rdi), %r14\n	mov 120(%rdi), %r15\n"
	"	mov 48(%rdi), %rsp\n"
	"	mov 40(%rdi), %rdi\n"
	"	jmp *nat_insn(%rip)\n"
	"native_back:\n"
	"	mov %rdi, nat_tmp(%rip)\n"
	"	mov nat_state(%rip), %rdi\n"
	"	mov %rax, 0(%rdi)\n	mov %rbx, 8(%rdi)\n	mov %rcx, 16(%rdi)\n	mov %rdx, 24(%rdi)\n"
	"	mov %rsi, 32(%rdi)\n	mov %rsp, 48(%rdi)\n	mov %rbp, 56(%rdi)\n	mov %r8, 64(%rdi)\n"
	"	mov %r9, 72(%rdi)\n	mov %r10, 80(%rdi)\n	mov %r11, 88(%rdi)\n	mov %r12, 96(%rdi)\n"
	"	mov %r13, 104(%rdi)\n	mov %r14, 112(%rdi)\n	mov %r15, 120(%rdi)\n"
	"	mov nat_tmp(%rip), %rax\n"
	"	mov %rax, 40(%rdi)\n"
	"	mov nat_host_rsp(%rip), %rsp\n"
	"	pushfq\n"
	"	popq 136(%rdi)\n"
	"	cld\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n"
	".bss\n"
	".balign 8\n"
	"nat_host_rsp: .quad 0\n"
	"nat_state: .quad 0\n"
	"nat_insn: .quad 0\n"
	"nat_tmp: .quad 0\n"
	".text\n");
void native_run(struct kvm_regs *regs, const void *insn);
extern const uint8_t native_back[];
_Static_assert(offsetof(struct kvm_regs, rsp) == 48 && offsetof(struct kvm_regs, rflags) == 136,
	       "native_run follows struct kvm_regs");

/* Register indexes in struct kvm_regs order. */
enum { RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP, R8, R9, R10, R11, R12, R13, R14, R15, NREGS };
#define BIT(r) (1u << (r))

/*
 * A case's setup: random registers and memory are given; it puts offsets
 * into the pointer registers (into the target page: *target, into the
 * other page: *other, as bit masks of registers) and may shape values and
 * memory. RSP always points into one of the two pages.
 */
struct setup_ctx {
	uint64_t r[NREGS];
	uint8_t *t, *o;          /* the pages' contents (before) */
	unsigned target, other;  /* pointer registers */
	uint64_t (*rng)(void);
};
typedef void (*setup_fn)(struct setup_ctx *s);

static void S_T(struct setup_ctx *s)
{
	s->r[RDI] = 0x100 + s->rng() % 0xd00;   /* 8(%rdi) and friends stay inside */
	s->target = BIT(RDI);
}

static void S_T_IDX(struct setup_ctx *s)
{
	S_T(s);
	s->r[RBX] = s->rng() % 16;
}

static void S_R13(struct setup_ctx *s)
{
	s->r[R13] = 0x800 + s->rng() % 0x100;
	s->target = BIT(R13);
}

/* A register bit offset reaches up to 2 KiB either way of the base. */
static void S_BT(struct setup_ctx *s)
{
	s->r[RDI] = 0x800;
	s->target = BIT(RDI);
	s->r[RAX] = (s->rng() % 0x8000) - 0x4000;
}

/* cmpxchg: the accumulator matches the memory half the time. */
static void S_CX(struct setup_ctx *s)
{
	S_T(s);
	if (s->rng() & 1)
		memcpy(&s->r[RAX], s->t + s->r[RDI], 8);
}

/* cmpxchg8b/16b: 16-byte aligned, RDX:RAX matching half the time. */
static void S_CX2(struct setup_ctx *s)
{
	s->r[RDI] = 0x100 + (s->rng() % 0xd0) * 16;
	s->target = BIT(RDI);
	if (s->rng() & 1) {
		bool wide = s->rng() & 1;
		memcpy(&s->r[RAX], s->t + s->r[RDI], 8);
		memcpy(&s->r[RDX], s->t + s->r[RDI] + 8, 8);
		if (!wide) {   /* cmpxchg8b compares EDX:EAX with the 8 bytes */
			uint64_t q;
			memcpy(&q, s->t + s->r[RDI], 8);
			s->r[RAX] = (s->r[RAX] & ~0xffffffffULL) | (uint32_t) q;
			s->r[RDX] = (s->r[RDX] & ~0xffffffffULL) | (q >> 32);
		}
	}
}

/* The stack on the target page; a memory source on the other. */
static void S_PUSH(struct setup_ctx *s)
{
	s->r[RSP] = 0x800 + (s->rng() % 0x80) * 8;
	s->r[RSI] = 0x100 + s->rng() % 0x800;
	s->target = BIT(RSP);
	s->other = BIT(RSI);
}

static void S_CALL(struct setup_ctx *s)
{
	S_PUSH(s);
	s->r[RAX] = (uint64_t) (uintptr_t) native_back;   /* the same target in both runs */
}

/* pop into the target page from a stack on the other one. */
static void S_POP(struct setup_ctx *s)
{
	s->r[RSP] = 0x800 + (s->rng() % 0x80) * 8;
	s->r[RDI] = 0x100 + s->rng() % 0xd00;
	s->target = BIT(RDI);
	s->other = BIT(RSP);
}

/* Strings: the destination on the target page, the source on the other;
 * a count that keeps both inside their pages either way (DF). */
static void S_MOVS(struct setup_ctx *s)
{
	s->r[RDI] = 0x600 + s->rng() % 0x400;
	s->r[RSI] = 0x600 + s->rng() % 0x400;
	s->r[RCX] = 1 + s->rng() % 64;   /* at least one element: the native run must fault */
	s->target = BIT(RDI);
	s->other = BIT(RSI);
}

static void S_STOS(struct setup_ctx *s)
{
	S_MOVS(s);
	s->other = 0;
	s->r[RSI] = s->rng();
}

static void S_LODS(struct setup_ctx *s)
{
	s->r[RSI] = 0x600 + s->rng() % 0x400;
	s->target = BIT(RSI);
}

/* Two-operand ALU forms: register to memory, memory to register, immediate. */
#define ALU2(X, op) \
	X(op##b_rm, #op "b %al, 8(%rdi)", S_T, 0) X(op##w_rm, #op "w %ax, 8(%rdi)", S_T, 0) \
	X(op##l_rm, #op "l %eax, 8(%rdi)", S_T, 0) X(op##q_rm, #op "q %rax, 8(%rdi)", S_T, 0) \
	X(op##b_mr, #op "b 8(%rdi), %dl", S_T, 0) X(op##w_mr, #op "w 8(%rdi), %dx", S_T, 0) \
	X(op##l_mr, #op "l 8(%rdi), %edx", S_T, 0) X(op##q_mr, #op "q 8(%rdi), %rdx", S_T, 0) \
	X(op##b_im, #op "b $0x9c, (%rdi)", S_T, 0) X(op##w_im, #op "w $0x8001, (%rdi)", S_T, 0) \
	X(op##l_im, #op "l $0x80000001, (%rdi)", S_T, 0) X(op##q_im, #op "q $-3, (%rdi)", S_T, 0)
#define ALU2_LOCK(X, op) \
	ALU2(X, op) X(lock_##op##q, "lock " #op "q %rax, (%rdi)", S_T, 0) \
	X(op##q_imm8, #op "q $0x7f, (%rdi,%rbx,8)", S_T_IDX, 0)
#define ALU1(X, op) \
	X(op##b, #op "b (%rdi)", S_T, 0) X(op##w, #op "w (%rdi)", S_T, 0) X(op##l, #op "l (%rdi)", S_T, 0) \
	X(op##q, #op "q (%rdi)", S_T, 0) X(lock_##op##l, "lock " #op "l 4(%rdi)", S_T, 0)
#define BITOP(X, op) \
	X(op##w_r, #op "w %ax, (%rdi)", S_BT, 0) X(op##l_r, #op "l %eax, (%rdi)", S_BT, 0) \
	X(op##q_r, #op "q %rax, (%rdi)", S_BT, 0) X(op##w_i, #op "w $0x1d, (%rdi)", S_T, 0) \
	X(op##l_i, #op "l $0x3d, (%rdi)", S_T, 0) X(op##q_i, #op "q $0x3f, (%rdi)", S_T, 0)
#define BITOP_LOCK(X, op) \
	BITOP(X, op) X(lock_##op##q_r, "lock " #op "q %rax, (%rdi)", S_BT, 0) \
	X(lock_##op##q_i, "lock " #op "q $63, (%rdi)", S_T, 0)
#define SHIFT(X, op) \
	X(op##b_1, #op "b $1, (%rdi)", S_T, 0) X(op##w_1, #op "w $1, (%rdi)", S_T, 0) \
	X(op##l_1, #op "l $1, (%rdi)", S_T, 0) X(op##q_1, #op "q $1, (%rdi)", S_T, 0) \
	X(op##b_cl, #op "b %cl, (%rdi)", S_T, 0) X(op##w_cl, #op "w %cl, (%rdi)", S_T, 0) \
	X(op##l_cl, #op "l %cl, (%rdi)", S_T, 0) X(op##q_cl, #op "q %cl, (%rdi)", S_T, 0) \
	X(op##l_i, #op "l $5, (%rdi)", S_T, 0) X(op##q_i, #op "q $33, (%rdi)", S_T, 0)
#define SIZED(X, name, text) \
	X(name##b, text "b %dl, (%rdi)", S_T, 0) X(name##w, text "w %dx, (%rdi)", S_T, 0) \
	X(name##l, text "l %edx, (%rdi)", S_T, 0) X(name##q, text "q %rdx, (%rdi)", S_T, 0)
#define SIZED_CX(X, name, text) \
	X(name##b, text "b %dl, (%rdi)", S_CX, 0) X(name##w, text "w %dx, (%rdi)", S_CX, 0) \
	X(name##l, text "l %edx, (%rdi)", S_CX, 0) X(name##q, text "q %rdx, (%rdi)", S_CX, 0)
#define CC(X, cc) X(set##cc, "set" #cc " (%rdi)", S_T, 0) X(cmov##cc, "cmov" #cc "l (%rdi), %edx", S_T, 0)

#define NATIVE_CASES(X) \
	ALU2_LOCK(X, add) ALU2_LOCK(X, or) ALU2_LOCK(X, adc) ALU2_LOCK(X, sbb) ALU2_LOCK(X, and) \
	ALU2_LOCK(X, sub) ALU2_LOCK(X, xor) ALU2(X, cmp) ALU2(X, test) \
	ALU1(X, inc) ALU1(X, dec) ALU1(X, not) ALU1(X, neg) \
	BITOP(X, bt) BITOP_LOCK(X, bts) BITOP_LOCK(X, btr) BITOP_LOCK(X, btc) \
	SHIFT(X, rol) SHIFT(X, ror) SHIFT(X, rcl) SHIFT(X, rcr) SHIFT(X, shl) SHIFT(X, shr) SHIFT(X, sar) \
	SIZED(X, mov_st, "mov") SIZED(X, xchg, "xchg") SIZED(X, xadd, "lock xadd") \
	SIZED_CX(X, cmpxchg, "cmpxchg") SIZED_CX(X, lock_cmpxchg, "lock cmpxchg") \
	X(movb_ld, "movb 3(%rdi), %dl", S_T, 0) X(movw_ld, "movw 3(%rdi), %dx", S_T, 0) \
	X(movl_ld, "movl 3(%rdi), %edx", S_T, 0) X(movq_ld, "movq 3(%rdi), %rdx", S_T, 0) \
	X(movb_ah_st, "movb %ah, (%rdi)", S_T, 0) X(movb_ld_ah, "movb (%rdi), %ah", S_T, 0) \
	X(movb_imm, "movb $0x80, (%rdi)", S_T, 0) X(movw_imm, "movw $0x1234, (%rdi)", S_T, 0) \
	X(movl_imm, "movl $0x92345678, (%rdi)", S_T, 0) X(movq_imm, "movq $-2, (%rdi)", S_T, 0) \
	X(movq_sib, "movq %rax, -8(%rdi,%rbx,8)", S_T_IDX, 0) X(movq_r13, "movq %r12, (%r13)", S_R13, 0) \
	X(movnti, "movnti %rax, (%rdi)", S_T, 0) \
	X(movzbl, "movzbl (%rdi), %eax", S_T, 0) X(movzwq, "movzwq (%rdi), %rax", S_T, 0) \
	X(movsbw, "movsbw (%rdi), %ax", S_T, 0) X(movswq, "movswq (%rdi), %rax", S_T, 0) \
	X(movslq, "movslq (%rdi), %rax", S_T, 0) X(cmovzq, "cmovzq (%rdi), %rdx", S_T, 0) \
	CC(X, o) CC(X, no) CC(X, b) CC(X, ae) CC(X, e) CC(X, ne) CC(X, be) CC(X, a) \
	CC(X, s) CC(X, ns) CC(X, p) CC(X, np) CC(X, l) CC(X, ge) CC(X, le) CC(X, g) \
	X(cmpxchg8b, "cmpxchg8b (%rdi)", S_CX2, 0) X(lock_cmpxchg8b, "lock cmpxchg8b (%rdi)", S_CX2, 0) \
	X(cmpxchg16b, "cmpxchg16b (%rdi)", S_CX2, 0) X(lock_cmpxchg16b, "lock cmpxchg16b (%rdi)", S_CX2, 0) \
	X(pushq_r, "pushq %rax", S_PUSH, 0) X(pushq_imm, "pushq $-5", S_PUSH, 0) \
	X(pushw_r, "pushw %ax", S_PUSH, 0) X(pushq_m, "pushq 8(%rsi)", S_PUSH, 0) \
	X(pushq_fs, "pushq %fs", S_PUSH, 0) X(pushfq, "pushfq", S_PUSH, 0) \
	X(popq_m, "popq 16(%rdi)", S_POP, 0) X(call_rel, "call 1f\n1:", S_PUSH, 0) X(call_r, "call *%rax", S_CALL, 0) \
	X(movsb, "movsb", S_MOVS, 0) X(movsq, "movsq", S_MOVS, 0) X(rep_movsb, "rep movsb", S_MOVS, 0) \
	X(rep_movsw, "rep movsw", S_MOVS, 0) X(rep_movsl, "rep movsl", S_MOVS, 0) X(rep_movsq, "rep movsq", S_MOVS, 0) \
	X(rep_movsq_std, "rep movsq", S_MOVS, 1) X(movsq_a32, "addr32 movsq", S_MOVS, 0) \
	X(stosb, "stosb", S_STOS, 0) X(stosq, "stosq", S_STOS, 0) X(rep_stosb, "rep stosb", S_STOS, 0) \
	X(rep_stosl, "rep stosl", S_STOS, 0) X(rep_stosq, "rep stosq", S_STOS, 0) \
	X(rep_stosq_std, "rep stosq", S_STOS, 1) X(lodsb, "lodsb", S_LODS, 0) X(lodsq, "lodsq", S_LODS, 0)

#define CASE_ASM(name, text, setup, df) "nc_" #name ":\n\t" text "\nnc_" #name "_end:\n\tjmp native_back\n"
__asm__(".pushsection .text.native_cases, \"ax\", @progbits\n" NATIVE_CASES(CASE_ASM) ".popsection\n");

#define CASE_DECL(name, text, setup, df) extern const uint8_t nc_##name[] __asm__("nc_" #name), \
	nc_##name##_end[] __asm__("nc_" #name "_end");
NATIVE_CASES(CASE_DECL)

struct native_case {
	const char *name, *text;
	const uint8_t *start, *end;
	setup_fn setup;
	bool df;
};

#define CASE_ENTRY(name, text, setup, df) { #name, text, nc_##name, nc_##name##_end, setup, df },
static const struct native_case native_cases[] = { NATIVE_CASES(CASE_ENTRY) };
#define N_NATIVE (sizeof(native_cases) / sizeof(native_cases[0]))
#define NATIVE_ITERATIONS 24

/* Host memory for the native runs: below 4 GiB (addr32 forms), other page then target page. */
static uint8_t *host;
static sigjmp_buf fault_jmp;
static volatile uint64_t fault_addr;
static uint8_t altstack[64 * 1024];

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	fault_addr = (uint64_t) (uintptr_t) si->si_addr;
	siglongjmp(fault_jmp, 1);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Run natively with the target page inaccessible (returns the faulting
 * address, or 0 when nothing faulted) or accessible (regs updated). */
static uint64_t run_native(struct kvm_regs *regs, const void *insn, bool protect)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK }, old_segv, old_bus;
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) }, old_ss;

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaltstack(&ss, &old_ss), 0);
	assert_int_equal(sigaction(SIGSEGV, &sa, &old_segv), 0);
	assert_int_equal(sigaction(SIGBUS, &sa, &old_bus), 0);
	assert_int_equal(mprotect(host + PAGE, PAGE, protect ? PROT_NONE : PROT_READ | PROT_WRITE), 0);
	fault_addr = 0;
	if (sigsetjmp(fault_jmp, 1) == 0)
		native_run(regs, insn);
	else
		__asm__ volatile("cld");
	mprotect(host + PAGE, PAGE, PROT_READ | PROT_WRITE);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	sigaltstack(&old_ss, NULL);
	return fault_addr;
}

#define STATUS_FLAGS 0x8d5ULL

static void check_case(const struct native_case *c, unsigned iter)
{
	size_t len = (size_t) (c->end - c->start);
	struct setup_ctx s = { .rng = rng };
	uint8_t t0[PAGE], o0[PAGE];

	/* Random registers, flags and memory; then the case shapes them. */
	for (unsigned i = 0; i < NREGS; i++)
		s.r[i] = rng() >> (rng() % 64);
	for (unsigned i = 0; i < PAGE; i += 8) {
		uint64_t v = rng(), w = rng();
		memcpy(t0 + i, &v, 8);
		memcpy(o0 + i, &w, 8);
	}
	s.t = t0;
	s.o = o0;
	s.r[RSP] = 0xf00;
	s.other = BIT(RSP);
	c->setup(&s);
	uint64_t flags = (rng() & STATUS_FLAGS) | X86_RFLAGS_IF | X86_RFLAGS_FIXED | (c->df ? X86_RFLAGS_DF : 0);

	/* Host: pointers into host memory. */
	struct kvm_regs nat, emu;
	uint64_t *nr = (uint64_t *) &nat, *er = (uint64_t *) &emu;
	for (unsigned i = 0; i < NREGS; i++) {
		uint64_t base = (s.target & BIT(i)) ? PAGE : (s.other & BIT(i)) ? 0 : UINT64_MAX;
		nr[i] = base == UINT64_MAX ? s.r[i] : (uint64_t) (uintptr_t) host + base + s.r[i];
		er[i] = base == UINT64_MAX ? s.r[i] : (base ? TARGET : OTHER) + s.r[i];
	}
	nat.rflags = emu.rflags = flags;
	memcpy(host, o0, PAGE);
	memcpy(host + PAGE, t0, PAGE);
	struct kvm_regs nat_before = nat;
	uint64_t fault = run_native(&nat, c->start, true);
	if (fault < (uint64_t) (uintptr_t) host + PAGE || fault >= (uint64_t) (uintptr_t) host + 2 * PAGE)
		fail_msg("%s (iteration %u): the native run did not fault on the target page (%#llx)", c->name, iter,
			 (unsigned long long) fault);
	nat = nat_before;
	memcpy(host, o0, PAGE);
	memcpy(host + PAGE, t0, PAGE);
	assert_int_equal(run_native(&nat, c->start, false), 0);

	/* Emulator: the same bytes at CODE, the target page reachable only through the target. */
	reset(NULL);
	memset(&ram, 0, sizeof(ram));
	fc.cpu.regs = emu;
	fc.cpu.regs.rip = CODE;
	place(c->start, len);
	fake_put(&fc, OTHER, o0, PAGE);
	fake_put(&fc, TARGET, t0, PAGE);
	fake_set_pages(&fc, TARGET, PAGE, 0);
	uint64_t va = TARGET + (fault - (uint64_t) (uintptr_t) host - PAGE);
	emu_data_access(&fc.cpu, &fc.env, va, va, &ram_target, &out);
	if (out.status != EMU_DONE)
		fail_msg("%s (iteration %u): status %d (vector %u error %#x), mnemonic %s", c->name, iter, out.status,
			 out.vector, out.error, out.mnemonic);
	assert_true(ram.reads + ram.writes > 0);

	/* Everything the same: registers (pointers as offsets), flags, RIP, memory. */
	for (unsigned i = 0; i < NREGS; i++) {
		uint64_t n = nr[i], e = ((uint64_t *) &fc.cpu.regs)[i];
		if (s.target & BIT(i) || s.other & BIT(i)) {
			n -= (uint64_t) (uintptr_t) host + ((s.target & BIT(i)) ? PAGE : 0);
			e -= (s.target & BIT(i)) ? TARGET : OTHER;
		}
		if (n != e)
			fail_msg("%s (iteration %u): register %u is %#llx natively, %#llx emulated", c->name, iter, i,
				 (unsigned long long) n, (unsigned long long) e);
	}
	if ((nat.rflags & (STATUS_FLAGS | X86_RFLAGS_DF)) != (fc.cpu.regs.rflags & (STATUS_FLAGS | X86_RFLAGS_DF)))
		fail_msg("%s (iteration %u): flags %#llx natively, %#llx emulated (before: %#llx)", c->name, iter,
			 (unsigned long long) nat.rflags & (STATUS_FLAGS | X86_RFLAGS_DF),
			 (unsigned long long) fc.cpu.regs.rflags & (STATUS_FLAGS | X86_RFLAGS_DF), (unsigned long long) flags);
	bool call = c->start == nc_call_r || c->start == nc_call_rel;
	uint64_t want_rip = c->start == nc_call_r ? (uint64_t) (uintptr_t) native_back : CODE + len;
	assert_int_equal(fc.cpu.regs.rip, want_rip);
	if (call) {
		/* The return addresses differ by where the bytes ran: compare them, then blank them. */
		uint64_t slot = fc.cpu.regs.rsp - TARGET, nat_ret, emu_ret;
		memcpy(&nat_ret, host + PAGE + slot, 8);
		memcpy(&emu_ret, fc.mem + TARGET + slot, 8);
		assert_int_equal(nat_ret, (uint64_t) (uintptr_t) c->end);
		assert_int_equal(emu_ret, CODE + len);
		memset(host + PAGE + slot, 0, 8);
		memset(fc.mem + TARGET + slot, 0, 8);
	}
	if (memcmp(host + PAGE, fc.mem + TARGET, PAGE) != 0 || memcmp(host, fc.mem + OTHER, PAGE) != 0) {
		for (unsigned i = 0; i < 2 * PAGE; i++) {
			uint8_t hb = host[i], eb = fc.mem[(i < PAGE ? OTHER : TARGET) + i % PAGE];
			if (hb != eb)
				fail_msg("%s (iteration %u): %s page byte %#x is %#x natively, %#x emulated", c->name, iter,
					 i < PAGE ? "other" : "target", i % PAGE, hb, eb);
		}
	}
}

static void test_native(void **state)
{
	const struct native_case *c = *state;

	rng_state = 0x9e3779b97f4a7c15ULL ^ (uint64_t) (uintptr_t) c->name[0] ^ (uint64_t) (c - native_cases) << 20;
	for (unsigned iter = 0; iter < NATIVE_ITERATIONS; iter++)
		check_case(c, iter);
}

static int native_group_setup(void **state)
{
	void *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	host = p;
	return 0;
}

static int native_group_teardown(void **state)
{
	munmap(host, 2 * PAGE);
	return 0;
}

/* --- MMIO: a device target ----------------------------------------------------------------------- */

struct fake_dev {
	uint8_t bytes[4096];
	unsigned reads, writes, last_size;
	uint64_t last_gpa;
	bool fail;
};
static struct fake_dev dev;

static int dev_access(void *ctx, uint64_t gpa, void *data, unsigned size, bool is_write)
{
	struct fake_dev *d = ctx;
	assert_true(gpa >= DEV_GPA && gpa + size <= DEV_GPA + sizeof(d->bytes));
	d->last_gpa = gpa;
	d->last_size = size;
	if (d->fail)
		return -EIO;
	if (is_write) {
		d->writes++;
		memcpy(d->bytes + (gpa - DEV_GPA), data, size);
	} else {
		d->reads++;
		memcpy(data, d->bytes + (gpa - DEV_GPA), size);
	}
	return 0;
}

static const struct emu_data_target dev_target = { .access = dev_access, .ctx = &dev };

static void data_access(uint64_t va)
{
	emu_data_access(&fc.cpu, &fc.env, va, DEV_GPA + (va & 4095), &dev_target, &out);
}

static int reset_dev(void **state)
{
	reset(state);
	memset(&dev, 0, sizeof(dev));
	for (unsigned i = 0; i < sizeof(dev.bytes); i++)
		dev.bytes[i] = 0x80 + (i & 0x7f);
	/* Nothing but the target may reach the device page. */
	fake_set_pages(&fc, MMIO_VA, PAGE, 0);
	return 0;
}

struct load_case {
	const char *name;
	uint8_t code[15];
	size_t len;
	unsigned size;
	uint64_t rax_after;   /* rax starts as 0x1111111111111111, rbx = MMIO_VA + 0x10 */
};

/* dev bytes at 0x10: 90 91 92 93 94 95 96 97 */
static const struct load_case load_cases[] = {
	{ "mov al, [rbx]", BYTES(0x8a, 0x03), 1, 0x1111111111111190ULL },
	{ "mov ah, [rbx]", BYTES(0x8a, 0x23), 1, 0x1111111111119011ULL },
	{ "mov ax, [rbx]", BYTES(0x66, 0x8b, 0x03), 2, 0x1111111111119190ULL },
	{ "mov eax, [rbx]", BYTES(0x8b, 0x03), 4, 0x0000000093929190ULL },
	{ "mov rax, [rbx]", BYTES(0x48, 0x8b, 0x03), 8, 0x9796959493929190ULL },
	{ "movzx eax, byte [rbx]", BYTES(0x0f, 0xb6, 0x03), 1, 0x90 },
	{ "movzx ax, byte [rbx]", BYTES(0x66, 0x0f, 0xb6, 0x03), 1, 0x1111111111110090ULL },
	{ "movzx rax, word [rbx]", BYTES(0x48, 0x0f, 0xb7, 0x03), 2, 0x9190 },
	{ "movsx eax, byte [rbx]", BYTES(0x0f, 0xbe, 0x03), 1, 0xffffff90ULL },
	{ "movsx rax, byte [rbx]", BYTES(0x48, 0x0f, 0xbe, 0x03), 1, 0xffffffffffffff90ULL },
	{ "movsx rax, word [rbx]", BYTES(0x48, 0x0f, 0xbf, 0x03), 2, 0xffffffffffff9190ULL },
	{ "movsxd rax, [rbx]", BYTES(0x48, 0x63, 0x03), 4, 0xffffffff93929190ULL },
	{ "mov eax, [rbx+rcx*4-8]", BYTES(0x8b, 0x44, 0x8b, 0xf8), 4, 0x0000000093929190ULL },
	{ "lodsd", BYTES(0xad), 4, 0x0000000093929190ULL },
};
#define N_LOAD (sizeof(load_cases) / sizeof(load_cases[0]))

static void test_load(void **state)
{
	const struct load_case *lc = *state;

	reset_dev(NULL);
	fc.cpu.regs.rax = 0x1111111111111111ULL;
	fc.cpu.regs.rbx = fc.cpu.regs.rsi = MMIO_VA + 0x10;
	fc.cpu.regs.rcx = 2;
	place(lc->code, lc->len);
	data_access(MMIO_VA + 0x10);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rax, lc->rax_after);
	assert_int_equal(dev.reads, 1);
	assert_int_equal(dev.writes, 0);
	assert_int_equal(dev.last_size, lc->size);
	assert_int_equal(dev.last_gpa, DEV_GPA + 0x10);
	assert_int_equal(fc.cpu.regs.rip, CODE + lc->len);
}

struct store_case {
	const char *name;
	uint8_t code[15];
	size_t len;
	unsigned size;
	uint64_t stored;      /* rax = 0x8877665544332211 */
};

static const struct store_case store_cases[] = {
	{ "mov [rbx], al", BYTES(0x88, 0x03), 1, 0x11 },
	{ "mov [rbx], ah", BYTES(0x88, 0x23), 1, 0x22 },
	{ "mov [rbx], ax", BYTES(0x66, 0x89, 0x03), 2, 0x2211 },
	{ "mov [rbx], eax", BYTES(0x89, 0x03), 4, 0x44332211 },
	{ "mov [rbx], rax", BYTES(0x48, 0x89, 0x03), 8, 0x8877665544332211ULL },
	{ "mov byte [rbx], 0x80", BYTES(0xc6, 0x03, 0x80), 1, 0x80 },
	{ "mov word [rbx], 0x1234", BYTES(0x66, 0xc7, 0x03, 0x34, 0x12), 2, 0x1234 },
	{ "mov dword [rbx], imm32", BYTES(0xc7, 0x03, 0x78, 0x56, 0x34, 0x92), 4, 0x92345678 },
	{ "mov qword [rbx], -2", BYTES(0x48, 0xc7, 0x03, 0xfe, 0xff, 0xff, 0xff), 8, 0xfffffffffffffffeULL },
	{ "stosd", BYTES(0xab), 4, 0x44332211 },
	{ "mov [moffs64], eax", BYTES(0xa3, 0x10, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00), 4, 0x44332211 },
	{ "movbe [rbx], eax", BYTES(0x0f, 0x38, 0xf1, 0x03), 4, 0x11223344 },
	{ "mov [rbx], ds", BYTES(0x8c, 0x1b), 2, 0x002b },
};
#define N_STORE (sizeof(store_cases) / sizeof(store_cases[0]))

static void test_store(void **state)
{
	const struct store_case *sc = *state;

	reset_dev(NULL);
	fc.cpu.regs.rax = 0x8877665544332211ULL;
	fc.cpu.regs.rbx = MMIO_VA + 0x10;
	fc.cpu.regs.rdi = MMIO_VA + 0x10;
	fc.cpu.pcb.ds = 0x2b;
	place(sc->code, sc->len);
	struct kvm_regs before = fc.cpu.regs;
	data_access(MMIO_VA + 0x10);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(dev.writes, 1);
	assert_int_equal(dev.last_size, sc->size);
	uint64_t v = 0;
	memcpy(&v, dev.bytes + 0x10, sc->size);
	assert_int_equal(v, sc->stored);
	assert_int_equal(dev.bytes[0x10 + sc->size], 0x90 + sc->size);   /* nothing beyond */
	assert_int_equal(fc.cpu.regs.rip, CODE + sc->len);
	assert_int_equal(fc.cpu.regs.rax, before.rax);
}

static void assert_not_emulated(void)
{
	assert_int_equal(out.status, EMU_NOT_EMULATED);
	assert_int_equal(fc.cpu.regs.rip, CODE);
}

static void test_not_emulated(void **state)
{
	/* Crosses the page's edge: left to the caller, no device access. */
	fc.cpu.regs.rbx = MMIO_VA + 4094;
	CODE_BYTES(0x8b, 0x03);
	data_access(MMIO_VA + 4094);
	assert_not_emulated();
	assert_int_equal(dev.reads + dev.writes, 0);

	/* The decoded address is not the faulting one (another instruction, or a form vmmd reads differently). */
	fc.cpu.regs.rbx = MMIO_VA + 0x100;
	data_access(MMIO_VA + 0x10);
	assert_not_emulated();
	/* RIP-relative too: mov [rip + 0x1000], eax does not touch MMIO_VA + 0x20. */
	CODE_BYTES(0x89, 0x05, 0x00, 0x10, 0x00, 0x00);
	data_access(MMIO_VA + 0x20);
	assert_not_emulated();
	assert_int_equal(dev.reads + dev.writes, 0);

	/* Valid instructions the data emulator leaves alone: SSE, x87, fxsave,
	 * cmps, a segment load from the page, a descriptor-table load. */
	static const struct { uint8_t code[15]; size_t len; } left[] = {
		{ BYTES(0x0f, 0x11, 0x03) },              /* movups [rbx], xmm0 */
		{ BYTES(0xf2, 0x0f, 0x11, 0x03) },        /* movsd [rbx], xmm0 (not the string movsd) */
		{ BYTES(0x66, 0x0f, 0xd6, 0x03) },        /* movq [rbx], xmm0 */
		{ BYTES(0xdd, 0x1b) },                    /* fstp qword [rbx] */
		{ BYTES(0x0f, 0xae, 0x03) },              /* fxsave [rbx] */
		{ BYTES(0xa6) },                          /* cmpsb */
		{ BYTES(0x8e, 0x1b) },                    /* mov ds, [rbx] */
		{ BYTES(0x0f, 0x01, 0x13) },              /* lgdt [rbx] */
		{ BYTES(0xc8, 0x10, 0x00, 0x00) },        /* enter 16, 0 */
	};
	fc.cpu.regs.rbx = fc.cpu.regs.rsi = fc.cpu.regs.rdi = MMIO_VA + 0x10;
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
		place(left[i].code, left[i].len);
		data_access(MMIO_VA + 0x10);
		assert_not_emulated();
	}
	assert_int_equal(dev.reads + dev.writes, 0);

	/* Undecodable bytes: #UD. */
	CODE_BYTES(0x0f, 0x22, 0xc8);
	data_access(MMIO_VA + 0x10);
	assert_exception(X86_UD, 0);
}

static void test_data_addr32(void **state)
{
	/* a32: mov eax, [ebx] uses only ebx. */
	fc.cpu.regs.rbx = 0xffffffff00000000ULL | (MMIO_VA + 0x10);
	CODE_BYTES(0x67, 0x8b, 0x03);
	data_access(MMIO_VA + 0x10);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rax, 0x93929190);
}

static void test_data_rip_relative(void **state)
{
	/* mov [rip + disp], eax with rip + 6 + disp on the device page. */
	fc.cpu.regs.rax = 0xabcd;
	uint32_t disp = MMIO_VA + 0x20 - (CODE + 6);
	CODE_BYTES(0x89, 0x05, disp & 0xff, (disp >> 8) & 0xff, (disp >> 16) & 0xff, disp >> 24);
	data_access(MMIO_VA + 0x20);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(dev.last_gpa, DEV_GPA + 0x20);
	assert_int_equal(dev.bytes[0x20], 0xcd);
	assert_int_equal(fc.cpu.regs.rip, CODE + 6);
}

static void test_data_fs_override(void **state)
{
	/* mov eax, fs:[rbx]: the FS base counts. */
	fc.cpu.pcb.fs_base = 0x10000;
	fc.cpu.regs.rbx = MMIO_VA + 0x10 - 0x10000;
	CODE_BYTES(0x64, 0x8b, 0x03);
	data_access(MMIO_VA + 0x10);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rax, 0x93929190);
}

static void test_data_rep_stos(void **state)
{
	/* rep stosb on the device page: every element in one call while it stays on the page. */
	fc.cpu.regs.rdi = MMIO_VA + 0x40;
	fc.cpu.regs.rcx = 2;
	fc.cpu.regs.rax = 0x5a;
	CODE_BYTES(0xf3, 0xaa);
	data_access(MMIO_VA + 0x40);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rip, CODE + 2);
	assert_int_equal(fc.cpu.regs.rcx, 0);
	assert_int_equal(fc.cpu.regs.rdi, MMIO_VA + 0x42);
	assert_int_equal(dev.bytes[0x40], 0x5a);
	assert_int_equal(dev.bytes[0x41], 0x5a);
	assert_int_equal(dev.writes, 2);
}

static void test_data_rep_leaves_page(void **state)
{
	/* rep stosq across the page's end: the elements on the page are done,
	 * RIP stays, and the CPU does the rest (RCX says how much). */
	fake_set_pages(&fc, TARGET, PAGE, 0);
	memset(&ram, 0, sizeof(ram));
	fc.cpu.regs.rdi = TARGET + PAGE - 16;
	fc.cpu.regs.rcx = 5;
	fc.cpu.regs.rax = 0x1122334455667788ULL;
	CODE_BYTES(0xf3, 0x48, 0xab);
	emu_data_access(&fc.cpu, &fc.env, TARGET + PAGE - 16, TARGET + PAGE - 16, &ram_target, &out);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(ram.writes, 2);
	assert_int_equal(fc.cpu.regs.rcx, 3);
	assert_int_equal(fc.cpu.regs.rdi, TARGET + PAGE);
	assert_int_equal(fc.cpu.regs.rip, CODE);
	/* The next element (outside) is not the emulator's: the CPU would fault elsewhere. */
	emu_data_access(&fc.cpu, &fc.env, TARGET + PAGE - 8, TARGET + PAGE - 8, &ram_target, &out);
	assert_not_emulated();
}

static void test_data_target_error(void **state)
{
	/* A failing target reads as all ones; a failing write is dropped. */
	dev.fail = true;
	fc.cpu.regs.rbx = MMIO_VA;
	CODE_BYTES(0x8b, 0x03);
	data_access(MMIO_VA);
	assert_int_equal(out.status, EMU_DONE);
	assert_int_equal(fc.cpu.regs.rax, 0xffffffff);
}

static void test_data_fetch_fault(void **state)
{
	fake_set_pages(&fc, CODE, 4096, 0);
	data_access(MMIO_VA);
	assert_exception(X86_PF, SHADOW_ACC_FETCH);
	assert_int_equal(out.cr2, CODE);
	assert_int_equal(dev.reads + dev.writes, 0);
}

static void test_data_other_operand_faults(void **state)
{
	/* movsq from an unmapped source to the device page: the guest's #PF, no device write. */
	fake_set_pages(&fc, OTHER, PAGE, 0);
	fc.cpu.regs.rsi = OTHER + 8;
	fc.cpu.regs.rdi = MMIO_VA + 8;
	CODE_BYTES(0x48, 0xa5);
	data_access(MMIO_VA + 8);
	assert_exception(X86_PF, 0);
	assert_int_equal(out.cr2, OTHER + 8);
	assert_int_equal(dev.writes, 0);
	assert_int_equal(fc.cpu.regs.rdi, MMIO_VA + 8);
	/* push to a device-page stack from non-canonical memory: #GP(0). */
	fc.cpu.regs.rip = CODE;
	fc.cpu.regs.rsp = MMIO_VA + 0x100;
	fc.cpu.regs.rsi = 0x0000800000000000ULL;
	CODE_BYTES(0xff, 0x36);
	data_access(MMIO_VA + 0xf8);
	assert_exception(X86_GP, 0);
	assert_int_equal(fc.cpu.regs.rsp, MMIO_VA + 0x100);
}

static void test_cmpxchg16b_alignment(void **state)
{
	/* cmpxchg16b needs a 16-byte aligned operand: #GP(0) otherwise. */
	fc.cpu.regs.rdi = MMIO_VA + 8;
	CODE_BYTES(0xf0, 0x48, 0x0f, 0xc7, 0x0f);
	data_access(MMIO_VA + 8);
	assert_exception(X86_GP, 0);
	assert_int_equal(dev.reads + dev.writes, 0);
}

/* Random bytes after a known data opcode, random registers and fault
 * addresses: never a crash, a device access only inside the device page,
 * no virtual CPL or control-state change. */
static void test_random_bytes(void **state)
{
	static const uint8_t opcodes[] = { 0x88, 0x89, 0x8a, 0x8b, 0xc6, 0xc7, 0x01, 0x09, 0x21, 0x31, 0x81, 0x83,
					   0x87, 0xa4, 0xa5, 0xaa, 0xab, 0xac, 0xff, 0xfe, 0xf7, 0xd1, 0xd3, 0x8f,
					   0x0f };
	static const uint8_t prefixes[] = { 0x66, 0x67, 0xf2, 0xf3, 0x48, 0x4f, 0x64, 0x65, 0xf0 };

	rng_state = 0x123456789abcdefULL;
	for (unsigned iter = 0; iter < 20000; iter++) {
		reset_dev(NULL);
		uint8_t code[15];
		size_t n = 0;
		for (unsigned i = rng() % 3; i > 0; i--)
			code[n++] = prefixes[rng() % sizeof(prefixes)];
		code[n++] = opcodes[rng() % sizeof(opcodes)];
		while (n < sizeof(code))
			code[n++] = rng();
		uint64_t *r = (uint64_t *) &fc.cpu.regs;
		for (unsigned i = 0; i < 16; i++)
			r[i] = (rng() & 1) ? rng() : MMIO_VA + (rng() % 0x1100);
		fc.cpu.regs.rcx &= 0xfff;
		fc.cpu.regs.rip = CODE;
		fc.cpu.pcb.vcpl = (rng() & 1) ? 3 : 0;
		struct shadow_pcb before = fc.cpu.pcb;
		place(code, sizeof(code));
		uint64_t va = MMIO_VA + (rng() % 4096);
		data_access(va);
		assert_true(out.status == EMU_DONE || out.status == EMU_EXCEPTION || out.status == EMU_NOT_EMULATED);
		assert_true(memchr(out.mnemonic, 0, sizeof(out.mnemonic)) != NULL);
		if (out.status == EMU_EXCEPTION)
			assert_true(out.vector < 32);
		assert_int_equal(fc.cpu.pcb.vcpl, before.vcpl);
		assert_int_equal(fc.cpu.pcb.cr3, before.cr3);
		assert_int_equal(fc.n_pio + fc.cr3_writes + fc.invlpgs + fc.paging_changes, 0);
	}
}

int main(void)
{
	static struct CMUnitTest native[N_NATIVE];
	static struct CMUnitTest table[N_LOAD + N_STORE];
	size_t n = 0;

	for (size_t i = 0; i < N_NATIVE; i++)
		native[i] = (struct CMUnitTest) { native_cases[i].text, test_native, NULL, NULL, (void *) &native_cases[i] };
	for (size_t i = 0; i < N_LOAD; i++)
		table[n++] = (struct CMUnitTest) { load_cases[i].name, test_load, NULL, NULL, (void *) &load_cases[i] };
	for (size_t i = 0; i < N_STORE; i++)
		table[n++] = (struct CMUnitTest) { store_cases[i].name, test_store, NULL, NULL, (void *) &store_cases[i] };

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_not_emulated, reset_dev),
		cmocka_unit_test_setup(test_data_addr32, reset_dev),
		cmocka_unit_test_setup(test_data_rip_relative, reset_dev),
		cmocka_unit_test_setup(test_data_fs_override, reset_dev),
		cmocka_unit_test_setup(test_data_rep_stos, reset_dev),
		cmocka_unit_test_setup(test_data_rep_leaves_page, reset_dev),
		cmocka_unit_test_setup(test_data_target_error, reset_dev),
		cmocka_unit_test_setup(test_data_fetch_fault, reset_dev),
		cmocka_unit_test_setup(test_data_other_operand_faults, reset_dev),
		cmocka_unit_test_setup(test_cmpxchg16b_alignment, reset_dev),
		cmocka_unit_test_setup(test_random_bytes, reset_dev),
	};
	int failed = _cmocka_run_group_tests("data emulator against the host CPU", native, N_NATIVE,
					     native_group_setup, native_group_teardown);
	failed += _cmocka_run_group_tests("data emulator on MMIO", table, n, NULL, NULL);
	return failed + cmocka_run_group_tests_name("data emulator", tests, NULL, NULL);
}
