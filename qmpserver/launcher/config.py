"""Which profile a launcher runs, when libvirt has stripped the environment.

libvirt passes QEMU only ``PATH``, ``HOME``, ``USER``, ``LOGNAME``,
``TMPDIR``, ``LD_*`` and ``LC_ALL``, so a stand-in binary finds its profile,
in order, from:

1. ``--profile NAME|FILE`` on its command line (an extension flag, removed
   before QEMU's options are parsed);
2. ``QMPSERVER_PROFILE`` in the environment;
3. a config file keyed on the executable's own path: ``<executable>.qmpserver.json``
   next to it (what ``qmpserver install-launcher`` writes), else the entry for
   the executable's absolute path in ``$XDG_CONFIG_HOME/qmpserver/launchers.json``
   (``~/.config/...``) or ``/etc/qmpserver/launchers.json``;
4. the embedded default profile.

A config file is JSON::

    {"profile": "debian-7.2-tcg",           # name or file, as for --profile
     "compiled": "qemu-system-aarch64.profile.pickle",   # optional, next to the config
     "profile_dirs": ["/path/to/profiles"],  # optional extra profile directories
     "strict": true}                          # optional: strict mode, as QMPSERVER_STRICT=1

``launchers.json`` maps absolute executable paths to such objects.
"""

from __future__ import annotations

import os

SUFFIX = ".qmpserver.json"
COMPILED_SUFFIX = ".profile.pickle"


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return {"_error": "%s: invalid JSON" % path}
    return data if isinstance(data, dict) else {"_error": "%s: expected a JSON object" % path}


def sidecar_path(exe: str) -> str:
    return exe + SUFFIX


def find_config(exe: str):
    """The launcher config for an executable path, or None. Relative paths inside
    are resolved against the config file's directory."""
    cands = []
    if exe:
        a = os.path.abspath(exe)
        cands.append(a)
        r = os.path.realpath(a)
        if r != a:
            cands.append(r)
    for c in cands:
        p = sidecar_path(c)
        data = _read_json(p)
        if data is not None:
            return _absolutize(data, os.path.dirname(p))
    regs = []
    xdg = os.environ.get("XDG_CONFIG_HOME")
    home = os.environ.get("HOME")
    if xdg:
        regs.append(os.path.join(xdg, "qmpserver", "launchers.json"))
    elif home:
        regs.append(os.path.join(home, ".config", "qmpserver", "launchers.json"))
    regs.append("/etc/qmpserver/launchers.json")
    for reg in regs:
        data = _read_json(reg)
        if not data:
            continue
        for c in cands:
            entry = data.get(c)
            if isinstance(entry, dict):
                return _absolutize(entry, os.path.dirname(reg))
            if isinstance(entry, str):
                return {"profile": entry}
    return None


def _absolutize(data, base):
    out = dict(data)
    for key in ("compiled",):
        v = out.get(key)
        if isinstance(v, str) and not os.path.isabs(v):
            out[key] = os.path.join(base, v)
    prof = out.get("profile")
    if isinstance(prof, str) and (os.sep in prof) and not os.path.isabs(prof):
        out["profile"] = os.path.join(base, prof)
    dirs = out.get("profile_dirs")
    if isinstance(dirs, list):
        out["profile_dirs"] = [
            d if os.path.isabs(d) else os.path.join(base, d) for d in dirs if isinstance(d, str)
        ]
    return out


def extract_profile_flag(args):
    """Remove ``--profile X`` / ``--profile=X`` (the stand-in's own flag) from argv."""
    spec = None
    out = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--profile" and i + 1 < len(args):
            spec = args[i + 1]
            i += 2
            continue
        if a.startswith("--profile="):
            spec = a[len("--profile=") :]
            i += 1
            continue
        out.append(a)
        i += 1
    return spec, out
