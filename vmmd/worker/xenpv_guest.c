/* SPDX-License-Identifier: MIT */
#include <cpuid.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "devices/pit8254.h"
#include "vmmd/common/log.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/xenpv_guest.h"

#define TIMER_IDLE_MS 1000
#define MSR_IA32_TSC  0x10
#define PANIC_PREFIX  "Kernel panic - not syncing: "

/* --- what the PV layer asks of the worker (struct xpv_sink) ----------------------------- */

/* Remember the kernel's last panic line: the reason a crash reports. */
static void scan_panic(struct xenpv_guest *g, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = (char) buf[i];
		if (c == '\n' || c == '\r' || g->line_len == sizeof(g->line) - 1) {
			g->line[g->line_len] = 0;
			char *p = strstr(g->line, PANIC_PREFIX);
			if (p)
				snprintf(g->panic, sizeof(g->panic), "%s", p);
			g->line_len = 0;
			if (c == '\n' || c == '\r')
				continue;
		}
		g->line[g->line_len++] = c;
	}
}

static void sink_console(void *ctx, const uint8_t *buf, size_t len)
{
	struct vm *vm = ctx;
	scan_panic(vm->xenpv, buf, len);
	vm_console_output(vm, buf, len);
}

static void sink_shutdown(void *ctx, unsigned reason)
{
	struct vm *vm = ctx;
	struct vm_exit e = { .vcpu = 0 };

	switch (reason) {
	case XEN_SHUTDOWN_poweroff:
		e.reason = VM_EXIT_POWEROFF;
		snprintf(e.message, sizeof(e.message), "the guest powered off");
		break;
	case XEN_SHUTDOWN_reboot:
		e.reason = VM_EXIT_GUEST_RESET;
		snprintf(e.message, sizeof(e.message), "the guest rebooted (Xen PV shutdown: reboot)");
		break;
	default:
		e.reason = VM_EXIT_GUEST_CRASH;
		e.code = (int) reason;
		snprintf(e.message, sizeof(e.message), "the guest kernel crashed%s%s",
			 vm->xenpv->panic[0] ? ": " : (reason == XEN_SHUTDOWN_watchdog ? " (watchdog)" : ""),
			 vm->xenpv->panic);
		break;
	}
	vm_request_exit(vm, &e);
}

static void sink_timer_changed(void *ctx)
{
	struct vm *vm = ctx;
	uint64_t one = 1;
	ssize_t k = write(vm->xenpv->rearm_fd, &one, sizeof(one));
	(void) k;
}

static void sink_unknown(void *ctx, const char *what)
{
	log_warning("Xen PV guest: first use of %s, which vmmd does not implement (-ENOSYS)", what);
}

void xenpv_guest_sink(struct vm *vm, struct xpv_sink *ret)
{
	*ret = (struct xpv_sink) {
		.ctx = vm, .console = sink_console, .shutdown = sink_shutdown,
		.timer_changed = sink_timer_changed, .unknown = sink_unknown,
	};
}

/* --- devices ---------------------------------------------------------------------------------- */

static uint64_t pit_now(void *userdata)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void pit_irq(void *userdata, int level)
{
	/* No PIC under Xen PV: channel 0's output goes nowhere. */
}

static const struct pit_ops pit_ops = { .now_ns = pit_now, .set_irq = pit_irq };

int xenpv_guest_init_devices(struct vm *vm, const char **why)
{
	struct xenpv_guest *g = vm->xenpv;

	g->pit = pit_new(&pit_ops, vm);
	if (!g->pit)
		return -ENOMEM;
	int r = bus_register(vm->bus, BUS_PIO, PIT_BASE, PIT_REGION_SIZE, "pit8254", pit_io, g->pit);
	if (r == 0)
		r = bus_register(vm->bus, BUS_PIO, PIT_PORT61, PIT_PORT61_SIZE, "pit8254-port61", pit_port61_io, g->pit);
	if (r < 0)
		*why = "cannot register the PIT";
	return r;
}

/* --- the vCPU ------------------------------------------------------------------------------ */

int xenpv_guest_setup_vcpu(struct vcpu *v)
{
	struct xenpv_guest *g = v->vm->xenpv;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} tsc = { .hdr.nmsrs = 1, .e = { { .index = MSR_IA32_TSC } } };
	unsigned a, b, c, d;

	if (v->index != 0)
		return -EINVAL;   /* one vCPU (config refuses more in shadow mode) */
	int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0 || ioctl(v->fd, KVM_GET_MSRS, &tsc) != 1)
		return -EIO;
	int64_t offset = (int64_t) (tsc.e[0].data - __rdtsc());
	bool stable = __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));   /* invariant TSC */
	xpv_domain_set_tsc(&g->dom, (uint64_t) khz * 1000, offset, stable);
	xpv_vcpu_init(&g->vcpu0, &g->dom, v->shadow, 0, &g->entry);
	return 0;
}

bool xenpv_guest_pending(struct vcpu *v)
{
	return xpv_event_pending(&v->vm->xenpv->vcpu0);
}

bool xenpv_guest_deliver(struct vcpu *v, bool *ret_failed)
{
	return xpv_deliver_events(&v->vm->xenpv->vcpu0, ret_failed);
}

/* --- the timer: VIRQ_TIMER at the single-shot deadline ----------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void *timer_thread(void *arg)
{
	struct vm *vm = arg;
	struct xenpv_guest *g = vm->xenpv;

	while (!__atomic_load_n(&g->quit, __ATOMIC_ACQUIRE)) {
		uint64_t deadline = xpv_timer_deadline_host(&g->vcpu0), now = mono_ns();
		int timeout = TIMER_IDLE_MS;
		if (deadline)
			timeout = deadline > now ? (int) ((deadline - now + 999999) / 1000000) : 0;
		if (timeout > TIMER_IDLE_MS)
			timeout = TIMER_IDLE_MS;
		struct pollfd pfd = { .fd = g->rearm_fd, .events = POLLIN };
		if (timeout > 0 && poll(&pfd, 1, timeout) > 0) {
			uint64_t n;
			ssize_t k = read(g->rearm_fd, &n, sizeof(n));
			(void) k;
			continue;   /* re-read the deadline */
		}
		deadline = xpv_timer_deadline_host(&g->vcpu0);
		if (deadline && deadline <= mono_ns() + 500000) {
			xpv_timer_fire(&g->vcpu0);
			vcpu_kick(&vm->vcpus[0]);
		}
	}
	return NULL;
}

int xenpv_guest_start(struct vm *vm)
{
	struct xenpv_guest *g = vm->xenpv;
	sigset_t all, old;

	g->rearm_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->rearm_fd < 0)
		return -errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = -pthread_create(&g->timer, NULL, timer_thread, vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		g->timer_started = true;
		pthread_setname_np(g->timer, "xenpv-timer");
	}
	return r;
}

void xenpv_guest_stop(struct vm *vm)
{
	struct xenpv_guest *g = vm->xenpv;

	if (!g || !g->timer_started)
		return;
	__atomic_store_n(&g->quit, true, __ATOMIC_RELEASE);
	sink_timer_changed(vm);
	pthread_join(g->timer, NULL);
	g->timer_started = false;
}

void xenpv_guest_destroy(struct vm *vm)
{
	struct xenpv_guest *g = vm->xenpv;

	if (!g)
		return;
	xenpv_guest_stop(vm);
	if (g->elf_owned)
		free((void *) g->elf);
	if (g->dom.svm)
		xpv_domain_destroy(&g->dom);
	if (g->rearm_fd >= 0)
		close(g->rearm_fd);
	if (g->pit)
		pit_free(g->pit);
	free(g);
	vm->xenpv = NULL;
}

size_t xenpv_guest_console_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	size_t n = xpv_console_input(&vm->xenpv->dom, buf, len);
	if (n && vm->n_vcpus)
		vcpu_kick(&vm->vcpus[0]);
	return n;
}

/* --- what stats.get and vcpu.state show ------------------------------------------------------------- */

static struct json_object *u64(uint64_t v) { return json_object_new_uint64(v); }

static struct json_object *hex(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long) v);
	return json_object_new_string(buf);
}

void xenpv_guest_stats(struct vm *vm, struct json_object *o)
{
	struct xpv_stats st;

	if (!vm->xenpv || !vm->xenpv->dom.svm)
		return;
	xpv_get_stats(&vm->xenpv->dom, &st);
	struct json_object *hc = json_object_new_object(), *by_number = json_object_new_object();
	struct json_object *by_subop = json_object_new_object(), *unknown = json_object_new_array();
	uint64_t total = 0;
	for (unsigned i = 0; i <= XEN_HC_MAX; i++) {
		if (!st.hypercalls[i])
			continue;
		const char *name = i < XEN_HC_MAX ? xpv_hypercall_name(i) : NULL;
		char buf[32];
		snprintf(buf, sizeof(buf), i < XEN_HC_MAX ? "%u" : ">=%u", i);
		json_object_object_add(by_number, name ? name : buf, u64(st.hypercalls[i]));
		total += st.hypercalls[i];
	}
	for (unsigned i = 0; i < XEN_HC_MAX; i++) {
		for (unsigned s = 0; s < XPV_SUBOPS; s++) {
			if (!st.subops[i][s])
				continue;
			char key[64];
			const char *sub = xpv_subop_name(i, s);
			const char *name = xpv_hypercall_name(i);
			if (sub)
				snprintf(key, sizeof(key), "%s/%s", name ? name : "?", sub);
			else
				snprintf(key, sizeof(key), "%s/%u%s", name ? name : "?", s, s == XPV_SUBOPS - 1 ? "+" : "");
			json_object_object_add(by_subop, key, u64(st.subops[i][s]));
		}
	}
	for (unsigned i = 0; i < st.n_unknown; i++) {
		struct json_object *u = json_object_new_object();
		const char *name = xpv_hypercall_name(st.unknown[i].hc);
		json_object_object_add(u, "hypercall", json_object_new_string(name ? name : "?"));
		json_object_object_add(u, "number", u64(st.unknown[i].hc));
		if (st.unknown[i].subop != UINT32_MAX)
			json_object_object_add(u, "subop", u64(st.unknown[i].subop));
		json_object_object_add(u, "count", u64(st.unknown[i].count));
		json_object_array_add(unknown, u);
	}
	json_object_object_add(hc, "total", u64(total));
	json_object_object_add(hc, "by_number", by_number);
	json_object_object_add(hc, "by_subop", by_subop);
	json_object_object_add(hc, "multicall_entries", u64(st.multicall_entries));
	json_object_object_add(hc, "unknown", unknown);
	json_object_object_add(o, "hypercalls", hc);

	struct json_object *ev = json_object_new_object(), *virq = json_object_new_object();
	json_object_object_add(virq, "timer", u64(st.raised_virq[XEN_VIRQ_TIMER]));
	json_object_object_add(virq, "debug", u64(st.raised_virq[XEN_VIRQ_DEBUG]));
	json_object_object_add(ev, "upcalls", u64(st.upcalls));
	json_object_object_add(ev, "virq", virq);
	json_object_object_add(ev, "console", u64(st.raised_console));
	json_object_object_add(ev, "ipi", u64(st.raised_ipi));
	json_object_object_add(ev, "blocks", u64(st.blocks));
	json_object_object_add(ev, "polls", u64(st.polls));
	json_object_object_add(o, "events", ev);

	struct json_object *pv = json_object_new_object();
	json_object_object_add(pv, "syscalls", u64(st.syscalls));
	json_object_object_add(pv, "irets", u64(st.irets));
	json_object_object_add(pv, "bounces", u64(st.bounces));
	json_object_object_add(pv, "failsafe", u64(st.failsafe));
	json_object_object_add(pv, "ptwr", u64(st.ptwr));
	json_object_object_add(pv, "ptwr_refused", u64(st.ptwr_refused));
	json_object_object_add(pv, "cpuid", u64(st.cpuid));
	json_object_object_add(pv, "msr", u64(st.msr));
	json_object_object_add(o, "xenpv", pv);
}

static const char *const callback_names[XEN_CALLBACKTYPE_MAX] = {
	[XEN_CALLBACKTYPE_event] = "event", [XEN_CALLBACKTYPE_failsafe] = "failsafe",
	[XEN_CALLBACKTYPE_syscall] = "syscall", [XEN_CALLBACKTYPE_nmi] = "nmi",
	[XEN_CALLBACKTYPE_sysenter] = "sysenter", [XEN_CALLBACKTYPE_syscall32] = "syscall32",
};

struct json_object *xenpv_guest_vcpu_json(struct vm *vm, unsigned vcpu)
{
	if (!vm->xenpv || vcpu != 0)
		return NULL;
	struct xpv_vcpu *v = &vm->xenpv->vcpu0;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "mode", json_object_new_string(v->kernel_mode ? "kernel" : "user"));
	json_object_object_add(o, "kernel_cr3", hex(v->kernel_cr3));
	json_object_object_add(o, "user_cr3", hex(v->user_cr3));
	json_object_object_add(o, "kernel_sp", hex(v->kernel_sp));
	json_object_object_add(o, "kernel_ss", hex(v->kernel_ss));
	json_object_object_add(o, "vcpu_info", hex(v->vcpu_info_gpa));
	struct xen_vcpu_info *vi = xpv_vcpu_info(v);
	if (vi) {
		json_object_object_add(o, "event_mask", json_object_new_boolean(vi->evtchn_upcall_mask));
		json_object_object_add(o, "event_pending", json_object_new_boolean(vi->evtchn_upcall_pending));
		json_object_object_add(o, "pending_sel", hex(vi->evtchn_pending_sel));
	}
	const struct xen_shared_info *si = xpv_shared_info(&vm->xenpv->dom);
	if (si) {
		/* XPV_PORTS fit in the first word of each bitmap. */
		json_object_object_add(o, "ports_pending", hex(__atomic_load_n(&si->evtchn_pending[0], __ATOMIC_RELAXED)));
		json_object_object_add(o, "ports_masked", hex(__atomic_load_n(&si->evtchn_mask[0], __ATOMIC_RELAXED)));
	}
	struct json_object *cbs = json_object_new_object();
	for (unsigned i = 0; i < XEN_CALLBACKTYPE_MAX; i++)
		if (callback_names[i] && v->callback[i].address)
			json_object_object_add(cbs, callback_names[i], hex(v->callback[i].address));
	json_object_object_add(o, "callbacks", cbs);
	struct json_object *traps = json_object_new_object();
	for (unsigned i = 0; i < 256; i++) {
		if (!v->trap[i].address)
			continue;
		char key[8];
		snprintf(key, sizeof(key), "%u", i);
		json_object_object_add(traps, key, hex(v->trap[i].address));
	}
	json_object_object_add(o, "trap_table", traps);
	json_object_object_add(o, "timer_deadline_ns", u64(__atomic_load_n(&v->timer_deadline, __ATOMIC_RELAXED)));
	json_object_object_add(o, "system_time_ns", u64(xpv_now_ns(&vm->xenpv->dom)));
	json_object_object_add(o, "iopl", u64(v->iopl));
	return o;
}
