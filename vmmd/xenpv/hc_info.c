/* SPDX-License-Identifier: MIT */
/*
 * What the PV kernel asks about its hypervisor and machine (XENPV.md 3.1,
 * 3.2): xen_version (features Linux panics without), memory_op (the M2P's
 * place, the memory map), console_io (the early console), physdev_op
 * (iopl), vm_assist, and grant tables, which vmmd does not offer (Linux
 * then runs without them: nothing on the way to a shell needs one).
 */
#include <string.h>

#include "vmmd/xenpv/xenpv_priv.h"

#define CONSOLE_IO_MAX   (64u * 1024)   /* bytes per console_io write */
#define CONSOLE_CHUNK    256
#define XEN_CAPABILITIES_LEN 1024
#define XEN_EXTRAVERSION_LEN 16
#define IOBITMAP_PORTS_MAX 65536

/* XENFEAT_pae_pgdir_above_4gb, mmu_pt_update_preserve_ad, highmem_assist,
 * gnttab_map_avail_bits: Xen's PV set. Linux panics without bits 5 and 7
 * (drivers/xen/features.c); writable_page_tables is *not* reported (Xen
 * does not for PV: the kernel's tables stay read-only, ptwr.c assists). */
#define FEATURES_SUBMAP0 ((1u << XEN_FEAT_pae_pgdir_above_4gb) | (1u << XEN_FEAT_mmu_pt_update_preserve_ad) | \
			  (1u << XEN_FEAT_highmem_assist) | (1u << XEN_FEAT_gnttab_map_avail_bits))

long xpv_hc_xen_version(struct xpv_vcpu *v, const uint64_t a[5])
{
	unsigned cmd = (unsigned) a[0];
	uint64_t arg = a[1];

	xpv_count_subop(v, XEN_HC_xen_version, cmd, cmd < XEN_XENVER_MAX);
	switch (cmd) {
	case XEN_XENVER_version:
		/* Also Linux's "check for events" (xen_force_evtchn_callback):
		 * pending events are delivered on the way back. */
		return XPV_VERSION;
	case XEN_XENVER_extraversion: {
		char s[XEN_EXTRAVERSION_LEN] = ".0-vmmd";
		return xpv_copy_to_guest(v, arg, s, sizeof(s));
	}
	case XEN_XENVER_capabilities: {
		char s[XEN_CAPABILITIES_LEN] = "xen-3.0-x86_64 ";
		return xpv_copy_to_guest(v, arg, s, sizeof(s));
	}
	case XEN_XENVER_platform_parameters: {
		uint64_t virt_start = XEN_HYPERVISOR_VIRT_START;
		return xpv_copy_to_guest(v, arg, &virt_start, sizeof(virt_start));
	}
	case XEN_XENVER_get_features: {
		struct xen_feature_info fi;
		if (xpv_copy_from_guest(v, arg, &fi, sizeof(fi)) < 0)
			return -EFAULT;
		fi.submap = fi.submap_idx == 0 ? FEATURES_SUBMAP0 : 0;
		return xpv_copy_to_guest(v, arg, &fi, sizeof(fi));
	}
	case XEN_XENVER_pagesize:
		return (long) XPV_PAGE;
	case XEN_XENVER_guest_handle: {
		uint8_t handle[16] = { 0 };
		return xpv_copy_to_guest(v, arg, handle, sizeof(handle));
	}
	default:
		return -EPERM;   /* what Xen answers an unprivileged guest */
	}
}

long xpv_hc_console_io(struct xpv_vcpu *v, const uint64_t a[5])
{
	unsigned cmd = (unsigned) a[0];
	uint64_t count = a[1], buf = a[2];
	struct xpv_domain *d = v->dom;

	xpv_count_subop(v, XEN_HC_console_io, cmd, cmd <= XEN_CONSOLEIO_read);
	switch (cmd) {
	case XEN_CONSOLEIO_write:
		if (count > CONSOLE_IO_MAX)
			count = CONSOLE_IO_MAX;
		for (uint64_t done = 0; done < count;) {
			uint8_t chunk[CONSOLE_CHUNK];
			size_t n = count - done < sizeof(chunk) ? (size_t) (count - done) : sizeof(chunk);
			if (xpv_copy_from_guest(v, buf + done, chunk, n) < 0)
				return -EFAULT;
			if (d->sink.console)
				d->sink.console(d->sink.ctx, chunk, n);
			done += n;
		}
		return 0;   /* Xen's guest_console_write: 0 when all of it was taken */
	case XEN_CONSOLEIO_read:
		return 0;   /* input comes through the hvc0 ring */
	default:
		return -ENOSYS;
	}
}

static long memory_map(struct xpv_vcpu *v, uint64_t arg)
{
	struct xen_memory_map map;
	struct xen_e820_entry ram = { .addr = 0, .size = v->dom->nr_pages * XPV_PAGE, .type = 1 };

	if (xpv_copy_from_guest(v, arg, &map, sizeof(map)) < 0)
		return -EFAULT;
	if (map.nr_entries < 1)
		return -EINVAL;
	if (xpv_copy_to_guest(v, map.buffer, &ram, sizeof(ram)) < 0)
		return -EFAULT;
	map.nr_entries = 1;
	return xpv_copy_to_guest(v, arg, &map, sizeof(map));
}

long xpv_hc_memory_op(struct xpv_vcpu *v, const uint64_t a[5])
{
	unsigned cmd = (unsigned) (a[0] & 0x3f);   /* MEMOP_CMD_MASK: the rest is a continuation */
	struct xpv_domain *d = v->dom;

	switch (cmd) {
	case XEN_XENMEM_machphys_mapping: {
		struct xen_machphys_mapping m = {
			.v_start = d->m2p_va, .v_end = d->m2p_va + d->m2p_entries * 8, .max_mfn = d->m2p_entries - 1,
		};
		xpv_count_subop(v, XEN_HC_memory_op, cmd, true);
		return xpv_copy_to_guest(v, a[1], &m, sizeof(m));
	}
	case XEN_XENMEM_memory_map:
		xpv_count_subop(v, XEN_HC_memory_op, cmd, true);
		return memory_map(v, a[1]);
	case XEN_XENMEM_current_reservation:
	case XEN_XENMEM_maximum_reservation:
		xpv_count_subop(v, XEN_HC_memory_op, cmd, true);
		return (long) d->nr_pages;
	case XEN_XENMEM_maximum_ram_page:
		xpv_count_subop(v, XEN_HC_memory_op, cmd, true);
		return (long) d->nr_pages - 1;
	default:
		/* Ballooning, populate_physmap, exchange, add_to_physmap...: none
		 * (Linux uses them only with a xenstore target or above 4 GiB). */
		xpv_count_subop(v, XEN_HC_memory_op, cmd,
				cmd == XEN_XENMEM_increase_reservation || cmd == XEN_XENMEM_decrease_reservation ||
				cmd == XEN_XENMEM_populate_physmap || cmd == XEN_XENMEM_add_to_physmap ||
				cmd == XEN_XENMEM_exchange || cmd == XEN_XENMEM_acquire_resource);
		return -ENOSYS;
	}
}

long xpv_hc_physdev_op(struct xpv_vcpu *v, const uint64_t a[5])
{
	unsigned cmd = (unsigned) a[0];

	switch (cmd) {
	case XEN_PHYSDEVOP_set_iopl: {
		uint32_t iopl;
		xpv_count_subop(v, XEN_HC_physdev_op, cmd, true);
		if (xpv_copy_from_guest(v, a[1], &iopl, sizeof(iopl)) < 0)
			return -EFAULT;
		if (iopl > 3)
			return -EINVAL;
		v->iopl = iopl;
		return 0;
	}
	case XEN_PHYSDEVOP_set_iobitmap: {
		struct xen_physdev_set_iobitmap b;
		xpv_count_subop(v, XEN_HC_physdev_op, cmd, true);
		if (xpv_copy_from_guest(v, a[1], &b, sizeof(b)) < 0)
			return -EFAULT;
		if (b.nr_ports > IOBITMAP_PORTS_MAX)
			return -EINVAL;
		v->iobitmap_va = b.bitmap;
		v->iobitmap_ports = b.nr_ports;
		return 0;
	}
	default:
		/* irq_status_query, pirq_eoi_gmfn_v2 at boot: no physical IRQs. */
		xpv_count_subop(v, XEN_HC_physdev_op, cmd,
				cmd == XEN_PHYSDEVOP_irq_status_query || cmd == XEN_PHYSDEVOP_pirq_eoi_gmfn_v2);
		return -ENOSYS;
	}
}

long xpv_hc_vm_assist(struct xpv_vcpu *v, const uint64_t a[5])
{
	unsigned cmd = (unsigned) a[0], type = (unsigned) a[1];

	xpv_count_subop(v, XEN_HC_vm_assist, type, true);
	if (cmd != XEN_VMASST_CMD_enable && cmd != XEN_VMASST_CMD_disable)
		return -EINVAL;
	switch (type) {
	case XEN_VMASST_TYPE_4gb_segments:
	case XEN_VMASST_TYPE_writable_pagetables:   /* always on: ptwr.c */
	case XEN_VMASST_TYPE_pae_extended_cr3:
		return 0;
	default:
		return -EINVAL;   /* runstate_update_flag among them: Linux does without */
	}
}

long xpv_hc_grant_table_op(struct xpv_vcpu *v, const uint64_t a[5])
{
	/* No grant tables: set_version, query_size and setup_table fail, and
	 * gnttab_init gives up (-ENODEV); nothing on the shell path needs one. */
	xpv_count_subop(v, XEN_HC_grant_table_op, (unsigned) a[0], true);
	return -ENOSYS;
}
