"""Real libvirt (Debian's libvirtd 9.0) driving the launcher.

The tests skip when libvirt is not installed, unless QMPSERVER_REQUIRE_REAL_PEERS=1.
As root they start libvirtd through setup-libvirt.sh when it is not running.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

if os.path.dirname(__file__) not in sys.path:
    sys.path.insert(0, os.path.dirname(__file__))

import libvirt_testutil as lt  # noqa: E402


@pytest.fixture(scope="session")
def libvirt():
    why = lt.libvirt_ready()
    if why is not None:
        if lt.require_peers():
            pytest.fail(why)
        pytest.skip(why)
    return lt.URI


@pytest.fixture(scope="session")
def launchers(libvirt):
    """profile name -> installed launcher path (one directory per profile)."""
    made = {}
    dirs = []

    def get(profile):
        if profile not in made:
            d = lt.world_dir("qmps-%s-" % profile[:20])
            dirs.append(d)
            try:
                made[profile] = lt.install_launcher(profile, d)
            except RuntimeError as e:
                if lt.require_peers():
                    pytest.fail(str(e))
                pytest.skip(str(e))
        return made[profile]

    yield get
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
