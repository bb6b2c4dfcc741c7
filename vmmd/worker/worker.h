/* SPDX-License-Identifier: MIT */
/*
 * The worker process: one per VM (DESIGN.md process model). It owns the
 * KVM fds, guest memory, vCPU threads and devices, and serves the
 * supervisor over one JSON-RPC channel (a socketpair end passed as an fd):
 *
 *   supervisor -> worker: worker.boot {config, console, console_size}, worker.pause,
 *       worker.resume, worker.stop, worker.stats, worker.console.write {data}
 *   worker -> supervisor (notifications): worker.console {offset},
 *       worker.exit {reason, code, value, message, vcpu, stats}
 *
 * The worker exits after it has reported worker.exit, or when the channel
 * closes (the supervisor is gone) after stopping its guest.
 */
#pragma once

/* `vmmd --worker --name NAME --channel-fd N`; returns the process exit status. */
int worker_main(int argc, char **argv);
