"""The pytest plugin's fixtures, used the way a test suite would (in-process server)."""

from __future__ import annotations

import asyncio
import os

import pytest

from qmpserver.errors import StartupError

PROFILE = "debian-7.2-tcg"


@pytest.mark.qmp_profile(PROFILE, paused=True)
def test_marker_selects_profile_and_options(qmp_instance, qmp_sync):
    assert qmp_instance.profile == PROFILE
    assert qmp_sync.cmd("query-status")["status"] == "prelaunch"
    assert qmp_instance.runstate == "prelaunch"
    path = qmp_instance.qmp_address
    assert isinstance(path, str) and len(os.fsencode(path)) < 108
    qmp_instance.assert_called("query-status", times=1)


@pytest.mark.parametrize(
    "qmp_instance", [PROFILE, {"profile": PROFILE, "transport": "tcp", "paused": True}], indirect=True
)
def test_indirect_parametrization(qmp_instance, qmp_sync):
    assert qmp_sync.cmd("query-target") == {"arch": "aarch64"}
    if "tcp:" in qmp_instance.address:
        host, port = qmp_instance.qmp_address
        assert host == "127.0.0.1" and port > 0


@pytest.mark.asyncio
@pytest.mark.qmp_profile(PROFILE)
async def test_async_client_sees_injected_event(qmp_instance, qmp_client):
    assert (await qmp_client.execute("query-status"))["status"] == "running"
    await asyncio.get_running_loop().run_in_executor(
        None, lambda: qmp_instance.emit_event("GUEST_PANICKED", {"action": "pause"})
    )
    ev = await asyncio.wait_for(qmp_client.events.get(), 5)
    assert ev["event"] == "GUEST_PANICKED" and ev["data"] == {"action": "pause"}


@pytest.mark.qmp_profile(PROFILE)
def test_fault_fail_named_command(qmp_instance, qmp_sync):
    qmp_instance.fault("fail", command="query-name", class_="DeviceNotFound", desc="no name today")
    r = qmp_sync.cmd_obj({"execute": "query-name", "id": "a"})
    assert r == {"error": {"class": "DeviceNotFound", "desc": "no name today"}, "id": "a"}
    assert qmp_sync.cmd_obj({"execute": "query-name", "id": "b"}) == {"return": {}, "id": "b"}


@pytest.mark.qmp_pair(PROFILE, PROFILE)
def test_pair_destination_waits_for_migration(qmp_pair):
    src, dst = qmp_pair
    assert src.id != dst.id
    assert src.runstate == "running"
    assert dst.runstate == "inmigrate"


def test_factory_isolation_and_startup_errors(qmpserver_factory, qmpserver_server):
    a = qmpserver_factory(PROFILE)
    b = qmpserver_factory(PROFILE, transport="tcp")
    assert a.address != b.address
    with pytest.raises(StartupError) as ei:
        qmpserver_factory(PROFILE, machine="no-such-machine")
    assert "unsupported machine type" in ei.value.message
    ids = {a.id, b.id}
    qmpserver_factory.cleanup()
    live = {r for r in qmpserver_server.control.records}
    assert not ids & live
    assert not os.path.exists(a.qmp_address)
