"""The package set an oracle was recorded with, against the one installed here.

Debian's QEMU loads optional modules (display back-ends, OpenGL devices, block drivers) from
separate packages; what `-display help`, `qom-list-types` or libvirt's probe see depends on which
of them are installed.  A build captured by ``qmpserver.profiles.capture`` lists in
``sources.packages`` every ``qemu-*``/``libvirt-*`` package (with its version) that was installed
when it was recorded; ``scripts/test.sh`` installs that set.  Tests whose oracle is such a
recording call :func:`require_recorded_packages` first, so that a different environment fails (or
skips, outside CI) with one line naming the differing packages instead of a long diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from qmpserver.profiles.capture import PACKAGE_PATTERNS, installed_packages
from tests.support.peers import REQUIRE

REPO = Path(__file__).resolve().parents[2]
DEBIAN_72 = REPO / "models" / "builds" / "qemu-7.2-debian"

# Packages matching PACKAGE_PATTERNS that no recorded oracle can see: they ship separate programs
# and no module that qemu-system-* loads or libvirt's probe asks about, so their presence or
# version changes nothing a recording holds.  The check passes over them in both directions (a CI
# image was seen with qemu-utils preinstalled; scripts/test.sh installs it for qemu-img).
UNSEEN_BY_ORACLES: dict[str, str] = {
    "qemu-utils": "qemu-img, qemu-io, qemu-nbd: separate programs, no qemu-system module",
    "qemu-guest-agent": "qemu-ga runs inside a guest; no qemu-system module",
    # installed for models/builds/qemu-7.2-debian-ppc64 (which records it); the aarch64 and x86_64
    # oracles were recorded without it.  A ppc64 test needs the binary itself (need/real_binary).
    "qemu-system-ppc": "qemu-system-ppc{,64,64le}: emulators of another target, no module another qemu-system-* loads",
}


def recorded_packages(build_dir: Path = DEBIAN_72) -> dict[str, str]:
    doc = yaml.safe_load((Path(build_dir) / "build.yaml").read_text())
    return dict(doc.get("sources", {}).get("packages") or {})


def package_differences(recorded: dict[str, str], installed: dict[str, str]) -> list[str]:
    """One phrase per package that is missing, extra or of another version (sorted by name).

    Packages in UNSEEN_BY_ORACLES are not compared: no recording depends on them.
    """
    out = []
    for pkg in sorted((set(recorded) | set(installed)) - set(UNSEEN_BY_ORACLES)):
        want, have = recorded.get(pkg), installed.get(pkg)
        if want == have:
            continue
        if have is None:
            out.append(f"{pkg} {want} is not installed")
        elif want is None:
            out.append(f"{pkg} {have} is installed but was not when recorded")
        else:
            out.append(f"{pkg} is {have}, recorded with {want}")
    return out


def require_recorded_packages(build_dir: Path = DEBIAN_72, what: str = "this oracle") -> None:
    """Fail (CI) or skip unless the installed qemu-*/libvirt-* packages are those recorded."""
    recorded = recorded_packages(build_dir)
    if not recorded:
        pytest.fail(f"{build_dir}/build.yaml has no sources.packages: recapture it")
    diff = package_differences(recorded, installed_packages(PACKAGE_PATTERNS))
    if not diff:
        return
    msg = (
        f"{what} was recorded with other Debian packages than are installed here: "
        + "; ".join(diff)
        + " (bash scripts/test.sh installs the recorded set; after a "
        "Debian update, recapture with the command in sources.refs.capture)"
    )
    if REQUIRE:
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def extra_packages(build_dirs: list[Path], installed: dict[str, str] | None = None) -> list[str]:
    """Installed packages an oracle can see that none of `build_dirs` was recorded with (sorted).

    These are what make every oracle test fail on a machine that came with more than the
    recorded set (a CI image was seen with libvirt's lxc/vbox/xen drivers, libvirt-l10n,
    qemu-block-extra and the EFI firmware preinstalled: the firmware alone changes libvirt's
    domcapabilities).  ``scripts/test.sh`` removes them under ``QMPSERVER_REQUIRE_REAL_PEERS=1``
    and names them otherwise.
    """
    recorded: set[str] = set()
    for build in build_dirs:
        recorded |= set(recorded_packages(Path(build)))
    if installed is None:
        installed = installed_packages(PACKAGE_PATTERNS)
    return sorted(set(installed) - recorded - set(UNSEEN_BY_ORACLES))


def main(argv: list[str]) -> int:
    """``python -m tests.support.oracle_env extras BUILD_DIR...``: print extra_packages(), one per line."""
    if len(argv) < 2 or argv[0] != "extras":
        print("usage: python -m tests.support.oracle_env extras BUILD_DIR...", file=sys.stderr)
        return 2
    dirs = [Path(a).parent if a.endswith(".yaml") else Path(a) for a in argv[1:]]
    for d in dirs:
        if not (d / "build.yaml").is_file():
            print(f"oracle_env: {d}/build.yaml: no such file", file=sys.stderr)
            return 1
    for pkg in extra_packages(dirs):
        print(pkg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
