/* SPDX-License-Identifier: MIT */
/*
 * How `syscall` and `int 0x80` from user mode reach a guest kernel, and the
 * host-quirk fallback (guests/README.md, "pt"; DESIGN.md, host quirks).
 *
 * On a host without VT-x/AMD-V, KVM's `syscall` at CPL3 jumps to LSTAR
 * without leaving CPL3 (RCX = return RIP, R11 = RFLAGS, FMASK applied), so
 * the supervisor-only LSTAR page faults: #PF, error code 5, CR2 = RIP =
 * LSTAR, the frame's CS still the user's. `int 0x80` at CPL3 raises #UD at
 * the `CD 80`. Elsewhere (VT-x/AMD-V, QEMU TCG, vmmd's shadow mode) both
 * arrive natively.
 *
 * A kernel that must run everywhere learns once which way each arrives: it
 * sets `probing`, runs user code that makes one `syscall` and one `int
 * 0x80`, and clears `probing`. From then on entry_paths_recognise() turns
 * "#PF at LSTAR from user mode" into a syscall frame (RIP = RCX, RFLAGS =
 * R11, vector TRAP_VEC_SYSCALL) and "#UD on CD 80 in user memory" into an
 * int 0x80 frame (RIP past the instruction, RF clear, vector TRAP_VEC_INT80), but
 * only where the probe saw the host deliver them that way; elsewhere such a
 * fault stays the process's own. Both then go through the kernel's one
 * dispatcher and return as the native entries do (sysretq / iretq).
 *
 * The trap frame is the one pt and minios push: general registers (pushed
 * by the entry stubs), the vector and error code, then the CPU's frame.
 */
#ifndef GUEST_ENTRY_PATH_H
#define GUEST_ENTRY_PATH_H

#include "types.h"

#define TRAP_VEC_DE      0
#define TRAP_VEC_UD      6
#define TRAP_VEC_GP      13
#define TRAP_VEC_PF      14
#define TRAP_VEC_INT80   0x80
#define TRAP_VEC_SYSCALL 0x100  /* not a vector: marks a syscall frame */

#define TRAP_PF_P        0x1
#define TRAP_PF_W        0x2
#define TRAP_PF_U        0x4

#define TRAP_RFLAGS_RF   0x10000

struct trapframe {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vector, err;
	uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct trapframe) == 22 * 8, "trapframe layout is shared with the stubs");

enum entry_path { ENTRY_PATH_UNKNOWN = 0, ENTRY_PATH_NATIVE, ENTRY_PATH_FAULT };

struct entry_paths {
	/* Set by the kernel. */
	uint64_t lstar;                 /* the syscall entry point */
	uint64_t user_base, user_end;   /* user addresses: where a CD 80 may be read */
	uint64_t user_cs, user_ss;      /* the selectors a syscall frame carries */
	bool probing;                   /* learn the paths from the next entries */
	/* Learned. */
	enum entry_path syscall_path, int80_path;
	unsigned syscalls[3], int80s[3];        /* entries seen, by path */
};

/* True when the frame came from user mode (its CS, never %cs: shadow mode). */
static inline bool trap_from_user(const struct trapframe *tf)
{
	return (tf->cs & 3) == 3;
}

/*
 * Turn a fault-path entry into the native frame (see above) and count the
 * entry by path. Frames from kernel mode and other traps are left alone.
 * Reads CR2 only for a user #PF at RIP = LSTAR.
 */
void entry_paths_recognise(struct entry_paths *e, struct trapframe *tf);

/* "unknown", "native" or "fault". */
const char *entry_path_name(enum entry_path p);

#endif
