/* SPDX-License-Identifier: MIT */
/*
 * vmmd's results as Prometheus metric families (docs/metrics.md): vm.list
 * gives each VM's state, uptime, vCPUs and memory; stats.get its counters;
 * vmm.stats the daemon's own figures. Every per-VM sample carries the
 * labels `vm` and `mode` (hw or shadow).
 *
 * stats.get is mapped by a table where a counter needs a better name, a
 * label or is a gauge; anything the table does not name is mapped by
 * shape, so a counter vmmd adds later appears without a change here: an
 * integer at path a.b becomes the counter vmmd_vm_a_b_total, an object of
 * integers at a.b the counter vmmd_vm_a_b_total{key="..."} (its member
 * "total" left out when it has others), and other objects are walked.
 * Pure: JSON in, samples out.
 */
#pragma once

#include <json-c/json.h>

#include "web/prom.h"

/* One vm.list entry: vmmd_vm_state, _uptime_seconds, _vcpus, _memory_bytes. */
int metrics_add_vm(struct prom_set *s, struct json_object *vm);
/* One VM's stats.get result; vm and mode label its samples. */
int metrics_add_stats(struct prom_set *s, const char *vm, const char *mode, struct json_object *stats);
/* vmm.stats: the daemon's process, connections, subscribers, VMs by state. */
int metrics_add_daemon(struct prom_set *s, struct json_object *vmm_stats);
