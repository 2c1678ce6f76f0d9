#!/usr/bin/env bash
# Run `.ci/run` the way CI does, on a machine where nothing was installed by hand: inside a
# clean Debian bookworm container, on a fresh clone of a commit, with ../shared beside it.
#
#   scripts/ci-in-container.sh [--rev REV] [--keep] [--shell] [--preinstall PKGS] [-- PYTEST-ARGS...]
#
# --rev REV   the commit to clone (default HEAD of this checkout; uncommitted changes are
#             not part of it, exactly as in CI)
# --keep      keep the work directory (clone, logs, nested container storage) afterwards
# --shell     open a shell in the container after the run (needs a terminal)
# --preinstall PKGS
#             apt-get install these Debian packages (with their recommends) before .ci/run: a CI
#             image that comes with more than minbase (one had libvirt's lxc/vbox/xen drivers,
#             qemu-block-extra and the EFI firmware, and every oracle test failed on them)
#
# 1. A base image `localhost/qmpserver-ci-base:bookworm`, made once with
#    `debootstrap --variant=minbase --include=ca-certificates,git,python3 bookworm` and
#    `podman import` (about a minute; needs root and a Debian mirror: $DEBIAN_MIRROR).
#    Minbase has less than a CI machine, so whatever the suite needs and `.ci/run` does not
#    install shows up here as a failure.
# 2. `git clone` of REV into a new directory, ../shared mounted read-only beside it.
# 3. `podman run --privileged --network host` (apt and pip reach their registries; the
#    tests use loopback and unix sockets only; privileged for libvirtd, debootstrap and the
#    nested podman of the container tests, whose storage is a volume so overlay is not
#    stacked on overlay), as root, stdin from /dev/null:  CI=true bash .ci/run PYTEST-ARGS.
#    The machine's own network settings come along, as a CI machine of this kind has them:
#    the extra CA certificates in /usr/local/share/ca-certificates (an egress proxy that
#    re-signs TLS) are added to the container's trust store before the run, and the
#    certificate/proxy environment variables that are set here (SSL_CERT_FILE, PIP_CERT,
#    REQUESTS_CA_BUNDLE, *_proxy, ...) are passed on.  Nothing of this machine's Python or
#    pip configuration is (no local indexes, no wheel caches).
#
# Prints the wall time; exits with .ci/run's status.  Needs root and podman (+ debootstrap
# for the first run).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
SHARED="$(cd "$ROOT/.." && pwd)/shared"
BASE="${QMPSERVER_CI_BASE:-localhost/qmpserver-ci-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
REV=HEAD; KEEP=0; SHELL_AFTER=0; PREINSTALL=""
PYTEST_ARGS=()

while [ $# -gt 0 ]; do
    case "$1" in
        --rev) REV="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --shell) SHELL_AFTER=1; shift ;;
        --preinstall) PREINSTALL="$2"; shift 2 ;;
        --) shift; PYTEST_ARGS=("$@"); break ;;
        -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
        *) echo "ci-in-container.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

say() { echo "ci-in-container: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "must run as root (CI runs as root; podman needs it for --privileged)"; exit 1; }
command -v podman >/dev/null || { say "podman is needed (apt-get install podman runc)"; exit 1; }
[ -d "$SHARED" ] || { say "$SHARED is missing (../shared beside the checkout)"; exit 1; }
COMMIT="$(git -C "$ROOT" rev-parse --verify "$REV^{commit}")"

# podman here: runc, and no raising of rlimits (see docker/build-image.sh)
ENG=(podman --runtime "${PODMAN_RUNTIME:-runc}")
CONF_DIR="$(mktemp -d)"
WORK="$(mktemp -d /var/tmp/qmpserver-ci.XXXXXX)"
chmod 0755 "$WORK"      # libvirt runs the launcher (and the venv's python) as libvirt-qemu
cleanup() {
    rm -rf "$CONF_DIR"
    if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
if [ -z "${CONTAINERS_CONF:-}" ] && ! grep -qs '^[[:space:]]*default_ulimits[[:space:]]*=[[:space:]]*\[\]' \
        /etc/containers/containers.conf; then
    printf '[containers]\ndefault_ulimits = []\n' > "$CONF_DIR/containers.conf"
    export CONTAINERS_CONF="$CONF_DIR/containers.conf"
fi

# --- 1. base image ------------------------------------------------------------------------
if ! "${ENG[@]}" image inspect "$BASE" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || { say "debootstrap is needed (apt-get install debootstrap)"; exit 1; }
    ROOTFS="$WORK/rootfs"
    say "debootstrap bookworm (minbase + ca-certificates, git, python3) into $ROOTFS"
    debootstrap --variant=minbase --include=ca-certificates,git,python3 bookworm "$ROOTFS" "$MIRROR" >&2
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
    say "importing $BASE"
    tar -C "$ROOTFS" -c . | "${ENG[@]}" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$BASE" >&2
    rm -rf "$ROOTFS"
fi

# --- 2. a fresh clone ---------------------------------------------------------------------
git clone --quiet --no-hardlinks --no-checkout "$ROOT" "$WORK/main"
git -C "$WORK/main" checkout --quiet -B main "$COMMIT"
mkdir -p "$WORK/containers"
say "clone of $(git -C "$WORK/main" log -1 --format='%h %s' | cut -c1-80)"

# --- 3. .ci/run inside ----------------------------------------------------------------------
RUN=("${ENG[@]}" run --rm --privileged --network host --hostname qmpserver-ci
     -v "$WORK:/ci" -v "$SHARED:/ci/shared:ro" -v "$WORK/containers:/var/lib/containers"
     -e CI=true -e TERM=dumb -w /ci/main)
for var in SSL_CERT_FILE SSL_CERT_DIR PIP_CERT REQUESTS_CA_BUNDLE CURL_CA_BUNDLE GIT_SSL_CAINFO \
           http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    if [ -n "${!var:-}" ]; then RUN+=(-e "$var=${!var}"); fi
done
PREP=true
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    RUN+=(-v /usr/local/share/ca-certificates:/ci/extra-ca:ro)
    PREP='mkdir -p /usr/local/share/ca-certificates && cp /ci/extra-ca/*.crt /usr/local/share/ca-certificates/ && cat /ci/extra-ca/*.crt >> /etc/ssl/certs/ca-certificates.crt'
fi
if [ -n "$PREINSTALL" ]; then
    case "$PREINSTALL" in *[!a-z0-9.+\ -]*) say "--preinstall: Debian package names only"; exit 2 ;; esac
    PREP="$PREP && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PREINSTALL >/dev/null"
fi
INNER="$PREP"' && bash .ci/run "$@" </dev/null; rc=$?; echo "ci-in-container: .ci/run exited $rc" >&2; exit $rc'
if [ "$SHELL_AFTER" = 1 ]; then
    INNER="$PREP"' && bash .ci/run "$@" </dev/null; echo ".ci/run exited $?"; exec bash'
    RUN+=(-it)
fi
start=$(date +%s)
set +e
"${RUN[@]}" "$BASE" bash -c "$INNER" ci "${PYTEST_ARGS[@]}"
rc=$?
set -e
say "wall time $(( $(date +%s) - start )) s, exit status $rc"
exit $rc
