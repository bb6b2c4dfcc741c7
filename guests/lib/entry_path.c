// SPDX-License-Identifier: MIT
/* The host-quirk fallback for user-mode entries: see entry_path.h. */
#include "cpu.h"
#include "entry_path.h"

static bool user_range(const struct entry_paths *e, uint64_t va, uint64_t len)
{
	return va >= e->user_base && len <= e->user_end - e->user_base && va <= e->user_end - len;
}

/* During the probe, learn how the host delivers an entry. */
static void learn_path(const struct entry_paths *e, enum entry_path *learned, enum entry_path path)
{
	if (e->probing && *learned == ENTRY_PATH_UNKNOWN)
		*learned = path;
}

/* A fault is taken for a syscall / int 0x80 only where the probe saw the
 * host deliver them that way; elsewhere it is the process's own fault. */
static bool fault_path_expected(const struct entry_paths *e, enum entry_path *learned)
{
	learn_path(e, learned, ENTRY_PATH_FAULT);
	return *learned == ENTRY_PATH_FAULT;
}

void entry_paths_recognise(struct entry_paths *e, struct trapframe *tf)
{
	if (!trap_from_user(tf))
		return;
	if (tf->vector == TRAP_VEC_PF && (tf->err & TRAP_PF_U) && tf->rip == e->lstar &&
	    read_cr2() == e->lstar && fault_path_expected(e, &e->syscall_path)) {
		/* The CPU's syscall work (RCX, R11, FMASK) was done: finish it. */
		tf->vector = TRAP_VEC_SYSCALL;
		tf->err = 0;
		tf->rip = tf->rcx;
		tf->rflags = tf->r11;
		tf->cs = e->user_cs;
		tf->ss = e->user_ss;
		e->syscalls[ENTRY_PATH_FAULT]++;
	} else if (tf->vector == TRAP_VEC_UD && user_range(e, tf->rip, 2) &&
		   ((const uint8_t *) (uintptr_t) tf->rip)[0] == 0xcd &&
		   ((const uint8_t *) (uintptr_t) tf->rip)[1] == TRAP_VEC_INT80 &&
		   fault_path_expected(e, &e->int80_path)) {
		/* The int 0x80 did not happen yet: it does now. Its frame
		 * carries the RFLAGS it ran with: without the RF the #UD, a
		 * fault, set in its own. */
		tf->vector = TRAP_VEC_INT80;
		tf->rip += 2;
		tf->rflags &= ~TRAP_RFLAGS_RF;
		e->int80s[ENTRY_PATH_FAULT]++;
	} else if (tf->vector == TRAP_VEC_SYSCALL) {
		learn_path(e, &e->syscall_path, ENTRY_PATH_NATIVE);
		e->syscalls[ENTRY_PATH_NATIVE]++;
	} else if (tf->vector == TRAP_VEC_INT80) {
		learn_path(e, &e->int80_path, ENTRY_PATH_NATIVE);
		e->int80s[ENTRY_PATH_NATIVE]++;
	}
}

const char *entry_path_name(enum entry_path p)
{
	switch (p) {
	case ENTRY_PATH_NATIVE:
		return "native";
	case ENTRY_PATH_FAULT:
		return "fault";
	default:
		return "unknown";
	}
}
