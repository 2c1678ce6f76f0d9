#!/bin/sh
# A simulated host (run under catatonit as PID 1): real libvirtd + virtlogd whose
# qemu-system-<target> is the qmpserver launcher on one profile, and `qmpserver serve` for
# the HTTP API. Configuration, all from the environment:
#
#   QMPSERVER_PROFILE       profile name or file (a mounted YAML); required
#   QMPSERVER_HOST_UUID     libvirt's host UUID (default: a random one per start; libvirt
#                           refuses to migrate between two hosts with the same UUID)
#   QMPSERVER_HTTP_TOKEN    bearer token of the HTTP API (default: generated, printed once)
#   QMPSERVER_LIBVIRT_TCP   0 turns the qemu+tcp listener off (default 1: port 16509,
#                           auth_tcp = "none": for private test networks only)
#
# SIGTERM (catatonit forwards it here): the domains' launchers get SIGTERM (they send
# SHUTDOWN and exit, as QEMU does), then libvirtd, `qmpserver serve` and virtlogd; exit 0.
set -eu

say() { echo "qmpserver-host: $*"; }
PROFILE="${QMPSERVER_PROFILE:?set QMPSERVER_PROFILE to a profile name or file}"

case "${1:-}" in
    profiles|cpu|migration|-h|--help) exec qmpserver "$@" ;;
esac

# --- the launcher as this host's qemu-system-<target> ---------------------------------------
# install-launcher checks the profile (file + field path on error) and compiles it once
if ! out=$(qmpserver install-launcher --profile "$PROFILE" --dir "$QMPSERVER_LAUNCHER_DIR" --force 2>&1); then
    echo "$out" >&2
    say "profile $PROFILE does not load; not starting" >&2
    exit 1
fi
EMULATOR=$(printf '%s\n' "$out" | sed -n 's/^installed \([^ ]*\).*/\1/p' | head -n1)
[ -n "$EMULATOR" ] || { echo "$out" >&2; say "install-launcher did not say where it installed" >&2; exit 1; }
printf '%s\n' "$EMULATOR" > /run/qmpserver-host.emulator

# --- libvirt ----------------------------------------------------------------------------------
UUID="${QMPSERVER_HOST_UUID:-$(cat /proc/sys/kernel/random/uuid)}"
{
    echo 'listen_tls = 0'
    if [ "${QMPSERVER_LIBVIRT_TCP:-1}" = 1 ]; then
        echo 'listen_tcp = 1'
        echo 'tcp_port = "16509"'
        echo 'listen_addr = "0.0.0.0"'
        echo 'auth_tcp = "none"'
    fi
    echo 'auth_unix_rw = "none"'
    echo "host_uuid = \"$UUID\""
    echo 'host_uuid_source = "smbios"'
} > /etc/libvirt/libvirtd.conf
# no mount namespace, cgroups or security labels inside a container; QEMU's stdio to virtlogd
cat > /etc/libvirt/qemu.conf <<CONF
namespaces = [ ]
cgroup_controllers = [ ]
security_driver = "none"
remember_owner = 0
stdio_handler = "logd"
migration_address = "0.0.0.0"
migration_host = "$(hostname)"
CONF
mkdir -p /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu /run/libvirt
# libvirt resolves its own hostname (the migration URI it hands out names it); a runtime
# that does not list it in /etc/hosts gets it added with this container's address
if ! getent hosts "$(hostname)" >/dev/null 2>&1; then
    addr=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("10.255.255.255", 1)); print(s.getsockname()[0])' 2>/dev/null || echo 127.0.1.1)
    echo "$addr $(hostname)" >> /etc/hosts
fi

pids=""
sleeper=""
stop() {
    [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null || true
    say "stopping"
    # the domains' launchers (daemonized: children of PID 1, not of this script)
    doms=""
    for f in /run/libvirt/qemu/*.pid; do
        [ "$f" = /run/libvirt/qemu/driver.pid ] && continue
        [ -s "$f" ] && doms="$doms $(cat "$f")"
    done
    # shellcheck disable=SC2086
    [ -z "$doms" ] || kill -TERM $doms 2>/dev/null || true
    i=0
    for d in $doms; do
        while kill -0 "$d" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    done
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    wait 2>/dev/null || true
    say "stopped"
    exit 0
}
trap stop TERM INT

virtlogd &
pids="$pids $!"
if [ "${QMPSERVER_LIBVIRT_TCP:-1}" = 1 ]; then
    libvirtd --listen &
else
    libvirtd &
fi
pids="$pids $!"

if [ -z "${QMPSERVER_HTTP_TOKEN:-}" ]; then
    QMPSERVER_HTTP_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    export QMPSERVER_HTTP_TOKEN
    say "generated HTTP bearer token: ${QMPSERVER_HTTP_TOKEN} (set QMPSERVER_HTTP_TOKEN to choose one)"
fi
# the API's own instance is a paused probe of the profile (not a libvirt domain)
mkdir -p /run/qmpserver
qmpserver serve --profile "$PROFILE" --name api-probe -S --qmp unix:/run/qmpserver/api-probe.sock \
    --http 0.0.0.0:8080 --keep-running --log-level warning &
pids="$pids $!"

i=0
until virsh -c qemu:///system uri >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -ge 300 ]; then say "libvirtd does not answer" >&2; stop; fi
    sleep 0.1
done
say "ready: $(hostname) uuid $UUID profile $PROFILE emulator $EMULATOR"
# a signal interrupts the wait (the trap runs); a daemon that exits stops the host
while :; do
    sleep 2 &
    sleeper=$!
    wait "$sleeper" || true
    for p in $pids; do
        if ! kill -0 "$p" 2>/dev/null; then say "a daemon (pid $p) exited; stopping" >&2; stop; fi
    done
done
