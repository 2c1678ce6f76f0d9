"""Capture a real QEMU binary into qmpserver's QEMU-build format.

    python -m qmpserver.profiles.capture --emulator /usr/bin/qemu-system-aarch64 [--accel kvm|tcg]
                                         -o models [--name NAME] [--machine virt] [--force]

Launches the binary the way libvirt probes it (``-S -no-user-config -nodefaults -nographic
-machine none,accel=<kvm:tcg|tcg> -qmp unix:<dir>/qmp.monitor,server=on,wait=off -pidfile
<dir>/qmp.pid -daemonize``), asks everything libvirt asks and more, and kills it with SIGTERM.
Like libvirt it runs an accelerated pass and, when KVM was found, a TCG pass.  Each pass also
starts an *instance* (``-machine virt`` on Arm, the default machine elsewhere) for the answers
that only make sense with a real machine (``qom-get /machine gic-version``, ``query-cpus-fast``…).

Writes ``<o>/builds/<name>/`` (build.yaml, schema.json, replies.json) and, when KVM was in use,
``<o>/hosts/<host name>.yaml`` and ``<o>/profiles/<name>.yaml`` with what QEMU (and this machine's
uname/sysfs) revealed about the host.  Format: docs/capture-and-import.md.  An x86_64 capture
under KVM also records the host's KVM CPUID data from ``/dev/kvm``
(:mod:`qmpserver.arch.x86_64.kvmprobe`) into ``<o>/x86_64/hosts/<host name>.yaml``, which the
host file names (``x86_cpuid``): ``-cpu host``, ``unavailable-features`` and start-up
filtering are then computed for this machine (docs/x86-cpu-models.md).

Self-contained: plain sockets and ``json`` to talk to QEMU; of qmpserver only the file writer
shared with :mod:`qmpserver.profiles.replies`, the request keys of :mod:`qmpserver.models` and
the ``/dev/kvm`` probe of :mod:`qmpserver.arch.x86_64.kvmprobe`.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from qmpserver.arch.x86_64 import kvmprobe
from qmpserver.models import reply_key
from qmpserver.profiles.replies import (
    HV_PROPS,
    FormatError,
    Pass,
    Record,
    accelerators_from,
    build_document,
    check_name,
    check_profile_loads,
    default_machine,
    derive_host,
    host_document,
    host_name,
    make_entry,
    merge_passes,
    profile_document,
    version_of,
    write_build,
    write_text,
    write_yaml,
)

# device-list-properties typenames libvirt probes (9.0 + 11.3 + the x86-only ones), in its order
LIBVIRT_DEVICES = (
    "virtio-blk-pci",
    "virtio-net-pci",
    "virtio-scsi-pci",
    "virtio-net-ccw",
    "virtio-scsi-ccw",
    "vfio-pci",
    "scsi-hd",
    "ide-hd",
    "PIIX4_PM",
    "usb-redir",
    "usb-storage",
    "kvm-pit",
    "VGA",
    "vmware-svga",
    "qxl",
    "virtio-gpu-pci",
    "virtio-gpu-device",
    "ICH9-LPC",
    "virtio-balloon-pci",
    "virtio-balloon-ccw",
    "virtio-balloon-device",
    "intel-iommu",
    "mch",
    "nvdimm",
    "pcie-root-port",
    "usb-host",
    "vhost-user-fs-device",
    "virtio-mem-pci",
    "virtio-iommu-pci",
)
# devices libvirt 9.0 also asks about (virQEMUCapsDeviceProps), asked only where the build has
# the type: elsewhere the answer is DeviceNotFound, which a replay derives from qom-list-types,
# and the aarch64/x86_64 builds captured before this list stay what a fresh capture records.
# spapr-pci-host-bridge: the pseries PHB (ppc64), whose properties libvirt reads.
LIBVIRT_TYPED_DEVICES = ("spapr-pci-host-bridge",)
# qom-list-properties typenames libvirt probes besides the CPU and machine types
LIBVIRT_OBJECTS = ("memory-backend-file", "memory-backend-memfd")
EXTRA_OBJECTS = ("memory-backend-ram",)
# argument-less queries libvirt sends after query-cpu-definitions (when the command exists)
LIBVIRT_QUERIES = (
    "query-tpm-models",
    "query-tpm-types",
    "query-command-line-options",
    "query-migrate-capabilities",
    "query-gic-capabilities",
    "query-sev-capabilities",
    "query-sgx-capabilities",
)
# run-state queries, asked in the probe and in the instance (skipped when the command is absent)
STATE_QUERIES = (
    "query-status",
    "query-name",
    "query-uuid",
    "query-current-machine",
    "query-cpus-fast",
    "query-hotpluggable-cpus",
    "query-iothreads",
    "query-migrate",
    "query-migrate-parameters",
    "query-memdev",
    "query-memory-size-summary",
    "query-memory-devices",
    "query-chardev",
    "query-chardev-backends",
    "query-display-options",
    "query-pci",
    "query-block",
    "query-named-block-nodes",
    "query-block-jobs",
    "query-jobs",
    "query-balloon",
    "query-vnc",
    "query-spice",
    "query-mice",
    "query-dump",
    "query-dump-guest-memory-capability",
    "query-fdsets",
    "query-acpi-ospm-status",
    "query-replay",
    "query-yank",
    "query-colo-status",
    "query-vcpu-dirty-limit",
    "query-dirty-rate",
    "query-pr-managers",
    "query-sev",
    "query-tpm",
)
ARM_MACHINE_PROPS = ("gic-version", "mte")
EXPANSION_PROPS = (None, {"migratable": False}, HV_PROPS)
# what libvirt passes through to the probed binary (virCommandAddEnvPassCommon), plus LC_ALL=C
ENV_PASS = ("LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "HOME", "USER", "LOGNAME", "TMPDIR")
MANDATORY = ("query-version", "query-target", "query-commands", "qom-list-types", "query-machines")


class CaptureError(Exception):
    """A one-line, user-facing reason the capture failed."""


class QemuGone(CaptureError):
    """The monitor connection died or stalled (QEMU crashed or hung)."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


# --------------------------------------------------------------------------------------------
# QMP over a unix socket


class QMPClient:
    """Minimal QMP client: compact JSON out, CRLF-terminated lines in, events skipped."""

    def __init__(self, path: str, timeout: float):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as exc:
            self.sock.close()
            raise CaptureError(f"cannot connect to the QMP socket {path}: {exc.strerror or exc}") from None
        self.buf = b""
        self.greeting = self._read()
        if "QMP" not in self.greeting:
            raise CaptureError(f"the monitor did not greet with QMP: {json.dumps(self.greeting)[:200]}")

    def close(self) -> None:
        self.sock.close()

    def _line(self) -> bytes:
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                raise QemuGone(f"QEMU sent nothing for {self.timeout:g}s") from None
            except OSError as exc:
                raise QemuGone(f"reading the QMP socket failed: {exc.strerror or exc}") from None
            if not chunk:
                raise QemuGone("QEMU closed the QMP connection (did it crash?)")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def _read(self) -> dict:
        while True:
            line = self._line()
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise CaptureError(f"QEMU sent a line that is not JSON: {line[:200]!r}") from None
            if not isinstance(obj, dict):
                raise CaptureError(f"QEMU sent a non-object: {line[:200]!r}")
            if "event" in obj:
                continue
            return obj

    def execute(self, execute: str, arguments: dict | None = None) -> dict:
        """Send one command; return {"return": v} or {"error": {...}} as received."""
        msg: dict[str, Any] = {"execute": execute}
        if arguments:
            msg["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(msg, separators=(",", ":")).encode() + b"\r\n")
        except OSError as exc:
            raise QemuGone(f"sending {execute} failed: {exc.strerror or exc}") from None
        what = execute + (" " + json.dumps(arguments) if arguments else "")
        try:
            reply = self._read()
        except QemuGone as exc:
            raise QemuGone(f"{exc} while waiting for the answer to {what}", exc.reason) from None
        except CaptureError as exc:
            raise CaptureError(f"{exc} while waiting for the answer to {what}") from None
        if "return" in reply:
            return {"return": reply["return"]}
        if "error" in reply:
            return {"error": reply["error"]}
        raise CaptureError(f"unexpected reply to {execute}: {json.dumps(reply)[:200]}")


# --------------------------------------------------------------------------------------------
# launching QEMU like libvirt


def check_emulator(path: str) -> str:
    """Make sure `path` is an executable QEMU system emulator; return its -version banner line."""
    p = Path(path)
    if not p.exists():
        raise CaptureError(f"{path}: no such file")
    if p.is_dir() or not os.access(p, os.X_OK):
        raise CaptureError(f"{path}: not an executable file")
    try:
        out = subprocess.run(
            [str(p), "-version"], capture_output=True, timeout=30, env=_probe_env(), stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise CaptureError(f"{path}: `-version` did not finish within 30s; not a QEMU binary?") from None
    except OSError as exc:
        raise CaptureError(f"{path}: cannot run it: {exc.strerror or exc}") from None
    text = out.stdout.decode("utf-8", "replace")
    m = re.search(r"^QEMU emulator version .*$", text, re.M)
    if out.returncode != 0 or not m:
        first = (text.strip() or out.stderr.decode("utf-8", "replace").strip()).splitlines()[:1]
        raise CaptureError(
            f"{path} does not look like a QEMU system emulator (`-version` printed "
            f"{first[0][:120]!r} and exited {out.returncode})"
            if first
            else f"{path} does not look like a QEMU system emulator (`-version` printed "
            f"nothing and exited {out.returncode})"
        )
    return m.group(0)


def _probe_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in ENV_PASS if k in os.environ}
    env["LC_ALL"] = "C"
    return env


def probe_argv(binary: str, machine: str, workdir: str, extra: tuple[str, ...] = ()) -> list[str]:
    return [
        binary,
        "-S",
        "-no-user-config",
        "-nodefaults",
        "-nographic",
        "-machine",
        machine,
        *extra,
        "-qmp",
        f"unix:{workdir}/qmp.monitor,server=on,wait=off",
        "-pidfile",
        f"{workdir}/qmp.pid",
        "-daemonize",
    ]


class QemuDaemon:
    """One daemonized QEMU, started and stopped the way libvirt does it."""

    def __init__(self, binary: str, machine: str, extra: tuple[str, ...] = (), timeout: float = 30.0):
        self.binary, self.machine, self.extra, self.timeout = binary, machine, extra, timeout
        self.dir = tempfile.mkdtemp(prefix="qmp-")
        self.argv = probe_argv(binary, machine, self.dir, extra)
        self.pid: int | None = None
        self.qmp: QMPClient | None = None
        self.stderr = ""

    def __enter__(self) -> "QemuDaemon":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        try:
            run = subprocess.run(
                self.argv,
                capture_output=True,
                timeout=self.timeout,
                env=_probe_env(),
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            self._adopt_pid()
            raise CaptureError(f"{self.binary} did not daemonize within {self.timeout:g}s") from None
        except OSError as exc:
            raise CaptureError(f"cannot run {self.binary}: {exc.strerror or exc}") from None
        self.stderr = run.stderr.decode("utf-8", "replace")
        if run.returncode != 0:
            self._adopt_pid()
            lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
            why = lines[-1] if lines else "no message"
            raise CaptureError(f"{self.binary} {self.launch} failed to start (exit {run.returncode}): {why}")
        sock = os.path.join(self.dir, "qmp.monitor")
        deadline = time.monotonic() + self.timeout
        while not os.path.exists(sock):
            if time.monotonic() > deadline:
                self._adopt_pid()
                raise CaptureError(f"{self.binary} exited 0 but its QMP socket {sock} never appeared")
            time.sleep(0.05)
        if not self._adopt_pid():
            raise CaptureError(f"{self.binary} did not write a usable pidfile {self.dir}/qmp.pid")
        self.qmp = QMPClient(sock, self.timeout)
        caps = self.qmp.execute("qmp_capabilities")
        if "error" in caps:
            raise CaptureError(f"qmp_capabilities failed: {caps['error'].get('desc')}")

    def _adopt_pid(self) -> bool:
        try:
            text = Path(self.dir, "qmp.pid").read_text().strip()
            self.pid = int(text)
            return self.pid > 1
        except (OSError, ValueError):
            return False

    @property
    def launch(self) -> str:
        """The distinguishing options, e.g. `-machine none,accel=tcg`."""
        return shlex.join(["-machine", self.machine, *self.extra])

    def restart(self) -> QMPClient:
        """Replace a crashed or hung daemon by a fresh one with the same command line."""
        self.stop()
        self.dir = tempfile.mkdtemp(prefix="qmp-")
        self.argv = probe_argv(self.binary, self.machine, self.dir, self.extra)
        self.start()
        assert self.qmp is not None
        return self.qmp

    def stop(self) -> None:
        """SIGTERM the daemon (SIGKILL after 10s), remove the probe directory."""
        if self.qmp:
            self.qmp.close()
            self.qmp = None
        if self.pid and self.pid > 1:
            _terminate(self.pid)
            self.pid = None
        shutil.rmtree(self.dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie nobody reaps (e.g. PID 1 in a container) counts as gone
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _terminate(pid: int) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if not _alive(pid):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)


# --------------------------------------------------------------------------------------------
# recording


class Recorder:
    """Asks questions of one daemon and keeps (command, answer) records, each once.

    When QEMU dies on an optional question, the daemon is relaunched, the question is left
    unrecorded and a note is kept (`notes`).
    """

    def __init__(self, daemon: QemuDaemon):
        self.daemon = daemon
        assert daemon.qmp is not None
        self.qmp: QMPClient = daemon.qmp
        self.records: list[Record] = []
        self.answers: dict[str, Any] = {}  # request key -> return value (None: error/died)
        self.commands: set[str] | None = None
        self.notes: list[str] = []

    def has(self, command: str) -> bool:
        return self.commands is None or command in self.commands

    def ask(self, execute: str, arguments: dict | None = None, mandatory: bool = False) -> Any:
        """Record the answer; return the return value (None on error, unless mandatory)."""
        key = reply_key(execute, arguments)
        if key in self.answers:
            return self.answers[key]
        self.answers[key] = None
        try:
            outcome = self.qmp.execute(execute, arguments)
        except QemuGone as exc:
            if mandatory:
                raise
            what = execute + (" " + json.dumps(arguments) if arguments else "")
            self.notes.append(
                f"{self.daemon.launch}: QEMU died on {what} ({exc.reason}); not recorded, relaunched"
            )
            self.qmp = self.daemon.restart()
            return None
        self.records.append(Record(execute, arguments, outcome))
        if "error" in outcome:
            if mandatory:
                err = outcome["error"]
                raise CaptureError(
                    f"QEMU refused mandatory command {execute}: {err.get('class')}: {err.get('desc')}"
                )
            return None
        self.answers[key] = outcome["return"]
        return outcome["return"]


def _arch(target: Any) -> str | None:
    """The arch of a query-target answer."""
    return target.get("arch") if isinstance(target, dict) else None


def _names(value: Any, key: str = "name") -> list[str]:
    if not isinstance(value, list):
        return []
    return [v[key] for v in value if isinstance(v, dict) and isinstance(v.get(key), str)]


def probe(rec: Recorder, on_identity: Callable[[Any, Any], None] | None = None) -> dict:
    """One `-machine none` probe: libvirt's questions, then the generous extras.

    `on_identity(version, target)` is called with the first two answers, before the long part
    (the capture checks there that its output may be written, not after minutes of questions).
    """
    found: dict[str, Any] = {"greeting": rec.qmp.greeting}
    found["version"] = rec.ask("query-version", mandatory=True)
    found["target"] = rec.ask("query-target", mandatory=True)
    if on_identity is not None:
        on_identity(found["version"], found["target"])
    schema = rec.qmp.execute("query-qmp-schema")
    if "error" in schema or not isinstance(schema.get("return"), list):
        raise CaptureError(f"QEMU refused mandatory command query-qmp-schema: {schema.get('error')}")
    found["schema"] = schema["return"]
    rec.commands = set(_names(rec.ask("query-commands", mandatory=True)))
    for q in ("query-kvm", "query-accelerators"):
        if rec.has(q):
            found[q] = rec.ask(q)
    types = _names(rec.ask("qom-list-types", mandatory=True))
    for dev in LIBVIRT_DEVICES + tuple(d for d in LIBVIRT_TYPED_DEVICES if d in types):
        rec.ask("device-list-properties", {"typename": dev})
    for obj in LIBVIRT_OBJECTS + EXTRA_OBJECTS:
        rec.ask("qom-list-properties", {"typename": obj})
    machines = rec.ask("query-machines", mandatory=True)
    if not isinstance(machines, list):
        raise CaptureError("query-machines did not return a list")
    cpu_defs = rec.ask("query-cpu-definitions") if rec.has("query-cpu-definitions") else None
    cpu_types = _names(cpu_defs, "typename")
    # libvirt's order: max CPU type, canonical virt machine, none-machine (+ generic-pc on x86)
    for t in cpu_types:
        if t.startswith("max-"):
            rec.ask("qom-list-properties", {"typename": t})
    virt = next((m["name"] for m in machines if isinstance(m, dict) and m.get("alias") == "virt"), None)
    for t in ([f"{virt}-machine"] if virt else []) + ["none-machine"]:
        rec.ask("qom-list-properties", {"typename": t})
    if "generic-pc-machine" in types or _arch(found["target"]) in ("x86_64", "i386"):
        rec.ask("qom-list-properties", {"typename": "generic-pc-machine"})
    for q in LIBVIRT_QUERIES:
        if rec.has(q):
            rec.ask(q)
    if rec.has("query-cpu-model-expansion"):
        for model in ("host", "max"):
            for typ in ("full", "static"):
                for props in EXPANSION_PROPS:
                    m: dict[str, Any] = {"name": model}
                    if props:
                        m["props"] = dict(props)
                    rec.ask("query-cpu-model-expansion", {"type": typ, "model": m})
    # beyond libvirt: every machine type, every CPU type, every CPU model expanded under TCG
    for t in sorted(t for t in types if t.endswith("-machine")):
        rec.ask("qom-list-properties", {"typename": t})
    for t in cpu_types:
        rec.ask("qom-list-properties", {"typename": t})
    state(rec, found["target"])
    return found


def expand_all(rec: Recorder) -> None:
    """TCG pass only: a full expansion of every CPU model query-cpu-definitions lists."""
    if rec.has("query-cpu-model-expansion"):
        for name in _names(find_return(rec.records, "query-cpu-definitions")):
            rec.ask("query-cpu-model-expansion", {"type": "full", "model": {"name": name}})


def state(rec: Recorder, target: Any) -> None:
    """Run-state questions (in the probe and in the instance)."""
    for q in STATE_QUERIES:
        if rec.has(q):
            rec.ask(q)
    if _arch(target) in ("aarch64", "arm"):
        for prop in ARM_MACHINE_PROPS:
            rec.ask("qom-get", {"path": "/machine", "property": prop})


def instance(rec: Recorder, target: Any) -> None:
    """The instance launch: state questions plus every readable /machine property."""
    rec.commands = set(_names(rec.qmp.execute("query-commands").get("return")))
    state(rec, target)
    props = rec.ask("qom-list", {"path": "/machine"})
    for p in props if isinstance(props, list) else []:
        if (
            isinstance(p, dict)
            and isinstance(p.get("type"), str)
            and not p["type"].startswith(("child<", "link<"))
        ):
            rec.ask("qom-get", {"path": "/machine", "property": p["name"]})


def _pass_accel(found: dict) -> str:
    acc = found.get("query-accelerators")
    if isinstance(acc, dict) and isinstance(acc.get("enabled"), str):
        return acc["enabled"]
    kvm = found.get("query-kvm")
    return "kvm" if isinstance(kvm, dict) and kvm.get("enabled") and kvm.get("present") else "tcg"


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr)


def run_capture(
    binary: str,
    accel: str = "kvm",
    machine: str | None = None,
    timeout: float = 30.0,
    quiet: bool = True,
    on_identity: Callable[[Any, Any], None] | None = None,
    kvm_cpuid: bool = True,
) -> dict:
    """Record `binary`; returns everything needed to write the build (see write_capture).

    `on_identity(version, target)`: see :func:`probe`; called once, in the first pass.
    `kvm_cpuid`: after the first pass, read this machine's KVM CPUID data (:func:`host_cpuid`;
    False for a build-only capture, which writes no host)."""
    if accel not in ("kvm", "tcg"):
        raise CaptureError(f"--accel must be kvm or tcg, not {accel!r}")
    banner = check_emulator(binary)
    passes: list[Pass] = []
    instances: list[dict] = []
    launches: dict[str, str] = {}
    warnings: list[str] = []
    first: dict | None = None
    cpuid: kvmprobe.Probe | None = None
    cpuid_note: str | None = None
    plan = ["kvm:tcg"] if accel == "kvm" else ["tcg"]
    i = 0
    while i < len(plan):
        accel_opt = plan[i]
        i += 1
        with QemuDaemon(binary, f"none,accel={accel_opt}", timeout=timeout) as d:
            _log(f"probe: {shlex.join(d.argv)}", quiet)
            rec = Recorder(d)
            found = probe(rec, on_identity if first is None else None)
            pass_accel = _pass_accel(found)
            if pass_accel == "tcg":
                expand_all(rec)
        launches[f"probe-{pass_accel}"] = _template(d.argv, d.dir)
        if first is None:
            first = found
            if kvm_cpuid:
                cpuid, cpuid_note = host_cpuid(_arch(found["target"]), accel, pass_accel)
            types = _names(find_return(rec.records, "qom-list-types"))
            if pass_accel != "tcg" and "tcg-accel" in types:
                plan.append("tcg")
        elif found["schema"] != first["schema"]:
            warnings.append(f"the {pass_accel} pass returned a different query-qmp-schema; kept the first")
        records = rec.records
        warnings.extend(rec.notes)
        inst_machine = machine if machine is not None else _instance_machine(records, found["target"])
        if inst_machine and inst_machine != "none":
            inst, warn = _instance_launch(binary, inst_machine, pass_accel, found, timeout, quiet)
            if inst:
                launches[f"instance-{pass_accel}"] = inst.pop("launch")
                instances.append(inst)
            warnings.extend(warn)
        passes.append(Pass(pass_accel, records))
    assert first is not None
    return {
        "binary": binary,
        "requested": accel,
        "banner": banner,
        "first": first,
        "passes": passes,
        "instances": instances,
        "launches": launches,
        "warnings": warnings,
        "kvm_cpuid": cpuid,
        "kvm_cpuid_note": cpuid_note,
    }


def host_cpuid(
    target: str | None, requested: str, pass_accel: str
) -> tuple[kvmprobe.Probe | None, str | None]:
    """(this machine's KVM CPUID data, None) when the capture ran an x86_64 target under KVM on
    an x86_64 machine, else (None, why not) -- the why is None for another target, whose host
    the CPUID data does not describe.  The data is read right after the KVM pass's probe, from
    the same ``/dev/kvm`` QEMU used; a failing ioctl is a :class:`CaptureError`."""
    local = _local_arch()
    if target != "x86_64":
        return None, None
    if local != "x86_64":
        return None, f"this machine is {local}; KVM runs x86_64 guests on x86_64 hosts only"
    if requested != "kvm":
        return None, "--accel tcg; the host's CPUID data matters under KVM only"
    why = kvmprobe.unavailable()
    if why:
        return None, why
    if pass_accel != "kvm":
        return None, f"QEMU's probe ran {pass_accel}, not kvm"
    try:
        return kvmprobe.probe(), None
    except kvmprobe.KvmProbeError as exc:
        raise CaptureError(f"recording the host's KVM CPUID data: {exc}") from None


def find_return(records: list[Record], execute: str) -> Any:
    for r in records:
        if r.execute == execute and r.arguments is None:
            return r.outcome.get("return")
    return None


def _template(argv: list[str], workdir: str) -> str:
    return shlex.join(argv).replace(workdir, "<dir>")


def _instance_machine(records: list[Record], target: Any) -> str | None:
    return default_machine([make_entry(r) for r in records], _arch(target) or "")


def _instance_launch(
    binary: str, machine: str, accel: str, found: dict, timeout: float, quiet: bool
) -> tuple[dict | None, list[str]]:
    """Start `-machine M,accel=A -cpu host|max` (else the machine's default CPU) and record it.

    Returns ({machine, accel, cpu, entries, launch}, warnings)."""
    warnings: list[str] = []
    cpu = "host" if accel == "kvm" else "max"
    for extra in (("-cpu", cpu), ()):
        try:
            with QemuDaemon(binary, f"{machine},accel={accel}", extra, timeout) as d:
                _log(f"instance: {shlex.join(d.argv)}", quiet)
                rec = Recorder(d)
                instance(rec, found["target"])
                inst = {
                    "machine": machine,
                    "accel": accel,
                    "cpu": extra[1] if extra else None,
                    "entries": [make_entry(r) for r in rec.records],
                    "launch": _template(d.argv, d.dir),
                }
                return inst, warnings + rec.notes
        except CaptureError as exc:
            warnings.append(
                f"instance launch failed, {'retrying with the default CPU' if extra else 'skipped'}: {exc}"
            )
    return None, warnings


# --------------------------------------------------------------------------------------------
# writing


def local_host_facts(
    day: str, sysfs: str = "/sys/devices/system/cpu", cpuinfo: str = "/proc/cpuinfo"
) -> tuple[str, dict, dict, dict]:
    """(arch, {cpu, kernel}, field sources, refs) of the machine running the capture.

    Under KVM QEMU runs on this very host; under TCG this machine is the host of the profile
    too (the one the build was seen to work on).  The MIDR comes from sysfs on Arm hosts (cpu0;
    heterogeneous systems have several), an x86 CPU's identity from /proc/cpuinfo.
    """
    uname = os.uname()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(uname.machine.lower(), uname.machine)
    cpu: dict[str, Any] = {}
    src = {"kernel.release": "uname"}
    refs = {
        "uname": f"the capturing machine: uname -m {uname.machine}, uname -r {uname.release}, "
        f"os.cpu_count() {os.cpu_count()}, {day}"
    }
    midr_path = Path(sysfs, "cpu0/regs/identification/midr_el1")
    if arch == "aarch64" and midr_path.exists():
        try:
            midr = int(midr_path.read_text().strip(), 16)
        except (OSError, ValueError):
            midr = None
        if midr is not None:
            cpu["midr"] = midr
            src["cpu.midr"] = "sysfs"
            refs["sysfs"] = f"{midr_path} = {midr:#018x} on the capturing machine, {day}"
    if arch == "x86_64":
        ident = _x86_cpuinfo(cpuinfo)
        if ident:
            cpu.update(ident)
            src.update({f"cpu.{k}": "cpuinfo" for k in ident})
            refs["cpuinfo"] = f"{cpuinfo} (first processor) on the capturing machine, {day}"
    if os.cpu_count():
        cpu["count"] = os.cpu_count()
        src["cpu.count"] = "uname"
    facts: dict[str, Any] = {"kernel": {"release": uname.release}}
    if cpu:
        facts["cpu"] = cpu
    return arch, facts, src, refs


def _x86_cpuinfo(path: str) -> dict[str, Any]:
    """The first processor's identity in /proc/cpuinfo ({} when unreadable): kvmprobe's reading."""
    from ..arch.x86_64 import kvmprobe

    return kvmprobe.cpuinfo(path)


def _dpkg_owner(binary: str) -> tuple[str, str] | None:
    """(package, version) owning `binary`, when dpkg knows it."""
    real = os.path.realpath(binary)
    try:
        out = subprocess.run(["dpkg-query", "-S", real], capture_output=True, text=True, timeout=20)
        if out.returncode != 0:
            return None
        pkg = out.stdout.split(":", 1)[0].strip()
        ver = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True, timeout=20
        )
        if ver.returncode != 0 or not ver.stdout.strip():
            return None
        return pkg, ver.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None


def _fetched_binary(binary: str) -> tuple[str, str] | None:
    """(real binary, origin line) when `binary` is a wrapper of scripts/fetch-qemu-backports.sh.

    That script unpacks Debian packages dpkg does not know into a cache and writes
    ``bin/qemu-system-*`` shell wrappers that ``exec`` the unpacked binary, with an ``ORIGIN``
    file beside ``bin/`` naming the packages; the build records the binary the wrapper runs and
    that origin instead of a dpkg owner.
    """
    try:
        with open(binary, "rb") as f:
            head = f.read(4096)
        if not head.startswith(b"#!"):
            return None
        origin = (Path(binary).resolve().parent.parent / "ORIGIN").read_text().splitlines()
    except OSError:
        return None
    m = re.search(r"exec '([^']+)'", head.decode(errors="replace"))
    if not m or not origin or not os.path.isfile(m.group(1)):
        return None
    real = m.group(1)
    if real.startswith(os.getcwd() + os.sep):
        real = os.path.relpath(real)  # the cache inside the checkout, as the script makes it
    return real, origin[0]


# the Debian packages whose contents shape what a QEMU binary answers: the emulators, their
# loadable modules (qemu-system-gui holds ui-gtk/ui-sdl and virtio-gpu-gl, which appear in
# `-display help` and qom-list-types only when installed), firmware, and libvirt beside them
PACKAGE_PATTERNS = ("qemu-*", "libvirt-*")


def installed_packages(patterns: tuple[str, ...] = PACKAGE_PATTERNS) -> dict[str, str]:
    """{package: version} of every installed Debian package matching `patterns` ({} without dpkg).

    Recorded in a build's ``sources.packages`` so that the exact environment an oracle was taken
    in can be reinstalled (scripts/test.sh) and a different one named (tests/support/oracle_env.py).
    """
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\n", *patterns],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found = {}
    for line in out.stdout.splitlines():
        status, _, rest = line.partition("\t")
        pkg, _, ver = rest.partition("\t")
        if status.startswith("ii") and pkg and ver:  # installed, not merely known
            found[pkg] = ver
    return dict(sorted(found.items()))


def _os_release() -> dict[str, str]:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip().strip('"')
    return out


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# host architectures the host format describes (schemas/host.schema.json "arch")
HOST_ARCHES = ("aarch64", "x86_64")
# guest targets a host may list (schemas/host.schema.json "targets"): the host architectures,
# plus targets only ever run under TCG on them (ppc64: no POWER host is described yet)
HOST_TARGETS = (*HOST_ARCHES, "ppc64")


def capture_name(
    version_value: Any, target_value: Any, binary: str, name: str | None
) -> tuple[str, str, str]:
    """(name, version "M.m.u", target) from the query-version and query-target answers."""
    try:
        version, _ = version_of(version_value, binary)
        name = check_name(name or f"qemu-{version}-{_arch(target_value)}")
    except FormatError as exc:
        raise CaptureError(str(exc)) from None
    target = _arch(target_value)
    if not isinstance(target, str):
        raise CaptureError(f"query-target did not name an architecture: {target_value}")
    return name, version, target


def output_paths(
    root: Path, name: str, target: str, build_only: bool = False, accel: str = "kvm"
) -> dict[str, Path]:
    """What a capture of `target` named `name` writes under `root`, by kind.

    Always the build; unless `build_only`, the host (this machine) and a profile pairing the two
    whenever the host format can describe them: this machine's architecture among HOST_ARCHES
    and the target among HOST_TARGETS; with them, for an x86_64 target on an x86_64 machine
    under `accel` kvm, the host's KVM CPUID file (``x86_64/hosts/<host>.yaml``, written when
    ``/dev/kvm`` could be read: :func:`host_cpuid`).
    """
    root = Path(root)
    paths = {"build": root / "builds" / name}
    if not build_only and _local_arch() in HOST_ARCHES and target in HOST_TARGETS:
        paths["host"] = root / "hosts" / f"{host_name(name)}.yaml"
        paths["profile"] = root / "profiles" / f"{name}.yaml"
        if accel == "kvm" and target == "x86_64" and _local_arch() == "x86_64":
            paths["x86_cpuid"] = root / "x86_64" / "hosts" / f"{host_name(name)}.yaml"
    return paths


def _local_arch() -> str:
    m = os.uname().machine
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m.lower(), m)


def refuse_existing(paths: dict[str, Path], force: bool) -> None:
    for p in paths.values():
        if p.exists() and not force:
            raise CaptureError(f"{p} already exists (use --force to replace it)")


def write_capture(
    result: dict,
    out: Path,
    name: str | None,
    command: str,
    *,
    summary: str | None = None,
    force: bool = False,
    today: datetime.date | None = None,
    build_only: bool = False,
    extra_refs: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Write the build, the host it ran on and a profile of the two from run_capture's result.

    `extra_refs` are further ``sources.refs`` entries given by whoever ran the capture (where a
    binary that no installed package owns came from). The installed ``qemu-*``/``libvirt-*``
    packages are recorded only when dpkg owns the binary: they describe the environment of a
    packaged binary, and would misname an unpacked one's.

    Under KVM the host is what QEMU revealed about this machine plus uname/sysfs; under TCG it
    is this machine offering the target under TCG only (a TCG guest sees its QEMU CPU model,
    not the host's registers), so that ``--profile`` can use what was just captured.
    """
    first = result["first"]
    binary = result["binary"]
    entries, warnings = merge_passes(result["passes"])
    result["warnings"].extend(warnings)
    name, version, target = capture_name(first["version"], first["target"], binary, name)
    package = first["version"]["package"]
    major_minor = ".".join(version.split(".")[:2])
    day = (today or datetime.datetime.now(datetime.timezone.utc).date()).isoformat()
    owner = _dpkg_owner(binary)
    fetched = None if owner else _fetched_binary(binary)
    osr = _os_release()
    distro = " ".join(x for x in (osr.get("NAME", "").split(" ")[0], osr.get("VERSION_CODENAME")) if x)
    if not summary:
        summary = (
            f"{distro} {owner[0]} {owner[1]}"
            if owner and distro
            else f"QEMU {version} ({package or 'no package string'}), {binary}"
        )
    pkg_note = (
        f"; dpkg: {owner[0]} {owner[1]}" + (f" ({osr.get('PRETTY_NAME')})" if osr else "") if owner else ""
    )
    if fetched:
        pkg_note = f", a wrapper running {fetched[0]} (sha256 {_sha256(fetched[0])}); {fetched[1]}"
    refs = {
        "capture": f"{command}, {day}",
        "binary": f"{binary} (sha256 {_sha256(binary)}){pkg_note}; {result['banner']}",
    }
    for k, v in result["launches"].items():
        refs[f"launch-{k}"] = v
    for k, v in (extra_refs or {}).items():
        refs[k] = v
    if result["warnings"]:
        refs["notes"] = " | ".join(result["warnings"])
    accels = [p.accel for p in result["passes"]]
    build = build_document(
        name=name,
        summary=summary,
        version=version,
        package=package,
        target=target,
        accelerators=accelerators_from(entries),
        passes=accels,
        refs=refs,
        ref="capture",
    )
    packages = installed_packages() if owner else {}
    if packages:
        build["sources"]["packages"] = packages
    hdr = (
        f"Recorded from a real QEMU {major_minor} by qmpserver.profiles.capture; "
        f"regenerate with the command in sources.refs.capture, do not edit by hand."
    )
    requested = result.get("requested", "kvm")
    paths = output_paths(Path(out), name, target, build_only, requested)
    cpuid: kvmprobe.Probe | None = result.get("kvm_cpuid") if "host" in paths else None
    if cpuid is None:
        paths.pop("x86_cpuid", None)
    host_doc = prof_doc = None
    if "host" in paths:
        host_doc, prof_doc = _host_and_profile(
            name, version, summary, target, accels[0], requested, entries, refs, day
        )
        _add_cpuid(host_doc, cpuid, result.get("kvm_cpuid_note"), command, day)
    refuse_existing(paths, force)
    try:
        write_build(
            Path(out),
            name,
            build,
            first["schema"],
            entries,
            greeting=first["greeting"],
            force=force,
            header=hdr,
            instances=result["instances"],
        )
        if cpuid is not None and host_doc:
            capture = f"{command}, {day}, on {os.uname().nodename or '?'}"
            text = kvmprobe.render(cpuid, host_doc["name"], "qmpserver.profiles.capture", capture)
            write_text(paths["x86_cpuid"], text, force=force)
        if host_doc:
            write_yaml(paths["host"], host_doc, hdr, force=force)
            write_yaml(paths["profile"], prof_doc, hdr, force=force)  # type: ignore[arg-type]  # set with host_doc
    except (FormatError, OSError) as exc:
        raise CaptureError(str(exc)) from None
    result["entries"] = entries
    return paths


def _add_cpuid(
    host_doc: dict, cpuid: kvmprobe.Probe | None, note: str | None, command: str, day: str
) -> None:
    """Name the host's KVM CPUID file (``x86_cpuid``, written beside it as
    ``x86_64/hosts/<host>.yaml``) and take ``kvm.api_version``/``kvm.caps`` from the same
    ``/dev/kvm`` reading, with their source; without the data, say why in ``sources.notes``."""
    sources = host_doc["sources"]
    if cpuid is None:
        if note:
            sources.setdefault("notes", {})["x86_cpuid"] = f"not recorded: {note}"
        return
    measured = kvmprobe.host_kvm(cpuid)
    host_doc["kvm"] = {**measured, **{k: v for k, v in host_doc["kvm"].items() if k not in measured}}
    ref = "kvm-cpuid"
    sources["refs"][ref] = (
        f"{kvmprobe.IOCTLS}, read by qmpserver.profiles.capture ({command}) on the capturing machine "
        f"right after QEMU's KVM probe, kernel {cpuid.release}, {day}; x86_64/hosts/{host_doc['name']}.yaml"
    )
    for f in ("kvm.api_version", "kvm.caps", "x86_cpuid"):
        sources["fields"][f] = ref
    for k in [k for k in sources["fields"] if k.startswith("kvm.caps.")]:
        sources["fields"][k] = ref
    doc = {}
    for k, v in host_doc.items():
        if k == "sources":
            doc["x86_cpuid"] = host_doc["name"]
        doc[k] = v
    host_doc.clear()
    host_doc.update(doc)


def _host_and_profile(
    name: str,
    version: str,
    summary: str,
    target: str,
    accel: str,
    requested: str,
    entries: list[dict],
    refs: dict[str, str],
    day: str,
) -> tuple[dict, dict]:
    host_arch, local, local_src, local_refs = local_host_facts(day)
    notes: dict[str, str] = {}
    targets = None
    if accel == "kvm":
        fields, src = derive_host(entries, "kvm", target)
        fields["cpu"] = {**fields.get("cpu", {}), **local.pop("cpu", {})}
        what = f"{host_arch} KVM host this capture ran on, as far as QEMU {version} and the machine itself reveal it"
    else:
        fields = {"kvm": {"present": False}, "cpu": local.pop("cpu", {})}
        # the probe asked for kvm:tcg and got tcg: no KVM for this (native) target here
        if requested == "kvm" and target == host_arch:
            src = {"kvm.present": "recording"}
        else:
            src = {"kvm.present": "synthetic"}
            notes["kvm.present"] = (
                "not probed: the capture ran TCG only (--accel tcg)"
                if requested == "tcg"
                else f"not probed: KVM runs {host_arch} guests only and the capture ran {target} guests"
            ) + "; false keeps this profile to TCG, the accelerator the build was captured with"
        targets = {target: ["tcg"]}
        what = (
            f"{host_arch} machine this capture ran on, offering {target} guests under TCG only "
            f"(QEMU {version})"
        )
    fields.update(local)
    host_doc = host_document(
        name, what, host_arch, fields, {**src, **local_src}, {**refs, **local_refs}, "capture", notes, targets
    )
    kvm = accel == "kvm"
    prof_doc = profile_document(
        name,
        f"{summary} on the {'KVM host' if kvm else 'machine (TCG)'} it was captured on",
        host_doc["name"],
        name,
        "kvm" if kvm else "tcg",
        default_machine(entries, target),
        "host" if kvm else "max",
    )
    return host_doc, prof_doc


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The capture's options, shared by ``qmpserver profiles capture`` and ``python -m``."""
    ap.add_argument("--emulator", required=True, help="path of the qemu-system-<arch> binary to record")
    ap.add_argument(
        "--accel",
        choices=("kvm", "tcg"),
        default="kvm",
        help="kvm (default): probe with accel=kvm:tcg, then a TCG pass if KVM was in "
        "use, like libvirt; tcg: a single TCG pass",
    )
    ap.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="models-style root to write into: builds/NAME/, hosts/NAME.yaml (this machine), "
        "profiles/NAME.yaml (the two together) and, for x86_64 under KVM, x86_64/hosts/NAME.yaml "
        "(this machine's KVM CPUID data, read from /dev/kvm)",
    )
    ap.add_argument("--name", help="build, host and profile name (default: qemu-<version>-<target>)")
    ap.add_argument("--summary", help="one-line summary (default from dpkg, else the version)")
    ap.add_argument(
        "--machine",
        help="machine for the instance launches (default: virt on Arm, "
        "the default machine elsewhere; 'none' to skip them)",
    )
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per launch / per answer")
    ap.add_argument(
        "--build-only",
        action="store_true",
        help="write the build alone (no host, no profile), e.g. to refresh a build in models/",
    )
    ap.add_argument(
        "--ref",
        action="append",
        default=[],
        metavar="NAME=TEXT",
        help="an extra sources.refs entry of the build (e.g. where an unpacked binary came from); repeatable",
    )
    ap.add_argument("--force", action="store_true", help="replace existing output")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace, prog: str, command: str) -> int:
    """Capture per parsed `args`; errors are one line labelled `prog`; returns the exit status.

    `command` is the command line as typed, kept in the build's sources.refs.capture."""

    extra_refs = {}
    for item in args.ref:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text.strip():
            print(f"{prog}: error: --ref {item!r}: expected NAME=TEXT", file=sys.stderr)
            return 1
        extra_refs[key.strip()] = text.strip()

    def check_outputs(version: Any, target: Any) -> None:
        name, _, arch = capture_name(version, target, args.emulator, args.name)
        refuse_existing(output_paths(args.output, name, arch, args.build_only, args.accel), args.force)

    try:
        result = run_capture(
            args.emulator,
            args.accel,
            args.machine,
            args.timeout,
            args.quiet,
            check_outputs,
            kvm_cpuid=not args.build_only,
        )
        paths = write_capture(
            result,
            args.output,
            args.name,
            command,
            summary=args.summary,
            force=args.force,
            build_only=args.build_only,
            extra_refs=extra_refs,
        )
        if "profile" in paths:
            check_profile_loads(paths["profile"])
    except (CaptureError, FormatError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 1
    for w in result["warnings"]:
        print(f"{prog}: warning: {w}", file=sys.stderr)
    if result["kvm_cpuid_note"] and "host" in paths:
        print(
            f"{prog}: note: the host's x86 KVM CPUID data was not recorded: {result['kvm_cpuid_note']}",
            file=sys.stderr,
        )
    n = len(result["entries"])
    for kind, p in paths.items():
        size = sum(f.stat().st_size for f in p.iterdir()) if p.is_dir() else p.stat().st_size
        extra = f", {n} entries, passes {[pp.accel for pp in result['passes']]}" if kind == "build" else ""
        print(f"{kind}: {p} ({size} bytes{extra})")
    if "profile" not in paths and not args.build_only:
        print(
            f"{prog}: note: no host or profile written: the host format describes "
            f"{' and '.join(HOST_ARCHES)} machines and {', '.join(HOST_TARGETS)} targets only "
            f"(this is {_local_arch()}, "
            f"the target {result['first']['target'].get('arch')})",
            file=sys.stderr,
        )
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m qmpserver.profiles.capture") -> int:
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Record a real QEMU binary into qmpserver's "
        "QEMU-build format, probing it the way libvirt does.",
    )
    add_arguments(ap)
    command = shlex.join([*shlex.split(prog), *(sys.argv[1:] if argv is None else argv)])
    return run(ap.parse_args(argv), prog, command)


if __name__ == "__main__":
    sys.exit(main())
