/* SPDX-License-Identifier: MIT */
/*
 * What shadow mode shows: trap counts by class, mnemonic and vector, the
 * shadow MMU's statistics and page-table switches (stats.get), and the
 * shadow roots with their mappings, each with the guest PTE it came from
 * (mmu.shadow). In hw mode these calls say Unsupported.
 */
#pragma once

#include <stdint.h>
#include <json-c/json.h>

#include "proto/exchange.h"

struct vm;
struct worker;

/* Add traps/shadow/pt_switches to a stats object (no-op in hw mode). */
void shadow_inspect_stats(struct vm *vm, struct json_object *stats);
/* worker.mmu.shadow {vcpu, root, from, to, limit, cursor} (shadow_roots.c). */
void shadow_inspect_mmu(struct worker *w, struct vm *vm, struct rpc_call *call);
/* "0x..." as every address in these replies (shared by shadow_inspect*.c). */
struct json_object *shadow_inspect_hex(uint64_t v);
/* vcpu.state: replace regs with the guest's and add the PCB (o has the real state under "real"). */
/* mmu.translate: add the shadow entry the real CPU uses for va (a 1-D walk, 4 references). */
void shadow_inspect_translate(struct vm *vm, unsigned vcpu, uint64_t va, struct json_object *o);
void shadow_inspect_vcpu(struct vm *vm, unsigned vcpu, struct json_object *o);
