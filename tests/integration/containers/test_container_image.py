"""The container image, built with podman from a debootstrap base and a host-built wheelhouse.

QMP over TCP with qemu.qmp (through the testcontainers module and its greeting-reading
wait strategy), query-mte-capabilities, the health check, non-root, SIGTERM within 2 s,
the unix-socket volume, the pytest plugin's external mode against a container, and the
compose file (validated by docker-compose, and its two hosts started as written).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest
from container_testutil import ROOT, free_port_range, need, wait_greeting

TOKEN = "container-test-token"


def host_port(podman, name, port):
    out = podman("port", name, "%d/tcp" % port).stdout.strip().splitlines()[0]
    host, _, p = out.rpartition(":")
    return ("127.0.0.1" if host in ("0.0.0.0", "") else host), int(p)


def api(url, method, path, body=None, token=TOKEN):
    req = urllib.request.Request(
        url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read())


def profile_with(proposal):
    from qmpserver.profiles.loader import list_names, load_profile, search_roots

    names = [n for n, _p, _b in list_names("profile", search_roots())]
    for name in ["default"] + names:
        try:
            if proposal in load_profile(name).build.proposals:
                return name
        except Exception:
            continue
    return None


def test_qmp_over_tcp_with_the_testcontainers_module(image, docker_host, podman):
    from qemu.qmp import QMPClient

    from qmpserver.testing.containers import QMPServerContainer

    profile = profile_with("query-mte-capabilities")
    with QMPServerContainer(image, profile=profile) as c:
        assert c.greeting["QMP"]["version"]["qemu"]["major"] >= 7
        host, port = c.get_qmp_address()

        async def main():
            qmp = QMPClient("container-test")
            await qmp.connect((host, port))
            status = await qmp.execute("query-status")
            assert status["status"] == "running"
            caps = None
            if profile is not None:
                caps = await qmp.execute("query-mte-capabilities")
            await qmp.disconnect()
            return caps

        caps = asyncio.run(main())
        if profile is None:
            pytest.skip("no built-in profile offers query-mte-capabilities")
        assert isinstance(caps, list) and caps and all("version" in e for e in caps)
        # the HTTP API of the same container, through the token the module generated
        status, health = api(c.get_http_url(), "GET", "/healthz", token=c.token)
        assert status == 200 and health["instances"] == 1
        cid = c.get_wrapped_container().id
        hc = podman("healthcheck", "run", cid, check=False)
        assert hc.returncode == 0, hc.stderr
        info = podman.inspect(cid)
        assert info["Config"]["User"] == "10001:10001"
        assert podman("exec", cid, "id", "-u").stdout.strip() == "10001"


def test_image_metadata(image, podman):
    info = podman.inspect(image, "image")
    cfg = info["Config"]
    assert set(cfg["ExposedPorts"]) == {"4444/tcp", "8080/tcp"}
    assert "/run/qmpserver" in cfg["Volumes"]
    assert cfg["User"] == "10001:10001"
    hc = cfg.get("Healthcheck") or info.get("Healthcheck") or {}
    assert any("/healthz" in part for part in hc["Test"])
    assert hc["Interval"] == 5 * 10**9 and hc["Retries"] == 3
    assert cfg.get("StopSignal") in ("SIGTERM", "15", None)


def test_healthy_and_sigterm_within_two_seconds(run, podman, image):
    name = run("-e", "QMPSERVER_HTTP_TOKEN=" + TOKEN, "-p", "127.0.0.1::4444", "-p", "127.0.0.1::8080", image)
    host, port = host_port(podman, name, 4444)
    wait_greeting(host, port)
    hc = podman("healthcheck", "run", name, check=False)
    assert hc.returncode == 0, hc.stdout + hc.stderr
    assert podman.inspect(name)["State"]["Health"]["Status"] == "healthy"
    s = socket.create_connection((host, port), timeout=10)
    f = s.makefile("rwb")
    json.loads(f.readline())
    f.write(b'{"execute": "qmp_capabilities"}\n')
    f.flush()
    assert json.loads(f.readline()) == {"return": {}}
    t0 = time.monotonic()
    podman("kill", "--signal", "TERM", name)
    code = podman("wait", name, timeout=30).stdout.strip()
    elapsed = time.monotonic() - t0
    assert elapsed < 2.0, "SIGTERM took %.2f s" % elapsed
    assert code == "0"
    # the client saw what QEMU sends on SIGTERM, then the end of the connection
    ev = json.loads(f.readline())
    assert ev["event"] == "SHUTDOWN" and ev["data"] == {"guest": False, "reason": "host-signal"}
    assert f.readline() == b""
    s.close()


def test_unix_socket_volume(run, podman, image):
    d = tempfile.mkdtemp(prefix="qmvol")
    os.chmod(d, 0o777)
    try:
        name = run(
            "-e",
            "QMPSERVER_HTTP_TOKEN=" + TOKEN,
            "-p",
            "127.0.0.1::4444",
            "-p",
            "127.0.0.1::8080",
            "-v",
            "%s:/run/qmpserver" % d,
            image,
        )
        wait_greeting(*host_port(podman, name, 4444))
        url = "http://%s:%d" % host_port(podman, name, 8080)
        status, inst = api(
            url,
            "POST",
            "/api/v1/instances",
            {"name": "in-volume", "qmp": ["unix:/run/qmpserver/vm.sock"], "paused": True},
        )
        assert status == 201 and inst["qmp"][0]["path"] == "/run/qmpserver/vm.sock"
        path = os.path.join(d, "vm.sock")
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        f = s.makefile("rwb")
        assert "QMP" in json.loads(f.readline())
        f.write(b'{"execute": "qmp_capabilities"}{"execute": "query-name"}')
        f.flush()
        f.readline()
        assert json.loads(f.readline()) == {"return": {"name": "in-volume"}}
        s.close()
        st = os.stat(path)
        assert st.st_uid == 10001
    finally:
        shutil.rmtree(d, ignore_errors=True)


EXTERNAL_TEST = """
import pytest

@pytest.mark.qmp_profile(paused=True)
def test_external(qmp_instance, qmp_sync):
    assert qmp_sync.cmd("query-status")["status"] == "prelaunch"
    qmp_instance.emit_event("GUEST_PANICKED", {"action": "pause"})
    qmp_instance.assert_called("query-status", times=1)
    assert qmp_instance.events("GUEST_PANICKED")

@pytest.mark.qmp_pair("default", "default")
def test_pair(qmp_pair):
    src, dst = qmp_pair
    assert dst.runstate == "inmigrate"
"""


def test_plugin_external_mode_against_the_container(run, podman, image, tmp_path):
    base = free_port_range(8)
    name = run(
        "-e",
        "QMPSERVER_HTTP_TOKEN=" + TOKEN,
        "-p",
        "127.0.0.1::4444",
        "-p",
        "127.0.0.1::8080",
        "-p",
        "127.0.0.1:%d-%d:%d-%d" % (base, base + 7, base, base + 7),
        image,
    )
    wait_greeting(*host_port(podman, name, 4444))
    url = "http://%s:%d" % host_port(podman, name, 8080)
    (tmp_path / "test_ext.py").write_text(EXTERNAL_TEST)
    env = dict(
        os.environ,
        QMPSERVER_EXTERNAL=url,
        QMPSERVER_TOKEN=TOKEN,
        QMPSERVER_EXTERNAL_PORTS="%d-%d" % (base, base + 7),
    )
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            str(tmp_path / "test_ext.py"),
        ],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "2 passed" in r.stdout
    # the instances the tests made were removed again: only the container's own is left
    assert len(api(url, "GET", "/api/v1/instances")[1]["instances"]) == 1


def load_compose():
    import yaml

    with open(os.path.join(ROOT, "docker", "compose.yaml")) as f:
        return yaml.safe_load(f)


def test_compose_file_validates():
    exe = shutil.which("docker-compose")
    env = dict(os.environ, QMPSERVER_HTTP_TOKEN=TOKEN)
    if exe is not None:
        r = subprocess.run(
            [exe, "-f", os.path.join(ROOT, "docker", "compose.yaml"), "config", "-q"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        r = subprocess.run(
            [exe, "-f", os.path.join(ROOT, "docker", "compose.yaml"), "config", "-q"],
            env=dict(env, QMPSERVER_HTTP_TOKEN=""),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode != 0 and "QMPSERVER_HTTP_TOKEN" in r.stderr
    doc = load_compose()
    services = doc["services"]
    assert set(services) == {"src", "dst"}
    from qmpserver.profiles.loader import list_names, search_roots

    builtin = {n for n, _p, _b in list_names("profile", search_roots())}
    profiles = []
    for svc in services.values():
        default = svc["environment"]["QMPSERVER_PROFILE"].split(":-", 1)[1].rstrip("}")
        assert default in builtin, default
        profiles.append(default)
        assert "/healthz" in " ".join(svc["healthcheck"]["test"])
        assert "sockets:/run/qmpserver" in svc["volumes"]
    assert profiles[0] != profiles[1]
    need(exe, "docker-compose is not installed (apt-get install docker-compose) to validate compose.yaml")


def test_compose_hosts_start_as_written(run, podman, image):
    """Both services of compose.yaml, run with podman as written (environment, command, volume)."""
    doc = load_compose()
    vol = "qmpserver-test-sockets-%d" % os.getpid()
    podman("volume", "create", vol, check=False)
    try:
        names = {}
        for svc_name, svc in doc["services"].items():
            args = [
                "-e",
                "QMPSERVER_HTTP_TOKEN=" + TOKEN,
                "-e",
                "QMPSERVER_PROFILE=" + svc["environment"]["QMPSERVER_PROFILE"].split(":-", 1)[1].rstrip("}"),
                "-v",
                "%s:/run/qmpserver" % vol,
                "-p",
                "127.0.0.1::4444",
                "-p",
                "127.0.0.1::8080",
                "--hostname",
                svc["hostname"],
                image,
            ] + svc["command"]
            names[svc_name] = run(*args)
        seen = {}
        for svc_name, name in names.items():
            greeting = wait_greeting(*host_port(podman, name, 4444))
            url = "http://%s:%d" % host_port(podman, name, 8080)
            insts = api(url, "GET", "/api/v1/instances")[1]["instances"]
            assert len(insts) == 1 and insts[0]["name"] == svc_name
            assert "unix:/run/qmpserver/%s.sock" % svc_name in [a["address"] for a in insts[0]["qmp"]]
            seen[svc_name] = (insts[0]["profile"], insts[0]["runstate"], greeting["QMP"]["version"])
        assert seen["src"][0] != seen["dst"][0]
        assert seen["src"][1] == "running" and seen["dst"][1] == "prelaunch"
        # each host reaches the other's socket in the shared volume (same UID in both)
        out = podman(
            "exec",
            names["src"],
            "python3",
            "-c",
            "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/qmpserver/dst.sock'); "
            "print(s.makefile().readline().strip())",
        ).stdout
        assert json.loads(out)["QMP"]
    finally:
        for n in list(locals().get("names", {}).values()):
            podman("rm", "-f", "-t", "0", n, check=False)
        podman("volume", "rm", "-f", vol, check=False)


def test_entrypoint_subcommands_and_generated_token(run, podman, image):
    out = podman("run", "--rm", "--network", "none", image, "profiles", "list", "--json").stdout
    assert "default" in [p["name"] for p in json.loads(out)]
    name = run("-p", "127.0.0.1::4444", image)
    wait_greeting(*host_port(podman, name, 4444))
    logs = podman("logs", name).stdout
    assert "generated HTTP bearer token: " in logs and "HTTP API on http://0.0.0.0:8080" in logs
