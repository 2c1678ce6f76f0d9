"""``qmpserver serve --http``: the API of a real serve process; aiohttp only when asked for."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from http_testutil import PROFILE, Api


def test_cli_does_not_import_aiohttp_without_http():
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import qmpserver.cli, qmpserver.serve"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0
    assert "aiohttp" not in r.stderr
    # nor does the pytest plugin, until a fixture asks for HTTP
    r = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import qmpserver.testing.plugin, qmpserver.testing.server, qmpserver.http.control",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "aiohttp" not in r.stderr


def test_serve_with_http(tmp_path):
    sock = str(tmp_path / "q.sock")
    env = dict(os.environ, QMPSERVER_HTTP_TOKEN="")
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qmpserver.cli",
            "serve",
            "--profile",
            PROFILE,
            "--qmp",
            "unix:" + sock,
            "--http",
            "127.0.0.1:0",
            "--http-token",
            "cli-token-1234",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = p.stdout.readline()
            m = re.search(r"HTTP API on (http://\S+)", line)
            if m:
                url = m.group(1)
        assert url and not url.endswith(":0")
        api = Api(url, "cli-token-1234")
        status, _, body = api("GET", "/api/v1/instances")
        assert status == 200 and body["instances"][0]["qmp"][0]["path"] == sock
        assert api("GET", "/api/v1/instances", token="nope-nope")[0] == 401
        status, _, d = api("POST", "/api/v1/instances", {"profile": PROFILE})
        assert status == 201
        with urllib.request.urlopen(url + "/healthz") as r:
            assert json.load(r)["instances"] == 2
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert not os.path.exists(sock)


def test_serve_refuses_public_http_without_token(tmp_path):
    env = dict(os.environ)
    env.pop("QMPSERVER_HTTP_TOKEN", None)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "qmpserver.cli",
            "serve",
            "--profile",
            PROFILE,
            "--qmp",
            "unix:" + str(tmp_path / "q.sock"),
            "--http",
            "0.0.0.0:0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert r.returncode == 1
    assert "give a bearer token" in r.stderr and "Traceback" not in r.stderr
