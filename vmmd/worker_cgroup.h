/* SPDX-License-Identifier: MIT */
/*
 * A cgroup per worker with a memory limit, where systemd delegates one to
 * vmmd (issue 14, finding 17; systemd's docs/CGROUP_DELEGATION.md). The
 * unit says Delegate=yes and DelegateSubgroup=supervisor: systemd starts
 * vmmd in <unit's cgroup>/supervisor, a leaf, and leaves the unit's
 * cgroup to vmmd. vmmd turns the memory controller on there for its
 * children and puts each worker in a sibling of its own, vm-NAME, with
 * memory.max = the VM's memory_mib + WORKER_MEMORY_OVERHEAD_MIB + its
 * console buffer, and memory.oom.group = 1 (out of memory, the whole
 * worker goes, the VM is `crashed`, and nothing else on the host is
 * chosen for it). A worker's cgroup outlives vmmd with the worker and is
 * removed when the worker is gone.
 *
 * The subgroup is not optional: cgroup v2 lets no cgroup with processes
 * enable a controller for its children, and systemd attaches a restarted
 * vmmd to the unit's own cgroup unless DelegateSubgroup= (systemd 254)
 * names one; a vmmd that enabled memory there itself would never be
 * started again while a worker lived. So vmmd uses the cgroup above its
 * own only when that is the delegated one (systemd marks it with the
 * trusted.delegate or user.delegate xattr), and otherwise says why and
 * runs its workers without a cgroup of their own: no cgroup v2, not
 * delegated, systemd older than 254, no memory controller.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define WORKER_MEMORY_OVERHEAD_MIB 128   /* the worker itself, page tables, the shadow pool and its books */

struct worker_cgroups {
	int root_fd;              /* the delegated cgroup the workers' go in; -1: none (the fallback) */
	char root[PATH_MAX];      /* its path, for messages and vm.info */
};

/* Pure readers, for tests: vmmd's cgroup ("0::PATH" of /proc/self/cgroup)
 * and the cgroup2 mount point (of /proc/self/mountinfo). 0 or -ENOENT. */
int cgroup_parse_own(const char *proc_self_cgroup, char *ret, size_t size);
int cgroup_parse_mount(const char *mountinfo, char *ret, size_t size);

/* Take the subtree delegated to vmmd, whose own cgroup is `own` under the
 * cgroup2 file system at `mount`: 0 with c->root_fd open and the memory
 * controller on for its children, or -errno with why saying what is
 * missing (c->root_fd -1: the fallback). */
int worker_cgroups_open(struct worker_cgroups *c, const char *mount, const char *own, char *why, size_t len);
/* The same from /proc/self/cgroup and /proc/self/mountinfo, checking that the mount is cgroup2. */
int worker_cgroups_init(struct worker_cgroups *c, char *why, size_t len);
void worker_cgroups_close(struct worker_cgroups *c);

/* memory.max for a VM of memory_mib with console_bytes of console buffer. */
uint64_t worker_cgroup_memory_max(uint64_t memory_mib, uint64_t console_bytes);
/* vm-NAME: made (or a previous run's, empty, taken again), memory.max and
 * memory.oom.group set, pid moved in. 0 or -errno. */
int worker_cgroup_enter(struct worker_cgroups *c, const char *vm_name, uint64_t max_bytes, pid_t pid);
/* Does vm-NAME exist (an adopted worker's)? */
bool worker_cgroup_exists(struct worker_cgroups *c, const char *vm_name);
/* Remove vm-NAME once its worker is gone: 0, -ENOENT, -EBUSY while it has processes. */
int worker_cgroup_remove(struct worker_cgroups *c, const char *vm_name);
