#!/usr/bin/env bash
# Build the qmpserver container image without network access inside the build.
#
#   docker/build-image.sh [--engine podman|docker] [--base IMAGE] [--tag TAG]
#   docker/build-image.sh --host [--from-image QMPSERVER_IMAGE] [--tag TAG]
#
# 1. A base image with python3 + venv: --base IMAGE if given (python:3.11-slim works),
#    else localhost/qmpserver-base:bookworm, made once with
#    `debootstrap --variant=minbase --include=python3,python3-venv bookworm` and
#    `podman import` (about a minute; needs root and a Debian mirror: $DEBIAN_MIRROR).
# 2. A wheelhouse built on the host: the qmpserver wheel from this tree, and its
#    dependencies for the base image's Python version and architecture
#    (pip download --only-binary), so the image build itself never reaches a registry.
# 3. `ENGINE build --format docker` (HEALTHCHECK kept) of docker/Dockerfile.
#
# With podman, containers.conf lacking `default_ulimits = []` (needed where the
# sandbox forbids raising rlimits) is worked around with a private CONTAINERS_CONF,
# and runc is the runtime (PODMAN_RUNTIME to change it). Prints the image name last.
#
# --host builds the "simulated host" image (docker/host/, docs/fleet.md; default tag
# localhost/qmpserver-host:latest): the host base localhost/qmpserver-hostbase:bookworm
# (the base plus Debian's libvirt and catatonit, made once with apt-get: the one step that
# needs a Debian mirror) plus the installed qmpserver copied from QMPSERVER_IMAGE
# (--from-image; built first, as above, when not given).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
ENGINE="${ENGINE:-podman}"
BASE=""
TAG=""
HOST=0
FROM_IMAGE=""
BASE_DEFAULT="localhost/qmpserver-base:bookworm"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PY="${PYTHON:-python3}"

while [ $# -gt 0 ]; do
    case "$1" in
        --engine) ENGINE="$2"; shift 2 ;;
        --base) BASE="$2"; shift 2 ;;
        --tag) TAG="$2"; shift 2 ;;
        --host) HOST=1; shift ;;
        --from-image) FROM_IMAGE="$2"; shift 2 ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "build-image.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

say() { echo "build-image: $*" >&2; }

if [ "$HOST" = 1 ]; then
    HOST_TAG="${TAG:-localhost/qmpserver-host:latest}"
    TAG=""
    if [ -n "$FROM_IMAGE" ]; then
        [ -n "$BASE" ] || BASE="$BASE_DEFAULT"
    else
        FROM_IMAGE="$(bash "$0" --engine "$ENGINE" ${BASE:+--base "$BASE"} --tag localhost/qmpserver:latest | tail -n1)"
        [ -n "$BASE" ] || BASE="$BASE_DEFAULT"
    fi
fi
TAG="${TAG:-${QMPSERVER_IMAGE:-localhost/qmpserver:latest}}"

ENG=("$ENGINE")
if [ "$ENGINE" = podman ]; then
    ENG+=(--runtime "${PODMAN_RUNTIME:-runc}")
    if [ -z "${CONTAINERS_CONF:-}" ] && ! grep -qs '^[[:space:]]*default_ulimits[[:space:]]*=[[:space:]]*\[\]' \
            /etc/containers/containers.conf; then
        CONF_DIR="$(mktemp -d)"
        trap 'rm -rf "$CONF_DIR"' EXIT
        printf '[containers]\ndefault_ulimits = []\n' > "$CONF_DIR/containers.conf"
        export CONTAINERS_CONF="$CONF_DIR/containers.conf"
    fi
fi

image_exists() { "${ENG[@]}" image inspect "$1" >/dev/null 2>&1; }

if [ "$HOST" = 1 ]; then
    image_exists "$FROM_IMAGE" || { say "no image $FROM_IMAGE (build it first, or leave out --from-image)"; exit 1; }
    image_exists "$BASE" || { say "no base image $BASE"; exit 1; }
    HOSTBASE="localhost/qmpserver-hostbase:bookworm"
    if ! image_exists "$HOSTBASE"; then
        say "building $HOSTBASE (apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients catatonit)"
        "${ENG[@]}" build --build-arg "BASE=$BASE" -t "$HOSTBASE" -f "$HERE/host/Dockerfile.hostbase" "$HERE/host" >&2
    fi
    say "building $HOST_TAG from $FROM_IMAGE"
    BUILD=("${ENG[@]}" build --build-arg "QMPSERVER_IMAGE=$FROM_IMAGE" --build-arg "HOSTBASE=$HOSTBASE"
           -t "$HOST_TAG" -f "$HERE/host/Dockerfile")
    if [ "$ENGINE" = podman ]; then
        BUILD+=(--format docker --network none)
    fi
    "${BUILD[@]}" "$HERE/host" >&2
    echo "$HOST_TAG"
    exit 0
fi

# --- 1. base image ------------------------------------------------------------------------
if [ -z "$BASE" ]; then
    BASE="$BASE_DEFAULT"
    if ! image_exists "$BASE"; then
        command -v debootstrap >/dev/null || { say "debootstrap is needed (apt-get install debootstrap), or --base IMAGE"; exit 1; }
        ROOTFS="$(mktemp -d)"
        say "debootstrap bookworm (minbase + python3) into $ROOTFS"
        debootstrap --variant=minbase --include=python3,python3-venv bookworm "$ROOTFS" "$MIRROR" >&2
        rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
        say "importing $BASE"
        tar -C "$ROOTFS" -c . | "${ENG[@]}" import - "$BASE" >&2
        rm -rf "$ROOTFS"
    fi
fi

# --- 2. wheelhouse ----------------------------------------------------------------------------
CTX="$(mktemp -d)"
cleanup_ctx() { rm -rf "$CTX"; [ -n "${CONF_DIR:-}" ] && rm -rf "$CONF_DIR"; return 0; }
trap cleanup_ctx EXIT
mkdir -p "$CTX/wheelhouse"
cp "$HERE/Dockerfile" "$HERE/entrypoint.sh" "$CTX/"

read -r PYVER ARCH < <("${ENG[@]}" run --rm --network none "$BASE" python3 -c \
    'import platform, sys; print("%d.%d" % sys.version_info[:2], platform.machine())')
say "base $BASE: Python $PYVER on $ARCH"

say "building the qmpserver wheel"
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation -w "$CTX/wheelhouse" "$ROOT" >&2 2>/dev/null \
    || "$PY" -m pip wheel --quiet --no-deps -w "$CTX/wheelhouse" "$ROOT" >&2

# the dependencies of qmpserver[http] (+ jsonschema, used to validate profile files)
DEPS=()
while IFS= read -r req; do DEPS+=("$req"); done < <("$PY" - "$CTX/wheelhouse" <<'PYEOF'
import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/qmpserver-*.whl")[0]
with zipfile.ZipFile(whl) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    text = z.read(meta).decode()
reqs = []
for line in text.splitlines():
    if line.startswith("Requires-Dist:"):
        req = line.split(":", 1)[1].strip()
        name, _, marker = req.partition(";")
        marker = marker.strip()
        if not marker or marker.replace('"', "'") in ("extra == 'http'",):
            reqs.append(name.strip())
reqs.append("jsonschema>=4.20")
print("\n".join(dict.fromkeys(reqs)))
PYEOF
)
say "downloading wheels for: ${DEPS[*]}"
PLAT=()
case "$ARCH" in
    x86_64) PLAT=(--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64) ;;
    aarch64) PLAT=(--platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 --platform manylinux_2_28_aarch64) ;;
    *) say "unsupported architecture $ARCH"; exit 1 ;;
esac
"$PY" -m pip download --quiet --disable-pip-version-check --only-binary=:all: --implementation cp \
    --python-version "$PYVER" "${PLAT[@]}" -d "$CTX/wheelhouse" "${DEPS[@]}" >&2

# --- 3. image ---------------------------------------------------------------------------------
say "building $TAG"
BUILD=("${ENG[@]}" build --build-arg "BASE=$BASE" -t "$TAG" -f "$CTX/Dockerfile")
if [ "$ENGINE" = podman ]; then
    BUILD+=(--format docker --network none)
fi
"${BUILD[@]}" "$CTX" >&2
echo "$TAG"
