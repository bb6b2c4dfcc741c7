/* SPDX-License-Identifier: MIT */
/*
 * One way to move a VM between states: persist the record, then tell the
 * `state` subscribers — whoever triggered it (a method, a worker's report,
 * a dead worker).
 */
#pragma once

#include "proto/exchange.h"
#include "vmmd/daemon.h"

void lifecycle_set_state(struct daemon *d, struct vm_record *vm, enum vm_state state);
/* Answer call with {name, state}. */
void lifecycle_reply_state(struct rpc_call *call, const struct vm_record *vm);
