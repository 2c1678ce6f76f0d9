"""testcontainers module: qmpserver in a container, ready when QMP greets.

::

    from qmpserver.testing.containers import QMPServerContainer

    with QMPServerContainer("localhost/qmpserver:latest", profile="default") as c:
        host, port = c.get_qmp_address()          # QMPClient().connect((host, port))
        api = c.get_http_url()                    # the HTTP API (token: c.token)
        srv = c.external_server()                 # qmpserver.testing.server.ExternalServer

The wait strategy (:class:`QMPGreetingWaitStrategy`) connects to the QMP port
and reads one line: ready means a ``{"QMP": ...}`` greeting arrived, not merely
an open port (a published port accepts connections before the process
listens).  It disconnects at once, freeing QEMU's one-client slot; use
``HttpWaitStrategy(8080).for_status_code(200)`` on ``/healthz`` instead where
even a short-lived QMP client would disturb a test.

:class:`SimulatedHostContainer` is the simulated-host image (libvirt + the launcher as the
host's ``qemu-system-*``, ``docker/host/``) as a testcontainers class::

    from qmpserver.testing.containers import SimulatedHostContainer

    with SimulatedHostContainer("localhost/qmpserver-host:latest", profile="debian-7.2-tcg") as h:
        h.virsh("domcapabilities", "--virttype", "qemu", "--machine", "virt")
        h.get_libvirt_uri()                       # qemu+tcp://127.0.0.1:PORT/system
        h.external_server()                       # its HTTP API

Ready means the image's own health check passed (libvirt answers, the launcher loads its
profile, the HTTP API answers), run inside the container.  Live migration between two
hosts needs each to resolve the other's name: :class:`qmpserver.testing.hosts.SimulatedHosts`
sets that up (a private network, ``--add-host``); this class is for one host at a time.

Works with Docker, and with podman's Docker-compatible API
(``podman system service``; set ``DOCKER_HOST=unix:///path/podman.sock`` and
``TESTCONTAINERS_RYUK_DISABLED=true``).  Image: see ``docker/build-image.sh``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from typing import Optional

from testcontainers.core.container import DockerContainer
from testcontainers.core.waiting_utils import WaitStrategy

QMP_PORT = 4444
HTTP_PORT = 8080
DEFAULT_IMAGE = "localhost/qmpserver:latest"


def read_greeting(host: str, port: int, timeout: float = 2.0) -> dict:
    """Connect, read the first line, close; the QMP greeting or an exception."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError("closed before the QMP greeting")
            buf += chunk
            if len(buf) > 65536:
                raise ValueError("no QMP greeting in the first 64 KiB")
    msg = json.loads(buf)
    if not isinstance(msg, dict) or "QMP" not in msg:
        raise ValueError("not a QMP greeting: %r" % buf[:200])
    return msg


class QMPGreetingWaitStrategy(WaitStrategy):
    """Ready when the QMP port answers with the greeting."""

    def __init__(self, port: int = QMP_PORT) -> None:
        super().__init__()
        self._port = port
        self.greeting: Optional[dict] = None
        self.with_transient_exceptions(OSError, ConnectionError, ValueError)

    def wait_until_ready(self, container) -> None:
        host = container.get_container_host_ip()
        port = int(container.get_exposed_port(self._port))

        def check():
            self.greeting = read_greeting(host, port)
            return True

        if not self._poll(check):
            raise TimeoutError("no QMP greeting on %s:%s within %ss" % (host, port, self._startup_timeout))


class QMPServerContainer(DockerContainer):
    """``qmpserver serve`` with one instance on TCP QMP and the HTTP API."""

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        profile: Optional[str] = None,
        token: Optional[str] = None,
        qmp_port: int = QMP_PORT,
        http_port: int = HTTP_PORT,
        extra_args=(),
        **kwargs,
    ) -> None:
        self.token = token or secrets.token_hex(16)
        self.qmp_port = qmp_port
        self.http_port = http_port
        self.wait_strategy = (
            QMPGreetingWaitStrategy(qmp_port).with_startup_timeout(60).with_poll_interval(0.2)
        )
        super().__init__(image, _wait_strategy=self.wait_strategy, **kwargs)
        self.with_exposed_ports(qmp_port, http_port)
        self.with_env("QMPSERVER_HTTP_TOKEN", self.token)
        if profile:
            self.with_env("QMPSERVER_PROFILE", profile)
        args = ["--qmp", "tcp:0.0.0.0:%d" % qmp_port, "--http", "0.0.0.0:%d" % http_port, "--keep-running"]
        self.with_command(args + list(extra_args))

    @property
    def greeting(self) -> Optional[dict]:
        return self.wait_strategy.greeting

    def get_qmp_address(self):
        """(host, port) of the first instance's QMP, for ``QMPClient.connect()``."""
        return self.get_container_host_ip(), int(self.get_exposed_port(self.qmp_port))

    def get_http_url(self) -> str:
        host = self.get_container_host_ip()
        if ":" in host:
            host = "[%s]" % host
        return "http://%s:%d" % (host, int(self.get_exposed_port(self.http_port)))

    def external_server(self, ports=None):
        """An :class:`~qmpserver.testing.server.ExternalServer` on this container's API."""
        from .server import ExternalServer

        return ExternalServer(self.get_http_url(), self.token, ports)


LIBVIRT_PORT = 16509
HOST_IMAGE = "localhost/qmpserver-host:latest"
HOST_HEALTH = "/usr/local/bin/qmpserver-host-health"


class HostHealthWaitStrategy(WaitStrategy):
    """Ready when the image's health check (``qmpserver-host-health``) exits 0 inside the
    container; the last failure's output is in the timeout's message."""

    def __init__(self) -> None:
        super().__init__()
        self.last_output = ""

    def wait_until_ready(self, container) -> None:
        wrapped = container.get_wrapped_container()
        deadline = time.monotonic() + self._startup_timeout
        while True:
            wrapped.reload()
            if wrapped.status in ("exited", "dead"):
                logs = wrapped.logs().decode("utf-8", "replace")
                raise RuntimeError(
                    "simulated host exited (status %s) before it was healthy:\n%s"
                    % (wrapped.attrs.get("State", {}).get("ExitCode"), logs[-3000:])
                )
            code, out = wrapped.exec_run([HOST_HEALTH])
            self.last_output = (out or b"").decode("utf-8", "replace")
            if code == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    "simulated host not healthy within %ss: %s"
                    % (self._startup_timeout, self.last_output.strip())
                )
            time.sleep(self._poll_interval)


class SimulatedHostContainer(DockerContainer):
    """One simulated host: libvirtd + virtlogd, the launcher on ``profile``, libvirt over TCP
    (no authentication: test networks only) and the HTTP API with a token.

    ``/dev/kvm`` is passed in when this machine has it (``kvm="auto"``): libvirt refuses a
    ``type='kvm'`` domain without the device, although the launcher never opens it.
    ``host_uuid`` sets libvirt's host UUID (default: a random one per start)."""

    def __init__(
        self,
        image: str = HOST_IMAGE,
        profile: Optional[str] = None,
        token: Optional[str] = None,
        host_uuid: Optional[str] = None,
        kvm="auto",
        startup_timeout: int = 90,
        **kwargs,
    ) -> None:
        self.token = token or secrets.token_hex(16)
        self.profile = profile
        self.wait_strategy = (
            HostHealthWaitStrategy().with_startup_timeout(startup_timeout).with_poll_interval(0.2)
        )
        if (os.path.exists("/dev/kvm") if kvm == "auto" else kvm) and "devices" not in kwargs:
            kwargs["devices"] = ["/dev/kvm:/dev/kvm"]
        super().__init__(image, _wait_strategy=self.wait_strategy, **kwargs)
        self.with_exposed_ports(LIBVIRT_PORT, HTTP_PORT)
        self.with_env("QMPSERVER_HTTP_TOKEN", self.token)
        if profile:
            self.with_env("QMPSERVER_PROFILE", profile)
        if host_uuid:
            self.with_env("QMPSERVER_HOST_UUID", host_uuid)

    def _address(self, port: int) -> str:
        host = self.get_container_host_ip()
        if ":" in host:
            host = "[%s]" % host
        return "%s:%d" % (host, int(self.get_exposed_port(port)))

    def get_libvirt_uri(self) -> str:
        """libvirt's URI of this host from the machine running the test."""
        return "qemu+tcp://%s/system" % self._address(LIBVIRT_PORT)

    def get_http_url(self) -> str:
        return "http://" + self._address(HTTP_PORT)

    def virsh(self, *args: str, check: bool = False, timeout: float = 120):
        """``virsh -c URI ARGS`` on this machine (needs libvirt-clients); with ``check`` a
        non-zero status raises AssertionError carrying virsh's output."""
        uri = self.get_libvirt_uri()
        p = subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(
                "virsh -c %s %s failed (%d): %s%s" % (uri, " ".join(args), p.returncode, p.stdout, p.stderr)
            )
        return p

    def external_server(self, ports=None):
        """An :class:`~qmpserver.testing.server.ExternalServer` on this host's HTTP API."""
        from .server import ExternalServer

        return ExternalServer(self.get_http_url(), self.token, ports)
