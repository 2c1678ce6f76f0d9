"""Stubbed replies and the wait helpers of the pytest plugin (qmpserver.http.faults.Stub,
InstanceHandle.stub / wait_for_call / wait_for_event), used through the fixtures."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time

import pytest

from qmpserver.errors import UsageError
from qmpserver.testing.server import APIError, ExternalServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

PROFILE = "debian-7.2-tcg"  # QEMU 7.2's StatusInfo has 'singlestep' (required)
PAUSED_72 = {"running": False, "singlestep": False, "status": "paused"}
EXPAND = "query-cpu-model-expansion"
MAX_FULL = {"type": "full", "model": {"name": "max"}}


@pytest.mark.qmp_profile(PROFILE, paused=True)
def test_stub_answers_times_then_the_model_does(qmp_instance, qmp_sync, caplog):
    caplog.set_level(logging.WARNING, logger="qmpserver.stub")
    stub = qmp_instance.stub("query-status", times=2).respond(PAUSED_72)
    assert [qmp_sync.cmd("query-status")["status"] for _ in range(3)] == ["paused", "paused", "prelaunch"]
    assert stub.hits == 2 and qmp_instance.stubs() == []  # used up: gone
    lines = [r.getMessage() for r in caplog.records if r.name == "qmpserver.stub"]
    assert len(lines) == 2 and "query-status answered by stub #%d" % stub.id in lines[0], lines
    assert "1 left" in lines[0] and "0 left" in lines[1]
    qmp_instance.assert_all_stubs_used()


@pytest.mark.qmp_profile(PROFILE)
def test_args_match_exactly_or_by_predicate_and_others_reach_the_model(qmp_instance, qmp_sync):
    qmp_instance.stub(EXPAND, args=MAX_FULL).error("GenericError", "stubbed: no max")
    qmp_instance.stub(EXPAND, args=lambda a: a["model"]["name"] == "cortex-a57").respond(
        {"model": {"name": "cortex-a57", "props": {"pmu": False}}}
    )
    err = qmp_sync.cmd_raw(EXPAND, MAX_FULL)
    assert err["error"] == {"class": "GenericError", "desc": "stubbed: no max"}
    # the same command, other arguments: the model's answer
    real = qmp_sync.cmd_raw(EXPAND, {"type": "full", "model": {"name": "host"}})
    assert real != err and "stubbed" not in str(real)
    assert qmp_sync.cmd(EXPAND, type="full", model={"name": "cortex-a57"}) == {
        "model": {"name": "cortex-a57", "props": {"pmu": False}}
    }
    # bad arguments are refused by the command's own validation before any stub
    bad = qmp_sync.cmd_raw(EXPAND, {"type": "full", "model": {"name": "max"}, "x": 1})
    assert bad["error"]["desc"] == "Parameter 'x' is unexpected"
    listed = {s["id"]: s for s in qmp_instance.stubs()}
    assert sorted(s["hits"] for s in listed.values()) == [1, 1]
    assert [s["predicate"] for s in listed.values()] == [False, True]


@pytest.mark.qmp_profile(PROFILE)
def test_removed_stub_no_longer_answers(qmp_instance, qmp_sync):
    real = qmp_sync.cmd("query-target")
    stub = qmp_instance.stub("query-target").respond({"arch": "x86_64"})
    assert qmp_sync.cmd("query-target") == {"arch": "x86_64"}
    assert stub.remove() is True and stub.remove() is False
    assert qmp_sync.cmd("query-target") == real
    qmp_instance.stub("query-target").respond({"arch": "x86_64"})
    assert qmp_instance.clear_stubs() == 1 and qmp_sync.cmd("query-target") == real


@pytest.mark.qmp_profile(PROFILE)
def test_a_fault_goes_before_a_stub(qmp_instance, qmp_sync):
    qmp_instance.stub("query-target").respond({"arch": "x86_64"})
    qmp_instance.fault("fail", command="query-target", desc="injected")
    assert qmp_sync.cmd_raw("query-target")["error"]["desc"] == "injected"
    assert qmp_sync.cmd("query-target") == {"arch": "x86_64"}


@pytest.mark.parametrize(
    "profile, command, body, message",
    [
        # QEMU 7.2 requires 'singlestep'; the native schema of the default profile has none
        (
            PROFILE,
            "query-status",
            {"running": False, "status": "paused"},
            "return: required member 'singlestep'",
        ),
        ("default", "query-status", PAUSED_72, "return.singlestep: the build's type has no such member"),
        (PROFILE, "query-status", dict(PAUSED_72, status="bogus"), "return.status: 'bogus' is not a value"),
        (
            PROFILE,
            "query-status",
            dict(PAUSED_72, running="no"),
            "return.running: expected boolean, got string",
        ),
        (PROFILE, "stop", {"x": 1}, "return.x: the build's type has no such member"),
        (PROFILE, "query-mte-capabilities", [], "command: 'query-mte-capabilities' is not a command"),
    ],
)
def test_a_reply_the_build_cannot_send_is_refused(qmpserver_factory, profile, command, body, message):
    vm = qmpserver_factory(profile)
    with pytest.raises(UsageError) as err:
        vm.stub(command).respond(body)
    assert str(err.value).startswith(message), str(err.value)
    assert vm.stubs() == []


@pytest.mark.qmp_profile(PROFILE)
def test_bad_args_and_error_class_are_refused(qmp_instance):
    with pytest.raises(UsageError, match="args: not valid arguments of query-cpu-model-expansion: "):
        qmp_instance.stub(EXPAND, args={"type": "fll", "model": {"name": "max"}}).respond({})
    with pytest.raises(UsageError, match="error.class: expected one of"):
        qmp_instance.stub("stop").error("NoSuchClass", "x")


@pytest.mark.qmp_profile(PROFILE)
def test_assert_all_stubs_used(qmp_instance, qmp_sync):
    qmp_instance.stub("query-target", times=2).respond({"arch": "aarch64"})
    qmp_instance.stub("query-kvm").respond({"enabled": False, "present": False})
    qmp_sync.cmd("query-target")
    with pytest.raises(AssertionError) as err:
        qmp_instance.assert_all_stubs_used()
    assert "query-target: 1 of 2 call(s)" in str(err.value)
    assert "query-kvm: 0 of at least 1 call(s)" in str(err.value)
    qmp_sync.cmd("query-target")
    qmp_sync.cmd("query-kvm")
    qmp_instance.assert_all_stubs_used()


@pytest.mark.qmp_profile(PROFILE)
def test_wait_for_call_and_event(qmp_instance, qmp_sync):
    def later():
        time.sleep(0.2)
        qmp_instance.emit_event("GUEST_PANICKED", {"action": "pause"})

    t = threading.Thread(target=later)
    t.start()
    t0 = time.monotonic()
    ev = qmp_instance.wait_for_event("GUEST_PANICKED", timeout=5)
    assert ev["data"] == {"action": "pause"} and time.monotonic() - t0 >= 0.15
    t.join()
    with pytest.raises(AssertionError, match="no event RESET within 0.1s"):
        qmp_instance.wait_for_event("RESET", timeout=0.1)

    t = threading.Thread(target=lambda: (time.sleep(0.2), qmp_sync.cmd(EXPAND, **MAX_FULL)))
    t.start()
    call = qmp_instance.wait_for_call(EXPAND, args=MAX_FULL, timeout=5)
    t.join()
    assert call["arguments"] == MAX_FULL
    assert qmp_instance.wait_for_call(EXPAND, args=lambda a: a["type"] == "full", timeout=0)
    with pytest.raises(AssertionError, match="no call of query-kvm within 0.1s"):
        qmp_instance.wait_for_call("query-kvm", timeout=0.1)
    with pytest.raises(AssertionError, match="with"):
        qmp_instance.wait_for_call(EXPAND, args={"type": "static", "model": {"name": "max"}}, timeout=0.1)


@pytest.mark.qmp_profile(PROFILE)
def test_stubs_over_the_http_api(qmpserver_http, qmp_instance, qmp_sync):
    """The same handle methods through an ExternalServer (POST/GET/DELETE .../stubs)."""
    ext = ExternalServer(qmpserver_http.url)
    handle = type(qmp_instance)(ext, ext.describe(qmp_instance.id))
    stub = handle.stub("query-target", args=None, times=1).respond({"arch": "x86_64"})
    assert handle.stubs()[0]["return"] == {"arch": "x86_64"}
    assert qmp_sync.cmd("query-target") == {"arch": "x86_64"}
    assert handle.stubs() == [] and stub.remove() is False
    handle.stub("query-target").error("GenericError", "over http")
    assert qmp_sync.cmd_raw("query-target")["error"]["desc"] == "over http"
    with pytest.raises(UsageError, match="^return.arch: expected an enum string, got int$"):
        handle.stub("query-target").respond({"arch": 1})
    with pytest.raises(UsageError, match="predicate stub needs an in-process server"):
        handle.stub("query-target", args=lambda a: True).respond({"arch": "x86_64"})
    assert handle.clear_stubs() == 1
    assert handle.wait_for_call("query-target", timeout=0)["execute"] == "query-target"


def test_http_api_md_stub_transcript(qmpserver_http, qmpserver_factory, caplog):
    """docs/http-api.md's curl transcript, replayed: the same bodies give the same answers
    (stub ids aside: they count per process), and a client then sees what the text says."""
    caplog.set_level(logging.WARNING, logger="qmpserver.stub")
    text = open(os.path.join(ROOT, "docs", "http-api.md")).read()
    section = text[text.index("### Stubbed replies") :]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1).splitlines()
    assert block[0].startswith("$ U=http://127.0.0.1:8391/api/v1/instances/1/stubs")
    vm = qmpserver_factory("default")  # the text's instance 1: serve's default profile
    api = ExternalServer(qmpserver_http.url)
    pairs = list(zip(block[1::2], block[2::2]))
    assert len(pairs) == 3
    for cmd, out in pairs:
        body = json.loads(re.search(r"-d '(.*)' \$U$", cmd).group(1))
        try:
            got, status = api.request("POST", "/api/v1/instances/%d/stubs" % vm.id, body), 201
        except APIError as e:
            got, status = {"error": e.error}, e.status
        if "%{http_code}" in cmd:
            out, code = out.rsplit(" ", 1)
            assert status == int(code)
        want = json.loads(out)
        got.pop("id", None), want.pop("id", None)
        assert got == want
    from qemu.qmp.legacy import QEMUMonitorProtocol

    q = QEMUMonitorProtocol(vm.qmp_address)
    q.connect(negotiate=True)
    try:
        assert q.cmd_raw("query-status") == {"return": {"status": "paused", "running": False}}
        assert q.cmd_raw("query-status") == {"return": {"status": "running", "running": True}}
        max_full = {"type": "full", "model": {"name": "max"}}
        assert q.cmd_raw(EXPAND, max_full) == {"error": {"class": "GenericError", "desc": "stubbed"}}
    finally:
        q.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "qmpserver.stub"]
    assert re.fullmatch(
        r"instance %d: query-status answered by stub #\d+ \(reply, 0 left\)" % vm.id, lines[0]
    )
    assert "qmpserver.stub: instance 1: query-status answered by stub #1 (reply, 0 left)" in " ".join(
        section.split()
    )
