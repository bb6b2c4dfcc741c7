/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "devices/vmm_info.h"
#include "abi/bootinfo.h"

void vmm_info_init(struct vmm_info *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
}

int vmm_info_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct vmm_info *d = opaque;
	uint32_t v = 0;
	if (size != 4 || (offset & 3) || offset >= VMM_INFO_SIZE) {
		if (!is_write)
			memset(data, 0, size);
		return -EINVAL;   /* counted as failed on the bus; the guest reads zeros */
	}
	pthread_mutex_lock(&d->lock);
	d->accesses++;
	if (is_write) {
		memcpy(&v, data, 4);
		if (offset == VMM_INFO_SCRATCH)
			d->scratch = v;
	} else {
		switch (offset) {
		case VMM_INFO_MAGIC: v = VMM_INFO_MAGIC_VALUE; break;
		case VMM_INFO_VERSION: v = 1; break;
		case VMM_INFO_SCRATCH: v = d->scratch; break;
		case VMM_INFO_ACCESSES: v = d->accesses; break;
		default: v = 0; break;
		}
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}
