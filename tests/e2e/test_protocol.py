#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""JSON-RPC protocol conformance of vmmd (API.md "Transport"): framing,
error codes and classes, batches, limits, discovery. Needs no KVM: every
call here is refused or answered before a VM would run."""

import json
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import methodsdoc  # noqa: E402
import vmmtest  # noqa: E402
from vmmtest import check, expect_error, error_mentions, result_of, show  # noqa: E402

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
NO_SUCH_VM, VM_EXISTS, RESOURCE_LIMIT, CONFIG_INVALID = -32000, -32002, -32004, -32007


def still_answers(conn, what):
    """The connection serves a valid call after `what`."""
    resp = conn.call("vmm.version")
    check("result" in resp, "after %s the same connection no longer answers vmm.version: %s"
          % (what, show(resp)))


def test_parse_error_keeps_connection(d):
    c = d.connect()
    for bad in (b'{"jsonrpc": "2.0", "method": "vmm.version", "id": 1\n',   # unterminated
                b'this is not json\n',
                b'{"jsonrpc":"2.0","method":"vmm.version","id":2} trailing\n'):
        resp = c.raw(bad)
        expect_error(resp, PARSE_ERROR, what="malformed line %s" % show(bad))
        check(resp.get("id") is None, "a parse error must carry id null: %s" % show(resp))
        still_answers(c, "malformed line %s" % show(bad))


def test_invalid_request(d):
    c = d.connect()
    for bad in ({"method": "vmm.version", "id": 1},                       # no jsonrpc
                {"jsonrpc": "1.0", "method": "vmm.version", "id": 2},
                {"jsonrpc": "2.0", "method": 42, "id": 3},
                {"jsonrpc": "2.0", "id": 4},
                {"jsonrpc": "2.0", "method": "vmm.version", "id": 5, "extra": 1},
                {"foo": "boo"},
                42, "vmm.version"):
        resp = c.raw(json.dumps(bad).encode() + b"\n", timeout=5)
        expect_error(resp, INVALID_REQUEST, what="request %s" % show(bad))
    still_answers(c, "invalid requests")


def test_unknown_method(d):
    resp = d.rpc("vm.frobnicate", {"name": "x"})
    err = expect_error(resp, METHOD_NOT_FOUND, what="unknown method")
    check(error_mentions(err, "vm.frobnicate"), "the error should name the method: %s" % show(err))


def test_invalid_params(d):
    cases = [("vm.info", {"name": "x", "bogus": 1}, "bogus"),          # unknown parameter
             ("vm.info", {"name": 5}, "name"),                         # wrong type
             ("vm.info", {}, "name"),                                  # missing
             ("vm.stop", {"name": "x", "force": "yes"}, "force"),
             ("vm.console.read", {"name": "x", "offset": "0"}, "offset"),
             ("vmm.version", {"verbose": True}, "verbose")]
    for method, params, param in cases:
        resp = d.rpc(method, params)
        err = expect_error(resp, INVALID_PARAMS, what="%s %s" % (method, show(params)))
        check(error_mentions(err, param), "%s %s: the error should name parameter %r: %s"
              % (method, show(params), param, show(err)))


def test_unknown_vm(d):
    for method in ("vm.info", "vm.start", "vm.pause", "vm.resume", "vm.stop", "vm.destroy"):
        expect_error(d.rpc(method, {"name": "nosuchvm"}), NO_SUCH_VM, "NoSuchVm",
                     what="%s of an unknown VM" % method)


def test_embedded_nul_refused(d):
    """Issue 14, finding 18: "spin\u0000x" was cut to "spin" by every C
    string that read it, so the call acted on another name than the one
    sent. A string (or key) holding \u0000 is refused; the connection
    stays usable."""
    c = d.connect()
    d.call("vm.create", {"config": vmmtest.guest_config("spin", "hello")})
    try:
        for raw in (b'{"jsonrpc":"2.0","method":"vm.info","params":{"name":"spin\\u0000x"},"id":1}\n',
                    b'{"jsonrpc":"2.0","method":"vm.info","params":{"na\\u0000me":"spin"},"id":2}\n',
                    b'{"jsonrpc":"2.0","method":"vm.info\\u0000.x","params":{"name":"spin"},"id":3}\n'):
            resp = c.raw(raw)
            expect_error(resp, PARSE_ERROR, what="a message with \\u0000 in a string: %s" % show(raw))
            check("\\u0000" in resp["error"]["message"], "the error says why: %s" % show(resp))
        still_answers(c, "strings with \\u0000")
        check(result_of(c.call("vm.info", {"name": "spin"}))["name"] == "spin", "vm.info spin after them")
    finally:
        d.call("vm.destroy", {"name": "spin"})


def test_oversized_message_keeps_connection(d):
    c = d.connect()
    big = {"jsonrpc": "2.0", "method": "vm.info", "id": 7, "params": {"name": "a" * (2 << 20)}}
    resp = c.raw(json.dumps(big).encode() + b"\n")
    check(isinstance(resp, dict) and "error" in resp,
          "a 2 MiB message must be refused with an error, got %s" % show(resp))
    code = resp["error"].get("code")
    if code == RESOURCE_LIMIT:
        expect_error(resp, RESOURCE_LIMIT, "ResourceLimit", what="2 MiB message")
    else:
        expect_error(resp, INVALID_REQUEST, what="2 MiB message (ResourceLimit -32004 or -32600)")
    still_answers(c, "a 2 MiB message")


def test_garbage_flood_is_cut_off(d):
    """A client streaming 100 MiB of garbage is hung up on (bounded input per
    connection) while another client keeps being served: a stream of bad
    lines (error count) and one endless line (byte count)."""
    garbage_flood(d, bytes(range(256)) * 4096)     # 1 MiB with newlines: many bad lines
    garbage_flood(d, b"x" * (1 << 20))             # 1 MiB without: one line that never ends


def garbage_flood(d, chunk):
    import threading
    sent = [0]
    result = {}

    def flood():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        try:
            while sent[0] < (100 << 20):
                s.sendall(chunk)
                sent[0] += len(chunk)
            result["cut"] = False
        except OSError as e:
            result["cut"] = True
            result["error"] = e
        finally:
            s.close()

    # Connected before the flood starts: on a loaded host vmmd can cut the
    # flood off before a connection made afterwards gets its first answer.
    other = d.connect()
    t = threading.Thread(target=flood)
    t.start()
    answered = 0
    while answered == 0 or (t.is_alive() and answered < 2000):
        result_of(other.call("vm.list"), "vm.list during the flood")
        answered += 1
    t.join(60)
    check(not t.is_alive(), "the flooding client was neither cut off nor done")
    check(result.get("cut") is True and sent[0] < (100 << 20),
          "vmmd must hang up on a garbage stream before 100 MiB (sent %d MiB)" % (sent[0] >> 20))
    still_answers(other, "a garbage flood on another connection")


def test_pipelined_and_split_messages(d):
    c = d.connect()
    two = (json.dumps({"jsonrpc": "2.0", "method": "vmm.version", "id": "a"}) + "\n"
           + json.dumps({"jsonrpc": "2.0", "method": "vm.list", "id": "b"}) + "\n").encode()
    c.send_raw(two)
    r1, r2 = c.recv_reply(), c.recv_reply()
    check(r1.get("id") == "a" and r2.get("id") == "b",
          "two messages in one write must be answered in order: %s, %s" % (show(r1), show(r2)))
    msg = json.dumps({"jsonrpc": "2.0", "method": "vmm.version", "id": 9}).encode() + b"\n"
    c.send_raw(msg[:10])
    check(c.recv(timeout=0.3) is None, "vmmd answered half a message")
    r = c.raw(msg[10:])
    check(r.get("id") == 9 and "result" in r, "a message split over two writes: %s" % show(r))


def test_batch(d):
    c = d.connect()
    batch = [{"jsonrpc": "2.0", "method": "vmm.version", "id": 1},
             {"jsonrpc": "2.0", "method": "vmm.version"},                # notification
             {"jsonrpc": "2.0", "method": "vm.list", "id": 2}]
    resp = c.raw(json.dumps(batch).encode() + b"\n")
    check(isinstance(resp, list), "a batch must get an array reply: %s" % show(resp))
    check(len(resp) == 2, "batch of 3 with one notification needs 2 responses, got %d: %s"
          % (len(resp), show(resp)))
    check([r.get("id") for r in resp] == [1, 2], "batch responses out of order: %s" % show(resp))
    check(all("result" in r for r in resp), "batch members failed: %s" % show(resp))

    # an invalid member gets its own error entry
    resp = c.raw(json.dumps([{"jsonrpc": "2.0", "method": "vmm.version", "id": 1}, 5]).encode() + b"\n")
    check(isinstance(resp, list) and len(resp) == 2, "batch with an invalid member: %s" % show(resp))
    check("result" in resp[0], "valid member of a mixed batch failed: %s" % show(resp))
    expect_error(resp[1], INVALID_REQUEST, what="invalid batch member")

    # only notifications: nothing comes back
    c.send_raw(json.dumps([{"jsonrpc": "2.0", "method": "vmm.version"}]).encode() + b"\n")
    still_answers(c, "a batch of notifications")
    check(not c.notifications, "a batch of notifications must get no reply: %s" % show(c.notifications))


def test_empty_batch(d):
    c = d.connect()
    resp = c.raw(b"[]\n")
    check(isinstance(resp, dict), "an empty batch gets one error object, not %s" % show(resp))
    expect_error(resp, INVALID_REQUEST, what="empty batch")
    still_answers(c, "an empty batch")


def test_batch_too_large(d):
    c = d.connect()
    batch = [{"jsonrpc": "2.0", "method": "vmm.version", "id": i} for i in range(129)]
    resp = c.raw(json.dumps(batch).encode() + b"\n")
    check(isinstance(resp, dict), "a batch over the limit is refused whole, got %s" % show(resp, 300))
    expect_error(resp, RESOURCE_LIMIT, "ResourceLimit", what="batch of 129")
    still_answers(c, "a batch over the limit")


def documented_methods():
    path = os.path.join(vmmtest.ROOT, "docs", "api-shapes.md")
    if not os.path.exists(path):                     # folded into the API reference
        path = os.path.join(vmmtest.ROOT, "docs", "api.md")
    with open(path) as f:
        text = f.read()
    names = set(re.findall(r"`([a-z]+(?:\.[a-z]+)+)(?: \{[^`]*\})?`", text))
    check(len(names) >= 10, "found only %s in %s" % (sorted(names), path))
    return names


def test_discover(d):
    doc = d.call("rpc.discover")
    check(isinstance(doc, dict) and isinstance(doc.get("openrpc"), str),
          "rpc.discover must return an OpenRPC document (with 'openrpc'): %s" % show(doc))
    methods = doc.get("methods")
    check(isinstance(methods, list) and all(isinstance(m, dict) and isinstance(m.get("name"), str)
                                            for m in methods),
          "OpenRPC methods must be a list of {name, ...}: %s" % show(methods))
    listed = {m["name"] for m in methods}
    missing = sorted(documented_methods() - listed)
    check(not missing, "rpc.discover lacks documented methods: %s" % ", ".join(missing))


def test_methods_doc_is_generated(d):
    """docs/methods.md is rpc.discover rendered: a method, its role or its
    parameters cannot change without the page (scripts/methods-doc)."""
    doc = d.call("rpc.discover")
    for m in doc["methods"]:
        check(m.get("x-role") in ("monitor", "debug", "admin"), "%s has no role: %s" % (m["name"], show(m)))
    want = methodsdoc.render(doc)
    check(methodsdoc.current() == want,
          "docs/methods.md is not what vmmd's method table says: run B=%s scripts/methods-doc"
          % os.path.relpath(vmmtest.B, vmmtest.ROOT))


def test_version(d):
    v = d.call("vmm.version")
    check(v.get("api") == 1, "vmm.version api must be 1: %s" % show(v))
    with open(os.path.join(vmmtest.ROOT, "VERSION")) as f:
        version = f.read().strip()
    check(v.get("version") == version, "version must be the VERSION file's %r: %s" % (version, show(v)))
    host = v.get("host")
    check(isinstance(host, dict) and host.get("virt") in ("vmx", "svm", "pvm", "none"),
          "host.virt must be vmx/svm/pvm/none: %s" % show(v))
    check(isinstance(host.get("tdp"), bool), "host.tdp must be a bool: %s" % show(v))
    modes = v.get("paging_modes")
    check(isinstance(modes, list) and "hw" in modes, "paging_modes must list hw: %s" % show(v))
    k = v.get("kvm")
    check(isinstance(k, dict) and isinstance(k.get("available"), bool),
          "kvm.available must be a bool: %s" % show(v))
    if vmmtest.kvm_problem() is None:
        check(k["available"] is True and k.get("api_version") == 12,
              "/dev/kvm opens here, so kvm.available must be true and api_version 12: %s" % show(v))
    else:
        check(k["available"] is False, "/dev/kvm cannot be opened, yet kvm.available: %s" % show(v))


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def test_host_facts(d):
    """vmm.version's host against /proc/cpuinfo: a host that is itself a VM
    (the hypervisor flag) names what runs it; nested tables have the
    host kernel's depth; vmmtest names the host kind and its quirks."""
    host = d.call("vmm.version")["host"]
    flags = cpu_flags()
    check((host.get("hypervisor") is not None) == ("hypervisor" in flags),
          "host.hypervisor must be set exactly where the CPU says it runs under one: %s" % show(host))
    if host["tdp"]:
        want = 5 if host["virt"] == "svm" and "la57" in flags else host["tdp_levels"]
        check(host["tdp_levels"] in (4, 5) and host["tdp_levels"] == want,
              "tdp_levels: the nested tables' depth (%s): %s" % ("la57" in flags, show(host)))
    else:
        check(host.get("tdp_levels") is None, "no tdp, no tdp_levels: %s" % show(host))
    kind = vmmtest.host_kind(d)
    check(kind in vmmtest.HOST_QUIRKS or kind == "none", "host kind %r is not one vmmtest knows" % kind)
    check((kind == "tcg-svm") == (host["virt"] == "svm" and host.get("hypervisor") == "TCGTCGTCGTCG"),
          "QEMU's emulator is a host kind of its own: %s, %s" % (kind, show(host)))
    out = d.ctl("version", json=False)
    check("host tdp:" in out and ("host runs on:  %s" % (host.get("hypervisor") or "bare metal")) in out,
          "vmmctl version names the host: %s" % out)
    if kind == "tcg-svm":
        # QEMU's -cpu max offers nested paging (make check-nested): KVM uses it.
        check(host["tdp"] and re.search(r"^host tdp: +yes", out, re.M),
              "AMD-V emulated by QEMU has nested paging: %s" % out)
    # The host as vmmctl names it, in the test's log (and on make check-nested's console).
    print("".join(line + "\n" for line in out.splitlines() if line.startswith("host")), end="")


def test_bad_config(d):
    kernel = vmmtest.guest_path("hello")
    good = {"name": "badcfg", "kernel": kernel}
    cases = [("memory_mib", {"memory_mib": 1}),
             ("memory_mib", {"memory_mib": "64"}),
             ("vcpus", {"vcpus": 0}),
             ("paging", {"paging": "bogus"}),
             ("name", {"name": "bad name!"}),
             ("colour", {"colour": "blue"}),                  # unknown field
             ("kernel", {"kernel": "relative/path.elf"}),
             ("shadow.strategy", {"shadow": {"strategy": "bogus"}})]
    for field, change in cases:
        cfg = dict(good, **change)
        resp = d.rpc("vm.create", {"config": cfg})
        err = expect_error(resp, CONFIG_INVALID, "ConfigInvalid", what="vm.create %s" % show(change))
        got = (err.get("data") or {}).get("field")
        check(got == field, "vm.create %s: data.field must be %r, got %s" % (show(change), field, show(got)))
    cfg = dict(good)
    del cfg["kernel"]
    err = expect_error(d.rpc("vm.create", {"config": cfg}), CONFIG_INVALID, "ConfigInvalid",
                       what="vm.create without kernel")
    check((err.get("data") or {}).get("field") == "kernel", "missing kernel: data.field: %s" % show(err))
    names = [vm["name"] for vm in d.call("vm.list")["vms"]]
    check(not names, "refused configs must leave no VM behind: %s" % names)


def test_duplicate_create(d):
    cfg = vmmtest.guest_config("dup", "hello")
    resp = d.rpc("vm.create", {"config": cfg})
    r = result_of(resp, "vm.create dup")
    check(r.get("name") == "dup" and r.get("state") == "created", "vm.create result: %s" % show(r))
    expect_error(d.rpc("vm.create", {"config": cfg}), VM_EXISTS, "VmExists", what="second vm.create dup")
    check(d.state("dup") == "created", "the refused duplicate changed the VM")
    check(d.call("vm.destroy", {"name": "dup"}).get("name") == "dup", "vm.destroy result")
    expect_error(d.rpc("vm.info", {"name": "dup"}), NO_SUCH_VM, "NoSuchVm", what="vm.info after destroy")
    result_of(d.rpc("vm.create", {"config": cfg}), "vm.create dup after destroy")
    d.call("vm.destroy", {"name": "dup"})


def test_daemon_still_serves(d):
    # Runs last: everything above went to this same daemon.
    v = d.call("vmm.version")
    check(v.get("api") == 1, "vmm.version after the abuse: %s" % show(v))
    check(isinstance(d.call("vm.list").get("vms"), list), "vm.list after the abuse")


def test_sigterm_exits_zero(d):
    own = vmmtest.Daemon()
    try:
        own.start()
        own.call("vmm.version")
        rc = own.terminate()
        check(rc == 0, "vmmd must exit 0 on SIGTERM, got %s%s" % (own.exit_text(), own.log_tail()))
        check(not os.path.exists(own.sock) or not _connectable(own.sock),
              "vmmd still accepts connections after exiting")
    finally:
        own.stop()


def _connectable(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


if __name__ == "__main__":
    vmmtest.main()
