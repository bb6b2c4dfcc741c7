/* SPDX-License-Identifier: MIT */
/*
 * json_object_putp for `_cleanup_(json_object_putp) struct json_object *o = NULL;`
 * (base/macro.h). Apart from macro.h so that the rooms without JSON (x86,
 * devices) do not include json-c.
 */
#pragma once

#include <json-c/json.h>

#include "base/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put)
