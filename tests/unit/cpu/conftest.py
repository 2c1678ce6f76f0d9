"""Helpers for the aarch64 CPU tests: profiles by (host, build), a sans-IO QMP driver."""

from __future__ import annotations

import os
import sys

import pytest

if os.path.dirname(__file__) not in sys.path:
    sys.path.insert(0, os.path.dirname(__file__))

from cpu_testutil import KVM_HOSTS, Qmp, make_instance, profile_for  # noqa: E402,F401


@pytest.fixture
def qmp():
    """qmp(profile, **config) -> a negotiated sans-IO QMP client on a fresh instance."""

    def make(profile="debian-7.2-tcg", **cfg):
        return Qmp(make_instance(profile, **cfg))

    return make
