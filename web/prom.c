/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web/prom.h"

/* A growable string: stdio's open_memstream costs more than the
 * rendering itself at thousands of samples per scrape. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_grow(struct sbuf *b, size_t more)
{
	if (b->oom || b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	sb_grow(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* A sample's labels live in the set's arena, not in an allocation of their
 * own: a scrape of 100 VMs adds thousands of samples, and a malloc and a
 * free for each was a fifth of vmmweb's CPU (bench B14). */
struct sample {
	size_t labels, labels_len;   /* rendered "{a="b",...}" (or "") at arena.p + labels */
	bool is_int;
	uint64_t u;
	double d;
};

struct family {
	char *name, *help, *unit;
	size_t name_len;
	enum prom_type type;
	struct sample *samples;
	size_t n, cap;
};

/* Families in first-seen order; `index` is an open-addressing hash of
 * their positions + 1 (0 = empty), so an add costs one hash, not a scan. */
struct prom_set {
	struct family *fams;
	size_t n, cap;
	size_t *index, index_cap;
	size_t n_samples;
	struct sbuf arena;           /* every sample's labels, back to back */
};

struct prom_set *prom_set_new(void)
{
	return calloc(1, sizeof(struct prom_set));
}

void prom_set_free(struct prom_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct family *f = &s->fams[i];
		free(f->samples);
		free(f->name);
		free(f->help);
		free(f->unit);
	}
	free(s->fams);
	free(s->index);
	free(s->arena.p);
	free(s);
}

size_t prom_set_families(const struct prom_set *s) { return s->n; }
size_t prom_set_samples(const struct prom_set *s) { return s->n_samples; }

static bool name_ok(const char *n, bool label)
{
	if (!n || !n[0] || (n[0] >= '0' && n[0] <= '9'))
		return false;
	if (label && n[0] == '_' && n[1] == '_')
		return false;   /* reserved for Prometheus itself */
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || (!label && *p == ':')))
			return false;
	return true;
}

void prom_sanitize(const char *in, char *out, size_t len)
{
	size_t i = 0;
	for (; in && in[i] && i + 1 < len; i++) {
		char c = in[i];
		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
	}
	if (len)
		out[i] = '\0';
}

int prom_labels_push(struct prom_labels *ls, const char *name, const char *value)
{
	if (ls->n >= PROM_MAX_LABELS)
		return -E2BIG;
	ls->l[ls->n++] = (struct prom_label) { name, value };
	return 0;
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ull;
	return h;
}

static int index_grow(struct prom_set *s)
{
	size_t cap = s->index_cap ? s->index_cap * 2 : 64;
	size_t *idx = calloc(cap, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		size_t h = hash(s->fams[i].name) & (cap - 1);
		while (idx[h])
			h = (h + 1) & (cap - 1);
		idx[h] = i + 1;
	}
	free(s->index);
	s->index = idx;
	s->index_cap = cap;
	return 0;
}

static struct family *family_get(struct prom_set *s, const char *name, enum prom_type type,
				 const char *help, const char *unit)
{
	if (s->index_cap) {
		for (size_t h = hash(name) & (s->index_cap - 1); s->index[h]; h = (h + 1) & (s->index_cap - 1)) {
			struct family *f = &s->fams[s->index[h] - 1];
			if (strcmp(f->name, name) == 0)
				return f->type == type ? f : NULL;
		}
	}
	if (!name_ok(name, false))
		return NULL;
	if ((s->n + 1) * 2 > s->index_cap && index_grow(s) < 0)
		return NULL;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct family *fams = realloc(s->fams, cap * sizeof(*fams));
		if (!fams)
			return NULL;
		s->fams = fams;
		s->cap = cap;
	}
	struct family *f = &s->fams[s->n];
	*f = (struct family) { .name = strdup(name), .help = strdup(help ? help : ""), .type = type,
			       .unit = unit ? strdup(unit) : NULL, .name_len = strlen(name) };
	if (!f->name || !f->help || (unit && !f->unit)) {
		free(f->name);
		free(f->help);
		free(f->unit);
		return NULL;
	}
	size_t h = hash(name) & (s->index_cap - 1);
	while (s->index[h])
		h = (h + 1) & (s->index_cap - 1);
	s->index[h] = ++s->n;
	return f;
}

/* Escaped as both formats want label values: \\, \" and \n. */
static void put_escaped(struct sbuf *b, const char *v, bool quote)
{
	while (*v) {
		size_t plain = strcspn(v, quote ? "\\\n\"" : "\\\n");
		sb_put(b, v, plain);
		v += plain;
		if (!*v)
			break;
		sb_str(b, *v == '\\' ? "\\\\" : *v == '\n' ? "\\n" : "\\\"");
		v++;
	}
}

/* One label, with the separator before it, appended to b. */
static int put_label(struct sbuf *b, const struct prom_label *l, char sep)
{
	if (!name_ok(l->name, true) || !l->value)
		return -EINVAL;
	sb_put(b, &sep, 1);
	sb_str(b, l->name);
	sb_put(b, "=\"", 2);
	put_escaped(b, l->value, true);
	sb_put(b, "\"", 1);
	return 0;
}

/* Appended to s's arena; on a bad label the arena is left as it was. */
static int render_labels(struct prom_set *s, const struct prom_labels *a, const struct prom_labels *c)
{
	struct sbuf *b = &s->arena;
	const struct prom_labels *sets[2] = { a, c };
	size_t total = (a ? a->n : 0) + (c ? c->n : 0), start = b->len, skip = 0;
	if (total == 0)
		return 0;
	if (total > PROM_MAX_LABELS)
		return -EINVAL;
	char sep = '{';
	if (a && a->frozen && a->frozen_in == s) {
		/* Grown first: the copy comes from the arena itself. */
		sb_grow(b, a->frozen_len);
		if (b->oom)
			return -ENOMEM;
		memcpy(b->p + b->len, b->p + a->frozen_at, a->frozen_len);
		b->len += a->frozen_len;
		skip = a->frozen;
		sep = ',';
	}
	for (int k = 0; k < 2; k++)
		for (size_t i = k == 0 ? skip : 0; sets[k] && i < sets[k]->n; i++) {
			if (put_label(b, &sets[k]->l[i], sep) < 0) {
				b->len = start;
				return -EINVAL;
			}
			sep = ',';
		}
	sb_put(b, "}", 1);
	return b->oom ? -ENOMEM : 0;
}

int prom_labels_freeze(struct prom_set *s, struct prom_labels *ls)
{
	struct sbuf *b = &s->arena;
	size_t start = b->len;
	ls->frozen = 0;
	if (ls->n == 0)
		return 0;
	for (size_t i = 0; i < ls->n; i++)
		if (put_label(b, &ls->l[i], i ? ',' : '{') < 0) {
			b->len = start;
			return -EINVAL;
		}
	if (b->oom)
		return -ENOMEM;
	ls->frozen = ls->n;
	ls->frozen_in = s;
	ls->frozen_at = start;
	ls->frozen_len = b->len - start;
	return 0;
}

static int add(struct prom_set *s, const char *name, enum prom_type type, const char *help, const char *unit,
	       const struct prom_labels *base, const struct prom_labels *extra, bool is_int, uint64_t u, double d)
{
	struct family *f = family_get(s, name, type, help, unit);
	if (!f)
		return -EINVAL;   /* a bad name, a type clash, or no memory for a new family */
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct sample *samples = realloc(f->samples, cap * sizeof(*samples));
		if (!samples)
			return -ENOMEM;
		f->samples = samples;
		f->cap = cap;
	}
	struct sample *sm = &f->samples[f->n];
	sm->labels = s->arena.len;
	int r = render_labels(s, base, extra);
	if (r < 0)
		return r;
	sm->labels_len = s->arena.len - sm->labels;
	sm->is_int = is_int;
	sm->u = u;
	sm->d = d;
	f->n++;
	s->n_samples++;
	return 0;
}

int prom_add_u64(struct prom_set *s, const char *name, enum prom_type type, const char *help,
		 const char *unit, const struct prom_labels *base, const struct prom_labels *extra, uint64_t v)
{
	return add(s, name, type, help, unit, base, extra, true, v, 0);
}

int prom_add_double(struct prom_set *s, const char *name, enum prom_type type, const char *help,
		    const char *unit, const struct prom_labels *base, const struct prom_labels *extra, double v)
{
	return add(s, name, type, help, unit, base, extra, false, 0, v);
}

static void put_value(struct sbuf *b, const struct sample *sm)
{
	char buf[40];
	if (sm->is_int) {
		/* Digits backwards: snprintf's parsing is a cost at this rate. */
		char *p = buf + sizeof(buf);
		uint64_t v = sm->u;
		do {
			*--p = (char) ('0' + v % 10);
			v /= 10;
		} while (v);
		sb_put(b, p, (size_t) (buf + sizeof(buf) - p));
		return;
	}
	if (isnan(sm->d)) {
		sb_str(b, "NaN");
		return;
	}
	if (isinf(sm->d)) {
		sb_str(b, sm->d > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* The shortest of %.15g and %.17g that reads back exactly. */
	snprintf(buf, sizeof(buf), "%.15g", sm->d);
	if (strtod(buf, NULL) != sm->d)
		snprintf(buf, sizeof(buf), "%.17g", sm->d);
	sb_str(b, buf);
}

int prom_render(const struct prom_set *s, enum prom_format fmt, char **ret, size_t *ret_len)
{
	struct sbuf b = { 0 };
	bool om = fmt == PROM_OPENMETRICS;
	/* Nearly the size: one allocation, not a doubling series. */
	size_t guess = s->arena.len + 64;
	for (size_t i = 0; i < s->n; i++)
		guess += s->fams[i].n * (s->fams[i].name_len + 32) + 2 * s->fams[i].name_len + 64;
	sb_grow(&b, guess);
	for (size_t i = 0; i < s->n; i++) {
		const struct family *fam = &s->fams[i];
		const char *suffix = fam->type == PROM_COUNTER ? "_total" : "";
		const char *type = fam->type == PROM_COUNTER ? " counter\n" : " gauge\n";
		if (om) {
			/* OpenMetrics names the family; samples add _total. */
			sb_str(&b, "# TYPE ");
			sb_str(&b, fam->name);
			sb_str(&b, type);
			if (fam->unit) {
				sb_str(&b, "# UNIT ");
				sb_str(&b, fam->name);
				sb_put(&b, " ", 1);
				sb_str(&b, fam->unit);
				sb_put(&b, "\n", 1);
			}
			sb_str(&b, "# HELP ");
			sb_str(&b, fam->name);
			sb_put(&b, " ", 1);
			put_escaped(&b, fam->help, true);
			sb_put(&b, "\n", 1);
		} else {
			sb_str(&b, "# HELP ");
			sb_str(&b, fam->name);
			sb_str(&b, suffix);
			sb_put(&b, " ", 1);
			put_escaped(&b, fam->help, false);
			sb_str(&b, "\n# TYPE ");
			sb_str(&b, fam->name);
			sb_str(&b, suffix);
			sb_str(&b, type);
		}
		size_t suffix_len = strlen(suffix);
		for (size_t j = 0; j < fam->n; j++) {
			const struct sample *sm = &fam->samples[j];
			sb_put(&b, fam->name, fam->name_len);
			sb_put(&b, suffix, suffix_len);
			if (sm->labels_len)
				sb_put(&b, s->arena.p + sm->labels, sm->labels_len);
			sb_put(&b, " ", 1);
			put_value(&b, &fam->samples[j]);
			sb_put(&b, "\n", 1);
		}
	}
	if (om)
		sb_str(&b, "# EOF\n");
	if (b.oom || !b.p) {
		free(b.p);
		return -ENOMEM;
	}
	*ret = b.p;
	*ret_len = b.len;
	return 0;
}

/* The q of one media range ("type/sub;a=b;q=0.5"): 1 when absent. */
static double range_q(const char *params, size_t len)
{
	for (const char *p = params; p && p < params + len; p = memchr(p, ';', (size_t) (params + len - p))) {
		p++;
		while (p < params + len && *p == ' ')
			p++;
		if (p + 2 <= params + len && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
			return strtod(p + 2, NULL);
	}
	return 1.0;
}

enum prom_format prom_format_from_accept(const char *accept)
{
	double om = 0, text = 0;
	for (const char *p = accept; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t len = strcspn(p, ",");
		size_t type_len = strcspn(p, ";,");
		while (type_len && p[type_len - 1] == ' ')
			type_len--;
		double q = range_q(p + type_len, len - type_len);
		if (type_len == 28 && strncasecmp(p, "application/openmetrics-text", 28) == 0)
			om = q > om ? q : om;
		else if ((type_len == 10 && strncasecmp(p, "text/plain", 10) == 0) ||
			 (type_len == 3 && strncmp(p, "*/*", 3) == 0))
			text = q > text ? q : text;
		p += len;
	}
	return om > 0 && om >= text ? PROM_OPENMETRICS : PROM_TEXT;
}
