/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's method table (vmmd/methods.c) and the checks its
 * dispatcher makes before a handler runs: the caller's role, the VM's
 * state, and whether the VM is changing state (busy). The VMs live in a
 * temporary state directory; no worker is started.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup_json.h"
#include "base/macro.h"
#include "vmmd/methods.h"
#include "vmmd/worker/worker.h"

static void test_roles_are_columns(void **state)
{
	/* What a dashboard needs, and nothing of the guest's own. */
	static const char *const monitors[] = {
		"rpc.discover", "vmm.version", "vmm.stats", "vmm.whoami", "events.subscribe", "vm.list", "vm.info",
		"stats.get",
	};
	/* What a debugger reads: the guest's console, registers and tables. */
	static const char *const debugs[] = {
		"vm.console.read", "vcpu.state", "bus.map", "mmu.translate", "mmu.guest", "mmu.shadow",
	};
	static const char *const admins[] = {
		"vm.create", "vm.start", "vm.pause", "vm.resume", "vm.stop", "vm.destroy",
		"vm.console.write", "vcpu.regs.set", "mem.read", "mem.write", "irq.inject",
	};

	assert_int_equal(ELEMENTSOF(monitors) + ELEMENTSOF(debugs) + ELEMENTSOF(admins), vmm_methods_count);
	for (size_t i = 0; i < ELEMENTSOF(monitors); i++)
		assert_int_equal(method_role(method_find(monitors[i])), ACCESS_MONITOR);
	for (size_t i = 0; i < ELEMENTSOF(debugs); i++)
		assert_int_equal(method_role(method_find(debugs[i])), ACCESS_DEBUG);
	for (size_t i = 0; i < ELEMENTSOF(admins); i++)
		assert_int_equal(method_role(method_find(admins[i])), ACCESS_ADMIN);
	/* Every row says who may call it; a row without would fall back to admin. */
	for (size_t i = 0; i < vmm_methods_count; i++) {
		const struct method *m = &vmm_methods[i];

		if (m->role != ACCESS_MONITOR && m->role != ACCESS_DEBUG && m->role != ACCESS_ADMIN)
			fail_msg("%s has no role column", m->name);
		assert_ptr_equal(method_find(m->name), m);
		assert_true(!m->while_busy || m->takes_vm);
		assert_true(!m->takes_vm || m->states != 0);
	}
	assert_null(method_find("some.future.method"));
	assert_null(method_find("VM.LIST"));
	assert_int_equal(method_role(&(struct method) { .name = "no.role" }), ACCESS_ADMIN);
}

/* --- the dispatcher ---------------------------------------------------------- */

struct harness {
	struct daemon d;
	struct client c;
	char dir[64];
	struct json_object *sent;
};

static void h_handle(void *userdata, struct rpc_call *call)
{
	struct harness *h = userdata;

	methods_dispatch(&h->d, &h->c, call);
}

/* The reply line, parsed back. */
static void h_send(void *userdata, char *line, size_t len)
{
	struct harness *h = userdata;

	json_object_put(h->sent);
	h->sent = json_tokener_parse(line);
	free(line);
}

static const struct rpc_exchange_ops ops = { .handle = h_handle, .send = h_send };

/* The code of the reply's error, 0 for a result. */
static int call(struct harness *h, const char *method, const char *params)
{
	char text[512];
	struct json_object *e, *v;

	snprintf(text, sizeof(text), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}", method,
		 params);
	assert_int_equal(rpc_exchange_start(json_tokener_parse(text), &ops, h, 0), 0);
	assert_non_null(h->sent);
	if (!json_object_object_get_ex(h->sent, "error", &e))
		return 0;
	assert_true(json_object_object_get_ex(e, "code", &v));
	return json_object_get_int(v);
}

static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct vm_config *config;
	struct config_error err;
	struct vm_record *vm;

	assert_non_null(h);
	snprintf(h->dir, sizeof(h->dir), "/tmp/test_vmmd_methods.XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	const char *why = NULL;
	assert_int_equal(registry_init(&h->d.registry, h->dir, &why), 0);
	_cleanup_(json_object_putp) struct json_object *cfg =
		json_tokener_parse("{\"name\":\"t\",\"kernel\":\"/nonexistent/kernel\",\"cmdline\":\"secret=s3\"}");
	assert_int_equal(vm_config_from_json(cfg, &config, &err), 0);
	assert_int_equal(registry_add(&h->d.registry, config, NULL, &vm), 0);
	h->c = (struct client) { .daemon = &h->d, .role = ACCESS_ADMIN };
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;
	char path[128];

	json_object_put(h->sent);
	registry_free(&h->d.registry);
	snprintf(path, sizeof(path), "%s/t.json", h->dir);
	(void) unlink(path);
	(void) rmdir(h->dir);
	free(h);
	return 0;
}

static void test_role_before_everything(void **state)
{
	struct harness *h = *state;

	h->c.role = ACCESS_DEBUG;
	/* Refused before its params are looked at: no hints to who may not call it. */
	assert_int_equal(call(h, "vm.create", "{\"bogus\":1}"), RPC_PERMISSION_DENIED);
	assert_int_equal(call(h, "vm.start", "{\"name\":\"t\"}"), RPC_PERMISSION_DENIED);
	assert_int_equal(call(h, "vm.list", "{}"), 0);
	assert_int_equal(call(h, "vm.console.read", "{\"name\":\"t\"}"), 0);
	h->c.role = ACCESS_MONITOR;
	assert_int_equal(call(h, "vm.console.read", "{\"name\":\"t\",\"bogus\":1}"), RPC_PERMISSION_DENIED);
	assert_int_equal(call(h, "vm.list", "{}"), 0);
	h->c.role = ACCESS_NONE;
	assert_int_equal(call(h, "vm.list", "{}"), RPC_PERMISSION_DENIED);
}

/* Calls that hold the guest's vCPUs are paced per connection below admin
 * (finding 14), before anything else happens; admin is not. */
static void test_paced_calls(void **state)
{
	struct harness *h = *state;
	int limited = 0;

	h->d.config.inspect_per_second = 3;
	h->c.role = ACCESS_DEBUG;
	for (int i = 0; i < 10; i++)
		limited += call(h, "vcpu.state", "{\"name\":\"t\"}") == RPC_RESOURCE_LIMIT;
	assert_true(limited >= 6 && limited <= 7);
	/* A call that holds nothing is not paced... */
	assert_int_equal(call(h, "vm.info", "{\"name\":\"t\"}"), 0);
	assert_int_equal(call(h, "stats.get", "{\"name\":\"t\"}"), 0);
	/* ...nor is an admin; a VM that is not running gets its InvalidState then. */
	h->c.role = ACCESS_ADMIN;
	for (int i = 0; i < 10; i++)
		assert_int_equal(call(h, "mmu.translate", "{\"name\":\"t\",\"addr\":0}"), RPC_INVALID_STATE);
	h->d.config.inspect_per_second = 0;   /* 0: unlimited */
	h->c.role = ACCESS_DEBUG;
	for (int i = 0; i < 100; i++)
		assert_int_equal(call(h, "mmu.guest", "{\"name\":\"t\"}"), RPC_INVALID_STATE);
	/* The table marks exactly those. */
	for (size_t i = 0; i < vmm_methods_count; i++) {
		const struct method *m = &vmm_methods[i];
		bool holds = strcmp(m->name, "vcpu.state") == 0 || strcmp(m->name, "mmu.translate") == 0 ||
			     strcmp(m->name, "mmu.guest") == 0 || strcmp(m->name, "mmu.shadow") == 0 ||
			     strcmp(m->name, "mem.read") == 0 || strcmp(m->name, "mem.write") == 0 ||
			     strcmp(m->name, "irq.inject") == 0;
		if (m->costs_guest != holds)
			fail_msg("%s: costs_guest %d", m->name, m->costs_guest);
	}
}

/* The result of the last call, at a dotted path (NULL if absent or null). */
static struct json_object *sent_at(struct harness *h, const char *a, const char *b)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(h->sent, "result", &v) || !json_object_object_get_ex(v, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return v;
}

/* Command lines often carry secrets: monitor sees the VM, not them (finding 15). */
static void test_monitor_sees_no_cmdline(void **state)
{
	struct harness *h = *state;

	h->c.role = ACCESS_MONITOR;
	assert_int_equal(call(h, "vm.info", "{\"name\":\"t\"}"), 0);
	assert_null(sent_at(h, "config", "cmdline"));
	assert_non_null(sent_at(h, "config", "kernel"));
	assert_string_equal(json_object_get_string(sent_at(h, "hidden", "role")), "debug");
	assert_null(strstr(json_object_to_json_string(h->sent), "s3"));
	h->c.role = ACCESS_DEBUG;
	assert_int_equal(call(h, "vm.info", "{\"name\":\"t\"}"), 0);
	assert_string_equal(json_object_get_string(sent_at(h, "config", "cmdline")), "secret=s3");
	assert_null(sent_at(h, "hidden", NULL));
	/* The cached config itself is untouched by the copy monitor got. */
	h->c.role = ACCESS_MONITOR;
	assert_int_equal(call(h, "vm.info", "{\"name\":\"t\"}"), 0);
	h->c.role = ACCESS_ADMIN;
	assert_int_equal(call(h, "vm.info", "{\"name\":\"t\"}"), 0);
	assert_string_equal(json_object_get_string(sent_at(h, "config", "cmdline")), "secret=s3");
}

/* Console output is the guest's too: its event topic needs debug, as vm.console.read does. */
static void test_console_events_need_debug(void **state)
{
	struct harness *h = *state;

	h->c.role = ACCESS_MONITOR;
	assert_int_equal(call(h, "events.subscribe", "{\"topics\":[\"state\",\"console\"]}"),
			 RPC_PERMISSION_DENIED);
	assert_int_equal(h->c.topics, 0);
	assert_int_equal(call(h, "events.subscribe", "{\"topics\":[\"state\",\"fault\",\"stats\"]}"), 0);
	h->c.role = ACCESS_DEBUG;
	assert_int_equal(call(h, "events.subscribe", "{\"topics\":[\"console\"]}"), 0);
	h->c.topics = 0;
}

/* vmm.whoami: the role, and exactly the methods it may call (vmmweb fills its views from it). */
static void test_whoami(void **state)
{
	struct harness *h = *state;
	struct json_object *methods;
	size_t n, expect = 0;

	h->c.role = ACCESS_MONITOR;
	h->c.uid = 4242;
	assert_int_equal(call(h, "vmm.whoami", "{}"), 0);
	assert_string_equal(json_object_get_string(sent_at(h, "role", NULL)), "monitor");
	assert_int_equal(json_object_get_int(sent_at(h, "uid", NULL)), 4242);
	methods = sent_at(h, "methods", NULL);
	n = json_object_array_length(methods);
	for (size_t i = 0; i < vmm_methods_count; i++)
		expect += vmm_methods[i].role == ACCESS_MONITOR;
	assert_int_equal(n, expect);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(method_role(method_find(json_object_get_string(json_object_array_get_idx(methods, i)))),
				 ACCESS_MONITOR);
}

static void test_states_and_busy(void **state)
{
	struct harness *h = *state;
	struct vm_record *vm = registry_find(&h->d.registry, "t");

	assert_int_equal(call(h, "vm.pause", "{\"name\":\"nope\"}"), RPC_NO_SUCH_VM);
	/* created: pause wants running or paused. */
	assert_int_equal(call(h, "vm.pause", "{\"name\":\"t\"}"), RPC_INVALID_STATE);
	assert_int_equal(call(h, "vm.info", "{\"name\":\"t\"}"), 0);
	/* While a start or stop is in flight only the while_busy rows run. */
	vm->busy = true;
	assert_int_equal(call(h, "vm.destroy", "{\"name\":\"t\"}"), RPC_INVALID_STATE);
	assert_non_null(registry_find(&h->d.registry, "t"));
	assert_int_equal(call(h, "vm.info", "{\"name\":\"t\"}"), 0);
	assert_int_equal(call(h, "vm.console.read", "{\"name\":\"t\"}"), 0);
	vm->busy = false;
	assert_int_equal(call(h, "vm.destroy", "{\"name\":\"t\"}"), 0);
	assert_null(registry_find(&h->d.registry, "t"));
}

/* A client's method X that the supervisor forwards to worker.X (method_forward:
 * its parameters less "name") must find each parameter in the worker's
 * row with the same type and need, or the worker's one check of
 * parameters refuses what the supervisor accepted. */
static void test_forwarded_params_match_the_worker(void **state)
{
	size_t matched = 0;

	for (size_t i = 0; i < worker_methods_count; i++) {
		const struct worker_method *w = &worker_methods[i];
		const struct method *m = method_find(w->name + strlen("worker."));

		if (!m)
			continue;
		matched++;
		for (const struct param_spec *p = m->params; p->name; p++) {
			const struct param_spec *q = w->params;

			if (strcmp(p->name, "name") == 0)
				continue;
			while (q->name && strcmp(q->name, p->name) != 0)
				q++;
			if (!q->name || q->type != p->type || q->required != p->required)
				fail_msg("%s: parameter %s differs in %s", m->name, p->name, w->name);
		}
		for (const struct param_spec *q = w->params; q->name; q++) {
			const struct param_spec *p = m->params;

			while (p->name && strcmp(p->name, q->name) != 0)
				p++;
			if (!p->name)
				fail_msg("%s takes %s, which %s does not", w->name, q->name, m->name);
		}
	}
	assert_true(matched >= 9);   /* vcpu.*, mem.*, mmu.*, irq.inject, bus.map */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles_are_columns),
		cmocka_unit_test(test_forwarded_params_match_the_worker),
		cmocka_unit_test_setup_teardown(test_role_before_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor_sees_no_cmdline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_events_need_debug, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whoami, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paced_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_states_and_busy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
