"""Shell completion for ``qmpserver``, generated from the live argparse tree.

``qmpserver completion bash|zsh|fish`` prints a script made by walking the parser that
``qmpserver.cli.build_parser`` returns: every subcommand at every level, each command's options
(and whether they take a value), each ``choices=`` list and each positional argument.  Nothing
here names a command or an option: a new option is completed as soon as it is added.

What a value *is* beyond its choices is said where the argument is defined, with
:func:`complete_as` (this module imports nothing of qmpserver, so every layer may use it):

``profile``, ``host``, ``build``
    a name of the store, completed by calling back ``qmpserver profiles list --kind KIND
    --names`` (with the ``--profile-dir`` values typed on the line, see ``profile-dir``); when
    no name matches, file names (these arguments also take a file);
``profile-dir``
    a directory that is also passed to that call back;
``dir``
    a directory;
``file``
    a file name: the default of every argument that takes a value without ``choices=``.

The command line's default command (``qmpserver --profile P`` is ``qmpserver serve --profile
P``) is given by the caller: at the top level, options of the default command complete too.
zsh gets the bash function through zsh's ``bashcompinit``; fish gets its own functions over
the same tables.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field

KINDS = ("profile", "host", "build", "profile-dir", "dir", "file")
NAME_KINDS = ("profile", "host", "build")  # completed from `profiles list --kind KIND --names`
SHELLS = ("bash", "zsh", "fish")

# the call back that lists names: `qmpserver profiles [--profile-dir D]... list --kind KIND --names`
NAMES_COMMAND = ("profiles", "list", "--names", "--kind")
NAMES_DIR_OPTION = "--profile-dir"  # an option of `profiles`, before `list`


def complete_as(action: argparse.Action, kind: str) -> argparse.Action:
    """Say what the values of ``action`` name (one of KINDS), for the generated completion."""
    if kind not in KINDS:
        raise ValueError("unknown completion kind %r (expected one of %s)" % (kind, ", ".join(KINDS)))
    action.completion = kind  # type: ignore[attr-defined]  # read back by value_of()
    return action


@dataclass
class Option:
    strings: list[str]
    takes_value: bool
    kind: str  # KINDS or "choices"
    choices: list[str]
    help: str


@dataclass
class Positional:
    kind: str
    choices: list[str]
    repeats: bool  # nargs '+', '*' or REMAINDER: fills every slot from here on


@dataclass
class Command:
    path: tuple[str, ...]
    help: str = ""
    options: list[Option] = field(default_factory=list)
    positionals: list[Positional] = field(default_factory=list)
    subcommands: dict[str, Command] = field(default_factory=dict)


def value_of(action: argparse.Action) -> tuple[str, list[str]]:
    """(kind, choices) of the values of ``action``."""
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return "choices", [str(c) for c in action.choices]
    return getattr(action, "completion", "file"), []


def _help(action: argparse.Action) -> str:
    text = action.help or ""
    return "" if text == argparse.SUPPRESS else " ".join(text.split())


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = (), helptext: str = "") -> Command:
    """The command tree under ``parser`` (options hidden with ``help=SUPPRESS`` left out)."""
    cmd = Command(path, helptext)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: _help(a) for a in action._choices_actions}
            for name, sub in action.choices.items():
                cmd.subcommands[name] = walk(sub, path + (name,), helps.get(name, ""))
        elif action.option_strings:
            if action.help == argparse.SUPPRESS:
                continue
            kind, choices = value_of(action)
            cmd.options.append(
                Option(list(action.option_strings), action.nargs != 0, kind, choices, _help(action))
            )
        else:
            kind, choices = value_of(action)
            n = action.nargs
            if n in ("+", "*", argparse.REMAINDER):
                cmd.positionals.append(Positional(kind, choices, True))
            else:
                count = n if isinstance(n, int) else 1
                cmd.positionals.extend(Positional(kind, choices, False) for _ in range(count))
    return cmd


def commands(root: Command) -> list[Command]:
    """Every command of the tree, the root first, parents before children."""
    out = [root]
    for sub in root.subcommands.values():
        out.extend(commands(sub))
    return out


def generate(shell: str, parser: argparse.ArgumentParser, prog: str, default: str | None = None) -> str:
    """The completion script of ``shell`` for the command ``prog`` whose arguments ``parser``
    parses; ``default``: the subcommand a command line starting with an unknown option runs."""
    root = walk(parser)
    if shell == "bash":
        return _bash(root, prog, default)
    if shell == "zsh":
        return _zsh(root, prog, default)
    if shell == "fish":
        return _fish(root, prog, default)
    raise ValueError("unknown shell %r" % shell)


# --- bash ------------------------------------------------------------------------------------


def _q(text: str) -> str:
    return shlex.quote(text)


def _fname(prog: str) -> str:
    return "_" + "".join(c if c.isalnum() else "_" for c in prog)


def _bash_tables(root: Command, f: str) -> list[str]:
    """``F_spec PATH`` sets F_subs, F_opts, F_vopts (options taking a value) and F_npos/F_rep
    (positional slots, the last repeating); ``F_value PATH WHAT`` (an option or a positional
    index) sets F_kind and the array F_choices."""
    out = ["%s_spec() {" % f, "    case $1 in"]
    for c in commands(root):
        opts = [s for o in c.options for s in o.strings]
        vopts = [s for o in c.options if o.takes_value for s in o.strings]
        out.append(
            "    %s) %s_subs=%s; %s_opts=%s; %s_vopts=%s; %s_npos=%d; %s_rep=%d ;;"
            % (
                _q(" ".join(c.path)),
                f,
                _q(" ".join(c.subcommands)),
                f,
                _q(" ".join(opts)),
                f,
                _q(" ".join(vopts)),
                f,
                len(c.positionals),
                f,
                int(bool(c.positionals) and c.positionals[-1].repeats),
            )
        )
    out += [
        "    *) %s_subs=''; %s_opts=''; %s_vopts=''; %s_npos=0; %s_rep=0 ;;" % ((f,) * 5),
        "    esac",
        "}",
        "",
    ]
    out += ["%s_value() {" % f, "    %s_choices=()" % f, "    case $1/$2 in"]
    for c in commands(root):
        p = " ".join(c.path)
        items = [(s, o.kind, o.choices) for o in c.options if o.takes_value for s in o.strings]
        items += [("#%d" % i, a.kind, a.choices) for i, a in enumerate(c.positionals)]
        for what, kind, choices in items:
            if kind == "file":
                continue  # the default below
            out.append(
                "    %s) %s_kind=%s; %s_choices=(%s) ;;"
                % (_q(p + "/" + what), f, kind, f, " ".join(_q(x) for x in choices))
            )
    out += ["    *) %s_kind=file ;;" % f, "    esac", "}", ""]
    return out


BASH_BODY = r"""
# the names of KIND from the store: `PROG profiles [--profile-dir D]... list --names --kind KIND`
F_names() {
    local cmd=${COMP_WORDS[0]} d args=()
    [[ $cmd == "~/"* ]] && cmd=$HOME/${cmd#"~/"}
    for d in "${F_dirs[@]}"; do
        [[ -n $d ]] || continue
        [[ $d == "~/"* ]] && d=$HOME/${d#"~/"}
        args+=(NAMES_DIR_OPTION "$d")
    done
    "$cmd" NAMES_HEAD "${args[@]}" NAMES_TAIL "$1" 2>/dev/null
}

F_add() {  # COMPREPLY += the words of "$@" that start with $cur
    local w
    for w in "$@"; do
        [[ $w == "$cur"* ]] && COMPREPLY+=("$w")
    done
}

F_files() {
    type compopt &>/dev/null && compopt -o filenames 2>/dev/null
    local IFS=$'\n'
    COMPREPLY+=($(compgen "$1" -- "$cur"))
}

F_complete_value() {  # $1 path, $2 option or #N
    F_value "$1" "$2"
    case $F_kind in
    choices) F_add "${F_choices[@]}" ;;
    profile|host|build)
        local IFS=$'\n'
        F_add $(F_names "$F_kind")
        [[ ${#COMPREPLY[@]} -eq 0 ]] && F_files -f ;;
    profile-dir|dir) F_files -d ;;
    *) F_files -f ;;
    esac
}

F_in() {  # is $1 one of the words of $2
    [[ " $2 " == *" $1 "* ]]
}

F() {
    local cur=${COMP_WORDS[COMP_CWORD]} at="" w want="" npos=0 i=1 n
    local F_subs F_opts F_vopts F_npos F_rep F_kind F_choices F_dirs=()
    COMPREPLY=()
    while [[ $i -lt $COMP_CWORD ]]; do
        w=${COMP_WORDS[i]}
        i=$((i + 1))
        if [[ -n $want ]]; then
            [[ $w == "=" ]] && continue  # --opt=value: bash splits at '='
            F_value "$at" "$want"
            [[ $F_kind == profile-dir ]] && F_dirs+=("$w")
            want=""
            continue
        fi
        F_spec "$at"
        case $w in
        --*=*)
            F_value "$at" "${w%%=*}"
            [[ $F_kind == profile-dir ]] && F_dirs+=("${w#*=}") ;;
        -?*)
            if [[ -z $at && -n DEFAULT ]] && ! F_in "$w" "$F_opts"; then
                at=DEFAULT  # PROG --option ... runs the default command
                F_spec "$at"
            fi
            F_in "$w" "$F_vopts" && want=$w ;;
        *)
            if F_in "$w" "$F_subs"; then
                at=${at:+$at }$w
                npos=0
            else
                npos=$((npos + 1))
            fi ;;
        esac
    done
    if [[ -n $want ]]; then  # the value of the option before
        [[ $cur == "=" ]] && cur=""
        F_complete_value "$at" "$want"
        return 0
    fi
    F_spec "$at"
    if [[ $cur == -* ]]; then
        F_add $F_opts
        if [[ -z $at && -n DEFAULT ]]; then
            F_spec DEFAULT
            F_add $F_opts
        fi
        return 0
    fi
    if [[ -n $F_subs ]]; then
        F_add $F_subs
        return 0
    fi
    n=$npos
    [[ $F_rep == 1 && $n -ge $F_npos ]] && n=$((F_npos - 1))
    if [[ $n -lt $F_npos ]]; then
        F_complete_value "$at" "#$n"
    else
        F_add $F_opts
    fi
    return 0
}
"""


def _bash(root: Command, prog: str, default: str | None) -> str:
    f = _fname(prog)
    if default is not None and default not in root.subcommands:
        raise ValueError("the default command %r is no subcommand" % default)
    body = BASH_BODY
    for token, value in (
        ("NAMES_DIR_OPTION", _q(NAMES_DIR_OPTION)),
        ("NAMES_HEAD", _q(NAMES_COMMAND[0])),
        ("NAMES_TAIL", " ".join(_q(w) for w in NAMES_COMMAND[1:])),
        ("DEFAULT", _q(default or "")),
        ("PROG", prog),
    ):
        body = body.replace(token, value)
    import re

    body = re.sub(r"\bF(?=\b|_)", f, body)
    head = [
        "# bash completion for %s, generated from its argument parser by `%s completion bash`" % (prog, prog),
        '# (regenerate it after an upgrade). Install: eval "$(%s completion bash)" in ~/.bashrc,' % prog,
        "# or write it to ~/.local/share/bash-completion/completions/%s" % prog,
        "",
    ]
    return "\n".join(head + _bash_tables(root, f)) + body + "\ncomplete -F %s %s\n" % (f, _q(prog))


# --- zsh -------------------------------------------------------------------------------------


def _zsh(root: Command, prog: str, default: str | None) -> str:
    """zsh runs the bash function through its bashcompinit (part of zsh)."""
    bash = _bash(root, prog, default)
    return (
        "#compdef %s\n"
        "# zsh completion for %s, generated by `%s completion zsh`: the bash completion run by\n"
        '# zsh\'s bashcompinit. Install: eval "$(%s completion zsh)" in ~/.zshrc (after compinit).\n'
        "autoload -U +X compinit && { (( $+functions[compdef] )) || compinit }\n"
        "autoload -U +X bashcompinit && bashcompinit\n" % (prog, prog, prog, prog)
    ) + bash


# --- fish ------------------------------------------------------------------------------------


def _fish_q(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


FISH_BODY = r"""
# the state of the command line before the cursor: the subcommand path, then the positional
# count, then the option whose value comes next (or nothing), then the --profile-dir values
function F_state
    set -l at ''
    set -l npos 0
    set -l want ''
    set -l dirs
    for w in (commandline -opc)[2..-1]
        if test -n "$want"
            if test (F_value "$at" "$want")[1] = profile-dir
                set -a dirs $w
            end
            set want ''
            continue
        end
        switch $w
            case '--*=*'
                set -l o (string split -m1 = -- $w)
                if test (F_value "$at" "$o[1]")[1] = profile-dir
                    set -a dirs $o[2]
                end
            case '-?*'
                if test -z "$at"; and test -n DEFAULT; and not contains -- $w (F_spec "" opts)
                    set at DEFAULT
                end
                if contains -- $w (F_spec "$at" vopts)
                    set want $w
                end
            case '*'
                if contains -- $w (F_spec "$at" subs)
                    set at (string trim -- "$at $w")
                    set npos 0
                else
                    set npos (math $npos + 1)
                end
        end
    end
    printf '%s\n' "$at" $npos "$want" $dirs
end

function F_names
    set -l st (F_state)
    set -l args
    for d in $st[4..-1]
        set -a args NAMES_DIR_OPTION $d
    end
    set -l cmd (commandline -opc)[1]
    $cmd NAMES_HEAD $args NAMES_TAIL $argv[1] 2>/dev/null
end

function F_values  # $1 path, $2 option or #N
    set -l v (F_value $argv[1] $argv[2])
    switch $v[1]
        case choices
            printf '%s\n' $v[2..-1]
        case profile host build
            set -l names (F_names $v[1])
            if test (count $names) -gt 0
                printf '%s\n' $names
            else
                __fish_complete_path (commandline -ct)
            end
        case profile-dir dir
            __fish_complete_directories (commandline -ct)
        case '*'
            __fish_complete_path (commandline -ct)
    end
end

function F_complete
    set -l st (F_state)
    set -l at $st[1]
    set -l cur (commandline -ct)
    if test -n "$st[3]"
        F_values "$at" "$st[3]"
        return
    end
    if string match -q -- '-*' $cur
        F_spec "$at" opts
        if test -z "$at"; and test -n DEFAULT
            F_spec DEFAULT opts
        end
        return
    end
    set -l subs (F_spec "$at" subs)
    if test (count $subs) -gt 0
        printf '%s\n' $subs
        return
    end
    set -l npos (F_spec "$at" npos)
    set -l n $st[2]
    if test (F_spec "$at" rep) = 1; and test $n -ge $npos
        set n (math $npos - 1)
    end
    if test $n -lt $npos
        F_values "$at" "#$n"
    else
        F_spec "$at" opts
    end
end

complete -c PROG -e
complete -c PROG -f -a '(F_complete)'
"""


def _fish(root: Command, prog: str, default: str | None) -> str:
    f = "__" + _fname(prog)[1:]
    if default is not None and default not in root.subcommands:
        raise ValueError("the default command %r is no subcommand" % default)
    out = [
        "# fish completion for %s, generated from its argument parser by `%s completion fish`."
        % (prog, prog),
        "# Install: %s completion fish > ~/.config/fish/completions/%s.fish" % (prog, prog),
        "",
        "function %s_spec  # PATH subs|opts|vopts|npos|rep" % f,
        "    switch $argv[1]",
    ]
    for c in commands(root):
        table = {
            "subs": list(c.subcommands),
            "opts": [s for o in c.options for s in o.strings],
            "vopts": [s for o in c.options if o.takes_value for s in o.strings],
            "npos": [str(len(c.positionals))],
            "rep": [str(int(bool(c.positionals) and c.positionals[-1].repeats))],
        }
        out.append("        case %s" % _fish_q(" ".join(c.path)))
        out.append("            switch $argv[2]")
        for key, words in table.items():
            if words:  # (printf with no word would print an empty line)
                out.append(
                    "                case %s; printf '%%s\\n' %s" % (key, " ".join(_fish_q(w) for w in words))
                )
        out.append("            end")
    out += [
        "    end",
        "end",
        "",
        "function %s_value  # PATH OPTION|#N -> kind, choices..." % f,
        "    switch $argv[1]/$argv[2]",
    ]
    for c in commands(root):
        p = " ".join(c.path)
        items = [(s, o.kind, o.choices) for o in c.options if o.takes_value for s in o.strings]
        items += [("#%d" % i, a.kind, a.choices) for i, a in enumerate(c.positionals)]
        for what, kind, choices in items:
            if kind != "file":
                out.append(
                    "        case %s; printf '%%s\\n' %s"
                    % (_fish_q(p + "/" + what), " ".join(_fish_q(w) for w in [kind, *choices]))
                )
    out += ["        case '*'; echo file", "    end", "end"]
    body = FISH_BODY
    for token, value in (
        ("NAMES_DIR_OPTION", _fish_q(NAMES_DIR_OPTION)),
        ("NAMES_HEAD", _fish_q(NAMES_COMMAND[0])),
        ("NAMES_TAIL", " ".join(_fish_q(w) for w in NAMES_COMMAND[1:])),
        ("DEFAULT", _fish_q(default or "")),
        ("PROG", _fish_q(prog)),
    ):
        body = body.replace(token, value)
    import re

    body = re.sub(r"\bF(?=\b|_)", f, body)
    return "\n".join(out) + body
