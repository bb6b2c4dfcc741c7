/* SPDX-License-Identifier: MIT */
/* The supervisor's main: options, socket, registry, signals, the event loop. */
#pragma once

int supervisor_main(int argc, char **argv);
