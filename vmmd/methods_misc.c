/* SPDX-License-Identifier: MIT */
/* Methods about the daemon itself: rpc.discover, vmm.version, vmm.stats, events.subscribe. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmmd/events.h"
#include "vmmd/common/host_probe.h"
#include "vmmd/methods.h"
#include "vmmd/common/self_stats.h"
#include "vmmd/stats_events.h"

#ifndef VMMD_VERSION
#error "VMMD_VERSION comes from the VERSION file (the Makefile passes -DVMMD_VERSION)"
#endif

static struct json_object *schema_of(enum param_type t)
{
	struct json_object *s = json_object_new_object();
	json_object_object_add(s, "type", json_object_new_string(param_type_name(t)));
	return s;
}

/* OpenRPC 1.2 document generated from the method table, so it cannot drift. */
static struct json_object *discover_doc(void)
{
	struct json_object *doc = json_object_new_object();
	json_object_object_add(doc, "openrpc", json_object_new_string("1.2.6"));
	struct json_object *info = json_object_new_object();
	json_object_object_add(info, "title", json_object_new_string("vmmd control API"));
	json_object_object_add(info, "version", json_object_new_string(VMMD_VERSION));
	json_object_object_add(doc, "info", info);
	struct json_object *methods = json_object_new_array();
	for (size_t i = 0; i < vmm_methods_count; i++) {
		const struct method *m = &vmm_methods[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(m->name));
		json_object_object_add(o, "summary", json_object_new_string(m->summary));
		json_object_object_add(o, "paramStructure", json_object_new_string("by-name"));
		struct json_object *params = json_object_new_array();
		for (const struct param_spec *p = m->params; p->name; p++) {
			struct json_object *po = json_object_new_object();
			json_object_object_add(po, "name", json_object_new_string(p->name));
			json_object_object_add(po, "required", json_object_new_boolean(p->required));
			json_object_object_add(po, "description", json_object_new_string(p->description));
			json_object_object_add(po, "schema", schema_of(p->type));
			json_object_array_add(params, po);
		}
		json_object_object_add(o, "params", params);
		struct json_object *result = json_object_new_object();
		json_object_object_add(result, "name", json_object_new_string("result"));
		json_object_object_add(result, "schema", schema_of(PARAM_OBJECT));
		json_object_object_add(o, "result", result);
		/* vmmd's own extensions: who may call it, in which VM states, and
		 * whether it is paced (it holds the guest's vCPUs still). */
		json_object_object_add(o, "x-role", json_object_new_string(access_role_name(method_role(m))));
		if (m->takes_vm) {
			struct json_object *states = json_object_new_array();
			for (int s = VM_STATE_CREATED; s <= VM_STATE_CRASHED; s++)
				if (m->states & VM_STATE_BIT(s))
					json_object_array_add(states, json_object_new_string(vm_state_name(s)));
			json_object_object_add(o, "x-vm-states", states);
			json_object_object_add(o, "x-while-busy", json_object_new_boolean(m->while_busy));
		}
		if (m->costs_guest)
			json_object_object_add(o, "x-costs-guest", json_object_new_boolean(true));
		json_object_array_add(methods, o);
	}
	json_object_object_add(doc, "methods", methods);
	return doc;
}

/* Built once: the table is constant, and building it for every call let a
 * batch of 128 cost vmmd 60 ms (issue 14: no message may cost much CPU). */
void method_rpc_discover(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	static struct json_object *doc;
	if (!doc)
		doc = discover_doc();
	rpc_call_result(call, json_object_get(doc));
}

void method_vmm_version(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	const struct host_facts facts = *host_facts_cached();   /* probed once, not per call */
	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "version", json_object_new_string(VMMD_VERSION));
	json_object_object_add(res, "api", json_object_new_int(1));
	struct json_object *kvm = json_object_new_object();
	json_object_object_add(kvm, "available", json_object_new_boolean(facts.kvm_available));
	json_object_object_add(kvm, "api_version",
			       facts.kvm_api_version >= 0 ? json_object_new_int(facts.kvm_api_version) : NULL);
	if (!facts.kvm_available)
		json_object_object_add(kvm, "error", json_object_new_string(facts.kvm_error));
	json_object_object_add(res, "kvm", kvm);
	struct json_object *host = json_object_new_object();
	json_object_object_add(host, "virt", json_object_new_string(facts.virt));
	json_object_object_add(host, "tdp", json_object_new_boolean(facts.tdp));
	json_object_object_add(host, "tdp_levels", facts.tdp ? json_object_new_int(facts.tdp_levels) : NULL);
	json_object_object_add(host, "hypervisor",
			       facts.hypervisor[0] ? json_object_new_string(facts.hypervisor) : NULL);
	json_object_object_add(res, "host", host);
	struct json_object *modes = json_object_new_array();
	json_object_array_add(modes, json_object_new_string("hw"));
	json_object_array_add(modes, json_object_new_string("shadow"));
	json_object_object_add(res, "paging_modes", modes);
	rpc_call_result(call, res);
}

/* The daemon's own figures for monitoring (vmmweb's vmmd_* daemon metrics):
 * its process, its connections and subscribers, VMs by state. */
void method_vmm_stats(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	struct self_stats st;
	int r = self_stats_read(&st);
	if (r < 0) {
		rpc_call_errorf(call, RPC_INTERNAL_ERROR, NULL, "reading vmmd's own process figures failed: %s",
				strerror(-r));
		return;
	}
	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "version", json_object_new_string(VMMD_VERSION));
	json_object_object_add(res, "pid", json_object_new_int(getpid()));
	json_object_object_add(res, "start_time", json_object_new_double(st.start_time));
	json_object_object_add(res, "uptime_s", json_object_new_double(st.start_time > 0 ?
				      (double) time(NULL) - st.start_time : 0));
	struct json_object *cpu = json_object_new_object();
	json_object_object_add(cpu, "user", json_object_new_double(st.user_s));
	json_object_object_add(cpu, "system", json_object_new_double(st.system_s));
	json_object_object_add(res, "cpu_seconds", cpu);
	json_object_object_add(res, "rss_bytes", json_object_new_uint64(st.rss_bytes));
	json_object_object_add(res, "open_fds", json_object_new_uint64(st.open_fds));
	json_object_object_add(res, "max_fds", json_object_new_uint64(st.max_fds));
	json_object_object_add(res, "connections", json_object_new_int64(d->n_clients));
	json_object_object_add(res, "max_connections", json_object_new_int64(d->config.max_connections));
	/* Guest memory promised to live VMs against limits.max_total_memory_mib (0: unlimited). */
	struct json_object *mem = json_object_new_object();
	json_object_object_add(mem, "limit_mib", json_object_new_uint64(d->config.max_total_memory_mib));
	json_object_object_add(mem, "in_use_mib", json_object_new_uint64(vm_memory_in_use(d, NULL)));
	json_object_object_add(res, "guest_memory", mem);

	uint64_t subscribers[4] = { 0 };
	for (struct client *cl = d->clients; cl; cl = cl->next)
		for (unsigned i = 0; i < 4; i++)
			if (cl->topics & (1u << i))
				subscribers[i]++;
	struct json_object *subs = json_object_new_object();
	for (unsigned i = 0; i < 4; i++)
		json_object_object_add(subs, event_topic_name(1u << i), json_object_new_uint64(subscribers[i]));
	json_object_object_add(res, "subscribers", subs);

	uint64_t by_state[VM_STATE_CRASHED + 1] = { 0 };
	for (struct vm_record *v = d->registry.head; v; v = v->next)
		by_state[v->state]++;
	struct json_object *vms = json_object_new_object();
	json_object_object_add(vms, "total", json_object_new_uint64(d->registry.count));
	json_object_object_add(vms, "max", json_object_new_uint64(d->registry.max_vms));
	for (int s = VM_STATE_CREATED; s <= VM_STATE_CRASHED; s++)
		json_object_object_add(vms, vm_state_name(s), json_object_new_uint64(by_state[s]));
	json_object_object_add(res, "vms", vms);
	rpc_call_result(call, res);
}

/* Who the caller is to vmmd: a client (vmmweb) learns which of its views
 * it may fill: the methods and event topics its role allows. */
void method_vmm_whoami(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	enum access_role role = c ? c->role : ACCESS_ADMIN;
	struct json_object *res = json_object_new_object(), *methods = json_object_new_array();

	json_object_object_add(res, "uid", c ? json_object_new_int64(c->uid) : NULL);
	json_object_object_add(res, "role", json_object_new_string(access_role_name(role)));
	for (size_t i = 0; i < vmm_methods_count; i++)
		if (role >= method_role(&vmm_methods[i]))
			json_object_array_add(methods, json_object_new_string(vmm_methods[i].name));
	json_object_object_add(res, "methods", methods);
	struct json_object *topics = json_object_new_array();
	for (unsigned bit = 1; bit <= EVENT_TOPIC_STATS; bit <<= 1)
		if (role >= event_topic_role(bit))
			json_object_array_add(topics, json_object_new_string(event_topic_name(bit)));
	json_object_object_add(res, "topics", topics);
	rpc_call_result(call, res);
}

void method_events_subscribe(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	struct json_object *topics = param_get(call->params, "topics");
	const char *name = param_string(call->params, "name", NULL);
	unsigned mask = 0;
	size_t n = json_object_array_length(topics);
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(topics, i);
		int bit = json_object_is_type(t, json_type_string) ? event_topic_from_name(json_object_get_string(t)) : -1;
		if (bit < 0) {
			rpc_call_errorf(call, RPC_INVALID_PARAMS, "topics",
					"unknown topic %s (known: state, console, fault, stats)", json_object_to_json_string(t));
			return;
		}
		if (c && c->role < event_topic_role(bit)) {
			rpc_call_errorf(call, RPC_PERMISSION_DENIED, "topics", "the %s topic needs the %s role; uid %u has %s",
					event_topic_name(bit), access_role_name(event_topic_role(bit)), (unsigned) c->uid,
					access_role_name(c->role));
			return;
		}
		mask |= bit;
	}
	if (n == 0) {
		rpc_call_errorf(call, RPC_INVALID_PARAMS, NULL, "topics must name at least one topic");
		return;
	}
	if (name && !registry_find(&d->registry, name)) {
		rpc_call_errorf(call, RPC_NO_SUCH_VM, NULL, "no VM named '%s'", name);
		return;
	}
	c->topics = mask;
	stats_events_update(d);
	snprintf(c->vm_filter, sizeof(c->vm_filter), "%s", name ? name : "");
	struct json_object *res = json_object_new_object(), *list = json_object_new_array();
	for (unsigned bit = 1; bit <= EVENT_TOPIC_STATS; bit <<= 1)
		if (mask & bit)
			json_object_array_add(list, json_object_new_string(event_topic_name(bit)));
	json_object_object_add(res, "subscribed", list);
	rpc_call_result(call, res);
}
