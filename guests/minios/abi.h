/* SPDX-License-Identifier: MIT */
/*
 * minios's system-call ABI and user address-space layout: the one header the
 * kernel (guests/minios/) and the user programs (guests/minios/user/)
 * share. Plain constants only: the assembly includes it too.
 *
 * Calling convention (Linux's): number in rax, arguments in rdi, rsi, rdx,
 * r10; result in rax (negative: -errno). `syscall` clobbers rcx and r11;
 * `int $0x80` takes the same registers and preserves everything but rax.
 */
#ifndef MINIOS_ABI_H
#define MINIOS_ABI_H

/* System calls. */
#define SYS_WRITE   0   /* write(buf, len): to the console; returns len */
#define SYS_READ    1   /* read(buf, len): console input; blocks until >= 1 byte */
#define SYS_GETPID  2
#define SYS_YIELD   3   /* yield(): 1 if another process ran meanwhile, 0 if none was runnable */
#define SYS_SLEEP   4   /* sleep(ticks): the PIT ticks at MINIOS_HZ */
#define SYS_EXIT    5   /* exit(status) */
#define SYS_SPAWN   6   /* spawn(cmdline): "name args..." from the image table; returns the pid */
#define SYS_WAIT    7   /* wait(pid, &status): pid -1 = any child; returns the pid */
#define SYS_MAP     8   /* map(va): a fresh zeroed page at va (the map region) */
#define SYS_UNMAP   9   /* unmap(va) */
#define SYS_KILL    10  /* kill(pid): status 137 */
#define SYS_INB     11  /* inb(port): one port read by the kernel (COM1's LSR only) */
#define SYS_INFO    12  /* info(what): a kernel counter, INFO_* */
#define SYS_MAPDEV  13  /* mapdev(va, pa): a device page (not RAM) at va, uncached */
#define SYS_DESKIP  14  /* deskip(len): on #DE skip len bytes instead of killing */
#define SYS_PROBE   15  /* does nothing: the shell's first two entries (syscall, int 0x80) */
#define SYS_PROGRAMS 16 /* programs(buf, len): the image names, space-separated */
#define NSYSCALLS   17

/* SYS_INFO counters. */
#define INFO_CR3_WRITES   0     /* guest page-table switches (mov to CR3) */
#define INFO_SWITCHES     1     /* context switches */
#define INFO_TICKS        2     /* timer interrupts taken */
#define INFO_FREE_PAGES   3
#define INFO_MODE         4     /* VMM_BOOT_MODE_*: 0 hw, 1 shadow */
#define INFO_SYSCALL_PATH 5     /* 1 native, 2 fault (the host quirk) */
#define INFO_INT80_PATH   6
#define INFO_YIELDS       7     /* context switches made by yield() */

/* Errors (negated in rax). */
#define E_PERM    1
#define E_NOENT   2
#define E_SRCH    3
#define E_CHILD   10
#define E_NOMEM   12
#define E_FAULT   14
#define E_EXIST   17
#define E_INVAL   22
#define E_AGAIN   11
#define E_NOSYS   38

/* Exit statuses the kernel gives: killed by exception v: 128 + v; by kill(): 137. */
#define STATUS_KILLED_BASE 128
#define STATUS_KILLED      137

#define MINIOS_HZ 100

/*
 * User half: PML4 slot 1 (512 GiB - 1 TiB), private to each process. The
 * kernel half (slot 0: guest-physical memory, identity, supervisor-only)
 * is shared by every process. Slot 510 is vmmd's (shadow mode).
 */
#define USER_BASE        0x8000000000   /* programs are linked here */
#define USER_IMAGE_END   0x8000400000   /* at most 4 MiB of image */
#define USER_MAP_BASE    0x8040000000   /* map()/unmap() and demand-zero pages */
#define USER_MAP_END     0x8080000000
#define USER_STACK_LOW   0x80bff00000   /* 1 MiB of demand-paged stack */
#define USER_STACK_TOP   0x80c0000000
#define USER_DEV_BASE    0x8100000000   /* mapdev() */
#define USER_DEV_END     0x8100100000
#define USER_END         0x8200000000

#define PAGE_SIZE 4096

#endif
