/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmmd/worker/nested_walk.h"

static const char *const entry_names[] = { "", "PT entry", "PD entry", "PDPT entry", "PML4 entry" };

/* Read one descriptor block, the whole of it (KVM reports its size). */
static int read_all(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);
	if (n < 0)
		return -errno;
	return (size_t) n == len ? 0 : -EIO;
}

int nested_leaves_read(int vm_fd, struct nested_leaves *ret)
{
	static const char *const names[] = { "pages_4k", "pages_2m", "pages_1g" };
	uint64_t *slots[] = { &ret->n_4k, &ret->n_2m, &ret->n_1g };
	struct kvm_stats_header h;
	int found = 0, r;
	memset(ret, 0, sizeof(*ret));
	int fd = ioctl(vm_fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return errno == EINVAL || errno == ENOTTY ? 0 : -errno;
	r = read_all(fd, &h, sizeof(h), 0);
	/* Bounded by what a sane KVM reports: a few hundred VM statistics. */
	if (r == 0 && (h.num_desc > 4096 || h.name_size > 256))
		r = -EIO;
	size_t desc_size = sizeof(struct kvm_stats_desc) + h.name_size;
	struct kvm_stats_desc *d = r == 0 ? malloc(desc_size * h.num_desc) : NULL;
	if (r == 0 && !d)
		r = -ENOMEM;
	if (r == 0)
		r = read_all(fd, d, desc_size * h.num_desc, h.desc_offset);
	for (uint32_t i = 0; r == 0 && i < h.num_desc; i++) {
		const struct kvm_stats_desc *e = (const void *) ((const char *) d + i * desc_size);
		for (size_t k = 0; k < 3; k++) {
			if (strncmp(e->name, names[k], h.name_size) != 0 || e->size != 1)
				continue;
			r = read_all(fd, slots[k], sizeof(uint64_t), h.data_offset + e->offset);
			found++;
		}
	}
	free(d);
	close(fd);
	ret->known = r == 0 && found == 3;
	return r;
}

/* Levels one nested walk reads, at least: a 2 MiB leaf ends it one level
 * early, a 1 GiB leaf two. */
static int nested_min(int levels, const struct nested_leaves *l)
{
	if (!l->known)
		return levels - 2;
	if (l->n_1g)
		return levels - 2;
	return l->n_2m ? levels - 1 : levels;
}

void nested_walk_count(const struct gw_result *w, bool complete, int levels, const struct nested_leaves *l,
		       unsigned *ret_min, unsigned *ret_max)
{
	/* Each guest entry: a nested walk to find it, then the read; the page
	 * itself: one more nested walk. */
	unsigned walks = (unsigned) w->n_steps + (complete ? 1 : 0);
	*ret_max = walks * (unsigned) levels + (unsigned) w->n_steps;
	*ret_min = walks * (unsigned) nested_min(levels, l) + (unsigned) w->n_steps;
}

static struct json_object *step_json(const char *reads, uint64_t gpa, int lo, int hi)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "reads", json_object_new_string(reads));
	json_object_object_add(o, "physical", json_object_new_uint64(gpa));
	json_object_object_add(o, "nested_refs", lo == hi ? json_object_new_int(hi) : NULL);
	if (lo != hi) {
		json_object_object_add(o, "nested_refs_min", json_object_new_int(lo));
		json_object_object_add(o, "nested_refs_max", json_object_new_int(hi));
	}
	return o;
}

struct json_object *nested_walk_json(const struct gw_result *w, bool complete, int levels, const char *via,
				     const struct nested_leaves *l, int64_t kvm_gpa)
{
	unsigned lo, hi;
	nested_walk_count(w, complete, levels, l, &lo, &hi);
	int step_lo = nested_min(levels, l);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "via", json_object_new_string(via));
	json_object_object_add(o, "levels", json_object_new_int(levels));
	if (l->known) {
		struct json_object *leaves = json_object_new_object();
		json_object_object_add(leaves, "4k", json_object_new_uint64(l->n_4k));
		json_object_object_add(leaves, "2m", json_object_new_uint64(l->n_2m));
		json_object_object_add(leaves, "1g", json_object_new_uint64(l->n_1g));
		json_object_object_add(o, "leaves", leaves);
	} else {
		json_object_object_add(o, "leaves", NULL);
	}
	json_object_object_add(o, "exact", json_object_new_boolean(lo == hi));
	json_object_object_add(o, "total", lo == hi ? json_object_new_int((int) hi) : NULL);
	json_object_object_add(o, "total_min", json_object_new_int((int) lo));
	json_object_object_add(o, "total_max", json_object_new_int((int) hi));
	struct json_object *steps = json_object_new_array();
	for (int i = 0; i < w->n_steps; i++) {
		const struct gw_step *s = &w->steps[i];
		json_object_array_add(steps, step_json(entry_names[s->level], s->table + 8ULL * s->index, step_lo, levels));
	}
	if (complete)
		json_object_array_add(steps, step_json("page", w->phys, step_lo, levels));
	json_object_object_add(o, "steps", steps);
	json_object_object_add(o, "kvm_translate", kvm_gpa >= 0 ? json_object_new_uint64((uint64_t) kvm_gpa) : NULL);
	return o;
}
