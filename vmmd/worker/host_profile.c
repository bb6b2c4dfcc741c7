/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "vmmd/common/host_probe.h"
#include "vmmd/worker/host_profile.h"

/* Each name masks a feature whose instructions KVM's emulator cannot run
 * at CPL0 (found booting 6.1 on a PVM host; docs/linux.md). clearcpuid
 * takes names since Linux 5.19; the older "noxsave nosmap" switches are
 * gone from 6.1, where Linux hands unknown words to init as arguments. */
#define EMULATED_KERNEL_CMDLINE \
	"clearcpuid=xsave,smap,popcnt,avx,avx2,bmi1,bmi2,movbe,fsgsbase,rdrand,rdseed," \
	"sha_ni,aes,pclmulqdq"

enum vm_host_profile host_profile_resolve(enum vm_host_profile configured)
{
	if (configured != VM_HOST_AUTO)
		return configured;
	struct host_facts facts;
	host_probe(&facts);
	return strcmp(facts.virt, "pvm") == 0 || strcmp(facts.virt, "none") == 0 ? VM_HOST_EMULATED_KERNEL
										    : VM_HOST_HARDWARE;
}

const char *host_profile_cmdline(enum vm_host_profile resolved)
{
	return resolved == VM_HOST_EMULATED_KERNEL ? EMULATED_KERNEL_CMDLINE : "";
}
