/* SPDX-License-Identifier: MIT */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmmd/common/host_probe.h"

static bool cpu_has_flag(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return false;
	char line[8192];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (char *tok = strtok(strchr(line, ':') ? strchr(line, ':') + 1 : line, " \n"); tok;
		     tok = strtok(NULL, " \n"))
			if (strcmp(tok, flag) == 0)
				found = true;
		break;   /* every CPU lists the same flags */
	}
	fclose(f);
	return found;
}

static bool sys_flag(const char *path)
{
	char buf[8] = "";
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool on = fgets(buf, sizeof(buf), f) && (buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1');
	fclose(f);
	return on;
}

/* What the CPUID hypervisor leaf names, when the hypervisor bit is set. */
static void hypervisor_signature(char out[13])
{
	unsigned a, b, c, d;
	out[0] = '\0';
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 31)))
		return;
	__cpuid(0x40000000, a, b, c, d);
	memcpy(out, &b, 4);
	memcpy(out + 4, &c, 4);
	memcpy(out + 8, &d, 4);
	out[12] = '\0';
}

/* MAXPHYADDR: the widest guest-physical address a vCPU gets from KVM. */
static unsigned phys_bits(void)
{
	unsigned a, b, c, d;
	if (__get_cpuid_max(0x80000000, NULL) < 0x80000008)
		return 36;
	__cpuid(0x80000008, a, b, c, d);
	return a & 0xff;
}

int host_tdp_levels(const char *virt, bool la57, unsigned guest_phys_bits)
{
	if (strcmp(virt, "svm") == 0)
		return la57 ? 5 : 4;
	if (strcmp(virt, "vmx") == 0)
		return la57 && guest_phys_bits > 48 ? 5 : 4;
	return 0;
}

void host_probe(struct host_facts *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->kvm_api_version = -1;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(ret->kvm_error, sizeof(ret->kvm_error), "/dev/kvm: %s", strerror(errno));
	} else {
		ret->kvm_api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
		ret->kvm_available = ret->kvm_api_version == KVM_API_VERSION;
		close(fd);
	}
	if (access("/sys/module/kvm_pvm", F_OK) == 0 && !cpu_has_flag("vmx") && !cpu_has_flag("svm"))
		ret->virt = "pvm";
	else if (cpu_has_flag("vmx"))
		ret->virt = "vmx";
	else if (cpu_has_flag("svm"))
		ret->virt = "svm";
	else
		ret->virt = "none";
	ret->tdp = sys_flag("/sys/module/kvm_intel/parameters/ept") ||
		   sys_flag("/sys/module/kvm_amd/parameters/npt");
	/* The kernel clears the la57 flag unless it runs with 5-level paging. */
	ret->tdp_levels = ret->tdp ? host_tdp_levels(ret->virt, cpu_has_flag("la57"), phys_bits()) : 0;
	hypervisor_signature(ret->hypervisor);
}

const struct host_facts *host_facts_cached(void)
{
	static struct host_facts facts;
	static bool probed;
	if (!probed || !facts.kvm_available) {
		host_probe(&facts);
		probed = true;
	}
	return &facts;
}

int host_memory_kib(uint64_t *ret)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	unsigned long long kib;
	int r = -EBADMSG;

	if (!f)
		return -errno;
	while (r < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
			*ret = kib;
			r = 0;
		}
	fclose(f);
	return r;
}
