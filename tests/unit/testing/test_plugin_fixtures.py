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


STRICT_ERROR = {
    "class": "GenericError",
    "desc": "qmpserver: no model and no recording for 'x-query-roms' (no arguments) on build qemu-7.2-debian",
}


@pytest.mark.qmp_profile(PROFILE, strict=True)
def test_strict_option_of_an_instance(qmp_instance, qmp_sync):
    assert qmp_sync.cmd_obj({"execute": "x-query-roms"}) == {"error": STRICT_ERROR}
    assert qmp_instance.refresh()["strict"] is True


@pytest.mark.qmp_profile(PROFILE)
def test_default_mode_answers_the_default(qmp_instance, qmp_sync):
    assert qmp_sync.cmd_obj({"execute": "x-query-roms"}) == {"return": {"human-readable-text": ""}}
    assert qmp_instance.refresh()["strict"] is False


def test_qmpserver_strict_makes_every_instance_strict():
    """``--qmpserver-strict`` / ini ``qmpserver_strict``: the factory's default of ``strict``;
    an explicit ``strict=False`` still wins."""
    from qmpserver.testing.plugin import Factory

    class Server:
        def __init__(self):
            self.options = []

        def create(self, profile, **options):
            self.options.append(options)
            return self

    srv = Server()
    Factory(srv, PROFILE, strict=True)()
    Factory(srv, PROFILE, strict=True)(strict=False)
    Factory(srv, PROFILE)()
    assert srv.options == [{"strict": True}, {"strict": False}, {}]


def test_qmpserver_strict_option_is_registered(pytestconfig):
    assert pytestconfig.getoption("qmpserver_strict") is False
    assert pytestconfig.getini("qmpserver_strict") is False
