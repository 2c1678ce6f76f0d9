"""Command lines for the ppc64 launcher's differential tests against Debian's QEMU 10.0
(bookworm-backports, ``.cache/qemu-10.0``; profile ``qemu-10.0-debian-ppc64``).

The 7.2 command lines of ``launcher_ppc64_inputs.py`` asking about the caps 10.0 has (its
``pseries-2.x`` versions are gone: QEMU's refusal is compared instead), then what 10.0 adds:
``cap-ail-mode-3``, ``cap-nested-papr``, ``cap-dawr1``, POWER11, SMT under TCG, deprecated
machine versions.  ``launcher_record_cases.py --emulator .cache/qemu-10.0/bin/qemu-system-ppc64
--inputs launcher_ppc64_inputs10 -o tests/unit/launcher/launcher_ppc64_cases10.py`` records the
real binary's answers (run from the repository root).
"""

from launcher_ppc64_inputs import QUIET, B, M, P, inputs

BASE = inputs("10.0")
CAPS = BASE[0][2][:-5]  # the first input asks every cap and the five extras
ALL = BASE[0][2]

INPUTS = BASE + [
    # defaults of the versions 7.2 did not have, and a deprecated one
    ("pseries-10.0", B + ["-M", "pseries-10.0"], ALL),
    ("pseries-9.2", B + ["-M", "pseries-9.2"], CAPS),
    ("pseries-8.0", B + ["-M", "pseries-8.0"], CAPS),
    ("pseries-7.2-on-10", B + ["-M", "pseries-7.2"], CAPS),
    ("deprecated-3.0", B + ["-M", "pseries-3.0"], CAPS),
    ("deprecated-then-cpu-error", B + ["-M", "pseries-3.0", "-cpu", "nosuch"]),
    ("deprecated-then-cpu-prop", B + ["-M", "pseries-3.0", "-cpu", "power9,foo=1"]),
    ("deprecated-then-cap-error", B + ["-M", "pseries-3.0,cap-htm=on"]),
    ("deprecated-cap-parse-error", B + ["-M", "pseries-3.0,cap-cfpc=nosuch"]),
    # AIL mode 3: on by default, refused by TCG before POWER8
    ("ail-off", M("cap-ail-mode-3=off"), ["cap-ail-mode-3"]),
    ("ail-on-970", M("cap-vsx=off,cap-dfp=off,cap-ail-mode-3=on") + ["-cpu", "970"]),
    ("ail-default-power7", P + ["-cpu", "power7"], CAPS),
    ("ail-on-power8", M("cap-ail-mode-3=on") + ["-cpu", "power8"], ["cap-ail-mode-3"]),
    # DAWR1: POWER10 and later
    ("dawr1-default-power10", P + ["-cpu", "power10"], ["cap-dawr1"]),
    ("dawr1-on-power9", M("cap-dawr1=on") + ["-cpu", "power9"]),
    ("dawr1-off", M("cap-dawr1=off"), ["cap-dawr1"]),
    ("dawr1-compat-power9", M("max-cpu-compat=power9,cap-dawr1=on")),
    # the nested PAPR API: POWER9 and later, exclusive with nested-hv
    ("nested-papr-on", M("cap-nested-papr=on"), ["cap-nested-papr", "cap-nested-hv"]),
    ("nested-papr-on-power8", M("cap-nested-papr=on") + ["-cpu", "power8"]),
    ("nested-hv-and-papr", M("cap-nested-hv=on,cap-nested-papr=on")),
    ("nested-hv-and-papr-power8", M("cap-nested-hv=on,cap-nested-papr=on") + ["-cpu", "power8"]),
    ("nested-papr-bad", M("cap-nested-papr=maybe")),
    # POWER11 and the PVR lookup of the new models
    ("cpu-power11", P + ["-cpu", "power11"], ALL),
    ("cpu-power11-pvr", P + ["-cpu", "0x00821200"], ["cap-dawr1"]),
    ("cpu-power9-alias", P + ["-cpu", "POWER9"], ["cap-large-decr"]),
    ("compat-power11-default-cpu", M("max-cpu-compat=power11")),
    ("compat-power11-on-power11", M("max-cpu-compat=power11") + ["-cpu", "power11"], CAPS),
    ("compat-power10-on-power11", M("max-cpu-compat=power10") + ["-cpu", "power11"], CAPS),
    # SMT under TCG (10.0 runs several threads per core)
    ("smt-2", P + ["-smp", "2,threads=2"], ["vsmt"]),
    ("smt-4-quiet", M(QUIET) + ["-smp", "8,threads=4"], ["vsmt"]),
    ("smt-nested-hv", M("cap-nested-hv=on") + ["-smp", "2,threads=2"]),
    ("smt-power7", P + ["-cpu", "power7", "-smp", "2,threads=2"]),
    ("smt-power8", M(QUIET) + ["-cpu", "power8", "-smp", "2,threads=2"], ["vsmt"]),
    ("smt-power7-before-caps", M("cap-htm=on") + ["-cpu", "power7", "-smp", "2,threads=2"]),
    ("smt-not-spapr", P + ["-cpu", "604", "-smp", "2,threads=2"]),
    ("smt-vsmt-set", M("vsmt=8") + ["-smp", "2,threads=2"], ["vsmt"]),
]
