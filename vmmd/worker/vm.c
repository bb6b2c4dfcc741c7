/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "base/macro.h"
#include "abi/bootinfo.h"
#include "vmmd/common/host_probe.h"
#include "vmmd/common/log.h"
#include "vmmd/worker/boot.h"
#include "vmmd/worker/elf_loader.h"
#include "vmmd/worker/host_profile.h"
#include "vmmd/worker/image_file.h"
#include "vmmd/worker/linux_boot.h"
#include "vmmd/worker/shadow_platform.h"
#include "vmmd/worker/shadow_run.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/vm_irq.h"
#include "vmmd/worker/xenpv_guest.h"

#define KVM_TSS_ADDR          0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define PAUSE_TIMEOUT_MS      2000

static void wake_loop(struct vm *vm)
{
	uint64_t one = 1;
	ssize_t n = write(vm->wake_fd, &one, sizeof(one));
	(void) n;   /* the counter saturating only means a wake-up is already due */
}

void vm_request_exit(struct vm *vm, const struct vm_exit *exit)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->exit.reason == VM_EXIT_NONE)
		vm->exit = *exit;
	vm->run_state = VM_RUN_STOPPING;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->n_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	wake_loop(vm);
}

bool vm_get_exit(struct vm *vm, struct vm_exit *ret)
{
	pthread_mutex_lock(&vm->lock);
	*ret = vm->exit;
	pthread_mutex_unlock(&vm->lock);
	return ret->reason != VM_EXIT_NONE;
}

/* --- device sinks ---------------------------------------------------------- */

void vm_console_output(struct vm *vm, const uint8_t *buf, size_t len)
{
	/* The ring has one writer at a time: the UART (vCPU threads) and the
	 * virtio console (I/O thread) take turns. */
	pthread_mutex_lock(&vm->console_lock);
	console_ring_append(&vm->console, buf, len);
	pthread_mutex_unlock(&vm->console_lock);
	/* Never a write here: the log's thread takes it from the ring. */
	console_log_notify(&vm->log);
	if (!__atomic_exchange_n(&vm->console_dirty, true, __ATOMIC_ACQ_REL))
		wake_loop(vm);
}

static void uart_tx(void *userdata, uint8_t byte)
{
	vm_console_output(userdata, &byte, 1);
}

static void uart_set_irq(void *userdata, int level)
{
	(void) vm_irq_line(userdata, VMM_IRQ_COM1, level, NULL);
}

static const struct uart_ops uart_ops = { .tx = uart_tx, .set_irq = uart_set_irq };

static void debug_exit_cb(void *userdata, int status)
{
	struct vm *vm = userdata;
	struct vm_exit e = { .reason = VM_EXIT_DEBUG_EXIT, .code = status,
			     .value = (uint32_t) status >> 1, .vcpu = -1 };
	snprintf(e.message, sizeof(e.message), "guest wrote %u to the debug-exit port", e.value);
	vm_request_exit(vm, &e);
}

static void i8042_reset_cb(void *userdata)
{
	struct vm *vm = userdata;
	struct vm_exit e = { .reason = VM_EXIT_GUEST_RESET, .vcpu = -1 };
	snprintf(e.message, sizeof(e.message), "the guest reset the machine through the keyboard controller");
	vm_request_exit(vm, &e);
}

struct json_object *vm_boot_json(const struct vm *vm)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string(vm_boot_name(vm->boot)));
	json_object_object_add(o, "cmdline", vm->boot_cmdline ? json_object_new_string(vm->boot_cmdline) : NULL);
	if (vm->boot == VM_BOOT_PVH || vm->boot == VM_BOOT_BZIMAGE || vm->boot == VM_BOOT_XENPV) {
		if (vm->boot != VM_BOOT_XENPV)
			json_object_object_add(o, "host_profile", json_object_new_string(vm_host_profile_name(vm->host_profile)));
		const struct linux_boot_layout *l = &vm->linux_layout;
		json_object_object_add(o, "kernel_start", json_object_new_uint64(l->kernel_start));
		json_object_object_add(o, "kernel_end", json_object_new_uint64(l->kernel_end));
		json_object_object_add(o, "initrd_start", json_object_new_uint64(l->initrd_start));
		json_object_object_add(o, "initrd_size", json_object_new_uint64(l->initrd_size));
	}
	return o;
}

/* --- building ---------------------------------------------------------------- */

static int create_kvm_vm(struct vm *vm, struct vm_error *err)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return vm_error_set(err, WORKER_ERROR_NO_KVM, -errno, "cannot open /dev/kvm");
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, -ENOTSUP, "unexpected KVM API version");
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		vm->vm_fd = -1;
		return vm_error_set(err, WORKER_ERROR_INTERNAL, -errno, "KVM_CREATE_VM failed");
	}
	/* Probed now: the sandbox will not let the worker read /proc and /sys later. */
	struct host_facts facts;
	host_probe(&facts);
	vm->tdp_levels = facts.tdp_levels;
	vm->tdp_via = strcmp(facts.virt, "vmx") == 0 ? "ept" : "npt";
	vm->run_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_mmap_size < (int) sizeof(struct kvm_run))
		return vm_error_set(err, WORKER_ERROR_INTERNAL, -EINVAL, "KVM_GET_VCPU_MMAP_SIZE failed");
	/* Intel needs these two pages reserved below 4 GiB; harmless elsewhere. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long) KVM_TSS_ADDR) < 0)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, -errno, "KVM_SET_TSS_ADDR failed");
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	(void) ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	/* Emulation failures come to us with the instruction bytes (issue: fallback). */
	struct kvm_enable_cap cap = { .cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = { 1 } };
	(void) ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
	return 0;
}

/* After the memory slot: on some hosts (this project's) registering memory
 * after KVM_CREATE_IRQCHIP costs 5-10 ms, before it ~0.1 ms (bench B3). */
static int create_irqchips(struct vm *vm, struct vm_error *err)
{
	/* Shadow mode delivers interrupts itself (reflection): no in-kernel chips. */
	if (vm->config->paging == VM_PAGING_SHADOW)
		return 0;
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, -errno, "KVM_CREATE_IRQCHIP failed");
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, -errno, "KVM_CREATE_PIT2 failed");
	return 0;
}

static int setup_memory(struct vm *vm, struct vm_error *err)
{
	if (vm->config->paging == VM_PAGING_SHADOW)
		return 0;   /* after the devices: the engine needs the bus (shadow_run.c) */
	int r = guest_memory_map((uint64_t) vm->config->memory_mib << 20, &vm->mem);
	if (r < 0)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, r, "cannot map guest memory");
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = vm->mem.size,
		.userspace_addr = (uint64_t) (uintptr_t) vm->mem.host,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, -errno, "KVM_SET_USER_MEMORY_REGION failed");
	return 0;
}

static int setup_devices(struct vm *vm, const struct vm_console_params *console, struct vm_error *err)
{
	int r = console->resume ? console_ring_continue(console->path, console->size, &vm->console)
				: console_ring_create(console->path, console->size, &vm->console);
	if (r < 0)
		return vm_error_set(err, r == -ENOSPC || r == -EDQUOT ? WORKER_ERROR_NO_SPACE : WORKER_ERROR_INTERNAL, r,
				    "cannot create the console buffer");
	if (vm->config->console_log && vm->files[VM_FILE_CONSOLE_LOG] < 0)
		return vm_error_set(err, WORKER_ERROR_CONSOLE_LOG, -EBADF, "no console.log file was given");
	r = console_log_start(&vm->log, &vm->console, TAKE_FD(vm->files[VM_FILE_CONSOLE_LOG]),
			      &vm->files[VM_FILE_LOG_PART], VM_LOG_ROTATE_MAX, console->log_max_bytes);
	if (r < 0)
		return vm_error_set(err, WORKER_ERROR_CONSOLE_LOG, r, "cannot start writing console.log");
	vm->bus = bus_new();
	vm->uart = uart_new(&uart_ops, vm);
	if (!vm->bus || !vm->uart)
		return -ENOMEM;
	vm->debug_exit = (struct debug_exit) { .on_exit = debug_exit_cb, .userdata = vm };
	r = bus_register(vm->bus, BUS_PIO, VMM_PORT_COM1, UART_REGION_SIZE, "uart16550", uart_io, vm->uart);
	if (r == 0)
		r = bus_register(vm->bus, BUS_PIO, VMM_PORT_DEBUG_EXIT, 4, "debug-exit", debug_exit_io, &vm->debug_exit);
	cmos_rtc_init(&vm->rtc, NULL, NULL);
	if (r == 0)
		r = bus_register(vm->bus, BUS_PIO, CMOS_PORT_INDEX, 2, "cmos-rtc", cmos_rtc_io, &vm->rtc);
	i8042_init(&vm->kbc, i8042_reset_cb, vm);
	/* Xen gives a PV guest no keyboard controller: its ports float, and
	 * Linux says "No controller found" after a few reads. The model here
	 * has no mouse port, so Linux's AUX loopback test would time out
	 * instead (10,000 status reads, each a trap: ~2 s of B10's boot). */
	if (r == 0 && !vm->xenpv)
		r = bus_register(vm->bus, BUS_PIO, I8042_PORT_DATA, 1, "i8042", i8042_data_io, &vm->kbc);
	if (r == 0 && !vm->xenpv)
		r = bus_register(vm->bus, BUS_PIO, I8042_PORT_CMD, 1, "i8042", i8042_cmd_io, &vm->kbc);
	vmm_info_init(&vm->info_page);
	if (r == 0)
		r = bus_register(vm->bus, BUS_MMIO, VMM_INFO_MMIO_BASE, VMM_INFO_SIZE, "vmm-info", vmm_info_io,
				 &vm->info_page);
	if (r < 0)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, r, "cannot register the platform devices");
	return 0;
}

/* vmmd's own guests: the ELF ABI of abi/bootinfo.h. */
static int load_vmmd_guest(struct vm *vm, const uint8_t *image, size_t size, struct vcpu_entry *entry,
			   struct vm_error *err)
{
	struct elf_info info;
	const char *elf_why = NULL;
	int r = elf_load_image(image, size, &vm->mem, VMM_LOAD_MIN, &info, &elf_why);
	if (r < 0)
		return vm_error_set(err, WORKER_ERROR_KERNEL, r, elf_why ? elf_why : "cannot load the kernel");
	r = boot_write_tables(&vm->mem, vm->config);
	if (r < 0)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, r, "cannot write the boot tables");
	*entry = (struct vcpu_entry) {
		.mode = VCPU_ENTRY_LONG, .rip = info.entry, .rsp = VMM_BOOT_STACK_TOP, .rdi = VMM_BOOT_INFO,
		.cs = 0x08, .ds = 0x10, .gdt_base = VMM_BOOT_GDT, .gdt_limit = 3 * 8 - 1, .cr3 = VMM_BOOT_PML4,
	};
	return 0;
}

static int load_linux(struct vm *vm, enum vm_boot kind, const uint8_t *image, size_t size,
		      struct vcpu_entry *entry, struct vm_error *err)
{
	if (vm->config->paging == VM_PAGING_SHADOW)
		return vm_error_set(err, WORKER_ERROR_KERNEL, -EINVAL,
				    "this kernel is Linux (PVH or bzImage), which needs paging \"hw\"");
	enum vm_host_profile profile = vm->host_profile;
	char *cmdline = linux_cmdline_compose(vm->config->cmdline, host_profile_cmdline(profile),
					      (const char *const *) vm->virtio_cmdline, vm->n_virtio);
	if (!cmdline)
		return -ENOMEM;
	struct linux_boot_params p = {
		.kind = kind, .kernel = image, .kernel_size = size, .initrd_fd = vm->files[VM_FILE_INITRD],
		.cmdline = cmdline, .vcpus = vm->config->vcpus,
	};
	struct linux_boot_layout layout;
	int r = linux_boot_load(&vm->mem, &p, &layout, err);
	if (r == 0) {
		*entry = layout.entry;
		vm->linux_layout = layout;
		free(vm->boot_cmdline);
		vm->boot_cmdline = strdup(cmdline);
		log_info("Linux %s: kernel at 0x%llx-0x%llx, initrd %llu bytes at 0x%llx, host profile %s",
			 vm_boot_name(kind), (unsigned long long) layout.kernel_start,
			 (unsigned long long) layout.kernel_end, (unsigned long long) layout.initrd_size,
			 (unsigned long long) layout.initrd_start, vm_host_profile_name(profile));
		log_info("Linux command line: %s", cmdline);
	}
	free(cmdline);
	return r;
}

/* Read the kernel and decide how it boots: in shadow mode a Linux kernel
 * runs only through the Xen PV ABI (xenpv_boot.c decides, and unpacks a
 * bzImage to see its notes). Before memory exists: a PV guest's machine
 * layout differs (monitor slot, M2P window). */
static int resolve_kernel(struct vm *vm, uint8_t **ret_image, size_t *ret_size, struct vm_error *err)
{
	int r = image_file_read_kernel(vm->files[VM_FILE_KERNEL], ELF_MAX_FILE, ret_image, ret_size, &err->why);
	if (r < 0)
		return vm_error_kind(err, WORKER_ERROR_KERNEL, r);
	if (vm->config->paging == VM_PAGING_SHADOW)
		return vm_error_kind(err, WORKER_ERROR_KERNEL, xenpv_boot_resolve(vm, *ret_image, *ret_size, &err->why));
	vm->boot = vm->config->boot == VM_BOOT_AUTO ? linux_boot_detect(*ret_image, *ret_size) : vm->config->boot;
	return 0;
}

static int load_kernel(struct vm *vm, const uint8_t *image, size_t size, struct vcpu_entry *entry,
		       struct vm_error *err)
{
	switch (vm->boot) {
	case VM_BOOT_VMMD: {
		int r = load_vmmd_guest(vm, image, size, entry, err);
		vm->boot_cmdline = strdup(vm->config->cmdline);
		return r;
	}
	case VM_BOOT_XENPV:
		return xenpv_boot_load(vm, err);
	default:
		return load_linux(vm, vm->boot, image, size, entry, err);
	}
}

static int setup_vcpus(struct vm *vm, const struct vcpu_entry *entry, struct vm_error *err)
{
	vm->vcpus = calloc(vm->config->vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->config->vcpus; i++)
		vm->vcpus[i].fd = vm->vcpus[i].kick_fd = -1;
	vm->n_vcpus = vm->config->vcpus;
	for (unsigned i = 0; i < vm->n_vcpus; i++) {
		int r = vcpu_init(&vm->vcpus[i], vm, i);
		if (r < 0)
			return vm_error_set(err, WORKER_ERROR_INTERNAL, r, "cannot create a vCPU");
	}
	if (vm->shadow) {
		for (unsigned i = 0; i < vm->n_vcpus; i++) {
			int r = shadow_run_setup_vcpu(&vm->vcpus[i], entry->rip, VMM_BOOT_STACK_TOP, VMM_BOOT_INFO);
			if (r < 0)
				return vm_error_set(err, WORKER_ERROR_INTERNAL, r, "cannot set up a shadow-mode vCPU");
		}
		return 0;
	}
	/* Only the boot vCPU starts; the others wait for INIT/SIPI in the in-kernel LAPIC. */
	int r = vcpu_set_entry(&vm->vcpus[0], entry);
	if (r < 0)
		return vm_error_set(err, WORKER_ERROR_INTERNAL, r, "cannot set up the boot vCPU");
	return 0;
}

/* Both modes keep guest RAM below the 32-bit MMIO hole (guest_memory.h):
 * more is the config's to change. */
static int check_memory(const struct vm_config *config, struct vm_error *err)
{
	if (((uint64_t) config->memory_mib << 20) <= GUEST_MEMORY_MAX)
		return 0;
	return vm_error_set(err, WORKER_ERROR_MEMORY, -EINVAL, config->paging == VM_PAGING_SHADOW ?
			    "memory_mib is above what shadow mode supports (3072)" :
			    "memory_mib is above what hw mode supports (3072)");
}

/* The configured virtio devices: a device that cannot be built is the
 * config's to fix; an image another VM holds locked (-EWOULDBLOCK,
 * virtio_devices.h) is a resource that is busy. */
static int virtio_devices(struct vm *vm, struct vm_error *err)
{
	int r = virtio_devices_setup(vm, &err->why);
	return vm_error_kind(err, r == -EWOULDBLOCK ? WORKER_ERROR_DEVICE_BUSY : WORKER_ERROR_DEVICE, r);
}

int vm_create(const struct vm_config *config, int *files, const struct vm_console_params *console,
	      struct vm **ret, struct vm_error *err)
{
	*err = (struct vm_error) { WORKER_ERROR_INTERNAL, "out of memory" };
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		for (int i = 0; i < VM_FILE_SLOTS; i++)
			files[i] = safe_close(files[i]);
		return -ENOMEM;
	}
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		vm->files[i] = TAKE_FD(files[i]);
	vm->config = config;
	vm->kvm_fd = vm->vm_fd = -1;
	console_log_init(&vm->log);
	vm->virtio.stop_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->console_lock, NULL);
	/* The pause deadline must not move with the wall clock. */
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->cond, &attr);
	pthread_condattr_destroy(&attr);
	vm->run_state = VM_RUN_RUNNING;
	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->wake_fd < 0) {
		int r = vm_error_set(err, WORKER_ERROR_INTERNAL, -errno, "cannot create the wake-up eventfd");
		vm_destroy(vm);
		return r;
	}

	struct vcpu_entry entry = { 0 };
	uint8_t *image = NULL;
	size_t image_size = 0;
	/* Once, for every guest: the vCPUs' CPUID depends on it, Linux's command line too. */
	vm->host_profile = host_profile_resolve(config->host_profile);
	int r = check_memory(config, err);
	if (r == 0)
		r = create_kvm_vm(vm, err);
	if (r == 0)
		r = resolve_kernel(vm, &image, &image_size, err);
	if (r == 0 && vm->xenpv && config->n_devices)
		r = vm_error_set(err, WORKER_ERROR_DEVICE, -EINVAL,
				 "virtio devices are not offered to Xen PV guests (their devices would be PV backends)");
	if (r == 0)
		r = setup_memory(vm, err);
	if (r == 0)
		r = setup_devices(vm, console, err);
	if (r == 0 && config->paging == VM_PAGING_SHADOW)
		r = vm_error_kind(err, WORKER_ERROR_INTERNAL, vm->xenpv ? xenpv_guest_init_devices(vm, &err->why)
									  : shadow_platform_init(vm, &err->why));
	if (r == 0 && config->paging == VM_PAGING_SHADOW)
		r = vm_error_kind(err, WORKER_ERROR_INTERNAL, shadow_run_setup_memory(vm, &err->why));
	if (r == 0)
		r = create_irqchips(vm, err);
	if (r == 0)
		r = virtio_devices(vm, err);   /* before the kernel: it names them on the command line */
	if (r == 0)
		r = load_kernel(vm, image, image_size, &entry, err);
	free(image);
	/* Read: not needed again (a restart gets new descriptors). */
	vm->files[VM_FILE_KERNEL] = safe_close(vm->files[VM_FILE_KERNEL]);
	vm->files[VM_FILE_INITRD] = safe_close(vm->files[VM_FILE_INITRD]);
	if (r == 0)
		r = setup_vcpus(vm, &entry, err);
	if (r < 0) {
		vm_destroy(vm);
		return r;
	}
	*ret = vm;
	return 0;
}

int vm_start(struct vm *vm)
{
	/* Threads only from here: the jail comes between vm_create and this. */
	int vr = console_log_run(&vm->log);
	if (vr < 0) {
		struct vm_exit e = { .reason = VM_EXIT_INTERNAL_ERROR };
		snprintf(e.message, sizeof(e.message), "cannot start the console.log thread: %s", strerror(-vr));
		vm_request_exit(vm, &e);
		return vr;
	}
	vr = virtio_devices_start(vm);
	if (vr < 0)
		return vr;
	if (vm->platform) {
		int r = shadow_platform_start(vm);
		if (r < 0)
			return r;
	}
	if (vm->xenpv) {
		int r = xenpv_guest_start(vm);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < vm->n_vcpus; i++) {
		int r = vcpu_start_thread(&vm->vcpus[i]);
		if (r < 0) {
			struct vm_exit e = { .reason = VM_EXIT_INTERNAL_ERROR, .vcpu = i };
			snprintf(e.message, sizeof(e.message), "cannot start vCPU thread %u", i);
			vm_request_exit(vm, &e);
			return r;
		}
	}
	return 0;
}

static unsigned started_vcpus(struct vm *vm)
{
	unsigned n = 0;
	for (unsigned i = 0; i < vm->n_vcpus; i++)
		n += vm->vcpus[i].thread_started;
	return n;
}

int vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->run_state == VM_RUN_STOPPING) {
		pthread_mutex_unlock(&vm->lock);
		return -ESHUTDOWN;
	}
	vm->run_state = VM_RUN_PAUSED;
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->n_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);

	/* Inspection after pause must see still vCPUs, so wait until all park. */
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PAUSE_TIMEOUT_MS / 1000;
	int r = 0;
	pthread_mutex_lock(&vm->lock);
	while (vm->run_state == VM_RUN_PAUSED && vm->parked < started_vcpus(vm) && r == 0)
		r = -pthread_cond_timedwait(&vm->cond, &vm->lock, &deadline);
	if (vm->run_state == VM_RUN_STOPPING)
		r = -ESHUTDOWN;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_resume(struct vm *vm)
{
	int r = 0;
	pthread_mutex_lock(&vm->lock);
	if (vm->run_state == VM_RUN_PAUSED) {
		vm->run_state = VM_RUN_RUNNING;
		pthread_cond_broadcast(&vm->cond);
	} else if (vm->run_state == VM_RUN_STOPPING) {
		r = -ESHUTDOWN;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_hold(struct vm *vm, struct vm_hold *h)
{
	pthread_mutex_lock(&vm->lock);
	enum vm_run_state s = vm->run_state;
	pthread_mutex_unlock(&vm->lock);
	*h = (struct vm_hold) { .vcpu = -1, .paused = s == VM_RUN_PAUSED };
	if (s == VM_RUN_STOPPING)
		return -ESHUTDOWN;
	/* Also when paused: vm_pause returns at once once every vCPU is parked. */
	int r = vm_pause(vm);
	if (r < 0) {
		if (s == VM_RUN_RUNNING)
			(void) vm_resume(vm);
		return r;
	}
	h->resume = s == VM_RUN_RUNNING;
	return 0;
}

int vm_hold_vcpu(struct vm *vm, unsigned i, struct vm_hold *h)
{
	struct vcpu *v = &vm->vcpus[i];
	struct timespec deadline;
	int r = 0;

	pthread_mutex_lock(&vm->lock);
	*h = (struct vm_hold) { .vcpu = (int) i, .paused = vm->run_state == VM_RUN_PAUSED };
	if (vm->run_state == VM_RUN_STOPPING) {
		pthread_mutex_unlock(&vm->lock);
		return -ESHUTDOWN;
	}
	__atomic_add_fetch(&v->hold, 1, __ATOMIC_RELEASE);
	bool parked = v->parked || !v->thread_started;
	pthread_mutex_unlock(&vm->lock);
	/* Only this vCPU leaves the guest; the others run on. A parked one
	 * (paused, or held already) needs no kick: a kick it would only
	 * carry into its next KVM_RUN as an exit. */
	if (!parked)
		vcpu_kick(v);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PAUSE_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&vm->lock);
	while (!v->parked && v->thread_started && vm->run_state != VM_RUN_STOPPING && r == 0)
		r = -pthread_cond_timedwait(&vm->cond, &vm->lock, &deadline);
	if (vm->run_state == VM_RUN_STOPPING)
		r = -ESHUTDOWN;
	if (r < 0) {
		__atomic_sub_fetch(&v->hold, 1, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	h->held = r == 0;
	return r;
}

void vm_release(struct vm *vm, struct vm_hold *h)
{
	if (h->held) {
		pthread_mutex_lock(&vm->lock);
		__atomic_sub_fetch(&vm->vcpus[h->vcpu].hold, 1, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
	}
	if (h->resume)
		(void) vm_resume(vm);
	h->resume = h->held = false;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	shadow_platform_stop(vm);   /* its timer kicks vCPUs: stop it before they go */
	xenpv_guest_stop(vm);
	for (unsigned i = 0; i < vm->n_vcpus; i++)
		if (vm->vcpus[i].thread_started)
			pthread_join(vm->vcpus[i].thread, NULL);
	for (unsigned i = 0; i < vm->n_vcpus; i++)
		vcpu_cleanup(&vm->vcpus[i]);
	free(vm->vcpus);
	virtio_devices_destroy(vm);
	shadow_platform_destroy(vm);
	xenpv_guest_destroy(vm);
	if (vm->uart)
		uart_free(vm->uart);
	if (vm->bus)
		bus_free(vm->bus);
	/* The log's thread reads the ring: unmap it only once the thread is done. */
	if (console_log_stop(&vm->log, 2000))
		console_ring_close(&vm->console);
	if (vm->machine_host || vm->shadow)
		shadow_run_destroy(vm);   /* guest memory is part of machine memory */
	else
		guest_memory_unmap(&vm->mem);
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		safe_close(vm->files[i]);
	safe_close(vm->vm_fd);
	safe_close(vm->kvm_fd);
	safe_close(vm->wake_fd);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->console_lock);
	free(vm->boot_cmdline);
	free(vm);
}
