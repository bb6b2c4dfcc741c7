/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "vmmd/common/log.h"
#include "vmmd/sd_notify.h"

static void status_text(struct daemon *d, char *buf, size_t size)
{
	unsigned running = 0, paused = 0;

	for (struct vm_record *vm = d->registry.head; vm; vm = vm->next) {
		if (vm->state == VM_STATE_RUNNING)
			running++;
		else if (vm->state == VM_STATE_PAUSED)
			paused++;
	}
	snprintf(buf, size, "%u VM%s, %u running, %u paused", d->registry.count,
		 d->registry.count == 1 ? "" : "s", running, paused);
}

void daemon_notify_status(struct daemon *d)
{
	char text[sizeof(d->notify_status)];

	if (!d->notify_ready)
		return;   /* the first STATUS= goes out with READY=1 */
	status_text(d, text, sizeof(text));
	if (strcmp(text, d->notify_status) == 0)
		return;
	memcpy(d->notify_status, text, sizeof(text));
	int r = sd_notifyf(0, "STATUS=%s", text);
	if (r < 0)
		log_debug_errno(r, "Failed to send STATUS= to systemd, ignoring: %m");
}

static void on_watchdog(evutil_socket_t fd, short what, void *userdata)
{
	int r = sd_notify(0, "WATCHDOG=1");
	if (r < 0)
		log_warning_errno(r, "Failed to ping the systemd watchdog, ignoring: %m");
}

void daemon_notify_ready(struct daemon *d)
{
	uint64_t usec = 0;
	int r;

	status_text(d, d->notify_status, sizeof(d->notify_status));
	d->notify_ready = true;
	r = sd_notifyf(0, "READY=1\nSTATUS=%s", d->notify_status);
	if (r < 0)
		log_warning_errno(r, "Failed to tell systemd we are ready, ignoring: %m");

	/* 1: unset WATCHDOG_USEC/WATCHDOG_PID, so workers never see them. */
	r = sd_watchdog_enabled(1, &usec);
	if (r < 0)
		log_warning_errno(r, "Bad WATCHDOG_USEC from systemd, no watchdog pings: %m");
	if (r <= 0 || usec == 0)
		return;
	/* Half the timeout, as sd_watchdog_enabled(3) recommends. */
	uint64_t half = usec / 2;
	struct timeval tv = { .tv_sec = (time_t) (half / 1000000), .tv_usec = (suseconds_t) (half % 1000000) };
	d->watchdog_ev = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
	if (!d->watchdog_ev || event_add(d->watchdog_ev, &tv) < 0) {
		log_error("Failed to start the watchdog timer; systemd will consider vmmd hung");
		return;
	}
	(void) sd_notify(0, "WATCHDOG=1");
	log_debug("Watchdog: pinging systemd every %llu ms", (unsigned long long) (half / 1000));
}

void daemon_notify_stopping(struct daemon *d)
{
	if (d->watchdog_ev) {
		event_free(d->watchdog_ev);
		d->watchdog_ev = NULL;
	}
	(void) sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
}
