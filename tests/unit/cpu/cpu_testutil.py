"""Test helpers: profiles for (host, build) pairs and a sans-IO QMP client."""

from __future__ import annotations

import json
import os
import tempfile

from qmpserver.profiles.loader import load_profile
from qmpserver.qmp.session import Session
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig

# built-in aarch64 KVM hosts (models/hosts)
KVM_HOSTS = (
    "altra-n1-6.8",
    "ampereone-a-mte-6.18",
    "axion-v2-6.17",
    "cix-p1-a720-mte3-6.12",
    "grace-v2-6.8",
    "graviton2-n1-5.10",
    "graviton3-v1-6.1",
    "graviton4-v2-6.12",
)

_DIR = tempfile.mkdtemp(prefix="qs-cpu-profiles-")
_profiles: dict = {}


# builds written next to the profiles: the qmpserver build with some proposals off, to test
# one proposal's world without another's (e.g. cpu-idreg-props without arm-cpu-models)
BUILDS = {
    "qmpserver-idreg": ["mte-version", "query-mte-capabilities", "cpu-idreg-props"],
}


# hosts defined inside a built-in profile (no models/hosts file): the same inline definition
INLINE_HOSTS = {
    "graviton4-v2-6.8": '{extends: graviton4-v2-6.12, name: graviton4-v2-6.8, kernel: {release: "6.8.0"}}',
}


def _write_build(name: str) -> None:
    d = os.path.join(_DIR, "builds", name)
    if os.path.exists(os.path.join(d, "build.yaml")):
        return
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "build.yaml"), "w") as f:
        f.write(
            "kind: qemu-build\nname: %s\nextends: qmpserver\nsummary: test build\nproposals: [%s]\n"
            % (name, ", ".join(BUILDS[name]))
        )


def profile_for(host: str, build: str = "qmpserver", accel: str = "kvm", cpu: str = "host"):
    """A compiled profile for ``host`` x ``build`` (a profile file written once in a tmp dir;
    ``build`` may be one of :data:`BUILDS`)."""
    key = (host, build, accel, cpu)
    p = _profiles.get(key)
    if p is None:
        if build in BUILDS:
            _write_build(build)
        name = "cputest-%s-%s-%s" % (host, build, accel)
        path = os.path.join(_DIR, name + ".yaml")
        if cpu is None:
            name += "-nocpu"
            path = os.path.join(_DIR, name + ".yaml")
        with open(path, "w") as f:
            f.write(
                "kind: profile\nname: %s\nsummary: cpu test\nhost: %s\nbuild: %s\n"
                "defaults: {accel: %s, machine: virt%s}\n"
                % (name, INLINE_HOSTS.get(host, host), build, accel, "" if cpu is None else ", cpu: %s" % cpu)
            )
        p = _profiles[key] = load_profile(path)
    return p


def make_instance(profile="debian-7.2-tcg", **cfg):
    prof = load_profile(profile) if isinstance(profile, str) else profile
    cfg.setdefault("start_paused", True)
    return start(prof, InstanceConfig(**cfg))


class Qmp:
    """A negotiated in-process QMP session (no sockets)."""

    def __init__(self, instance):
        self.instance = instance
        self.monitor = instance.add_monitor()
        self.session = Session(self.monitor)
        self.greeting = self.session.connect()
        self.raw(b'{"execute":"qmp_capabilities"}')

    def raw(self, data: bytes) -> list:
        self.session.receive_data(data)
        self.session.pump()
        out = self.session.take_output()
        return [json.loads(x) for x in out.split(b"\r\n") if x]

    def raw_bytes(self, data: bytes) -> bytes:
        self.session.receive_data(data)
        self.session.pump()
        return self.session.take_output()

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        replies = [m for m in self.raw(json.dumps(msg).encode()) if "event" not in m]
        assert len(replies) == 1, replies
        return replies[0]

    def expand(self, name, props=None, type_="full"):
        model = {"name": name}
        if props is not None:
            model["props"] = props
        return self.cmd("query-cpu-model-expansion", {"type": type_, "model": model})

    def ok(self, name, args=None):
        r = self.cmd(name, args)
        assert "return" in r, r
        return r["return"]

    def props(self, name, props=None):
        r = self.expand(name, props)
        assert "return" in r, r
        return r["return"]["model"].get("props", {})

    def err(self, name, props=None):
        r = self.expand(name, props)
        assert "error" in r, r
        return r["error"]["desc"]
