/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "proto/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_size(size_t len) { return (len + 2) / 3 * 4 + 1; }
size_t base64_decoded_max(size_t n) { return n / 4 * 3 + 3; }

size_t base64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t) in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t) in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static int value_of(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int) (p - alphabet) : -1;
}

long base64_decode(const char *in, uint8_t *out, size_t max)
{
	size_t n = strlen(in), o = 0;
	if (n % 4 != 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		unsigned pad = 0;
		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)   /* data after padding */
				return -EINVAL;
			v[k] = value_of(in[i + k]);
			if (v[k] < 0)
				return -EINVAL;
		}
		uint32_t w = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 | (uint32_t) v[2] << 6 | (uint32_t) v[3];
		uint8_t bytes[3] = { w >> 16, (w >> 8) & 0xff, w & 0xff };
		for (unsigned k = 0; k < 3 - pad; k++) {
			if (o >= max)
				return -ENOSPC;
			out[o++] = bytes[k];
		}
	}
	return (long) o;
}
