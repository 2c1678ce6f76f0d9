"""Run ``qmpserver-qemu`` as a process and talk QMP to it (launcher tests)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
PROFILE = "debian-7.2-tcg"
LAUNCHER = [sys.executable, "-m", "qmpserver.launcher.main"]


def env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("QMPSERVER_PROFILE")}
    e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.update(extra)
    return e


def short_dir(prefix="ql"):
    """A short temporary directory (unix socket paths must stay < 108 bytes)."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


def wait_for(pred, timeout=10.0, step=0.005):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def connect(path, timeout=10.0):
    """Connect to a unix socket, retrying while it is bound but not yet listening."""
    end = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            return sock
        except (ConnectionRefusedError, FileNotFoundError):
            sock.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.005)


class QMP:
    """A minimal line-based QMP client."""

    def __init__(self, path=None, sock=None, timeout=10.0):
        if sock is None:
            sock = connect(path, timeout)
        sock.settimeout(timeout)
        self.sock = sock
        self.f = sock.makefile("rwb")
        self.greeting = self.recv()
        self.events = []

    def recv(self):
        line = self.f.readline()
        if not line:
            return None
        return json.loads(line)

    def send(self, obj):
        self.f.write((json.dumps(obj) + "\r\n").encode())
        self.f.flush()

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        self.send(msg)
        while True:
            r = self.recv()
            if r is None:
                return None
            if "event" in r:
                self.events.append(r)
                continue
            return r

    def event(self, name, timeout=10.0):
        for i, e in enumerate(self.events):
            if e["event"] == name:
                return self.events.pop(i)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = self.recv()
            if r is None:
                return None
            if "event" in r:
                if r["event"] == name:
                    return r
                self.events.append(r)
        return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def spawn(args, profile=PROFILE, extra_env=None, **kw):
    cmd = LAUNCHER + (["--profile", profile] if profile else []) + list(args)
    return subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(**(extra_env or {})),
        **kw,
    )


def run(args, profile=PROFILE, extra_env=None, timeout=60, **kw):
    cmd = LAUNCHER + (["--profile", profile] if profile else []) + list(args)
    return subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env(**(extra_env or {})),
        timeout=timeout,
        **kw,
    )


BASE = ["-S", "-nodefaults", "-display", "none", "-machine", "virt", "-accel", "tcg", "-cpu", "max"]
