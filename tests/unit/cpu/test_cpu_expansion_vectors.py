"""query-cpu-model-expansion on Arm: every check of QEMU's qmp_query_cpu_model_expansion()
(target/arm/monitor.c in 7.2, target/arm/arm-qmp-cmds.c since 8.0; order, texts),
the SVE vectors of tests/qtest/arm-cpu-features.c, pauth rules, the 7.2 vs 11.x
differences.  TCG profiles: debian-7.2-tcg (QEMU 7.2) and qemu-11.1-tcg (QEMU 11.1)."""

from __future__ import annotations

import pytest
from cpu_testutil import Qmp, make_instance

SVE = ["sve%d" % (128 * vq) for vq in range(1, 17)]
V72, V111 = "debian-7.2-tcg", "qemu-11.1-tcg"


def vls(props) -> int:
    """The enabled SVE lengths as a vq bitmap (bit 0 = sve128)."""
    return sum(1 << i for i, n in enumerate(SVE) if props.get(n))


@pytest.fixture(params=[V72, V111])
def prof(request):
    return request.param


def q(profile, cpu="max", **props):
    return Qmp(make_instance(profile, cpu=cpu, cpu_props={k.replace("_", "-"): v for k, v in props.items()}))


def path(profile, name):
    return name if profile == V72 else "model.props." + name


# --- check order -------------------------------------------------------------------


def test_static_before_name(prof):
    c = q(prof)
    assert c.expand("foo", type_="static")["error"] == {
        "class": "GenericError",
        "desc": "The requested expansion type is not supported",
    }
    assert c.expand("max", type_="static")["error"]["desc"] == "The requested expansion type is not supported"


def test_host_requires_kvm_before_lookup(prof):
    c = q(prof)
    assert c.err("host") == "The CPU type 'host' requires KVM"
    assert c.err("host", {"migratable": False}) == "The CPU type 'host' requires KVM"


def test_unknown_and_full_type_names(prof):
    c = q(prof)
    assert c.err("foo") == "The CPU type 'foo' is not a recognized ARM CPU type"
    assert c.err("max-arm-cpu") == "The CPU type 'max-arm-cpu' is not a recognized ARM CPU type"


def test_props_not_an_object(prof):
    c = q(prof)
    want = (
        "Invalid parameter type for 'props', expected: dict"
        if prof == V72
        else "Invalid parameter type for 'model.props', expected: object"
    )
    for bad in (False, 5, "x", []):
        assert c.err("max", bad) == want
    r = c.cmd("query-cpu-model-expansion", {"type": "full", "model": {"name": "max", "props": None}})
    assert r["error"]["desc"] == want


def test_unknown_prop(prof):
    c = q(prof)
    assert c.err("max", {"not-a-prop": False}) == "Parameter '%s' is unexpected" % path(prof, "not-a-prop")
    # libvirt's hv-passthrough probe: QEMU names hv-passthrough (GLib hash order), not migratable
    assert c.err(
        "host" if False else "max", {"migratable": False, "hv-passthrough": True}
    ) == "Parameter '%s' is unexpected" % path(prof, "hv-passthrough")
    assert c.err("max", {"sve-max-vq": 8}) == "Parameter '%s' is unexpected" % path(prof, "sve-max-vq")


def test_wrong_type(prof):
    c = q(prof)
    assert c.err("max", {"pmu": "on"}) == "Invalid parameter type for '%s', expected: boolean" % path(
        prof, "pmu"
    )
    assert c.err("max", {"sve256": 1}) == "Invalid parameter type for '%s', expected: boolean" % path(
        prof, "sve256"
    )


def test_prop_not_found_on_object(prof):
    c = q(prof)
    assert c.err("max", {"kvm-steal-time": False}) == "Property 'max-arm-cpu.kvm-steal-time' not found"
    assert c.err("max", {"kvm-no-adjvtime": True}) == "Property 'max-arm-cpu.kvm-no-adjvtime' not found"
    assert c.err("cortex-a15", {"sve": True}) == "Property 'cortex-a15-arm-cpu.sve' not found"
    assert c.err("neoverse-n1", {"sve": True}) == "Property 'neoverse-n1-arm-cpu.sve' not found"
    # the advertised-list loop runs before the leftover check
    assert (
        c.err("max", {"zzz": 1, "kvm-steal-time": False}) == "Property 'max-arm-cpu.kvm-steal-time' not found"
    )


def test_aarch64_off_needs_kvm(prof):
    assert (
        q(prof).err("max", {"aarch64": False})
        == "'aarch64' feature cannot be disabled unless KVM is enabled and 32-bit EL1 is supported"
    )


# --- outputs ------------------------------------------------------------------------


def test_max_default(prof):
    p = q(prof).props("max")
    assert all(p[n] for n in SVE) and p["sve"] and p["pmu"] and p["aarch64"] and p["pauth"]
    assert p["pauth-impdef"] is False
    assert not any(k.startswith("kvm-") for k in p)
    if prof == V72:
        assert "pauth-qarma3" not in p and "pauth-qarma5" not in p and len(p) == 21
    else:
        assert p["pauth-qarma3"] is False and p["pauth-qarma5"] is False and len(p) == 23


def test_no_deprecated_props_and_name_echo(prof):
    r = q(prof).ok("query-cpu-model-expansion", {"type": "full", "model": {"name": "a64fx"}})
    assert list(r) == ["model"] and r["model"]["name"] == "a64fx"


def test_model_props_per_model(prof):
    c = q(prof)
    assert c.props("cortex-a15") == {"pmu": True}
    assert c.props("cortex-a57") == {"aarch64": True, "pmu": True}
    r = c.ok("query-cpu-model-expansion", {"type": "full", "model": {"name": "cortex-m4"}})
    assert r == {"model": {"name": "cortex-m4"}}  # no props member at all
    a64fx = c.props("a64fx")
    assert vls(a64fx) == 0xB and "pauth" not in a64fx


def test_empty_props_same_as_none(prof):
    c = q(prof)
    assert c.props("max", {}) == c.props("max")


# --- SVE vectors (QEMU tests/qtest/arm-cpu-features.c, target/arm/cpu64.c) ----------------

SVE_VECTORS = [
    ({"sve": False}, 0),
    ({"sve128": False}, "cannot disable sve128"),
    ({"sve384": True}, 0x7),
    ({"sve384": False}, 0xFFFF & ~(1 << 2)),
    ({"sve1024": True}, 0x8B),
    ({"sve1024": True, "sve256": False}, "cannot disable sve256"),
    ({"sve384": True, "sve512": False, "sve640": True}, "cannot disable sve512"),
    ({"sve512": False}, 0x7),
    ({"sve384": True, "sve512": True, "sve640": True}, 0x1F),
    ({"sve256": False}, 0x1),
    ({"sve128": False, "sve256": True}, "cannot disable sve128"),
    ({"sve": False, "sve128": True}, "cannot enable sve128"),
]


@pytest.mark.parametrize("props,want", SVE_VECTORS, ids=[str(v[0]) for v in SVE_VECTORS])
def test_sve_vectors_max(prof, props, want):
    c = q(prof)
    if isinstance(want, str):
        assert c.err("max", props) == want
    else:
        p = c.props("max", props)
        assert vls(p) == want
        assert p["sve"] is bool(want)


def test_sve_a64fx(prof):
    c = q(prof, cpu="a64fx")
    assert c.err("a64fx", {"sve384": True}) == "cannot enable sve384"
    assert c.err("a64fx", {"sve640": True}) == "cannot enable sve640"
    assert vls(c.props("a64fx", {"sve512": False})) == 0x3
    assert vls(c.props("a64fx", {"sve256": True})) == 0x3


def test_sve_max_vq_8(prof):
    c = q(prof, sve_max_vq="8")
    assert vls(c.props("max")) == 0xFF
    assert c.err("max", {"sve1024": False}) == "cannot disable sve1024"
    assert vls(c.props("max", {"sve1024": True})) == 0xFF
    assert c.err("max", {"sve1152": True}) == "cannot enable sve1152"
    assert vls(c.props("max", {"sve1152": False})) == 0xFF
    assert vls(c.props("max", {"sve384": True})) == 0xFF
    assert vls(c.props("max", {"sve384": False})) == 0xFB
    assert vls(c.props("max", {"sve256": True})) == 0xFF
    assert c.err("max", {"sve256": False}) == "cannot disable sve256"
    # other models do not get max's -cpu globals
    assert vls(c.props("a64fx")) == 0xB


def test_sve_off_from_cpu_option(prof):
    c = q(prof, sve="off")
    p = c.props("max")
    assert vls(p) == 0 and p["sve"] is False
    assert vls(c.props("max", {"sve128": False})) == 0
    assert c.err("max", {"sve128": True}) == "cannot enable sve128"
    assert vls(c.props("max", {"sve": True})) == 0xFFFF
    assert vls(c.props("max", {"sve": True, "sve128": True, "sve256": True})) == 0x3


# --- pauth -------------------------------------------------------------------------------


def test_pauth_rules(prof):
    c = q(prof)
    if prof == V72:
        assert (
            c.err("max", {"pauth": False, "pauth-impdef": True}) == "cannot enable pauth-impdef without pauth"
        )
        assert c.err("max", {"pauth-qarma3": True}) == "Parameter 'pauth-qarma3' is unexpected"
        assert c.props("max", {"pauth-impdef": True})["pauth-impdef"] is True
    else:
        without = "cannot enable pauth-impdef, pauth-qarma3 or pauth-qarma5 without pauth"
        both = "cannot enable pauth-impdef, pauth-qarma3 and pauth-qarma5 at the same time"
        assert c.err("max", {"pauth": False, "pauth-impdef": True}) == without
        assert c.err("max", {"pauth": False, "pauth-qarma5": True}) == without
        assert c.err("max", {"pauth-impdef": True, "pauth-qarma3": True}) == both
        assert c.err("max", {"pauth-qarma3": True, "pauth-qarma5": True}) == both
        p = c.props("max", {"pauth-qarma3": True})
        assert p["pauth-qarma3"] is True and p["pauth"] is True
        assert c.props("neoverse-v1")["pauth"] is True
        assert "pauth" not in c.props("cortex-a78ae")
    assert c.props("max", {"pauth": False})["pauth"] is False


def test_pauth_texts_8_x():
    """8.0 <= v < 10.0: pauth-qarma3 but no pauth-qarma5 (libvirt's 8.2 recording)."""
    from qmpserver.arch.arm64.cpu import CpuClass, CpuError, CpuObject

    c = CpuClass("max")
    c.aarch64 = True
    c.pauth_props = ("pauth", "pauth-impdef", "pauth-qarma3")
    c.pauth_default = True
    c.finish(("aarch64", "pauth", "pauth-impdef", "pauth-qarma3"))
    o = CpuObject(c)
    o.set("pauth-impdef", True)
    o.set("pauth-qarma3", True)
    with pytest.raises(CpuError, match="^cannot enable both pauth-impdef and pauth-qarma3$"):
        o.finalize()
    o = CpuObject(c)
    o.set("pauth", False)
    o.set("pauth-qarma3", True)
    with pytest.raises(CpuError, match="^cannot enable pauth-impdef or pauth-qarma3 without pauth$"):
        o.finalize()


# --- wire ------------------------------------------------------------------------------------


def test_max_bytes_7_2_match_recording():
    """Byte-level: our encoded max expansion is the one recorded from QEMU 7.2."""
    import json

    from qmpserver.profiles.loader import load_profile
    from qmpserver.wire.encode import dumps

    c = q(V72)
    out = c.raw_bytes(
        b'{"execute":"query-cpu-model-expansion","arguments":{"type":"full","model":{"name":"max"}},"id":7}'
    )
    rec = load_profile(V72).build.recorded(
        "query-cpu-model-expansion", {"type": "full", "model": {"name": "max"}}, "tcg"
    )
    assert out == ('{"return": %s, "id": 7}\r\n' % dumps(rec["return"])).encode()
    assert json.loads(out)["return"] == rec["return"]


def test_definitions(prof):
    c = q(prof)
    defs = c.ok("query-cpu-definitions")
    for d in defs:
        assert d == {
            "name": d["name"],
            "typename": d["name"] + "-arm-cpu",
            "static": False,
            "deprecated": False,
        }
    names = [d["name"] for d in defs]
    assert "max" in names and "host" not in names if prof == V72 else "host" in names
    if prof == V111:
        assert names[:4] == ["neoverse-n2", "cortex-a15", "cortex-m4", "cortex-a57"] and len(names) == 37
