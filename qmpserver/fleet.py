"""A fleet of simulated hosts, described once: hosts, profiles, counts (docs/fleet.md).

A *simulated host* is a container of the host image (``docker/build-image.sh --host``):
real libvirtd 9.0 whose ``qemu-system-<target>`` is the qmpserver launcher on one
profile. A fleet file names them::

    name: lab                         # prefix of container/object names, Kubernetes namespace
    image: localhost/qmpserver-host:latest
    ports: {libvirt: 16600, http: 18600}   # first published host ports (compose; +1 per host)
    hosts:
      - {name: a, profile: debian-7.2-tcg}
      - {name: b, profile: x86-64-host-debian-7.2}
      - {name: e, profile: qemu-11.1-tcg, count: 2}   # e-1, e-2

From it ``qmpserver fleet compose`` writes a compose file, ``qmpserver fleet kube`` the
Kubernetes manifests (one Deployment and one headless Service per host, a Secret with the
HTTP token, a NetworkPolicy keeping libvirt's TCP port and the migration ports inside the
namespace), and ``qmpserver fleet status`` asks every host (libvirt over TCP, the HTTP
API) for its profile and domains.

This module owns the fleet file and the translation of a migration plan's configuration
(``qmpserver migration plan --json``) into the libvirt domain XML that asks for it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import urllib.request
from dataclasses import dataclass
from xml.sax.saxutils import escape

from .errors import UsageError

#: libvirtd's TCP port (libvirtd.conf ``tcp_port``) and the HTTP API's port in a host container
LIBVIRT_PORT = 16509
HTTP_PORT = 8080
#: libvirt's default migration port range (qemu.conf ``migration_port_min``/``max``)
MIGRATION_PORTS = (49152, 49215)
DEFAULT_IMAGE = "localhost/qmpserver-host:latest"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Host:
    """One simulated host of a fleet: its name (= hostname, container, Service) and profile."""

    name: str
    profile: str
    index: int  # position in the fleet: published ports are base + index


@dataclass
class Fleet:
    name: str
    image: str
    hosts: list[Host]
    libvirt_port: int
    http_port: int
    token_env: str = "QMPSERVER_HTTP_TOKEN"

    def libvirt_uri(self, host: Host, address="127.0.0.1") -> str:
        """The qemu+tcp URI of a host's published libvirt port (compose)."""
        return "qemu+tcp://%s:%d/system" % (address, self.libvirt_port + host.index)

    def http_url(self, host: Host, address="127.0.0.1") -> str:
        return "http://%s:%d" % (address, self.http_port + host.index)


def _err(path: str, field: str, expect: str):
    raise UsageError("%s: %s: %s" % (path, field, expect))


def parse_fleet(data, path="<fleet>") -> Fleet:
    """Check a fleet document (file + field path + expectation on error) and expand counts."""
    if not isinstance(data, dict):
        _err(path, "(top)", "expected a mapping with 'hosts'")
    known = {"name", "image", "ports", "hosts"}
    for k in data:
        if k not in known:
            _err(path, str(k), "unknown field (expected one of %s)" % ", ".join(sorted(known)))
    name = data.get("name", "qmpserver-fleet")
    if not isinstance(name, str) or not _NAME.match(name):
        _err(path, "name", "expected a DNS label (lower-case letters, digits, '-'), got %r" % (name,))
    image = data.get("image", DEFAULT_IMAGE)
    if not isinstance(image, str) or not image:
        _err(path, "image", "expected an image reference")
    ports = data.get("ports", {}) or {}
    if not isinstance(ports, dict):
        _err(path, "ports", "expected a mapping {libvirt: PORT, http: PORT}")
    lp, hp = ports.get("libvirt", 16600), ports.get("http", 18600)
    for key, v in (("libvirt", lp), ("http", hp)):
        if not isinstance(v, int) or isinstance(v, bool) or not 1024 <= v <= 65000:
            _err(path, "ports.%s" % key, "expected a port number 1024..65000, got %r" % (v,))
    rows = data.get("hosts")
    if not isinstance(rows, list) or not rows:
        _err(path, "hosts", "expected a non-empty list of {name, profile[, count]}")
    hosts: list[Host] = []
    for i, row in enumerate(rows):
        where = "hosts[%d]" % i
        if not isinstance(row, dict):
            _err(path, where, "expected a mapping {name, profile[, count]}")
        for k in row:
            if k not in ("name", "profile", "count"):
                _err(path, "%s.%s" % (where, k), "unknown field (expected name, profile, count)")
        hname, profile, count = row.get("name"), row.get("profile"), row.get("count", 1)
        if not isinstance(hname, str) or not _NAME.match(hname) or len(hname) > 40:
            _err(path, where + ".name", "expected a DNS label of at most 40 characters, got %r" % (hname,))
        if not isinstance(profile, str) or not profile:
            _err(path, where + ".profile", "expected a profile name")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 200:
            _err(path, where + ".count", "expected an integer 1..200, got %r" % (count,))
        names = [hname] if count == 1 else ["%s-%d" % (hname, n) for n in range(1, count + 1)]
        for n in names:
            if any(h.name == n for h in hosts):
                _err(path, where + ".name", "host name %r is used twice" % n)
            hosts.append(Host(n, profile, len(hosts)))
    return Fleet(name, image, hosts, lp, hp)


def load_fleet(path: str) -> Fleet:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise UsageError("%s: %s" % (path, e.strerror)) from None
    except yaml.YAMLError as e:
        raise UsageError("%s: not YAML: %s" % (path, e)) from None
    return parse_fleet(data, path)


# --- compose ----------------------------------------------------------------------------------


def compose(fleet: Fleet) -> dict:
    """A compose file: one service per host on a private network (service name = hostname, so
    libvirt's migration URI ``tcp://HOST:PORT`` resolves), libvirt and the HTTP API published
    on 127.0.0.1 only."""
    services = {}
    for h in fleet.hosts:
        services[h.name] = {
            "image": fleet.image,
            "hostname": h.name,
            "container_name": "%s-%s" % (fleet.name, h.name),
            "environment": {
                "QMPSERVER_PROFILE": h.profile,
                "QMPSERVER_HTTP_TOKEN": "${%s:?set %s}" % (fleet.token_env, fleet.token_env),
            },
            "ports": [
                "127.0.0.1:%d:%d" % (fleet.libvirt_port + h.index, LIBVIRT_PORT),
                "127.0.0.1:%d:%d" % (fleet.http_port + h.index, HTTP_PORT),
            ],
            "networks": ["fleet"],
            "stop_signal": "SIGTERM",
            "stop_grace_period": "10s",
            "healthcheck": {
                "test": ["CMD", "/usr/local/bin/qmpserver-host-health"],
                "interval": "5s",
                "timeout": "4s",
                "retries": 3,
                "start_period": "30s",
            },
        }
    return {
        "name": fleet.name,
        "services": services,
        # internal: libvirt's TCP port has no authentication; nothing outside the fleet may reach
        # it except through the loopback ports published above
        "networks": {"fleet": {}},
    }


# --- Kubernetes ---------------------------------------------------------------------------------


def kube(fleet: Fleet, token: str | None = None, podman=False) -> list[dict]:
    """Kubernetes manifests (also what ``podman kube play`` runs): a Secret with the HTTP
    token, per host a Deployment (1 replica, ``hostname`` = the host's name) and a headless
    Service of the same name (so ``HOST`` resolves inside the namespace, as libvirt's
    migration URI needs), and a NetworkPolicy admitting libvirt's TCP port, the migration
    ports and the API only from pods of the same namespace.

    ``podman``: for ``podman kube play`` (4.3), which cannot resolve a ``secretKeyRef`` to a
    Secret of the same file (it looks for a podman secret holding JSON): the token is put in
    the environment directly and no Secret is written."""
    labels = {"app.kubernetes.io/part-of": fleet.name}
    secret = "%s-token" % fleet.name
    docs: list[dict] = (
        []
        if podman
        else [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": secret, "labels": labels},
                "type": "Opaque",
                # data (base64), not stringData: podman kube play reads only data
                "data": {"token": base64.b64encode((token or "change-me").encode()).decode()},
            }
        ]
    )
    for h in fleet.hosts:
        sel = dict(labels, **{"qmpserver.fleet/host": h.name})
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": h.name, "labels": sel},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": sel},
                    "template": {
                        "metadata": {"labels": sel},
                        "spec": {
                            "hostname": h.name,
                            "terminationGracePeriodSeconds": 10,
                            "containers": [
                                {
                                    "name": "host",
                                    "image": fleet.image,
                                    "env": [
                                        {"name": "QMPSERVER_PROFILE", "value": h.profile},
                                        {"name": "QMPSERVER_HTTP_TOKEN", "value": token or "change-me"}
                                        if podman
                                        else {
                                            "name": "QMPSERVER_HTTP_TOKEN",
                                            "valueFrom": {"secretKeyRef": {"name": secret, "key": "token"}},
                                        },
                                    ],
                                    "ports": _container_ports(fleet, h, podman),
                                    "readinessProbe": {
                                        "exec": {"command": ["/usr/local/bin/qmpserver-host-health"]},
                                        "periodSeconds": 5,
                                        "timeoutSeconds": 4,
                                    },
                                }
                            ],
                        },
                    },
                },
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": h.name, "labels": labels},
                "spec": {
                    "clusterIP": "None",
                    "selector": sel,
                    "ports": [
                        {"name": "libvirt", "port": LIBVIRT_PORT},
                        {"name": "http", "port": HTTP_PORT},
                    ],
                },
            }
        )
    docs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "%s-libvirt-inside" % fleet.name, "labels": labels},
            "spec": {
                "podSelector": {"matchLabels": labels},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {}}],
                        "ports": [
                            {"protocol": "TCP", "port": LIBVIRT_PORT},
                            {"protocol": "TCP", "port": HTTP_PORT},
                            {"protocol": "TCP", "port": MIGRATION_PORTS[0], "endPort": MIGRATION_PORTS[1]},
                        ],
                    }
                ],
            },
        }
    )
    return docs


def _container_ports(fleet: Fleet, h: Host, podman: bool) -> list[dict]:
    """Kubernetes publishes nothing without a Service; podman kube play publishes every
    containerPort on the machine (the same port for every pod, which collides), so the podman
    flavour names a loopback hostPort per host, as the compose file does."""
    if not podman:
        return [
            {"name": "libvirt", "containerPort": LIBVIRT_PORT},
            {"name": "http", "containerPort": HTTP_PORT},
        ]
    return [
        {
            "name": "libvirt",
            "containerPort": LIBVIRT_PORT,
            "hostIP": "127.0.0.1",
            "hostPort": fleet.libvirt_port + h.index,
        },
        {
            "name": "http",
            "containerPort": HTTP_PORT,
            "hostIP": "127.0.0.1",
            "hostPort": fleet.http_port + h.index,
        },
    ]


# --- libvirt domain XML for a migration plan's configuration -------------------------------------


def domain_xml(
    name: str, configuration: dict, memory_mib=256, emulator: str | None = None, host_passthrough=False
) -> str:
    """libvirt domain XML asking for ``configuration`` (the ``configuration`` object of
    ``qmpserver migration plan --json``): machine type, accelerator, CPU model and features,
    GIC version. A machine property libvirt 9.0 has no element for (``mte-version``) is passed
    with ``<qemu:commandline>`` as ``-machine mte-version=N`` (QEMU merges repeated
    ``-machine`` options).

    ``-cpu host`` becomes ``<cpu mode='maximum'>`` (``-cpu max``) unless ``host_passthrough``:
    libvirt refuses ``host-passthrough`` for an aarch64 KVM guest when the machine libvirtd
    runs on is not aarch64 (``CPU mode 'host-passthrough' for aarch64 kvm domain on x86_64
    host is not supported by hypervisor``), which is the case for a simulated host on an
    x86_64 machine. Under KVM, QEMU's aarch64 ``max`` model is ``host`` (``aarch64_max_initfn``
    calls the host model's init when KVM is on), so the guest gets the same CPU."""
    machine = dict(configuration.get("machine") or {})
    mtype = machine.pop("type", "virt")
    gic = machine.pop("gic-version", None)
    accel = configuration.get("accel", "tcg")
    cpu = configuration.get("cpu", "max")
    model, _, props = cpu.partition(",")
    dtype = "kvm" if accel == "kvm" else "qemu"
    lines = [
        "<domain type='%s' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>" % dtype,
        "  <name>%s</name>" % escape(name),
        "  <memory unit='MiB'>%d</memory>" % memory_mib,
        "  <vcpu>1</vcpu>",
        "  <os><type arch='aarch64' machine='%s'>hvm</type></os>" % escape(mtype),
    ]
    if gic:
        lines.append("  <features><gic version='%s'/></features>" % escape(str(gic)))
    feats = []
    for p in filter(None, props.split(",")):
        k, _, v = p.partition("=")
        if v in ("off", "on"):
            feats.append(
                "<feature policy='%s' name='%s'/>" % ("disable" if v == "off" else "require", escape(k))
            )
        else:
            raise UsageError("CPU property %r has no libvirt <feature> form (only =on/=off)" % p)
    if model == "host" and host_passthrough:
        lines.append("  <cpu mode='host-passthrough' check='none'>%s</cpu>" % "".join(feats))
    elif model in ("host", "max"):
        lines.append("  <cpu mode='maximum' check='none'>%s</cpu>" % "".join(feats))
    else:
        lines.append(
            "  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>%s</model>%s</cpu>"
            % (escape(model), "".join(feats))
        )
    devices = ["<emulator>%s</emulator>" % escape(emulator)] if emulator else []
    lines.append("  <devices>%s</devices>" % "".join(devices))
    extra = ",".join("%s=%s" % (k, v) for k, v in machine.items())
    if extra:
        lines.append(
            "  <qemu:commandline><qemu:arg value='-machine'/><qemu:arg value='%s'/></qemu:commandline>"
            % escape(extra)
        )
    lines.append("</domain>")
    return "\n".join(lines) + "\n"


# --- status ------------------------------------------------------------------------------------------


def _virsh(uri: str, *args, timeout=30):
    return subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=timeout)


def host_status(fleet: Fleet, host: Host, token: str | None, address="127.0.0.1") -> dict:
    """What a host says about itself: libvirt (hostname, domains and their state) over
    qemu+tcp, and the profile its HTTP API serves. Unreachable parts are reported, not guessed."""
    uri = fleet.libvirt_uri(host, address)
    row: dict = {"host": host.name, "profile": host.profile, "libvirt": uri}
    try:
        p = _virsh(uri, "list", "--all")
    except (OSError, subprocess.TimeoutExpired) as e:
        p = None
        row["error"] = "virsh: %s" % e
    if p is not None and p.returncode == 0:
        doms = []
        for line in p.stdout.splitlines()[2:]:
            parts = line.split(None, 2)
            if len(parts) == 3:
                doms.append({"name": parts[1], "state": parts[2].strip()})
        row["domains"] = doms
        h = _virsh(uri, "hostname")
        row["hostname"] = h.stdout.strip() if h.returncode == 0 else None
    elif p is not None:
        row["error"] = (
            (p.stderr or p.stdout).strip().splitlines()[-1]
            if (p.stderr or p.stdout).strip()
            else "virsh failed"
        )
    try:
        req = urllib.request.Request(
            fleet.http_url(host, address) + "/api/v1/instances",
            headers={"Authorization": "Bearer %s" % token} if token else {},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            data = json.loads(r.read())
        items = data.get("instances", data) if isinstance(data, dict) else data
        served = sorted({str(i.get("profile")) for i in items if isinstance(i, dict) and i.get("profile")})
        row["api-profile"] = served[0] if len(served) == 1 else served
    except (OSError, ValueError) as e:
        row["api-error"] = str(e)
    return row


def format_status(rows: list[dict]) -> str:
    out = ["%-14s %-28s %-8s %s" % ("HOST", "PROFILE", "LIBVIRT", "DOMAINS")]
    for r in rows:
        state = "up" if "domains" in r else "DOWN"
        doms = ", ".join("%s (%s)" % (d["name"], d["state"]) for d in r.get("domains", [])) or "-"
        prof = r["profile"]
        if r.get("api-profile") not in (None, prof):
            prof += " (API: %s)" % r.get("api-profile")
        out.append("%-14s %-28s %-8s %s" % (r["host"], prof, state, doms))
        if "error" in r:
            out.append("  libvirt: %s" % r["error"])
        if "api-error" in r:
            out.append("  HTTP API: %s" % r["api-error"])
    return "\n".join(out) + "\n"


def dump_yaml(docs) -> str:
    import yaml

    if isinstance(docs, list):
        return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)
    return yaml.safe_dump(docs, sort_keys=False, default_flow_style=False)


# --- CLI -----------------------------------------------------------------------------------------------


def add_parser(sub):
    p = sub.add_parser("fleet", help="a fleet of simulated hosts (containers): compose, Kubernetes, status")
    fs = p.add_subparsers(dest="fleet_command")
    for name, helptext in (
        ("compose", "write a compose file (podman compose / docker compose) for the fleet"),
        ("kube", "write Kubernetes manifests (kubectl apply, podman kube play) for the fleet"),
        ("status", "show every host, its profile and its domains"),
    ):
        q = fs.add_parser(name, help=helptext)
        q.add_argument("fleet_file", help="fleet YAML (docs/fleet.md)")
        if name != "status":
            q.add_argument("-o", "--output", help="write here instead of stdout")
        else:
            q.add_argument("--json", action="store_true", help="print JSON")
            q.add_argument("--address", default="127.0.0.1", help="where the published ports are")
        if name == "kube":
            q.add_argument("--token", help="HTTP token for the Secret (default: $QMPSERVER_HTTP_TOKEN)")
            q.add_argument(
                "--podman", action="store_true", help="for podman kube play: the token inline, no Secret"
            )
        q.set_defaults(func=cmd_fleet)
    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def cmd_fleet(args) -> int:
    import sys

    fleet = load_fleet(args.fleet_file)
    if args.fleet_command == "status":
        token = os.environ.get(fleet.token_env)
        rows = [host_status(fleet, h, token, args.address) for h in fleet.hosts]
        if args.json:
            json.dump(rows, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(format_status(rows))
        return 0 if all("domains" in r for r in rows) else 1
    if args.fleet_command == "compose":
        text = dump_yaml(compose(fleet))
    else:
        text = dump_yaml(kube(fleet, args.token or os.environ.get(fleet.token_env), args.podman))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
