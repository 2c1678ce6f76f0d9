#!/usr/bin/env bash
# Install everything the test suite needs, then run all of it.
#
#   bash scripts/test.sh [pytest arguments]
#
# Installs Debian's real peers (QEMU, libvirt, chromium, podman) with apt (root or sudo),
# the project with its test and lint extras into .venv (editable; scripts/test-venv.sh: .venv-test
# when .venv is a quick-start install, which stays untouched), runs scripts/lint.sh (ruff, mypy),
# prepares libvirt and runs pytest in parallel. Tests that need a real peer skip when it is absent, unless
# QMPSERVER_REQUIRE_REAL_PEERS=1 (CI sets it), which turns those skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# The real peers are the oracles' environment: install exactly the qemu-*/libvirt-* package sets
# the committed Debian builds were recorded with (their sources.packages; qemu-system-gui, for one,
# adds gtk/sdl to `-display help` and virtio-gpu-gl to qom-list-types; the ppc64 build adds
# qemu-system-ppc), at the recorded versions when the mirror still has them, else by name
# (tests/support/oracle_env.py then names what differs).
ORACLE_BUILDS="models/builds/qemu-7.2-debian/build.yaml models/builds/qemu-7.2-debian-ppc64/build.yaml"
recorded_packages() {
  awk '/^  packages:/ {p = 1; next}
       p && /^    [^ ]/ {sub(/^ +/, ""); split($0, kv, ": "); print kv[1] "=" kv[2]; next}
       p {p = 0}' "$1"
}
ORACLE_PKGS=""
for build in $ORACLE_BUILDS; do
  pkgs=$(recorded_packages "$build")
  if [ -z "$pkgs" ]; then
    echo "scripts/test.sh: $build lists no sources.packages" >&2
    exit 1
  fi
  ORACLE_PKGS="$ORACLE_PKGS $pkgs"
done
ORACLE_PKGS=$(printf '%s\n' $ORACLE_PKGS | sort -u)

if command -v apt-get >/dev/null; then
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  if ! $SUDO apt-get install -y -qq --no-install-recommends --allow-downgrades $ORACLE_PKGS >/dev/null; then
    echo "scripts/test.sh: the recorded versions are not all available; installing by name" >&2
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $(printf '%s\n' $ORACLE_PKGS | sed 's/=.*//') >/dev/null
  fi
  $SUDO apt-get install -y -qq --no-install-recommends \
    qemu-utils curl xz-utils chromium podman runc catatonit debootstrap docker-compose uidmap fuse-overlayfs slirp4netns \
    gcc libc6-dev python3-venv ca-certificates zsh fish bash-completion >/dev/null
  # libvirt 9.0's own QMP recordings (QEMU 4.2 .. 8.0) from Debian's source package, into the
  # git-ignored .cache/ (replay oracles; tests fail without them under QMPSERVER_REQUIRE_REAL_PEERS=1)
  bash scripts/fetch-libvirt-capsdata.sh ||
    echo "scripts/test.sh: could not fetch libvirt's recordings (their replay tests skip or fail)" >&2
  # Debian's QEMU 10.0 from bookworm-backports, unpacked into .cache/qemu-10.0 beside the system's 7.2
  # (the newer real oracle of the x86_64 and ppc64 10.0 builds)
  bash scripts/fetch-qemu-backports.sh >/dev/null ||
    echo "scripts/test.sh: could not fetch QEMU 10.0 from bookworm-backports (its differential tests skip or fail)" >&2
fi

PY="${PYTHON:-python3}"
VENV=$(bash scripts/test-venv.sh)
if [ "$VENV" = .venv-test ] && [ -z "${QMPSERVER_VENV:-}" ]; then
  echo "scripts/test.sh: .venv holds a qmpserver installed otherwise than editable from here" \
    "(the quick start's); leaving it alone, the tests use .venv-test" >&2
fi
export QMPSERVER_VENV="$VENV"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# the test stack pinned to a set known to work together (scripts/test-constraints.txt)
"$VENV/bin/python" -m pip install -q -c scripts/test-constraints.txt -e '.[test,http,lint]'

# The oracles' environment exactly: qemu-*/libvirt-* packages an oracle can see that were not
# installed when the builds were recorded (a machine image may come with libvirt's other drivers,
# qemu-block-extra or the EFI firmware, which changes libvirt's domcapabilities) make every oracle
# test fail. CI removes them; elsewhere they are named and those tests skip.
if command -v dpkg-query >/dev/null; then
  # shellcheck disable=SC2086
  EXTRAS=$("$VENV/bin/python" -m tests.support.oracle_env extras $ORACLE_BUILDS)
  if [ -n "$EXTRAS" ]; then
    if [ "${QMPSERVER_REQUIRE_REAL_PEERS:-}" = 1 ] && command -v apt-get >/dev/null; then
      # shellcheck disable=SC2086
      echo "scripts/test.sh: removing what the oracles were recorded without:" $EXTRAS \
        "(apt removes: $($SUDO apt-get remove -s $EXTRAS | awk '/^Remv/ {print $2}' | tr '\n' ' '))" >&2
      # shellcheck disable=SC2086
      $SUDO apt-get remove -y -qq $EXTRAS >/dev/null
    else
      # shellcheck disable=SC2086
      echo "scripts/test.sh: installed, but not when the oracles were recorded:" $EXTRAS \
        "(their tests skip; with QMPSERVER_REQUIRE_REAL_PEERS=1, as in CI, this script removes them)" >&2
    fi
  fi
fi

# lint, format check and types first (pyproject.toml [tool.ruff], [tool.mypy]); seconds
bash scripts/lint.sh

if [ -x tests/integration/libvirt/setup-libvirt.sh ] || [ -f tests/integration/libvirt/setup-libvirt.sh ]; then
  $SUDO bash tests/integration/libvirt/setup-libvirt.sh
fi

VENV_DIR=$(cd "$VENV" && pwd)
export PATH="$VENV_DIR/bin:$PATH"
exec "$VENV_DIR/bin/python" -m pytest -n "${QMPSERVER_TEST_JOBS:-auto}" -p no:cacheprovider "$@"
