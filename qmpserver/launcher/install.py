"""``qmpserver install-launcher``: a ``qemu-system-*`` stand-in libvirt can probe and run.

Writes, in ``--dir``:

* ``<name>``: an executable Python script with an absolute interpreter
  (``#!/usr/bin/python3 -IS``: isolated, no ``site``), which sets ``sys.path``
  itself, so it runs with an empty environment as libvirt's QEMU user;
* ``<name>.qmpserver.json``: its config (the profile, the compiled file);
* ``<name>.profile.pickle``: the profile compiled once, *frozen* (it is not
  checked against its source files at start-up: the launcher starts fast and
  never needs to read YAML).

Re-running the command with a changed profile (or changed profile files, or
a changed qmpserver) rewrites the three files, which changes the executable's ctime: libvirt then
re-probes (its capabilities cache is keyed on the path and validated by
ctime).  Re-running with nothing changed leaves them untouched.

The interpreter is ``--python``, else the current one when every directory on
its path is world-accessible, else ``/usr/bin/python3`` of the same minor
version.  ``--copy-package`` copies the ``qmpserver`` package (byte-compiled)
next to the launcher, for when the source tree is not readable by the QEMU user.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys

from ..errors import UsageError
from .config import COMPILED_SUFFIX, SUFFIX


def _world_usable(path: str, need_exec=True) -> bool:
    """Can an unprivileged other user reach and read/execute ``path``?"""
    path = os.path.realpath(path)
    try:
        st = os.stat(path)
    except OSError:
        return False
    mode = stat.S_IXOTH if need_exec else stat.S_IROTH
    if not st.st_mode & mode:
        return False
    d = os.path.dirname(path)
    while True:
        try:
            if not os.stat(d).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
        parent = os.path.dirname(d)
        if parent == d:
            return True
        d = parent


def choose_python(explicit=None) -> tuple[str, str | None]:
    """(interpreter, note) — the note explains a substitution."""
    if explicit:
        return os.path.abspath(explicit), None
    exe = sys.executable
    if _world_usable(exe):
        return exe, None
    sysp = "/usr/bin/python3"
    if os.path.exists(sysp) and _world_usable(sysp):
        import subprocess

        try:
            v = subprocess.run(
                [sysp, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            v = ""
        if v == "%d.%d" % sys.version_info[:2]:
            return sysp, "%s is not reachable by other users; using %s" % (exe, sysp)
    return exe, "%s may not be reachable by libvirt's QEMU user (use --python)" % exe


def _package_root() -> str:
    import qmpserver

    return os.path.dirname(os.path.dirname(os.path.abspath(qmpserver.__file__)))


def _site_dirs(python: str) -> list:
    """Where the launcher's interpreter finds PyYAML & co (needed only off the fast
    path: recompiling a profile, data a topic module reads lazily)."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        cands = list(sys.path)
    else:
        import subprocess

        try:
            out = subprocess.run(
                [
                    python,
                    "-c",
                    "import site, sys; print('\\n'.join("
                    "site.getsitepackages() + [site.getusersitepackages()]))",
                ],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        cands = out.splitlines()
    dirs: list[str] = []
    for p in cands:
        if p and ("site-packages" in p or "dist-packages" in p) and os.path.isdir(p) and p not in dirs:
            dirs.append(p)
    return dirs


def script_text(python: str, name: str, profile_name: str, paths: list, extra: list) -> str:
    return (
        "#!%s -IS\n"
        "# %s: a qmpserver stand-in for QEMU (profile %s).\n"
        "# Written by `qmpserver install-launcher`; run it again after changing the profile.\n"
        "import sys\n"
        "sys.path[:0] = %r\n"
        "sys.path += %r\n"
        "from qmpserver.launcher.main import main\n"
        "sys.exit(main(config=__file__ + %r))\n"
    ) % (python, name, profile_name, paths, extra, SUFFIX)


def _package_stamp() -> list:
    """(file, mtime, size) of the package's sources: new code may answer differently,
    and the compiled profile holds objects of its classes."""
    root = os.path.join(_package_root(), "qmpserver")
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                st = os.stat(os.path.join(d, f))
                out.append((os.path.relpath(os.path.join(d, f), root), st.st_mtime_ns, st.st_size))
    return out


def _fingerprint(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def _atomic_write(path, data: bytes, mode: int):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def install(
    profile_spec, directory, name=None, python=None, profile_dirs=(), copy_package=False, force=False
):
    """Install (or refresh) a launcher; returns (executable path, changed, notes)."""
    from .. import __version__
    from ..models import save_compiled, stamp
    from ..profiles.loader import compile_profile, resolve_spec, search_roots

    roots = search_roots(profile_dirs)
    path = resolve_spec(profile_spec, roots)
    prof, deps = compile_profile(path, roots)
    deps = set(deps) | {path}
    name = name or "qemu-system-%s" % prof.build.target
    if "/" in name or not name:
        raise UsageError("--name must be a file name, not a path: %s" % name)
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    exe = os.path.join(directory, name)
    conf = exe + SUFFIX
    compiled = exe + COMPILED_SUFFIX
    notes = []
    py, note = choose_python(python)
    if note:
        notes.append(note)
    if copy_package:
        lib = exe + ".lib"
        paths = [lib]
    else:
        lib = None
        paths = [_package_root()]
        if not _world_usable(os.path.join(paths[0], "qmpserver", "__init__.py"), need_exec=False):
            notes.append("%s is not readable by other users (use --copy-package)" % paths[0])
    extra = [p for p in _site_dirs(py) if p not in paths]
    text = script_text(py, name, prof.name, paths, extra)
    spec_out = path if os.sep in profile_spec or profile_spec.endswith((".yaml", ".yml")) else profile_spec
    stamps = stamp(sorted(deps))
    fp = _fingerprint(
        __version__,
        sys.version_info[:2],
        spec_out,
        text,
        stamps,
        [os.path.abspath(d) for d in profile_dirs],
        copy_package,
        _package_stamp(),
    )
    old = None
    try:
        with open(conf, encoding="utf-8") as f:
            old = json.load(f).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        pass
    if not force and old == fp and os.path.exists(exe) and os.path.exists(compiled):
        return exe, False, notes
    if copy_package:
        _copy_package(lib)
    _precompile(py, os.path.join(paths[0], "qmpserver"))
    prof.build.schema.encoded_introspection(False)  # stored encoded in the compiled file
    save_compiled(compiled, prof, ())  # frozen: no dependency checks at start-up
    os.chmod(compiled, 0o644)
    cfg = {
        "profile": spec_out,
        "compiled": os.path.basename(compiled),
        "profile_dirs": [os.path.abspath(d) for d in profile_dirs],
        "qmpserver": __version__,
        "fingerprint": fp,
    }
    _atomic_write(conf, (json.dumps(cfg, indent=2) + "\n").encode(), 0o644)
    _atomic_write(exe, text.encode(), 0o755)
    return exe, True, notes


def _precompile(python, package_dir):
    """Byte-compile the package for the launcher's interpreter: libvirt's QEMU user
    cannot write ``__pycache__``, and compiling every module at each start is slow."""
    import subprocess

    try:
        subprocess.run(
            [python, "-IS", "-m", "compileall", "-q", package_dir], capture_output=True, timeout=300
        )
    except (OSError, subprocess.SubprocessError):
        pass


def _copy_package(lib):
    import compileall

    src = os.path.join(_package_root(), "qmpserver")
    dst = os.path.join(lib, "qmpserver")
    if os.path.exists(lib):
        shutil.rmtree(lib)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compileall.compile_dir(dst, quiet=1)
    for root, dirs, files in os.walk(lib):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)


def cmd_install(args) -> int:
    exe, changed, notes = install(
        args.profile, args.dir, args.name, args.python, args.profile_dir or (), args.copy_package, args.force
    )
    for n in notes:
        sys.stderr.write("qmpserver: note: %s\n" % n)
    print("%s %s (profile %s)" % ("installed" if changed else "up to date:", exe, args.profile))
    return 0


def add_parser(subparsers):
    from ..completion import complete_as

    p = subparsers.add_parser(
        "install-launcher",
        help="write a qemu-system-* stand-in (executable + config + compiled profile) for libvirt",
        description="Write an executable that behaves like qemu-system-<arch> on a profile, "
        "for libvirt's <emulator> or --emulatorbin. Works with an empty environment; "
        "re-run after changing the profile (the executable's ctime then changes, so "
        "libvirt re-probes).",
    )
    complete_as(p.add_argument("--profile", required=True, help="profile name or file"), "profile")
    p.add_argument("--name", help="executable name (default: qemu-system-<target of the profile>)")
    complete_as(
        p.add_argument("--dir", required=True, help="directory to write into (created if missing)"), "dir"
    )
    p.add_argument("--python", help="interpreter for the shebang (default: see docs/launcher.md)")
    complete_as(
        p.add_argument("--profile-dir", action="append", help="extra profile directory (repeatable)"),
        "profile-dir",
    )
    p.add_argument(
        "--copy-package",
        action="store_true",
        help="copy the qmpserver package next to the launcher (byte-compiled)",
    )
    p.add_argument("--force", action="store_true", help="rewrite even when nothing changed")
    p.set_defaults(func=cmd_install)
