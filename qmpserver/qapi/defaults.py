"""Type-correct default return values for commands that have no handler.

A schema (in particular one recorded from a real QEMU) can list hundreds of
commands qmpserver does not model.  Rather than answering CommandNotFound,
which no real QEMU would, such a command returns the smallest value of its
return type:

=============  ==============================================
return type    default
=============  ==============================================
none           ``{}`` (as QEMU for commands without returns)
str            ``""``
int / size     ``0``
number         ``0.0``
bool           ``false``
null           ``null``
any            ``{}``
enum           its first value
array          ``[]``
struct         required members filled recursively, optional ones omitted
union          the first tag value and that branch's required members
alternate      the default of its first alternative
=============  ==============================================

Each such answer is logged (logger ``qmpserver.default``, once per command and
instance), counted (``/metrics``: ``qmpserver_defaulted_replies_total``), and
``qmpserver profiles show NAME --coverage`` lists which commands of a build are
modelled, recorded, defaulted or refused.  In strict mode (``serve --strict``,
``QMPSERVER_STRICT=1``, the HTTP API's ``strict``, the pytest plugin's
``--qmpserver-strict``) such a command answers :data:`STRICT_MISSING` instead.
Strict is not the default: libvirt's capability probe asks read-only questions
the recording of a build may not cover, and a ``GenericError`` to one of them
fails the whole probe (docs/qmp.md, "Commands without a handler").

Only commands without effects get such a default: a default answer to a
command that would change something (write an image, start a job, send a key
to the guest) is a false success a client acts on.  :func:`has_effects` says
which are which; the dispatcher answers those with a ``GenericError`` naming
the command (:data:`NOT_MODELLED`) instead.
"""

from __future__ import annotations

from .model import AlternateType, ArrayType, BuiltinType, EnumType, ObjectType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..wire import JSON
    from .model import Type

_BUILTIN: dict[str, JSON] = {"string": "", "int": 0, "number": 0.0, "boolean": False, "null": None}


#: The error an unmodelled command with effects answers (class GenericError).
NOT_MODELLED = "qmpserver: command '%s' is not modelled (its effect is not simulated)"

#: The error ``object-add``/``-object`` answers for a user-creatable type whose effect is not
#: simulated (class GenericError), rather than an object that does nothing.
NOT_MODELLED_OBJECT = "qmpserver: object type '%s' is not modelled (its effect is not simulated)"

#: The error a read-only command answers in strict mode when neither a handler nor a recording
#: answers it (class GenericError): command, ``no arguments`` / ``arguments {...}``, build name.
STRICT_MISSING = "qmpserver: no model and no recording for '%s' (%s) on build %s"

#: Name prefixes of commands that only read state (QEMU's naming rule for QMP queries,
#: docs/devel/qapi-code-gen.rst: "query-"; "x-query-" for unstable ones, "x-debug-query-").
READ_ONLY_PREFIXES = ("query-", "x-query-", "x-debug-query-")

#: Read-only commands whose names do not say so (QEMU 7.2 qapi/*.json; each only reports).
READ_ONLY_COMMANDS = frozenset(
    {
        "trace-event-get-state",  # qapi/trace.json: lists events and their state
        "x-debug-block-dirty-bitmap-sha256",  # qapi/block-core.json: a bitmap's checksum
        "qom-list",
        "qom-get",
    }
)


def has_effects(name: str) -> bool:
    """Whether command ``name`` changes state (guest, images, host, jobs) when it succeeds.

    Anything not known to be read-only counts as having effects: a wrong "has effects"
    costs an honest error, a wrong "no effects" a silent false success."""
    return not (name.startswith(READ_ONLY_PREFIXES) or name in READ_ONLY_COMMANDS)


def default_value(t: Type | None, _depth: int = 0) -> JSON:
    if t is None:
        return {}
    if _depth > 32:  # recursive types always have a way out through arrays/optionals
        return None
    if isinstance(t, BuiltinType):
        return _BUILTIN.get(t.json_type, {})
    if isinstance(t, EnumType):
        return t.members[0] if t.members else ""
    if isinstance(t, ArrayType):
        return []
    if isinstance(t, AlternateType):
        return default_value(t.alternatives[0], _depth + 1) if t.alternatives else None
    if isinstance(t, ObjectType):
        out: dict[str, JSON] = {}
        for m in t.members:
            if not m.optional:
                out[m.name] = default_value(m.type, _depth + 1)
        if t.tag is not None and t.tag in out:
            variant = t.variants.get(out[t.tag])
            if variant is not None:
                for m in variant.members:
                    if not m.optional and m.name not in out:
                        out[m.name] = default_value(m.type, _depth + 1)
        return out
    return {}
