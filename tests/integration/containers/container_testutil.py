"""Podman for the container tests: the engine, the image (built once per content), the Docker API.

* podman runs with ``--runtime runc`` and, where ``/etc/containers/containers.conf``
  lacks ``default_ulimits = []``, a private ``CONTAINERS_CONF`` that sets it;
* the image is built by ``docker/build-image.sh`` and tagged with a hash of what
  goes into it (package, models, schemas, docker/), under a file lock, so parallel
  workers and later runs reuse it;
* ``podman system service`` gives testcontainers a Docker-compatible API.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

REQUIRE = os.environ.get("QMPSERVER_REQUIRE_REAL_PEERS") == "1"


def need(condition, what):
    if condition:
        return
    if REQUIRE:
        pytest.fail("%s (required: QMPSERVER_REQUIRE_REAL_PEERS=1)" % what)
    pytest.skip(what)


class Podman:
    def __init__(self, workdir):
        self.binary = shutil.which("podman")
        self.env = dict(os.environ)
        conf = "/etc/containers/containers.conf"
        text = open(conf).read() if os.path.exists(conf) else ""
        if "CONTAINERS_CONF" not in self.env and not any(
            line.replace(" ", "").startswith("default_ulimits=[]") for line in text.splitlines()
        ):
            path = os.path.join(workdir, "containers.conf")
            with open(path, "w") as f:
                f.write("[containers]\ndefault_ulimits = []\n")
            self.env["CONTAINERS_CONF"] = path
        self.base = [self.binary, "--runtime", os.environ.get("PODMAN_RUNTIME", "runc")]

    def __call__(self, *args, check=True, timeout=300, capture=True):
        r = subprocess.run(
            self.base + list(args), env=self.env, capture_output=capture, text=True, timeout=timeout
        )
        if check and r.returncode != 0:
            raise AssertionError(
                "podman %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr[-2000:])
            )
        return r

    def inspect(self, name, what="container"):
        return json.loads(self(what, "inspect", name).stdout)[0]


def content_hash() -> str:
    h = hashlib.sha256()
    for top in ("qmpserver", "models", "schemas", "docker"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "wheelhouse"))
            for fn in sorted(filenames):
                if fn.endswith((".pyc", ".pyo")):
                    continue
                p = os.path.join(dirpath, fn)
                h.update(os.path.relpath(p, ROOT).encode() + b"\0")
                with open(p, "rb") as f:
                    h.update(f.read())
    for fn in ("pyproject.toml", "setup.py"):
        p = os.path.join(ROOT, fn)
        if os.path.exists(p):
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def file_lock(path):
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_image(podman: Podman, lock_dir: str) -> str:
    tag = "localhost/qmpserver-test:" + content_hash()
    with file_lock(os.path.join(lock_dir, "qmpserver-image.lock")):
        if podman("image", "exists", tag, check=False).returncode == 0:
            return tag
        base_ok = podman("image", "exists", "localhost/qmpserver-base:bookworm", check=False).returncode == 0
        need(base_ok or shutil.which("debootstrap"), "debootstrap is needed to make the base image")
        env = dict(podman.env, PYTHON=sys.executable)
        r = subprocess.run(
            ["bash", os.path.join(ROOT, "docker", "build-image.sh"), "--tag", tag],
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if r.returncode != 0:
            raise AssertionError("build-image.sh failed:\n%s" % r.stderr[-4000:])
        assert r.stdout.strip().splitlines()[-1] == tag
    return tag


class ApiService:
    """``podman system service`` on a private unix socket (for testcontainers / docker-py)."""

    def __init__(self, podman: Podman):
        self.dir = tempfile.mkdtemp(prefix="qmpodman")
        self.sock = os.path.join(self.dir, "podman.sock")
        self.proc = subprocess.Popen(
            podman.base + ["system", "service", "--time=0", "unix://" + self.sock],
            env=podman.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "podman system service did not start: %s" % self.proc.stderr.read()[-2000:]
                )
            time.sleep(0.05)
        self.url = "unix://" + self.sock

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port_range(n):
    """A run of n consecutive free TCP ports on 127.0.0.1 (best effort)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            start = s.getsockname()[1]
        if start + n > 65000:
            continue
        ok = True
        for p in range(start, start + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return start
    raise AssertionError("no free port range")


def wait_greeting(host, port, timeout=60):
    from qmpserver.testing.containers import read_greeting

    deadline = time.monotonic() + timeout
    while True:
        try:
            return read_greeting(host, port)
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def build_host_image(podman: Podman, image: str, lock_dir: str) -> str:
    """The simulated-host image (docker/build-image.sh --host) on top of ``image`` (the
    qmpserver image of this content): a copy of its installed qmpserver onto the host base
    (libvirt + catatonit, made once per machine), so it takes seconds once the base exists."""
    tag = "localhost/qmpserver-host-test:" + content_hash()
    with file_lock(os.path.join(lock_dir, "qmpserver-host-image.lock")):
        if podman("image", "exists", tag, check=False).returncode == 0:
            return tag
        r = subprocess.run(
            [
                "bash",
                os.path.join(ROOT, "docker", "build-image.sh"),
                "--host",
                "--from-image",
                image,
                "--tag",
                tag,
            ],
            env=dict(podman.env, PYTHON=sys.executable),
            capture_output=True,
            text=True,
            timeout=900,
        )
        if r.returncode != 0:
            raise AssertionError("build-image.sh --host failed:\n%s" % r.stderr[-4000:])
        assert r.stdout.strip().splitlines()[-1] == tag
    return tag
