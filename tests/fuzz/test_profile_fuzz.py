"""Profile-file fuzzing: every broken profile, host or build is a clean error.

Real documents (the debian-7.2-tcg profile, its host ``tcg-only`` and its build
``qemu-7.2-debian``) are mutated: values replaced at random paths by the wrong
type, huge strings, huge numbers, nulls, nested junk; keys deleted or added;
and the serialized YAML corrupted at the byte level (invalid UTF-8, Latin-1,
tabs, anchors, aliases, unsafe tags, truncation).  They are laid out as a
profile directory (``profiles/``, ``hosts/``, ``builds/``) and loaded with
``load_profile(path, use_cache=False)``.  The contract (DESIGN: "file + field
path + expectation for a bad profile") is success or a
:class:`qmpserver.errors.UsageError` (``ProfileError`` is one), never another
exception.  ``replies.json`` is fuzzed too (entries without ``execute``, wrong
types).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.errors import UsageError
from qmpserver.profiles.loader import load_profile

from .strategies import examples

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "models")
BUILD_DIR = os.path.join(MODELS, "builds", "qemu-7.2-debian")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


PROFILE = dict(
    _read(os.path.join(MODELS, "profiles", "debian-7.2-tcg.yaml")), name="fz", host="fz", build="fz"
)
HOST = dict(_read(os.path.join(MODELS, "hosts", "tcg-only.yaml")), name="fz")
BUILD = dict(_read(os.path.join(BUILD_DIR, "build.yaml")), name="fz")

junk = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.sampled_from(["", "x" * 20_000, "../../etc/passwd", "/dev/null", "7.2", "aarch64", "tcg"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)

BYTE_CORRUPTIONS = [
    b"\xff\xfe",
    b"\xe9",  # Latin-1 e-acute
    b"\xc3",
    b"\t",
    b": :",
    b"&a [*a, *a]",
    b"*nope",
    b"!!python/object/apply:os.system ['true']",
    b"!!binary AAA",
    b"- ",
    b"{",
    b"'",
    b"\x00",
    b"---\n",
    b"<<: *x",
]


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, doc):
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            return draw(junk)
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(("replace", "replace", "delete", "add")))
        if action == "replace":
            parent[path[-1]] = draw(junk)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(junk)
        else:
            parent.append(draw(junk))
    return doc


@st.composite
def serialized(draw, doc):
    data = yaml.safe_dump(draw(mutated(doc)), allow_unicode=True, sort_keys=False).encode()
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(BYTE_CORRUPTIONS)) + data[at:]
    if draw(st.booleans()) and draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


def _replies():
    good = {"format": 1, "entries": [{"execute": "query-name", "return": {}}]}
    return st.one_of(
        st.just(json.dumps(good).encode()),
        st.builds(lambda e: json.dumps({"format": 1, "entries": e}).encode(), st.lists(junk, max_size=3)),
        st.builds(lambda j: json.dumps(j).encode(), junk),
        st.sampled_from([b"", b"{", b"\xff", json.dumps(good).encode()[:-3]]),
    )


@pytest.fixture(scope="module")
def tree():
    d = tempfile.mkdtemp(prefix="qfp")
    for sub in ("profiles", "hosts", "builds/fz"):
        os.makedirs(os.path.join(d, sub))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _write(path, data: bytes):
    with open(path, "wb") as f:
        f.write(data)


FUZZ = settings(
    max_examples=examples(150),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)


def _load(tree, files: dict, replies: bytes | None) -> None:
    _write(os.path.join(tree, "profiles", "fz.yaml"), files.get("profile", yaml.safe_dump(PROFILE).encode()))
    _write(os.path.join(tree, "hosts", "fz.yaml"), files.get("host", yaml.safe_dump(HOST).encode()))
    _write(
        os.path.join(tree, "builds", "fz", "build.yaml"), files.get("build", yaml.safe_dump(BUILD).encode())
    )
    shutil.copyfile(os.path.join(BUILD_DIR, "schema.json"), os.path.join(tree, "builds", "fz", "schema.json"))
    if replies is None:
        shutil.copyfile(
            os.path.join(BUILD_DIR, "replies.json"), os.path.join(tree, "builds", "fz", "replies.json")
        )
    else:
        _write(os.path.join(tree, "builds", "fz", "replies.json"), replies)
    try:
        load_profile(os.path.join(tree, "profiles", "fz.yaml"), use_cache=False)
    except UsageError as e:
        assert str(e)  # a message saying what is wrong


@FUZZ
@given(st.data(), st.sampled_from(("profile", "host", "build")))
def test_broken_profile_files_give_a_clean_error(tree, data, which):
    doc = {"profile": PROFILE, "host": HOST, "build": BUILD}[which]
    _load(tree, {which: data.draw(serialized(doc))}, None)


# replies.json: every entry is checked against schemas/replies.schema.json (issue 16 D18);
# before that, {"entries": [null]} was an AttributeError in profiles.model.index_replies
@FUZZ
@given(_replies())
def test_broken_replies_json_gives_a_clean_error(tree, replies):
    _load(tree, {}, replies)
