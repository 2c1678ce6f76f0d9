"""Schema introspection: ``query-qmp-schema``."""

from __future__ import annotations

from ..wire.encode import RawJSON
from .registry import command


@command("query-qmp-schema")
def query_qmp_schema(ctx, args):
    inst = ctx.instance
    hide = inst.config.compat.deprecated_output == "hide"
    return RawJSON(inst.build.schema.encoded_introspection(hide))
