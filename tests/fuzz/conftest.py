"""Every test under tests/fuzz carries the ``fuzz`` marker (``-m fuzz`` runs only them)."""

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/tests/fuzz/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.fuzz)
