"""``qmpserver completion bash|zsh|fish`` (issue 14 item 13): scripts generated from the live
argparse tree, exercised in the real shells.

bash: the generated script is sourced by ``bash``, COMP_WORDS/COMP_CWORD set as readline would,
the completion function called and COMPREPLY printed.  fish: ``complete -C`` on a command line.
zsh: the script registers the bash function through bashcompinit; the function is run the way
bashcompinit's ``_bash_complete`` runs it (sh emulation, 0-based arrays).  zsh and fish are
skipped when not installed, unless QMPSERVER_REQUIRE_REAL_PEERS=1 (scripts/test.sh installs them).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from qmpserver.cli import DEFAULT_COMMAND, build_parser
from qmpserver.completion import generate


def _shell(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("QMPSERVER_REQUIRE_REAL_PEERS") == "1":
            pytest.fail("%s is required (QMPSERVER_REQUIRE_REAL_PEERS=1): apt-get install %s" % (name, name))
        pytest.skip("%s is not installed" % name)
    return path


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    """A ``qmpserver`` executable running this checkout with this interpreter (the scripts call
    the command typed, COMP_WORDS[0], back for profile names)."""
    d = tmp_path_factory.mktemp("bin")
    exe = d / "qmpserver"
    exe.write_text('#!/bin/sh\nexec %s -m qmpserver "$@"\n' % sys.executable)
    exe.chmod(0o755)
    return str(exe)


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """The three scripts as ``qmpserver completion SHELL`` prints them."""
    d = tmp_path_factory.mktemp("completion")
    out = {}
    for shell in ("bash", "zsh", "fish"):
        p = subprocess.run(
            [sys.executable, "-m", "qmpserver", "completion", shell],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode == 0 and not p.stderr, p.stderr
        (d / shell).write_text(p.stdout)
        out[shell] = str(d / shell)
    return out


@pytest.fixture
def userdir(tmp_path):
    """A --profile-dir with a profile and a host of its own (names are listed from file names)."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "zz-mine.yaml").write_text("kind: profile\n")
    (tmp_path / "hosts").mkdir()
    (tmp_path / "hosts" / "zz-host.yaml").write_text("kind: host\n")
    return str(tmp_path)


def bash(scripts, prog, *words, cwd=None):
    """COMPREPLY for the command line ``qmpserver WORDS`` (the last word: the one at the cursor)."""
    code = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _qmpserver; printf "%s\\n" "${COMPREPLY[@]}"'
    p = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", code, "bash", scripts["bash"], prog, *words],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )
    assert p.returncode == 0 and not p.stderr, p.stderr
    return [w for w in p.stdout.split("\n") if w]


def subparsers(parser):
    return next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})


def tree(parser, path=()):
    """(path, parser) of every command, found by walking argparse here (not by the generator)."""
    yield path, parser
    for name, sub in subparsers(parser).items():
        yield from tree(sub, path + (name,))


# --- bash, in bash ---------------------------------------------------------------------------


def test_bash_top_level_subcommands(scripts, prog):
    got = bash(scripts, prog, "")
    assert got == list(subparsers(build_parser()))
    assert "completion" in got and "profiles" in got and "serve" in got
    assert bash(scripts, prog, "pro") == ["profiles"]


def test_bash_nested_subcommands(scripts, prog):
    assert bash(scripts, prog, "profiles", "") == [
        "list",
        "show",
        "validate",
        "diff",
        "capture",
        "import-replies",
    ]
    assert bash(scripts, prog, "profiles", "imp") == ["import-replies"]
    assert bash(scripts, prog, "fleet", "st") == ["status"]
    assert bash(scripts, prog, "migration", "--profile-dir", "/tmp", "") == ["plan"]  # the value is skipped


def test_bash_options_of_a_subcommand(scripts, prog):
    assert bash(scripts, prog, "profiles", "list", "--") == ["--help", "--json", "--names", "--kind"]
    assert bash(scripts, prog, "profiles", "diff", "a", "b", "--p") == ["--prove"]
    assert bash(scripts, prog, "serve", "--http-max-c") == ["--http-max-connections"]
    # `qmpserver --option` runs serve: serve's options complete at the top level too
    assert bash(scripts, prog, "--prof") == ["--profile", "--profile-dir"]
    assert bash(scripts, prog, "--accel", "kvm", "--keep") == ["--keep-running"]


def test_bash_choices(scripts, prog):
    assert bash(scripts, prog, "serve", "--log-level", "") == ["debug", "info", "warning", "error"]
    assert bash(scripts, prog, "serve", "--log-level", "w") == ["warning"]
    assert bash(scripts, prog, "profiles", "list", "--kind", "h") == ["host"]
    assert bash(scripts, prog, "completion", "") == ["bash", "zsh", "fish"]
    assert bash(scripts, prog, "cpu", "expand", "--accel", "") == ["kvm", "tcg"]
    # --opt=value: bash's COMP_WORDBREAKS splits the word at '='
    assert bash(scripts, prog, "serve", "--log-level", "=") == ["debug", "info", "warning", "error"]
    assert bash(scripts, prog, "serve", "--log-level", "=", "e") == ["error"]
    # the value is skipped: the next word is an option again
    assert bash(scripts, prog, "serve", "--log-level", "info", "--multi") == ["--multi-client"]


def test_bash_profile_names(scripts, prog, userdir):
    assert bash(scripts, prog, "serve", "--profile", "debian") == ["debian-7.2-tcg"]
    assert bash(scripts, prog, "--profile", "debian") == ["debian-7.2-tcg"]
    assert "graviton4-v2-6.8" in bash(scripts, prog, "profiles", "show", "grav")
    assert "graviton4-v2-6.8" in bash(
        scripts, prog, "profiles", "diff", "default", "grav"
    )  # second positional
    assert "graviton4-v2-6.8" in bash(scripts, prog, "migration", "plan", "default", "grav")
    assert "default" in bash(scripts, prog, "cpu", "baseline", "--profile", "def")
    assert bash(scripts, prog, "profiles", "show", "zz") == []  # not a name of the store
    # the --profile-dir values typed before are searched too
    assert bash(scripts, prog, "profiles", "--profile-dir", userdir, "show", "zz") == ["zz-mine"]
    assert bash(scripts, prog, "--profile-dir", userdir, "--profile", "zz") == ["zz-mine"]
    assert bash(scripts, prog, "serve", "--profile-dir=" + userdir, "--profile", "zz") == ["zz-mine"]
    # host names where a host is asked for
    assert bash(scripts, prog, "profiles", "--profile-dir", userdir, "import-replies", "--host", "zz") == [
        "zz-host"
    ]


def test_bash_files_where_no_name_matches(scripts, prog, tmp_path):
    (tmp_path / "my-profile.yaml").write_text("")
    (tmp_path / "subdir").mkdir()
    assert bash(scripts, prog, "profiles", "show", "my-", cwd=tmp_path) == ["my-profile.yaml"]
    assert bash(scripts, prog, "fleet", "status", "my", cwd=tmp_path) == ["my-profile.yaml"]
    assert bash(scripts, prog, "install-launcher", "--dir", "", cwd=tmp_path) == ["subdir"]


def _tables(script: str) -> tuple[dict[str, dict[str, list[str]]], dict[str, tuple[str, list[str]]]]:
    """The generated tables, read back: path -> {subs, opts, vopts: words}, and
    "path/option" -> (kind, choices)."""
    spec = script[script.index("_qmpserver_spec() {") : script.index("_qmpserver_value() {")]
    cmds = {}
    for line in spec.splitlines()[2:]:
        m = re.match(r"    ('[^']*'|[^)]*)\) (.*) ;;$", line)
        if m:
            words = {}
            for assign in m.group(2).split("; "):
                k, _, v = assign.partition("=")
                words[k.replace("_qmpserver_", "")] = " ".join(shlex.split(v)).split()  # one quoted word
            cmds[shlex.split(m.group(1))[0] if m.group(1) != "''" else ""] = words
    values = {}
    for m in re.finditer(
        r"^    ('[^']*'|[^)]*)\) _qmpserver_kind=(\S+); _qmpserver_choices=\(([^)]*)\)", script, re.M
    ):
        values[shlex.split(m.group(1))[0]] = (m.group(2), shlex.split(m.group(3)))
    return cmds, values


def test_every_subcommand_and_option_is_in_the_bash_script(scripts):
    cmds, values = _tables(open(scripts["bash"]).read())
    assert cmds.pop("*") == {"subs": [], "opts": [], "vopts": [], "npos": ["0"], "rep": ["0"]}
    walked = 0
    for path, parser in tree(build_parser()):
        at = " ".join(path)
        c = cmds.pop(at)
        assert c["subs"] == list(subparsers(parser)), at
        shown = [a for a in parser._actions if a.help != argparse.SUPPRESS]  # hidden: not offered
        assert c["opts"] == [o for a in shown for o in a.option_strings], at
        assert c["vopts"] == [o for a in shown if a.nargs != 0 for o in a.option_strings], at
        positionals = [a for a in parser._actions if not a.option_strings]
        for action in parser._actions:
            if action.choices and not isinstance(action, argparse._SubParsersAction):
                what = action.option_strings or ["#%d" % positionals.index(action)]
                for w in what:
                    assert values[at + "/" + w] == ("choices", list(action.choices)), (at, w)
        walked += 1
    assert walked >= 20 and not cmds, cmds  # nothing more, nothing less


def test_a_new_option_completes_without_touching_the_completion_code(tmp_path, prog):
    parser = build_parser()
    lst = subparsers(subparsers(parser)["profiles"])["list"]
    lst.add_argument("--frobnicate", choices=("alpha", "beta"))
    script = tmp_path / "bash"
    script.write_text(generate("bash", parser, "qmpserver", DEFAULT_COMMAND))
    sc = {"bash": str(script)}
    assert bash(sc, prog, "profiles", "list", "--fro") == ["--frobnicate"]
    assert bash(sc, prog, "profiles", "list", "--frobnicate", "b") == ["beta"]


def test_bash_script_for_an_older_bash_syntax(scripts):
    """The script parses (bash -n) and registers the function for qmpserver."""
    subprocess.run(["bash", "-n", scripts["bash"]], check=True)
    p = subprocess.run(
        ["bash", "--norc", "-c", 'source "$1"; complete -p qmpserver', "bash", scripts["bash"]],
        capture_output=True,
        text=True,
    )
    assert p.stdout.strip() == "complete -F _qmpserver qmpserver"


# --- the name call back: `profiles list --names` ------------------------------------------------


def test_profiles_list_names(capsys, userdir):
    from qmpserver.cli import main
    from qmpserver.profiles.loader import list_names, search_roots

    assert main(["profiles", "list", "--names"]) == 0
    got = capsys.readouterr().out
    assert got == "".join(n + "\n" for n, _, _ in list_names("profile", search_roots()))
    assert main(["profiles", "--profile-dir", userdir, "list", "--names", "--kind", "host"]) == 0
    assert "zz-host\n" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["profiles", "list", "--names", "--json"])
    assert "not allowed with argument" in capsys.readouterr().err


# --- zsh and fish ------------------------------------------------------------------------------


def test_zsh_script(scripts, prog, userdir):
    zsh = _shell("zsh")
    subprocess.run([zsh, "-n", scripts["zsh"]], check=True)
    # as bashcompinit's _bash_complete calls it: sh emulation (0-based arrays)
    code = (
        'source "$1"; shift; print -r -- "registered: $_comps[qmpserver]"; emulate sh; '
        "setopt kshglob noshglob braceexpand; "
        'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _qmpserver; printf "%s\\n" "${COMPREPLY[@]}"'
    )

    def run(*words):
        p = subprocess.run(
            [zsh, "-f", "-c", code, "zsh", scripts["zsh"], prog, *words],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode == 0 and not p.stderr, p.stderr
        first, *rest = p.stdout.split("\n")
        assert first == "registered: _bash_complete -F _qmpserver"
        return [w for w in rest if w]

    assert run("profiles", "") == ["list", "show", "validate", "diff", "capture", "import-replies"]
    assert run("serve", "--log-level", "w") == ["warning"]
    assert run("profiles", "--profile-dir", userdir, "show", "zz") == ["zz-mine"]


def test_fish_script(scripts, prog, userdir):
    fish = _shell("fish")
    subprocess.run([fish, "-n", scripts["fish"]], check=True)

    def run(line):
        p = subprocess.run(
            [fish, "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", scripts["fish"], line],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode == 0 and not p.stderr, p.stderr
        return [w.split("\t")[0] for w in p.stdout.split("\n") if w]

    q = prog.replace(" ", "\\ ")
    assert sorted(run(q + " ")) == sorted(subparsers(build_parser()))
    assert run(q + " profiles imp") == ["import-replies"]
    assert run(q + " profiles list --n") == ["--names"]
    assert run(q + " serve --log-level w") == ["warning"]
    assert run(q + " profiles --profile-dir %s show zz" % userdir) == ["zz-mine"]
    assert run(q + " --profile debian") == ["debian-7.2-tcg"]


# --- the install lines of docs/cli.md, run as written ------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def doc_blocks(lang: str) -> list[str]:
    """The ``lang`` blocks of docs/cli.md's `qmpserver completion` section."""
    text = open(os.path.join(ROOT, "docs", "cli.md")).read()
    section = text[text.index("## `qmpserver completion`") :]
    return re.findall(r"^```%s\n(.*?)^```$" % lang, section, re.S | re.M)


def _home_env(tmp_path, prog):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "BASH_COMPLETION"))}
    env.update(HOME=str(home), PATH=os.path.dirname(prog) + os.pathsep + os.environ["PATH"])
    return env


def test_docs_install_bash(tmp_path, prog):
    """Both bash ways of docs/cli.md: the eval line registers the function; the file written
    to ~/.local/share/bash-completion/completions is what bash-completion loads."""
    env = _home_env(tmp_path, prog)
    evals, files = doc_blocks("bash")
    p = subprocess.run(
        ["bash", "--norc", "-c", evals + "complete -p qmpserver"], env=env, capture_output=True, text=True
    )
    assert p.stdout == "complete -F _qmpserver qmpserver\n", p.stderr
    subprocess.run(["bash", "--norc", "-c", files], env=env, check=True)
    loader = "/usr/share/bash-completion/bash_completion"
    if not os.path.exists(loader):
        if os.environ.get("QMPSERVER_REQUIRE_REAL_PEERS") == "1":
            pytest.fail("bash-completion is required (QMPSERVER_REQUIRE_REAL_PEERS=1)")
        pytest.skip("bash-completion is not installed")
    p = subprocess.run(
        ["bash", "--norc", "-c", "source %s; __load_completion qmpserver; complete -p qmpserver" % loader],
        env=env,
        capture_output=True,
        text=True,
    )
    assert p.stdout == "complete -F _qmpserver qmpserver\n", p.stderr


def test_docs_install_zsh(tmp_path, prog):
    zsh = _shell("zsh")
    (block,) = doc_blocks("zsh")
    p = subprocess.run(
        [zsh, "-f", "-c", block + "print -r -- $_comps[qmpserver]"],
        env=_home_env(tmp_path, prog),
        capture_output=True,
        text=True,
    )
    assert p.stdout == "_bash_complete -F _qmpserver\n", p.stderr


def test_docs_install_fish(tmp_path, prog):
    """The file written where fish looks is loaded by a new fish at the first completion."""
    fish = _shell("fish")
    (block,) = doc_blocks("fish")
    env = _home_env(tmp_path, prog)
    subprocess.run([fish, "-c", block], env=env, check=True)
    p = subprocess.run(
        [fish, "-c", "complete -C 'qmpserver profiles imp'"], env=env, capture_output=True, text=True
    )
    assert p.stdout == "import-replies\n", p.stderr
