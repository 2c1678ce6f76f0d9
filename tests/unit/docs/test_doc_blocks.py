"""Every code block of README.md and docs/ is accounted for (issue 14, "Done when").

The ledger tests/unit/docs/doc_blocks.yaml (kept by tools/doc_blocks.py, see CONTRIBUTING.md)
names how each block is checked, keyed by the hash of its text: a new or changed block fails
here until it is reviewed, and a ``run`` block is executed and its output compared.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools"))
import doc_blocks  # noqa: E402

STATES = ("run", "test", "not-run")
RUNNABLE = ("qmpserver", "qmpserver-qemu")
EXAMPLES = "python3 examples/"

BLOCKS = doc_blocks.all_blocks()
LEDGER = {e["hash"]: e for e in doc_blocks.load_ledger()}


def test_every_block_is_in_the_ledger_and_reviewed():
    missing = [f"{b['file']}:{b['line']} {b['first']!r}" for b in BLOCKS if b["hash"] not in LEDGER]
    assert not missing, (
        "code blocks not in tests/unit/docs/doc_blocks.yaml (new or changed): run "
        "`python tools/doc_blocks.py --update` and review them:\n" + "\n".join(missing)
    )
    bad = [f"{e['file']}:{e['line']} {e['check']}" for e in LEDGER.values() if e.get("check") not in STATES]
    assert not bad, "blocks marked unreviewed (or unknown state) in the ledger:\n" + "\n".join(bad)
    for e in LEDGER.values():
        if e["check"] == "test":
            assert e.get("by"), e
        if e["check"] == "not-run":
            assert e.get("why"), e


NAMED = re.compile(r"(tests/[\w/.-]+\.py)(?:::(\w+))?")


def test_each_named_test_exists():
    """Each test file (``path`` or ``path::function``) a ``by`` names is there."""
    for e in LEDGER.values():
        if e.get("check") != "test":
            continue
        named = NAMED.findall(e["by"])
        assert named, f"{e['file']}:{e['line']}: by names no tests/….py"
        for path, func in named:
            assert (ROOT / path).is_file(), f"{e['file']}:{e['line']}: no file {path}"
            if func:
                text = (ROOT / path).read_text()
                found = re.search(rf"^(?:async )?def {func}\(", text, re.M)
                assert found, f"{e['file']}:{e['line']}: no {func} in {path}"


def test_no_stale_entries():
    current = {b["hash"] for b in BLOCKS}
    stale = [f"{e['file']}:{e['line']}" for h, e in LEDGER.items() if h not in current]
    assert not stale, (
        "ledger entries whose block is gone: `python tools/doc_blocks.py --update`\n" + "\n".join(stale)
    )


def transcript(text: str) -> list[tuple[str, str]]:
    """[(command, expected output)] of a `$ command` transcript."""
    out: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return [(c, "\n".join(lines).rstrip("\n") + "\n" if lines else "") for c, lines in out]


RUN = [b for b in BLOCKS if LEDGER.get(b["hash"], {}).get("check") == "run"]


@pytest.mark.parametrize("block", RUN, ids=[f"{b['file']}:{b['line']}" for b in RUN])
def test_run_block_prints_what_the_doc_says(block, tmp_path):
    if block["lang"] == "python":
        return run_pytest_block(block, tmp_path)
    if block["text"].lstrip().startswith("->"):
        return run_qmp_block(block, LEDGER[block["hash"]])
    if block["lang"] == "yaml":
        return check_yaml_block(block, LEDGER[block["hash"]])
    if LEDGER[block["hash"]].get("command"):
        return check_json_output(block, LEDGER[block["hash"]])
    if LEDGER[block["hash"]].get("request"):
        return check_instance_answer(block, LEDGER[block["hash"]])
    steps = transcript(block["text"])
    if steps and all(c.startswith("curl ") for c, _ in steps):
        return run_curl_block(block, steps)
    if not steps and re.match(r"qmpserver(-qemu)? ", block["text"].lstrip()):
        return check_synopsis(block)
    assert steps, "a 'run' block must be a `$ command` transcript"
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), COLUMNS="100")
    env.pop("QMPSERVER_PROFILE", None)
    rc = None
    for command, expected in steps:
        if command == "echo $?":  # the exit status of the command before
            got = f"{rc}\n"
        else:
            if command.startswith(EXAMPLES):  # an example of the checkout, with this interpreter
                command = (
                    shlex.join([sys.executable, str(ROOT / "examples")]) + "/" + command[len(EXAMPLES) :]
                )
            else:
                assert shlex.split(command)[0] in RUNNABLE, command
            p = subprocess.run(
                command,
                shell=True,
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=60,
            )
            got, rc = p.stdout.decode(), p.returncode
        assert matches(expected, got), f"{block['file']}:{block['line']}: `{command}` printed:\n{got}"


def run_pytest_block(block: dict, tmp_path: Path) -> None:
    """A ``python`` block that defines ``test_*`` functions passes, as written, in a pytest of its own
    (the plugin's fixtures and markers come from the installed entry point)."""
    n = len(re.findall(r"^(?:async )?def test_", block["text"], re.M))
    assert n, "a 'run' python block must define test functions"
    (tmp_path / "test_doc_block.py").write_text(block["text"])
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for k in (
        "QMPSERVER_EXTERNAL",
        "QMPSERVER_PROFILE",
        "PYTEST_XDIST_WORKER",
        "PYTEST_XDIST_WORKER_COUNT",
        "PYTEST_ADDOPTS",
    ):
        env.pop(k, None)
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly"]
    args += ["-o", "asyncio_default_fixture_loop_scope=function", "test_doc_block.py"]
    r = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and re.search(rf"\b{n} passed\b", r.stdout), (
        f"{block['file']}:{block['line']}:\n" + r.stdout[-4000:] + r.stderr[-2000:]
    )


ELIDED = re.compile(r"\.\.\.\s*,\s*|,\s*\.\.\.(?=\s*[]}])")


def qmp_exchange(text: str) -> list[tuple[dict, dict, bool]]:
    """[(command, reply, elided)] of a ``-> {...}`` / ``<- {...}`` block.  An indented line
    continues the one before; text after a JSON value (``(graviton4-v2-6.12)``) is a comment;
    ``...`` in a list or object marks members left out (then the reply need only contain the
    rest: see :func:`contains`)."""
    dec = json.JSONDecoder()
    joined: list[str] = []
    for line in text.splitlines():
        if line.startswith(("-> ", "<- ")):
            joined.append(line)
        elif line.strip():
            assert joined and line.startswith(" "), f"a 'run' QMP block holds only -> / <- lines: {line!r}"
            joined[-1] += " " + line.strip()
    out: list[tuple[dict, dict, bool]] = []
    for line in joined:
        body = ELIDED.sub("", line[3:].strip())
        value, _ = dec.raw_decode(body)
        if line.startswith("-> "):
            out.append((value, {}, False))
        else:
            assert out and not out[-1][1], f"a reply without a command: {line}"
            out[-1] = (out[-1][0], value, body != line[3:].strip())
    return out


def contains(doc, got) -> bool:
    """``got`` has everything ``doc`` shows: an object's members (by name), a list's elements
    (in any position), scalars equal."""
    if isinstance(doc, dict):
        return isinstance(got, dict) and all(k in got and contains(v, got[k]) for k, v in doc.items())
    if isinstance(doc, list):
        return isinstance(got, list) and all(any(contains(d, g) for g in got) for d in doc)
    if isinstance(doc, str) and re.search(r"\.\.\.|…", doc):  # "text (...)": what comes before
        return isinstance(got, str) and got.startswith(re.split(r"\.\.\.|…", doc)[0])
    return doc == got and type(doc) is type(got)


def run_qmp_block(block: dict, entry: dict) -> None:
    """Each ``->`` command, sent to an instance of the ledger entry's ``profile`` (and
    ``machine``), gets the ``<-`` reply the block shows: exactly, or all of it that is not elided."""
    from qemu.qmp.legacy import QEMUMonitorProtocol

    from qmpserver.testing.server import InProcessServer

    assert entry.get("profile"), "a 'run' QMP block names its profile in the ledger"
    options = {"machine": entry["machine"]} if entry.get("machine") else {}
    with InProcessServer() as srv:
        vm = srv.create(entry["profile"], **options)
        qmp = QEMUMonitorProtocol(vm.qmp_address)
        qmp.connect(negotiate=True)
        try:
            for command, reply, elided in qmp_exchange(block["text"]):
                got = qmp.cmd_obj(command)
                got.pop("id", None)
                assert contains(reply, got) if elided else got == reply, (
                    f"{block['file']}:{block['line']}: {json.dumps(command)}\ngot {json.dumps(got)}"
                )
        finally:
            qmp.close()


def check_yaml_block(block: dict, entry: dict) -> None:
    """A ``yaml`` block quoting a file of models/ (the entry's ``model``) says what the file says:
    each of its keys has the file's value, where a string ending in `` ...`` is a prefix."""
    import yaml

    assert entry.get("model"), "a 'run' yaml block names the models/ file it quotes"
    doc, real = yaml.safe_load(block["text"]), yaml.safe_load((ROOT / entry["model"]).read_text())
    for key, value in doc.items():
        want = real.get(key)
        if isinstance(value, str) and value.endswith(" ..."):
            ok = isinstance(want, str) and want.startswith(value[:-4])
        else:
            ok = want == value
        assert ok, (
            f"{block['file']}:{block['line']}: {key}: the doc says {value!r}, {entry['model']} {want!r}"
        )


def check_synopsis(block: dict) -> None:
    """A synopsis (``qmpserver profiles list [--kind K] [--json]``, one command a line, an indented
    line continuing the one before, text after two spaces or `` #`` a comment): each word names a
    subcommand of the one before (``list|show`` each), each option is one of the command's."""
    import argparse

    from qmpserver.cli import build_parser

    lines: list[str] = []
    for line in block["text"].splitlines():
        if line.startswith(" ") and lines:
            lines[-1] += " " + line.strip()
        elif line.strip():
            lines.append(re.split(r"\s{2,}| #", line)[0])
    checked = 0
    for line in lines:
        words = line.split()
        if words[0] != "qmpserver":
            continue  # qmpserver-qemu takes QEMU's options (tests/unit/launcher)
        parser, value_next = build_parser(), False
        options = {o: a for a in parser._actions for o in a.option_strings}
        for word in words[1:]:
            token = word.strip("[]<>").rstrip(".")
            subs = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})
            if token.startswith("-"):
                name = token.split("=")[0]
                assert name in options, f"{block['file']}:{block['line']}: {name} is no option of `{line}`"
                value_next = options[name].nargs != 0 and "=" not in token
            elif value_next:
                value_next = False  # the option's value
            elif token in subs:
                parser = subs[token]
                options.update({o: a for a in parser._actions for o in a.option_strings})
            elif subs and re.fullmatch(r"[a-z][a-z|-]*", token):  # placeholders are in capitals
                missing = [t for t in token.split("|") if t not in subs]
                assert not missing, f"{block['file']}:{block['line']}: no subcommand {missing} in `{line}`"
        checked += 1
    assert checked, "a synopsis block names at least one qmpserver command"


VARIES = ("id", "uuid", "created", "qmp")  # chosen by the server, or by where it runs


def shown(doc):
    """What a documented JSON value states: members named ``...`` and values ``...`` / ``…`` are
    left out."""
    if isinstance(doc, dict):
        return {k: shown(v) for k, v in doc.items() if k != "..." and v not in ("...", "…")}
    if isinstance(doc, list):
        return [shown(v) for v in doc if v not in ("...", "…")]
    return doc


def check_instance_answer(block: dict, entry: dict) -> None:
    """An ``Instance`` answer of docs/http-api.md is what creating the documented request (the
    block whose hash ``request`` names) gives: every member shown, but for those in VARIES.  The
    request's unix socket is made relative (the server's socket directory)."""
    from qmpserver.testing.server import InProcessServer

    request = json.loads(next(b["text"] for b in BLOCKS if b["hash"] == entry["request"]))
    request = {k: v for k, v in request.items() if v not in ("...", "…")}
    request["qmp"] = [
        a if not a.startswith("unix:") else "unix:" + os.path.basename(a) for a in request["qmp"]
    ]
    text = block["text"] if block["text"].startswith("{") else "{" + block["text"] + "}"  # one member
    answer = {k: v for k, v in shown(json.loads(text)).items() if k not in VARIES}
    with InProcessServer() as srv:
        vm = srv.create(request.pop("profile"), **request)
        got = srv.call(lambda: srv.control.describe(srv.control.record(vm.id), abi=True))  # as GET answers
    assert contains(answer, got), f"{block['file']}:{block['line']}: the answer is\n{json.dumps(got)}"


def check_json_output(block: dict, entry: dict) -> None:
    """A JSON block (``// comments`` allowed) is in what the entry's ``command`` (a ``qmpserver``
    command line) prints, read as :func:`shown` and :func:`contains` do."""
    argv = shlex.split(entry["command"])
    assert argv[0] == "qmpserver", entry["command"]
    text = re.sub(r"\s*//[^\n]*", "", block["text"]).replace("[...]", '["..."]')
    p = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "qmpserver"), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    got = json.loads(p.stdout)
    assert contains(shown(json.loads(text)), got), (
        f"{block['file']}:{block['line']}: `{entry['command']}`:\n{p.stdout}"
    )


URL = re.compile(r"(?:https?://)?(?:localhost|127\.0\.0\.1):\d+")


def run_curl_block(block: dict, steps: list[tuple[str, str]]) -> None:
    """``$ curl …`` against the HTTP API of a server this test starts (default profile, no
    token; the doc's host:port replaced by the server's): each answer holds the JSON shown,
    read as :func:`shown` and :func:`contains` do (``[...]``, ``...`` members, ``text (...)``)."""
    from qmpserver.testing.server import InProcessServer

    with InProcessServer() as srv:
        url = srv.http().url
        for command, expected in steps:
            argv = [URL.sub(url, a) for a in shlex.split(command)]
            got = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
            doc = shown(json.loads(expected.replace("[...]", '["..."]')))
            assert contains(doc, json.loads(got)), (
                f"{block['file']}:{block['line']}: `{command}` printed:\n{got}"
            )


def matches(expected: str, got: str) -> bool:
    """Line for line, where a line `...` (alone, any indentation) stands for any lines left out
    and `…` in a line for any text (a temporary path, a timestamp)."""
    parts = [
        r"(?:.*\n)*?" if line.strip() in ("...", "…") else re.escape(line).replace("…", ".*?") + r"\n"
        for line in expected.splitlines()
    ]
    return re.fullmatch("".join(parts), got) is not None


def test_contains():
    assert contains({"a": [1, {"b": True}]}, {"a": [0, {"b": True, "c": 2}, 1], "d": 3})
    assert not contains({"a": [1]}, {"a": [2]}) and not contains({"a": 1}, {"a": True})
    ((cmd, reply, elided),) = qmp_exchange(
        '-> {"execute": "x"}\n<- {"return": [..., {"a": 1,\n    ...}, ...]}\n'
    )
    assert cmd == {"execute": "x"} and reply == {"return": [{"a": 1}]} and elided


def test_matches():
    assert matches("a\n  ...\nc\n", "a\nb\nb2\nc\n") and matches("a\n...\n", "a\n")
    assert not matches("a\nc\n", "a\nb\nc\n") and not matches("a\n", "a\nb\n")
    assert matches("at /tmp/x-…/s.sock\n", "at /tmp/x-1a2b/s.sock\n") and not matches("a…z\n", "a\nz\n")
