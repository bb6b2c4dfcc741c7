/* SPDX-License-Identifier: MIT */
/*
 * Pure helpers for the introspection commands (commands_inspect.c):
 * numbers as users type them, hex dumps, page-table entry flags. No
 * daemon, no JSON-RPC: unit-tested in tests/unit/test_vmmctl_inspect_format.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "0x1f", "31", "0X1F": the whole string, no sign, no overflow. 0 or -EINVAL. */
int parse_u64(const char *s, uint64_t *ret);

/*
 * xxd-style lines of 16 bytes, addresses starting at addr:
 * "0000000000100000  31 f6 eb 00 fc 48 8d 25  f4 0f 01 00 31 ed 49 89  |1....H.%....1.I.|"
 * A short last line is padded so the ASCII column lines up.
 */
void hexdump(FILE *f, uint64_t addr, const uint8_t *buf, size_t len);

/* "1 GiB", "2 MiB", "4 KiB", "12 KiB", "5 B": the largest unit that divides size exactly. */
void format_size(uint64_t size, char *buf, size_t len);
