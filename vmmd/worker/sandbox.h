/* SPDX-License-Identifier: MIT */
/*
 * The worker's sandbox (Firecracker's and crosvm's practice): once the VM
 * is built — KVM fds open, memory mapped, files opened, threads started —
 * the worker needs only a small set of system calls to run the guest and
 * answer its supervisor. A seccomp filter (libseccomp) allows exactly
 * those, on every thread; anything else kills the worker with SIGSYS, and
 * the supervisor records the VM as crashed ("worker-killed") while the
 * daemon and the other VMs go on. ioctl is allowed only for KVM's requests
 * (type 0xAE) and FIONREAD, and tgkill only to the worker's own threads
 * (the vCPU kick): it can signal no other process. It comes on top of the
 * jail (jail.h): the worker's own user, no capabilities, an empty root.
 */
#pragma once

/* 0, or -EOPNOTSUPP in sanitizer builds, whose runtimes need what the
 * jail and the filter take away (jail.h too). */
int sandbox_supported(void);
/* Install the filter on all threads. 0, or a negative errno (logged by the caller);
 * -EOPNOTSUPP in sanitizer builds, whose runtimes need other system calls. */
int sandbox_apply(void);
