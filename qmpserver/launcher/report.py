"""QEMU's stderr style (``util/qemu-error.c``).

Every message is ``[<timestamp> ][<guest> ]<prog>: [<location>: ][warning: |info: ]<text>``
followed by optional hint lines printed as they are.  The location is the
command-line option being processed, exactly as it was typed (``-m abc``).
``-msg timestamp=on`` adds an ISO 8601 UTC timestamp with microseconds,
``-msg guest-name=on`` (with ``-name``) the guest name.
"""

from __future__ import annotations

import os
import sys
import time


class Diag(Exception):
    """A start-up failure with QEMU's text; ``loc`` is the argv slice it is about."""

    def __init__(self, text: str, loc=None, hint: str = "", code: int = 1, before=()):
        super().__init__(text)
        self.text = text
        self.loc = tuple(loc) if loc else None
        self.hint = hint
        self.code = code
        self.before = list(before)  # (text, loc, hint) error lines printed first


class Exit(Exception):
    """Leave now with ``code`` after printing ``out`` on stdout (help, version)."""

    def __init__(self, code: int = 0, out: str = ""):
        super().__init__(code)
        self.code = code
        self.out = out


def iso8601_now() -> str:
    t = time.time()
    sec = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%06dZ" % int((t - sec) * 1e6)


class Reporter:
    def __init__(self, prog: str, stream=None):
        self.prog = prog
        self.stream = stream
        self.timestamp = False
        self.guest_name = None  # set when -msg guest-name=on and -name guest=... are given

    def _write(self, text: str) -> None:
        """QEMU prints its arguments' bytes as they are; Python decoded them with
        ``surrogateescape``, so text goes out re-encoded the same way (``os.fsencode``) to the
        stream's binary buffer, never as ``\\udcff`` (issue 16, D22)."""
        stream = self.stream or sys.stderr
        try:
            buf = getattr(stream, "buffer", None)
            if buf is None:
                stream.write(text)
            else:
                stream.flush()
                buf.write(os.fsencode(text))
                buf.flush()
            stream.flush()
        except (OSError, ValueError):
            pass

    def line(self, kind: str, text: str, loc=None, hint: str = "") -> None:
        parts = []
        if self.timestamp:
            parts.append(iso8601_now() + " ")
        if self.guest_name:
            parts.append(self.guest_name + " ")
        parts.append(self.prog + ":")
        if loc:
            parts.append(" " + " ".join(loc) + ": ")
        else:
            parts.append(" ")
        if kind == "warning":
            parts.append("warning: ")
        elif kind == "info":
            parts.append("info: ")
        parts.append(text + "\n")
        if hint:
            parts.append(hint if hint.endswith("\n") else hint + "\n")
        self._write("".join(parts))

    def bare(self, text: str) -> None:
        """A line without QEMU's prefix, as a library prints it (``fprintf(stderr, ...)``
        in ``kvm_init`` for a missing ``/dev/kvm``)."""
        self._write(text + "\n")

    def error(self, text, loc=None, hint=""):
        self.line("error", text, loc, hint)

    def warning(self, text, loc=None, hint=""):
        self.line("warning", text, loc, hint)

    def info(self, text, loc=None, hint=""):
        self.line("info", text, loc, hint)

    def diag(self, d: Diag) -> None:
        for text, loc, hint in d.before:
            self.error(text, loc, hint)
        if d.text:  # an empty text: the messages were printed already
            self.error(d.text, d.loc, d.hint)


def program_name(argv0: str, target: str = "aarch64") -> str:
    """QEMU prints ``g_get_prgname()``, the basename of argv[0]; the stand-in
    keeps that when it is installed as ``qemu-system-*``, else it names the
    binary it stands in for."""
    base = os.path.basename(argv0 or "")
    if base.startswith("qemu-"):
        return base
    return "qemu-system-" + target
