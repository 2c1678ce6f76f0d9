#!/usr/bin/env bash
# Install everything the test suite needs, then run all of it.
#
#   bash scripts/test.sh [pytest arguments]
#
# Installs Debian's real peers (QEMU, libvirt, chromium, podman) with apt (root or sudo),
# the project with its test extras into .venv, prepares libvirt and runs pytest in
# parallel. Tests that need a real peer skip when it is absent, unless
# QMPSERVER_REQUIRE_REAL_PEERS=1 (CI sets it), which turns those skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

if command -v apt-get >/dev/null; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends \
    qemu-system-arm qemu-system-x86 \
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients \
    chromium podman runc debootstrap docker-compose uidmap fuse-overlayfs slirp4netns \
    gcc libc6-dev python3-venv ca-certificates >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# the test stack pinned to a set known to work together (scripts/test-constraints.txt)
.venv/bin/python -m pip install -q -c scripts/test-constraints.txt -e '.[test,http]'

if [ -x tests/integration/libvirt/setup-libvirt.sh ] || [ -f tests/integration/libvirt/setup-libvirt.sh ]; then
  $SUDO bash tests/integration/libvirt/setup-libvirt.sh
fi

export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/python -m pytest -n "${QMPSERVER_TEST_JOBS:-auto}" -p no:cacheprovider "$@"
