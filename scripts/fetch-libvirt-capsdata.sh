#!/usr/bin/env bash
# Fetch libvirt's own QMP recordings (tests/qemucapabilitiesdata/*.replies) for QEMU >= 4.2,
# aarch64 and x86_64, and the real x86 hosts' CPUID data behind models/x86_64/hosts/x86-*
# (tests/cputestdata/x86_64-cpuid-<CPU>.xml/.json, into cputestdata/), from Debian's libvirt
# SOURCE package, into a git-ignored cache:
#
#   bash scripts/fetch-libvirt-capsdata.sh [CACHE_DIR]     (default .cache/libvirt-capsdata/9.0.0)
#
# The recordings are libvirt's test data (LGPL-2.1+); they are not committed here. apt fetches
# the exact source version below through a private sources list (no change to the system's apt
# configuration, no root needed) and checks every downloaded file (.dsc, tarballs) against the
# hashes of the archive's signed Sources index. Only the recordings are extracted, next to an ORIGIN note.
# tests/unit/profiles/test_replay_recordings.py replays them; it skips when they are absent
# (fails under QMPSERVER_REQUIRE_REAL_PEERS=1).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=9.0.0-4+deb12u2
UPSTREAM=9.0.0
SUITE=bookworm
CACHE=${1:-.cache/libvirt-capsdata/$UPSTREAM}
EXPECTED=17  # libvirt 9.0 has no aarch64 recording of 5.1, 6.1, 7.1, 7.2, 8.0
VERSIONS="4.2.0 5.0.0 5.1.0 5.2.0 6.0.0 6.1.0 6.2.0 7.0.0 7.1.0 7.2.0 8.0.0"
# tools/libvirt_cpuid_to_x86_host.py's inputs (the hosts' sources name these files)
CPUS="Xeon-Gold-6130 Xeon-Platinum-8268 Ice-Lake-Server Cooperlake EPYC-7502-32-Core EPYC-7601-32-Core-ibpb"

if [ -f "$CACHE/ORIGIN" ] && [ -d "$CACHE/cputestdata" ]; then
  exit 0
fi
command -v apt-get >/dev/null || { echo "fetch-libvirt-capsdata.sh: apt-get is needed" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/dl"
# the machine's own Debian mirror (a CI image may point apt at another one), else deb.debian.org
MIRROR=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $2 ~ /^http/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
echo "deb-src $MIRROR $SUITE main" > "$WORK/sources.list"
APT=(apt-get -qq -o "Dir::Etc::SourceList=$WORK/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache")
# as root apt would drop to _apt, who cannot write into this private temporary directory
[ "$(id -u)" != 0 ] || APT+=(-o APT::Sandbox::User=root)
"${APT[@]}" update
(cd "$WORK/dl" && "${APT[@]}" source --download-only "libvirt=$VERSION")

ORIG="$WORK/dl/libvirt_$UPSTREAM.orig.tar.xz"
members=()
for v in $VERSIONS; do
  for a in aarch64 x86_64; do
    members+=("libvirt-$UPSTREAM/tests/qemucapabilitiesdata/caps_$v.$a.replies")
  done
done
present=$(tar -tJf "$ORIG" | grep -Fx -f <(printf '%s\n' "${members[@]}") || true)
if [ "$(printf '%s\n' "$present" | grep -c .)" != "$EXPECTED" ]; then
  echo "fetch-libvirt-capsdata.sh: expected $EXPECTED recordings in $ORIG, found:" $present >&2
  exit 1
fi
cpufiles=()
for c in $CPUS; do
  for ext in xml json; do
    cpufiles+=("libvirt-$UPSTREAM/tests/cputestdata/x86_64-cpuid-$c.$ext")
  done
done
rm -rf "$CACHE.tmp"
mkdir -p "$CACHE.tmp/cputestdata"
# shellcheck disable=SC2086
tar -xJf "$ORIG" -C "$CACHE.tmp" --strip-components=3 $present
tar -xJf "$ORIG" -C "$CACHE.tmp/cputestdata" --strip-components=3 "${cpufiles[@]}"
{
  echo "libvirt's tests/qemucapabilitiesdata/*.replies (QEMU >= 4.2, aarch64 and x86_64), LGPL-2.1+"
  echo "from Debian source package libvirt $VERSION ($SUITE, $MIRROR), fetched by apt"
  echo "(files checked by apt against the archive's signed Sources index) on $(date -u +%F)"
  echo "libvirt_$UPSTREAM.orig.tar.xz sha256 $(sha256sum "$ORIG" | cut -d' ' -f1)"
  echo "files:"
  (cd "$CACHE.tmp" && sha256sum ./*.replies cputestdata/* | sed 's#  \./#  #')
} > "$CACHE.tmp/ORIGIN"
rm -rf "$CACHE"
mv "$CACHE.tmp" "$CACHE"
echo "fetch-libvirt-capsdata.sh: $(ls "$CACHE"/*.replies | wc -l) recordings, $(ls "$CACHE"/cputestdata | wc -l) cputestdata files in $CACHE"
