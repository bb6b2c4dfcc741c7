// SPDX-License-Identifier: MIT
/*
 * minios: boot. lib/entry.S and lib/boot.c have set up a stack, zeroed .bss,
 * read vmmd's boot info and initialised COM1; guest_main() brings the
 * machine up in this order:
 *
 *   1. GDT (kernel and user segments, a TSS), IDT, syscall MSRs (here and
 *      trap.c);
 *   2. the local APIC, where there is one (hw mode: KVM's, whose LINT0 must
 *      pass the 8259's interrupts on; shadow mode has none: vmmd's PIC
 *      delivers straight to the vCPU, and the probe reads all-ones);
 *   3. the 8259s (vectors 0x20-0x2f, auto-EOI), the 8254 (stopped until a
 *      second process is runnable or one sleeps), COM1's receive interrupt;
 *   4. physical memory above the image, and the kernel half of every
 *      address space (guest-physical memory, identity, supervisor-only);
 *   5. the first process, the shell, with the command line's script as its
 *      argument; then the scheduler runs forever.
 */
#include "minios.h"

uint64_t memory_bytes;
uint32_t boot_mode;

extern char __image_end[];

/* 0x08 kernel code, 0x10 kernel data, 0x18/0x20/0x28 user code32/data/code64
 * (sysret's order), 0x30 a 64-bit TSS (two slots, filled in at boot). */
static uint64_t gdt[8] __attribute__((aligned(16))) = {
	0, GDT_KERNEL_CODE64, GDT_KERNEL_DATA, GDT_USER_CODE32, GDT_USER_DATA, GDT_USER_CODE64, 0, 0,
};
static struct tss64 tss __attribute__((aligned(16)));

/* Where the CPU (or vmmd) switches stacks on an entry from user mode. */
void tss_set_rsp0(uint64_t rsp0)
{
	tss.rsp[0] = rsp0;
	syscall_kernel_rsp = rsp0;
}

void panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write("minios: panic: ", 15);
	console_write(buf, (size_t) n < sizeof(buf) ? (size_t) n : sizeof(buf) - 1);
	console_write("\n", 1);
	vmm_exit(99);
}

/*
 * Syscall MSRs: STAR's kernel CS 0x08 (SS 0x10), sysret base 0x18 (CS
 * 0x2b, SS 0x23); FMASK clears TF, IF, DF, IOPL, NT, AC on entry.
 */
static void setup_syscall(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	wrmsr(MSR_STAR, (uint64_t) USER_CS32 << 48 | (uint64_t) KERNEL_CS << 32);
	wrmsr(MSR_LSTAR, (uint64_t) (uintptr_t) syscall_entry);
	wrmsr(MSR_FMASK, 0x47700);
}

/*
 * KVM's local APIC (hw mode) accepts the 8259's interrupts only through
 * LINT0 programmed as ExtINT. Its version register reads 0x1X there; where
 * nothing answers at 0xfee00000 (shadow mode, vmmd's PIC delivers to the
 * vCPU itself) the read gives all-ones and nothing is written. vmmd's boot
 * page tables map the first 4 GiB, so this runs before minios loads its own.
 */
#define LAPIC_BASE 0xfee00000ull
static void setup_lapic(void)
{
	volatile uint32_t *lapic = (volatile uint32_t *) (uintptr_t) LAPIC_BASE;
	uint32_t version = lapic[0x30 / 4];

	if ((version & 0xf0) != 0x10)
		return;
	lapic[0xf0 / 4] = 0x100 | VEC_SPURIOUS;         /* SVR: software-enable */
	lapic[0x350 / 4] = 0x700;                       /* LVT0: ExtINT (the 8259) */
	lapic[0x360 / 4] = 0x400;                       /* LVT1: NMI */
}

/* The shell's script: `script=cmd;cmd` (up to the next space) or
 * `script="cmd args;cmd"` (up to the closing quote). */
static size_t find_script(const char *cmdline, const char **ret)
{
	const char *p = cmdline, *v, *end;

	*ret = "";
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return 0;
		if (!strncmp(p, "script=", 7))
			break;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	v = p + 7;
	if (*v == '"') {
		v++;
		for (end = v; *end && *end != '"'; end++)
			;
	} else {
		for (end = v; *end && *end != ' ' && *end != '\t'; end++)
			;
	}
	*ret = v;
	return (size_t) (end - v);
}

void guest_main(const struct guest_boot *b)
{
	static char shell[VMM_BOOT_CMDLINE_MAX] __attribute__((section(".noinit.minios")));
	const char *script;
	size_t n;
	uint64_t start = align_up((uint64_t) (uintptr_t) __image_end, PAGE_SIZE);

	memory_bytes = b->memory_bytes > (1ull << 30) ? 1ull << 30 : b->memory_bytes;
	boot_mode = b->mode;
	/* The TSS has no I/O bitmap: user-mode in/out faults. */
	gdt_load(gdt, sizeof(gdt), TSS_SEL, &tss, sizeof(tss), read_rflags());
	trap_init();
	setup_syscall();
	setup_lapic();
	console_init();
	pic_init();
	pit_init();
	if (memory_bytes < start + (1ull << 20))
		panic("needs at least %llu KiB of memory", (unsigned long long) (start >> 10) + 1024);
	mm_init(start, memory_bytes);
	vm_init(memory_bytes);
	proc_init();

	kprintf("minios: booting in %s mode, %llu MiB, %llu free pages\n", guest_mode_name(boot_mode),
		(unsigned long long) (b->memory_bytes >> 20), (unsigned long long) mm_free_pages());
	n = find_script(b->cmdline, &script);
	memcpy(shell, "sh ", 3);
	if (n > sizeof(shell) - 4)
		n = sizeof(shell) - 4;
	memcpy(shell + 3, script, n);
	if (proc_spawn(shell, n + 3, NULL) != 1)
		panic("cannot start the shell");
	proc_start_first();
}
