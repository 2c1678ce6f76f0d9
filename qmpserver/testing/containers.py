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

Works with Docker, and with podman's Docker-compatible API
(``podman system service``; set ``DOCKER_HOST=unix:///path/podman.sock`` and
``TESTCONTAINERS_RYUK_DISABLED=true``).  Image: see ``docker/build-image.sh``.
"""

from __future__ import annotations

import json
import secrets
import socket
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
