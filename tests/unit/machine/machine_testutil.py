"""Helpers for the virt machine / MTE / GIC / migration tests."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import yaml

from qmpserver.errors import StartupError
from qmpserver.profiles.loader import load_profile
from qmpserver.qapi.opts import parse_opts
from qmpserver.qmp.session import Session
from qmpserver.startup import start as start_instance
from qmpserver.vm.config import InstanceConfig

ROOT = Path(__file__).resolve().parents[3]
MATRIX_FILE = ROOT / "tests" / "data" / "mte-matrix.yaml"

_matrix = None
_store = None


def matrix() -> dict:
    global _matrix
    if _matrix is None:
        _matrix = yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8"))
    return _matrix


def store() -> str:
    """A profile directory holding the matrix's extra profiles."""
    global _store
    if _store is None:
        d = tempfile.mkdtemp(prefix="qs-mte-matrix-")
        os.makedirs(os.path.join(d, "profiles"))
        for name, spec in (matrix().get("extra_profiles") or {}).items():
            with open(os.path.join(d, "profiles", name + ".yaml"), "w") as f:
                yaml.safe_dump(spec, f, sort_keys=False)
        _store = d
    return _store


def profile(name):
    return load_profile(name, dirs=[store()])


def start(profile_name, machine="virt", accel=None, cpu=None, **cfg):
    """An Instance, or the StartupError it raised."""
    prof = profile(profile_name) if isinstance(profile_name, str) else profile_name
    opts = parse_opts(machine, "type") if isinstance(machine, str) else dict(machine)
    config = InstanceConfig(
        machine=opts, accel=[accel] if isinstance(accel, str) else list(accel or ()), cpu=cpu, **cfg
    )
    try:
        return start_instance(prof, config)
    except StartupError as e:
        return e


class Qmp:
    """A negotiated in-process QMP session (no sockets)."""

    def __init__(self, instance):
        self.instance = instance
        self.session = Session(instance.add_monitor())
        self.greeting = self.session.connect()
        self.events: list = []
        self.cmd("qmp_capabilities")

    def _read(self) -> list:
        self.session.pump()
        out = self.session.take_output()
        return [json.loads(x) for x in out.split(b"\r\n") if x]

    def send(self, name, **args) -> dict:
        """The reply; events before it are kept in ``events``."""
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.session.receive_data(json.dumps(msg).encode())
        reply = None
        for m in self._read():
            if "event" in m:
                self.events.append(m)
            elif reply is None:
                reply = m
        return reply

    def cmd(self, name, **args):
        r = self.send(name, **args)
        if "error" in r:
            raise AssertionError("%s failed: %r" % (name, r["error"]))
        return r["return"]

    def run(self, seconds=0.1):
        """Let scheduled work (migration phases, guest actions) happen."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.instance.scheduler.run_due()
            time.sleep(0.002)
        for m in self._read():
            if "event" in m:
                self.events.append(m)

    def event_names(self):
        return [e["event"] for e in self.events]


def parse_cell(cell):
    """'3', '0+w', 'E.cpu+w' -> (kind, value, warned): kind 'run' (value = MTE
    version) or 'fail' (value = error key)."""
    s = str(cell)
    warned = s.endswith("+w")
    if warned:
        s = s[:-2]
    if s.startswith("E."):
        return "fail", s[2:], warned
    return "run", int(s), warned


def cases():
    """(profile, accel, cpu, column, cell) for every cell of the matrix."""
    m = matrix()
    for name, spec in m["profiles"].items():
        for accel in ("tcg", "kvm"):
            for cpu, row in spec[accel].items():
                assert len(row) == len(m["columns"]), (name, accel, cpu)
                for col, cell in zip(m["columns"], row):
                    yield name, accel, cpu, col, cell
