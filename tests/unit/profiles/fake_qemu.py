"""A tiny stand-in for qemu-system-*, for testing the capture tool without a real QEMU.

Run as ``python fake_qemu.py CONFIG.json <QEMU arguments>``; the tests wrap it in a shell script so
that it looks like an emulator binary.  It understands ``-version`` and libvirt's probe command
line (``-machine``, ``-qmp unix:P,server=on,wait=off``, ``-pidfile``, ``-daemonize``), daemonizes
the way QEMU does (the parent exits once the socket listens and the pidfile is written) and answers
QMP from CONFIG:

    {"accel": {"kvm:tcg": "kvm", "tcg": "tcg"},      # what each -machine accel= ends up as
     "answers": {"query-version": {...}, ...},        # return values for argument-less commands
     "by_arg": {"qom-list-properties": {"virt-9.0-machine": [...]}},   # keyed by typename/name
     "errors": {"query-version": {"class": "GenericError", "desc": "..."}},
     "crash_on": ["qom-list-properties microvm-machine"],   # close the socket and exit
     "no_socket": false, "exit_code": 0}

Not part of qmpserver; it deliberately shares no code with it.
"""

import json
import os
import signal
import socket
import sys


def main():
    config = json.load(open(sys.argv[1]))
    args = sys.argv[2:]
    if args[:1] == ["-version"]:
        print(config.get("banner", "QEMU emulator version 7.2.0 (fake)"))
        return 0
    opts = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-machine", "-qmp", "-pidfile", "-cpu"):
            opts[a] = args[i + 1]
            i += 2
        else:
            opts[a] = True
            i += 1
    machine = opts.get("-machine", "none")
    accel_opt = dict(p.split("=", 1) for p in machine.split(",")[1:] if "=" in p).get("accel", "tcg")
    accel = config.get("accel", {}).get(accel_opt, "tcg")
    if config.get("exit_code"):
        print("fake-qemu: simulated start failure", file=sys.stderr)
        return config["exit_code"]
    if config.get("no_socket"):
        return 0
    path = opts["-qmp"][len("unix:") :].split(",")[0]
    rfd, wfd = os.pipe()
    if os.fork():
        os.close(wfd)
        ok = os.read(rfd, 1)
        return 0 if ok == b"1" else 1
    os.close(rfd)
    os.setsid()
    if os.fork():
        os._exit(0)
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    with open(opts["-pidfile"], "w") as f:
        f.write(f"{os.getpid()}\n")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    os.write(wfd, b"1")
    os.close(wfd)
    while True:
        conn, _ = srv.accept()
        serve(conn, config, accel, machine.split(",")[0])


def serve(conn, config, accel, machine):
    def send(obj):
        conn.sendall(json.dumps(obj).encode() + b"\r\n")

    send({"QMP": {"version": config["answers"]["query-version"], "capabilities": ["oob"]}})
    buf = b""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            msg = json.loads(line)
            name = msg.get("execute")
            arguments = msg.get("arguments") or {}
            key = (
                arguments.get("typename")
                or arguments.get("property")
                or (arguments.get("model") or {}).get("name")
            )
            if f"{name} {key}" in config.get("crash_on", []):
                os._exit(3)
            # an event before the reply, which the client must skip
            send({"event": "FAKE", "data": {}, "timestamp": {"seconds": 0, "microseconds": 0}})
            send(answer(config, accel, machine, name, arguments, key))


def answer(config, accel, machine, name, arguments, key):
    if name == "qmp_capabilities":
        return {"return": {}}
    err = config.get("errors", {}).get(name)
    if err:
        return {"error": err}
    if name == "query-kvm":
        return {"return": {"enabled": accel == "kvm", "present": "kvm" in config["accel"].values()}}
    if name == "query-status":
        return {"return": {"status": "prelaunch", "running": False}}
    if name == "qom-get":
        if machine == "none":
            return {"error": {"class": "GenericError", "desc": f"Property 'none-machine.{key}' not found"}}
        return {"return": config.get("machine_props", {}).get(key, "")}
    if name == "qom-list" and machine != "none":
        return {"return": [{"name": k, "type": "string"} for k in config.get("machine_props", {})]}
    if name == "query-cpu-model-expansion":
        if key == "host" and accel != "kvm":
            return {"error": {"class": "GenericError", "desc": "The CPU type 'host' requires KVM"}}
        props = dict(config.get("expansions", {}).get(key, {}))
        for p in (arguments.get("model") or {}).get("props", {}):
            if p not in props:
                return {"error": {"class": "GenericError", "desc": f"Parameter '{p}' is unexpected"}}
        return {"return": {"model": {"name": key, "props": props}}}
    by_arg = config.get("by_arg", {}).get(name)
    if by_arg is not None:
        if key in by_arg:
            return {"return": by_arg[key]}
        return {"error": {"class": "DeviceNotFound", "desc": f"Device '{key}' not found"}}
    if name in config["answers"]:
        return {"return": config["answers"][name]}
    return {"error": {"class": "CommandNotFound", "desc": f"The command {name} has not been found"}}


if __name__ == "__main__":
    sys.exit(main())
