/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "x86/decode.h"
#include "vmmd/worker/emulation_fallback.h"
#include "vmmd/worker/vcpu.h"
#include "x86/cpu.h"

static const char *const names[EMULATED_MAX] = {
	[EMULATED_INT3] = "int3", [EMULATED_CLAC] = "clac", [EMULATED_STAC] = "stac",
};

const char *emulated_insn_name(enum emulated_insn e)
{
	return e < EMULATED_MAX ? names[e] : "unknown";
}

static void describe(char *msg, size_t size, uint64_t rip, const uint8_t *bytes, unsigned n, const char *what)
{
	int off = snprintf(msg, size, "KVM could not emulate the instruction at rip 0x%llx",
			   (unsigned long long) rip);
	if (n && off > 0 && (size_t) off < size)
		off += snprintf(msg + off, size - off, ":");
	for (unsigned i = 0; i < n && off > 0 && (size_t) off < size; i++)
		off += snprintf(msg + off, size - off, " %02x", bytes[i]);
	if (what && off > 0 && (size_t) off < size)
		snprintf(msg + off, size - off, " (%s)", what);
}

/* Queue an exception; KVM delivers it through the guest IDT on the next entry. */
static int inject_exception(struct vcpu *v, unsigned vector)
{
	struct kvm_vcpu_events ev;
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	if (ev.exception.injected || ev.exception.pending)
		return -EBUSY;   /* a double fault is KVM's to build, not ours */
	ev.exception.injected = 1;
	ev.exception.nr = (uint8_t) vector;
	ev.exception.has_error_code = 0;
	ev.exception.error_code = 0;
	ev.flags = 0;
	return ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

int emulation_fallback(struct vcpu *v, char *msg, size_t msg_size)
{
	struct kvm_run *run = v->run;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(msg, msg_size, "KVM could not emulate an instruction and its registers are unreadable");
		return -errno;
	}
	uint8_t bytes[X86_MAX_INSN_LEN];
	unsigned n = 0;
	if (run->emulation_failure.ndata >= 2 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		n = run->emulation_failure.insn_size;
		if (n > sizeof(bytes))
			n = sizeof(bytes);
		memcpy(bytes, run->emulation_failure.insn_bytes, n);
	}
	if (n == 0) {
		describe(msg, msg_size, regs.rip, bytes, 0, "KVM gave no instruction bytes");
		return -ENODATA;
	}
	struct x86_insn insn;
	/* int3, clac and stac encode alike in every mode, so a 64-bit decode is
	 * safe for them whatever CS.L says; nothing else is acted on. */
	if (x86_decode(bytes, n, regs.rip, &insn) < 0) {
		describe(msg, msg_size, regs.rip, bytes, n, "undecodable");
		return -EILSEQ;
	}
	enum emulated_insn which;
	switch (insn.d.mnemonic) {
	case ZYDIS_MNEMONIC_INT3: which = EMULATED_INT3; break;
	case ZYDIS_MNEMONIC_CLAC: which = EMULATED_CLAC; break;
	case ZYDIS_MNEMONIC_STAC: which = EMULATED_STAC; break;
	default:
		/* KVM hands over up to 15 bytes: show the instruction's own. */
		describe(msg, msg_size, regs.rip, bytes, insn.d.length <= n ? insn.d.length : n,
			 ZydisMnemonicGetString(insn.d.mnemonic));
		return -EOPNOTSUPP;
	}
	unsigned cpl = sregs.cs.selector & 3;
	int r;
	if (which == EMULATED_INT3) {
		regs.rip += insn.d.length;   /* #BP is a trap: the frame holds the next RIP */
		r = ioctl(v->fd, KVM_SET_REGS, &regs) < 0 ? -errno : inject_exception(v, X86_BP);
	} else if (cpl != 0) {
		r = inject_exception(v, X86_UD);
	} else {
		if (which == EMULATED_CLAC)
			regs.rflags &= ~X86_RFLAGS_AC;
		else
			regs.rflags |= X86_RFLAGS_AC;
		regs.rip += insn.d.length;
		r = ioctl(v->fd, KVM_SET_REGS, &regs) < 0 ? -errno : 0;
	}
	if (r < 0) {
		describe(msg, msg_size, regs.rip, bytes, n, "vmmd's fallback could not update the vCPU");
		return r;
	}
	__atomic_fetch_add(&v->emulated[which], 1, __ATOMIC_RELAXED);
	return 0;
}
