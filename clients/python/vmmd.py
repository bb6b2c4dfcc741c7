# SPDX-License-Identifier: MIT
"""A client of vmmd for automation scripts (Python 3 standard library only).

    import vmmd

    with vmmd.connect() as c:                          # the local socket
        for vm in c.list():
            print(vm.name, vm.state, c.stats(vm.name)["exits_total"])

    with vmmd.connect("ssh://admin@host2") as c:       # through `vmmctl bridge` there
        c.pause("web1")

    with vmmd.connect() as c:
        for ev in c.events(["state"]):                 # blocks; one Event per notification
            print(ev.vm, ev.type, ev.data)

Every method of vmmd's API (API.md) is reachable with call(); the common
ones have typed wrappers. A JSON-RPC error raises VmmdError, or its
subclass named after the error class (NoSuchVm, InvalidState, ...), whose
`cls`, `code`, `message` and `field` say what vmmd said. Over ssh the
remote user's credentials decide the role, as for vmmctl --connect.
See docs/python-client.md.
"""

import base64
import json
import os
import shlex
import socket
import subprocess
import urllib.parse
from collections import namedtuple

__all__ = ["connect", "Client", "VmmdError", "ConnectionLost", "Vm", "Event", "default_socket"]

SYSTEM_SOCKET = "/run/vmmd/vmmd.sock"
MAX_LINE = 64 << 20          # replies can exceed vmmd's 1 MiB request limit (mem.read)


class VmmdError(Exception):
    """vmmd answered with a JSON-RPC error."""

    def __init__(self, code, message, data=None):
        super().__init__("%s: %s" % ((data or {}).get("class", code), message))
        self.code = code
        self.message = message
        self.data = data or {}
        self.cls = self.data.get("class", "Unknown")
        self.field = self.data.get("field")


class ConnectionLost(VmmdError):
    """The connection to vmmd (or to ssh) ended."""

    def __init__(self, message):
        super().__init__(-32603, message, {"class": "ConnectionLost"})


# One subclass per error class of API.md, so `except vmmd.NoSuchVm:` works.
_CLASSES = {}
for _code, _name in [(-32700, "ParseError"), (-32600, "InvalidRequest"), (-32601, "MethodNotFound"),
                     (-32602, "InvalidParams"), (-32603, "InternalError"), (-32000, "NoSuchVm"),
                     (-32001, "InvalidState"), (-32002, "VmExists"), (-32003, "Unsupported"),
                     (-32004, "ResourceLimit"), (-32005, "PermissionDenied"), (-32006, "GuestAccess"),
                     (-32007, "ConfigInvalid")]:
    _CLASSES[_name] = type(_name, (VmmdError,), {"__doc__": "vmmd error class %s (%d)" % (_name, _code)})
    globals()[_name] = _CLASSES[_name]
    __all__.append(_name)


def _error(err):
    data = err.get("data") if isinstance(err.get("data"), dict) else {}
    cls = _CLASSES.get(data.get("class"), VmmdError)
    return cls(err.get("code"), err.get("message", ""), data)


Vm = namedtuple("Vm", "name state paging vcpus memory_mib uptime_s")
Event = namedtuple("Event", "vm type data timestamp")


def default_socket():
    """Where vmmctl looks (API.md "Transport"): $VMMD_SOCKET, the system
    socket as root, else $XDG_RUNTIME_DIR/vmmd/vmmd.sock."""
    if os.environ.get("VMMD_SOCKET"):
        return os.environ["VMMD_SOCKET"]
    if os.geteuid() == 0:
        return SYSTEM_SOCKET
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if not xdg.startswith("/"):
        raise VmmdError(-32603, "XDG_RUNTIME_DIR is not set: give a socket path", {"class": "InternalError"})
    return os.path.join(xdg, "vmmd", "vmmd.sock")


class _SocketTransport:
    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise ConnectionLost("cannot connect to %s: %s" % (path, e.strerror or e)) from None
        self.where = path

    def send(self, data, fds=()):
        if fds:   # attached to the first byte (proto/fds.h), the rest plainly
            data = data[socket.send_fds(self.sock, [data], list(fds)):]
        self.sock.sendall(data)

    def recv(self):
        return self.sock.recv(65536)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def close(self):
        self.sock.close()


class _SshTransport:
    """ssh HOST vmmctl [--socket PATH] bridge, its stdin and stdout the wire."""

    def __init__(self, url, timeout, ssh, remote_vmmctl):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "ssh" or not u.hostname:
            raise ValueError("not an ssh://[user@]host[:port][/socket] URL: %r" % url)
        argv = shlex.split(ssh or os.environ.get("VMMCTL_SSH") or "ssh")
        if u.port:
            argv += ["-p", str(u.port)]
        if u.username:
            argv += ["-l", u.username]
        remote = [remote_vmmctl or os.environ.get("VMMCTL_REMOTE") or "vmmctl"]
        if u.path and u.path != "/":
            remote += ["--socket", u.path]
        remote.append("bridge")
        argv += ["--", u.hostname, " ".join(shlex.quote(w) for w in remote)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.timeout = timeout
        self.where = url

    def send(self, data, fds=()):
        if fds:
            raise ValueError("descriptors do not cross ssh: name the remote host's files by path")
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise ConnectionLost("ssh to %s: %s" % (self.where, e)) from None

    def recv(self):
        import select
        r, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not r:
            raise socket.timeout("no reply from vmmd within %s s" % self.timeout)
        return os.read(self.proc.stdout.fileno(), 65536)

    def settimeout(self, t):
        self.timeout = t

    def close(self):
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait()


class Client:
    """One connection to vmmd. Not thread-safe; use one per thread."""

    def __init__(self, transport, timeout=30.0):
        self._t = transport
        self._timeout = timeout
        self._buf = b""
        self._next_id = 1
        self._events = []          # notifications that came while waiting for a reply

    def close(self):
        self._t.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the wire ---------------------------------------------------------

    def _line(self):
        while b"\n" not in self._buf:
            try:
                chunk = self._t.recv()
            except socket.timeout:
                raise
            except OSError as e:
                raise ConnectionLost("reading from %s: %s" % (self._t.where, e)) from None
            if not chunk:
                raise ConnectionLost("vmmd at %s closed the connection" % self._t.where)
            self._buf += chunk
            if len(self._buf) > MAX_LINE:
                raise ConnectionLost("a reply larger than %d bytes" % MAX_LINE)
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def _reply(self, want_ids):
        """The message answering want_ids (a single id, or a tuple of a batch's);
        notifications on the way are kept for events()."""
        while True:
            msg = self._line()
            if isinstance(msg, dict) and "method" in msg and "id" not in msg:
                self._events.append(msg)
                continue
            if isinstance(msg, list):
                if any(isinstance(m, dict) and m.get("id") in want_ids for m in msg):
                    return msg
                continue
            if isinstance(msg, dict) and (msg.get("id") in want_ids or msg.get("id") is None):
                return msg

    def call(self, method, _fds=(), **params):
        """Call any method with named params; the result, or raises VmmdError.
        _fds: descriptors sent with the request (params.files names them by index)."""
        rid = self._next_id
        self._next_id += 1
        req = {"jsonrpc": "2.0", "method": method, "id": rid}
        if params:
            req["params"] = params
        self._t.send(json.dumps(req).encode() + b"\n", _fds)
        msg = self._reply((rid,))
        if "error" in msg:
            raise _error(msg["error"])
        return msg.get("result")

    def batch(self, calls):
        """Many calls in one message: calls is [(method, {params}), ...].
        Returns a list in the same order, each a result or a VmmdError instance."""
        if not calls:
            return []
        ids = tuple(range(self._next_id, self._next_id + len(calls)))
        self._next_id += len(calls)
        reqs = []
        for rid, (method, params) in zip(ids, calls):
            r = {"jsonrpc": "2.0", "method": method, "id": rid}
            if params:
                r["params"] = params
            reqs.append(r)
        self._t.send(json.dumps(reqs).encode() + b"\n")
        msg = self._reply(ids)
        if isinstance(msg, dict):      # the whole batch refused (e.g. too many calls)
            raise _error(msg.get("error", {}))
        by_id = {m.get("id"): m for m in msg if isinstance(m, dict)}
        out = []
        for rid in ids:
            m = by_id.get(rid, {"error": {"code": -32603, "message": "no reply in the batch"}})
            out.append(_error(m["error"]) if "error" in m else m.get("result"))
        return out

    def events(self, topics=("state", "console", "fault", "stats"), name=None, timeout=None):
        """Subscribe now, and return an iterator of Event, one per
        notification, forever (or until `timeout` seconds pass without one:
        then the iteration ends). Calls on the same Client meanwhile are fine:
        events that arrive while they wait are kept for the iterator."""
        params = {"topics": list(topics)}
        if name:
            params["name"] = name
        self.call("events.subscribe", **params)
        return self._event_iter(timeout)

    def _event_iter(self, timeout):
        while True:
            while self._events:
                p = self._events.pop(0).get("params") or {}
                yield Event(p.get("vm"), p.get("type"), p.get("data"), p.get("timestamp"))
            self._t.settimeout(timeout)
            try:
                msg = self._line()
            except socket.timeout:
                return
            finally:
                self._t.settimeout(self._timeout)
            if isinstance(msg, dict) and "method" in msg:
                self._events.append(msg)

    # --- typed calls ---------------------------------------------------------

    def version(self):
        return self.call("vmm.version")

    def daemon_stats(self):
        return self.call("vmm.stats")

    def list(self):
        return [Vm(v["name"], v["state"], v["paging"], v["vcpus"], v["memory_mib"], v["uptime_s"])
                for v in self.call("vm.list")["vms"]]

    def info(self, name):
        return self.call("vm.info", name=name)

    def create(self, config, files=None):
        """files: {field: open file or descriptor} ("kernel", "initrd",
        "console.log", "console.log.1", "devices[0].path", ...), passed with
        the request: opened with this process's rights, where vmmd takes
        paths only from root (docs/operations.md "File access")."""
        fds, named = _files(files)
        return self.call("vm.create", fds, config=config, **named)

    def start(self, name, files=None):
        """files: as create's, for what vmmd no longer holds (vm.info's files: "needed")."""
        fds, named = _files(files)
        return self.call("vm.start", fds, name=name, **named)["state"]

    def pause(self, name):
        return self.call("vm.pause", name=name)["state"]

    def resume(self, name):
        return self.call("vm.resume", name=name)["state"]

    def stop(self, name, force=False):
        return self.call("vm.stop", name=name, force=bool(force))["state"]

    def destroy(self, name):
        self.call("vm.destroy", name=name)

    def stats(self, name):
        return self.call("stats.get", name=name)

    def vcpu_state(self, name, vcpu=0):
        return self.call("vcpu.state", name=name, vcpu=int(vcpu))

    def translate(self, name, addr, vcpu=0):
        return self.call("mmu.translate", name=name, addr=int(addr), vcpu=int(vcpu))

    def shadow(self, name, root="all", limit=256):
        return self.call("mmu.shadow", name=name, root=root, limit=int(limit))

    def console_read(self, name, offset=0, max=65536):
        """(bytes, next offset)."""
        r = self.call("vm.console.read", name=name, offset=int(offset), max=int(max))
        return base64.b64decode(r["data"]), r["offset"]

    def console_write(self, name, data):
        return self.call("vm.console.write", name=name, data=base64.b64encode(bytes(data)).decode())["written"]


def _files(files):
    """(descriptors, {"files": {field: index}}) of {field: file or fd}."""
    if not files:
        return (), {}
    fds = [f if isinstance(f, int) else f.fileno() for f in files.values()]
    return fds, {"files": {field: i for i, field in enumerate(files)}}


def connect(where=None, timeout=30.0, ssh=None, remote_vmmctl=None):
    """A Client. where: a socket path, an ssh://[user@]host[:port][/socket]
    URL, or None for the local default (default_socket()). Over ssh, `ssh`
    is the ssh command (default $VMMCTL_SSH or "ssh") and `remote_vmmctl`
    the remote vmmctl (default $VMMCTL_REMOTE or "vmmctl")."""
    if where and where.startswith("ssh://"):
        t = _SshTransport(where, timeout, ssh, remote_vmmctl)
    else:
        t = _SocketTransport(where or default_socket(), timeout)
    return Client(t, timeout)
