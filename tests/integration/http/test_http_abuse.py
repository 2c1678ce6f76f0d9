"""Issue 16's HTTP findings (D4-D12, D20, D21, limits) and issue 14's items 6 and 11, each
reproduced against a live control plane: every one failed before its fix."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import time

import pytest
from http_testutil import PROFILE, Api

from qmpserver.testing.server import InProcessServer

TOKEN = "abuse-token-123"
MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "models")


def raw_request(url, data: bytes, timeout=10) -> bytes:
    """Bytes on the wire (http.client refuses to send some of what an attacker may)."""
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A server with a token and small limits (the defaults are documented; these are tested)."""
    from qmpserver.http.app import Limits, start_http
    from qmpserver.http.control import Policy

    store = tmp_path_factory.mktemp("store")
    with InProcessServer(profile_dirs=[str(store)]) as s:
        limits = Limits(
            Policy(socket_dir=s.socket_dir, max_instances=3),
            max_connections=12,
            max_websockets=2,
            ws_auth_timeout=0.5,
        )
        s._http = s.call(start_http(s.server, "127.0.0.1:0", token=TOKEN, control=s.control, limits=limits))
        s.store = str(store)
        yield s


@pytest.fixture
def api(limited):
    return Api(limited.url, token=TOKEN)


@pytest.fixture
def made(api):
    ids = []
    yield ids
    for iid in ids:
        api("DELETE", "/api/v1/instances/%d?force=true" % iid)


# --- D4, D20, D21: profile files -----------------------------------------------------------------


def _store_file(limited, rel, text):
    path = os.path.join(limited.store, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_d4_build_replies_from_dev_zero_is_a_clean_error(api, limited):
    """D4: a build whose replies are /dev/zero: 2 GB then MemoryError/500 before; now 422."""
    build = os.path.join(MODELS, "builds", "qemu-7.2-debian", "build.yaml")
    with open(build) as f:
        text = f.read()
    schema = os.path.abspath(os.path.join(MODELS, "builds", "qemu-7.2-debian", "schema.json"))
    text = text.replace("name: qemu-7.2-debian", "name: zero-build")
    text = text.replace("introspection: schema.json", "introspection: %s" % schema)
    text = text.replace("replies: replies.json", "replies: /dev/zero")
    _store_file(limited, "builds/zero-build/build.yaml", text)
    _store_file(
        limited, "profiles/zero.yaml", "kind: profile\nname: zero\nhost: tcg-only\nbuild: zero-build\n"
    )
    try:
        t0 = time.monotonic()
        status, _, d = api("POST", "/api/v1/profiles/zero/validate")
        assert status == 422, d
        assert "/dev/zero" in d["error"]["message"] and "not a regular file" in d["error"]["message"]
        assert time.monotonic() - t0 < 5
    finally:
        shutil.rmtree(os.path.join(limited.store, "builds"))
        os.unlink(os.path.join(limited.store, "profiles", "zero.yaml"))


def test_d20_fifo_in_the_store_blocks_nothing(api, limited):
    """D20: a FIFO named like a profile hung `GET /api/v1/profiles` and the event loop."""
    path = os.path.join(limited.store, "profiles", "fifo.yaml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mkfifo(path)
    try:
        t0 = time.monotonic()
        status, _, d = api("GET", "/api/v1/profiles")
        assert status == 200
        # only regular files are profiles (loader.search_roots): the list names what
        # GET /api/v1/profiles/NAME opens, and a FIFO is neither (issue 14 item 9)
        assert "fifo" not in [p["name"] for p in d["profiles"]]
        assert api("GET", "/api/v1/profiles/fifo")[0] == 404
        assert api("GET", "/healthz")[0] == 200
        assert time.monotonic() - t0 < 5
    finally:
        os.unlink(path)


def test_blocking_profile_work_runs_off_the_event_loop(api, limited, monkeypatch):
    """D4/D20: while a profile file is being read (here: slowly), /healthz still answers."""
    import threading

    from qmpserver.http import control as control_mod

    gate = threading.Event()
    real = control_mod.Control.profile_path

    def slow(self, name):
        gate.wait(10)
        return real(self, name)

    monkeypatch.setattr(control_mod.Control, "profile_path", slow)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        fut = ex.submit(api, "POST", "/api/v1/profiles/%s/validate" % PROFILE)
        time.sleep(0.2)
        t0 = time.monotonic()
        assert api("GET", "/healthz")[0] == 200
        assert time.monotonic() - t0 < 2
        gate.set()
        assert fut.result(20)[0] == 200


def test_d21_a_symlink_in_the_store_is_never_followed(api, limited, tmp_path):
    """D21: validate without a body compiled a symlink's target outside the store."""
    outside = tmp_path / "outside.yaml"
    outside.write_text("kind: profile\nname: evil\nhost: tcg-only\nbuild: qemu-7.2-debian\n")
    link = os.path.join(limited.store, "profiles", "evil.yaml")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(str(outside), link)
    try:
        for method, path in (
            ("POST", "/api/v1/profiles/evil/validate"),
            ("GET", "/api/v1/profiles/evil"),
        ):
            status, _, d = api(method, path)
            assert status == 403 and "symbolic link" in d["error"]["message"], (path, d)
        status, _, d = api("POST", "/api/v1/instances", {"profile": "evil"})
        assert status == 403 and "symbolic link" in d["error"]["message"]
    finally:
        os.unlink(link)


def test_d21_a_linked_directory_above_the_store_is_not_a_link(tmp_path):
    """Only the profile file itself counts: the image links its models directory into the
    installed package (docker/Dockerfile), and a store reached through a linked directory is the
    operator's layout. Both must keep working."""
    real = tmp_path / "real"
    (real / "profiles").mkdir(parents=True)
    shutil.copy(os.path.join(MODELS, "profiles", PROFILE + ".yaml"), real / "profiles")
    os.symlink(str(real), str(tmp_path / "linked"))
    with InProcessServer(profile_dirs=[str(tmp_path / "linked")]) as s:
        path = s.control.profile_path(PROFILE)
        assert path.startswith(str(tmp_path / "linked")), path


# --- D5: profiles by name only ---------------------------------------------------------------


@pytest.mark.parametrize("spec", ["/etc/shadow", "/etc/passwd", "/no/such/file.yaml", "../x", "x.yaml"])
def test_d5_profile_paths_are_refused_alike(api, spec):
    """D5: a path was opened (a file-existence oracle); now every path gets the same answer."""
    status, _, d = api("POST", "/api/v1/instances", {"profile": spec})
    assert status in (400, 404), d
    msg = d["error"]["message"]
    assert "kind" not in msg and "no such profile file" not in msg
    if "/" in spec:
        assert status == 400 and "is not a profile name" in msg


def test_d5_profile_paths_when_the_operator_allows_them(tmp_path):
    from qmpserver.http.app import Limits, start_http
    from qmpserver.http.control import Policy

    prof = tmp_path / "mine.yaml"
    prof.write_text(
        "kind: profile\nname: mine\nhost: tcg-only\nbuild: qemu-7.2-debian\n"
        "defaults: {accel: tcg, machine: virt, cpu: max}\n"
    )
    with InProcessServer() as s:
        s._http = s.call(
            start_http(
                s.server,
                "127.0.0.1:0",
                control=s.control,
                limits=Limits(Policy(allow_profile_paths=True, socket_dir=s.socket_dir)),
            )
        )
        a = Api(s.url)
        status, _, d = a("POST", "/api/v1/instances", {"profile": str(prof)})
        assert status == 201 and d["profile"] == "mine", d
        a("DELETE", "/api/v1/instances/%d?force=true" % d["id"])


# --- D6, D10: sockets --------------------------------------------------------------------------


def test_d6_a_live_socket_of_another_program_is_never_replaced(api, limited, tmp_path, made):
    """D6: {"qmp": ["unix:<live socket>"]} replaced it, DELETE then unlinked it."""
    theirs = socket.socket(socket.AF_UNIX)
    outside = str(tmp_path / "theirs.sock")
    theirs.bind(outside)
    theirs.listen(1)
    inside = os.path.join(limited.socket_dir, "theirs-too.sock")
    theirs2 = socket.socket(socket.AF_UNIX)
    theirs2.bind(inside)
    theirs2.listen(1)
    try:
        status, _, d = api("POST", "/api/v1/instances", {"profile": PROFILE, "qmp": ["unix:" + outside]})
        assert status == 403 and "--http-socket-dir" in d["error"]["message"]
        for spec in ("unix:" + inside, "unix:theirs-too.sock"):
            status, _, d = api("POST", "/api/v1/instances", {"profile": PROFILE, "qmp": [spec]})
            assert status == 400 and "never replaces a file" in d["error"]["message"], d
        for path in (outside, inside):  # still theirs, still answering
            c = socket.socket(socket.AF_UNIX)
            c.connect(path)
            c.close()
        # a new socket in the socket directory (relative: taken there) is created and removed
        status, _, d = api("POST", "/api/v1/instances", {"profile": PROFILE, "qmp": ["unix:mine.sock"]})
        assert status == 201, d
        made.append(d["id"])
        mine = os.path.join(limited.socket_dir, "mine.sock")
        assert d["qmp"][0]["path"] == mine and os.path.exists(mine)
        assert api("DELETE", "/api/v1/instances/%d" % d["id"])[0] == 200
        assert not os.path.exists(mine) and os.path.exists(inside)
    finally:
        theirs.close()
        theirs2.close()
        os.unlink(inside)


def test_d10_nul_in_a_socket_path_is_400(api):
    status, _, d = api("POST", "/api/v1/instances", {"profile": PROFILE, "qmp": ["unix:/tmp/a\u0000.sock"]})
    assert status == 400 and "NUL" in d["error"]["message"], d


# --- D8, D9, D11: hostile requests -------------------------------------------------------------


def test_d8_non_utf8_bearer_token_is_401(limited):
    reply = raw_request(
        limited.url,
        b"GET /api/v1/instances HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n",
    )
    assert status_of(reply) == 401, reply[:200]


@pytest.mark.parametrize(
    "path", ["/api/v1/instances", "/api/v1/instances/{id}/events", "/api/v1/instances/{id}/faults"]
)
def test_d9_deeply_nested_bodies_are_400(api, made, path):
    status, _, d = api("POST", "/api/v1/instances", {"profile": PROFILE})
    made.append(d["id"])
    for body in (b"[" * 100000 + b"]" * 100000, b'{"a":' * 500 + b"1" + b"}" * 500):
        status, _, err = api(
            "POST", path.format(id=d["id"]), raw=body, headers={"Content-Type": "application/json"}
        )
        assert status == 400 and "nests deeper" in err["error"]["message"], err


def test_d11_unicode_digits_are_not_ids(api):
    for path in ("/api/v1/instances/%C2%B2/events", "/api/v1/instances/%D9%A3", "/api/v1/instances/1_0"):
        method = "POST" if path.endswith("events") else "GET"
        status, _, d = api(method, path, {"event": "RESUME"} if method == "POST" else None)
        assert status == 404, (path, d)


# --- D12: the WebSocket --------------------------------------------------------------------------


def _ws(limited, script):
    import aiohttp

    async def main():
        async with aiohttp.ClientSession() as cs:
            async with cs.ws_connect(limited.url.replace("http", "ws") + "/api/v1/ws") as ws:
                assert (await ws.receive_json())["type"] == "hello"
                return await script(ws)

    return asyncio.run(main())


def test_d12_websocket_lone_surrogate_token_is_4401(limited):
    async def script(ws):
        await ws.send_str('{"auth": "\\ud800"}')
        await ws.receive()
        return ws.close_code

    assert _ws(limited, script) == 4401


def test_d12_websocket_nested_message(limited):
    nested = "[" * 30000 + "]" * 30000  # 60 KB, under the 64 KiB message limit

    async def before_auth(ws):
        await ws.send_str(nested)
        await ws.receive()
        return ws.close_code

    assert _ws(limited, before_auth) == 4401

    async def after_auth(ws):
        await ws.send_json({"auth": TOKEN})
        assert (await ws.receive_json())["type"] == "ready"
        await ws.send_str(nested)
        m = await ws.receive_json()
        await ws.send_json({"subscribe": 999999})
        return m, await ws.receive_json()

    err, still = _ws(limited, after_auth)
    assert err["type"] == "error" and "nests deeper" in err["message"]
    assert still["type"] == "error" and "no instance" in still["message"]  # the socket lives on


def test_d12_unauthenticated_websocket_has_a_deadline(limited):
    async def script(ws):
        t0 = time.monotonic()
        await asyncio.wait_for(ws.receive(), 5)
        return ws.close_code, time.monotonic() - t0

    code, waited = _ws(limited, script)
    assert code == 4401 and waited < 3


# --- limits ---------------------------------------------------------------------------------------


def test_instance_cap(api, made):
    from qmpserver.http.control import DEFAULT_MAX_INSTANCES

    assert DEFAULT_MAX_INSTANCES == 64
    while True:
        status, _, d = api("POST", "/api/v1/instances", {"profile": PROFILE})
        if status != 201:
            break
        made.append(d["id"])
        assert len(made) <= 3
    assert (
        status == 429
        and d["error"]["class"] == "LimitReached"
        and "--http-max-instances" in d["error"]["message"]
    )
    assert len(made) == 3


def test_websocket_cap(limited):
    import aiohttp

    async def main():
        url = limited.url.replace("http", "ws") + "/api/v1/ws"
        async with aiohttp.ClientSession() as cs:
            a = await cs.ws_connect(url)
            b = await cs.ws_connect(url)
            with pytest.raises(aiohttp.WSServerHandshakeError) as ei:
                await cs.ws_connect(url)
            await a.close()
            await b.close()
            await asyncio.sleep(0.2)
            c = await cs.ws_connect(url)  # room again
            await c.close()
            return ei.value.status

    assert asyncio.run(main()) == 503


def test_connection_cap(limited):
    host, port = limited.url.rsplit("/", 1)[-1].rsplit(":", 1)
    held = []
    try:
        for _ in range(12):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive: the connection stays
            s.recv(4096)
            held.append(s)
        reply = raw_request(limited.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(reply) == 503 and b"LimitReached" in reply
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if (
            status_of(
                raw_request(limited.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            )
            == 200
        ):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the server did not take connections again")


# --- issue 14 item 6: query parameters follow the document -----------------------------------------


def test_query_parameters_are_checked(api, made):
    status, _, d = api("POST", "/api/v1/instances", {"profile": PROFILE})
    made.append(d["id"])
    iid = d["id"]
    for q in ("force=banana", "force=509", "force=1", "force=TRUE"):
        status, _, err = api("DELETE", "/api/v1/instances/%d?%s" % (iid, q))
        assert status == 400 and err["error"]["message"] == "force: expected true or false", (q, err)
    for q in ("since=%C2%B2", "since=-1", "since=x"):
        status, _, err = api("GET", "/api/v1/instances/%d/transcript?%s" % (iid, q))
        assert status == 400 and err["error"]["message"].startswith("since: expected an integer >= 0"), err
    assert api("GET", "/api/v1/migration/matrix?config=nope")[0] == 400
    assert (
        api("GET", "/api/v1/migration/plan?source=" + PROFILE)[2]["error"]["message"]
        == "destination: required"
    )
    assert api("DELETE", "/api/v1/instances/%d?force=false" % iid)[0] == 200


# --- issue 14 item 11: events nobody received -----------------------------------------------------


def test_injected_event_reports_its_delivery(api, limited, made):
    status, _, d = api("POST", "/api/v1/instances", {"profile": PROFILE})
    made.append(d["id"])
    iid = d["id"]
    status, _, ev = api("POST", "/api/v1/instances/%d/events" % iid, {"event": "RESUME"})
    assert status == 202 and ev["delivered"] == 0 and ev["event"] == "RESUME"
    entries = api("GET", "/api/v1/instances/%d/transcript" % iid)[2]["entries"]
    lost = [e for e in entries if e["kind"] == "event"]
    assert [(e["conn"], e["msg"]["event"]) for e in lost] == [(0, "RESUME")]

    s = socket.socket(socket.AF_UNIX)
    s.connect(d["qmp"][0]["path"])
    f = s.makefile("rwb")
    f.readline()
    f.write(b'{"execute": "qmp_capabilities"}\n')
    f.flush()
    f.readline()
    status, _, ev = api("POST", "/api/v1/instances/%d/events" % iid, {"event": "STOP"})
    assert status == 202 and ev["delivered"] == 1
    assert json.loads(f.readline())["event"] == "STOP"
    s.close()
    entries = api("GET", "/api/v1/instances/%d/transcript" % iid)[2]["entries"]
    assert [(e["conn"], e["msg"]["event"]) for e in entries if e["kind"] == "event"] == [
        (0, "RESUME"),
        (1, "STOP"),
    ]
