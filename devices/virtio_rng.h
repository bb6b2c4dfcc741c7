/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng (virtio 1.2 section 5.4): one request queue whose writable
 * buffers the device fills with getrandom(2) bytes, at most
 * VIRTIO_RNG_MAX_REQUEST per request (the used length says how many; Linux
 * asks again for more). No features, no config space. Should getrandom fail,
 * the request is answered with 0 bytes and counted as a request error.
 */
#pragma once

#include "devices/virtio.h"
#include "devices/virtio_mmio.h"

#define VIRTIO_RNG_MAX_REQUEST 65536

struct virtio_rng;

/* -EINVAL, -ENOMEM. */
int virtio_rng_new(const struct virtio_env *env, struct virtio_rng **ret);
void virtio_rng_free(struct virtio_rng *rng);

struct virtio_mmio *virtio_rng_mmio(struct virtio_rng *rng);
