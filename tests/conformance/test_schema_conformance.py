"""Every reply of every build conforms to that build's own ``query-qmp-schema`` (issue 15).

For every built-in profile (``models/profiles``) and every libvirt recording of the test
data (``shared/data/libvirt-replies``, else the bundled copies in
``tests/unit/profiles/data``), imported with ``qmpserver.profiles.replies``:

and the native schema evaluated for older releases (``NATIVE_VERSIONS``: the ``qemu-11.1``
build relabelled, with the native QAPI source instead of its recorded 11.1 introspection, so
its recorded 11.1 answers meet an older schema):

* start an instance as libvirt probes (``-machine none``, the profile's accelerator)
  and one as libvirt runs a domain (the profile's machine and CPU, paused);
* ask ``query-qmp-schema`` and ``query-commands`` *over QMP*, as a client learns them;
* send every listed command with no arguments, and with every argument set libvirt
  sends for it in any recording of the test data (the probe recordings and
  ``libvirt-domain-lifecycle-qemu72-aarch64.jsonl``); ``quit`` last;
* check every ``return`` against the command's ``ret-type`` in that introspection, with
  the small checker below (written against ``SchemaInfo`` directly, not the engine
  under test): no member the type lacks, every required member present, only enum
  values and union tags the build knows, the right JSON type everywhere (``any``
  unchecked); an ``error`` is ``{class, desc}`` strings and never the schema engine's
  "cannot give this build's answer" (a modelling gap).

Cost (2 cores, ``-n 2``): about 20 s; nothing is sampled.  One process compiles each
profile once (the compile cache), and in-process instances answer over a Unix socket.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from qmpserver.models import MODELS_DIR, arguments_key
from qmpserver.profiles import replies as R
from qmpserver.vm.config import InstanceConfig
from tests.support.client import RawClient
from tests.support.mock import MockServer
from tests.support.recordings import CAPSDATA_NAMES, capsdata_path, split_passes

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = REPO.parent / "shared" / "data"
BUNDLED = REPO / "tests" / "unit" / "profiles" / "data"
RECORDINGS = (
    "caps_7.0.0.aarch64.replies",
    "caps_8.2.0_aarch64.replies",
    "caps_9.2.0_aarch64+hvf.replies",
    "caps_9.2.0_x86_64.replies",
)
LIFECYCLE = "libvirt-domain-lifecycle-qemu72-aarch64.jsonl"
# libvirt 9.0's recordings (tests.support.recordings.CAPSDATA); caps_7.0.0.aarch64 is one of RECORDINGS
CAPSDATA_RECORDINGS = tuple(n for n in CAPSDATA_NAMES if n not in RECORDINGS)
# the native QAPI schema (schemas/qapi, 'if': QEMU_X_Y conditions) evaluated for older
# releases: the built-in qemu-11.1 build relabelled, on a KVM host (test builds, not shipped)
NATIVE_VERSIONS = ("7.2.0", "8.0.0", "8.2.0", "9.0.0", "9.1.0", "10.0.0", "10.1.0", "11.0.0")
# commands sent last (they end the instance) or not at all
LAST = ("quit",)
GAP = "cannot give this build's answer"


def _recording_text(name: str) -> str:
    p = SHARED / "libvirt-replies" / name
    if p.is_file():
        return p.read_text(encoding="utf-8")
    return gzip.decompress((BUNDLED / (name + ".gz")).read_bytes()).decode("utf-8")


def _argument_sets() -> dict[str, list[dict]]:
    """command -> distinct argument objects libvirt sends in the test data."""
    out: dict[str, dict[str, dict]] = {}

    def add(cmd: dict) -> None:
        args = cmd.get("arguments")
        if args:
            out.setdefault(cmd["execute"], {}).setdefault(arguments_key(args), args)

    for name in RECORDINGS:
        for p in split_passes(_recording_text(name)):
            for cmd, _reply in p:
                add(cmd)
    lc = SHARED / LIFECYCLE
    if lc.is_file():
        for line in lc.read_text().splitlines():
            d = json.loads(line)
            if d["dir"] == "send":
                add(d["msg"])
    return {k: list(v.values()) for k, v in out.items()}


# ---- a SchemaInfo checker, independent of qmpserver.qapi ------------------------------------

_JSON = {
    "string": (str,),
    "int": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


class Checker:
    def __init__(self, info: list) -> None:
        self.by_name = {e["name"]: e for e in info if e["meta-type"] not in ("command", "event")}
        self.commands = {e["name"]: e for e in info if e["meta-type"] == "command"}

    def check(self, tname: str, v, path: str, out: list) -> None:
        if tname.startswith("[") and tname not in self.by_name:
            ent = {"meta-type": "array", "element-type": tname[1:-1]}
        else:
            ent = self.by_name[tname]
        meta = ent["meta-type"]
        if meta == "builtin":
            jt = ent["json-type"]
            if jt != "value" and type(v) not in _JSON[jt]:
                out.append("%s: expected %s, got %r" % (path, jt, v))
        elif meta == "enum":
            if type(v) is not str or v not in ent["values"]:
                out.append("%s: %r is not a value of the build's enum" % (path, v))
        elif meta == "array":
            if type(v) is not list:
                out.append("%s: expected an array" % path)
                return
            for i, x in enumerate(v):
                self.check(ent["element-type"], x, "%s[%d]" % (path, i), out)
        elif meta == "alternate":
            for m in ent["members"]:
                sub: list = []
                self.check(m["type"], v, path, sub)
                if not sub:
                    return
            out.append("%s: %r matches no alternative" % (path, v))
        elif meta == "object":
            if type(v) is not dict:
                out.append("%s: expected an object, got %r" % (path, v))
                return
            members = list(ent["members"])
            if "tag" in ent:
                tag = v.get(ent["tag"])
                for var in ent["variants"]:
                    if var["case"] == tag:
                        members += self.by_name[var["type"]]["members"]
            known = {m["name"]: m for m in members}
            for k in v:
                if k not in known:
                    out.append("%s: member %r is not in the build's type" % (path, k))
            for m in members:
                if m["name"] in v:
                    self.check(m["type"], v[m["name"]], "%s.%s" % (path, m["name"]), out)
                elif "default" not in m:
                    out.append("%s: required member %r missing" % (path, m["name"]))
        else:
            out.append("%s: unknown meta-type %s" % (path, meta))

    def reply(self, command: str, reply, out: list) -> None:
        if not isinstance(reply, dict):
            out.append("%s: no reply (%r)" % (command, reply))
        elif "return" in reply:
            self.check(self.commands[command]["ret-type"], reply["return"], command + " return", out)
        elif "error" in reply:
            err = reply["error"]
            if set(err) != {"class", "desc"} or not all(type(x) is str for x in err.values()):
                out.append("%s: malformed error %r" % (command, err))
            elif GAP in err["desc"]:
                out.append("%s: %s" % (command, err["desc"]))
        else:
            out.append("%s: neither return nor error: %r" % (command, reply))


# ---- profiles ------------------------------------------------------------------------------------


def _builtin_profiles() -> list[str]:
    return sorted(p[:-5] for p in os.listdir(os.path.join(MODELS_DIR, "profiles")) if p.endswith(".yaml"))


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """{recording: profile path} (TCG-only recordings run on the built-in tcg-only host)."""
    root = tmp_path_factory.mktemp("conformance-models")
    out = {}
    for name in RECORDINGS:
        src = root / "src" / name
        src.parent.mkdir(exist_ok=True)
        src.write_text(_recording_text(name), encoding="utf-8")
        paths = R.import_replies(src, root)
        profile = paths.get("profile")
        if profile is None:
            build = paths["build"].name
            profile = root / "profiles" / (build + ".yaml")
            profile.parent.mkdir(exist_ok=True)
            profile.write_text(
                "kind: profile\nname: %s\nsummary: conformance\nhost: tcg-only\nbuild: %s\n"
                "defaults: {accel: tcg, machine: virt, cpu: max}\n" % (build, build)
            )
        out[name] = str(profile)
    for v in NATIVE_VERSIONS:
        name = "native-" + v
        p = root / "profiles" / (name + ".yaml")
        p.write_text(
            "kind: profile\nname: %s\nsummary: the native schema at QEMU %s\nhost: graviton4-v2-6.12\n"
            'build: {extends: qemu-11.1, name: %s, version: "%s", package: "v%s",\n'
            "        schema: {qapi: schemas/qapi/qemu.json}}\n"
            "defaults: {accel: kvm, machine: virt, cpu: host}\n" % (name, v, name, v, v)
        )
        out[name] = str(p)
    return root, out


@pytest.fixture(scope="module")
def server(imported):
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


@pytest.fixture(scope="module")
def argument_sets():
    return _argument_sets()


class Session:
    """One instance and one QMP client on it (restarted when a command ends the instance)."""

    def __init__(self, server, profile: str, config: InstanceConfig) -> None:
        self.server, self.profile, self.config = server, profile, config
        self.inst = self.client = None
        self.n = 0

    def start(self):
        self.inst, sock = self.server.instance(profile=self.profile, config=self.config)
        self.client = RawClient(sock, timeout=30)
        greeting = self.client.read(timeout=10)
        assert greeting and "QMP" in greeting, greeting
        assert "return" in self.ask("qmp_capabilities")

    def ask(self, execute: str, arguments=None):
        self.n += 1
        msg = {"execute": execute, "id": "c%d" % self.n}
        if arguments is not None:
            msg["arguments"] = arguments
        try:
            self.client.send(json.dumps(msg) + "\r\n")
        except OSError:  # the instance ended since the last reply (a guest that panics on cont)
            return None
        while True:
            got = self.client.read(timeout=30)
            if got is None or "event" not in got:
                return got

    def stop(self):
        if self.client is not None:
            self.client.close()
        inst = self.inst
        if inst is not None:
            try:
                self.server.call(lambda: inst.terminate("host-signal"))
            except Exception:  # noqa: BLE001 - the instance already ended
                pass
        self.inst = self.client = None


def _conforms(server, profile: str, config: InstanceConfig, argument_sets: dict) -> tuple[list, int]:
    s = Session(server, profile, config)
    s.start()
    problems: list = []
    sent = 0
    try:
        schema = s.ask("query-qmp-schema")["return"]
        checker = Checker(schema)
        names = [c["name"] for c in s.ask("query-commands")["return"]]
        todo = []
        for name in names:
            if name in LAST or name == "qmp_capabilities":
                continue
            todo.append((name, None))
            todo.extend((name, a) for a in argument_sets.get(name, ()))
        todo.extend((n, None) for n in LAST if n in names)
        for name, args in todo:
            reply = s.ask(name, args)
            sent += 1
            if reply is None:  # the command ended the instance (e.g. system_powerdown): go on
                if name not in LAST:
                    s.stop()
                    s.start()
                continue
            checker.reply(name, reply, problems)
    finally:
        s.stop()
    return problems, sent


def _configs(accel: str):
    return (
        ("probe", InstanceConfig(accel=[accel], machine={"type": "none"}, start_paused=True)),
        ("domain", InstanceConfig(start_paused=True)),
    )


def _check(server, profile, argument_sets, label):
    from qmpserver.profiles.loader import load_profile

    prof = load_profile(profile)
    accel = prof.defaults.get("accel") or "tcg"
    if accel == "kvm" and not prof.host.kvm_present:
        accel = "tcg"
    report = []
    total = 0
    for what, config in _configs(accel):
        problems, sent = _conforms(server, profile, config, argument_sets)
        total += sent
        report += ["%s (%s): %s" % (label, what, p) for p in problems]
    assert total > 100, (label, total)
    assert not report, "%d replies do not conform to the build's schema:\n  %s" % (
        len(report),
        "\n  ".join(report[:60]),
    )


@pytest.mark.parametrize("profile", _builtin_profiles())
def test_builtin_profile_conforms(server, argument_sets, profile):
    _check(server, profile, argument_sets, profile)


@pytest.mark.parametrize("recording", RECORDINGS)
def test_imported_profile_conforms(server, imported, argument_sets, recording):
    _root, profiles = imported
    _check(server, profiles[recording], argument_sets, recording)


@pytest.mark.parametrize("recording", CAPSDATA_RECORDINGS)
def test_libvirt_capsdata_profile_conforms(server, imported, argument_sets, recording):
    """libvirt 9.0's recordings of QEMU 4.2 .. 8.0 (caps_7.0.0.aarch64 is one of RECORDINGS)."""
    root, _ = imported
    paths = R.import_replies(capsdata_path(recording), root)
    _check(server, str(paths["profile"]), argument_sets, recording)


@pytest.mark.parametrize("version", NATIVE_VERSIONS)
def test_native_schema_of_older_versions_conforms(server, imported, argument_sets, version):
    """Without the engine: 7.2 lists MachineInfo 'acpi' (8.0+) in query-machines, 7.2 and
    8.0 list migration capabilities they do not know (dirty-limit, switchover-ack 8.1,
    mapped-ram 9.0)."""
    _root, profiles = imported
    _check(server, profiles["native-" + version], argument_sets, "native-" + version)


def test_checker_catches_what_it_must():
    """The checker itself: an extra member, a missing one, an unknown enum value, a wrong type."""
    info = [
        {"name": "q", "meta-type": "command", "arg-type": "0", "ret-type": "1"},
        {"name": "0", "meta-type": "object", "members": []},
        {
            "name": "1",
            "meta-type": "object",
            "members": [{"name": "a", "type": "int"}, {"name": "b", "type": "2", "default": None}],
        },
        {"name": "2", "meta-type": "enum", "values": ["x"], "members": [{"name": "x"}]},
        {"name": "int", "meta-type": "builtin", "json-type": "int"},
    ]
    c = Checker(info)
    for bad in ({"a": 1, "c": 2}, {"b": "x"}, {"a": 1, "b": "y"}, {"a": "1"}, {"a": True}):
        out: list = []
        c.reply("q", {"return": bad}, out)
        assert out, bad
    out = []
    c.reply("q", {"return": {"a": 1, "b": "x"}}, out)
    assert not out
