/* SPDX-License-Identifier: MIT */
/*
 * VM configuration (API.md "VM config"): parse a JSON object into a checked
 * struct, with defaults, and back. Every invalid input names its field and
 * why; unknown fields are refused. No file, KVM or daemon knowledge beyond
 * the schema: the caller opens files.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define VM_NAME_MAX          63      /* [A-Za-z0-9][A-Za-z0-9_.-]{0,62} */
#define VM_MEMORY_MIB_MIN    2
#define VM_MEMORY_MIB_MAX    65536
#define VM_VCPUS_MAX         64
#define VM_CMDLINE_MAX       4095
#define VM_PATH_MAX          4095
#define VM_DEVICES_MAX       16
#define VM_SCATTER_MIB_MAX   256
#define VM_POOL_PAGES_MIN    64      /* shadow.pool_pages, when given */
#define VM_POOL_PAGES_MAX    32768   /* 128 MiB of shadow tables (+3x that of bookkeeping, touched as used) */
#define VM_PREFETCH_MAX      64
#define VM_MEMORY_MIB_DEFAULT 64
#define VM_VCPUS_DEFAULT     1

enum vm_paging { VM_PAGING_HW = 0, VM_PAGING_SHADOW = 1 };
/* direct: an experiment (docs/PERFORMANCE.md, the direct-paging spike), not a
 * mode to run a guest in: see docs/shadow.md. It needs the opt-in
 * "experimental": ["direct-paging"]. */
enum vm_shadow_strategy { VM_SHADOW_CACHED = 0, VM_SHADOW_VTLB = 1, VM_SHADOW_DIRECT = 2 };
/* Experiments a VM config opts into by name ("experimental": [...]), one
 * bit each: what is not safe or not finished enough to be reached by
 * changing one ordinary field. */
enum vm_experiment {
	/* shadow.strategy "direct": the guest's own page tables are the real
	 * CR3, so the guest can map machine memory beyond its RAM (the monitor
	 * page, the shadow pool) within its own KVM VM. */
	VM_EXPERIMENT_DIRECT_PAGING = 0,
	VM_EXPERIMENT_MAX
};
/* How vmmd makes KVM forget shadow entries it removed (docs/shadow.md "Telling
 * KVM"): only the pool pages involved where the host allows it, or the whole pool. */
enum vm_shadow_zap { VM_ZAP_TARGETED = 0, VM_ZAP_ALL = 1 };
/* How the kernel is entered (docs/linux.md). auto: a bzImage by its header;
 * an ELF whose entry lies in a loaded segment is one of vmmd's own guests,
 * any other ELF with a PVH note is entered through PVH (Linux vmlinux); with
 * paging "shadow", a kernel with Xen PV notes is booted as a Xen PV guest
 * (xen-pv: docs/xenpv.md), which shadow mode needs for Linux. */
enum vm_boot { VM_BOOT_AUTO = 0, VM_BOOT_VMMD, VM_BOOT_PVH, VM_BOOT_BZIMAGE, VM_BOOT_XENPV };
/* What the host needs from a Linux guest (vmmd/worker/host_profile.c):
 * auto detects it; "emulated-kernel" (KVM emulates guest CPL0, as on PVM
 * hosts) adds a command line that masks the features KVM cannot emulate. */
enum vm_host_profile { VM_HOST_AUTO = 0, VM_HOST_HARDWARE, VM_HOST_EMULATED_KERNEL };
/* What a guest reset (i8042, Linux reboot) does: stop the VM (default, as
 * Firecracker) or boot it again with the console history kept. */
enum vm_on_reset { VM_ON_RESET_STOP = 0, VM_ON_RESET_RESTART };
enum vm_device_type { VM_DEV_VIRTIO_BLK, VM_DEV_VIRTIO_CONSOLE, VM_DEV_VIRTIO_RNG };

struct vm_device_config {
	enum vm_device_type type;
	char *path;          /* virtio-blk: image file; NULL otherwise */
	bool readonly;
};

struct vm_config {
	char name[VM_NAME_MAX + 1];
	uint32_t memory_mib;             /* default 64 */
	uint32_t vcpus;                  /* default 1 */
	enum vm_paging paging;           /* default hw */
	enum vm_shadow_strategy strategy;/* default cached */
	bool scatter;                    /* shadow.scatter: debug physmap that permutes guest frames */
	uint32_t pool_pages;             /* shadow.pool_pages: 0 = scaled with memory_mib */
	uint32_t prefetch;               /* shadow.prefetch: entries filled per miss, 1 = none; 0 = default */
	enum vm_shadow_zap zap;          /* shadow.zap: default targeted */
	unsigned experimental;           /* 1 << enum vm_experiment, for each one opted into */
	char *kernel;                    /* required, absolute path */
	enum vm_boot boot;               /* default auto */
	enum vm_host_profile host_profile; /* default auto */
	enum vm_on_reset on_reset;       /* default stop */
	char *initrd;                    /* NULL when absent/null; absolute path */
	char *cmdline;                   /* never NULL ("" default) */
	char *console_log;               /* NULL when absent/null; absolute path */
	size_t n_devices;
	struct vm_device_config devices[VM_DEVICES_MAX];
};

struct config_error {
	char field[64];      /* dotted path: "memory_mib", "shadow.strategy", "devices[1].path" */
	char message[192];
};

/* Returns 0 and a new config, or -EINVAL with err filled (err may be NULL).
 * err->field is "" when the document itself is not an object; -ENOMEM
 * leaves err untouched. */
int vm_config_from_json(struct json_object *obj, struct vm_config **ret, struct config_error *err);
/* The full config with defaults filled in, as API.md's schema. */
struct json_object *vm_config_to_json(const struct vm_config *c);
void vm_config_free(struct vm_config *c);
/* Deep copy; NULL on ENOMEM. */
struct vm_config *vm_config_dup(const struct vm_config *c);

/* Rewrites relative kernel, initrd, console.log and devices[].path strings
 * in obj to absolute ones under base_dir (itself absolute), for clients that
 * read a config file relative to their cwd. Values of the wrong type are left
 * for vm_config_from_json to report. Returns 0, -EINVAL with err filled (a
 * result longer than VM_PATH_MAX, or base_dir not absolute: obj untouched),
 * or -ENOMEM. */
int vm_config_resolve_paths(struct json_object *obj, const char *base_dir, struct config_error *err);

bool vm_name_valid(const char *name);
/* NULL for a value outside the enum. */
const char *vm_paging_name(enum vm_paging p);
const char *vm_strategy_name(enum vm_shadow_strategy s);
/* "direct-paging", ...; NULL outside the enum. */
const char *vm_experiment_name(enum vm_experiment e);
const char *vm_zap_name(enum vm_shadow_zap z);
const char *vm_device_type_name(enum vm_device_type t);
const char *vm_boot_name(enum vm_boot b);
const char *vm_host_profile_name(enum vm_host_profile p);
const char *vm_on_reset_name(enum vm_on_reset r);
