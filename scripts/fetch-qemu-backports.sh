#!/usr/bin/env bash
# Fetch Debian's QEMU 10.0 (bookworm-backports) system emulators into a git-ignored cache, beside
# the system's QEMU 7.2, as a second real oracle: the newer QEMU the x86_64 and ppc64 builds
# qemu-10.0-debian-* were captured from, and that their differential tests compare against.
#
#   bash scripts/fetch-qemu-backports.sh [CACHE_DIR]     (default .cache/qemu-10.0)
#
# apt downloads the exact binary packages below through a private sources list (no change to the
# system's apt configuration; no root needed) and checks them against the hashes of the archive's
# signed Packages index; they are unpacked with `dpkg -x` (not installed: the system's 7.2 stays
# the default `qemu-system-*`). CACHE_DIR/bin/qemu-system-{x86_64,ppc64,aarch64} are wrappers
# that run the 10.0 binaries with their own modules (QEMU_MODULE_DIR); firmware and keymaps come
# from the system's /usr/share/qemu (Debian's qemu-system-data 7.2), which no QMP answer shows.
# tests/support/qemu10.py finds the wrappers; tests that need them skip when they are absent
# (fail under QMPSERVER_REQUIRE_REAL_PEERS=1).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1:10.0.2+ds-2+deb13u1~bpo12+1
SUITE=bookworm-backports
# qemu-system-gui, -modules-opengl, -modules-spice and qemu-block-extra: the 10.0 binaries look for
# a module in QEMU_MODULE_DIR first and then in the system's module directory, where Debian's 7.2
# modules are; a 7.2 module refuses to load into 10.0 ("Only modules from the same build can be
# loaded") and leaves QEMU to fail an assertion (util/module.c) at the first qom-list-types.  Their
# 10.0 versions shadow every 7.2 module.
PACKAGES="qemu-system-x86 qemu-system-ppc qemu-system-arm qemu-system-common qemu-system-gui
  qemu-system-modules-opengl qemu-system-modules-spice qemu-block-extra"
CACHE=${1:-.cache/qemu-10.0}
TARGETS="x86_64 ppc64 aarch64"

# up to date when every package above is in the cache's ORIGIN (an older cache lacking the module
# packages is fetched again)
if [ -f "$CACHE/ORIGIN" ] && [ -x "$CACHE/bin/qemu-system-x86_64" ]; then
  missing=0
  for p in $PACKAGES; do grep -q "  ${p}_" "$CACHE/ORIGIN" || missing=1; done
  [ "$missing" = 1 ] || exit 0
fi
command -v apt-get >/dev/null || { echo "fetch-qemu-backports.sh: apt-get is needed" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/dl"
MIRROR=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $2 ~ /^http/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
echo "deb $MIRROR $SUITE main" > "$WORK/sources.list"
APT=(apt-get -qq -o "Dir::Etc::SourceList=$WORK/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" -o "Dir::State::status=/dev/null")
[ "$(id -u)" != 0 ] || APT+=(-o APT::Sandbox::User=root)
"${APT[@]}" update
pkgs=()
for p in $PACKAGES; do pkgs+=("$p=$VERSION"); done
(cd "$WORK/dl" && "${APT[@]}" download "${pkgs[@]}")

ABS=$(mkdir -p "$CACHE.tmp" && cd "$CACHE.tmp" && pwd)
ABS=${ABS%.tmp}
rm -rf "$CACHE.tmp"
mkdir -p "$CACHE.tmp/root" "$CACHE.tmp/bin"
for deb in "$WORK"/dl/*.deb; do
  dpkg -x "$deb" "$CACHE.tmp/root"
done
MODDIR=$(cd "$CACHE.tmp/root" && ls -d usr/lib/*/qemu | head -1)
for t in $TARGETS; do
  cat > "$CACHE.tmp/bin/qemu-system-$t" <<EOF
#!/bin/sh
# QEMU $VERSION ($SUITE) from $CACHE (scripts/fetch-qemu-backports.sh)
QEMU_MODULE_DIR='$ABS/root/$MODDIR' exec '$ABS/root/usr/bin/qemu-system-$t' "\$@"
EOF
  chmod +x "$CACHE.tmp/bin/qemu-system-$t"
done
{
  echo "Debian QEMU $VERSION system emulators ($SUITE, $MIRROR), fetched by apt"
  echo "(checked by apt against the archive's signed Packages index) on $(date -u +%F), unpacked with dpkg -x"
  echo "packages:"
  (cd "$WORK/dl" && sha256sum ./*.deb | sed 's#  \./#  #')
} > "$CACHE.tmp/ORIGIN"
rm -rf "$CACHE"
mv "$CACHE.tmp" "$CACHE"
"$CACHE/bin/qemu-system-x86_64" --version | head -1
