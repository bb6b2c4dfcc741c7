/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/macro.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "vmmd/common/log.h"
#include "vmmd/worker/shadow_platform.h"
#include "vmmd/worker/shadow_run.h"
#include "vmmd/worker/vm.h"

#define TIMER_IDLE_MS 1000   /* with the PIT unprogrammed: only re-arms wake us */

static uint64_t now_ns(void *userdata)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The PIC's output rose: the boot vCPU takes external interrupts (no APIC). */
static void pic_notify(void *userdata)
{
	struct vm *vm = userdata;
	if (vm->n_vcpus > 0 && vm->vcpus[0].shadow)
		vcpu_kick(&vm->vcpus[0]);   /* wakes an emulated hlt too */
}

static void pit_set_irq(void *userdata, int level)
{
	struct vm *vm = userdata;
	pic_set_irq(vm->platform->pic, 0, level);
}

static const struct pic_ops pic_ops = { .notify = pic_notify };
static const struct pit_ops pit_ops = { .now_ns = now_ns, .set_irq = pit_set_irq };

static void rearm(struct shadow_platform *p)
{
	uint64_t one = 1;
	ssize_t k = write(p->rearm_fd, &one, sizeof(one));
	(void) k;
}

/* A guest write may change the PIT's next deadline: tell the timer thread. */
static int pit_io_rearm(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct vm *vm = opaque;
	int r = pit_io(vm->platform->pit, offset, data, size, is_write);
	if (is_write)
		rearm(vm->platform);
	return r;
}

static int port61_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct vm *vm = opaque;
	int r = pit_port61_io(vm->platform->pit, offset, data, size, is_write);
	if (is_write)
		rearm(vm->platform);
	return r;
}

static void *timer_thread(void *arg)
{
	struct vm *vm = arg;
	struct shadow_platform *p = vm->platform;
	while (!__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE)) {
		uint64_t deadline = pit_next_deadline_ns(p->pit), now = now_ns(NULL);
		int timeout = TIMER_IDLE_MS;
		if (deadline) {
			uint64_t wait_ns = deadline > now ? deadline - now : 0;
			timeout = (int) ((wait_ns + 999999) / 1000000);
			if (timeout > TIMER_IDLE_MS)
				timeout = TIMER_IDLE_MS;
		}
		struct pollfd pfd = { .fd = p->rearm_fd, .events = POLLIN };
		if (timeout > 0 && poll(&pfd, 1, timeout) > 0) {
			uint64_t n;
			ssize_t k = read(p->rearm_fd, &n, sizeof(n));
			(void) k;
		}
		pit_advance(p->pit);
	}
	return NULL;
}

int shadow_platform_init(struct vm *vm, const char **why)
{
	struct shadow_platform *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	vm->platform = p;
	p->rearm_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->pic = pic_new(&pic_ops, vm);
	p->pit = pit_new(&pit_ops, vm);
	if (p->rearm_fd < 0 || !p->pic || !p->pit) {
		*why = "cannot create the PIC and PIT models";
		return -ENOMEM;
	}
	struct { uint64_t base, size; const char *name; bus_io_fn fn; void *opaque; } regions[] = {
		{ 0x20, 2, "pic8259-master", pic_master_io, p->pic },
		{ 0xa0, 2, "pic8259-slave", pic_slave_io, p->pic },
		{ 0x4d0, 2, "pic8259-elcr", pic_elcr_io, p->pic },
		{ 0x40, 4, "pit8254", pit_io_rearm, vm },
		{ 0x61, 1, "pit8254-port61", port61_io, vm },
	};
	for (size_t i = 0; i < ELEMENTSOF(regions); i++) {
		int r = bus_register(vm->bus, BUS_PIO, regions[i].base, regions[i].size, regions[i].name,
				     regions[i].fn, regions[i].opaque);
		if (r < 0) {
			*why = "cannot register the PIC and PIT";
			return r;
		}
	}
	return 0;
}

int shadow_platform_start(struct vm *vm)
{
	struct shadow_platform *p = vm->platform;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = -pthread_create(&p->timer, NULL, timer_thread, vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		p->timer_started = true;
		pthread_setname_np(p->timer, "pit-timer");
	}
	return r;
}

void shadow_platform_stop(struct vm *vm)
{
	struct shadow_platform *p = vm->platform;
	if (!p || !p->timer_started)
		return;
	__atomic_store_n(&p->quit, true, __ATOMIC_RELEASE);
	rearm(p);
	pthread_join(p->timer, NULL);
	p->timer_started = false;
}

void shadow_platform_destroy(struct vm *vm)
{
	struct shadow_platform *p = vm->platform;
	if (!p)
		return;
	shadow_platform_stop(vm);
	if (p->pit)
		pit_free(p->pit);
	if (p->pic)
		pic_free(p->pic);
	if (p->rearm_fd >= 0)
		close(p->rearm_fd);
	free(p);
	vm->platform = NULL;
}

void shadow_platform_set_irq(struct vm *vm, unsigned line, int level)
{
	if (vm->platform)
		pic_set_irq(vm->platform->pic, line, level);
}

int shadow_platform_take_vector(struct vm *vm)
{
	if (!vm->platform || pic_pending_vector(vm->platform->pic) < 0)
		return -1;
	return pic_acknowledge(vm->platform->pic);
}

bool shadow_platform_pending(struct vm *vm)
{
	return vm->platform && pic_pending_vector(vm->platform->pic) >= 0;
}
