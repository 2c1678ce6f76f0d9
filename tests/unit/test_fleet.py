"""The fleet file, the compose/Kubernetes manifests written from it, and plan -> domain XML."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest

from qmpserver.errors import UsageError
from qmpserver.fleet import compose, domain_xml, kube, parse_fleet

FLEET = {
    "name": "lab",
    "image": "localhost/qmpserver-host:latest",
    "ports": {"libvirt": 16600, "http": 18600},
    "hosts": [
        {"name": "a", "profile": "debian-7.2-tcg"},
        {"name": "e", "profile": "qemu-11.1-tcg", "count": 2},
    ],
}


def test_counts_expand_and_ports_follow_the_order():
    f = parse_fleet(FLEET)
    assert [(h.name, h.profile, h.index) for h in f.hosts] == [
        ("a", "debian-7.2-tcg", 0),
        ("e-1", "qemu-11.1-tcg", 1),
        ("e-2", "qemu-11.1-tcg", 2),
    ]
    assert f.libvirt_uri(f.hosts[2]) == "qemu+tcp://127.0.0.1:16602/system"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"hosts": []}, "fleet.yaml: hosts: expected a non-empty list"),
        ({"hosts": [{"name": "A_", "profile": "x"}]}, "fleet.yaml: hosts[0].name: expected a DNS label"),
        ({"hosts": [{"name": "a", "profile": "x", "cpus": 2}]}, "fleet.yaml: hosts[0].cpus: unknown field"),
        (
            {"hosts": [{"name": "a", "profile": "x", "count": 0}]},
            "fleet.yaml: hosts[0].count: expected an integer",
        ),
        (
            {"hosts": [{"name": "a", "profile": "x"}, {"name": "a", "profile": "y"}]},
            "hosts[1].name: host name 'a'",
        ),
        ({"ports": {"libvirt": 80}}, "fleet.yaml: ports.libvirt: expected a port number"),
        ({"nodes": 1}, "fleet.yaml: nodes: unknown field"),
    ],
)
def test_bad_fleet_files_name_the_field(change, message):
    with pytest.raises(UsageError) as e:
        parse_fleet(dict(FLEET, **change), "fleet.yaml")
    assert message in str(e.value)


def test_compose_one_service_per_host_on_loopback_ports():
    c = compose(parse_fleet(FLEET))
    assert list(c["services"]) == ["a", "e-1", "e-2"]
    s = c["services"]["e-2"]
    assert s["hostname"] == "e-2"
    assert s["environment"]["QMPSERVER_PROFILE"] == "qemu-11.1-tcg"
    assert s["ports"] == ["127.0.0.1:16602:16509", "127.0.0.1:18602:8080"]
    assert s["healthcheck"]["test"] == ["CMD", "/usr/local/bin/qmpserver-host-health"]


def test_kube_deployments_headless_services_secret_and_policy():
    docs = kube(parse_fleet(FLEET), token="t0ken-123")
    kinds = [d["kind"] for d in docs]
    assert kinds == ["Secret"] + ["Deployment", "Service"] * 3 + ["NetworkPolicy"]
    assert base64.b64decode(docs[0]["data"]["token"]) == b"t0ken-123"
    dep, svc = docs[1], docs[2]
    assert dep["spec"]["template"]["spec"]["hostname"] == svc["metadata"]["name"] == "a"
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    pol = docs[-1]["spec"]
    assert pol["ingress"][0]["from"] == [{"podSelector": {}}]
    assert {"protocol": "TCP", "port": 49152, "endPort": 49215} in pol["ingress"][0]["ports"]
    podman = kube(parse_fleet(FLEET), token="t0ken-123", podman=True)
    assert "Secret" not in [d["kind"] for d in podman]
    ports = podman[0]["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports[0]["hostPort"] == 16600 and ports[0]["hostIP"] == "127.0.0.1"


def test_domain_xml_for_a_plan_configuration():
    cfg = {
        "machine": {"type": "virt-11.1", "gic-version": "3", "mte-version": "none"},
        "accel": "kvm",
        "cpu": "host,sve=off",
    }
    root = ET.fromstring(domain_xml("g", cfg))
    assert root.get("type") == "kvm"
    assert root.find("os/type").get("machine") == "virt-11.1"
    assert root.find("features/gic").get("version") == "3"
    assert root.find("cpu").get("mode") == "maximum"
    assert root.find("cpu/feature").attrib == {"policy": "disable", "name": "sve"}
    ns = "{http://libvirt.org/schemas/domain/qemu/1.0}"
    assert [a.get("value") for a in root.iter(ns + "arg")] == ["-machine", "mte-version=none"]
    tcg = ET.fromstring(
        domain_xml("t", {"machine": {"type": "virt-7.2"}, "accel": "tcg", "cpu": "cortex-a57"})
    )
    assert tcg.get("type") == "qemu" and tcg.find("cpu/model").text == "cortex-a57"
    with pytest.raises(UsageError):
        domain_xml("x", {"machine": {"type": "virt"}, "accel": "kvm", "cpu": "host,SYSREG_X=1"})
