"""Command lines for the ppc64 launcher's differential tests (pseries spapr caps, ``-cpu``).

Each entry is ``(case id, argv)`` or ``(case id, argv, /machine properties)``; ``{tmp}`` is
a private temporary directory.  ``launcher_record_cases.py --emulator
/usr/bin/qemu-system-ppc64 --inputs launcher_ppc64_inputs -o launcher_ppc64_cases.py``
runs Debian's ``qemu-system-ppc64`` 7.2 (TCG) on each and records its exit status, stderr
and, for entries with properties, the ``qom-get /machine`` answers of the started
instance; ``test_launcher_ppc64.py`` compares the launcher (profile
``qemu-7.2-debian-ppc64``) with the recording, and the recording with the real binary
when it is installed.
"""

import os

from qmpserver.models import MODELS_DIR, read_yaml

B = ["-S", "-nodefaults", "-display", "none"]
P = B + ["-M", "pseries"]
QUIET = "cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off"


def M(props):
    return B + ["-M", "pseries," + props]


def inputs(version: str) -> list:
    """The command lines, asking ``qom-get`` of the caps QEMU ``version`` has (in its table
    order, as measured into the model data by tools/capture_ppc64_spapr.py)."""
    caps = list(read_yaml(os.path.join(MODELS_DIR, "ppc64", "spapr-caps-%s.yaml" % version))["order"])
    return _inputs(caps, caps + ["vsmt", "ic-mode", "kvm-type", "resize-hpt", "max-cpu-compat"])


def _inputs(CAPS: list, ALL: list) -> list:  # noqa: N803 (the names the table below reads)
    return [
        # defaults per machine version (TCG warns about four of them)
        ("pseries-default", P, ALL),
        ("pseries-alias-7.2", B + ["-M", "pseries-7.2"], CAPS),
        ("pseries-7.1", B + ["-M", "pseries-7.1"], CAPS),
        ("pseries-6.2", B + ["-M", "pseries-6.2"], ALL),
        ("pseries-5.2", B + ["-M", "pseries-5.2"], CAPS),
        ("pseries-4.2", B + ["-M", "pseries-4.2"], CAPS),
        ("pseries-4.0", B + ["-M", "pseries-4.0"], ALL),
        ("pseries-3.1", B + ["-M", "pseries-3.1"], CAPS),
        ("pseries-3.0", B + ["-M", "pseries-3.0"], CAPS),
        ("pseries-2.12", B + ["-M", "pseries-2.12"], ALL),
        ("pseries-2.12-sxxm", B + ["-M", "pseries-2.12-sxxm"], CAPS),
        ("pseries-2.11-htm-refused", B + ["-M", "pseries-2.11"]),
        ("pseries-2.11-htm-off", B + ["-M", "pseries-2.11,cap-htm=off"], ALL),
        ("pseries-2.1-htm-off", B + ["-M", "pseries-2.1,cap-htm=off"], ALL),
        ("pseries-2.1-power7", B + ["-M", "pseries-2.1", "-cpu", "power7"], CAPS),
        # TCG's warnings silenced by the values TCG provides
        ("quiet", M(QUIET), CAPS),
        # values each cap takes, and QEMU's texts for the ones it refuses
        ("cfpc-fixed-upper", M("cap-cfpc=FIXED"), ["cap-cfpc"]),
        ("sbbc-broken", M("cap-sbbc=broken"), ["cap-sbbc"]),
        ("ibs-fixed-ccd", M("cap-ibs=fixed-ccd"), ["cap-ibs"]),
        ("ibs-fixed-na", M("cap-ibs=Fixed-NA"), ["cap-ibs"]),
        ("cfpc-bad", M("cap-cfpc=nosuch")),
        ("cfpc-help", M("cap-cfpc=?")),
        ("ibs-help", M("cap-ibs=?")),
        ("htm-not-bool", M("cap-htm=maybe")),
        ("htm-yes", M("cap-htm=off,cap-vsx=yes"), ["cap-htm", "cap-vsx"]),
        ("pagesize-4k-warns", M("cap-hpt-max-page-size=4k"), ["cap-hpt-max-page-size"]),
        ("pagesize-16m", M("cap-hpt-max-page-size=16M"), ["cap-hpt-max-page-size"]),
        ("pagesize-bytes", M("cap-hpt-max-page-size=65536"), ["cap-hpt-max-page-size"]),
        ("pagesize-2k-refused", M("cap-hpt-max-page-size=2k")),
        ("pagesize-not-pow2", M("cap-hpt-max-page-size=3k")),
        ("pagesize-zero", M("cap-hpt-max-page-size=0")),
        ("pagesize-not-size", M("cap-hpt-max-page-size=abc")),
        # what TCG refuses (QEMU's message and hint)
        ("htm-on", M("cap-htm=on")),
        ("nested-hv-on", M("cap-nested-hv=on"), ["cap-nested-hv"]),
        ("rpt-invalidate-on", M("cap-rpt-invalidate=on")),
        ("fwnmi-off", M("cap-fwnmi=off"), ["cap-fwnmi"]),
        ("large-decr-power8", M("cap-large-decr=on") + ["-cpu", "power8"]),
        ("large-decr-off-power8", M("cap-large-decr=off") + ["-cpu", "power8"], ["cap-large-decr"]),
        ("vsx-on-970", M("cap-vsx=on") + ["-cpu", "970"]),
        ("dfp-on-970", M("cap-vsx=off,cap-dfp=on") + ["-cpu", "970"]),
        ("ccf-assist-off", M("cap-ccf-assist=off"), ["cap-ccf-assist"]),
        # conflicting caps: warnings in QEMU's apply order, the first refusal ends start-up
        ("htm-and-rpt", M("cap-rpt-invalidate=on,cap-htm=on")),
        ("pagesize-warn-then-rpt", M("cap-rpt-invalidate=on,cap-hpt-max-page-size=4k")),
        ("later-value-wins", B + ["-M", "pseries,cap-htm=on", "-M", "cap-htm=off"], ["cap-htm"]),
        # CPU models lower the defaults
        ("cpu-power8", P + ["-cpu", "power8"], CAPS),
        ("cpu-power7", P + ["-cpu", "power7_v2.3"], ALL),
        ("cpu-970", P + ["-cpu", "970"], ALL),
        ("cpu-power5", P + ["-cpu", "power5+"], CAPS),
        ("cpu-power10", P + ["-cpu", "power10"], CAPS),
        ("cpu-max", P + ["-cpu", "max"], CAPS),
        # the -cpu lookup: aliases, case, PVRs
        ("cpu-upper", P + ["-cpu", "POWER9"]),
        ("cpu-upper-versioned", P + ["-cpu", "POWER9_V2.0"]),
        ("cpu-pvr", P + ["-cpu", "004e1200"]),
        ("cpu-pvr-0x", P + ["-cpu", "0x004E1200"]),
        ("cpu-pvr-0X", P + ["-cpu", "0X004E1200"]),
        ("cpu-pvr-7", P + ["-cpu", "04e1200"]),
        ("cpu-pvr-unknown", P + ["-cpu", "12345678"]),
        ("cpu-nosuch", P + ["-cpu", "nosuch"]),
        ("cpu-host-tcg", P + ["-cpu", "host"]),
        ("cpu-empty", P + ["-cpu", ""]),
        ("cpu-not-spapr", P + ["-cpu", "604"]),
        ("cpu-none-machine", B + ["-M", "none", "-cpu", "power9"]),
        ("cpu-none-machine-max", B + ["-M", "none", "-cpu", "max"]),
        ("cpu-none-machine-nosuch", B + ["-M", "none", "-cpu", "nosuch"]),
        ("cpu-before-caps", M("cap-htm=on") + ["-cpu", "nosuch"]),
        # -cpu key=value pairs, applied to the CPU type as globals before the caps
        ("cpu-prop-unknown", P + ["-cpu", "power9,foo=1"]),
        ("cpu-prop-unknown-alias-case", P + ["-cpu", "POWER9,foo=1"]),
        ("cpu-prop-bool-bad", P + ["-cpu", "power9,pre-3.0-migration=maybe"]),
        ("cpu-prop-bool-ok", P + ["-cpu", "power9,pre-3.0-migration=on"]),
        ("cpu-prop-not-key-value", P + ["-cpu", "power9,foo"]),
        ("cpu-prop-plus", P + ["-cpu", "power9,+foo"]),
        ("cpu-prop-after-smt", P + ["-smp", "2,threads=2", "-cpu", "power9,foo=1"]),
        ("cpu-prop-not-spapr", P + ["-cpu", "604,foo=1"]),
        ("cpu-prop-before-caps", M("cap-htm=on") + ["-cpu", "power9,foo=1"]),
        ("cpu-last-wins", P + ["-cpu", "power9,foo", "-cpu", "power8"]),
        # SMT under TCG
        ("tcg-smt", P + ["-smp", "2,threads=2"]),
        ("tcg-smt-before-caps", M("cap-htm=on") + ["-smp", "2,threads=2"]),
        ("tcg-smt-not-spapr", P + ["-smp", "2,threads=2", "-cpu", "604"]),
        ("smt-one-thread", P + ["-smp", "4,threads=1"], ["vsmt"]),
        ("vsmt-set", M("vsmt=4"), ["vsmt"]),
        # max-cpu-compat lowers the defaults like an older CPU
        ("compat-power8", M("max-cpu-compat=power8"), ALL),
        ("compat-power7", M("max-cpu-compat=power7"), ALL),
        ("compat-power6-970", M("max-cpu-compat=power6") + ["-cpu", "970"], ALL),
        ("compat-power10-on-power10", M("max-cpu-compat=power10") + ["-cpu", "power10"], CAPS),
        ("compat-above-cpu", M("max-cpu-compat=power9") + ["-cpu", "power8"]),
        ("compat-power10-default-cpu", M("max-cpu-compat=power10")),
        ("compat-upper", M("max-cpu-compat=POWER8")),
        ("compat-bad", M("max-cpu-compat=nosuch")),
        ("compat-2.11-power7", B + ["-M", "pseries-2.11,max-cpu-compat=power7"], CAPS),
        ("compat-large-decr", M("max-cpu-compat=power8,cap-large-decr=on")),
        ("compat-cmdline-wins", M("max-cpu-compat=power8,cap-cfpc=workaround"), ["cap-cfpc"]),
    ]


INPUTS = inputs("7.2")
