/* SPDX-License-Identifier: MIT */
/* Everything a guest needs: #include "guest.h". */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include "abi/bootinfo.h"
#include "boot.h"
#include "cmdline.h"
#include "io.h"
#include "printf.h"
#include "serial.h"
#include "string.h"
#include "types.h"

#endif
