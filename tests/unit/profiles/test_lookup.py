"""Issue 14 item 9: one profile lookup (loader.search_roots) for every entry point.

(a) a profile PUT through the HTTP API is found by ``qmpserver profiles list`` and ``show``
under the same settings; (b) a file directly in a ``--profile-dir`` root is listed and found
by show, validate and serve; (c) for generated layouts, every entry point resolves the same
names to the same files, and ``list`` names exactly what they resolve."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.cli import main
from qmpserver.profiles import loader
from qmpserver.profiles.store import Store, StoreError
from qmpserver.serve import Server

BODY = "kind: profile\nname: %s\nsummary: %s\nhost: tcg-only\nbuild: qmpserver\n"
HOST = "kind: host\nname: %s\nextends: tcg-only\n"  # a host whose name is also a profile's


@pytest.fixture
def env(tmp_path, monkeypatch):
    """No ambient store or path: the user store is a fresh $XDG_DATA_HOME/qmpserver."""
    for var in ("QMPSERVER_PROFILE_STORE", "QMPSERVER_PROFILE_PATH", "QMPSERVER_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("QMPSERVER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def cli_list(capsys, dirs=(), kind="profile"):
    assert main(["profiles", *dirs, "list", "--json", "--kind", kind]) == 0
    return {r["name"]: r["path"] for r in json.loads(capsys.readouterr().out)}


def cli_show(capsys, name, dirs=()):
    assert main(["profiles", *dirs, "show", "--json", name]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


# --- (a) the HTTP store and the CLI -------------------------------------------------------------


@pytest.mark.parametrize("dirs", [(), ("--profile-dir",)], ids=["user-store", "profile-dir"])
def test_a_profile_put_over_http_is_listed_and_shown_by_the_cli(env, capsys, dirs):
    from qmpserver.testing.server import InProcessServer

    profile_dirs = [str(env / "pd")] if dirs else []
    cli_dirs = ["--profile-dir", str(env / "pd")] if dirs else []
    with InProcessServer(profile_dirs=profile_dirs) as srv:
        srv.http()
        req = urllib.request.Request(
            srv.url + "/api/v1/profiles/y", data=(BODY % ("y", "uploaded")).encode(), method="PUT"
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 201
            written = json.loads(r.read())["path"]
        with urllib.request.urlopen(srv.url + "/api/v1/profiles", timeout=30) as r:
            served = {p["name"]: p["path"] for p in json.loads(r.read())["profiles"]}
    expected_root = str(env / "pd") if dirs else str(env / "data" / "qmpserver")
    assert written == os.path.join(expected_root, "profiles", "y.yaml")
    listed = cli_list(capsys, cli_dirs)
    assert listed["y"] == written
    assert listed == served  # the same names, the same files, over HTTP and on the command line
    shown = cli_show(capsys, "y", cli_dirs)
    assert shown["file"] == written and shown["summary"] == "uploaded"


# --- (b) a file directly in a root --------------------------------------------------------------


def test_a_file_directly_in_a_root_is_listed_and_found_everywhere(env, capsys):
    root = env / "flat"
    root.mkdir()
    (root / "flat1.yaml").write_text(BODY % ("flat1", "at the root"))
    (root / "tcg-flat.yaml").write_text(HOST % "tcg-flat")  # a host at the root: not a profile
    (root / "uses.yaml").write_text(
        "kind: profile\nname: uses\nsummary: s\nhost: tcg-flat\nbuild: qmpserver\n"
    )
    dirs = ["--profile-dir", str(root)]
    listed = cli_list(capsys, dirs)
    assert listed["flat1"] == str(root / "flat1.yaml") and listed["uses"] == str(root / "uses.yaml")
    assert "tcg-flat" not in listed
    assert cli_list(capsys, dirs, "host")["tcg-flat"] == str(root / "tcg-flat.yaml")
    assert cli_show(capsys, "flat1", dirs)["file"] == str(root / "flat1.yaml")
    assert cli_show(capsys, "uses", dirs)["host"]["name"] == "tcg-flat"
    assert main(["profiles", *dirs, "validate", str(root / "uses.yaml"), str(root / "tcg-flat.yaml")]) == 0
    assert serve_profile([str(root)], "flat1").path == str(root / "flat1.yaml")


def test_a_root_level_file_of_another_kind_does_not_shadow(env, capsys):
    """A flat root holding host graviton3-v1-6.1 no longer hides the built-in profile of that
    name (the host was found as the profile and refused: kind: expected 'profile')."""
    root = env / "flat"
    root.mkdir()
    (root / "graviton3-v1-6.1.yaml").write_text(HOST % "graviton3-v1-6.1")
    dirs = ["--profile-dir", str(root)]
    assert cli_show(capsys, "graviton3-v1-6.1", dirs)["file"] == os.path.join(
        loader.MODELS_DIR, "profiles", "graviton3-v1-6.1.yaml"
    )
    assert cli_list(capsys, dirs)["graviton3-v1-6.1"].startswith(loader.MODELS_DIR)


def serve_profile(dirs, name):
    """What ``qmpserver serve --profile-dir ... --profile NAME`` loads (a Server on a loop of
    its own: the test thread may have no current event loop after an asyncio.run elsewhere)."""
    loop = asyncio.new_event_loop()
    try:
        return Server(loop, profile_dirs=dirs).profile(name)
    finally:
        loop.close()


# --- (c) every entry point, one answer ----------------------------------------------------------


class Resolved(BaseException):  # noqa: N818  (not an error: stops an entry point once it resolved)
    pass


def resolved_by(call) -> str | None:
    """The file an entry point resolved a name to: its compile is stopped there (the
    compile cache is off), so a file that would not compile still shows where the name led;
    None: the name led nowhere."""

    def spy(path, roots):
        raise Resolved(path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loader, "compile_profile", spy)
        try:
            call()
        except Resolved as r:
            return r.args[0]
        except (Exception, SystemExit):
            return None
    return None


# What a root may hold for a name: a layout profile, a root-level profile, a root-level host,
# a build directory, or nothing.  Names include ones a store cannot hold.
PLACES = st.sampled_from(["profiles", "root", "root-host", "root-nokind", "none"])
NAMES = ["a", "b.c", "default", "tcg-only", "graviton3-v1-6.1", "sp ace", "x.yaml", ".hid"]
LAYOUT = st.fixed_dictionaries(
    {
        "roots": st.lists(
            st.dictionaries(st.sampled_from(NAMES), PLACES, max_size=4), min_size=1, max_size=3
        ),
        "store": st.dictionaries(st.sampled_from(NAMES), PLACES, max_size=3),
        "path": st.booleans(),  # the last root comes from $QMPSERVER_PROFILE_PATH
    }
)


def write(root, name, place):
    os.makedirs(root, exist_ok=True)
    if place == "profiles":
        os.makedirs(os.path.join(root, "profiles"), exist_ok=True)
        open(os.path.join(root, "profiles", name + ".yaml"), "w").write(BODY % (name, root))
    elif place == "root":
        open(os.path.join(root, name + ".yaml"), "w").write(BODY % (name, root))
    elif place == "root-host":
        open(os.path.join(root, name + ".yaml"), "w").write(HOST % name)
    elif place == "root-nokind":
        open(os.path.join(root, name + ".yaml"), "w").write("name: %s\nsummary: no kind\n" % name)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=LAYOUT)
def test_every_entry_point_resolves_the_same_names_to_the_same_files(
    layout, tmp_path_factory, monkeypatch, capsys
):
    base = tmp_path_factory.mktemp("layout")
    for var in ("QMPSERVER_PROFILE_STORE", "QMPSERVER_PROFILE_PATH", "QMPSERVER_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.setenv("QMPSERVER_CACHE_DIR", "off")
    roots = [str(base / ("r%d" % i)) for i in range(len(layout["roots"]))]
    for root, files in zip(roots, layout["roots"]):
        for name, place in files.items():
            write(root, name, place)
    for name, place in layout["store"].items():
        write(str(base / "data" / "qmpserver"), name, place)
    if layout["path"] and len(roots) > 1:
        monkeypatch.setenv("QMPSERVER_PROFILE_PATH", roots.pop())
    dirs = [a for r in roots for a in ("--profile-dir", r)]

    listed = cli_list(capsys, dirs)

    class S:
        profile_dirs = list(roots)

    store = Store.for_server(S)
    assert {r["name"]: r["path"] for r in store.list("profile")} == listed  # GET /api/v1/profiles

    from qmpserver.launcher import main as launcher

    cfg = {"profile_dirs": roots}
    for name in [*NAMES, "no-such"]:
        want = listed.get(name)
        seen = {
            "show": resolved_by(lambda n=name: main(["profiles", *dirs, "show", n])),
            "serve": resolved_by(lambda n=name: serve_profile(roots, n)),
            "launcher": resolved_by(lambda n=name: launcher._load_profile(None, dict(cfg, profile=n))),
            "cpu": resolved_by(lambda n=name: main(["cpu", "expand", "--profile", n, *dirs, "max"])),
            "migration": resolved_by(lambda n=name: main(["migration", *dirs, "plan", n, n])),
        }
        try:
            http = store.find("profile", name)  # what the HTTP API's profile_path opens
        except StoreError:
            http = None  # not a store name
        assert http == want, (name, http, want)
        assert seen == dict.fromkeys(seen, want), (name, seen, want)
    capsys.readouterr()


# --- the pieces of the rule ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(name=st.text(alphabet="aZ09._-/ \n\\é\x00", max_size=12) | st.sampled_from(["x" * 128, "x" * 129]))
def test_is_name_is_the_store_pattern(name):
    """loader.is_name (string methods, for the launcher's start) and the store's NAME_RE with
    check_name's rules are one rule."""
    from qmpserver.profiles.store import NAME_RE, check_name

    by_pattern = bool(NAME_RE.fullmatch(name)) and ".." not in name and not name.endswith((".yaml", ".yml"))
    assert loader.is_name(name) == by_pattern
    if by_pattern:
        assert check_name(name) == name
    else:
        with pytest.raises(StoreError):
            check_name(name)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("kind: host\nname: x\n", "host"),
        ("name: x\nkind: 'qemu-build'  # a build\n", "qemu-build"),
        ('kind: "profile"\n', "profile"),
        ('{"kind": "host", "name": "x"}\n', "host"),  # JSON: parsed
        ("{kind: host, name: x}\n", "host"),  # flow style: parsed
        ("name: x\nsummary: no kind here\n", None),
        ("summary: |\n  kind: host\nname: x\n", None),  # indented: not a top-level key
        ("kind: [unclosed\n", None),  # unreadable: None (the file still counts)
    ],
)
def test_declared_kind(tmp_path, text, kind):
    p = tmp_path / "x.yaml"
    p.write_text(text)
    assert loader.declared_kind(str(p)) == kind
