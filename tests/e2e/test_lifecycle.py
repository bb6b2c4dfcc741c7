#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""VM lifecycle through vmmctl with the real hello guest: run, console,
exit codes (QEMU isa-debug-exit semantics), list, destroy, restart, and
vmmctl's exit statuses."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, expect_error, kvm, show  # noqa: E402

HELLO_TEXT = "Hello from vmmd guest!"
NO_SUCH_VM, INVALID_STATE, RESOURCE_LIMIT, CONFIG_INVALID = -32000, -32001, -32004, -32007


def check_debug_exit(inf, value):
    """vm.info of a VM whose guest wrote `value` to the debug-exit port."""
    name = inf.get("name")
    check(inf.get("state") == "stopped", "%s: state must be stopped, info: %s" % (name, show(inf)))
    ex = inf.get("exit")
    check(isinstance(ex, dict), "%s: a stopped VM needs exit {reason, code}: %s" % (name, show(inf)))
    check(ex.get("reason") == "debug-exit", "%s: exit.reason must be debug-exit: %s" % (name, show(ex)))
    check(ex.get("code") == (value << 1) | 1, "%s: exit=%d must give exit.code %d ((v<<1)|1): %s"
          % (name, value, (value << 1) | 1, show(ex)))
    if "value" in ex:
        check(ex["value"] == value, "%s: exit.value must be %d: %s" % (name, value, show(ex)))


@kvm
def test_run_hello_example(d):
    d.ctl("run", vmmtest.example_config(d, "hello"))
    d.wait_state("hello", ("stopped", "crashed"))
    inf = d.ctl("info", "hello")
    check(isinstance(inf, dict), "vmmctl --json info must print an object: %s" % show(inf))
    check_debug_exit(inf, 0)
    out = d.ctl("console", "hello", json=False)
    check(HELLO_TEXT in out, "vmmctl console hello lacks %r; it printed: %s" % (HELLO_TEXT, show(out)))
    check(HELLO_TEXT in d.console_text("hello"), "vm.console.read lacks %r" % HELLO_TEXT)
    human = d.ctl("info", "hello", json=False)
    check("stopped" in human, "vmmctl info hello (human) should show the state: %s" % show(human))


@kvm
def test_exit_code(d):
    path = d.config_file("hello-exit5", "hello", cmdline="exit=5")
    created = d.ctl("create", path)
    check(isinstance(created, dict) and created.get("state") == "created",
          "vmmctl --json create result: %s" % show(created))
    d.ctl("start", "hello-exit5")
    d.wait_state("hello-exit5", ("stopped", "crashed"))
    check_debug_exit(d.info("hello-exit5"), 5)
    check(HELLO_TEXT in d.console_text("hello-exit5"), "console of hello-exit5 lacks the greeting")


@kvm
def test_info_shape(d):
    d.run_vm("shape", "hello", cmdline="exit=0")
    inf = d.wait_state("shape", ("stopped", "crashed"))
    cfg = inf.get("config")
    check(isinstance(cfg, dict), "vm.info needs config: %s" % show(inf))
    want = {"name": "shape", "kernel": vmmtest.guest_path("hello"), "cmdline": "exit=0",
            "memory_mib": 64, "vcpus": 1, "paging": "hw"}
    for k, v in want.items():
        check(cfg.get(k) == v, "vm.info config.%s must be %s (defaults filled in): %s" % (k, show(v), show(cfg)))
    check("pid" in inf and (inf["pid"] is None or isinstance(inf["pid"], int)), "vm.info pid: %s" % show(inf))
    check(isinstance(inf.get("uptime_s"), (int, float)), "vm.info uptime_s: %s" % show(inf))
    st = inf.get("stats")
    check(isinstance(st, dict) and isinstance(st.get("exits"), dict) and isinstance(st.get("exits_total"), int),
          "vm.info stats {exits, exits_total}: %s" % show(inf))
    check(st["exits_total"] > 0, "a guest that printed made exits: %s" % show(st))


@kvm
def test_list_json(d):
    d.create("listed-a", "hello")
    d.run_vm("listed-b", "hello")
    d.wait_state("listed-b", ("stopped", "crashed"))
    lst = d.ctl("list")
    check(isinstance(lst, dict) and isinstance(lst.get("vms"), list),
          "vmmctl --json list must print {vms: [...]}: %s" % show(lst))
    by_name = {vm.get("name"): vm for vm in lst["vms"]}
    for name, state in (("listed-a", "created"), ("listed-b", "stopped")):
        check(name in by_name, "%s missing from vmmctl list: %s" % (name, show(lst)))
        vm = by_name[name]
        check(vm.get("state") == state, "%s must be %s in the list: %s" % (name, state, show(vm)))
        for k in ("paging", "vcpus", "memory_mib", "uptime_s"):
            check(k in vm, "vm.list entries need %s: %s" % (k, show(vm)))
        check(vm["paging"] == "hw" and vm["vcpus"] == 1 and vm["memory_mib"] == 64,
              "list entry of %s has wrong defaults: %s" % (name, show(vm)))
    human = d.ctl("list", json=False)
    check("listed-a" in human and "listed-b" in human, "vmmctl list (human) lacks the VMs: %s" % show(human))


@kvm
def test_state_errors_and_restart(d):
    d.run_vm("again", "hello", cmdline="exit=2")
    d.wait_state("again", ("stopped", "crashed"))
    for method in ("vm.pause", "vm.resume", "vm.stop"):
        expect_error(d.rpc(method, {"name": "again"}), INVALID_STATE, "InvalidState",
                     what="%s of a stopped VM" % method)
    expect_error(d.rpc("vm.console.write", {"name": "again", "data": "aGkK"}), INVALID_STATE,
                 "InvalidState", what="vm.console.write to a stopped VM")
    r = d.call("vm.start", {"name": "again"})
    check(r.get("name") == "again" and r.get("state") in ("running", "stopped"),
          "vm.start of a stopped VM: %s" % show(r))
    inf = d.wait_state("again", ("stopped", "crashed"))
    check_debug_exit(inf, 2)
    check(HELLO_TEXT in d.console_text("again"), "console after restart lacks the greeting")


@kvm
def test_start_failures_are_answered(d):
    """A worker that cannot build its VM answers vm.start with the reason
    (it used to leave before its reply was sent: "connection closed")."""
    disk = os.path.join(d.tmp, "gone.img")
    err = expect_error(d.rpc("vm.create", {"config": vmmtest.guest_config(
        "nodisk", "hello", devices=[{"type": "virtio-blk", "path": disk}])}), CONFIG_INVALID, "ConfigInvalid",
        what="create with a missing disk image")
    check("No such file" in err["message"] and err["data"].get("field") == "devices[0].path",
          "names the device: %s" % show(err))
    with open(disk, "wb") as f:
        f.write(b"\0" * 512)
    d.create("nodisk", "hello", devices=[{"type": "virtio-blk", "path": disk}])
    os.unlink(disk)
    err = expect_error(d.rpc("vm.start", {"name": "nodisk"}), CONFIG_INVALID, "ConfigInvalid",
                       what="start with a disk image removed since")
    check("No such file" in err["message"] and err["data"].get("field") == "devices[0].path",
          "names the device: %s" % show(err))
    notelf = os.path.join(d.tmp, "not-a-kernel")
    with open(notelf, "w") as f:
        f.write("hello\n")
    d.call("vm.create", {"config": {"name": "notelf", "kernel": notelf}})
    err = expect_error(d.rpc("vm.start", {"name": "notelf"}), CONFIG_INVALID, "ConfigInvalid",
                       what="start with a kernel that is no ELF")
    check("not an ELF file" in err["message"] and err["data"].get("field") == "kernel" and
          err["data"].get("kind") == "kernel", "names the kernel: %s" % show(err))
    # More memory than either mode maps: the config's to change, named by its field.
    d.create("huge", "hello", memory_mib=4096)
    resp = d.rpc("vm.start", {"name": "huge"})
    if ((resp.get("error") or {}).get("data") or {}).get("limit") == "max_total_memory_mib":
        # A host with under 5.4 GiB (the nested tier's 2 GiB machine):
        # vmmd's own memory limit, 3/4 of the host's, refuses it first.
        err = expect_error(resp, RESOURCE_LIMIT, "ResourceLimit", what="start with 4096 MiB on a small host")
        check(err["data"].get("requested_mib") == 4096, "names the request: %s" % show(err))
        print("  huge: refused by limits.max_total_memory_mib (%s MiB) on this host" % err["data"].get("max"))
    else:
        err = expect_error(resp, CONFIG_INVALID, "ConfigInvalid", what="start with 4096 MiB")
        check(err["data"].get("field") == "memory_mib" and err["data"].get("kind") == "memory",
              "names memory_mib: %s" % show(err))
    check(d.state("notelf") == "created", "a failed start leaves the VM created")


@kvm
def test_guest_reset_stops_by_default(d):
    d.run_vm("rst", "hello", cmdline="reset=1")
    inf = d.wait_state("rst", ("stopped", "crashed"))
    check(inf["state"] == "stopped" and inf["exit"]["reason"] == "guest-reset"
          and "keyboard controller" in inf["exit"]["message"], "a reset stops the VM cleanly: %s" % show(inf))
    check(inf["resets"] == 0 and d.console_text("rst").count(HELLO_TEXT) == 1, "no restart: %s" % show(inf))
    check(inf["boot"] == {"kind": "vmmd", "cmdline": "reset=1"}, "vm.info boot: %s" % show(inf["boot"]))
    out = d.ctl("info", "rst", json=False)
    check("boot:          vmmd" in out and "kernel got:    reset=1" in out, "vmmctl info: %s" % out)


@kvm
def test_guest_reset_restarts_with_history_and_loop_guard(d):
    """on_reset "restart": the VM boots again with its console history kept,
    until the loop guard (3 restarts within 60 s) keeps it stopped."""
    d.create("rb", "hello", cmdline="reset=1", on_reset="restart")
    events = d.connect()
    vmmtest.result_of(events.call("events.subscribe", {"topics": ["state"], "name": "rb"}), "subscribe")
    d.start_vm("rb")
    inf = vmmtest.wait_for(lambda: (lambda i: i["state"] != "running" and i)(d.info("rb")), 30,
                           what="the reset loop to end")
    check(inf["state"] == "stopped" and inf["exit"]["reason"] == "guest-reset"
          and "reset loop: 3 restarts within 60 s" in inf["exit"]["message"], "loop guard: %s" % show(inf["exit"]))
    check(inf["resets"] == 3, "three restarts counted: %s" % show(inf))
    text = d.console_text("rb")
    check(text.count(HELLO_TEXT) == 4, "one history across four boots: %s" % show(text))
    resets = 0
    msg = events.next_notification(2.0)
    while msg is not None:
        resets += msg["params"]["type"] == "reset"
        msg = events.next_notification(0.5)
    check(resets == 3, "three reset events on the state topic, got %d" % resets)
    out = d.ctl("info", "rb", json=False)
    check("resets:" in out, "vmmctl info shows the restarts: %s" % out)


@kvm
def test_destroy(d):
    d.create("gone", "hello")
    out = d.ctl("destroy", "gone")
    check(isinstance(out, dict) and out.get("name") == "gone", "vmmctl --json destroy: %s" % show(out))
    res = d.ctl("info", "gone", check=False)
    check(res.rc == 1 and "NoSuchVm" in res.err, "info of a destroyed VM must fail with NoSuchVm: %r" % res)
    names = [vm["name"] for vm in d.ctl("list")["vms"]]
    check("gone" not in names, "destroyed VM still listed: %s" % names)
    expect_error(d.rpc("vm.destroy", {"name": "gone"}), NO_SUCH_VM, "NoSuchVm", what="second destroy")


def test_vmmctl_exit_status(d):
    v = d.ctl("version")
    check(isinstance(v, dict) and v.get("api") == 1, "vmmctl --json version: %s" % show(v))
    res = d.ctl("info", "nosuchvm", check=False)
    check(res.rc == 1, "an RPC error must exit 1: %r" % res)
    check("NoSuchVm" in res.err, "an RPC error's message on stderr must name its class: %r" % res)
    for args in ([], ["frobnicate"], ["info"], ["stop", "x", "--bogus"], ["--bogus-option", "version"],
                 ["start"], ["console"], ["create"]):
        res = d.ctl(*args, check=False)
        check(res.rc == 2, "usage error `vmmctl %s` must exit 2: %r" % (" ".join(args), res))
        check(res.err.strip(), "usage error `vmmctl %s` must say why on stderr: %r" % (" ".join(args), res))


def test_definitions_survive_restart(d):
    path = d.config_file("kept", "hello", cmdline="exit=3")
    res = d.ctl("create", path, check=False)
    check(res.rc == 0, "vmmctl create: %r" % res)
    d.restart()
    inf = d.info("kept")
    check(inf.get("state") == "created", "a defined VM must come back as created: %s" % show(inf))
    check(inf.get("config", {}).get("cmdline") == "exit=3", "its config must survive: %s" % show(inf))
    d.ctl("destroy", "kept")
    d.restart()
    expect_error(d.rpc("vm.info", {"name": "kept"}), NO_SUCH_VM, "NoSuchVm",
                 what="a destroyed VM after restart")


if __name__ == "__main__":
    vmmtest.main()
