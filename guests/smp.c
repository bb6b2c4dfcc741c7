// SPDX-License-Identifier: MIT
/*
 * smp: brings up vCPU 1 with INIT/SIPI through the in-kernel local APIC,
 * both CPUs print, then each spins in its own function (so the two vCPUs
 * show different RIPs).
 *
 * The AP starts in real mode at TRAMPOLINE (SIPI vector 0x10): a copy of
 * ap_trampoline below, which loads its own GDT (null, 64-bit code 0x08,
 * data 0x10, 32-bit code 0x18), enters protected mode, turns on PAE,
 * the BSP's page tables (vmmd's, VMM_BOOT_PML4), EFER.LME and paging, and jumps to
 * ap_main on its own stack. [0, 1 MiB) belongs to vmmd's boot tables
 * (0x1000..0x9fff) and scratch stack (below 0x80000): 0x10000 is free.
 *
 * Prints "smp: cpu 0 up (N vcpus)", "smp: cpu 1 up (apic id 1)",
 * "smp: both cpus spinning"; exits with code 1 when the VM has one vCPU
 * and code 2 when the AP does not come up.
 */
#include "guest.h"

#define LAPIC_BASE    0xfee00000UL
#define LAPIC_ID      0x020
#define LAPIC_SVR     0x0f0
#define LAPIC_ICR_LO  0x300
#define LAPIC_ICR_HI  0x310
#define ICR_INIT      0x00004500u   /* INIT, level assert */
#define ICR_SIPI      0x00004600u   /* start-up, vector in bits 0..7 */
#define ICR_PENDING   0x00001000u

#define TRAMPOLINE    0x10000UL
#define AP_STACK_SIZE 8192

/* The real-mode entry, assembled here and copied to TRAMPOLINE. */
__asm__(
	"	.section .rodata.trampoline, \"a\"\n"
	"	.balign 16\n"
	"	.globl ap_trampoline, ap_trampoline_end, ap_tr_stack, ap_tr_entry, ap_tr_cr3\n"
	"	.code16\n"
	"ap_trampoline:\n"
	"	cli\n"
	"	movw %cs, %ax\n"
	"	movw %ax, %ds\n"
	"	lgdtl (tr_gdt_desc - ap_trampoline)\n"
	"	movl %cr0, %eax\n"
	"	orl $1, %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmpl $0x18, $(0x10000 + tr_pm32 - ap_trampoline)\n"
	"	.code32\n"
	"tr_pm32:\n"
	"	movl $0x10, %eax\n"
	"	movl %eax, %ds\n"
	"	movl %eax, %es\n"
	"	movl %eax, %ss\n"
	"	movl %cr4, %eax\n"
	"	orl $0x20, %eax\n"              /* PAE */
	"	movl %eax, %cr4\n"
	"	movl (0x10000 + ap_tr_cr3 - ap_trampoline), %eax\n"   /* the BSP's: vmmd's PML4 */
	"	movl %eax, %cr3\n"
	"	movl $0xc0000080, %ecx\n"       /* EFER */
	"	rdmsr\n"
	"	orl $0x100, %eax\n"             /* LME */
	"	wrmsr\n"
	"	movl %cr0, %eax\n"
	"	orl $0x80000000, %eax\n"        /* PG */
	"	movl %eax, %cr0\n"
	"	ljmpl $0x08, $(0x10000 + tr_lm64 - ap_trampoline)\n"
	"	.code64\n"
	"tr_lm64:\n"
	"	movq (0x10000 + ap_tr_stack - ap_trampoline), %rsp\n"
	"	movq (0x10000 + ap_tr_entry - ap_trampoline), %rax\n"
	"	jmp *%rax\n"
	"	.balign 8\n"
	"tr_gdt:\n"
	"	.quad 0\n"
	"	.quad 0x00af9a000000ffff\n"     /* 0x08: 64-bit code */
	"	.quad 0x00cf92000000ffff\n"     /* 0x10: flat data */
	"	.quad 0x00cf9a000000ffff\n"     /* 0x18: 32-bit code */
	"tr_gdt_desc:\n"
	"	.word 4 * 8 - 1\n"
	"	.long 0x10000 + tr_gdt - ap_trampoline\n"
	"	.balign 8\n"
	"ap_tr_stack:	.quad 0\n"
	"ap_tr_entry:	.quad 0\n"
	"ap_tr_cr3:	.quad 0\n"
	"ap_trampoline_end:\n"
	"	.previous\n");

extern const char ap_trampoline[], ap_trampoline_end[], ap_tr_stack[], ap_tr_entry[], ap_tr_cr3[];

static uint8_t ap_stack[AP_STACK_SIZE] __attribute__((aligned(16)));
static volatile int ap_up;
static int print_lock;

static void lock(void)
{
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
}

static void unlock(void)
{
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(LAPIC_BASE + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(LAPIC_BASE + reg) = v;
}

static void send_ipi(uint32_t apic_id, uint32_t icr)
{
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr);
	while (lapic_read(LAPIC_ICR_LO) & ICR_PENDING)
		cpu_relax();
}

/* Each CPU spins in a function of its own, counting (so their code differs
 * and the compiler cannot fold them into one): vcpu.state shows two RIPs. */
volatile uint64_t smp_spins[2];

static __attribute__((noinline, noreturn)) void spin_cpu0(void)
{
	for (;;) {
		smp_spins[0]++;
		cpu_relax();
	}
}

static __attribute__((noinline, noreturn)) void spin_cpu1(void)
{
	for (;;) {
		smp_spins[1] += 3;
		cpu_relax();
	}
}

static __attribute__((noreturn, used)) void ap_main(void)
{
	uint32_t id = lapic_read(LAPIC_ID) >> 24;

	lock();
	printf("smp: cpu 1 up (apic id %u)\n", id);
	unlock();
	__atomic_store_n(&ap_up, 1, __ATOMIC_RELEASE);
	spin_cpu1();
}

void guest_main(const struct guest_boot *b)
{
	size_t len = (size_t)(ap_trampoline_end - ap_trampoline);
	uint64_t stack = (uint64_t)(uintptr_t)(ap_stack + AP_STACK_SIZE);
	uint64_t entry = (uint64_t)(uintptr_t)ap_main;
	uint64_t cr3;

	printf("smp: cpu 0 up (%u vcpus)\n", b->vcpus);
	if (b->vcpus < 2) {
		printf("smp: needs 2 vcpus\n");
		vmm_exit(1);
	}
	memcpy((void *)TRAMPOLINE, ap_trampoline, len);
	memcpy((void *)(TRAMPOLINE + (size_t)(ap_tr_stack - ap_trampoline)), &stack, 8);
	memcpy((void *)(TRAMPOLINE + (size_t)(ap_tr_entry - ap_trampoline)), &entry, 8);
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));   /* below 4 GiB: the AP loads it in 32-bit mode */
	memcpy((void *)(TRAMPOLINE + (size_t)(ap_tr_cr3 - ap_trampoline)), &cr3, 8);

	lapic_write(LAPIC_SVR, 0x1ff);          /* software-enable, spurious vector 0xff */
	send_ipi(1, ICR_INIT);
	send_ipi(1, ICR_SIPI | (TRAMPOLINE >> 12));
	for (unsigned long spins = 0; !__atomic_load_n(&ap_up, __ATOMIC_ACQUIRE); spins++) {
		if (spins == 200000)            /* a lost SIPI: the spec sends two */
			send_ipi(1, ICR_SIPI | (TRAMPOLINE >> 12));
		if (spins == 4000000) {
			printf("smp: cpu 1 did not come up\n");
			vmm_exit(2);
		}
		cpu_relax();
	}
	lock();
	printf("smp: both cpus spinning\n");
	unlock();
	spin_cpu0();
}
