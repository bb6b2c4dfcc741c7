/* SPDX-License-Identifier: MIT */
/*
 * minios: the kernel's internal interfaces, one section per file.
 *
 * The kernel runs with interrupts off (IF = 0) everywhere except the idle
 * loop (`sti; hlt; cli`) and user mode: it is never preempted, so nothing
 * here needs a lock. Every kernel instruction is emulated (~0.5 us) on a
 * host without VT-x in hw mode, and every privileged one traps to vmmd
 * (~30 us) in shadow mode, so the hot paths (system calls, interrupts,
 * context switches) are short and do no privileged work they can avoid.
 */
#ifndef MINIOS_H
#define MINIOS_H

#include "abi.h"
#include "cpu.h"
#include "cpu_tables.h"
#include "entry_path.h"
#include "guest.h"

/* --- GDT selectors (boot.c), after KERNEL_CS 0x08 and KERNEL_DS 0x10 (lib/cpu_tables.h).
 * STAR: syscall CS 0x08/SS 0x10, sysret CS 0x28/SS 0x20. */
#define USER_CS32   (0x18 | 3)
#define USER_DS     (0x20 | 3)
#define USER_CS     (0x28 | 3)
#define TSS_SEL     0x30

#define RFLAGS_FIXED 0x002
#define RFLAGS_IF    0x200
#define RFLAGS_USER  0x8d5      /* CF PF AF ZF SF DF OF: what user code may keep across a syscall */

/* --- interrupt vectors: the 8259s are remapped to 0x20-0x2f (pic.c). */
#define IRQ_BASE     0x20
#define IRQ_TIMER    0           /* 8254 channel 0 */
#define IRQ_COM1     4
#define VEC_TIMER    (IRQ_BASE + IRQ_TIMER)
#define VEC_COM1     (IRQ_BASE + IRQ_COM1)
#define VEC_SPURIOUS 0x2f        /* the LAPIC's spurious vector, and IRQ 15 */
#define IDT_VECTORS  (TRAP_VEC_INT80 + 1)

#define NPROC        32
#define KSTACK_SIZE  8192
#define QUANTUM      3           /* ticks a process may run before another runnable one gets the CPU */
#define MAX_OWNED    (PAGE_SIZE / 8)   /* pages one process may own (user frames + its page tables) */

/* --- boot.c ------------------------------------------------------------------- */
extern uint64_t memory_bytes;
extern uint32_t boot_mode;
extern uint64_t syscall_kernel_rsp;     /* kentry.S: the current process's kernel stack top */
void tss_set_rsp0(uint64_t rsp0);
__noreturn __printf(1, 2) void panic(const char *fmt, ...);

/* --- serial.c: COM1, TX polled in 16-byte FIFO bursts, RX by interrupt into a ring. */
void console_init(void);
void console_write(const char *s, size_t n);
int kprintf(const char *fmt, ...) __printf(1, 2);
void console_irq(void);                 /* IRQ 4: drain the UART into the ring, wake a reader */
size_t console_read(char *buf, size_t n);
bool console_empty(void);

/* --- pic.c, pit.c ------------------------------------------------------------- */
void pic_init(void);
void pit_init(void);
void pit_set(bool on);                  /* start (100 Hz, from a fresh period) or stop channel 0 */
bool pit_running(void);

/* --- mm.c: physical pages (kernel-half addresses are physical addresses). */
void mm_init(uint64_t start, uint64_t end);
uint64_t page_alloc(void);              /* a zeroed page, or 0 */
uint64_t page_alloc_raw(void);          /* a page with whatever it held, or 0 */
void page_free(uint64_t pa);
uint64_t mm_free_pages(void);
void page_copy(uint64_t dst, const void *src, size_t n);

/* --- vm.c: page tables ------------------------------------------------------------ */
#define PTE_P    0x001ull
#define PTE_W    0x002ull
#define PTE_U    0x004ull
#define PTE_PWT  0x008ull
#define PTE_PCD  0x010ull
#define PTE_PS   0x080ull
#define PTE_ADDR 0x000ffffffffff000ull

struct proc;
void vm_init(uint64_t mem_bytes);
int vm_create(struct proc *p);          /* a PML4 with the kernel half, an empty user half */
int vm_map(struct proc *p, uint64_t va, uint64_t pa, uint64_t flags, bool owned);
int vm_map_fresh(struct proc *p, uint64_t va, uint64_t flags);  /* a new zeroed page */
int vm_unmap(struct proc *p, uint64_t va);
bool vm_demand_fault(struct proc *p, uint64_t va);      /* a demand-zero page for a user #PF */
bool vm_user_ok(struct proc *p, uint64_t va, uint64_t len, bool write);
void vm_free_user(struct proc *p);      /* every owned page; the user half becomes empty */
void vm_free_pml4(struct proc *p);

/* --- proc.c: processes and the round-robin scheduler ------------------------------ */
enum pstate { P_UNUSED = 0, P_RUNNABLE, P_BLOCKED, P_ZOMBIE };
enum pwait { W_NONE = 0, W_READ, W_SLEEP, W_CHILD };

struct proc {
	enum pstate state;
	enum pwait waiting;
	int pid;
	int status;                     /* exit status, once a zombie */
	struct proc *parent;            /* NULL: nobody waits for it (reaped on exit) */
	struct proc *next;              /* run queue or console reader queue */
	char name[16];
	uint64_t pml4;                  /* physical */
	uint64_t *owned;                /* pages to free on exit (physical addresses) */
	unsigned nowned;
	uint64_t ksp;                   /* saved kernel stack pointer while switched out */
	uint64_t kstack_top;
	uint64_t wake_tick;
	uint64_t de_skip;               /* bytes to skip on #DE (0: kill) */
	unsigned quantum;
};

struct kstats {
	uint64_t cr3_writes;            /* guest page-table switches */
	uint64_t switches;              /* context switches */
	uint64_t yield_switches;        /* ... of them made by yield() */
	uint64_t ticks;
	uint64_t idle_halts;
};

extern struct proc *cur;
extern struct kstats kstats;
void proc_init(void);
int proc_spawn(const char *cmdline, size_t len, struct proc *parent);
__noreturn void proc_start_first(void);
__noreturn void proc_exit(int status);
int proc_kill(int pid);
int proc_wait(int pid, uint64_t status_va);
void proc_sleep(uint64_t ticks);
bool proc_yield(void);                  /* true: another process ran */
void proc_block_read(void);             /* until console input arrives */
void proc_wake_reader(void);            /* from the COM1 interrupt */
void proc_tick(void);                   /* from the timer interrupt */
void proc_trap_exit(const struct trapframe *tf);  /* at the end of every trap */

/* --- image.c: the built-in image table (user programs embedded by the Makefile) ---- */
struct image {
	const char *name;
	const uint8_t *start, *end;     /* a stripped ELF64, linked at USER_BASE */
};
const struct image *image_find(const char *name, size_t len);
int image_load(struct proc *p, const struct image *im, uint64_t *entry);
size_t image_names(char *buf, size_t size);

/* --- trap.c -------------------------------------------------------------------------- */
extern struct entry_paths entry_paths;
void trap_init(void);
void trap(struct trapframe *tf);

/* --- syscall.c ------------------------------------------------------------------------ */
void syscall_dispatch(struct trapframe *tf);

/* --- kentry.S ----------------------------------------------------------------------- */
extern char trap_stubs[], trap_stub_int80[], syscall_entry[];
void swtch(uint64_t *save_ksp, uint64_t new_ksp);
void proc_first_entry(void);            /* where a new process's kernel stack starts */

static inline uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

static inline uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static inline void *phys(uint64_t pa)
{
	return (void *) (uintptr_t) pa;         /* the kernel half is an identity map */
}

#endif
