"""Container fixtures: podman, the image (built once), podman's Docker API for testcontainers."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

if os.path.dirname(__file__) not in sys.path:
    sys.path.insert(0, os.path.dirname(__file__))

from container_testutil import ApiService, Podman, build_host_image, build_image, need  # noqa: E402


def pytest_collection_modifyitems(items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.container)
            # the first test of each worker waits for the session's image build (debootstrap of
            # the base image, the wheelhouse, the image): minutes on a fresh 2-core machine
            item.add_marker(pytest.mark.timeout(900))


@pytest.fixture(scope="session")
def podman(tmp_path_factory):
    need(shutil.which("podman"), "podman is not installed (apt-get install podman runc)")
    return Podman(str(tmp_path_factory.mktemp("podman")))


@pytest.fixture(scope="session")
def image(podman, tmp_path_factory):
    return build_image(podman, str(tmp_path_factory.getbasetemp().parent))


@pytest.fixture(scope="session")
def host_image(podman, image, tmp_path_factory):
    """The simulated-host image (libvirt + the launcher) of this content."""
    need(shutil.which("virsh"), "virsh is not installed (apt-get install libvirt-clients)")
    return build_host_image(podman, image, str(tmp_path_factory.getbasetemp().parent))


@pytest.fixture(scope="session")
def docker_host(podman):
    """DOCKER_HOST for testcontainers: podman's Docker-compatible API (Ryuk off: podman has none)."""
    svc = ApiService(podman)
    keys = ("DOCKER_HOST", "TESTCONTAINERS_RYUK_DISABLED", "TC_HOST", "TESTCONTAINERS_CONNECTION_MODE")
    old = {k: os.environ.get(k) for k in keys}
    os.environ["DOCKER_HOST"] = svc.url
    os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"
    os.environ["TC_HOST"] = "127.0.0.1"
    # published ports are on this machine's loopback, even when the tests themselves run in a
    # container (testcontainers would then guess "gateway_ip")
    os.environ["TESTCONTAINERS_CONNECTION_MODE"] = "docker_host"
    try:
        from testcontainers.core.config import ConnectionMode, testcontainers_config

        testcontainers_config.ryuk_disabled = True
        testcontainers_config.tc_host_override = "127.0.0.1"
        testcontainers_config.connection_mode_override = ConnectionMode.docker_host
    except ImportError:
        pass
    yield svc.url
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    svc.close()


@pytest.fixture
def run(podman, image):
    """Start containers of the image (podman run -d ...); removed after the test."""
    names = []

    def start(*args, name=None):
        import uuid

        name = name or "qmpserver-test-" + uuid.uuid4().hex[:10]
        podman("run", "-d", "--name", name, *args)
        names.append(name)
        return name

    yield start
    for n in names:
        podman("rm", "-f", "-t", "0", n, check=False)
