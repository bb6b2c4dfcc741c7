#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Files a VM uses (docs/operations.md "File access", issue 14 findings 4
and 10): the kernel, initrd, disks and console log are opened with the
rights of whoever names them. vmmctl opens them as its user and passes
the descriptors; vmmd takes paths only from root, or inside the folders
its config names; kernels, initrds and logs must be regular files, disks
regular files or block devices; a console log is never opened through a
symbolic link. A file that would block (a FIFO) is refused, a boot has a
deadline, and `vm.stop --force` ends a worker whatever it is doing. Root
for other users and mkfifo's ownership games; KVM where a guest runs."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ["VMMD_TEST_HOOKS"] = "1"   # VMMD_TEST_STOP_BOOT below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_access  # noqa: E402  (as_user, open_up, require_root)
import vmmtest  # noqa: E402
from vmmtest import check, expect_error, kvm, result_of, show, wait_for  # noqa: E402

INTERNAL, PERMISSION_DENIED, CONFIG_INVALID = -32603, -32005, -32007
ADMIN = 40000          # a non-root user made admin by --admin
REPLY_TIMEOUT = 8.0    # a call that hangs on a FIFO fails the test after this


def field_of(err):
    return (err.get("data") or {}).get("field")


def expect_refused(resp, field, code=CONFIG_INVALID, word=None, what="call"):
    err = expect_error(resp, code, what=what)
    check(field_of(err) == field, "%s: error.data.field should be %r: %s" % (what, field, show(err)))
    if word:
        check(word in err["message"], "%s: the message should say %r: %s" % (what, word, show(err)))
    return err


def daemon_with(*args, config=None):
    other = vmmtest.Daemon()
    try:
        if config is not None:
            path = os.path.join(other.tmp, "vmmd.json")
            with open(path, "w") as f:
                json.dump(config, f)
            args = ("--config", path) + args
        other.start(list(args))
    except BaseException:
        other.stop()
        raise
    return other


@contextlib.contextmanager
def user_folder(uid):
    """(folder, private): a 0711 temporary folder others can pass through,
    and inside it `private`, a 0700 folder owned by uid, for files only that
    user may open. Removed afterwards."""
    top = tempfile.mkdtemp(prefix="vmmtest-files.")
    try:
        os.chmod(top, 0o711)
        private = os.path.join(top, "home")
        os.mkdir(private, 0o700)
        os.chown(private, uid, uid)
        yield top, private
    finally:
        shutil.rmtree(top, ignore_errors=True)


def copy_as(src, dst, uid, mode=0o644):
    shutil.copyfile(src, dst)
    os.chown(dst, uid, uid)
    os.chmod(dst, mode)
    return dst


def run_as(uid, argv, cwd):
    def drop():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return subprocess.run(argv, preexec_fn=drop, capture_output=True, timeout=60, cwd=cwd)


def rpc_with_timeout(d, method, params):
    """One call on a new connection that fails the test if it hangs."""
    conn = d.connect(timeout=REPLY_TIMEOUT)
    try:
        return conn.call(method, params)
    finally:
        conn.close()


def secret_file(folder):
    """A file only root may read."""
    path = os.path.join(folder, "root-only")
    with open(path, "w") as f:
        f.write("root's secret\n")
    os.chmod(path, 0o600)
    return path


# --- finding 4: paths only from root, or inside the config's folders ----------

def test_paths_only_from_root(d):
    """A non-root admin's paths are refused, naming the field, unless inside
    files.path_dirs (here the guests' folder: the kernels pass, the rest not)."""
    test_access.require_root()
    guests = os.path.dirname(vmmtest.guest_path("hello"))
    other = daemon_with("--admin", str(ADMIN))
    inside = None
    try:
        test_access.open_up(other)
        secret = secret_file(other.tmp)
        cases = [
            ("kernel", vmmtest.guest_config("p1", "hello", kernel=secret)),
            ("kernel", vmmtest.guest_config("p2", "hello")),   # readable, still a path from a non-root
        ]
        replies = test_access.as_user(other, ADMIN, ADMIN, [], [("vm.create", {"config": c}) for _, c in cases])
        for (field, cfg), r in zip(cases, replies):
            expect_refused(r, field, PERMISSION_DENIED, what="vm.create by a non-root admin naming %s by path" % field)
        inside = daemon_with("--admin", str(ADMIN), config={"files": {"path_dirs": [guests]}})
        test_access.open_up(inside)
        cases = [
            ("console.log", vmmtest.guest_config("p3", "hello", console={"log": os.path.join(other.tmp, "x.log")})),
            ("devices[0].path", vmmtest.guest_config("p4", "hello", devices=[{"type": "virtio-blk", "path": secret}])),
            ("initrd", vmmtest.guest_config("p5", "hello", initrd=os.path.join(guests, "..", "vmmd"))),
        ]
        replies = test_access.as_user(inside, ADMIN, ADMIN, [], [("vm.create", {"config": c}) for _, c in cases])
        for (field, cfg), r in zip(cases, replies):
            expect_refused(r, field, PERMISSION_DENIED, what="vm.create by a non-root admin naming %s by path" % field)
        check(other.call("vm.list")["vms"] == [] and inside.call("vm.list")["vms"] == [],
              "a refused create left a definition")
        check(not os.path.exists(os.path.join(other.tmp, "x.log")), "vmmd created a log a non-root admin named")
        # Root's paths are taken as ever; the user's kernel inside path_dirs too.
        other.create("rooted", "hello")
        result_of(test_access.as_user(inside, ADMIN, ADMIN, [], [("vm.create", {"config": vmmtest.guest_config(
            "inside", "hello")})])[0], "vm.create by a non-root admin of a kernel inside files.path_dirs")
    finally:
        other.stop()
        if inside:
            inside.stop()


@kvm
def test_paths_inside_configured_folders(d):
    test_access.require_root()
    with user_folder(ADMIN) as (top, private):
        images = os.path.join(top, "images")
        os.mkdir(images, 0o755)
        kernel = shutil.copy(vmmtest.guest_path("hello"), os.path.join(images, "hello.elf"))
        secret = secret_file(top)
        os.symlink(secret, os.path.join(images, "escape"))
        other = daemon_with("--admin", str(ADMIN), config={"files": {"path_dirs": [images]}})
        try:
            test_access.open_up(other)
            cfgs = [vmmtest.guest_config("inside", "hello", kernel=kernel),
                    vmmtest.guest_config("dotdot", "hello", kernel=os.path.join(images, "..", "root-only")),
                    vmmtest.guest_config("link", "hello", kernel=os.path.join(images, "escape"))]
            replies = test_access.as_user(other, ADMIN, ADMIN, [], [("vm.create", {"config": c}) for c in cfgs] +
                                          [("vm.start", {"name": "inside"})])
            result_of(replies[0], "vm.create with a kernel inside files.path_dirs")
            expect_refused(replies[1], "kernel", PERMISSION_DENIED, what="a kernel path with .. out of the folder")
            expect_refused(replies[2], "kernel", PERMISSION_DENIED, what="a kernel that links out of the folder")
            result_of(replies[3], "vm.start of a VM whose kernel is inside files.path_dirs")
            other.wait_state("inside", ("stopped", "crashed"))
            check("Hello from vmmd guest" in other.console_text("inside"), "the guest did not run")
        finally:
            other.stop()


@kvm
def test_console_log_link_not_followed(d):
    """Even for root: a console log that is a symbolic link is refused, and
    the file it points to is left alone (guest output in /etc/cron.d...)."""
    victim = os.path.join(d.tmp, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    link = os.path.join(d.tmp, "guest.log")
    os.symlink(victim, link)
    r = rpc_with_timeout(d, "vm.create", {"config": vmmtest.guest_config("linked", "hello", console={"log": link})})
    if "result" in r:
        r = rpc_with_timeout(d, "vm.start", {"name": "linked"})
        if "result" in r:
            d.wait_state("linked", ("stopped", "crashed"))
    with open(victim) as f:
        check(f.read() == "precious\n", "vmmd wrote guest output through a symbolic link")
    expect_refused(r, "console.log", word="symbolic link", what="a console log that is a symbolic link")


@kvm
def test_vmmctl_log_link_not_followed(d):
    """The same through vmmctl, which opens the log itself and passes it: run
    as root (sudo vmmctl run) on a log path a user could have made a link,
    it must not follow the link either, for the log nor for its part NAME.1."""
    victim = os.path.join(d.tmp, "ctl-victim")
    for i, log in enumerate(("ctl.log", "ctl-part.log")):
        with open(victim, "w") as f:
            f.write("precious\n")
        path = os.path.join(d.tmp, log)
        os.symlink(victim, path + (".1" if i else ""))
        cfg = os.path.join(d.tmp, "ctl%d.json" % i)
        with open(cfg, "w") as f:
            json.dump(vmmtest.guest_config("ctl%d" % i, "hello", console={"log": path}), f)
        res = d.ctl("run", cfg, json=False, check=False)
        if res.rc == 0:
            d.wait_state("ctl%d" % i, ("stopped", "crashed"))
        with open(victim) as f:
            check(f.read() == "precious\n", "vmmctl passed a log opened through a symbolic link (%s)" % log)
        check(res.rc == 1 and "symbolic link" in res.err,
              "vmmctl run with a log that is a link should say so: %r" % (res,))


@kvm
def test_disk_must_be_a_file_or_block_device(d):
    r = rpc_with_timeout(d, "vm.create", {"config": vmmtest.guest_config(
        "chardisk", "hello", devices=[{"type": "virtio-blk", "path": "/dev/null"}])})
    if "result" in r:
        r = rpc_with_timeout(d, "vm.start", {"name": "chardisk"})
    expect_refused(r, "devices[0].path", word="block device", what="/dev/null as a virtio-blk image")


@kvm
def test_vmmctl_opens_as_its_user(d):
    """vmmctl run as a non-root admin: the VM boots from files only that
    user can read, its console log is created as that user, a file only
    root can read is refused, and the files vmmd holds serve a later start;
    after a vmmd restart `vmmctl start` passes them again."""
    test_access.require_root()
    with user_folder(ADMIN) as (top, private):
        vmmctl = shutil.copy(vmmtest.VMMCTL, os.path.join(top, "vmmctl"))
        os.chmod(vmmctl, 0o755)
        copy_as(vmmtest.guest_path("hello"), os.path.join(private, "hello.elf"), ADMIN, 0o600)
        with open(os.path.join(private, "vm.json"), "w") as f:
            json.dump({"name": "mine", "kernel": "hello.elf", "console": {"log": "mine.log"}}, f)
        os.chown(os.path.join(private, "vm.json"), ADMIN, ADMIN)
        secret = secret_file(top)
        with open(os.path.join(private, "bad.json"), "w") as f:
            json.dump({"name": "theirs", "kernel": secret}, f)
        other = daemon_with("--admin", str(ADMIN))
        try:
            test_access.open_up(other)
            p = run_as(ADMIN, [vmmctl, "--socket", other.sock, "run", "vm.json"], private)
            check(p.returncode == 0, "vmmctl run as uid %d: exit %d, %r" % (ADMIN, p.returncode, p.stderr))
            other.wait_state("mine", ("stopped", "crashed"))
            log = os.path.join(private, "mine.log")
            check(os.path.exists(log) and os.stat(log).st_uid == ADMIN,
                  "the console log should be created by vmmctl as uid %d: %s" %
                  (ADMIN, os.stat(log).st_uid if os.path.exists(log) else "missing"))
            with open(log) as f:
                check("Hello from vmmd guest" in f.read(), "the log lacks the guest's output")
            info = other.info("mine")
            check((info.get("files") or {}).get("kernel") == "held",
                  "vm.info should say vmmd holds the client's kernel: %s" % show(info.get("files")))
            p = run_as(ADMIN, [vmmctl, "--socket", other.sock, "create", "bad.json"], private)
            err = p.stderr.decode(errors="replace")
            check(p.returncode == 1 and ("PermissionDenied" in err or "Permission denied" in err),
                  "vmmctl create with a kernel only root can read: exit %d, %r" % (p.returncode, err))
            check(all(v["name"] != "theirs" for v in other.call("vm.list")["vms"]), "the refused VM was defined")
            # A later start by anyone uses the descriptors vmmd holds.
            other.start_vm("mine")
            other.wait_state("mine", ("stopped", "crashed"))
            check(other.console_text("mine").count("Hello from vmmd guest") >= 1, "the second run printed nothing")
            # vmmd does not keep descriptors across its restart.
            other.terminate()
            other.start(["--admin", str(ADMIN)])
            test_access.open_up(other)
            check(other.info("mine").get("files", {}).get("kernel") == "needed",
                  "after a restart the client's kernel is needed again: %s" % show(other.info("mine").get("files")))
            expect_refused(other.rpc("vm.start", {"name": "mine"}), "kernel", word="again",
                           what="vm.start without the client's files after a restart")
            p = run_as(ADMIN, [vmmctl, "--socket", other.sock, "start", "mine"], private)
            check(p.returncode == 0, "vmmctl start after a restart: exit %d, %r" % (p.returncode, p.stderr))
            other.wait_state("mine", ("stopped", "crashed"))
        finally:
            other.stop()


@kvm
def test_python_client_passes_files(d):
    """clients/python: create(config, files=...) as a non-root admin: the
    files go as descriptors, and the VM boots from them."""
    test_access.require_root()
    with user_folder(ADMIN) as (top, private):
        client = os.path.join(vmmtest.ROOT, "clients", "python")
        copy_as(vmmtest.guest_path("hello"), os.path.join(private, "hello.elf"), ADMIN, 0o600)
        script = os.path.join(top, "use.py")
        with open(script, "w") as f:
            f.write("import sys, vmmd\n"
                    "c = vmmd.connect(sys.argv[1])\n"
                    "cfg = {'name': 'py', 'kernel': '/nonexistent/hello.elf'}\n"
                    "print(c.create(cfg, files={'kernel': open('hello.elf', 'rb')})['state'])\n"
                    "print(c.start('py'))\n")
        os.chmod(script, 0o644)
        lib = os.path.join(top, "lib")   # readable: Python's import lists the folder
        os.mkdir(lib, 0o755)
        shutil.copy(os.path.join(client, "vmmd.py"), os.path.join(lib, "vmmd.py"))
        os.chmod(os.path.join(lib, "vmmd.py"), 0o644)
        other = daemon_with("--admin", str(ADMIN))
        try:
            test_access.open_up(other)
            p = run_as(ADMIN, ["python3", "-c", "import sys; sys.path.insert(0, %r); sys.argv = ['use', %r]; "
                               "exec(open(%r).read())" % (lib, other.sock, script)], private)
            check(p.returncode == 0 and p.stdout.split() == [b"created", b"running"],
                  "the python client as uid %d: exit %d, %r, %r" % (ADMIN, p.returncode, p.stdout, p.stderr))
            other.wait_state("py", ("stopped", "crashed"))
            check("Hello from vmmd guest" in other.console_text("py"), "the guest did not run")
        finally:
            other.stop()


# --- finding 10: FIFOs, the boot deadline, stop --force in any state ------------

@kvm
def test_fifo_console_log_refused(d):
    fifo = os.path.join(d.tmp, "log.fifo")
    os.mkfifo(fifo)
    r = rpc_with_timeout(d, "vm.create", {"config": vmmtest.guest_config("fifolog", "hello", console={"log": fifo})})
    if "result" in r:
        r = rpc_with_timeout(d, "vm.start", {"name": "fifolog"})
    expect_refused(r, "console.log", word="regular file", what="a FIFO as console.log")


@kvm
def test_fifo_swapped_in_after_create(d):
    """The kernel, then the initrd, replaced by a FIFO after vm.create: vm.start
    answers at once, naming the file, and the VM can be destroyed."""
    kernel = shutil.copy(vmmtest.guest_path("hello"), os.path.join(d.tmp, "k.elf"))
    initrd = os.path.join(d.tmp, "initrd")
    with open(initrd, "wb") as f:
        f.write(b"\0" * 4096)
    d.create("swapped", "hello", kernel=kernel, initrd=initrd)
    for path, field in ((kernel, "kernel"), (initrd, "initrd")):
        saved = path + ".saved"
        os.rename(path, saved)
        os.mkfifo(path)
        try:
            expect_refused(rpc_with_timeout(d, "vm.start", {"name": "swapped"}), field, word="regular file",
                           what="vm.start with a FIFO as %s" % field)
        finally:
            os.unlink(path)
            os.rename(saved, path)
    result_of(rpc_with_timeout(d, "vm.destroy", {"name": "swapped"}), "vm.destroy")


def stopped(pid):
    return vmmtest.proc_state(pid) == "T"


def booting_worker(d, name):
    """vm.start on a connection of its own, with the worker stopping itself
    at the start of its boot (VMMD_TEST_STOP_BOOT): (conn, worker pid)."""
    conn = d.connect(timeout=30)
    conn.send({"jsonrpc": "2.0", "method": "vm.start", "params": {"name": name}, "id": 7})

    def worker():
        for pid in vmmtest.children_of(d.pid):
            if stopped(pid):
                return pid
        return None
    return conn, wait_for(worker, 10, 0.02, "the worker of %s to stop itself while booting" % name)


@kvm
def test_stop_force_while_booting(d):
    os.environ["VMMD_TEST_STOP_BOOT"] = "hung"
    try:
        other = daemon_with()
    finally:
        del os.environ["VMMD_TEST_STOP_BOOT"]
    try:
        other.create("hung", "hello")
        conn, pid = booting_worker(other, "hung")
        r = rpc_with_timeout(other, "vm.stop", {"name": "hung", "force": True})
        result_of(r, "vm.stop --force of a VM whose worker hangs in its boot")
        expect_error(conn.recv_reply(), INTERNAL, what="the vm.start whose worker was killed")
        wait_for(lambda: not vmmtest.alive(pid), 10, 0.05, "the worker to end")
        result_of(rpc_with_timeout(other, "vm.destroy", {"name": "hung"}), "vm.destroy after the forced stop")
    finally:
        other.stop()


@kvm
def test_boot_deadline(d):
    os.environ["VMMD_TEST_STOP_BOOT"] = "slow"
    try:
        other = daemon_with(config={"workers": {"boot_timeout_s": 2}})
    finally:
        del os.environ["VMMD_TEST_STOP_BOOT"]
    try:
        other.create("slow", "hello")
        t0 = time.monotonic()
        conn, pid = booting_worker(other, "slow")
        err = expect_error(conn.recv_reply(), INTERNAL, what="a vm.start whose worker does not boot in time")
        took = time.monotonic() - t0
        check(1.5 < took < 8 and "2 s" in err["message"],
              "vm.start should fail after the 2 s boot deadline, saying so: %.1f s, %s" % (took, show(err)))
        wait_for(lambda: not vmmtest.alive(pid), 10, 0.05, "the worker to end")
        check(other.info("slow")["state"] in ("created", "crashed"), "state after a boot timeout: %s"
              % other.info("slow")["state"])
    finally:
        other.stop()


if __name__ == "__main__":
    vmmtest.main()
