/* SPDX-License-Identifier: MIT */
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
