/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "base/macro.h"
#include "vmmctl/inspect_format.h"

int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char) s[0]))
		return -EINVAL;   /* strtoull would take " 1", "+1" and "-1" */
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

void hexdump(FILE *f, uint64_t addr, const uint8_t *buf, size_t len)
{
	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;

		fprintf(f, "%016llx ", (unsigned long long) (addr + off));
		for (size_t i = 0; i < 16; i++) {
			if (i == 8)
				fputc(' ', f);
			if (i < n)
				fprintf(f, " %02x", buf[off + i]);
			else
				fputs("   ", f);
		}
		fputs("  |", f);
		for (size_t i = 0; i < n; i++)
			fputc(buf[off + i] >= 0x20 && buf[off + i] < 0x7f ? buf[off + i] : '.', f);
		fputs("|\n", f);
	}
}

void format_size(uint64_t size, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned u = 0;

	while (u + 1 < ELEMENTSOF(units) && size && (size & 1023) == 0) {
		size >>= 10;
		u++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long) size, units[u]);
}
