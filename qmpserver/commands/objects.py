"""User-creatable objects: ``-object``/``object-add``/``object-del``,
``query-iothreads``, ``query-memdev`` (QEMU 7.2 ``qom/object_interfaces.c``,
``hw/core/machine-qmp-cmds.c``).

State: ``instance.backends.objects`` (id -> options; QOM ``/objects/<id>``).
"""

from __future__ import annotations

from ..errors import QMPError
from ..qapi.defaults import NOT_MODELLED_OBJECT
from ..qapi.opts import bool_word
from ..vm import qom
from .registry import command

#: user-creatable types whose creation does something qmpserver does not simulate: a monitor on
#: a chardev (QEMU 11.1 qapi/qom.json ``monitor-hmp``, ``monitor-qmp``); refused, naming the type
NOT_MODELLED_TYPES = frozenset(("monitor-hmp", "monitor-qmp"))


def _object_type_ok(inst, qom_type):
    cmd = inst.build.schema.command("object-add")
    if cmd is None or cmd.arg_type is None or not cmd.arg_type.variants:
        return True
    return qom_type in cmd.arg_type.variants


def add_object(inst, obj, cli=False):
    """``user_creatable_add_qapi``: ``obj`` holds qom-type, id and the properties."""
    objs = inst.backends.objects
    oid = obj.get("id")
    qom_type = obj.get("qom-type")
    if oid in objs:
        raise QMPError("attempt to add duplicate property '%s' to object (type 'container')" % oid)
    if not _object_type_ok(inst, qom_type):
        raise QMPError("Parameter 'qom-type' does not accept value '%s'" % qom_type)
    if qom_type in NOT_MODELLED_TYPES:
        raise QMPError(NOT_MODELLED_OBJECT % qom_type)
    objs[oid] = dict(obj)
    inst.backends.children("objects").insert(oid)
    t = qom.tree(inst)
    o = qom.QomObject(qom_type)
    for k, v in obj.items():
        if k in ("qom-type", "id"):
            continue
        o.add_value(k, qom_type_of(v), v)
    t.root.children["objects"].add_child(oid, o)
    _ = cli  # -object and object-add create alike


def qom_type_of(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, list):
        return "list"
    return "string"


def _object_users(inst, oid):
    cfg = inst.config
    if cfg.machine.get("memory-backend") == oid:
        return True
    for d in inst.backends.devices:
        for k, v in d["props"].items():
            if v == oid and k in ("memdev", "iothread", "rng", "secret", "memory-backend"):
                return True
    for node in inst.backends.block.values():
        if oid in (node.get("key-secret"), node.get("password-secret")):
            return True
    return False


@command("object-add")
def object_add(ctx, args):
    add_object(ctx.instance, dict(args))


@command("object-del")
def object_del(ctx, args):
    inst = ctx.instance
    oid = args["id"]
    objs = inst.backends.objects
    if oid not in objs:
        raise QMPError("object '%s' not found" % oid)
    if _object_users(inst, oid):
        raise QMPError("object '%s' is in use, can not be deleted" % oid)
    del objs[oid]
    inst.backends.children("objects").remove(oid)
    qom.tree(inst).root.children["objects"].remove_child(oid)


@command("query-iothreads")
def query_iothreads(ctx, args):
    inst = ctx.instance
    out = []
    objs = inst.backends.objects
    for oid in inst.backends.child_order("objects", objs):  # object_child_foreach + APPEND
        o = objs[oid]
        if o.get("qom-type") != "iothread":
            continue
        # IOThreadInfo members in QAPI order
        out.append(
            {
                "id": oid,
                "thread-id": inst.threads.id_for("iothread:" + oid),
                "poll-max-ns": int(o.get("poll-max-ns", 32768)),
                "poll-grow": int(o.get("poll-grow", 0)),
                "poll-shrink": int(o.get("poll-shrink", 0)),
                "aio-max-batch": int(o.get("aio-max-batch", 0)),
            }
        )
    return out


@command("query-memdev")
def query_memdev(ctx, args):
    inst = ctx.instance
    objs = dict(inst.backends.objects)
    if inst.config.machine.get("memory-backend") is None and inst.machine.type != "none":
        m = next((x for x in inst.build.machines() if x["name"] == inst.machine.type), {})
        ram_id = m.get("default-ram-id")
        if ram_id and ram_id not in objs:
            # the default RAM backend, created at board init after the -object ones
            inst.backends.children("objects").insert(ram_id)
            objs[ram_id] = {"qom-type": "memory-backend-ram", "size": inst.config.memory or (128 << 20)}
    out = []
    for oid in inst.backends.child_order("objects", objs):  # object_child_foreach + PREPEND
        o = objs[oid]
        if str(o.get("qom-type", "")).startswith("memory-backend"):
            out.append(_memdev_info(oid, o))
    out.reverse()
    return out


def _memdev_info(oid, o):
    def b(k, default):
        v = o.get(k, default)
        return v if isinstance(v, bool) else bool_word(str(v)) is True

    # Memdev members in QAPI order
    return {
        "id": oid,
        "size": int(o.get("size", 0)),
        "merge": b("merge", True),
        "dump": b("dump", True),
        "prealloc": b("prealloc", False),
        "share": b("share", False),
        "reserve": b("reserve", True),
        "host-nodes": list(o.get("host-nodes", [])),
        "policy": o.get("policy", "default"),
    }
