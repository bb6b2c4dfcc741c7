/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/macro.h"
#include "vmmd/shadow/engine.h"
#include "vmmd/worker/guest_access.h"
#include "vmmd/worker/vm.h"

#define CHUNKS_MAX ((GUEST_ACCESS_MAX >> 12) + 2)   /* 4 KiB pages a 1 MiB range can touch */

/* One piece of an access: len bytes at guest-physical phys. */
struct chunk {
	uint64_t phys;
	uint64_t len;
};

struct chunks {
	struct chunk c[CHUNKS_MAX];
	size_t n;
};

static int guest_read(void *opaque, uint64_t paddr, uint64_t *ret)
{
	struct vm *vm = opaque;
	const void *p = guest_memory_ptr(&vm->mem, paddr, 8);

	if (!p)
		return -EFAULT;
	memcpy(ret, p, 8);
	return 0;
}

static const struct gw_memory *reader(struct vm *vm, struct gw_memory *m)
{
	*m = (struct gw_memory) { .read = guest_read, .opaque = vm };
	return m;
}

static int outside(struct vm *vm, uint64_t phys, bool virtual, uint64_t virt, struct guest_access_fault *f)
{
	uint64_t bad = phys >= vm->mem.size ? phys : vm->mem.size;

	*f = (struct guest_access_fault) { .kind = GUEST_FAULT_OUTSIDE_MEMORY, .virtual = virtual,
					   .virt = virt + (bad - phys), .phys = bad };
	return -EFAULT;
}

static int add_chunk(struct chunks *a, uint64_t phys, uint64_t len)
{
	if (a->n && a->c[a->n - 1].phys + a->c[a->n - 1].len == phys) {
		a->c[a->n - 1].len += len;
		return 0;
	}
	if (a->n == CHUNKS_MAX)
		return -E2BIG;   /* not reached: len <= GUEST_ACCESS_MAX */
	a->c[a->n++] = (struct chunk) { phys, len };
	return 0;
}

/* [addr, addr+len) through the page tables, into physical chunks. */
static int resolve_virtual(struct vm *vm, unsigned vcpu, uint64_t addr, uint64_t len, struct chunks *a,
			   struct guest_access_fault *f)
{
	struct guest_paging pg;
	struct gw_memory mem;
	uint64_t cur = addr, left = len;
	int r = guest_paging_get(&vm->vcpus[vcpu], &pg);

	if (r < 0)
		return r;
	if (pg.kind == GUEST_PAGING_NONE)   /* paging off: virtual (linear) = physical */
		return guest_memory_ptr(&vm->mem, addr, len) ? add_chunk(a, addr, len) : outside(vm, addr, true, addr, f);
	if (pg.kind != GUEST_PAGING_4LEVEL) {
		*f = (struct guest_access_fault) { .kind = GUEST_FAULT_PAGING, .virtual = true, .virt = addr,
						   .paging = pg.kind };
		return -EFAULT;
	}
	while (left > 0) {
		struct gw_result w;

		r = gw_translate(reader(vm, &mem), pg.cr3, cur, &pg.walk, &w);
		if (r == -EINVAL) {
			*f = (struct guest_access_fault) { .kind = GUEST_FAULT_NOT_CANONICAL, .virtual = true,
							   .virt = cur };
			return -EFAULT;
		}
		if (r < 0) {
			*f = (struct guest_access_fault) { .kind = GUEST_FAULT_NOT_MAPPED, .virtual = true, .virt = cur,
							   .level = w.fault_level, .reason = w.fault };
			return -EFAULT;
		}
		uint64_t in_page = w.page_size - (cur & (w.page_size - 1));
		uint64_t n = left < in_page ? left : in_page;

		if (!guest_memory_ptr(&vm->mem, w.phys, n))
			return outside(vm, w.phys, true, cur, f);
		r = add_chunk(a, w.phys, n);
		if (r < 0)
			return r;
		cur += n;
		left -= n;
	}
	return 0;
}

/* Between buf and the resolved chunks of guest memory, in order. */
static void copy_chunks(struct vm *vm, const struct chunks *a, uint8_t *buf, bool to_guest)
{
	uint64_t off = 0;

	for (size_t i = 0; i < a->n; i++) {
		uint8_t *g = guest_memory_ptr(&vm->mem, a->c[i].phys, a->c[i].len);

		if (to_guest)
			memcpy(g, buf + off, a->c[i].len);
		else
			memcpy(buf + off, g, a->c[i].len);
		off += a->c[i].len;
	}
}

int guest_access(struct vm *vm, unsigned vcpu, bool virtual, uint64_t addr, void *buf, uint64_t len, bool write,
		 struct guest_access_fault *fault)
{
	_cleanup_free_ struct chunks *a = NULL;
	struct vm_hold h;
	int r;

	if (len > GUEST_ACCESS_MAX)
		return -E2BIG;
	if (len == 0)
		return 0;
	if (!virtual) {
		if (!guest_memory_ptr(&vm->mem, addr, len))
			return outside(vm, addr, false, 0, fault);
		uint8_t *g = guest_memory_ptr(&vm->mem, addr, len);

		if (write)
			memcpy(g, buf, len);
		else
			memcpy(buf, g, len);
		return 0;
	}
	if (vcpu >= vm->n_vcpus)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	/* A read needs this vCPU's CR3 to stay put; a write, every vCPU's tables. */
	r = write ? vm_hold(vm, &h) : vm_hold_vcpu(vm, vcpu, &h);
	if (r < 0)
		return r;
	r = resolve_virtual(vm, vcpu, addr, len, a, fault);
	if (r == 0)
		copy_chunks(vm, a, buf, write);
	vm_release(vm, &h);
	return r;
}

/* Hold vcpu still and read its paging state; on success the caller walks
 * and then calls vm_release. The other vCPUs run on. */
static int hold_paging(struct vm *vm, unsigned vcpu, struct vm_hold *h, struct guest_paging *ret)
{
	int r;

	if (vcpu >= vm->n_vcpus)
		return -EINVAL;
	r = vm_hold_vcpu(vm, vcpu, h);
	if (r < 0)
		return r;
	r = guest_paging_get(&vm->vcpus[vcpu], ret);
	if (r < 0)
		vm_release(vm, h);
	return r;
}

/* KVM's own walk of virt on the vCPU (held), or -1 where it finds no page. */
static int64_t kvm_translate(struct vm *vm, unsigned vcpu, uint64_t virt)
{
	struct kvm_translation t = { .linear_address = virt };
	if (ioctl(vm->vcpus[vcpu].fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
		return -1;
	return (int64_t) t.physical_address;
}

int guest_translate(struct vm *vm, unsigned vcpu, uint64_t virt, struct guest_translation *ret)
{
	struct guest_translation t = { 0 };
	struct gw_memory mem;
	struct vm_hold h;
	int r;

	r = hold_paging(vm, vcpu, &h, &t.paging);
	if (r < 0)
		return r;
	if (t.paging.kind == GUEST_PAGING_4LEVEL)
		r = gw_translate(reader(vm, &mem), t.paging.cr3, virt, &t.paging.walk, &t.walk);
	/* hw mode on EPT/NPT: KVM walks the same tables, for the 2-D walk. */
	t.nested = !vm->shadow && vm->tdp_levels > 0 && t.paging.kind == GUEST_PAGING_4LEVEL &&
		   (r == 0 || r == -EFAULT);
	t.kvm_gpa = t.nested ? kvm_translate(vm, vcpu, virt) : -1;
	vm_release(vm, &h);
	if (r == -EINVAL || (r < 0 && r != -EFAULT))
		return r;   /* not canonical, or reading the vCPU failed */
	*ret = t;
	if (t.paging.kind != GUEST_PAGING_NONE && t.paging.kind != GUEST_PAGING_4LEVEL)
		return -EOPNOTSUPP;
	if (t.paging.kind == GUEST_PAGING_NONE)   /* linear = physical */
		ret->walk = (struct gw_result) { .virt = virt, .phys = virt };
	ret->mapped = r == 0;
	ret->backed = ret->mapped && ret->walk.phys < vm->mem.size;
	/* hw mode: one KVM memory slot at guest-physical 0, so machine = physical
	 * where RAM backs it. Shadow mode: through the physmap (identity, or scattered). */
	ret->machine = vm->shadow && ret->backed ? physmap_gpa_to_mpa(&vm->shadow->pm, ret->walk.phys)
						 : ret->walk.phys;
	return 0;
}

int guest_mappings(struct vm *vm, unsigned vcpu, uint64_t from, uint64_t to, uint64_t max_ranges,
		   gw_range_fn fn, void *opaque, struct guest_paging *ret_paging, struct gw_enum_result *ret)
{
	struct gw_memory mem;
	struct vm_hold h;
	int r;

	*ret = (struct gw_enum_result) { 0 };
	r = hold_paging(vm, vcpu, &h, ret_paging);
	if (r < 0)
		return r;
	if (ret_paging->kind == GUEST_PAGING_4LEVEL)
		gw_enumerate(reader(vm, &mem), ret_paging->cr3, from, to, &ret_paging->walk, max_ranges,
			     GUEST_ENTRIES_MAX, fn, opaque, ret);
	vm_release(vm, &h);
	return ret_paging->kind == GUEST_PAGING_4LEVEL || ret_paging->kind == GUEST_PAGING_NONE ? 0 : -EOPNOTSUPP;
}
