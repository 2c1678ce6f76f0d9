#!/bin/sh
# Prepare a machine without systemd for the real-libvirt tests (tests/integration/libvirt).
#
#   tests/integration/libvirt/setup-libvirt.sh [--install] [--restart]
#
# --install   apt-get install Debian's libvirt 9.0 and QEMU 7.2 (CI machines start empty)
# --restart   stop a libvirtd this script started earlier and start it again
#
# What it does, each step idempotent:
#   * installs python3-yaml when /usr/bin/python3 lacks it (a launcher installed for the
#     libvirt-qemu user may run on the system interpreter; some topic data is YAML read
#     on first use);
#   * creates the `libvirt-qemu` group and user libvirt runs QEMU as (Debian's default);
#   * writes `stdio_handler = "file"` into /etc/libvirt/qemu.conf (there is no virtlogd here);
#   * starts `libvirtd` in the background (no systemd), pid in /run/libvirtd.pid,
#     and waits until `virsh -c qemu:///system` answers.
# Needs root.  Prints what it does; exits non-zero when libvirtd does not come up.
set -eu

install=0; restart=0
for a in "$@"; do
    case "$a" in
        --install) install=1 ;;
        --restart) restart=1 ;;
        *) echo "usage: $0 [--install] [--restart]" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" != 0 ]; then
    echo "setup-libvirt.sh: must run as root" >&2
    exit 1
fi

if [ "$install" = 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq qemu-system-arm libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients \
        python3-yaml >/dev/null
fi

if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import yaml' 2>/dev/null \
        && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml >/dev/null 2>&1 \
        || echo "setup-libvirt.sh: could not install python3-yaml (continuing)" >&2
fi

if ! command -v libvirtd >/dev/null 2>&1 && [ ! -x /usr/sbin/libvirtd ]; then
    echo "setup-libvirt.sh: libvirtd is not installed (use --install)" >&2
    exit 1
fi
LIBVIRTD=$(command -v libvirtd || echo /usr/sbin/libvirtd)

# the QEMU user and group (Debian builds libvirt with -Dqemu_user=libvirt-qemu)
if ! getent group libvirt-qemu >/dev/null; then
    groupadd --system libvirt-qemu
    echo "setup-libvirt.sh: created group libvirt-qemu"
fi
if ! getent passwd libvirt-qemu >/dev/null; then
    useradd --system --gid libvirt-qemu --home-dir /var/lib/libvirt --no-create-home \
        --shell /usr/sbin/nologin libvirt-qemu
    echo "setup-libvirt.sh: created user libvirt-qemu"
fi

# Debian puts libvirt-qemu in group kvm: without /dev/kvm access as the QEMU user, libvirt
# finds its cached capabilities of the native qemu-system-x86_64 stale (KVM usability
# changed) and re-probes that binary on every lookup, `virsh version` included
if [ -c /dev/kvm ] && getent group kvm >/dev/null && ! id -nG libvirt-qemu | grep -qw kvm; then
    usermod -a -G kvm libvirt-qemu
    echo "setup-libvirt.sh: added libvirt-qemu to group kvm"
    restart=1
fi

# qemu.conf: no virtlogd here, so QEMU's stdio goes to files
mkdir -p /etc/libvirt
conf=/etc/libvirt/qemu.conf
touch "$conf"
if grep -Eq '^[[:space:]]*stdio_handler[[:space:]]*=' "$conf"; then
    sed -i -E 's/^[[:space:]]*stdio_handler[[:space:]]*=.*/stdio_handler = "file"/' "$conf"
else
    echo 'stdio_handler = "file"' >> "$conf"
fi

mkdir -p /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu /run/libvirt

pidfile=/run/libvirtd.pid
running() {
    [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}
if [ "$restart" = 1 ] && running; then
    pid=$(cat "$pidfile")
    kill "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
if ! running; then
    # --daemon forks; --pid-file makes it findable without systemd
    "$LIBVIRTD" --daemon --pid-file "$pidfile"
    echo "setup-libvirt.sh: started libvirtd"
fi

i=0
until virsh -c qemu:///system uri >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -ge 100 ]; then
        echo "setup-libvirt.sh: libvirtd does not answer on qemu:///system" >&2
        exit 1
    fi
    sleep 0.1
done
echo "setup-libvirt.sh: libvirtd ready (pid $(cat "$pidfile"))"
