"""A board whose running state is not modelled (ppc64 powernv9 ...) starts, and says once per
instance that its answers beyond the recordings are generic; the Arm virt board, the pseries
board and ``-machine none`` (libvirt's probe) say nothing, pseries only that its default devices
(without ``-nodefaults``) are not modelled."""

from __future__ import annotations

import logging

import pytest

from qmpserver import startup
from qmpserver.profiles.loader import load_profile
from qmpserver.vm.config import InstanceConfig


def warnings_of(caplog, profile, machine=None):
    cfg = InstanceConfig()
    if machine:
        cfg.machine = {"type": machine}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="qmpserver.machine"):
        inst = startup.start(load_profile(profile), cfg)
    return inst, [r.getMessage() for r in caplog.records if r.name == "qmpserver.machine"]


def test_other_ppc64_board_says_it_is_not_modelled(caplog):
    inst, said = warnings_of(caplog, "qemu-7.2-debian-ppc64", "powernv9")
    assert inst.machine.type == "powernv9"
    assert len(said) == 1 and "is not modelled" in said[0] and "ppc64" in said[0], said


def test_pseries_says_only_its_default_devices_are_not_modelled(caplog):
    inst, said = warnings_of(caplog, "qemu-7.2-debian-ppc64")
    assert inst.machine.type.startswith("pseries")
    assert len(said) == 1 and "without -nodefaults" in said[0] and "of target" not in said[0], said


@pytest.mark.parametrize(
    ("profile", "machine"),
    [("debian-7.2-tcg", None), ("debian-7.2-tcg", "none"), ("qemu-7.2-debian-ppc64", "none")],
)
def test_modelled_board_or_none_says_nothing(caplog, profile, machine):
    _inst, said = warnings_of(caplog, profile, machine)
    assert said == []
