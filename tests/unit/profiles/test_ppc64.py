"""ppc64 (issue 12, first increment): the captured qemu-system-ppc64 7.2 build, and the launcher
on its profile answering libvirt's probe exactly as the real binary does.

The differential tests skip when /usr/bin/qemu-system-ppc64 is absent, unless
QMPSERVER_REQUIRE_REAL_PEERS=1 (then they fail).
"""

import json
import re

import pytest
import yaml
from capture_testutil import REPO, real_binary, schema_validator, start_profile

from qmpserver.profiles import capture as C
from qmpserver.profiles import replies as R
from tests.support.oracle_env import require_recorded_packages

PPC64 = "/usr/bin/qemu-system-ppc64"
NAME = "qemu-7.2-debian-ppc64"
BUILD = REPO / "models" / "builds" / NAME
PROFILE = REPO / "models" / "profiles" / f"{NAME}.yaml"
HOST = REPO / "models" / "hosts" / f"{NAME}.yaml"


# ---- capture: a ppc64 target on an x86_64/aarch64 machine gets a host and a profile ----------


@pytest.mark.parametrize("local", ["x86_64", "aarch64"])
def test_tcg_only_target_gets_host_and_profile(monkeypatch, tmp_path, local):
    """The host format lists ppc64 among a host's TCG targets: capture writes all three."""
    monkeypatch.setattr(C, "_local_arch", lambda: local)
    assert set(C.output_paths(tmp_path, NAME, "ppc64")) == {"build", "host", "profile"}
    # a target the host format does not list: the build alone, as before
    assert set(C.output_paths(tmp_path, "s", "s390x")) == {"build"}
    # and a host architecture it does not describe (a POWER machine): the build alone
    monkeypatch.setattr(C, "_local_arch", lambda: "ppc64le")
    assert set(C.output_paths(tmp_path, NAME, "ppc64")) == {"build"}


# ---- the committed capture -----------------------------------------------------------------


def test_committed_files_follow_their_schemas():
    validate = schema_validator()
    validate("host", HOST)
    validate("profile", PROFILE)
    if (REPO / "schemas" / "build.schema.json").exists():
        validate("build", BUILD / "build.yaml")


def test_committed_profile_loads_as_tcg_only_pseries():
    from qmpserver.profiles.loader import load_profile

    p = load_profile(str(PROFILE))
    assert p.build.target == "ppc64" and set(p.build.accelerators) == {"tcg"}
    assert p.host.arch in C.HOST_ARCHES and not p.host.kvm_present
    assert not p.host.arch_can_run_kvm("ppc64")
    assert p.defaults == {"accel": "tcg", "machine": "pseries", "cpu": "max"}
    build = yaml.safe_load((BUILD / "build.yaml").read_text())
    assert "qemu-system-ppc" in build["sources"]["packages"]
    assert "--emulator /usr/bin/qemu-system-ppc64 --accel tcg" in build["sources"]["refs"]["capture"]


def test_profile_serves_recorded_answers():
    """serve --profile: the probe's answers come from the capture."""
    doc = R.load_replies_json(BUILD / "replies.json")
    target, defs = start_profile(PROFILE, "query-target", "query-cpu-definitions")
    assert target == {"return": {"arch": "ppc64"}}
    assert defs["return"] == R.find_entry(doc["entries"], "query-cpu-definitions")["return"]


# ---- differential: the probe, real qemu-system-ppc64 against the launcher -------------------


def _mask(records):
    """(command, arguments, outcome) with what differs between two launches masked: the
    monitor socket's path in query-chardev."""
    out = []
    for r in records:
        outcome = json.loads(json.dumps(r.outcome))
        if r.execute == "query-chardev" and isinstance(outcome.get("return"), list):
            for c in outcome["return"]:
                c["filename"] = re.sub(r"unix:.*/qmp\.monitor", "unix:<dir>/qmp.monitor", c["filename"])
        out.append((r.execute, r.arguments, outcome))
    return out


@pytest.fixture(scope="module")
def launcher(tmp_path_factory):
    from qmpserver.launcher.install import install

    real_binary(PPC64)
    exe, _changed, _notes = install(
        str(PROFILE), str(tmp_path_factory.mktemp("ppc")), name="qemu-system-ppc64"
    )
    return exe


def test_probe_identical_to_real_qemu(launcher):
    """libvirt's probe of ``-machine none,accel=tcg`` (capture's probe pass asks what libvirt's
    virQEMUCaps probe asks, in its order, then every machine and CPU type's properties and every
    CPU model's expansion), sent to the real binary and to the launcher: the same questions get
    the same answers, greeting included."""
    require_recorded_packages(BUILD, what=f"models/builds/{NAME}")
    real = C.run_capture(PPC64, "tcg", machine="none", timeout=60)
    mock = C.run_capture(launcher, "tcg", machine="none", timeout=60)
    assert mock["first"]["greeting"] == real["first"]["greeting"]
    assert mock["banner"] == real["banner"]
    a, b = _mask(real["passes"][0].records), _mask(mock["passes"][0].records)
    assert [x[:2] for x in b] == [x[:2] for x in a]
    assert len(a) >= 190  # 199 with Debian's 7.2.22
    for x, y in zip(a, b):
        assert y == x, x[0]
    assert mock["warnings"] == real["warnings"] == []


# ---- a known type whose properties were not recorded ------------------------------------------


def _list_props(strict, typename):
    from qmpserver.testing.server import InProcessServer
    from tests.support.client import RawClient

    with InProcessServer() as srv:
        inst = srv.create(str(PROFILE), machine="none", strict=strict)
        client = RawClient(inst.qmp_address)
        try:
            client.negotiate()
            return client.cmd("device-list-properties", {"typename": typename})
        finally:
            client.close()


def test_unrecorded_properties_of_a_known_type_are_an_error_when_strict():
    """spapr-vscsi is in the build's qom-list-types, its properties were not recorded: the lax
    answer is the invented [] (docs/qmp.md), the strict one names what is missing."""
    doc = R.load_replies_json(BUILD / "replies.json")
    types = {t["name"] for t in R.find_entry(doc["entries"], "qom-list-types")["return"]}
    assert "spapr-vscsi" in types
    assert R.find_entry(doc["entries"], "device-list-properties", {"typename": "spapr-vscsi"}) is None
    assert _list_props(False, "spapr-vscsi") == {"return": []}
    assert _list_props(True, "spapr-vscsi") == {
        "error": {
            "class": "GenericError",
            "desc": "qmpserver: no model and no recording for 'device-list-properties' "
            '(arguments {"typename": "spapr-vscsi"}) on build qemu-7.2-debian-ppc64',
        }
    }
    # recorded, and unknown, types answer the same in both modes
    for strict in (False, True):
        assert _list_props(strict, "spapr-pci-host-bridge")["return"]
        assert _list_props(strict, "no-such-device")["error"]["class"] == "DeviceNotFound"


def test_unmodelled_pseries_machine_property_is_a_named_error():
    """qom-get of a pseries /machine property nothing resolves (``usb`` without -nodefaults:
    the default devices are not modelled) names what is missing instead of answering the zero
    of its type; the measured defaults (``host-serial``, arch/ppc64/board.py), the spapr caps and vsmt answer the instance's values
    (arch/ppc64/spapr.py, compared with the real binary in tests/unit/launcher/
    test_launcher_ppc64.py); a value set through qom-set reads back, -machine's own
    properties (smp, memory) still resolve."""
    cfpc, vsmt, usb, setk, getk, smp = start_profile(
        PROFILE,
        ("qom-get", {"path": "/machine", "property": "cap-cfpc"}),
        ("qom-get", {"path": "/machine", "property": "vsmt"}),
        ("qom-get", {"path": "/machine", "property": "usb"}),
        ("qom-set", {"path": "/machine", "property": "kernel-addr", "value": 4096}),
        ("qom-get", {"path": "/machine", "property": "kernel-addr"}),
        ("qom-get", {"path": "/machine", "property": "smp"}),
    )
    assert cfpc == {"return": "workaround"} and vsmt == {"return": 1}
    assert usb == {
        "error": {
            "class": "GenericError",
            "desc": "qmpserver: qom-get /machine usb: property of machine pseries-7.2 is not "
            "modelled for target ppc64, and build qemu-7.2-debian-ppc64 recorded no answer",
        }
    }
    assert setk == {"return": {}} and getk == {"return": 4096}
    assert smp["return"]["cpus"] == 1
    (serial,) = start_profile(PROFILE, ("qom-get", {"path": "/machine", "property": "host-serial"}))
    assert serial == {"return": ""}
