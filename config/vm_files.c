/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/vm_files.h"

const char *vm_file_slot_name(enum vm_file_slot slot, char *buf)
{
	if (slot == VM_FILE_KERNEL)
		return "kernel";
	if (slot == VM_FILE_INITRD)
		return "initrd";
	if (slot == VM_FILE_CONSOLE_LOG)
		return "console.log";
	if (slot >= VM_FILE_LOG_PART && slot < VM_FILE_DISK)
		snprintf(buf, VM_FILE_NAME_MAX, "console.log.%d", slot - VM_FILE_LOG_PART + 1);
	else if (slot >= VM_FILE_DISK && slot < VM_FILE_SLOTS)
		snprintf(buf, VM_FILE_NAME_MAX, "devices[%d].path", slot - VM_FILE_DISK);
	else
		snprintf(buf, VM_FILE_NAME_MAX, "?");
	return buf;
}

int vm_file_slot_from_name(const char *name)
{
	char buf[VM_FILE_NAME_MAX];

	for (int slot = 0; slot < VM_FILE_SLOTS; slot++)
		if (strcmp(vm_file_slot_name(slot, buf), name) == 0)
			return slot;
	return -EINVAL;
}

int vm_file_for_slot(const struct vm_config *c, enum vm_file_slot slot, struct vm_file *ret)
{
	struct vm_file f = { .slot = slot };

	if (slot == VM_FILE_KERNEL)
		f = (struct vm_file) { slot, VM_FILE_USE_IMAGE, c->kernel };
	else if (slot == VM_FILE_INITRD && c->initrd)
		f = (struct vm_file) { slot, VM_FILE_USE_IMAGE, c->initrd };
	else if (slot == VM_FILE_CONSOLE_LOG && c->console_log)
		f = (struct vm_file) { slot, VM_FILE_USE_LOG, c->console_log };
	else if (slot >= VM_FILE_LOG_PART && slot < VM_FILE_DISK && c->console_log)
		f = (struct vm_file) { slot, VM_FILE_USE_LOG, NULL };
	else if (slot >= VM_FILE_DISK && slot < VM_FILE_SLOTS && (size_t) (slot - VM_FILE_DISK) < c->n_devices &&
		 c->devices[slot - VM_FILE_DISK].type == VM_DEV_VIRTIO_BLK) {
		const struct vm_device_config *d = &c->devices[slot - VM_FILE_DISK];
		f = (struct vm_file) { slot, d->readonly ? VM_FILE_USE_DISK_RO : VM_FILE_USE_DISK_RW, d->path };
	} else
		return -ENOENT;
	*ret = f;
	return 0;
}

size_t vm_config_files(const struct vm_config *c, struct vm_file *out)
{
	size_t n = 0;

	for (int slot = 0; slot < VM_FILE_SLOTS; slot++)
		if ((slot < VM_FILE_LOG_PART || slot >= VM_FILE_DISK) && vm_file_for_slot(c, slot, &out[n]) == 0)
			n++;
	return n;
}
