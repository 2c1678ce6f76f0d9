"""Error types shared by every layer.

``QMPError`` is what a command (or the schema engine) raises to answer a
request with ``{"error": {"class": ..., "desc": ...}}``; the five classes are
QEMU's ``QapiErrorClass``.  ``StartupError`` is a start-up failure: the
launcher prints ``qemu-system-<arch>: <message>`` and exits 1, ``serve`` and
the HTTP API refuse the instance with the same message.
"""

from __future__ import annotations

GENERIC_ERROR = "GenericError"
COMMAND_NOT_FOUND = "CommandNotFound"
DEVICE_NOT_ACTIVE = "DeviceNotActive"
DEVICE_NOT_FOUND = "DeviceNotFound"
KVM_MISSING_CAP = "KVMMissingCap"

ERROR_CLASSES = (GENERIC_ERROR, COMMAND_NOT_FOUND, DEVICE_NOT_ACTIVE, DEVICE_NOT_FOUND, KVM_MISSING_CAP)


class QMPError(Exception):
    """An error reply to a QMP command."""

    def __init__(self, desc: str, cls: str = GENERIC_ERROR):
        super().__init__(desc)
        self.desc = desc
        self.cls = cls

    def __repr__(self):
        return "QMPError(%r, %r)" % (self.desc, self.cls)


class StartupError(Exception):
    """The emulated QEMU refuses to start; ``message`` is QEMU's text."""

    def __init__(self, message: str, warnings: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.warnings = warnings or []


class UsageError(Exception):
    """Bad input to one of qmpserver's own tools (CLI, profile files)."""
