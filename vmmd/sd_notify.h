/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's side of the systemd service protocol (sd_notify(3)):
 * READY=1 once the listener exists, WATCHDOG=1 from a timer at half of
 * WATCHDOG_USEC, STATUS= with the VM counts whenever they change, and
 * STOPPING=1 on the way out (systemd journal-remote-main.c does the same).
 * Without NOTIFY_SOCKET (vmmd started by hand) every call is a no-op.
 */
#pragma once

#include "vmmd/daemon.h"

/* READY=1 with the first STATUS=, and start the watchdog timer if systemd asked for one. */
void daemon_notify_ready(struct daemon *d);
/* STATUS="N VMs, R running, P paused"; sent only when the text changed. Cheap: call after any change. */
void daemon_notify_status(struct daemon *d);
/* STOPPING=1; stops the watchdog timer. */
void daemon_notify_stopping(struct daemon *d);
