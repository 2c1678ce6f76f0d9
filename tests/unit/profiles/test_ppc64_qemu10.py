"""ppc64 on QEMU 10.0 (issue 12 asks for an 11.x build; Debian's 10.0.2 from bookworm-backports is
the newest real QEMU at hand): the captured ``qemu-10.0-debian-ppc64`` build, and the launcher on
its profile answering libvirt's probe exactly as the real 10.0 binary does.

The differential test needs the 10.0 binary (``bash scripts/fetch-qemu-backports.sh``); it skips
without it, unless QMPSERVER_REQUIRE_REAL_PEERS=1 (then it fails).
"""

import pytest
import yaml
from capture_testutil import REPO, schema_validator
from test_ppc64 import _mask

from qmpserver.profiles import capture as C
from tests.support.peers import need_qemu10

NAME = "qemu-10.0-debian-ppc64"
BUILD = REPO / "models" / "builds" / NAME
PROFILE = REPO / "models" / "profiles" / f"{NAME}.yaml"
HOST = REPO / "models" / "hosts" / f"{NAME}.yaml"


def test_committed_files_follow_their_schemas():
    validate = schema_validator()
    validate("host", HOST)
    validate("profile", PROFILE)
    if (REPO / "schemas" / "build.schema.json").exists():
        validate("build", BUILD / "build.yaml")


def test_committed_profile_is_the_fetched_10_0():
    """A TCG-only pseries profile whose sources name the fetched package, the script that fetched
    it and why 10.0 stands in for the 11.x the issue asks for."""
    from qmpserver.profiles.loader import load_profile

    p = load_profile(str(PROFILE))
    assert p.build.target == "ppc64" and set(p.build.accelerators) == {"tcg"}
    assert p.build.version == (10, 0, 2) and not p.host.kvm_present
    assert p.defaults == {"accel": "tcg", "machine": "pseries", "cpu": "max"}
    refs = yaml.safe_load((BUILD / "build.yaml").read_text())["sources"]["refs"]
    assert "--emulator .cache/qemu-10.0/bin/qemu-system-ppc64 --accel tcg" in refs["capture"]
    assert "scripts/fetch-qemu-backports.sh" in refs["package"]
    assert "1:10.0.2+ds-2+deb13u1~bpo12+1" in refs["package"]
    assert "11.x" in refs["why-10.0"]
    assert "a wrapper running .cache/qemu-10.0/root/usr/bin/qemu-system-ppc64" in refs["binary"]


@pytest.fixture(scope="module")
def launcher(tmp_path_factory):
    from qmpserver.launcher.install import install

    need_qemu10("ppc64")
    exe, _changed, _notes = install(
        str(PROFILE), str(tmp_path_factory.mktemp("ppc10")), name="qemu-system-ppc64"
    )
    return exe


def test_probe_identical_to_real_qemu_10(launcher):
    """libvirt's probe of ``-machine none,accel=tcg`` and capture's extras, sent to the real 10.0
    binary and to the launcher: the same questions get the same answers, greeting included."""
    real = C.run_capture(need_qemu10("ppc64"), "tcg", machine="none", timeout=60)
    mock = C.run_capture(launcher, "tcg", machine="none", timeout=60)
    assert mock["first"]["greeting"] == real["first"]["greeting"]
    assert mock["banner"] == real["banner"]
    a, b = _mask(real["passes"][0].records), _mask(mock["passes"][0].records)
    assert [x[:2] for x in b] == [x[:2] for x in a]
    assert len(a) >= 190  # 195 with Debian's 10.0.2
    for x, y in zip(a, b):
        assert y == x, x[0]
    assert mock["warnings"] == real["warnings"] == []
