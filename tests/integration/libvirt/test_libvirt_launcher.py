"""The launcher under a real libvirtd: probing, domain lifecycle, mte-version.

Issue 6's Verify list:

* ``virsh domcapabilities --emulatorbin <launcher> --arch aarch64 --machine virt
  --virttype qemu`` succeeds for every built-in aarch64 profile and reports the
  profile's CPU models, ``maximum`` mode and GIC enum (and under ``--virttype
  kvm`` for the KVM profiles); on the profile captured from Debian's own binary
  the XML equals what libvirt reports for that binary, ``<path>`` aside;
* the probe conversation (libvirtd's ``qemu.qemu_monitor`` debug log) holds
  no error real QEMU would not return;
* a domain with ``<emulator>`` = launcher: define, start, suspend, resume,
  ``qemu-monitor-command`` (``query-mte-capabilities``), shutdown (the guest's
  path), destroy;
* ``-machine mte-version=N`` through ``<qemu:commandline>``: a start the
  profile cannot satisfy fails with qmpserver's message; one it can shows N
  through ``qom-get``.
"""

from __future__ import annotations

import os
import time

import libvirt_testutil as lt
import pytest

from tests.support.oracle_env import require_recorded_packages

pytestmark = [pytest.mark.libvirt, pytest.mark.timeout(600)]


def _aarch64_profiles():
    from qmpserver.profiles.loader import list_names, load_profile, search_roots

    out = []
    for name, _path, builtin in list_names("profile", search_roots()):
        if not builtin:
            continue
        try:
            p = load_profile(name)
        except Exception:  # a broken built-in fails its own tests, not these
            continue
        if p.build.target == "aarch64":
            out.append(
                (
                    name,
                    "kvm" in p.build.accelerators
                    and p.host.kvm_present
                    and p.host.arch_can_run_kvm("aarch64"),
                )
            )
    return out


PROFILES = _aarch64_profiles()
DEBIAN = "debian-7.2-tcg"


def _expected(launcher, accel):
    """What the profile itself says under ``accel``: CPU models and GIC versions."""
    args = ["-S", "-nodefaults", "-display", "none", "-machine", "none", "-accel", accel]
    defs, gic = lt.qmp_query(
        launcher, args, [{"execute": "query-cpu-definitions"}, {"execute": "query-gic-capabilities"}]
    )
    models = sorted(d["name"] for d in defs.get("return", []) if d["name"] != "host")
    key = "kernel" if accel == "kvm" else "emulated"
    versions = sorted(str(g["version"]) for g in gic.get("return", []) if g.get(key))
    return models, versions


@pytest.mark.parametrize("profile,kvm", PROFILES, ids=[p for p, _ in PROFILES])
def test_domcapabilities_for_each_builtin_profile(launchers, profile, kvm):
    exe = launchers(profile)
    virttypes = ["qemu"] + (["kvm"] if kvm else [])
    for vt in virttypes:
        p = lt.domcaps(exe, virttype=vt)
        assert p.returncode == 0, p.stderr
        got = lt.domcaps_summary(p.stdout)
        models, versions = _expected(exe, "tcg" if vt == "qemu" else "kvm")
        assert got["maximum"] is True
        assert got["custom_models"] == models
        assert got["gic_supported"] == "yes"
        assert got["gic_versions"] == versions
        assert got["machine"].startswith("virt-")


def test_domcapabilities_equal_to_the_real_binary(launchers):
    if not os.access(lt.REAL_QEMU, os.X_OK):
        if lt.require_peers():
            pytest.fail("%s is required" % lt.REAL_QEMU)
        pytest.skip("Debian's qemu-system-aarch64 is not installed")
    exe = launchers(DEBIAN)
    real = lt.domcaps(lt.REAL_QEMU)
    mock = lt.domcaps(exe)
    assert real.returncode == 0, real.stderr
    assert mock.returncode == 0, mock.stderr
    assert mock.stdout.replace("<path>%s</path>" % exe, "<path>%s</path>" % lt.REAL_QEMU) == real.stdout


# errors real QEMU returns while probed (any build): absent devices/types and
# expansions of 'host' it cannot do or props it does not know
_ALLOWED = {
    ("device-list-properties", "DeviceNotFound"),
    ("qom-list-properties", "DeviceNotFound"),
    ("query-cpu-model-expansion", "GenericError"),
}


def _probe(exe):
    lt.invalidate_caps(exe)  # a new ctime: libvirt re-probes
    with lt.exclusive(), lt.monitor_log(exe) as pairs:
        p = lt.domcaps(exe)
        assert p.returncode == 0, p.stderr
        got = pairs()
    return [(c, r) for _mon, c, r in got]


@pytest.mark.parametrize("profile", [p for p, _ in PROFILES])
def test_probe_conversation_has_no_unexpected_error(launchers, profile):
    conv = _probe(launchers(profile))
    assert any(c.get("execute") == "query-qmp-schema" for c, _ in conv), "no conversation logged"
    bad = [
        (c, r) for c, r in conv if "error" in r and (c.get("execute"), r["error"]["class"]) not in _ALLOWED
    ]
    assert bad == []
    # every question of the probe is answered by a model or the build's recording, never by a
    # type default (docs/qmp.md, "Strict mode": a built-in profile passes the probe strict too)
    from qmpserver.commands.registry import coverage
    from qmpserver.profiles.loader import load_profile

    cov = coverage(load_profile(profile).build)
    invented = sorted(
        {c["execute"] for c, _ in conv if cov.get(c.get("execute")) in ("defaulted", "refused")}
    )
    assert invented == []
    for c, r in conv:
        if "error" in r and c.get("execute") == "query-cpu-model-expansion":
            name = c["arguments"]["model"]["name"]
            assert name == "host" or set(c["arguments"]["model"].get("props", {})) & {"hv-passthrough"}


def test_probe_conversation_equals_real_qemu(launchers):
    """Debian's profile: libvirt's conversation with the launcher is the one it has with QEMU."""
    if not os.access(lt.REAL_QEMU, os.X_OK):
        if lt.require_peers():
            pytest.fail("%s is required" % lt.REAL_QEMU)
        pytest.skip("Debian's qemu-system-aarch64 is not installed")
    require_recorded_packages(what="the Debian 7.2 build behind the launcher")
    mock = _probe(launchers(DEBIAN))
    real = _probe(lt.REAL_QEMU)
    assert [c for c, _ in mock] == [c for c, _ in real]
    assert [r for _, r in mock] == [r for _, r in real]


def _mte_profile():
    """A built-in profile with the MTE proposals (the default one, when present)."""
    from qmpserver.profiles.loader import load_profile

    for name in ("default",) + tuple(p for p, _ in PROFILES):
        try:
            p = load_profile(name)
        except Exception:
            continue
        if p.build.has_proposal("query-mte-capabilities") and p.build.has_proposal("mte-version"):
            return name
    pytest.skip("no built-in profile with the MTE proposals")


def test_domain_lifecycle(launchers):
    profile = _mte_profile()
    exe = launchers(profile)
    name = "qmps-lifecycle-%d" % os.getpid()
    with lt.defined_domain(name, lt.domain_xml(name, exe)):
        p = lt.virsh("start", name)
        assert p.returncode == 0, p.stderr
        assert lt.wait_state(name, "running") == "running"
        assert lt.virsh("suspend", name).returncode == 0
        assert lt.wait_state(name, "paused") == "paused"
        st = lt.monitor_command(name, {"execute": "query-status"})
        assert st["return"]["status"] == "paused"
        assert lt.virsh("resume", name).returncode == 0
        assert lt.wait_state(name, "running") == "running"
        caps = lt.monitor_command(name, {"execute": "query-mte-capabilities"})
        assert "return" in caps, caps
        assert [c["version"] for c in caps["return"]] == [3, 2]
        assert lt.virsh("shutdown", name).returncode == 0  # ACPI: the guest shuts down
        assert lt.wait_state(name, "shut off") == "shut off"
        log = open("/var/log/libvirt/qemu/%s.log" % name, encoding="utf-8", errors="replace").read()
        assert "shutting down, reason=shutdown" in log
        p = lt.virsh("start", name)
        assert p.returncode == 0, p.stderr
        assert lt.wait_state(name, "running") == "running"
        assert lt.virsh("destroy", name).returncode == 0
        assert lt.wait_state(name, "shut off") == "shut off"
        log = open("/var/log/libvirt/qemu/%s.log" % name, encoding="utf-8", errors="replace").read()
        assert "qemu-system-aarch64: terminating on signal 15 from pid" in log


def test_domain_on_debian_profile_has_no_mte_query(launchers):
    """Proposal off: the upstream 7.2 answer, CommandNotFound."""
    exe = launchers(DEBIAN)
    name = "qmps-debian-%d" % os.getpid()
    with lt.defined_domain(name, lt.domain_xml(name, exe, ["-machine", "mte=on"])):
        p = lt.virsh("start", name)
        assert p.returncode == 0, p.stderr
        r = lt.monitor_command(name, {"execute": "query-mte-capabilities"})
        assert r["error"]["class"] == "CommandNotFound"
        r = lt.monitor_command(
            name, {"execute": "qom-get", "arguments": {"path": "/machine", "property": "mte"}}
        )
        assert r["return"] is True


def test_mte_version_refused_shows_qmpserver_message(launchers):
    profile = _mte_profile()
    exe = launchers(profile)
    args = [
        "-S",
        "-nodefaults",
        "-display",
        "none",
        "-machine",
        "virt",
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-machine",
        "mte-version=host",
    ]
    rc, err = lt.launcher_stderr(exe, args)
    assert rc == 1
    message = err.strip().splitlines()[-1].split("qemu-system-aarch64: ", 1)[1]
    name = "qmps-mte-bad-%d" % os.getpid()
    with lt.defined_domain(name, lt.domain_xml(name, exe, ["-machine", "mte-version=host"])):
        p = lt.virsh("start", name)
        assert p.returncode != 0
        assert message in p.stderr


@pytest.mark.parametrize("version", ["2", "3"])
def test_mte_version_accepted_shows_in_qom(launchers, version):
    profile = _mte_profile()
    exe = launchers(profile)
    name = "qmps-mte-%s-%d" % (version, os.getpid())
    with lt.defined_domain(name, lt.domain_xml(name, exe, ["-machine", "mte-version=%s" % version])):
        p = lt.virsh("start", name)
        assert p.returncode == 0, p.stderr
        r = lt.monitor_command(
            name, {"execute": "qom-get", "arguments": {"path": "/machine", "property": "mte-version"}}
        )
        assert r.get("return") == version, r


_HOTPLUG_DOMAIN = """<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>128</memory>
  <vcpu>2</vcpu>
  <os><type arch='aarch64' machine='virt'>hvm</type></os>
  <cpu mode='custom' match='exact'><model fallback='forbid'>max</model></cpu>
  <devices>
    <emulator>%s</emulator>
    <controller type='pci' model='pcie-root'/>
    <controller type='pci' model='pcie-root-port'/>
    <controller type='pci' model='pcie-root-port'/>
    <controller type='pci' model='pcie-root-port'/>
    <interface type='user'><model type='virtio'/></interface>
  </devices>
</domain>
"""


def test_hotplug_rng_and_interface(launchers):
    """virsh attach-device/detach-device: object-add + device_add, device_del ->
    DEVICE_DELETED -> object-del; the NIC from the command line detaches too."""
    exe = launchers(DEBIAN)
    name = "qmps-hotplug-%d" % os.getpid()
    rng = lt.world_dir("qmps-rng")
    path = os.path.join(rng, "rng.xml")
    with open(path, "w") as f:
        f.write("<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n")
    try:
        with lt.defined_domain(name, _HOTPLUG_DOMAIN % (name, exe)):
            p = lt.virsh("start", name)
            assert p.returncode == 0, p.stderr
            cpus = lt.monitor_command(name, {"execute": "query-cpus-fast"})["return"]
            assert [c["cpu-index"] for c in cpus] == [0, 1]
            p = lt.virsh("attach-device", name, path, "--live")
            assert p.returncode == 0, p.stderr
            assert "<rng model='virtio'>" in lt.virsh("dumpxml", name).stdout
            p = lt.virsh("detach-device", name, path, "--live")
            assert p.returncode == 0, p.stderr
            end = time.monotonic() + 10
            while "<rng" in lt.virsh("dumpxml", name).stdout and time.monotonic() < end:
                time.sleep(0.1)
            assert "<rng" not in lt.virsh("dumpxml", name).stdout
            objs = lt.monitor_command(name, {"execute": "qom-list", "arguments": {"path": "/objects"}})
            assert not any(o["name"].startswith("objrng") for o in objs["return"])
            assert "user" in lt.virsh("domiflist", name).stdout
            p = lt.virsh("detach-interface", name, "user", "--live")
            assert p.returncode == 0, p.stderr
            end = time.monotonic() + 10
            while "user" in lt.virsh("domiflist", name).stdout and time.monotonic() < end:
                time.sleep(0.1)
            assert "user" not in lt.virsh("domiflist", name).stdout
    finally:
        import shutil

        shutil.rmtree(rng, ignore_errors=True)


def _kvm_profiles():
    """(a KVM profile without MTE in KVM, a KVM profile whose host has MTE3), with the proposals."""
    from qmpserver.profiles.loader import load_profile

    no_mte = mte3 = None
    for name, kvm in PROFILES:
        if not kvm:
            continue
        p = load_profile(name)
        if not p.build.has_proposal("mte-version"):
            continue
        caps = p.host.kvm.get("caps") or {}
        has = bool(caps.get("KVM_CAP_ARM_MTE"))
        if not has and no_mte is None:
            no_mte = name
        if has and mte3 is None:
            try:
                from qmpserver.arch.arm64 import mte as _mte

                level = _mte.host_level(p.host) if hasattr(_mte, "host_level") else None
            except Exception:
                level = None
            if level in (None, 3):
                mte3 = name
    return no_mte, mte3


def test_kvm_domain_mte_version_exactly_or_error(launchers):
    """libvirt runs an aarch64 KVM domain (maximum CPU) on the launcher: the host decides."""
    no_mte, mte3 = _kvm_profiles()
    if no_mte is None or mte3 is None:
        pytest.skip("needs built-in KVM profiles with and without MTE")
    exe = launchers(no_mte)
    args = [
        "-S",
        "-nodefaults",
        "-display",
        "none",
        "-machine",
        "virt",
        "-accel",
        "kvm",
        "-cpu",
        "max",
        "-machine",
        "mte-version=2",
    ]
    rc, err = lt.launcher_stderr(exe, args)
    assert rc == 1
    message = err.strip().splitlines()[-1].split("qemu-system-aarch64: ", 1)[1]
    name = "qmps-kvm-nomte-%d" % os.getpid()
    xml = lt.domain_xml(name, exe, ["-machine", "mte-version=2"], dtype="kvm", cpu=None)
    with lt.defined_domain(name, xml):
        p = lt.virsh("start", name)
        assert p.returncode != 0
        assert message in p.stderr
    exe = launchers(mte3)
    name = "qmps-kvm-mte3-%d" % os.getpid()
    xml = lt.domain_xml(name, exe, ["-machine", "mte-version=3"], dtype="kvm", cpu=None)
    with lt.defined_domain(name, xml):
        p = lt.virsh("start", name)
        assert p.returncode == 0, p.stderr
        assert lt.monitor_command(name, {"execute": "query-kvm"})["return"] == {
            "enabled": True,
            "present": True,
        }
        r = lt.monitor_command(
            name, {"execute": "qom-get", "arguments": {"path": "/machine", "property": "mte-version"}}
        )
        assert r.get("return") == "3", r


def test_launcher_runs_as_qemu_user_with_empty_environment(launchers):
    """What libvirt does: exec as libvirt-qemu with (almost) no environment."""
    user = lt.qemu_user()
    if user is None or os.geteuid() != 0:
        pytest.skip("needs root and the libvirt-qemu user")
    import subprocess

    exe = launchers(DEBIAN)
    d = lt.world_dir("qmps-env")
    os.chown(d, *user)
    sock, pid = os.path.join(d, "qmp.monitor"), os.path.join(d, "qmp.pid")
    uid, gid = user

    def demote():
        os.setgid(gid)
        os.setuid(uid)

    p = subprocess.run(
        [
            exe,
            "-S",
            "-no-user-config",
            "-nodefaults",
            "-nographic",
            "-machine",
            "none,accel=kvm:tcg",
            "-qmp",
            "unix:%s,server=on,wait=off" % sock,
            "-pidfile",
            pid,
            "-daemonize",
        ],
        env={},
        preexec_fn=demote,
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        assert p.returncode == 0, p.stderr
        assert p.stderr == (
            "qemu-system-aarch64: invalid accelerator kvm\nqemu-system-aarch64: falling back to tcg\n"
        )
        assert sorted(os.listdir(d)) == ["qmp.monitor", "qmp.pid"]
        n = int(open(pid).read())
        os.kill(n, 15)
        for _ in range(300):
            if not os.path.exists(sock) and not os.path.exists(pid):
                break
            time.sleep(0.01)
        assert os.listdir(d) == []
    finally:
        import shutil

        shutil.rmtree(d, ignore_errors=True)
