#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The daemon config file, `vmmd --config FILE` (docs/operations.md,
config/daemon_config.h): a bad file stops vmmd before it serves, naming
the file and the field; each limit is enforced (max_vms,
max_total_memory_mib, console_buffer_kib, max_connections,
max_message_kib); the file's access rules apply, and command-line options
come first. Each test starts its own vmmd with a config in its temporary
folder. KVM only where a guest must run; access rules need root."""

import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_access  # noqa: E402  (as_user, open_up, require_root)
import vmmtest  # noqa: E402
from vmmtest import check, expect_error, result_of, show, wait_for  # noqa: E402

RESOURCE_LIMIT, INVALID_PARAMS, NO_SUCH_VM, PERMISSION_DENIED = -32004, -32602, -32000, -32005


def write_config(tmp, cfg, name="vmmd.json"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        if isinstance(cfg, str):
            f.write(cfg)
        else:
            json.dump(cfg, f, indent=2)
    return path


def with_config(d, cfg, *args):
    """A second vmmd started with --config (a file in its own folder) and args."""
    other = vmmtest.Daemon()
    try:
        path = write_config(other.tmp, cfg)
        other.start(["--config", path] + list(args))
    except BaseException:
        other.stop()
        raise
    return other


def test_bad_config_refused(d):
    """Each bad file: exit status 1, "vmmd: FILE: FIELD: why" on stderr, no socket."""
    cases = [
        ('{ "limits": { "max_vms": 0 } }', "limits.max_vms: must be between 1 and 65536"),
        ('{ "limits": { "max_conections": 8 } }', "limits.max_conections: unknown field"),
        ('{ "limits": { "console_buffer_kib": 2 } }', "limits.console_buffer_kib: must be between 4 and 16384"),
        ('{ "limits": { "max_message_kib": 16 } }', "limits.max_message_kib: must be between 64 and 8192"),
        ('{ "access": { "others": "everyone" } }', "access.others: must be"),
        ('{ "access": { "admin": ["@"] } }', "access.admin[0]: expected a user name"),
        ('{ "access": { "read_only": ["root", "no-such-user-xyzzy"] } }',
         "access.read_only[1]: 'no-such-user-xyzzy': no such user or group"),
        ('{ "access": { "admin": ["@no-such-group-xyzzy"] } }', "access.admin[0]: '@no-such-group-xyzzy': no such"),
        ('{ "access": {} , }', "not valid JSON at line 1"),
        ('{\n  "limits": {\n    "max_vms": 2,\n  }\n}\n', "not valid JSON at line 4"),
        ("[]", "expected an object"),
        ("", "empty file"),
    ]
    sock = os.path.join(d.tmp, "bad.sock")
    for i, (text, want) in enumerate(cases):
        path = write_config(d.tmp, text, "bad-%d.json" % i)
        p = subprocess.run([vmmtest.VMMD, "--config", path, "--socket", sock,
                            "--state-dir", os.path.join(d.tmp, "bad-state")],
                           capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        err = p.stderr.decode(errors="replace")
        check(p.returncode == 1, "vmmd with config %r: exit %d (want 1), stderr %r" % (text, p.returncode, err))
        check("%s: %s" % (path, want) in err,
              "vmmd with config %r should say %r, stderr: %r" % (text, "%s: %s" % (path, want), err))
        check(not os.path.exists(sock), "vmmd created its socket despite a bad config %r" % text)
    missing = os.path.join(d.tmp, "no-such-config.json")
    p = subprocess.run([vmmtest.VMMD, "--config", missing, "--socket", sock], capture_output=True, timeout=30)
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 1 and "%s: cannot open: No such file" % missing in err,
          "vmmd with a missing config: exit %d, stderr %r" % (p.returncode, err))


def test_max_vms(d):
    other = with_config(d, {"limits": {"max_vms": 2}})
    try:
        for name in ("a", "b"):
            other.create(name, "hello")
        resp = other.rpc("vm.create", {"config": vmmtest.guest_config("c", "hello")})
        err = expect_error(resp, RESOURCE_LIMIT, "ResourceLimit", what="a third vm.create with max_vms 2")
        check("2" in err["message"] and "max_vms" in err["message"],
              "the refusal should name the limit and its value: %s" % show(err))
        check(err["data"].get("limit") == "max_vms" and err["data"].get("max") == 2,
              "error.data should carry limit and max: %s" % show(err))
        names = sorted(v["name"] for v in other.call("vm.list")["vms"])
        check(names == ["a", "b"], "vm.list after the refused create: %s" % names)
        other.call("vm.destroy", {"name": "a"})
        other.create("c", "hello")
        # Definitions beyond a lowered limit still load after a restart.
        other.terminate()
        write_config(other.tmp, {"limits": {"max_vms": 1}})
        other.start(["--config", os.path.join(other.tmp, "vmmd.json")])
        names = sorted(v["name"] for v in other.call("vm.list")["vms"])
        check(names == ["b", "c"], "a restart with max_vms 1 lost definitions: %s" % names)
        expect_error(other.rpc("vm.create", {"config": vmmtest.guest_config("d", "hello")}),
                     RESOURCE_LIMIT, "ResourceLimit", what="vm.create over a lowered max_vms")
    finally:
        other.stop()


@vmmtest.kvm
def test_max_total_memory(d):
    other = with_config(d, {"limits": {"max_total_memory_mib": 100}})
    try:
        other.run_vm("a", "spin", memory_mib=64)
        other.wait_state("a", "running")
        other.create("b", "spin", memory_mib=64)
        resp = other.rpc("vm.start", {"name": "b"})
        err = expect_error(resp, RESOURCE_LIMIT, "ResourceLimit", what="vm.start over max_total_memory_mib")
        for word in ("128", "100", "max_total_memory_mib"):
            check(word in err["message"], "the refusal should name %s: %s" % (word, show(err)))
        data = err["data"]
        check(data.get("limit") == "max_total_memory_mib" and data.get("max") == 100
              and data.get("in_use_mib") == 64 and data.get("requested_mib") == 64,
              "error.data: %s" % show(data))
        inf = other.info("b")
        check(inf["state"] == "created" and inf.get("pid") is None,
              "the refused VM should not have started: %s" % show(inf))
        check(other.state("a") == "running", "the running VM did not stay running")
        other.wait_progress("a")
        # 64 + 32 fits; a paused VM still holds its memory.
        other.run_vm("c", "spin", memory_mib=32)
        other.wait_state("c", "running")
        other.call("vm.pause", {"name": "a"})
        expect_error(other.rpc("vm.start", {"name": "b"}), RESOURCE_LIMIT, "ResourceLimit",
                     what="vm.start while the other VMs are paused/running")
        # Once a is stopped its memory is free again.
        other.call("vm.stop", {"name": "a", "force": True})
        other.wait_state("a", ("stopped", "crashed"))
        other.start_vm("b")
        other.wait_state("b", "running")
        other.wait_progress("c")
        for name in ("b", "c"):
            other.call("vm.stop", {"name": name, "force": True})
    finally:
        other.stop()


def host_memory_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise vmmtest.Failure("no MemTotal in /proc/meminfo")


@vmmtest.kvm
def test_guest_memory_defaults_to_a_share_of_the_host(d):
    """Finding 17: guest memory was unlimited by default, and guests map it
    MAP_NORESERVE, so together they could promise far more than the host
    has. Not given, limits.max_total_memory_mib is 3/4 of MemTotal
    (vmm.stats shows it); filling it with 3 GiB VMs, the next start is
    refused. An explicit 0 still means unlimited."""
    limit = host_memory_mib() // 4 * 3
    other = vmmtest.Daemon()
    other.start()
    try:
        st = other.call("vmm.stats")
        check(st.get("guest_memory", {}).get("limit_mib") == limit,
              "the default limit is 3/4 of MemTotal (%d MiB): %s" % (limit, show(st.get("guest_memory"))))
        n = limit // 3072
        if n > 12:
            print("  note: %d MiB of guests fill this host; not filling it with %d VMs" % (limit, n + 1))
            return
        for i in range(n):
            other.run_vm("big%d" % i, "spin", "interval=3000000", paging="shadow", memory_mib=3072)
            other.call("vm.pause", {"name": "big%d" % i})
        check(other.call("vmm.stats")["guest_memory"]["in_use_mib"] == n * 3072, "in use: %d VMs" % n)
        other.create("over", "spin", memory_mib=3072)
        err = expect_error(other.rpc("vm.start", {"name": "over"}), RESOURCE_LIMIT, "ResourceLimit",
                           what="a start past 3/4 of the host's memory")
        check(err["data"].get("limit") == "max_total_memory_mib" and err["data"].get("max") == limit,
              "it names the limit: %s" % show(err))
        for i in range(n):
            other.call("vm.stop", {"name": "big%d" % i, "force": True})
    finally:
        other.stop()
    unlimited = with_config(d, {"limits": {"max_total_memory_mib": 0}})
    try:
        check(unlimited.call("vmm.stats")["guest_memory"]["limit_mib"] == 0, "0 given: unlimited")
    finally:
        unlimited.stop()


@vmmtest.kvm
def test_console_buffer(d):
    """console_buffer_kib 4: only the last 4 KiB are kept; vm.console.read
    from 0 says where the kept part starts (`start`) and how much was lost."""
    other = with_config(d, {"limits": {"console_buffer_kib": 4}})
    try:
        other.run_vm("chatty", "spin", "interval=1000")
        wait_for(lambda: other.info("chatty")["console_bytes"] > 3 * 4096, 30, 0.1,
                 "the guest to print more than 12 KiB")
        data, nxt, r = other.console("chatty", 0, 65536)
        check(0 < len(data) <= 4096, "read %d bytes from a 4 KiB console" % len(data))
        check(r["start"] > 0 and r["lost"] == r["start"],
              "from offset 0, start and lost should say what was dropped: %s" % show({k: r[k] for k in r if k != "data"}))
        check(nxt == r["lost"] + len(data) and nxt > 3 * 4096,
              "offset %d should be lost + data (%d + %d)" % (nxt, r["lost"], len(data)))
        text = data.decode(errors="replace")
        check("spin: " in text, "the tail should hold the guest's lines: %s" % show(data, 200))
        check(not text.startswith("spin: 0\n"), "the head of the output was kept: %s" % show(data, 200))
        ring = os.path.join(other.state_dir, "chatty.console")
        size = os.path.getsize(ring)   # a header page, then the ring
        check(size == 4096 + 4096, "the console ring file is %d bytes, not 4 KiB + its header page" % size)
        other.call("vm.stop", {"name": "chatty", "force": True})
    finally:
        other.stop()


def refused_connection(path):
    """Connect and read everything vmmd sends before it closes: [lines]."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    buf = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    return [json.loads(line) for line in buf.split(b"\n") if line]


def test_max_connections(d):
    other = with_config(d, {"limits": {"max_connections": 3}})
    conns = []
    try:
        def one_more():
            # The start-up probe's connection may not be gone yet: retry a refusal.
            c = other.connect(timeout=5)
            try:
                c.send({"jsonrpc": "2.0", "method": "vmm.version", "id": 1})
                if "result" in c.recv():
                    return c
            except vmmtest.Failure:   # refused: the error line, then EOF
                pass
            c.close()
            return None
        for _ in range(3):
            conns.append(wait_for(one_more, 10, 0.05, "a connection within max_connections"))
        lines = refused_connection(other.sock)
        check(len(lines) == 1, "the 4th connection should get one error line, then EOF: %s" % show(lines))
        err = expect_error(lines[0], RESOURCE_LIMIT, "ResourceLimit", what="the 4th connection")
        check("max_connections" in err["message"] and "3" in err["message"],
              "the refusal should name the limit: %s" % show(err))
        for c in conns:   # the first three are still served
            result_of(c.call("vm.list"), "vm.list on an accepted connection")
        conns.pop().close()
        conns.append(wait_for(one_more, 10, 0.05, "a connection after one closed"))
        other.check_alive()
    finally:
        for c in conns:
            c.close()
        other.stop()


def test_max_message(d):
    other = with_config(d, {"limits": {"max_message_kib": 64}})
    try:
        c = other.connect()

        def padded(size, id):
            msg = {"jsonrpc": "2.0", "method": "vm.list", "params": {"pad": ""}, "id": id}
            msg["params"]["pad"] = "x" * (size - len(json.dumps(msg)))
            return json.dumps(msg).encode() + b"\n"
        resp = c.raw(padded(100 * 1024, 1))
        err = expect_error(resp, RESOURCE_LIMIT, "ResourceLimit", what="a 100 KiB message with max_message_kib 64")
        check("65536" in err["message"], "the error should give the limit in bytes: %s" % show(err))
        # Under the limit: judged on its content (an unknown parameter), not its size.
        expect_error(c.raw(padded(60 * 1024, 2)), INVALID_PARAMS, what="a 60 KiB message")
        result_of(c.call("vm.list"), "vm.list after an oversized message")
        # The default daemon takes the 100 KiB message.
        expect_error(d.conn.raw(padded(100 * 1024, 3)), INVALID_PARAMS, what="100 KiB with the default limit")
    finally:
        other.stop()


def test_access_from_file(d):
    test_access.require_root()
    cfg = {"access": {"admin": ["@4242"], "read_only": ["40001", "40004"], "no_access": ["40003"],
                      "debug": ["40005"], "monitor": ["@4343"], "others": "none"}}
    other = with_config(d, cfg)
    try:
        test_access.open_up(other)
        r = test_access.as_user(other, 40000, 40000, [4242], [("vm.pause", {"name": "nosuchvm"})])
        expect_error(r[0], NO_SUCH_VM, "NoSuchVm", what="vm.pause by a member of the file's admin group")
        r = test_access.as_user(other, 40001, 40001, [], [("vm.list", None), ("vm.pause", {"name": "x"})])
        result_of(r[0], "vm.list by the file's read-only uid")
        expect_error(r[1], PERMISSION_DENIED, "PermissionDenied", what="vm.pause by the file's read-only uid")
        # "others": "none"; and a user rule beats a group rule: 40003 is refused though in @4242.
        for uid, groups in ((40002, []), (40003, [4242])):
            r = test_access.as_user(other, uid, uid, groups, None)
            check(len(r) == 2 and r[0].get("error", {}).get("code") == PERMISSION_DENIED and r[1].get("eof"),
                  "uid %d should get PermissionDenied unasked, then EOF: %s" % (uid, show(r)))
        # The file's debug and monitor lists; read_only is debug's old name.
        for uid, groups, role in ((40005, [4343], "debug"), (40006, [4343], "monitor"), (40001, [], "debug")):
            r = test_access.as_user(other, uid, uid, groups, [("vmm.whoami", None)])
            check(result_of(r[0])["role"] == role, "uid %d %s: %s, want %s" % (uid, groups, show(r[0]), role))
        result_of(other.rpc("vm.list"), "vm.list by root")
    finally:
        other.stop()

    # Command-line options come first and --others replaces the file's.
    other = with_config(d, cfg, "--admin", "40001", "--others", "read")
    try:
        test_access.open_up(other)
        r = test_access.as_user(other, 40001, 40001, [], [("vm.pause", {"name": "nosuchvm"})])
        expect_error(r[0], NO_SUCH_VM, "NoSuchVm", what="vm.pause by uid 40001 (--admin beats the file)")
        r = test_access.as_user(other, 40004, 40004, [], [("vm.pause", {"name": "nosuchvm"})])
        expect_error(r[0], PERMISSION_DENIED, "PermissionDenied", what="vm.pause by the file's other read-only uid")
        r = test_access.as_user(other, 40002, 40002, [], [("vm.list", None), ("vm.pause", {"name": "x"})])
        result_of(r[0], "vm.list by an 'others' uid with --others read")
        expect_error(r[1], PERMISSION_DENIED, "PermissionDenied", what="vm.pause with --others read")
    finally:
        other.stop()


if __name__ == "__main__":
    vmmtest.main()
