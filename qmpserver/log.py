"""Lazy logging: importing ``logging`` costs ~10 ms, too much for start-up.

``get(name)`` returns a proxy that imports ``logging`` on first use.
"""

from __future__ import annotations


class _LazyLogger:
    __slots__ = ("_name", "_logger")

    def __init__(self, name):
        self._name = name
        self._logger = None

    def _get(self):
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(self._name)
        return self._logger

    def __getattr__(self, attr):
        return getattr(self._get(), attr)


def get(name: str) -> _LazyLogger:
    return _LazyLogger(name)
