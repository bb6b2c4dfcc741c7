/* SPDX-License-Identifier: MIT */
/*
 * The files a VM uses, one vocabulary for everyone who opens or passes
 * them (docs/operations.md "File access"): vmmctl opens them with its
 * user's rights and sends the descriptors under these names, vmmd checks
 * them or opens the paths itself, and hands them to the worker under the
 * same names. A slot is a config field, or a previous part of the console
 * log (console.log.1 ... console.log.9, for its rotation).
 *
 * What a slot is used for decides how it is opened and what it may be:
 * the kernel, the initrd and the console log (and its parts) are regular
 * files; a disk is a regular file or a block device; the log and a
 * writable disk are opened for writing (the log's parts for reading too:
 * rotation copies one into the next).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config/vm_config.h"

#define VM_LOG_ROTATE_MAX 9

enum vm_file_slot {
	VM_FILE_KERNEL,
	VM_FILE_INITRD,
	VM_FILE_CONSOLE_LOG,
	VM_FILE_LOG_PART,                                   /* + i: console.log.(i + 1) */
	VM_FILE_DISK = VM_FILE_LOG_PART + VM_LOG_ROTATE_MAX, /* + i: devices[i].path */
	VM_FILE_SLOTS = VM_FILE_DISK + VM_DEVICES_MAX
};

enum vm_file_use {
	VM_FILE_USE_IMAGE,      /* kernel, initrd: a regular file, read */
	VM_FILE_USE_LOG,        /* console.log and its parts: a regular file, appended (and read) */
	VM_FILE_USE_DISK_RO,    /* a read-only disk: a regular file or block device, read */
	VM_FILE_USE_DISK_RW,    /* a disk: a regular file or block device, read and written */
};

struct vm_file {
	enum vm_file_slot slot;
	enum vm_file_use use;
	const char *path;       /* borrowed from the config; NULL for a log part */
};

/* The slot's name: "kernel", "initrd", "console.log", "console.log.2",
 * "devices[3].path". buf needs VM_FILE_NAME_MAX bytes. */
#define VM_FILE_NAME_MAX 24
const char *vm_file_slot_name(enum vm_file_slot slot, char *buf);
/* The inverse: the slot, or -EINVAL. */
int vm_file_slot_from_name(const char *name);

/* The files config names, in slot order (kernel, initrd, log, disks): how
 * many were written to out (at most VM_FILE_SLOTS). Log parts are not
 * config fields: vm_file_for_slot makes them. */
size_t vm_config_files(const struct vm_config *c, struct vm_file *out);
/* What the slot is for this config: 0 and *ret, or -ENOENT when the
 * config names no such file (no initrd, no log for a log part, device i
 * absent or not a disk). */
int vm_file_for_slot(const struct vm_config *c, enum vm_file_slot slot, struct vm_file *ret);
