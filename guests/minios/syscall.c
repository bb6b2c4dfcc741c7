// SPDX-License-Identifier: MIT
/*
 * minios: the system calls (numbers and layout in abi.h). Both entries,
 * `syscall` (returning with sysretq) and `int $0x80` (iretq), arrive here
 * with the same frame, natively or through the host-quirk fallback
 * (trap.c, lib/entry_path.c). Arguments: rdi, rsi, rdx, r10; result: rax.
 *
 * User pointers are checked page by page against the process's own page
 * tables (vm_user_ok, which also maps demand-zero pages) before the kernel
 * touches them, so the kernel never faults on a user address.
 */
#include "minios.h"

#define UART_LSR_PORT (VMM_PORT_COM1 + 5)
#define WRITE_MAX     4096
#define SPAWN_MAX     1024

static long sys_write(uint64_t buf, uint64_t len)
{
	if (len > WRITE_MAX)
		len = WRITE_MAX;
	if (!vm_user_ok(cur, buf, len, false))
		return -E_FAULT;
	console_write((const char *) (uintptr_t) buf, len);
	return (long) len;
}

static long sys_read(uint64_t buf, uint64_t len)
{
	size_t n;

	if (!len)
		return 0;
	if (!vm_user_ok(cur, buf, len, true))
		return -E_FAULT;
	while (console_empty())
		proc_block_read();
	n = console_read((char *) (uintptr_t) buf, len);
	if (!console_empty())
		proc_wake_reader();             /* more input, and maybe another reader */
	return (long) n;
}

static long sys_spawn(uint64_t buf, uint64_t len)
{
	if (!len || len > SPAWN_MAX || !vm_user_ok(cur, buf, len, false))
		return -E_FAULT;
	return proc_spawn((const char *) (uintptr_t) buf, len, cur);
}

static long sys_wait(uint64_t pid, uint64_t status_va)
{
	if (status_va && !vm_user_ok(cur, status_va, sizeof(int), true))
		return -E_FAULT;
	return proc_wait((int) pid, status_va);
}

static bool page_in(uint64_t va, uint64_t base, uint64_t end)
{
	return !(va & (PAGE_SIZE - 1)) && va >= base && va < end;
}

static long sys_map(uint64_t va)
{
	if (!page_in(va, USER_MAP_BASE, USER_MAP_END))
		return -E_INVAL;
	return vm_map_fresh(cur, va, PTE_U | PTE_W);
}

static long sys_unmap(uint64_t va)
{
	if (!page_in(va, USER_MAP_BASE, USER_MAP_END) && !page_in(va, USER_DEV_BASE, USER_DEV_END))
		return -E_INVAL;
	return vm_unmap(cur, va);
}

/* A device page: anything below 4 GiB that is not RAM, nor the local or
 * I/O APIC (the kernel's), uncached. */
static long sys_mapdev(uint64_t va, uint64_t pa)
{
	if (!page_in(va, USER_DEV_BASE, USER_DEV_END) || (pa & (PAGE_SIZE - 1)))
		return -E_INVAL;
	if (pa < guest_boot()->memory_bytes || pa >= (1ull << 32) || (pa >= 0xfec00000 && pa < 0xff000000))
		return -E_PERM;
	return vm_map(cur, va, pa, PTE_U | PTE_W | PTE_PCD | PTE_PWT, false);
}

static long sys_info(uint64_t what)
{
	switch (what) {
	case INFO_CR3_WRITES:
		return (long) kstats.cr3_writes;
	case INFO_SWITCHES:
		return (long) kstats.switches;
	case INFO_TICKS:
		return (long) kstats.ticks;
	case INFO_FREE_PAGES:
		return (long) mm_free_pages();
	case INFO_MODE:
		return boot_mode;
	case INFO_SYSCALL_PATH:
		return entry_paths.syscall_path;
	case INFO_INT80_PATH:
		return entry_paths.int80_path;
	case INFO_YIELDS:
		return (long) kstats.yield_switches;
	default:
		return -E_INVAL;
	}
}

static long sys_programs(uint64_t buf, uint64_t len)
{
	if (!len || !vm_user_ok(cur, buf, len, true))
		return -E_FAULT;
	return (long) image_names((char *) (uintptr_t) buf, len);
}

void syscall_dispatch(struct trapframe *tf)
{
	uint64_t a0 = tf->rdi, a1 = tf->rsi;
	long r;

	switch (tf->rax) {
	case SYS_WRITE:
		r = sys_write(a0, a1);
		break;
	case SYS_READ:
		r = sys_read(a0, a1);
		break;
	case SYS_GETPID:
		r = cur->pid;
		break;
	case SYS_YIELD:
		r = proc_yield();
		break;
	case SYS_SLEEP:
		proc_sleep(a0);
		r = 0;
		break;
	case SYS_EXIT:
		proc_exit((int) (a0 & 0xff));
	case SYS_SPAWN:
		r = sys_spawn(a0, a1);
		break;
	case SYS_WAIT:
		r = sys_wait(a0, a1);
		break;
	case SYS_MAP:
		r = sys_map(a0);
		break;
	case SYS_UNMAP:
		r = sys_unmap(a0);
		break;
	case SYS_KILL:
		r = proc_kill((int) a0);
		break;
	case SYS_INB:
		/* nanobench's "in": one port read by the kernel, of COM1's LSR only. */
		r = a0 == UART_LSR_PORT ? inb(UART_LSR_PORT) : -E_PERM;
		break;
	case SYS_INFO:
		r = sys_info(a0);
		break;
	case SYS_MAPDEV:
		r = sys_mapdev(a0, a1);
		break;
	case SYS_DESKIP:
		cur->de_skip = a0 <= 15 ? a0 : 0;
		r = 0;
		break;
	case SYS_PROBE:
		/* The shell's first syscall and then int 0x80: once the second
		 * arrived, the host's entry paths are known. */
		if (tf->vector == TRAP_VEC_INT80)
			entry_paths.probing = false;
		r = 0;
		break;
	case SYS_PROGRAMS:
		r = sys_programs(a0, a1);
		break;
	default:
		r = -E_NOSYS;
		break;
	}
	tf->rax = (uint64_t) r;
}
