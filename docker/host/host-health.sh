#!/bin/sh
# Health of a simulated host: libvirtd answers, the launcher loads its profile (-version goes
# through the compiled profile), and the HTTP API answers /healthz.
set -eu
virsh -c qemu:///system uri >/dev/null
emu=$(cat /run/qmpserver-host.emulator)
"$emu" -version >/dev/null
exec /opt/qmpserver/bin/python -c 'import sys, urllib.request; sys.exit(0 if urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=2).status == 200 else 1)'
