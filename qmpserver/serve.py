"""The ``serve`` process: instances and their QMP endpoints on one asyncio loop."""

from __future__ import annotations

import asyncio
import os
import tempfile

from .errors import StartupError, UsageError
from .net.aio import AsyncScheduler, Endpoint
from .net.endpoint import parse_address
from .startup import start
from .vm.config import GuestBehaviour, InstanceConfig


def default_socket_dir() -> str:
    """The directory of sockets made without ``--qmp``: ``$XDG_RUNTIME_DIR/qmpserver``, else
    ``$TMPDIR/qmpserver-UID``.

    A shared temporary directory lets another user create that name first; as
    OpenSSH (``secure_permissions``) and systemd (``RuntimeDirectory``) do, the
    directory is used only when it is a real directory owned by this user and
    closed to others (issue 16, D7); otherwise, or when it cannot be created
    (a read-only or full runtime directory, D16), a UsageError names the path.
    """
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    d = (
        os.path.join(base, "qmpserver-%d" % os.getuid())
        if not os.environ.get("XDG_RUNTIME_DIR")
        else os.path.join(base, "qmpserver")
    )
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        st = os.lstat(d)
    except OSError as e:
        raise UsageError("cannot create the socket directory %s: %s" % (d, e.strerror or e)) from None
    check_private_dir(d, st)
    return d


def check_private_dir(path: str, st: os.stat_result) -> None:
    """Refuse a directory another user could use to swap our sockets."""
    import stat

    if not stat.S_ISDIR(st.st_mode):
        raise UsageError("unsafe socket directory %s: not a directory (a symlink or a file)" % path)
    if st.st_uid != os.getuid():
        raise UsageError(
            "unsafe socket directory %s: owned by uid %d, not by you (uid %d); remove it or set "
            "XDG_RUNTIME_DIR" % (path, st.st_uid, os.getuid())
        )
    if st.st_mode & 0o077:
        raise UsageError(
            "unsafe socket directory %s: mode %04o lets other users in (expected 0700); "
            "chmod 700 it or remove it" % (path, stat.S_IMODE(st.st_mode))
        )


class Server:
    """Owns instances; the HTTP API and the CLI create them through here."""

    def __init__(self, loop=None, profile_dirs=(), multi_client=False, socket_mode=0o600):
        self.loop = loop or asyncio.get_event_loop()
        self.profile_dirs = list(profile_dirs)
        self.multi_client = multi_client
        self.socket_mode = socket_mode
        self.instances: dict = {}  # id -> (instance, [endpoints])
        self.on_change: list = []  # callbacks(kind, instance)
        self.hooks: list = []  # per-session hooks (transcripts, faults, metrics)
        self._profiles: dict = {}

    def profile(self, spec):
        from .profiles.loader import load_profile

        key = spec or ""
        p = self._profiles.get(key)
        if p is None:
            p = self._profiles[key] = load_profile(spec, self.profile_dirs)
        return p

    async def create_instance(
        self, profile_spec=None, config: InstanceConfig | None = None, qmp=(), profile=None
    ):
        """Create an instance and start its monitors; StartupError if QEMU would refuse."""
        profile = profile or self.profile(profile_spec)
        config = config or InstanceConfig()
        guest = profile.defaults.get("guest")
        if guest:
            config.guest = GuestBehaviour(**{**config.guest.as_dict(), **guest})
        inst = start(profile, config, scheduler=AsyncScheduler(self.loop))
        addrs = [parse_address(a, self.socket_mode) if isinstance(a, str) else a for a in qmp]
        if not addrs:
            path = os.path.join(default_socket_dir(), "qmp-%d-%d.sock" % (os.getpid(), inst.id))
            addrs = [parse_address("unix:" + path, self.socket_mode)]
        endpoints = []
        try:
            for i, a in enumerate(addrs):
                mon = inst.add_monitor(
                    label="monitor%d" % i if i else "monitor", multi_client=self.multi_client
                )
                ep = Endpoint(mon, a, hooks=self.hooks)
                await ep.start(self.loop)
                endpoints.append(ep)
        except OSError as e:
            for ep in endpoints:
                ep.close()
            raise UsageError("cannot listen on %s: %s" % (a, e.strerror or e)) from None
        self.instances[inst.id] = (inst, endpoints)
        inst.exit_listeners.append(lambda cause, inst=inst: self.loop.call_soon(self._exited, inst))  # type: ignore[misc]  # default-argument lambda
        for fn in self.on_change:
            fn("created", inst)
        return inst

    def _exited(self, inst):
        self.remove_instance(inst.id, graceful=True)

    def remove_instance(self, iid, graceful=False):
        entry = self.instances.pop(iid, None)
        if entry is None:
            return False
        inst, endpoints = entry
        for ep in endpoints:
            ep.close()
        if inst.terminated is None:
            inst.terminate("removed")  # the process is gone: its exit listeners release what it held
        for fn in self.on_change:
            fn("removed", inst)
        return True

    def close(self):
        for iid in list(self.instances):
            inst = self.instances[iid][0]
            if inst.terminated is None:
                inst.shutdown("host-signal", force_exit=True)
            self.remove_instance(iid)


class TrafficLog:
    """Endpoint hook for ``serve --log-level debug``: every QMP message, in and out, on the
    ``qmpserver.qmp`` logger (``conn N <- {...}`` / ``conn N -> {...}``; long ones cut)."""

    MAX = 2000

    def __init__(self) -> None:
        import itertools

        from .log import get

        self.log = get("qmpserver.qmp")
        self.ids = itertools.count(1)

    def on_session(self, session) -> None:
        import json

        conn = next(self.ids)
        log = self.log
        where = getattr(session.monitor, "address", None) or "?"
        log.debug("conn %d: new connection on %s", conn, where)

        def observe(direction, obj, data):
            if data is None:
                text = json.dumps(obj, separators=(",", ":"), default=str)
            else:
                text = data.decode("ascii", "replace").rstrip("\r\n")
            if len(text) > self.MAX:
                text = "%s... (%d bytes)" % (text[: self.MAX], len(text))
            log.debug("conn %d %s %s", conn, "<-" if direction == "in" else "->", text)

        session.observe(observe)


__all__ = ["Server", "StartupError", "TrafficLog", "UsageError"]
