"""Simulated hosts (containers of the host image) for tests: real libvirt on each, reachable
over ``qemu+tcp``, able to ``virsh migrate`` to each other.

::

    from qmpserver.testing.hosts import SimulatedHosts

    with SimulatedHosts("localhost/qmpserver-host:latest") as fleet:
        a, b = fleet.start("debian-7.2-tcg", "x86-64-host-debian-7.2")
        a.virsh("define", "/tmp/guest.xml")
        a.virsh("start", "guest")
        a.virsh("migrate", "--live", "guest", b.uri)      # real libvirt on both ends
        b.monitor("guest", {"execute": "query-status"})

The hosts share a private network of their own (one per :class:`SimulatedHosts`); each
gets a fixed address on it, its name as hostname, and every other host's name in
``/etc/hosts``, so the migration URI libvirt's destination hands out
(``tcp://NAME:49152``) resolves without a DNS plugin. libvirt's TCP port (no
authentication: the image is for test networks only) and the HTTP API are published on
127.0.0.1. When ``/dev/kvm`` exists it is passed in: libvirt refuses a ``type='kvm'``
domain without it, although the launcher never opens it.

The pytest plugin's ``simulated_hosts`` fixture wraps this class (image from
``--qmpserver-host-image`` or ``$QMPSERVER_HOST_IMAGE``).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field

DEFAULT_HOST_IMAGE = "localhost/qmpserver-host:latest"
LIBVIRT_PORT = 16509
HTTP_PORT = 8080


def default_engine() -> list[str]:
    """``$QMPSERVER_CONTAINER_ENGINE`` (split on spaces), else podman (with ``--runtime runc``
    when ``$PODMAN_RUNTIME`` says so), else docker."""
    env = os.environ.get("QMPSERVER_CONTAINER_ENGINE")
    if env:
        return env.split()
    if shutil.which("podman"):
        rt = os.environ.get("PODMAN_RUNTIME")
        return ["podman"] + (["--runtime", rt] if rt else [])
    return ["docker"]


@dataclass
class SimulatedHost:
    name: str
    profile: str
    container: str
    address: str
    libvirt_port: int
    http_port: int
    token: str
    engine: list[str] = field(repr=False, default_factory=list)
    env: dict | None = field(repr=False, default=None)

    @property
    def uri(self) -> str:
        """libvirt's URI of this host, from the machine running the tests."""
        return "qemu+tcp://127.0.0.1:%d/system" % self.libvirt_port

    @property
    def http_url(self) -> str:
        return "http://127.0.0.1:%d" % self.http_port

    def virsh(self, *args, check=False, timeout=120) -> subprocess.CompletedProcess:
        p = subprocess.run(["virsh", "-c", self.uri, *args], capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(
                "virsh -c %s %s failed (%d): %s%s"
                % (self.uri, " ".join(args), p.returncode, p.stdout, p.stderr)
            )
        return p

    def monitor(self, domain: str, command: dict) -> dict:
        """A QMP command on a running domain's monitor (``virsh qemu-monitor-command``)."""
        p = self.virsh("qemu-monitor-command", domain, json.dumps(command), check=True)
        return json.loads(p.stdout)

    def exec(self, *argv, check=False, timeout=60) -> subprocess.CompletedProcess:
        p = subprocess.run(
            self.engine + ["exec", self.container, *argv],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        if check and p.returncode != 0:
            raise AssertionError("%s failed in %s: %s" % (" ".join(argv), self.container, p.stderr))
        return p

    def healthy(self) -> bool:
        return self.exec("/usr/local/bin/qmpserver-host-health").returncode == 0


class SimulatedHosts:
    """Start simulated hosts on a private network; :meth:`close` removes every container and
    the network (also what leaving the ``with`` block does)."""

    def __init__(self, image=DEFAULT_HOST_IMAGE, engine=None, env=None, prefix=None, kvm="auto"):
        self.image = image
        self.engine = list(engine or default_engine())
        self.env = env
        self.prefix = prefix or "qmps-%s" % secrets.token_hex(3)
        self.kvm = os.path.exists("/dev/kvm") if kvm == "auto" else bool(kvm)
        self.network: str | None = None
        self.subnet: str | None = None
        self.hosts: list[SimulatedHost] = []
        self._next = 10

    def _run(self, *args, check=True, timeout=120):
        p = subprocess.run(
            self.engine + list(args), capture_output=True, text=True, env=self.env, timeout=timeout
        )
        if check and p.returncode != 0:
            raise RuntimeError(
                "%s %s failed (%d): %s" % (self.engine[0], " ".join(args), p.returncode, p.stderr[-2000:])
            )
        return p

    def _ensure_network(self):
        if self.network:
            return
        last = ""
        for _ in range(20):
            net = "10.%d.%d" % (random.randint(100, 199), random.randint(0, 255))
            name = self.prefix + "-net"
            p = self._run("network", "create", "--subnet", net + ".0/24", name, check=False)
            if p.returncode == 0:
                self.network, self.subnet = name, net
                return
            last = p.stderr
        raise RuntimeError("could not create a network for the simulated hosts: %s" % last[-1000:])

    def start(self, *profiles: str, names=None, timeout=90.0) -> list[SimulatedHost]:
        """Start one host per profile (names: ``names`` or h1, h2, ...), wait until every one
        is healthy (libvirt answers, the launcher loads its profile, the HTTP API answers)."""
        self._ensure_network()
        names = list(names or ["h%d" % (len(self.hosts) + i + 1) for i in range(len(profiles))])
        if len(names) != len(profiles):
            raise ValueError("one name per profile")
        planned = []
        for n in names:
            planned.append((n, "%s.%d" % (self.subnet, self._next)))
            self._next += 1
        everyone = [(h.name, h.address) for h in self.hosts] + planned
        new = []
        for (name, addr), profile in zip(planned, profiles):
            token = secrets.token_hex(16)
            container = "%s-%s" % (self.prefix, name)
            args = [
                "run",
                "-d",
                "--name",
                container,
                "--hostname",
                name,
                "--network",
                self.network,
                "--ip",
                addr,
            ]
            for other, oaddr in everyone:
                if other != name:
                    args += ["--add-host", "%s:%s" % (other, oaddr)]
            if self.kvm:
                args += ["--device", "/dev/kvm"]
            args += [
                "-e", "QMPSERVER_PROFILE=" + profile,
                "-e", "QMPSERVER_HTTP_TOKEN=" + token,
                "-p", "127.0.0.1::%d" % LIBVIRT_PORT,
                "-p", "127.0.0.1::%d" % HTTP_PORT,
                self.image,
            ]  # fmt: skip
            self._run(*args)
            host = SimulatedHost(name, profile, container, addr, 0, 0, token, self.engine, self.env)
            host.libvirt_port = self._port(container, LIBVIRT_PORT)
            host.http_port = self._port(container, HTTP_PORT)
            self.hosts.append(host)
            new.append(host)
        # earlier hosts learn the new names too
        for h in self.hosts:
            if h in new:
                continue
            lines = "".join("%s %s\n" % (n.address, n.name) for n in new)
            h.exec("sh", "-c", "printf '%s' >> /etc/hosts" % lines, check=True)
        deadline = time.monotonic() + timeout
        pending = list(new)
        while pending:
            pending = [h for h in pending if not h.healthy()]
            if not pending:
                break
            if time.monotonic() > deadline:
                logs = self._run("logs", pending[0].container, check=False)
                raise RuntimeError(
                    "simulated host %s (%s) not healthy after %.0f s:\n%s"
                    % (pending[0].name, pending[0].profile, timeout, (logs.stdout + logs.stderr)[-3000:])
                )
            time.sleep(0.2)
        return new

    def _port(self, container, port) -> int:
        out = self._run("port", container, "%d/tcp" % port).stdout.strip().splitlines()[0]
        return int(out.rpartition(":")[2])

    def stop(self, host: SimulatedHost, timeout=10) -> int:
        """SIGTERM (``stop``), then the container's exit status."""
        self._run("stop", "-t", str(timeout), host.container)
        return int(self._run("inspect", host.container, "--format", "{{.State.ExitCode}}").stdout.strip())

    def close(self):
        for h in self.hosts:
            self._run("rm", "-f", "-t", "0", h.container, check=False)
        self.hosts = []
        if self.network:
            self._run("network", "rm", "-f", self.network, check=False)
            self.network = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
