// SPDX-License-Identifier: MIT
/*
 * /init of the test initramfs (scripts/build-linux-guest). Freestanding:
 * raw syscalls, no libc, so the initramfs stays a few KiB and the guest
 * kernel (emulated instruction by instruction on hosts without VT-x)
 * unpacks it quickly. It mounts /proc and /dev, prints markers that
 * tests/e2e/test_linux.py looks for, runs a busybox shell command when a
 * busybox is there, and powers off through vmmd's debug-exit port.
 */
#include <stddef.h>

#define SYS_read      0
#define SYS_write     1
#define SYS_open      2
#define SYS_close     3
#define SYS_ioperm    173
#define SYS_mount     165
#define SYS_mkdir     83
#define SYS_fork      57
#define SYS_execve    59
#define SYS_wait4     61
#define SYS_exit      60
#define SYS_reboot    169

#define DEBUG_EXIT_PORT 0xf4    /* abi/bootinfo.h: VMM_PORT_DEBUG_EXIT */

static long sys3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

static long sys5(long n, long a, long b, long c, long d, long e)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return r;
}

static size_t len(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
static void say(const char *s) { sys3(SYS_write, 1, (long) s, (long) len(s)); }

static void cat(const char *path)
{
	char buf[512];
	long fd = sys3(SYS_open, (long) path, 0, 0);
	if (fd < 0) {
		say("vmmd-init: cannot open ");
		say(path);
		say("\n");
		return;
	}
	long n;
	while ((n = sys3(SYS_read, fd, (long) buf, sizeof(buf))) > 0)
		sys3(SYS_write, 1, (long) buf, n);
	sys3(SYS_close, fd, 0, 0);
}

static void power_off(int status)
{
	if (sys3(SYS_ioperm, DEBUG_EXIT_PORT, 1, 1) == 0) {
		unsigned char v = (unsigned char) status;
		__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"((unsigned short) DEBUG_EXIT_PORT));
	}
	/* No debug-exit port (another VMM): LINUX_REBOOT_CMD_POWER_OFF. */
	sys5(SYS_reboot, 0xfee1dead, 0x28121969, 0x4321fedc, 0, 0);
	for (;;)
		sys3(SYS_exit, 0, 0, 0);
}

void _start_c(void)
{
	/* The console works before anything is mounted: fds 0-2 are /dev/console. */
	say("vmmd-init: running as pid 1\n");
	sys3(SYS_mkdir, (long) "/proc", 0555, 0);
	sys5(SYS_mount, (long) "proc", (long) "/proc", (long) "proc", 0, 0);
	sys3(SYS_mkdir, (long) "/sys", 0555, 0);
	sys5(SYS_mount, (long) "sysfs", (long) "/sys", (long) "sysfs", 0, 0);
	say("vmmd-init: cmdline: ");
	cat("/proc/cmdline");
	say("vmmd-init: vda sectors: ");
	cat("/sys/block/vda/size");

	static char *const argv[] = { "/bin/sh", "-c", "echo vmmd-init: shell says $((6 * 7)); uname -r; "
				      "echo vmmd-init: pipeline counted $(echo one two three | tr ' ' '\\n' | wc -l) words",
				      NULL };
	static char *const envp[] = { "PATH=/bin", NULL };
	long pid = sys3(SYS_fork, 0, 0, 0);
	if (pid == 0) {
		sys3(SYS_execve, (long) argv[0], (long) argv, (long) envp);
		say("vmmd-init: no shell in this initramfs\n");
		sys3(SYS_exit, 127, 0, 0);
	}
	int status = 0;
	if (pid > 0)
		sys5(SYS_wait4, pid, (long) &status, 0, 0, 0);
	say("vmmd-init: done, powering off\n");
	power_off(0);
}

__asm__(".globl _start\n_start:\n\tand $-16, %rsp\n\tcall _start_c\n\thlt\n");
