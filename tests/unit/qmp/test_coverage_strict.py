"""No silent inventions (issue 15): which commands of a build are modelled, recorded,
defaulted or refused (``profiles show --coverage``); each defaulted answer logged and
counted; strict mode turns a defaulted answer into a GenericError naming what is missing."""

from __future__ import annotations

import json
import logging
import os

import pytest

from qmpserver.commands import registry
from qmpserver.profiles.loader import MODELS_DIR, load_profile
from qmpserver.qmp.session import Session
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig, strict_from_env

PROFILE = "debian-7.2-tcg"
# a read-only command no handler models and build qemu-7.2-debian did not record
DEFAULTED = "x-query-roms"
# one the build recorded (its replies.json) and no handler models
RECORDED = "query-spice"


def _session(profile=PROFILE, **config):
    registry.load_all()
    inst = start(load_profile(profile), InstanceConfig(start_paused=True, **config))
    s = Session(inst.add_monitor())
    s.connect()
    s.receive_data(b'{"execute":"qmp_capabilities"}')
    s.pump()
    s.take_output()
    return inst, s


def _replies(s, data):
    s.receive_data(data)
    s.pump()
    return [json.loads(line) for line in s.take_output().split(b"\r\n") if line]


# --- coverage -------------------------------------------------------------------------------------


def test_coverage_classifies_every_command_of_the_build():
    build = load_profile(PROFILE).build
    cov = registry.coverage(build)
    assert sorted(cov) == sorted(build.schema.commands)
    assert set(cov.values()) <= set(registry.COVERAGE_CLASSES)
    assert DEFAULTED not in registry.HANDLERS and RECORDED not in registry.HANDLERS
    assert build.recorded(RECORDED) is not None and not build.recorded_calls(DEFAULTED)
    assert cov["query-status"] == "modelled"
    assert cov[RECORDED] == "recorded"
    assert cov[DEFAULTED] == "defaulted"
    assert cov["inject-nmi"] == "refused"
    assert registry.unmodelled(build) == sorted(n for n, c in cov.items() if c in ("defaulted", "refused"))


def test_profiles_show_coverage_lists_and_counts(capsys):
    from qmpserver.cli import main

    assert main(["profiles", "show", PROFILE, "--coverage", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    cov = d["build"]["coverage"]
    n = d["build"]["schema"]["commands"]
    assert cov["total"] == n == len(cov["commands"]) == sum(cov["counts"].values())
    assert {c: list(cov["commands"].values()).count(c) for c in cov["counts"]} == cov["counts"]
    assert cov["commands"]["query-status"] == "modelled"
    assert cov["commands"][RECORDED] == "recorded"
    assert cov["commands"][DEFAULTED] == "defaulted"
    assert cov["commands"]["inject-nmi"] == "refused"

    assert main(["profiles", "show", PROFILE, "--coverage"]) == 0
    text = capsys.readouterr().out
    counts = cov["counts"]
    assert (
        "commands: %d modelled, %d recorded, %d defaulted, %d refused"
        % (counts["modelled"], counts["recorded"], counts["defaulted"], counts["refused"])
        in text
    )
    assert "coverage  %d commands" % n in text
    section = text.split("  defaulted (%d)" % counts["defaulted"])[1].split("  refused (")[0]
    assert "\n    %s\n" % DEFAULTED in section and "\n    %s\n" % RECORDED not in section

    # without --coverage: the counts, not the listing (the JSON has no per-command map)
    assert main(["profiles", "show", PROFILE, "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)["build"]["coverage"]
    assert plain["counts"] == counts and "commands" not in plain


# --- default mode: the default, logged once per command and instance, counted ---------------------


def test_default_mode_answers_the_default_logs_once_and_counts(caplog):
    inst, s = _session(name="vm1")
    seen = []
    inst.default_listeners.append(seen.append)
    with caplog.at_level(logging.WARNING, logger="qmpserver.default"):
        out = _replies(
            s,
            b'{"execute":"x-query-roms","id":1}{"execute":"x-query-roms","id":2}'
            b'{"execute":"query-spice","id":3}',
        )
    assert out[0] == {"return": {"human-readable-text": ""}, "id": 1}
    assert out[1] == {"return": {"human-readable-text": ""}, "id": 2}
    build = inst.build
    assert out[2] == {"return": build.recorded_return(RECORDED, None, inst.accel, default=None), "id": 3}
    logged = [r for r in caplog.records if r.name == "qmpserver.default"]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING
    msg = logged[0].getMessage()
    assert DEFAULTED in msg and "qemu-7.2-debian" in msg and "default of its return type" in msg
    assert "instance %d (vm1)" % inst.id in msg
    assert seen == [DEFAULTED, DEFAULTED]
    assert inst.command_table.defaulted == {DEFAULTED: 2}


# --- strict mode -----------------------------------------------------------------------------------


def test_strict_mode_names_what_is_missing():
    inst, s = _session(strict=True)
    seen = []
    inst.default_listeners.append(seen.append)
    out = _replies(
        s,
        b'{"execute":"x-query-roms","id":1}'
        b'{"execute":"x-query-virtio-status","arguments":{"path":"/machine/x"},"id":2}'
        b'{"execute":"query-spice","id":3}{"execute":"query-status","id":4}'
        b'{"execute":"inject-nmi","id":5}',
    )
    assert out[0] == {
        "error": {
            "class": "GenericError",
            "desc": "qmpserver: no model and no recording for 'x-query-roms' (no arguments) "
            "on build qemu-7.2-debian",
        },
        "id": 1,
    }
    assert out[1]["error"]["desc"] == (
        "qmpserver: no model and no recording for 'x-query-virtio-status' "
        '(arguments {"path": "/machine/x"}) on build qemu-7.2-debian'
    )
    assert "return" in out[2] and "return" in out[3]  # recorded and modelled answers are unchanged
    assert (
        out[4]["error"]["desc"]
        == "qmpserver: command 'inject-nmi' is not modelled (its effect is not simulated)"
    )
    assert seen == [] and inst.command_table.defaulted == {}


@pytest.mark.parametrize(
    "value, on",
    [("1", True), ("yes", True), ("TRUE", True), ("on", True), ("", False), ("0", False), ("no", False)],
)
def test_strict_from_env(value, on):
    assert strict_from_env({"QMPSERVER_STRICT": value}) is on
    assert strict_from_env({}) is False


def test_serve_strict_option_and_environment(monkeypatch):
    from qmpserver.cli import _instance_config, build_parser

    monkeypatch.delenv("QMPSERVER_STRICT", raising=False)
    p = build_parser()
    assert _instance_config(p.parse_args(["serve"])).strict is False
    assert _instance_config(p.parse_args(["serve", "--strict"])).strict is True
    monkeypatch.setenv("QMPSERVER_STRICT", "1")
    assert _instance_config(p.parse_args(["serve"])).strict is True


def test_launcher_strict_from_environment_or_config(monkeypatch):
    from qmpserver.launcher.main import _strict

    monkeypatch.delenv("QMPSERVER_STRICT", raising=False)
    assert _strict(None) is False and _strict({"profile": PROFILE}) is False
    assert _strict({"strict": True}) is True
    with pytest.raises(ValueError, match="strict: expected true or false"):
        _strict({"strict": "yes"})  # a JSON boolean only; anything else is refused, not off
    monkeypatch.setenv("QMPSERVER_STRICT", "1")
    assert _strict(None) is True


def test_http_body_strict_field():
    from qmpserver.http.control import BodyError, config_from_body

    assert config_from_body({"profile": PROFILE})[1].strict is False
    assert config_from_body({"profile": PROFILE, "strict": True})[1].strict is True
    with pytest.raises(BodyError):
        config_from_body({"profile": PROFILE, "strict": "yes"})


def test_metrics_count_defaulted_replies():
    from qmpserver.http.metrics import Metrics

    m = Metrics()
    assert "qmpserver_defaulted_replies_total{" not in m.render()
    m.defaulted(DEFAULTED)
    m.defaulted(DEFAULTED)
    lines = m.render().splitlines()
    assert "# TYPE qmpserver_defaulted_replies_total counter" in lines
    assert 'qmpserver_defaulted_replies_total{command="x-query-roms"} 2' in lines


# --- the 11.1 build (issue 17): 11.1's whole schema, each command answered as on 7.2 -----------


def test_11_1_commands_are_answered_as_on_7_2():
    """Handlers do not depend on the build: a command both builds have is modelled, refused or
    defaulted alike on 7.2 and 11.1; only the read-only ones 7.2 recorded at probe time
    (``query-spice`` ...) are defaulted on 11.1, which has no such recording."""
    c7 = registry.coverage(load_profile(PROFILE).build)
    c11 = registry.coverage(load_profile("qemu-11.1-tcg").build)
    assert len(c11) == 242 and len(set(c7) & set(c11)) == 206
    for name in sorted(set(c7) & set(c11)):
        expected = ("recorded", "defaulted") if c7[name] == "recorded" else (c7[name],)
        assert c11[name] in expected, (name, c7[name], c11[name])
    # transaction: run by the instance's qemu-storage-daemon; snapshot-save: not modelled
    assert c11["send-key"] == "modelled" and c11["transaction"] == "modelled"
    assert c11["snapshot-save"] == "refused"


def test_11_1_answers_send_key_and_names_what_is_not_modelled():
    with open(os.path.join(MODELS_DIR, "builds", "qemu-11.1", "schema.json")) as f:
        recorded = json.load(f)
    _inst, s = _session("qemu-11.1-tcg")
    (schema,) = _replies(s, b'{"execute":"query-qmp-schema"}')
    assert schema["return"] == recorded
    keys = b'{"execute":"send-key","arguments":{"keys":[{"type":"qcode","data":"f24"}]}}'
    assert _replies(s, keys) == [{"return": {}}]
    (bad,) = _replies(s, b'{"execute":"send-key","arguments":{"keys":[{"type":"qcode","data":"f25"}]}}')
    assert bad["error"]["desc"] == "Parameter 'data' does not accept value 'f25'"
    save = b'{"execute":"snapshot-save","arguments":{"job-id":"j","tag":"t","vmstate":"n","devices":[]}}'
    (tr,) = _replies(s, save)
    assert tr["error"] == {
        "class": "GenericError",
        "desc": "qmpserver: command 'snapshot-save' is not modelled (its effect is not simulated)",
    }


def _without_machines_recording(monkeypatch, inst):
    """The instance's build as if it had no ``query-machines`` recording (a hand-written build)."""
    real = inst.build.recorded

    def recorded(name, *a, **kw):
        return None if name == "query-machines" else real(name, *a, **kw)

    monkeypatch.setattr(inst.build, "recorded", recorded)


def test_query_machines_unrecorded_is_not_a_silent_empty_list(monkeypatch, caplog):
    """A build without a ``query-machines`` recording (and no derivation) answers as a command no
    model answers: the default logged and counted, and in strict mode the named error; before,
    it was an unlogged ``[]``, which a client takes for "this QEMU has no machine types"."""
    inst, s = _session()
    _without_machines_recording(monkeypatch, inst)
    with caplog.at_level(logging.WARNING, logger="qmpserver.default"):
        out = _replies(s, b'{"execute":"query-machines","id":1}')
    assert out == [{"return": [], "id": 1}]
    assert inst.command_table.defaulted == {"query-machines": 1}
    assert any("query-machines" in r.getMessage() for r in caplog.records if r.name == "qmpserver.default")

    inst, s = _session(strict=True)
    _without_machines_recording(monkeypatch, inst)
    out = _replies(s, b'{"execute":"query-machines","id":2}')
    assert out[0]["error"]["desc"] == (
        "qmpserver: no model and no recording for 'query-machines' (no arguments) on build qemu-7.2-debian"
    )
