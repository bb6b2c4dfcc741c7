/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vmmd/worker/mptable.h"

struct mpf_intel {            /* floating pointer, 16 bytes */
	char signature[4];        /* "_MP_" */
	uint32_t physptr;
	uint8_t length;           /* in 16-byte units */
	uint8_t specification;    /* 4: version 1.4 */
	uint8_t checksum;
	uint8_t feature[5];       /* feature[0] = 0: a configuration table follows */
} __attribute__((packed));

struct mpc_table {            /* configuration table header, 44 bytes */
	char signature[4];        /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;        /* number of entries */
	uint32_t lapic;
	uint16_t reserved_length;
	uint8_t reserved_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;             /* 0 */
	uint8_t apicid, apicver, cpuflag;
	uint32_t cpufeature, featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;             /* 1 */
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;             /* 2 */
	uint8_t apicid, apicver, flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {           /* type 3 (I/O interrupt) and 4 (local interrupt) */
	uint8_t type, irqtype;
	uint16_t irqflag;
	uint8_t srcbus, srcbusirq, dstapic, dstirq;
} __attribute__((packed));

#define CPU_ENABLED     1
#define CPU_BOOTPROCESSOR 2
#define MP_INT          0
#define MP_NMI          1
#define MP_EXTINT       3
#define MP_IRQ_EDGE_HIGH 0x5    /* polarity active high (01), trigger edge (01 << 2) */
#define APIC_VERSION    0x14
#define IOAPIC_VERSION  0x11

_Static_assert(sizeof(struct mpf_intel) == 16, "mpf layout");
_Static_assert(sizeof(struct mpc_table) == 44, "mpc layout");
_Static_assert(sizeof(struct mpc_cpu) == 20, "mpc_cpu layout");

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += p[i];
	return (uint8_t) -sum;
}

uint64_t mptable_size(unsigned ncpus)
{
	return sizeof(struct mpf_intel) + sizeof(struct mpc_table) + ncpus * sizeof(struct mpc_cpu) +
	       sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
	       (MPTABLE_IOAPIC_PINS + 2) * sizeof(struct mpc_intsrc);
}

int mptable_write(struct guest_memory *mem, uint64_t base, unsigned ncpus)
{
	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	uint64_t size = mptable_size(ncpus);
	if (base + size > 0x100000)
		return -ERANGE;
	uint8_t *start = guest_memory_ptr(mem, base, size);
	if (!start)
		return -ERANGE;
	memset(start, 0, size);

	struct mpf_intel *mpf = (struct mpf_intel *) start;
	uint8_t *table = start + sizeof(*mpf);
	uint8_t *p = table + sizeof(struct mpc_table);
	uint16_t entries = 0;
	uint8_t ioapic_id = (uint8_t) ncpus;   /* after the CPUs' APIC IDs */

	for (unsigned i = 0; i < ncpus; i++, entries++) {
		struct mpc_cpu cpu = {
			.type = 0, .apicid = (uint8_t) i, .apicver = APIC_VERSION,
			.cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0),
			.cpufeature = 0x600,   /* family 6: the value only matters to ancient kernels */
			.featureflag = (1u << 0) | (1u << 9),   /* FPU, APIC */
		};
		memcpy(p, &cpu, sizeof(cpu));
		p += sizeof(cpu);
	}
	struct mpc_bus bus = { .type = 1, .busid = 0, .bustype = { 'I', 'S', 'A', ' ', ' ', ' ' } };
	memcpy(p, &bus, sizeof(bus));
	p += sizeof(bus);
	entries++;
	struct mpc_ioapic ioapic = { .type = 2, .apicid = ioapic_id, .apicver = IOAPIC_VERSION,
				     .flags = 1, .apicaddr = MPTABLE_IOAPIC_BASE };
	memcpy(p, &ioapic, sizeof(ioapic));
	p += sizeof(ioapic);
	entries++;
	for (unsigned pin = 0; pin < MPTABLE_IOAPIC_PINS; pin++, entries++) {
		struct mpc_intsrc src = { .type = 3, .irqtype = MP_INT, .irqflag = MP_IRQ_EDGE_HIGH,
					  .srcbus = 0, .srcbusirq = (uint8_t) pin, .dstapic = ioapic_id,
					  .dstirq = (uint8_t) pin };
		memcpy(p, &src, sizeof(src));
		p += sizeof(src);
	}
	const struct mpc_intsrc lint[2] = {
		{ .type = 4, .irqtype = MP_EXTINT, .srcbus = 0, .dstapic = 0xff, .dstirq = 0 },
		{ .type = 4, .irqtype = MP_NMI, .srcbus = 0, .dstapic = 0xff, .dstirq = 1 },
	};
	memcpy(p, lint, sizeof(lint));
	p += sizeof(lint);
	entries += 2;

	struct mpc_table hdr = {
		.signature = { 'P', 'C', 'M', 'P' }, .length = (uint16_t) (p - table), .spec = 4,
		.oem = { 'V', 'M', 'M', 'D', ' ', ' ', ' ', ' ' },
		.productid = { 'v', 'm', 'm', 'd', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ' },
		.oemcount = entries, .lapic = MPTABLE_LAPIC_BASE,
	};
	memcpy(table, &hdr, sizeof(hdr));
	table[offsetof(struct mpc_table, checksum)] = checksum(table, hdr.length);

	struct mpf_intel f = { .signature = { '_', 'M', 'P', '_' }, .physptr = (uint32_t) (base + sizeof(f)),
			       .length = 1, .specification = 4 };
	memcpy(mpf, &f, sizeof(f));
	start[offsetof(struct mpf_intel, checksum)] = checksum(start, sizeof(f));
	return 0;
}
