#!/usr/bin/env python3
"""Record an x86 KVM host's CPUID data as qmpserver data: what ``-cpu host`` starts from.

A command line over :mod:`qmpserver.arch.x86_64.kvmprobe`, which owns the ``/dev/kvm``
probing (``KVM_GET_SUPPORTED_CPUID``, ``KVM_GET_EMULATED_CPUID``, ``KVM_CHECK_EXTENSION``, the
feature MSRs, ``KVM_GET_MSR_INDEX_LIST``, a new vCPU's ``KVM_GET_TSC_KHZ``, ``uname -r``,
``/proc/cpuinfo``; see its docstring).  ``qmpserver profiles capture --accel kvm`` writes the
same file next to the host it captures; this tool records it alone, e.g. for a host profile
written by hand.  The APIC-ID fields (leaf 1 EBX[31:24], leaf 0xB/0x1F EDX) are those of the
CPU the ioctl ran on and differ between two runs.  Usage::

    python3 tools/capture_x86_kvm_cpuid.py -o models/x86_64/hosts/NAME.yaml --name NAME
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from qmpserver.arch.x86_64 import kvmprobe  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--name", required=True)
    a = ap.parse_args(argv)
    try:
        p = kvmprobe.probe()
    except kvmprobe.KvmProbeError as e:
        print("%s: error: %s" % (sys.argv[0], e), file=sys.stderr)
        return 1
    capture = "python3 tools/capture_x86_kvm_cpuid.py -o %s --name %s, %s, on %s" % (
        a.output,
        a.name,
        time.strftime("%Y-%m-%d"),
        platform.node() or "?",
    )
    text = kvmprobe.render(p, a.name, "tools/capture_x86_kvm_cpuid.py", capture)
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with open(a.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(
        "%s: %d supported, %d emulated entries, %d feature MSRs"
        % (a.output, len(p.supported), len(p.emulated), len(p.feature_msrs))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
