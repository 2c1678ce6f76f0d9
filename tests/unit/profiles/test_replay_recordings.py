"""Replay oracles: libvirt's recordings against qmpserver running their imported profiles.

For every recording in ``shared/data/libvirt-replies/`` (or the gzipped copies in ``data/``
when ``shared/`` is absent): import it with ``qmpserver.profiles.replies``, start one
in-process instance per probe pass with that pass's accelerator (``-machine none``, as
libvirt probes), send every recorded command of the pass with its recorded ``id`` and
compare the reply with the recorded one as JSON values.  The same for each of libvirt 9.0's own
recordings of QEMU 4.2 .. 8.0 (``CAPSDATA``: fetched from Debian's source package by
``scripts/fetch-libvirt-capsdata.sh``, not committed; absent -> skip, a failure under
``QMPSERVER_REQUIRE_REAL_PEERS=1``), one test per file.

A command may be listed in ``EXCEPTIONS`` only with a written reason: its answer depends on
modelled state that the recording does not pin down.  Commands answered from the model
(query-kvm, query-accelerators, query-commands, and whatever topic modules compute: GIC,
MTE ...) are compared like every other command: a mismatch there is a bug of the model,
and the failure names the recording, the pass and the command.  The CPU commands answer a
recorded question from the recording (``replay`` in :mod:`qmpserver.commands.registry`);
``tests/unit/cpu/test_cpu_recorded.py`` compares the CPU model itself with the recordings.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from qmpserver.profiles import replies as R
from qmpserver.vm.config import InstanceConfig
from tests.support.client import RawClient
from tests.support.mock import MockServer
from tests.support.recordings import CAPSDATA_NAMES, capsdata_path, split_passes

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2].parent / "shared" / "data" / "libvirt-replies"
BUNDLED = HERE / "data"
# libvirt 9.0's own recordings for QEMU 4.2 .. 8.0 (aarch64, x86_64), fetched from Debian's
# source package by scripts/fetch-libvirt-capsdata.sh (not committed; see docs/testing.md).
NAMES = (
    "caps_7.0.0.aarch64.replies",
    "caps_8.2.0_aarch64.replies",
    "caps_9.2.0_aarch64+hvf.replies",
    "caps_9.2.0_x86_64.replies",
)

# (recording, pass accelerator, command, canonical arguments or None for any) -> reason.
# Keep this empty unless a reply legitimately depends on state the recording does not fix.
EXCEPTIONS: dict = {
    # QEMU 7.0 registers device_add by hand after the generated commands
    # (monitor_init_qmp_commands: qmp_init_marshal() then qmp_register_command("device_add")),
    # so query-commands, which walks the list backwards, names it first; qmpserver's command
    # table is in schema order, so device_add comes where the schema has it.  The set of names
    # is compared instead (test_query_commands_same_set).  Owner: qmp/ command table.
    (
        "caps_7.0.0.aarch64.replies",
        "kvm",
        "query-commands",
        None,
    ): "order only: device_add registered last by QEMU 7.0 (set compared separately)",
    # libvirt's 4.2.0 recordings (tests/qemucapabilitiesdata in libvirt 9.0) answer these two
    # device-list-properties probes with "default-value" members, yet the same recording's
    # query-qmp-schema has no default-value in ObjectPropertyInfo (QEMU added it in 5.0, whose
    # recordings show it in the schema): the two replies were written by a newer QEMU than the
    # rest of the file.  qmpserver answers as the recorded schema says a 4.2 QEMU can, so it
    # leaves the member out (qapi/conform.py drops members the build's type does not have).
    # The four entries are the whole exception set of the 17 libvirt 9.0 recordings.
    **{
        (name, "kvm", "device-list-properties", R.arguments_key({"typename": dev})): (
            "recording inconsistent with its own schema: default-value (QEMU 5.0+) "
            "in a 4.2 reply whose ObjectPropertyInfo lacks it"
        )
        for name in ("caps_4.2.0.aarch64.replies", "caps_4.2.0.x86_64.replies")
        for dev in ("usb-host", "vhost-user-fs-device")
    },
}


def recordings():
    out = []
    for name in NAMES:
        p = SHARED / name
        if p.is_file():
            out.append((name, p.read_text(encoding="utf-8")))
        else:
            gz = BUNDLED / (name + ".gz")
            out.append((name, gzip.decompress(gz.read_bytes()).decode("utf-8")))
    return out


def _exception(name, accel, cmd):
    args = R.arguments_key(cmd.get("arguments"))
    for key in ((name, accel, cmd["execute"], args), (name, accel, cmd["execute"], None)):
        if key in EXCEPTIONS:
            return EXCEPTIONS[key]
    return None


def import_one(root, name, text):
    """Import one recording into the store at ``root``: (profile path, passes, accelerators)."""
    import yaml

    src = root / "src" / name
    src.parent.mkdir(exist_ok=True)
    src.write_text(text, encoding="utf-8")
    paths = R.import_replies(src, root)
    build = paths["build"].name
    profile = paths.get("profile")
    if profile is None:  # a TCG-only recording has no host: run it on the built-in tcg-only host
        profile = root / "profiles" / (build + ".yaml")
        profile.parent.mkdir(exist_ok=True)
        profile.write_text(
            "kind: profile\nname: %s\nsummary: replay\nhost: tcg-only\nbuild: %s\n"
            "defaults: {accel: tcg, machine: virt, cpu: max}\n" % (build, build)
        )
    accels = yaml.safe_load((paths["build"] / "build.yaml").read_text())["sources"]["passes"]
    return Path(profile), split_passes(text), accels


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """{recording: (profile path, passes, accelerators)} with the store root on the path."""
    root = tmp_path_factory.mktemp("replay-models")
    out = {name: import_one(root, name, text) for name, text in recordings()}
    return root, out


@pytest.fixture(scope="module")
def server(imported, tmp_path_factory):
    root, _ = imported
    old = os.environ.get("QMPSERVER_PROFILE_PATH")
    os.environ["QMPSERVER_PROFILE_PATH"] = str(root)
    try:
        with MockServer() as ms:
            yield ms
    finally:
        if old is None:
            os.environ.pop("QMPSERVER_PROFILE_PATH", None)
        else:
            os.environ["QMPSERVER_PROFILE_PATH"] = old


def replay(server, profile, accel, pairs):
    """Send every command of one pass; return [(command, recorded reply, reply)]."""
    inst, sock = server.instance(
        profile=str(profile),
        config=InstanceConfig(accel=[accel], machine={"type": "none"}, start_paused=True),
    )
    c = RawClient(sock, timeout=30)
    try:
        greeting = c.read(timeout=10)
        assert greeting and "QMP" in greeting, greeting
        out = []
        for cmd, rec in pairs:
            msg = {"execute": cmd["execute"]}
            if "arguments" in cmd:
                msg["arguments"] = cmd["arguments"]
            msg["id"] = cmd["id"]
            c.send(json.dumps(msg) + "\r\n")
            while True:
                got = c.read(timeout=30)
                if got is None or "event" not in got:
                    break
            out.append((cmd, rec, got))
        return out
    finally:
        c.close()
        server.call(lambda: inst.terminate("host-signal"))


CASES = [(name, i) for name in NAMES for i in range(2)]


@pytest.mark.parametrize("name,pass_no", CASES, ids=["%s-pass%d" % c for c in CASES])
def test_replay_pass(imported, server, name, pass_no):
    _, data = imported
    profile, passes, accels = data[name]
    assert len(passes) == len(accels) == 2, (name, accels)
    accel = accels[pass_no]
    results = replay(server, profile, accel, passes[pass_no])
    bad = mismatches(name, accel, results)
    assert not bad, "%s pass %d (%s): %d of %d replies differ:\n  %s" % (
        name,
        pass_no + 1,
        accel,
        len(bad),
        len(results),
        "\n  ".join(bad),
    )


def mismatches(name, accel, results):
    """The replies of one pass that differ from the recording and are not exceptions."""
    bad = []
    for cmd, rec, got in results:
        if got == rec:
            continue
        if _exception(name, accel, cmd):
            continue
        bad.append(
            "%s %s: expected %s, got %s"
            % (
                cmd["execute"],
                json.dumps(cmd.get("arguments", {}))[:120],
                json.dumps(rec)[:300],
                json.dumps(got)[:300],
            )
        )
    return bad


def capsdata(name):
    """The text of one fetched libvirt 9.0 recording; skip (fail in CI) when it was not fetched."""
    return capsdata_path(name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", CAPSDATA_NAMES)
def test_replay_libvirt_capsdata(imported, server, name):
    """Every reply of every pass of libvirt 9.0's recording for QEMU 4.2 .. 8.0 is replayed identically."""
    root, data = imported
    text = capsdata(name)
    if name in data:  # libvirt 9.0 ships one of the shared recordings too: the same file
        assert data[name][1] == split_passes(text), "%s differs from the shared copy" % name
        profile, passes, accels = data[name]
    else:
        profile, passes, accels = import_one(root, name, text)
    assert len(passes) == len(accels), (name, accels)
    report, total = [], 0
    for accel, pairs in zip(accels, passes):
        results = replay(server, profile, accel, pairs)
        total += len(results)
        bad = mismatches(name, accel, results)
        report += ["[%s] %s" % (accel, b) for b in bad]
    assert not report, "%s: %d of %d replies differ:\n  %s" % (name, len(report), total, "\n  ".join(report))


def test_query_commands_same_set(imported, server):
    """Where query-commands is an order-only exception, the names must still all match."""
    _, data = imported
    for name, accel, execute, _args in EXCEPTIONS:
        if execute != "query-commands":
            continue
        profile, passes, accels = data[name]
        pairs = passes[accels.index(accel)]
        for cmd, rec, got in replay(server, profile, accel, pairs):
            if cmd["execute"] == "query-commands":
                assert "return" in got, got
                assert sorted(x["name"] for x in got["return"]) == sorted(x["name"] for x in rec["return"])
                assert len(got["return"]) == len(rec["return"])


def test_exceptions_have_reasons():
    for key, reason in EXCEPTIONS.items():
        assert len(key) == 4 and key[0] in NAMES + CAPSDATA_NAMES, key
        assert isinstance(reason, str) and len(reason) > 20, key


def test_capsdata_exceptions_are_what_they_say():
    """The 4.2 exceptions hold: the recorded reply has default-value, the recorded schema has no
    such member anywhere, and the replayed reply equals the recorded one without it."""
    for name in ("caps_4.2.0.aarch64.replies", "caps_4.2.0.x86_64.replies"):
        text = capsdata(name)
        pairs = [p for ps in split_passes(text) for p in ps]
        schema = next(r for c, r in pairs if c["execute"] == "query-qmp-schema")["return"]
        assert not any(m.get("name") == "default-value" for e in schema for m in e.get("members", ())), name
        keyed = [k for k in EXCEPTIONS if k[0] == name]
        assert len(keyed) == 2, keyed
        for _, _, execute, args in keyed:
            rec = next(
                r for c, r in pairs if c["execute"] == execute and R.arguments_key(c.get("arguments")) == args
            )
            assert any("default-value" in p for p in rec["return"]), (name, args)
