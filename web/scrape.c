/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "proto/rpc.h"
#include "vmmctl/json_util.h"
#include "vmmd/common/log.h"
#include "vmmd/common/self_stats.h"
#include "web/http_guard.h"
#include "web/http_reply.h"
#include "web/http_wait.h"
#include "web/metrics.h"
#include "web/prom.h"
#include "web/scrape.h"
#include "web/sse.h"
#include "web/vmmd_link.h"
#include "web/web.h"

struct waiter {
	struct waiter *next;
	struct http_wait wait;
	enum prom_format format;
};

/* One scrape in flight: its batches and what they brought back. */
struct round {
	struct scraper *sc;
	struct timespec t0;
	unsigned batches_out;        /* sent, not answered yet */
	unsigned batches;            /* sent in all */
	bool second_pass;            /* stats for VMs the first vm.list showed first */
	bool abandoned;              /* vmmd took too long: a later scrape started afresh */
	struct json_object *vmm_stats, *vm_list;
	struct json_object *stats;   /* {name: stats.get result} */
};

struct scraper {
	struct web *web;
	struct waiter *waiters;      /* of the round in flight */
	struct round *round;
	char **names;                /* VMs of the last vm.list: who gets a stats.get */
	size_t n_names;
	double last_duration_s;
	unsigned last_batches;
	unsigned long long scrapes;
};

static double since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double) (now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void forget_names(struct scraper *sc)
{
	for (size_t i = 0; i < sc->n_names; i++)
		free(sc->names[i]);
	free(sc->names);
	sc->names = NULL;
	sc->n_names = 0;
}

/* Keep vm.list's names for the next scrape's stats.get. */
static void remember_names(struct scraper *sc, struct json_object *vms)
{
	size_t n = json_object_is_type(vms, json_type_array) ? json_object_array_length(vms) : 0;
	forget_names(sc);
	sc->names = calloc(n ? n : 1, sizeof(*sc->names));
	for (size_t i = 0; sc->names && i < n; i++) {
		const char *name = json_lookup_str(json_object_array_get_idx(vms, i), "name", NULL);
		if (name && (sc->names[sc->n_names] = strdup(name)))
			sc->n_names++;
	}
}

static int add_self(struct scraper *sc, struct prom_set *set, bool up)
{
	struct web *w = sc->web;
	struct self_stats st;
	bool have_st = self_stats_read(&st) == 0;
	const struct {
		const char *name, *help, *unit;
		enum prom_type type;
		double v;
		bool skip;
	} figures[] = {
		{ "vmmd_up", "1 when vmmweb could read vmmd during this scrape", NULL, PROM_GAUGE, up },
		{ "vmmweb_scrape_duration_seconds", "Time the last scrape waited for vmmd", "seconds", PROM_GAUGE,
		  sc->last_duration_s },
		{ "vmmweb_scrape_batches", "JSON-RPC batches the last scrape sent to vmmd", NULL, PROM_GAUGE,
		  sc->last_batches },
		{ "vmmweb_scrapes", "Scrapes vmmweb asked vmmd for", NULL, PROM_COUNTER, (double) sc->scrapes },
		{ "vmmweb_vmmd_batches", "JSON-RPC batches vmmweb sent to vmmd", NULL, PROM_COUNTER,
		  (double) vmmd_link_batches(w->link) },
		{ "vmmweb_vmmd_requests", "JSON-RPC requests vmmweb sent to vmmd, batched or not", NULL, PROM_COUNTER,
		  (double) vmmd_link_calls(w->link) },
		{ "vmmweb_http_connections", "Open HTTP connections", NULL, PROM_GAUGE, http_guard_connections(w->guard) },
		{ "vmmweb_http_refused_connections", "HTTP connections closed at once: over the connection limit",
		  NULL, PROM_COUNTER, (double) http_guard_refused(w->guard) },
		{ "vmmweb_http_request_timeouts", "HTTP connections closed for not sending a whole request in time",
		  NULL, PROM_COUNTER, (double) http_guard_timeouts(w->guard) },
		{ "vmmweb_event_streams", "Open /events streams", NULL, PROM_GAUGE, sse_clients(w->sse) },
		{ "vmmweb_process_cpu_seconds", "vmmweb's CPU time, user and system", "seconds", PROM_COUNTER,
		  have_st ? st.user_s + st.system_s : 0, !have_st },
		{ "vmmweb_process_resident_memory_bytes", "vmmweb's resident memory", "bytes", PROM_GAUGE,
		  have_st ? (double) st.rss_bytes : 0, !have_st },
	};
	int r = 0;
	for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]) && r >= 0; i++)
		if (!figures[i].skip)
			r = prom_add_double(set, figures[i].name, figures[i].type, figures[i].help, figures[i].unit,
					    NULL, NULL, figures[i].v);
	return r;
}

/* A rendered page that every waiter's response references: freed when
 * the last one is sent. */
struct shared_text {
	char *p;
	size_t len;
	unsigned refs;
};

static void shared_text_unref(const void *data, size_t len, void *arg)
{
	struct shared_text *t = arg;
	if (--t->refs > 0)
		return;
	free(t->p);
	free(t);
}

static struct shared_text *shared_text_render(const struct prom_set *set, enum prom_format format)
{
	struct shared_text *t = calloc(1, sizeof(*t));
	if (!t || prom_render(set, format, &t->p, &t->len) < 0) {
		free(t);
		return NULL;
	}
	t->refs = 1;
	return t;
}

/* Build the families and answer every waiter in the format it asked for. */
static void answer(struct scraper *sc, struct round *rd)
{
	struct prom_set *set = prom_set_new();
	bool up = rd && rd->vm_list;
	int r = set ? 0 : -ENOMEM;
	if (rd)
		sc->last_duration_s = since(&rd->t0);
	if (rd)
		sc->last_batches = rd->batches;
	if (up) {
		struct json_object *vms = json_lookup(rd->vm_list, "vms");
		size_t n = json_object_is_type(vms, json_type_array) ? json_object_array_length(vms) : 0;
		if (rd->vmm_stats)
			r = metrics_add_daemon(set, rd->vmm_stats);
		for (size_t i = 0; i < n && r >= 0; i++) {
			struct json_object *vm = json_object_array_get_idx(vms, i), *st;
			const char *name = json_lookup_str(vm, "name", NULL);
			r = metrics_add_vm(set, vm);
			if (r >= 0 && name && json_object_object_get_ex(rd->stats, name, &st))
				r = metrics_add_stats(set, name, json_lookup_str(vm, "paging", "?"), st);
		}
	}
	if (r >= 0)
		r = add_self(sc, set, up);
	if (r < 0)
		log_warning_errno(r, "Building the metrics failed, answering 503: %m");

	struct shared_text *text[2] = { NULL, NULL };
	while (sc->waiters) {
		struct waiter *wt = sc->waiters;
		struct evhttp_request *req = http_wait_finish(&wt->wait);
		sc->waiters = wt->next;
		if (req && r >= 0 && !text[wt->format] && !(text[wt->format] = shared_text_render(set, wt->format)))
			r = -ENOMEM;
		if (req && r < 0) {
			http_reply_error(req, 503, RPC_INTERNAL_ERROR, "building the metrics failed", NULL);
		} else if (req) {
			struct shared_text *t = text[wt->format];
			struct evbuffer *body = evbuffer_new();
			http_common_headers(req, wt->format == PROM_OPENMETRICS ? PROM_OPENMETRICS_CONTENT_TYPE :
					    PROM_TEXT_CONTENT_TYPE, 0);
			/* The page itself, not a copy: half a megabyte at 100 VMs. */
			if (body && evbuffer_add_reference(body, t->p, t->len, shared_text_unref, t) == 0)
				t->refs++;
			evhttp_send_reply(req, 200, "OK", body);
			if (body)
				evbuffer_free(body);
		}
		free(wt);
	}
	for (int i = 0; i < 2; i++)
		if (text[i])
			shared_text_unref(text[i]->p, text[i]->len, text[i]);
	prom_set_free(set);
}

static void round_free(struct round *rd)
{
	json_object_put(rd->vmm_stats);
	json_object_put(rd->vm_list);
	json_object_put(rd->stats);
	free(rd);
}

static int send_batches(struct round *rd, size_t n_names, char *const *names, bool with_daemon);

/* VMs vm.list has that we asked no stats.get for: new since the last scrape. */
static size_t unseen(struct round *rd, char ***ret)
{
	struct json_object *vms = json_lookup(rd->vm_list, "vms");
	size_t n = json_object_is_type(vms, json_type_array) ? json_object_array_length(vms) : 0, k = 0;
	char **out = calloc(n ? n : 1, sizeof(*out));
	for (size_t i = 0; out && i < n; i++) {
		const char *name = json_lookup_str(json_object_array_get_idx(vms, i), "name", NULL);
		if (name && !json_object_object_get_ex(rd->stats, name, NULL))
			out[k++] = (char *) name;   /* borrowed from vm_list */
	}
	*ret = out;
	return out ? k : 0;
}

static void round_done(struct round *rd)
{
	struct scraper *sc = rd->sc;
	if (rd->abandoned) {
		round_free(rd);
		return;
	}
	if (rd->vm_list && !rd->second_pass) {
		char **fresh;
		size_t n = unseen(rd, &fresh);
		rd->second_pass = true;
		if (n > 0 && send_batches(rd, n, fresh, false) == 0) {
			free(fresh);
			return;
		}
		free(fresh);
	}
	if (rd->vm_list)
		remember_names(sc, json_lookup(rd->vm_list, "vms"));
	sc->round = NULL;
	answer(sc, rd);
	round_free(rd);
}

struct batch {
	struct round *rd;
	size_t n;
	size_t lead;                 /* 2 when slots 0 and 1 are vmm.stats and vm.list */
	char **names;                /* whose stats.get each slot is */
};

static void on_batch(void *userdata, size_t n, struct json_object *const *results, const struct rpc_error *errs)
{
	struct batch *b = userdata;
	struct round *rd = b->rd;
	for (size_t i = 0; i < n; i++) {
		if (errs[i].code)
			continue;   /* a VM destroyed meanwhile (NoSuchVm), or vmmd went away: left out */
		if (i < b->lead)
			*(i == 0 ? &rd->vmm_stats : &rd->vm_list) = json_object_get(results[i]);
		else
			json_object_object_add(rd->stats, b->names[i], json_object_get(results[i]));
	}
	for (size_t i = 0; i < b->n; i++)
		free(b->names[i]);
	free(b->names);
	free(b);
	if (--rd->batches_out == 0)
		round_done(rd);
}

/* stats.get for names (and, with_daemon, vmm.stats and vm.list first), RPC_MAX_BATCH at a time. */
static int send_batches(struct round *rd, size_t n_names, char *const *names, bool with_daemon)
{
	size_t done = 0, extra = with_daemon ? 2 : 0;
	while (done < n_names || extra) {
		size_t n = n_names - done + extra;
		if (n > RPC_MAX_BATCH)
			n = RPC_MAX_BATCH;
		const char *methods[RPC_MAX_BATCH];
		struct json_object *params[RPC_MAX_BATCH];
		struct batch *b = calloc(1, sizeof(*b));
		char **slot_names = calloc(n, sizeof(*slot_names));
		if (!b || !slot_names) {
			free(b);
			free(slot_names);
			return -ENOMEM;
		}
		b->lead = extra;
		for (size_t i = 0; i < n; i++) {
			if (extra) {
				methods[i] = extra == 2 ? "vmm.stats" : "vm.list";
				params[i] = NULL;
				extra--;
				continue;
			}
			methods[i] = "stats.get";
			params[i] = json_object_new_object();
			json_object_object_add(params[i], "name", json_object_new_string(names[done]));
			slot_names[i] = strdup(names[done++]);
		}
		b->rd = rd;
		b->n = n;
		b->names = slot_names;
		rd->batches_out++;
		rd->batches++;
		int r = vmmd_link_batch(rd->sc->web->link, n, methods, params, on_batch, b);
		if (r < 0) {
			rd->batches_out--;
			for (size_t i = 0; i < n; i++)
				free(slot_names[i]);
			free(slot_names);
			free(b);
			return r;
		}
	}
	return 0;
}

void scrape_handle(struct scraper *sc, struct evhttp_request *req)
{
	const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
	struct waiter *wt = calloc(1, sizeof(*wt));
	if (!wt || http_wait_start(&wt->wait, sc->web->base, req, WEB_VMMD_TIMEOUT_MS) < 0) {
		free(wt);
		http_reply_error(req, 503, RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	wt->format = prom_format_from_accept(accept);
	wt->next = sc->waiters;
	sc->waiters = wt;
	if (sc->round && since(&sc->round->t0) * 1000 < WEB_VMMD_TIMEOUT_MS)
		return;   /* the scrape in flight answers this one too */
	if (sc->round) {
		/* Its waiters had their 504; its replies, if they come, are dropped. */
		sc->round->abandoned = true;
		sc->round = NULL;
	}
	sc->scrapes++;
	if (!vmmd_link_ready(sc->web->link)) {
		answer(sc, NULL);
		return;
	}
	struct round *rd = calloc(1, sizeof(*rd));
	if (!rd || !(rd->stats = json_object_new_object())) {
		free(rd);
		answer(sc, NULL);
		return;
	}
	rd->sc = sc;
	clock_gettime(CLOCK_MONOTONIC, &rd->t0);
	sc->round = rd;
	/* The round may finish inside send_batches (vmmd gone): guard with a count of our own. */
	rd->batches_out++;
	if (send_batches(rd, sc->n_names, sc->names, true) < 0)
		log_warning("Sending a scrape's batch to vmmd failed");
	if (--rd->batches_out == 0)
		round_done(rd);
}

int scraper_new(struct web *w, struct scraper **ret)
{
	struct scraper *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	sc->web = w;
	*ret = sc;
	return 0;
}

void scraper_free(struct scraper *sc)
{
	if (!sc)
		return;
	/* The link (freed first) has failed every batch: no round is left. */
	while (sc->waiters) {
		struct waiter *wt = sc->waiters;
		sc->waiters = wt->next;
		http_wait_finish(&wt->wait);
		free(wt);
	}
	forget_names(sc);
	free(sc);
}
