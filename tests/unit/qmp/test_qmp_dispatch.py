"""The dispatcher survives a handler bug: an error reply, the session goes on."""

from __future__ import annotations

import json

from qmpserver.commands import registry
from qmpserver.profiles.loader import load_profile
from qmpserver.qmp.session import Session
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig


def _session(monkeypatch, name, fn):
    registry.load_all()
    monkeypatch.setitem(registry.HANDLERS, name, fn)
    inst = start(load_profile("debian-7.2-tcg"), InstanceConfig(start_paused=True))
    s = Session(inst.add_monitor())
    s.connect()
    s.receive_data(b'{"execute":"qmp_capabilities"}')
    s.pump()
    s.take_output()
    return s


def _replies(s, data):
    s.receive_data(data)
    s.pump()
    return [json.loads(line) for line in s.take_output().split(b"\r\n") if line]


def test_handler_exception_becomes_generic_error(monkeypatch, caplog):
    def broken(ctx, args):
        raise KeyError("accel")

    s = _session(monkeypatch, "query-name", broken)
    out = _replies(s, b'{"execute":"query-name","id":1}{"execute":"query-status","id":2}')
    assert out[0] == {
        "error": {"class": "GenericError", "desc": "internal error in qmpserver: KeyError: 'accel'"},
        "id": 1,
    }
    assert out[1]["id"] == 2 and "return" in out[1]
    assert any("internal error in query-name" in r.getMessage() for r in caplog.records)


def test_unmodelled_command_with_effects_is_an_error_not_a_false_success(caplog):
    """A command nobody models answers its type's default only when it just reads state;
    one with effects (``inject-nmi``: an interrupt for the guest) is a
    GenericError naming it, and the log says which answer was given."""
    registry.load_all()
    inst = start(load_profile("debian-7.2-tcg"), InstanceConfig(start_paused=True))
    s = Session(inst.add_monitor())
    s.connect()
    s.receive_data(b'{"execute":"qmp_capabilities"}')
    s.pump()
    s.take_output()
    assert "inject-nmi" not in registry.HANDLERS and "x-query-roms" not in registry.HANDLERS
    out = _replies(
        s,
        b'{"execute":"inject-nmi","id":1}{"execute":"x-query-roms","id":2}',
    )
    assert out[0] == {
        "error": {
            "class": "GenericError",
            "desc": "qmpserver: command 'inject-nmi' is not modelled (its effect is not simulated)",
        },
        "id": 1,
    }
    assert out[1] == {"return": {"human-readable-text": ""}, "id": 2}
    logged = [r.getMessage() for r in caplog.records]
    assert any("inject-nmi is not modelled" in m and "an error" in m for m in logged)
    assert any("x-query-roms is not modelled" in m and "default" in m for m in logged)
