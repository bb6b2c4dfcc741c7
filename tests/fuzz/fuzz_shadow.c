// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a hostile guest against the shadow engine (issue 12).
 * Byte 0 picks one of two harnesses:
 *
 *  even: the engine's CPU semantics on the unit tests' fake CPU and fake
 *        memory (tests/unit/shadow_fake_cpu.c): the input sets the virtual
 *        CPU (registers, PCB, page bits) and the instruction bytes at RIP,
 *        then emu_privileged, emu_data_access, reflect_deliver or
 *        reflect_syscall runs on it;
 *  odd:  the whole engine (vmmd/shadow: engine, emulator, reflection,
 *        shadow MMU, the walker) on machine memory laid out as a worker
 *        lays it out — guest RAM, the monitor, the pool of shadow tables —
 *        mapped between PROT_NONE guard pages, the monitor read-only once
 *        built: the input becomes guest RAM (hostile page tables: loops,
 *        reserved bits, entries that point past RAM, where the monitor and
 *        the pool sit in machine memory, or into the monitor's PML4 slot,
 *        vmmd's 510 or Xen PV's 509, with or without its window),
 *        then a sequence of traps, interrupts and virtual CPU changes.
 *        After every step the shadow tables may map guest frames only, with
 *        the monitor's entry intact in every root.
 *
 * Anything goes as long as nothing crashes (ASan, UBSan, the guards), no
 * loop hangs (-timeout), and the invariants hold (abort).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/bus.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/unit/shadow_fake_cpu.h"
#include "vmmd/shadow/emulate_data.h"
#include "vmmd/shadow/engine.h"
#include "vmmd/shadow/reflect.h"

#define fuzz_check(cond) FUZZ_CHECK("fuzz_shadow", cond, "%s", #cond)

/* The input, consumed front to back; zeros once it runs out. */
struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++) {
		uint8_t b = 0;
		if (in->n) {
			b = *in->p++;
			in->n--;
		}
		v |= (uint64_t) b << (8 * i);
	}
	return v;
}

/* --- the fake CPU ------------------------------------------------------------- */

static struct fake_cpu fc;

/* A small device for emu_data_access: 4 KiB behind a bounds check. */
static uint8_t device[4096];

static int device_access(void *ctx, uint64_t gpa, void *data, unsigned size, bool is_write)
{
	uint64_t off = gpa & 4095;
	fuzz_check(size <= 16 && off + size <= sizeof(device));   /* one page, as promised */
	if (is_write)
		memcpy(device + off, data, size);
	else
		memcpy(data, device + off, size);
	return (gpa >> 12) & 1 ? -EIO : 0;
}

static void fake_cpu_state(struct input *in)
{
	struct shadow_cpu *c = &fc.cpu;
	__u64 *g = &c->regs.rax;

	for (int i = 0; i < 18; i++)                    /* rax..r15, rip, rflags */
		g[i] = take(in, 1) & 1 ? take(in, 8) : take(in, 2) * 0x40ULL;
	c->regs.rip &= FAKE_MEM_SIZE - 1;
	c->pcb.vcpl = take(in, 1) & 1 ? 3 : 0;
	c->pcb.vif = take(in, 1) & 1;
	c->pcb.cr0 = take(in, 8);
	c->pcb.cr4 = take(in, 8);
	c->pcb.efer = take(in, 8);
	c->pcb.cr3 = take(in, 8);
	c->pcb.idtr = (struct shadow_dtr) { .base = take(in, 3), .limit = (uint16_t) take(in, 2) };
	c->pcb.gdtr = (struct shadow_dtr) { .base = take(in, 3), .limit = (uint16_t) take(in, 2) };
	c->pcb.tr = (uint16_t) take(in, 2);
	c->pcb.tss_base = take(in, 3);
	c->pcb.tss_limit = (uint32_t) take(in, 2);
	c->pcb.cs = (uint16_t) take(in, 2);
	c->pcb.ss = (uint16_t) take(in, 2);
	c->pcb.star = take(in, 8);
	c->pcb.lstar = take(in, 8);
	c->pcb.sfmask = take(in, 8);
	c->pcb.fs_base = take(in, 8);
	c->pcb.gs_base = take(in, 8);
	for (unsigned i = 0; i < 8; i++)                /* some pages lose P, W, U or gain NX */
		fake_set_pages(&fc, take(in, 3) & ~4095ULL, 4096, (uint8_t) take(in, 1));
}

static void run_fake_cpu(struct input *in)
{
	struct emu_outcome out;
	struct reflect_request req, fault;
	unsigned what = (unsigned) take(in, 1);
	uint8_t code[16];

	fake_cpu_init(&fc);
	fake_cpu_state(in);
	for (unsigned i = 0; i < sizeof(code); i++)
		code[i] = (uint8_t) take(in, 1);
	fake_put(&fc, fc.cpu.regs.rip, code, sizeof(code));
	/* Whatever is left: descriptor tables, stacks, operands, from 0x8000. */
	fake_put(&fc, 0x8000, in->p, in->n < FAKE_MEM_SIZE - 0x8000 ? in->n : FAKE_MEM_SIZE - 0x8000);
	switch (what % 4) {
	case 0:
		emu_privileged(&fc.cpu, &fc.env, what & 0x10 ? X86_UD : X86_GP, &out);
		fuzz_check(out.status <= EMU_UNSUPPORTED);
		break;
	case 1: {
		struct emu_data_target t = { .access = device_access };
		uint64_t va = fc.cpu.regs.rdi, gpa = (what & 0x20 ? 0x1000 : 0) | (va & 4095);
		emu_data_access(&fc.cpu, &fc.env, va, gpa, &t, &out);
		break;
	}
	case 2:
		req = (struct reflect_request) {
			.kind = (enum reflect_kind) ((what >> 2) % 3), .vector = what >> 4 | (what & 0x40 ? 0x80 : 0),
			.has_error = what & 0x80, .error = (uint32_t) fc.cpu.regs.r8, .cr2 = fc.cpu.regs.r9,
			.return_rip = fc.cpu.regs.rip,
		};
		(void) reflect_deliver(&fc.cpu, &fc.env, &req);
		break;
	default:
		(void) reflect_syscall(&fc.cpu, &fc.env, fc.cpu.regs.rip + 2, &fault);
		break;
	}
	fuzz_check(fc.cpu.pcb.vcpl == 0 || fc.cpu.pcb.vcpl == 3);
}

/* --- the engine ---------------------------------------------------------------- */

#define GUEST_PAGES 64u
#define POOL_PAGES  32u
#define PAGE        4096u

struct machine {
	uint8_t *map;           /* guard page, machine memory, guard page */
	size_t map_size;
	struct machine_memory mm;
};

static int machine_map(struct machine *m, uint64_t bytes)
{
	m->map_size = bytes + 2 * PAGE;
	m->map = mmap(NULL, m->map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->map == MAP_FAILED)
		return -1;
	if (mprotect(m->map + PAGE, bytes, PROT_READ | PROT_WRITE) < 0)
		return -1;
	m->mm = (struct machine_memory) { .host = m->map + PAGE, .size = bytes };
	return 0;
}

/* Every root of the shadow MMU: the monitor's entry in slot 510, nothing
 * of the monitor or the pool in the leaves. */
struct walk_ctx {
	struct shadow_vm *svm;
	uint64_t pool_lo, pool_hi;
	unsigned mappings;
};

static uint64_t pool_lo(const struct shadow_vm_config *c)
{
	return shadow_pool_mpa(c->guest_bytes, c->window_pages);
}

static int check_mapping(void *userdata, const struct smmu_mapping *m)
{
	struct walk_ctx *w = userdata;
	fuzz_check(physmap_mpa_to_gpa(&w->svm->pm, m->mpa) != UINT64_MAX);   /* guest RAM only */
	fuzz_check(m->flags & X86_PTE_U);                                      /* the guest runs at CPL3 */
	fuzz_check(((m->va >> 39) & 511) != w->svm->mon.slot);
	w->mappings++;
	return 0;
}

static int check_root(void *userdata, uint64_t guest_cr3, bool user, uint64_t root_mpa)
{
	struct walk_ctx *w = userdata;
	fuzz_check(root_mpa >= w->pool_lo && root_mpa < w->pool_hi && !(root_mpa & (PAGE - 1)));
	const uint64_t *t = machine_ptr(&w->svm->mm, root_mpa, PAGE);
	fuzz_check(t && t[w->svm->mon.slot] == (user ? w->svm->mon.pml4e : w->svm->mon.pml4e_kernel));
	return smmu_foreach_mapping(w->svm->smmu, guest_cr3, user, 0, ~0ULL, check_mapping, w);
}

static void check_engine(struct shadow_vm *svm, struct shadow_vcpu *sv, const struct shadow_vm_config *c)
{
	struct walk_ctx w = { .svm = svm, .pool_lo = pool_lo(c) };
	w.pool_hi = w.pool_lo + POOL_PAGES * (uint64_t) PAGE;
	fuzz_check(sv->root >= w.pool_lo && sv->root < w.pool_hi);
	fuzz_check(sv->cpu.pcb.vcpl == 0 || sv->cpu.pcb.vcpl == 3);
	pthread_mutex_lock(&svm->lock);
	fuzz_check(smmu_foreach_root(svm->smmu, check_root, &w) == 0);
	pthread_mutex_unlock(&svm->lock);
}

/* Guest RAM: the input, then a page-table skeleton written over it where
 * the input asks (so the fuzzer reaches deep walks without finding them). */
static void guest_ram(struct shadow_vm *svm, struct input *in)
{
	for (uint64_t gpa = 0; gpa < GUEST_PAGES * (uint64_t) PAGE; gpa += PAGE) {
		uint8_t *p = physmap_guest_ptr(&svm->pm, &svm->mm, gpa, PAGE);
		fuzz_check(p);
		size_t n = in->n < PAGE ? in->n : PAGE;
		memcpy(p, in->p, n);
		memset(p + n, 0, PAGE - n);
		in->p += n;
		in->n -= n;
	}
}

static void put64(struct shadow_vm *svm, uint64_t gpa, uint64_t v)
{
	uint64_t *p = physmap_guest_ptr(&svm->pm, &svm->mm, gpa & ~7ULL & (GUEST_PAGES * (uint64_t) PAGE - 1), 8);
	fuzz_check(p);
	*p = v;
}

/* One step of the guest's life; false when the VM would end. */
static bool step(struct shadow_vm *svm, struct shadow_vcpu *sv, const uint8_t op[16])
{
	uint64_t a = 0;
	memcpy(&a, op + 8, 8);
	switch (op[0] % 8) {
	case 0: case 1: case 2: {                       /* a trap: vector, error, CR2 */
		unsigned vector = op[1] == 0xff ? 256 : op[1] % 32;
		uint32_t error = (uint32_t) op[2] | (uint32_t) op[3] << 8;
		enum shadow_action act = shadow_handle_trap(sv, vector, error, a);
		fuzz_check(act <= SHADOW_HOST_REFUSED);
		return act == SHADOW_RESUME || act == SHADOW_HALT;
	}
	case 3:                                         /* a virtual interrupt */
		(void) shadow_deliver_interrupt(sv, op[1]);
		return true;
	case 4:                                         /* the guest writes its RAM (a PTE, code) */
		put64(svm, (uint64_t) op[1] << 12 | (uint64_t) op[2] << 4, a);
		return true;
	case 5: {                                       /* a register */
		__u64 *g = &sv->cpu.regs.rax;
		g[op[1] % 18] = a;
		return true;
	}
	case 6:                                         /* the virtual CPU's paging or mode */
		switch (op[1] % 6) {
		case 0: sv->cpu.pcb.cr3 = a & 0x000ffffffffff018ULL; break;
		case 1: sv->cpu.pcb.cr0 = a | X86_CR0_PE | X86_CR0_PG; break;
		case 2: sv->cpu.pcb.efer = (a & (X86_EFER_SCE | X86_EFER_NXE)) | X86_EFER_LME | X86_EFER_LMA; break;
		case 3: sv->cpu.pcb.vcpl = a & 1 ? 3 : 0; break;
		case 4: sv->cpu.pcb.idtr = (struct shadow_dtr) { .base = a >> 16, .limit = (uint16_t) a }; break;
		default: sv->cpu.pcb.tss_base = a >> 16; sv->cpu.pcb.tss_limit = (uint16_t) a; break;
		}
		sv->root_stale = true;
		shadow_update_root(sv);
		return true;
	default:                                        /* instruction bytes at RIP's page offset */
		put64(svm, (uint64_t) op[1] << 12 | (sv->cpu.regs.rip & 0xff8), a);
		return true;
	}
}

static void run_engine(struct input *in)
{
	static struct bus *bus;
	struct shadow_vm svm;
	struct shadow_vcpu sv;
	struct machine m;
	uint8_t cfg = (uint8_t) take(in, 1);
	unsigned steps = (unsigned) take(in, 1) % 64;

	if (!bus)
		bus = bus_new();
	fuzz_check(bus);
	struct shadow_vm_config c = {
		.guest_bytes = GUEST_PAGES * (uint64_t) PAGE, .pool_pages = POOL_PAGES,
		.strategy = cfg & 1 ? SMMU_VTLB : SMMU_CACHED, .scatter_seed = cfg & 2 ? 0x5eedULL + cfg : 0,
		.bus = bus, .phys_bits = 36 + ((cfg >> 4) & 3) * 5, .no_1g = cfg & 4,
		.native_user_cs = cfg & 8 ? 0x33 : 0, .native_user_ss = cfg & 8 ? 0x2b : 0,
		.monitor_slot = cfg & 0x40 ? MON_SLOT_XENPV : MON_SLOT_DEFAULT, .window_pages = cfg & 0x80 ? 2 : 0,
	};
	uint64_t bytes = shadow_machine_bytes(c.guest_bytes, c.window_pages, c.pool_pages);
	fuzz_check(machine_map(&m, bytes) == 0);
	fuzz_check(shadow_vm_init(&svm, m.mm, &c) == 0);
	/* The monitor is vmmd's: built now, never written again on a guest's behalf. */
	fuzz_check(mprotect(m.mm.host + c.guest_bytes, pool_lo(&c) - c.guest_bytes, PROT_READ) == 0);

	uint8_t ops[64][16];
	for (unsigned i = 0; i < steps; i++)
		for (unsigned j = 0; j < 16; j++)
			ops[i][j] = (uint8_t) take(in, 1);
	uint64_t entry = take(in, 3), stack = take(in, 3);
	guest_ram(&svm, in);
	/* A present PML4 at 0 and a 1 GiB identity page (what vmmd's boot
	 * gives, in short) unless the input already put something there. */
	uint64_t *pml4 = physmap_guest_ptr(&svm.pm, &svm.mm, 0, 8);
	if (!*pml4) {
		*pml4 = 0x1000 | X86_PTE_P | X86_PTE_W | X86_PTE_U;
		put64(&svm, 0x1000, X86_PTE_P | X86_PTE_W | X86_PTE_U | X86_PTE_PS);
	}
	shadow_vcpu_init_boot(&sv, &svm, 0, entry, stack, 0);
	sv.cpu.pcb.cr3 = 0;
	sv.cpu.pcb.efer |= X86_EFER_SCE | X86_EFER_NXE;
	sv.root_stale = true;
	shadow_update_root(&sv);
	check_engine(&svm, &sv, &c);
	for (unsigned i = 0; i < steps && step(&svm, &sv, ops[i]); i++)
		check_engine(&svm, &sv, &c);

	shadow_vm_destroy(&svm);
	munmap(m.map, m.map_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	if (size == 0)
		return 0;
	if (take(&in, 1) & 1)
		run_engine(&in);
	else
		run_fake_cpu(&in);
	return 0;
}
