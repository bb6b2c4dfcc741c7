/* SPDX-License-Identifier: MIT */
/*
 * The `stats` event topic: every STATS_EVENT_INTERVAL_MS, while some
 * client is subscribed to it, each running or paused VM that a subscriber
 * wants gets its worker's counters (worker.stats, the shape of stats.get)
 * sent as an event of type "stats". The timer runs only while wanted: it
 * is armed by events.subscribe and not re-armed once nobody listens.
 */
#pragma once

#include "vmmd/daemon.h"

#define STATS_EVENT_INTERVAL_MS 1000

/* Arm the timer if a client wants stats events and it is not armed. */
void stats_events_update(struct daemon *d);
/* Free the timer (daemon shutdown). */
void stats_events_free(struct daemon *d);
