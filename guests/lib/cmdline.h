/* SPDX-License-Identifier: MIT */
/*
 * The kernel command line: space-separated "key=value" or "key" words.
 * When a key appears more than once the last one wins (as in Linux).
 * Lookups read the command line that boot normalized (guest_boot.cmdline).
 */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include "types.h"

/* Value of key=N: decimal, 0x-hex, optional '-'; dflt if absent or malformed. */
long cmdline_int(const char *key, long dflt);
/* Copy key's value into buf (NUL-terminated, truncated); false if absent. */
bool cmdline_str(const char *key, char *buf, size_t size);
/* True if "key" or "key=..." is present. */
bool cmdline_has(const char *key);

/* For the boot code: the string the lookups use. */
void cmdline_set(const char *cmdline);

#endif
