"""The recorded-package check names what differs, in one line."""

import pytest
import yaml

from qmpserver.profiles import capture as C
from tests.support import oracle_env as O


def test_differences_name_each_package():
    rec = {"qemu-system-arm": "1:7.2", "qemu-system-gui": "1:7.2", "libvirt-daemon": "9.0"}
    have = {"qemu-system-arm": "1:7.2+u1", "libvirt-daemon": "9.0", "qemu-block-extra": "1:7.2"}
    assert O.package_differences(rec, have) == [
        "qemu-block-extra 1:7.2 is installed but was not when recorded",
        "qemu-system-arm is 1:7.2+u1, recorded with 1:7.2",
        "qemu-system-gui 1:7.2 is not installed",
    ]
    assert O.package_differences(rec, dict(rec)) == []


def test_committed_build_records_its_packages():
    pk = O.recorded_packages()
    # the module package the oracles need (ui-gtk, ui-sdl, virtio-gpu-gl) is part of the set
    assert {"qemu-system-arm", "qemu-system-common", "qemu-system-gui"} <= set(pk)
    assert all(isinstance(v, str) and v for v in pk.values())


def test_a_different_set_fails_with_one_line(tmp_path, monkeypatch):
    (tmp_path / "build.yaml").write_text(
        yaml.safe_dump({"sources": {"packages": {"qemu-system-arm": "0:0-not-a-version"}}})
    )
    monkeypatch.setattr(O, "REQUIRE", True)
    monkeypatch.setattr(O, "installed_packages", lambda patterns: {"qemu-system-arm": "1:7.2"})
    with pytest.raises(pytest.fail.Exception) as err:
        O.require_recorded_packages(tmp_path, what="X")
    text = str(err.value)
    assert "qemu-system-arm is 1:7.2, recorded with 0:0-not-a-version" in text
    assert "\n" not in text


def test_installed_packages_reads_dpkg(monkeypatch):
    class Out:
        stdout = (
            "ii \tqemu-system-arm\t1:7.2\nun \tqemu-system-gui\t\n"
            "rc \tlibvirt-daemon\t9.0\nii \tlibvirt-clients\t9.0\n"
        )

    monkeypatch.setattr(C.subprocess, "run", lambda *a, **k: Out)
    assert C.installed_packages() == {"libvirt-clients": "9.0", "qemu-system-arm": "1:7.2"}


def test_packages_no_oracle_sees_are_not_compared():
    """qemu-utils (seen preinstalled on a CI image) ships programs, no module qemu-system loads."""
    rec = {"qemu-system-arm": "1:7.2"}
    assert O.package_differences(rec, {**rec, "qemu-utils": "1:7.2"}) == []
    assert O.package_differences({**rec, "qemu-utils": "1:7.2"}, rec) == []
    assert O.package_differences(rec, {**rec, "qemu-block-extra": "1:7.2"}) != []


def test_extras_are_what_no_oracle_build_recorded(tmp_path):
    """What test.sh removes in CI: installed, oracle-visible, recorded by none of the builds."""
    for name, pkgs in (("a", {"qemu-system-arm": "1"}), ("b", {"qemu-system-gui": "1"})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "build.yaml").write_text(yaml.safe_dump({"sources": {"packages": pkgs}}))
    installed = {
        "qemu-system-arm": "2",  # another version: a difference, but not an extra
        "qemu-system-gui": "1",  # recorded by b only: not an extra
        "qemu-utils": "1",  # seen by no oracle
        "qemu-efi-aarch64": "1",
        "libvirt-daemon-driver-lxc": "1",
    }
    dirs = [tmp_path / "a", tmp_path / "b"]
    assert O.extra_packages(dirs, installed) == ["libvirt-daemon-driver-lxc", "qemu-efi-aarch64"]
    assert O.extra_packages(dirs[:1], installed) == [
        "libvirt-daemon-driver-lxc",
        "qemu-efi-aarch64",
        "qemu-system-gui",
    ]


def test_extras_cli(tmp_path, capsys, monkeypatch):
    (tmp_path / "build.yaml").write_text(yaml.safe_dump({"sources": {"packages": {"qemu-system-arm": "1"}}}))
    monkeypatch.setattr(O, "installed_packages", lambda patterns: {"qemu-block-extra": "1"})
    assert O.main(["extras", str(tmp_path / "build.yaml")]) == 0
    assert capsys.readouterr().out == "qemu-block-extra\n"
    assert O.main(["extras", str(tmp_path / "missing")]) == 1
    assert "missing/build.yaml: no such file" in capsys.readouterr().err
    assert O.main([]) == 2
