"""The KVM side of the caps QEMU 10.0 adds (``cap-ail-mode-3``, ``cap-nested-papr``,
``cap-dawr1``): QEMU's source texts (``hw/ppc/spapr_caps.c`` under ``kvm_enabled()``), which no
binary here can show (Debian's x86_64 build compiles the ppc64 KVM branches out) and no POWER
host measured; and the TCG-only refusals measured from the 10.0 binary that KVM does not make."""

from qmpserver.arch.ppc64 import spapr

PREFIX = "qemu-system-ppc64: "
HOST = {"caps": {"KVM_CAP_PPC_AIL_MODE_3": 0, "KVM_CAP_PPC_DAWR1": 0}, "flavour": "hv"}


def test_ail_mode_3_needs_the_kvm_cap():
    got = spapr._kvm_outcome("cap-ail-mode-3", True, "power9_v2.2", HOST, {})
    assert got == {
        "error": [
            PREFIX + "KVM implementation does not support cap-ail-mode-3",
            "Try appending -machine cap-ail-mode-3=off",
        ],
        "rc": 1,
    }
    ok = {"caps": {"KVM_CAP_PPC_AIL_MODE_3": 1}}
    assert spapr._kvm_outcome("cap-ail-mode-3", True, "power9_v2.2", ok, {}) == {}
    assert spapr._kvm_outcome("cap-ail-mode-3", False, "power9_v2.2", HOST, {}) == {}


def test_ail_mode_3_tcg_cpu_refusal_is_tcg_only():
    tcg = {
        "error": [
            PREFIX + "TCG only supports cap-ail-mode-3 on POWER8 and later CPUs",
            "Try appending -machine cap-ail-mode-3=off",
        ],
        "rc": 1,
    }
    ok = {"caps": {"KVM_CAP_PPC_AIL_MODE_3": 1}}
    assert spapr._kvm_outcome("cap-ail-mode-3", True, "power7_v2.3", ok, tcg) == {}


def test_nested_papr_is_refused_under_kvm():
    tcg_ok: dict = {}
    got = spapr._kvm_outcome("cap-nested-papr", True, "power10_v2.0", HOST, tcg_ok)
    assert got["error"] == [
        PREFIX + "KVM implementation does not support Nested-PAPR",
        "Try appending -machine cap-nested-papr=off",
    ]
    # the TCG CPU check and the one-nested-API check are TCG's: KVM's own refusal instead
    tcg = {
        "error": [
            PREFIX + "Nested-HV APIs are mutually exclusive",
            "Please use either cap-nested-hv or cap-nested-papr to proceed.",
        ],
        "rc": 1,
    }
    assert spapr._kvm_outcome("cap-nested-papr", True, "power10_v2.0", HOST, tcg)["error"][0].endswith(
        "Nested-PAPR"
    )


def test_dawr1_needs_power10_and_the_kvm_cap():
    # the POWER10 check is the CPU's (measured, kept under KVM)
    cpu = {
        "error": [
            PREFIX + "DAWR1 supported only on POWER10 and later CPUs",
            "Try appending -machine cap-dawr1=off",
        ],
        "rc": 1,
    }
    assert spapr._kvm_outcome("cap-dawr1", True, "power9_v2.2", HOST, cpu) == cpu
    got = spapr._kvm_outcome("cap-dawr1", True, "power10_v2.0", HOST, {})
    assert got["error"] == [PREFIX + "DAWR1 not supported by KVM.", "Try appending -machine cap-dawr1=off"]
    assert spapr._kvm_outcome("cap-dawr1", True, "power10_v2.0", {"caps": {"KVM_CAP_PPC_DAWR1": 1}}, {}) == {}


def test_tcg_smt_refusal_is_not_kvms():
    tcg = {
        "error": [
            PREFIX + "TCG does not support nested-HV with SMT",
            "Try appending -machine cap-nested-hv=off or use threads=1 with -smp",
        ],
        "rc": 1,
    }
    host = {"caps": {"KVM_CAP_PPC_NESTED_HV": 1}}
    assert spapr._kvm_outcome("cap-nested-hv", True, "power9_v2.2", host, tcg) == {}


def test_kvm_pass_answers_derived_from_the_tcg_recording():
    """A POWER host's KVM pass (libvirt asks it when query-kvm says enabled): the CPU list and
    the machines come from the TCG recording by QEMU's KVM rule, not an empty list or an
    error (libvirt 9.0 dereferences a GenericError answer to query-cpu-definitions and
    crashes)."""
    from qmpserver.arch.ppc64 import qmp

    tcg = [
        {"name": "power9", "typename": "power9_v2.0-powerpc64-cpu", "static": False, "deprecated": False},
        {"name": "power9_v2.0", "typename": "", "static": False, "deprecated": False},
    ]
    got = qmp.kvm_definitions(tcg, "power9_v2.0")
    assert got[0]["typename"] == "POWER9-powerpc64-cpu"
    assert [d["name"] for d in got[-2:]] == ["POWER9", "host"]
    assert qmp._family("power8nvl_v1.0") == "POWER8NVL"
