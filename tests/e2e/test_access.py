#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Access control by peer credentials (issue 7, vmmd/access.h): a client's
uid and groups (SO_PEERCRED, SO_PEERGROUPS) give it a role — admin,
debug, monitor or none — and a client is refused every method above its
role, with PermissionDenied (-32005), before its parameters are even
looked at. `monitor` (the default for others) sees no guest data: no
command line, console, registers or page tables (issue 14, finding 15).
Needs root (to connect as other users); KVM for the calls on a running
VM."""

import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import Skip, check, expect_error, result_of, show  # noqa: E402

PERMISSION_DENIED, NO_SUCH_VM, METHOD_NOT_FOUND, RESOURCE_LIMIT = -32005, -32000, -32601, -32004
NOBODY = 65534

def require_root():
    if os.geteuid() != 0:
        raise Skip("needs root to connect to vmmd as other users")


def others_can_enter(path):
    """True when other users may pass through every folder from / to path."""
    path = os.path.realpath(path)
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        if path == "/":
            return True
        path = os.path.dirname(path)


def open_up(d):
    """Let other users reach d's socket (the test's temporary folder is 0700)."""
    check(others_can_enter(os.path.dirname(d.tmp)),
          "other users cannot reach %s (TMPDIR?), so they cannot reach vmmd's socket" % os.path.dirname(d.tmp))
    os.chmod(d.tmp, 0o755)
    os.chmod(d.sock, 0o666)


@contextlib.contextmanager
def copied_for_others(program):
    """A copy of program that other users can run, in a private temporary
    folder (0711: they can reach a file they know the name of, not list or
    change anything), removed afterwards. The checkout itself may sit where
    other users cannot go: /root is 0700 on Debian."""
    folder = tempfile.mkdtemp(prefix="vmmtest-others.")
    try:
        check(others_can_enter(os.path.dirname(folder)),
              "other users cannot reach %s (TMPDIR?)" % os.path.dirname(folder))
        os.chmod(folder, 0o711)
        copy = os.path.join(folder, os.path.basename(program))
        shutil.copyfile(program, copy)
        os.chmod(copy, 0o755)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_as_nobody(argv, **kw):
    """subprocess.run of argv as nobody (no supplementary groups)."""
    def drop():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    return subprocess.run(argv, preexec_fn=drop, capture_output=True, timeout=30, cwd="/", **kw)


def as_user(d, uid, gid, groups, reqs):
    """Replies to reqs [(method, params)] sent by a client running as uid:
    a forked child drops to uid/gid/groups, sends each request and reports
    each reply (or what ended the connection) through a pipe. With reqs
    None it only reads what vmmd sends unasked until EOF."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: never returns into the test runner
        out = []
        try:
            os.close(rfd)
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(d.sock)
            f = s.makefile("rb")
            while reqs is None:
                line = f.readline()
                out.append(json.loads(line) if line else {"eof": True})
                if not line:
                    break
            for i, (method, params) in enumerate(reqs or []):
                msg = {"jsonrpc": "2.0", "method": method, "id": i + 1}
                if params is not None:
                    msg["params"] = params
                try:
                    s.sendall(json.dumps(msg).encode() + b"\n")
                    line = f.readline()
                except OSError as e:
                    out.append({"io_error": str(e)})
                    break
                if not line:
                    out.append({"eof": True})
                    break
                out.append(json.loads(line))
        except BaseException as e:   # noqa: B902 - report anything to the parent
            out.append({"child_error": "%s: %s" % (type(e).__name__, e)})
        finally:
            os.write(wfd, json.dumps(out).encode())
            os._exit(0)
    os.close(wfd)
    data = b""
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    out = json.loads(data or b"[]")
    for r in out:
        check("child_error" not in r, "client as uid %d failed: %s" % (uid, r.get("child_error")))
    return out


def daemon_with(d, *args):
    """A second vmmd with access options (the file's own d keeps defaults)."""
    other = vmmtest.Daemon()
    other.start(list(args))
    return other


def test_read_only_client(d):
    require_root()
    open_up(d)
    replies = as_user(d, NOBODY, NOBODY, [], [
        ("vmm.version", None),
        ("vm.list", None),
        ("vm.info", {"name": "nosuchvm"}),
        ("vm.pause", {"name": "nosuchvm"}),
        ("vm.create", {"config": {"name": "x"}}),
        ("vm.destroy", {"name": "nosuchvm", "bogus": 1}),
        ("mem.read", {"name": "nosuchvm"}),
        ("no.such.method", None),
        ("events.subscribe", {"topics": ["state"]}),
    ])
    check(len(replies) == 9, "expected 9 replies, got %s" % show(replies))
    result_of(replies[0], "vmm.version as nobody")
    result_of(replies[1], "vm.list as nobody")
    expect_error(replies[2], NO_SUCH_VM, "NoSuchVm", what="vm.info as nobody")
    for r, m in zip(replies[3:7], ("vm.pause", "vm.create", "vm.destroy (with a bad param)", "mem.read")):
        expect_error(r, PERMISSION_DENIED, "PermissionDenied", what="%s as a read-only client" % m)
        check("admin" in r["error"]["message"] and str(NOBODY) in r["error"]["message"],
              "the refusal should name the role needed and the uid: %s" % show(r))
    expect_error(replies[7], METHOD_NOT_FOUND, what="an unknown method as nobody")
    result_of(replies[8], "events.subscribe as nobody")


def test_read_only_vmmctl_exit_status(d):
    require_root()
    open_up(d)
    with copied_for_others(vmmtest.VMMCTL) as vmmctl:
        p = run_as_nobody([vmmctl, "--socket", d.sock, "pause", "nosuchvm"])
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 1 and "PermissionDenied" in err,
          "vmmctl pause as nobody: exit %d, stderr %r (want 1 and PermissionDenied)" % (p.returncode, err))


def test_vmmctl_copy_runs_where_the_checkout_is_private(d):
    """The checkout may live where nobody cannot go (/root, 0700): a vmmctl
    there is out of nobody's reach, its private copy is not, and the copy's
    folder is gone afterwards."""
    require_root()
    open_up(d)
    private = tempfile.mkdtemp(prefix="vmmtest-private.")   # 0700, as /root
    try:
        hidden = os.path.join(private, "vmmctl")
        shutil.copyfile(vmmtest.VMMCTL, hidden)
        os.chmod(hidden, 0o755)
        try:
            p = run_as_nobody([hidden, "--socket", d.sock, "version"])
            vmmtest.fail("nobody ran a vmmctl inside a 0700 folder (exit %d): the check is void" % p.returncode)
        except PermissionError:
            pass
        with copied_for_others(hidden) as vmmctl:
            folder = os.path.dirname(vmmctl)
            p = run_as_nobody([vmmctl, "--socket", d.sock, "version"])
        check(p.returncode == 0 and b"api:" in p.stdout,
              "the copy runs as nobody: exit %d, %r %r" % (p.returncode, p.stdout, p.stderr))
        check(not os.path.exists(folder), "the copy's folder %s was left behind" % folder)
    finally:
        shutil.rmtree(private, ignore_errors=True)


@vmmtest.kvm
def test_read_only_cannot_pause_running_vm(d):
    require_root()
    open_up(d)
    d.run_vm("ro", "spin")
    d.wait_state("ro", "running")
    replies = as_user(d, NOBODY, NOBODY, [], [("vm.pause", {"name": "ro"}), ("vm.stop", {"name": "ro"}),
                                              ("vm.info", {"name": "ro"})])
    expect_error(replies[0], PERMISSION_DENIED, "PermissionDenied", what="vm.pause by a read-only client")
    expect_error(replies[1], PERMISSION_DENIED, "PermissionDenied", what="vm.stop by a read-only client")
    check(result_of(replies[2])["state"] == "running", "vm.info as nobody: %s" % show(replies[2]))
    check(d.state("ro") == "running", "the VM did not stay running")
    d.wait_progress("ro")
    d.call("vm.stop", {"name": "ro", "force": True})


def test_rules_and_others(d):
    require_root()
    other = daemon_with(d, "--no-access", "40003", "--admin", "@4242", "--read-only", "40001",
                        "--debug", "@4343", "--monitor", "40004", "--others", "none")
    try:
        open_up(other)
        # Admin through a supplementary group: the call gets past the role check.
        r = as_user(other, 40000, 40000, [4242], [("vm.pause", {"name": "nosuchvm"})])
        expect_error(r[0], NO_SUCH_VM, "NoSuchVm", what="vm.pause by a member of an admin group")
        # Read-only by uid.
        r = as_user(other, 40001, 40001, [], [("vm.list", None), ("vm.pause", {"name": "nosuchvm"})])
        result_of(r[0], "vm.list by a read-only uid")
        expect_error(r[1], PERMISSION_DENIED, "PermissionDenied", what="vm.pause by a read-only uid")
        # --debug by group, --monitor by uid: vmm.whoami says which.
        for uid, groups, role in ((40005, [4343], "debug"), (40004, [], "monitor"), (40001, [], "debug")):
            r = as_user(other, uid, uid, groups, [("vmm.whoami", None), ("vm.console.read", {"name": "nosuchvm"})])
            check(result_of(r[0])["role"] == role, "uid %d in %s: %s, want %s" % (uid, groups, show(r[0]), role))
            expect_error(r[1], NO_SUCH_VM if role == "debug" else PERMISSION_DENIED,
                         what="vm.console.read as %s" % role)
        # The first matching rule wins: uid 40003 is refused though in the admin group.
        for uid, groups in ((40002, []), (40003, [4242])):
            r = as_user(other, uid, uid, groups, None)
            check(len(r) == 2 and r[0].get("error", {}).get("code") == PERMISSION_DENIED and r[1].get("eof"),
                  "uid %d (no role) should get PermissionDenied unasked, then EOF: %s" % (uid, show(r)))
            vmmtest.expect_error(r[0], PERMISSION_DENIED, "PermissionDenied", what="a refused connection")
        # Root is always admin.
        result_of(other.rpc("vm.list"), "vm.list by root")
        other.check_alive()
    finally:
        other.stop()


def test_many_groups_deny_rule(d):
    """Issue 14, finding 12: with more than 64 supplementary groups the
    kernel's SO_PEERGROUPS said ERANGE and vmmd ignored every group, so a
    --no-access @GROUP rule let its members in (fail open). All groups are
    read now: a member in group 50080 of 100 is refused; one not in it is
    not, and an admin rule for a group found late applies too."""
    require_root()
    groups = [50000 + i for i in range(100)]
    other = daemon_with(d, "--no-access", "@50080", "--admin", "@50099")
    try:
        open_up(other)
        r = as_user(other, 40010, 40010, groups, None)
        check(len(r) == 2 and r[0].get("error", {}).get("code") == PERMISSION_DENIED and r[1].get("eof"),
              "a member of 100 groups, one of them refused, must be refused: %s" % show(r))
        r = as_user(other, 40011, 40011, [g for g in groups if g != 50080], [("vm.pause", {"name": "nosuchvm"})])
        expect_error(r[0], NO_SUCH_VM, "NoSuchVm", what="vm.pause by a member of admin group 50099 (the 99th)")
    finally:
        other.stop()


GUEST_LOOKS = [("vcpu.state", {"name": "sec"}), ("vm.console.read", {"name": "sec", "max": 4096}),
               ("mmu.translate", {"name": "sec", "addr": 0}), ("mmu.guest", {"name": "sec", "limit": 1}),
               ("bus.map", {"name": "sec"}), ("events.subscribe", {"topics": ["state", "console"]})]
MONITOR_LOOKS = [("vmm.whoami", None), ("vm.list", None), ("vm.info", {"name": "sec"}), ("stats.get", {"name": "sec"}),
                 ("vmm.stats", None), ("vmm.version", None), ("events.subscribe", {"topics": ["state", "fault", "stats"]})]


@vmmtest.kvm
def test_monitor_and_debug_roles(d):
    """Finding 15: `read` was split. Others (here nobody) get `monitor` by
    default: the VM list, vm.info without its command line, counters and
    state events, and nothing the guest holds: its console, registers, page
    tables, bus map and console events are `debug`'s, which --read-only
    (today: --debug, test_rules_and_others) gives."""
    require_root()
    other = daemon_with(d, "--read-only", "40010")
    try:
        open_up(other)
        other.run_vm("sec", "spin", "interval=3000000 secret=hunter2", paging="shadow")
        other.wait_progress("sec")
        check("hunter2" in other.call("vm.info", {"name": "sec"})["config"]["cmdline"], "root sees the cmdline")

        mon = as_user(other, NOBODY, NOBODY, [], MONITOR_LOOKS + GUEST_LOOKS)
        check(len(mon) == len(MONITOR_LOOKS + GUEST_LOOKS), "a reply to each call as monitor: %s" % show(mon))
        for r, (m, _) in zip(mon[len(MONITOR_LOOKS):], GUEST_LOOKS):
            expect_error(r, PERMISSION_DENIED, "PermissionDenied", what="%s as monitor" % m)
            check("debug" in r["error"]["message"], "the refusal names the debug role: %s" % show(r))
        info = result_of(mon[2], "vm.info as monitor")
        check(info["config"].get("cmdline") is None and (info.get("boot") or {}).get("cmdline") is None and
              info["config"].get("kernel") and info["state"] == "running" and "hunter2" not in json.dumps(info),
              "vm.info as monitor: the VM without its command lines: %s" % show(info))
        check(info.get("hidden", {}).get("role") == "debug", "and it says what it left out: %s" % show(info))
        for r, (m, _) in zip(mon[1:len(MONITOR_LOOKS)], MONITOR_LOOKS[1:]):
            result_of(r, "%s as monitor" % m)
        who = result_of(mon[0], "vmm.whoami as nobody")
        check(who["role"] == "monitor" and who["uid"] == NOBODY and "vcpu.state" not in who["methods"] and
              "vm.info" in who["methods"] and who["topics"] == ["state", "fault", "stats"],
              "nobody is monitor by default: %s" % show(who))

        dbg = as_user(other, 40010, 40010, [], MONITOR_LOOKS + GUEST_LOOKS)
        check(result_of(dbg[0])["role"] == "debug", "--read-only gives the debug role: %s" % show(dbg[0]))
        for r, (m, _) in zip(dbg[1:], MONITOR_LOOKS[1:] + GUEST_LOOKS):
            result_of(r, "%s as debug" % m)
        check("hunter2" in result_of(dbg[2])["config"]["cmdline"], "debug sees the cmdline: %s" % show(dbg[2]))
        for m in ("vm.pause", "mem.read"):
            r = as_user(other, 40010, 40010, [], [(m, {"name": "sec", "addr": 0, "len": 1})])[0]
            expect_error(r, PERMISSION_DENIED, "PermissionDenied", what="%s as debug" % m)
        other.call("vm.stop", {"name": "sec", "force": True})
        other.check_alive()
    finally:
        other.stop()


@vmmtest.kvm
def test_inspection_is_paced(d):
    """Finding 14: a read user could slow a guest by a third with inspection
    calls. Calls that hold the guest's vCPUs (vcpu.state, the MMU views) are
    paced per connection below admin: after a burst, ResourceLimit naming
    limits.inspect_per_second and when to retry; calls that hold nothing
    (stats.get), and admins, are not."""
    require_root()
    other = daemon_with(d, "--read-only", "40020")
    try:
        open_up(other)
        other.run_vm("paced", "spin", "interval=3000000", paging="shadow")
        other.wait_progress("paced")
        calls = [("vcpu.state", {"name": "paced"})] * 50 + [("stats.get", {"name": "paced"})] * 20
        t0 = time.monotonic()
        r = as_user(other, 40020, 40020, [], calls)
        took = time.monotonic() - t0
        check(len(r) == len(calls), "a reply to each call: %d of %d" % (len(r), len(calls)))
        limited = [x for x in r[:50] if x.get("error", {}).get("code") == RESOURCE_LIMIT]
        served = [x for x in r[:50] if "result" in x]
        # The bucket holds 20 and refills 20 a second: however long a loaded
        # host took over the served calls, no more than that is served.
        check(20 <= len(served) <= 20 + 20 * took and len(limited) == 50 - len(served),
              "50 vcpu.state at once as debug: a burst of 20 served, then 20 a second, the rest refused "
              "(%d served in %.2f s, %d limited)" % (len(served), took, len(limited)))
        data = limited[0]["error"].get("data", {})
        check(data.get("limit") == "inspect_per_second" and data.get("max") == 20 and data.get("retry_after_ms", 0) > 0,
              "the refusal names the limit and when to retry: %s" % show(limited[0]))
        for x in r[50:]:
            result_of(x, "stats.get, which holds nothing, is not paced")
        for i in range(50):
            other.call("vcpu.state", {"name": "paced"})   # root: admin, not paced
        other.call("vm.stop", {"name": "paced", "force": True})
    finally:
        other.stop()


def test_bad_access_options(d):
    for args, word in ((["--admin", "no-such-user-xyzzy"], "no such user"),
                       (["--read-only", "@no-such-group-xyzzy"], "no such user or group"),
                       (["--others", "everyone"], "none, monitor, debug or admin"),
                       (["--debug", "no-such-user-xyzzy"], "--debug 'no-such-user-xyzzy': no such user"),
                       (["--monitor", "@no-such-group-xyzzy"], "--monitor '@no-such-group-xyzzy': no such user")):
        p = subprocess.run([vmmtest.VMMD, "--socket", os.path.join(d.tmp, "bad.sock"),
                            "--state-dir", os.path.join(d.tmp, "bad-state")] + args,
                           capture_output=True, timeout=30)
        err = p.stderr.decode(errors="replace")
        check(p.returncode == 2 and word in err,
              "vmmd %s: exit %d, stderr %r (want 2 and %r)" % (" ".join(args), p.returncode, err, word))


if __name__ == "__main__":
    vmmtest.main()
