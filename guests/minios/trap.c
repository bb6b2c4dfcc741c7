// SPDX-License-Identifier: MIT
/*
 * minios: the IDT and trap(), where every entry into the kernel lands
 * (kentry.S builds the frame): system calls, device interrupts, and
 * exceptions. An exception in user mode either is fixed (a demand-zero
 * page for a #PF in the map or stack region; a #DE the process asked to
 * skip) or kills the process with status 128 + vector; the kernel and the
 * other processes go on. An exception in kernel mode is a kernel bug: panic.
 *
 * "From user mode" is read from the CS in the frame, never from %cs: in
 * shadow mode the kernel itself runs at real CPL3 and vmmd writes the
 * virtual CS into the frames it builds (guests/README.md).
 */
#include "minios.h"

static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
struct entry_paths entry_paths;

void trap_init(void)
{
	/* Exceptions 0-31 and the 8259's 0x20-0x2f: interrupt gates (IF
	 * cleared on entry), kernel only. int 0x80: callable from user mode. */
	idt_set_stubs(idt, IRQ_BASE + 16, trap_stubs);
	idt_set_gate(idt, TRAP_VEC_INT80, trap_stub_int80, 3);
	idt_load(idt, sizeof(idt));

	/* The host-quirk fallback (lib/entry_path.c). The shell's first two
	 * entries, a syscall and an int 0x80 (SYS_PROBE), teach it which way
	 * this host delivers them; syscall.c ends the probe. */
	entry_paths.lstar = (uint64_t) (uintptr_t) syscall_entry;
	entry_paths.user_base = USER_BASE;
	entry_paths.user_end = USER_END;
	entry_paths.user_cs = USER_CS;
	entry_paths.user_ss = USER_DS;
	entry_paths.probing = true;
}

static const char *vector_name(uint64_t v)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vector 9",
		"#TS", "#NP", "#SS", "#GP", "#PF", "vector 15", "#MF", "#AC", "#MC", "#XM",
	};

	return v < ARRAY_SIZE(names) ? names[v] : "exception";
}

static void exception(struct trapframe *tf)
{
	uint64_t cr2 = tf->vector == TRAP_VEC_PF ? read_cr2() : 0;

	if (!trap_from_user(tf))
		panic("%s in kernel mode at rip=0x%llx cr2=0x%llx err=0x%llx (pid %d)",
		      vector_name(tf->vector), (unsigned long long) tf->rip, (unsigned long long) cr2,
		      (unsigned long long) tf->err, cur ? cur->pid : 0);
	/* Demand paging: a not-present fault in the map or stack region gets a
	 * fresh zeroed page, and the instruction runs again. */
	if (tf->vector == TRAP_VEC_PF && !(tf->err & TRAP_PF_P) && vm_demand_fault(cur, cr2))
		return;
	/* nanobench's divzero: the kernel handles #DE and skips the divide. */
	if (tf->vector == TRAP_VEC_DE && cur->de_skip) {
		tf->rip += cur->de_skip;
		return;
	}
	if (tf->vector == TRAP_VEC_PF)
		kprintf("minios: pid %d (%s) killed: #PF at rip=0x%llx cr2=0x%llx err=0x%llx\n", cur->pid,
			cur->name, (unsigned long long) tf->rip, (unsigned long long) cr2,
			(unsigned long long) tf->err);
	else
		kprintf("minios: pid %d (%s) killed: %s at rip=0x%llx\n", cur->pid, cur->name,
			vector_name(tf->vector), (unsigned long long) tf->rip);
	proc_exit(STATUS_KILLED_BASE + (int) tf->vector);
}

void trap(struct trapframe *tf)
{
	entry_paths_recognise(&entry_paths, tf);
	switch (tf->vector) {
	case TRAP_VEC_SYSCALL:
	case TRAP_VEC_INT80:
		if (!trap_from_user(tf))
			panic("system call from kernel mode at rip=0x%llx", (unsigned long long) tf->rip);
		/* sysretq to a non-canonical rip would fault in ring 0. */
		if (tf->rip < USER_BASE || tf->rip >= USER_END) {
			kprintf("minios: pid %d (%s) killed: system call returning to 0x%llx\n", cur->pid,
				cur->name, (unsigned long long) tf->rip);
			proc_exit(STATUS_KILLED);
		}
		tf->rflags = (tf->rflags & RFLAGS_USER) | RFLAGS_IF | RFLAGS_FIXED;
		syscall_dispatch(tf);
		break;
	case VEC_TIMER:
		proc_tick();
		break;
	case VEC_COM1:
		console_irq();
		break;
	default:
		if (tf->vector < IRQ_BASE)
			exception(tf);
		/* Other 8259 lines are masked; IRQ 7/15 may be spurious. Auto-EOI:
		 * nothing to acknowledge. */
		break;
	}
	proc_trap_exit(tf);
}
