/* SPDX-License-Identifier: MIT */
/*
 * Base64 (RFC 4648, standard alphabet, padded) for binary fields in JSON
 * messages: console data, memory contents. None of vmmd's dependencies
 * exports a base64 codec, so this is ours.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Encoded length including the NUL. */
size_t base64_encoded_size(size_t len);
/* Encode into out (base64_encoded_size(len) bytes). Returns the string length. */
size_t base64_encode(const uint8_t *in, size_t len, char *out);
/* Decode a NUL-terminated string; whitespace not allowed. Returns decoded
 * length, or -EINVAL on bad input, -ENOSPC if out (max bytes) is too small. */
long base64_decode(const char *in, uint8_t *out, size_t max);
/* Upper bound of decoded bytes for an encoded string of length n. */
size_t base64_decoded_max(size_t n);
