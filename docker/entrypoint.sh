#!/bin/sh
# qmpserver container entry point: `qmpserver serve ARGS`, as PID 1 (exec), so SIGTERM
# reaches it directly and it exits at once (the instances see SHUTDOWN, sockets are removed).
#
# The HTTP API listens beyond loopback in a container, so it needs a bearer token:
# QMPSERVER_HTTP_TOKEN, or one generated here and printed once.
set -eu
case "${1:-}" in
    profiles|cpu|install-launcher|-h|--help) exec qmpserver "$@" ;;
    serve) shift ;;
esac
# unix sockets of instances go to the socket volume; a host directory bind-mounted there must
# exist and be writable by this UID, else every unix: listener fails with "Permission denied"
SOCKDIR="${QMPSERVER_HTTP_SOCKET_DIR:-/run/qmpserver}"
if [ ! -d "$SOCKDIR" ] || [ ! -w "$SOCKDIR" ]; then
    echo "qmpserver: warning: the socket directory $SOCKDIR is not writable by UID $(id -u) (GID $(id -g)): unix sockets there will fail with 'Permission denied'; on the host, create the directory and make it writable by that UID (chown $(id -u):$(id -g) DIR, or podman run --userns=keep-id / --user \$(id -u):\$(id -g)), or use the TCP port" >&2
fi
if [ -z "${QMPSERVER_HTTP_TOKEN:-}" ]; then
    QMPSERVER_HTTP_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    export QMPSERVER_HTTP_TOKEN
    echo "qmpserver: generated HTTP bearer token: ${QMPSERVER_HTTP_TOKEN} (set QMPSERVER_HTTP_TOKEN to choose one)"
fi
# sockets requested through the API go to the socket volume (docs/containers.md:
# qmp: ["unix:/run/qmpserver/NAME.sock"]); a later --http-socket-dir in ARGS wins
exec qmpserver serve --http-socket-dir "$SOCKDIR" "$@"
