/* SPDX-License-Identifier: MIT */
/*
 * vmmd's info page: a 4 KiB MMIO device with a magic, a version, a scratch
 * register and an access counter (abi/bootinfo.h VMM_INFO_*). It
 * gives guests a device to map and touch that behaves the same in hw and
 * shadow mode, so MMIO dispatch can be tested and compared.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define VMM_INFO_SIZE 4096

struct vmm_info {
	pthread_mutex_t lock;
	uint32_t scratch;
	uint32_t accesses;
};

void vmm_info_init(struct vmm_info *d);
/* bus_io_fn: 4-byte accesses to the registers; others read 0 / are ignored. */
int vmm_info_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
