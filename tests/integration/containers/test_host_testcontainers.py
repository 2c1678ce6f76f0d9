"""The simulated-host image through its testcontainers class (``SimulatedHostContainer``):
ready only when the image's health check passes, libvirt reachable over ``qemu+tcp`` with the
host UUID it was given and the launcher as its emulator, the HTTP API with the generated
token; a profile that does not exist ends the wait with the host's own error, not a timeout.
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest


def test_simulated_host_container(host_image, docker_host):
    from qmpserver.testing.containers import SimulatedHostContainer

    host_uuid = str(uuid.uuid4())
    with SimulatedHostContainer(host_image, profile="debian-7.2-tcg", host_uuid=host_uuid) as h:
        caps = h.virsh("capabilities", check=True).stdout
        assert "<uuid>%s</uuid>" % host_uuid in caps
        dom = h.virsh(
            "domcapabilities", "--virttype", "qemu", "--arch", "aarch64", "--machine", "virt", check=True
        ).stdout
        assert "<path>/usr/local/bin/qemu-system-aarch64</path>" in dom, dom[:2000]
        assert "<machine>virt-7.2</machine>" in dom
        req = urllib.request.Request(
            h.get_http_url() + "/healthz", headers={"Authorization": "Bearer " + h.token}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200 and json.loads(r.read())["status"] == "ok"
        bad = urllib.request.Request(
            h.get_http_url() + "/api/v1/profiles", headers={"Authorization": "Bearer x"}
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(bad, timeout=10)
        assert e.value.code == 401


def test_simulated_host_container_bad_profile(host_image, docker_host):
    from qmpserver.testing.containers import SimulatedHostContainer

    c = SimulatedHostContainer(host_image, profile="no-such-profile", startup_timeout=60)
    with pytest.raises(RuntimeError, match="no-such-profile"):
        try:
            c.start()
        finally:
            c.stop()
