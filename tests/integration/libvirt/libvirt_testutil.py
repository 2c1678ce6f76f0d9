"""Helpers for the tests that drive a real libvirtd (Debian's 9.0) against the launcher."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
URI = "qemu:///system"
REAL_QEMU = "/usr/bin/qemu-system-aarch64"
SETUP = os.path.join(HERE, "setup-libvirt.sh")
LOCK = "/tmp/qmpserver-libvirt-tests.lock"


def require_peers() -> bool:
    return os.environ.get("QMPSERVER_REQUIRE_REAL_PEERS") == "1"


def virsh(*args, check=False, timeout=120):
    p = subprocess.run(["virsh", "-c", URI] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(
            "virsh %s failed (%d): %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr)
        )
    return p


def libvirt_ready() -> str | None:
    """None when libvirtd answers on qemu:///system, else why not (after trying to start it)."""
    if shutil.which("virsh") is None or not (
        shutil.which("libvirtd") or os.path.exists("/usr/sbin/libvirtd")
    ):
        return "libvirt (virsh, libvirtd) is not installed"
    # `virsh uri`, not `version`: version looks up the default emulator's capabilities,
    # which may mean probing it (slow when several tests start at once)
    if virsh("uri", timeout=60).returncode == 0 and _kvm_group_ok():
        return None
    if os.geteuid() != 0:
        return "libvirtd is not running and the tests are not root (run %s as root)" % SETUP
    with exclusive():
        p = subprocess.run(["sh", SETUP], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return "setup-libvirt.sh failed: %s%s" % (p.stdout, p.stderr)
    if virsh("uri", timeout=60).returncode == 0:
        return None
    return "libvirtd does not answer on %s" % URI


def _kvm_group_ok() -> bool:
    """setup-libvirt.sh puts libvirt-qemu in group kvm (see there); re-run it when not."""
    import grp

    if not os.path.exists("/dev/kvm") or os.geteuid() != 0:
        return True
    try:
        return "libvirt-qemu" in grp.getgrnam("kvm").gr_mem
    except KeyError:
        return True


def world_dir(prefix="qmps-lv") -> str:
    """A temporary directory libvirt's QEMU user can enter (pytest's tmp_path cannot)."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


def install_launcher(profile: str, directory: str, name="qemu-system-aarch64", profile_dirs=()) -> str:
    """``qmpserver install-launcher`` into ``directory``; copies the package when the
    source tree is not readable by other users.  ``profile_dirs``: more profile roots (a
    profile whose host lives beside it, such as tests/support/livehost.py's)."""
    from qmpserver.launcher.install import _package_root, _world_usable, choose_python, install

    copy = not _world_usable(os.path.join(_package_root(), "qmpserver", "__init__.py"), need_exec=False)
    py, _note = choose_python()
    if not _world_usable(py):
        raise RuntimeError("no Python interpreter reachable by libvirt's QEMU user (%s)" % py)
    exe, _changed, _notes = install(
        profile, directory, name=name, copy_package=copy, profile_dirs=profile_dirs
    )
    return exe


def qemu_user():
    """(uid, gid) libvirt runs QEMU as (Debian: libvirt-qemu), or None for root."""
    import grp
    import pwd

    try:
        return pwd.getpwnam("libvirt-qemu").pw_uid, grp.getgrnam("libvirt-qemu").gr_gid
    except KeyError:
        return None


def invalidate_caps(emulator: str) -> None:
    """Make libvirt re-probe ``emulator`` on its next use: libvirt keeps the binary's ctime in
    whole seconds with its capabilities cache and re-probes when it differs, so a touch in the
    same second as the ctime it cached (a launcher installed and probed a moment ago) changes
    nothing; wait for the next second first."""
    old = int(os.stat(emulator).st_ctime)
    while int(time.time()) <= old:
        time.sleep(0.05)
    os.utime(emulator)


def domcaps(emulator, virttype="qemu", arch="aarch64", machine="virt"):
    return virsh(
        "domcapabilities",
        "--emulatorbin",
        emulator,
        "--arch",
        arch,
        "--machine",
        machine,
        "--virttype",
        virttype,
    )


def domcaps_summary(xml_text: str) -> dict:
    root = ET.fromstring(xml_text)
    cpu = root.find("cpu")
    modes = {m.get("name"): m for m in cpu.findall("mode")}
    custom = modes.get("custom")
    models = sorted(m.text for m in custom.findall("model")) if custom is not None else []
    gic = root.find("features/gic")
    versions = sorted(v.text for v in gic.findall("enum/value")) if gic is not None else []
    return {
        "machine": root.findtext("machine"),
        "maximum": modes.get("maximum") is not None and modes["maximum"].get("supported") == "yes",
        "custom_models": models,
        "gic_supported": gic.get("supported") if gic is not None else None,
        "gic_versions": versions,
    }


@contextlib.contextmanager
def exclusive():
    """Serialise tests that change libvirtd's global settings (logging)."""
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextlib.contextmanager
def monitor_log(emulator=None):
    """libvirtd's monitor traffic (``log_filters="1:qemu.qemu_monitor"``) while the block runs;
    yields a callable returning the (monitor, command, reply) triples logged so far
    (of ``emulator``'s probes only, when given)."""
    log = tempfile.mktemp(prefix="qmps-libvirtd-", suffix=".log", dir="/tmp")
    adm = ["virt-admin", "-c", "libvirtd:///system"]
    old_f = subprocess.run(adm + ["daemon-log-filters"], capture_output=True, text=True).stdout
    old_o = subprocess.run(adm + ["daemon-log-outputs"], capture_output=True, text=True).stdout
    subprocess.run(adm + ["daemon-log-outputs", "1:file:%s" % log], check=True, capture_output=True)
    subprocess.run(
        adm + ["daemon-log-filters", "1:qemu.qemu_monitor 1:qemu.qemu_process 3:*"],
        check=True,
        capture_output=True,
    )
    try:
        yield lambda: parse_monitor_log(log, emulator)
    finally:
        f = _setting(old_f)
        o = _setting(old_o)
        subprocess.run(adm + ["daemon-log-filters", f], capture_output=True)
        subprocess.run(adm + ["daemon-log-outputs", o or "2:stderr"], capture_output=True)
        with contextlib.suppress(OSError):
            os.unlink(log)


def _setting(text: str) -> str:
    m = re.search(r":\s*(.*)$", text.strip())
    return m.group(1).strip() if m else ""


_LINE = re.compile(r"^\S+ \S+: (\d+): \w+ : (\w+):\d+ : (.*)$")
_SEND = re.compile(r"QEMU_MONITOR_SEND_MSG: mon=(0x[0-9a-f]+) msg=(\{.*\})\s*(?:fd=-?\d+)?\s*$")
_RECV = re.compile(r"QEMU_MONITOR_RECV_REPLY: mon=(0x[0-9a-f]+) reply=(\{.*\})\s*$")


def parse_monitor_log(path, emulator=None):
    """[(monitor, command dict, reply dict)] in order.

    With ``emulator``, only the probe conversations of that binary: libvirt's
    worker thread logs ``qemuProcessQMPConnectMonitor ... emulator=E`` and then
    sends every command of that probe itself (other domains and probes running
    at the same time use other monitors)."""
    pairs = []
    pending = {}
    mine = set()
    probing = {}  # thread -> emulator of the probe it runs
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return pairs
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            tid, func, rest = m.groups()
            if func == "qemuProcessQMPConnectMonitor":
                em = re.search(r"emulator=([^,]+),", rest)
                probing[tid] = em.group(1) if em else None
            elif func == "qemuProcessQMPStop":
                probing.pop(tid, None)
        m2 = _SEND.search(line)
        if m2:
            mon = m2.group(1)
            if emulator is not None and m and probing.get(m.group(1)) == emulator:
                mine.add(mon)
            try:
                pending[mon] = json.loads(m2.group(2))
            except ValueError:
                pass
            continue
        m2 = _RECV.search(line)
        if m2 and m2.group(1) in pending:
            try:
                reply = json.loads(m2.group(2))
            except ValueError:
                continue
            pairs.append((m2.group(1), pending.pop(m2.group(1)), reply))
    if emulator is not None:
        pairs = [p for p in pairs if p[0] in mine]
    return pairs


def domain_xml(name, emulator, qemu_args=(), dtype="qemu", cpu="max"):
    """A minimal aarch64 virt domain; ``cpu=None`` is ``<cpu mode='maximum'/>``."""
    args = "".join("<qemu:arg value='%s'/>" % a for a in qemu_args)
    cmdline = "<qemu:commandline>%s</qemu:commandline>" % args if args else ""
    cpu_xml = (
        "<cpu mode='maximum'/>"
        if cpu is None
        else "<cpu mode='custom' match='exact'><model fallback='forbid'>%s</model></cpu>" % cpu
    )
    return """<domain type='%s' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>%s</name>
  <uuid>%s</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='aarch64' machine='virt'>hvm</type></os>
  %s
  <devices><emulator>%s</emulator></devices>
  %s
</domain>
""" % (dtype, name, uuid.uuid4(), cpu_xml, emulator, cmdline)


@contextlib.contextmanager
def defined_domain(name, xml):
    path = tempfile.mktemp(prefix="qmps-dom-", suffix=".xml", dir="/tmp")
    with open(path, "w") as f:
        f.write(xml)
    try:
        virsh("define", path, check=True)
        yield name
    finally:
        virsh("destroy", name)
        virsh("undefine", name, "--snapshots-metadata")  # external snapshots stay libvirt's otherwise
        with contextlib.suppress(OSError):
            os.unlink(path)


def wait_state(name, state, timeout=20.0):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = virsh("domstate", name).stdout.strip()
        if last == state:
            return last
        time.sleep(0.1)
    return last


def monitor_command(name, cmd: dict):
    p = virsh("qemu-monitor-command", name, json.dumps(cmd))
    text = p.stdout.strip() or p.stderr.strip()
    try:
        return json.loads(text)
    except ValueError:
        return {"virsh-error": text}


def launcher_stderr(emulator, args):
    """What the launcher prints for a command line (run directly, foreground)."""
    p = subprocess.run(
        [emulator] + list(args), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    return p.returncode, p.stderr


def qmp_query(emulator, args, commands):
    """Start the launcher with ``args`` and run QMP ``commands``; returns the replies."""
    d = world_dir("qmps-q")
    sock = os.path.join(d, "m.sock")
    p = subprocess.Popen(
        [emulator] + list(args) + ["-qmp", "unix:%s,server=on,wait=off" % sock],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(1000):
            if os.path.exists(sock) or p.poll() is not None:
                break
            time.sleep(0.01)
        s = None
        for _ in range(1000):  # bound is not yet listening: retry a refused connect
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(sock)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                s.close()
                s = None
                time.sleep(0.01)
        if s is None:
            raise AssertionError(
                "cannot connect to %s: %s" % (sock, p.stderr.read() if p.poll() is not None else "")
            )
        f = s.makefile("rwb")
        f.readline()
        out = []
        for c in [{"execute": "qmp_capabilities"}] + list(commands):
            f.write((json.dumps(c) + "\r\n").encode())
            f.flush()
            while True:
                msg = json.loads(f.readline())
                if "return" in msg or "error" in msg:
                    break
            out.append(msg)
        s.close()
        return out[1:]
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)
