"""Simulated hosts as containers: real libvirt 9.0 on each, real ``virsh migrate --live`` between.

One set of hosts for the module (started together, about 1.5 s each to healthy):

* ``a`` debian-7.2-tcg, ``b`` x86-64-host-debian-7.2, ``e`` qemu-11.1-tcg: a guest defined on
  ``a`` with the configuration ``qmpserver migration plan`` found moves a -> b -> e
  (QEMU 7.2 -> 7.2 -> 11.1); on each running destination ``qom-get`` shows the source's
  machine type and vCPU (MIDR, properties);
* ``m3`` cix-p1-a720-mte3-6.12 and ``m2`` ampereone-a-mte-6.18 (KVM): a guest with
  ``mte-version=3`` cannot move to the MTE2 host, and virsh's error carries the reason the
  destination's launcher printed;
* ``g48`` graviton4-v2-6.8 and ``g412`` graviton4-v2-6.12 (QEMU 11.1, KVM): the planner proves
  the pair migratable, but libvirt 9.0's ``migrate`` carries ``detach``, which QEMU 11.0
  removed: the migration fails with QEMU's own error and the guest keeps running on the source.

KVM hosts need ``/dev/kvm`` on this machine (libvirt refuses ``type='kvm'`` without it; the
launcher never opens it): those tests skip without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from qmpserver.fleet import domain_xml

CPU = "/machine/unattached/device[0]"
KVM = os.path.exists("/dev/kvm")


@pytest.fixture(scope="module")
def hosts(podman, host_image):
    from qmpserver.testing.hosts import SimulatedHosts

    fleet = SimulatedHosts(host_image, engine=podman.base, env=podman.env)
    profiles = {
        "a": "debian-7.2-tcg",
        "b": "x86-64-host-debian-7.2",
        "e": "qemu-11.1-tcg",
    }
    if KVM:
        profiles.update(
            {
                "m3": "cix-p1-a720-mte3-6.12",
                "m2": "ampereone-a-mte-6.18",
                "g48": "graviton4-v2-6.8",
                "g412": "graviton4-v2-6.12",
            }
        )
    try:
        started = fleet.start(*profiles.values(), names=list(profiles))
        yield fleet, {h.name: h for h in started}
    finally:
        fleet.close()
        left = podman("ps", "-a", "--filter", "name=" + fleet.prefix, "--format", "{{.Names}}").stdout.split()
        assert not left, "containers left behind: %s" % left
        nets = podman("network", "ls", "--format", "{{.Name}}").stdout.split()
        assert fleet.prefix + "-net" not in nets


def plan(a: str, b: str) -> dict:
    from qmpserver.planner import plan as run_plan
    from qmpserver.profiles.loader import load_profile

    return run_plan(load_profile(a), load_profile(b))


def define_and_start(host, name, configuration, tmp_path):
    xml = tmp_path / ("%s.xml" % name)
    xml.write_text(domain_xml(name, configuration))
    host.virsh("define", str(xml), check=True)
    host.virsh("start", name, check=True)


def abi(host, name) -> dict:
    """What the running domain's QEMU says about the guest ABI."""

    def get(path, prop):
        return host.monitor(name, {"execute": "qom-get", "arguments": {"path": path, "property": prop}})[
            "return"
        ]

    return {
        "machine": get("/machine", "type"),
        "midr": get(CPU, "midr"),
        "aarch64": get(CPU, "aarch64"),
        "pmu": get(CPU, "pmu"),
        "cpu-type": get(CPU, "type"),
    }


def state(host, name) -> str:
    p = host.virsh("domstate", name)
    return p.stdout.strip() if p.returncode == 0 else "absent"


def test_hosts_are_healthy_with_their_own_identity(hosts):
    _fleet, h = hosts
    uuids = set()
    for host in h.values():
        assert host.healthy()
        assert host.virsh("hostname", check=True).stdout.strip() == host.name
        caps = host.virsh("capabilities", check=True).stdout
        uuids.add(caps.split("<uuid>", 1)[1].split("</uuid>", 1)[0])
        # the emulator libvirt runs is the launcher on this host's profile
        emu = host.exec("cat", "/run/qmpserver-host.emulator", check=True).stdout.strip()
        version = host.exec(emu, "-version", check=True).stdout
        assert version.startswith("QEMU emulator version")
    # libvirt refuses to migrate between hosts with one UUID: each host has its own
    assert len(uuids) == len(h)


def test_planned_migration_a_b_e_with_real_libvirt(hosts, tmp_path):
    _fleet, h = hosts
    a, b, e = h["a"], h["b"], h["e"]
    ab, be = plan(a.profile, b.profile), plan(b.profile, e.profile)
    assert ab["migratable"] and be["migratable"], (ab["blockers"], be["blockers"])
    # one configuration for the whole chain: the planner picks the same one for both hops here
    assert ab["configuration"]["qemu-args"] == be["configuration"]["qemu-args"]
    define_and_start(a, "chain", ab["configuration"], tmp_path)
    source_abi = abi(a, "chain")
    assert source_abi["machine"] == "%s-machine" % ab["configuration"]["machine"]["type"]
    for src, dst in ((a, b), (b, e)):
        p = src.virsh("migrate", "--live", "chain", dst.uri)
        assert p.returncode == 0, p.stderr
        assert state(dst, "chain") == "running"
        assert state(src, "chain") in ("shut off", "absent")
        assert abi(dst, "chain") == source_abi
        assert dst.monitor("chain", {"execute": "query-status"})["return"]["status"] == "running"
    # the last host really is QEMU 11.1, running the 7.2 guest ABI it took over
    assert e.monitor("chain", {"execute": "query-version"})["return"]["qemu"]["major"] == 11
    e.virsh("destroy", "chain")


def launcher_refusal(profile, args) -> str:
    """The last stderr line the launcher prints for ``args`` on ``profile`` (run here)."""
    exe = os.path.join(os.path.dirname(sys.executable), "qmpserver-qemu")
    p = subprocess.run(
        [exe, "--profile", profile, "-S", "-nodefaults", "-display", "none", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 1, p.stderr
    return p.stderr.strip().splitlines()[-1].split("qemu-system-aarch64: ", 1)[1]


def test_mte3_guest_refused_by_mte2_host_with_its_reason(hosts, tmp_path):
    if not KVM:
        pytest.skip("/dev/kvm is absent: libvirt refuses type='kvm' domains")
    _fleet, h = hosts
    m3, m2 = h["m3"], h["m2"]
    p = plan(m3.profile, m2.profile)
    assert not p["migratable"]
    config = {
        "machine": {"type": "virt-11.1", "gic-version": "3", "mte-version": "3"},
        "accel": "kvm",
        "cpu": "host",
    }
    define_and_start(m3, "mte3", config, tmp_path)
    assert (
        m3.monitor(
            "mte3", {"execute": "qom-get", "arguments": {"path": "/machine", "property": "mte-version"}}
        )["return"]
        == "3"
    )
    reason = launcher_refusal(
        m2.profile, ["-machine", "virt-11.1,gic-version=3,mte-version=3", "-accel", "kvm", "-cpu", "max"]
    )
    assert "MTE" in reason
    r = m3.virsh("migrate", "--live", "mte3", m2.uri)
    assert r.returncode != 0
    # libvirt 9.0 words it after when it noticed the exit: before its monitor connected
    # (qemuProcessReportLogError) or after (qemuMonitorIO); both carry QEMU's log
    assert (
        "process exited while connecting to monitor: " in r.stderr
        or "qemu unexpectedly closed the monitor: " in r.stderr
    ), r.stderr
    assert reason in r.stderr, r.stderr
    # the guest stays where it was
    assert state(m3, "mte3") == "running"
    assert state(m2, "mte3") == "absent"
    m3.virsh("destroy", "mte3")


def test_libvirt_9_cannot_migrate_from_qemu_11_1(hosts, tmp_path):
    """libvirt 9.0 sends ``migrate`` with ``detach: true`` (qemuMonitorJSONMigrate); QEMU
    deprecated the argument in 10.1 and removed it in 11.0 (the 11.1 introspection libvirt
    recorded has no ``detach``; docs/schema.md), so QEMU answers with its generic
    unexpected-parameter error. A true incompatibility of that pair, not of the guests."""
    if not KVM:
        pytest.skip("/dev/kvm is absent: libvirt refuses type='kvm' domains")
    _fleet, h = hosts
    src, dst = h["g48"], h["g412"]
    p = plan(src.profile, dst.profile)
    assert p["migratable"], p["blockers"]
    define_and_start(src, "g4", p["configuration"], tmp_path)
    r = src.virsh("migrate", "--live", "g4", dst.uri)
    assert r.returncode != 0
    assert "unable to execute QEMU command 'migrate': Parameter 'detach' is unexpected" in r.stderr, r.stderr
    assert state(src, "g4") == "running"
    assert state(dst, "g4") == "absent"
    src.virsh("destroy", "g4")


def test_sigterm_stops_host_and_its_domains(podman, host_image, tmp_path):
    from qmpserver.testing.hosts import SimulatedHosts

    with SimulatedHosts(host_image, engine=podman.base, env=podman.env) as fleet:
        (h,) = fleet.start("debian-7.2-tcg", names=["solo"])
        define_and_start(h, "g", {"machine": {"type": "virt"}, "accel": "tcg", "cpu": "cortex-a57"}, tmp_path)
        pid = h.exec("cat", "/run/libvirt/qemu/g.pid", check=True).stdout.strip()
        hc = podman("healthcheck", "run", h.container, check=False)
        assert hc.returncode == 0, hc.stdout + hc.stderr
        import time

        t0 = time.monotonic()
        code = fleet.stop(h)
        assert code == 0
        assert time.monotonic() - t0 < 5
        logs = podman("logs", h.container).stdout
        assert "qmpserver-host: stopped" in logs
        # the domain's launcher got SIGTERM and exited through its handler, which removes its
        # pidfile (QEMU's -daemonize sent its stderr to /dev/null, so the log has no message)
        run_dir = tmp_path / "run"
        podman("cp", h.container + ":/run/libvirt/qemu", str(run_dir))
        assert os.path.isdir(run_dir)
        assert not os.path.exists(run_dir / "g.pid"), os.listdir(run_dir)
        assert pid.isdigit()
        info = json.loads(podman("inspect", h.container).stdout)[0]
        assert info["State"]["Status"] == "exited"


def test_podman_kube_play_of_generated_manifests(podman, host_image, tmp_path):
    """`qmpserver fleet kube --podman` -> `podman kube play` starts the fleet, every host
    gets healthy, `qmpserver fleet status` sees each one, `kube down` leaves no container,
    pod or volume behind."""
    import secrets
    import shutil as _shutil
    import time

    from container_testutil import free_port_range, need

    need(_shutil.which("catatonit"), "podman kube play needs catatonit for its infra containers")
    name = "kp" + secrets.token_hex(3)
    lp, hp = free_port_range(2), free_port_range(2)
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(
        "name: %s\nimage: %s\nports: {libvirt: %d, http: %d}\nhosts:\n"
        "  - {name: %s-a, profile: debian-7.2-tcg}\n  - {name: %s-b, profile: qemu-11.1-tcg}\n"
        % (name, host_image, lp, hp, name, name)
    )
    qmpserver = os.path.join(os.path.dirname(sys.executable), "qmpserver")
    token = secrets.token_hex(12)
    manifests = tmp_path / "kube.yaml"
    subprocess.run(
        [qmpserver, "fleet", "kube", "--podman", "--token", token, str(fleet_file), "-o", str(manifests)],
        check=True,
    )
    volumes_before = set(podman("volume", "ls", "-q").stdout.split())
    try:
        podman("kube", "play", str(manifests))
        for c in ("%s-a-pod-0-host" % name, "%s-b-pod-0-host" % name):
            deadline = time.monotonic() + 60
            # the readinessProbe's command (podman 4.3 keeps no HEALTHCHECK for kube play)
            while podman("exec", c, "/usr/local/bin/qmpserver-host-health", check=False).returncode != 0:
                assert time.monotonic() < deadline, podman("logs", c, check=False).stdout[-2000:]
                time.sleep(0.3)
        st = subprocess.run(
            [qmpserver, "fleet", "status", "--json", str(fleet_file)],
            capture_output=True,
            text=True,
            env=dict(os.environ, QMPSERVER_HTTP_TOKEN=token),
        )
        assert st.returncode == 0, st.stdout + st.stderr
        rows = json.loads(st.stdout)
        assert [(r["host"], r["hostname"], r["domains"]) for r in rows] == [
            ("%s-a" % name, "%s-a" % name, []),
            ("%s-b" % name, "%s-b" % name, []),
        ]
        assert [r["api-profile"] for r in rows] == ["debian-7.2-tcg", "qemu-11.1-tcg"]
    finally:
        podman("kube", "down", str(manifests), check=False)
    left = podman("ps", "-a", "--filter", "name=" + name, "--format", "{{.Names}}").stdout.split()
    assert not left
    assert not podman("pod", "ps", "--filter", "name=" + name, "-q").stdout.split()
    assert set(podman("volume", "ls", "-q").stdout.split()) <= volumes_before
