/* SPDX-License-Identifier: MIT */
/*
 * The worker's mechanism calls without JSON, on real KVM VMs in both modes
 * (built by vm_create from $B/guests/spin.elf, vCPUs not started): the
 * interrupt paths of vm_irq.h, the guest paging state of guest_paging.h and
 * the accesses and walks of guest_access.h. KVM itself answers the hw-mode
 * checks (KVM_GET_VCPU_EVENTS shows the queued NMI). Skips (77) where
 * /dev/kvm cannot be opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup_json.h"
#include "vmmd/shadow/engine.h"
#include "vmmd/worker/guest_access.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/vm_irq.h"

#define MIB (1ULL << 20)

struct fixture {
	struct vm_config *config;
	struct vm *vm;
	char console[64];
};

static int make_vm_n(void **state, const char *paging, unsigned vcpus)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *b = getenv("B") ? getenv("B") : "build";
	char cwd[256], kernel[384];
	struct config_error cerr;
	struct vm_error verr;
	char text[512];
	int fd, r;

	assert_non_null(f);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	/* Configs name absolute paths; B is relative to the tree, where tests run. */
	snprintf(kernel, sizeof(kernel), "%s%s%s/guests/spin.elf", b[0] == '/' ? "" : cwd, b[0] == '/' ? "" : "/", b);
	snprintf(text, sizeof(text),
		 "{\"name\":\"m\",\"kernel\":\"%s\",\"paging\":\"%s\",\"memory_mib\":64,\"vcpus\":%u}",
		 kernel, paging, vcpus);
	_cleanup_(json_object_putp) struct json_object *cfg = json_tokener_parse(text);
	if (vm_config_from_json(cfg, &f->config, &cerr) < 0)
		fail_msg("config: %s: %s", cerr.field, cerr.message);
	snprintf(f->console, sizeof(f->console), "/tmp/test_worker_mechanism.XXXXXX");
	fd = mkstemp(f->console);
	assert_true(fd >= 0);
	close(fd);
	int files[VM_FILE_SLOTS];
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		files[i] = -1;
	files[VM_FILE_KERNEL] = open(kernel, O_RDONLY | O_CLOEXEC);   /* as the supervisor hands it over */
	assert_true(files[VM_FILE_KERNEL] >= 0);
	struct vm_console_params console = { .path = f->console, .size = CONSOLE_RING_DEFAULT };
	r = vm_create(f->config, files, &console, &f->vm, &verr);
	if (r < 0)
		fail_msg("vm_create (%s): %s: %s", paging, verr.why, strerror(-r));
	*state = f;
	return 0;
}

static int hw_vm(void **state)
{
	return make_vm_n(state, "hw", 1);
}

static int shadow_vm(void **state)
{
	return make_vm_n(state, "shadow", 1);
}

static int hw_vm2(void **state)
{
	return make_vm_n(state, "hw", 2);
}


static int free_vm(void **state)
{
	struct fixture *f = *state;
	struct vm_exit e = { .reason = VM_EXIT_STOPPED, .vcpu = -1 };

	vm_request_exit(f->vm, &e);   /* a test that started the vCPUs: they leave before vm_destroy joins them */
	vm_destroy(f->vm);
	vm_config_free(f->config);
	unlink(f->console);
	free(f);
	return 0;
}

/* --- interrupts ----------------------------------------------------------------- */

static void test_irq_hw(void **state)
{
	struct fixture *f = *state;
	struct vm_irq_result res;
	struct kvm_vcpu_events ev;

	assert_int_equal(vm_irq_lines(f->vm), VM_IRQ_LINES);
	assert_int_equal(vm_irq_trigger(f->vm, 4, &res), 0);
	assert_string_equal(res.via, "KVM_IRQ_LINE");
	assert_int_equal(res.delivered, res.status > 0);
	assert_int_equal(vm_irq_trigger(f->vm, VM_IRQ_LINES, &res), -EINVAL);

	/* A LAPIC that the guest has not enabled refuses a fixed MSI. */
	assert_int_equal(vm_irq_vector(f->vm, 0, 0x30, &res), 0);
	assert_string_equal(res.via, "KVM_SIGNAL_MSI");
	assert_false(res.delivered);
	assert_false(res.pending);
	assert_int_equal(vm_irq_vector(f->vm, 0, 31, &res), -EINVAL);
	assert_int_equal(vm_irq_vector(f->vm, 1, 0x30, &res), -EINVAL);

	/* The NMI is queued in KVM for when the vCPU next runs. */
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(ioctl(f->vm->vcpus[0].fd, KVM_GET_VCPU_EVENTS, &ev), 0);
	assert_int_equal(ev.nmi.pending, 0);
	assert_int_equal(vm_irq_nmi(f->vm, 0, &res), 0);
	assert_string_equal(res.via, "KVM_NMI");
	assert_true(res.pending);
	assert_int_equal(ioctl(f->vm->vcpus[0].fd, KVM_GET_VCPU_EVENTS, &ev), 0);
	assert_int_equal(ev.nmi.pending, 1);
	assert_int_equal(vm_irq_nmi(f->vm, 1, &res), -EINVAL);
}

static void test_irq_shadow(void **state)
{
	struct fixture *f = *state;
	struct shadow_pcb *pcb = &f->vm->vcpus[0].shadow->cpu.pcb;
	struct vm_irq_result res;

	assert_int_equal(vm_irq_lines(f->vm), VM_IRQ_LINES_SHADOW);
	assert_int_equal(vm_irq_trigger(f->vm, 4, &res), 0);
	assert_string_equal(res.via, "vmmd PIC");
	assert_true(res.delivered);
	assert_int_equal(vm_irq_trigger(f->vm, 16, &res), -EINVAL);

	/* Vectors and the NMI wait in the guest PCB for the virtual IF. */
	assert_int_equal(pcb_highest_pending(pcb), -1);
	assert_int_equal(vm_irq_vector(f->vm, 0, 0x30, &res), 0);
	assert_string_equal(res.via, "virtual IDT");
	assert_true(res.pending);
	assert_int_equal(pcb_highest_pending(pcb), 0x30);
	pcb_clear_pending(pcb, 0x30);
	assert_int_equal(vm_irq_nmi(f->vm, 0, &res), 0);
	assert_true(res.pending);
	assert_int_equal(pcb_highest_pending(pcb), 2);
}

/* --- guest memory ------------------------------------------------------------------ */

/* vmmd's boot contract (abi/bootinfo.h): 4-level paging, the first GiBs identity-mapped with 2 MiB pages. */
static void check_boot_paging(struct fixture *f)
{
	struct guest_translation t;
	struct guest_paging pg;
	struct vm_hold h;

	assert_int_equal(vm_hold_vcpu(f->vm, 0, &h), 0);
	assert_int_equal(guest_paging_get(&f->vm->vcpus[0], &pg), 0);
	vm_release(f->vm, &h);
	assert_int_equal(pg.kind, GUEST_PAGING_4LEVEL);
	assert_true(pg.walk.phys_bits >= 32 && pg.walk.phys_bits <= 52);

	assert_int_equal(guest_translate(f->vm, 0, 0x100123, &t), 0);
	assert_true(t.mapped && t.backed);
	assert_int_equal(t.walk.phys, 0x100123);
	assert_int_equal(t.walk.page_size, 2 * MIB);
	assert_int_equal(t.walk.n_steps, 3);
	assert_int_equal(t.machine, 0x100123);   /* hw: one slot at 0; shadow: the identity physmap */
	/* Mapped, but past the end of the 64 MiB of memory: not backed. */
	assert_int_equal(guest_translate(f->vm, 0, 100 * MIB, &t), 0);
	assert_true(t.mapped);
	assert_false(t.backed);
	assert_int_equal(guest_translate(f->vm, 0, 0x800000000000ULL, &t), -EINVAL);
}

static void check_access(struct fixture *f)
{
	struct guest_access_fault fault;
	uint8_t out[64], in[64];
	uint64_t top = f->vm->mem.size;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t) (i * 7 + 1);
	assert_int_equal(guest_access(f->vm, 0, false, 0x300000, out, sizeof(out), true, &fault), 0);
	memset(in, 0, sizeof(in));
	assert_int_equal(guest_access(f->vm, 0, true, 0x300000, in, sizeof(in), false, &fault), 0);
	assert_memory_equal(in, out, sizeof(out));
	/* A physical range running off the end names where memory ends. */
	assert_int_equal(guest_access(f->vm, 0, false, top - 16, in, 32, false, &fault), -EFAULT);
	assert_int_equal(fault.kind, GUEST_FAULT_OUTSIDE_MEMORY);
	assert_false(fault.virtual);
	assert_int_equal(fault.phys, top);
	/* A virtual one that maps past memory: nothing written, the first bad address named. */
	memset(in, 0xaa, sizeof(in));
	assert_int_equal(guest_access(f->vm, 0, true, top - 16, in, 32, true, &fault), -EFAULT);
	assert_int_equal(fault.kind, GUEST_FAULT_OUTSIDE_MEMORY);
	assert_true(fault.virtual);
	assert_int_equal(fault.virt, top);
	assert_int_not_equal(*(uint8_t *) guest_memory_ptr(&f->vm->mem, top - 16, 1), 0xaa);
	assert_int_equal(guest_access(f->vm, 0, true, 0x800000000000ULL, in, 8, false, &fault), -EFAULT);
	assert_int_equal(fault.kind, GUEST_FAULT_NOT_CANONICAL);
	assert_int_equal(guest_access(f->vm, 0, false, 0, in, GUEST_ACCESS_MAX + 1, false, &fault), -E2BIG);
}

static void test_memory_hw(void **state)
{
	check_boot_paging(*state);
	check_access(*state);
}

static void test_memory_shadow(void **state)
{
	check_boot_paging(*state);
	check_access(*state);
}

/* --- holding one vCPU ------------------------------------------------------------- */

static bool parked(struct vm *vm, unsigned i)
{
	pthread_mutex_lock(&vm->lock);
	bool p = vm->vcpus[i].parked;
	pthread_mutex_unlock(&vm->lock);
	return p;
}

static uint64_t kicks(struct vm *vm, unsigned i)
{
	return __atomic_load_n(&vm->vcpus[i].stats[VCPU_STAT_INTR], __ATOMIC_RELAXED);
}

/* Reading vCPU 0 parks vCPU 0 alone: vCPU 1 is never kicked (finding 14:
 * every inspection call used to pause the whole VM). Holds nest with the
 * user's pause and resume. */
static void check_hold_one(struct fixture *f)
{
	struct vm *vm = f->vm;
	struct vm_hold h, h2, all;
	struct kvm_regs regs;

	unsigned last = vm->n_vcpus - 1;   /* shadow mode runs one vCPU: then it is vCPU 0 */

	assert_int_equal(vm_start(vm), 0);
	uint64_t before = kicks(vm, last);
	for (int n = 0; n < 50; n++) {
		assert_int_equal(vm_hold_vcpu(vm, 0, &h), 0);
		assert_true(parked(vm, 0));
		assert_true(last == 0 || !parked(vm, last));
		assert_false(h.paused);
		assert_int_equal(vcpu_get_regs(&vm->vcpus[0], &regs), 0);
		vm_release(vm, &h);
	}
	assert_true(last == 0 || kicks(vm, last) == before);

	/* Nested holds, and a pause and resume of the user's meanwhile: vCPU 0 runs again only once all are gone. */
	assert_int_equal(vm_hold_vcpu(vm, 0, &h), 0);
	assert_int_equal(vm_hold_vcpu(vm, 0, &h2), 0);
	assert_int_equal(vm_pause(vm), 0);
	assert_true(parked(vm, last));
	assert_int_equal(vm_hold(vm, &all), 0);
	assert_false(all.resume);
	assert_true(all.paused);
	vm_release(vm, &all);
	assert_int_equal(vm_resume(vm), 0);
	vm_release(vm, &h2);
	assert_true(parked(vm, 0));
	vm_release(vm, &h);
	for (int n = 0; n < 200 && parked(vm, 0); n++)
		usleep(10000);
	assert_false(parked(vm, 0));

	/* Stopping: a hold is refused, not waited for. */
	struct vm_exit e = { .reason = VM_EXIT_STOPPED, .vcpu = -1 };
	vm_request_exit(vm, &e);
	assert_int_equal(vm_hold_vcpu(vm, last, &h), -ESHUTDOWN);
}

static void test_hold_one_hw(void **state)
{
	check_hold_one(*state);
}

static void test_hold_one_shadow(void **state)
{
	check_hold_one(*state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_irq_hw, hw_vm, free_vm),
		cmocka_unit_test_setup_teardown(test_irq_shadow, shadow_vm, free_vm),
		cmocka_unit_test_setup_teardown(test_memory_hw, hw_vm, free_vm),
		cmocka_unit_test_setup_teardown(test_memory_shadow, shadow_vm, free_vm),
		cmocka_unit_test_setup_teardown(test_hold_one_hw, hw_vm2, free_vm),
		cmocka_unit_test_setup_teardown(test_hold_one_shadow, shadow_vm, free_vm),
	};
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("SKIP: cannot open /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	close(fd);
	if (vcpu_signal_setup() < 0)   /* the kick the hold tests send, as the worker installs it */
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
