/* SPDX-License-Identifier: MIT */
/*
 * Prometheus exposition: metric families collected in any order, rendered
 * grouped (every sample of a family together, as the format demands) in
 * the Prometheus text format 0.0.4 or in OpenMetrics 1.0.0.
 *
 * A family is named by its base name: "vmmd_vm_exits" for a counter, whose
 * samples are "vmmd_vm_exits_total"; a gauge's samples carry the base name.
 * Label values are escaped here (backslash, double quote, newline), so
 * names that came from vmmd or a guest go in as they are. Pure: no I/O.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum prom_type { PROM_COUNTER, PROM_GAUGE };
enum prom_format { PROM_TEXT, PROM_OPENMETRICS };

#define PROM_TEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_OPENMETRICS_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

#define PROM_MAX_LABELS 8

struct prom_label {
	const char *name;        /* [a-zA-Z_][a-zA-Z0-9_]* */
	const char *value;       /* any UTF-8 */
};

struct prom_set;

/* The labels every sample of one source shares (e.g. vm and mode). */
struct prom_labels {
	size_t n;
	struct prom_label l[PROM_MAX_LABELS];
	/* Set by prom_labels_freeze: l[0..frozen) already rendered in
	 * frozen_in, so the samples that share them copy the text. */
	size_t frozen;
	const struct prom_set *frozen_in;
	size_t frozen_at, frozen_len;
};

struct prom_set *prom_set_new(void);
void prom_set_free(struct prom_set *s);

/*
 * Add one sample to family `name` (created on first use with type, help
 * and unit — unit may be NULL; a later add with another type is refused
 * with -EINVAL). The labels are base's followed by extra's (either may be
 * NULL). Returns 0, -EINVAL (a bad metric or label name, too many labels,
 * a type clash) or -ENOMEM.
 */
int prom_add_u64(struct prom_set *s, const char *name, enum prom_type type, const char *help,
		 const char *unit, const struct prom_labels *base, const struct prom_labels *extra, uint64_t v);
int prom_add_double(struct prom_set *s, const char *name, enum prom_type type, const char *help,
		    const char *unit, const struct prom_labels *base, const struct prom_labels *extra, double v);

/* Append a label to ls (value borrowed). -E2BIG when full. */
int prom_labels_push(struct prom_labels *ls, const char *name, const char *value);

/*
 * Render ls's labels once, for the many samples of s that will have them
 * first (a VM's vm and mode): a copy of ls made afterwards may push more,
 * but the labels already in it must not change while s lives. Without
 * it (or when it fails: -EINVAL for a bad label, -ENOMEM) every sample
 * renders them again, with the same result.
 */
int prom_labels_freeze(struct prom_set *s, struct prom_labels *ls);

/* Families and samples so far. */
size_t prom_set_families(const struct prom_set *s);
size_t prom_set_samples(const struct prom_set *s);

/* The exposition, NUL-terminated, in *ret (caller frees); OpenMetrics ends with "# EOF". 0 or -ENOMEM. */
int prom_render(const struct prom_set *s, enum prom_format fmt, char **ret, size_t *ret_len);

/* Whether an Accept header asks for OpenMetrics (application/openmetrics-text, q > 0). */
enum prom_format prom_format_from_accept(const char *accept);

/* A metric-name part from arbitrary text: [a-zA-Z0-9_] kept, anything else '_'; at most len-1 bytes. */
void prom_sanitize(const char *in, char *out, size_t len);
