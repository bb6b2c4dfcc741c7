/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/ioctl.h>

#include "vmmd/worker/shadow_platform.h"
#include "vmmd/worker/shadow_run.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/vm_irq.h"

#define MSI_ADDR_BASE 0xfee00000u
#define NMI_VECTOR    2

unsigned vm_irq_lines(const struct vm *vm)
{
	return vm->shadow ? VM_IRQ_LINES_SHADOW : VM_IRQ_LINES;
}

int vm_irq_line(struct vm *vm, unsigned irq, int level, struct vm_irq_result *ret)
{
	struct vm_irq_result res = { .via = "vmmd PIC" };

	if (irq >= vm_irq_lines(vm))
		return -EINVAL;
	if (vm->platform) {
		shadow_platform_set_irq(vm, irq, level);
		res.status = 1;   /* the model latches every edge it is given */
	} else {
		struct kvm_irq_level line = { .irq = irq, .level = level };

		res.via = "KVM_IRQ_LINE";
		if (ioctl(vm->vm_fd, KVM_IRQ_LINE_STATUS, &line) < 0)
			return -errno;
		res.status = line.status;
	}
	res.delivered = res.status > 0;
	if (ret)
		*ret = res;
	return 0;
}

int vm_irq_trigger(struct vm *vm, unsigned irq, struct vm_irq_result *ret)
{
	int r = vm_irq_line(vm, irq, 1, ret);

	return r < 0 ? r : vm_irq_line(vm, irq, 0, NULL);
}

int vm_irq_vector(struct vm *vm, unsigned vcpu, unsigned vector, struct vm_irq_result *ret)
{
	int r;

	if (vcpu >= vm->n_vcpus || vector < VM_IRQ_VECTOR_MIN || vector > VM_IRQ_VECTOR_MAX)
		return -EINVAL;
	if (vm->shadow) {
		shadow_run_raise(&vm->vcpus[vcpu], vector);
		*ret = (struct vm_irq_result) { .via = "virtual IDT", .pending = true };
		return 0;
	}
	/* Physical destination = APIC ID, which KVM sets to the vCPU index. */
	struct kvm_msi msi = { .address_lo = MSI_ADDR_BASE | (vcpu << 12), .data = vector };
	r = ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi);
	if (r < 0)
		return -errno;
	/* 0: the LAPIC refused it (software-disabled, or the guest masked it). */
	*ret = (struct vm_irq_result) { .via = "KVM_SIGNAL_MSI", .status = r, .delivered = r > 0 };
	return 0;
}

int vm_irq_nmi(struct vm *vm, unsigned vcpu, struct vm_irq_result *ret)
{
	struct vm_hold h;
	int r;

	if (vcpu >= vm->n_vcpus)
		return -EINVAL;
	if (vm->shadow) {
		shadow_run_raise(&vm->vcpus[vcpu], NMI_VECTOR);
		*ret = (struct vm_irq_result) { .via = "virtual IDT", .pending = true };
		return 0;
	}
	/* A vCPU ioctl: that vCPU must be out of KVM_RUN, the others need not. */
	r = vm_hold_vcpu(vm, vcpu, &h);
	if (r < 0)
		return r;
	r = vcpu_nmi(&vm->vcpus[vcpu]);
	vm_release(vm, &h);
	if (r < 0)
		return r;
	*ret = (struct vm_irq_result) { .via = "KVM_NMI", .pending = true };
	return 0;
}
